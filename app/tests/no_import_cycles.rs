//! No module imports another that imports it back, directly or through a loop, in any crate of
//! the workspace. A module is a source file; an import is any `crate::…` or `super::…` path in
//! it (outside its unit tests). Cycles make a newcomer read everything to understand anything,
//! so the layering (domain ← storage ← engines ← state ← services ← api ← pages) is kept by test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; `lib.rs` and `main.rs` are the root.
/// Binaries (`src/bin`) are crate roots of their own and skipped.
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    Some(parts)
}

/// The source without comments and without the unit-test module at the end of the file.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that follows `prefix` (`crate::`), expanding one level of `{a, b::c}` groups.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before_ok = rest[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        rest = &rest[i + prefix.len()..];
        if !before_ok {
            continue;
        }
        let mut segments = Vec::new();
        let mut s = rest;
        loop {
            let len = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
            if len == 0 {
                break;
            }
            segments.push(s[..len].to_string());
            s = &s[len..];
            if let Some(next) = s.strip_prefix("::") {
                s = next;
            } else {
                break;
            }
        }
        if let Some(group) = s.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let item: Vec<String> =
                    item.trim().split("::").map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
                found.push(segments.iter().cloned().chain(item).collect());
            }
        } else {
            found.push(segments);
        }
    }
    found
}

/// The longest known module that `path` starts with.
fn resolve(modules: &BTreeSet<Module>, path: &[String]) -> Option<Module> {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|m| modules.contains(m))
}

fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let sources: Vec<(Module, PathBuf)> = files.into_iter().filter_map(|f| Some((module_of(src, &f)?, f))).collect();
    let modules: BTreeSet<Module> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in &sources {
        let code = code_of(&std::fs::read_to_string(file).expect("readable source"));
        // `super::` in module `a::b` (`a/b.rs` or `a/b/mod.rs`) is `a`.
        let parent: Module = module[..module.len().saturating_sub(1)].to_vec();
        let mut targets: Vec<Vec<String>> = paths_after(&code, "crate::");
        targets.extend(paths_after(&code, "super::").into_iter().map(|p| parent.iter().cloned().chain(p).collect()));
        let entry = edges.entry(module.clone()).or_default();
        for path in targets {
            // The crate root only declares modules; a module's own path is not an import.
            if let Some(target) = resolve(&modules, &path).filter(|t| !t.is_empty() && t != module) {
                entry.insert(target);
            }
        }
    }
    edges
}

/// One cycle through `start`, if there is any (depth-first search).
fn cycle_from(edges: &BTreeMap<Module, BTreeSet<Module>>, start: &Module) -> Option<Vec<Module>> {
    fn walk(
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        start: &Module,
        at: &Module,
        path: &mut Vec<Module>,
        seen: &mut BTreeSet<Module>,
    ) -> bool {
        for next in edges.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(edges, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.clone()];
    walk(edges, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let mut checked = 0;
    let mut cycles = Vec::new();
    for krate in ["app", "server", "tools", "testkit"] {
        let src = workspace.join(krate).join("src");
        if !src.is_dir() {
            continue;
        }
        let edges = graph(&src);
        checked += edges.len();
        for module in edges.keys() {
            if let Some(cycle) = cycle_from(&edges, module) {
                let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
                cycles.push(format!("{krate}: {} -> back", names.join(" -> ")));
            }
        }
    }
    assert!(checked > 50, "found only {checked} modules: is the source layout readable?");
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle() {
    let code = "use crate::a::{b, c::D};\nfn f() { super::x::y(); crate::e::F }\n// crate::ignored::z\n";
    let paths = paths_after(&code_of(code), "crate::");
    assert_eq!(
        paths,
        vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["a".to_string(), "c".to_string(), "D".to_string()],
            vec!["e".to_string(), "F".to_string()],
        ]
    );
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let (a, b, c) = (vec!["a".to_string()], vec!["b".to_string()], vec!["c".to_string()]);
    edges.entry(a.clone()).or_default().insert(b.clone());
    edges.entry(b.clone()).or_default().insert(c.clone());
    assert!(cycle_from(&edges, &a).is_none());
    edges.entry(c.clone()).or_default().insert(a.clone());
    assert_eq!(cycle_from(&edges, &a), Some(vec![a, b, c]));
}
