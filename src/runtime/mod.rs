//! The event loop, tasks, timers and cancellation.
//!
//! One [`Runtime`] per process, on one thread: its [`Executor`] (a queue of
//! ready async-task tasks) runs every task. A task is a [`crate::vm::fiber::Fiber`] driven by
//! [`task::drive`]: the fiber runs until it halts, the driver awaits what
//! it halted on (a process, a timer, another task), then resumes it.
//!
//! Each task owns a [`TaskCtx`]: its working directory, environment, I/O
//! and cancellation token. `spawn` and `gather` branches copy their
//! parent's, so `cd` in one task never changes another's.

pub mod admission;
pub mod cancel;
pub mod capture;
pub mod command;
pub mod concurrency;
pub mod deadline;
pub mod executor;
pub mod glob;
pub mod keys;
pub mod modules;
pub mod observe;
mod progress;
pub mod shell;
pub mod signals;
pub mod sync;
pub mod task;
pub mod timers;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::rc::Rc;

use crate::process::{InSource, OutSink, WorkDir};
use crate::vm::globals::Globals;
use crate::vm::value::Value;

pub use cancel::{CancelReason, CancelToken, TokenRef};
pub use executor::Executor;
pub use task::{Task, TaskRef};

/// A task's environment variables. `None` until the first change: children
/// then simply inherit ash's own environment.
#[derive(Clone, Default)]
pub struct Env(Option<Rc<BTreeMap<OsString, OsString>>>);

impl Env {
    pub fn get(&self, name: &[u8]) -> Option<OsString> {
        let name = OsStr::from_bytes(name);
        match &self.0 {
            Some(map) => map.get(name).cloned(),
            None => std::env::var_os(name),
        }
    }

    fn map_mut(&mut self) -> &mut BTreeMap<OsString, OsString> {
        let map = self
            .0
            .get_or_insert_with(|| Rc::new(std::env::vars_os().collect()));
        Rc::make_mut(map)
    }

    pub fn set(&mut self, name: &[u8], value: &[u8]) {
        self.map_mut().insert(
            OsStr::from_bytes(name).into(),
            OsStr::from_bytes(value).into(),
        );
    }

    pub fn remove(&mut self, name: &[u8]) {
        self.map_mut().remove(OsStr::from_bytes(name));
    }

