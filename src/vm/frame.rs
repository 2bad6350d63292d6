//! Frames: one call of a function inside a fiber, and the `try` handlers
//! that unwinding looks for.
//!
//! A call pushes a [`Frame`] (its closure, program counter, the stack index
//! of its locals, its cells and its kind); `return` pops it and, by its
//! [`FrameKind`], pushes the value, sets `$status`, ends the fiber, or
//! waits for a capture's output. An error unwinds frame by frame to the
//! nearest handler, restoring what each frame changed on the way.

use std::cell::RefCell;
use std::rc::Rc;

use super::error::{Error, ErrorKind, Location, command_error, command_line};
use super::fiber::{Fiber, MAX_FRAMES};
use super::halt::{Halt, Resume, cancellable};
use super::objects::Closure;
use super::value::Value;
use crate::runtime::shell::{self, Env, Io};

/// State restored when a frame is left, normally or by an error.
#[derive(Default)]
pub struct Restore {
    pub io: Option<Io>,
    pub env: Option<Env>,
    pub cwd: Option<Rc<crate::runtime::shell::WorkDir>>,
    /// A checked command-form call's words (the function's name first),
    /// for the `CommandError` of a failing status (`e.command`, `e.argv`).
    pub argv: Vec<Value>,
    /// Its `NAME=value` prefixes, shown in `e.command` too.
    pub argv_env: Vec<(String, Vec<u8>)>,
}

pub enum FrameKind {
    /// The bottom frame: returning ends the fiber.
    Root,
    /// An expression call or an awaited coroutine: the value is pushed.
    Call,
    /// A command-form call: the value becomes `$status`. (Its words, for
    /// an error, are in `restore` when `check`: kept here, they made every
    /// frame bigger.)
    Command {
        check: bool,
        /// Boxed: most calls restore nothing, and frames stay small.
        restore: Option<Box<Restore>>,
    },
    /// `$( )`: stdout goes to a pipe read by `reader`. (This variant and
    /// the two below are boxed, thin: a frame lives in every sleeping
    /// task, and a 16-byte kind keeps it in malloc's 48-byte class.)
    Capture(Box<CaptureFrame>),
    /// A `timeout` body: its deadline is on the task's cancel token.
    Timeout(Box<TimeoutFrame>),
    /// A module or sourced file: the value is dropped. `used`: the key
    /// under which `use` marked it loaded, forgotten if its body fails or
    /// is cancelled (so a later `use` runs it again).
    Module { used: Option<Rc<String>> },
}

/// A `$( )` frame's pipe reader and what leaving it restores.
pub struct CaptureFrame {
    pub reader: crate::runtime::shell::LoopTask<std::io::Result<crate::vm::value::Str>>,
    pub restore: Restore,
}

/// A `timeout` frame: the scope of its deadline on the cancel token, and
/// `first_group`, the number of the first process group it could start.
pub struct TimeoutFrame {
    pub scope: u64,
    pub first_group: u64,
}

/// A frame's cells (its captured locals), behind a thin pointer: most
/// frames have none (no allocation), and a boxed slice's fat pointer made
/// every sleeping task's frame 16 bytes bigger (a malloc size class).
#[allow(clippy::box_collection)] // a thin pointer: see above
pub(super) struct Cells(Option<Box<Box<[CellRef]>>>);

/// One captured local, shared with the closures that captured it.
type CellRef = Rc<RefCell<Value>>;

impl Cells {
    fn new(n: u16) -> Cells {
        Cells(
            (n > 0).then(|| Box::new((0..n).map(|_| Rc::new(RefCell::new(Value::Null))).collect())),
        )
    }
}

impl std::ops::Index<usize> for Cells {
    type Output = CellRef;
    fn index(&self, i: usize) -> &Self::Output {
        match &self.0 {
            Some(cells) => &cells[i],
            None => panic!("cell {i} of a frame without cells (a compiler bug)"),
        }
    }
}

impl std::ops::IndexMut<usize> for Cells {
    fn index_mut(&mut self, i: usize) -> &mut Self::Output {
        match &mut self.0 {
            Some(cells) => &mut cells[i],
            None => panic!("cell {i} of a frame without cells (a compiler bug)"),
        }
    }
}

pub struct Frame {
    pub(super) closure: Rc<Closure>,
    /// u32s: a frame lives in every sleeping task (its size is held by
    /// tests/sizes.rs; docs/performance.md).
    pub(super) pc: u32,
    /// Stack index of local slot 0.
    pub(super) base: u32,
    /// A thin pointer: a frame lives in every sleeping task.
    pub(super) cells: Cells,
    pub(super) kind: FrameKind,
}

