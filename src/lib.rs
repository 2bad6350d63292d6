//! ash: an async scripting shell. See `docs/architecture.md`.
//!
//! Pipeline: `syntax` (source → `ast`) → `compile` (AST → bytecode
//! `vm::chunk::Proto`) → `vm` (fibers that halt instead of blocking) →
//! `runtime` (event loop, tasks, commands) → `process` (the OS side).

// `print!`/`eprint!` panic when the stream cannot be written (a full disk,
// a closed pipe): ash writes its own output through `diag::to_stdout`,
// `diag::to_stderr` and the `report!` macros instead.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]
pub mod ast;
pub mod builtins;
pub mod check;
pub mod cli;
pub mod compile;
pub mod diag;
pub mod journal;
pub mod observe;
pub mod process;
pub mod remote;
pub mod repl;
pub mod runtime;
pub mod stdlib;
pub mod syntax;
pub mod vm;
