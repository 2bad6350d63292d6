//! Cancellation tokens and a small wake-up list.
//!
//! A task has one token. `cancel $t`, a firing `timeout`, a failing
//! `gather` sibling or a signal *request* cancellation by setting a reason;
//! whatever the task is waiting on notices (every wait is raced against the
//! token) and the fiber raises `CancelledError` at that await point. As in
//! asyncio the request is one-shot: once raised, the token is clear again,
//! so `finally` blocks can await.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Wakers waiting for something to change.
#[derive(Default)]
pub struct WakeList(RefCell<Vec<Waker>>);

impl WakeList {
    pub fn register(&self, w: &Waker) {
        let mut list = self.0.borrow_mut();
        if !list.iter().any(|x| x.will_wake(w)) {
            list.push(w.clone());
        }
    }

    pub fn wake_all(&self) {
        let list = std::mem::take(&mut *self.0.borrow_mut());
        for w in list {
            w.wake();
        }
    }
}

/// Why a task was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// `cancel $t`, a failed `gather` sibling, a lost `race`, script end.
    Cancel,
    /// The `timeout` scope with this id expired.
    Timeout(u64),
    /// SIGINT / SIGTERM.
    Signal,
}

#[derive(Default)]
pub struct CancelToken {
    reason: Cell<Option<CancelReason>>,
    grace: Cell<Duration>,
    wakers: WakeList,
}

/// The default time between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

impl CancelToken {
    /// Request cancellation. A request already pending is kept (the first
    /// reason wins) but a shorter grace period applies.
    pub fn cancel(&self, reason: CancelReason, grace: Duration) {
        match self.reason.get() {
            None => {
                self.reason.set(Some(reason));
                self.grace.set(grace);
            }
            Some(_) => self.grace.set(self.grace.get().min(grace)),
        }
        self.wakers.wake_all();
    }

    pub fn is_requested(&self) -> bool {
        self.reason.get().is_some()
    }

    pub fn reason(&self) -> Option<CancelReason> {
        self.reason.get()
    }

    /// Consume the request (the fiber is raising `CancelledError` for it).
    pub fn take(&self) -> Option<CancelReason> {
        self.reason.take()
    }

    /// Drop a stale timeout request of a scope that has already ended.
    pub fn clear_if(&self, reason: CancelReason) {
        if self.reason.get() == Some(reason) {
            self.reason.set(None);
        }
    }

    /// Resolves, with the grace period, once cancellation is requested.
    pub fn requested(self: &Rc<Self>) -> Requested {
        Requested(self.clone())
    }
}

pub struct Requested(Rc<CancelToken>);

impl Future for Requested {
    type Output = Duration;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Duration> {
        if self.0.reason.get().is_some() {
            Poll::Ready(self.0.grace.get())
        } else {
            self.0.wakers.register(cx.waker());
            Poll::Pending
        }
    }
}
