//! Error values: what `throw` raises, what `catch e` binds, and what an
//! uncaught error prints.

use std::cell::{Cell, RefCell};

use crate::ast::Span;

/// The kinds of section 8 of the language, plus the ones ash adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A command exited non-zero (or was not found: status 127).
    Command,
    Timeout,
    Cancelled,
    Name,
    Type,
    Value,
    Glob,
    IO,
    /// `throw "message"`
    Error,
    /// Index out of range.
    Index,
    /// Missing key in a map.
    Key,
    /// Too deep a call stack.
    Recursion,
    /// A module or sourced file that does not parse.
    Syntax,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::Command,
        ErrorKind::Timeout,
        ErrorKind::Cancelled,
        ErrorKind::Name,
        ErrorKind::Type,
        ErrorKind::Value,
        ErrorKind::Glob,
        ErrorKind::IO,
        ErrorKind::Error,
        ErrorKind::Index,
        ErrorKind::Key,
        ErrorKind::Recursion,
        ErrorKind::Syntax,
    ];

    /// The name scripts see in `e.kind` and write in `catch KIND e`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Command => "CommandError",
            ErrorKind::Timeout => "TimeoutError",
            ErrorKind::Cancelled => "CancelledError",
            ErrorKind::Name => "NameError",
            ErrorKind::Type => "TypeError",
            ErrorKind::Value => "ValueError",
            ErrorKind::Glob => "GlobError",
            ErrorKind::IO => "IOError",
            ErrorKind::Error => "Error",
            ErrorKind::Index => "IndexError",
            ErrorKind::Key => "KeyError",
            ErrorKind::Recursion => "RecursionError",
            ErrorKind::Syntax => "SyntaxError",
        }
    }

    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Where an error was raised: a source file and a span in it.
#[derive(Clone, Debug)]
pub struct Location {
    /// Index into the runtime's table of loaded sources.
    pub source: u32,
    pub span: Span,
}

/// An error value. Boxed, so a `Result<Value, Error>` stays small on the
/// VM's hot paths; fields are reached through `Deref`.
#[derive(Debug)]
pub struct Error(Box<ErrorData>);

impl std::ops::Deref for Error {
    type Target = ErrorData;
    fn deref(&self) -> &ErrorData {
        &self.0
    }
}

#[derive(Debug)]
pub struct ErrorData {
    pub kind: ErrorKind,
    pub message: String,
    /// `CommandError`: the exit status (128+N for a signal).
    pub status: Option<i32>,
    /// `CommandError`: the command line as text.
    pub command: Option<String>,
    /// Set once, where the error was first raised.
    pub location: RefCell<Option<Location>>,
    /// Function names and call sites, innermost first, for the report.
    pub trace: RefCell<Vec<Location>>,
    /// A `CancelledError` raised because the `timeout` scope with this id
    /// expired: that scope turns it into `TimeoutError`.
    pub timeout_scope: Cell<Option<u64>>,
    /// An `IOError` from writing to a pipe whose reader has gone: like a
    /// process killed by SIGPIPE, it ends a pipeline stage quietly.
    pub broken_pipe: bool,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(ErrorData {
            kind,
            message: message.into(),
            status: None,
            command: None,
            location: RefCell::new(None),
            trace: RefCell::new(Vec::new()),
            timeout_scope: Cell::new(None),
            broken_pipe: false,
        }))
    }

    pub fn command(command: String, status: i32, message: String) -> Error {
        let mut e = Error::new(ErrorKind::Command, message);
        e.0.status = Some(status);
        e.0.command = Some(command);
        e
    }

    pub fn value(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Value, message)
    }

    pub fn type_err(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Type, message)
    }

    pub fn io(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::IO, message)
    }

    /// Writing to a pipe nobody reads any more.
    pub fn broken_pipe() -> Error {
        let mut e = Error::io("broken pipe: the reader of the output has gone");
        e.0.broken_pipe = true;
        e
    }

    pub fn cancelled() -> Error {
        Error::new(ErrorKind::Cancelled, "the task was cancelled")
    }

    /// The exit status an uncaught error gives the script (section 1).
    pub fn exit_status(&self) -> i32 {
        if self.broken_pipe {
            return 141;
        }
        match self.kind {
            ErrorKind::Command => self.status.unwrap_or(1),
            ErrorKind::Timeout => 124,
            _ => 1,
        }
    }
}

/// The `CommandError` of a command that exited with `status`.
pub fn command_error(text: &str, status: i32) -> Error {
    Error::command(
        text.to_string(),
        status,
        format!("`{text}` exited with status {status}"),
    )
}
