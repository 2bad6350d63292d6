//! `ash_test_helper`: a program that misbehaves on request, for ash's
//! containment, zombie, capture and `--check` tests.
//!
//! It is one std-only file (no crates: the few libc functions it needs are
//! declared below; std links libc anyway). The test suite compiles it with
//! `rustc` into `CARGO_TARGET_TMPDIR` (see `helper()` in
//! `tests/common/mod.rs`); it is not a Cargo target.
//!
//! ```text
//! ash_test_helper ACTION...
//! ```
//!
//! The actions run in order, left to right. After the last one the process
//! exits with status 0. Any failure (an unknown action, a missing or bad
//! argument, a system call that fails) prints `ash_test_helper: ...` on
//! stderr and exits with status 90, so a test never mistakes a broken
//! set-up for the behaviour it checks.
//!
//! | action | effect |
//! |---|---|
//! | `ignore-term` | SIGTERM is ignored from now on (kept across `fork` and `exec`) |
//! | `setsid` | a new session and process group. Fails if this process leads its process group, as the first stage of a pipeline does: write `fork child:setsid` or `daemon setsid` |
//! | `setpgid` | a new process group in the same session |
//! | `fork` | `fork()`; parent and child both go on with the remaining actions |
//! | `daemon` | `fork()`; the parent exits 0 at once, the child goes on (the double-fork escape: its parent is gone, so it is re-parented to the nearest subreaper) |
//! | `child:ACTION`, `parent:ACTION` | ACTION (with its arguments) only in the child, or only in the parent, of this process's most recent `fork` or `daemon`; before any, neither runs |
//! | `enter-cgroup DIR` | move this process into the cgroup v2 directory DIR (its pid written to `DIR/cgroup.procs`) |
//! | `report FILE` | append one line `pid pgid sid ppid` to FILE (`O_APPEND`, one `write`, so concurrent reporters never interleave) |
//! | `sleep SECS` | sleep SECS seconds (a decimal number; resumed after signals) |
//! | `wait` | wait for every child of this process to exit (reaping them) |
//! | `print TEXT` | TEXT and a newline to stdout (unbuffered) |
//! | `write FD BYTES` | BYTES bytes (`x`) to file descriptor FD, in 64 KiB writes |
//! | `exit N` | exit now with status N |
//! | `exec PROG ARG...` | replace this process with PROG (searched on `PATH` if it has no `/`); takes the rest of the command line |
//! | `no-spawn PROG ARG...` | install the seccomp filter described below, then `execve` PROG (a path: no `PATH` search); takes the rest of the command line |
//! | `no-pidfd ERRNO PROG ARG...` | install a seccomp filter under which `pidfd_open` fails with ERRNO (`ENOSYS`: a kernel older than 5.3; `EPERM`: a sandbox that denies it) and `clone3` with `ENOSYS` (such a kernel has no `clone3` either, and such a sandbox denies the newer call too: a `clone3` pidfd would not show whether waiting by pid works), then `exec` PROG; takes the rest of the command line (x86_64 only) |
//! | `no-clone3 PROG ARG...` | install a seccomp filter under which `clone3` fails with `ENOSYS` (as container runtimes' default profiles make it; glibc falls back to `clone`), then `exec` PROG; takes the rest of the command line (x86_64 only) |
//!
//! Examples: `fork sleep 100` is a child and a grandchild in one group;
//! `ignore-term fork sleep 100` the same, both ignoring SIGTERM;
//! `fork child:setsid sleep 100` a child whose own child escaped into a new
//! session; `print started daemon setsid sleep 100` a command that finishes
//! at once and leaves a daemon behind.
//!
//! SIGPIPE has its default action (Rust's runtime ignores it; the helper
//! restores it), so a write to a closed pipe kills the helper as it would
//! any C program.
//!
//! # `no-spawn`: proving that a program starts no process
//!
//! The filter (x86_64 only; elsewhere `no-spawn` fails with status 90) makes
//! the kernel kill the whole process with SIGSYS (`SECCOMP_RET_KILL_PROCESS`)
//! on any system call that creates a process: `fork`, `vfork`, and `clone`
//! unless its flags hold `CLONE_THREAD` (a new thread of the same process:
//! allowed, since ash runs its interpreter and blocking pool on threads).
//! `clone3` returns `ENOSYS`, because BPF cannot read its flags (they are in
//! a struct in memory); glibc then falls back to `clone` for threads
//! (`pthread_create`) and for processes (`fork`, `posix_spawn`, whose
//! `clone(CLONE_VM|CLONE_VFORK)` has no `CLONE_THREAD`), where the filter
//! sees the flags. Those are every way Linux offers a program to create a
//! process itself, so a shell cannot start a command — it must create a
//! process first — without being killed. Syscalls of another ABI (i386 `int 0x80`, x32) are killed
//! too, so the numbers checked are the only numbers that apply.
//!
//! A seccomp filter survives `execve`, and it must be installed before ash
//! is exec'd (after, the helper is gone). So `execve` cannot simply be
//! killed: the helper's own exec of ash must pass. BPF keeps no state, so
//! it cannot allow "the first" exec; instead the filter allows `execve` only
//! when its path argument is the very pointer the helper passes (an address
//! in the helper's memory, which no longer exists once ash is running), and
//! kills `execveat` and every other `execve`. An exec does not create a
//! process, but it would run a program in ash's place, so it is closed too;
//! the one gap left is an `execve` by ash whose path string lies, by
//! chance, at exactly that address.
//!
//! Before installing the filter the helper sets `RLIMIT_CORE` to 0, so a
//! killed process leaves no core file, and `PR_SET_NO_NEW_PRIVS` (required
//! to install a filter without privileges).

