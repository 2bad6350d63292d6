//! The value fuzzer's programs (`fuzz/src/values.rs`) without libFuzzer:
//! random byte strings from a fixed-seed generator (and the seeds of
//! `fuzz/seeds-values/`, whole and spliced) are decoded into programs
//! that build cyclic, shared and deep lists and maps and walk them, run
//! in-process (a panic or a stack overflow fails the test) and, for some,
//! as an ash script through the binary (it must end with status 0 and
//! `end`: every walk that can fail is in a `try`, so anything else is a
//! crash, a panic or an uncaught error). The cargo-fuzz target `values`
//! needs a nightly-only sanitizer build; this runs on stable.
//!
//! `cargo test --test fuzz_values` runs 60 programs (4 through the
//! binary, about 20 s in a debug build); for a
//! longer run: `ASH_FUZZ_VALUES_RUNS=20000 ASH_FUZZ_VALUES_SEED=7 cargo
//! test --release --test fuzz_values -- --nocapture` (every 15th program
//! goes through the binary by default; `ASH_FUZZ_VALUES_BINARY_EVERY`
//! changes that).
//! A failing program is written to `CARGO_TARGET_TMPDIR` and named in the
//! failure.

#[path = "../fuzz/src/values.rs"]
#[allow(dead_code)]
mod values;

mod common;

use std::process::Command;
use std::time::Duration;

const ASH: &str = env!("CARGO_BIN_EXE_ash");

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds-values");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("fuzz/seeds-values")
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    out.sort();
    out
}

/// Input `n`: a seed as it is, a splice of two seeds with random bytes
/// between, or random bytes (up to 600, most short).
fn input(rng: &mut common::Rng, seeds: &[Vec<u8>], n: u64) -> Vec<u8> {
    if (n as usize) < seeds.len() {
        return seeds[n as usize].clone();
    }
    let random = |rng: &mut common::Rng, len: usize| -> Vec<u8> {
        (0..len).map(|_| rng.next() as u8).collect()
    };
    match rng.below(4) {
        0 if !seeds.is_empty() => {
            let a = &seeds[rng.below(seeds.len())];
            let b = &seeds[rng.below(seeds.len())];
            let mut out = a[..rng.below(a.len() + 1)].to_vec();
            let len = rng.below(30);
            out.extend(random(rng, len));
            out.extend_from_slice(&b[rng.below(b.len() + 1)..]);
            out
        }
        _ => {
            let len = if rng.below(4) == 0 {
                rng.below(600)
            } else {
                rng.below(90)
            };
            random(rng, len)
        }
    }
}

/// Keep a failing input where it can be run again.
fn keep(data: &[u8], n: u64) -> String {
    let path = format!("{}/fuzz-values-{n}.bin", env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::write(&path, data);
    path
}

#[test]
fn random_value_programs_never_crash_in_process_or_in_the_binary() {
    let runs = env_num("ASH_FUZZ_VALUES_RUNS", 60);
    let every = env_num("ASH_FUZZ_VALUES_BINARY_EVERY", 15).max(1);
    let mut rng = common::Rng(env_num("ASH_FUZZ_VALUES_SEED", 21));
    let seeds = seeds();
    let mut through_binary = 0;
    let (mut in_process, mut binary) = (Duration::ZERO, Duration::ZERO);
    for n in 0..runs {
        let data = input(&mut rng, &seeds, n);
        let program = values::decode(&data);
        let path = keep(&data, n);
        let start = std::time::Instant::now();
        values::run_in_process(&program);
        in_process += start.elapsed();
        if n % every == 0 && program.len() > 1 {
            through_binary += 1;
            let start = std::time::Instant::now();
            let script = values::script(&program);
            let out = common::output_within(
                Command::new(ASH).arg("-c").arg(&script).env("LC_ALL", "C"),
                Duration::from_secs(120),
                &format!("program {n} ({path})"),
            );
            assert!(
                out.status == Some(0)
                    && out.stdout.ends_with("end\n")
                    && !out.stderr.contains("panicked"),
                "program {n} ({path}): status {:?}\nstderr: {}\nscript:\n{script}",
                out.status,
                &out.stderr[..out.stderr.len().min(3000)]
            );
            binary += start.elapsed();
        }
        let _ = std::fs::remove_file(&path);
    }
    eprintln!(
        "{runs} programs in-process in {in_process:?}, {through_binary} through the binary in {binary:?}"
    );
}
