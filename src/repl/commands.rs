//! The interactive shell's own commands, run like builtins (found after
//! functions, before builtins and programs; in pipelines, with
//! redirections):
//!
//! - `jobs`, `fg [N]`, `bg [N]`: job control (N or `%N`; without it the
//!   current job: the newest stopped one, else the newest);
//! - `kill [-SIGNAL] %N ...`: a signal to job N's processes (a job that is
//!   only ash code is cancelled by TERM, INT, HUP, QUIT and KILL); without
//!   a `%N` argument `kill` is the program;
//! - `prevd [N]`, `nextd [N]`, `dirh`: directory history, as in fish. Each
//!   line that changes the directory (`cd`, or anything else) adds the
//!   directory it left to the history (the newest 25 are kept); `prevd`
//!   goes back, `nextd` forward again, `dirh` lists it. `cd -` (the
//!   builtin) swaps with `$OLDPWD`;
//! - `abbr`, `alias`, `unalias`: see [`super::abbr`];
//! - `history`: see [`super::history`].

use std::rc::Rc;
use std::time::Duration;

use futures_lite::future;

use crate::runtime::TaskCtx;
use crate::runtime::task::Outcome;
use crate::vm::error::{Error, ErrorKind};
use crate::vm::value::Value;

use super::jobs::{Job, Shell, status_of};
use super::terminal;

/// State the commands keep between lines.
#[derive(Default)]
pub struct State {
    dirs: std::cell::RefCell<Dirs>,
    pub abbrs: super::abbr::Abbrs,
}

/// How many directories `prevd` can go back.
const DIR_HISTORY: usize = 25;

#[derive(Default)]
struct Dirs {
    prev: Vec<std::path::PathBuf>,
    next: Vec<std::path::PathBuf>,
    /// Where `prevd`/`nextd` just went (not a new step in the history).
    moved_to: Option<std::path::PathBuf>,
}

impl State {
    /// A line ran and the directory went from `before` to `after`.
    pub fn directory_changed(&self, before: &std::path::Path, after: &std::path::Path) {
        let mut d = self.dirs.borrow_mut();
        let moved = d.moved_to.take();
        if before == after || moved.as_deref() == Some(after) {
            return;
        }
        d.prev.push(before.to_path_buf());
        if d.prev.len() > DIR_HISTORY {
            d.prev.remove(0);
        }
        d.next.clear();
    }
}

/// The shell's commands (for completion and highlighting; `kill` is one
/// only with a `%N` argument).
pub const NAMES: &[&str] = &[
    "abbr", "alias", "bg", "dirh", "fg", "history", "jobs", "nextd", "prevd", "unalias",
];

/// Whether `args` names a command of the shell.
pub fn is_command(args: &[Value]) -> bool {
    let Some(Value::Str(name)) = args.first() else {
        return false;
    };
    match &name[..] {
        b"fg" | b"bg" | b"jobs" | b"prevd" | b"nextd" | b"dirh" | b"abbr" | b"alias"
        | b"unalias" | b"history" => true,
        // `kill %1` is the shell's, `kill 1234` the program.
        b"kill" => args[1..]
            .iter()
            .any(|a| matches!(a, Value::Str(s) if s.first() == Some(&b'%'))),
        _ => false,
    }
}

/// Run a command of the shell; its status.
pub async fn run(shell: Rc<Shell>, ctx: Rc<TaskCtx>, args: Vec<Value>) -> Result<i32, Error> {
    let name = args
        .first()
        .map(Value::to_text)
        .transpose()?
        .unwrap_or_default();
    let words = args
        .iter()
        .skip(1)
        .map(Value::to_text)
        .collect::<Result<Vec<String>, Error>>()?;
    let mut out = Output::default();
    let status = match name.as_str() {
        "fg" => fg(&shell, &ctx, &words, &mut out).await,
        "bg" => bg(&shell, &words, &mut out),
        "jobs" => jobs(&shell, &mut out),
        "kill" => kill(&shell, &words, &mut out),
        "prevd" => step_dir(&shell, &ctx, &words, true, &mut out),
        "nextd" => step_dir(&shell, &ctx, &words, false, &mut out),
        "dirh" => dirh(&shell, &ctx, &mut out),
        "abbr" => super::abbr::abbr(&shell.state.abbrs, &words, &mut out),
        "alias" | "unalias" => match shell.runtime() {
            Some(rt) if name == "alias" => {
                super::abbr::alias(&shell.state.abbrs, &rt, &ctx, &words, &mut out).await
            }
            Some(rt) => super::abbr::unalias(&shell.state.abbrs, &rt, &words, &mut out),
            None => 1,
        },
        "history" => super::history::command(&words, &mut out),
        _ => {
            out.err(format!("ash: {name}: not a command of this shell"));
            127
        }
    };
    out.write(&ctx).await?;
    Ok(status)
}

/// What a command prints, written when it is done.
#[derive(Default)]
pub struct Output {
    stdout: String,
    stderr: String,
}

