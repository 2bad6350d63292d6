//! Builtins: expression-mode functions and command-mode builtins.
pub mod commands;
pub mod format;
pub mod functions;
