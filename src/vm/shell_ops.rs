//! The instructions that are shell work, one method each (as rune's VM has
//! one `op_*` method per instruction): commands, captures, globs, reading
//! a line, the environment, modules, and the concurrency keywords.
//!
//! The dispatch loop (`Fiber::run_frame`) keeps the hot instructions
//! inline and, for these, saves the program counter and returns what the
//! method returns: `Ok(None)` to go on running (a frame may have been
//! pushed), `Ok(Some(halt))` to halt, or the error to raise at this
//! instruction. Each pops its operands (the stack effects are documented
//! on `Op`) and asks the runtime for the work through `runtime::shell`,
//! the one seam between the two.

use std::rc::Rc;

use super::chunk::{GatherFlags, Proto};
use super::error::{Error, ErrorKind};
use super::fiber::Fiber;
use super::frame::{FrameKind, TimeoutFrame};
use super::halt::{Halt, Resume, cancellable};
use super::main_args::{self, MainSpec, Parsed};
use super::objects::Coroutine;
use super::value::{Value, to_duration};
use crate::runtime::shell;

/// What an instruction method returns to the dispatch loop.
pub(super) type Step = Result<Option<Halt>, Error>;

impl Fiber {
    /// `Exec`: run the command line `cmds[i]` with its values.
    pub(super) fn op_exec(&mut self, proto: &Proto, i: u32) -> Step {
        let spec = &proto.cmds[i as usize];
        let n: usize = spec.stages.iter().map(|s| s.n_values()).sum();
        let values = self.pop_n(n);
        self.ctx.current.replace(Some(spec.text.clone()));
        // `None`: a function call pushed a frame, or a builtin finished.
        shell::exec(self, spec, values)
    }

    /// `Capture`: run the closure with its stdout into a pipe.
    pub(super) fn op_capture(&mut self) -> Step {
        let Value::Func(f) = self.pop() else {
            return Err(Error::type_err("capture needs a function"));
        };
        shell::begin_capture(self, f)
    }

    /// `Glob`: expand a pattern (file I/O, so off the loop thread).
    pub(super) fn op_glob(&mut self) -> Step {
        let pattern = self.pop();
        let cwd = self.ctx.cwd();
        Ok(Some(Halt::Await(Box::pin(async move {
            shell::expand_glob(pattern, cwd)
                .await
                .map(Resume::Push)
                .map_err(Rc::new)
        }))))
    }

    /// `EscapeGlob`: a variable part of a glob word matches literally.
    pub(super) fn op_escape_glob(&mut self) -> Step {
        let v = self.pop();
        self.stack
            .push(Value::from(shell::escape_glob(&v.to_bytes()?)));
        Ok(None)
    }

    /// `Home`: the task's `$HOME`.
    pub(super) fn op_home(&mut self) -> Step {
        let home = self.ctx.getenv(b"HOME").unwrap_or_default();
        self.stack
            .push(Value::from(std::os::unix::ffi::OsStringExt::into_vec(home)));
        Ok(None)
    }

    /// `HomeOf`: `~name`, the home directory of user `name` (from the
    /// password database); no such user is a `ValueError`, as a glob that
    /// matches nothing is an error (quote it for a literal `~name`).
    pub(super) fn op_home_of(&mut self) -> Step {
        let name = self.pop().to_text()?;
        match shell::home_of(&name) {
            Ok(Some(dir)) => {
                self.stack
                    .push(Value::from(std::os::unix::ffi::OsStringExt::into_vec(
                        dir.into_os_string(),
                    )));
                Ok(None)
            }
            Ok(None) => Err(Error::value(format!(
                "~{name}: no such user (quote it for a literal ~: '~{name}')"
            ))),
            Err(e) => Err(Error::value(format!(
                "~{name}: cannot read the user database: {e}"
            ))),
        }
    }

    /// `ReadLine`: `read NAME`, one line of the task's stdin; at end of
    /// input the empty string and status 1 (bash empties the variable).
    /// The fast path: a line that is already there (buffered, or in a
    /// regular file) is pushed without a halt and without leaving the
    /// frame's loop; `None` if the line has to be waited for
    /// ([`Fiber::op_read_line`]).
    #[inline]
    pub(super) fn read_line_now(&mut self) -> Option<Result<(), Error>> {
        let result = self.ctx.with_io(|io| io.stdin.try_read_line())?;
        Some(match result {
            Ok(Some(line)) => {
                self.ctx.status.set(0);
                self.stack.push(Value::Str(line));
                Ok(())
            }
            Ok(None) => {
                self.ctx.status.set(1);
                self.stack.push(Value::str(""));
                Ok(())
            }
            Err(e) => Err(Error::io(format!("read: {e}"))),
        })
    }

