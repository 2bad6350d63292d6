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