/// The open `try` handlers, innermost last. Boxed, as most fibers never
/// enter a `try`: an empty `Vec` here made each of 100,000 sleeping tasks
/// 16 bytes bigger (a malloc size class).
#[derive(Default)]
#[allow(clippy::box_collection)] // a pointer where an empty Vec is three: see above
pub(super) struct Handlers(Option<Box<Vec<Handler>>>);

impl Handlers {
    pub(super) fn last(&self) -> Option<&Handler> {
        self.0.as_ref().and_then(|v| v.last())
    }

    pub(super) fn pop(&mut self) -> Option<Handler> {
        self.0.as_mut().and_then(|v| v.pop())
    }

    pub(super) fn push(&mut self, h: Handler) {
        self.0.get_or_insert_default().push(h);
    }
}

pub(super) struct Handler {
    pub(super) frame: usize,
    pub(super) stack: usize,
    pub(super) target: usize,
}

impl Fiber {
    /// Bind arguments and push a frame for `func`.
    pub(super) fn push_frame(
        &mut self,
        func: Rc<Closure>,
        mut args: Vec<Value>,
        kind: FrameKind,
    ) -> Result<(), Error> {
        let proto = &func.proto;
        let n = proto.n_params as usize;
        if self.frames.len() >= MAX_FRAMES {
            return Err(Error::new(
                ErrorKind::Recursion,
                format!(
                    "maximum call depth ({MAX_FRAMES}) exceeded in '{}'",
                    proto.name
                ),
            ));
        }
        if (args.len() > n && !proto.has_rest) || args.len() < n {
            let at_least = if proto.has_rest { "at least " } else { "" };
            return Err(Error::type_err(format!(
                "'{}' takes {at_least}{n} argument{} but {} {} given",
                proto.name,
                if n == 1 { "" } else { "s" },
                args.len(),
                if args.len() == 1 { "was" } else { "were" }
            )));
        }
        let rest = if proto.has_rest {
            Some(Value::list(if args.len() > n {
                args.split_off(n)
            } else {
                Vec::new()
            }))
        } else {
            None
        };
        let base = self.stack.len();
        self.stack.extend(args);
        if let Some(rest) = rest {
            self.stack.push(rest);
        }
        let params = self.stack.len() - base;
        self.stack
            .resize(base + (proto.n_locals as usize).max(params), Value::Null);
        let cells = Cells::new(proto.n_cells);
        for &(slot, cell) in &proto.param_cells {
            *cells[cell as usize].borrow_mut() = self.stack[base + slot as usize].clone();
        }
        self.frames.push(Frame {
            closure: func,
            pc: 0,
            base: base as u32,
            cells,
            kind,
        });
        Ok(())
    }

    /// Raise an error at the current instruction: unwind to the nearest
    /// handler, leaving frames (and restoring what they changed) on the way.
    /// Returns false when nothing handles it (the fiber has failed).
    pub fn raise(&mut self, e: Rc<Error>) -> bool {
        if e.location.borrow().is_none() {
            *e.location.borrow_mut() = self.location();
        }
        let mut e = e;
        loop {
            let depth = self.frames.len();
            if self.handlers.last().is_some_and(|h| h.frame + 1 == depth)
                && let Some(h) = self.handlers.pop()
            {
                self.stack.truncate(h.stack);
                self.stack.push(Value::Error(e));
                if let Some(f) = self.frames.last_mut() {
                    f.pc = h.target as u32;
                }
                return true;
            }
            let Some(frame) = self.frames.pop() else {
                self.finish(Err(e));
                return false;
            };
            // Handlers of the frame being left are gone with it.
            while self
                .handlers
                .last()
                .is_some_and(|h| h.frame + 1 > self.frames.len())
            {
                self.handlers.pop();
            }
            self.stack.truncate(frame.base as usize);
            if let Some(caller) = self.location_of_caller() {
                e.trace.borrow_mut().push(caller);
            }
            match frame.kind {
                FrameKind::Command { restore, .. } => self.restore(restore),
                FrameKind::Capture(c) => self.restore_all(c.restore),
                FrameKind::Timeout(t) => {
                    let TimeoutFrame { scope, first_group } = *t;
                    self.ctx.cancel.pop_deadline(scope);
                    if e.kind == ErrorKind::Cancelled {
                        // Cancelled: no process its commands started lives on.
                        self.ctx.cancel.kill_left_behind(first_group);
                    }
                    if e.kind == ErrorKind::Cancelled && e.timeout_scope.get() == Some(scope) {
                        // Reported at the `timeout` itself, not where the
                        // body happened to be waiting.
                        let t = Error::new(ErrorKind::Timeout, "the timeout expired");
                        *t.location.borrow_mut() = self.location_of_caller();
                        e = Rc::new(t);
                    }
                    if shell::observed() {
                        shell::observe_timeout_end(&self.ctx, scope, Err(&e));
                    }
                }
                FrameKind::Root => {
                    self.finish(Err(e));
                    return false;
                }
                FrameKind::Module { used } => {
                    if let Some(key) = used {
                        shell::forget_module(&self.rt, &key);
                    }
                }
                FrameKind::Call => {}
            }
        }
    }

