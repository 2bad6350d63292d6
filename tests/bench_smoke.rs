//! Keeps `bench/run` from rotting: runs the benchmark driver with tiny sizes
//! (`--quick`) against the test build of ash and checks that every workload
//! of issues 6 and 18 produced a row and a goal line. The numbers are not asserted:
//! these are benchmarks, not tests (and a debug build on a shared machine
//! says nothing about speed).

use std::process::Command;

const ASH: &str = env!("CARGO_BIN_EXE_ash");

#[test]
fn bench_driver_runs_every_workload_quickly() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("bench_smoke: skipped: python3 is not installed (bench/run needs it)");
        return;
    }
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/run");
    let out = Command::new("python3")
        .arg(driver)
        .arg("--quick")
        .arg("--ash")
        .arg(ASH)
        .output()
        .expect("run bench/run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench/run --quick failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for w in 1..=14 {
        let id = format!("W{w}");
        let has_row = stdout.lines().any(|l| {
            let mut f = l.split_whitespace();
            f.next() == Some(&id) && f.next() == Some("ash")
        });
        assert!(
            has_row,
            "no ash row for {id}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        let has_goal = stdout
            .lines()
            .any(|l| l.starts_with(&format!("{id:4} goal:")));
        assert!(has_goal, "no goal line for {id}\nstdout:\n{stdout}");
    }
}
