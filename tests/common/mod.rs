//! Helpers shared by the integration tests: temporary directories,
//! leftover processes found by a token in their environment (never by
//! name), and the test helper program (`tests/helper/ash_test_helper.rs`).

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A token unique to this test process and call.
pub fn token() -> String {
    format!(
        "ash-containment-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Live (non-zombie) processes whose environment holds `ASH_TEST_TOKEN=token`.
pub fn leftovers(token: &str) -> Vec<String> {
    let needle = format!("ASH_TEST_TOKEN={token}");
    let mut found = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()) {
            continue;
        }
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_string));
        if state.as_deref() != Some("Z") {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            ));
        }
    }
    found
}

/// SIGKILL what `leftovers` found (so a failing test does not leak).
pub fn kill_all(left: &[String]) {
    for p in left {
        if let Some(pid) = p.split(':').next() {
            let _ = std::process::Command::new("kill")
                .args(["-9", pid])
                .status();
        }
    }
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A fresh empty directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "ash-test-{}-{}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The test helper program (see the header of
/// `tests/helper/ash_test_helper.rs` for its actions), compiled on first
/// use in each test binary.
pub fn helper() -> &'static str {
    static HELPER: OnceLock<String> = OnceLock::new();
    HELPER.get_or_init(|| {
        let bin = build_helper();
        bin.to_str().expect("a UTF-8 target directory").to_string()
    })
}

/// Compile `tests/helper/ash_test_helper.rs` with `rustc` (from `PATH`, or
/// `$RUSTC` if that fails) into `CARGO_TARGET_TMPDIR`, unless the binary
/// there is newer than the source. The binary is written under a temporary
/// name and renamed into place, so test binaries running at the same time
/// never see (or run) a half-written file.
fn build_helper() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helper/ash_test_helper.rs");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let bin = dir.join("ash_test_helper");
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let src_time = modified(&src).expect("tests/helper/ash_test_helper.rs exists");
    if modified(&bin).is_some_and(|t| t > src_time) {
        return bin;
    }
    fs::create_dir_all(dir).expect("create CARGO_TARGET_TMPDIR");
    let tmp = dir.join(format!(
        "ash_test_helper.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let compile = |rustc: &std::ffi::OsStr| {
        Command::new(rustc)
            .args([
                "--edition",
                "2024",
                "-C",
                "opt-level=1",
                "-C",
                "debuginfo=0",
            ])
            .arg("-o")
            .arg(&tmp)
            .arg(&src)
            .output()
    };
    let out = match compile("rustc".as_ref()) {
        Ok(out) => out,
        Err(e) => match std::env::var_os("RUSTC") {
            Some(rustc) => compile(&rustc).expect("run $RUSTC"),
            None => panic!("cannot run rustc to build the test helper: {e}"),
        },
    };
    assert!(
        out.status.success(),
        "building the test helper failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::rename(&tmp, &bin).expect("move the test helper into place");
    bin
}

/// Fields of `/proc/PID/stat` after the command name, split on spaces:
/// `[state, ppid, pgrp, session, ...]`. `None` if the process is gone.
pub fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Children of `ppid` that are zombies (exited, not yet reaped), as
/// `PID (COMM)`.
pub fn zombie_children(ppid: u32) -> Vec<String> {
    let ppid = ppid.to_string();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| stat_fields(pid).is_some_and(|f| f.len() > 1 && f[0] == "Z" && f[1] == ppid))
        .map(|pid| {
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            format!("{pid} ({})", comm.trim_end())
        })
        .collect()
}

/// How a command run by [`output_within`] ended.
pub struct Finished {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From spawning to exit.
    pub took: std::time::Duration,
}

/// Run `cmd` with stdin from /dev/null, reading its stdout and stderr as
/// they come (so a chatty child never blocks on a full pipe); kill it and
/// panic naming `what` if it has not finished within `deadline`.
pub fn output_within(
    cmd: &mut std::process::Command,
    deadline: std::time::Duration,
    what: &str,
) -> Finished {
    use std::io::Read;
    use std::process::Stdio;
    let start = std::time::Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ash");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st.code();
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {deadline:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let took = start.elapsed();
    Finished {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
        took,
    }
}

/// A fixed-seed SplitMix64: deterministic pseudo-random test inputs
/// without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The pids of live processes (not zombies) with `arg` among their
/// command-line arguments.
pub fn processes_with_arg(arg: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let live = stat_fields(&pid.to_string()).is_some_and(|f| f[0] != "Z");
        if live && cmdline.split(|&b| b == 0).any(|a| a == arg.as_bytes()) {
            found.push(pid);
        }
    }
    found
}