    pub(super) fn location_of_caller(&self) -> Option<Location> {
        let f = self.frames.last()?;
        let span = f
            .closure
            .proto
            .spans
            .get(f.pc.saturating_sub(1) as usize)
            .copied()?;
        Some(Location {
            source: f.closure.proto.source,
            span,
        })
    }

    pub(super) fn restore(&mut self, r: Option<Box<Restore>>) {
        if let Some(r) = r {
            self.restore_all(*r);
        }
    }

    fn restore_all(&mut self, r: Restore) {
        if let Some(io) = r.io {
            self.ctx.set_io(io);
        }
        if let Some(env) = r.env {
            self.ctx.set_env(env);
        }
        if let Some(cwd) = r.cwd {
            self.ctx.set_cwd(cwd);
        }
    }

    /// Leave the current frame with `v`.
    pub(super) fn return_from_frame(&mut self, v: Value) -> Result<Option<Halt>, Error> {
        let Some(frame) = self.frames.pop() else {
            self.finish(Ok(v));
            return Ok(None);
        };
        while self
            .handlers
            .last()
            .is_some_and(|h| h.frame >= self.frames.len())
        {
            self.handlers.pop();
        }
        self.stack.truncate(frame.base as usize);
        match frame.kind {
            FrameKind::Root => {
                self.finish(Ok(v));
                Ok(None)
            }
            FrameKind::Call => {
                self.stack.push(v);
                Ok(None)
            }
            FrameKind::Module { .. } => Ok(None),
            FrameKind::Command { check, mut restore } => {
                let (argv, env) = restore
                    .as_mut()
                    .map(|r| (std::mem::take(&mut r.argv), std::mem::take(&mut r.argv_env)))
                    .unwrap_or_default();
                self.restore(restore);
                let status = status_of_return(&v);
                self.ctx.status.set(status);
                if check && status != 0 {
                    let argv: Vec<Vec<u8>> = argv.iter().map(Value::word_bytes).collect();
                    // A compound stage has no words: its source text.
                    let line = if argv.is_empty() {
                        let proto = &frame.closure.proto;
                        crate::diag::source_text(proto.source, proto.span)
                    } else {
                        command_line(&env, &argv)
                    };
                    return Err(command_error(&line, argv, status));
                }
                Ok(None)
            }
            FrameKind::Capture(c) => {
                let CaptureFrame { reader, restore } = *c;
                // Restoring the old stdout drops our write end of the pipe.
                // Reading to end of file is cancellable: a descendant that
                // escaped and still holds the pipe open must not keep a
                // timeout or cancel from returning.
                self.restore_all(restore);
                Ok(Some(Halt::Await(cancellable(
                    self.ctx.token(),
                    async move {
                        match reader.await {
                            // Trailing newlines are already gone.
                            Ok(text) => Ok(Resume::Push(Value::Str(text))),
                            Err(e) => {
                                Err(Rc::new(Error::io(format!("reading command output: {e}"))))
                            }
                        }
                    },
                ))))
            }
            FrameKind::Timeout(t) => {
                let scope = t.scope;
                self.ctx.cancel.pop_deadline(scope);
                if shell::observed() {
                    shell::observe_timeout_end(&self.ctx, scope, Ok(&v));
                }
                self.stack.push(v);
                Ok(None)
            }
        }
    }

    /// Push a frame for `func` (used by command execution).
    pub fn enter(
        &mut self,
        func: Rc<Closure>,
        args: Vec<Value>,
        kind: FrameKind,
    ) -> Result<(), Error> {
        self.push_frame(func, args, kind)
    }
}

/// A function's command-form status: `return true/false`, `return N`, or 0.
pub(super) fn status_of_return(v: &Value) -> i32 {
    match v {
        Value::Bool(true) => 0,
        Value::Bool(false) => 1,
        Value::Int(i) => (*i).clamp(0, 255) as i32,
        _ => 0,
    }
}
