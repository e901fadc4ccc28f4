//! The code's shape rules that a compiler does not check, read from the sources as text:
//! no function outside tests is longer than [`MAX_FN_LINES`] lines, no two sibling modules
//! import each other (directly or round a longer circle), the core names no service and no
//! service's slice names another ([`LAYERS`]), and every module file starts with a `//!`
//! comment saying what it owns. Findings that other work in progress removes are listed
//! in [`KNOWN_LONG`] and [`KNOWN_CIRCLES`].
//!
//! What the text reading understands, and what it does not:
//! - Strings (plain, byte, raw), char literals and comments are blanked first, so braces,
//!   semicolons and paths in them do not count.
//! - Functions: a `fn NAME` item (with any `pub`, `const`, `async`, `unsafe`, `extern` in
//!   front), its body being the first `{` after the name that comes before any `;` outside
//!   brackets (a body-less trait method has none); its length runs from the `fn` line to the
//!   `}` that closes the body. Functions defined by macros are not seen.
//! - Test code is left out: the item that follows `#[cfg(test)]`, `#[test]` or
//!   `#[tokio::test…]` (a `mod tests { … }` or a function), and files only tests compile
//!   (`tests.rs`, `*_tests.rs`, `test_support.rs`).
//! - Imports: `use` trees (braces expanded) and inline `crate::…` / `super::…` paths, resolved
//!   against the file's module path; `#[path]` attributes, inline non-test `mod x { … }`
//!   blocks and glob re-exports are not followed. Binaries (`src/bin`) are crates of their
//!   own and only use the libraries' public paths, so they are not scanned for circles.
//! - The scan covers the library and binaries (`src/`) and the workspace crates
//!   (`crates/*/src`); the `tests/` folders are test code and are not scanned.

mod common;

use std::path::{Path, PathBuf};

/// The longest a function outside tests may be, its signature and closing brace included.
const MAX_FN_LINES: usize = 100;

/// Long functions that other work in progress removes (file, function), each tolerated
/// until then: any other fails. Remove an entry when its work lands; an entry that no longer
/// matches anything is printed as stale.
const KNOWN_LONG: &[(&str, &str)] = &[];

/// Import circles, as (a file of the depending module, the module it depends on), tolerated
/// the same way.
const KNOWN_CIRCLES: &[(&str, &str)] = &[];

/// Whether a finding (`file`, `what`) is in `known`; notes which entries were used.
fn known(
    known: &'static [(&'static str, &'static str)],
    file: &str,
    what: &str,
    used: &mut Vec<(&'static str, &'static str)>,
) -> bool {
    match known.iter().find(|(f, w)| *f == file && *w == what) {
        Some(k) => {
            used.push(*k);
            true
        }
        None => false,
    }
}

/// Prints the entries of `known` that matched nothing (work that has landed).
fn report_stale(known: &[(&str, &str)], used: &[(&str, &str)]) {
    for k in known.iter().filter(|k| !used.contains(k)) {
        eprintln!("stale entry in KNOWN_* (remove it): {k:?}");
    }
}

/// A function found in a file: its name, first line (1-based) and length in lines.
#[derive(Debug, PartialEq, Eq)]
struct Function {
    name: String,
    line: usize,
    lines: usize,
}

/// Each line of `source` with the contents of strings, chars and comments blanked out, so
/// that braces and semicolons in them do not count. Line breaks are kept.
fn code_only(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(&chars, i) {
            // r"…", r#"…"#, br#"…"#: ends at a quote followed by as many hashes.
            let open = chars[i..].iter().position(|&c| c == '"').unwrap() + i;
            out.extend(std::iter::repeat_n(' ', open + 1 - i));
            i = open + 1;
            while i < chars.len() {
                if chars[i] == '"'
                    && chars[i + 1..].iter().take_while(|&&c| c == '#').count() >= hashes
                {
                    out.extend(std::iter::repeat_n(' ', hashes + 1));
                    i += hashes + 1;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' || (c == '\'' && is_char_literal(&chars, i)) {
            // "…" and '{', '\'', '\u{7b}': blank up to the closing quote.
            i = skip_quoted(&chars, i, &mut out);
        } else {
            out.push(c);
            i += 1;
        }
    }
    out.split('\n').map(str::to_owned).collect()
}

/// Blanks the quoted literal opening at `i` (a string or a char, escapes included) into
/// `out`, keeping line breaks; returns the index after its closing quote.
fn skip_quoted(chars: &[char], mut i: usize, out: &mut String) -> usize {
    let quote = chars[i];
    out.push(' ');
    i += 1;
    while i < chars.len() && chars[i] != quote {
        let len = if chars[i] == '\\' { 2 } else { 1 };
        for c in chars.iter().skip(i).take(len) {
            out.push(if *c == '\n' { '\n' } else { ' ' });
        }
        i += len;
    }
    out.push(' ');
    i + 1
}

/// At `i`, the start of a raw string (`r"`, `r#"`, `br##"`…): how many hashes it has.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let prev_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    if prev_ident {
        return None;
    }
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    (chars.get(j + hashes) == Some(&'"')).then_some(hashes)
}

