//! Randomized containment cycles: timeouts, cancels, failing gather
//! siblings, SIGINT and SIGTERM, over trees with grandchildren,
//! TERM-ignoring children and `setsid` escapees. After every cycle no
//! process the cycle started may be left running.
//!
//! `cargo test` runs a short version (`ASH_STRESS_CYCLES`, default 30);
//! the figure in docs/reliability.md comes from a 1,000-cycle run:
//! `ASH_STRESS_CYCLES=1000 cargo test --release --test stress -- --nocapture`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{kill_all, leftovers, token};

const ASH: &str = env!("CARGO_BIN_EXE_ash");

/// A small deterministic generator (xorshift), so a failing cycle can be
/// replayed from its number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A process tree: a child with a grandchild, a TERM-ignoring child, or a
/// child with a `setsid` escapee.
fn tree(rng: &mut Rng) -> &'static str {
    match rng.below(3) {
        0 => "sh -c 'sleep 100 & sleep 100'",
        1 => "sh -c 'trap \"\" TERM; sleep 100; sleep 100'",
        _ => "sh -c 'setsid sleep 100 & sleep 100'",
    }
}

enum Ending {
    /// The script ends by itself.
    Exits,
    /// It is sent this signal once its processes are up.
    Signal(&'static str),
}

fn scenario(rng: &mut Rng) -> (String, Ending) {
    let (a, b) = (tree(rng), tree(rng));
    match rng.below(5) {
        0 => (
            format!("try {{ timeout --grace 100ms 200ms {{ {a} }} }} catch TimeoutError e {{ }}"),
            Ending::Exits,
        ),
        1 => (
            format!(
                "let t = spawn {{ {a} }}\nsleep 200ms\ncancel $t\ntry {{ await $t }} catch CancelledError e {{ }}"
            ),
            Ending::Exits,
        ),
        2 => (
            format!("try {{ gather {{ {a} }} {{ {b} }} {{ sleep 200ms; false }} }} catch e {{ }}"),
            Ending::Exits,
        ),
        3 => (format!("spawn {{ {a} }}\n{b}"), Ending::Signal("INT")),
        _ => (format!("spawn {{ {a} }}\n{b}"), Ending::Signal("TERM")),
    }
}

#[test]
fn randomized_cycles_leave_no_process_behind() {
    let cycles: u64 = std::env::var("ASH_STRESS_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut failures = Vec::new();
    let start = Instant::now();
    for cycle in 0..cycles {
        let (script, ending) = scenario(&mut rng);
        let token = token();
        let mut child = Command::new(ASH)
            .arg("-c")
            .arg(&script)
            .env("ASH_TEST_TOKEN", &token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ash");
        if let Ending::Signal(sig) = ending {
            // Wait until its processes are up, then signal ash.
            let up = Instant::now();
            while leftovers(&token).len() < 3 && up.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The sentinel finishes its sweep just after ash exits.
        let mut left = leftovers(&token);
        let settle = Instant::now();
        while !left.is_empty() && settle.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
            left = leftovers(&token);
        }
        if status.is_none() || !left.is_empty() {
            failures.push(format!(
                "cycle {cycle}: status {status:?}, left {left:?}\n{script}"
            ));
            kill_all(&left);
        }
    }
    eprintln!(
        "{cycles} cycles in {:.1} s, {} with leftovers or hangs",
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
