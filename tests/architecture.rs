//! The module boundaries of docs/architecture.md, as tests: which module
//! may name which (`crate::...` paths in `src/`), and which modules make
//! no system calls of their own.
//!
//! A module is a directory or file right under `src/` (`vm`, `diag`, ...).
//! Test code (`tests.rs` files and `#[cfg(test)] mod tests` at the end of a
//! file) and comments are not checked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What each module may name besides itself: a module, or one file of it
/// (`runtime::shell`). Checked in both directions: a module missing here
/// fails the test too.
const MAY_USE: &[(&str, &[&str])] = &[
    // The syntax layer knows nothing of the VM.
    ("ast", &[]),
    ("syntax", &["ast"]),
    // An error's report asks `check::hints` for a hint.
    ("diag", &["ast", "vm::error", "check::hints"]),
    ("compile", &["ast", "diag", "vm"]),
    // The VM asks the runtime for shell work through one seam only.
    ("vm", &["ast", "diag", "runtime::shell"]),
    // The OS side knows nothing of the language; `read` hands its lines
    // over as strings (windows on the block read), a leaf type of bytes.
    ("process", &["vm::string"]),
    ("stdlib", &[]),
    ("builtins", &["vm", "runtime", "process"]),
    // Seeing what ran (`--trace`, `--timeline`, progress lines): told by
    // the runtime, it reads values and errors and reports through diag.
    ("observe", &["diag", "vm::error", "vm::value", "vm::walk"]),
    (
        "runtime",
        &[
            "ast",
            "builtins",
            "check::hints",
            "compile",
            "diag",
            "observe",
            "process",
            "remote",
            "stdlib",
            "syntax",
            "vm",
        ],
    ),
    // `--check`: the tree, the compiler's checks, the names of the
    // built-ins and the standard library; `cli::read_script` for its files.
    (
        "check",
        &[
            "ast",
            "builtins",
            "cli::read_script",
            "compile",
            "diag",
            "runtime::sync",
            "stdlib",
            "syntax",
            "vm",
        ],
    ),
    // Other hosts (section 15): packs bodies, runs ssh, and the agent,
    // which runs the bodies sent to it (the CLI starts it).
    (
        "remote",
        &[
            "ast", "builtins", "compile", "diag", "process", "runtime", "syntax", "vm",
        ],
    ),
    // Journals (section 14): an observer of the runtime's tasks, and the
    // reader and summary of the file.
    ("journal", &["builtins", "diag", "runtime", "vm"]),
    (
        "repl",
        &[
            "ast", "builtins", "compile", "diag", "process", "remote", "runtime", "stdlib",
            "syntax", "vm",
        ],
    ),
    (
        "cli",
        &[
            "ast", "builtins", "check", "compile", "diag", "journal", "observe", "process",
            "remote", "repl", "runtime", "stdlib", "syntax", "vm",
        ],
    ),
    ("lib", &[]),
    ("main", &[]),
];

/// Edges the code still has and the rules above forbid, each with the
/// reason and to be removed (none now).
const NOT_YET: &[(&str, &str)] = &[];

