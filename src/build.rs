//! Embeds every kind description: each `schema/*.yaml` becomes an entry of the generated
//! `schema_files.rs` (`SCHEMA_FILES`), so adding a kind is adding a file, never editing a list.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the schema folder exists")
        .map(|e| e.expect("the schema folder is readable").file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    let mut out = String::from(
        "/// Every `schema/*.yaml`, found by build.rs.\nconst SCHEMA_FILES: &[(&str, &str)] = &[\n",
    );
    for name in &names {
        println!("cargo:rerun-if-changed={}", dir.join(name).display());
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            dir.join(name).display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    out.push_str("];\n");
    let target =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schema_files.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}
