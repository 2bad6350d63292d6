//! A fiber: one coroutine's resumable state (frames and value stack).
//!
//! [`Fiber::run`] executes instructions until the fiber *halts*: it
//! finished, it failed, its instruction budget ran out ([`Halt::Yield`]),
//! or it must wait ([`Halt::Await`] with the future to wait on). It never
//! blocks and never recurses on the Rust stack per ash call: a call pushes a
//! [`Frame`]. The runtime's driver (`runtime::task::drive`) awaits the
//! future and calls [`Fiber::resume`] with its result.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use crate::runtime::{CancelReason, Runtime, TaskCtx};
use crate::vm::chunk::{CaptureFrom, Op};
use crate::vm::error::{Error, ErrorKind, Location, command_error};
use crate::vm::frame::{Frame, Handler, Handlers};
use crate::vm::objects::{Closure, Coroutine};
use crate::vm::ops;
use crate::vm::value::Value;

pub use crate::vm::frame::{FrameKind, Restore};
pub use crate::vm::halt::{Halt, Pending, Resume, cancellable};

/// Instructions between two yields to the event loop.
pub const BUDGET: u32 = 20_000;
/// Frames deeper than this raise `RecursionError`.
pub const MAX_FRAMES: usize = 10_000;

/// Whether a fiber has ended, and how.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Ended {
    No,
    Returned,
    Failed,
}

pub struct Fiber {
    pub(super) stack: Vec<Value>,
    pub(super) frames: Vec<Frame>,
    pub(super) handlers: Handlers,
    pub ctx: Rc<TaskCtx>,
    pub rt: Rc<Runtime>,
    /// Set when the fiber has ended; `run` returns its result (kept as the
    /// one value left on the stack) again.
    pub(super) ended: Ended,
}

impl Fiber {
    /// End the fiber with `result`, the one value left on its stack (a
    /// separate field for it made every task 16 bytes bigger).
    pub(super) fn finish(&mut self, result: Result<Value, Rc<Error>>) {
        self.stack.clear();
        self.ended = match result {
            Ok(v) => {
                self.stack.push(v);
                Ended::Returned
            }
            Err(e) => {
                self.stack.push(Value::Error(e));
                Ended::Failed
            }
        };
    }

    /// The value stack's capacity (tests of the compiler's sizing).
    #[cfg(test)]
    pub fn stack_capacity(&self) -> usize {
        self.stack.capacity()
    }

    /// A fiber that will call `func(args)` as its root frame.
    pub fn call(rt: Rc<Runtime>, ctx: Rc<TaskCtx>, func: Rc<Closure>, args: Vec<Value>) -> Fiber {
        let mut fiber = Fiber {
            // Sized by the compiler: a task that only sleeps needs one
            // value, and 100,000 such tasks should be small.
            stack: Vec::with_capacity(func.proto.stack_needed),
            frames: Vec::with_capacity(1),
            handlers: Handlers::default(),
            ctx,
            rt,
            ended: Ended::No,
        };
        if let Err(e) = fiber.push_frame(func, args, FrameKind::Root) {
            fiber.finish(Err(Rc::new(e)));
        }
        fiber
    }

    /// Where a fiber that yielded will continue.
    pub fn resume_location(&self) -> Option<Location> {
        let f = self.frames.last()?;
        let proto = &f.closure.proto;
        let span = proto.spans.get(f.pc as usize).copied()?;
        Some(Location {
            source: proto.source,
            span,
        })
    }

    /// The source location of the instruction being run.
    pub fn location(&self) -> Option<Location> {
        let f = self.frames.last()?;
        let proto = &f.closure.proto;
        let span = proto.spans.get(f.pc.saturating_sub(1) as usize).copied()?;
        Some(Location {
            source: proto.source,
            span,
        })
    }

    /// The value on top of the stack. The compiler's stack effects
    /// guarantee there is one; a release build reads `null` rather than
    /// panic if that were ever wrong.
    pub(super) fn pop(&mut self) -> Value {
        debug_assert!(!self.stack.is_empty(), "value stack underflow");
        self.stack.pop().unwrap_or_default()
    }

    pub(super) fn pop_n(&mut self, n: usize) -> Vec<Value> {
        debug_assert!(self.stack.len() >= n, "value stack underflow");
        let at = self.stack.len().saturating_sub(n);
        self.stack.split_off(at)
    }

