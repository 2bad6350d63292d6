//! Heap objects behind `Value`: closures, coroutines, tasks, native functions.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::chunk::Proto;
use super::error::Error;
use super::value::Value;

/// A variable captured by a closure: shared, so writes are seen by both.
pub type Cell_ = Rc<RefCell<Value>>;

/// A function value: compiled code plus the variables it captured.
pub struct Closure {
    pub proto: Rc<Proto>,
    pub captures: Captures,
}

/// A closure's captured variables. One is kept inline: `spawn { sleep $s }`
/// in a loop makes a closure per task, and a separate allocation for its
/// one capture cost 100,000 tasks 3 MB (docs/performance.md).
pub enum Captures {
    One(Cell_),
    Many(Box<[Cell_]>),
}

impl Captures {
    pub fn none() -> Captures {
        Captures::Many(Box::default())
    }
}

/// A chain of closures each capturing the next is dropped without
/// recursing once per link (see `trash`).
impl Drop for Closure {
    fn drop(&mut self) {
        super::trash::dispose(std::mem::replace(&mut self.captures, Captures::none()));
    }
}

impl std::ops::Deref for Captures {
    type Target = [Cell_];
    fn deref(&self) -> &[Cell_] {
        match self {
            Captures::One(cell) => std::slice::from_ref(cell),
            Captures::Many(cells) => cells,
        }
    }
}

impl FromIterator<Cell_> for Captures {
    fn from_iter<I: IntoIterator<Item = Cell_>>(iter: I) -> Captures {
        let mut iter = iter.into_iter();
        match (iter.next(), iter.next()) {
            (None, _) => Captures::none(),
            (Some(one), None) => Captures::One(one),
            (Some(a), Some(b)) => Captures::Many([a, b].into_iter().chain(iter).collect()),
        }
    }
}

/// What a built-in function may ask of the shell it runs in.
pub trait Host {
    /// The calling task's environment variable `name`.
    fn getenv(&self, name: &[u8]) -> Option<Vec<u8>>;
    /// The calling task's working directory (`abspath`).
    fn cwd(&self) -> std::path::PathBuf;
}

/// The work of a built-in function over a large input (section 10:
/// JSON, sorting, joining and splitting): a future the calling task waits
/// on, which does its heavy part on a worker thread, or a little at a time
/// between which the loop runs other tasks (see
/// `builtins::functions::offload`).
pub type OffLoop = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, Error>>>>;

/// Whether a call with these arguments is worth the way off the loop; if
/// so, its future. (Checking the arguments is left to the function
/// itself, called in place when this says no.)
pub type OffLoopPrep = fn(&[Value]) -> Option<OffLoop>;

/// How the work of a built-in function grows with its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// `len`, `push`, `get`: the same whatever the size.
    Constant,
    /// `split`, `join`, `to_json`: with the size.
    Linear,
    /// Sorting: n log n comparisons.
    Sort,
}

/// A built-in function of expression mode (`len`, `split`, ...).
pub struct NativeFn {
    pub name: &'static str,
    pub call: fn(&dyn Host, &[Value]) -> Result<Value, Error>,
    /// How its work grows with the size of its arguments: a call is
    /// charged to the slice by it (`vm::budget::native_cost`).
    pub work: Work,
    /// Above a size of input, the work runs off the loop thread.
    pub off_loop: Option<OffLoopPrep>,
    /// Item `k` of the list the call returns, found without making the
    /// list: `split(line, " ")[1]` (`vm::chunk::fuse_calls`).
    pub pick: Option<PickFn>,
}

/// `f(args)[k]` for a built-in `f` that returns a list: `Ok(Ok(item))`,
/// or `Ok(Err(len))` when the list it would have made (of `len` items)
/// has no item `k` (the `IndexError` of the index, made by the caller); an
/// error of the call itself is the same error the call raises.
pub type PickFn = fn(&[Value], i64) -> Result<Result<Value, usize>, Error>;

/// A coroutine: a function and its arguments, not started until awaited,
/// spawned or gathered, and consumed by that first use.
pub struct Coroutine {
    pub func: Rc<Closure>,
    pub args: RefCell<Option<Vec<Value>>>,
    /// Set once it was awaited, spawned or gathered (for the
    /// "never awaited" warning).
    pub used: Cell<bool>,
}

impl Coroutine {
    pub fn new(func: Rc<Closure>, args: Vec<Value>) -> Coroutine {
        Coroutine {
            func,
            args: RefCell::new(Some(args)),
            used: Cell::new(false),
        }
    }

    pub fn name(&self) -> &str {
        &self.func.proto.name
    }

    /// Take the arguments for the one run a coroutine gets.
    pub fn take(&self) -> Result<Vec<Value>, Error> {
        self.used.set(true);
        self.args.borrow_mut().take().ok_or_else(|| {
            Error::value(format!(
                "coroutine '{}' was already awaited (a coroutine runs once)",
                self.name()
            ))
        })
    }
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        if !self.used.get() {
            crate::diag::warn_repeatable(&format!("coroutine '{}' was never awaited", self.name()));
        }
        super::trash::dispose(self.args.get_mut().take());
    }
}
