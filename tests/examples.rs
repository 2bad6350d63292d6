//! Runs every script of `examples/` offline and checks its result: the exit
//! status and the lines that show the example did what its header says.
//! Timing checks are loose (CI machines are loaded); the examples print
//! their own measurements.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod common;
use common::{Finished, output_within};

const DEADLINE: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `ash examples/NAME ARGS...` from the repository root, with a deadline.
fn run(name: &str, args: &[&str]) -> Finished {
    run_flags(&[], name, args)
}

/// `ash FLAGS... examples/NAME ARGS...`.
fn run_flags(flags: &[&str], name: &str, args: &[&str]) -> Finished {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "examples-{}-{}-{}",
        name.trim_end_matches(".ash"),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let r = output_within(
        Command::new(env!("CARGO_BIN_EXE_ash"))
            .args(flags)
            .arg(root().join("examples").join(name))
            .args(args)
            .current_dir(root())
            .env("TMPDIR", &dir),
        DEADLINE,
        &format!("examples/{name}"),
    );
    // Examples clean up after themselves.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("read tmp")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "examples/{name} left {left:?} in TMPDIR");
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn has(r: &Finished, needle: &str) {
    assert!(
        r.stdout.contains(needle),
        "stdout lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
        r.stdout,
        r.stderr
    );
}

fn status(r: &Finished, want: i32) {
    assert_eq!(
        r.status,
        Some(want),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        r.stdout,
        r.stderr
    );
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

#[test]
fn every_example_is_tested_and_has_a_header() {
    let tested = [
        "buildmatrix.ash",
        "checksum.ash",
        // Needs ssh hosts: tested against the test sshd in tests/remote.rs.
        "fanout.ash",
        "healthcheck.ash",
        "hello.ash",
        "pipeline.ash",
        "resume.ash",
        "seeds.ash",
        "testrunner.ash",
        "tour.ash",
    ];
    for entry in std::fs::read_dir(root().join("examples")).expect("examples/") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        if !name.ends_with(".ash") {
            continue;
        }
        assert!(
            tested.contains(&name.as_ref()),
            "examples/{name} has no test"
        );
        let text = std::fs::read_to_string(root().join("examples").join(name.as_ref()))
            .expect("read example");
        assert!(
            text.lines()
                .take(30)
                .any(|l| l.starts_with("# Run: ash examples/")),
            "examples/{name}: the header must say how to run it (`# Run: ash examples/...`)"
        );
    }
}

#[test]
fn hello() {
    let r = run("hello.ash", &["ash"]);
    status(&r, 0);
    has(&r, "hello, ash\n");
    has(&r, "gathered a b in ");
}

#[test]
fn checksum() {
    let r = run("checksum.ash", &[]);
    status(&r, 0);
    assert_eq!(
        r.stdout.lines().filter(|l| l.contains("/file-")).count(),
        40
    );
    has(&r, "verified: all 40 sums match");
    assert!(
        r.stderr
            .contains("summary: 40 files, 400 bytes, 4 distinct, -j 8"),
        "{}",
        r.stderr
    );
}

#[test]
fn checksum_of_given_files() {
    let r = run("checksum.ash", &["Cargo.toml", "README.md"]);
    status(&r, 0);
    has(&r, "  Cargo.toml\n");
    has(&r, "  README.md\n");
    assert!(r.stderr.contains("summary: 2 files"), "{}", r.stderr);
}

#[test]
fn checksum_is_a_command_line_tool() {
    // Its options are fn main's parameters: --json, -j, --help, errors.
    let r = run("checksum.ash", &["--json", "-j", "1", "Cargo.toml"]);
    status(&r, 0);
    assert!(r.stdout.starts_with("{\"Cargo.toml\":\""), "{}", r.stdout);
    assert!(r.stderr.contains("-j 1"), "{}", r.stderr);
    let r = run("checksum.ash", &["--help"]);
    status(&r, 0);
    has(&r, "usage: ");
    has(&r, "  -j, --jobs N  checksums at once (default: 8)\n");
    let r = run("checksum.ash", &["--jobs", "many"]);
    status(&r, 2);
    assert!(
        r.stderr
            .contains("checksum.ash: --jobs expects an int, got \"many\""),
        "{}",
        r.stderr
    );
}

#[test]
fn healthcheck() {
    for program in ["python3", "curl"] {
        if !on_path(program) {
            eprintln!("skipping examples/healthcheck.ash: {program} is not on PATH");
            return;
        }
    }
    let r = run("healthcheck.ash", &[]);
    status(&r, 0);
    has(&r, "web-ok      UP    HTTP 200");
    has(&r, "web-404     DOWN  HTTP 404");
    has(&r, "web-hangs   DOWN  timed out");
    has(&r, "web-closed  DOWN  connection refused");
    has(&r, "1 up, 3 down");
}

#[test]
fn testrunner() {
    let r = run("testrunner.ash", &[]);
    status(&r, 1);
    // --group: each suite's lines stay together, in argument order.
    let arith = r.stdout.find("== arith").expect("arith");
    let strings = r.stdout.find("== strings").expect("strings");
    let processes = r.stdout.find("== processes").expect("processes");
    assert!(arith < strings && strings < processes, "{}", r.stdout);
    let block = &r.stdout[strings..processes];
    assert!(block.contains("  ok    split\n  ok    upper\n  FAIL  a wrong expectation"));
    has(&r, "  FAIL  strings: 1 of 3 tests failed");
    has(&r, "  pass  processes: 3 tests");
    has(&r, "2 suites passed, 1 failed");
    assert!(r.stderr.contains("strings/a wrong expectation: Error"));
}

#[test]
fn pipeline() {
    let r = run("pipeline.ash", &[]);
    status(&r, 0);
    has(&r, "epsilon=7\n");
    has(&r, "12 produced, 12 processed, 55 bytes in all");
    has(&r, "hand-made: 6 items, sorted 0 1 2 3 4 5");
}

#[test]
fn buildmatrix_fails_fast() {
    let r = run("buildmatrix.ash", &[]);
    status(&r, 0);
    has(&r, "matrix failed: ");
    has(&r, "linux/arm64/release    FAILED (CommandError, status 2)");
    has(&r, "macos/arm64/release    cancelled");
    assert!(r.stderr.contains("error[E0425]"), "{}", r.stderr);
    // The 5 s macOS builds were cancelled, not waited for.
    assert!(r.took < Duration::from_secs(4), "took {:?}", r.took);
}

#[test]
fn buildmatrix_all_pass() {
    let r = run("buildmatrix.ash", &["--all-pass"]);
    status(&r, 0);
    has(&r, "built 8 targets");
    has(&r, "macos/arm64/release    ok");
}

/// Run with a journal, fix the broken file, resume: only it runs again.
#[test]
fn resume() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("examples-resume-input-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("input dir");
    for i in 1..=6 {
        std::fs::write(dir.join(format!("f{i}.txt")), format!("word {i}\n")).expect("write");
    }
    std::fs::write(dir.join("f3.txt"), "a BROKEN file\n").expect("write");
    let journal = dir.join("journal.ndjson");
    let (j, d) = (
        journal.to_str().expect("utf-8"),
        dir.to_str().expect("utf-8"),
    );
    let r = run_flags(&["--journal", j], "resume.ash", &[d]);
    status(&r, 1);
    has(&r, "6 files, 1 failed, 10 words converted");
    assert_eq!(r.stdout.matches("converting ").count(), 6, "{}", r.stdout);
    std::fs::write(dir.join("f3.txt"), "fixed now\n").expect("write");
    let r = run_flags(&["--resume", j], "resume.ash", &[d]);
    status(&r, 0);
    has(&r, "6 files, 0 failed, 12 words converted");
    let converted: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("converting "))
        .collect();
    assert_eq!(
        converted,
        [format!("converting {d}/f3.txt")],
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("resume: 5 skipped, 1 rerun, 0 failed again"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn seeds() {
    let r = run("seeds.ash", &[]);
    status(&r, 0);
    has(&r, "after 0.3 s: task ran\n");
    has(&r, "TimeoutError after ");
    has(&r, "timeout 1s { ... } = in time");
    has(&r, "fast mirror won at ");
    has(&r, "0 1 4 9 16 25 in ");
    // Everything concurrent: far less than the 0.9 + 5 + 2 s of sequential
    // waits it avoids.
    assert!(r.took < Duration::from_secs(6), "took {:?}", r.took);
}

/// The README's tour, as written there.
#[test]
fn tour() {
    let r = run("tour.ash", &[]);
    status(&r, 0);
    for line in [
        "HELLO",
        "a.log.gz",
        "4 ash 11",
        "status 1",
        "5 page of a",
        "done",
        "timed out",
    ] {
        has(&r, line);
    }
}
