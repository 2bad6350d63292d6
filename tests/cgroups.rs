//! cgroup v2 containment (docs/reliability.md, "What a descendant without
//! a token escapes"): a descendant that clears its environment (`env -i`,
//! so no scope token) and leaves its process group (`setsid`) is still
//! killed by a timeout, a `cancel`, the end of the script, SIGTERM and
//! SIGKILL of ash, because it cannot leave the cgroup ash started it in;
//! and ash leaves no cgroup directory behind.
//!
//! Leftovers are found by a mark in their arguments (`sleep 317.PID.N`),
//! since they carry no token. Where ash cannot use cgroups (no cgroup v2,
//! not writable) the tests are skipped, except under CI (`CI` set), where
//! they fail: CI runs as root with cgroup v2 writable, and a skip there
//! would hide a containment that silently stopped working.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const ASH: &str = env!("CARGO_BIN_EXE_ash");

/// The directory of this process's own cgroup v2 (ash's, as its child).
fn own_cgroup_dir() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = info.lines().find_map(|line| {
        let (head, tail) = line.split_once(" - ")?;
        (tail.split_whitespace().next()? == "cgroup2").then(|| {
            let f: Vec<&str> = head.split_whitespace().collect();
            (f.get(3) == Some(&"/")).then(|| PathBuf::from(f[4]))
        })?
    })?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?.to_string();
    Some(mount.join(path.trim_start_matches('/')))
}

/// Whether ash can contain its programs in cgroups here: a cgroup can be
/// made under this process's own, it has `cgroup.kill`, and this process
/// may move itself. Under CI, not being able to is a failure.
fn cgroups_usable() -> bool {
    let usable = own_cgroup_dir().is_some_and(|home| {
        // A name of its own per call: the tests run on parallel threads of
        // one process, and a shared name made one's probe fail on another's.
        static PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let probe = home.join(format!("ash-test-probe-{}-{n}", std::process::id()));
        let made = std::fs::create_dir(&probe).is_ok();
        let kill = probe.join("cgroup.kill").exists();
        let _ = std::fs::remove_dir(&probe);
        let me = std::process::id().to_string();
        made && kill && std::fs::write(home.join("cgroup.procs"), me).is_ok()
    });
    if !usable {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but ash cannot use cgroup v2 here (not mounted, or not writable): \
             the cgroup containment tests must run in CI"
        );
        eprintln!("skipped: cgroup v2 is not usable here");
    }
    usable
}

/// A mark no other process has: `sleep MARK` is a leftover of this test.
fn mark(n: u32) -> String {
    format!("317.{}{n}", std::process::id())
}

/// The processes with any of `marks`, after giving killed ones up to a
/// second to go; those found are killed (so no test leaves them behind).
fn left(marks: &[String]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let found: Vec<(String, i32)> = marks
            .iter()
            .flat_map(|m| {
                common::processes_with_arg(m)
                    .into_iter()
                    .map(move |p| (m.clone(), p))
            })
            .collect();
        if found.is_empty() || Instant::now() > deadline {
            for (_, pid) in &found {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
            return found
                .into_iter()
                .map(|(m, p)| format!("{p} (sleep {m})"))
                .collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `ash -c script`, stdout piped (line by line), stdin piped.
fn start(script: &str, envs: &[(&str, &str)]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut cmd = Command::new(ASH);
    cmd.arg("-c").arg(script).envs(envs.iter().copied());
    start_command(cmd)
}

/// `cmd` (an ash, or the helper that execs one), stdout piped (line by
/// line), stdin piped.
fn start_command(mut cmd: Command) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ash starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Wait for the line `want` (30 s at most).
fn expect_line(rx: &std::sync::mpsc::Receiver<String>, want: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line == want => return,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("no line {want:?} from ash; stderr: {err}");
            }
        }
    }
}

/// ash's cgroup tree after it exited: gone (given the sentinel up to two
/// seconds, after a SIGKILL).
fn assert_no_cgroup_left(ash_pid: u32) {
    let Some(home) = own_cgroup_dir() else {
        return;
    };
    let tree = home.join(format!("ash-{ash_pid}"));
    let deadline = Instant::now() + Duration::from_secs(2);
    while tree.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!tree.exists(), "{} was left behind", tree.display());
}

