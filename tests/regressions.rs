//! Inputs that crashed (or could crash) ash, kept as tests, and a fast
//! replay of the fuzzing seeds.
//!
//! - `tests/regressions/*.ash`: fixed crashes. Each runs through the
//!   binary (in a fresh directory, stdin `/dev/null`, 20 s deadline): it must
//!   exit by itself, without a panic message or a death by signal.
//! - Every file of `fuzz/seeds/` and `tests/regressions/` goes
//!   through parse and compile in-process, in both top-level modes: the fuzz
//!   smoke test that fits in CI.
//! - Pathological nesting and long chains, generated: `--check` gives a
//!   clean result (status 0 or 2) in under a second, and under 100 MB when
//!   `/usr/bin/time` is there to measure it.

mod common;
use common::TempDir;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ASH: &str = env!("CARGO_BIN_EXE_ash");
const DEADLINE: Duration = Duration::from_secs(20);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The files of a directory (not recursive), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What a run of the binary did: None if it finished cleanly, else why not.
fn run_script(script: &Path, args: &[&str]) -> Option<String> {
    let dir = TempDir::new();
    let err_path = dir.0.join(".stderr");
    let mut child = Command::new(ASH)
        .args(args)
        .arg(script)
        .current_dir(&dir.0)
        .env("HOME", &dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn ash");
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            return Some(format!("still running after {DEADLINE:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let err = fs::read_to_string(&err_path).unwrap_or_default();
    if err.contains("panicked at") || err.contains("overflowed its stack") {
        return Some(format!("crashed ({status}):\n{err}"));
    }
    if status.code().is_none() {
        return Some(format!("killed by a signal ({status}):\n{err}"));
    }
    None
}

fn replay_through_binary(dir: &Path) {
    let mut failures = Vec::new();
    for f in files(dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "ash"))
    {
        if let Some(why) = run_script(&f, &[]) {
            failures.push(format!("{}: {why}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixed_crashes_stay_fixed() {
    replay_through_binary(&root().join("tests/regressions"));
}

/// Parse and compile in both modes, and lint, on a thread with the stack ash runs on
/// (256 MiB reserved; test threads get 2 MiB).
fn parse_and_compile(name: String, text: String) -> Result<(), String> {
    std::thread::Builder::new()
        // The stack ash's own main thread has (src/main.rs).
        .stack_size(256 << 20)
        .spawn(move || {
            let Ok(block) = ash::syntax::parse(&text) else {
                return;
            };
            for top in [
                ash::compile::TopLevel::ScriptLocals,
                ash::compile::TopLevel::Globals,
            ] {
                let mut names = ash::vm::globals::Globals::default();
                let source = ash::diag::add_source(&name, &text);
                let _ = ash::compile::compile_script(&block, &name, source, &mut names, top);
            }
            // And the lint pass of `--check`, over the same tree.
            let _ = ash::check::lint(&block, &text, &ash::check::Context::default());
        })
        .expect("spawn")
        .join()
        .map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
}

#[test]
fn seeds_and_regressions_parse_and_compile_without_panicking() {
    let mut inputs = files(&root().join("fuzz/seeds"));
    inputs.extend(
        files(&root().join("tests/regressions"))
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "ash")),
    );
    assert!(inputs.len() > 100, "the seed corpus is missing");
    let mut failures = Vec::new();
    for f in inputs {
        let bytes = fs::read(&f).expect("read");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Err(msg) = parse_and_compile(f.display().to_string(), text) {
            failures.push(format!("{}: panicked: {msg}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A generated pathological input: its name and text.
type Gen = (&'static str, String);

fn nesting_inputs(n: usize) -> Vec<Gen> {
    vec![
        ("open parens", format!("let x = {}", "(".repeat(n))),
        (
            "closed parens",
            format!("let x = {}1{}", "(".repeat(n), ")".repeat(n)),
        ),
        ("open $(", format!("echo {}", "$(".repeat(n))),
        ("open [", format!("let x = {}", "[".repeat(n))),
        ("open {", "{".repeat(n)),
        ("open map", format!("let x = {}", "{a: ".repeat(n))),
        ("nested ${\"", format!("echo \"{}", "${\"".repeat(n))),
        ("nested if", "if true { ".repeat(n)),
        (
            "nested fn",
            format!("let x = {}", "fn () { return ".repeat(n)),
        ),
        ("not chain", format!("let x = {}true", "not ".repeat(n))),
        ("minus chain", format!("let x = {}1", "-".repeat(n))),
        ("&& chain", format!("true{}", " && true".repeat(n))),
        ("pipeline", vec!["true"; n].join(" | ")),
        (
            "elif chain",
            format!("if true {{ echo }}{}", " elif true { echo }".repeat(n)),
        ),
        ("env prefixes", format!("{}true", "A=1 ".repeat(n))),
        ("redirections", format!("echo{}", " > f".repeat(n))),
    ]
}

/// Left-deep chains: every link is one more level of the syntax tree.
fn chain_inputs(n: usize) -> Vec<Gen> {
    vec![
        ("+ chain", format!("let x = {}1", "1 + ".repeat(n))),
        ("* chain", format!("let x = {}1", "2 * ".repeat(n))),
        ("== chain", format!("let x = {}1", "1 == ".repeat(n))),
        (
            "and chain",
            format!("let x = {}true", "true and ".repeat(n)),
        ),
        (
            "string + chain",
            format!("let x = {}\"b\"", "\"a\" + ".repeat(n)),
        ),
        ("field chain", format!("let x = a{}", ".b".repeat(n))),
        ("index chain", format!("let x = a{}", "[0]".repeat(n))),
        ("call chain", format!("let x = f{}", "(1)".repeat(n))),
    ]
}

/// `ash --check` on each input: status 0, 1 (warnings) or 2, no crash, under a second
/// (ten in a debug build on a busy machine) and under 100 MB.
fn check_cleanly(inputs: Vec<Gen>) {
    let dir = TempDir::new();
    let measure = Path::new("/usr/bin/time").exists();
    let limit = if cfg!(debug_assertions) { 10.0 } else { 1.0 };
    let mut failures = Vec::new();
    for (name, text) in inputs {
        let path = dir.0.join("p.ash");
        fs::write(&path, text + "\n").expect("write");
        let start = Instant::now();
        let out = if measure {
            Command::new("/usr/bin/time")
                .args(["-f", "maxrss-kb=%M", ASH, "--check"])
                .arg(&path)
                .output()
        } else {
            Command::new(ASH).arg("--check").arg(&path).output()
        }
        .expect("run ash");
        let took = start.elapsed().as_secs_f64();
        let err = String::from_utf8_lossy(&out.stderr);
        let code = if measure {
            // time(1) reports a death by signal as "Command terminated".
            (!err.contains("Command terminated")).then(|| out.status.code().unwrap_or(-1))
        } else {
            out.status.code()
        };
        let kb: Option<u64> = err
            .rsplit("maxrss-kb=")
            .next()
            .and_then(|s| s.trim().parse().ok());
        if !matches!(code, Some(0..=2)) || err.contains("overflowed its stack") {
            let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            failures.push(format!("{name}: status {:?}: {first}", out.status));
        } else if took > limit {
            failures.push(format!("{name}: took {took:.2} s"));
        } else if kb.is_some_and(|kb| kb > 100 * 1024) {
            failures.push(format!("{name}: used {} KB", kb.unwrap_or(0)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn pathological_nesting_is_a_clean_error_fast_and_small() {
    check_cleanly(nesting_inputs(10_000));
}

#[test]
fn long_chains_compile_or_fail_cleanly() {
    check_cleanly(chain_inputs(100_000));
}
