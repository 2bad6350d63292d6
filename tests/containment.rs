//! No process outlives its scope: after a timeout, a cancel, a failed
//! gather sibling, the end of the script, or a signal, nothing ash started
//! is still running — children, grandchildren, children that ignore
//! SIGTERM, and descendants that escaped with `setsid` or a double fork.
//! Also: every external pipeline runs in a process group of its own, no
//! finished child (own or adopted) is left a zombie while the script runs,
//! and a capture's stdout and stderr are drained concurrently.
//!
//! The hard cases are played by the test helper program
//! (`tests/helper/ash_test_helper.rs`, built by `common::helper`); a few
//! keep `sh` for realism. Leftovers are found by a token in the environment
//! of every descendant (scanning `/proc/*/environ`), not by process names.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{TempDir, helper, kill_all, leftovers, stat_fields, token, zombie_children};

const ASH: &str = env!("CARGO_BIN_EXE_ash");

/// ash for `script`, with a fresh token and `$H` naming the test helper.
fn ash(script: &str, token: &str) -> Command {
    let mut c = Command::new(ASH);
    c.arg("-c")
        .arg(script)
        .env("ASH_TEST_TOKEN", token)
        .env("H", helper())
        .stdin(Stdio::null());
    c
}

/// Run a script with a fresh token; returns (status, stdout, stderr,
/// seconds until ash exited, leftover processes after it exited).
fn run(script: &str) -> (i32, String, String, f64, Vec<String>) {
    let token = token();
    let start = Instant::now();
    let child = ash(script, &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ash");
    let (out, took, left) = finish(child, start, Duration::from_secs(30), &token);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
        left,
    )
}

/// The lines of a child's stdout, read on a thread, so a test can wait for
/// one with a deadline.
struct Lines(mpsc::Receiver<String>);

impl Lines {
    /// Takes the child's stdout.
    fn new(child: &mut Child) -> Lines {
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    /// The text of the lines before the line `marker` (each with its
    /// newline). If `marker` does not come within `limit`, or stdout ends
    /// first, kill the child and whatever carries `token`, and fail.
    fn until(&self, marker: &str, limit: Duration, child: &mut Child, token: &str) -> String {
        let deadline = Instant::now() + limit;
        let mut text = String::new();
        loop {
            match self
                .0
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line == marker => return text,
                Ok(line) => {
                    text.push_str(&line);
                    text.push('\n');
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    kill_all(&leftovers(token));
                    panic!(
                        "no line {marker:?} from ash within {limit:?} ({e}); before it: {text:?}"
                    );
                }
            }
        }
    }
}

/// What `run_scoped` saw.
struct Scoped {
    status: i32,
    /// stdout up to the end of the scope.
    out: String,
    err: String,
    /// Seconds from the start until the scope ended.
    took: f64,
    /// Processes carrying the token, other than ash and its sentinel,
    /// right after the scope ended while ash still ran.
    in_scope: Vec<String>,
    /// Processes carrying the token after ash exited.
    after_exit: Vec<String>,
}

/// Run `scope`, then `echo SCOPE-ENDED` and wait in `read line` so the
/// leftovers of the scope are counted while ash still runs (else the kill
/// at the end of the script would hide a scope that failed to clean up),
/// then let ash finish and count again.
fn run_scoped(scope: &str) -> Scoped {
    let token = token();
    let start = Instant::now();
    let mut child = ash(&format!("{scope}\necho SCOPE-ENDED\nread line"), &token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ash");
    let ash_pid = child.id().to_string();
    let lines = Lines::new(&mut child);
    let out = lines.until("SCOPE-ENDED", Duration::from_secs(30), &mut child, &token);
    let took = start.elapsed().as_secs_f64();
    // A killed process may take a moment to be torn down.
    let mut in_scope = Vec::new();
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(300) {
        in_scope = leftovers(&token)
            .into_iter()
            .filter(|p| !p.starts_with(&format!("{ash_pid}:")) && !p.contains(" --sentinel "))
            .collect();
        if in_scope.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.stdin.take().expect("stdin").write_all(b"go\n");
    kill_all(&in_scope);
    let (rest, _, after_exit) = finish(child, start, Duration::from_secs(30), &token);
    Scoped {
        status: rest.status.code().unwrap_or(-1),
        out,
        err: text(&rest.stderr),
        took,
        in_scope,
        after_exit,
    }
}

impl Scoped {
    fn assert_nothing_left(&self) {
        assert!(
            self.in_scope.is_empty(),
            "left running after the scope ended: {:?}\n{}",
            self.in_scope,
            self.err
        );
        assert!(
            self.after_exit.is_empty(),
            "left running after ash exited: {:?}",
            self.after_exit
        );
    }
}

/// The lines `pid pgid sid ppid` the helper's `report FILE` appended.
fn reports(file: &std::path::Path) -> Vec<[i64; 4]> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let f: Vec<i64> = l.split(' ').map(|n| n.parse().expect("a number")).collect();
            [f[0], f[1], f[2], f[3]]
        })
        .collect()
}

