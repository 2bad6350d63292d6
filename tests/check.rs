//! `ash --check`: the warnings of section 17, case by case
//! (`tests/check/*.test`), the command line around them, the project's own
//! scripts checking clean, and the run-time hints.
//!
//! A case file holds one lint's cases (its name is the file's stem), each:
//!
//! ```text
//! #### what the case shows
//! let x = 1
//! ## WARNINGS:
//! 1:5 unused
//! ## END
//! ```
//!
//! The script runs up to the first `##` line. `## WARNINGS:` ... `## END`
//! lists every warning expected, `LINE:COL NAME` in order (an empty list:
//! the script checks clean). Optional: `## FILE: NAME` ... `## END` writes
//! another file beside `case.ash` (a module to `use`); `## ARGS: ...`
//! passes more options to `--check`. Each case is checked as `ash --check
//! --format json [ARGS] case.ash` in a fresh directory. A case *fires* the
//! lint of its file when that lint is among its warnings; every file needs
//! at least five cases that fire and five that do not (where it is silent).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ASH: &str = env!("CARGO_BIN_EXE_ash");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

mod common;
use common::TempDir;

fn write(dir: &TempDir, name: &str, text: &str) {
    fs::write(dir.0.join(name), text).expect("write");
}

struct Out {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn ash(dir: &Path, args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = Command::new(ASH)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("LC_ALL", "C")
        .env_remove("NO_COLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ash");
    if let Some(text) = stdin {
        use std::io::Write;
        let mut w = child.stdin.take().expect("stdin");
        w.write_all(text.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for ash");
    Out {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ------------------------------------------------------------------ cases

#[derive(Default)]
struct Case {
    name: String,
    line: usize,
    script: String,
    warnings: Option<Vec<String>>,
    files: Vec<(String, String)>,
    args: Vec<String>,
}

fn parse_cases(file: &str, text: &str) -> Result<Vec<Case>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut i = 0;
    while i < lines.len() && !lines[i].starts_with("####") {
        let l = lines[i].trim();
        if !l.is_empty() && !l.starts_with('#') {
            return Err(format!("{file}:{}: text before the first case", i + 1));
        }
        i += 1;
    }
    while i < lines.len() {
        let mut case = Case {
            name: lines[i].trim_start_matches('#').trim().to_string(),
            line: i + 1,
            ..Case::default()
        };
        i += 1;
        let mut script = Vec::new();
        while i < lines.len() && !lines[i].starts_with("##") {
            script.push(lines[i]);
            i += 1;
        }
        while script.last().is_some_and(|l| l.trim().is_empty()) {
            script.pop();
        }
        case.script = script.join("\n") + "\n";
        while i < lines.len() && !lines[i].starts_with("####") {
            let l = lines[i];
            let at = i + 1;
            i += 1;
            if l.trim().is_empty() || (l.starts_with('#') && !l.starts_with("##")) {
                continue;
            }
            let block = |i: &mut usize| -> Result<Vec<String>, String> {
                let mut body = Vec::new();
                while *i < lines.len() && lines[*i].trim_end() != "## END" {
                    if lines[*i].starts_with("####") {
                        return Err(format!("{file}:{at}: no `## END`"));
                    }
                    body.push(lines[*i].to_string());
                    *i += 1;
                }
                if *i == lines.len() {
                    return Err(format!("{file}:{at}: no `## END`"));
                }
                *i += 1;
                Ok(body)
            };
            if l.trim_end() == "## WARNINGS:" {
                let body = block(&mut i)?;
                case.warnings = Some(
                    body.into_iter()
                        .filter(|w| !w.trim().is_empty())
                        .map(|w| w.trim().to_string())
                        .collect(),
                );
            } else if let Some(name) = l.strip_prefix("## FILE: ") {
                let body = block(&mut i)?;
                case.files
                    .push((name.trim().to_string(), body.join("\n") + "\n"));
            } else if let Some(args) = l.strip_prefix("## ARGS: ") {
                case.args = args.split_whitespace().map(String::from).collect();
            } else {
                return Err(format!("{file}:{at}: unexpected line `{l}`"));
            }
        }
        if case.warnings.is_none() {
            return Err(format!("{file}:{}: case without `## WARNINGS:`", case.line));
        }
        cases.push(case);
    }
    Ok(cases)
}

/// `LINE:COL NAME` of each warning `--check --format json` printed.
fn warnings_of(stdout: &str) -> Result<Vec<String>, String> {
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).map_err(|e| format!("not JSON: {l}: {e}"))?;
            Ok(format!(
                "{}:{} {}",
                v["line"],
                v["column"],
                v["name"].as_str().unwrap_or("?")
            ))
        })
        .collect()
}

fn run_case(case: &Case) -> Result<(), String> {
    let dir = TempDir::new();
    write(&dir, "case.ash", &case.script);
    for (name, text) in &case.files {
        write(&dir, name, text);
    }
    let mut args = vec!["--check", "--format", "json"];
    args.extend(case.args.iter().map(String::as_str));
    args.push("case.ash");
    let out = ash(&dir.0, &args, None);
    let got = warnings_of(&out.stdout)?;
    let want = case.warnings.clone().unwrap_or_default();
    let want_status = if want.is_empty() { 0 } else { 1 };
    if got != want || out.status != Some(want_status) {
        let text = ash(&dir.0, &["--check", "case.ash"], None);
        return Err(format!(
            "  want {want:?} (status {want_status})\n  got  {got:?} (status {:?})\n{}{}",
            out.status, text.stdout, text.stderr
        ));
    }
    Ok(())
}

#[test]
fn every_lint_case() {
    let dir = root().join("tests/check");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/check")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    paths.sort();
    let filter = std::env::var("ASH_CHECK_FILTER").unwrap_or_default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for path in &paths {
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let lint = file.trim_end_matches(".test").to_string();
        let cases = match parse_cases(&file, &fs::read_to_string(path).expect("read")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let fires = |c: &Case| {
            c.warnings
                .as_ref()
                .is_some_and(|w| w.iter().any(|w| w.ends_with(&format!(" {lint}"))))
        };
        let positive = cases.iter().filter(|c| fires(c)).count();
        let negative = cases.len() - positive;
        if filter.is_empty() && (positive < 5 || negative < 5) {
            failures.push(format!(
                "{file}: {positive} cases fire `{lint}` and {negative} do not: at least 5 of each"
            ));
        }
        for case in &cases {
            if !filter.is_empty() && !case.name.contains(&filter) && !file.contains(&filter) {
                continue;
            }
            ran += 1;
            if let Err(e) = run_case(case) {
                failures.push(format!("{file}:{}: {}\n{e}", case.line, case.name));
            }
        }
    }
    assert!(ran > 0, "no case ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_lint_has_a_case_file_and_a_docs_entry() {
    let docs = fs::read_to_string(root().join("docs/checks.md")).expect("docs/checks.md");
    for name in [
        "never-awaited",
        "unknown-name",
        "arity",
        "index-glob",
        "read-in-pipeline",
        "unbounded-gather",
        "escape",
        "unreachable",
        "unused",
        "bash-syntax",
        "unknown-command",
    ] {
        assert!(
            root().join(format!("tests/check/{name}.test")).exists(),
            "tests/check/{name}.test is missing"
        );
        assert!(
            docs.contains(&format!("## `{name}`")),
            "docs/checks.md has no section for `{name}`"
        );
    }
}

// ------------------------------------------------------------------ the project's own scripts

/// examples/, stdlib/ and the tests written in ash check clean (the docs'
/// examples are held by tests/docs.rs).
#[test]
fn the_projects_own_scripts_check_clean() {
    let mut files = Vec::new();
    for dir in ["examples", "stdlib", "tests/stdlib"] {
        for e in fs::read_dir(root().join(dir)).expect(dir) {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "ash") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 15, "scripts missing: {files:?}");
    let mut args = vec!["--check".to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ash(&root(), &args, None);
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (Some(0), "", ""),
        "the project's scripts do not check clean"
    );
}

// ------------------------------------------------------------------ the command line

#[test]
fn a_warning_shows_file_line_column_name_source_caret_and_help() {
    let d = TempDir::new();
    write(&d, "w.ash", "echo ok\nlet unused_thing = 1\n");
    let out = ash(&d.0, &["--check", "w.ash"], None);
    assert_eq!(out.status, Some(1), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "w.ash:2:5: warning[unused]: `unused_thing` is never read\n  \
         let unused_thing = 1\n      ^^^^^^^^^^^^\n  \
         help: remove it, or name it `_unused_thing` if it is meant to be unused\n"
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn status_is_0_clean_1_warnings_2_errors_over_several_files() {
    let d = TempDir::new();
    write(&d, "clean.ash", "echo hi\n");
    write(&d, "warn.ash", "let x = 1\n");
    write(&d, "bad.ash", "let x = (1 +\n");
    assert_eq!(ash(&d.0, &["--check", "clean.ash"], None).status, Some(0));
    let both = ash(&d.0, &["--check", "clean.ash", "warn.ash"], None);
    assert_eq!(both.status, Some(1));
    assert!(
        both.stdout.starts_with("warn.ash:1:5: warning[unused]"),
        "{}",
        both.stdout
    );
    let all = ash(&d.0, &["--check", "warn.ash", "bad.ash", "clean.ash"], None);
    assert_eq!(all.status, Some(2));
    assert!(all.stdout.contains("warn.ash:1:5"), "{}", all.stdout);
    assert!(all.stderr.contains("bad.ash:1:"), "{}", all.stderr);
    let missing = ash(&d.0, &["--check", "clean.ash", "nope.ash"], None);
    assert_eq!(missing.status, Some(2));
    assert!(missing.stderr.contains("nope.ash"), "{}", missing.stderr);
}

#[test]
fn dash_checks_standard_input() {
    let d = TempDir::new();
    let out = ash(&d.0, &["--check", "-"], Some("echo $args[0]\n"));
    assert_eq!(out.status, Some(1));
    assert!(
        out.stdout.starts_with("<stdin>:1:6: warning[index-glob]"),
        "{}",
        out.stdout
    );
    let clean = ash(&d.0, &["--check", "-"], Some("echo ${args[0]}\n"));
    assert_eq!((clean.status, clean.stdout.as_str()), (Some(0), ""));
}

#[test]
fn json_is_one_object_per_finding() {
    let d = TempDir::new();
    write(&d, "w.ash", "let a = 1\nlet b = 2\n");
    write(&d, "bad.ash", "if {\n");
    let out = ash(
        &d.0,
        &["--check", "--format", "json", "w.ash", "bad.ash"],
        None,
    );
    assert_eq!(out.status, Some(2));
    let objects: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(objects.len(), 3, "{}", out.stdout);
    let a = &objects[0];
    assert_eq!(a["file"], "w.ash");
    assert_eq!(
        (a["line"].as_u64(), a["column"].as_u64()),
        (Some(1), Some(5))
    );
    assert_eq!(
        (a["end_line"].as_u64(), a["end_column"].as_u64()),
        (Some(1), Some(6))
    );
    assert_eq!(a["severity"], "warning");
    assert_eq!(a["name"], "unused");
    assert!(a["message"].as_str().is_some_and(|m| m.contains("`a`")));
    assert!(a["help"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(objects[2]["file"], "bad.ash");
    assert_eq!(objects[2]["severity"], "error");
    assert_eq!(out.stderr, "");
}

#[test]
fn allow_comments_silence_one_warning_on_their_line_or_the_next() {
    let d = TempDir::new();
    write(
        &d,
        "a.ash",
        "let a = 1  # ash: allow unused\n# ash: allow unused\nlet b = 2\n\nlet c = 3\n# ash: allow arity\nlet d = 4\n",
    );
    let out = ash(&d.0, &["--check", "--format", "json", "a.ash"], None);
    assert_eq!(out.status, Some(1));
    assert_eq!(
        warnings_of(&out.stdout),
        Ok(vec!["5:5 unused".to_string(), "7:5 unused".to_string()])
    );
}

#[test]
fn bad_options_are_usage_errors() {
    let d = TempDir::new();
    write(&d, "a.ash", "echo\n");
    for args in [
        &["--check"][..],
        &["--check", "--format", "xml", "a.ash"],
        &["--check", "--format"],
        &["--check", "--frobnicate", "a.ash"],
    ] {
        let out = ash(&d.0, args, None);
        assert_eq!(out.status, Some(2), "{args:?}");
        assert!(
            out.stderr.contains("usage: ash --check"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn help_lists_the_check_options() {
    let out = ash(&root(), &["--help"], None);
    assert!(
        out.stdout
            .contains("--check [--path] [--format text|json] FILE..."),
        "{}",
        out.stdout
    );
}

// ------------------------------------------------------------------ run-time hints

fn run_script(script: &str) -> Out {
    let d = TempDir::new();
    write(&d, "s.ash", script);
    ash(&d.0, &["s.ash", "one", "two"], None)
}

#[test]
fn an_index_written_as_a_glob_fails_with_a_hint() {
    let out = run_script("echo $args[0]\n");
    assert_eq!(out.status, Some(1));
    assert!(out.stderr.contains("GlobError"), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "hint: `$args[0]` is `$args` followed by the glob `[0]`; to index, write `${args[0]}`"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn bash_habits_fail_with_a_hint_naming_the_ash_form() {
    // A failure that raises gets a `hint:` line under the caret.
    let raised = [
        ("true\necho $?\n", "`$status`"),
        ("echo $((1 + 2))\n", "`(1 + 2)`"),
        ("[[ -f x ]]\n", "`test ...`"),
        ("let i = 0\ni++\n", "`i += 1`"),
    ];
    for (script, want) in raised {
        let out = run_script(script);
        assert_ne!(out.status, Some(0), "{script}");
        assert!(
            out.stderr.contains(want),
            "{script}: nothing names {want}:\n{}",
            out.stderr
        );
    }
    // In a condition a missing command is only false: the message says it.
    let out = run_script("if [[ -f x ]] { echo yes }\necho done\n");
    assert_eq!((out.status, out.stdout.as_str()), (Some(0), "done\n"));
    assert!(out.stderr.contains("`[[ ... ]]` is bash"), "{}", out.stderr);
}

#[test]
fn read_in_a_pipeline_says_it_cannot_be_a_stage() {
    let out = run_script("echo hi | read x | cat\n");
    assert_ne!(out.status, Some(0));
    assert!(
        out.stderr.contains("not a pipeline stage"),
        "{}",
        out.stderr
    );
}

// ------------------------------------------------------------------ cost

/// Big and pathological scripts check in time linear in their size: many
/// functions, many unknown names (each one's "did you mean" search), many
/// findings (each one's line), and values that share parts (`let b = [a,
/// a]`, `let c = [b, b]`, ..., whose naive evaluation doubles per level).
/// Before the fixes this took about 40 s of CPU in a debug build; now well
/// under a second, and the bound is generous for a loaded machine.
#[test]
fn big_scripts_check_in_linear_time() {
    let mut script = String::new();
    for i in 0..10_000 {
        script.push_str(&format!(
            "fn f{i}(a, b) {{ let x{i} = a + b; return x{i} + undefined_{} }}\necho (f{i}(1, 2)) $unknown_var_{i}\n",
            i % 50
        ));
    }
    script.push_str("let a0 = async { return 1 }\n");
    for i in 1..60 {
        script.push_str(&format!("let a{i} = [a{}, a{}]\n", i - 1, i - 1));
    }
    script.push_str("a59\n");
    let d = TempDir::new();
    write(&d, "big.ash", &script);
    let start = std::time::Instant::now();
    let out = ash(&d.0, &["--check", "--format", "json", "big.ash"], None);
    let took = start.elapsed();
    assert_eq!(out.status, Some(1), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 20_000);
    assert!(took.as_secs() < 20, "--check took {took:?}");
}