    /// `ReadLine` when [`Fiber::read_line_now`] would wait: halts until the
    /// line is there.
    pub(super) fn op_read_line(&mut self) -> Step {
        let stdin = self.ctx.with_io(|io| io.stdin.clone());
        let ctx = self.ctx.clone();
        Ok(Some(Halt::Await(cancellable(
            self.ctx.token(),
            async move {
                match stdin.read_line().await {
                    Ok(Some(line)) => {
                        ctx.status.set(0);
                        Ok(Resume::Push(Value::Str(line)))
                    }
                    Ok(None) => {
                        ctx.status.set(1);
                        Ok(Resume::Push(Value::str("")))
                    }
                    Err(e) => Err(Rc::new(Error::io(format!("read: {e}")))),
                }
            },
        ))))
    }

    /// `Export`: set an environment variable of this task.
    pub(super) fn op_export(&mut self) -> Step {
        let v = self.pop();
        let name = self.pop();
        let name = name.expect_str("export")?;
        let value = export_bytes(&v)?;
        self.ctx.env_mut(|env| env.set(name, &value));
        Ok(None)
    }

    /// `Use`: load and run a module (`use`) or a file in this scope (`source`).
    pub(super) fn op_use(&mut self, source: bool) -> Step {
        let path = self.pop();
        shell::use_module(self, path, source).map(Some)
    }

    /// `RunMain`: call the script's `fn main` with its command line;
    /// `--help` and a bad argument end the script (0 and 2) instead.
    pub(super) fn op_run_main(&mut self, n: u16, spec: Option<Rc<MainSpec>>) -> Step {
        let at = self.stack.len().saturating_sub(n as usize + 3);
        let mut operands = self.stack.split_off(at).into_iter();
        let (main, args, script) = (
            operands.next().unwrap_or_default(),
            operands.next().unwrap_or_default(),
            operands.next().unwrap_or_default(),
        );
        let defaults: Vec<Value> = operands.collect();
        // `main` was assigned something else: nothing to call.
        let (Value::Func(main), Some(spec)) = (main, spec) else {
            self.stack.push(Value::Null);
            return Ok(None);
        };
        let args: Vec<Vec<u8>> = match &args {
            Value::List(l) => l.borrow().iter().map(Value::word_bytes).collect(),
            _ => Vec::new(),
        };
        let script = String::from_utf8_lossy(&script.word_bytes()).into_owned();
        let (text, to_stderr, code) = match main_args::parse(&spec, &script, defaults, &args) {
            Err(msg) => return Err(Error::type_err(msg)),
            Ok(Parsed::Args(values)) => {
                self.push_frame(main, values, FrameKind::Call)?;
                return Ok(None);
            }
            Ok(Parsed::Help(text)) => (text, false, 0),
            Ok(Parsed::Usage(text)) => (text, true, 2),
        };
        let io = self.ctx.io();
        Ok(Some(Halt::Await(Box::pin(async move {
            let sink = if to_stderr { &io.stderr } else { &io.stdout };
            sink.write_all(text.as_bytes())
                .await
                .map_err(|e| Rc::new(Error::io(format!("write error: {e}"))))?;
            Ok(Resume::Exit(code))
        }))))
    }

    /// `EndMain`: main's value as the script's status, as a function's
    /// in command form (`return 3`, `return false`); a failure ends the
    /// script with it.
    pub(super) fn op_end_main(&mut self) -> Step {
        let v = self.pop();
        let status = super::frame::status_of_return(&v);
        if status == 0 {
            return Ok(None);
        }
        self.rt.exit_code.set(Some(status));
        Ok(Some(Halt::Exit(status)))
    }

    /// `Await`: a coroutine runs here, in a new frame; a task is waited for.
    pub(super) fn op_await(&mut self) -> Step {
        match self.pop() {
            Value::Coroutine(c) => {
                let args = c.take()?;
                self.push_frame(c.func.clone(), args, FrameKind::Call)?;
                Ok(None)
            }
            Value::Task(t) => {
                let me = shell::TaskKey::of(&self.ctx);
                shell::check_wait(&self.rt, me, &t)?;
                let token = self.ctx.token();
                let rt = self.rt.clone();
                Ok(Some(Halt::Await(Box::pin(async move {
                    shell::await_task(rt, me, t, token).await.map(Resume::Push)
                }))))
            }
            other => Err(Error::type_err(format!(
                "await expects a coroutine or a task, got {}",
                other.type_name()
            ))),
        }
    }

