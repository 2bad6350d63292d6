//! Builtins: expression-mode functions and command-mode builtins.
pub mod functions;
