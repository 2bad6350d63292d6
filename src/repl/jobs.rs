//! Jobs: what runs in the background of the interactive shell.
//!
//! A job is a task started at the prompt with `cmd &` (a
//! [`JobKind::Task`]), or a foreground line stopped with Ctrl-Z (a
//! [`JobKind::Line`]: its own main task, frozen with its programs). Jobs
//! are numbered as in bash: one more than the highest number in use, so
//! numbering starts again from 1 once all jobs have ended. A job stays a
//! job until it ends, whether running or stopped, in the foreground (`fg`)
//! or the background (`bg`); then it leaves the table and a note says how
//! it ended (not for a job whose result was awaited).
//!
//! [`Shell`] is also the runtime's [`Hooks`]: it routes the output of tasks
//! spawned at the prompt (see [`super::output`]), records every task's
//! process groups (a job's groups are those of its task) and gives the
//! terminal to the foreground's, and provides the shell's commands (see
//! [`super::commands`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Instant;

use crate::process::OutSink;
use crate::runtime::executor::Executor;
use crate::runtime::task::{Outcome, TaskRef};
use crate::runtime::{CancelReason, Hooks, ShellCommand, TaskCtx};
use crate::vm::error::ErrorKind;
use crate::vm::value::Value;

use super::output::Outbox;
use super::terminal::{self, Terminal};

pub enum JobKind {
    /// `cmd &` at the prompt.
    Task(TaskRef),
    /// A foreground line stopped with Ctrl-Z: its main task's context.
    Line(Rc<TaskCtx>),
}

pub struct Job {
    pub number: usize,
    /// The command line, as typed.
    pub text: String,
    /// The task whose process groups are the job's.
    pub task_id: u64,
    pub kind: JobKind,
    pub stopped: Cell<bool>,
    /// Its end was shown already (it ended in the foreground).
    pub reported: Cell<bool>,
    started: Instant,
    outcome: RefCell<Option<Outcome>>,
    waiting: RefCell<Vec<Waker>>,
}

