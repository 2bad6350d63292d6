//! Admission control for external processes.
//!
//! Every running child costs ash file descriptors (a pidfd, pipe ends) and
//! costs each later spawn time (the kernel copies the fd table on every
//! spawn, so 10,000 live children make spawning quadratic). A pipeline
//! therefore takes one *slot* per external stage before it starts and gives
//! them back when it has been reaped. The number of slots is sized from the
//! open-file limit, capped; when they run out, pipelines wait for a slot
//! instead of failing with EMFILE or EAGAIN.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

use futures_lite::future;

use super::cancel::WakeList;

/// At most this many external processes run at once.
pub const MAX_SLOTS: usize = 512;

pub struct Slots {
    free: Cell<usize>,
    total: usize,
    waiters: WakeList,
}

/// Slots held by a running pipeline; returned when dropped.
pub struct Permit {
    slots: Rc<Slots>,
    n: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.slots.free.set(self.slots.free.get() + self.n);
        self.slots.waiters.wake_all();
    }
}

impl Slots {
    /// Sized from the soft open-file limit: each process may hold a few
    /// fds, and ash keeps some for itself.
    pub fn from_fd_limit() -> Rc<Slots> {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1 << 20) as usize;
        let total = (limit.saturating_sub(64) / 4).clamp(4, MAX_SLOTS);
        Rc::new(Slots {
            free: Cell::new(total),
            total,
            waiters: WakeList::default(),
        })
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// Wait for `n` slots at once (all of a pipeline's, so two pipelines
    /// never hold part of what each needs). More than the total is clamped.
    pub fn acquire(self: &Rc<Self>, n: usize) -> impl Future<Output = Permit> + use<> {
        let slots = self.clone();
        let n = n.min(slots.total);
        future::poll_fn(move |cx| {
            if slots.free.get() >= n {
                slots.free.set(slots.free.get() - n);
                Poll::Ready(Permit {
                    slots: slots.clone(),
                    n,
                })
            } else {
                slots.waiters.register(cx.waker());
                Poll::Pending
            }
        })
    }
}
