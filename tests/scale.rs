//! Concurrency at scale, with generous bounds (these machines are shared):
//! many tasks on the timer, many processes through admission control.

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const ASH: &str = env!("CARGO_BIN_EXE_ash");

/// The tests that run ash as `nobody` under `ulimit -u` take turns: the
/// limit counts every process of the user, so they would eat into each
/// other's.
static AS_NOBODY: Mutex<()> = Mutex::new(());

/// RLIMIT_NPROC does not apply to root, so these tests run ash as `nobody`
/// (which needs root, setpriv and bash).
fn can_run_as_nobody() -> bool {
    let have = |p: &str| std::path::Path::new(p).exists();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root || !have("/usr/bin/setpriv") || !have("/bin/bash") {
        eprintln!("skipped: needs root, setpriv and bash to run ash as an unprivileged user");
        return false;
    }
    true
}

fn ash(script: &str, ulimit_n: Option<u32>) -> (i32, String, String) {
    let mut cmd = match ulimit_n {
        // The limit is set by sh for ash only; exec keeps the same process.
        Some(n) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("ulimit -n {n} && exec \"$0\" -c \"$1\""))
                .arg(ASH)
                .arg(script);
            c
        }
        None => {
            let mut c = Command::new(ASH);
            c.arg("-c").arg(script);
            c
        }
    };
    let out = cmd.output().expect("run ash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ten_thousand_tasks_sleep_concurrently() {
    let (status, out, err) = ash(
        "let t0 = now()
         let tasks = []
         for i in (range(0, 10000)) { push(tasks, spawn { sleep 1 }) }
         gather $tasks
         echo (now() - t0)",
        None,
    );
    assert_eq!(status, 0, "{err}");
    let took: f64 = out.trim().parse().expect("seconds");
    assert!(
        (1.0..2.0).contains(&took),
        "10,000 one-second sleeps took {took} s"
    );
}

#[test]
fn ten_thousand_processes_under_a_small_fd_limit() {
    let (status, out, err) = ash(
        "async fn one(i) { /bin/true; return i }
         let r = gather (map(range(0, 10000), one))
         echo (len(r)) (r[9999])",
        Some(1024),
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "10000 9999\n");
}

#[test]
fn a_busy_loop_does_not_starve_timers() {
    let (status, out, err) = ash(
        "let t0 = now()
         try { timeout 200ms { while (true) { } } } catch TimeoutError e { echo (now() - t0) }",
        None,
    );
    assert_eq!(status, 0, "{err}");
    let took: f64 = out.trim().parse().expect("seconds");
    assert!(
        (0.19..1.0).contains(&took),
        "the timeout fired after {took} s"
    );
}

#[test]
fn thousands_of_concurrent_captures_under_a_small_fd_limit() {
    // Each capture holds a pipe: past the fd limit they wait and retry.
    let (status, out, err) = ash(
        "async fn one(i) { return $(/bin/echo $i) }
         let r = gather (map(range(0, 3000), one))
         echo (len(r)) ${r[2999]}",
        Some(256),
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, "3000 2999\n");
}

#[test]
fn a_process_limit_is_waited_out_then_named() {
    if !can_run_as_nobody() {
        return;
    }
    let _turn = AS_NOBODY.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("ash-nproc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _ = Command::new("chmod").arg("777").arg(&dir).status();
    // 20 one-second commands under room for fewer: they wait for a slot.
    // 15 six-second ones: those that cannot start in time fail, naming it.
    let script = "async fn one(i) { /bin/sleep 1 }
                  gather (map(range(0, 20), one))
                  echo waited
                  async fn long(i) { /bin/sleep 6 }
                  try { gather (map(range(0, 15), long)) } catch e { echo ${e.message} }";
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(["/bin/bash", "-c", "ulimit -u 16 && exec \"$0\" -c \"$1\""])
        .arg(ASH)
        .arg(script)
        .current_dir(&dir)
        .output()
        .expect("run ash as nobody");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.starts_with("waited\n"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains("the limit on processes (ulimit -u) was reached"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
}

/// How one run of ash as `nobody` under `ulimit -u` ended.
struct Run {
    /// `None`: killed at the deadline (a hang).
    status: Option<std::process::ExitStatus>,
    secs: f64,
    stdout: String,
    stderr: String,
}

/// `ash -c SCRIPT` as `nobody` with `ulimit -u LIMIT`, in `dir`; killed
/// after `deadline`. Output goes to files, so nothing waits on a full pipe.
fn as_nobody_with_nproc(
    limit: u32,
    script: &str,
    dir: &std::path::Path,
    deadline: Duration,
) -> Run {
    use std::process::Stdio;
    let out = std::fs::File::create(dir.join("stdout")).expect("stdout file");
    let err = std::fs::File::create(dir.join("stderr")).expect("stderr file");
    let t0 = Instant::now();
    let mut child = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args([
            "/bin/bash",
            "-c",
            &format!("ulimit -u {limit} && exec \"$0\" -c \"$1\""),
        ])
        .arg(ASH)
        .arg(script)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("run ash as nobody");
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for ash") {
            break Some(s);
        }
        if t0.elapsed() > deadline {
            // setpriv and bash exec'd: this pid is ash.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    Run {
        status,
        secs: t0.elapsed().as_secs_f64(),
        stdout: read("stdout"),
        stderr: read("stderr"),
    }
}

#[test]
fn a_process_limit_too_tight_for_ashs_own_threads_is_named_not_hung() {
    // ash needs the main thread, async-io's helper thread and, when it can
    // have it, a big-stack thread; a redirection or a glob used smol's
    // blocking pool, which spun forever when it could not start a thread.
    // Under ulimit -u 1 to 4 every run must end on its own, not by a
    // signal, with either the right output or an error naming the limit.
    use std::os::unix::process::ExitStatusExt;
    if !can_run_as_nobody() {
        return;
    }
    let _turn = AS_NOBODY.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("ash-nproc-tight-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _ = Command::new("chmod").arg("777").arg(&dir).status();
    let cases = [
        ("echo hi; /bin/true; echo done", "hi\ndone\n"),
        (
            "echo hi > made.txt; echo *.txt; echo done",
            "made.txt\ndone\n",
        ),
        ("let x = $(/bin/echo captured); echo $x", "captured\n"),
    ];
    let mut report = Vec::new();
    for limit in 1..=4 {
        for (script, expected) in cases {
            let _ = std::fs::remove_file(dir.join("made.txt"));
            let run = as_nobody_with_nproc(limit, script, &dir, Duration::from_secs(30));
            let named = run.stderr.contains("the limit on processes (ulimit -u)");
            let verdict = match run.status {
                None => "HUNG (killed after 30 s)".to_string(),
                Some(s) if s.signal().is_some() => format!("killed by signal {:?}", s.signal()),
                Some(_) if run.stderr.contains("panicked") => "panicked".to_string(),
                Some(s) if s.code() == Some(0) && run.stdout == expected => "ok".to_string(),
                Some(s) if s.code() != Some(0) && named => "named the limit".to_string(),
                Some(s) => format!("wrong result (status {:?})", s.code()),
            };
            report.push(format!(
                "ulimit -u {limit}: {script:?}: {verdict} in {:.2} s\n  stdout: {:?}\n  stderr: {:?}",
                run.secs, run.stdout, run.stderr
            ));
            let good = verdict == "ok" || verdict == "named the limit";
            assert!(good, "{}", report.join("\n"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{}", report.join("\n"));
}