use std::ffi::{CString, OsString, c_char};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::FromRawFd;

#[allow(non_camel_case_types)]
type pid_t = i32;

#[repr(C)]
struct RLimit {
    cur: u64,
    max: u64,
}

#[repr(C)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

unsafe extern "C" {
    fn fork() -> pid_t;
    fn setsid() -> pid_t;
    fn setpgid(pid: pid_t, pgid: pid_t) -> i32;
    fn getpid() -> pid_t;
    fn getppid() -> pid_t;
    fn getpgid(pid: pid_t) -> pid_t;
    fn getsid(pid: pid_t) -> pid_t;
    fn signal(sig: i32, handler: usize) -> usize;
    fn waitpid(pid: pid_t, status: *mut i32, options: i32) -> pid_t;
    fn prctl(option: i32, ...) -> i32;
    fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
    fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> i32;
    fn execvp(file: *const c_char, argv: *const *const c_char) -> i32;
    fn _exit(status: i32) -> !;
    static environ: *const *const c_char;
}

const SIGPIPE: i32 = 13;
const SIGTERM: i32 = 15;
const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;
const RLIMIT_CORE: i32 = 4;
const PR_SET_NO_NEW_PRIVS: i32 = 38;
const PR_SET_SECCOMP: i32 = 22;
const SECCOMP_MODE_FILTER: u64 = 2;

/// Which side of the most recent `fork`/`daemon` this process is on.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    None,
    Parent,
    Child,
}

fn fail(msg: &str) -> ! {
    let err = std::io::Error::last_os_error();
    let _ = writeln!(std::io::stderr(), "ash_test_helper: {msg} ({err})");
    // SAFETY: _exit never returns and is async-signal-safe (we may be a
    // child of fork).
    unsafe { _exit(90) }
}

fn usage(msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "ash_test_helper: {msg}");
    // SAFETY: as in `fail`.
    unsafe { _exit(90) }
}

