//! The interactive shell (`ash` with no script, stdin a terminal).
//!
//! Two threads. The main thread runs the smol event loop, as for a script:
//! every line the user accepts is parsed, compiled as a script line (its
//! top-level `let` and `fn` become globals, so they persist) and run as the
//! body of the session's main task; tasks spawned by it keep running while
//! the user types. The line editor (reedline, whose `read_line` blocks) runs
//! on the `ash-editor` thread ([`editor`]); the main thread asks it for a
//! line and awaits the answer on a channel, so the loop never blocks.
//!
//! The editor's helpers ([`highlight`], [`complete`], [`validate`]) run on
//! the editor thread and see only plain data: a [`shared::Snapshot`] of the
//! runtime's names refreshed before each prompt.
//!
//! See `docs/interactive.md` for what the user sees.

mod abbr;
mod commands;
mod complete;
mod editor;
mod highlight;
mod history;
mod jobs;
mod menu;
mod mode_marks;
mod options;
mod output;
mod prompt;
mod shared;
mod terminal;
mod validate;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use futures_lite::future;

use crate::diag;
use crate::process::OutSink;
use crate::runtime::cancel::DEFAULT_GRACE;
use crate::runtime::task::{Outcome, drive};
use crate::runtime::{CancelReason, Io, Runtime, TaskCtx};
use crate::vm::error::ErrorKind;
use crate::vm::fiber::Fiber;
use crate::vm::value::Value;

use editor::{Editor, Reply, Request, Settings};
use jobs::{JobKind, Shell, ShellHooks};
use output::Outbox;
use prompt::{AshPrompt, PromptText};
use shared::Shared;
use terminal::Terminal;

enum Fg {
    Done(Outcome),
    Stopped(crate::runtime::executor::Task<Outcome>),
}

/// How running a line (or config.ash) went.
enum Ran {
    Done,
    /// `exit N`: the shell must exit with N.
    Exit(i32),
    /// It did not parse or compile (the error was reported).
    NotParsed,
}

struct Session {
    rt: Rc<Runtime>,
    ctx: RefCell<Rc<TaskCtx>>,
    shell: Rc<Shell>,
    shared: Shared,
    /// The cancel token Ctrl-C (SIGINT) cancels: the foreground's.
    fg_token: Rc<RefCell<Option<Weak<TaskCtx>>>>,
    /// The prompt being shown (updated in place when a job ends).
    prompt: PromptText,
    /// How long the last line ran.
    duration: Cell<Duration>,
    /// The running tasks and stopped jobs the prompt shows.
    counts_shown: Cell<(usize, usize)>,
}

/// How the interactive shell was started.
pub struct Options {
    pub debug: bool,
    /// A login shell (`-l`, or a name starting with `-`): run login.ash.
    pub login: bool,
    /// Standard input is not a terminal (`ash -i < file`): read plain
    /// lines, without the line editor.
    pub plain: bool,
}

/// How long the shell waits for the terminal's answer to a cursor-position
/// query before it reads plain lines instead (local terminals answer in
/// well under a millisecond, over ssh in a round trip).
const CURSOR_QUERY_WAIT: Duration = Duration::from_millis(500);

