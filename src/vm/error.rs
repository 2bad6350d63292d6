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
    /// `CommandError`: the command line as it ran (`e.command`): its words
    /// expanded and quoted where needed (see [`command_line`]).
    pub command: Option<String>,
    /// `CommandError`: the failing command's arguments (`e.argv`), the
    /// command name first; empty for a compound stage.
    pub argv: Vec<Vec<u8>>,
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
            argv: Vec::new(),
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

    /// The same, with the failing command's arguments (`e.argv`).
    pub fn with_argv(mut self, argv: Vec<Vec<u8>>) -> Error {
        self.0.argv = argv;
        self
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

/// The `CommandError` of a command that exited with `status`: `line` is
/// the command as it ran (see [`command_line`]), `argv` the failing
/// command's arguments.
pub fn command_error(line: &str, argv: Vec<Vec<u8>>, status: i32) -> Error {
    Error::command(
        line.to_string(),
        status,
        format!("`{}` exited with status {status}", shorten(line)),
    )
    .with_argv(argv)
}

/// Characters the message shows of a command line: a command with a
/// whole file in an argument still makes a one-line report.
const SHOWN: usize = 200;

/// `line`, cut to [`SHOWN`] characters (with `...`).
pub fn shorten(line: &str) -> std::borrow::Cow<'_, str> {
    match line.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}...", &line[..at]).into(),
        None => line.into(),
    }
}

/// A word as it can be pasted into a shell (ash, bash or sh): as it is
/// when it holds only `A-Z a-z 0-9 @ % + = : , . / _ -` (and is not
/// empty), else in single quotes with each `'` written `'\''` (Python's
/// `shlex.quote`). Bytes that are not UTF-8 show as U+FFFD.
pub fn shell_quote(word: &[u8]) -> String {
    let safe = |b: &u8| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(b);
    let text = String::from_utf8_lossy(word);
    if !word.is_empty() && word.iter().all(safe) {
        return text.into_owned();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// One command as it ran: its `NAME=value` prefixes and its words, each
/// quoted where needed (`FOO=1 grep -r 'a b' src`).
pub fn command_line(env: &[(String, Vec<u8>)], argv: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for (name, value) in env {
        out.push_str(name);
        out.push('=');
        out.push_str(&shell_quote(value));
        out.push(' ');
    }
    for (i, w) in argv.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&shell_quote(w));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_where_a_shell_needs_it() {
        assert_eq!(shell_quote(b"src/main.rs"), "src/main.rs");
        assert_eq!(shell_quote(b"--opt=a,b:c@d%e+f"), "--opt=a,b:c@d%e+f");
        assert_eq!(shell_quote(b""), "''");
        assert_eq!(shell_quote(b"a b"), "'a b'");
        assert_eq!(shell_quote(b"it's"), "'it'\\''s'");
        assert_eq!(shell_quote(b"$HOME"), "'$HOME'");
        assert_eq!(shell_quote(b"x{a,b}"), "'x{a,b}'");
        assert_eq!(shell_quote(b"*.txt"), "'*.txt'");
        assert_eq!(shell_quote("é".as_bytes()), "'é'");
        assert_eq!(
            command_line(
                &[("LC_ALL".into(), b"C".to_vec())],
                &[b"grep".to_vec(), b"a b".to_vec()]
            ),
            "LC_ALL=C grep 'a b'"
        );
    }

    #[test]
    fn a_long_command_is_shortened_in_the_message() {
        let long = "x".repeat(300);
        let e = command_error(&long, vec![long.clone().into_bytes()], 1);
        assert_eq!(e.command.as_deref(), Some(long.as_str()));
        assert!(
            e.message
                .starts_with(&format!("`{}...`", "x".repeat(SHOWN)))
        );
    }
}