/// Modules that make no system calls: they name none of these.
const NO_OS: &[&str] = &["ast", "syntax", "compile", "vm"];
const OS_NAMES: &[&str] = &[
    "std::fs",
    "std::process",
    "std::env",
    "std::net",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "rustix",
    "libc",
    "nix",
    "signal_hook",
    "async_process",
    "async_io",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir` but test files.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable src dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The module a file belongs to: its first component under `src/`.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_string()
}

/// The file's code without comments and without its test module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else if rest.starts_with('"') {
            // A string literal: skipped, escapes included.
            let bytes = rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            rest = rest.get(i + 1..).unwrap_or("");
        } else {
            let c = rest.chars().next().expect("non-empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The paths named after `crate::`, as `module::file` (or `module`), with
/// `use crate::{a::b, c}` trees expanded.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let preceded = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[i + "crate::".len()..];
        if preceded {
            continue;
        }
        for path in use_tree(rest, "") {
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            match segments.as_slice() {
                [] => {}
                [one] => {
                    out.insert(one.to_string());
                }
                [first, second, ..] => {
                    let is_item = second.starts_with(|c: char| c.is_ascii_uppercase())
                        || !second.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                    out.insert(if is_item {
                        first.to_string()
                    } else {
                        format!("{first}::{second}")
                    });
                }
            }
        }
    }
    out
}

/// The paths of a use tree starting at `text` (`a::b`, `a::{b, c::d}`).
fn use_tree(text: &str, prefix: &str) -> Vec<String> {
    let mut path = String::from(prefix);
    for (i, c) in text.char_indices() {
        match c {
            '{' => {
                // The group's items, split at top-level commas.
                let mut depth = 0;
                let mut start = i + 1;
                let mut paths = Vec::new();
                for (j, c) in text[i..].char_indices().map(|(j, c)| (i + j, c)) {
                    match c {
                        '{' => depth += 1,
                        '}' | ',' if depth == 1 => {
                            let item = text[start..j].trim();
                            if !item.is_empty() {
                                paths.extend(use_tree(item, &path));
                            }
                            start = j + 1;
                            if c == '}' {
                                return paths;
                            }
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                return paths;
            }
            c if c.is_alphanumeric() || c == '_' || c == ':' => path.push(c),
            _ => break,
        }
    }
    vec![path]
}

/// Whether `path` (`a` or `a::b`) is covered by an allowed entry.
fn allowed(path: &str, entries: &[&str]) -> bool {
    entries
        .iter()
        .any(|e| path == *e || path.starts_with(&format!("{e}::")))
}

#[test]
fn modules_name_only_what_architecture_md_allows() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut seen_modules = BTreeSet::new();
    let mut violations = BTreeSet::new();
    let mut used_exceptions = BTreeSet::new();
    for file in &files {
        let module = module_of(file);
        seen_modules.insert(module.clone());
        let Some((_, may)) = MAY_USE.iter().find(|(m, _)| *m == module) else {
            panic!("{module} (src/{module}) has no entry in MAY_USE: add its rule");
        };
        let code = code_of(&std::fs::read_to_string(file).expect("readable"));
        for path in crate_paths(&code) {
            let target = path.split("::").next().unwrap_or_default();
            if target == module || allowed(&path, may) {
                continue;
            }
            if NOT_YET.contains(&(module.as_str(), path.as_str())) {
                used_exceptions.insert((module.clone(), path));
                continue;
            }
            violations.insert(format!(
                "{} names crate::{path}, which `{module}` may not use",
                file.strip_prefix(src()).unwrap_or(file).display()
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "module boundaries (docs/architecture.md) crossed:\n{}",
        violations.into_iter().collect::<Vec<_>>().join("\n")
    );
    for (module, _) in MAY_USE {
        assert!(
            seen_modules.contains(*module),
            "MAY_USE names {module}, which src/ no longer has"
        );
    }
    let stale: Vec<_> = NOT_YET
        .iter()
        .filter(|(m, p)| !used_exceptions.contains(&(m.to_string(), p.to_string())))
        .collect();
    assert!(
        stale.is_empty(),
        "NOT_YET lists edges the code no longer has (remove them): {stale:?}"
    );
}

#[test]
fn the_language_core_makes_no_system_calls() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(file);
        if !NO_OS.contains(&module.as_str()) {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).expect("readable"));
        for name in OS_NAMES {
            if names(&code, name) {
                violations.push(format!(
                    "{} names {name}",
                    file.strip_prefix(src()).unwrap_or(file).display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "{NO_OS:?} make no system calls (docs/architecture.md), but:\n{}",
        violations.join("\n")
    );
}

/// Whether `code` names `name` as a path (not inside a longer name).
fn names(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + name.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The line editor's validator, highlighter and completer run on
/// reedline's thread and parse there: the syntax tree must be `Send` (no
/// `Rc`), and so must a parse error.
#[test]
fn the_syntax_tree_can_cross_threads() {
    fn send<T: Send + 'static>() {}
    send::<ash::ast::Block>();
    send::<ash::syntax::ParseError>();
    let tree = ash::syntax::parse("echo hi | wc -l").expect("parses");
    let back = std::thread::spawn(move || tree.stmts.len())
        .join()
        .expect("the thread ran");
    assert_eq!(back, 1);
}

#[test]
fn the_path_scanner_reads_use_trees() {
    let paths = crate_paths(&code_of(
        "use crate::vm::{chunk::Op, value::Value};\n// crate::repl::x\nlet x = crate::diag::warn(\"crate::cli\");\nuse crate::runtime::{Io, TaskCtx};",
    ));
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    assert_eq!(paths, ["diag::warn", "runtime", "vm::chunk", "vm::value"]);
    assert!(names("use rustix::fs;", "rustix"));
    assert!(!names("std::os::unix::ffi", "nix"));
    assert!(names("let r = std::fs::read(p);", "std::fs"));
}
