//! Starting a program straight into a cgroup: `clone3` with
//! `CLONE_INTO_CGROUP` (Linux 5.7+), the one module besides `main.rs`'s
//! start-up where ash uses `unsafe` (`process/io.rs` has one `madvise`
//! call).
//!
//! **Why.** A child is born in the cgroup of the process that forks it,
//! unless the fork names another one. `posix_spawn` (std's `Command`)
//! cannot name one, so ash used to move itself, all its threads, into the
//! group's cgroup around each spawn. Every such move takes the kernel's
//! global `cgroup_threadgroup_rwsem` for writing, which waits for an RCU
//! grace period and for every fork and exit in progress on the machine:
//! 1,000 `/bin/true` 8 at a time took 0.64 s instead of 0.47 s (W4 in
//! docs/performance.md). A process cannot move one of its threads alone
//! (cgroup v2 moves processes), and a helper process that moved itself
//! would take the same lock. Naming the cgroup in the fork takes no such
//! lock. No safe crate offers it (std, rustix and nix spawn without it;
//! glibc's `posix_spawnattr_setcgroup_np` is 2.41+), hence this module.
//!
//! **How**, as glibc's `posix_spawn` does it: `CLONE_VM | CLONE_VFORK`,
//! so nothing is copied and the calling thread sleeps until the child
//! has called `execve` (or exited); the child runs [`child`] on a stack of
//! its own (a buffer in the caller's frame, which sleeps meanwhile), and
//! only makes system calls on data the parent prepared: no allocation, no
//! lock, no panic. `CLONE_CLEAR_SIGHAND` resets every signal handler in
//! the child, so none of ash's handlers can run in it; every signal is
//! blocked in the calling thread around the clone, so the child starts
//! with all of them blocked and unblocks them only just before `execve`.
//! The child then does what std asks of `posix_spawn`: SIGPIPE back to
//! its default (Rust ignores it), the process group, stdio, the
//! directory, an empty signal mask, `execve`. A failure's errno is left
//! in memory the parent reads once it wakes, and the child exits 127.
//! `CLONE_PIDFD` returns the child's pidfd with it (no `pidfd_open`).
//!
//! The `clone3` call itself is a few instructions of inline assembly
//! (the child must start on its own stack, which no libc function offers
//! for `clone3`), written for x86_64 only; elsewhere [`available`] is
//! false and ash moves itself as before (see `cgroup`).

