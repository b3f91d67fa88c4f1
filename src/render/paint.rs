//! Colour for the human renderings: ANSI codes and the `Painter` that applies them only when
//! colour is on. Colour only underlines what signs and words already say.

use std::borrow::Cow;

pub(super) const RED: &str = "\x1b[31m";
pub(super) const GREEN: &str = "\x1b[32m";
pub(super) const YELLOW: &str = "\x1b[33m";
pub(super) const BOLD: &str = "\x1b[1m";
pub(super) const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

pub(super) struct Painter {
    pub(super) color: bool,
}

impl Painter {
    pub(super) fn paint<'a>(&self, code: &str, text: &'a str) -> Cow<'a, str> {
        if self.color && !text.is_empty() {
            format!("{code}{text}{RESET}").into()
        } else {
            text.into()
        }
    }
}
