//! Cancellation tokens and a small wake-up list.
//!
//! A task has one token. `cancel $t`, a firing `timeout`, a failing
//! `gather` sibling or a signal *request* cancellation by setting a reason;
//! whatever the task is waiting on notices (every wait is raced against the
//! token) and the fiber raises `CancelledError` at that await point. As in
//! asyncio the request is one-shot: once raised, the token is clear again,
//! so `finally` blocks can await.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::timers::Timer;

/// Wakers waiting for something to change. Usually there is one waiter
/// (the task that owns the token), so one is kept without allocating. A
/// `Cell` (taken and put back) rather than a `RefCell`: one list lives in
/// every task's token, and the borrow flag cost 8 bytes there.
#[derive(Default)]
pub struct WakeList(Cell<Wakers>);

#[derive(Default)]
enum Wakers {
    #[default]
    None,
    One(Waker),
    Many(Vec<Waker>),
}

impl WakeList {
    pub fn register(&self, w: &Waker) {
        let list = match self.0.take() {
            Wakers::None => Wakers::One(w.clone()),
            Wakers::One(one) if one.will_wake(w) => Wakers::One(one),
            Wakers::One(one) => Wakers::Many(vec![one, w.clone()]),
            // A waiter polled again before being woken is usually the last
            // one in: checking the tail keeps registering O(1) with 10,000
            // waiters.
            Wakers::Many(mut v) => {
                if !v.iter().rev().take(4).any(|x| x.will_wake(w)) {
                    v.push(w.clone());
                }
                Wakers::Many(v)
            }
        };
        self.0.set(list);
    }

    /// Forget `w` (a waiter that no longer waits here: a wake-up meant
    /// for the next waiter must not be spent on it).
    pub fn remove(&self, w: &Waker) {
        let list = match self.0.take() {
            Wakers::One(one) if one.will_wake(w) => Wakers::None,
            Wakers::Many(mut v) => {
                v.retain(|x| !x.will_wake(w));
                Wakers::Many(v)
            }
            other => other,
        };
        self.0.set(list);
    }

    pub fn wake_all(&self) {
        match self.0.take() {
            Wakers::None => {}
            Wakers::One(w) => w.wake(),
            Wakers::Many(v) => v.into_iter().for_each(Waker::wake),
        }
    }

    /// Wake the `n` longest-waiting (for a resource of which `n` units just
    /// became free: waking every waiter would be a thundering herd).
    pub fn wake_n(&self, n: usize) {
        if n == 0 {
            return;
        }
        let woken: Vec<Waker> = match self.0.take() {
            Wakers::Many(mut v) => {
                let n = n.min(v.len());
                let woken = v.drain(..n).collect();
                self.0.set(Wakers::Many(v));
                woken
            }
            Wakers::One(w) => vec![w],
            Wakers::None => Vec::new(),
        };
        for w in woken {
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

impl CancelReason {
    /// `cancel`, `timeout` or `signal` (for observers).
    pub fn name(self) -> &'static str {
        match self {
            CancelReason::Cancel => "cancel",
            CancelReason::Timeout(_) => "timeout",
            CancelReason::Signal => "signal",
        }
    }
}

pub struct CancelToken {
    /// Names the scope in the `ASH_SCOPE` tokens of the processes started
    /// under it (see `process::contain`).
    id: u64,
    /// The number of the latest process group of this scope that finished:
    /// what it left behind is killed if the scope is cancelled.
    finished_group: Cell<u64>,
    reason: Cell<Option<CancelReason>>,
    /// In milliseconds (see [`grace_millis`]).
    grace: Cell<u32>,
    wakers: WakeList,
    /// Deadlines of the task's open `timeout` scopes: (scope, when, grace).
    /// They are checked by whatever the task waits on (see `Requested`),
    /// so a timeout needs no timer task of its own: a separate task would
    /// first have to get its turn on the loop to arm its timer, and under
    /// load (thousands of runnable tasks) that made timeouts fire late.
    /// Boxed, and only while there are any: every task has a token.
    deadlines: Cell<Option<Box<Deadlines>>>,
}

type Deadlines = Vec<(u64, Instant, Duration)>;

/// The scope of a deadline handed down from the context a task was
/// started in: exported to the task's programs as `ASH_DEADLINE` (and
/// given to remote bodies), never enforced by this token, whose parent
/// enforces it.
const INHERITED: u64 = 0;

/// A grace period as kept in a token: whole milliseconds, rounded up, at
/// most 49 days (a token lives in every task, and a `Duration` is twice
/// the size).
fn grace_millis(grace: Duration) -> u32 {
    let millis = grace.as_nanos().div_ceil(1_000_000);
    u32::try_from(millis).unwrap_or(u32::MAX)
}

impl Default for CancelToken {
    fn default() -> CancelToken {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        CancelToken {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            finished_group: Cell::new(0),
            reason: Cell::new(None),
            grace: Cell::new(0),
            wakers: WakeList::default(),
            deadlines: Cell::new(None),
        }
    }
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
                self.grace.set(grace_millis(grace));
            }
            Some(_) => self.grace.set(self.grace.get().min(grace_millis(grace))),
        }
        self.wakers.wake_all();
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// A token for a context started from this one (a task, a gather
    /// branch, a pipeline stage): it knows the earliest deadline of this
    /// one's scopes, to export it, but leaves enforcing it to this one.
    pub fn child(&self) -> CancelToken {
        let token = CancelToken::default();
        if let Some((when, grace)) = self.earliest_deadline() {
            token.with_deadlines(|d| d.push((INHERITED, when, grace)));
        }
        token
    }

