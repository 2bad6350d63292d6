#![allow(clippy::unwrap_used)]

use super::*;
use async_io::Timer;
use smol::LocalExecutor;
use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Run `f` on its own thread and fail if it takes longer than `secs`: a test
/// that blocks the loop thread must fail, not hang.
fn with_deadline<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("test did not finish within {secs} s"),
    }
}

fn block_on<T: Send + 'static, F: Future<Output = T> + 'static>(
    secs: u64,
    f: impl FnOnce() -> F + Send + 'static,
) -> T {
    with_deadline(secs, move || smol::block_on(f()))
}

fn resolve(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH");
    find_program(
        OsStr::new(name),
        path.as_deref(),
        &std::env::current_dir().unwrap(),
    )
    .unwrap_or_else(|| panic!("{name} not found on PATH"))
}

fn cmd_os(argv: Vec<OsString>) -> ExternalCmd {
    let program = resolve(argv[0].to_str().unwrap());
    ExternalCmd {
        argv,
        program,
        env: None,
        cwd: None,
        stdin: Stdio::Null,
        stdout: Stdio::Inherit,
        stderr: Stdio::Inherit,
    }
}

fn cmd(argv: &[&str]) -> ExternalCmd {
    cmd_os(argv.iter().map(OsString::from).collect())
}

fn never() -> impl Future<Output = Duration> {
    std::future::pending()
}

fn fd(fd: OwnedFd) -> Stdio {
    Stdio::Fd(Rc::new(fd))
}

