//! The input type, the error type and the small lexical helpers the
//! recursive-descent parsers are built from.

use std::cell::{Cell, RefCell};

use nom::error::{ErrorKind, ParseError};
use nom::{IResult, Input};
use nom_locate::LocatedSpan;

use crate::ast::Span;

/// Maximum nesting of blocks, brackets and prefix operators.
pub(crate) const MAX_DEPTH: u32 = 200;

/// Maximum stack the parser may use, in bytes: well inside the 2 MiB of a
/// spawned thread's default stack, whatever the build's frame sizes.
pub(crate) const MAX_STACK: usize = 1024 * 1024;

/// Parser state shared by every slice of the input.
#[derive(Default)]
pub(crate) struct Ctx {
    pub depth: Cell<u32>,
    /// Links of the operator and postfix chains being parsed (`1 + 1 + ...`,
    /// `a.b.c`, `x[0][0]`): each link deepens the tree by one, and the
    /// compiler and `Drop` recurse on that depth.
    pub chain: Cell<u32>,
    /// Address of a local of `parse`: how deep the stack was at the start.
    pub stack_base: Cell<usize>,
    /// Deepest stack use seen, in bytes (for tests).
    pub stack_max: Cell<usize>,
    /// Here-document bodies found so far: they sit on the lines after the
    /// command that opened them, and the newline ending that command's line
    /// skips them (see [`newline`]).
    pub heredocs: RefCell<Vec<HereBody>>,
}

/// Where a here-document's body lies in the source.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HereBody {
    /// Offset of the `<<` that opened it (parsing it again finds the same body).
    pub op: usize,
    /// Offset of the newline that ends the opening command's line.
    pub newline: usize,
    /// The body: from the line after `newline` (or after the previous body
    /// opened on the same line) to just past the terminator line.
    pub start: usize,
    pub end: usize,
}

/// Past the newline at `i` and past any here-document bodies that start
/// after it.
pub(crate) fn newline(i: In) -> In {
    let at = off(&i);
    let j = adv(i, 1);
    let end = i
        .extra
        .heredocs
        .borrow()
        .iter()
        .filter(|h| h.newline == at)
        .map(|h| h.end)
        .max();
    match end {
        Some(end) if end > at + 1 => adv(j, end - (at + 1)),
        _ => j,
    }
}

/// An approximation of the current stack pointer.
#[inline(never)]
pub(crate) fn stack_addr() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// The parser input: the rest of the source, with its offset and line.
pub(crate) type In<'a> = LocatedSpan<&'a str, &'a Ctx>;

/// A parse failure: where, what was expected, and whether more input could
/// have fixed it (`cont`: the error is "expected ..." and, if nothing but
/// blanks follows `pos`, the input is merely incomplete).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PErr {
    pub pos: usize,
    /// Length in bytes of the offending text (0: one character).
    pub len: usize,
    pub msg: String,
    pub cont: bool,
}

impl<'a> ParseError<In<'a>> for PErr {
    fn from_error_kind(input: In<'a>, kind: ErrorKind) -> Self {
        PErr {
            pos: input.location_offset(),
            len: 0,
            msg: format!("syntax error ({kind:?})"),
            cont: false,
        }
    }
    fn append(_: In<'a>, _: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type PR<'a, T> = IResult<In<'a>, T, PErr>;

/// A committed error at `i`: "unexpected ..." and the like.
pub(crate) fn fail<'a, T>(i: &In<'a>, msg: impl Into<String>) -> PR<'a, T> {
    Err(nom::Err::Failure(PErr {
        pos: off(i),
        len: 0,
        msg: msg.into(),
        cont: false,
    }))
}

/// A committed error covering `len` bytes at `i` (a keyword, a name).
pub(crate) fn fail_len<'a, T>(i: &In<'a>, len: usize, msg: impl Into<String>) -> PR<'a, T> {
    Err(nom::Err::Failure(PErr {
        pos: off(i),
        len,
        msg: msg.into(),
        cont: false,
    }))
}

/// A committed "expected ..." error at `i`: incomplete input if only blanks
/// follow.
pub(crate) fn expect<'a, T>(i: &In<'a>, msg: impl Into<String>) -> PR<'a, T> {
    Err(nom::Err::Failure(PErr {
        pos: off(i),
        len: 0,
        msg: msg.into(),
        cont: true,
    }))
}

