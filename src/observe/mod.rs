//! Seeing what ran: one seam between the runtime and whoever watches it.
//!
//! The runtime reports what happens (a task starts or ends, a command is
//! spawned or reaped, a `sleep`, `timeout`, `gather` or `race` begins or
//! ends, a cancellation is requested, a signal is sent) at one hook each:
//!
//! ```ignore
//! if observe::on() {
//!     observe::emit(Event::SleepStart { owner, seconds });
//! }
//! ```
//!
//! When nothing observes, a hook is one relaxed load and a branch that is
//! always predicted (no event is built, nothing is allocated); when
//! something does, [`emit`] stamps the event with [`clock::now`] and hands
//! it to every [`Observer`]: `--trace` ([`trace`]: Chrome Trace Event
//! JSON) and `--timeline` ([`timeline`]: a text Gantt chart at exit). An
//! observer gets borrowed data and keeps what it needs; it must not call
//! back into the runtime.
//!
//! Observers live on the loop's thread (a thread-local list); an event
//! raised on another thread is dropped.

pub mod clock;
mod json;
pub mod progress;
pub mod timeline;
pub mod trace;

use std::cell::{Cell, RefCell};
use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::vm::error::{Error, Location};
use crate::vm::value::Value;

/// Which context did it: the address of a task's (or a pipeline stage's)
/// context, stable while the context lives. Spans of one owner nest, as
/// the fiber that runs in it does one thing at a time.
pub type Owner = usize;

/// How a task came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The script's main body.
    Main,
    /// `spawn` (or `cmd &`).
    Spawn,
    /// Branch `index` of the `gather` or `race` with this id.
    Branch { group: u64, index: usize },
}

/// How a task (or a `timeout` body, or a `gather`) ended.
#[derive(Clone, Copy)]
pub enum Ended<'a> {
    Value(&'a Value),
    Error(&'a Error),
    /// `exit N`.
    Exit(i32),
}

/// How an external command ended.
#[derive(Clone, Copy, Debug)]
pub enum Exit<'a> {
    /// Exited with this status.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// It could not be started (`command not found`: 127, ...).
    NotStarted { status: i32, message: &'a str },
    /// Cancelled and reaped; how it ended is not known.
    Killed,
}

/// `gather` or `race`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    Gather,
    Race,
}

/// What happened. Borrowed: an observer copies what it keeps.
pub enum Event<'a> {
    /// A task started: `owner` is its context, `parent` the context that
    /// started it (`None` for the main task). `args`: the coroutine's
    /// arguments.
    TaskStart {
        task: u64,
        owner: Owner,
        parent: Option<Owner>,
        origin: Origin,
        name: &'a str,
        site: Option<&'a Location>,
        args: &'a [Value],
    },
    TaskEnd {
        task: u64,
        owner: Owner,
        ended: Ended<'a>,
    },
    /// An external command is about to be spawned (`id` from [`next_id`]).
    CommandStart {
        id: u64,
        owner: Owner,
        argv: &'a [OsString],
        cwd: &'a Path,
        site: Option<&'a Location>,
    },
    /// ...and was: its pid and process group.
    CommandSpawned {
        id: u64,
        pid: i32,
        pgid: i32,
    },
    CommandEnd {
        id: u64,
        exit: Exit<'a>,
    },
    SleepStart {
        owner: Owner,
        seconds: f64,
    },
    SleepEnd {
        owner: Owner,
        completed: bool,
    },
    /// A `timeout` body begins (`scope`: the timeout's cancel scope).
    TimeoutStart {
        owner: Owner,
        scope: u64,
        seconds: f64,
        site: Option<&'a Location>,
    },
    TimeoutEnd {
        owner: Owner,
        scope: u64,
        ended: Ended<'a>,
    },
    /// The deadline of `timeout` scope `scope` passed: its body is cancelled.
    TimeoutExpired {
        scope: u64,
    },
    /// A `gather` or `race` begins (`id` from [`next_id`]).
    GroupStart {
        id: u64,
        owner: Owner,
        kind: GroupKind,
        branches: usize,
        limit: Option<usize>,
        site: Option<&'a Location>,
    },
    GroupEnd {
        id: u64,
        ended: Ended<'a>,
    },
    /// Cancellation of task `task` was requested (`reason`: `cancel`,
    /// `timeout`, `signal`).
    CancelRequested {
        task: u64,
        reason: &'static str,
    },
    /// ash sent `signal` to process group `pid` (`group`), or to process `pid`.
    SignalSent {
        pid: i32,
        group: bool,
        signal: i32,
    },
    /// ash received SIGINT or SIGTERM.
    SignalReceived {
        signal: i32,
    },
}

