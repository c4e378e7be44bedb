//! The crates' layering, as ARCHITECTURE.md draws it: no import circle between the top-level
//! modules of `jit` or `jit-portal`, no portal arrow that runs up its layers, and in the CLI only
//! `cmd` translates flags (no module below it names `crate::cli`). Read from the source, so a
//! change that breaks the shape fails here, not in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every top-level module of the crate under `src` and the top-level modules its code (tests
/// left out) names through `crate::`.
fn arrows(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).expect("under src");
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "main" || module == "lib" || test_only(src).contains(&module) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        // Test modules may reach anywhere; they sit at the end of a file.
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let targets = out.entry(module.clone()).or_default();
        for target in named_modules(code) {
            if target != module {
                targets.insert(target);
            }
        }
    }
    out
}

/// Modules the crate root declares for tests only (`#[cfg(test)] mod fuzz;`).
fn test_only(src: &Path) -> BTreeSet<String> {
    ["main.rs", "lib.rs"]
        .iter()
        .filter_map(|root| std::fs::read_to_string(src.join(root)).ok())
        .flat_map(|text| {
            text.split("#[cfg(test)]\nmod ")
                .skip(1)
                .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The first segment after each `crate::`, including each item of `crate::{a, b::c}`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.insert(ident(&group[start..j]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.insert(ident(&group[start..j]));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.insert(ident(rest));
        }
    }
    names.remove("");
    names
}

/// A circle through the graph, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The portal's layers, top down. A module may name only modules of lower layers.
const PORTAL_LAYERS: &[&[&str]] = &[
    &["cmd"],
    &["cli", "router", "net"],
    &["api", "web"],
    &["state"],
    &["domain", "stream"],
    &["notify"],
    &["db", "aws", "sso"],
    &["log", "output", "secret", "password"],
    &["metrics"],
];

fn layer_of(module: &str) -> usize {
    PORTAL_LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("portal module '{module}' is in no layer: add it to ARCHITECTURE.md and PORTAL_LAYERS"))
}

#[test]
fn no_portal_arrow_runs_up_or_sideways() {
    let graph = arrows(&root().join("portal/src"));
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            if layer_of(to) <= layer_of(from) {
                wrong.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(wrong.is_empty(), "arrows against the layers: {wrong:?}");
    assert_eq!(circle(&graph), None);
}

#[test]
fn the_cli_has_no_import_circle_and_only_cmd_reads_flags() {
    let graph = arrows(&root().join("src"));
    assert_eq!(circle(&graph), None, "an import circle in the CLI");
    let readers: Vec<&String> = graph
        .iter()
        .filter(|(from, to)| to.contains("cli") && from.as_str() != "cmd")
        .map(|(from, _)| from)
        .collect();
    assert!(
        readers.is_empty(),
        "below cmd/, naming crate::cli: {readers:?}"
    );
    let callers: Vec<&String> = graph
        .iter()
        .filter(|(_, to)| to.contains("cmd"))
        .map(|(from, _)| from)
        .collect();
    assert!(callers.is_empty(), "naming crate::cmd: {callers:?}");
}

#[test]
fn the_check_sees_braces_and_circles() {
    let names = named_modules("use crate::{a, b::{c, d}, e::f};\nlet x = crate::g::h();");
    assert_eq!(names, ["a", "b", "e", "g"].map(String::from).into());
    let mut graph = BTreeMap::new();
    graph.insert("x".to_string(), BTreeSet::from(["y".to_string()]));
    graph.insert("y".to_string(), BTreeSet::from(["z".to_string()]));
    assert_eq!(circle(&graph), None);
    graph.insert("z".to_string(), BTreeSet::from(["x".to_string()]));
    assert!(circle(&graph).is_some());
}
