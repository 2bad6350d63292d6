//! Randomized containment cycles: timeouts, cancels, failing gather
//! siblings, SIGINT and SIGTERM, over trees with grandchildren,
//! TERM-ignoring children, `setsid` escapees and double-forked daemons
//! (played by the test helper, `tests/helper/ash_test_helper.rs`, and one
//! `sh` tree for realism). After every timeout, cancel or gather the
//! scope's processes must be gone while ash still runs; after every cycle
//! no process the cycle started may be left running.
//!
//! `cargo test` runs a short version (`ASH_STRESS_CYCLES`, default 30);
//! the figure in docs/reliability.md comes from a 1,000-cycle run:
//! `ASH_STRESS_CYCLES=1000 cargo test --release --test stress -- --nocapture`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{helper, kill_all, leftovers, token};

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

/// A process tree, and how many live processes it has once it is up.
fn tree(rng: &mut Rng) -> (&'static str, usize) {
    match rng.below(5) {
        // A real shell with a background job.
        0 => ("sh -c 'sleep 100 & sleep 100'", 3),
        // A child and a grandchild.
        1 => ("$H fork sleep 100", 2),
        // Both ignore SIGTERM: only the SIGKILL after the grace ends them.
        2 => ("$H ignore-term fork sleep 100", 2),
        // The grandchild escaped into a session of its own.
        3 => ("$H fork child:setsid sleep 100", 2),
        // The grandchild forked again and its parent exited (a daemon,
        // re-parented to ash), in a session of its own, ignoring SIGTERM.
        _ => (
            "$H fork child:daemon child:setsid child:ignore-term sleep 100",
            2,
        ),
    }
}

enum Ending {
    /// The scope (timeout, cancel, gather) ends by itself; then the script
    /// prints `SCOPE-ENDED` and waits for a line on stdin.
    Exits,
    /// It is sent this signal once its processes are up.
    Signal(&'static str),
}

/// The script, how it ends, and how many processes it runs once it is up
/// (ash and its sentinel included).
fn scenario(rng: &mut Rng) -> (String, Ending, usize) {
    let ((a, na), (b, nb)) = (tree(rng), tree(rng));
    let (script, ending) = scenario_script(rng, a, b);
    (script, ending, 2 + na + nb)
}

fn scenario_script(rng: &mut Rng, a: &str, b: &str) -> (String, Ending) {
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

/// One cycle: what went wrong, if anything.
fn cycle(script: &str, ending: &Ending, up: usize) -> Result<(), String> {
    let token = token();
    let script = match ending {
        Ending::Exits => format!("{script}\necho SCOPE-ENDED\nread line"),
        Ending::Signal(_) => script.to_string(),
    };
    let mut child = Command::new(ASH)
        .arg("-c")
        .arg(&script)
        .env("ASH_TEST_TOKEN", &token)
        .env("H", helper())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ash");
    let ash_pid = child.id().to_string();
    // stdout line by line on a thread, so waiting for a line has a deadline
    // (an escapee holding the pipe may keep it open after ash exits).
    let (tx, lines) = mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut problems = Vec::new();
    match ending {
        Ending::Signal(sig) => {
            // Wait until its processes are up, then signal ash.
            let start = Instant::now();
            while leftovers(&token).len() < up && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &ash_pid])
                .status();
        }
        Ending::Exits => {
            let deadline = Instant::now() + Duration::from_secs(30);
            let ended = loop {
                match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(l) if l == "SCOPE-ENDED" => break true,
                    Ok(_) => {}
                    Err(_) => break false,
                }
            };
            if ended {
                // The scope is over and ash still runs: nothing but ash
                // and its sentinel may carry the token.
                let mut left = Vec::new();
                let settle = Instant::now();
                while settle.elapsed() < Duration::from_secs(2) {
                    left = leftovers(&token)
                        .into_iter()
                        .filter(|p| {
                            !p.starts_with(&format!("{ash_pid}:")) && !p.contains(" --sentinel ")
                        })
                        .collect();
                    if left.is_empty() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                if !left.is_empty() {
                    problems.push(format!("left after the scope ended: {left:?}"));
                    kill_all(&left);
                }
            } else {
                problems.push("the scope did not end within 30 s".to_string());
            }
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(b"go\n");
            }
        }
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
    if status.is_none() {
        problems.push("ash did not exit within 30 s".to_string());
    }
    // The sentinel finishes its sweep just after ash exits.
    let mut left = leftovers(&token);
    let settle = Instant::now();
    while !left.is_empty() && settle.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
        left = leftovers(&token);
    }
    if !left.is_empty() {
        problems.push(format!("left after ash exited: {left:?}"));
        kill_all(&left);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("status {status:?}: {}", problems.join("; ")))
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
    for n in 0..cycles {
        let (script, ending, up) = scenario(&mut rng);
        if let Err(e) = cycle(&script, &ending, up) {
            failures.push(format!("cycle {n}: {e}\n{script}"));
        }
    }
    eprintln!(
        "{cycles} cycles in {:.1} s, {} with leftovers or hangs",
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