/// Write all of `bytes` to `fd` without buffering (a buffer would be
/// duplicated by `fork`) and without closing `fd`.
fn write_fd(fd: i32, bytes: &[u8]) {
    // SAFETY: the File is never dropped (ManuallyDrop), so `fd` stays open
    // and owned by whoever owned it.
    let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    if f.write_all(bytes).is_err() {
        fail(&format!("write to fd {fd}"));
    }
}

fn arg<'a>(args: &'a [OsString], i: usize, action: &str) -> &'a OsString {
    args.get(i)
        .unwrap_or_else(|| usage(&format!("{action}: missing argument")))
}

fn number<T: std::str::FromStr>(s: &OsString, action: &str) -> T {
    s.to_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| usage(&format!("{action}: bad number {s:?}")))
}

fn cstring(s: &OsString) -> CString {
    CString::new(s.as_bytes()).unwrap_or_else(|_| usage("an argument contains a NUL byte"))
}

fn do_fork() -> bool {
    // SAFETY: this program is single-threaded, so the child may do anything.
    match unsafe { fork() } {
        -1 => fail("fork"),
        0 => true,
        _ => false,
    }
}

fn report(file: &OsString) {
    // SAFETY: these calls have no preconditions.
    let line = unsafe { format!("{} {} {} {}\n", getpid(), getpgid(0), getsid(0), getppid()) };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)
        .unwrap_or_else(|_| fail(&format!("open {file:?}")));
    // One write of a short line: O_APPEND makes it atomic.
    if f.write_all(line.as_bytes()).is_err() {
        fail(&format!("write {file:?}"));
    }
}

fn wait_children() {
    loop {
        let mut status = 0;
        // SAFETY: status is a valid pointer.
        if unsafe { waitpid(-1, &mut status, 0) } == -1 {
            if std::io::Error::last_os_error().raw_os_error() == Some(4) {
                continue; // EINTR
            }
            return; // ECHILD: none left
        }
    }
}

