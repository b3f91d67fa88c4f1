//! The plan as JSON: exactly the plan document (`crate::plan::to_json`), so that what
//! `restore --format json` prints is what `apply --plan` reads back.

use std::io::{self, Write};

use crate::plan::Plan;

pub(in crate::render) fn render(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(crate::plan::to_json(plan).as_bytes())
}