    /// The `spawn`, `gather` or `race` instruction being run (for the
    /// journal's keys).
    fn site(&self) -> Option<shell::Site<'_>> {
        let f = self.frames.last()?;
        Some(shell::Site {
            proto: &f.closure.proto,
            pc: (f.pc as usize).saturating_sub(1),
        })
    }

    /// `Spawn`: start a coroutine as a new task (a task stays itself).
    pub(super) fn op_spawn(&mut self, job: bool) -> Step {
        let coro = match self.pop() {
            Value::Coroutine(c) => c,
            Value::Task(t) => {
                self.stack.push(Value::Task(t));
                return Ok(None);
            }
            Value::Func(f) => Rc::new(Coroutine::new(f, Vec::new())),
            other => {
                return Err(Error::type_err(format!(
                    "spawn expects a coroutine, got {}",
                    other.type_name()
                )));
            }
        };
        let t = shell::spawn(&self.rt, &self.ctx, &coro, job, self.site().as_ref())?;
        self.stack.push(Value::Task(t));
        Ok(None)
    }

    /// `Gather`: run the branches concurrently; halts until all are done.
    pub(super) fn op_gather(&mut self, n: u32, flags: GatherFlags) -> Step {
        let limit = if flags.limit() {
            Some(self.pop())
        } else {
            None
        };
        let branches = self.pop_n(n as usize);
        let opts = gather_opts(limit, flags);
        let site = self.site();
        let fut = shell::gather(
            self.rt.clone(),
            self.ctx.clone(),
            site.as_ref(),
            branches,
            opts,
        )?;
        Ok(Some(Halt::Await(fut)))
    }

    /// `Race`: the first branch to succeed; halts until then.
    pub(super) fn op_race(&mut self, n: u32, progress: bool) -> Step {
        let branches = self.pop_n(n as usize);
        let fut = shell::race(
            self.rt.clone(),
            self.ctx.clone(),
            self.site().as_ref(),
            branches,
            progress,
        )?;
        Ok(Some(Halt::Await(fut)))
    }

    /// `SpawnOn`: a task whose body runs on a host (section 15).
    pub(super) fn op_spawn_on(&mut self) -> Step {
        let body = self.pop();
        let hosts = self.pop();
        let t = shell::spawn_on(&self.rt, &self.ctx, self.site().as_ref(), hosts, body)?;
        self.stack.push(Value::Task(t));
        Ok(None)
    }

    /// `GatherOn`: `gather` with each branch on one of the hosts.
    pub(super) fn op_gather_on(&mut self, n: u32, flags: GatherFlags) -> Step {
        let limit = if flags.limit() {
            Some(self.pop())
        } else {
            None
        };
        let branches = self.pop_n(n as usize);
        let hosts = self.pop();
        let opts = gather_opts(limit, flags);
        let fut = shell::gather_on(
            &self.rt,
            &self.ctx,
            self.site().as_ref(),
            hosts,
            branches,
            opts,
        )?;
        Ok(Some(Halt::Await(fut)))
    }

    /// `RaceOn`: `race` with each branch on one of the hosts.
    pub(super) fn op_race_on(&mut self, n: u32, progress: bool) -> Step {
        let branches = self.pop_n(n as usize);
        let hosts = self.pop();
        let site = self.site();
        let fut = shell::race_on(
            &self.rt,
            &self.ctx,
            site.as_ref(),
            hosts,
            branches,
            progress,
        )?;
        Ok(Some(Halt::Await(fut)))
    }

    /// `RemoteRun`: the code of a remote branch's task: send the packed
    /// body to a host and halt until its answer.
    pub(super) fn op_remote_run(&mut self) -> Step {
        let unit = self.pop();
        let target = self.pop();
        let fut = shell::remote_run(&self.rt, &self.ctx, target, unit)?;
        Ok(Some(Halt::Await(fut)))
    }

    /// `Timeout`: run the body in a `Timeout` frame, its deadline on the
    /// task's cancel token.
    pub(super) fn op_timeout(&mut self, grace: bool) -> Step {
        let body = self.pop();
        let grace = if grace { Some(self.pop()) } else { None };
        let duration = self.pop();
        let d = to_duration(&duration, "timeout")?;
        let grace = match grace {
            Some(g) => to_duration(&g, "timeout --grace")?,
            None => shell::DEFAULT_GRACE,
        };
        let (func, args) = match body {
            Value::Coroutine(c) => (c.func.clone(), c.take()?),
            Value::Func(f) => (f, Vec::new()),
            other => {
                return Err(Error::type_err(format!(
                    "timeout expects a block or a coroutine, got {}",
                    other.type_name()
                )));
            }
        };
        let scope = self.rt.next_id();
        if shell::observed() {
            shell::observe_timeout_start(&self.ctx, scope, d, self.location().as_ref());
        }
        self.ctx
            .cancel
            .push_deadline(scope, std::time::Instant::now() + d, grace);
        let first_group = shell::next_group_number();
        let pushed = self.push_frame(
            func,
            args,
            FrameKind::Timeout(Box::new(TimeoutFrame { scope, first_group })),
        );
        if let Err(e) = &pushed {
            self.ctx.cancel.pop_deadline(scope);
            if shell::observed() {
                shell::observe_timeout_end(&self.ctx, scope, Err(e));
            }
        }
        pushed.map(|()| None)
    }

    /// `Sleep`: halt until the deadline (the driver races it against
    /// cancellation).
    pub(super) fn op_sleep(&mut self) -> Step {
        let d = to_duration(&self.pop(), "sleep")?;
        let now = std::time::Instant::now();
        // A duration beyond what `Instant` can hold sleeps "forever".
        let until = now
            .checked_add(d)
            .unwrap_or_else(|| now + std::time::Duration::from_secs(86_400 * 365 * 30));
        Ok(Some(Halt::Sleep(until)))
    }

    /// `Cancel`: request a task's cancellation (it does not wait).
    pub(super) fn op_cancel(&mut self) -> Step {
        match self.pop() {
            Value::Task(t) => {
                t.cancel(shell::CancelReason::Cancel, shell::DEFAULT_GRACE);
                Ok(None)
            }
            // `cancel 2`, `cancel "%2"`: a job of the interactive shell,
            // else the task with that id (as `jobs` shows).
            v @ (Value::Int(_) | Value::Str(_)) if job_number(&v).is_some() => {
                let n = job_number(&v).unwrap_or_default();
                if shell::cancel_job(&self.rt, n) {
                    Ok(None)
                } else {
                    Err(Error::value(format!("cancel: no job {n}")))
                }
            }
            other => Err(Error::type_err(format!(
                "cancel expects a task, got {}",
                other.type_name()
            ))),
        }
    }

    /// The global's fallback when undefined: a prelude function (loaded on
    /// first use), a built-in function, an environment variable, else
    /// `NameError`.
    pub(super) fn global_fallback(&self, g: u32) -> Result<Value, Error> {
        if let Some(f) = self.rt.globals.borrow().builtin(g) {
            return Ok(f.clone());
        }
        let name = self.rt.globals.borrow().name(g).to_string();
        if shell::is_prelude_name(&name) && !self.rt.prelude_loaded.get() {
            shell::load_prelude(&self.rt, &self.ctx)?;
            if let Some(v) = self.rt.globals.borrow().value(g) {
                return Ok(v.clone());
            }
        }
        let name = name.as_str();
        if let Some(f) = shell::builtin_function(name) {
            self.rt.globals.borrow_mut().remember_builtin(g, f.clone());
            return Ok(f);
        }
        if let Some(v) = self.ctx.getenv(name.as_bytes()) {
            return Ok(Value::from(std::os::unix::ffi::OsStringExt::into_vec(v)));
        }
        Err(Error::new(
            ErrorKind::Name,
            format!("'{name}' is not defined"),
        ))
    }
}

/// An environment value's bytes (no NUL: the OS cannot pass it).
fn export_bytes(v: &Value) -> Result<Vec<u8>, Error> {
    let b = v.to_bytes()?;
    if b.contains(&0) {
        return Err(Error::value(
            "an environment value cannot contain a NUL byte",
        ));
    }
    Ok(b)
}

/// A job number: `2` or `"%2"`.
fn job_number(v: &Value) -> Option<u64> {
    match v {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::Str(s) => std::str::from_utf8(s.strip_prefix(b"%")?)
            .ok()?
            .parse()
            .ok(),
        _ => None,
    }
}

/// `gather`'s options from its instruction's switches and its limit.
fn gather_opts(limit: Option<Value>, flags: GatherFlags) -> shell::GatherOpts {
    shell::GatherOpts {
        limit,
        keep_going: flags.keep_going(),
        group: flags.group(),
        progress: flags.progress(),
    }
}
