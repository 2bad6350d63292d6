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

use super::TaskCtx;
use super::timers::{self, Registration, Timer};

/// Wakers waiting for something to change. Usually there is one waiter
/// (the task that owns the token), so one is kept without allocating. A
/// `Cell` (taken and put back) rather than a `RefCell`: one list lives in
/// every task's token, and the borrow flag cost 8 bytes there.
#[derive(Default)]
pub struct WakeList(Cell<Wakers>);

/// Two variants, not three: the empty list is `Many(None)`, so the enum
/// fits in a `Waker`'s 16 bytes (a third variant took 24, in every token).
#[allow(clippy::box_collection)] // a pointer where a Vec is three: see above
enum Wakers {
    One(Waker),
    Many(Option<Box<Vec<Waker>>>),
}

impl Default for Wakers {
    fn default() -> Wakers {
        Wakers::Many(None)
    }
}

impl WakeList {
    pub fn register(&self, w: &Waker) {
        let list = match self.0.take() {
            Wakers::Many(None) => Wakers::One(w.clone()),
            Wakers::One(one) if one.will_wake(w) => Wakers::One(one),
            Wakers::One(one) => Wakers::Many(Some(Box::new(vec![one, w.clone()]))),
            // A waiter polled again before being woken is usually the last
            // one in: checking the tail keeps registering O(1) with 10,000
            // waiters.
            Wakers::Many(Some(mut v)) => {
                if !v.iter().rev().take(4).any(|x| x.will_wake(w)) {
                    v.push(w.clone());
                }
                Wakers::Many(Some(v))
            }
        };
        self.0.set(list);
    }

    /// Forget `w` (a waiter that no longer waits here: a wake-up meant
    /// for the next waiter must not be spent on it).
    pub fn remove(&self, w: &Waker) {
        let list = match self.0.take() {
            Wakers::One(one) if one.will_wake(w) => Wakers::default(),
            Wakers::Many(Some(mut v)) => {
                v.retain(|x| !x.will_wake(w));
                Wakers::Many(Some(v))
            }
            other => other,
        };
        self.0.set(list);
    }

    pub fn wake_all(&self) {
        match self.0.take() {
            Wakers::Many(None) => {}
            Wakers::One(w) => w.wake(),
            Wakers::Many(Some(v)) => v.into_iter().for_each(Waker::wake),
        }
    }

    /// Wake the `n` longest-waiting (for a resource of which `n` units just
    /// became free: waking every waiter would be a thundering herd).
    pub fn wake_n(&self, n: usize) {
        if n == 0 {
            return;
        }
        let woken: Vec<Waker> = match self.0.take() {
            Wakers::Many(Some(mut v)) => {
                let n = n.min(v.len());
                let woken = v.drain(..n).collect();
                self.0.set(Wakers::Many(Some(v)));
                woken
            }
            Wakers::One(w) => vec![w],
            Wakers::Many(None) => Vec::new(),
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
    wakers: WakeList,
    /// What only tasks that run commands, open a `timeout` or are asked to
    /// stop need, boxed on first use: every task has a token, an `Rc` of 40
    /// bytes (malloc's 48-byte class; tests/sizes.rs), where these fields
    /// inline took 80 (and with the request and the scope's number kept
    /// inline, 56: the 64-byte class).
    scopes: Cell<Option<Box<Scopes>>>,
}

#[derive(Default)]
struct Scopes {
    /// The pending request: what kind, and its grace period; with the
    /// timeout's scope below, the `CancelReason` (see
    /// [`CancelToken::reason`]).
    request: Request,
    /// Names the scope in the `ASH_SCOPE` tokens of the processes started
    /// under it (see `process::contain`); given when the first one starts
    /// (0: not yet).
    id: u64,
    /// The number of the latest process group of this scope that finished:
    /// what it left behind is killed if the scope is cancelled.
    finished_group: u64,
    /// The scope of a pending `CancelReason::Timeout`.
    timeout_scope: u64,
    /// Deadlines of the task's open `timeout` scopes: (scope, when, grace).
    /// They are checked by whatever the task waits on (see `Requested`),
    /// so a timeout needs no timer task of its own: a separate task would
    /// first have to get its turn on the loop to arm its timer, and under
    /// load (thousands of runnable tasks) that made timeouts fire late.
    deadlines: Deadlines,
}

type Deadlines = Vec<(u64, Instant, Duration)>;

/// A token's pending request, without the timeout's scope.
#[derive(Clone, Copy, Default)]
struct Request {
    kind: RequestKind,
    /// In milliseconds (see [`grace_millis`]).
    grace: u32,
}

#[derive(Clone, Copy, Default, PartialEq)]
enum RequestKind {
    #[default]
    None,
    Cancel,
    Timeout,
    Signal,
}

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
        CancelToken {
            wakers: WakeList::default(),
            scopes: Cell::new(None),
        }
    }
}