/// A fresh empty directory, removed with all it holds when the guard is
/// dropped (also when the test fails), so `cargo test` leaves nothing in
/// the temporary directory.
fn temp_dir() -> Scratch {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ash-process-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file holding `bytes`, opened as ash opens a redirected file (`read`
/// shares it with the commands it runs), and the guard of its directory:
/// keep the guard bound while the test runs.
async fn shared_file_source(bytes: &[u8]) -> (Scratch, InSource) {
    let dir = temp_dir();
    let path = dir.join("in");
    std::fs::write(&path, bytes).unwrap();
    let src = InSource::shared(open_file(path, OpenMode::Read).await.unwrap());
    (dir, src)
}

/// Run one command with stdout captured; (exit info, stdout).
async fn capture(mut c: ExternalCmd) -> (ExitInfo, Vec<u8>) {
    let (r, w) = pipe().unwrap();
    c.stdout = fd(w);
    let mut g = Group::new();
    g.spawn(c).await.unwrap();
    // Reading to EOF before waiting also checks that ash kept no write end.
    let out = read_to_end(r).await.unwrap();
    let exits = g.wait(never()).await.unwrap();
    assert_eq!(exits.len(), 1);
    (exits[0], out)
}

/// Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, ...].
fn proc_stat(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().map(String::from).collect())
}

/// Wait (up to 5 s) until `pid` is gone or a zombie.
fn assert_dies(pid: i32) {
    let start = Instant::now();
    loop {
        match proc_stat(pid) {
            None => return,
            Some(f) if f[0] == "Z" || f[0] == "X" => return,
            Some(f) => {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "process {pid} still alive: state {}",
                    f[0]
                );
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn echo_into_pipe_exact_bytes() {
    block_on(20, || async {
        let (exit, out) = capture(cmd(&["echo", "hello", "world"])).await;
        assert_eq!(
            exit,
            ExitInfo {
                code: 0,
                signal: None
            }
        );
        assert_eq!(out, b"hello world\n");
    });
}

#[test]
fn pipeline_shares_one_process_group() {
    block_on(20, || async {
        let (r1, w1) = pipe().unwrap();
        let (r2, w2) = pipe().unwrap();
        let mut g = Group::new();
        let mut a = cmd(&["printf", "abc"]);
        a.stdout = fd(w1);
        g.spawn(a).await.unwrap();
        let mut b = cmd(&["tr", "a-z", "A-Z"]);
        b.stdin = fd(r1);
        b.stdout = fd(w2);
        g.spawn(b).await.unwrap();

        let pgid = g.pgid().unwrap();
        let pids = g.pids();
        assert_eq!(pids.len(), 2);
        assert_eq!(pgid, pids[0], "the first process leads the group");
        let own = rustix::process::getpgrp().as_raw_nonzero().get();
        assert_ne!(pgid, own);
        // Not reaped before wait, so /proc still has them (maybe as zombies).
        for pid in &pids {
            let stat = proc_stat(*pid).unwrap();
            assert_eq!(stat[2], pgid.to_string(), "pgrp of {pid}");
        }
        let out = read_to_end(r2).await.unwrap();
        let exits = g.wait(never()).await.unwrap();
        assert_eq!(out, b"ABC");
        assert!(exits.iter().all(|e| e.code == 0), "{exits:?}");
    });
}

#[test]
fn exit_codes() {
    block_on(20, || async {
        for code in [0, 1, 3] {
            let mut g = Group::new();
            g.spawn(cmd(&["sh", "-c", &format!("exit {code}")]))
                .await
                .unwrap();
            let exits = g.wait(never()).await.unwrap();
            assert_eq!(exits, vec![ExitInfo { code, signal: None }]);
        }
    });
}

#[test]
fn signal_death_is_128_plus_n() {
    block_on(20, || async {
        for (sig, code) in [("KILL", 137), ("TERM", 143)] {
            let mut g = Group::new();
            g.spawn(cmd(&["sh", "-c", &format!("kill -{sig} $$")]))
                .await
                .unwrap();
            let exits = g.wait(never()).await.unwrap();
            assert_eq!(exits[0].code, code);
            assert_eq!(exits[0].signal, Some(code - 128));
        }
    });
}

#[test]
fn not_found_and_not_executable() {
    block_on(20, || async {
        let path = std::env::var_os("PATH");
        assert!(
            find_program(
                OsStr::new("no-such-cmd-ash-xyz"),
                path.as_deref(),
                Path::new("/")
            )
            .is_none()
        );

        let mut c = cmd(&["true"]);
        c.argv = vec!["no-such-cmd-ash-xyz".into()];
        c.program = PathBuf::from("/nonexistent-dir/no-such-cmd-ash-xyz");
        let mut g = Group::new();
        let err = g.spawn(c).await.unwrap_err();
        assert!(matches!(err, SpawnError::NotFound(_)), "{err:?}");
        assert_eq!(err.status(), 127);
        assert_eq!(err.message(), "command not found: no-such-cmd-ash-xyz");
        assert_eq!(g.pgid(), None);

        let dir = temp_dir();
        let script = dir.join("x");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut c = cmd(&["true"]);
        c.argv = vec!["./x".into()];
        c.program = script;
        let err = g.spawn(c).await.unwrap_err();
        assert!(matches!(err, SpawnError::NotExecutable(..)), "{err:?}");
        assert_eq!(err.status(), 126);
        assert_eq!(err.message(), "./x: permission denied");
        let _ = std::fs::remove_dir_all(dir);
    });
}

#[test]
fn nul_byte_in_argument_is_an_error() {
    block_on(20, || async {
        let mut g = Group::new();
        let err = g
            .spawn(cmd_os(vec![
                "echo".into(),
                OsString::from_vec(b"a\0b".to_vec()),
            ]))
            .await
            .unwrap_err();
        assert!(matches!(err, SpawnError::Io(_)), "{err:?}");
        assert!(err.message().contains("NUL byte"), "{}", err.message());

        let mut c = cmd(&["true"]);
        c.env = Some(vec![("A".into(), OsString::from_vec(b"\0".to_vec()))]);
        let err = g.spawn(c).await.unwrap_err();
        assert!(err.message().contains("NUL byte"), "{}", err.message());
    });
}

#[test]
fn non_utf8_bytes_round_trip() {
    block_on(20, || async {
        let bytes = OsString::from_vec(vec![0x80, 0xff]);
        let (exit, out) = capture(cmd_os(vec!["printf".into(), "%s".into(), bytes])).await;
        assert_eq!(exit.code, 0);
        assert_eq!(out, [0x80, 0xff]);

        // ...and in the environment and the working directory.
        let scratch = temp_dir();
        let dir = scratch.join(OsStr::from_bytes(b"d\xfe"));
        std::fs::create_dir(&dir).unwrap();
        let mut c = cmd(&["sh", "-c", "printf %s \"$X\"; pwd"]);
        c.env = Some(vec![("X".into(), OsString::from_vec(vec![0xc3, 0x28]))]);
        c.cwd = Some(dir.clone());
        let (exit, out) = capture(c).await;
        assert_eq!(exit.code, 0);
        let mut expected = vec![0xc3, 0x28];
        expected.extend_from_slice(dir.as_os_str().as_bytes());
        expected.push(b'\n');
        assert_eq!(out, expected);
    });
}

#[test]
fn env_is_exactly_what_is_given() {
    block_on(20, || async {
        let mut c = cmd(&["env"]);
        c.env = Some(vec![("A".into(), "1".into())]);
        let (_, out) = capture(c).await;
        // Plus the scope token every child gets (see `contain`).
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(lines[0], "A=1");
        assert!(lines[1].starts_with("ASH_SCOPE="), "{out}");
    });
}

#[test]
fn cancel_kills_sleep() {
    block_on(20, || async {
        let mut g = Group::new();
        g.spawn(cmd(&["sleep", "100"])).await.unwrap();
        let pid = g.pids()[0];
        let start = Instant::now();
        let r = g
            .wait(async {
                Timer::after(Duration::from_millis(100)).await;
                Duration::from_secs(5)
            })
            .await;
        assert_eq!(r, Err(Cancelled));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(100));
        assert!(
            took < Duration::from_secs(4),
            "SIGTERM should end sleep at once: {took:?}"
        );
        assert!(proc_stat(pid).is_none(), "reaped");
    });
}

#[test]
fn term_ignoring_child_is_killed_after_grace() {
    block_on(20, || async {
        let mut g = Group::new();
        g.spawn(cmd(&["sh", "-c", "trap '' TERM; sleep 100"]))
            .await
            .unwrap();
        let start = Instant::now();
        let r = g
            .wait(async {
                Timer::after(Duration::from_millis(100)).await;
                Duration::from_millis(200)
            })
            .await;
        assert_eq!(r, Err(Cancelled));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "grace not honoured: {took:?}"
        );
        assert!(took < Duration::from_secs(5), "{took:?}");
    });
}

/// Start `script` (which prints a pid first), return the group and that pid.
async fn start_printing_pid(script: &str) -> (Group, i32) {
    let (r, w) = pipe().unwrap();
    let mut c = cmd(&["sh", "-c", script]);
    c.stdout = fd(w);
    let mut g = Group::new();
    g.spawn(c).await.unwrap();
    let src = InSource::exclusive(r);
    let line = src.read_line().await.unwrap().unwrap();
    let pid: i32 = String::from_utf8(line.to_vec())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(proc_stat(pid).is_some());
    (g, pid)
}

#[test]
fn cancel_kills_grandchildren() {
    block_on(20, || async {
        let (mut g, grandchild) = start_printing_pid("sleep 100 & echo $!; wait").await;
        let r = g.wait(async { Duration::from_secs(2) }).await;
        assert_eq!(r, Err(Cancelled));
        assert_dies(grandchild);
    });
}

#[test]
fn term_ignoring_grandchild_is_killed_after_grace() {
    block_on(20, || async {
        // The direct child dies of SIGTERM; the grandchild ignores it. The
        // grandchild prints its pid only once its trap is set (printing
        // `$!` from the parent raced with the trap).
        let (mut g, grandchild) =
            start_printing_pid("sh -c 'trap \"\" TERM; echo $$; exec sleep 100' & wait").await;
        let start = Instant::now();
        let r = g.wait(async { Duration::from_millis(300) }).await;
        assert_eq!(r, Err(Cancelled));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(250),
            "grace not given to the group: {took:?}"
        );
        assert_dies(grandchild);
    });
}

#[test]
fn zero_grace_kills_at_once() {
    block_on(20, || async {
        let mut g = Group::new();
        g.spawn(cmd(&["sh", "-c", "trap '' TERM; sleep 100"]))
            .await
            .unwrap();
        let r = g.wait(async { Duration::ZERO }).await;
        assert_eq!(r, Err(Cancelled));
    });
}

#[test]
fn signal_reaches_the_group() {
    block_on(20, || async {
        let mut g = Group::new();
        g.spawn(cmd(&["sleep", "100"])).await.unwrap();
        g.signal(rustix::process::Signal::INT);
        let exits = g.wait(never()).await.unwrap();
        assert_eq!(exits[0].code, 130);
        // All reaped: a no-op now.
        g.signal(rustix::process::Signal::INT);
        Group::new().signal(rustix::process::Signal::INT);
    });
}

#[test]
fn dropping_a_group_kills_and_reaps() {
    block_on(20, || async {
        let mut g = Group::new();
        g.spawn(cmd(&["sleep", "100"])).await.unwrap();
        let pid = g.pids()[0];
        drop(g);
        // Reaped on the blocking pool: gone, not a zombie.
        let start = Instant::now();
        while proc_stat(pid).is_some() {
            assert!(start.elapsed() < Duration::from_secs(5), "not reaped");
            Timer::after(Duration::from_millis(10)).await;
        }
    });
}

fn outsink_does_not_block_loop(poll_path: bool) {
    with_deadline(30, move || {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let (r, w) = pipe().unwrap();
            let start = Instant::now();
            let timer = ex.spawn(async move {
                Timer::after(Duration::from_millis(50)).await;
                start.elapsed()
            });
            let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
            let expected = data.clone();
            let writer = ex.spawn(async move {
                let sink = OutSink::from_fd(w);
                if poll_path {
                    sink.disable_nowait();
                }
                sink.write_all(&data).await
            });
            // Nobody reads until the timer fired.
            let fired = timer.await;
            assert!(fired < Duration::from_secs(2), "timer delayed: {fired:?}");
            let got = read_to_end(r).await.unwrap();
            writer.await.unwrap();
            assert!(got == expected, "got {} bytes", got.len());
        }));
    });
}