impl Output {
    pub fn out(&mut self, line: impl AsRef<str>) {
        self.stdout.push_str(line.as_ref());
        self.stdout.push('\n');
    }

    pub fn err(&mut self, line: impl AsRef<str>) {
        self.stderr.push_str(line.as_ref());
        self.stderr.push('\n');
    }

    async fn write(&mut self, ctx: &TaskCtx) -> Result<(), Error> {
        let io = ctx.io();
        for (sink, text) in [
            (&io.stdout, &mut self.stdout),
            (&io.stderr, &mut self.stderr),
        ] {
            if !text.is_empty() {
                let bytes = std::mem::take(text);
                sink.write_all(bytes.as_bytes())
                    .await
                    .map_err(|e| crate::runtime::command::write_error(&e))?;
            }
        }
        Ok(())
    }
}

/// The job named by `arg` (`N` or `%N`), or the current job.
fn pick(shell: &Shell, cmd: &str, arg: Option<&String>) -> Result<Rc<Job>, String> {
    let n = match arg {
        Some(a) => match a.trim_start_matches('%').parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => return Err(format!("ash: {cmd}: not a job number: {a}")),
        },
        None => None,
    };
    shell.job(n).ok_or_else(|| match n {
        Some(n) => format!("ash: {cmd}: no job {n}"),
        None => format!("ash: {cmd}: no current job"),
    })
}

/// `fg [N]`: job N runs in the foreground: its processes get the terminal
/// (and Ctrl-C, Ctrl-Z); a job that is ash code is cancelled by Ctrl-C.
async fn fg(shell: &Rc<Shell>, ctx: &Rc<TaskCtx>, args: &[String], out: &mut Output) -> i32 {
    let job = match pick(shell, "fg", args.first()) {
        Ok(j) => j,
        Err(msg) => {
            out.err(msg);
            return 1;
        }
    };
    out.err(&job.text);
    let _ = out.write(ctx).await;
    let saved = shell.foreground.replace(job.task_id);
    let groups = shell.groups_of(job.task_id);
    if let (Some(t), Some(&g)) = (&shell.terminal, groups.last()) {
        t.give(g);
    }
    for g in groups {
        terminal::continue_group(g);
    }
    job.stopped.set(false);
    let mut cancelled = false;
    let outcome = loop {
        let step = future::or(async { Step::Ended(job.ended().await) }, async {
            if cancelled {
                future::pending::<()>().await;
            }
            future::or(
                async {
                    ctx.cancel.requested().await;
                },
                async {
                    async_io::Timer::after(Duration::from_millis(100)).await;
                },
            )
            .await;
            Step::Check
        })
        .await;
        match step {
            Step::Ended(outcome) => break Some(outcome),
            Step::Check => {
                if shell.stopped(job.task_id) {
                    break None;
                }
                if ctx.cancel.is_requested() && !cancelled {
                    // Ctrl-C reached the shell (the job is ash code, or
                    // its programs do not have the terminal).
                    cancelled = true;
                    job.cancel(shell);
                }
            }
        }
    };
    shell.foreground.set(saved);
    if let Some(t) = &shell.terminal {
        t.take_back();
    }
    match outcome {
        None => {
            job.stopped.set(true);
            out.err(format!("\n[{}] stopped  {}", job.number, job.text));
            148
        }
        Some(outcome) => {
            job.reported.set(true);
            // Reported as a line run at the prompt would be.
            if let Outcome::Error(e) = &outcome
                && e.kind != ErrorKind::Cancelled
                && !e.broken_pipe
                && !super::jobs::program_failed(e)
            {
                out.stderr.push_str(&crate::diag::render_error(e));
            }
            status_of(&outcome)
        }
    }
}

enum Step {
    Ended(Outcome),
    Check,
}

/// `bg [N]`: a stopped job runs on in the background (and stays a job).
fn bg(shell: &Shell, args: &[String], out: &mut Output) -> i32 {
    let job = match pick(shell, "bg", args.first()) {
        Ok(j) => j,
        Err(msg) => {
            out.err(msg);
            return 1;
        }
    };
    if !job.stopped.get() {
        out.err(format!("ash: bg: job {} is already running", job.number));
        return 1;
    }
    for g in shell.groups_of(job.task_id) {
        terminal::continue_group(g);
    }
    job.stopped.set(false);
    out.err(format!("[{}] {} &", job.number, job.text));
    0
}

/// `jobs`: `[N]+ running  TEXT` (`+`: the current job).
fn jobs(shell: &Shell, out: &mut Output) -> i32 {
    let current = shell.job(None).map(|j| j.number);
    for job in shell.jobs() {
        let mark = if Some(job.number) == current {
            '+'
        } else {
            ' '
        };
        out.out(format!(
            "[{}]{mark} {:<8} {}",
            job.number,
            job.state(),
            job.text
        ));
    }
    0
}