/// The default time between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

impl CancelToken {
    /// Request cancellation. A request already pending is kept (the first
    /// reason wins) but a shorter grace period applies.
    pub fn cancel(&self, reason: CancelReason, grace: Duration) {
        let grace = grace_millis(grace);
        let request = self.request();
        match request.kind {
            RequestKind::None => self.set_reason(Some(reason), grace),
            _ => self.set_request(Request {
                grace: request.grace.min(grace),
                ..request
            }),
        }
        self.wakers.wake_all();
    }

    /// The scope's number, unique in the process (given on first use:
    /// most tasks start no program, and need none).
    pub fn id(&self) -> u64 {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        self.with_scopes(|s| {
            if s.id == 0 {
                s.id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            s.id
        })
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
        self.peek_scopes(|scopes| {
            scopes
                .iter()
                .flat_map(|s| s.deadlines.iter())
                .min_by_key(|d| d.1)
                .map(|&(_, when, grace)| (when, grace))
        })
    }

    /// Look at the boxed fields (`None` if never used); nothing in `f` may
    /// touch them again.
    fn peek_scopes<R>(&self, f: impl FnOnce(Option<&Scopes>) -> R) -> R {
        let scopes = self.scopes.take();
        let r = f(scopes.as_deref());
        self.scopes.set(scopes);
        r
    }

    /// The pending request (none if the fields were never boxed).
    fn request(&self) -> Request {
        self.peek_scopes(|s| s.map(|s| s.request).unwrap_or_default())
    }

    fn set_request(&self, request: Request) {
        // Clearing a request that was never made boxes nothing.
        if request.kind == RequestKind::None && self.peek_scopes(|s| s.is_none()) {
            return;
        }
        self.with_scopes(|s| s.request = request);
    }

    /// Change the boxed fields (boxed now if they were not).
    fn with_scopes<R>(&self, f: impl FnOnce(&mut Scopes) -> R) -> R {
        let mut scopes = self.scopes.take().unwrap_or_default();
        let r = f(&mut scopes);
        self.scopes.set(Some(scopes));
        r
    }

    /// A process group started under this scope has finished.
    pub fn group_finished(&self, number: u64) {
        self.with_scopes(|s| s.finished_group = s.finished_group.max(number));
    }

    /// The scope (or the part of it since group `from`) was cancelled: kill
    /// what its finished commands left behind. Their own groups are gone,
    /// so nothing else reaches a daemon they started; the `/proc` scan runs
    /// only if such a command finished.
    pub fn kill_left_behind(&self, from: u64) {
        // A finished group means the scope has its number.
        let (id, last) = self.peek_scopes(|s| s.map_or((0, 0), |s| (s.id, s.finished_group)));
        if last != 0 && last >= from {
            crate::process::contain::kill_left_behind(id, from);
        }
    }

    pub fn is_requested(&self) -> bool {
        self.request().kind != RequestKind::None
    }

    pub fn reason(&self) -> Option<CancelReason> {
        match self.request().kind {
            RequestKind::None => None,
            RequestKind::Cancel => Some(CancelReason::Cancel),
            RequestKind::Timeout => Some(CancelReason::Timeout(
                self.peek_scopes(|s| s.map_or(0, |s| s.timeout_scope)),
            )),
            RequestKind::Signal => Some(CancelReason::Signal),
        }
    }

    /// The grace period of the pending request.
    fn grace(&self) -> Duration {
        Duration::from_millis(self.request().grace.into())
    }

    fn set_reason(&self, reason: Option<CancelReason>, grace: u32) {
        let kind = match reason {
            None => RequestKind::None,
            Some(CancelReason::Cancel) => RequestKind::Cancel,
            Some(CancelReason::Timeout(scope)) => {
                self.with_scopes(|s| s.timeout_scope = scope);
                RequestKind::Timeout
            }
            Some(CancelReason::Signal) => RequestKind::Signal,
        };
        self.set_request(Request { kind, grace });
    }

    /// Consume the request (the fiber is raising `CancelledError` for it).
    pub fn take(&self) -> Option<CancelReason> {
        let reason = self.reason();
        self.set_reason(None, self.request().grace);
        reason
    }

    /// Drop a stale timeout request of a scope that has already ended.
    pub fn clear_if(&self, reason: CancelReason) {
        if self.reason() == Some(reason) {
            self.set_reason(None, self.request().grace);
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

    /// Change the open deadlines.
    fn with_deadlines(&self, change: impl FnOnce(&mut Deadlines)) {
        self.with_scopes(|s| change(&mut s.deadlines));
    }

    /// Request cancellation for every deadline that has passed; the
    /// earliest one still ahead.
    pub fn check_deadlines(&self) -> Option<Instant> {
        // Most tasks are in no `timeout`: no clock read for them.
        let scopes = self.scopes.take();
        let Some(deadlines) = scopes
            .as_ref()
            .map(|s| &s.deadlines)
            .filter(|d| !d.is_empty())
        else {
            self.scopes.set(scopes);
            return None;
        };
        let now = Instant::now();
        let mut next = None::<Instant>;
        let mut fired = None;
        for &(scope, when, grace) in deadlines {
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
        self.scopes.set(scopes);
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
    pub fn requested(&self) -> Requested<'_> {
        Requested {
            token: self,
            timer: Timer::default(),
        }
    }
}

/// A handle on a context's cancellation token, for what waits on the
/// token's behalf (a wait raced against it, a pipeline passing a request
/// on): the token lives inside its task's context (one allocation per
/// task, not two), so the handle keeps the context, and with it the pipes
/// the context's I/O holds; a holder that may outlive the task keeps a
/// `Weak` of the context instead.
#[derive(Clone)]
pub struct TokenRef(Rc<TaskCtx>);

impl TokenRef {
    pub fn of(ctx: &Rc<TaskCtx>) -> TokenRef {
        TokenRef(ctx.clone())
    }

    /// The same token as `other`'s.
    pub fn same(&self, other: &TokenRef) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for TokenRef {
    type Target = CancelToken;

    fn deref(&self) -> &CancelToken {
        &self.0.cancel
    }
}

pub struct Requested<'a> {
    token: &'a CancelToken,
    /// Armed for the earliest deadline ahead.
    timer: Timer,
}

impl Future for Requested<'_> {
    type Output = Duration;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Duration> {
        let next = self.token.check_deadlines();
        if self.token.is_requested() {
            return Poll::Ready(self.token.grace());
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
/// to a token they already have. 16 bytes (tests/sizes.rs): the end as the
/// timer queue keeps it, and a registration that does not repeat it.
pub struct Sleep {
    until: u64,
    reg: Registration,
}

impl Sleep {
    pub fn new(until: Instant) -> Sleep {
        Sleep {
            until: timers::deadline(until),
            reg: Registration::default(),
        }
    }

    /// `Err(())`: cancelled.
    pub fn poll(&mut self, token: &CancelToken, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let next = token.check_deadlines();
        // A finished sleep wins over a request that came with it.
        if timers::is_due(self.until) {
            return Poll::Ready(Ok(()));
        }
        if token.is_requested() {
            return Poll::Ready(Err(()));
        }
        token.wakers.register(cx.waker());
        // Armed for the end of the sleep, or for an earlier `timeout`
        // deadline of the task. Those change only when one fires (which
        // ends the sleep), so a registration for the end is kept as it is.
        let at = next.map_or(self.until, |n| timers::deadline(n).min(self.until));
        self.reg.arm(at, at == self.until, cx.waker());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(token: &CancelToken) -> bool {
        token.peek_scopes(|s| s.is_some())
    }

    /// Every task has a token (tests/sizes.rs: 24 bytes): what a task
    /// that is never cancelled and starts no program does with it boxes
    /// nothing.
    #[test]
    fn a_token_boxes_nothing_until_it_is_used() {
        let token = CancelToken::default();
        assert!(!token.is_requested());
        assert_eq!(token.take(), None);
        token.clear_if(CancelReason::Cancel);
        assert_eq!(token.check_deadlines(), None);
        assert!(!boxed(&token));
        token.cancel(CancelReason::Timeout(7), Duration::from_millis(1500));
        assert!(boxed(&token));
        assert_eq!(token.reason(), Some(CancelReason::Timeout(7)));
        assert_eq!(token.grace(), Duration::from_millis(1500));
        // The first reason wins, the shorter grace applies.
        token.cancel(CancelReason::Signal, Duration::from_millis(10));
        assert_eq!(token.take(), Some(CancelReason::Timeout(7)));
        assert!(!token.is_requested());
        assert_eq!(token.grace(), Duration::from_millis(10));
    }

    /// A scope's number is given when a program first starts under it, and
    /// no two tokens share one.
    #[test]
    fn scope_numbers_are_given_on_first_use_and_unique() {
        let (a, b) = (CancelToken::default(), CancelToken::default());
        assert!(!boxed(&a));
        let first = a.id();
        assert_ne!(first, 0);
        assert_eq!(a.id(), first);
        assert_ne!(b.id(), first);
    }
}
