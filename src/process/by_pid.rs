//! Waiting for a child by its pid, where there are no pidfds: kernels
//! older than 5.3, and sandboxes whose seccomp profile denies
//! `pidfd_open` (`ENOSYS` or `EPERM`). Without this every external
//! command failed there.
//!
//! A SIGCHLD handler (signal-hook) writes a byte to a socket registered
//! with async-io's reactor, which ash runs anyway: no thread is added (as
//! async-process's reaper would add one). Each waiting child holds its own
//! readiness future on the socket (the reactor wakes all of them at once;
//! `poll_readable` would keep one waker, and waiters would take it from
//! each other in turn). A waiter registers, *then* asks
//! `waitid(P_PID, pid, WNOHANG)`, so an exit after the check raises a
//! SIGCHLD that wakes it. A waiter that saw the socket ready drains it and
//! wakes every waiter on the list too: a byte it drained may be the one
//! the reactor had not yet reported to the others. `waitid` on one pid
//! reaps that child only: adopted orphans are still
//! `contain::reap_adopted`'s, other tasks' children are theirs.

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use async_io::{Async, ReadableOwned};
use rustix::process::{Pid, WaitId, WaitIdOptions, WaitIdStatus, waitid};

/// Set once `pidfd_open` failed with ENOSYS or EPERM: the later children
/// are waited for by pid without trying again.
static NO_PIDFD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `pidfd_open` is known not to work here.
pub(super) fn no_pidfd() -> bool {
    NO_PIDFD.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether `e`, from `pidfd_open`, means "no pidfds here": then remember it.
pub(super) fn pidfd_unavailable(e: &io::Error) -> bool {
    let unavailable = matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM));
    if unavailable {
        NO_PIDFD.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    unavailable
}

struct Exits {
    /// Readable after a SIGCHLD.
    socket: Arc<Async<UnixStream>>,
    /// The tasks waiting for a child by pid.
    waiters: Vec<Waker>,
}

thread_local! {
    static EXITS: RefCell<Option<Exits>> = const { RefCell::new(None) };
}

fn install() -> io::Result<Exits> {
    let (read, write) = UnixStream::pair()?;
    signal_hook::low_level::pipe::register(libc::SIGCHLD, write)?;
    Ok(Exits {
        socket: Arc::new(Async::new(read)?),
        waiters: Vec::new(),
    })
}

/// A child waited for by pid: its readiness future on the SIGCHLD socket.
pub(super) struct ByPid {
    pid: i32,
    sigchld: Option<ReadableOwned<UnixStream>>,
}

impl ByPid {
    pub(super) fn new(pid: i32) -> ByPid {
        ByPid { pid, sigchld: None }
    }

    /// The exit status of the child once it has exited (reaping it).
    pub(super) fn poll_exit(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<WaitIdStatus>> {
        let registered = EXITS.with_borrow_mut(|exits| -> io::Result<()> {
            if exits.is_none() {
                *exits = Some(install()?);
            }
            let Some(exits) = exits.as_mut() else {
                return Ok(());
            };
            loop {
                let sigchld = self
                    .sigchld
                    .get_or_insert_with(|| exits.socket.clone().readable_owned());
                if Pin::new(sigchld).poll(cx).is_pending() {
                    break;
                }
                self.sigchld = None;
                let mut buf = [0u8; 64];
                while matches!(exits.socket.get_ref().read(&mut buf), Ok(n) if n > 0) {}
                exits.waiters.drain(..).for_each(Waker::wake);
            }
            if !exits.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                exits.waiters.push(cx.waker().clone());
            }
            Ok(())
        });
        if let Err(e) = registered {
            return Poll::Ready(Err(e));
        }
        let Some(pid) = Pid::from_raw(self.pid) else {
            return Poll::Ready(Err(io::Error::other("pid 0")));
        };
        match waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
        ) {
            Ok(Some(status)) => Poll::Ready(Ok(status)),
            Ok(None) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }
}

/// Block until child `pid` has exited, and reap it (on the blocking pool,
/// after SIGKILL).
pub(super) fn reap_blocking(pid: i32) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = waitid(WaitId::Pid(pid), WaitIdOptions::EXITED);
    }
}
