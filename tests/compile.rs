//! Golden compiler tests: each `tests/compile/NAME.ash` compiles to the
//! bytecode written in `tests/compile/NAME.dump` (the text of `ash --dump`).
//!
//! After an intended change of the compiler, re-bless the expected dumps
//! and review the diff like code:
//!
//!     ASH_BLESS=1 cargo test --test compile
//!
//! A second test checks that the files together use every instruction of
//! `vm::chunk::Op`, so a new instruction comes with a golden case.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile")
}

/// Every `.ash` case with the dump it compiles to now.
fn cases() -> Vec<(PathBuf, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/compile exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ash"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable case");
            let name = path.file_name().expect("a file").to_string_lossy();
            let dump = ash::cli::dump_source(&name, &text)
                .unwrap_or_else(|report| panic!("{name} does not compile:\n{report}"));
            (path, dump)
        })
        .collect()
}

#[test]
fn dumps_match_the_golden_files() {
    let bless = std::env::var_os("ASH_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for (path, dump) in cases() {
        let expected_path = path.with_extension("dump");
        if bless {
            std::fs::write(&expected_path, &dump).expect("writable golden file");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != dump {
            failures.push(format!(
                "{}: the dump differs from {}\n{}",
                path.display(),
                expected_path.display(),
                first_difference(&expected, &dump)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(if the change is intended: ASH_BLESS=1 cargo test --test compile)",
        failures.join("\n")
    );
}

/// The first differing line, with its neighbours, for the failure message.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = (0..e.len().max(a.len()))
        .find(|&i| e.get(i) != a.get(i))
        .unwrap_or(0);
    let from = at.saturating_sub(2);
    let show = |lines: &[&str]| {
        lines
            .iter()
            .enumerate()
            .skip(from)
            .take(5)
            .map(|(i, l)| format!("  {:>4} {l}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "expected (line {}):\n{}\nactual:\n{}",
        at + 1,
        show(&e),
        show(&a)
    )
}

/// The instruction names of `enum Op` in src/vm/chunk.rs.
fn all_ops() -> BTreeSet<String> {
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/vm/chunk.rs"))
            .expect("chunk.rs");
    let body = src
        .split("pub enum Op {")
        .nth(1)
        .and_then(|rest| rest.split("\n}\n").next())
        .expect("enum Op in chunk.rs");
    body.lines()
        // Variants sit at one level of indentation; their fields deeper.
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .map(str::trim)
        .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
        .map(|l| {
            l.split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The instruction names used in a dump.
fn ops_in(dump: &str) -> BTreeSet<String> {
    dump.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let pc = words.next()?;
            if pc.len() != 4 || !pc.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let _at = words.next()?;
            let op = words.next()?;
            Some(
                op.split(|c: char| !c.is_ascii_alphanumeric())
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// Spans sit beside the code, one per instruction (as clox's line array):
/// every instruction of every case has its source position.
#[test]
fn every_instruction_has_its_source_position() {
    for (path, dump) in cases() {
        for line in dump.lines() {
            let mut words = line.split_whitespace();
            let (Some(pc), Some(at)) = (words.next(), words.next()) else {
                continue;
            };
            if pc.len() == 4 && pc.bytes().all(|b| b.is_ascii_digit()) {
                let ok = at.split_once(':').is_some_and(|(l, c)| {
                    l.parse::<u32>().is_ok_and(|l| l > 0) && c.parse::<u32>().is_ok_and(|c| c > 0)
                });
                assert!(ok, "{}: no LINE:COL for `{line}`", path.display());
            }
        }
    }
}

/// Instructions that exist only while a function is being compiled: the
/// compiler rewrites them before the code is finished, so no dump (and no
/// fiber) ever sees one.
const COMPILER_ONLY: &[&str] = &["DeclLocal"];

/// Instructions no source compiles to: the code of a remote branch's task
/// (`RemoteRun`) is built at run time by `remote`.
const RUN_TIME_ONLY: &[&str] = &["RemoteRun"];

#[test]
fn the_golden_files_use_every_instruction() {
    let all = all_ops();
    assert!(all.len() > 40, "could not read enum Op: {all:?}");
    let used: BTreeSet<String> = cases().iter().flat_map(|(_, d)| ops_in(d)).collect();
    for op in COMPILER_ONLY {
        assert!(all.contains(*op), "{op} is no longer an instruction");
        assert!(!used.contains(*op), "{op} was left in finished code");
    }
    for op in RUN_TIME_ONLY {
        assert!(all.contains(*op), "{op} is no longer an instruction");
        assert!(!used.contains(*op), "{op} is compiled from source now");
    }
    let all: BTreeSet<String> = all
        .into_iter()
        .filter(|op| !COMPILER_ONLY.contains(&op.as_str()) && !RUN_TIME_ONLY.contains(&op.as_str()))
        .collect();
    let missing: Vec<&String> = all.difference(&used).collect();
    assert!(
        missing.is_empty(),
        "no case in tests/compile/ compiles to {missing:?}: add one"
    );
    let unknown: Vec<&String> = used.difference(&all).collect();
    assert!(unknown.is_empty(), "dumps name unknown ops {unknown:?}");
}
