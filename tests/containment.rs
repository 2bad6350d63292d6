//! No process outlives its scope: after a timeout, a cancel, a failed
//! gather sibling, the end of the script, or a signal, nothing ash started
//! is still running — children, grandchildren, and children that ignore
//! SIGTERM alike.
//!
//! Leftovers are found by a token in the environment of every descendant
//! (scanning `/proc/*/environ`), not by process names.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{kill_all, leftovers, token};

const ASH: &str = env!("CARGO_BIN_EXE_ash");

/// Run a script with a fresh token; returns (status, stdout, stderr,
/// seconds, leftover processes after it exited).
fn run(script: &str) -> (i32, String, String, f64, Vec<String>) {
    let token = token();
    let start = Instant::now();
    let out = Command::new(ASH)
        .arg("-c")
        .arg(script)
        .env("ASH_TEST_TOKEN", &token)
        .stdin(Stdio::null())
        .output()
        .expect("run ash");
    let took = start.elapsed().as_secs_f64();
    // Give the kernel a moment to finish tearing processes down.
    std::thread::sleep(Duration::from_millis(100));
    let left = leftovers(&token);
    kill_all(&left);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
        left,
    )
}

#[test]
fn timeout_kills_child_and_grandchild() {
    let (status, _, err, took, left) = run("timeout 300ms { sh -c 'sleep 100 & sleep 100' }");
    assert_eq!(status, 124, "{err}");
    assert!(left.is_empty(), "left running: {left:?}");
    assert!(took < 5.0, "took {took} s");
}

#[test]
fn timeout_kills_a_term_ignoring_child_after_the_grace() {
    let (status, _, err, took, left) =
        run("timeout --grace 300ms 200ms { sh -c 'trap \"\" TERM; sleep 100; sleep 100' }");
    assert_eq!(status, 124, "{err}");
    assert!(left.is_empty(), "left running: {left:?}");
    // Deadline 0.2 s + grace 0.3 s, with room for a loaded machine.
    assert!((0.4..5.0).contains(&took), "took {took} s");
}

#[test]
fn timeout_fires_on_time() {
    let (status, out, err, _, left) = run(
        "let t0 = now(); try { timeout 200ms { sleep 10 } } catch TimeoutError e { echo (now() - t0) }",
    );
    assert_eq!(status, 0, "{err}");
    let took: f64 = out.trim().parse().expect("a number");
    assert!((0.19..1.0).contains(&took), "timeout after {took} s");
    assert!(left.is_empty());
}

#[test]
fn cancel_kills_the_task_processes() {
    let (status, out, err, _, left) = run("let t = spawn { sh -c 'sleep 100 & sleep 100' }
         sleep 300ms
         cancel $t
         try { await $t } catch CancelledError e { echo cancelled }");
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "cancelled\n");
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn a_failed_gather_branch_kills_its_siblings() {
    let (status, _, err, took, left) = run(
        "gather { sh -c 'sleep 100 & sleep 100' } { sh -c 'trap \"\" TERM; sleep 100' } { sleep 200ms; false }",
    );
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("CommandError"), "{err}");
    assert!(left.is_empty(), "left running: {left:?}");
    // The TERM-ignoring sibling is killed after the default 2 s grace.
    assert!(took < 10.0, "took {took} s");
}

#[test]
fn script_end_cancels_running_tasks() {
    let (status, _, err, _, left) = run("spawn { sh -c 'sleep 100 & sleep 100' }
         sh -c 'sleep 100' &
         sleep 300ms
         echo done");
    assert_eq!(status, 0, "{err}");
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn sigint_kills_everything_and_exits_130() {
    let token = token();
    let child = Command::new(ASH)
        .arg("-c")
        .arg("spawn { sh -c 'sleep 100 & sleep 100' }; sh -c 'trap \"\" TERM; sleep 100'")
        .env("ASH_TEST_TOKEN", &token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ash");
    // Wait until the processes are up.
    let start = Instant::now();
    while leftovers(&token).len() < 4 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let out = child.wait_with_output().expect("wait");
    std::thread::sleep(Duration::from_millis(100));
    let left = leftovers(&token);
    assert_eq!(out.status.code(), Some(130));
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn timeout_kills_a_descendant_that_left_the_group() {
    // setsid: a new session and process group, out of reach of killpg.
    let (status, _, err, took, left) =
        run("timeout 300ms { sh -c 'setsid sh -c \"sleep 100\" & sleep 100' }");
    assert_eq!(status, 124, "{err}");
    assert!(left.is_empty(), "left running: {left:?}");
    assert!(took < 5.0, "took {took} s");
}

#[test]
fn script_end_kills_a_double_forked_daemon() {
    // The command itself finishes; its daemonized grandchild would live on.
    let (status, out, err, _, left) = run("sh -c '(setsid sleep 100 &) ; echo started'
         echo done");
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "started\ndone\n");
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn sigkill_of_ash_leaves_no_children() {
    let token = token();
    let mut child = Command::new(ASH)
        .arg("-c")
        .arg("spawn { sh -c 'sleep 100 & sleep 100' }; sh -c 'setsid sleep 100 & sleep 100'")
        .env("ASH_TEST_TOKEN", &token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ash");
    let start = Instant::now();
    while leftovers(&token).len() < 6 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(leftovers(&token).len() >= 5, "{:?}", leftovers(&token));
    child.kill().expect("SIGKILL ash");
    let _ = child.wait();
    // The sentinel notices at once; allow a generous bound.
    let killed = Instant::now();
    let mut left = leftovers(&token);
    while !left.is_empty() && killed.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
        left = leftovers(&token);
    }
    let cleanup = killed.elapsed();
    kill_all(&left);
    assert!(
        left.is_empty(),
        "left running after SIGKILL of ash: {left:?}"
    );
    eprintln!("children gone {cleanup:?} after SIGKILL of ash");
}

#[test]
fn a_timeout_returns_while_an_escaped_descendant_holds_a_capture_open() {
    // The capture's command exits at once, but a setsid'd grandchild keeps
    // the pipe's write end: the capture would wait for end of file forever.
    let (status, out, err, took, left) = run(
        "try { timeout 300ms { let x = $(sh -c 'setsid sleep 100 & echo started') } } catch TimeoutError e { echo timed out }",
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "timed out\n");
    assert!(took < 3.0, "took {took} s");
    assert!(left.is_empty(), "left running: {left:?}");
}
