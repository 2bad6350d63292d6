//! Runs the standard library's own tests: each `tests/stdlib/test_NAME.ash`
//! is a script written in ash with `std/assert`. A test passes when the
//! script exits 0 and its stdout equals `tests/stdlib/test_NAME.out` (when
//! that file exists; otherwise the last line must be `NAME: ok`).
//!
//! Each script runs in a fresh temporary directory (its cwd), with
//! `NO_COLOR` unset, the `ash` under test first on `PATH`, `TMPDIR` pointing inside that directory (so the temp
//! file tests can check nothing is left behind) and a 60 s deadline.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;
use common::{Finished, output_within};

const DEADLINE: Duration = Duration::from_secs(60);

fn ash() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ash"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `PATH` with the directory of the `ash` under test first, so scripts can
/// run `ash -c ...`.
fn path_with_ash() -> std::ffi::OsString {
    let bin = ash();
    let mut dirs = vec![bin.parent().expect("bin dir").to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).expect("PATH")
}

/// A fresh directory under the target's tmp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("stdlib-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("tmp")).expect("create scratch dir");
    dir
}

/// Runs `ash ARGS...` in `dir` with a deadline.
fn run(dir: &Path, args: &[&str]) -> Finished {
    output_within(
        Command::new(ash())
            .args(args)
            .current_dir(dir)
            .env("TMPDIR", dir.join("tmp"))
            .env("PATH", path_with_ash())
            .env_remove("NO_COLOR")
            .env_remove("ASH_LOG_LEVEL"),
        DEADLINE,
        &format!("ash {args:?}"),
    )
}

/// Runs `tests/stdlib/test_NAME.ash` and checks it.
fn check_module(name: &str) {
    let script = root().join(format!("tests/stdlib/test_{name}.ash"));
    let dir = scratch(name);
    let r = run(&dir, &[script.to_str().expect("utf-8 path")]);
    assert_eq!(
        r.status,
        Some(0),
        "test_{name}.ash failed\n--- stdout\n{}\n--- stderr\n{}",
        r.stdout,
        r.stderr
    );
    let expected = root().join(format!("tests/stdlib/test_{name}.out"));
    if let Ok(want) = fs::read_to_string(&expected) {
        assert_eq!(r.stdout, want, "stdout of test_{name}.ash");
    } else {
        assert_eq!(
            r.stdout.lines().last(),
            Some(format!("{name}: ok").as_str()),
            "stdout of test_{name}.ash:\n{}",
            r.stdout
        );
    }
    // Nothing may be left behind in TMPDIR.
    let left: Vec<_> = fs::read_dir(dir.join("tmp"))
        .expect("read tmp")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "test_{name}.ash left {left:?} in TMPDIR");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn every_module_has_a_test() {
    for name in ash::stdlib::names() {
        let path = root().join(format!("tests/stdlib/test_{name}.ash"));
        assert!(
            path.exists(),
            "std/{name} has no tests/stdlib/test_{name}.ash"
        );
    }
}

#[test]
fn assert_module() {
    check_module("assert");
}

#[test]
fn fs_module() {
    check_module("fs");
}

#[test]
fn log_module() {
    check_module("log");
}

#[test]
fn parallel_module() {
    check_module("parallel");
}

#[test]
fn retry_module() {
    check_module("retry");
}

#[test]
fn sync_module() {
    check_module("sync");
}

/// An uncaught failed assertion reports the assertion's location and the
/// caller's line, and exits 1.
#[test]
fn failed_assertion_report_names_the_caller() {
    let dir = scratch("assert-report");
    fs::write(dir.join("t.ash"), "use std/assert\n\nassert_eq(1 + 1, 3)\n").expect("write");
    let r = run(&dir, &["t.ash"]);
    assert_eq!(r.status, Some(1));
    assert!(
        r.stderr
            .contains("Error: assert_eq failed: actual 2, expected 3"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("called from t.ash:3:1"), "{}", r.stderr);
}
