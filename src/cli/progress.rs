//! Progress bars on stderr while the tenant is read (hidden with `--quiet` or when stderr is not
//! a terminal: indicatif draws nothing there), and the note on objects left out of the read.

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::read::ReadProgress;

pub struct Bars {
    multi: MultiProgress,
    quiet: bool,
    /// Objects listed but deleted before their links were read (`kind/id`), left out.
    vanished: Mutex<Vec<String>>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// When the last kind finished reading: what a command spent on Graph, for its narration.
    last_finished: Mutex<Option<std::time::Instant>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Bars {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            quiet,
            vanished: Mutex::new(Vec::new()),
            bars: Mutex::new(HashMap::new()),
            last_finished: Mutex::new(None),
        }
    }

    fn bar(&self, kind: &str) -> ProgressBar {
        let mut bars = self.bars.lock().expect("progress lock is never poisoned");
        bars.entry(kind.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:>28} {pos:>8} objects {msg}")
                        .expect("the template is valid"),
                );
                bar.set_prefix(kind.to_string());
                bar
            })
            .clone()
    }

    /// When the read finished, if it did.
    pub fn read_finished_at(&self) -> Option<std::time::Instant> {
        *self
            .last_finished
            .lock()
            .expect("progress lock is never poisoned")
    }

    /// Removes the bars and says which objects were left out because they were deleted while
    /// the tenant was read.
    pub fn clear(&self) {
        let _ = self.multi.clear();
        let vanished = std::mem::take(
            &mut *self
                .vanished
                .lock()
                .expect("progress lock is never poisoned"),
        );
        if vanished.is_empty() || self.quiet {
            return;
        }
        const SHOWN: usize = 10;
        let mut list = vanished[..vanished.len().min(SHOWN)].join(", ");
        if vanished.len() > SHOWN {
            list.push_str(&format!(" and {} more", vanished.len() - SHOWN));
        }
        let n = vanished.len();
        let objects = if n == 1 { "object" } else { "objects" };
        eprintln!("left out {n} {objects} deleted while the tenant was read: {list}");
    }
}

impl ReadProgress for Bars {
    fn started(&self, kind: &str) {
        self.bar(kind)
            .enable_steady_tick(std::time::Duration::from_millis(120));
    }

    fn read(&self, kind: &str, objects: usize) {
        self.bar(kind).set_position(objects as u64);
    }

    fn finished(&self, kind: &str, objects: usize) {
        let bar = self.bar(kind);
        bar.set_position(objects as u64);
        bar.finish_with_message("done");
        *self
            .last_finished
            .lock()
            .expect("progress lock is never poisoned") = Some(std::time::Instant::now());
    }

    fn vanished(&self, kind: &str, id: &str) {
        self.vanished
            .lock()
            .expect("progress lock is never poisoned")
            .push(format!("{kind}/{id}"));
    }
}
