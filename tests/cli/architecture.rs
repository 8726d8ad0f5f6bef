//! The layer rule of docs/architecture.md, checked on the source: every top-level module of
//! `src/` sits in one layer of the doc's table and uses only modules of lower layers, or of
//! its own layer without a cycle (front ends, layer 4, use none of each other); and inside
//! every folder the files never use each other in a cycle. Uses are read from the
//! `crate::` and `super::` paths of the source text, through the re-exports of `pub use`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of the front ends, which never use each other.
const FRONT_ENDS: u32 = 4;

#[test]
fn issue_23_modules_use_only_lower_layers_and_never_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let layers = layer_table(&root.join("docs/architecture.md"));
    let files = module_files(&root.join("src"));
    let modules: BTreeSet<&Vec<String>> = files.keys().collect();
    let mut problems = Vec::new();

    // Every top-level module is in the table, and the table names no module that is gone.
    let top: BTreeSet<String> =
        modules.iter().map(|m| m.first().cloned().unwrap_or_else(|| "main".into())).collect();
    for name in &top {
        if !layers.contains_key(name) {
            problems.push(format!("src/{name}: in no layer of docs/architecture.md's table"));
        }
    }
    for name in layers.keys() {
        if !top.contains(name) {
            problems.push(format!("docs/architecture.md names {name}, which src/ has not"));
        }
    }

    // Uses, file by file, resolved to the module (file) they name, through re-exports
    // (`pub use urls::UrlRewrite;` in a mod.rs: `super::UrlRewrite` is a use of urls.rs).
    let texts: BTreeMap<&Vec<String>, String> = files
        .iter()
        .map(|(m, p)| (m, strip(&std::fs::read_to_string(p).expect("read a source file"))))
        .collect();
    let mut reexports: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (module, text) in &texts {
        for (name, path) in pub_uses(text, module) {
            if let Some(target) = resolve(&path, &modules, &BTreeMap::new()) {
                let mut alias = (*module).clone();
                alias.push(name);
                reexports.insert(alias, target);
            }
        }
    }
    let mut edges: BTreeSet<(Vec<String>, Vec<String>)> = BTreeSet::new();
    for (module, text) in &texts {
        let module = *module;
        for used in uses(text, module) {
            if let Some(target) = resolve(&used, &modules, &reexports)
                && target != *module
            {
                edges.insert((module.clone(), target));
            }
        }
    }

    // Top-level modules: down the layers, or across one without a cycle.
    let top_of = |m: &Vec<String>| m.first().cloned().unwrap_or_else(|| "main".into());
    let mut top_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in &edges {
        let (a, b) = (top_of(from), top_of(to));
        if a != b {
            top_edges.entry(a).or_default().insert(b);
        }
    }
    for (a, used) in &top_edges {
        for b in used {
            let (Some(&la), Some(&lb)) = (layers.get(a), layers.get(b)) else { continue };
            let files = example(&edges, a, b, &top_of);
            if lb > la {
                problems.push(format!("{a} (layer {la}) uses {b} (layer {lb}), above it: {files}"));
            } else if la == lb && la == FRONT_ENDS {
                problems.push(format!("front end {a} uses front end {b}: {files}"));
            }
        }
    }
    for cycle in cycles(&top_edges) {
        problems.push(format!("modules use each other (a cycle among): {}", cycle.join(", ")));
    }

    // Inside a folder: the files (not the folder's mod.rs) form no cycle.
    let mut folders: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, to) in &edges {
        if from.len() >= 2 && from.len() == to.len() && from[..from.len() - 1] == to[..to.len() - 1]
        {
            let folder = from[..from.len() - 1].to_vec();
            let graph = folders.entry(folder).or_default();
            graph
                .entry(from.last().unwrap().clone())
                .or_default()
                .insert(to.last().unwrap().clone());
        }
    }
    for (folder, graph) in &folders {
        for cycle in cycles(graph) {
            problems.push(format!(
                "in src/{}: files use each other (a cycle among): {}",
                folder.join("/"),
                cycle.join(", ")
            ));
        }
    }
    assert!(problems.is_empty(), "the layer rule is broken:\n{}", problems.join("\n"));
}

/// A file that makes top-level module `a` use `b`, for the message.
fn example(
    edges: &BTreeSet<(Vec<String>, Vec<String>)>,
    a: &str,
    b: &str,
    top_of: &dyn Fn(&Vec<String>) -> String,
) -> String {
    edges
        .iter()
        .find(|(f, t)| top_of(f) == a && top_of(t) == b)
        .map(|(f, t)| format!("{} → {}", f.join("::"), t.join("::")))
        .unwrap_or_default()
}

/// The table of docs/architecture.md whose first column is "layer": module name → layer.
/// Its second column lists the modules, each in backquotes.
fn layer_table(doc: &Path) -> BTreeMap<String, u32> {
    let text = std::fs::read_to_string(doc).expect("read docs/architecture.md");
    let mut layers = BTreeMap::new();
    let mut in_table = false;
    for line in text.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if !line.trim_start().starts_with('|') {
            in_table = false;
            continue;
        }
        if cells.first() == Some(&"layer") {
            in_table = true;
            continue;
        }
        let Some(Ok(layer)) = in_table.then(|| cells[0].parse::<u32>()) else { continue };
        for name in cells.get(1).unwrap_or(&"").split('`').skip(1).step_by(2) {
            let name = name.trim_end_matches('/').trim_end_matches(".rs").to_string();
            let earlier = layers.insert(name.clone(), layer);
            assert!(earlier.is_none(), "docs/architecture.md puts {name} in two layers");
        }
    }
    assert!(!layers.is_empty(), "docs/architecture.md has no table headed | layer | modules |");
    layers
}

