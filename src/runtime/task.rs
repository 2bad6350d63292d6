//! Tasks: a fiber driven by a smol task, with its own cwd and environment.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use futures_lite::future;

use super::cancel::WakeList;
use super::{CancelReason, Runtime, TaskCtx};
use crate::process::OutSink;
use crate::vm::error::{Error, ErrorKind};
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

pub struct Task {
    pub id: u64,
    /// The coroutine's code (its name is shown by `jobs` and warnings).
    proto: Rc<crate::vm::chunk::Proto>,
    /// The task's cancellation token (its context is dropped when it ends,
    /// closing the pipes it held).
    pub cancel: Rc<super::CancelToken>,
    /// Its context while it runs (`jobs` shows the command it is running);
    /// weak, so the context and its pipes close when the task ends.
    ctx: std::rc::Weak<TaskCtx>,
    pub started: Instant,
    /// Started with `cmd &`: listed by `jobs` (all live tasks are).
    pub job: bool,
    outcome: RefCell<Option<Outcome>>,
    /// Someone awaited (or gathered) the result: its error is not lost.
    pub retrieved: Cell<bool>,
    /// Who is told when it finishes. (The smol task that drives it is
    /// detached: it holds this record until the fiber ends.)
    waiters: RefCell<Waiters>,
}

/// Whoever waits for a task to finish: usually one (an `await`, or the
/// `gather` that started it), kept without allocating; 100,000 sleeping
/// tasks pay for this list each.
#[derive(Default)]
enum Waiters {
    #[default]
    None,
    One(Waiter),
    Many(Vec<Waiter>),
}

enum Waiter {
    /// A future polling `join`.
    Wake(std::task::Waker),
    /// A `gather`/`race` queue, told the task's index.
    Queue(Rc<DoneQueue>, usize),
}

impl Waiters {
    fn add(&mut self, waiter: Waiter) {
        match std::mem::take(self) {
            Waiters::None => *self = Waiters::One(waiter),
            Waiters::One(one) => *self = Waiters::Many(vec![one, waiter]),
            Waiters::Many(mut v) => {
                v.push(waiter);
                *self = Waiters::Many(v);
            }
        }
    }

    /// Is `waker` already on the list? (A join polled again before the
    /// task ended; the last entries are the likely ones.)
    fn has_waker(&self, waker: &std::task::Waker) -> bool {
        let same = |w: &Waiter| matches!(w, Waiter::Wake(x) if x.will_wake(waker));
        match self {
            Waiters::None => false,
            Waiters::One(w) => same(w),
            Waiters::Many(v) => v.iter().rev().take(4).any(same),
        }
    }

    fn notify_all(self) {
        let notify = |w: Waiter| match w {
            Waiter::Wake(w) => w.wake(),
            Waiter::Queue(queue, index) => queue.push(index),
        };
        match self {
            Waiters::None => {}
            Waiters::One(w) => notify(w),
            Waiters::Many(v) => v.into_iter().for_each(notify),
        }
    }
}