/// Wait (up to 10 s) until `file` holds `n` reports.
fn await_reports(file: &std::path::Path, n: usize) -> Vec<[i64; 4]> {
    let start = Instant::now();
    loop {
        let r = reports(file);
        if r.len() >= n || start.elapsed() > Duration::from_secs(10) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn timeout_kills_child_and_grandchild() {
    let r = run_scoped(
        "try { timeout 300ms { $H fork sleep 100 } } catch TimeoutError e { echo timed out }",
    );
    assert_eq!(r.status, 0, "{}", r.err);
    assert_eq!(r.out, "timed out\n");
    r.assert_nothing_left();
    assert!(r.took < 5.0, "took {} s", r.took);
}

#[test]
fn timeout_kills_a_term_ignoring_child_after_the_grace() {
    // The child and its grandchild both ignore SIGTERM: only the SIGKILL
    // after the grace period ends them.
    let r = run_scoped(
        "try { timeout --grace 300ms 200ms { $H ignore-term fork sleep 100 } } catch TimeoutError e { echo timed out }",
    );
    assert_eq!(r.status, 0, "{}", r.err);
    assert_eq!(r.out, "timed out\n");
    r.assert_nothing_left();
    // Deadline 0.2 s + grace 0.3 s, with room for a loaded machine.
    assert!((0.4..5.0).contains(&r.took), "took {} s", r.took);
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
    // Kept with sh for realism: a real shell's background job.
    let r = run_scoped(
        "let t = spawn { sh -c 'sleep 100 & sleep 100' }
         sleep 300ms
         cancel $t
         try { await $t } catch CancelledError e { echo cancelled }",
    );
    assert_eq!(r.status, 0, "{}", r.err);
    assert_eq!(r.out, "cancelled\n");
    r.assert_nothing_left();
}

#[test]
fn a_failed_gather_branch_kills_its_siblings() {
    let r = run_scoped(
        "try { gather { $H fork sleep 100 } { $H ignore-term fork sleep 100 } { sleep 200ms; false } } catch CommandError e { echo failed }",
    );
    assert_eq!(r.status, 0, "{}", r.err);
    assert_eq!(r.out, "failed\n");
    r.assert_nothing_left();
    // The TERM-ignoring sibling is killed after the default 2 s grace.
    assert!((2.0..10.0).contains(&r.took), "took {} s", r.took);
}

#[test]
fn script_end_cancels_running_tasks() {
    let (status, _, err, _, left) = run("spawn { $H fork sleep 100 }
         $H ignore-term sleep 100 &
         sleep 300ms
         echo done");
    assert_eq!(status, 0, "{err}");
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn sigint_kills_everything_and_exits_130() {
    let token = token();
    let child = ash(
        "spawn { $H fork sleep 100 }; $H ignore-term fork sleep 100",
        &token,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn ash");
    // Wait until the processes are up: ash, its sentinel, 2 + 2 helpers.
    let start = Instant::now();
    while leftovers(&token).len() < 6 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(leftovers(&token).len() >= 6, "{:?}", leftovers(&token));
    let pid = child.id().to_string();
    let signalled = Instant::now();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let (out, took, left) = finish(child, signalled, Duration::from_secs(30), &token);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(left.is_empty(), "left running: {left:?}");
    // The TERM-ignoring pair is killed after the default 2 s grace.
    assert!(took < 10.0, "took {took} s");
}

#[test]
fn timeout_kills_a_descendant_that_left_the_group() {
    // The grandchild calls setsid: a new session and process group, out of
    // reach of killpg. Its report proves it escaped.
    let d = TempDir::new();
    let f = d.0.join("escaped");
    let r = run_scoped(&format!(
        "try {{ timeout 300ms {{ $H fork child:setsid child:report {} sleep 100 }} }} catch TimeoutError e {{ echo timed out }}",
        f.display()
    ));
    assert_eq!(r.status, 0, "{}", r.err);
    assert_eq!(r.out, "timed out\n");
    r.assert_nothing_left();
    assert!(r.took < 5.0, "took {} s", r.took);
    let rep = reports(&f);
    assert_eq!(rep.len(), 1, "{rep:?}");
    let [pid, pgid, sid, _] = rep[0];
    assert!(pid == pgid && pid == sid, "did not escape: {rep:?}");
}

#[test]
fn script_end_kills_a_double_forked_daemon() {
    // The command itself finishes at once; its daemonized grandchild (in
    // its own session, ignoring SIGTERM) would live on.
    let d = TempDir::new();
    let f = d.0.join("daemon");
    let (status, out, err, _, left) = run(&format!(
        "$H print started daemon setsid ignore-term report {} sleep 100
         sleep 200ms
         echo done",
        f.display()
    ));
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "started\ndone\n");
    assert!(left.is_empty(), "left running: {left:?}");
    let r = reports(&f);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        r[0][0], r[0][2],
        "the daemon did not start a session: {r:?}"
    );
}

#[test]
fn script_end_kills_a_double_forked_daemon_started_by_sh() {
    // The same with a real shell's idiom. On a loaded machine this fails
    // now and then (2 runs in 100 with three busy loops on two cores, and
    // twice in about 25 runs of this file after other test binaries): the
    // sweep at exit misses the `sleep` while it is in its execve, when its
    // environment reads empty.
    let (status, out, err, _, left) = run("sh -c '(setsid sleep 100 &) ; echo started'
         echo done");
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "started\ndone\n");
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn sigkill_of_ash_leaves_no_children() {
    let token = token();
    let mut child = ash(
        "spawn { $H fork sleep 100 }; $H ignore-term fork child:setsid sleep 100",
        &token,
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn ash");
    // ash, its sentinel, and 2 + 2 helpers (one escaped with setsid).
    let start = Instant::now();
    while leftovers(&token).len() < 6 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(leftovers(&token).len() >= 6, "{:?}", leftovers(&token));
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
    // The capture's command exits at once, but its child, escaped with
    // setsid, keeps the pipe's write end: the capture would wait for end
    // of file forever.
    let (status, out, err, took, left) = run(
        "try { timeout 300ms { let x = $($H fork child:setsid child:sleep 100 parent:print started) } } catch TimeoutError e { echo timed out }",
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "timed out\n");
    assert!(took < 3.0, "took {took} s");
    assert!(left.is_empty(), "left running: {left:?}");
}

/// LANGUAGE.md section 9: "After a cancellation completes, no process it
/// started is left running." That includes what a command of the
/// cancelled body left behind when it had already finished: a daemon
/// (double fork) and a `setsid` escapee holding a capture open. Today both
/// live on until the script ends (their group had already exited, so the
/// cancellation no longer looks for its token).
#[test]
fn a_cancelled_scope_kills_what_its_finished_commands_left_behind() {
    let r = run_scoped(
        "try { timeout 500ms { $H daemon sleep 100; sleep 10 } } catch TimeoutError e { echo timed out }
         try { timeout 300ms { let x = $($H fork child:setsid child:sleep 100 parent:print started) } } catch TimeoutError e { echo timed out }",
    );
    assert_eq!(r.status, 0, "{}", r.err);
    assert_eq!(r.out, "timed out\ntimed out\n");
    r.assert_nothing_left();
}

/// Stages of one pipeline share a process group; separate commands, tasks
/// and gather branches have groups of their own; none is ash's group.
#[test]
fn every_external_pipeline_runs_in_its_own_process_group() {
    let d = TempDir::new();
    let dir = d.0.display();
    // How many reports each file gets (one per external stage).
    let expect = [
        ("a", 3),
        ("b", 1),
        ("c", 2),
        ("d", 2),
        ("e", 2),
        ("g", 1),
        ("h", 1),
    ];
    let script = format!(
        "cd {dir}
         $H report a | $H report a | $H report a
         $H report b
         let t = spawn {{ $H report c | $H report c }}
         await $t
         echo hi | $H report d | $H report d
         let x = $($H report e | $H report e)
         gather {{ $H report g }} {{ $H report h }}
         read line
         echo $line"
    );
    let token = token();
    let mut child = ash(&script, &token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ash");
    for (f, n) in expect {
        await_reports(&d.0.join(f), n);
    }
    // ash is waiting in `read`: its group and session, while it runs.
    let ash_pid = i64::from(child.id());
    let ash_stat = stat_fields(&child.id().to_string()).expect("ash is running");
    let ash_pgid: i64 = ash_stat[2].parse().expect("pgrp");
    let ash_sid: i64 = ash_stat[3].parse().expect("session");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"go\n").expect("write to ash");
    drop(stdin);
    let (out, _, left) = finish(child, Instant::now(), Duration::from_secs(30), &token);
    assert!(left.is_empty(), "left running: {left:?}");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "go\n");

    let mut pgids = HashMap::new();
    for (f, n) in expect {
        let r = reports(&d.0.join(f));
        assert_eq!(r.len(), n, "{f}: {r:?}");
        let pgid = r[0][1];
        for &[pid, g, sid, ppid] in &r {
            assert_eq!(g, pgid, "stages of pipeline {f} in different groups: {r:?}");
            assert_eq!(ppid, ash_pid, "{f}: not a child of ash: {r:?}");
            assert_eq!(sid, ash_sid, "{f}: another session: {r:?}");
            assert_ne!(pid, ash_pid);
        }
        assert!(
            r.iter().any(|&[pid, ..]| pid == pgid),
            "{f}: the group {pgid} is not led by one of its stages: {r:?}"
        );
        assert_ne!(pgid, ash_pgid, "{f} runs in ash's own process group");
        if let Some(other) = pgids.insert(pgid, f) {
            panic!("{other} and {f} share the process group {pgid}");
        }
    }
    eprintln!(
        "{} pipelines in {} distinct groups, none ash's ({ash_pgid})",
        expect.len(),
        pgids.len()
    );
}

/// Run `setup` in ash, then let it print `sleeping` and sleep 3 s while it
/// still holds the task handles in `ts`; await them after. If `adopted`
/// is given, wait until that many orphans have reported there (with ash
/// as their parent) first. Then, after a 300 ms settle, sample `/proc`
/// every 100 ms during the sleep for children of ash in state Z. Returns
/// (samples, zombie pids seen).
fn zombies_during_sleep(
    setup: &str,
    adopted: Option<(&std::path::Path, usize)>,
) -> (usize, HashSet<String>) {
    let script = format!(
        "let ts = []
         {setup}
         echo sleeping
         sleep 3
         for t in $ts {{ await $t }}
         echo done"
    );
    let token = token();
    let mut child = ash(&script, &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ash");
    let ash_pid = child.id();
    let lines = Lines::new(&mut child);
    let before = lines.until("sleeping", Duration::from_secs(30), &mut child, &token);
    let sleep_started = Instant::now();
    assert_eq!(before, "");
    if let Some((file, n)) = adopted {
        // The orphans report once re-parented, and exit right after.
        let r = await_reports(file, n);
        assert_eq!(r.len(), n, "{r:?}");
        assert!(
            r.iter().all(|&[_, _, _, ppid]| ppid == i64::from(ash_pid)),
            "not adopted by ash: {r:?}"
        );
    }
    // Let ash notice, then sample while it sleeps with the handles held.
    // A child that has just exited is a zombie until ash's loop reaps it,
    // which on a loaded machine can take a few hundred milliseconds; one
    // that is never reaped stays a zombie until the handles are awaited
    // after the sleep. So a zombie counts when it is still one a second
    // after it was first seen.
    std::thread::sleep(Duration::from_millis(300));
    let mut samples = 0;
    let mut first_seen: HashMap<String, Instant> = HashMap::new();
    let mut zombies = HashSet::new();
    while sleep_started.elapsed() < Duration::from_millis(2400) {
        for z in zombie_children(ash_pid) {
            let since = *first_seen.entry(z.clone()).or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(1) {
                zombies.insert(z);
            }
        }
        samples += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "ash ended before the sampling did"
    );
    let rest = lines.until("done", Duration::from_secs(30), &mut child, &token);
    let (out, _, left) = finish(child, Instant::now(), Duration::from_secs(30), &token);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(rest, "");
    assert!(left.is_empty(), "left running: {left:?}");
    assert!(samples >= 5, "only {samples} samples");
    (samples, zombies)
}

/// No zombies while a script runs: its finished children are reaped even
/// though it still holds their task handles (50 tasks of `/bin/true`, 10
/// of a three-stage pipeline, and a `&` job).
#[test]
fn no_zombie_children_while_task_handles_are_held() {
    let (samples, zombies) = zombies_during_sleep(
        "for i in (range(0, 50)) { push(ts, spawn { /bin/true }) }
         for i in (range(0, 10)) { push(ts, spawn { $H print x | $H exit 0 | /bin/true }) }
         /bin/true &",
        None,
    );
    eprintln!(
        "{samples} samples, {} zombie children of ash",
        zombies.len()
    );
    assert!(
        zombies.is_empty(),
        "zombie children of ash during the run: {zombies:?}"
    );
}

/// ash is a child subreaper: descendants that escaped by a double fork are
/// re-parented to it, and when they exit they must be reaped too, while
/// the script runs (here 3 intermediate processes and 4 orphans, exiting
/// 0.2 s after ash started them, while 50 finished tasks are held).
#[test]
fn no_adopted_orphan_is_left_a_zombie() {
    let d = TempDir::new();
    let adopted = d.0.join("adopted");
    // `fork fork daemon`: four processes each fork and exit at once; the
    // four orphans are re-parented to ash, report, and exit 0.2 s later.
    let (samples, zombies) = zombies_during_sleep(
        &format!(
            "for i in (range(0, 50)) {{ push(ts, spawn {{ /bin/true }}) }}
             $H fork fork daemon sleep 0.2 report {} exit 0",
            adopted.display()
        ),
        Some((&adopted, 4)),
    );
    eprintln!(
        "{samples} samples, {} zombie children of ash",
        zombies.len()
    );
    assert!(
        zombies.is_empty(),
        "adopted orphans left zombies during the run: {zombies:?}"
    );
}

/// A captured command that writes megabytes to stderr before its stdout
/// line: the capture returns the line, and the stderr bytes (not captured:
/// they go to ash's stderr) all arrive there. If either stream were left
/// undrained while ash waited on the other, the command would block on a
/// full pipe and ash would hang; the wall-clock limit turns that into a
/// failure.
#[test]
fn a_capture_drains_stdout_and_stderr_concurrently() {
    const MB20: u64 = 20_000_000;
    const MB8: u64 = 8_000_000;
    let script = format!(
        "let x = $($H write 2 {MB20} print ok)
         echo \"got $x\"
         let y = $($H write 2 {MB8} write 1 {MB8} write 2 {MB8} print ok)
         echo (len(y))"
    );
    let token = token();
    let start = Instant::now();
    let child = ash(&script, &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ash");
    let (out, took, left) = finish(child, start, Duration::from_secs(60), &token);
    assert!(left.is_empty(), "left running: {left:?}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        text(&out.stderr[..out.stderr.len().min(2000)])
    );
    assert_eq!(text(&out.stdout), format!("got ok\n{}\n", MB8 + 2));
    let stderr_bytes = out.stderr.len() as u64;
    assert_eq!(stderr_bytes, MB20 + 2 * MB8, "bytes on ash's stderr");
    assert!(
        out.stderr.iter().all(|&b| b == b'x'),
        "stderr holds more than the command's bytes"
    );
    eprintln!(
        "{} MB through stderr and {} MB captured in {took:.2} s",
        stderr_bytes / 1_000_000,
        (MB8 + 2) / 1_000_000
    );
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Read stdout and stderr of `child` concurrently and wait for it to exit
/// (not for its pipes to close: a leftover could hold them open). If it
/// runs past `limit`, kill it and everything carrying `token`, and fail.
/// Returns its output, the seconds from `start` until it exited, and the
/// processes carrying `token` still there up to 2 s after it exited (then
/// killed, which also closes the pipes they held).
fn finish(
    mut child: Child,
    start: Instant,
    limit: Duration,
    token: &str,
) -> (std::process::Output, f64, Vec<String>) {
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let begun = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if begun.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            // Its processes would keep the pipes open.
            kill_all(&leftovers(token));
            panic!("ash did not finish within {limit:?} (a deadlock?)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed().as_secs_f64();
    // The sentinel sweeps just after ash exits (a `/proc` scan, slower on
    // a loaded machine), and the kernel tears processes down: allow 2 s.
    let mut left = leftovers(token);
    let settle = Instant::now();
    while !left.is_empty() && settle.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
        left = leftovers(token);
    }
    kill_all(&left);
    let output = std::process::Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    };
    (output, took, left)
}
