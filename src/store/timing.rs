//! Temporary instrumentation (issue 10 profiling): with `TENANTGIT_TIMING` set, each call of
//! [`mark`] prints the seconds since the previous mark and the process's current and peak
//! resident memory to the file it names.

use std::sync::Mutex;
use std::time::Instant;

static LAST: Mutex<Option<Instant>> = Mutex::new(None);

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| {
                v.trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0)
                    / 1024
            })
            .unwrap_or(0)
    };
    format!("rss {} MB, peak {} MB", get("VmRSS:"), get("VmHWM:"))
}

/// Prints `label` with the time since the last mark.
pub fn mark(label: &str) {
    let Some(file) = std::env::var_os("TENANTGIT_TIMING") else {
        return;
    };
    let now = Instant::now();
    let mut last = LAST.lock().expect("timing lock");
    let secs = last.map_or(0.0, |l| (now - l).as_secs_f64());
    *last = Some(now);
    let line = format!("timing: {label:<40} {secs:>7.3}s  {}\n", rss());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = std::io::Write::write_all(&mut f, line.as_bytes());
    }
}
