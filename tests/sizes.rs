//! The sizes the runtime's memory use depends on, as tests (piccolo's
//! `tests/sizes.rs`): 100,000 sleeping tasks each hold a task record, a
//! context with its cancel token, a driver with its fiber, a frame and a closure,
//! so a field added to one of these costs megabytes (docs/performance.md,
//! "Per task"). malloc rounds a request plus 8 up to a multiple of 16, so
//! what counts is the size class: an `Rc<T>` allocation is `T` + 16.
//!
//! A failure here is not necessarily a bug: if the growth is worth it, say
//! why in the commit, update the number and the table in
//! docs/performance.md.

#![cfg(target_pointer_width = "64")]

use std::mem::size_of;

/// `size_of::<T>()` must be `expected`; `why` says where it matters.
fn size_is<T>(expected: usize, why: &str) {
    let name = std::any::type_name::<T>();
    assert_eq!(size_of::<T>(), expected, "size of {name} ({why})");
}

#[test]
fn values_and_instructions() {
    // A value sits in every stack slot, list element and constant.
    size_is::<ash::vm::value::Value>(24, "every value slot");
    // One instruction per `Vec<Op>` element; its span beside it.
    size_is::<ash::vm::chunk::Op>(8, "the instruction vector");
    size_is::<ash::ast::Span>(8, "the span vector beside the code");
}

#[test]
fn per_task_records() {
    // In the executor's allocation of every task, with its header (40,
    // the executor's number in its padding) and a thread id (8): 152, the
    // most the 160-byte class holds.
    size_is::<ash::runtime::task::Drive>(104, "the driver of every task");
    size_is::<ash::runtime::cancel::Sleep>(16, "in the driver of a sleeping task");
    size_is::<ash::vm::fiber::Fiber>(80, "inside every task's driver");
    // Behind an `Rc` each: T + 16 for the counts.
    size_is::<ash::runtime::task::Task>(56, "every task's record: Rc of 72, the 80-byte class");
    // 88 + 16 = 104, the most the 112-byte class holds; the cancel token
    // (24) is inside it, not an `Rc` of its own (a 48-byte block more).
    size_is::<ash::runtime::TaskCtx>(88, "every task's context: Rc of 104, the 112-byte class");
    size_is::<ash::runtime::CancelToken>(24, "inside every task's context");
    // In every fiber's frame vector (one frame for a sleeping task).
    size_is::<ash::vm::frame::Frame>(40, "a frame: the 48-byte class");
    size_is::<ash::vm::frame::FrameKind>(16, "in every frame");
    size_is::<ash::vm::objects::Closure>(24, "a closure: Rc, the 48-byte class");
    // One per sleeping task in the loop's timer queue.
    size_is::<ash::runtime::timers::Timer>(16, "a sleep's registration");
    size_is::<ash::runtime::Env>(8, "a context's environment, shared until changed");
}

#[test]
fn what_a_fiber_returns() {
    // Returned by every `Fiber::run`; a boxed future at most.
    size_is::<ash::vm::fiber::Halt>(24, "the halt of every run");
}