/// Escapees that clear their environment, with and without a session of
/// their own, started by a program that goes on running (`sh` waits) or
/// that has finished.
fn escapees(marks: &[String]) -> String {
    format!(
        "sh -c '(env -i sleep {0} &) ; (setsid env -i sleep {1} &) ; sleep 100' > /dev/null",
        marks[0], marks[1]
    )
}

fn finished_escapee(m: &str) -> String {
    format!("sh -c '(setsid env -i sleep {m} &)' > /dev/null")
}

/// Run `scope`, and count the marks left once it ended, while ash still
/// runs (the end of the script would hide a scope that leaked).
fn check_scope(what: &str, scope: &str, marks: &[String]) {
    let script = format!("{scope}\necho SCOPE-ENDED\nread line\necho done");
    let (mut child, rx) = start(&script, &[]);
    expect_line(&rx, "SCOPE-ENDED", &mut child);
    let in_scope = left(marks);
    let _ = child.stdin.take().expect("stdin").write_all(b"go\n");
    let pid = child.id();
    let out = child.wait_with_output().expect("ash ends");
    let after = left(marks);
    assert!(
        in_scope.is_empty() && after.is_empty() && out.status.success(),
        "{what}: left while ash ran: {in_scope:?}, after: {after:?}, status {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_cgroup_left(pid);
}

#[test]
fn a_timeout_kills_escapees_without_a_token() {
    if !cgroups_usable() {
        return;
    }
    let marks = [mark(1), mark(2), mark(3)];
    check_scope(
        "timeout",
        &format!(
            "try {{ timeout 500ms {{ {}\n{}\nsleep 100 }} }} catch TimeoutError e {{ echo timed out }}",
            finished_escapee(&marks[2]),
            escapees(&marks)
        ),
        &marks,
    );
}

#[test]
fn cancel_kills_escapees_without_a_token() {
    if !cgroups_usable() {
        return;
    }
    let marks = [mark(11), mark(12), mark(13)];
    check_scope(
        "cancel",
        &format!(
            "let t = spawn {{ {}\n{} }}\nsleep 0.5\ncancel $t\ntry {{ await $t }} catch CancelledError e {{ echo cancelled }}",
            finished_escapee(&marks[2]),
            escapees(&marks)
        ),
        &marks,
    );
}

#[test]
fn script_end_kills_escapees_without_a_token() {
    if !cgroups_usable() {
        return;
    }
    let marks = [mark(21), mark(22), mark(23)];
    // A background job still running at the end, and a finished command.
    let script = format!(
        "{}\n{} &\nsleep 0.5\necho started",
        finished_escapee(&marks[2]),
        escapees(&marks)
    );
    let out = Command::new(ASH)
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .expect("ash runs");
    // The pid is not known with output(): no tree of any ash may remain
    // that holds a mark, which `left` checks.
    let after = left(&marks);
    assert!(
        after.is_empty() && String::from_utf8_lossy(&out.stdout) == "started\n",
        "left after ash ended: {after:?}; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SIGTERM ends ash (143) and what it started; SIGKILL ends ash at once,
/// and its sentinel kills ash's cgroup tree and removes it.
#[test]
fn sigterm_and_sigkill_of_ash_kill_escapees_without_a_token() {
    if !cgroups_usable() {
        return;
    }
    for (n, sig) in [(31, "TERM"), (41, "KILL")] {
        let marks = [mark(n), mark(n + 1), mark(n + 2)];
        let script = format!(
            "{}\n{} &\nsleep 0.5\necho started\nsleep 100",
            finished_escapee(&marks[2]),
            escapees(&marks)
        );
        let (mut child, rx) = start(&script, &[]);
        expect_line(&rx, "started", &mut child);
        // The escapees are in ash's cgroup tree.
        let pid = child.id();
        let escapee = common::processes_with_arg(&marks[1]);
        let cgroup = escapee
            .first()
            .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/cgroup")).ok())
            .unwrap_or_default();
        assert!(
            cgroup.contains(&format!("/ash-{pid}/c")),
            "SIG{sig}: the escapee is not in ash's cgroup: {cgroup:?}"
        );
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status();
        let status = child.wait().expect("ash ends");
        let after = left(&marks);
        assert!(
            after.is_empty(),
            "SIG{sig}: left after ash ended ({status:?}): {after:?}"
        );
        assert_no_cgroup_left(pid);
    }
}

/// `ASH_NO_CGROUP=1` turns the cgroups off: an escapee without a token then
/// outlives a timeout (until the end of the script), as documented.
#[test]
fn ash_no_cgroup_turns_cgroups_off() {
    if !cgroups_usable() {
        return;
    }
    let m = mark(51);
    let script = format!(
        "try {{ timeout 300ms {{ {}\nsleep 100 }} }} catch TimeoutError e {{ echo timed out }}\necho SCOPE-ENDED\nread line",
        finished_escapee(&m)
    );
    let (mut child, rx) = start(&script, &[("ASH_NO_CGROUP", "1")]);
    expect_line(&rx, "SCOPE-ENDED", &mut child);
    let pid = child.id();
    let in_scope = common::processes_with_arg(&m);
    let tree_made = own_cgroup_dir().is_some_and(|h| h.join(format!("ash-{pid}")).exists());
    let _ = child.stdin.take().expect("stdin").write_all(b"go\n");
    let _ = child.wait();
    let after = left(std::slice::from_ref(&m));
    assert!(!tree_made, "ASH_NO_CGROUP=1 made a cgroup");
    assert_eq!(in_scope.len(), 1, "the escapee should outlive the timeout");
    assert!(after.is_empty(), "left after ash ended: {after:?}");
}

/// The cgroup v2 path (the `0::` line of `/proc/PID/cgroup`) of every
/// thread of process `pid`.
fn thread_cgroups(pid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the process is there")
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
        if let Some(line) = text.lines().find_map(|l| l.strip_prefix("0::")) {
            found.push(line.to_string());
        }
    }
    found
}

/// The pids of the processes with `mark` in their arguments, once there
/// is one (10 s at most: a background job starts when the loop gets to
/// it, which a loaded machine delays).
fn started(mark: &str) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = common::processes_with_arg(mark);
        if !found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The cgroup v2 path of this test process (ash's home, as its child).
fn own_cgroup() -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").expect("/proc/self/cgroup");
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 line")
        .to_string()
}

/// 200 short commands 8 at a time (W4's shape), then a background
/// command that goes on running, and the script waits: the commands are
/// in ash's cgroups, and no thread of ash has ever left its own cgroup.
/// Where `clone3` is available, ash starts each program straight into its
/// group's cgroup: moving itself there instead (all its threads, under the
/// kernel's global cgroup lock) cost W4 a third of its time. Before, ash
/// sat in the cgroup of the last command it started while that one ran.
#[test]
fn ash_starts_programs_in_their_cgroups_without_moving_itself() {
    if !cgroups_usable() || !cfg!(target_arch = "x86_64") {
        return;
    }
    let m = mark(61);
    let script = format!(
        "async fn one(i) {{ /bin/true }}\necho (len(gather -j 8 (map(range(0, 200), one))))\n/bin/sleep {m} &\nsleep 0.3\necho STARTED\nread line"
    );
    let (mut child, rx) = start(&script, &[]);
    expect_line(&rx, "STARTED", &mut child);
    let pid = child.id();
    let job = started(&m);
    let threads = thread_cgroups(pid);
    let job_cgroup = job
        .first()
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/cgroup")).ok())
        .unwrap_or_default();
    let _ = child.stdin.take().expect("stdin").write_all(b"go\n");
    let _ = child.wait();
    let after = left(std::slice::from_ref(&m));
    let home = own_cgroup();
    assert!(
        job_cgroup.contains(&format!("/ash-{pid}/c")),
        "the background command is not in ash's cgroup tree: {job_cgroup:?}"
    );
    assert!(
        !threads.is_empty() && threads.iter().all(|t| *t == home),
        "ash's threads are not all at home ({home}): {threads:?}"
    );
    assert!(after.is_empty(), "left after ash ended: {after:?}");
    assert_no_cgroup_left(pid);
}

/// Where `clone3` is refused (a seccomp profile, as container runtimes'
/// default ones make it fail with ENOSYS), ash moves itself into a
/// group's cgroup to start its programs instead, and containment holds
/// the same: a timeout kills escapees without a token. That it moved is
/// seen while a background command runs: ash sits in that command's
/// cgroup until it starts another or checks that one.
#[test]
fn where_clone3_is_refused_ash_moves_itself_and_still_contains() {
    if !cgroups_usable() || !cfg!(target_arch = "x86_64") {
        return;
    }
    let marks = [mark(71), mark(72), mark(73)];
    let job = mark(74);
    let script = format!(
        "try {{ timeout 500ms {{ {}\n{}\nsleep 100 }} }} catch TimeoutError e {{ echo timed out }}\n/bin/sleep {job} &\nsleep 0.3\necho SCOPE-ENDED\nread line",
        finished_escapee(&marks[2]),
        escapees(&marks)
    );
    let mut cmd = Command::new(common::helper());
    cmd.args(["no-clone3", ASH, "-c", &script]);
    let (mut child, rx) = start_command(cmd);
    expect_line(&rx, "SCOPE-ENDED", &mut child);
    let pid = child.id();
    let in_scope = left(&marks);
    started(&job);
    let threads = thread_cgroups(pid);
    let _ = child.stdin.take().expect("stdin").write_all(b"go\n");
    let status = child.wait().expect("ash ends");
    let after = left(&[job]);
    assert!(
        in_scope.is_empty() && after.is_empty() && status.success(),
        "left after the timeout: {in_scope:?}; after ash ended: {after:?}; status {status:?}"
    );
    assert!(
        !threads.is_empty() && threads.iter().all(|t| t.contains(&format!("/ash-{pid}/c"))),
        "ash did not move itself into the background command's cgroup: {threads:?}"
    );
    assert_no_cgroup_left(pid);
}

/// A cgroup that was killed (`cgroup.kill`) is never given to another
/// group: the kernel SIGKILLs a child started into it with
/// `CLONE_INTO_CGROUP` at once. Here the command after a timeout would
/// get the timed-out command's cgroup (the last one freed) and die of
/// SIGKILL (status 137).
#[test]
fn a_command_after_a_timeout_is_not_born_in_the_killed_cgroup() {
    if !cgroups_usable() {
        return;
    }
    let out = Command::new(ASH)
        .arg("-c")
        .arg(
            "for i in (range(0, 3)) {\n  try { timeout 100ms { /bin/sleep 5 } } catch TimeoutError e { echo timed out }\n  try { /bin/sh -c 'exit 3' } catch e { echo status $status }\n}",
        )
        .stdin(Stdio::null())
        .output()
        .expect("ash runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "timed out\nstatus 3\n".repeat(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ash started in a cgroup that was killed before (its count of kills is
/// not zero: a service manager may start a process in a unit's cgroup it
/// killed): its programs are not killed at birth (see
/// `spawn_into::available`: the probe finds it, and ash moves itself to
/// start them instead), and containment holds.
#[test]
fn ash_started_in_a_killed_cgroup_runs_its_programs() {
    if !cgroups_usable() || !cfg!(target_arch = "x86_64") {
        return;
    }
    let Some(home) = own_cgroup_dir() else {
        return;
    };
    let dir = home.join(format!("ash-test-killed-{}", std::process::id()));
    std::fs::create_dir(&dir).expect("make a cgroup");
    std::fs::write(dir.join("cgroup.kill"), "1").expect("kill the empty cgroup");
    let m = mark(81);
    let script = format!(
        "try {{ /bin/sh -c 'exit 3' }} catch e {{ echo status $status }}\ntry {{ timeout 500ms {{ {}\nsleep 100 }} }} catch TimeoutError e {{ echo timed out }}\necho SCOPE-ENDED\nread line",
        finished_escapee(&m)
    );
    let mut cmd = Command::new(common::helper());
    cmd.arg("enter-cgroup")
        .arg(&dir)
        .args(["exec", ASH, "-c", &script]);
    let (mut child, rx) = start_command(cmd);
    expect_line(&rx, "SCOPE-ENDED", &mut child);
    let in_scope = left(std::slice::from_ref(&m));
    let _ = child.stdin.take().expect("stdin").write_all(b"go\n");
    let out = child.wait_with_output().expect("ash ends");
    // ash's own cgroup below `dir` is removed by its sentinel a few ms
    // after ash ends: until then `dir` is not empty and cannot go.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::remove_dir(&dir).is_err() && dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!dir.exists(), "the test's cgroup {dir:?} is left behind");
    assert!(
        out.status.success() && in_scope.is_empty(),
        "status {:?}, left after the timeout: {in_scope:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
