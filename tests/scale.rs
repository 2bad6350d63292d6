//! Concurrency at scale, with generous bounds (these machines are shared):
//! many tasks on the timer, many processes through admission control.

use std::process::Command;

const ASH: &str = env!("CARGO_BIN_EXE_ash");

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
    // RLIMIT_NPROC does not apply to root, so this runs ash as `nobody`.
    let have = |p: &str| std::path::Path::new(p).exists();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root || !have("/usr/bin/setpriv") || !have("/bin/bash") {
        eprintln!("skipped: needs root, setpriv and bash to run ash as an unprivileged user");
        return;
    }
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
