//! Tasks: a fiber driven by a smol task, with its own cwd and environment.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

use futures_lite::future;

use super::cancel::WakeList;
use super::{CancelReason, Runtime, TaskCtx};
use crate::process::OutSink;
use crate::vm::error::{Error, ErrorKind};
use crate::vm::fiber::{Fiber, Halt};
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
    /// The coroutine's name, for `jobs` and warnings.
    pub name: Rc<str>,
    /// The task's cancellation token (its context is dropped when it ends,
    /// closing the pipes it held).
    pub cancel: Rc<super::CancelToken>,
    /// What it is running now, for `jobs`.
    pub current: Rc<RefCell<String>>,
    pub started: Instant,
    /// Started with `cmd &`: listed by `jobs` (all live tasks are).
    pub job: bool,
    outcome: RefCell<Option<Outcome>>,
    /// Someone awaited (or gathered) the result: its error is not lost.
    pub retrieved: Cell<bool>,
    done: WakeList,
    /// Queues told the task's index when it finishes (`gather`, `race`).
    watchers: RefCell<Vec<(Rc<DoneQueue>, usize)>>,
    handle: RefCell<Option<smol::Task<()>>>,
}

impl Task {
    pub fn id(&self) -> u64 {
        self.id
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
            self.watchers.borrow_mut().push((queue.clone(), index));
        }
    }

    /// Wait until the task has finished, and return how.
    pub async fn join(self: &Rc<Self>) -> Outcome {
        future::poll_fn(|cx| match &*self.outcome.borrow() {
            Some(o) => std::task::Poll::Ready(o.clone()),
            None => {
                self.done.register(cx.waker());
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
pub async fn drive(mut fiber: Fiber) -> Outcome {
    let debug = fiber.rt.debug;
    // Time spent running without awaiting (budget yields included).
    let mut busy = std::time::Duration::ZERO;
    // Where the task was when it crossed the threshold.
    let mut held_at = None;
    loop {
        let started = debug.then(Instant::now);
        let halt = fiber.run();
        if let Some(t) = started {
            busy += t.elapsed();
            if busy > HELD_TOO_LONG && held_at.is_none() {
                held_at = Some(fiber.resume_location());
            }
            if !matches!(halt, Halt::Yield) {
                if let Some(at) = held_at.take() {
                    report_held(&fiber, at, busy);
                }
                busy = std::time::Duration::ZERO;
            }
        }
        match halt {
            Halt::Done(v) => return Outcome::Value(v),
            Halt::Failed(e) => return Outcome::Error(e),
            Halt::Exit(code) => return Outcome::Exit(code),
            Halt::Yield => {
                future::yield_now().await;
                fiber.check_cancel();
            }
            Halt::Await(pending) => {
                let result = pending.await;
                fiber.resume(result);
            }
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
        name: Rc::from(coro.name()),
        cancel: ctx.cancel.clone(),
        current: ctx.current.clone(),
        started: Instant::now(),
        job,
        outcome: RefCell::new(None),
        retrieved: Cell::new(false),
        done: WakeList::default(),
        watchers: RefCell::new(Vec::new()),
        handle: RefCell::new(None),
    });
    let fiber = Fiber::call(rt.clone(), ctx, coro.func.clone(), args);
    rt.tasks.borrow_mut().insert(id, task.clone());
    let t = task.clone();
    let rt2 = rt.clone();
    let handle = rt.executor.spawn(async move {
        let outcome = drive(fiber).await;
        if let Outcome::Exit(code) = outcome {
            rt2.request_exit(code);
        }
        if let Outcome::Error(e) = &outcome
            && e.kind != ErrorKind::Cancelled
        {
            rt2.failed.borrow_mut().push(t.clone());
        }
        *t.outcome.borrow_mut() = Some(outcome);
        rt2.tasks.borrow_mut().remove(&t.id);
        t.done.wake_all();
        for (queue, index) in t.watchers.take() {
            queue.push(index);
        }
    });
    *task.handle.borrow_mut() = Some(handle);
    Ok(task)
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
