//! The seam between the VM and the runtime: everything a fiber asks of the
//! runtime is named here, and the VM names nothing else of it
//! (`tests/architecture.rs` holds that). Reading this file tells what the
//! VM depends on; changing the runtime behind it leaves the VM alone.
//!
//! Three kinds of things cross it:
//! - the state a fiber carries: the [`Runtime`] (globals, task table,
//!   executor) and its task's [`TaskCtx`] (cwd, environment, I/O, status,
//!   cancel token), and the runtime objects a `Value` can hold;
//! - shell work, each behind one instruction: commands, captures, modules,
//!   globs (`vm/shell_ops.rs` has one method per instruction);
//! - tasks: spawn, await, gather, race, and cancellation.
//!
//! A call here either finishes at once (a builtin, `spawn`) or hands back
//! a [`Halt`](crate::vm::halt::Halt) with the future to wait on: the VM
//! never blocks and never awaits by itself.

use std::rc::Rc;

use crate::vm::error::Error;
use crate::vm::fiber::{Fiber, Halt};
use crate::vm::value::Value;

// The state a fiber carries, and runtime objects inside values.
pub use super::cancel::DEFAULT_GRACE;
/// A task of the loop (a capture's reader).
pub use super::executor::Task as LoopTask;
pub use super::sync::{Channel, Semaphore, SuspendFn};
pub use super::task::{Task, TaskRef};
pub use super::{CancelReason, CancelToken, Env, Io, Runtime, TaskCtx, TokenRef};
pub use crate::process::WorkDir;

// Shell work.
pub use super::capture::begin_capture;
pub use super::command::exec;
pub use super::glob::{escape as escape_glob, expand as expand_glob};
pub use super::modules::{forget_module, use_module};

// Tasks.
pub use super::concurrency::{GatherOpts, gather, gather_on, race, race_on, remote_run, spawn_on};
pub use super::keys::Site;
pub use super::task::{TaskKey, await_task, check_wait, spawn};

// Observers (`--trace`, `--timeline`): whether any watches, and the
// hooks of the VM's own instructions.
pub use crate::observe::on as observed;

/// A `timeout` body (scope `scope`, `duration` long) begins. (Cold and
/// never inlined, as every hook's body: its caller is the VM's dispatch
/// loop, which should not carry it when nothing observes.)
#[cold]
#[inline(never)]
pub fn observe_timeout_start(
    ctx: &TaskCtx,
    scope: u64,
    duration: std::time::Duration,
    site: Option<&crate::vm::error::Location>,
) {
    crate::observe::emit(crate::observe::Event::TimeoutStart {
        owner: ctx.observe_key(),
        scope,
        seconds: duration.as_secs_f64(),
        site,
    });
}

/// A `timeout` body ended: with its value, or an error (a `TimeoutError`
/// when its own deadline passed).
#[cold]
#[inline(never)]
pub fn observe_timeout_end(ctx: &TaskCtx, scope: u64, ended: Result<&Value, &Error>) {
    let ended = match ended {
        Ok(v) => crate::observe::Ended::Value(v),
        Err(e) => crate::observe::Ended::Error(e),
    };
    crate::observe::emit(crate::observe::Event::TimeoutEnd {
        owner: ctx.observe_key(),
        scope,
        ended,
    });
}

/// `~name`: the home directory of user `name` (see [`crate::process::home_of`]).
pub fn home_of(name: &str) -> Result<Option<std::path::PathBuf>, String> {
    crate::process::home_of(name)
}

/// The number the next process group will get (a `timeout` body kills
/// what groups from this one on left behind).
pub fn next_group_number() -> u64 {
    crate::process::contain::next_group_number()
}

/// A built-in function of expression mode (`len`, `recv`, ...) by name.
pub fn builtin_function(name: &str) -> Option<Value> {
    if let Some(f) = crate::builtins::functions::lookup(name) {
        return Some(Value::Native(f));
    }
    super::sync::lookup(name).map(Value::Suspend)
}

/// Whether `name` is defined by the prelude (`map`, `filter`).
pub fn is_prelude_name(name: &str) -> bool {
    crate::stdlib::PRELUDE_NAMES.contains(&name)
}

/// Define the prelude's functions, the first time one is looked up: most
/// scripts never use them, and start faster without. The prelude only
/// declares functions, so it runs to its end at once.
pub fn load_prelude(rt: &Rc<Runtime>, ctx: &Rc<TaskCtx>) -> Result<(), Error> {
    rt.prelude_loaded.set(true);
    let closure = super::modules::load_module(rt, "<prelude>", crate::stdlib::PRELUDE)?;
    let mut fiber = Fiber::call(rt.clone(), ctx.clone(), closure, Vec::new());
    loop {
        match fiber.run() {
            Halt::Failed(e) => {
                return Err(Error::value(format!("the prelude failed: {}", e.message)));
            }
            // The slice may be over; it still runs to its end now.
            Halt::Yield => continue,
            _ => return Ok(()),
        }
    }
}

/// `cancel N`: job N of the interactive shell, or (in a script) the task
/// whose id is N. Whether there was one.
pub fn cancel_job(rt: &Runtime, n: u64) -> bool {
    let hooks = rt.hooks.borrow().clone();
    match hooks.and_then(|h| h.cancel_job(n)) {
        Some(found) => found,
        None => {
            let task = rt.tasks.borrow().get(n);
            task.map(|t| t.cancel(CancelReason::Cancel, DEFAULT_GRACE))
                .is_some()
        }
    }
}

/// Whether `name` is a keyword of the language (`type`).
pub fn is_keyword(name: &str) -> bool {
    crate::syntax::is_keyword(name)
}