/// Run the interactive shell; returns the exit status.
pub fn run(options: Options) -> i32 {
    let Options {
        debug,
        login,
        plain,
    } = options;
    // The history file is read while the shell sets up (see
    // `history::start_loading`); line editing needs a terminal.
    let (history_warnings, history_warnings_rx) = smol::channel::unbounded();
    if !plain && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        history::start_loading(history_warnings);
    }
    // The shell waits from its first line on: start async-io now, where a
    // failure (a tight `ulimit -u`) can still be reported.
    if let Err(e) = crate::process::io_thread_ready() {
        crate::diag::reportln!("ash: cannot start: {e}");
        return 1;
    }
    let terminal = Terminal::init().map(Rc::new);
    let stop_signals = terminal::catch_stop_signals();
    crate::process::raise_fd_limit();
    let rt = Runtime::new(debug);
    let outbox = Outbox::new();
    let shell = Shell::new(terminal.clone(), outbox.clone(), rt.executor.clone());
    *rt.hooks.borrow_mut() = Some(Rc::new(ShellHooks(shell.clone())));
    shell.set_runtime(&rt);
    rt.set_global("args", Value::list(Vec::new()));
    rt.set_global("script", Value::str("ash"));
    // Jobs started or ended: the prompt and the notes are due.
    let (jobs_changed, jobs_changed_rx) = smol::channel::bounded(1);
    *shell.on_change.borrow_mut() = Some(Box::new(move || {
        let _ = jobs_changed.try_send(());
    }));
    let session = Rc::new(Session {
        rt: rt.clone(),
        ctx: RefCell::new(Rc::new(TaskCtx::main(Io::standard()))),
        shell,
        shared: Shared::default(),
        fg_token: Rc::new(RefCell::new(None)),
        prompt: PromptText::default(),
        duration: Cell::new(Duration::ZERO),
        counts_shown: Cell::new((0, 0)),
    });
    let executor = rt.executor.clone();
    if let Some(mut signals) = stop_signals {
        executor
            .spawn(async move {
                use futures_lite::StreamExt;
                while signals.next().await.is_some() {}
            })
            .detach();
    }
    executor.spawn(outbox.clone().pump()).detach();
    let notes = outbox.clone();
    executor
        .spawn(async move {
            while let Ok(w) = history_warnings_rx.recv().await {
                let w = diag::escape_controls(&w, true).into_owned();
                notes.note(&format!("ash: warning: {w}"));
            }
        })
        .detach();
    // run_loop, not `executor.run`: it also fires the loop's timers.
    let code = crate::runtime::run_loop(
        &executor,
        session.clone().main(jobs_changed_rx, login, plain),
    )
    .unwrap_or_else(|e| {
        crate::diag::reportln!("ash: cannot start: {e}");
        1
    });
    // Entries a full disk kept from the file get a last chance.
    history::save_at_exit();
    if let Some(t) = &terminal {
        t.take_back();
    }
    code
}

fn config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ASH_CONFIG") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "ash").map(|d| d.config_dir().join("config.ash"))
}

/// A login shell's profile: `login.ash` beside config.ash.
fn login_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "ash").map(|d| d.config_dir().join("login.ash"))
}

impl Session {
    fn ctx(&self) -> Rc<TaskCtx> {
        self.ctx.borrow().clone()
    }

