//! Tasks: a fiber driven by a smol task, with its own cwd and environment.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};
use std::time::Instant;

use futures_lite::future;

use super::cancel::WakeList;
use super::keys::Site;
use super::observe::Origin;
use super::{CancelReason, Runtime, TaskCtx};
use crate::observe::{self, Event};
use crate::process::OutSink;
use crate::vm::budget;
use crate::vm::error::{Error, ErrorKind, Location};
use crate::vm::fiber::{Fiber, Halt, Pending, Resume};
use crate::vm::objects::Coroutine;
use crate::vm::value::Value;

pub type TaskRef = Rc<Task>;

/// How a fiber ended.
#[derive(Clone)]
pub enum Outcome {
    Value(Value),
    Error(Rc<Error>),
    /// `exit N` was called.
    Exit(i32),
}

impl Outcome {
    /// As observers see it.
    pub fn observed(&self) -> observe::Ended<'_> {
        match self {
            Outcome::Value(v) => observe::Ended::Value(v),
            Outcome::Error(e) => observe::Ended::Error(e),
            Outcome::Exit(code) => observe::Ended::Exit(*code),
        }
    }
}

pub struct Task {
    pub id: u64,
    /// The coroutine's code (its name is shown by `jobs` and warnings).
    proto: Rc<crate::vm::chunk::Proto>,
    /// Its context while it runs (`jobs` shows the command it is running;
    /// its cancellation token is there); weak, so the context and the
    /// pipes it holds close when the task ends.
    ctx: std::rc::Weak<TaskCtx>,
    /// When it started, in microseconds since [`epoch`] (the low 62 bits),
    /// and two flags in the top bits: [`JOB`] and [`RETRIEVED`]. One word
    /// where an `Instant` and two `bool`s took 24 bytes: the record (an
    /// `Rc` of 56 bytes) stays in malloc's 80-byte class.
    stamp: Cell<u64>,
    /// Who waits for it while it runs, then how it ended. (The executor's
    /// task that drives it is detached: it holds this record until the
    /// end.) A `Cell`, taken and put back: with a `RefCell`'s borrow flag
    /// (and a pointer to the token) 100,000 records were a size class
    /// bigger.
    state: Cell<State>,
}

/// [`Task::stamp`]: started with `cmd &`, listed by `jobs` (all live tasks
/// are).
const JOB: u64 = 1 << 62;
/// [`Task::stamp`]: someone awaited (or gathered) the result, so its error
/// is not lost.
const RETRIEVED: u64 = 1 << 63;

/// A task's start stamp: microseconds since [`epoch`], with the `JOB` flag.
fn stamp_now(job: bool) -> u64 {
    let micros = (epoch().elapsed().as_micros() as u64) & (JOB - 1);
    if job { micros | JOB } else { micros }
}

/// A running task's waiters and a finished task's outcome share a field:
/// one is never needed with the other. One flat enum of 24 bytes (the
/// waiters of a running task in the spare values of the outcome's tag): a
/// `Running(Waiters)` / `Done(Outcome)` pair took 32, and moved every
/// task record up a malloc size class (tests/sizes.rs).
#[derive(Default)]
#[allow(clippy::box_collection)] // a pointer where a Vec is three: see above
enum State {
    /// Running; nobody waits yet.
    #[default]
    Running,
    /// Running; one waiter (an `await`, or the `gather` that started it),
    /// kept without allocating: 100,000 sleeping tasks pay for this.
    RunningOne(Waker),
    RunningQueued(Rc<DoneQueue>, usize),
    /// Running; several wait.
    RunningMany(Box<Vec<Waiter>>),
    Done(Outcome),
}

/// The instant task start times count from.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Whoever waits for a task to finish.
enum Waiter {
    /// A future polling `join`.
    Wake(Waker),
    /// A `gather`/`race` queue, told the task's index.
    Queue(Rc<DoneQueue>, usize),
}

impl State {
    /// Add a waiter to a running task (nothing once it is done).
    fn add(&mut self, waiter: Waiter) {
        *self = match (std::mem::take(self), waiter) {
            (State::Running, Waiter::Wake(w)) => State::RunningOne(w),
            (State::Running, Waiter::Queue(q, i)) => State::RunningQueued(q, i),
            (State::RunningOne(w), new) => State::RunningMany(Box::new(vec![Waiter::Wake(w), new])),
            (State::RunningQueued(q, i), new) => {
                State::RunningMany(Box::new(vec![Waiter::Queue(q, i), new]))
            }
            (State::RunningMany(mut v), new) => {
                v.push(new);
                State::RunningMany(v)
            }
            (done @ State::Done(_), _) => done,
        }
    }