/// A NULL-terminated argv of C strings (kept alive by `owned`).
fn argv(owned: &[CString]) -> Vec<*const c_char> {
    owned
        .iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

fn exec(rest: &[OsString]) -> ! {
    if rest.is_empty() {
        usage("exec: missing program");
    }
    let owned: Vec<CString> = rest.iter().map(cstring).collect();
    let ptrs = argv(&owned);
    // SAFETY: argv is NULL-terminated and its strings outlive the call.
    unsafe { execvp(ptrs[0], ptrs.as_ptr()) };
    fail(&format!("exec {:?}", rest[0]))
}

// Classic BPF, as seccomp runs it: BPF_LD|BPF_W|BPF_ABS (0x00|0x00|0x20),
// BPF_JMP (0x05) with BPF_JEQ/BPF_JGE/BPF_JSET and BPF_K (0x00), BPF_RET.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_JMP_JSET_K: u16 = 0x05 | 0x40;
const BPF_RET_K: u16 = 0x06;

const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const ENOSYS: u32 = 38;
const EPERM: u32 = 1;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const CLONE_THREAD: u32 = 0x0001_0000;

// x86_64 system call numbers.
const NR_CLONE: u32 = 56;
const NR_FORK: u32 = 57;
const NR_VFORK: u32 = 58;
const NR_EXECVE: u32 = 59;
const NR_EXECVEAT: u32 = 322;
const NR_CLONE3: u32 = 435;
const NR_PIDFD_OPEN: u32 = 434;

// Offsets in `struct seccomp_data`: nr, arch, instruction_pointer, args[6].
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG0_LO: u32 = 16;
const OFF_ARG0_HI: u32 = 20;

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// The filter of `no-spawn` (see the header); `exec_path` is the one path
/// pointer `execve` may be called with.
fn no_spawn_filter(exec_path: *const c_char) -> Vec<SockFilter> {
    let p = exec_path as u64;
    let (lo, hi) = (p as u32, (p >> 32) as u32);
    // Jump offsets are relative to the next instruction; the three return
    // instructions sit at the end: ALLOW, KILL, ENOSYS.
    let mut f = vec![
        /* 0 */ stmt(BPF_LD_W_ABS, OFF_ARCH),
        /* 1 */ jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 0, 0), // jf -> KILL
        /* 2 */ stmt(BPF_LD_W_ABS, OFF_NR),
        /* 3 */ jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 0), // jt -> KILL
        /* 4 */ jump(BPF_JMP_JEQ_K, NR_FORK, 0, 0), // jt -> KILL
        /* 5 */ jump(BPF_JMP_JEQ_K, NR_VFORK, 0, 0), // jt -> KILL
        /* 6 */ jump(BPF_JMP_JEQ_K, NR_EXECVEAT, 0, 0), // jt -> KILL
        /* 7 */ jump(BPF_JMP_JEQ_K, NR_CLONE3, 0, 0), // jt -> ENOSYS
        /* 8 */ jump(BPF_JMP_JEQ_K, NR_CLONE, 0, 2), // jf -> 11
        /* 9 */ stmt(BPF_LD_W_ABS, OFF_ARG0_LO),
        /* 10 */ jump(BPF_JMP_JSET_K, CLONE_THREAD, 0, 0), // jt -> ALLOW, jf -> KILL
        /* 11 */ jump(BPF_JMP_JEQ_K, NR_EXECVE, 0, 0), // jf -> ALLOW
        /* 12 */ stmt(BPF_LD_W_ABS, OFF_ARG0_LO),
        /* 13 */ jump(BPF_JMP_JEQ_K, lo, 0, 0), // jf -> KILL
        /* 14 */ stmt(BPF_LD_W_ABS, OFF_ARG0_HI),
        /* 15 */ jump(BPF_JMP_JEQ_K, hi, 0, 0), // jt -> ALLOW, jf -> KILL
        /* 16 */ stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
        /* 17 */ stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        /* 18 */ stmt(BPF_RET_K, SECCOMP_RET_ERRNO | ENOSYS),
    ];
    const ALLOW: usize = 16;
    const KILL: usize = 17;
    const NOSYS: usize = 18;
    let to =
        |from: usize, target: usize| -> u8 { u8::try_from(target - from - 1).expect("short jump") };
    f[1].jf = to(1, KILL);
    f[3].jt = to(3, KILL);
    f[4].jt = to(4, KILL);
    f[5].jt = to(5, KILL);
    f[6].jt = to(6, KILL);
    f[7].jt = to(7, NOSYS);
    f[10].jt = to(10, ALLOW);
    f[10].jf = to(10, KILL);
    f[11].jf = to(11, ALLOW);
    f[13].jf = to(13, KILL);
    f[15].jt = to(15, ALLOW);
    f[15].jf = to(15, KILL);
    f
}

fn no_spawn(rest: &[OsString]) -> ! {
    if !cfg!(target_arch = "x86_64") {
        usage("no-spawn: only x86_64 is supported");
    }
    let Some(prog) = rest.first() else {
        usage("no-spawn: missing program");
    };
    if !prog.as_bytes().contains(&b'/') {
        usage("no-spawn: the program must be a path (no PATH search under the filter)");
    }
    // Everything execve needs is allocated before the filter exists.
    let owned: Vec<CString> = rest.iter().map(cstring).collect();
    let ptrs = argv(&owned);
    let filter = no_spawn_filter(ptrs[0]);
    let no_core = RLimit { cur: 0, max: 0 };
    // SAFETY: a valid pointer to a live structure; setrlimit has no other
    // preconditions.
    if unsafe { setrlimit(RLIMIT_CORE, &no_core) } != 0 {
        fail("setrlimit(RLIMIT_CORE)");
    }
    install_seccomp(&filter);
    // SAFETY: valid pointers to live, NUL-terminated argv; `environ` is
    // libc's own.
    unsafe {
        execve(ptrs[0], ptrs.as_ptr(), environ);
    }
    // Only reached if the exec failed (the filter allowed it).
    fail(&format!("execve {prog:?}"))
}

