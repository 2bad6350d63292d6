//! The budget of a slice: how long a task may run before it goes back to
//! the loop.
//!
//! A *slice* is one turn of a task on the loop (one run of its future by
//! the executor). Everything the task does in it counts: the VM's backward
//! jumps and calls, commands and builtins, waits that were already
//! satisfied (`sleep 0`, an uncontended `acquire`, `await` of a finished
//! task, a channel with room), and the work of the fibers of its pipeline
//! stages (they are polled inside the task's turn). When the slice is over
//! the task yields, so the loop fires due timers, checks `timeout`
//! deadlines and delivers signals even inside a loop whose every wait is
//! ready (`while (true) { sleep 0 }`, `yes | f`).
//!
//! A slice lasts [`SLICE`] of time. Reading the clock at every instruction
//! would cost the VM's hot loop too much, so work is counted in *units*
//! (about one VM loop iteration each; commands, ready waits and built-in
//! functions over large inputs cost more, see the constants) and the clock
//! is read once per [`CHUNK`] units. The slice's clock starts at its first
//! check, so a task that halts early never reads it at all. The counter of
//! the current chunk is thread-local, set by the executor before each
//! task's turn (`Executor::try_tick`); the VM copies it into a local while
//! a fiber runs, so its loop pays a decrement and a compare, as before.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::vm::objects::Work;
use crate::vm::value::Value;

/// How long a task runs before it yields to the loop (plus at most one
/// chunk: the clock starts at the first check).
pub const SLICE: Duration = Duration::from_millis(1);
/// Units between two looks at the clock (about 50-100 µs of VM loop
/// iterations in a release build, 1-2 ms in a debug build).
pub const CHUNK: u32 = 1_000;
/// The units before a slice's clock starts.
pub const FIRST_CHUNK: u32 = CHUNK / 4;
/// A command: a builtin (with its output written), a function called in
/// command form, or a pipeline or redirection started (about 2-20 µs).
pub const COMMAND: u32 = 200;
/// A wait resumed: the future's allocation and polling (about 1 µs).
pub const AWAIT: u32 = 20;
/// A built-in function: a fixed part, plus a part for the size of its
/// arguments (see [`native_cost`]).
pub const NATIVE: u32 = 1;

thread_local! {
    /// Units left in the current chunk.
    static LEFT: Cell<u32> = const { Cell::new(CHUNK) };
    /// When the slice's first chunk ran out.
    static SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// A task's turn begins. Its clock starts when a first, short chunk runs
/// out: a task that halts sooner never reads it, and a costly first step
/// does not go untimed for long.
#[inline]
pub fn begin_slice() {
    LEFT.set(FIRST_CHUNK);
    SINCE.set(None);
}

/// Units left in the current chunk (a fiber starts running with them).
#[inline]
pub fn left() -> u32 {
    LEFT.get()
}

/// Record the units left (a fiber halted).
#[inline]
pub fn set_left(left: u32) {
    LEFT.set(left);
}

/// Charge `units` to the slice.
#[inline]
pub fn charge(units: u32) {
    LEFT.set(LEFT.get().saturating_sub(units));
}

/// Whether the slice is over (the task should yield now); when only its
/// chunk ran out, a new chunk begins.
#[inline]
pub fn over() -> bool {
    LEFT.get() == 0 && chunk_ended()
}

/// For the VM, whose units are in `left` while it runs: the chunk ran out;
/// whether the slice is over. `left` gets the next chunk's units if not.
#[cold]
#[inline(never)]
pub fn chunk_over(left: &mut u32) -> bool {
    LEFT.set(0);
    let over = chunk_ended();
    *left = LEFT.get();
    over
}

/// The current chunk ran out: look at the clock.
fn chunk_ended() -> bool {
    let now = Instant::now();
    match SINCE.get() {
        Some(since) if now.duration_since(since) >= SLICE => return true,
        Some(_) => {}
        None => SINCE.set(Some(now)),
    }
    LEFT.set(CHUNK);
    false
}

/// The cost of calling `callee` (a built-in function) with `args`: a
/// unit, plus, for one whose work grows with its input, a unit per list
/// element or map entry and per 16 bytes of a string (about what each
/// costs in `join` or `split`), times log2 of the size for a sort.
#[inline]
pub fn native_cost(callee: &Value, args: &[Value]) -> u32 {
    let Value::Native(f) = callee else {
        return NATIVE;
    };
    if f.work == Work::Constant {
        return NATIVE;
    }
    let size: usize = args
        .iter()
        .map(|a| match a {
            Value::Str(s) => s.len() / 16,
            Value::List(l) => l.len(),
            Value::Map(m) => m.borrow().len(),
            _ => 0,
        })
        .sum();
    let size = match f.work {
        Work::Sort => size.saturating_mul(size.max(2).ilog2() as usize),
        _ => size,
    };
    NATIVE.saturating_add(u32::try_from(size).unwrap_or(u32::MAX))
}

/// The cost of building a string or list of `len` bytes or items in ash
/// code (`s + t`, `"$a$b"`, `xs + ys`): copying about 256 of them is a
/// unit.
#[inline]
pub fn for_copy(len: usize) -> u32 {
    u32::try_from(len / 256).unwrap_or(u32::MAX)
}