#![allow(unsafe_code)]

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// One program to start, every string made ready in the parent.
pub struct Spec {
    pub program: CString,
    pub argv: Vec<CString>,
    /// `NAME=value` entries.
    pub env: Vec<CString>,
    pub cwd: Option<CString>,
    /// The process group to join (0: a new one, led by the child).
    pub pgid: i32,
    /// For fds 0, 1, 2: the fd to put there (`None`: ash's own, inherited).
    pub stdio: [Option<OwnedFd>; 3],
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

impl Spec {
    /// A spec for `program` with `argv` (argv[0] included), the
    /// environment `env` (later entries replace earlier ones of the same
    /// name), started in `cwd`.
    pub fn new(
        program: &Path,
        argv: &[OsString],
        env: &[(OsString, OsString)],
        cwd: Option<&Path>,
        pgid: i32,
        stdio: [Option<OwnedFd>; 3],
    ) -> io::Result<Spec> {
        let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        let mut entries = Vec::with_capacity(env.len());
        // The last entry of a name wins, as with std's `Command::env`.
        for (k, v) in env.iter().rev() {
            if !seen.insert(k.as_bytes()) {
                continue;
            }
            let mut kv = Vec::with_capacity(k.len() + v.len() + 1);
            kv.extend_from_slice(k.as_bytes());
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            entries.push(CString::new(kv).map_err(|_| io::ErrorKind::InvalidInput)?);
        }
        entries.reverse();
        Ok(Spec {
            program: cstring(program.as_os_str())?,
            argv: argv.iter().map(|a| cstring(a)).collect::<io::Result<_>>()?,
            env: entries,
            cwd: cwd.map(|c| cstring(c.as_os_str())).transpose()?,
            pgid,
            stdio,
        })
    }
}

/// What [`child`] reads: raw pointers into the parent's [`Spec`], alive
/// and unchanged until the child has exec'd or exited (the parent sleeps
/// meanwhile, `CLONE_VFORK`).
struct ChildArgs {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    pgid: libc::pid_t,
    /// `(source fd, target fd)`, or -1 for none.
    stdio: [RawFd; 3],
    /// The errno of the step that failed (0: none), written by the child.
    error: AtomicI32,
}

/// `struct clone_args` of `linux/sched.h` (the size of its version 2, with
/// `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The child's stack: [`child`] needs well under a kilobyte (no handler
/// runs on it: signals stay blocked and handlers are cleared).
const STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// Whether this build and kernel can start programs with [`spawn`] into
/// `cgroup` (a fresh one, never killed): x86_64; `clone3` not refused
/// (kernels before 5.3, or a seccomp profile that makes it fail with
/// `ENOSYS` or `EPERM`, as container runtimes' default ones do: asked
/// first with arguments the kernel rejects, `EINVAL`, before it would
/// create anything); and a child started so lives. The kernel (6.18 here)
/// SIGKILLs a child born through `CLONE_INTO_CGROUP` at once when the
/// cgroup's count of `cgroup.kill` writes differs from that of the cgroup
/// of the process that forks, so a child is never started in a cgroup
/// that was killed (see `cgroup`), and the probe, a child that fails to
/// exec `/` and reports it, catches an ash whose own cgroup was killed
/// before it started.
pub fn available(cgroup: BorrowedFd<'_>) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: a null argument struct of size 0 is rejected by the
        // kernel with EINVAL (or the call by seccomp / an old kernel);
        // nothing is read or written.
        let ret = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<CloneArgs>(), 0usize) };
        if ret != -1 || io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return false;
        }
        let probe = Spec::new(
            Path::new("/"),
            &[OsString::from("ash-probe")],
            &[],
            None,
            0,
            [None, None, None],
        );
        match probe.map(|p| spawn(&p, cgroup)) {
            // The child ran and reported the failed exec.
            Ok(Err(e)) => e.raw_os_error() == Some(libc::EACCES),
            Ok(Ok((_, pidfd))) => {
                // Killed before it could report: reap it.
                let _ = rustix::process::waitid(
                    rustix::process::WaitId::PidFd(std::os::fd::AsFd::as_fd(&pidfd)),
                    rustix::process::WaitIdOptions::EXITED,
                );
                false
            }
            Err(_) => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = cgroup;
        false
    }
}

/// Start `spec` in the cgroup whose directory is open as `cgroup`; the
/// child's pid and pidfd. Errors as `posix_spawn`'s (ENOENT, EACCES,
/// EPERM from joining a group that is gone, ...), or the clone's own.
#[cfg(target_arch = "x86_64")]
pub fn spawn(spec: &Spec, cgroup: BorrowedFd<'_>) -> io::Result<(i32, OwnedFd)> {
    let argv: Vec<*const libc::c_char> = spec
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = spec
        .env
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let args = ChildArgs {
        program: spec.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: spec.cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        pgid: spec.pgid,
        stdio: [0, 1, 2].map(|i| spec.stdio[i].as_ref().map_or(-1, |fd| fd.as_raw_fd())),
        error: AtomicI32::new(0),
    };
    // Not zeroed: only the child writes it, before it reads.
    let mut stack = std::mem::MaybeUninit::<Stack>::uninit();
    let mut pidfd: libc::c_int = -1;
    let clone_args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD) as u64
            | CLONE_CLEAR_SIGHAND
            | CLONE_INTO_CGROUP,
        pidfd: std::ptr::from_mut(&mut pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.as_mut_ptr() as u64,
        stack_size: STACK_SIZE as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // The child starts with every signal blocked (it inherits this
    // thread's mask); this thread gets its own back after the clone.
    let all = nix::sys::signal::SigSet::all();
    let mut old = nix::sys::signal::SigSet::empty();
    nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&all),
        Some(&mut old),
    )
    .map_err(io::Error::from)?;
    // SAFETY: `clone_args` describes a stack that is ours and unused, a
    // valid pidfd slot and an open cgroup fd; `child` only reads `args`
    // (alive until this returns: CLONE_VFORK keeps this thread asleep
    // until the child has exec'd or exited) and writes its `error`.
    let ret = unsafe { clone3(&clone_args, child, &args) };
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&old),
        None,
    );
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    // SAFETY: the kernel stored a new pidfd there (CLONE_PIDFD), owned by
    // nobody else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let error = args.error.load(Ordering::Relaxed);
    if error != 0 {
        // The child exited (127) without exec'ing: reap it.
        let _ = rustix::process::waitid(
            rustix::process::WaitId::PidFd(std::os::fd::AsFd::as_fd(&pidfd)),
            rustix::process::WaitIdOptions::EXITED,
        );
        return Err(io::Error::from_raw_os_error(error));
    }
    Ok((ret as i32, pidfd))
}