    /// For a child: `None` means "ash's own environment, unchanged".
    pub fn for_child(&self) -> Option<Vec<(OsString, OsString)>> {
        self.0
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

/// Where a task's commands read and write.
#[derive(Clone)]
pub struct Io {
    pub stdin: Rc<InSource>,
    pub stdout: Rc<OutSink>,
    pub stderr: Rc<OutSink>,
    /// The admission reserve of the slot this code runs inside (a capture,
    /// a pipeline), if any: taken when the pool is empty, so that what a
    /// held slot waits for never waits for the pool (see `admission`).
    pub reserve: Option<Rc<admission::Reserve>>,
}

/// The per-task state every command and builtin sees.
pub struct TaskCtx {
    pub id: u64,
    /// The working directory and environment, shared with the contexts
    /// started from this one until one side changes either. Fields here
    /// are `Cell`s, taken and put back by the accessors below: one context
    /// lives in every task (an `Rc` of 88 bytes, malloc's 96-byte class;
    /// tests/sizes.rs), and `RefCell` borrow flags or a second pointer for
    /// these moved it up a class.
    place: Cell<Option<Rc<Place>>>,
    io: Cell<Option<Io>>,
    pub status: Cell<i32>,
    /// A spawned task's slot in [`Runtime::tasks`], set when it starts.
    pub task_slot: Cell<u32>,
    /// Its cancellation token, inside the context: one allocation per
    /// task where a token of its own was a second (48 bytes each for
    /// 100,000 sleeping tasks; docs/performance.md). What must keep it
    /// while the context may end holds a [`TokenRef`] (which keeps the
    /// context) or a `Weak` of the context.
    pub cancel: CancelToken,
    /// The command the task is running now, for `jobs`. (A `Cell` of a
    /// thin pointer: one context lives in every task, and a `RefCell` or a
    /// fat `Rc<str>` is 8 bytes more.)
    pub current: Cell<Option<Rc<String>>>,
}

/// A task's working directory and environment (see [`TaskCtx::place`]).
#[derive(Clone)]
struct Place {
    cwd: Rc<WorkDir>,
    env: Env,
}

impl Io {
    /// What a context's I/O accessors see if one were called from inside
    /// another (a bug): ash's own.
    fn closed() -> Io {
        debug_assert!(false, "a context's I/O taken twice");
        Io::standard()
    }

    /// ash's own standard input, output and error.
    pub fn standard() -> Io {
        Io {
            stdin: Rc::new(InSource::stdin()),
            stdout: Rc::new(OutSink::stdout()),
            stderr: Rc::new(OutSink::stderr()),
            reserve: None,
        }
    }
}

impl TaskCtx {
    /// The main task's context: ash's working directory and environment,
    /// and `io`.
    pub fn main(io: Io) -> TaskCtx {
        TaskCtx::with(0, Rc::new(WorkDir::at_start()), Env::default(), io)
    }

    /// A context in `place` (status 0, not a spawned task's).
    fn at(id: u64, place: Option<Rc<Place>>, io: Io, cancel: CancelToken) -> TaskCtx {
        TaskCtx {
            id,
            place: Cell::new(place),
            io: Cell::new(Some(io)),
            status: Cell::new(0),
            task_slot: Cell::new(u32::MAX),
            cancel,
            current: Cell::new(None),
        }
    }

    /// A child task's context: copies of cwd, env and output; stdin from
    /// /dev/null (only the main task reads ash's stdin).
    pub fn child(&self, id: u64, stdin: Rc<InSource>) -> TaskCtx {
        let io = self.with_io(|parent| Io {
            stdin,
            stdout: parent.stdout.clone(),
            stderr: parent.stderr.clone(),
            reserve: parent.reserve.clone(),
        });
        TaskCtx::at(id, cloned(&self.place), io, self.cancel.child())
    }

    /// How observers tell this context from others (its address: stable
    /// while it lives).
    pub fn observe_key(&self) -> crate::observe::Owner {
        std::ptr::from_ref(self).addr()
    }

    /// The command the task is running now.
    pub fn current(&self) -> Option<Rc<String>> {
        cloned(&self.current)
    }

    /// A context with these fields and a token of its own (status 0, not
    /// a spawned task's).
    pub fn with(id: u64, cwd: Rc<WorkDir>, env: Env, io: Io) -> TaskCtx {
        let place = Some(Rc::new(Place { cwd, env }));
        TaskCtx::at(id, place, io, CancelToken::default())
    }

    /// A handle on its cancellation token, for a wait that watches it.
    pub fn token(self: &Rc<Self>) -> TokenRef {
        TokenRef::of(self)
    }

    /// Look at (or change) the working directory and environment, copied
    /// first if they are shared with another context; nothing in `f` may
    /// touch them again.
    fn with_place<R>(&self, f: impl FnOnce(&mut Place) -> R) -> R {
        let mut place = self.place.take().unwrap_or_else(|| {
            Rc::new(Place {
                cwd: Rc::new(WorkDir::by_path(PathBuf::from("/"))),
                env: Env::default(),
            })
        });
        let r = f(Rc::make_mut(&mut place));
        self.place.set(Some(place));
        r
    }

    /// Read the working directory and environment.
    fn read_place<R>(&self, f: impl FnOnce(&Place) -> R) -> R {
        let place = self.place.take();
        let r = match &place {
            Some(place) => f(place),
            None => f(&Place {
                cwd: Rc::new(WorkDir::by_path(PathBuf::from("/"))),
                env: Env::default(),
            }),
        };
        self.place.set(place);
        r
    }

    /// The working directory (see `process::WorkDir`).
    pub fn cwd(&self) -> Rc<WorkDir> {
        self.read_place(|p| p.cwd.clone())
    }

    /// Change directory; the old one.
    pub fn set_cwd(&self, cwd: Rc<WorkDir>) -> Option<Rc<WorkDir>> {
        Some(self.with_place(|p| std::mem::replace(&mut p.cwd, cwd)))
    }

    /// The environment (a cheap copy: the variables are shared until one
    /// side changes them).
    pub fn env(&self) -> Env {
        self.read_place(|p| p.env.clone())
    }

    /// Replace the environment; the old one.
    pub fn set_env(&self, env: Env) -> Env {
        self.with_place(|p| std::mem::replace(&mut p.env, env))
    }

    /// Change the environment in place.
    pub fn env_mut<R>(&self, change: impl FnOnce(&mut Env) -> R) -> R {
        self.with_place(|p| change(&mut p.env))
    }

    /// One environment variable.
    pub fn getenv(&self, name: &[u8]) -> Option<OsString> {
        self.read_place(|p| p.env.get(name))
    }

    /// Where the task's commands read and write.
    pub fn io(&self) -> Io {
        self.with_io(|io| io.clone())
    }

    /// Look at (or change) where the task's commands read and write;
    /// nothing in `f` may touch them again.
    pub fn with_io<R>(&self, f: impl FnOnce(&mut Io) -> R) -> R {
        let mut io = self.io.take().unwrap_or_else(Io::closed);
        let r = f(&mut io);
        self.io.set(Some(io));
        r
    }

    /// Replace where the task's commands read and write; the old one.
    pub fn set_io(&self, io: Io) -> Io {
        self.io.replace(Some(io)).unwrap_or_else(Io::closed)
    }
}

/// A copy of what `cell` holds (taken out and put back: the context keeps
/// `Cell`s, not `RefCell`s, to stay small).
fn cloned<T: Clone + Default>(cell: &Cell<T>) -> T {
    let value = cell.take();
    cell.set(value.clone());
    value
}

pub struct Runtime {
    pub executor: Rc<Executor>,
    /// Global variables: names (interned by the compiler) and values.
    pub globals: RefCell<Globals>,
    /// Live spawned tasks (for `jobs`, `fg`, and to cancel at exit).
    pub tasks: RefCell<task::TaskTable>,
    next_id: Cell<u64>,
    /// Process groups currently running, to kill on a second Ctrl-C.
    pub groups: RefCell<HashSet<i32>>,
    /// Tasks that failed (not by cancellation): reported at exit unless
    /// someone retrieved the error.
    pub failed: RefCell<Vec<TaskRef>>,
    /// Failed tasks let go from `failed` unretrieved: reports and a count.
    pub unheard_failures: RefCell<task::UnheardFailures>,
    /// The main task's cancel token: `exit` in another task stops it too.
    pub main_cancel: RefCell<Option<std::rc::Weak<TaskCtx>>>,
    /// Set by `exit N` anywhere: the script ends with N.
    pub exit_code: Cell<Option<i32>>,
    pub debug: bool,
    /// `/dev/null` as stdin for tasks, opened when the first task is
    /// spawned (see [`Runtime::null_stdin`]).
    null_stdin: std::cell::OnceCell<Rc<InSource>>,
    /// Slots for running external processes (see `admission`).
    pub slots: Rc<admission::Slots>,
    /// Slots for open `$( )` captures.
    pub capture_slots: Rc<admission::Slots>,
    /// The prelude (`map`, `filter`) is loaded on first use.
    pub prelude_loaded: Cell<bool>,
    /// Modules already loaded by `use` (by resolved path).
    pub modules: RefCell<HashSet<String>>,
    /// The script's file (for `use ./x.ash` relative to it).
    pub script_dir: RefCell<Option<PathBuf>>,
    /// Set by the interactive shell (`crate::repl`); `None` for scripts.
    pub hooks: RefCell<Option<Rc<dyn Hooks>>>,
    /// Which tasks wait for which (a wait that closes a cycle is an error).
    pub waits: task::WaitGraph,
    /// Who watches the run (`--journal`; see `observe`).
    pub observers: observe::Observers,
}

/// What the interactive shell needs to know from the runtime, and the
/// commands it adds (job control: `fg`, `bg`, `jobs`, `kill %N`, ...).
pub trait Hooks {
    /// Where a task spawned by task `parent` writes its stdout and stderr
    /// (`None`: inherit the parent's). The shell sends background output
    /// through its line editor so it never corrupts the line being edited.
    fn spawn_output(&self, parent: u64) -> Option<(Rc<OutSink>, Rc<OutSink>)>;
    /// Task `task` was spawned by task `parent` (`cmd &` at the prompt
    /// becomes a job).
    fn spawned(&self, parent: u64, task: &TaskRef);
    /// A pipeline of task `task` started (`true`) or finished its process
    /// group `pgid`: the shell gives the terminal to foreground groups.
    fn group(&self, pgid: i32, task: u64, started: bool);
    /// Whether `args` (the command name first) is a command of the shell.
    /// They are looked up after functions, before builtins and programs.
    fn has_command(&self, args: &[Value]) -> bool;
    /// Run a command of the shell in `ctx` (whose I/O it writes to);
    /// its exit status.
    fn run_command(&self, ctx: Rc<TaskCtx>, args: Vec<Value>) -> ShellCommand;
    /// `cancel N`: cancel job N; `None` when there is no job table (a
    /// script: N is then a task's id, as `jobs` shows).
    fn cancel_job(&self, n: u64) -> Option<bool>;
}

/// A running command of the shell.
pub type ShellCommand =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<i32, crate::vm::error::Error>>>>;

impl Runtime {
    pub fn new(debug: bool) -> Rc<Runtime> {
        let (slots, capture_slots) = admission::Slots::from_fd_limit();
        Runtime::sharing(Rc::new(Executor::new()), slots, capture_slots, debug)
    }

    /// A runtime of its own (globals, tasks, `exit`) on `other`'s loop and
    /// process slots: a remote body run by the agent, beside the others.
    pub fn beside(other: &Runtime) -> Rc<Runtime> {
        Runtime::sharing(
            other.executor.clone(),
            other.slots.clone(),
            other.capture_slots.clone(),
            other.debug,
        )
    }

    fn sharing(
        executor: Rc<Executor>,
        slots: Rc<admission::Slots>,
        capture_slots: Rc<admission::Slots>,
        debug: bool,
    ) -> Rc<Runtime> {
        Rc::new(Runtime {
            executor,
            globals: RefCell::new(Globals::default()),
            tasks: RefCell::default(),
            next_id: Cell::new(1),
            groups: RefCell::new(HashSet::new()),
            failed: RefCell::new(Vec::new()),
            unheard_failures: RefCell::default(),
            exit_code: Cell::new(None),
            main_cancel: RefCell::new(None),
            debug,
            null_stdin: std::cell::OnceCell::new(),
            slots,
            capture_slots,
            prelude_loaded: Cell::new(false),
            modules: RefCell::new(HashSet::new()),
            script_dir: RefCell::new(None),
            hooks: RefCell::new(None),
            waits: task::WaitGraph::default(),
            observers: observe::Observers::default(),
        })
    }

    /// `/dev/null` as a line source, the stdin of spawned tasks: opened
    /// on first use, not as ash starts (an `open` and an `fstat`, ~5 us
    /// of `ash -c true`'s 0.6 ms, which spawns no task).
    pub fn null_stdin(&self) -> Rc<InSource> {
        self.null_stdin
            .get_or_init(|| Rc::new(null_source()))
            .clone()
    }

    pub fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// The value of the global `name`, if defined.
    pub fn get_global(&self, name: &str) -> Option<Value> {
        self.globals.borrow().get(name).cloned()
    }

    /// Define the global `name`.
    pub fn set_global(&self, name: &str, v: Value) {
        self.globals.borrow_mut().set(name, v);
    }

    /// `exit N` from any task: remember N and stop everything, main task
    /// included (its `finally` blocks run, its processes are killed).
    pub fn request_exit(&self, code: i32) {
        if self.exit_code.get().is_none() {
            self.exit_code.set(Some(code));
        }
        let grace = cancel::DEFAULT_GRACE;
        if let Some(main) = self
            .main_cancel
            .borrow()
            .as_ref()
            .and_then(std::rc::Weak::upgrade)
        {
            main.cancel.cancel(CancelReason::Cancel, grace);
        }
        self.cancel_all(CancelReason::Cancel, grace);
    }

    /// Tell the interactive shell about a pipeline's process group.
    pub fn group_event(&self, pgid: i32, task: u64, started: bool) {
        let hooks = self.hooks.borrow().clone();
        if let Some(h) = hooks {
            h.group(pgid, task, started);
        }
    }

    /// Cancel every live task and wait until all have ended (tasks they
    /// start meanwhile included). A task that ended by this cancellation
    /// is not a lost failure.
    pub async fn cancel_and_wait_all(&self, grace: std::time::Duration) {
        loop {
            let live = self.tasks.borrow().live();
            if live.is_empty() {
                break;
            }
            for t in &live {
                t.cancel(CancelReason::Cancel, grace);
            }
            for t in live {
                if let task::Outcome::Error(e) = t.join().await
                    && e.kind == crate::vm::error::ErrorKind::Cancelled
                {
                    t.set_retrieved();
                }
            }
        }
    }

    /// Cancel every live task (at script end, `exit`, or a signal).
    pub fn cancel_all(&self, reason: CancelReason, grace: std::time::Duration) {
        for t in self.tasks.borrow().iter() {
            t.cancel(reason, grace);
        }
    }
}

/// How long the loop runs tasks before it lets the reactor fire due timers
/// and deliver I/O events. The executor's own `run` checks only every 200
/// tasks; with tasks that each spend a while in `posix_spawn`, that let
/// timeouts fire hundreds of milliseconds late.
const TICK_SLICE: std::time::Duration = std::time::Duration::from_millis(1);

/// Run the event loop until `main` finishes, returning its output; an error
/// when the loop has to wait but async-io cannot start (no thread can be
/// created: a tight `ulimit -u`).
pub fn run_loop<T: 'static>(
    executor: &Rc<Executor>,
    main: impl std::future::Future<Output = T> + 'static,
) -> std::io::Result<T> {
    let mut main = executor.spawn(main);
    // As long as there is always something to run, the loop needs no
    // reactor: a script that never waits (`ash -c true`) then never starts
    // async-io's reactor and helper thread. (Sources registered meanwhile
    // are served by that thread.)
    loop {
        if let Some(out) = finished(&mut main) {
            return Ok(out);
        }
        let slice = run_slice(executor);
        signals::deliver();
        timers::fire_due();
        if slice == Slice::Idle && !executor.try_tick() {
            break;
        }
    }
    crate::process::io_thread_ready()?;
    Ok(async_io::block_on(async {
        loop {
            if let Some(out) = finished(&mut main) {
                return out;
            }
            let slice = run_slice(executor);
            if let Some(out) = finished(&mut main) {
                return out;
            }
            // Signals and due timers wake their tasks straight away.
            signals::deliver();
            let next_timer = timers::fire_due();
            if slice == Slice::Full {
                // Woken at once: block_on polls the reactor without blocking.
                futures_lite::future::yield_now().await;
                continue;
            }
            // Nothing runnable: wait (in the reactor) for the next task,
            // the next timer of the loop's queue, or a signal.
            let timer_or_signal = async {
                match next_timer {
                    Some(at) => {
                        futures_lite::future::or(
                            async {
                                async_io::Timer::at(at).await;
                            },
                            signals::arrived(),
                        )
                        .await
                    }
                    None => signals::arrived().await,
                }
            };
            futures_lite::future::or(executor.tick(), timer_or_signal).await;
        }
    }))
}

/// How a [`run_slice`] ended.
#[derive(PartialEq)]
enum Slice {
    /// Nothing was ready.
    Idle,
    /// Ran what was ready.
    Drained,
    /// The slice ran out with tasks still ready.
    Full,
}

/// Run ready tasks for up to a [`TICK_SLICE`].
fn run_slice(executor: &Executor) -> Slice {
    let start = std::time::Instant::now();
    let mut end = Slice::Idle;
    while executor.try_tick() {
        end = Slice::Drained;
        if start.elapsed() >= TICK_SLICE {
            return Slice::Full;
        }
    }
    end
}

/// The output of a finished task.
fn finished<T>(task: &mut crate::runtime::executor::Task<T>) -> Option<T> {
    if !task.is_finished() {
        return None;
    }
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(task).poll(&mut cx) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}

/// `/dev/null` as a line source (stdin of spawned tasks).
fn null_source() -> InSource {
    match std::fs::File::open("/dev/null") {
        Ok(f) => InSource::shared(f.into()),
        // No /dev/null: reading ash's stdin is the only other choice.
        Err(_) => InSource::stdin(),
    }
}