/// Whether the quote at `i` opens a char literal rather than a lifetime or label (`'a`).
fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// The name of the function an item line declares, if it declares one.
fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.next() {
        let w = if w.starts_with("pub(") { "pub" } else { w };
        match w {
            "pub" | "const" | "async" | "unsafe" | "extern" | "default" => continue,
            _ if w.starts_with('"') => continue, // extern "C"
            "fn" => {
                let name: String = words
                    .next()?
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                return (!name.is_empty()).then_some(name);
            }
            _ => return None,
        }
    }
    None
}

/// The line (0-based) holding the `}` that closes the block opened by the first `{` at or
/// after `(line, col)`; `None` when a `;` comes first (no body) or the file ends.
fn body_end(code: &[String], line: usize, col: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut opened = false;
    // Brackets of the signature, where a `;` is part of a type (`[u8; 4]`).
    let mut nesting = 0usize;
    for (n, text) in code.iter().enumerate().skip(line) {
        let start = if n == line { col } else { 0 };
        for c in text.chars().skip(start) {
            match c {
                '(' | '[' if !opened => nesting += 1,
                ')' | ']' if !opened => nesting = nesting.saturating_sub(1),
                ';' if !opened && nesting == 0 => return None,
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' if opened => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(n);
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// Which lines of a file are test code: the item after `#[cfg(test)]`, `#[test]` or
/// `#[tokio::test…]` (attributes and blank lines in between included).
fn test_lines(source: &str, code: &[String]) -> Vec<bool> {
    let raw: Vec<&str> = source.split('\n').collect();
    let mut test = vec![false; code.len()];
    let mut n = 0;
    while n < code.len() {
        let trimmed = raw.get(n).copied().unwrap_or("").trim();
        if !(trimmed.starts_with("#[cfg(test)]")
            || trimmed.starts_with("#[test]")
            || trimmed.starts_with("#[tokio::test"))
        {
            n += 1;
            continue;
        }
        let mut item = n + 1;
        while item < code.len() && {
            let t = raw.get(item).copied().unwrap_or("").trim();
            t.is_empty() || t.starts_with("#[")
        } {
            item += 1;
        }
        let end = body_end(code, item, 0).unwrap_or(item).min(code.len() - 1);
        for flag in &mut test[n..=end] {
            *flag = true;
        }
        n = end + 1;
    }
    test
}

/// The functions of one file that are not test code, with their lengths.
fn functions(source: &str) -> Vec<Function> {
    let code = code_only(source);
    let test = test_lines(source, &code);
    let mut found = Vec::new();
    for (n, text) in code.iter().enumerate() {
        if test[n] {
            continue;
        }
        let Some(name) = fn_name(text) else {
            continue;
        };
        let col = text.find("fn ").unwrap_or(0);
        if let Some(end) = body_end(&code, n, col) {
            found.push(Function {
                name,
                line: n + 1,
                lines: end - n + 1,
            });
        }
    }
    found
}

fn rel_display(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.rs` files below `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    common::files_below(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect()
}

/// The source folders: the root package's `src/` and each workspace crate's.
fn source_dirs() -> Vec<PathBuf> {
    let root = root();
    let mut dirs = vec![root.join("src")];
    if let Ok(crates) = std::fs::read_dir(root.join("crates")) {
        dirs.extend(crates.flatten().map(|c| c.path().join("src")));
    }
    dirs.sort();
    dirs
}

/// The source files of the library, binaries and workspace crates, without test-only files.
fn product_files() -> Vec<PathBuf> {
    let files: Vec<PathBuf> = source_dirs().iter().flat_map(|d| rust_files(d)).collect();
    assert!(
        files.len() > 20,
        "found only {} source files: the scan is looking in the wrong place",
        files.len()
    );
    files
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name != "tests.rs" && !name.ends_with("_tests.rs") && name != "test_support.rs"
        })
        .collect()
}

#[test]
fn no_function_outside_tests_is_longer_than_the_limit() {
    let root = root();
    let mut long = Vec::new();
    let mut used = Vec::new();
    let mut seen = 0;
    for path in product_files() {
        let source = std::fs::read_to_string(&path).unwrap();
        let rel = rel_display(&path, &root);
        for f in functions(&source) {
            seen += 1;
            if f.lines > MAX_FN_LINES && !known(KNOWN_LONG, &rel, &f.name, &mut used) {
                long.push(format!(
                    "{rel}:{} fn {} is {} lines",
                    f.line, f.name, f.lines
                ));
            }
        }
    }
    assert!(
        seen > 500,
        "found only {seen} functions: the parser is broken"
    );
    report_stale(KNOWN_LONG, &used);
    assert!(
        long.is_empty(),
        "functions longer than {MAX_FN_LINES} lines (split them):\n{}",
        long.join("\n")
    );
}

#[test]
fn every_module_says_what_it_owns() {
    let root = root();
    let missing: Vec<String> = product_files()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| p.strip_prefix(&root).unwrap_or(&p).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` comment at the top saying what they own:\n{}",
        missing.join("\n")
    );
}

/// A crate's source folder and the module path of each file in it.
struct CrateSources {
    /// The source folder, relative to the workspace root.
    name: String,
    /// Each file: its path in the crate, its module path (`["woosmap", "cli", "args"]`; `[]`
    /// for `lib.rs`) and its text.
    files: Vec<(String, Vec<String>, String)>,
}

/// The library crates of the workspace (binaries are their own crates and only use the
/// libraries' public paths).
fn crates() -> Vec<CrateSources> {
    let root = root();
    source_dirs()
        .into_iter()
        .filter(|src| src.join("lib.rs").exists())
        .map(|src| {
            let files = rust_files(&src)
                .into_iter()
                .filter(|p| !p.starts_with(src.join("bin")))
                .map(|p| {
                    let rel = p.strip_prefix(&src).unwrap().with_extension("");
                    let mut path: Vec<String> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    if matches!(
                        path.last().map(String::as_str),
                        Some("mod" | "lib" | "main")
                    ) {
                        path.pop();
                    }
                    let text = std::fs::read_to_string(&p).unwrap();
                    (rel_display(&p, &src), path, text)
                })
                .collect();
            CrateSources {
                name: rel_display(&src, &root),
                files,
            }
        })
        .collect()
}

/// Expands the paths of one `use` tree: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or("").to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(expand_use)
        .map(|rest| format!("{prefix}{rest}"))
        .collect()
}

/// The module paths a file's non-test code names, resolved to absolute paths in its crate:
/// `use` trees and inline `crate::…` / `super::…` paths.
fn referenced_paths(source: &str, module: &[String]) -> Vec<Vec<String>> {
    let code = code_only(source);
    let test = test_lines(source, &code);
    let text: String = code
        .iter()
        .zip(&test)
        .filter(|(_, t)| !**t)
        .map(|(l, _)| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut raw: Vec<String> = Vec::new();
    // `use` trees, up to their `;`.
    for (i, _) in text.match_indices("use ") {
        let before = text[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[i + 4..];
        let tree = &rest[..rest.find(';').unwrap_or(rest.len())];
        raw.extend(expand_use(tree));
    }
    // Inline paths.
    for start in ["crate::", "super::"] {
        for (i, _) in text.match_indices(start) {
            let path: String = text[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            raw.push(path);
        }
    }
    raw.into_iter()
        .filter_map(|p| {
            let mut parts = p.split("::").filter(|s| !s.is_empty());
            let mut abs: Vec<String> = match parts.next()? {
                "crate" => Vec::new(),
                "super" => module[..module.len().checked_sub(1)?].to_vec(),
                "self" => module.to_vec(),
                _ => return None,
            };
            for part in parts {
                if part == "super" {
                    abs.pop()?;
                } else if part != "*" && part != "self" {
                    abs.push(part.to_owned());
                }
            }
            Some(abs)
        })
        .collect()
}

/// One dependency of a circle: `file` (in the module `from`) names a path in its sibling
/// module `to`, which depends back on `from`.
struct Circle {
    file: String,
    /// The module depended on, in full (`woosmap::api::client`).
    names: String,
    text: String,
}

/// Import circles among the modules of each folder: for every module `M`, its child modules
/// are nodes, and child `A` depends on child `B` when code anywhere inside `A` names a path
/// inside `B`. Returns each dependency that lies on a circle (a strongly connected set of two
/// or more children), with a file that makes it.
fn circles(krate: &CrateSources) -> Vec<Circle> {
    use std::collections::{BTreeMap, BTreeSet};
    let is_module = |path: &[String]| krate.files.iter().any(|(_, m, _)| m.as_slice() == path);
    // (parent module, from child, to child) → the first file that makes it, and what it names.
    type Edge = (Vec<String>, String, String);
    let mut edges: BTreeMap<Edge, (String, Vec<String>)> = BTreeMap::new();
    for (file, module, source) in &krate.files {
        for target in referenced_paths(source, module) {
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common >= module.len() || common >= target.len() {
                continue; // within the module itself, or a name of an ancestor module
            }
            let parent = module[..common].to_vec();
            if !is_module(&target[..=common]) {
                continue; // an item defined in the parent module's own file
            }
            edges
                .entry((parent, module[common].clone(), target[common].clone()))
                .or_insert_with(|| (file.clone(), target));
        }
    }
    let next = |parent: &Vec<String>, from: &str| -> Vec<String> {
        edges
            .keys()
            .filter(|(p, f, _)| p == parent && f == from)
            .map(|(_, _, t)| t.clone())
            .collect()
    };
    let reaches = |parent: &Vec<String>, from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = next(parent, from);
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.extend(next(parent, &n));
            }
        }
        false
    };
    let mut found = Vec::new();
    for ((parent, from, to), (file, target)) in &edges {
        if !reaches(parent, to, from) {
            continue;
        }
        let mut module = parent.clone();
        module.push(to.clone());
        let folder = if parent.is_empty() {
            "crate".to_owned()
        } else {
            parent.join("::")
        };
        found.push(Circle {
            file: file.clone(),
            names: module.join("::"),
            text: format!(
                "{folder}: {from} → {to} ({file} names {}) and back",
                target.join("::")
            ),
        });
    }
    found
}

#[test]
fn no_import_circles_between_sibling_modules() {
    let mut found = Vec::new();
    let mut used = Vec::new();
    let mut modules = 0;
    for krate in crates() {
        modules += krate.files.len();
        for circle in circles(&krate) {
            if !known(KNOWN_CIRCLES, &circle.file, &circle.names, &mut used) {
                found.push(format!("{}: {}", krate.name, circle.text));
            }
        }
    }
    report_stale(KNOWN_CIRCLES, &used);
    assert!(
        modules > 50,
        "found only {modules} modules: the scan is looking in the wrong place"
    );
    assert!(
        found.is_empty(),
        "import circles (each folder is a layer; data flows one way):\n{}",
        found.join("\n")
    );
}

/// The layers of the root package (guide/ARCHITECTURE.md, "Layers"): the core (`engine`,
/// `frontend`, `tfglue`, `secret`) names no service and its parts keep to their own jobs; each
/// service's slice names no other slice, and its provider uses neither the front-end plumbing
/// nor its slice's command line. A module follows the first row whose path it lies under.
const LAYERS: &[(&str, &[&str])] = &[
    ("engine", &["woosmap", "rocketchat", "frontend", "tfglue"]),
    ("frontend", &["woosmap", "rocketchat", "engine", "tfglue"]),
    ("tfglue", &["woosmap", "rocketchat", "engine", "frontend"]),
    ("secret", &["woosmap", "rocketchat"]),
    (
        "woosmap::provider",
        &["rocketchat", "frontend", "woosmap::cli", "woosmap::action"],
    ),
    (
        "rocketchat::provider",
        &["woosmap", "frontend", "rocketchat::cli"],
    ),
    ("woosmap", &["rocketchat"]),
    ("rocketchat", &["woosmap"]),
];

/// Whether the module path `path` lies under `prefix` (`woosmap::provider`).
fn lies_under(path: &[String], prefix: &str) -> bool {
    let prefix: Vec<&str> = prefix.split("::").collect();
    path.len() >= prefix.len() && path.iter().zip(&prefix).all(|(a, b)| a == b)
}

#[test]
fn the_core_names_no_service_and_no_slice_names_another() {
    let krate = crates()
        .into_iter()
        .find(|c| c.name == "src")
        .expect("the root package");
    let mut found = Vec::new();
    let mut checked = 0;
    for (file, module, source) in &krate.files {
        let Some((_, forbidden)) = LAYERS.iter().find(|(layer, _)| lies_under(module, layer))
        else {
            continue;
        };
        checked += 1;
        for target in referenced_paths(source, module) {
            if forbidden.iter().any(|f| lies_under(&target, f)) {
                found.push(format!("{file} names {}", target.join("::")));
            }
        }
    }
    assert!(checked > 30, "checked only {checked} files");
    assert!(
        found.is_empty(),
        "layering broken (see LAYERS and guide/ARCHITECTURE.md):\n{}",
        found.join("\n")
    );
}

// The reader itself, on small sources whose answer is known.

#[test]
fn the_reader_measures_a_function_from_its_fn_line_to_its_closing_brace() {
    let body: String = (0..99).map(|i| format!("    let _x{i} = 1;\n")).collect();
    let source = format!("pub async fn long() {{\n{body}}}\n\nfn short() -> u8 {{ 1 }}\n");
    let found = functions(&source);
    assert_eq!(
        found,
        vec![
            Function {
                name: "long".into(),
                line: 1,
                lines: 101
            },
            Function {
                name: "short".into(),
                line: 103,
                lines: 1
            },
        ]
    );
}

#[test]
fn the_reader_ignores_braces_in_strings_chars_and_comments_and_skips_tests() {
    let source = r####"
fn a<'x>(s: &'x str, _: [u8; 2]) -> char {
    let _ = "}}}";
    let _ = r#"{"#;
    let _ = '{';
    // }
    /* } /* } */ } */
    '}'
}
trait T {
    fn declared(&self);
}
#[cfg(test)]
mod tests {
    fn helper() {}
    #[test]
    fn t() {}
}
#[tokio::test]
async fn also_a_test() {
}
fn b() {
}
"####;
    let found = functions(source);
    let names: Vec<(&str, usize, usize)> = found
        .iter()
        .map(|f| (f.name.as_str(), f.line, f.lines))
        .collect();
    assert_eq!(names, vec![("a", 2, 8), ("b", 22, 2)]);
}

#[test]
fn the_reader_finds_a_circle_between_siblings_but_not_parent_links() {
    let file = |path: &str, module: &[&str], text: &str| {
        (
            path.to_owned(),
            module.iter().map(|s| s.to_string()).collect(),
            text.to_owned(),
        )
    };
    let krate = CrateSources {
        name: "src".into(),
        files: vec![
            file(
                "lib.rs",
                &[],
                "//! root\npub mod cli;\npub mod api;\npub struct Core;",
            ),
            file(
                "api/mod.rs",
                &["api"],
                "//! api\npub mod client;\nuse crate::Core;",
            ),
            file(
                "api/client.rs",
                &["api", "client"],
                "//! c\nuse super::super::Core;",
            ),
            file(
                "cli/mod.rs",
                &["cli"],
                "//! cli\nuse crate::api::client;\npub mod args;\npub mod list;\npub struct Shared;",
            ),
            file(
                "cli/args.rs",
                &["cli", "args"],
                "//! a\nuse super::{Shared, list::ListArgs};",
            ),
            file(
                "cli/list.rs",
                &["cli", "list"],
                "//! l\nfn f() { let _ = crate::cli::args::parse(); }\n#[cfg(test)]\nmod tests {\n    use crate::cli::args;\n}\n",
            ),
        ],
    };
    let found: Vec<String> = circles(&krate).into_iter().map(|c| c.text).collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("cli: args → list (cli/args.rs names cli::list::ListArgs)"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("cli: list → args (cli/list.rs names cli::args::parse)"),
        "{found:#?}"
    );
}