#[cfg(not(target_arch = "x86_64"))]
pub fn spawn(_spec: &Spec, _cgroup: BorrowedFd<'_>) -> io::Result<(i32, OwnedFd)> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// `clone3(args)`; in the child, `child(arg)` on the stack `args` names.
/// The parent gets the child's pid or `-errno`.
///
/// # Safety
/// `args` must be valid for `clone3`, with a stack for the child if it
/// shares memory; `child` must never return and must be safe to run
/// there with `arg`.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3(
    args: &CloneArgs,
    child: extern "C" fn(*const ChildArgs) -> !,
    arg: *const ChildArgs,
) -> isize {
    let ret: isize;
    // SAFETY: see the function's contract. The child resumes after
    // `syscall` with every register but rax, rcx and r11 as they were,
    // on the new stack (aligned to 16): it calls `child(arg)`, which does
    // not return (`ud2` would trap). The parent jumps past that.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "and rsp, -16",
            "mov rdi, r13",
            "call r12",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") std::ptr::from_ref(args),
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") child,
            in("r13") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// The child, between `clone3` and `execve`: system calls only, on what
/// the parent prepared (see the module comment).
#[cfg(target_arch = "x86_64")]
extern "C" fn child(arg: *const ChildArgs) -> ! {
    // SAFETY: `arg` points to the parent's `ChildArgs`, alive and
    // unchanged while this runs (the parent sleeps, CLONE_VFORK); every
    // pointer in it is a valid NUL-terminated string or array. Only
    // async-signal-safe calls are made, and nothing is allocated.
    unsafe {
        let a = &*arg;
        let fail = |a: &ChildArgs| -> ! {
            a.error.store(*libc::__errno_location(), Ordering::Relaxed);
            libc::_exit(127)
        };
        // Rust ignores SIGPIPE; programs expect its default. (Handlers
        // were cleared by CLONE_CLEAR_SIGHAND; ignored signals stay
        // ignored, as they would through `exec`.)
        if libc::signal(libc::SIGPIPE, libc::SIG_DFL) == libc::SIG_ERR {
            fail(a);
        }
        if libc::setpgid(0, a.pgid) != 0 {
            fail(a);
        }
        for (target, &source) in a.stdio.iter().enumerate() {
            let target = target as RawFd;
            if source < 0 {
                continue;
            }
            let done = if source == target {
                // dup2 onto itself would leave FD_CLOEXEC set.
                libc::fcntl(source, libc::F_SETFD, 0)
            } else {
                libc::dup2(source, target)
            };
            if done < 0 {
                fail(a);
            }
        }
        if !a.cwd.is_null() && libc::chdir(a.cwd) != 0 {
            fail(a);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
            fail(a);
        }
        libc::execve(a.program, a.argv, a.envp);
        fail(a)
    }
}
