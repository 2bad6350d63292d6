//! `ash --check`: mistakes found without running the script (section 17
//! of the language), and the hints that the same analysis adds to run-time
//! errors.
//!
//! A check parses and compiles the script (errors: status 2), then walks
//! its syntax tree once with the scopes resolved exactly as the compiler
//! resolves them (`walk.rs`), collecting warnings, each with a stable
//! [`Lint`] name, a span, a message and a one-line suggestion. What the
//! walk cannot decide on the spot (is this callee an `async fn`? is this
//! list as long as the input?) it records as symbolic [`shape::Shape`]s,
//! evaluated once every definition has been seen.
//!
//! The bar is that findings are right far more often than wrong: where a
//! fact is not certain (a value that may have been reassigned, a word that
//! may splice a list), the lint says nothing. The project's own scripts
//! (examples, stdlib, the docs' examples) check clean, held by
//! `tests/check.rs`.
//!
//! - `walk.rs`: the pass itself (one exhaustive match per node kind, so a
//!   new kind of node fails to compile until the lints know it).
//! - `resolve.rs`: after the walk, global names resolved and the checks
//!   that needed every definition, with their messages.
//! - `shape.rs`: what a value is known to be (coroutine, task, function,
//!   list as long as the input) and how facts combine.
//! - `modules.rs`: the names and signatures that `use`d modules (the
//!   standard library included) and the built-ins define.
//! - `words.rs`: word-level detectors shared with the run-time hints.
//! - `hints.rs`: hints added to run-time errors (`$args[0]`, bash habits).
//! - `report.rs`: the command line's driver, `# ash: allow`, text and JSON.

mod arity;
pub mod hints;
mod modules;
mod report;
mod resolve;
mod shape;
mod walk;
pub mod words;

use crate::ast::Span;

pub use report::{Format, Options, main};

/// The warnings `--check` knows, by their stable names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lint {
    NeverAwaited,
    UnknownName,
    Arity,
    IndexGlob,
    ReadInPipeline,
    UnboundedGather,
    Escape,
    Unreachable,
    Unused,
    /// Written as in bash, meaning something else in ash: `$1`, `$?`,
    /// `$((...))`, backquotes, `[[ ]]`, `i++`...
    BashSyntax,
    /// Only with `--check --path`: a command found nowhere.
    UnknownCommand,
}

impl Lint {
    pub const ALL: [Lint; 11] = [
        Lint::NeverAwaited,
        Lint::UnknownName,
        Lint::Arity,
        Lint::IndexGlob,
        Lint::ReadInPipeline,
        Lint::UnboundedGather,
        Lint::Escape,
        Lint::Unreachable,
        Lint::Unused,
        Lint::BashSyntax,
        Lint::UnknownCommand,
    ];

    /// The name printed in `warning[NAME]` and accepted by `# ash: allow`.
    pub fn name(self) -> &'static str {
        match self {
            Lint::NeverAwaited => "never-awaited",
            Lint::UnknownName => "unknown-name",
            Lint::Arity => "arity",
            Lint::IndexGlob => "index-glob",
            Lint::ReadInPipeline => "read-in-pipeline",
            Lint::UnboundedGather => "unbounded-gather",
            Lint::Escape => "escape",
            Lint::Unreachable => "unreachable",
            Lint::Unused => "unused",
            Lint::BashSyntax => "bash-syntax",
            Lint::UnknownCommand => "unknown-command",
        }
    }

    pub fn from_name(name: &str) -> Option<Lint> {
        Lint::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// One warning: where, what, and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub lint: Lint,
    pub span: Span,
    pub message: String,
    /// A one-line suggestion of the fix.
    pub help: String,
}

impl Finding {
    fn new(lint: Lint, span: Span, message: impl Into<String>, help: impl Into<String>) -> Self {
        Finding {
            lint,
            span,
            message: message.into(),
            help: help.into(),
        }
    }
}

/// What a check needs besides the text.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The directory `use ./x.ash` is relative to (the script's).
    pub dir: Option<std::path::PathBuf>,
    /// Also report command names found nowhere on this machine's `PATH`.
    pub check_path: bool,
}

/// The warnings of a parsed script, sorted by position, before `# ash:
/// allow` comments are applied.
pub fn lint(block: &crate::ast::Block, text: &str, cx: &Context) -> Vec<Finding> {
    let env = modules::Env::for_script(block, cx);
    let mut findings = walk::run(block, text, &env, cx);
    findings.sort_by_key(|f| (f.span.start, f.span.end));
    // One warning per spot (`x += 1` on an undeclared `x` reads and
    // assigns it).
    findings.dedup_by(|a, b| a.lint == b.lint && a.span == b.span);
    findings
}