    /// Colors, unless NO_COLOR is set (in ash's environment or exported
    /// by config.ash).
    fn colors(&self) -> bool {
        use std::io::IsTerminal;
        diag::colors_wanted()
            && self.ctx().getenv(b"NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal()
    }

    /// Running tasks and stopped lines: what `exit` and Ctrl-D ask about.
    fn unfinished(&self) -> (usize, usize) {
        let stopped = self.shell.stopped_jobs();
        let lines = self
            .shell
            .jobs()
            .iter()
            .filter(|j| matches!(j.kind, JobKind::Line(_)) && !j.stopped.get())
            .count();
        (self.rt.tasks.borrow().len() + lines, stopped)
    }

    /// "ash: 2 tasks are still running and 1 job is stopped (see `jobs`)"
    fn unfinished_warning(&self, again: &str) -> Option<String> {
        let (running, stopped) = self.unfinished();
        if running + stopped == 0 {
            return None;
        }
        let mut parts = Vec::new();
        if running > 0 {
            let what = if running == 1 { "task is" } else { "tasks are" };
            parts.push(format!("{running} {what} still running"));
        }
        if stopped > 0 {
            let what = if stopped == 1 { "job is" } else { "jobs are" };
            parts.push(format!("{stopped} {what} stopped"));
        }
        Some(format!(
            "ash: {} (see `jobs`); {again} to end them and exit",
            parts.join(" and ")
        ))
    }

    async fn main(
        self: Rc<Self>,
        jobs_changed: smol::channel::Receiver<()>,
        login: bool,
        plain: bool,
    ) -> i32 {
        let rt = self.rt.clone();
        let _signals = self.watch_sigint();
        // login.ash (a login shell), then config.ash: errors are reported;
        // the shell starts anyway.
        let profile = login.then(login_path).flatten();
        for path in profile.into_iter().chain(config_path()) {
            if !path.exists() {
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let name = path.display().to_string();
                    if let Ran::Exit(code) = self.run_text(&name, &text).await {
                        return code;
                    }
                }
                Err(e) => diag::warn(&format!("cannot read {}: {e}", path.display())),
            }
        }
        let vi = matches!(rt.get_global("edit_mode"), Some(Value::Str(s)) if &*s == b"vi");
        self.shared.refresh(&rt, &self.ctx());
        let color = self.colors();
        // A terminal that does not answer the editor's cursor-position
        // query would hold up every prompt (see `terminal::probe_cursor_query`).
        let mut keep: Option<String> = None;
        let mut plain = plain;
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        // The editor paints on standard output: not a terminal there
        // (`ash -i > log`), it would paint into the file and wait for
        // answers that never come.
        if !plain && !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            plain = true;
        }
        if !plain && !dumb {
            let probe = terminal::probe_cursor_query(CURSOR_QUERY_WAIT);
            if !probe.answers {
                diag::warn(
                    "the terminal does not answer the cursor-position query: line editing is off (plain lines)",
                );
                plain = true;
            }
            keep = Some(probe.typed).filter(|t| !t.is_empty());
        }
        let editor = match Editor::start(Settings { vi, color, plain }, self.shared.clone()) {
            Ok(e) => e,
            Err(e) => {
                crate::diag::reportln!("ash: cannot start the line editor: {e}");
                return 1;
            }
        };
        let _failures = rt.executor.spawn(self.clone().watch_failures());
        let _jobs = rt.executor.spawn(
            self.clone()
                .watch_jobs(jobs_changed, editor.repaint.clone()),
        );
        let mut warned_exit = false;
        // A line that did not parse comes back for editing (as in fish);
        // so does text typed before the first prompt.
        loop {
            if let Some(code) = rt.exit_code.get() {
                return self.finish(code).await;
            }
            for note in self.shell.take_notes() {
                crate::diag::reportln!("{note}");
            }
            self.shared.refresh(&rt, &self.ctx());
            let abbrs = self.shell.state.abbrs.abbrs.borrow().clone();
            let abbreviations = abbrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            self.shared.get().abbrs = abbrs;
            self.render_prompt().await;
            // Plain lines: background output goes straight to the terminal.
            let printer = if plain {
                reedline::ExternalPrinter::new(1)
            } else {
                self.shell.output.prompt_starts()
            };
            let reply = editor
                .read(Request {
                    prompt: AshPrompt {
                        text: self.prompt.clone(),
                    },
                    initial: keep.take(),
                    printer,
                    abbreviations,
                })
                .await;
            self.shell.output.prompt_ends();
            match reply {
                Reply::Line(line) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let was_warned = std::mem::take(&mut warned_exit);
                    let ran = self.run_line(&line).await;
                    diag::flush_repeated();
                    match ran {
                        Ran::Exit(code) => {
                            // `exit` with jobs left: ask first (a second
                            // `exit` exits), as Ctrl-D does.
                            if !was_warned
                                && let Some(msg) = self.unfinished_warning("run `exit` again")
                            {
                                crate::diag::reportln!("{msg}");
                                rt.exit_code.set(None);
                                warned_exit = true;
                                continue;
                            }
                            return self.finish(code).await;
                        }
                        Ran::NotParsed => keep = Some(line),
                        Ran::Done => {}
                    }
                }
                Reply::CtrlC => warned_exit = false,
                Reply::CtrlD => {
                    if !warned_exit && let Some(msg) = self.unfinished_warning("press Ctrl-D again")
                    {
                        crate::diag::reportln!("{msg}");
                        warned_exit = true;
                        continue;
                    }
                    return self.finish(self.ctx().status.get()).await;
                }
                Reply::Failed(e) => {
                    crate::diag::reportln!("ash: line editor: {e}");
                    return self.finish(1).await;
                }
            }
        }
    }

    /// SIGINT while a command runs cancels the foreground (a second one
    /// skips the grace period). At the prompt the editor sees Ctrl-C as a
    /// key instead.
    fn watch_sigint(&self) -> Option<crate::runtime::executor::Task<()>> {
        use async_signal::{Signal, Signals};
        use futures_lite::StreamExt;
        let mut signals = Signals::new([Signal::Int]).ok()?;
        let token = self.fg_token.clone();
        Some(self.rt.executor.spawn(async move {
            let mut last: Option<Weak<TaskCtx>> = None;
            while let Some(Ok(_)) = signals.next().await {
                let Some(t) = token.borrow().as_ref().and_then(Weak::upgrade) else {
                    continue;
                };
                let t = &t.cancel;
                let again = last
                    .as_ref()
                    .and_then(Weak::upgrade)
                    .is_some_and(|l| std::ptr::eq(&l.cancel, t) && t.is_requested());
                t.cancel(
                    CancelReason::Signal,
                    if again { Duration::ZERO } else { DEFAULT_GRACE },
                );
                last = token.borrow().clone();
            }
        }))
    }

    /// Report failed tasks nobody awaited, as they fail (jobs are reported
    /// when they end, see `Shell::take_notes`).
    async fn watch_failures(self: Rc<Self>) {
        let mut seen = HashSet::new();
        loop {
            async_io::Timer::after(Duration::from_millis(200)).await;
            let unheard = std::mem::take(&mut *self.rt.unheard_failures.borrow_mut());
            for (id, report) in unheard.reports {
                if seen.insert(id) {
                    self.shell
                        .output
                        .note(&format!("ash: task {id} failed: {report}"));
                }
            }
            if unheard.more > 0 {
                let more = unheard.more;
                self.shell
                    .output
                    .note(&format!("ash: {more} more tasks failed (never awaited)"));
            }
            let failed: Vec<_> = self.rt.failed.borrow().iter().cloned().collect();
            for t in failed {
                if t.retrieved() || self.shell.is_job_task(t.id) || !seen.insert(t.id) {
                    continue;
                }
                if let Some(Outcome::Error(e)) = t.outcome() {
                    let report = crate::runtime::task::failure_report(&e);
                    self.shell
                        .output
                        .note(&format!("ash: task {} failed: {report}", t.id));
                }
            }
        }
    }

    /// While the prompt waits: say how jobs ended, and show a new count of
    /// running tasks and stopped jobs in the prompt at once (a job's end
    /// wakes this; other tasks are counted every 250 ms).
    async fn watch_jobs(
        self: Rc<Self>,
        changed: smol::channel::Receiver<()>,
        repaint: std::sync::Arc<dyn Fn() + Send + Sync>,
    ) {
        loop {
            future::or(
                async {
                    let _ = changed.recv().await;
                },
                async {
                    async_io::Timer::after(Duration::from_millis(250)).await;
                },
            )
            .await;
            if !self.shell.output.at_prompt() {
                continue;
            }
            let notes = self.shell.take_notes();
            for note in &notes {
                self.shell.output.note(note);
            }
            if notes.is_empty() && self.unfinished() == self.counts_shown.get() {
                continue;
            }
            self.render_prompt().await;
            repaint();
        }
    }

    /// Compute the prompt (`fn prompt`, `fn right_prompt`, or the default)
    /// into `self.prompt`.
    async fn render_prompt(&self) {
        let ctx = self.ctx();
        let (running, stopped) = self.unfinished();
        self.counts_shown.set((running, stopped));
        let duration = self.duration.get();
        self.rt
            .set_global("cmd_duration", Value::Float(duration.as_secs_f64()));
        self.rt
            .set_global("running_tasks", Value::Int(running as i64));
        self.rt
            .set_global("stopped_jobs", Value::Int(stopped as i64));
        let left = match self.rt.get_global("prompt") {
            Some(Value::Func(f)) => match self.capture(f).await {
                Ok(text) => Some(text),
                Err(report) => {
                    crate::diag::report!("{report}");
                    None
                }
            },
            _ => None,
        };
        let left = left.unwrap_or_else(|| {
            let home = ctx.getenv(b"HOME").map(PathBuf::from);
            prompt::default_prompt(&prompt::Info {
                cwd: ctx.cwd().path(),
                home: home.as_deref(),
                status: ctx.status.get(),
                duration,
                running,
                stopped,
                color: self.colors(),
            })
        });
        let right = match self.rt.get_global("right_prompt") {
            Some(Value::Func(f)) => match self.capture(f).await {
                Ok(text) => text,
                Err(report) => {
                    crate::diag::report!("{report}");
                    String::new()
                }
            },
            _ => String::new(),
        };
        self.prompt.set(left, right);
    }

    /// Call a prompt function: its string return value, else its stdout.
    async fn capture(&self, f: Rc<crate::vm::objects::Closure>) -> Result<String, String> {
        let ctx = self.ctx();
        let (r, w) = crate::process::pipe().map_err(|e| format!("ash: prompt: {e}\n"))?;
        let child = ctx.child(ctx.id, self.rt.null_stdin());
        child.with_io(|io| io.stdout = Rc::new(OutSink::from_fd(w)));
        child.status.set(ctx.status.get());
        let reader = self.rt.executor.spawn(crate::process::read_to_end(r));
        // Ctrl-C interrupts a prompt function that runs too long.
        let child = Rc::new(child);
        *self.fg_token.borrow_mut() = Some(Rc::downgrade(&child));
        let outcome = drive(Fiber::call(self.rt.clone(), child, f, Vec::new())).await;
        *self.fg_token.borrow_mut() = None;
        let out = reader.await.unwrap_or_default();
        match outcome {
            Outcome::Value(Value::Str(s)) => Ok(String::from_utf8_lossy(&s).into_owned()),
            Outcome::Error(e) if e.kind == crate::vm::error::ErrorKind::Cancelled => {
                Err("ash: prompt: interrupted\n".to_string())
            }
            Outcome::Error(e) => Err(diag::render_error(&e)),
            _ => Ok(String::from_utf8_lossy(&out)
                .trim_end_matches('\n')
                .to_string()),
        }
    }

    /// Run one accepted line.
    async fn run_line(&self, line: &str) -> Ran {
        let start = Instant::now();
        let before = self.ctx().cwd();
        let ran = self.run_text("<stdin>", line).await;
        self.duration.set(start.elapsed());
        self.shell
            .state
            .directory_changed(before.path(), self.ctx().cwd().path());
        ran
    }

    /// Parse, compile and run text as the session's main task.
    async fn run_text(&self, name: &str, text: &str) -> Ran {
        let ctx = self.ctx();
        // A Ctrl-C that arrived after the last command finished is stale.
        ctx.cancel.take();
        self.shell.foreground.set(ctx.id);
        let closure = match crate::runtime::modules::load_module(&self.rt, name, text) {
            Ok(c) => c,
            Err(e) => {
                crate::diag::report!("{}", diag::render_error(&e));
                ctx.status.set(2);
                return Ran::NotParsed;
            }
        };
        let task = self.rt.executor.spawn(drive(Fiber::call(
            self.rt.clone(),
            ctx.clone(),
            closure,
            Vec::new(),
        )));
        match self.foreground(task, &ctx).await {
            Fg::Done(outcome) => match self.finished(outcome, &ctx) {
                Some(code) => Ran::Exit(code),
                None => Ran::Done,
            },
            Fg::Stopped(task) => {
                let job = self
                    .shell
                    .add_job(text, ctx.id, JobKind::Line(ctx.clone()), true, task);
                crate::diag::reportln!("\n[{}] stopped  {}", job.number, job.text);
                // Later lines run in a fresh main task with the same state.
                let fresh = TaskCtx::with(self.rt.next_id(), ctx.cwd(), ctx.env(), Io::standard());
                fresh.status.set(148);
                self.shell.foreground.set(fresh.id);
                *self.ctx.borrow_mut() = Rc::new(fresh);
                Ran::Done
            }
        }
    }

    /// How a foreground line ended: report errors, set `$status`.
    fn finished(&self, outcome: Outcome, ctx: &TaskCtx) -> Option<i32> {
        match outcome {
            Outcome::Value(_) => None,
            Outcome::Exit(code) => Some(code),
            Outcome::Error(e) => {
                let quiet = e.kind == ErrorKind::Cancelled
                    || e.broken_pipe
                    // The program was killed by Ctrl-C itself.
                    || (e.kind == ErrorKind::Command && e.status == Some(130))
                    || jobs::program_failed(&e);
                let status = if e.kind == ErrorKind::Cancelled {
                    130
                } else {
                    e.exit_status()
                };
                if !quiet {
                    crate::diag::report!("{}", diag::render_error(&e));
                }
                ctx.status.set(status);
                None
            }
        }
    }

    /// Await a foreground line, watching for Ctrl-Z (a stopped process in
    /// one of its groups) and routing Ctrl-C to its cancel token.
    async fn foreground(
        &self,
        mut task: crate::runtime::executor::Task<Outcome>,
        ctx: &Rc<TaskCtx>,
    ) -> Fg {
        *self.fg_token.borrow_mut() = Some(Rc::downgrade(ctx));
        let shell = self.shell.clone();
        let id = ctx.id;
        let stopped = async {
            loop {
                async_io::Timer::after(Duration::from_millis(100)).await;
                if shell.stopped(id) {
                    return;
                }
            }
        };
        let done = future::or(async { Some((&mut task).await) }, async {
            stopped.await;
            None
        })
        .await;
        *self.fg_token.borrow_mut() = None;
        if let Some(t) = &self.shell.terminal {
            t.take_back();
        }
        match done {
            Some(outcome) => Fg::Done(outcome),
            None => Fg::Stopped(task),
        }
    }

    /// Leaving: cancel running tasks and jobs and wait for them (stopped
    /// programs get SIGTERM and SIGCONT); show what they printed.
    async fn finish(&self, code: i32) -> i32 {
        let jobs = self.shell.jobs();
        for job in &jobs {
            job.cancel(&self.shell);
            for g in self.shell.groups_of(job.task_id) {
                terminal::kill_group(g, rustix::process::Signal::TERM);
                terminal::continue_group(g);
            }
        }
        let limit = DEFAULT_GRACE + Duration::from_secs(1);
        let deadline = async_io::Timer::after(limit);
        let wait_all = async {
            self.rt.cancel_and_wait_all(DEFAULT_GRACE).await;
            for job in &jobs {
                job.ended().await;
            }
        };
        future::or(wait_all, async {
            deadline.await;
        })
        .await;
        // Connections to other hosts (`spawn --on`) close with the shell.
        crate::remote::shutdown(&self.rt).await;
        // What the tasks wrote last, partial lines included.
        self.shell.output.drain(Duration::from_millis(500)).await;
        self.rt.exit_code.get().unwrap_or(code)
    }
}
