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

mod complete;
mod editor;
mod highlight;
mod history;
mod jobs;
mod menu;
mod options;
mod prompt;
mod shared;
mod validate;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::future;

use crate::diag;
use crate::process::OutSink;
use crate::runtime::cancel::DEFAULT_GRACE;
use crate::runtime::task::{Outcome, await_task, drive};
use crate::runtime::{CancelReason, CancelToken, Io, Runtime, TaskCtx};
use crate::vm::error::ErrorKind;
use crate::vm::fiber::Fiber;
use crate::vm::value::Value;

use editor::{Editor, Reply, Request, Settings};
use jobs::{ReplHooks, Terminal};
use prompt::AshPrompt;
use shared::Shared;

/// A foreground line stopped with Ctrl-Z.
struct StoppedJob {
    id: u64,
    text: String,
    ctx: Rc<TaskCtx>,
    groups: Vec<i32>,
    task: smol::Task<Outcome>,
}

enum Fg {
    Done(Outcome),
    Stopped(smol::Task<Outcome>),
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
    hooks: Rc<ReplHooks>,
    terminal: Option<Rc<Terminal>>,
    shared: Shared,
    /// The cancel token Ctrl-C (SIGINT) cancels: the foreground's.
    fg_token: Rc<RefCell<Option<Rc<CancelToken>>>>,
    at_prompt: Rc<Cell<bool>>,
    stopped: RefCell<Vec<StoppedJob>>,
    printer: RefCell<Option<std::sync::mpsc::SyncSender<String>>>,
}