#[test]
fn outsink_write_all_does_not_block_loop_nowait() {
    outsink_does_not_block_loop(false);
}

#[test]
fn outsink_write_all_does_not_block_loop_poll() {
    outsink_does_not_block_loop(true);
}

#[test]
fn outsink_try_write_all_and_broken_pipe() {
    block_on(20, || async {
        let (r, w) = pipe().unwrap();
        let sink = OutSink::from_fd(w);
        // Fills the pipe, then stops without waiting.
        let big = vec![b'y'; 1 << 20];
        let n = sink.try_write_all(&big).unwrap();
        assert!(n > 0 && n < big.len(), "{n}");
        assert_eq!(sink.try_write_all(b"z").unwrap(), 0);
        drop(r);
        let err = sink.write_all(b"z").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn outsink_to_regular_file() {
    block_on(20, || async {
        let dir = temp_dir();
        let path = dir.join("out");
        let f = open_file(path.clone(), OpenMode::Write).await.unwrap();
        let sink = OutSink::from_fd(f);
        sink.write_all(b"x").await.unwrap();
        assert_eq!(sink.try_write_all(b"yz").unwrap(), 2);
        drop(sink);
        let f = open_file(path.clone(), OpenMode::Append).await.unwrap();
        OutSink::from_fd(f).write_all(b"!").await.unwrap();
        let f = open_file(path.clone(), OpenMode::Read).await.unwrap();
        assert_eq!(read_to_end(f).await.unwrap(), b"xyz!");
        assert!(
            open_file(dir.join("missing"), OpenMode::Read)
                .await
                .is_err()
        );
        let _ = std::fs::remove_dir_all(dir);
    });
}

/// `read` takes one line from a shared pipe and leaves the rest for a child.
fn shared_source_leaves_rest(poll_path: bool) {
    block_on(20, move || async move {
        let (r, w) = pipe().unwrap();
        rustix::io::write(&w, b"line1\nline2\nrest\n").unwrap();
        drop(w);
        let src = InSource::shared(r);
        if poll_path {
            src.disable_nowait();
        }
        assert_eq!(src.read_line().await.unwrap().unwrap().as_bytes(), b"line1");
        if !poll_path {
            assert!(src.uses_nowait(), "RWF_NOWAIT unsupported on pipes here");
        }
        let mut c = cmd(&["cat"]);
        c.stdin = src.stdio().unwrap();
        let (_, out) = capture(c).await;
        assert_eq!(out, b"line2\nrest\n");
    });
}

#[test]
fn shared_pipe_source_reads_bytewise_nowait() {
    shared_source_leaves_rest(false);
}

#[test]
fn shared_pipe_source_reads_bytewise_poll() {
    shared_source_leaves_rest(true);
}

#[test]
fn shared_file_source_seeks_back() {
    block_on(20, || async {
        let (_dir, src) = shared_file_source(b"a\nb\nc").await;
        assert_eq!(src.read_line().await.unwrap().unwrap().as_bytes(), b"a");
        let mut c = cmd(&["cat"]);
        c.stdin = src.stdio().unwrap();
        let (_, out) = capture(c).await;
        assert_eq!(out, b"b\nc");
        assert_eq!(src.read_line().await.unwrap(), None);
    });
}

/// A `read` waiting for the rest of its line keeps it: another reader's
/// fast path (`try_read_line`) does not take the bytes it has buffered nor
/// the line it waits for, and a `read` that was cancelled lets the fast
/// path go again.
#[test]
fn a_waiting_read_keeps_its_line_from_the_fast_path() {
    block_on(20, || async {
        let (r, w) = pipe().unwrap();
        let src = InSource::shared(r);
        rustix::io::write(&w, b"ab").unwrap();
        let mut waiting = Box::pin(src.read_line());
        assert!(
            futures_lite::future::poll_once(&mut waiting)
                .await
                .is_none()
        );
        rustix::io::write(&w, b"c\nd\n").unwrap();
        assert!(
            src.try_read_line().is_none(),
            "the fast path took a waiting read's line"
        );
        assert_eq!(waiting.await.unwrap().unwrap().as_bytes(), b"abc");
        assert_eq!(
            src.try_read_line().unwrap().unwrap().unwrap().as_bytes(),
            b"d"
        );
        let mut cancelled = Box::pin(src.read_line());
        assert!(
            futures_lite::future::poll_once(&mut cancelled)
                .await
                .is_none()
        );
        drop(cancelled);
        rustix::io::write(&w, b"e\n").unwrap();
        assert_eq!(
            src.try_read_line().unwrap().unwrap().unwrap().as_bytes(),
            b"e"
        );
    });
}

#[test]
fn exclusive_source_lines_and_eof() {
    block_on(20, || async {
        let (r, w) = pipe().unwrap();
        let src = InSource::exclusive(r);
        let sink = OutSink::from_fd(w);
        let writer = async move {
            sink.write_all(b"one\n").await.unwrap();
            Timer::after(Duration::from_millis(20)).await;
            sink.write_all(b"tw").await.unwrap();
            Timer::after(Duration::from_millis(20)).await;
            sink.write_all(b"o\n\nlast").await.unwrap();
        };
        let reader = async {
            assert_eq!(src.read_line().await.unwrap().unwrap().as_bytes(), b"one");
            assert_eq!(src.read_line().await.unwrap().unwrap().as_bytes(), b"two");
            assert_eq!(src.read_line().await.unwrap().unwrap().as_bytes(), b"");
            assert_eq!(src.read_line().await.unwrap().unwrap().as_bytes(), b"last");
            assert_eq!(src.read_line().await.unwrap(), None);
        };
        futures_lite::future::zip(writer, reader).await;
    });
}

#[test]
fn read_to_end_10_mib_exact() {
    block_on(30, || async {
        let (r, w) = pipe().unwrap();
        let data: Vec<u8> = (0..10 << 20).map(|i: u32| (i % 253) as u8).collect();
        let expected = data.clone();
        let writer = async move { OutSink::from_fd(w).write_all(&data).await };
        let (written, got) = futures_lite::future::zip(writer, read_to_end(r)).await;
        written.unwrap();
        let got = got.unwrap();
        assert!(got == expected, "got {} bytes", got.len());

        let (exit, out) = capture(cmd(&["head", "-c", "10485760", "/dev/zero"])).await;
        assert_eq!(exit.code, 0);
        assert_eq!(out.len(), 10 << 20);
        assert!(out.iter().all(|&b| b == 0));
    });
}

#[test]
fn find_program_cases() {
    let path = std::env::var_os("PATH");
    let sh = find_program(OsStr::new("sh"), path.as_deref(), Path::new("/")).unwrap();
    assert!(sh.is_absolute() && sh.ends_with("sh"), "{sh:?}");
    // PATH unset: the default search path, as other shells do.
    let default = find_program(OsStr::new("sh"), None, Path::new("/")).unwrap();
    assert!(
        default.starts_with("/usr/") || default.starts_with("/bin/"),
        "{default:?}"
    );
    assert!(
        find_program(
            OsStr::new("sh"),
            Some(OsStr::new("/nonexistent")),
            Path::new("/")
        )
        .is_none()
    );
    assert!(
        find_program(
            OsStr::new("no-such-cmd-ash-xyz"),
            path.as_deref(),
            Path::new("/")
        )
        .is_none()
    );
    assert!(find_program(OsStr::new(""), path.as_deref(), Path::new("/")).is_none());

    let dir = temp_dir();
    let x = dir.join("x");
    std::fs::write(&x, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&x, std::fs::Permissions::from_mode(0o755)).unwrap();
    let y = dir.join("y");
    std::fs::write(&y, "").unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::set_permissions(dir.join("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();

    assert_eq!(
        find_program(OsStr::new("./x"), None, &dir),
        Some(dir.join("./x"))
    );
    assert!(find_program(OsStr::new("./x"), None, Path::new("/")).is_none());
    assert!(
        find_program(OsStr::new("./y"), None, &dir).is_none(),
        "not executable"
    );
    assert!(
        find_program(OsStr::new("./sub"), None, &dir).is_none(),
        "a directory"
    );
    // PATH search: relative and empty entries are relative to cwd.
    assert_eq!(
        find_program(OsStr::new("x"), Some(OsStr::new("/nonexistent:.")), &dir),
        Some(dir.join(".").join("x"))
    );
    assert_eq!(
        find_program(OsStr::new("x"), Some(OsStr::new(":")), &dir),
        Some(dir.join("x"))
    );
    assert!(find_program(OsStr::new("y"), Some(OsStr::new(":")), &dir).is_none());
    // In a task's directory (held open): what is found relative to it
    // stays relative, for the child to look up once it is there.
    let wd = super::WorkDir::open(dir.clone(), &dir);
    assert_eq!(
        find_program_in(OsStr::new("./x"), None, &wd),
        Some(PathBuf::from("./x"))
    );
    assert_eq!(
        find_program_in(OsStr::new("x"), Some(OsStr::new(":")), &wd),
        Some(PathBuf::from("./x"))
    );
    assert!(find_program_in(OsStr::new("./y"), None, &wd).is_none());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn many_processes_with_bounded_concurrency() {
    with_deadline(180, || {
        let ex = LocalExecutor::new();
        let sem = Rc::new(smol::lock::Semaphore::new(200));
        let running = Rc::new(std::cell::Cell::new(0usize));
        let peak = Rc::new(std::cell::Cell::new(0usize));
        let tasks: Vec<_> = (0..2000)
            .map(|_| {
                let (sem, running, peak) = (sem.clone(), running.clone(), peak.clone());
                ex.spawn(async move {
                    let _permit = sem.acquire().await;
                    running.set(running.get() + 1);
                    peak.set(peak.get().max(running.get()));
                    let mut c = cmd(&["true"]);
                    c.program = PathBuf::from("/bin/true");
                    let mut g = Group::new();
                    g.spawn(c).await.unwrap();
                    let exits = g.wait(never()).await.unwrap();
                    running.set(running.get() - 1);
                    exits[0].code
                })
            })
            .collect();
        let codes = smol::block_on(ex.run(async {
            let mut codes = Vec::new();
            for t in tasks {
                codes.push(t.await);
            }
            codes
        }));
        assert_eq!(codes.len(), 2000);
        assert!(codes.iter().all(|&c| c == 0));
        assert!(peak.get() <= 200 && peak.get() > 1, "peak {}", peak.get());
    });
}

#[test]
fn raise_fd_limit_does_not_lower() {
    use rustix::process::{Resource, getrlimit};
    let before = getrlimit(Resource::Nofile);
    raise_fd_limit();
    let after = getrlimit(Resource::Nofile);
    assert_eq!(before.maximum, after.maximum);
    match (before.current, after.current) {
        (Some(b), Some(a)) => assert!(a >= b),
        (None, a) => assert_eq!(a, None),
        (Some(_), None) => panic!("soft limit became infinite"),
    }
    ensure_std_fds();
    assert!(rustix::io::fcntl_getfd(rustix::stdio::stdin()).is_ok());
    let _ = std::io::stdout().as_raw_fd();
}

#[test]
fn std_sinks_hand_out_the_right_stdio() {
    let out = OutSink::stdout();
    assert!(matches!(out.stdio_for(1).unwrap(), Stdio::Inherit));
    // ash's stdout as a child's stderr (2>&1) must be a real fd, not Inherit.
    assert!(matches!(out.stdio_for(2).unwrap(), Stdio::Fd(_)));
    assert!(matches!(out.stdio().unwrap(), Stdio::Fd(_)));
    assert!(matches!(
        OutSink::stderr().stdio_for(2).unwrap(),
        Stdio::Inherit
    ));
    assert!(matches!(InSource::stdin().stdio().unwrap(), Stdio::Inherit));
}

/// Read syscalls made by this thread so far (`syscr` of
/// /proc/thread-self/io): counts the reads of one source, whatever other
/// tests do on their threads.
fn thread_read_syscalls() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("syscr: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A file ash opened is read ahead (a read per block, not per line), and a
/// command given it in the middle reads on just after the last line `read`
/// returned; `read` then reads on after what the command took.
#[test]
fn shared_file_source_reads_ahead_and_gives_back() {
    block_on(20, || async {
        let text: String = (1..=2000).map(|i| format!("line {i}\n")).collect();
        let (_dir, src) = shared_file_source(text.as_ref()).await;
        let before = thread_read_syscalls();
        for i in 1..=1000 {
            let line = src.read_line().await.unwrap().unwrap();
            assert_eq!(line.as_bytes(), format!("line {i}").as_bytes());
        }
        let reads = thread_read_syscalls() - before;
        assert!(reads < 50, "{reads} read calls for 1000 lines");
        let mut c = cmd(&["head", "-n", "1"]);
        c.stdin = src.stdio().unwrap();
        let (_, out) = capture(c).await;
        assert_eq!(out, b"line 1001\n");
        // GNU head gives back what it read past its line; others may not.
        let next = src.read_line().await.unwrap().unwrap();
        assert!(next.starts_with(b"line ") || next.is_empty(), "{next:?}");
    });
}

/// The lines of a file `read` reads ahead are windows on the block read
/// (no allocation a line) while the loop holds only the last one, and the
/// file is given back to a command exactly after the last line returned,
/// also in the middle of a block.
#[test]
fn lines_read_ahead_are_windows_on_the_block_and_the_rest_is_given_back() {
    block_on(20, || async {
        let text: String = (1..=60_000).map(|i| format!("line {i:05}\n")).collect();
        let (_dir, src) = shared_file_source(text.as_ref()).await;
        let mut windows = 0;
        for i in 1..=30_000 {
            let line = src.read_line().await.unwrap().unwrap();
            assert_eq!(line.as_bytes(), format!("line {i:05}").as_bytes());
            if line.buffer_len() > line.len() {
                windows += 1;
            }
        }
        assert!(windows > 29_000, "{windows} of 30,000 lines are windows");
        let mut c = cmd(&["cat"]);
        c.stdin = src.stdio().unwrap();
        let (_, out) = capture(c).await;
        assert_eq!(out, &text.as_bytes()[30_000 * 11..]);
        assert_eq!(src.read_line().await.unwrap(), None);
    });
}

/// A line longer than a block is read in linear time: it grows in the
/// read buffer and is not sealed into a block at each read (each block
/// moved the whole line read so far back: 68 MB for a 2 MiB line before).
#[test]
fn a_line_longer_than_a_block_is_not_moved_at_each_read() {
    block_on(20, || async {
        let mut text = vec![b'x'; 2 << 20];
        text.extend_from_slice(b"\nshort\n");
        let (_dir, src) = shared_file_source(text.as_ref()).await;
        assert_eq!(src.read_line().await.unwrap().unwrap().len(), 2 << 20);
        assert_eq!(src.read_line().await.unwrap().unwrap().as_bytes(), b"short");
        assert_eq!(src.read_line().await.unwrap(), None);
        let moved = src.bytes_moved();
        assert!(moved < 256 * 1024, "{moved} bytes moved for a 2 MiB line");
    });
}

/// A script that keeps a few lines out of many does not keep the blocks
/// they were read in: once lines of a block are still held after `read`
/// left it, the next blocks' lines are copies. Keeping 1 line in 1,000 of
/// 660 KB, the kept lines hold one 64 KiB block (the first) and their own
/// bytes; as windows they held every block, 640 KiB.
#[test]
fn kept_lines_do_not_keep_their_blocks() {
    block_on(20, || async {
        let text: String = (1..=60_000).map(|i| format!("line {i:05}\n")).collect();
        let (_dir, src) = shared_file_source(text.as_ref()).await;
        let mut kept: Vec<crate::vm::string::Str> = Vec::new();
        while let Some(line) = src.read_line().await.unwrap() {
            if line.ends_with(b"000") {
                kept.push(line);
            }
        }
        assert_eq!(kept.len(), 60);
        let mut held = 0;
        for (i, k) in kept.iter().enumerate() {
            if !kept[..i].iter().any(|e| e.shares_buffer(k)) {
                held += k.buffer_len();
            }
        }
        assert!(held < 2 * 64 * 1024, "60 kept lines hold {held} bytes");
    });
}

/// A `read` of a shared pipe cancelled in the middle of a line (a
/// `timeout`) keeps what it took: the next `read` returns the whole line.
#[test]
fn bytewise_read_keeps_a_partial_line_across_cancellation() {
    block_on(20, || async {
        let (r, w) = pipe().unwrap();
        let src = InSource::shared(r);
        rustix::io::write(&w, b"par").unwrap();
        let timed_out = futures_lite::future::or(async { Some(src.read_line().await) }, async {
            Timer::after(Duration::from_millis(50)).await;
            None
        })
        .await;
        assert!(timed_out.is_none(), "read returned {timed_out:?}");
        rustix::io::write(&w, b"tial\nnext\n").unwrap();
        drop(w);
        assert_eq!(
            src.read_line().await.unwrap().unwrap().as_bytes(),
            b"partial"
        );
        assert_eq!(src.read_line().await.unwrap().unwrap().as_bytes(), b"next");
        assert_eq!(src.read_line().await.unwrap(), None);
    });
}

/// A capture keeps every byte of a big output (past the size where the
/// pipe is grown; NULs, invalid UTF-8 and newlines inside), drops only the
/// trailing newlines, and an output of newlines only is the empty string.
#[test]
fn read_capture_keeps_every_byte_of_a_big_output() {
    block_on(30, || async {
        let mut data: Vec<u8> = (0..3 << 20)
            .map(|i: u32| [b'a', 0, 0xff, b'\n', 0xc3][(i % 5) as usize])
            .collect();
        data.extend_from_slice(b"end\n\n\n");
        let (r, w) = pipe().unwrap();
        let sent = data.clone();
        let writer = async move { OutSink::from_fd(w).write_all(&sent).await };
        let (written, got) = futures_lite::future::zip(writer, read_capture(r)).await;
        written.unwrap();
        let got = got.unwrap();
        assert_eq!(got.len(), data.len() - 3);
        assert!(*got == data[..data.len() - 3], "the bytes differ");

        let (r, w) = pipe().unwrap();
        let writer = async move { OutSink::from_fd(w).write_all(&[b'\n'; 300_000]).await };
        let (written, got) = futures_lite::future::zip(writer, read_capture(r)).await;
        written.unwrap();
        assert_eq!(got.unwrap().len(), 0);
    });
}

/// A big capture maps the pages its next reads fill before it reads
/// (W7): a pipe read that faulted them in did it holding the pipe's lock,
/// and the writer on another CPU spun on the lock meanwhile. Mapped pages
/// take no fault when written, and the bytes already there are kept.
#[test]
fn populate_maps_the_spare_capacity_without_touching_the_data() {
    // Minor faults of this thread (field 10 of its stat).
    let faults = || -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 1..];
        after_name
            .split_whitespace()
            .nth(7)
            .unwrap()
            .parse()
            .unwrap()
    };
    // Above glibc's largest mmap threshold (32 MiB): fresh, unmapped pages.
    let size = 64 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(size);
    buf.extend_from_slice(b"kept");
    io::populate(&mut buf, size).unwrap();
    let before = faults();
    buf.resize(size, 7);
    let taken = faults() - before;
    assert!(
        taken < 1024,
        "{taken} page faults writing {} pages after populate",
        size / 4096
    );
    assert_eq!(&buf[..4], b"kept");
    assert!(buf[4..].iter().all(|&b| b == 7));
}
