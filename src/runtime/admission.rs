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
//!
//! A slot must never be held across a wait for another slot: a `$( )` or
//! a pipeline keeps its slot while the ash code inside it runs, and that
//! code (a nested capture, `ext | fn` recursion, a task it spawns and
//! awaits, the branches of a `gather`) may need slots too. Were it to wait
//! in the pool, nesting or fan-out past the pool's size would deadlock
//! with every slot held by a waiter. So every held slot comes with a
//! [`Reserve`], handed to the code inside through its I/O (`Io::reserve`,
//! inherited by pipeline stages, spawned tasks and branches): when the
//! pool is empty, that code takes the reserve, one construct at a time,
//! past the pool's size. A chain of holders therefore always has one
//! member that can go on, and the pool still bounds fan-out (a `gather`
//! of 10,000 branches inside one capture runs at most one construct past
//! it). Nesting costs what it really holds (a pipe per capture level), no
//! more.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::cancel::WakeList;

/// At most this many external processes run at once.
pub const MAX_SLOTS: usize = 512;

pub struct Slots {
    free: Cell<usize>,
    total: usize,
    waiters: WakeList,
}

/// Slots held by a running pipeline or capture; returned when dropped.
pub struct Permit {
    slots: Rc<Slots>,
    n: usize,
    /// Set when the slots were taken past the pool, on this reserve.
    reserve: Option<Rc<Reserve>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(reserve) = &self.reserve {
            reserve.taken.set(false);
            reserve.waiters.wake_n(1);
            return;
        }
        self.slots.free.set(self.slots.free.get() + self.n);
        self.slots.waiters.wake_n(self.n);
    }
}

/// What the code inside a held slot may take when the pool is empty: one
/// construct's slots at a time, past the pool's size (see the module
/// comment). Shared by everything that runs inside the holder.
#[derive(Default)]
pub struct Reserve {
    taken: Cell<bool>,
    waiters: WakeList,
}

impl Reserve {
    /// A fresh reserve, for the code that runs inside a new permit.
    pub fn new() -> Rc<Reserve> {
        Rc::new(Reserve::default())
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

    /// Take `n` slots if they are free now: from the pool, else from
    /// `reserve` (that of the holder this code runs inside, if any).
    pub fn try_acquire(self: &Rc<Self>, n: usize, reserve: Option<&Rc<Reserve>>) -> Option<Permit> {
        let n = n.min(self.total);
        if self.free.get() >= n {
            self.free.set(self.free.get() - n);
            return Some(Permit {
                slots: self.clone(),
                n,
                reserve: None,
            });
        }
        let reserve = reserve.filter(|r| !r.taken.get())?;
        reserve.taken.set(true);
        Some(Permit {
            slots: self.clone(),
            n,
            reserve: Some(reserve.clone()),
        })
    }

    /// Wait for `n` slots at once (all of a pipeline's, so two pipelines
    /// never hold part of what each needs), or for `reserve`. More than
    /// the total is clamped.
    pub fn acquire(self: &Rc<Self>, n: usize, reserve: Option<Rc<Reserve>>) -> Acquire {
        Acquire {
            slots: self.clone(),
            n: n.min(self.total),
            reserve,
            done: false,
            registered: None,
        }
    }
}

/// Waiting for slots. A release wakes only as many waiters as slots it
/// freed; a waiter dropped while waiting (cancelled) passes its wake-up on,
/// so free slots are never left with everyone asleep.
pub struct Acquire {
    slots: Rc<Slots>,
    n: usize,
    reserve: Option<Rc<Reserve>>,
    done: bool,
    /// The waker registered with the pool (and the reserve): taken off
    /// both lists when this waiter is served by one of them, or dropped,
    /// so a release never spends its wake-up on a waiter that left.
    registered: Option<Waker>,
}

impl Acquire {
    fn unregister(&mut self) {
        if let Some(w) = self.registered.take() {
            self.slots.waiters.remove(&w);
            if let Some(reserve) = &self.reserve {
                reserve.waiters.remove(&w);
            }
        }
    }
}

impl Future for Acquire {
    type Output = Permit;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Permit> {
        let slots = self.slots.clone();
        if let Some(permit) = slots.try_acquire(self.n, self.reserve.as_ref()) {
            self.done = true;
            // Served by one list while waiting in two: leave the other.
            // (Without a reserve the pool's release woke this waiter off
            // its list, as before reserves.)
            if self.reserve.is_some() {
                self.unregister();
            }
            if slots.free.get() > 0 {
                slots.waiters.wake_n(1);
            }
            return Poll::Ready(permit);
        }
        slots.waiters.register(cx.waker());
        if let Some(reserve) = &self.reserve {
            reserve.waiters.register(cx.waker());
        }
        if !self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            self.registered = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.unregister();
        if self.slots.free.get() > 0 {
            self.slots.waiters.wake_n(1);
        }
        if let Some(reserve) = self.reserve.as_ref().filter(|r| !r.taken.get()) {
            reserve.waiters.wake_n(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_admits_one_construct_past_an_empty_pool() {
        let pool = Slots::with_total(1);
        let outer = pool.try_acquire(1, None).expect("a free slot");
        let reserve = Reserve::new();
        // The pool is empty: nothing outside a holder gets in...
        assert!(pool.try_acquire(1, None).is_none());
        // ...but the code inside the holder does, once at a time.
        let inner = pool.try_acquire(3, Some(&reserve)).expect("the reserve");
        assert!(pool.try_acquire(1, Some(&reserve)).is_none());
        drop(inner);
        assert_eq!(pool.free.get(), 0, "a reserve's permit is not the pool's");
        let again = pool
            .try_acquire(1, Some(&reserve))
            .expect("the reserve, given back");
        drop(again);
        drop(outer);
        assert_eq!(pool.free.get(), 1);
        // With the pool free again, the pool comes first.
        let from_pool = pool.try_acquire(1, Some(&reserve)).expect("a free slot");
        assert!(from_pool.reserve.is_none() && !reserve.taken.get());
    }

    /// A waker that notes it was woken.
    struct Flag(std::sync::atomic::AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn flag() -> (std::sync::Arc<Flag>, Waker) {
        let f = std::sync::Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
        (f.clone(), Waker::from(f))
    }

    #[test]
    fn a_waiter_served_by_its_reserve_leaves_the_pool_s_queue() {
        let pool = Slots::with_total(1);
        let outer = pool.try_acquire(1, None).expect("a free slot");
        let reserve = Reserve::new();
        let inner = pool.try_acquire(1, Some(&reserve)).expect("the reserve");
        // W waits for the pool or the reserve, X (outside) for the pool.
        let (_, w_waker) = flag();
        let (x_woken, x_waker) = flag();
        let mut w = pool.acquire(1, Some(reserve.clone()));
        let mut x = pool.acquire(1, None);
        let mut cx = std::task::Context::from_waker(&w_waker);
        assert!(std::pin::Pin::new(&mut w).poll(&mut cx).is_pending());
        let mut cx = std::task::Context::from_waker(&x_waker);
        assert!(std::pin::Pin::new(&mut x).poll(&mut cx).is_pending());
        // The reserve comes back first and serves W...
        drop(inner);
        let mut cx = std::task::Context::from_waker(&w_waker);
        let Poll::Ready(_served) = std::pin::Pin::new(&mut w).poll(&mut cx) else {
            panic!("W not served by its reserve");
        };
        // ...then the pool's slot: its wake-up goes to X, not to W.
        drop(outer);
        assert!(x_woken.0.load(std::sync::atomic::Ordering::SeqCst));
    }
}