    /// Is `waker` already on the list? (A join polled again before the
    /// task ended; the last entries are the likely ones.)
    fn has_waker(&self, waker: &Waker) -> bool {
        let same = |w: &Waiter| matches!(w, Waiter::Wake(x) if x.will_wake(waker));
        match self {
            State::RunningOne(w) => w.will_wake(waker),
            State::RunningMany(v) => v.iter().rev().take(4).any(same),
            _ => false,
        }
    }

    fn queue_owners(&self) -> Vec<TaskKey> {
        let owner = |w: &Waiter| match w {
            Waiter::Queue(queue, _) => queue.owner,
            Waiter::Wake(_) => None,
        };
        match self {
            State::RunningQueued(queue, _) => queue.owner.into_iter().collect(),
            State::RunningMany(v) => v.iter().filter_map(owner).collect(),
            _ => Vec::new(),
        }
    }

    /// Tell every waiter of a running task that it ended.
    fn notify_all(self) {
        let notify = |w: Waiter| match w {
            Waiter::Wake(w) => w.wake(),
            Waiter::Queue(queue, index) => queue.push(index),
        };
        match self {
            State::RunningOne(w) => w.wake(),
            State::RunningQueued(queue, index) => queue.push(index),
            State::RunningMany(v) => v.into_iter().for_each(notify),
            State::Running | State::Done(_) => {}
        }
    }
}

impl Task {
    /// A task that has already finished with `value`, in place of running
    /// `coro` (a branch the journal replays: see `observe`).
    pub fn replayed(rt: &Runtime, coro: &Coroutine, value: Value) -> Result<TaskRef, Error> {
        // Consumed as a run would consume it (a second use is an error).
        coro.take()?;
        Ok(Rc::new(Task {
            id: rt.next_id(),
            proto: coro.func.proto.clone(),
            ctx: std::rc::Weak::new(),
            stamp: Cell::new(stamp_now(false)),
            state: Cell::new(State::Done(Outcome::Value(value))),
        }))
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Started with `cmd &` (a job of the interactive shell).
    pub fn is_job(&self) -> bool {
        self.stamp.get() & JOB != 0
    }

    /// Someone awaited (or gathered) the result: its error is not lost.
    pub fn retrieved(&self) -> bool {
        self.stamp.get() & RETRIEVED != 0
    }

    /// The result was awaited or gathered (or is no longer of interest).
    pub fn set_retrieved(&self) {
        self.stamp.set(self.stamp.get() | RETRIEVED);
    }

    pub fn name(&self) -> &str {
        &self.proto.name
    }

    /// The command it is running now, else its name (for `jobs`).
    pub fn doing(&self) -> String {
        let current = self.ctx.upgrade().and_then(|c| c.current());
        current
            .as_deref()
            .map_or(self.name(), String::as_str)
            .to_string()
    }

    /// How long it has been running.
    pub fn elapsed(&self) -> std::time::Duration {
        epoch()
            .elapsed()
            .saturating_sub(std::time::Duration::from_micros(
                self.stamp.get() & (JOB - 1),
            ))
    }

    /// Look at (or change) the state; nothing in `f` may touch it again.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.take();
        let r = f(&mut state);
        self.state.set(state);
        r
    }

    /// Request cancellation (nothing to do once it has ended).
    pub fn cancel(&self, reason: CancelReason, grace: std::time::Duration) {
        if let Some(ctx) = self.ctx.upgrade() {
            if observe::on() && !ctx.cancel.is_requested() {
                observe::emit(Event::CancelRequested {
                    task: self.id,
                    reason: reason.name(),
                });
            }
            ctx.cancel.cancel(reason, grace);
        }
    }

    pub fn is_done(&self) -> bool {
        self.with_state(|s| matches!(s, State::Done(_)))
    }

