//! Admission control for external processes.
//!
//! Every running child costs ash file descriptors (a pidfd, pipe ends) and
//! costs each later spawn time (the kernel copies the fd table on every
//! spawn, so 10,000 live children make spawning quadratic). A pipeline
//! therefore takes one *slot* per external stage before it starts and gives
//! them back when it has been reaped; a `$( )` capture takes a slot of a
//! second pool for its pipe. Both are sized from the open-file limit,
//! capped; when they run out, pipelines and captures wait for a slot
//! instead of failing with EMFILE or EAGAIN.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

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
        self.slots.waiters.wake_n(self.n);
    }
}

impl Slots {
    /// Sized from the soft open-file limit: each process may hold a few
    /// fds, and ash keeps some for itself.
    ///
    /// Two pools share the fd budget: processes (a pidfd and pipe ends,
    /// about 4 fds each) and `$( )` captures (a pipe, 2 fds). Separate
    /// pools, so a capture holding its slot while the command inside waits
    /// for a process slot cannot starve the processes.
    pub fn from_fd_limit() -> (Rc<Slots>, Rc<Slots>) {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1 << 20) as usize;
        let budget = limit.saturating_sub(64);
        let processes = (budget / 6).clamp(4, MAX_SLOTS);
        let captures = (budget / 6).clamp(4, 2 * MAX_SLOTS);
        (Slots::with_total(processes), Slots::with_total(captures))
    }

    fn with_total(total: usize) -> Rc<Slots> {
        Rc::new(Slots {
            free: Cell::new(total),
            total,
            waiters: WakeList::default(),
        })
    }

    /// Take `n` slots if they are free now.
    pub fn try_acquire(self: &Rc<Self>, n: usize) -> Option<Permit> {
        let n = n.min(self.total);
        (self.free.get() >= n).then(|| {
            self.free.set(self.free.get() - n);
            Permit {
                slots: self.clone(),
                n,
            }
        })
    }

    /// Wait for `n` slots at once (all of a pipeline's, so two pipelines
    /// never hold part of what each needs). More than the total is clamped.
    pub fn acquire(self: &Rc<Self>, n: usize) -> Acquire {
        Acquire {
            slots: self.clone(),
            n: n.min(self.total),
            done: false,
        }
    }
}

/// Waiting for slots. A release wakes only as many waiters as slots it
/// freed; a waiter dropped while waiting (cancelled) passes its wake-up on,
/// so free slots are never left with everyone asleep.
pub struct Acquire {
    slots: Rc<Slots>,
    n: usize,
    done: bool,
}

impl Future for Acquire {
    type Output = Permit;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Permit> {
        let slots = self.slots.clone();
        if slots.free.get() >= self.n {
            slots.free.set(slots.free.get() - self.n);
            self.done = true;
            if slots.free.get() > 0 {
                slots.waiters.wake_n(1);
            }
            return Poll::Ready(Permit { slots, n: self.n });
        }
        slots.waiters.register(cx.waker());
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if !self.done && self.slots.free.get() > 0 {
            self.slots.waiters.wake_n(1);
        }
    }
}
