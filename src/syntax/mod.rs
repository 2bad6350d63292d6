//! Source text to syntax tree (`crate::ast`), with nom.
//!
//! A hand-structured recursive-descent parser over
//! `nom_locate::LocatedSpan<&str>`: `lex` (input, errors, blanks), `word`
//! (command-mode words, strings, `$` forms), `command` (pipelines and
//! redirections), `expr` (expression mode) and `stmt` (statements, blocks).
//! Every failure is committed (no backtracking), so parsing is linear; the
//! only look-ahead, for `target = value`, is a lexical scan of the statement.
//! Nesting is bounded twice: 200 levels, and 1 MiB of parser stack (debug
//! builds have large frames), so deep input fails with "nesting too deep".
//!
//! Where nom's combinators are used, and where not:
//! - **Combinators** for the lexical pieces with a regular shape and
//!   nothing to explain when they do not match: the numeral of a number
//!   literal (`expr::number`: digits, fraction, exponent) and the
//!   `A..B..STEP` of a brace sequence (`brace::sequence_parts`). There a
//!   failed alternative just means "not this shape", and the combinators
//!   say it in one line.
//! - **Hand-written descent** for statements, expressions, commands, words,
//!   strings and escapes. At every choice it commits (nom's `alt` would
//!   backtrack and report the last alternative's error, and deep
//!   backtracking would make parsing non-linear), and it says what it
//!   expected in the user's terms: "expected `}` to close the `{` opened at
//!   line 3", "invalid number suffix `x` (durations use ms, s, m or h)",
//!   "expected an expression after `+`", with `incomplete` set when more
//!   input could fix it (the interactive shell keeps reading). Operators
//!   and redirections are matched on byte slices (`binop`, `redir_op`),
//!   which read as a table; `lex::take_while_in` is nom's `take_while`
//!   open-coded, as the hottest loop of the parser.
//! - nom's types throughout: the input (`nom_locate::LocatedSpan`), the
//!   result (`IResult`) and `nom::Err::Failure` for committed errors.
//!
//! Decisions beyond LANGUAGE.md:
//! - An unquoted `(` , `)`, `{` or `}` is never part of a word: `)` outside
//!   `$( )` is "unexpected `)`"; `(` only starts a word (`(expr)`), mid-word
//!   it is an error (quote it or use `${...}`); `{}` must be quoted
//!   (`find -exec rm '{}' \;`).
//! - `true` and `false` at the start of a statement are commands, as in sh;
//!   `in and or not null` there are errors.
//! - `fn NAME { }` (no parameter list) declares a function without
//!   parameters (`fn prompt { ... }`); `fn { }` is a lambda likewise.
//! - `export NAME=WORD` (no blanks) takes a command-mode word as the value,
//!   as `ExprKind::Str` of its parts (literals marked quoted).
//! - `x= 1` and `x =1` are assignments (a blank on either side of `=`);
//!   `xs[0]=1` / `m.k=1` too; only `NAME=value` is an env prefix.
//! - A block may start on the next line after a condition, `else`, `try`...
//! - `cmd & next` on one line: `&` also ends the statement.
//! - A string literal `""` or a word `''` is one empty quoted `Lit`; an
//!   env prefix `FOO=` has an empty parts list.
//! - Postfix `[i]`, `.name`, `(args)` must touch the expression (no blank).
//! - `sleep`, `cancel`, `timeout` durations and `-j N` accept a primary with
//!   postfixes (`sleep $cfg.delay`, `cancel tasks[0]`).

mod brace;
mod command;
mod expr;
mod lex;
pub(crate) use lex::is_keyword;
mod stmt;
mod word;

#[cfg(test)]
mod tests;

use crate::ast::{Block, Span};

/// A syntax error: where, and what was expected there.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub span: Span,
    pub message: String,
    /// The input ended inside a construct (unclosed block, quote, trailing
    /// pipe...): the interactive shell keeps reading instead of failing.
    pub incomplete: bool,
}

/// Parse a whole script.
pub fn parse(src: &str) -> Result<Block, ParseError> {
    parse_ctx(src, &lex::Ctx::default())
}

fn parse_ctx(src: &str, ctx: &lex::Ctx) -> Result<Block, ParseError> {
    if src.len() > u32::MAX as usize {
        return Err(ParseError {
            span: Span::default(),
            message: "script too large".into(),
            incomplete: false,
        });
    }
    ctx.stack_base.set(lex::stack_addr());
    let input = lex::In::new_extra(src, ctx);
    match stmt::stmts(input, stmt::Term::Eof) {
        Ok((_, stmts)) => Ok(Block {
            stmts,
            span: Span::new(0, src.len()),
        }),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(to_error(src, e)),
        Err(nom::Err::Incomplete(_)) => Err(ParseError {
            span: Span::new(src.len(), src.len()),
            message: "unexpected end of input".into(),
            incomplete: true,
        }),
    }
}

fn to_error(src: &str, e: lex::PErr) -> ParseError {
    let pos = e.pos.min(src.len());
    let tail = src.get(pos..).unwrap_or("");
    let incomplete = e.cont && lex::rest_blank(tail);
    let span = if incomplete {
        Span::new(src.len(), src.len())
    } else {
        let len = if e.len > 0 {
            e.len
        } else {
            tail.chars().next().map_or(0, char::len_utf8)
        };
        let mut end = (pos + len).min(src.len());
        while !src.is_char_boundary(end) {
            end += 1;
        }
        Span::new(pos, end)
    };
    ParseError {
        span,
        message: e.msg,
        incomplete,
    }
}

/// `v` without spare capacity. The tree of a script lives until it is
/// compiled, beside the code: most lists in it (a block's statements, a
/// word's parts, a call's arguments) hold one to three items, and the
/// four-item minimum a growing `Vec` takes tripled the memory a big
/// script needed.
fn tight<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}
