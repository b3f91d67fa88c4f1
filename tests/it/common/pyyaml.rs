//! PyYAML as an independent YAML 1.1 reader for tests: one `python3` process loads a batch of
//! documents (as the bytes of files, the way a person's script would read them) and answers
//! each as JSON or as the error PyYAML raised. A test is skipped only when PyYAML is truly not
//! installed, and never under CI, where `.ci/run` installs it.

use std::process::Command;

use serde_json::Value;

/// What PyYAML made of one document.
pub type Loaded = Result<Value, String>;

/// Loads every text with `yaml.safe_load` (the pure-Python loader, not libyaml, so that the
/// reader shares no code with serde_yaml). `None` when PyYAML is not installed outside CI.
pub fn load_all(texts: &[String]) -> Option<Vec<Loaded>> {
    if !available() {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, text) in texts.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:06}.yaml")), text).expect("write document");
    }
    let script = r#"
import glob, json, sys, yaml
out = []
for name in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    with open(name, "rb") as f:
        data = f.read()
    try:
        out.append({"ok": yaml.load(data, Loader=yaml.SafeLoader)})
    except Exception as e:
        out.append({"error": "%s: %s" % (type(e).__name__, e)})
json.dump(out, sys.stdout)
"#;
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(dir.path())
        .output()
        .expect("python3 ran a moment ago");
    assert!(
        output.status.success(),
        "the PyYAML loader script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Value> =
        serde_json::from_slice(&output.stdout).expect("the loader script prints JSON");
    assert_eq!(answers.len(), texts.len(), "one answer per document");
    Some(
        answers
            .into_iter()
            .map(|mut a| match a.get_mut("ok") {
                Some(v) => Ok(v.take()),
                None => Err(a["error"].as_str().unwrap_or("?").to_string()),
            })
            .collect(),
    )
}

/// Whether CI is running (`CI=true` in `.ci/run`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// True when `import yaml` works. Missing python3 or a missing `yaml` module skip outside CI
/// and fail under CI; any other failure of the import fails the test everywhere.
fn available() -> bool {
    let missing = match Command::new("python3").args(["-c", "import yaml"]).output() {
        Ok(o) if o.status.success() => return true,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr).to_string();
            assert!(
                err.contains("No module named 'yaml'"),
                "python3 cannot import PyYAML: {err}"
            );
            "PyYAML is not installed".to_string()
        }
        Err(e) => format!("python3 is not available ({e})"),
    };
    assert!(
        !in_ci(),
        "{missing}; CI must run the PyYAML round trip (.ci/run installs PyYAML)"
    );
    eprintln!("skipping the PyYAML round trip: {missing}");
    false
}