impl Task {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.proto.name
    }

    /// The command it is running now, else its name (for `jobs`).
    pub fn doing(&self) -> String {
        let current = self.ctx.upgrade().and_then(|c| c.current.borrow().clone());
        current.as_deref().unwrap_or(self.name()).to_string()
    }

    pub fn is_done(&self) -> bool {
        self.outcome.borrow().is_some()
    }

    pub fn state_name(&self) -> &'static str {
        match &*self.outcome.borrow() {
            None if self.cancel.is_requested() => "cancelling",
            None => "running",
            Some(Outcome::Value(_)) | Some(Outcome::Exit(_)) => "done",
            Some(Outcome::Error(e)) if e.kind == ErrorKind::Cancelled => "cancelled",
            Some(Outcome::Error(_)) => "failed",
        }
    }

    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome.borrow().clone()
    }

    /// Tell `queue` the task's `index` when it finishes (at once if it has).
    pub fn watch(&self, queue: &Rc<DoneQueue>, index: usize) {
        if self.is_done() {
            queue.push(index);
        } else {
            self.waiters
                .borrow_mut()
                .add(Waiter::Queue(queue.clone(), index));
        }
    }

    /// Wait until the task has finished, and return how.
    pub async fn join(self: &Rc<Self>) -> Outcome {
        future::poll_fn(|cx| match &*self.outcome.borrow() {
            Some(o) => std::task::Poll::Ready(o.clone()),
            None => {
                let mut waiters = self.waiters.borrow_mut();
                if !waiters.has_waker(cx.waker()) {
                    waiters.add(Waiter::Wake(cx.waker().clone()));
                }
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// Indices of finished tasks, in the order they finished: lets `gather`
/// wait for the next one in O(1) however many are running.
#[derive(Default)]
pub struct DoneQueue {
    ready: RefCell<std::collections::VecDeque<usize>>,
    wakers: WakeList,
}

impl DoneQueue {
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
        // Boxed and only with --debug: this future lives in every task.
        held: fiber.rt.debug.then(Box::<HeldWatch>::default),
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
    held: Option<Box<HeldWatch>>,
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
        loop {
            match &mut this.wait {
                Wait::Running => {}
                Wait::Yielded => {
                    this.wait = Wait::Running;
                    this.fiber.check_cancel();
                }
                Wait::Await(pending) => {
                    let result = ready!(pending.as_mut().poll(cx));
                    this.wait = Wait::Running;
                    this.fiber.resume(result);
                }
                Wait::Sleep(sleep) => {
                    let slept = ready!(sleep.poll(&this.fiber.ctx.cancel, cx));
                    this.wait = Wait::Running;
                    this.fiber.resume(match slept {
                        Ok(()) => Ok(Resume::Nothing),
                        Err(()) => Err(Rc::new(Error::cancelled())),
                    });
                }
            }
            let started = this.held.is_some().then(Instant::now);
            let halt = this.fiber.run();
            if let (Some(watch), Some(t)) = (this.held.as_deref_mut(), started) {
                watch.ran(&this.fiber, t.elapsed(), matches!(halt, Halt::Yield));
            }
            this.wait = match halt {
                Halt::Done(v) => return Poll::Ready(Outcome::Value(v)),
                Halt::Failed(e) => return Poll::Ready(Outcome::Error(e)),
                Halt::Exit(code) => return Poll::Ready(Outcome::Exit(code)),
                Halt::Yield => {
                    this.wait = Wait::Yielded;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Halt::Await(pending) => Wait::Await(pending),
                Halt::Sleep(until) => Wait::Sleep(super::cancel::Sleep::new(until)),
            };
        }
    }
}

/// `--debug`: how long a task has run without awaiting (budget yields
/// included), and where it was when that crossed the threshold.
#[derive(Default)]
struct HeldWatch {
    busy: std::time::Duration,
    at: Option<Option<crate::vm::error::Location>>,
}

impl HeldWatch {
    fn ran(&mut self, fiber: &Fiber, took: std::time::Duration, yielded: bool) {
        self.busy += took;
        if self.busy > HELD_TOO_LONG && self.at.is_none() {
            self.at = Some(fiber.resume_location());
        }
        if !yielded {
            if let Some(at) = self.at.take() {
                report_held(fiber, at, self.busy);
            }
            self.busy = std::time::Duration::ZERO;
        }
    }
}

/// `--debug` reports a task that ran this long without awaiting.
const HELD_TOO_LONG: std::time::Duration = std::time::Duration::from_millis(100);

/// `ash: debug: FILE:LINE: task N held the loop for X s`
fn report_held(fiber: &Fiber, at: Option<crate::vm::error::Location>, busy: std::time::Duration) {
    let at = match at {
        Some(loc) => {
            let (line, _) = crate::diag::line_col(&loc);
            format!("{}:{line}: ", crate::diag::source_name(loc.source))
        }
        None => String::new(),
    };
    eprintln!(
        "ash: debug: {at}task {} held the loop for {:.2} s",
        fiber.ctx.id,
        busy.as_secs_f64()
    );
}

/// Start a coroutine as a new task, scheduled at once.
pub fn spawn(
    rt: &Rc<Runtime>,
    parent: &TaskCtx,
    coro: &Rc<Coroutine>,
    job: bool,
) -> Result<TaskRef, Error> {
    let hooks = rt.hooks.borrow().clone();
    let output = hooks.and_then(|h| h.spawn_output(parent.id));
    spawn_with_output(rt, parent, coro, job, output)
}

/// `spawn`, with the task's stdout and stderr replaced (for `gather --group`).
pub fn spawn_with_output(
    rt: &Rc<Runtime>,
    parent: &TaskCtx,
    coro: &Rc<Coroutine>,
    job: bool,
    output: Option<(Rc<OutSink>, Rc<OutSink>)>,
) -> Result<TaskRef, Error> {
    let args = coro.take()?;
    let id = rt.next_id();
    let ctx = Rc::new(parent.child(id, rt.null_stdin.clone()));
    if let Some((out, err)) = output {
        let mut io = ctx.io.borrow_mut();
        io.stdout = out;
        io.stderr = err;
    }
    let task = Rc::new(Task {
        id,
        proto: coro.func.proto.clone(),
        cancel: ctx.cancel.clone(),
        ctx: Rc::downgrade(&ctx),
        started: Instant::now(),
        job,
        outcome: RefCell::new(None),
        retrieved: Cell::new(false),
        waiters: RefCell::default(),
    });
    let fiber = Fiber::call(rt.clone(), ctx, coro.func.clone(), args);
    rt.tasks.borrow_mut().insert(id, task.clone());
    rt.executor
        .spawn(TaskBody {
            drive: Some(drive(fiber)),
            task: task.clone(),
        })
        .detach();
    Ok(task)
}

/// A spawned task's future: the fiber, then recording how it ended.
struct TaskBody {
    drive: Option<Drive>,
    task: TaskRef,
}

impl std::future::Future for TaskBody {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(drive) = self.drive.as_mut() else {
            return Poll::Ready(());
        };
        let outcome = ready!(Pin::new(&mut *drive).poll(cx));
        let rt = drive.fiber.rt.clone();
        // The fiber goes first: its context (and the pipes it holds) is
        // closed before anyone waiting for the task runs.
        self.drive = None;
        let t = &self.task;
        if let Outcome::Exit(code) = outcome {
            rt.request_exit(code);
        }
        match &outcome {
            // No process its commands started lives on.
            Outcome::Error(e) if e.kind == ErrorKind::Cancelled => t.cancel.kill_left_behind(0),
            Outcome::Error(_) => rt.failed.borrow_mut().push(t.clone()),
            _ => {}
        }
        *t.outcome.borrow_mut() = Some(outcome);
        rt.tasks.borrow_mut().remove(&t.id);
        t.waiters.take().notify_all();
        Poll::Ready(())
    }
}

/// Await a task: its value, or its error raised here. If the awaiting task
/// is cancelled meanwhile, the awaited task is cancelled too (as in asyncio)
/// and waited for.
pub async fn await_task(task: TaskRef, waiter: Rc<super::CancelToken>) -> Result<Value, Rc<Error>> {
    let outcome = future::or(task.join(), async {
        let grace = waiter.requested().await;
        task.cancel.cancel(CancelReason::Cancel, grace);
        task.join().await
    })
    .await;
    task.retrieved.set(true);
    match outcome {
        Outcome::Value(v) => Ok(v),
        Outcome::Error(e) => Err(e),
        Outcome::Exit(_) => Err(Rc::new(Error::cancelled())),
    }
}
