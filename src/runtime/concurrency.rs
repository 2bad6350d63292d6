//! `gather` and `race`: structured waiting on several tasks.
//!
//! Every branch becomes a task (a coroutine is spawned; a task is waited
//! for as it is). Like asyncio's TaskGroup, `gather` cancels the remaining
//! branches when one fails and waits for them before raising; with `-k` it
//! waits for all and returns errors as values. `race` returns the first
//! success and cancels the rest. When the waiting task is itself cancelled,
//! every branch is cancelled and waited for first, so no process outlives
//! the scope.

use std::rc::Rc;
use std::time::Duration;

use futures_lite::future;

use super::cancel::DEFAULT_GRACE;
use super::keys::Site;
use super::observe::{Kind, Origin};
use super::progress::Progress;
use super::task::{DoneQueue, Outcome, Task, TaskKey, TaskRef, check_wait, spawn_with_output};
use super::{CancelReason, Runtime, TaskCtx};
use crate::observe::{self, Event, GroupKind};
use crate::process::{self, OutSink};
use crate::vm::error::{Error, Location};
use crate::vm::fiber::{Pending, Resume};
use crate::vm::objects::Coroutine;
use crate::vm::value::Value;

enum Item {
    Coro(Rc<Coroutine>),
    Task(TaskRef),
}

/// The branches as coroutines and tasks, not started yet; an error if the
/// waiting task (`ctx`'s) would wait for itself, directly or through a
/// cycle.
fn items_of(
    rt: &Runtime,
    ctx: &TaskCtx,
    branches: Vec<Value>,
    what: &str,
) -> Result<Vec<Branch>, Error> {
    let items = branch_items(branches, what)?;
    for item in &items {
        if let Branch::NotStarted(Item::Task(t)) = item {
            check_wait(rt, TaskKey::of(ctx), t)?;
        }
    }
    Ok(items)
}

/// The branches, each `NotStarted`, in the list [`Running`] keeps (a
/// separate list of them, beside it while they started, was W3's peak:
/// 16 bytes a task).
fn branch_items(branches: Vec<Value>, what: &str) -> Result<Vec<Branch>, Error> {
    // Sized exactly: with 100,000 branches, doubling would waste 1 MB.
    let count = |b: &Value| match b {
        Value::List(l) => l.borrow().len(),
        _ => 1,
    };
    let mut items = Vec::with_capacity(branches.iter().map(count).sum());
    for b in branches {
        match b {
            Value::Coroutine(c) => items.push(Branch::NotStarted(Item::Coro(c))),
            Value::Task(t) => items.push(Branch::NotStarted(Item::Task(t))),
            Value::List(l) => {
                for v in l.borrow().iter() {
                    match v {
                        Value::Coroutine(c) => {
                            items.push(Branch::NotStarted(Item::Coro(c.clone())))
                        }
                        Value::Task(t) => items.push(Branch::NotStarted(Item::Task(t.clone()))),
                        other => {
                            return Err(Error::type_err(format!(
                                "{what} expects coroutines or tasks, got a list containing {}",
                                other.type_name()
                            )));
                        }
                    }
                }
            }
            other => {
                return Err(Error::type_err(format!(
                    "{what} expects a block, a coroutine, a task or a list of them, got {}",
                    other.type_name()
                )));
            }
        }
    }
    Ok(items)
}

/// Branch output captured for `--group`.
struct GroupOutput {
    stdout: crate::runtime::executor::Task<std::io::Result<Vec<u8>>>,
    stderr: crate::runtime::executor::Task<std::io::Result<Vec<u8>>>,
}

/// The branches by index (not started, running, or finished with their
/// value), how many run, and the queue that tells which finished next.
struct Running {
    branches: Vec<Branch>,
    len: usize,
    done: Rc<DoneQueue>,
}

/// The same size as a `Value`, so the finished list becomes `gather`'s
/// result in place: a new list of 100,000 values, made while every task
/// record was still alive, was the peak of W3's memory.
enum Branch {
    NotStarted(Item),
    Running(TaskRef),
    Done(Value),
}

const _: () = assert!(std::mem::size_of::<Branch>() == std::mem::size_of::<Value>());

impl Running {
    /// Branches that task `owner` waits for, none started yet.
    fn new(branches: Vec<Branch>, owner: TaskKey) -> Running {
        Running {
            branches,
            len: 0,
            done: Rc::new(DoneQueue::for_task(owner)),
        }
    }

