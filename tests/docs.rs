//! Checks the examples of the documentation: in `docs/*.md`, every fenced
//! ```` ```ash ```` block is parsed with `ash --check`; when it is followed
//! (after blank lines only) by an ```` ```output ```` block, it is also run,
//! as a script file in a fresh temporary directory, and its stdout must
//! equal that block. ```` ```output status=N ```` expects exit status N
//! (default 0). An ```` ```ash ```` block followed by a ```` ```check ````
//! block is a `--check` example instead: `ash --check example.ash` must
//! print that block's text (its warnings) on stdout, with status 1 (0 when
//! the block is empty). Every other ```` ```ash ```` block must check
//! clean: status 0, no warning. Blocks in other languages (```` ```sh ````,
//! ...) are not checked.
//!
//! `ASH_DOCS_BLESS=1 cargo test --test docs` rewrites the output and check
//! blocks with what the examples print (then read the diff!).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Example {
    file: String,
    /// 1-based line of the ```ash fence.
    line: usize,
    code: String,
    /// The output block: (first line index of its body, last+1, text, status).
    output: Option<(usize, usize, String, i32)>,
    /// The check block: (first line index of its body, last+1, text).
    check: Option<(usize, usize, String)>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn examples(file: &str, text: &str) -> Vec<Example> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```ash" {
            i += 1;
            continue;
        }
        let line = i + 1;
        let mut code = String::new();
        i += 1;
        while i < lines.len() && lines[i].trim_end() != "```" {
            code.push_str(lines[i]);
            code.push('\n');
            i += 1;
        }
        i += 1;
        let mut j = i;
        while j < lines.len() && lines[j].trim().is_empty() {
            j += 1;
        }
        let mut output = None;
        let mut check = None;
        if j < lines.len() && lines[j].trim_end() == "```check" {
            let (end, text) = fenced_body(&lines, j + 1);
            check = Some((j + 1, end, text));
            i = end + 1;
        } else if j < lines.len() && lines[j].starts_with("```output") {
            let status = lines[j]
                .split_whitespace()
                .find_map(|w| w.strip_prefix("status="))
                .map_or(0, |s| s.parse().expect("status=N"));
            let (end, text) = fenced_body(&lines, j + 1);
            output = Some((j + 1, end, text, status));
            i = end + 1;
        }
        out.push(Example {
            file: file.to_string(),
            line,
            code,
            output,
            check,
        });
    }
    out
}

/// The text of a fenced block whose body starts at line `start`, and the
/// index of its closing fence.
fn fenced_body(lines: &[&str], start: usize) -> (usize, String) {
    let mut k = start;
    let mut text = String::new();
    while k < lines.len() && lines[k].trim_end() != "```" {
        text.push_str(lines[k]);
        text.push('\n');
        k += 1;
    }
    (k, text)
}