/// A signal by name (`TERM`, `SIGTERM`, `term`) or number.
fn signal(s: &str) -> Option<nix::sys::signal::Signal> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).ok();
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    nix::sys::signal::Signal::from_str(&name).ok()
}

/// `kill [-s SIG | -SIG] %N|PID ...`
fn kill(shell: &Shell, args: &[String], out: &mut Output) -> i32 {
    use nix::sys::signal::Signal;
    let mut sig = Signal::SIGTERM;
    let mut i = 0;
    if let Some(a) = args.first() {
        if a == "-s" || a == "-n" {
            let Some(s) = args.get(1).and_then(|s| signal(s)) else {
                out.err("ash: kill: -s needs a signal name");
                return 2;
            };
            sig = s;
            i = 2;
        } else if let Some(s) = a.strip_prefix('-') {
            let Some(s) = signal(s) else {
                out.err(format!("ash: kill: unknown signal {a}"));
                return 2;
            };
            sig = s;
            i = 1;
        }
    }
    let mut status = 0;
    for target in &args[i..] {
        if let Some(n) = target.strip_prefix('%') {
            let job = match pick(shell, "kill", Some(&n.to_string())) {
                Ok(j) => j,
                Err(msg) => {
                    out.err(msg);
                    status = 1;
                    continue;
                }
            };
            signal_job(shell, &job, sig);
        } else {
            let pid = target.parse::<i32>().ok().map(nix::unistd::Pid::from_raw);
            let sent = pid.map(|p| nix::sys::signal::kill(p, sig));
            match sent {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    out.err(format!("ash: kill: {target}: {}", e.desc()));
                    status = 1;
                }
                None => {
                    out.err(format!("ash: kill: {target}: not a process or job"));
                    status = 1;
                }
            }
        }
    }
    status
}

/// Send `sig` to a job's processes; a job that runs no process (ash code)
/// is cancelled by a signal that would end one.
fn signal_job(shell: &Shell, job: &Job, sig: nix::sys::signal::Signal) {
    use nix::sys::signal::Signal;
    let groups = shell.groups_of(job.task_id);
    let ends = matches!(
        sig,
        Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP | Signal::SIGQUIT | Signal::SIGKILL
    );
    if groups.is_empty() {
        if ends {
            job.cancel(shell);
        }
        return;
    }
    for &g in &groups {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(g), sig);
    }
    match sig {
        Signal::SIGCONT => job.stopped.set(false),
        Signal::SIGSTOP | Signal::SIGTSTP => job.stopped.set(true),
        // A stopped process acts on the signal once continued (as in bash).
        _ if ends && job.stopped.replace(false) => {
            for g in groups {
                terminal::continue_group(g);
            }
        }
        _ => {}
    }
}

/// `prevd [N]` / `nextd [N]`: N steps back (or forward) in the directory
/// history.
fn step_dir(shell: &Shell, ctx: &TaskCtx, args: &[String], back: bool, out: &mut Output) -> i32 {
    let name = if back { "prevd" } else { "nextd" };
    let steps = match args.first().map(|a| a.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if n > 0 => n,
        _ => {
            out.err(format!("ash: {name}: not a number of steps: {}", args[0]));
            return 2;
        }
    };
    let mut guard = shell.state.dirs.borrow_mut();
    let d = &mut *guard;
    let available = if back { d.prev.len() } else { d.next.len() };
    if available < steps {
        out.err(format!(
            "ash: {name}: no {} directory",
            if back { "previous" } else { "next" }
        ));
        return 1;
    }
    let mut here = ctx.cwd().path().to_path_buf();
    for _ in 0..steps {
        let (from, to) = if back {
            (&mut d.prev, &mut d.next)
        } else {
            (&mut d.next, &mut d.prev)
        };
        let Some(there) = from.pop() else { break };
        to.push(std::mem::replace(&mut here, there));
    }
    if !here.is_dir() {
        out.err(format!(
            "ash: {name}: {}: no longer a directory",
            here.display()
        ));
        return 1;
    }
    use std::os::unix::ffi::OsStrExt;
    let old = ctx.cwd();
    ctx.env_mut(|env| {
        env.set(b"OLDPWD", old.path().as_os_str().as_bytes());
        env.set(b"PWD", here.as_os_str().as_bytes());
    });
    d.moved_to = Some(here.clone());
    ctx.set_cwd(Rc::new(crate::process::WorkDir::open(here.clone(), &here)));
    0
}

/// `dirh`: the directory history, oldest first; the current directory
/// unnumbered between where `prevd` and `nextd` would go.
fn dirh(shell: &Shell, ctx: &TaskCtx, out: &mut Output) -> i32 {
    let d = shell.state.dirs.borrow();
    let n = d.prev.len();
    for (i, dir) in d.prev.iter().enumerate() {
        out.out(format!("{:>3}) {}", n - i, dir.display()));
    }
    out.out(format!("     {}", ctx.cwd().path().display()));
    for (i, dir) in d.next.iter().rev().enumerate() {
        out.out(format!("{:>3}) {}", i + 1, dir.display()));
    }
    0
}