/// Something that watches the run.
pub trait Observer {
    /// `at`: when, in nanoseconds of [`clock::now`].
    fn event(&mut self, at: u64, event: &Event<'_>);
    /// Variables for the environment of external command `command`, about
    /// to be spawned (a nested ash joins the trace through them).
    fn child_env(&mut self, _command: u64, _env: &mut Vec<(OsString, OsString)>) {}
    /// The run is over (however it ended): write what is left.
    fn finish(&mut self, at: u64);
}

static ACTIVE: AtomicBool = AtomicBool::new(false);

thread_local! {
    static OBSERVERS: RefCell<Vec<Box<dyn Observer>>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

/// Whether anything observes: the one check at every hook (always false
/// in a build with the `no-observe-hooks` feature, where the compiler
/// removes the hooks: the baseline of `bench/run --hooks-cost`).
#[inline(always)]
pub fn on() -> bool {
    !cfg!(feature = "no-observe-hooks") && ACTIVE.load(Ordering::Relaxed)
}

/// Start watching with `observer` (on the loop's thread).
pub fn add(observer: Box<dyn Observer>) {
    OBSERVERS.with_borrow_mut(|o| o.push(observer));
    ACTIVE.store(true, Ordering::Relaxed);
}

/// A fresh id for a command or a `gather`/`race` (1, 2, ...).
pub fn next_id() -> u64 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// Tell every observer. (An event raised while an observer is busy, or
/// on another thread, is dropped: observers never call back in.)
#[cold]
pub fn emit(event: Event<'_>) {
    let at = clock::now();
    OBSERVERS.with(|o| {
        if let Ok(mut observers) = o.try_borrow_mut() {
            for o in observers.iter_mut() {
                o.event(at, &event);
            }
        }
    });
}

/// The environment an external command gets from the observers.
#[cold]
pub fn child_env(command: u64) -> Vec<(OsString, OsString)> {
    let mut env = Vec::new();
    OBSERVERS.with(|o| {
        if let Ok(mut observers) = o.try_borrow_mut() {
            for o in observers.iter_mut() {
                o.child_env(command, &mut env);
            }
        }
    });
    env
}

/// The run is over: every observer finishes (and is dropped). Called on
/// every way out of a run; a second call does nothing.
pub fn finish() {
    if !ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    ACTIVE.store(false, Ordering::Relaxed);
    let at = clock::now();
    let observers = OBSERVERS.with_borrow_mut(std::mem::take);
    for mut o in observers {
        o.finish(at);
    }
}

/// For `process::set_signal_hook`: a signal ash sent.
pub fn signal_sent(pid: i32, group: bool, signal: i32) {
    if on() {
        emit(Event::SignalSent { pid, group, signal });
    }
}

/// The name of a signal number (`SIGTERM`), or `signal N`.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        18 => "SIGCONT",
        19 => "SIGSTOP",
        10 => "SIGUSR1",
        12 => "SIGUSR2",
        11 => "SIGSEGV",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

/// `FILE:LINE` of a location.
pub fn file_line(loc: &Location) -> String {
    let (line, _) = crate::diag::line_col(loc);
    format!("{}:{line}", crate::diag::source_name(loc.source))
}

/// How an `Ended` reads: `ok`, `failed`, `cancelled`, `timeout`, `exit`.
pub fn outcome(ended: &Ended<'_>) -> &'static str {
    use crate::vm::error::ErrorKind;
    match ended {
        Ended::Value(_) => "ok",
        Ended::Exit(_) => "exit",
        Ended::Error(e) if e.kind == ErrorKind::Cancelled => "cancelled",
        Ended::Error(e) if e.kind == ErrorKind::Timeout => "timeout",
        Ended::Error(_) => "failed",
    }
}