fn scratch(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("docs-{}-{tag}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn ash(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ash"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("LC_ALL", "C")
        .env("NO_COLOR", "1")
        .env_remove("ASH_LOG_LEVEL")
        .stdin(Stdio::null())
        .output()
        .expect("run ash");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_file(name: &str) {
    let path = root().join("docs").join(name);
    let text = fs::read_to_string(&path).expect("read doc");
    let bless = std::env::var_os("ASH_DOCS_BLESS").is_some();
    let mut new_lines: Vec<String> = text.lines().map(String::from).collect();
    let mut failures = Vec::new();
    let exs = examples(name, &text);
    // Rewrites go bottom-up so earlier line numbers stay valid.
    for (n, ex) in exs.iter().enumerate().rev() {
        let dir = scratch(&format!("{}-{n}", name.trim_end_matches(".md")));
        fs::write(dir.join("example.ash"), &ex.code).expect("write example");
        let (status, stdout, stderr) = ash(&dir, &["--check", "example.ash"]);
        if let Some((start, end, want)) = &ex.check {
            let want_status = if want.is_empty() { 0 } else { 1 };
            if bless {
                let body: Vec<String> = stdout.lines().map(String::from).collect();
                new_lines.splice(start..end, body);
            } else if stdout != *want || status != Some(want_status) {
                failures.push(format!(
                    "{}:{}: --check status {status:?} (want {want_status})\n--- want\n{want}--- got\n{stdout}--- stderr\n{stderr}",
                    ex.file, ex.line
                ));
            }
            let _ = fs::remove_dir_all(&dir);
            continue;
        }
        if status != Some(0) || !stdout.is_empty() {
            failures.push(format!(
                "{}:{}: does not check clean (ash --check: status {status:?}):\n{stdout}{stderr}",
                ex.file, ex.line
            ));
            continue;
        }
        if let Some((start, end, want, want_status)) = &ex.output {
            let (status, stdout, stderr) = ash(&dir, &["example.ash"]);
            if bless {
                let body: Vec<String> = stdout.lines().map(String::from).collect();
                new_lines.splice(start..end, body);
            } else if stdout != *want || status != Some(*want_status) {
                failures.push(format!(
                    "{}:{}: status {status:?} (want {want_status})\n--- want\n{want}--- got\n{stdout}--- stderr\n{stderr}",
                    ex.file, ex.line
                ));
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
    if bless {
        fs::write(&path, new_lines.join("\n") + "\n").expect("bless");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reference() {
    check_file("reference.md");
}

#[test]
fn asyncio_guide() {
    check_file("asyncio.md");
}

#[test]
fn builtins() {
    check_file("builtins.md");
}

#[test]
fn stdlib() {
    check_file("stdlib.md");
}

#[test]
fn checks() {
    check_file("checks.md");
}

#[test]
fn the_parser_of_this_test_finds_blocks() {
    let text = "x\n```ash\necho hi\n```\n\n```output\nhi\n```\n```ash\nfalse\n```\n```output status=1\n```\n```ash\nlet x = 1\n```\n```check\nw\n```\n";
    let exs = examples("t.md", text);
    assert_eq!(exs.len(), 3);
    assert_eq!(exs[2].check.as_ref().map(|c| c.2.as_str()), Some("w\n"));
    assert!(exs[2].output.is_none());
    assert_eq!(exs[0].code, "echo hi\n");
    assert_eq!(exs[0].output.as_ref().map(|o| o.2.as_str()), Some("hi\n"));
    assert_eq!(exs[1].output.as_ref().map(|o| o.3), Some(1));
}

/// The Markdown files of the repository (README.md, docs/*.md, ...),
/// without the build output.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            markdown_files(&path, out);
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

/// The targets of the Markdown links in `text`: `[text](target)`.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].trim().to_string());
        }
    }
    out
}

/// Project docs stand alone: a clone has no `../shared`, so no relative
/// link may leave the repository, and each one must lead to a file that
/// is there.
#[test]
fn no_link_leaves_the_repository() {
    let root = root();
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    assert!(files.iter().any(|f| f.ends_with("docs/reference.md")));
    let mut bad = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("read markdown");
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let path = target.split('#').next().unwrap_or_default();
            let dir = file.parent().expect("a file's directory");
            let resolved = dir.join(path);
            let inside = fs::canonicalize(&resolved)
                .map(|p| p.starts_with(&root))
                .unwrap_or(false);
            if !inside {
                bad.push(format!(
                    "{}: link to {target} {}",
                    file.strip_prefix(&root).unwrap_or(file).display(),
                    if resolved.exists() {
                        "leaves the repository"
                    } else {
                        "leads nowhere"
                    }
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The README names the Rust version Cargo.toml requires (`rust-version`,
/// which cargo checks before building), so a reader with an older one
/// knows before installing.
#[test]
fn the_readme_names_the_rust_version_the_build_needs() {
    let toml = fs::read_to_string(root().join("Cargo.toml")).expect("read Cargo.toml");
    let version = toml
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("Cargo.toml sets rust-version");
    let readme = fs::read_to_string(root().join("README.md")).expect("read README.md");
    assert!(
        readme.contains(&format!("Rust {version} or newer")),
        "README.md should say `Rust {version} or newer`"
    );
}