    /// Take branch `index` to start it (then `add` it).
    fn take(&mut self, index: usize) -> Option<Item> {
        let branch = self.branches.get_mut(index)?;
        match std::mem::replace(branch, Branch::Done(Value::Null)) {
            Branch::NotStarted(item) => Some(item),
            other => {
                *branch = other;
                None
            }
        }
    }

    /// Branches from `from` on were never started because the group
    /// stopped early: they were handed to it, so they are not "never
    /// awaited".
    fn discard_from(&mut self, from: usize) {
        for branch in self.branches.iter().skip(from) {
            if let Branch::NotStarted(Item::Coro(c)) = branch {
                c.used.set(true);
            }
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn add(&mut self, index: usize, task: TaskRef) {
        task.watch(&self.done, index);
        let before = std::mem::replace(&mut self.branches[index], Branch::Running(task));
        if !matches!(before, Branch::Running(_)) {
            self.len += 1;
        }
    }

    /// Wait until one running branch finishes; its index, task and outcome.
    async fn next_done(&mut self) -> (usize, TaskRef, Outcome) {
        loop {
            let index = self.done.next().await;
            let Some(branch) = self.branches.get_mut(index) else {
                continue;
            };
            if let Branch::Running(task) = branch
                && let Some(outcome) = task.outcome()
            {
                let task = task.clone();
                *branch = Branch::Done(match &outcome {
                    Outcome::Value(v) => v.clone(),
                    Outcome::Error(e) => Value::Error(e.clone()),
                    Outcome::Exit(_) => Value::Null,
                });
                self.len -= 1;
                return (index, task, outcome);
            }
        }
    }

    /// The branches' values, in order, once all have finished.
    fn values(self) -> Vec<Value> {
        let value = |b| match b {
            Branch::Done(v) => v,
            Branch::NotStarted(_) | Branch::Running(_) => Value::Null,
        };
        self.branches.into_iter().map(value).collect()
    }

    /// The next finished branch; or, if the waiting task is cancelled
    /// first, `None` once every branch has been cancelled and waited for.
    async fn next_or_cancelled(
        &mut self,
        token: &super::TokenRef,
    ) -> Option<(usize, TaskRef, Outcome)> {
        let step = future::or(async { Some(self.next_done().await) }, async {
            token.requested().await;
            None
        })
        .await;
        if step.is_none() {
            let grace = token.requested().await;
            self.cancel_all(grace).await;
        }
        step
    }

    /// Cancel every running branch and wait for all of them.
    async fn cancel_all(&mut self, grace: Duration) {
        for branch in &self.branches {
            if let Branch::Running(t) = branch {
                t.cancel(CancelReason::Cancel, grace);
            }
        }
        while !self.is_empty() {
            let (_, task, _) = self.next_done().await;
            task.set_retrieved();
        }
    }
}

/// How a `gather` or `race` shows while it runs: its spans in a trace
/// (`observed`, when something observes) and its progress line.
struct Shown {
    observed: Option<Observed>,
    progress: Option<Rc<Progress>>,
}

impl Shown {
    fn progress(&self) -> Option<&Progress> {
        self.progress.as_deref()
    }
}

/// A `gather` or `race` as `--trace` and `--timeline` see it: its id and
/// where it is.
struct Observed {
    id: u64,
    site: Option<Location>,
}

impl Observed {
    /// Tell observers a `gather` or `race` of `branches` begins (`None`
    /// when nothing observes).
    fn start(
        ctx: &TaskCtx,
        kind: GroupKind,
        branches: usize,
        limit: Option<usize>,
        site: Option<&Site>,
    ) -> Option<Observed> {
        if !observe::on() {
            return None;
        }
        let id = observe::next_id();
        let site = site.and_then(Site::location);
        observe::emit(Event::GroupStart {
            id,
            owner: ctx.observe_key(),
            kind,
            branches,
            limit,
            site: site.as_ref(),
        });
        Some(Observed { id, site })
    }

    /// How branch `index` shows in a trace: as a branch of this group, and
    /// where the group is.
    fn traced(this: &Option<Observed>, index: usize) -> (observe::Origin, Option<&Location>) {
        match this {
            Some(o) => (
                observe::Origin::Branch { group: o.id, index },
                o.site.as_ref(),
            ),
            None => (observe::Origin::Spawn, None),
        }
    }

    /// The future, telling observers how it ended.
    fn wrap(
        id: Option<u64>,
        fut: impl std::future::Future<Output = Result<Resume, Rc<Error>>> + 'static,
    ) -> Pending {
        let Some(id) = id else {
            return Box::pin(fut);
        };
        Box::pin(async move {
            let result = fut.await;
            let ended = match &result {
                Ok(Resume::Push(v)) => observe::Ended::Value(v),
                Err(e) => observe::Ended::Error(e),
                Ok(_) => observe::Ended::Value(&Value::Null),
            };
            observe::emit(Event::GroupEnd { id, ended });
            result
        })
    }
}

/// The future of a `gather` or `race`, then the end of its progress line
/// (after the future, so its branches' outputs are closed by then).
async fn with_line(
    line: Option<Rc<Progress>>,
    fut: impl std::future::Future<Output = Result<Resume, Rc<Error>>>,
) -> Result<Resume, Rc<Error>> {
    let result = fut.await;
    if let Some(line) = line {
        line.finish().await;
    }
    result
}

/// Start branch `index` (`origin`: what the journal's observers know of
/// it; one that replays it makes it a task that has already finished).
fn start(
    rt: &Rc<Runtime>,
    ctx: &TaskCtx,
    index: usize,
    item: Item,
    outputs: &mut [Option<GroupOutput>],
    origin: Option<Rc<Origin>>,
    shown: &Shown,
) -> Result<TaskRef, Error> {
    match item {
        Item::Task(t) => Ok(t),
        Item::Coro(c) => {
            if let Some(value) = origin.as_deref().and_then(|o| rt.observers.replay(o)) {
                return Task::replayed(rt, &c, value);
            }
            // `--group` (the only caller with outputs) captures each branch.
            let output = if !outputs.is_empty() {
                let pipe = || process::pipe().map_err(|e| Error::io(format!("pipe: {e}")));
                let (r1, w1) = pipe()?;
                let (r2, w2) = pipe()?;
                outputs[index] = Some(GroupOutput {
                    stdout: rt.executor.spawn(process::read_to_end(r1)),
                    stderr: rt.executor.spawn(process::read_to_end(r2)),
                });
                Some((Rc::new(OutSink::from_fd(w1)), Rc::new(OutSink::from_fd(w2))))
            } else {
                shown.progress().and_then(Progress::sinks)
            };
            let traced = Observed::traced(&shown.observed, index);
            spawn_with_output(rt, ctx, &c, false, output, origin, traced)
        }
    }
}

/// Print finished `--group` outputs in argument order, as far as possible.
async fn flush_group(
    ctx: &TaskCtx,
    outputs: &mut [Option<GroupOutput>],
    done: &[bool],
    next: &mut usize,
    progress: Option<&Progress>,
) {
    while *next < outputs.len() && done[*next] {
        if let Some(out) = outputs[*next].take() {
            // Under a progress line, through its relay (above the line).
            let (stdout, stderr) = match progress.and_then(Progress::sinks) {
                Some(sinks) => sinks,
                None => {
                    let io = ctx.io();
                    (io.stdout, io.stderr)
                }
            };
            if let Ok(bytes) = out.stdout.await {
                let _ = stdout.write_all(&bytes).await;
            }
            if let Ok(bytes) = out.stderr.await {
                let _ = stderr.write_all(&bytes).await;
            }
        }
        *next += 1;
    }
}

/// How long a cancelled `gather --group` may take to print what its
/// branches wrote: a descendant that escaped the cancellation and holds a
/// branch's output open, or a reader that stopped reading, must not keep
/// the cancellation from completing.
const GROUP_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// After the gather was cancelled (its branches cancelled and waited
/// for): print every started branch's output, in argument order, within
/// [`GROUP_FLUSH_LIMIT`].
async fn flush_cancelled(
    ctx: &TaskCtx,
    outputs: &mut [Option<GroupOutput>],
    done: &mut [bool],
    next: &mut usize,
    progress: Option<&Progress>,
) {
    done.fill(true);
    future::or(flush_group(ctx, outputs, done, next, progress), async {
        async_io::Timer::after(GROUP_FLUSH_LIMIT).await;
    })
    .await;
}

/// The origins of the branches, when someone observes the run.
fn origins(
    rt: &Runtime,
    ctx: &TaskCtx,
    site: Option<&Site>,
    kind: Kind,
    branches: &[Value],
) -> Vec<Option<Rc<Origin>>> {
    match rt.observers.active() {
        true => rt.observers.branches(ctx, site, kind, branches),
        false => Vec::new(),
    }
}

/// Take branch `i`'s origin.
fn origin_of(origins: &mut [Option<Rc<Origin>>], i: usize) -> Option<Rc<Origin>> {
    origins.get_mut(i).and_then(Option::take)
}

/// How a `gather` runs: its options.
pub struct GatherOpts {
    /// `-j N` (not yet checked).
    pub limit: Option<Value>,
    /// `-k`
    pub keep_going: bool,
    /// `--group`
    pub group: bool,
    /// `--progress`
    pub progress: bool,
}

pub fn gather(
    rt: Rc<Runtime>,
    ctx: Rc<TaskCtx>,
    site: Option<&Site>,
    branches: Vec<Value>,
    opts: GatherOpts,
) -> Result<Pending, Error> {
    let GatherOpts {
        limit,
        keep_going,
        group,
        progress,
    } = opts;
    let limit = match limit {
        None => usize::MAX,
        Some(Value::Int(n)) if n >= 1 => n as usize,
        Some(v) => {
            return Err(Error::value(format!(
                "gather -j expects a positive integer, got {}",
                v.repr()
            )));
        }
    };
    let mut origins = origins(&rt, &ctx, site, Kind::Gather, &branches);
    let items = items_of(&rt, &ctx, branches, "gather")?;
    let shown_limit = (limit != usize::MAX).then_some(limit);
    let shown = Shown {
        observed: Observed::start(&ctx, GroupKind::Gather, items.len(), shown_limit, site),
        progress: progress
            .then(|| Progress::start(&rt, &ctx, "gather", items.len()))
            .flatten(),
    };
    let id = shown.observed.as_ref().map(|o| o.id);
    let line = shown.progress.clone();
    let fut = async move {
        let progress = shown.progress();
        let n = items.len();
        let mut running = Running::new(items, TaskKey::of(&ctx));
        // The next branch to start.
        let mut next = 0;
        // Only `--group` captures output.
        let mut outputs: Vec<Option<GroupOutput>> = match group {
            true => (0..n).map(|_| None).collect(),
            false => Vec::new(),
        };
        let mut done = vec![false; n];
        let mut flushed = 0;
        let token = ctx.token();
        loop {
            while running.len() < limit
                && let Some(item) = running.take(next)
            {
                let i = next;
                next += 1;
                let origin = origin_of(&mut origins, i);
                match start(&rt, &ctx, i, item, &mut outputs, origin, &shown) {
                    Ok(t) => {
                        running.add(i, t);
                        progress.inspect(|p| p.started());
                    }
                    Err(e) => {
                        running.cancel_all(DEFAULT_GRACE).await;
                        return Err(Rc::new(e));
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            let Some((index, task, outcome)) = running.next_or_cancelled(&token).await else {
                // This task was cancelled (a timeout, Ctrl-C): its branches
                // were, then what each wrote is printed, then raise.
                running.discard_from(next);
                if group {
                    flush_cancelled(&ctx, &mut outputs, &mut done, &mut flushed, progress).await;
                }
                return Err(Rc::new(Error::cancelled()));
            };
            task.set_retrieved();
            done[index] = true;
            progress.inspect(|p| p.ended(matches!(outcome, Outcome::Error(_))));
            match outcome {
                Outcome::Value(_) | Outcome::Exit(_) => {}
                Outcome::Error(_) if keep_going => {}
                Outcome::Error(e) => {
                    running.cancel_all(DEFAULT_GRACE).await;
                    running.discard_from(next);
                    for d in done.iter_mut() {
                        *d = true;
                    }
                    flush_group(&ctx, &mut outputs, &done, &mut flushed, progress).await;
                    return Err(e);
                }
            }
            if group {
                flush_group(&ctx, &mut outputs, &done, &mut flushed, progress).await;
            }
        }
        Ok(Resume::Push(Value::list(running.values())))
    };
    Ok(Observed::wrap(id, with_line(line, fut)))
}

pub fn race(
    rt: Rc<Runtime>,
    ctx: Rc<TaskCtx>,
    site: Option<&Site>,
    branches: Vec<Value>,
    progress: bool,
) -> Result<Pending, Error> {
    let mut origins = origins(&rt, &ctx, site, Kind::Race, &branches);
    // A branch that won this race in an earlier run, which the journal
    // replays: then nothing else starts.
    let replayed = origins
        .iter()
        .find_map(|o| o.as_deref().and_then(|o| rt.observers.replay(o)));
    let items = items_of(&rt, &ctx, branches, "race")?;
    let shown = Shown {
        observed: Observed::start(&ctx, GroupKind::Race, items.len(), None, site),
        progress: progress
            .then(|| Progress::start(&rt, &ctx, "race", items.len()))
            .flatten(),
    };
    let id = shown.observed.as_ref().map(|o| o.id);
    let line = shown.progress.clone();
    let fut = async move {
        let progress = shown.progress();
        let n = items.len();
        let mut running = Running::new(items, TaskKey::of(&ctx));
        if let Some(value) = replayed {
            for i in 0..n {
                match running.take(i) {
                    // Running already: a loser, cancelled as any other.
                    Some(Item::Task(t)) => running.add(i, t),
                    Some(Item::Coro(c)) => c.used.set(true),
                    None => {}
                }
            }
            running.cancel_all(DEFAULT_GRACE).await;
            return Ok(Resume::Push(value));
        }
        let mut outputs = Vec::new();
        for i in 0..n {
            let Some(item) = running.take(i) else {
                continue;
            };
            let origin = origin_of(&mut origins, i);
            match start(&rt, &ctx, i, item, &mut outputs, origin, &shown) {
                Ok(t) => {
                    running.add(i, t);
                    progress.inspect(|p| p.started());
                }
                Err(e) => {
                    running.cancel_all(DEFAULT_GRACE).await;
                    return Err(Rc::new(e));
                }
            }
        }
        let mut errors: Vec<Option<Rc<Error>>> = vec![None; n];
        let token = ctx.token();
        while !running.is_empty() {
            let Some((index, task, outcome)) = running.next_or_cancelled(&token).await else {
                return Err(Rc::new(Error::cancelled()));
            };
            task.set_retrieved();
            progress.inspect(|p| p.ended(matches!(outcome, Outcome::Error(_))));
            match outcome {
                Outcome::Value(v) => {
                    running.cancel_all(DEFAULT_GRACE).await;
                    return Ok(Resume::Push(v));
                }
                Outcome::Exit(_) => {
                    running.cancel_all(DEFAULT_GRACE).await;
                    return Ok(Resume::Push(Value::Null));
                }
                Outcome::Error(e) => errors[index] = Some(e),
            }
        }
        match errors.into_iter().flatten().next() {
            Some(e) => Err(e),
            None => Ok(Resume::Push(Value::Null)),
        }
    };
    Ok(Observed::wrap(id, with_line(line, fut)))
}

/// `spawn --on HOSTS BODY` (section 15): a task whose body runs in an ash
/// on a host (see `crate::remote`).
pub fn spawn_on(
    rt: &Rc<Runtime>,
    ctx: &TaskCtx,
    site: Option<&Site>,
    hosts: Value,
    body: Value,
) -> Result<TaskRef, Error> {
    let stub = crate::remote::spawn_stub(rt, &hosts, body)?;
    super::task::spawn(rt, ctx, &stub, false, site)
}

/// `gather --on HOSTS [-j N] ...`: a plain `gather` of tasks that each run
/// their branch on one of the hosts, at most N at a time on each.
pub fn gather_on(
    rt: &Rc<Runtime>,
    ctx: &Rc<TaskCtx>,
    site: Option<&Site>,
    hosts: Value,
    branches: Vec<Value>,
    opts: GatherOpts,
) -> Result<Pending, Error> {
    let (stubs, fleet) = crate::remote::branch_stubs(rt, &hosts, branches, opts.limit, "gather")?;
    // The limit is per host: the stubs' own.
    let opts = GatherOpts {
        limit: None,
        ..opts
    };
    let fut = gather(rt.clone(), ctx.clone(), site, vec![stubs], opts)?;
    Ok(Box::pin(async move {
        let _fleet = fleet;
        fut.await
    }))
}

/// `race --on HOSTS ...`: a plain `race` of tasks that each run their
/// branch on one of the hosts.
pub fn race_on(
    rt: &Rc<Runtime>,
    ctx: &Rc<TaskCtx>,
    site: Option<&Site>,
    hosts: Value,
    branches: Vec<Value>,
    progress: bool,
) -> Result<Pending, Error> {
    let (stubs, fleet) = crate::remote::branch_stubs(rt, &hosts, branches, None, "race")?;
    let fut = race(rt.clone(), ctx.clone(), site, vec![stubs], progress)?;
    Ok(Box::pin(async move {
        let _fleet = fleet;
        fut.await
    }))
}

/// The body of a task started by the three above: run the packed body on
/// a host of `target` and wait for its answer.
pub fn remote_run(
    rt: &Rc<Runtime>,
    ctx: &Rc<TaskCtx>,
    target: Value,
    unit: Value,
) -> Result<Pending, Error> {
    crate::remote::run(rt, ctx, target, unit)
}
