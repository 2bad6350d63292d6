//! The event loop, tasks, timers and cancellation.
pub mod task;
