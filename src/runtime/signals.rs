//! SIGINT, SIGTERM and SIGCHLD for scripts, delivered by the loop.
//!
//! The handlers (signal-hook) only set a flag and write a byte to a socket.
//! [`super::run_loop`] hands raised flags to the task waiting in [`next`]
//! after every tick slice, and when the loop has nothing to run it also
//! waits for the socket. The socket is made, given to the handlers and
//! joins async-io's reactor only then: a script that never waits (`ash -c
//! true`) never pays for a socket pair (a sixth of its system time) nor
//! starts the reactor and its helper thread, while a busy script still sees
//! a signal within a slice. A signal that came before the socket raised its
//! flag, which the loop's first wait looks at.

use std::cell::RefCell;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Poll, Waker};

use async_io::Async;
use signal_hook::consts::{SIGCHLD, SIGINT, SIGTERM};

/// A signal the script handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
    Child,
}

struct Installed {
    /// Raised by the handlers, in the order [`next`] reports them.
    flags: [(Signal, Arc<AtomicBool>); 3],
    /// The read end of the wake-up socket (the handlers write the other),
    /// registered with the reactor; made when the loop first blocks.
    wake: Option<Rc<Async<UnixStream>>>,
    /// Whether making it was tried (it is not tried again).
    wake_tried: bool,
    /// The task waiting in [`next`].
    waiter: Option<Waker>,
}

thread_local! {
    static INSTALLED: RefCell<Option<Installed>> = const { RefCell::new(None) };
}

/// Catch SIGINT, SIGTERM and SIGCHLD from now on (once per thread).
pub fn install() -> std::io::Result<()> {
    if INSTALLED.with_borrow(Option::is_some) {
        return Ok(());
    }
    let flags = [
        (Signal::Term, Arc::new(AtomicBool::new(false))),
        (Signal::Int, Arc::new(AtomicBool::new(false))),
        (Signal::Child, Arc::new(AtomicBool::new(false))),
    ];
    for (signal, flag) in &flags {
        let number = match signal {
            Signal::Int => SIGINT,
            Signal::Term => SIGTERM,
            Signal::Child => SIGCHLD,
        };
        // The flag first: whoever sees the byte then finds the flag set.
        signal_hook::flag::register(number, flag.clone())?;
    }
    INSTALLED.set(Some(Installed {
        flags,
        wake: None,
        wake_tried: false,
        waiter: None,
    }));
    Ok(())
}

/// The next signal (SIGTERM before SIGINT before SIGCHLD when several are
/// pending; repeats of one signal between two looks are one).
pub async fn next() -> Signal {
    futures_lite::future::poll_fn(|cx| {
        INSTALLED.with_borrow_mut(|installed| {
            let Some(installed) = installed else {
                return Poll::Pending;
            };
            for (signal, flag) in &installed.flags {
                if flag.swap(false, Ordering::SeqCst) {
                    return Poll::Ready(*signal);
                }
            }
            installed.waiter = Some(cx.waker().clone());
            Poll::Pending
        })
    })
    .await
}

/// SIGTERM or SIGINT came and was not taken by [`next`] yet (one that
/// arrived while the script was compiled, or in the last moments of the
/// run, when nothing waited for it any more).
pub fn pending() -> Option<Signal> {
    INSTALLED.with_borrow(|installed| {
        let installed = installed.as_ref()?;
        installed
            .flags
            .iter()
            .find(|(signal, flag)| *signal != Signal::Child && flag.load(Ordering::SeqCst))
            .map(|(signal, _)| *signal)
    })
}

/// Wake the waiting task if a signal came (the loop calls this often).
pub fn deliver() {
    let waiter = INSTALLED.with_borrow_mut(|installed| {
        let installed = installed.as_mut()?;
        if installed
            .flags
            .iter()
            .any(|(_, flag)| flag.load(Ordering::SeqCst))
        {
            installed.waiter.take()
        } else {
            None
        }
    });
    if let Some(w) = waiter {
        w.wake();
    }
}

/// Resolves when a signal handler has run since the last call (for the
/// loop's blocking wait); never, if no handlers are installed.
pub async fn arrived() {
    let mut made_now = false;
    let socket = INSTALLED.with_borrow_mut(|installed| {
        let installed = installed.as_mut()?;
        if !installed.wake_tried {
            crate::process::io_thread_ready().ok()?;
            installed.wake_tried = true;
            installed.wake = wake_socket().ok().map(Rc::new);
            made_now = true;
        }
        installed.wake.clone()
    });
    let Some(socket) = socket else {
        return futures_lite::future::pending().await;
    };
    // A signal that came before the handlers had the socket only raised
    // its flag: the byte it would have written.
    if made_now && raised() {
        return;
    }
    let _ = socket.readable().await;
    // Drain what the handlers wrote; the flags say which signals came.
    let mut buf = [0u8; 64];
    while let Ok(n @ 1..) = socket.get_ref().read(&mut buf) {
        if n < buf.len() {
            break;
        }
    }
}

/// Whether any handler raised its flag and [`next`] has not taken it yet.
fn raised() -> bool {
    INSTALLED.with_borrow(|installed| {
        installed
            .as_ref()
            .is_some_and(|i| i.flags.iter().any(|(_, flag)| flag.load(Ordering::SeqCst)))
    })
}

/// The wake-up socket, its write end given to the handlers of SIGTERM,
/// SIGINT and SIGCHLD (after their flags: whoever sees the byte then finds
/// the flag set).
fn wake_socket() -> std::io::Result<Async<UnixStream>> {
    let (read, write) = UnixStream::pair()?;
    for number in [SIGTERM, SIGINT, SIGCHLD] {
        signal_hook::low_level::pipe::register(number, write.try_clone()?)?;
    }
    Async::new(read)
}