    /// Deliver a pending cancellation request (after a budget yield).
    pub fn check_cancel(&mut self) {
        // A busy loop awaits nothing: its timeout deadlines are checked here.
        self.ctx.cancel.check_deadlines();
        if self.ended == Ended::No && self.ctx.cancel.is_requested() {
            let e = self.cancel_error();
            self.raise(e);
        }
    }

    /// The `CancelledError` for the token's request, consuming it.
    pub(super) fn cancel_error(&self) -> Rc<Error> {
        let e = Error::cancelled();
        if let Some(CancelReason::Timeout(scope)) = self.ctx.cancel.take() {
            e.timeout_scope.set(Some(scope));
        }
        Rc::new(e)
    }

    /// Continue after a wait.
    pub fn resume(&mut self, result: Result<Resume, Rc<Error>>) {
        match result {
            Ok(Resume::Push(v)) => self.stack.push(v),
            Ok(Resume::Nothing) => {}
            Ok(Resume::Status {
                status,
                check,
                text,
            }) => {
                self.ctx.status.set(status);
                if check && status != 0 {
                    self.raise(Rc::new(command_error(&text, status)));
                }
            }
            Ok(Resume::Call {
                func,
                args,
                kind,
                io,
            }) => {
                let restore_io = io.map(|io| std::mem::replace(&mut *self.ctx.io.borrow_mut(), io));
                let kind = match kind {
                    FrameKind::Command { check, restore } => FrameKind::Command {
                        check,
                        restore: match restore_io {
                            None => restore,
                            io => Some(Box::new(Restore {
                                io,
                                ..restore.map_or(
                                    Restore {
                                        io: None,
                                        env: None,
                                        cwd: None,
                                    },
                                    |r| *r,
                                )
                            })),
                        },
                    },
                    other => other,
                };
                if let Err(e) = self.push_frame(func, args, kind) {
                    self.raise(Rc::new(e));
                }
            }
            Ok(Resume::Exit(code)) => {
                self.finish(Ok(Value::Null));
                self.rt.exit_code.set(Some(code));
            }
            Err(e) => {
                let e = if e.kind == ErrorKind::Cancelled && self.ctx.cancel.is_requested() {
                    self.cancel_error()
                } else {
                    e
                };
                self.raise(e);
            }
        }
    }

    /// Run until the fiber halts.
    pub fn run(&mut self) -> Halt {
        let mut budget = BUDGET;
        loop {
            if self.ended != Ended::No {
                if let Some(code) = self.rt.exit_code.get() {
                    return Halt::Exit(code);
                }
                debug_assert_eq!(self.stack.len(), 1, "an ended fiber keeps its result");
                return match (self.ended, self.stack.last()) {
                    (Ended::Failed, Some(Value::Error(e))) => Halt::Failed(e.clone()),
                    (_, v) => Halt::Done(v.cloned().unwrap_or_default()),
                };
            }
            match self.run_frame(&mut budget) {
                Ok(Some(halt)) => return halt,
                Ok(None) => {}
                Err(e) => {
                    self.raise(Rc::new(e));
                }
            }
        }
    }