/// "unexpected `TOKEN`" at `i`, with the token's length.
pub(crate) fn unexpected<'a, T>(i: &In<'a>) -> PR<'a, T> {
    let tok = token_at(rest(i));
    let msg = if tok.is_empty() {
        "unexpected end of input".to_string()
    } else if tok == "\n" {
        "unexpected end of line".to_string()
    } else {
        format!("unexpected `{tok}`")
    };
    Err(nom::Err::Failure(PErr {
        pos: off(i),
        len: tok.len(),
        msg,
        cont: false,
    }))
}

/// The token starting `s`, for messages: an operator, or a run of word
/// characters (at most 30 bytes).
pub(crate) fn token_at(s: &str) -> &str {
    for op in ["&&", "||", ">>", "==", "!=", "<=", ">="] {
        if s.starts_with(op) {
            return &s[..2];
        }
    }
    let Some(c) = s.chars().next() else {
        return "";
    };
    if !is_word_char(c) {
        return &s[..c.len_utf8()];
    }
    let mut end = 0;
    for (k, ch) in s.char_indices() {
        if !is_word_char(ch) || k >= 30 {
            break;
        }
        end = k + ch.len_utf8();
    }
    &s[..end]
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c,
            ';' | '|' | '&' | '<' | '>' | '(' | ')' | '{' | '}' | '[' | ']' | ',' | ':'
        )
}

/// Depth guard: decrements the nesting counter when dropped.
pub(crate) struct Guard<'a>(&'a Cell<u32>);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// At most this many chain links open at once (see `Ctx::chain`).
pub(crate) const MAX_CHAIN: u32 = 5_000;

/// Add one link to the open chains, failing cleanly past [`MAX_CHAIN`].
pub(crate) fn chain_link(i: &In) -> Result<(), nom::Err<PErr>> {
    let c = i.extra.chain.get();
    if c >= MAX_CHAIN {
        return Err(nom::Err::Failure(PErr {
            pos: off(i),
            len: 0,
            msg: format!(
                "expression too long: more than {MAX_CHAIN} operators in a row (split it)"
            ),
            cont: false,
        }));
    }
    i.extra.chain.set(c + 1);
    Ok(())
}

/// A finished chain of `n` links no longer counts.
pub(crate) fn chain_done(i: &In, n: u32) {
    let c = &i.extra.chain;
    c.set(c.get().saturating_sub(n));
}

/// Enter one nesting level, failing cleanly past [`MAX_DEPTH`].
pub(crate) fn enter<'a>(i: &In<'a>) -> Result<Guard<'a>, nom::Err<PErr>> {
    let cell = &i.extra.depth;
    let d = cell.get();
    let used = i.extra.stack_base.get().saturating_sub(stack_addr());
    if used > i.extra.stack_max.get() {
        i.extra.stack_max.set(used);
    }
    if d >= MAX_DEPTH || used > MAX_STACK {
        return Err(nom::Err::Failure(PErr {
            pos: off(i),
            len: 0,
            msg: "nesting too deep".into(),
            cont: false,
        }));
    }
    cell.set(d + 1);
    Ok(Guard(cell))
}

pub(crate) fn off(i: &In) -> usize {
    i.location_offset()
}

pub(crate) fn rest<'a>(i: &In<'a>) -> &'a str {
    i.fragment()
}

pub(crate) fn peek(i: &In) -> Option<char> {
    rest(i).chars().next()
}

pub(crate) fn peek2(i: &In) -> Option<char> {
    let mut cs = rest(i).chars();
    cs.next();
    cs.next()
}

pub(crate) fn starts(i: &In, s: &str) -> bool {
    rest(i).starts_with(s)
}

/// Skip `n` bytes (always on a character boundary).
pub(crate) fn adv<'a>(i: In<'a>, n: usize) -> In<'a> {
    i.take_from(n.min(rest(&i).len()))
}

pub(crate) fn span(a: &In, b: &In) -> Span {
    Span::new(off(a), off(b))
}

