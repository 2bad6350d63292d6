//! ash: an async scripting shell. See `docs/architecture.md`.
//!
//! Pipeline: `syntax` (source → `ast`) → `compile` (AST → bytecode
//! `vm::chunk::Proto`) → `vm` (fibers that halt instead of blocking) →
//! `runtime` (event loop, tasks, commands) → `process` (the OS side).
pub mod ast;
pub mod builtins;
pub mod check;
pub mod cli;
pub mod compile;
pub mod diag;
pub mod process;
pub mod remote;
pub mod repl;
pub mod runtime;
pub mod stdlib;
pub mod syntax;
pub mod vm;