    /// Execute the top frame until it changes frames (`Ok(None)`), halts,
    /// or raises.
    fn run_frame(&mut self, budget: &mut u32) -> Result<Option<Halt>, Error> {
        let Some(frame) = self.frames.last() else {
            // Leaving the root frame ends the fiber, so a running fiber
            // always has one.
            debug_assert!(false, "a running fiber without frames");
            self.finish(Ok(Value::Null));
            return Ok(None);
        };
        let proto = frame.closure.proto.clone();
        let base = frame.base as usize;
        let mut pc = frame.pc as usize;
        let code = &proto.code;
        macro_rules! save_pc {
            () => {
                if let Some(f) = self.frames.last_mut() {
                    f.pc = pc as u32;
                }
            };
        }
        // Errors raised by an op are located at that op: save pc first.
        macro_rules! tri {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(err) => {
                        save_pc!();
                        return Err(err);
                    }
                }
            };
        }
        loop {
            let Some(&op) = code.get(pc) else {
                save_pc!();
                return Err(Error::value("internal error: ran off the end of the code"));
            };
            pc += 1;
            match op {
                Op::Const(k) => self.stack.push(proto.consts[k as usize].clone()),
                Op::Null => self.stack.push(Value::Null),
                Op::SmallInt(i) => self.stack.push(Value::Int(i as i64)),
                Op::Pop => {
                    self.stack.pop();
                }
                Op::LoadLocal(s) => {
                    let v = self.stack[base + s as usize].clone();
                    self.stack.push(v);
                }
                // (`DeclLocal` never reaches a fiber: see its doc.)
                Op::StoreLocal(s) | Op::DeclLocal(s) => {
                    let v = self.pop();
                    self.stack[base + s as usize] = v;
                }
                Op::LoadCell(c) => {
                    let v = self.frames[self.frames.len() - 1].cells[c as usize]
                        .borrow()
                        .clone();
                    self.stack.push(v);
                }
                Op::StoreCell(c) => {
                    let v = self.pop();
                    let n = self.frames.len() - 1;
                    *self.frames[n].cells[c as usize].borrow_mut() = v;
                }
                Op::InitCell(c) => {
                    let v = self.pop();
                    let n = self.frames.len() - 1;
                    self.frames[n].cells[c as usize] = Rc::new(RefCell::new(v));
                }
                Op::LoadCapture(i) => {
                    let v = self.frames[self.frames.len() - 1].closure.captures[i as usize]
                        .borrow()
                        .clone();
                    self.stack.push(v);
                }
                Op::StoreCapture(i) => {
                    let v = self.pop();
                    let n = self.frames.len() - 1;
                    *self.frames[n].closure.captures[i as usize].borrow_mut() = v;
                }
                Op::LoadGlobal(g) => {
                    let v = self.rt.globals.borrow().get(g as usize).cloned().flatten();
                    let v = match v {
                        Some(v) => v,
                        None => tri!(self.global_fallback(g)),
                    };
                    self.stack.push(v);
                }
                Op::StoreGlobal(g) => {
                    let v = self.pop();
                    let mut globals = self.rt.globals.borrow_mut();
                    match globals.get_mut(g as usize) {
                        Some(slot @ Some(_)) => *slot = Some(v),
                        _ => {
                            drop(globals);
                            let name = self.rt.names.borrow().name(g).to_string();
                            save_pc!();
                            return Err(Error::new(
                                ErrorKind::Name,
                                format!(
                                    "variable '{name}' is not declared (use `let {name} = ...`)"
                                ),
                            ));
                        }
                    }
                }
                Op::DefineGlobal(g) => {
                    let v = self.pop();
                    self.rt.sync_globals();
                    if let Some(slot) = self.rt.globals.borrow_mut().get_mut(g as usize) {
                        *slot = Some(v);
                    }
                }
                Op::LoadStatus => self.stack.push(Value::Int(self.ctx.status.get() as i64)),
                Op::Unary(op) => {
                    let v = self.pop();
                    let r = tri!(ops::unary(op, &v));
                    self.stack.push(r);
                }
                Op::Binary(op) => {
                    let b = self.pop();
                    let a = self.pop();
                    // The hot case of loops: int arithmetic and comparison.
                    let fast = match (&a, &b) {
                        (Value::Int(x), Value::Int(y)) => int_binary(op, *x, *y),
                        _ => None,
                    };
                    let r = match fast {
                        Some(v) => v,
                        None => tri!(ops::binary(op, &a, &b)),
                    };
                    self.stack.push(r);
                }
                Op::Index => {
                    let k = self.pop();
                    let c = self.pop();
                    let r = tri!(ops::index(&c, &k));
                    self.stack.push(r);
                }
                Op::SetIndex => {
                    let v = self.pop();
                    let k = self.pop();
                    let c = self.pop();
                    tri!(ops::set_index(&c, &k, v));
                }
                Op::Field(k) => {
                    let v = self.pop();
                    let name = tri!(proto.consts[k as usize].expect_str("a field name"));
                    let r = tri!(ops::field(&v, name));
                    self.stack.push(r);
                }
                Op::SetField(k) => {
                    let v = self.pop();
                    let m = self.pop();
                    let name = tri!(proto.consts[k as usize].expect_str("a field name"));
                    tri!(ops::set_field(&m, name, v));
                }
                Op::MakeList(n) => {
                    let items = self.pop_n(n as usize);
                    self.stack.push(Value::list(items));
                }
                Op::MakeMap(n) => {
                    let items = self.pop_n(2 * n as usize);
                    let mut map = indexmap::IndexMap::with_capacity(n as usize);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        let key: Rc<[u8]> = match k {
                            Value::Str(s) => s,
                            other => Rc::from(other.to_bytes()),
                        };
                        map.insert(key, v);
                    }
                    self.stack.push(Value::map(map));
                }
                Op::Concat(n) => {
                    let parts = self.pop_n(n as usize);
                    let mut out = Vec::new();
                    for p in &parts {
                        match p {
                            Value::Str(s) => out.extend_from_slice(s),
                            other => out.extend_from_slice(&other.to_bytes()),
                        }
                    }
                    self.stack.push(Value::from(out));
                }
                Op::ToStr => {
                    let v = self.pop();
                    let s = match v {
                        Value::Str(_) => v,
                        other => Value::from(other.to_bytes()),
                    };
                    self.stack.push(s);
                }
                Op::ArgList(n) => {
                    let words = self.pop_n(n as usize);
                    self.stack
                        .push(Value::list(crate::runtime::exec::flatten_words(words)));
                }
                Op::EscapeGlob => {
                    let v = self.pop();
                    self.stack
                        .push(Value::from(crate::runtime::glob::escape(&v.to_bytes())));
                }
                Op::Glob => {
                    let pattern = self.pop();
                    save_pc!();
                    let cwd = self.ctx.cwd();
                    return Ok(Some(Halt::Await(Box::pin(async move {
                        crate::runtime::glob::expand(pattern, cwd)
                            .await
                            .map(Resume::Push)
                            .map_err(Rc::new)
                    }))));
                }
                Op::Home => {
                    let home = self.ctx.getenv(b"HOME").unwrap_or_default();
                    self.stack
                        .push(Value::from(std::os::unix::ffi::OsStringExt::into_vec(home)));
                }
                Op::Jump(t) => pc = t as usize,
                Op::Loop(t) => {
                    pc = t as usize;
                    *budget = budget.saturating_sub(1);
                    if *budget == 0 {
                        save_pc!();
                        return Ok(Some(Halt::Yield));
                    }
                }
                Op::CompareJump(op, t) => {
                    let b = self.pop();
                    let a = self.pop();
                    let holds = match (&a, &b) {
                        (Value::Int(x), Value::Int(y)) => int_compare(op, *x, *y),
                        _ => tri!(ops::binary(op, &a, &b)).truthy(),
                    };
                    if !holds {
                        pc = t as usize;
                    }
                }
                Op::JumpIfFalse(t) => {
                    if !self.pop().truthy() {
                        pc = t as usize;
                    }
                }
                Op::AndJump(t) => {
                    if self.stack.last().is_some_and(|v| !v.truthy()) {
                        pc = t as usize;
                    } else {
                        self.stack.pop();
                    }
                }
                Op::OrJump(t) => {
                    if self.stack.last().is_some_and(|v| v.truthy()) {
                        pc = t as usize;
                    } else {
                        self.stack.pop();
                    }
                }
                Op::JumpIfStatus { nonzero, target } => {
                    if (self.ctx.status.get() != 0) == nonzero {
                        pc = target as usize;
                    }
                }
                Op::ForPrep => {
                    let v = self.pop();
                    let list = match v {
                        Value::List(l) => Value::List(l),
                        other => Value::list(vec![other]),
                    };
                    self.stack.push(list);
                    self.stack.push(Value::Int(0));
                }
                Op::ForNext(done) => {
                    let n = self.stack.len();
                    let (Value::List(l), Value::Int(i)) = (&self.stack[n - 2], &self.stack[n - 1])
                    else {
                        save_pc!();
                        return Err(Error::value("internal error: bad for-loop state"));
                    };
                    let item = l.borrow().get(*i as usize).cloned();
                    match item {
                        Some(item) => {
                            self.stack[n - 1] = Value::Int(i + 1);
                            self.stack.push(item);
                        }
                        None => {
                            self.stack.truncate(n - 2);
                            pc = done as usize;
                        }
                    }
                }
                Op::Call(argc) => {
                    save_pc!();
                    let args = self.pop_n(argc as usize);
                    let callee = self.pop();
                    *budget = budget.saturating_sub(1);
                    match callee {
                        Value::Func(f) if !f.proto.is_async => {
                            self.push_frame(f, args, FrameKind::Call)?;
                            return Ok(None);
                        }
                        Value::Suspend(f) => {
                            let pending = (f.call)(&args, self.ctx.cancel.clone())?;
                            return Ok(Some(Halt::Await(pending)));
                        }
                        other => self.call_value(other, args)?,
                    }
                }
                Op::Return => {
                    let v = self.pop();
                    save_pc!();
                    return self.return_from_frame(v);
                }
                Op::Closure(i) => {
                    let child = proto.protos[i as usize].clone();
                    let frame = &self.frames[self.frames.len() - 1];
                    let captures = child
                        .captures
                        .iter()
                        .map(|c| match *c {
                            CaptureFrom::Cell(i) => frame.cells[i as usize].clone(),
                            CaptureFrom::Capture(i) => frame.closure.captures[i as usize].clone(),
                        })
                        .collect();
                    self.stack.push(Value::Func(Rc::new(Closure {
                        proto: child,
                        captures,
                    })));
                }
                Op::MakeCoroutine => {
                    let v = self.pop();
                    let Value::Func(f) = v else {
                        save_pc!();
                        return Err(Error::type_err("async needs a function"));
                    };
                    self.stack
                        .push(Value::Coroutine(Rc::new(Coroutine::new(f, Vec::new()))));
                }
                Op::Exec(i) => {
                    save_pc!();
                    let spec = &proto.cmds[i as usize];
                    let n: usize = spec.stages.iter().map(|s| s.n_values()).sum();
                    let values = self.pop_n(n);
                    self.ctx.current.replace(Some(spec.text.clone()));
                    match crate::runtime::exec::exec(self, spec, values)? {
                        Some(halt) => return Ok(Some(halt)),
                        None => {
                            // A function call pushed a frame, or a builtin finished.
                            return Ok(None);
                        }
                    }
                }
                Op::Capture => {
                    save_pc!();
                    let v = self.pop();
                    let Value::Func(f) = v else {
                        return Err(Error::type_err("capture needs a function"));
                    };
                    return crate::runtime::exec::begin_capture(self, f);
                }
                Op::PushHandler(t) => self.handlers.push(Handler {
                    frame: self.frames.len() - 1,
                    stack: self.stack.len(),
                    target: t as usize,
                }),
                Op::PopHandler => {
                    self.handlers.pop();
                }
                Op::IsKind(kind) => {
                    let is = matches!(self.stack.last(), Some(Value::Error(e)) if e.kind == kind);
                    self.stack.push(Value::Bool(is));
                }
                Op::IsCatchable => {
                    let is = matches!(self.stack.last(), Some(Value::Error(e)) if e.kind != ErrorKind::Cancelled);
                    self.stack.push(Value::Bool(is));
                }
                Op::Throw => {
                    let v = self.pop();
                    save_pc!();
                    let e = match v {
                        Value::Error(e) => e,
                        Value::Str(s) => {
                            Rc::new(Error::new(ErrorKind::Error, String::from_utf8_lossy(&s)))
                        }
                        other => Rc::new(Error::new(ErrorKind::Error, other.to_text())),
                    };
                    self.raise(e);
                    return Ok(None);
                }
                Op::ReadLine { check } => {
                    save_pc!();
                    let stdin = self.ctx.io.borrow().stdin.clone();
                    let ctx = self.ctx.clone();
                    return Ok(Some(Halt::Await(cancellable(
                        self.ctx.cancel.clone(),
                        async move {
                            match stdin.read_line().await {
                                Ok(Some(line)) => {
                                    ctx.status.set(0);
                                    Ok(Resume::Push(Value::from(line)))
                                }
                                Ok(None) if check => {
                                    ctx.status.set(1);
                                    Err(Rc::new(command_error("read", 1)))
                                }
                                Ok(None) => {
                                    ctx.status.set(1);
                                    Ok(Resume::Push(Value::Null))
                                }
                                Err(e) => Err(Rc::new(Error::io(format!("read: {e}")))),
                            }
                        },
                    ))));
                }
                Op::Export => {
                    let v = self.pop();
                    let name = self.pop();
                    let name = tri!(name.expect_str("export"));
                    let value = tri!(export_bytes(&v));
                    self.ctx.env_mut(|env| env.set(name, &value));
                }
                Op::Use { source } => {
                    save_pc!();
                    let path = self.pop();
                    return crate::runtime::exec::use_module(self, path, source).map(Some);
                }
                Op::Await => {
                    save_pc!();
                    let v = self.pop();
                    return self.await_value(v);
                }
                Op::Spawn { job } => {
                    let v = self.pop();
                    let coro = match v {
                        Value::Coroutine(c) => c,
                        Value::Task(t) => {
                            self.stack.push(Value::Task(t));
                            continue;
                        }
                        Value::Func(f) => Rc::new(Coroutine::new(f, Vec::new())),
                        other => {
                            save_pc!();
                            return Err(Error::type_err(format!(
                                "spawn expects a coroutine, got {}",
                                other.type_name()
                            )));
                        }
                    };
                    let t = tri!(crate::runtime::task::spawn(&self.rt, &self.ctx, &coro, job));
                    self.stack.push(Value::Task(t));
                }
                Op::Gather {
                    n,
                    keep_going,
                    group,
                    limit,
                } => {
                    save_pc!();
                    let limit = if limit { Some(self.pop()) } else { None };
                    let branches = self.pop_n(n as usize);
                    let fut = crate::runtime::concurrency::gather(
                        self.rt.clone(),
                        self.ctx.clone(),
                        branches,
                        limit,
                        keep_going,
                        group,
                    )?;
                    return Ok(Some(Halt::Await(fut)));
                }
                Op::Race(n) => {
                    save_pc!();
                    let branches = self.pop_n(n as usize);
                    let fut = crate::runtime::concurrency::race(
                        self.rt.clone(),
                        self.ctx.clone(),
                        branches,
                    )?;
                    return Ok(Some(Halt::Await(fut)));
                }
                Op::Timeout { grace } => {
                    save_pc!();
                    let body = self.pop();
                    let grace = if grace { Some(self.pop()) } else { None };
                    let duration = self.pop();
                    self.begin_timeout(duration, grace, body)?;
                    return Ok(None);
                }
                Op::Sleep => {
                    save_pc!();
                    let d = self.pop();
                    let d = to_duration(&d, "sleep")?;
                    let now = std::time::Instant::now();
                    // A duration beyond what `Instant` can hold sleeps "forever".
                    let until = now
                        .checked_add(d)
                        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
                    return Ok(Some(Halt::Sleep(until)));
                }
                Op::Cancel => {
                    let v = self.pop();
                    match v {
                        Value::Task(t) => {
                            t.cancel(CancelReason::Cancel, crate::runtime::cancel::DEFAULT_GRACE)
                        }
                        other => {
                            save_pc!();
                            return Err(Error::type_err(format!(
                                "cancel expects a task, got {}",
                                other.type_name()
                            )));
                        }
                    }
                }
            }
        }
    }

    /// Call a value that is not a plain `fn` closure: natives, async
    /// functions (which return a coroutine), or an error.
    fn call_value(&mut self, callee: Value, args: Vec<Value>) -> Result<(), Error> {
        match callee {
            Value::Func(f) => {
                // An async fn: calling it makes a coroutine.
                self.stack
                    .push(Value::Coroutine(Rc::new(Coroutine::new(f, args))));
                Ok(())
            }
            Value::Native(n) => {
                let host = HostCtx(&self.ctx);
                let r = (n.call)(&host, &args)?;
                self.stack.push(r);
                Ok(())
            }
            other => Err(Error::type_err(format!(
                "{} is not a function",
                other.type_name()
            ))),
        }
    }

    /// `await v`: a coroutine runs here, in a new frame; a task is waited for.
    fn await_value(&mut self, v: Value) -> Result<Option<Halt>, Error> {
        match v {
            Value::Coroutine(c) => {
                let args = c.take()?;
                self.push_frame(c.func.clone(), args, FrameKind::Call)?;
                Ok(None)
            }
            Value::Task(t) => {
                let token = self.ctx.cancel.clone();
                Ok(Some(Halt::Await(Box::pin(async move {
                    crate::runtime::task::await_task(t, token)
                        .await
                        .map(Resume::Push)
                }))))
            }
            other => Err(Error::type_err(format!(
                "await expects a coroutine or a task, got {}",
                other.type_name()
            ))),
        }
    }

    fn begin_timeout(
        &mut self,
        duration: Value,
        grace: Option<Value>,
        body: Value,
    ) -> Result<(), Error> {
        let d = to_duration(&duration, "timeout")?;
        let grace = match grace {
            Some(g) => to_duration(&g, "timeout --grace")?,
            None => crate::runtime::cancel::DEFAULT_GRACE,
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
        self.ctx
            .cancel
            .push_deadline(scope, std::time::Instant::now() + d, grace);
        let first_group = crate::process::contain::next_group_number();
        let pushed = self.push_frame(func, args, FrameKind::Timeout { scope, first_group });
        if pushed.is_err() {
            self.ctx.cancel.pop_deadline(scope);
        }
        pushed
    }

    /// Define the prelude's functions (`map`, `filter`), the first time one
    /// is looked up: most scripts never use them, and start faster without.
    /// The prelude only declares functions, so it runs to its end at once.
    fn load_prelude(&self) -> Result<(), Error> {
        self.rt.prelude_loaded.set(true);
        let closure =
            crate::runtime::exec::load_module(&self.rt, "<prelude>", crate::stdlib::PRELUDE)?;
        let mut fiber = Fiber::call(self.rt.clone(), self.ctx.clone(), closure, Vec::new());
        match fiber.run() {
            Halt::Failed(e) => Err(Error::value(format!("the prelude failed: {}", e.message))),
            _ => Ok(()),
        }
    }

    /// The global's fallback when undefined: a built-in function, an
    /// environment variable, else `NameError`.
    fn global_fallback(&self, g: u32) -> Result<Value, Error> {
        let wanted = self.rt.names.borrow().name(g).to_string();
        if crate::stdlib::PRELUDE_NAMES.contains(&wanted.as_str()) && !self.rt.prelude_loaded.get()
        {
            self.load_prelude()?;
            if let Some(Some(v)) = self.rt.globals.borrow().get(g as usize) {
                return Ok(v.clone());
            }
        }
        let names = self.rt.names.borrow();
        let name = names.name(g);
        if let Some(f) = crate::builtins::functions::lookup(name) {
            return Ok(Value::Native(f));
        }
        if let Some(f) = crate::runtime::sync::lookup(name) {
            return Ok(Value::Suspend(f));
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

/// Int comparison for `CompareJump`.
#[inline]
fn int_compare(op: crate::ast::BinaryOp, x: i64, y: i64) -> bool {
    use crate::ast::BinaryOp::*;
    match op {
        Lt => x < y,
        Le => x <= y,
        Gt => x > y,
        Ge => x >= y,
        Eq => x == y,
        _ => x != y,
    }
}

/// Int arithmetic and comparison without overflow; `None` sends the
/// operands to the general path (which reports overflow, division, ...).
#[inline]
fn int_binary(op: crate::ast::BinaryOp, x: i64, y: i64) -> Option<Value> {
    use crate::ast::BinaryOp::*;
    Some(match op {
        Add => Value::Int(x.checked_add(y)?),
        Sub => Value::Int(x.checked_sub(y)?),
        Mul => Value::Int(x.checked_mul(y)?),
        Lt | Le | Gt | Ge | Eq | Ne => Value::Bool(int_compare(op, x, y)),
        _ => return None,
    })
}

fn export_bytes(v: &Value) -> Result<Vec<u8>, Error> {
    let b = v.to_bytes();
    if b.contains(&0) {
        return Err(Error::value(
            "an environment value cannot contain a NUL byte",
        ));
    }
    Ok(b)
}

/// A duration from a duration value or a number of seconds.
pub fn to_duration(v: &Value, what: &str) -> Result<Duration, Error> {
    let secs = match v {
        Value::Duration(d) => *d,
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Str(s) => crate::runtime::exec::parse_duration(s).ok_or_else(|| {
            Error::value(format!(
                "{what}: invalid duration {:?}",
                String::from_utf8_lossy(s)
            ))
        })?,
        other => {
            return Err(Error::type_err(format!(
                "{what} expects a duration, got {}",
                other.type_name()
            )));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(Error::value(format!("{what}: invalid duration")));
    }
    Ok(Duration::from_secs_f64(secs.min(1e9)))
}

/// What built-in functions may ask of the calling task.
struct HostCtx<'a>(&'a TaskCtx);

impl crate::vm::objects::Host for HostCtx<'_> {
    fn getenv(&self, name: &[u8]) -> Option<Vec<u8>> {
        self.0
            .getenv(name)
            .map(std::os::unix::ffi::OsStringExt::into_vec)
    }
}