impl Job {
    /// Wait until the job has ended; how.
    pub async fn ended(&self) -> Outcome {
        std::future::poll_fn(|cx| {
            if let Some(o) = self.outcome.borrow().as_ref() {
                return Poll::Ready(o.clone());
            }
            self.waiting.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Ask it to stop (as `cancel $t` does), and let it run if stopped so
    /// that its programs get the signals.
    pub fn cancel(&self, shell: &Shell) {
        match &self.kind {
            JobKind::Task(t) => {
                t.cancel(CancelReason::Cancel, crate::runtime::cancel::DEFAULT_GRACE)
            }
            JobKind::Line(ctx) => ctx
                .cancel
                .cancel(CancelReason::Cancel, crate::runtime::cancel::DEFAULT_GRACE),
        }
        if self.stopped.replace(false) {
            for g in shell.groups_of(self.task_id) {
                terminal::continue_group(g);
            }
        }
    }

    pub fn state(&self) -> &'static str {
        if self.stopped.get() {
            "stopped"
        } else {
            "running"
        }
    }

    /// Whether its result was awaited (`fg`, or `await` on the task), so
    /// its end needs no note.
    fn retrieved(&self) -> bool {
        matches!(&self.kind, JobKind::Task(t) if t.retrieved())
    }
}

/// A program that ran and exited non-zero (not a command not found, not
/// a failure inside a function): it has said what went wrong itself.
pub fn program_failed(e: &crate::vm::error::Error) -> bool {
    e.kind == ErrorKind::Command
        && !matches!(e.status, Some(126 | 127))
        && e.trace.borrow().is_empty()
}

/// The exit status an outcome stands for.
pub fn status_of(outcome: &Outcome) -> i32 {
    match outcome {
        Outcome::Value(_) => 0,
        Outcome::Exit(code) => *code,
        Outcome::Error(e) if e.kind == ErrorKind::Cancelled => 130,
        Outcome::Error(e) => e.exit_status(),
    }
}

pub struct Shell {
    /// The task whose pipelines get the terminal: the line being run.
    pub foreground: Cell<u64>,
    /// Every task's live process groups, oldest first.
    groups: RefCell<HashMap<u64, Vec<i32>>>,
    pub terminal: Option<Rc<Terminal>>,
    pub output: Rc<Outbox>,
    pub executor: Rc<Executor>,
    jobs: RefCell<Vec<Rc<Job>>>,
    /// Jobs that ended since the last prompt, to report.
    ended: RefCell<Vec<Rc<Job>>>,
    /// Called when a job starts or ends (the prompt shows the count).
    pub on_change: RefCell<Option<Box<dyn Fn()>>>,
    /// Directory history, abbreviations, aliases: see [`super::commands`].
    pub state: super::commands::State,
    /// The runtime (weak: it holds the shell as its hooks).
    runtime: RefCell<std::rc::Weak<crate::runtime::Runtime>>,
}

impl Shell {
    pub fn new(
        terminal: Option<Rc<Terminal>>,
        output: Rc<Outbox>,
        executor: Rc<Executor>,
    ) -> Rc<Shell> {
        Rc::new(Shell {
            foreground: Cell::new(0),
            groups: RefCell::new(HashMap::new()),
            terminal,
            output,
            executor,
            jobs: RefCell::new(Vec::new()),
            ended: RefCell::new(Vec::new()),
            on_change: RefCell::new(None),
            state: super::commands::State::default(),
            runtime: RefCell::new(std::rc::Weak::new()),
        })
    }

    pub fn set_runtime(&self, rt: &Rc<crate::runtime::Runtime>) {
        *self.runtime.borrow_mut() = Rc::downgrade(rt);
    }

    pub fn runtime(&self) -> Option<Rc<crate::runtime::Runtime>> {
        self.runtime.borrow().upgrade()
    }

    pub fn groups_of(&self, task: u64) -> Vec<i32> {
        self.groups.borrow().get(&task).cloned().unwrap_or_default()
    }

    /// Whether a process of one of `task`'s groups is stopped (Ctrl-Z).
    pub fn stopped(&self, task: u64) -> bool {
        self.groups_of(task)
            .into_iter()
            .any(terminal::group_stopped)
    }

    /// Whether task `id` is (or was) a job's: its failure is told by the
    /// job's note.
    pub fn is_job_task(&self, id: u64) -> bool {
        let is = |j: &Rc<Job>| j.task_id == id && matches!(j.kind, JobKind::Task(_));
        self.jobs.borrow().iter().any(is) || self.ended.borrow().iter().any(is)
    }

    pub fn jobs(&self) -> Vec<Rc<Job>> {
        self.jobs.borrow().clone()
    }

    pub fn stopped_jobs(&self) -> usize {
        self.jobs
            .borrow()
            .iter()
            .filter(|j| j.stopped.get())
            .count()
    }

    /// Job `n`, or without `n` the current job: the newest stopped one,
    /// else the newest.
    pub fn job(&self, n: Option<usize>) -> Option<Rc<Job>> {
        let jobs = self.jobs.borrow();
        match n {
            Some(n) => jobs.iter().find(|j| j.number == n).cloned(),
            None => jobs
                .iter()
                .rev()
                .find(|j| j.stopped.get())
                .or_else(|| jobs.last())
                .cloned(),
        }
    }

    fn changed(&self) {
        if let Some(f) = self.on_change.borrow().as_ref() {
            f();
        }
    }

    /// A new job, watched until `body` ends.
    pub fn add_job(
        self: &Rc<Self>,
        text: &str,
        task_id: u64,
        kind: JobKind,
        stopped: bool,
        body: impl std::future::Future<Output = Outcome> + 'static,
    ) -> Rc<Job> {
        let number = self
            .jobs
            .borrow()
            .iter()
            .map(|j| j.number)
            .max()
            .unwrap_or(0)
            + 1;
        let job = Rc::new(Job {
            number,
            text: text.trim().to_string(),
            task_id,
            kind,
            stopped: Cell::new(stopped),
            reported: Cell::new(false),
            started: Instant::now(),
            outcome: RefCell::new(None),
            waiting: RefCell::new(Vec::new()),
        });
        self.jobs.borrow_mut().push(job.clone());
        let (me, watched) = (self.clone(), job.clone());
        self.executor
            .spawn(async move {
                let outcome = body.await;
                *watched.outcome.borrow_mut() = Some(outcome);
                for w in watched.waiting.borrow_mut().drain(..) {
                    w.wake();
                }
                me.jobs.borrow_mut().retain(|j| !Rc::ptr_eq(j, &watched));
                me.ended.borrow_mut().push(watched);
                me.changed();
            })
            .detach();
        self.changed();
        job
    }

    /// Notes on the jobs that ended since the last call: `[1] done  cmd`,
    /// `[2] failed  cmd` with the error.
    pub fn take_notes(&self) -> Vec<String> {
        let ended = std::mem::take(&mut *self.ended.borrow_mut());
        let mut notes = Vec::new();
        for job in ended {
            let Some(outcome) = job.outcome.borrow().clone() else {
                continue;
            };
            if job.reported.get() {
                continue;
            }
            let took = job.started.elapsed().as_secs_f64();
            match &outcome {
                // A program that exited non-zero: its status says enough.
                Outcome::Error(e) if program_failed(e) => {
                    if let JobKind::Task(t) = &job.kind {
                        t.set_retrieved();
                    }
                    let status = e.exit_status();
                    let signal = (status > 128)
                        .then(|| nix::sys::signal::Signal::try_from(status - 128).ok())
                        .flatten()
                        .map(|s| format!(" ({})", s.as_str()))
                        .unwrap_or_default();
                    notes.push(format!(
                        "[{}] exit {status}{signal} ({took:.1}s)  {}",
                        job.number, job.text
                    ));
                }
                Outcome::Error(e) if e.kind != ErrorKind::Cancelled => {
                    if let JobKind::Task(t) = &job.kind {
                        // Reported here, not again as a lost failure.
                        t.set_retrieved();
                    }
                    let report = crate::diag::render_error(e);
                    notes.push(format!(
                        "[{}] failed ({took:.1}s)  {}\n{}",
                        job.number,
                        job.text,
                        report.trim_end()
                    ));
                }
                _ if job.retrieved() => {}
                Outcome::Error(_) => {
                    notes.push(format!("[{}] cancelled  {}", job.number, job.text));
                }
                _ => {
                    let status = status_of(&outcome);
                    let how = if status == 0 {
                        "done".to_string()
                    } else {
                        format!("exit {status}")
                    };
                    notes.push(format!("[{}] {how} ({took:.1}s)  {}", job.number, job.text));
                }
            }
        }
        notes
    }
}

impl Shell {
    fn spawn_output(&self, parent: u64) -> Option<(Rc<OutSink>, Rc<OutSink>)> {
        if parent != self.foreground.get() {
            return None;
        }
        self.output.task_output(&self.executor)
    }

    fn group(&self, pgid: i32, task: u64, started: bool) {
        {
            let mut groups = self.groups.borrow_mut();
            if started {
                groups.entry(task).or_default().push(pgid);
            } else if let Some(list) = groups.get_mut(&task) {
                list.retain(|&g| g != pgid);
                if list.is_empty() {
                    groups.remove(&task);
                }
            }
        }
        if task != self.foreground.get() {
            return;
        }
        if let Some(t) = &self.terminal {
            if started {
                t.give(pgid);
            } else {
                match self.groups_of(task).last() {
                    Some(&g) => t.give(g),
                    None => t.take_back(),
                }
            }
        }
    }

    fn cancel_job(&self, n: u64) -> Option<bool> {
        let job = usize::try_from(n).ok().and_then(|n| self.job(Some(n)));
        Some(match job {
            Some(job) => {
                job.cancel(self);
                true
            }
            None => false,
        })
    }
}

/// The runtime's hooks: the shell, by `Rc` (commands and jobs outlive the
/// call that starts them).
pub struct ShellHooks(pub Rc<Shell>);

impl Hooks for ShellHooks {
    fn spawn_output(&self, parent: u64) -> Option<(Rc<OutSink>, Rc<OutSink>)> {
        self.0.spawn_output(parent)
    }

    fn spawned(&self, parent: u64, task: &TaskRef) {
        // `cmd &` at the prompt is a job; a `spawn` is a task, handled
        // through its value (`await $t`, `cancel $t`).
        if parent != self.0.foreground.get() || !task.is_job() {
            return;
        }
        let t = task.clone();
        let job = self.0.add_job(
            task.name(),
            task.id,
            JobKind::Task(task.clone()),
            false,
            async move { t.join().await },
        );
        // As bash does: the number to use with `fg`, `kill %N`, `cancel N`.
        self.0
            .output
            .note(&format!("[{}] {}", job.number, job.text));
    }

    fn group(&self, pgid: i32, task: u64, started: bool) {
        self.0.group(pgid, task, started)
    }

    fn has_command(&self, args: &[Value]) -> bool {
        super::commands::is_command(args)
    }

    fn run_command(&self, ctx: Rc<TaskCtx>, args: Vec<Value>) -> ShellCommand {
        Box::pin(super::commands::run(self.0.clone(), ctx, args))
    }

    fn cancel_job(&self, n: u64) -> Option<bool> {
        self.0.cancel_job(n)
    }
}