    pub fn state_name(&self) -> &'static str {
        let name = self.with_state(|s| match s {
            State::Done(Outcome::Value(_)) | State::Done(Outcome::Exit(_)) => "done",
            State::Done(Outcome::Error(e)) if e.kind == ErrorKind::Cancelled => "cancelled",
            State::Done(Outcome::Error(_)) => "failed",
            _ => "running",
        });
        match self.ctx.upgrade() {
            Some(ctx) if name == "running" && ctx.cancel.is_requested() => "cancelling",
            _ => name,
        }
    }

    pub fn outcome(&self) -> Option<Outcome> {
        self.with_state(|s| match s {
            State::Done(outcome) => Some(outcome.clone()),
            _ => None,
        })
    }

    /// Tell `queue` the task's `index` when it finishes (at once if it has).
    pub fn watch(&self, queue: &Rc<DoneQueue>, index: usize) {
        let done = self.with_state(|s| match s {
            State::Done(_) => true,
            running => {
                running.add(Waiter::Queue(queue.clone(), index));
                false
            }
        });
        if done {
            queue.push(index);
        }
    }

    /// The tasks whose `gather` or `race` waits for this one.
    fn gathered_by(&self) -> Vec<TaskKey> {
        self.with_state(|s| s.queue_owners())
    }

    /// Record how the task ended and tell whoever waits.
    fn finish(&self, outcome: Outcome) {
        self.state.replace(State::Done(outcome)).notify_all();
    }

    /// Wait until the task has finished, and return how.
    pub async fn join(self: &Rc<Self>) -> Outcome {
        future::poll_fn(|cx| {
            self.with_state(|s| match s {
                State::Done(o) => std::task::Poll::Ready(o.clone()),
                running => {
                    if !running.has_waker(cx.waker()) {
                        running.add(Waiter::Wake(cx.waker().clone()));
                    }
                    std::task::Poll::Pending
                }
            })
        })
        .await
    }
}

/// The live spawned tasks (for `jobs`, `fg`, and cancelling at exit): a
/// slab indexed by a slot number the task's context carries. (An ordered
/// map by id took 34 bytes a task; a slot is 8.)
#[derive(Default)]
pub struct TaskTable {
    slots: Vec<Option<TaskRef>>,
    free: Vec<u32>,
    len: usize,
}

