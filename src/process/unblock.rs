//! Running a blocking call off the loop thread, without hanging when no
//! thread can be started.
//!
//! smol's blocking pool (the `blocking` crate, 1.7) starts its first thread
//! when the first job arrives. If that start fails (`EAGAIN`: the limit on
//! processes, `ulimit -u`, or a cgroup's `pids.max`), it clamps its thread
//! limit to one and retries at once, in a loop whose condition stays true:
//! the thread that called `unblock` (ash's loop thread) spins at 100% CPU
//! until some other process of the user exits, which under a tight
//! `ulimit -u` taken up by ash's own threads is never. Once the pool has a
//! thread it keeps it (idle threads only exit above its 500-thread limit),
//! and a later failed start only lowers its limit to the threads it has.
//!
//! So a call goes to the pool only once a thread has been seen to start
//! (the pool's own first start follows microseconds later; should another
//! process take the last slot in between, the pool still spins until a slot
//! is free).
//! Until then, and always under a low limit on processes (where a pool
//! thread, never given back, would take the place of a child; see
//! `spawn::spawn_inline`), the call runs on a thread of its own
//! that ends with it, or on the calling thread when no thread can be
//! started at all (blocking the loop while it runs: a FIFO that nobody
//! opens then holds the shell).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A thread was started at least once (so the pool's first one will be).
static THREAD_STARTED: AtomicBool = AtomicBool::new(false);

fn use_pool() -> bool {
    THREAD_STARTED.load(Ordering::Relaxed) && !super::spawn::spawn_inline()
}

type Outcome<T> = std::thread::Result<T>;

/// Start `f` on a thread of its own; `Err(f)` when no thread can be started.
fn on_own_thread<T, F>(f: F) -> Result<smol::channel::Receiver<Outcome<T>>, F>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let job = Arc::new(Mutex::new(Some(f)));
    let (tx, rx) = smol::channel::bounded(1);
    let theirs = job.clone();
    let started = std::thread::Builder::new()
        .name("ash-blocking".into())
        .spawn(move || {
            let f = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(f) = f {
                let _ = tx.send_blocking(catch_unwind(AssertUnwindSafe(f)));
            }
        });
    match started {
        Ok(_) => {
            THREAD_STARTED.store(true, Ordering::Relaxed);
            Ok(rx)
        }
        Err(_) => match job.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(f) => Err(f),
            // Unreachable: a thread that failed to start never ran.
            None => Ok(rx),
        },
    }
}

/// Run `f` off the calling thread (see the module comment) and await its
/// result. A panic in `f` is resumed here, as `smol::unblock` does.
pub async fn unblock<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if use_pool() {
        return smol::unblock(f).await;
    }
    match on_own_thread(f) {
        Ok(rx) => match rx.recv().await {
            Ok(Ok(v)) => v,
            Ok(Err(panic)) => resume_unwind(panic),
            Err(_) => panic!("a blocking call's thread ended without a result"),
        },
        Err(f) => f(),
    }
}

/// Run `f` off the calling thread without waiting for it (or here, when
/// no thread can be started).
pub fn unblock_detached<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    if use_pool() {
        smol::unblock(f).detach();
    } else if let Err(f) = on_own_thread(f) {
        f();
    }
}

/// Start async-io's reactor and helper thread, once, before the first use
/// that needs them (a child, a polled pipe, the loop blocking). async-io
/// starts its thread on first use and panics when it cannot (`cannot spawn
/// async-io thread`); a panic in the middle of a run aborted ash (the
/// unwinding went through a destructor that tried again). Not at start-up:
/// a script that never waits (`ash -c true`) needs neither.
pub fn io_thread_ready() -> std::io::Result<()> {
    static READY: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    READY
        .get_or_init(start_io_thread)
        .clone()
        .map_err(std::io::Error::other)
}

fn start_io_thread() -> Result<(), String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    // Reactor::get() starts the thread; block_on's return would too.
    let started = catch_unwind(|| {
        let mut timer = async_io::Timer::after(std::time::Duration::from_secs(3600));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = std::future::Future::poll(std::pin::Pin::new(&mut timer), &mut cx);
    });
    std::panic::set_hook(hook);
    started.map_err(|panic| match std::thread::Builder::new().spawn(|| {}) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            "no thread can be created: the limit on processes (ulimit -u) was reached".into()
        }
        Err(e) => format!("no thread can be created: {e}"),
        Ok(probe) => {
            let _ = probe.join();
            let text = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied());
            format!("async-io failed: {}", text.unwrap_or("(no message)"))
        }
    })
}