/// Every source file by its module path: src/main.rs is [], src/import/mod.rs [import],
/// src/import/json.rs [import, json].
fn module_files(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "main")) {
                parts.pop();
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The text without comments, string and character literals (so that a path in a doc
/// comment or an SQL string is not a use).
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i + 1 < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'r'
            && i + 1 < b.len()
            && (b[i + 1] == b'"' || b[i + 1] == b'#')
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if j >= b.len() || b[j] != b'"' {
                out.push(b[i] as char);
                i += 1;
                continue;
            }
            let end: Vec<u8> =
                std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            j += 1;
            while j < b.len() && !b[j..].starts_with(&end) {
                j += 1;
            }
            i = j + end.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i..].starts_with(b"'\\''") {
            i += 4;
            out.push_str("' '");
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let close = b[i + 1..].iter().take(12).position(|&c| c == b'\'');
            let is_char = close.is_some_and(|n| {
                let inside = std::str::from_utf8(&b[i + 1..i + 1 + n]).unwrap_or("");
                n > 0 && (inside.starts_with('\\') || inside.chars().count() == 1)
            });
            if is_char {
                i += close.unwrap() + 2;
                out.push_str("' '");
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The absolute module paths the text names through `crate::` and `super::`, from
/// `module`; braces of a `use` tree are followed.
fn uses(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let tokens = tokenize(text);
    let mut out = Vec::new();
    // Inline modules (`mod tests { .. }`) around a token, with the brace depth they close at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate() {
        match t.as_str() {
            "{" => {
                depth += 1;
                if i >= 2 && tokens[i - 2] == "mod" {
                    inline.push((tokens[i - 1].clone(), depth));
                }
            }
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        let is_start = t == "crate" || t == "super";
        let after_path = i > 0 && tokens[i - 1] == "::";
        if !is_start || after_path || tokens.get(i + 1).map(String::as_str) != Some("::") {
            continue;
        }
        let mut base: Vec<String> = Vec::new();
        let mut j = i;
        if t == "super" {
            base = module.to_vec();
            base.extend(inline.iter().map(|(name, _)| name.clone()));
            while tokens.get(j).map(String::as_str) == Some("super") {
                base.pop();
                j += 2; // `super` `::`
            }
        } else {
            j += 2;
        }
        tree(&tokens, &mut j, base, &mut out);
    }
    out
}

/// One use tree from `tokens[*at]`: `a::b::c`, `a::{b, c::d}`, `a::*`.
fn tree(tokens: &[String], at: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    loop {
        match tokens.get(*at).map(String::as_str) {
            Some("{") => {
                *at += 1;
                loop {
                    match tokens.get(*at).map(String::as_str) {
                        Some("}") | None => {
                            *at += 1;
                            return;
                        }
                        Some(",") => *at += 1,
                        _ => tree(tokens, at, prefix.clone(), out),
                    }
                }
            }
            Some(word) if is_ident(word) => {
                if word != "self" {
                    prefix.push(word.to_string());
                }
                *at += 1;
                if tokens.get(*at).map(String::as_str) == Some("::") {
                    *at += 1;
                    continue;
                }
                if tokens.get(*at).map(String::as_str) == Some("as") {
                    *at += 2;
                }
                out.push(prefix);
                return;
            }
            _ => {
                if tokens.get(*at).map(String::as_str) == Some("*") {
                    *at += 1;
                }
                out.push(prefix);
                return;
            }
        }
    }
}

fn is_ident(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::` and single punctuation characters.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".into());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// The deepest module (file) a path names; an item a module re-exports is its source's.
fn resolve(
    path: &[String],
    modules: &BTreeSet<&Vec<String>>,
    reexports: &BTreeMap<Vec<String>, Vec<String>>,
) -> Option<Vec<String>> {
    let deepest =
        (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains(p))?;
    if let Some(next) = path.get(deepest.len()) {
        let mut item = deepest.clone();
        item.push(next.clone());
        if let Some(source) = reexports.get(&item) {
            return Some(source.clone());
        }
    }
    Some(deepest)
}

/// The items a module re-exports (`pub use child::{A, B};`, `pub use crate::x::C;`): each
/// name with the absolute path it comes from.
fn pub_uses(text: &str, module: &[String]) -> Vec<(String, Vec<String>)> {
    let tokens = tokenize(text);
    let mut out = Vec::new();
    for i in 0..tokens.len().saturating_sub(2) {
        if tokens[i] != "pub" || tokens[i + 1] != "use" {
            continue;
        }
        let mut at = i + 2;
        let base = match tokens[at].as_str() {
            "crate" => {
                at += 2;
                Vec::new()
            }
            "super" | "self" => continue, // rare in re-exports; `uses` sees them as uses
            _ => module.to_vec(),
        };
        let mut paths = Vec::new();
        tree(&tokens, &mut at, base, &mut paths);
        out.extend(paths.into_iter().filter_map(|p| Some((p.last()?.clone(), p))));
    }
    out
}

/// The cycles of a graph: its strongly connected parts of more than one node.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> =
        graph.keys().chain(graph.values().flat_map(|v| v.iter())).collect();
    let reaches = |from: &String, to: &String| -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            for next in graph.get(n).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        false
    };
    let mut done: BTreeSet<&String> = BTreeSet::new();
    let mut out = Vec::new();
    for &n in &nodes {
        if done.contains(n) || !reaches(n, n) {
            continue;
        }
        let part: Vec<String> = nodes
            .iter()
            .filter(|&&m| m == n || (reaches(n, m) && reaches(m, n)))
            .map(|m| m.to_string())
            .collect();
        done.extend(nodes.iter().copied().filter(|m| part.contains(m)));
        if part.len() > 1 {
            out.push(part);
        }
    }
    out
}
