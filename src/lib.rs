//! ash: an async scripting shell. See `docs/architecture.md`.
pub mod ast;
pub mod builtins;
pub mod process;
pub mod runtime;
pub mod syntax;
pub mod vm;