/// Take the longest prefix of characters satisfying `f` (nom's
/// `take_while`, open-coded: this is the hottest loop of the parser).
pub(crate) fn take_while_in<'a>(i: In<'a>, f: impl Fn(char) -> bool) -> (In<'a>, &'a str) {
    let s = rest(&i);
    let n = s.find(|c| !f(c)).unwrap_or(s.len());
    let (rest, got) = i.take_split(n);
    (rest, *got.fragment())
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// An identifier at `i`, if any.
pub(crate) fn ident_at<'a>(i: In<'a>) -> Option<(In<'a>, &'a str)> {
    match peek(&i) {
        Some(c) if is_ident_start(c) => Some(take_while_in(i, is_ident_char)),
        _ => None,
    }
}

/// The keywords of LANGUAGE.md section 2.
pub(crate) fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "let"
            | "if"
            | "elif"
            | "else"
            | "while"
            | "for"
            | "in"
            | "break"
            | "continue"
            | "return"
            | "fn"
            | "async"
            | "await"
            | "spawn"
            | "gather"
            | "race"
            | "sleep"
            | "timeout"
            | "cancel"
            | "try"
            | "catch"
            | "finally"
            | "throw"
            | "use"
            | "source"
            | "export"
            | "and"
            | "or"
            | "not"
            | "true"
            | "false"
            | "null"
    )
}

/// A character that ends a keyword written in command position.
pub(crate) fn is_kw_boundary(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => {
            c.is_whitespace() || matches!(c, ';' | '|' | '&' | '<' | '>' | '(' | ')' | '{' | '}')
        }
    }
}

/// The keyword `kw` at `i` (followed by a boundary), and the input after it.
pub(crate) fn kw_at<'a>(i: In<'a>, kw: &str) -> Option<In<'a>> {
    if !starts(&i, kw) {
        return None;
    }
    let j = adv(i, kw.len());
    if is_kw_boundary(peek(&j)) {
        Some(j)
    } else {
        None
    }
}

/// The command-position keyword at `i`, if any.
pub(crate) fn keyword_at<'a>(i: In<'a>) -> Option<(In<'a>, &'a str)> {
    let (j, name) = ident_at(i)?;
    if is_keyword(name) && is_kw_boundary(peek(&j)) {
        Some((j, name))
    } else {
        None
    }
}

/// Skip blanks on the line: spaces, tabs, the `\r` of a `\r\n`,
/// backslash-newline and a comment up to (not including) the newline. A
/// lone `\r` is not a blank (as in sh, it is part of a word).
pub(crate) fn sp(mut i: In) -> In {
    loop {
        let s = rest(&i);
        let b = s.as_bytes();
        match b.first() {
            Some(b' ' | b'\t') => {
                let (j, _) = take_while_in(i, |c| matches!(c, ' ' | '\t'));
                i = j;
            }
            Some(b'\r') if b.get(1) == Some(&b'\n') => i = adv(i, 1),
            Some(b'\\') if b.get(1) == Some(&b'\n') => i = newline(adv(i, 1)),
            Some(b'\\') if b.get(1) == Some(&b'\r') && b.get(2) == Some(&b'\n') => i = adv(i, 3),
            Some(b'#') => {
                let (j, _) = take_while_in(i, |c| c != '\n');
                i = j;
            }
            _ => return i,
        }
    }
}

/// Skip blanks including newlines.
pub(crate) fn spnl(mut i: In) -> In {
    loop {
        i = sp(i);
        if peek(&i) == Some('\n') {
            i = newline(i);
        } else {
            return i;
        }
    }
}

/// Skip blanks, including newlines when `nl`.
pub(crate) fn ws(i: In, nl: bool) -> In {
    if nl { spnl(i) } else { sp(i) }
}

/// Whether `s` holds nothing but blanks, newlines, comments and a final
/// line-continuation backslash: the input ended there.
pub(crate) fn rest_blank(s: &str) -> bool {
    let b = s.as_bytes();
    let mut k = 0;
    while k < b.len() {
        match b[k] {
            b' ' | b'\t' | b'\n' => k += 1,
            b'\r' if b.get(k + 1) == Some(&b'\n') => k += 1,
            b'#' => {
                while k < b.len() && b[k] != b'\n' {
                    k += 1;
                }
            }
            b'\\' if k + 1 == b.len() || b[k + 1] == b'\n' || b[k + 1] == b'\r' => k += 1,
            _ => return false,
        }
    }
    true
}

/// At the end of a statement: end of input, newline, `;`, `}` or `)`.
pub(crate) fn at_stmt_end(i: &In) -> bool {
    matches!(peek(i), None | Some('\n' | ';' | '}' | ')'))
}