/// Run the interactive shell; returns the exit status.
pub fn run(debug: bool) -> i32 {
    // The shell waits from its first line on: start async-io now, where a
    // failure (a tight `ulimit -u`) can still be reported.
    if let Err(e) = crate::process::io_thread_ready() {
        eprintln!("ash: cannot start: {e}");
        return 1;
    }
    let terminal = Terminal::init().map(Rc::new);
    let stop_signals = jobs::catch_stop_signals();
    crate::process::raise_fd_limit();
    let rt = Runtime::new(debug);
    let (background, bg_read) = match jobs::background_pipe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ash: cannot create a pipe: {e}");
            return 1;
        }
    };
    let hooks = Rc::new(ReplHooks {
        foreground: Cell::new(0),
        fg_groups: RefCell::new(Vec::new()),
        terminal: terminal.clone(),
        background,
    });
    *rt.hooks.borrow_mut() = Some(hooks.clone());
    rt.set_global("args", Value::list(Vec::new()));
    rt.set_global("script", Value::str("ash"));
    let session = Rc::new(Session {
        rt: rt.clone(),
        ctx: RefCell::new(Rc::new(TaskCtx::main(Io::standard()))),
        hooks,
        terminal,
        shared: Shared::default(),
        fg_token: Rc::new(RefCell::new(None)),
        at_prompt: Rc::new(Cell::new(false)),
        stopped: RefCell::new(Vec::new()),
        printer: RefCell::new(None),
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
    // run_loop, not `executor.run`: it also fires the loop's timers.
    let code =
        crate::runtime::run_loop(&executor, session.clone().main(bg_read)).unwrap_or_else(|e| {
            eprintln!("ash: cannot start: {e}");
            1
        });
    // Entries a full disk kept from the file get a last chance.
    history::save_at_exit();
    if let Some(t) = &session.terminal {
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

impl Session {
    fn ctx(&self) -> Rc<TaskCtx> {
        self.ctx.borrow().clone()
    }

    /// Colors, unless NO_COLOR is set (in ash's environment or exported
    /// by config.ash).
    fn colors(&self) -> bool {
        diag::colors_wanted() && self.ctx().getenv(b"NO_COLOR").is_none_or(|v| v.is_empty())
    }

    /// Print a message: above the prompt while editing, else to stderr.
    fn notify(&self, msg: &str) {
        if self.at_prompt.get()
            && let Some(p) = self.printer.borrow().as_ref()
            && p.try_send(msg.trim_end().to_string()).is_ok()
        {
            return;
        }
        eprint!("{msg}");
    }

    async fn main(self: Rc<Self>, bg_read: std::os::fd::OwnedFd) -> i32 {
        let rt = self.rt.clone();
        let _signals = self.watch_sigint();
        // config.ash: errors are reported; the shell starts anyway.
        if let Some(path) = config_path()
            && path.exists()
        {
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
        let editor = match Editor::start(Settings { vi, color }, self.shared.clone()) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("ash: cannot start the line editor: {e}");
                return 1;
            }
        };
        *self.printer.borrow_mut() = Some(editor.printer.clone());
        rt.executor
            .spawn(jobs::forward_output(
                bg_read,
                self.at_prompt.clone(),
                editor.printer.clone(),
            ))
            .detach();
        let _notifier = rt.executor.spawn(self.clone().watch_failures());
        let mut warned_exit = false;
        // A line that did not parse comes back for editing (as in fish).
        let mut keep: Option<String> = None;
        loop {
            if let Some(code) = rt.exit_code.get() {
                return self.finish(code).await;
            }
            self.shared.refresh(&rt, &self.ctx());
            let left = self.prompt_text().await;
            self.at_prompt.set(true);
            let reply = editor
                .read(Request {
                    prompt: AshPrompt { left },
                    initial: keep.take(),
                })
                .await;
            self.at_prompt.set(false);
            match reply {
                Reply::Line(line) => {
                    warned_exit = false;
                    if line.trim().is_empty() {
                        continue;
                    }
                    match self.run_line(&line).await {
                        Ran::Exit(code) => return self.finish(code).await,
                        Ran::NotParsed => keep = Some(line),
                        Ran::Done => {}
                    }
                }
                Reply::CtrlC => warned_exit = false,
                Reply::CtrlD => {
                    let running = rt.tasks.borrow().len() + self.stopped.borrow().len();
                    if running > 0 && !warned_exit {
                        let what = if running == 1 { "task is" } else { "tasks are" };
                        eprintln!(
                            "ash: {running} {what} still running (see `jobs`); press Ctrl-D again to cancel and exit"
                        );
                        warned_exit = true;
                        continue;
                    }
                    return self.finish(self.ctx().status.get()).await;
                }
                Reply::Failed(e) => {
                    eprintln!("ash: line editor: {e}");
                    return self.finish(1).await;
                }
            }
        }
    }

    /// SIGINT while a command runs cancels the foreground (a second one
    /// skips the grace period). At the prompt the editor sees Ctrl-C as a
    /// key instead.
    fn watch_sigint(&self) -> Option<smol::Task<()>> {
        use async_signal::{Signal, Signals};
        use futures_lite::StreamExt;
        let mut signals = Signals::new([Signal::Int]).ok()?;
        let token = self.fg_token.clone();
        Some(self.rt.executor.spawn(async move {
            let mut last: Option<Rc<CancelToken>> = None;
            while let Some(Ok(_)) = signals.next().await {
                let Some(t) = token.borrow().clone() else {
                    continue;
                };
                let again = last
                    .as_ref()
                    .is_some_and(|l| Rc::ptr_eq(l, &t) && t.is_requested());
                t.cancel(
                    CancelReason::Signal,
                    if again { Duration::ZERO } else { DEFAULT_GRACE },
                );
                last = Some(t);
            }
        }))
    }

    /// Report failed background tasks nobody awaited, as they fail.
    async fn watch_failures(self: Rc<Self>) {
        let mut seen = HashSet::new();
        loop {
            async_io::Timer::after(Duration::from_millis(200)).await;
            let failed: Vec<_> = self.rt.failed.borrow().iter().cloned().collect();
            for t in failed {
                if t.retrieved.get() || !seen.insert(t.id) {
                    continue;
                }
                if let Some(Outcome::Error(e)) = t.outcome() {
                    let report = diag::render_error(&e);
                    let report = report.strip_prefix("ash: ").unwrap_or(&report);
                    self.notify(&format!("ash: task {} failed: {report}", t.id));
                }
            }
        }
    }

    async fn prompt_text(&self) -> String {
        let ctx = self.ctx();
        if let Some(Value::Func(f)) = self.rt.get_global("prompt") {
            match self.capture(f).await {
                Ok(text) => return text,
                Err(report) => eprint!("{report}"),
            }
        }
        let home = ctx.getenv(b"HOME").map(PathBuf::from);
        let running = self.rt.tasks.borrow().len();
        prompt::default_prompt(
            &ctx.cwd(),
            home.as_deref(),
            ctx.status.get(),
            running,
            self.stopped.borrow().len(),
            self.colors(),
        )
    }

    /// Call `prompt`: its string return value, else its stdout.
    async fn capture(&self, f: Rc<crate::vm::objects::Closure>) -> Result<String, String> {
        let ctx = self.ctx();
        let (r, w) = crate::process::pipe().map_err(|e| format!("ash: prompt: {e}\n"))?;
        let child = ctx.child(ctx.id, self.rt.null_stdin.clone());
        child.io.borrow_mut().stdout = Rc::new(OutSink::from_fd(w));
        child.status.set(ctx.status.get());
        let reader = self.rt.executor.spawn(crate::process::read_to_end(r));
        // Ctrl-C interrupts a prompt function that runs too long.
        *self.fg_token.borrow_mut() = Some(child.cancel.clone());
        let outcome = drive(Fiber::call(self.rt.clone(), Rc::new(child), f, Vec::new())).await;
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
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(&cmd) = words.first()
            && shared::is_repl_command(cmd)
            && !matches!(self.rt.get_global(cmd), Some(Value::Func(_)))
            && line
                .chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || c == '%')
        {
            let arg = words.get(1).map(|a| a.trim_start_matches('%'));
            let id = match arg.map(str::parse::<u64>) {
                Some(Ok(n)) => Some(n),
                Some(Err(_)) => {
                    eprintln!("ash: {cmd}: not a job number: {}", words[1]);
                    self.ctx().status.set(2);
                    return Ran::Done;
                }
                None => None,
            };
            return if cmd == "fg" {
                match self.fg(id).await {
                    Some(code) => Ran::Exit(code),
                    None => Ran::Done,
                }
            } else {
                self.bg(id);
                Ran::Done
            };
        }
        let code = self.run_text("<stdin>", line).await;
        if line.trim() == "jobs" {
            // The builtin lists tasks; the shell adds its stopped jobs.
            for j in self.stopped.borrow().iter() {
                println!("[{}] {:<10} {:>8}  {}", j.id, "stopped", "", j.text);
            }
        }
        code
    }

    /// Parse, compile and run text as the session's main task.
    async fn run_text(&self, name: &str, text: &str) -> Ran {
        let ctx = self.ctx();
        // A Ctrl-C that arrived after the last command finished is stale.
        ctx.cancel.take();
        let closure = match crate::runtime::modules::load_module(&self.rt, name, text) {
            Ok(c) => c,
            Err(e) => {
                eprint!("{}", diag::render_error(&e));
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
        match self.foreground(task, ctx.cancel.clone()).await {
            Fg::Done(outcome) => match self.finished(outcome, &ctx) {
                Some(code) => Ran::Exit(code),
                None => Ran::Done,
            },
            Fg::Stopped(task) => {
                let groups = std::mem::take(&mut *self.hooks.fg_groups.borrow_mut());
                let id = self.rt.next_id();
                eprintln!("\n[{id}] stopped  {}", text.trim());
                self.stopped.borrow_mut().push(StoppedJob {
                    id,
                    text: text.trim().to_string(),
                    ctx: ctx.clone(),
                    groups,
                    task,
                });
                // Later lines run in a fresh main task with the same state.
                let fresh = TaskCtx::with(
                    self.rt.next_id(),
                    ctx.cwd(),
                    ctx.env(),
                    Io::standard(),
                    Rc::new(CancelToken::default()),
                );
                fresh.status.set(148);
                self.hooks.foreground.set(fresh.id);
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
                    || ran_and_failed_at_the_prompt(&e);
                let status = if e.kind == ErrorKind::Cancelled {
                    130
                } else {
                    e.exit_status()
                };
                if !quiet {
                    eprint!("{}", diag::render_error(&e));
                }
                ctx.status.set(status);
                None
            }
        }
    }

    /// Await a foreground line, watching for Ctrl-Z (a stopped process in
    /// one of its groups) and routing Ctrl-C to its cancel token.
    async fn foreground(&self, mut task: smol::Task<Outcome>, token: Rc<CancelToken>) -> Fg {
        *self.fg_token.borrow_mut() = Some(token);
        let hooks = self.hooks.clone();
        let stopped = async {
            loop {
                async_io::Timer::after(Duration::from_millis(100)).await;
                let groups = hooks.fg_groups.borrow().clone();
                if groups.iter().any(|&g| jobs::group_stopped(g)) {
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
        if let Some(t) = &self.terminal {
            t.take_back();
        }
        match done {
            Some(outcome) => Fg::Done(outcome),
            None => Fg::Stopped(task),
        }
    }

    /// Take stopped job N (or the most recent one) off the stopped list.
    fn take_stopped(&self, id: Option<u64>) -> Option<StoppedJob> {
        let mut stopped = self.stopped.borrow_mut();
        let pos = match id {
            Some(n) => stopped.iter().position(|j| j.id == n),
            None => stopped.len().checked_sub(1),
        };
        pos.map(|p| stopped.remove(p))
    }

    /// `fg [N]`: a stopped job continues in the foreground; a running task
    /// is awaited in the foreground (Ctrl-C cancels it).
    async fn fg(&self, id: Option<u64>) -> Option<i32> {
        let ctx = self.ctx();
        let job = self.take_stopped(id);
        if let Some(job) = job {
            eprintln!("{}", job.text);
            self.hooks.foreground.set(job.ctx.id);
            *self.hooks.fg_groups.borrow_mut() = job.groups.clone();
            for &g in &job.groups {
                match &self.terminal {
                    Some(t) => t.give(g),
                    None => jobs::continue_group(g),
                }
            }
            let r = self.foreground(job.task, job.ctx.cancel.clone()).await;
            self.hooks.foreground.set(ctx.id);
            match r {
                Fg::Done(outcome) => {
                    self.hooks.fg_groups.borrow_mut().clear();
                    let code = self.finished(outcome, &job.ctx);
                    ctx.status.set(job.ctx.status.get());
                    return code;
                }
                Fg::Stopped(task) => {
                    let groups = std::mem::take(&mut *self.hooks.fg_groups.borrow_mut());
                    eprintln!("\n[{}] stopped  {}", job.id, job.text);
                    self.stopped.borrow_mut().push(StoppedJob {
                        task,
                        groups,
                        ..job
                    });
                    ctx.status.set(148);
                    return None;
                }
            }
        }
        let task = {
            let tasks = self.rt.tasks.borrow();
            match id {
                Some(n) => tasks.get(n),
                None => tasks.latest(),
            }
        };
        let Some(task) = task else {
            match id {
                Some(n) => eprintln!("ash: fg: no job {n}"),
                None => eprintln!("ash: fg: no current job"),
            }
            ctx.status.set(1);
            return None;
        };
        eprintln!("[{}] {}", task.id, task.name());
        let token = Rc::new(CancelToken::default());
        *self.fg_token.borrow_mut() = Some(token.clone());
        let me = crate::runtime::task::TaskKey::of(&ctx);
        let r = await_task(self.rt.clone(), me, task, token).await;
        *self.fg_token.borrow_mut() = None;
        match r {
            Ok(_) => ctx.status.set(0),
            Err(e) => return self.finished(Outcome::Error(e), &ctx),
        }
        None
    }

    /// `bg [N]`: a stopped job continues in the background.
    fn bg(&self, id: Option<u64>) {
        let ctx = self.ctx();
        let job = self.take_stopped(id);
        let Some(job) = job else {
            eprintln!("ash: bg: no stopped job");
            ctx.status.set(1);
            return;
        };
        eprintln!("[{}] {} &", job.id, job.text);
        for &g in &job.groups {
            jobs::continue_group(g);
        }
        ctx.status.set(0);
        let printer = self.printer.borrow().clone();
        let at_prompt = self.at_prompt.clone();
        let (id, text) = (job.id, job.text.clone());
        self.rt
            .executor
            .spawn(async move {
                let outcome = job.task.await;
                let msg = match outcome {
                    Outcome::Error(e) if e.kind != ErrorKind::Cancelled => {
                        format!("[{id}] failed  {text}\n{}", diag::render_error(&e))
                    }
                    _ => format!("[{id}] done  {text}\n"),
                };
                if at_prompt.get()
                    && let Some(p) = &printer
                    && p.try_send(msg.trim_end().to_string()).is_ok()
                {
                    return;
                }
                eprint!("{msg}");
            })
            .detach();
    }

    /// Leaving: cancel running tasks and wait for them; stopped jobs are
    /// terminated.
    async fn finish(&self, code: i32) -> i32 {
        for job in self.stopped.borrow_mut().drain(..) {
            for &g in &job.groups {
                jobs::kill_group(g, rustix::process::Signal::TERM);
                jobs::continue_group(g);
            }
            job.task.detach();
        }
        let deadline = async_io::Timer::after(DEFAULT_GRACE + Duration::from_secs(1));
        let wait_all = self.rt.cancel_and_wait_all(DEFAULT_GRACE);
        future::or(wait_all, async {
            deadline.await;
        })
        .await;
        // Connections to other hosts (`spawn --on`) close with the shell.
        crate::remote::shutdown(&self.rt).await;
        self.rt.exit_code.get().unwrap_or(code)
    }
}

/// A program typed at the prompt that ran and exited non-zero: it has said
/// what went wrong itself, and the prompt shows the status (as in bash and
/// fish), so no report is added. Reported still: a command not found or not
/// executable (126, 127: ash's own message), and failures inside functions
/// (the report's call trace says where).
fn ran_and_failed_at_the_prompt(e: &crate::vm::error::Error) -> bool {
    e.kind == ErrorKind::Command
        && !matches!(e.status, Some(126 | 127))
        && e.trace.borrow().is_empty()
}