    /// The earliest deadline the task's work is under, inherited ones
    /// included, with the grace period of its scope: what `ASH_DEADLINE`
    /// says to the task's programs and what a remote body is given.
    pub fn earliest_deadline(&self) -> Option<(Instant, Duration)> {
        let deadlines = self.deadlines.take();
        let earliest = deadlines
            .iter()
            .flat_map(|d| d.iter())
            .min_by_key(|d| d.1)
            .map(|&(_, when, grace)| (when, grace));
        self.deadlines.set(deadlines);
        earliest
    }

    /// A process group started under this scope has finished.
    pub fn group_finished(&self, number: u64) {
        self.finished_group
            .set(self.finished_group.get().max(number));
    }

    /// The scope (or the part of it since group `from`) was cancelled: kill
    /// what its finished commands left behind. Their own groups are gone,
    /// so nothing else reaches a daemon they started; the `/proc` scan runs
    /// only if such a command finished.
    pub fn kill_left_behind(&self, from: u64) {
        let last = self.finished_group.get();
        if last != 0 && last >= from {
            crate::process::contain::kill_left_behind(self.id, from);
        }
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

    /// Open a `timeout` scope: at `when`, cancellation is requested with
    /// `CancelReason::Timeout(scope)`.
    pub fn push_deadline(&self, scope: u64, when: Instant, grace: Duration) {
        self.with_deadlines(|d| d.push((scope, when, grace)));
        // Waits in progress re-arm their timer for the new deadline.
        self.wakers.wake_all();
    }

    /// Close a `timeout` scope (and drop its request if it already fired).
    pub fn pop_deadline(&self, scope: u64) {
        self.with_deadlines(|d| d.retain(|d| d.0 != scope));
        self.clear_if(CancelReason::Timeout(scope));
    }

    /// Change the open deadlines (the box goes when the last one does).
    fn with_deadlines(&self, change: impl FnOnce(&mut Deadlines)) {
        let mut deadlines = self.deadlines.take().unwrap_or_default();
        change(&mut deadlines);
        if !deadlines.is_empty() {
            self.deadlines.set(Some(deadlines));
        }
    }

    /// Request cancellation for every deadline that has passed; the
    /// earliest one still ahead.
    pub fn check_deadlines(&self) -> Option<Instant> {
        // Most tasks are in no `timeout`: no clock read for them.
        let deadlines = self.deadlines.take()?;
        let now = Instant::now();
        let mut next = None::<Instant>;
        let mut fired = None;
        let deadlines = Some(deadlines);
        for &(scope, when, grace) in deadlines.iter().flat_map(|d| d.iter()) {
            if scope == INHERITED {
                continue;
            }
            if when <= now {
                // The earliest expired scope is the one reported.
                if fired.is_none_or(|(_, w, _)| when < w) {
                    fired = Some((scope, when, grace));
                }
            } else if next.is_none_or(|n| when < n) {
                next = Some(when);
            }
        }
        self.deadlines.set(deadlines);
        if let Some((scope, _, grace)) = fired {
            if crate::observe::on() {
                crate::observe::emit(crate::observe::Event::TimeoutExpired { scope });
            }
            // It fires once: the body's `finally` blocks may then await.
            self.with_deadlines(|d| d.retain(|d| d.0 != scope));
            self.cancel(CancelReason::Timeout(scope), grace);
        }
        next
    }

    /// Resolves, with the grace period, once cancellation is requested
    /// (including by an expiring `timeout` deadline).
    pub fn requested(self: &Rc<Self>) -> Requested {
        Requested {
            token: self.clone(),
            timer: Timer::default(),
        }
    }
}

pub struct Requested {
    token: Rc<CancelToken>,
    /// Armed for the earliest deadline ahead.
    timer: Timer,
}

impl Future for Requested {
    type Output = Duration;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Duration> {
        let next = self.token.check_deadlines();
        if self.token.reason.get().is_some() {
            return Poll::Ready(Duration::from_millis(self.token.grace.get().into()));
        }
        self.token.wakers.register(cx.waker());
        match next {
            Some(when) => self.timer.arm(when, cx.waker()),
            None => self.timer.disarm(),
        }
        Poll::Pending
    }
}

/// `sleep`: a deadline raced against the task's cancellation (and its
/// `timeout` deadlines), with one timer registration for whichever comes
/// first. Not a future of its own: the task's driver polls it with the
/// task's token, so the 100,000 sleeping tasks do not each keep a pointer
/// to a token they already have.
pub struct Sleep {
    until: Instant,
    timer: Timer,
}

impl Sleep {
    pub fn new(until: Instant) -> Sleep {
        Sleep {
            until,
            timer: Timer::default(),
        }
    }

    /// `Err(())`: cancelled.
    pub fn poll(&mut self, token: &CancelToken, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let next = token.check_deadlines();
        // A finished sleep wins over a request that came with it.
        if Instant::now() >= self.until {
            return Poll::Ready(Ok(()));
        }
        if token.reason.get().is_some() {
            return Poll::Ready(Err(()));
        }
        token.wakers.register(cx.waker());
        let when = next.map_or(self.until, |n| n.min(self.until));
        self.timer.arm(when, cx.waker());
        Poll::Pending
    }
}