/// `no-pidfd`: `pidfd_open` fails with `errno` and `clone3` with ENOSYS
/// (every other system call, of any ABI, is allowed), then PROG runs as
/// with `exec`.
fn no_pidfd(rest: &[OsString]) -> ! {
    if !cfg!(target_arch = "x86_64") {
        usage("no-pidfd: only x86_64 is supported");
    }
    let errno = match rest.first().and_then(|e| e.to_str()) {
        Some("ENOSYS") => ENOSYS,
        Some("EPERM") => EPERM,
        _ => usage("no-pidfd: ERRNO must be ENOSYS or EPERM"),
    };
    let filter = [
        /* 0 */ stmt(BPF_LD_W_ABS, OFF_ARCH),
        /* 1 */ jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 0, 4), // jf -> ALLOW
        /* 2 */ stmt(BPF_LD_W_ABS, OFF_NR),
        /* 3 */ jump(BPF_JMP_JEQ_K, NR_PIDFD_OPEN, 1, 0), // jt -> ERRNO
        /* 4 */ jump(BPF_JMP_JEQ_K, NR_CLONE3, 2, 1), // jt -> NOSYS, jf -> ALLOW
        /* 5 */ stmt(BPF_RET_K, SECCOMP_RET_ERRNO | errno),
        /* 6 */ stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
        /* 7 */ stmt(BPF_RET_K, SECCOMP_RET_ERRNO | ENOSYS),
    ];
    install_seccomp(&filter);
    exec(&rest[1..])
}

/// `no-clone3`: `clone3` fails with ENOSYS (every other system call, of
/// any ABI, is allowed), then PROG runs as with `exec`.
fn no_clone3(rest: &[OsString]) -> ! {
    if !cfg!(target_arch = "x86_64") {
        usage("no-clone3: only x86_64 is supported");
    }
    let filter = [
        /* 0 */ stmt(BPF_LD_W_ABS, OFF_ARCH),
        /* 1 */ jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 0, 3), // jf -> ALLOW
        /* 2 */ stmt(BPF_LD_W_ABS, OFF_NR),
        /* 3 */ jump(BPF_JMP_JEQ_K, NR_CLONE3, 0, 1), // jf -> ALLOW
        /* 4 */ stmt(BPF_RET_K, SECCOMP_RET_ERRNO | ENOSYS),
        /* 5 */ stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
    ];
    install_seccomp(&filter);
    exec(rest)
}

/// Install `filter` as this process's seccomp filter (after no_new_privs,
/// which an unprivileged process needs for it); on failure, [`fail`].
fn install_seccomp(filter: &[SockFilter]) {
    let fprog = SockFprog {
        len: u16::try_from(filter.len()).expect("short filter"),
        filter: filter.as_ptr(),
    };
    // SAFETY: a valid pointer to a live filter; prctl has no other
    // preconditions.
    unsafe {
        if prctl(PR_SET_NO_NEW_PRIVS, 1u64, 0u64, 0u64, 0u64) != 0 {
            fail("prctl(PR_SET_NO_NEW_PRIVS)");
        }
        if prctl(
            PR_SET_SECCOMP,
            SECCOMP_MODE_FILTER,
            &fprog as *const SockFprog,
        ) != 0
        {
            fail("prctl(PR_SET_SECCOMP)");
        }
    }
}