impl TaskTable {
    fn insert(&mut self, task: TaskRef) -> u32 {
        self.len += 1;
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(task);
                slot
            }
            None => {
                self.slots.push(Some(task));
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn remove(&mut self, slot: u32) -> Option<TaskRef> {
        let task = self.slots.get_mut(slot as usize)?.take()?;
        self.len -= 1;
        if self.len == 0 {
            // All ended: give the memory back.
            self.slots = Vec::new();
            self.free = Vec::new();
        } else {
            self.free.push(slot);
        }
        Some(task)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The live tasks, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &TaskRef> {
        self.slots.iter().flatten()
    }

    /// The live tasks, oldest first.
    pub fn live(&self) -> Vec<TaskRef> {
        let mut live: Vec<TaskRef> = self.iter().cloned().collect();
        live.sort_by_key(|t| t.id);
        live
    }

    /// The live task `key` names (found by its slot).
    pub fn at(&self, key: TaskKey) -> Option<&TaskRef> {
        let t = self.slots.get(key.slot as usize)?.as_ref()?;
        (t.id == key.id).then_some(t)
    }

    pub fn get(&self, id: u64) -> Option<TaskRef> {
        self.iter().find(|t| t.id == id).cloned()
    }

    /// The most recently started live task.
    pub fn latest(&self) -> Option<TaskRef> {
        self.iter().max_by_key(|t| t.id).cloned()
    }
}

/// Indices of finished tasks, in the order they finished: lets `gather`
/// wait for the next one in O(1) however many are running.
#[derive(Default)]
pub struct DoneQueue {
    ready: RefCell<std::collections::VecDeque<usize>>,
    wakers: WakeList,
    /// The task waiting on it (for [`WaitGraph`]).
    owner: Option<TaskKey>,
}

impl DoneQueue {
    /// A queue for task `owner` (a `gather` or `race` in it).
    pub fn for_task(owner: TaskKey) -> DoneQueue {
        DoneQueue {
            owner: Some(owner),
            ..DoneQueue::default()
        }
    }

    fn push(&self, index: usize) {
        self.ready.borrow_mut().push_back(index);
        self.wakers.wake_all();
    }

    /// The next finished index.
    pub async fn next(&self) -> usize {
        future::poll_fn(|cx| match self.ready.borrow_mut().pop_front() {
            Some(i) => std::task::Poll::Ready(i),
            None => {
                self.wakers.register(cx.waker());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// Run a fiber to its end, awaiting whatever it halts on.
pub fn drive(fiber: Fiber) -> Drive {
    Drive {
        fiber,
        wait: Wait::Running,
    }
}

/// The future of a running fiber. Written out by hand rather than as an
/// `async fn`: one lives in every task, and the generated state machine
/// kept the fiber twice (the argument and the local), 312 bytes; with this
/// one a sleeping task's executor allocation went from 512 to 248 bytes
/// (dhat; docs/performance.md).
pub struct Drive {
    fiber: Fiber,
    wait: Wait,
}

/// What a [`Drive`] is waiting on before it runs the fiber again.
enum Wait {
    Running,
    /// A budget yield: back in the queue once, then check for cancellation.
    Yielded,
    Await(Pending),
    Sleep(super::cancel::Sleep),
}

impl std::future::Future for Drive {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.get_mut();
        if !this.fiber.rt.debug {
            return this.turn(cx, false).0;
        }
        // `--debug`: the whole turn holds the loop, the waits that were
        // ready at once (a pipeline of ash stages, a channel) included, not
        // only the fiber's runs. The watch is keyed by the driver's address
        // (pinned while it is polled).
        let key = std::ptr::from_ref(this).addr();
        let started = Instant::now();
        let (poll, hold_over) = this.turn(cx, true);
        HeldWatch::busy(key, started.elapsed());
        if hold_over {
            HeldWatch::suspended(key, &this.fiber);
        }
        poll
    }
}

impl Drive {
    /// Run the fiber until it really waits, ends or has spent its slice;
    /// and (for `--debug`) whether its hold of the loop is over.
    fn turn(&mut self, cx: &mut Context<'_>, debug: bool) -> (Poll<Outcome>, bool) {
        let this = self;
        // The first turn of this loop continues after a suspension; later
        // ones after waits that were ready at once.
        let mut suspended = true;
        let key = std::ptr::from_ref(this).addr();
        loop {
            match &mut this.wait {
                Wait::Running => {}
                Wait::Yielded => {
                    this.wait = Wait::Running;
                    this.fiber.check_cancel();
                }
                Wait::Await(pending) => {
                    let Poll::Ready(result) = pending.as_mut().poll(cx) else {
                        return (Poll::Pending, true);
                    };
                    if debug && !suspended {
                        HeldWatch::ready_wait(key);
                    }
                    this.wait = Wait::Running;
                    this.fiber.regrow_stack();
                    this.fiber.resume(result);
                    budget::charge(budget::AWAIT);
                    if suspended {
                        // The task was away: a `timeout` that expired or a
                        // cancellation requested meanwhile lands here, even
                        // if what it waited for did not watch the token.
                        this.fiber.check_cancel();
                    }
                }
                Wait::Sleep(sleep) => {
                    let Poll::Ready(slept) = sleep.poll(&this.fiber.ctx.cancel, cx) else {
                        return (Poll::Pending, true);
                    };
                    if debug && !suspended {
                        HeldWatch::ready_wait(key);
                    }
                    this.wait = Wait::Running;
                    if observe::on() {
                        observe::emit(Event::SleepEnd {
                            owner: this.fiber.ctx.observe_key(),
                            completed: slept.is_ok(),
                        });
                    }
                    this.fiber.regrow_stack();
                    this.fiber.resume(match slept {
                        Ok(()) => Ok(Resume::Nothing),
                        Err(()) => Err(Rc::new(Error::cancelled())),
                    });
                    budget::charge(budget::AWAIT);
                }
            }
            suspended = false;
            if budget::over() {
                // Whatever filled the slice (ready waits, commands, the
                // fibers of pipeline stages), the loop gets its turn.
                this.wait = Wait::Yielded;
                cx.waker().wake_by_ref();
                return (Poll::Pending, false);
            }
            let before = if debug {
                this.fiber.resume_location()
            } else {
                None
            };
            let halt = this.fiber.run();
            if debug {
                HeldWatch::ran(key, &this.fiber, before, matches!(halt, Halt::Yield));
            }
            this.wait = match halt {
                Halt::Done(v) => return (Poll::Ready(Outcome::Value(v)), true),
                Halt::Failed(e) => return (Poll::Ready(Outcome::Error(e)), true),
                Halt::Exit(code) => return (Poll::Ready(Outcome::Exit(code)), true),
                Halt::Yield => {
                    this.wait = Wait::Yielded;
                    cx.waker().wake_by_ref();
                    return (Poll::Pending, false);
                }
                Halt::Await(pending) => {
                    this.fiber.shed_stack();
                    Wait::Await(pending)
                }
                Halt::Sleep(until) => {
                    this.fiber.shed_stack();
                    if observe::on() {
                        let seconds = until.saturating_duration_since(Instant::now());
                        observe::emit(Event::SleepStart {
                            owner: this.fiber.ctx.observe_key(),
                            seconds: seconds.as_secs_f64(),
                        });
                    }
                    Wait::Sleep(super::cancel::Sleep::new(until))
                }
            };
        }
    }
}

/// `--debug`: one *hold* of the loop by a task: how long the loop has been
/// running it since it last really waited (budget yields and waits that
/// were ready at once do not end a hold), and the lines it ran meanwhile.
#[derive(Default)]
struct HeldWatch {
    busy: std::time::Duration,
    /// Where each run of the hold stopped inside the code that ran (a
    /// budget yield, a wait that turned out ready): the lines to blame.
    ran: Vec<crate::vm::error::Location>,
    /// Where the last run stopped, at a wait: a line that ran if the wait
    /// is ready at once, the next wait (not to blame) if it is not.
    at_wait: Option<crate::vm::error::Location>,
    /// Where the first run of the hold began (blamed when nothing else is
    /// known).
    first: Option<crate::vm::error::Location>,
}

/// Lines noted per hold at most (a long hold reports their range).
const HELD_SAMPLES: usize = 256;

thread_local! {
    /// The watches of drivers in the middle of a hold, by the driver's
    /// address (pinned while it is polled). Kept here, not in the driver:
    /// a field there made every task 16 bytes bigger for a debugging aid.
    static HELD: RefCell<std::collections::HashMap<usize, HeldWatch>> = RefCell::default();
}

impl HeldWatch {
    /// The loop ran the task for `took` (one poll of its driver).
    fn busy(key: usize, took: std::time::Duration) {
        HELD.with_borrow_mut(|held| held.entry(key).or_default().busy += took);
    }

    /// The fiber ran and stopped: at a budget yield (`yielded`), or at a
    /// wait.
    fn ran(key: usize, fiber: &Fiber, before: Option<crate::vm::error::Location>, yielded: bool) {
        HELD.with_borrow_mut(|held| {
            let watch = held.entry(key).or_default();
            if watch.first.is_none() {
                watch.first = before;
            }
            let at = fiber.resume_location();
            if yielded {
                if let Some(at) = at
                    && watch.ran.len() < HELD_SAMPLES
                {
                    watch.ran.push(at);
                }
            } else {
                watch.at_wait = at;
            }
        });
    }

    /// The wait the fiber stopped at was ready: the hold goes on, and that
    /// line ran.
    fn ready_wait(key: usize) {
        HELD.with_borrow_mut(|held| {
            if let Some(watch) = held.get_mut(&key)
                && let Some(at) = watch.at_wait.take()
                && watch.ran.len() < HELD_SAMPLES
            {
                watch.ran.push(at);
            }
        });
    }

    /// The task really waits (or ended): its hold is over; reported if
    /// it was too long.
    fn suspended(key: usize, fiber: &Fiber) {
        let Some(watch) = HELD.with_borrow_mut(|held| held.remove(&key)) else {
            return;
        };
        if watch.busy > HELD_TOO_LONG {
            let mut lines = watch.ran;
            if lines.is_empty() {
                lines.extend(watch.first);
            }
            report_held(fiber, &lines, watch.busy);
        }
    }
}

/// `--debug` reports a task that ran this long without awaiting.
const HELD_TOO_LONG: std::time::Duration = std::time::Duration::from_millis(100);

/// `ash: debug: FILE:LINE: task N held the loop for X s` (`FILE:L1-L2:`
/// when the hold ran several lines).
fn report_held(fiber: &Fiber, ran: &[crate::vm::error::Location], busy: std::time::Duration) {
    let mut at = String::new();
    // The lines of the file most samples are in (a hold inside a module
    // function is blamed on the module's lines).
    let mut by_source: Vec<(u32, usize, usize, usize)> = Vec::new();
    for loc in ran {
        let (line, _) = crate::diag::line_col(loc);
        match by_source.iter_mut().find(|s| s.0 == loc.source) {
            Some(s) => {
                s.1 = s.1.min(line);
                s.2 = s.2.max(line);
                s.3 += 1;
            }
            None => by_source.push((loc.source, line, line, 1)),
        }
    }
    if let Some(&(source, lo, hi, _)) = by_source.iter().max_by_key(|s| s.3) {
        let name = crate::diag::source_name(source);
        at = if lo == hi {
            format!("{name}:{lo}: ")
        } else {
            format!("{name}:{lo}-{hi}: ")
        };
    }
    crate::diag::reportln!(
        "ash: debug: {at}task {} held the loop for {:.2} s",
        fiber.ctx.id,
        busy.as_secs_f64()
    );
}

/// Start a coroutine as a new task, scheduled at once (`site`: the
/// `spawn` instruction, for the observers).
pub fn spawn(
    rt: &Rc<Runtime>,
    parent: &TaskCtx,
    coro: &Rc<Coroutine>,
    job: bool,
    site: Option<&Site>,
) -> Result<TaskRef, Error> {
    let origin = match rt.observers.active() {
        true => Some(rt.observers.spawn(parent, site, coro)),
        false => None,
    };
    if let Some(value) = origin.as_deref().and_then(|o| rt.observers.replay(o)) {
        return Task::replayed(rt, coro, value);
    }
    let location = if observe::on() {
        site.and_then(Site::location)
    } else {
        None
    };
    let traced = (observe::Origin::Spawn, location.as_ref());
    let hooks = rt.hooks.borrow().clone();
    let Some(hooks) = hooks else {
        return spawn_with_output(rt, parent, coro, job, None, origin, traced);
    };
    let output = hooks.spawn_output(parent.id);
    let task = spawn_with_output(rt, parent, coro, job, output, origin, traced)?;
    hooks.spawned(parent.id, &task);
    Ok(task)
}

/// `spawn`, with the task's stdout and stderr replaced (for `gather
/// --group`), what the journal's observers know of it (`origin`), and how
/// it shows in traces (`traced`: how it was started, and where).
pub fn spawn_with_output(
    rt: &Rc<Runtime>,
    parent: &TaskCtx,
    coro: &Rc<Coroutine>,
    job: bool,
    output: Option<(Rc<OutSink>, Rc<OutSink>)>,
    origin: Option<Rc<Origin>>,
    traced: (observe::Origin, Option<&Location>),
) -> Result<TaskRef, Error> {
    let args = coro.take()?;
    let id = rt.next_id();
    let ctx = Rc::new(parent.child(id, rt.null_stdin()));
    if observe::on() {
        observe::emit(Event::TaskStart {
            task: id,
            owner: ctx.observe_key(),
            parent: Some(parent.observe_key()),
            origin: traced.0,
            name: &coro.func.proto.name,
            site: traced.1,
            args: &args,
        });
    }
    if let Some((out, err)) = output {
        ctx.with_io(|io| {
            io.stdout = out;
            io.stderr = err;
        });
    }
    let task = Rc::new(Task {
        id,
        proto: coro.func.proto.clone(),
        ctx: Rc::downgrade(&ctx),
        stamp: Cell::new(stamp_now(job)),
        state: Cell::default(),
    });
    let slot = rt.tasks.borrow_mut().insert(task.clone());
    ctx.task_slot.set(slot);
    if let Some(origin) = origin {
        rt.observers.started(id, origin);
    }
    let fiber = Fiber::call(rt.clone(), ctx, coro.func.clone(), args);
    rt.executor
        .spawn(TaskBody {
            drive: Some(drive(fiber)),
        })
        .detach();
    Ok(task)
}

/// A spawned task's future: the fiber, then recording how it ended.
/// Its record is found at the end in the table of live tasks, under the
/// id its context carries: a pointer kept here instead made each of
/// 100,000 sleeping tasks 16 bytes bigger (a malloc size class).
struct TaskBody {
    drive: Option<Drive>,
}

impl std::future::Future for TaskBody {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(drive) = self.drive.as_mut() else {
            return Poll::Ready(());
        };
        let outcome = ready!(Pin::new(&mut *drive).poll(cx));
        if observe::on() {
            observe::emit(Event::TaskEnd {
                task: drive.fiber.ctx.id,
                owner: drive.fiber.ctx.observe_key(),
                ended: outcome.observed(),
            });
        }
        let rt = drive.fiber.rt.clone();
        let slot = drive.fiber.ctx.task_slot.get();
        if let Outcome::Error(e) = &outcome
            && e.kind == ErrorKind::Cancelled
        {
            // No process its commands started lives on.
            drive.fiber.ctx.cancel.kill_left_behind(0);
        }
        // The fiber goes first: its context (and the pipes it holds) is
        // closed before anyone waiting for the task runs.
        self.drive = None;
        if let Outcome::Exit(code) = outcome {
            rt.request_exit(code);
        }
        let Some(t) = rt.tasks.borrow_mut().remove(slot) else {
            return Poll::Ready(());
        };
        if let Outcome::Error(e) = &outcome
            && e.kind != ErrorKind::Cancelled
        {
            remember_failed(
                &mut rt.failed.borrow_mut(),
                &mut rt.unheard_failures.borrow_mut(),
                t.clone(),
            );
        }
        if rt.observers.active() {
            rt.observers.ended(t.id, &outcome);
        }
        t.finish(outcome);
        Poll::Ready(())
    }
}

/// Keep a failed task for the report at exit. When the list is full, the
/// tasks whose error was retrieved since (awaited, gathered) are dropped,
/// and so are those nothing else holds any more (no handle left: no one
/// can await them now), their report kept in `unheard` instead; the list
/// grows only if half of it is still awaitable. Memory stays proportional
/// to the failures someone could still retrieve (it kept every failed
/// task, about 440 bytes each: 200,000 failures cost 86 MB).
fn remember_failed(failed: &mut Vec<TaskRef>, unheard: &mut UnheardFailures, t: TaskRef) {
    if failed.len() == failed.capacity() {
        unheard.take_unreachable(failed);
        if failed.len() > failed.capacity() / 2 {
            failed.reserve(failed.len().max(16));
        }
    }
    failed.push(t);
}

/// A failed task's error as its report shows it after `task N failed...: `
/// (the rendered error without its `ash: ` and final newline).
pub fn failure_report(e: &Error) -> String {
    let report = crate::diag::render_error(e);
    let report = report.strip_prefix("ash: ").unwrap_or(&report);
    report.trim_end().to_string()
}

/// Failed tasks that nobody awaited and nobody can await any more: the
/// first reports (rendered when the task was let go), then only a count,
/// so a flood of failures costs a bounded amount of memory and prints a
/// bounded number of warnings.
#[derive(Default)]
pub struct UnheardFailures {
    /// Task id and report (the error's text without `ash: `).
    pub reports: Vec<(u64, String)>,
    /// Failures past the first [`UnheardFailures::KEPT`], only counted.
    pub more: u64,
}

impl UnheardFailures {
    /// Reports kept in full.
    pub const KEPT: usize = 100;

    /// Move out of `failed` the tasks whose error was retrieved (dropped)
    /// and those only `failed` still holds (their report kept here).
    pub fn take_unreachable(&mut self, failed: &mut Vec<TaskRef>) {
        failed.retain(|t| {
            if t.retrieved() {
                return false;
            }
            if Rc::strong_count(t) > 1 {
                return true;
            }
            if let Some(Outcome::Error(e)) = t.outcome() {
                if self.reports.len() < Self::KEPT {
                    self.reports.push((t.id, failure_report(&e)));
                } else {
                    self.more += 1;
                }
            }
            false
        });
    }

    pub fn is_empty(&self) -> bool {
        self.reports.is_empty() && self.more == 0
    }
}

/// Await a task: its value, or its error raised here. If the awaiting task
/// is cancelled meanwhile, the awaited task is cancelled too (as in asyncio)
/// and waited for.
pub async fn await_task(
    rt: Rc<Runtime>,
    me: TaskKey,
    task: TaskRef,
    waiter: super::TokenRef,
) -> Result<Value, Rc<Error>> {
    let _edge = WaitEdge::new(&rt, me, task.id);
    let outcome = future::or(task.join(), async {
        let grace = waiter.requested().await;
        task.cancel(CancelReason::Cancel, grace);
        task.join().await
    })
    .await;
    task.set_retrieved();
    match outcome {
        Outcome::Value(v) => Ok(v),
        Outcome::Error(e) => Err(e),
        Outcome::Exit(_) => Err(Rc::new(Error::cancelled())),
    }
}

/// A task as the wait graph knows it: its id, and its slot in the table
/// of live tasks (`u32::MAX` for the main task, which has no record).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TaskKey {
    pub id: u64,
    pub slot: u32,
}

impl TaskKey {
    /// The task a context belongs to.
    pub fn of(ctx: &TaskCtx) -> TaskKey {
        TaskKey {
            id: ctx.id,
            slot: ctx.task_slot.get(),
        }
    }
}

/// Which tasks wait for which: `await $t` edges (here), and the `gather`s
/// and `race`s waiting on a task (read from its record's waiters: each
/// queue names its owner). Awaiting a task that waits, directly or through
/// others, for the awaiting task would never end: it is a `ValueError`.
#[derive(Default)]
pub struct WaitGraph {
    /// Awaited task id -> the tasks in `await` on it.
    awaiters: RefCell<std::collections::HashMap<u64, Vec<TaskKey>>>,
}

impl WaitGraph {
    /// The tasks that wait for `task`, directly.
    fn waiting_for(&self, rt: &Runtime, task: TaskKey) -> Vec<TaskKey> {
        let mut out = (self.awaiters.borrow())
            .get(&task.id)
            .cloned()
            .unwrap_or_default();
        if let Some(t) = rt.tasks.borrow().at(task) {
            out.extend(t.gathered_by());
        }
        out
    }
}

/// Task `me` is about to wait for `task`: an error if `task` already waits,
/// directly or through other tasks, for `me` (or is `me`).
pub fn check_wait(rt: &Runtime, me: TaskKey, task: &Task) -> Result<(), Error> {
    if task.id == me.id {
        return Err(Error::value(format!(
            "task {} cannot wait for itself: it would never finish",
            me.id
        )));
    }
    if task.is_done() {
        return Ok(());
    }
    // Who waits for `me`, transitively: if `task` is among them, waiting
    // for it closes a cycle. (`came_from`: the task each was found from.)
    let mut came_from: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    let mut todo = vec![me];
    while let Some(at) = todo.pop() {
        for w in rt.waits.waiting_for(rt, at) {
            if w.id == me.id || came_from.contains_key(&w.id) {
                continue;
            }
            came_from.insert(w.id, at.id);
            if w.id == task.id {
                let mut chain = vec![task.id];
                while let Some(&next) = chain.last().and_then(|c| came_from.get(c)) {
                    chain.push(next);
                }
                let mut why = format!("task {} waits for task {}", chain[0], chain[1]);
                for id in &chain[2..] {
                    why.push_str(&format!(", which waits for task {id}"));
                }
                return Err(Error::value(format!(
                    "task {} cannot wait for task {}: {why}, so neither would finish",
                    me.id, task.id
                )));
            }
            todo.push(w);
        }
    }
    Ok(())
}

/// An `await` edge, removed when the wait ends (or is dropped).
struct WaitEdge {
    rt: Rc<Runtime>,
    waiter: TaskKey,
    awaited: u64,
}

impl WaitEdge {
    fn new(rt: &Rc<Runtime>, waiter: TaskKey, awaited: u64) -> WaitEdge {
        rt.waits
            .awaiters
            .borrow_mut()
            .entry(awaited)
            .or_default()
            .push(waiter);
        WaitEdge {
            rt: rt.clone(),
            waiter,
            awaited,
        }
    }
}

impl Drop for WaitEdge {
    fn drop(&mut self) {
        let mut awaiters = self.rt.waits.awaiters.borrow_mut();
        if let Some(list) = awaiters.get_mut(&self.awaited) {
            if let Some(i) = list.iter().position(|&w| w == self.waiter) {
                list.swap_remove(i);
            }
            if list.is_empty() {
                awaiters.remove(&self.awaited);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::TopLevel;
    use crate::runtime::Io;

    /// A driver for `src` (its top-level `let`s globals, not locals) and
    /// the value stack its code needs, as the compiler computed it.
    fn driver(src: &str) -> (Drive, usize) {
        let rt = Runtime::new(false);
        let main = rt.load("<test>", src, TopLevel::Globals).expect("compiles");
        let needed = main.proto.stack_needed;
        let ctx = Rc::new(TaskCtx::main(Io::standard()));
        (drive(Fiber::call(rt, ctx, main, Vec::new())), needed)
    }

    fn poll(drive: &mut Drive) -> Poll<Outcome> {
        Pin::new(drive).poll(&mut Context::from_waker(Waker::noop()))
    }

    /// 100,000 sleeping tasks each kept a value stack of one value (32
    /// bytes with malloc's header) that held nothing while they slept.
    #[test]
    fn a_task_waiting_with_an_empty_stack_holds_no_stack() {
        let (mut drive, _) = driver("sleep 60");
        assert!(poll(&mut drive).is_pending());
        assert!(matches!(drive.wait, Wait::Sleep(_)));
        assert_eq!(drive.fiber.stack_capacity(), 0);
        // A value under the wait keeps the stack.
        let (mut drive, _) = driver("let a = [1, (sleep 60)]");
        assert!(poll(&mut drive).is_pending());
        assert!(drive.fiber.stack_capacity() >= 1);
    }

    /// After the wait, the stack gets the room the compiler computed (a
    /// push on an empty vector would make room for four).
    #[test]
    fn a_resumed_task_gets_its_computed_stack_back() {
        let src = "sleep 0.001\nlet a = [1, [2, [3, [4, 5, 6]]]]";
        let (mut drive, needed) = driver(src);
        assert!(needed > 4, "{needed}: a size a vector would not pick");
        assert!(poll(&mut drive).is_pending());
        assert_eq!(drive.fiber.stack_capacity(), 0);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(matches!(poll(&mut drive), Poll::Ready(Outcome::Value(_))));
        assert_eq!(drive.fiber.stack_capacity(), needed);
    }
}
