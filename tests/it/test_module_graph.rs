//! The module graph has no cycles (docs/ARCHITECTURE.md, "Module dependencies"): at every level
//! of `src/`, the children of one module import each other without a cycle. A file's imports are
//! its `crate::` and `super::` paths outside comments and outside its `#[cfg(test)]` part; test
//! files are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::Regex;

/// Module path (`["plan", "build", "hooks"]`; the crate root is `[]`) of a file under `src/`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// Every module of the crate with the module paths its code names.
fn imports(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let path_re = Regex::new(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)").unwrap();
    let mut texts = BTreeMap::new();
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(src).unwrap();
        let is_test = rel
            .iter()
            .any(|p| p == "tests" || p == "tests.rs" || p == "test_server.rs")
            || rel.to_string_lossy().ends_with("_tests.rs");
        if !entry.file_type().is_file() || rel.extension() != Some("rs".as_ref()) || is_test {
            continue;
        }
        // build.rs is the build script, not a module of the crate.
        if rel == Path::new("build.rs") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| format!("{l}\n"))
            .collect();
        texts.insert(module_of(rel), code);
    }
    let known: BTreeSet<Vec<String>> = texts.keys().cloned().collect();
    let resolve = |mut segs: Vec<String>| {
        while !segs.is_empty() && !known.contains(&segs) {
            segs.pop();
        }
        segs
    };
    let mut out = BTreeMap::new();
    for (module, code) in &texts {
        let mut deps = BTreeSet::new();
        for cap in path_re.captures_iter(code) {
            let rest: Vec<String> = cap[2]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let target = if &cap[1] == "crate" {
                rest
            } else {
                // `super` of a file module is its parent; more `super`s go further up.
                let mut base = module.clone();
                base.pop();
                let mut rest = rest.into_iter().peekable();
                while rest.peek().map(String::as_str) == Some("super") {
                    rest.next();
                    base.pop();
                }
                base.extend(rest);
                base
            };
            deps.insert(resolve(target));
        }
        deps.remove(module);
        out.insert(module.clone(), deps);
    }
    out
}

/// A cycle in `graph`, as the names along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(node, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// For every module, the graph of its children: an edge when code under one child names code
/// under another.
fn sibling_graphs(
    imports: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> {
    let mut out: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, deps) in imports {
        for to in deps {
            let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
            // An import of an ancestor or a descendant is not between siblings.
            if common == from.len() || common == to.len() {
                continue;
            }
            out.entry(from[..common].to_vec())
                .or_default()
                .entry(from[common].clone())
                .or_default()
                .insert(to[common].clone());
        }
    }
    out
}

#[test]
fn no_module_imports_a_sibling_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let imports = imports(&src);
    assert!(imports.len() > 50, "only {} modules found", imports.len());
    let mut cycles = Vec::new();
    for (parent, graph) in sibling_graphs(&imports) {
        if let Some(cycle) = find_cycle(&graph) {
            let at = if parent.is_empty() {
                "crate".to_string()
            } else {
                parent.join("::")
            };
            cycles.push(format!("in {at}: {}", cycle.join(" → ")));
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_cycle_between_siblings() {
    let m = |s: &str| -> Vec<String> { s.split("::").map(str::to_string).collect() };
    let mut imports = BTreeMap::new();
    imports.insert(m("graph::auth"), BTreeSet::from([m("graph::client")]));
    imports.insert(m("graph::client"), BTreeSet::from([m("graph::auth")]));
    imports.insert(m("graph"), BTreeSet::from([m("graph::client")]));
    imports.insert(m("read"), BTreeSet::from([m("graph")]));
    let graphs = sibling_graphs(&imports);
    let cycle = find_cycle(&graphs[&m("graph")]).expect("auth ↔ client");
    assert_eq!(cycle, ["auth", "client", "auth"]);
    assert_eq!(find_cycle(&graphs[&Vec::new()]), None);
}
