//! A fiber: one coroutine's resumable state (frames and value stack).
//!
//! [`Fiber::run`] executes instructions until the fiber *halts*: it
//! finished, it failed, its slice is over ([`Halt::Yield`]),
//! or it must wait ([`Halt::Await`] with the future to wait on). It never
//! blocks and never recurses on the Rust stack per ash call: a call pushes a
//! [`Frame`]. The runtime's driver (`runtime::task::drive`) awaits the
//! future and calls [`Fiber::resume`] with its result.

use std::cell::RefCell;
use std::rc::Rc;

use crate::runtime::shell::{CancelReason, Runtime, TaskCtx};
use crate::vm::budget;
use crate::vm::chunk::{CaptureFrom, Op};
use crate::vm::error::{Error, ErrorKind, Location, command_error, command_line};
use crate::vm::frame::{Frame, Handler, Handlers};
use crate::vm::list::ListCell;
use crate::vm::objects::{Closure, Coroutine};
use crate::vm::ops;
use crate::vm::value::{Value, flatten_words};

pub use crate::vm::frame::{CaptureFrame, FrameKind, Restore};
pub use crate::vm::halt::{Halt, Pending, Resume, cancellable};

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
                push(&mut self.stack, v);
                Ended::Returned
            }
            Err(e) => {
                push(&mut self.stack, Value::Error(e));
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

    /// Give the value stack's memory back while the fiber waits with
    /// nothing on it (no locals, nothing pending): most of 100,000 sleeping
    /// tasks, 32 bytes each. [`Fiber::regrow_stack`] before it goes on.
    pub fn shed_stack(&mut self) {
        if self.stack.is_empty() {
            self.stack = Vec::new();
        }
    }

    /// After a wait: room again for what the code in the top frame needs,
    /// as the compiler sized it (a push on an empty vector would make
    /// room for four).
    pub fn regrow_stack(&mut self) {
        if self.stack.capacity() == 0
            && let Some(f) = self.frames.last()
        {
            self.stack.reserve_exact(f.closure.proto.stack_needed);
        }
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
            Ok(Resume::Push(v)) => push(&mut self.stack, v),
            Ok(Resume::Nothing) => {}
            Ok(Resume::Status { status, error }) => {
                self.ctx.status.set(status);
                if let Some(e) = error {
                    let e = self.pending_cancel().unwrap_or_else(|| Rc::new(e));
                    self.raise(e);
                }
            }
            Ok(Resume::Call {
                func,
                args,
                kind,
                io,
            }) => {
                let restore_io = io.map(|io| self.ctx.set_io(io));
                let kind = match kind {
                    FrameKind::Command { check, restore } => FrameKind::Command {
                        check,
                        restore: match restore_io {
                            None => restore,
                            io => Some(Box::new(Restore {
                                io,
                                ..restore.map_or_else(Restore::default, |r| *r)
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
                let e = self.pending_cancel().unwrap_or(e);
                self.raise(e);
            }
        }
    }

    /// A wait failed: if the task's cancellation was requested meanwhile
    /// (or a `timeout` of it expired), its `CancelledError` instead. The
    /// failure may well come of it (a program under the same deadline that
    /// gave up first, a pipe closed by the cancellation), and a timeout
    /// that fired must land as one.
    fn pending_cancel(&self) -> Option<Rc<Error>> {
        self.ctx.cancel.check_deadlines();
        self.ctx.cancel.is_requested().then(|| self.cancel_error())
    }

    /// Run until the fiber halts, spending the slice's budget
    /// (`vm::budget`): `Halt::Yield` when the slice is over.
    pub fn run(&mut self) -> Halt {
        let mut budget = budget::left();
        let halt = self.run_budgeted(&mut budget);
        budget::set_left(budget);
        halt
    }

    fn run_budgeted(&mut self, budget: &mut u32) -> Halt {
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
            match self.run_frame(budget) {
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
    /// The next item of the `for` loop whose `[list index]` is on top of
    /// the stack (the index moved on), or `None` with both popped when
    /// the list is done.
    #[inline(always)]
    fn for_next_item(&mut self) -> Result<Option<Value>, Error> {
        let n = self.stack.len();
        let [.., Value::List(l), Value::Int(i)] = self.stack.as_mut_slice() else {
            return Err(Error::value("internal error: bad for-loop state"));
        };
        let item = l.get(*i as usize);
        if item.is_some() {
            // In place: a new `Value::Int` was built in a temporary and
            // copied, a stalled store-to-load forward.
            *i += 1;
        } else {
            self.stack.truncate(n - 2);
        }
        Ok(item)
    }

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
        let code: &[Op] = &proto.code;
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
        // Shell work: one method each (vm/shell_ops.rs), after saving pc.
        macro_rules! shell {
            ($e:expr) => {{
                save_pc!();
                return $e;
            }};
        }
        loop {
            let Some(&op) = code.get(pc) else {
                save_pc!();
                return Err(Error::value("internal error: ran off the end of the code"));
            };
            pc += 1;
            match op {
                Op::Const(k) => push(&mut self.stack, proto.consts[k as usize].clone()),
                Op::Null => push(&mut self.stack, Value::Null),
                Op::SmallInt(i) => push(&mut self.stack, Value::Int(i as i64)),
                Op::Pop => {
                    self.stack.pop();
                }
                Op::Dup => {
                    let v = self.stack.last().cloned().unwrap_or_default();
                    push(&mut self.stack, v);
                }
                Op::Dup2 => {
                    let n = self.stack.len();
                    if n >= 2 {
                        let (a, b) = (self.stack[n - 2].clone(), self.stack[n - 1].clone());
                        push(&mut self.stack, a);
                        push(&mut self.stack, b);
                    }
                }
                Op::ClearStatus => self.ctx.status.set(0),
                Op::Slice { step } => {
                    let st = if step { Some(self.pop()) } else { None };
                    let end = self.pop();
                    let start = self.pop();
                    let c = self.pop();
                    let r = tri!(ops::slice(&c, &start, &end, st.as_ref()));
                    push(&mut self.stack, r);
                }
                Op::Unpack {
                    before,
                    rest,
                    after,
                } => {
                    let v = self.pop();
                    let items = tri!(ops::unpack(&v, before as usize, rest, after as usize));
                    self.stack.extend(items);
                }
                Op::AddInPlace => {
                    let b = self.pop();
                    let a = self.pop();
                    let r = match (&a, &b) {
                        (Value::Int(x), Value::Int(y)) => x.checked_add(*y).map(Value::Int),
                        _ => None,
                    };
                    let r = match r {
                        Some(v) => v,
                        None => tri!(ops::add_in_place(a, &b)),
                    };
                    push(&mut self.stack, r);
                }
                Op::LoadLocal(s) => {
                    let v = self.stack[base + s as usize].clone();
                    push(&mut self.stack, v);
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
                    push(&mut self.stack, v);
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
                    push(&mut self.stack, v);
                }
                Op::StoreCapture(i) => {
                    let v = self.pop();
                    let n = self.frames.len() - 1;
                    *self.frames[n].closure.captures[i as usize].borrow_mut() = v;
                }
                Op::LoadGlobal(g) => {
                    // A name found to be a built-in before is read here
                    // too (`split`, `get` in a loop: no call out).
                    let v = {
                        let globals = self.rt.globals.borrow();
                        globals.value(g).or_else(|| globals.builtin(g)).cloned()
                    };
                    let v = match v {
                        Some(v) => v,
                        None => tri!(self.global_fallback(g)),
                    };
                    push(&mut self.stack, v);
                }
                Op::StoreGlobal(g) => {
                    let v = self.pop();
                    let assigned = self.rt.globals.borrow_mut().assign(g, v);
                    if !assigned {
                        let name = self.rt.globals.borrow().name(g).to_string();
                        save_pc!();
                        return Err(Error::new(
                            ErrorKind::Name,
                            format!("variable '{name}' is not declared (use `let {name} = ...`)"),
                        ));
                    }
                }
                Op::DefineGlobal(g) => {
                    let v = self.pop();
                    self.rt.globals.borrow_mut().define(g, v);
                }
                Op::LoadStatus => push(&mut self.stack, Value::Int(self.ctx.status.get() as i64)),
                Op::Unary(op) => {
                    let v = self.pop();
                    let r = tri!(ops::unary(op, &v));
                    push(&mut self.stack, r);
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
                        None => {
                            if let Some(work) = ops::long_repeat(op, &a, &b) {
                                save_pc!();
                                return Ok(Some(Halt::Await(cancellable(
                                    self.ctx.token(),
                                    async move { work.await.map(Resume::Push).map_err(Rc::new) },
                                ))));
                            }
                            let r = tri!(ops::binary(op, &a, &b));
                            *budget = budget.saturating_sub(copy_cost(&r));
                            r
                        }
                    };
                    push(&mut self.stack, r);
                }
                Op::Index => {
                    // Read where they are: popped, each was copied out
                    // across the two stores of its push, a stalled
                    // store-to-load forward.
                    let n = self.stack.len();
                    let r = match self.stack.as_slice() {
                        [.., c, k] => tri!(ops::index(c, k)),
                        _ => tri!(Err(stack_underflow())),
                    };
                    self.stack.truncate(n - 2);
                    push(&mut self.stack, r);
                }
                Op::SetIndex => {
                    let v = self.pop();
                    // The container and key read in place (see `Index`).
                    let n = self.stack.len();
                    let r = match self.stack.as_slice() {
                        [.., c, k] => ops::set_index(c, k, v),
                        _ => Err(stack_underflow()),
                    };
                    self.stack.truncate(n.saturating_sub(2));
                    tri!(r);
                }
                Op::Remove => {
                    let k = self.pop();
                    let c = self.pop();
                    tri!(ops::remove(&c, &k));
                }
                Op::Field(k) => {
                    let v = self.pop();
                    let name = tri!(proto.consts[k as usize].expect_str("a field name"));
                    let r = tri!(ops::field(&v, name));
                    push(&mut self.stack, r);
                }
                Op::SetField(k) => {
                    let v = self.pop();
                    let m = self.pop();
                    let name = tri!(proto.consts[k as usize].expect_str("a field name"));
                    tri!(ops::set_field(&m, name, v));
                }
                Op::MakeList(n) => {
                    let items = self.pop_n(n as usize);
                    push(&mut self.stack, Value::list(items));
                }
                Op::MakeMap(n) => {
                    let items = self.pop_n(2 * n as usize);
                    let m = tri!(make_map(items));
                    push(&mut self.stack, m);
                }
                Op::Concat(n) => {
                    let parts = self.pop_n(n as usize);
                    let (s, len) = tri!(concat(&parts));
                    *budget = budget.saturating_sub(budget::for_copy(len));
                    push(&mut self.stack, s);
                }
                Op::ToStr => {
                    let v = self.pop();
                    let s = match v {
                        Value::Str(_) => v,
                        other => tri!(to_str(&other)),
                    };
                    push(&mut self.stack, s);
                }
                Op::ArgList(n) => {
                    let words = self.pop_n(n as usize);
                    push(&mut self.stack, loop_items(words));
                }
                Op::EscapeGlob => shell!(self.op_escape_glob()),
                Op::Glob => shell!(self.op_glob()),
                Op::Home => shell!(self.op_home()),
                Op::HomeOf => shell!(self.op_home_of()),
                Op::Jump(t) => pc = t as usize,
                Op::LocalOpInt(op, d, k) => {
                    let slot = base + d as usize;
                    // An int slot takes an int result in place: no drop of
                    // the old value, no move of a whole `Value`.
                    if let Value::Int(x) = &mut self.stack[slot]
                        && let Some(r) = int_arith(op, *x, i64::from(k))
                    {
                        *x = r;
                        pc += 3;
                        continue;
                    }
                    let fast = match self.stack[slot] {
                        Value::Int(x) => int_binary(op, x, i64::from(k)),
                        _ => None,
                    };
                    let r = match fast {
                        Some(v) => v,
                        None => {
                            if ops::long_repeat_of(op, &self.stack[slot], &Value::Int(k.into())) {
                                // Made a block at a time by `Binary`: run the
                                // ops this one stands for (it was their
                                // `LoadLocal`).
                                let v = self.stack[slot].clone();
                                push(&mut self.stack, v);
                                continue;
                            }
                            let r =
                                tri!(fused_binary(op, &self.stack[slot], &Value::Int(k.into())));
                            *budget = budget.saturating_sub(copy_cost(&r));
                            r
                        }
                    };
                    self.stack[slot] = r;
                    pc += 3;
                }
                Op::LocalOpLocal(op, d, s) => {
                    let (slot, src) = (base + d as usize, base + s as usize);
                    if let Value::Int(y) = self.stack[src]
                        && let Value::Int(x) = &mut self.stack[slot]
                        && let Some(r) = int_arith(op, *x, y)
                    {
                        *x = r;
                        pc += 3;
                        continue;
                    }
                    let fast = match (&self.stack[slot], &self.stack[src]) {
                        (Value::Int(x), Value::Int(y)) => int_binary(op, *x, *y),
                        _ => None,
                    };
                    let r = match fast {
                        Some(v) => v,
                        None => {
                            if ops::long_repeat_of(op, &self.stack[slot], &self.stack[src]) {
                                // As in `LocalOpInt`.
                                let v = self.stack[slot].clone();
                                push(&mut self.stack, v);
                                continue;
                            }
                            let r = tri!(fused_binary(op, &self.stack[slot], &self.stack[src]));
                            *budget = budget.saturating_sub(copy_cost(&r));
                            r
                        }
                    };
                    self.stack[slot] = r;
                    pc += 3;
                }
                Op::AddInPlaceInt(d, k) => {
                    let slot = base + d as usize;
                    if let Value::Int(x) = &mut self.stack[slot]
                        && let Some(r) = x.checked_add(i64::from(k))
                    {
                        *x = r;
                        pc += 3;
                        continue;
                    }
                    let r = match self.stack[slot] {
                        Value::Int(x) => x.checked_add(i64::from(k)).map(Value::Int),
                        _ => None,
                    };
                    let r = match r {
                        Some(v) => v,
                        None => tri!(ops::add_in_place(
                            self.stack[slot].clone(),
                            &Value::Int(k.into())
                        )),
                    };
                    self.stack[slot] = r;
                    pc += 3;
                }
                Op::AddInPlaceLocal(d, s) => {
                    let (slot, src) = (base + d as usize, base + s as usize);
                    if let Value::Int(y) = self.stack[src]
                        && let Value::Int(x) = &mut self.stack[slot]
                        && let Some(r) = x.checked_add(y)
                    {
                        *x = r;
                        pc += 3;
                        continue;
                    }
                    let r = match (&self.stack[slot], &self.stack[src]) {
                        (Value::Int(x), Value::Int(y)) => x.checked_add(*y).map(Value::Int),
                        _ => None,
                    };
                    let r = match r {
                        Some(v) => v,
                        None => {
                            let b = self.stack[src].clone();
                            tri!(ops::add_in_place(self.stack[slot].clone(), &b))
                        }
                    };
                    self.stack[slot] = r;
                    pc += 3;
                }
                Op::CompareLocals(op, a, b) => {
                    let (x, y) = (
                        &self.stack[base + a as usize],
                        &self.stack[base + b as usize],
                    );
                    let holds = match (x, y) {
                        (Value::Int(x), Value::Int(y)) => int_compare(op, *x, *y),
                        _ => tri!(ops::binary(op, x, y)).truthy(),
                    };
                    pc = tri!(fused_compare_next(code, pc, holds));
                }
                Op::CompareLocalInt(op, a, k) => {
                    let holds = match &self.stack[base + a as usize] {
                        Value::Int(x) => int_compare(op, *x, i64::from(k)),
                        x => tri!(ops::binary(op, x, &Value::Int(k.into()))).truthy(),
                    };
                    pc = tri!(fused_compare_next(code, pc, holds));
                }
                Op::Loop(t) => {
                    pc = t as usize;
                    *budget = budget.saturating_sub(1);
                    if *budget == 0 && budget::chunk_over(budget) {
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
                    push(&mut self.stack, list);
                    push(&mut self.stack, Value::Int(0));
                }
                Op::ForNext(done) => match tri!(self.for_next_item()) {
                    Some(item) => push(&mut self.stack, item),
                    None => pc = done as usize,
                },
                Op::ForNextLocal(done, s) => match tri!(self.for_next_item()) {
                    Some(item) => {
                        self.stack[base + s as usize] = item;
                        pc += 1;
                    }
                    None => pc = done as usize,
                },
                Op::Call(_) | Op::CallIndex(..) => {
                    save_pc!();
                    let (argc, index) = match op {
                        Op::CallIndex(n, k) => (usize::from(n), Some(k)),
                        Op::Call(n) => (n as usize, None),
                        _ => (0, None),
                    };
                    let base = self.stack.len() - argc;
                    // A built-in function reads its arguments where they
                    // are on the stack: no vector per call (W12 makes two
                    // calls per line).
                    if let Value::Native(n) = self.stack[base - 1] {
                        let args = &self.stack[base..];
                        // A large input: the work is waited for, off the loop.
                        if let Some(prepare) = n.off_loop
                            && let Some(work) = prepare(args)
                        {
                            self.stack.truncate(base - 1);
                            *budget = budget.saturating_sub(budget::NATIVE);
                            return Ok(Some(Halt::Await(cancellable(
                                self.ctx.token(),
                                async move { work.await.map(Resume::Push).map_err(Rc::new) },
                            ))));
                        }
                        let cost = budget::native_cost(&self.stack[base - 1], args);
                        *budget = budget.saturating_sub(cost).saturating_sub(1);
                        // `split(line, " ")[1]`: the item without the list.
                        if let (Some(k), Some(pick)) = (index, n.pick) {
                            let r = pick(args, i64::from(k));
                            self.stack.truncate(base - 1);
                            // Past the `SmallInt` and the `Index`, whose
                            // error it may be.
                            pc += 2;
                            match r? {
                                Ok(v) => push(&mut self.stack, v),
                                Err(len) => {
                                    save_pc!();
                                    return Err(ops::list_index_error(k.into(), len));
                                }
                            }
                            continue;
                        }
                        let r = (n.call)(&HostCtx(&self.ctx), args);
                        self.stack.truncate(base - 1);
                        push(&mut self.stack, r?);
                        continue;
                    }
                    let args = self.pop_n(argc);
                    let callee = self.pop();
                    *budget = budget.saturating_sub(1);
                    match callee {
                        Value::Func(f) if !f.proto.is_async => {
                            self.push_frame(f, args, FrameKind::Call)?;
                            return Ok(None);
                        }
                        Value::Suspend(f) => {
                            let pending = (f.call)(&args, &self.ctx)?;
                            return Ok(Some(Halt::Await(pending)));
                        }
                        other => {
                            *budget = budget.saturating_sub(budget::native_cost(&other, &args));
                            self.call_value(other, args)?
                        }
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
                    push(
                        &mut self.stack,
                        Value::Func(Rc::new(Closure {
                            proto: child,
                            captures,
                        })),
                    );
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
                    *budget = budget.saturating_sub(budget::COMMAND);
                    match self.op_exec(&proto, i)? {
                        // A builtin finished (or a function call pushed a
                        // frame) and the slice is over: back to the loop.
                        None if *budget == 0 && budget::chunk_over(budget) => {
                            return Ok(Some(Halt::Yield));
                        }
                        step => return Ok(step),
                    }
                }
                Op::Capture => shell!(self.op_capture()),
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
                    push(&mut self.stack, Value::Bool(is));
                }
                Op::IsCatchable => {
                    let is = matches!(self.stack.last(), Some(Value::Error(e)) if e.kind != ErrorKind::Cancelled);
                    push(&mut self.stack, Value::Bool(is));
                }
                Op::Throw => {
                    let v = self.pop();
                    save_pc!();
                    let e = tri!(thrown(v));
                    self.raise(e);
                    return Ok(None);
                }
                Op::ReadLine => match self.read_line_now() {
                    Some(done) => tri!(done),
                    None => shell!(self.op_read_line()),
                },
                Op::ReadFailed(k) => {
                    let name = proto.consts[k as usize].word_bytes();
                    let argv = vec![b"read".to_vec(), name];
                    shell!(Err(command_error(&command_line(&[], &argv), argv, 1)))
                }
                Op::RunMain(n) => shell!(self.op_run_main(n, proto.main_spec.clone())),
                Op::EndMain => shell!(self.op_end_main()),
                Op::Export => shell!(self.op_export()),
                Op::Use { source } => shell!(self.op_use(source)),
                Op::Await => shell!(self.op_await()),
                Op::Spawn { job } => shell!(self.op_spawn(job)),
                Op::Gather { n, flags } => shell!(self.op_gather(n, flags)),
                Op::Race { n, progress } => shell!(self.op_race(n, progress)),
                Op::SpawnOn => shell!(self.op_spawn_on()),
                Op::GatherOn { n, flags } => shell!(self.op_gather_on(n, flags)),
                Op::RaceOn { n, progress } => shell!(self.op_race_on(n, progress)),
                Op::RemoteRun => shell!(self.op_remote_run()),
                Op::Timeout { grace } => shell!(self.op_timeout(grace)),
                Op::Sleep => shell!(self.op_sleep()),
                Op::Cancel => shell!(self.op_cancel()),
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
                push(&mut self.stack, r);
                Ok(())
            }
            other => Err(Error::type_err(format!(
                "{} is not a function",
                other.type_name()
            ))),
        }
    }
}

/// What building `v` in ash code cost (see `budget::for_copy`).
fn copy_cost(v: &Value) -> u32 {
    match v {
        Value::Str(s) => budget::for_copy(s.len()),
        Value::List(l) => budget::for_copy(l.len()),
        _ => 0,
    }
}

/// Int comparison for `CompareJump`.
#[inline]
fn int_compare(op: crate::ast::BinaryOp, x: i64, y: i64) -> bool {
    use crate::ast::BinaryOp::*;
    // The outcomes each operator accepts (bit 0: less, 1: equal, 2:
    // greater): a table lookup and a shift, where a `match` on the
    // operator compiled to an indirect jump in every fused comparison.
    let accepts: u8 = match op {
        Lt => 0b001,
        Le => 0b011,
        Gt => 0b100,
        Ge => 0b110,
        Eq => 0b010,
        _ => 0b101,
    };
    let outcome = 1u8 << (x.cmp(&y) as i8 + 1);
    accepts & outcome != 0
}

/// The general path of a fused `local = local op x` (not inlined: the
/// loop's code stays small).
#[inline(never)]
fn fused_binary(op: crate::ast::BinaryOp, a: &Value, b: &Value) -> Result<Value, Error> {
    ops::binary(op, a, b)
}

/// Where a fused comparison at `pc - 1` goes on: after its `CompareJump`
/// (at `pc + 1`) when the comparison holds, else to that jump's target.
#[inline]
fn fused_compare_next(code: &[Op], pc: usize, holds: bool) -> Result<usize, Error> {
    match code.get(pc + 1) {
        Some(_) if holds => Ok(pc + 2),
        Some(Op::CompareJump(_, t)) => Ok(*t as usize),
        _ => Err(Error::value(
            "internal error: a fused comparison without its jump",
        )),
    }
}

/// Int `+ - *` without overflow, for a result stored in place; `None`
/// for other ops and on overflow (the caller takes its general path).
#[inline(always)]
fn int_arith(op: crate::ast::BinaryOp, x: i64, y: i64) -> Option<i64> {
    use crate::ast::BinaryOp::*;
    match op {
        Add => x.checked_add(y),
        Sub => x.checked_sub(y),
        Mul => x.checked_mul(y),
        _ => None,
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

/// What built-in functions may ask of the calling task.
struct HostCtx<'a>(&'a TaskCtx);

impl crate::vm::objects::Host for HostCtx<'_> {
    fn getenv(&self, name: &[u8]) -> Option<Vec<u8>> {
        self.0
            .getenv(name)
            .map(std::os::unix::ffi::OsStringExt::into_vec)
    }

    fn cwd(&self) -> std::path::PathBuf {
        self.0.cwd().path().to_path_buf()
    }
}

// The ops that turn values into text, out of the VM loop: their error
// paths (a value with no text) kept in `run_frame` cost the loop
// instructions (W2: 641 -> 659 per iteration; out of line, 608).

#[inline(never)]
fn make_map(items: Vec<Value>) -> Result<Value, Error> {
    let mut map =
        crate::vm::value::Entries::with_capacity_and_hasher(items.len() / 2, Default::default());
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        let key: crate::vm::string::Str = match k {
            Value::Str(s) => s.compact(),
            other => crate::vm::string::Str::from(other.to_bytes()?),
        };
        map.insert(key, v);
    }
    Ok(Value::map(map))
}

/// The string of `parts` joined, and its length.
#[inline(never)]
fn concat(parts: &[Value]) -> Result<(Value, usize), Error> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Value::Str(s) => out.extend_from_slice(s),
            other => out.extend_from_slice(&other.to_bytes()?),
        }
    }
    let len = out.len();
    Ok((Value::from(out), len))
}

#[inline(never)]
fn to_str(v: &Value) -> Result<Value, Error> {
    Ok(Value::from(v.to_bytes()?))
}

/// The error `throw v` raises.
#[inline(never)]
fn thrown(v: Value) -> Result<Rc<Error>, Error> {
    Ok(match v {
        Value::Error(e) => e,
        Value::Str(s) => Rc::new(Error::new(ErrorKind::Error, String::from_utf8_lossy(&s))),
        other => Rc::new(Error::new(ErrorKind::Error, other.to_text()?)),
    })
}

/// The list a `for` loop walks (`ArgList`), out of `run_frame`: its code
/// there, inlined, changed the dispatch loop's register use and cost W2
/// 28 instructions an iteration (callgrind: 200 -> 228).
#[inline(never)]
fn loop_items(mut words: Vec<Value>) -> Value {
    let lazy = match words.as_slice() {
        [Value::List(l)] => l.lazy_range(),
        _ => None,
    };
    // `for line in (lines(...))`: a list that nothing else holds (a
    // call's result) is iterated as it is; no one can change it
    // meanwhile, so the copy was only cost (W12: a million items cloned
    // into a new 24 MB list).
    if lazy.is_none()
        && let [Value::List(l)] = words.as_mut_slice()
        && Rc::get_mut(l).is_some()
    {
        return words.pop().unwrap_or_default();
    }
    // `for r in $records` over a big list held elsewhere: a lazy copy,
    // made only if the list changes meanwhile (W11: copying and then
    // dropping 289,000 records each held the loop for tens of ms).
    let copy = match words.as_slice() {
        [Value::List(l)] if lazy.is_none() && l.len() >= crate::vm::list::LAZY_COPY => {
            ListCell::copy_of(l)
        }
        _ => None,
    };
    match (lazy, copy) {
        // `for i in (range(n))`: a lazy copy, so the loop starts at once
        // and still sees the items as they were, whatever its body does
        // to the list.
        (Some(range), _) => Value::List(Rc::new(ListCell::lazy(range))),
        (None, Some(copy)) => Value::List(copy),
        (None, None) => Value::list(flatten_words(words)),
    }
}

/// `stack.push(v)` without a spill on the way: with `Vec::push`, `v` is
/// live across the call that grows the vector, so the compiler stores it
/// to a temporary word by word first and copies it back 16 bytes at a
/// time: a failed store-to-load forward (~12 cycles) on every push of a
/// computed value (the hottest instructions of W12's loop). Here the
/// usual case (room left) has no call, and its `push` no check.
#[inline(always)]
fn push(stack: &mut Vec<Value>, v: Value) {
    if stack.len() < stack.capacity() {
        stack.push(v);
    } else {
        push_growing(stack, v);
    }
}

#[cold]
#[inline(never)]
fn push_growing(stack: &mut Vec<Value>, v: Value) {
    stack.push(v);
}

/// An op found fewer values on the stack than it takes: the compiler's
/// bug, an error rather than a panic.
#[cold]
fn stack_underflow() -> Error {
    Error::value("internal error: value stack underflow")
}