fn main() {
    // Rust ignores SIGPIPE before `main`; a writer to a closed pipe then
    // gets EPIPE and would exit 90. Like any C program (and as ash expects
    // of a producer cut short, `yes | head -1`), die of SIGPIPE instead;
    // and never hand an ignored SIGPIPE on to a program run by `exec`.
    // SAFETY: SIG_DFL is a valid disposition for SIGPIPE.
    unsafe { signal(SIGPIPE, SIG_DFL) };
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut role = Role::None;
    let mut i = 0;
    while i < args.len() {
        let word = args[i].to_string_lossy().into_owned();
        // `child:ACTION` / `parent:ACTION`: parse it either way (to skip its
        // arguments), run it only on the matching side of the last fork.
        let (action, runs) = match word.split_once(':') {
            Some(("child", a)) => (a.to_string(), role == Role::Child),
            Some(("parent", a)) => (a.to_string(), role == Role::Parent),
            _ => (word.clone(), true),
        };
        i += 1;
        match action.as_str() {
            "ignore-term" => {
                // SAFETY: SIG_IGN is a valid disposition for SIGTERM.
                if runs && unsafe { signal(SIGTERM, SIG_IGN) } == usize::MAX {
                    fail("signal(SIGTERM, SIG_IGN)");
                }
            }
            "setsid" => {
                // SAFETY: no preconditions.
                if runs && unsafe { setsid() } == -1 {
                    fail("setsid (a group leader cannot; fork first)");
                }
            }
            "setpgid" => {
                // SAFETY: no preconditions.
                if runs && unsafe { setpgid(0, 0) } == -1 {
                    fail("setpgid");
                }
            }
            "fork" => {
                if runs {
                    role = if do_fork() { Role::Child } else { Role::Parent };
                }
            }
            "daemon" => {
                if runs {
                    if !do_fork() {
                        // SAFETY: exits at once, nothing to flush.
                        unsafe { _exit(0) }
                    }
                    role = Role::Child;
                }
            }
            "enter-cgroup" => {
                let dir = std::path::PathBuf::from(arg(&args, i, "enter-cgroup"));
                i += 1;
                if runs
                    && std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string())
                        .is_err()
                {
                    fail(&format!("enter-cgroup {}", dir.display()));
                }
            }
            "report" => {
                let file = arg(&args, i, "report");
                i += 1;
                if runs {
                    report(file);
                }
            }
            "sleep" => {
                let secs: f64 = number(arg(&args, i, "sleep"), "sleep");
                i += 1;
                if runs {
                    // std's sleep resumes after EINTR until the time is up.
                    std::thread::sleep(std::time::Duration::from_secs_f64(secs));
                }
            }
            "wait" => {
                if runs {
                    wait_children();
                }
            }
            "print" => {
                let text = arg(&args, i, "print");
                i += 1;
                if runs {
                    let mut line = text.as_bytes().to_vec();
                    line.push(b'\n');
                    write_fd(1, &line);
                }
            }
            "write" => {
                let fd: i32 = number(arg(&args, i, "write"), "write");
                let mut left: u64 = number(arg(&args, i + 1, "write"), "write");
                i += 2;
                if runs {
                    let chunk = vec![b'x'; 64 * 1024];
                    while left > 0 {
                        let n = left.min(chunk.len() as u64) as usize;
                        write_fd(fd, &chunk[..n]);
                        left -= n as u64;
                    }
                }
            }
            "exit" => {
                let code: i32 = number(arg(&args, i, "exit"), "exit");
                i += 1;
                if runs {
                    // SAFETY: exits at once; output is never buffered here.
                    unsafe { _exit(code) }
                }
            }
            "exec" => {
                if runs {
                    exec(&args[i..]);
                }
                i = args.len();
            }
            "no-spawn" => {
                if runs {
                    no_spawn(&args[i..]);
                }
                i = args.len();
            }
            "no-pidfd" => {
                if runs {
                    no_pidfd(&args[i..]);
                }
                i = args.len();
            }
            "no-clone3" => {
                if runs {
                    no_clone3(&args[i..]);
                }
                i = args.len();
            }
            _ => usage(&format!("unknown action {word:?}")),
        }
    }
    // SAFETY: exits at once; output is never buffered here.
    unsafe { _exit(0) }
}
