//! Command-mode words, quoted strings and `$` forms (shared with
//! expressions).

use crate::ast::{Block, Expr, ExprKind, Ident, Word, WordPart};

use super::expr::expr_after;
use super::lex::*;
use super::stmt::{Term, stmts};

/// Word parts under construction: adjacent literals with the same `quoted`
/// flag are merged.
#[derive(Default)]
pub(crate) struct Parts(pub Vec<WordPart>);

impl Parts {
    pub fn lit(&mut self, text: &str, quoted: bool) {
        if let Some(WordPart::Lit { text: t, quoted: q }) = self.0.last_mut()
            && *q == quoted
        {
            t.push_str(text);
            return;
        }
        self.0.push(WordPart::Lit {
            text: text.to_string(),
            quoted,
        });
    }

    /// Drop empty literals (from `''` or `""`) unless nothing else is left,
    /// merging the neighbours they separated.
    pub fn finish(self) -> Vec<WordPart> {
        let had_any = !self.0.is_empty();
        let mut out = Parts::default();
        for p in self.0 {
            match p {
                WordPart::Lit { text, quoted } => {
                    if !text.is_empty() {
                        out.lit(&text, quoted);
                    }
                }
                other => out.0.push(other),
            }
        }
        if out.0.is_empty() && had_any {
            out.0.push(WordPart::Lit {
                text: String::new(),
                quoted: true,
            });
        }
        super::tight(out.0)
    }
}

/// A character that ends an unquoted word (besides end of input, and the
/// `\r` of a `\r\n`: see [`crlf`]).
pub(crate) fn word_end(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | ';' | '|' | '&' | '<' | '>' | ')' | '{' | '}'
    )
}

/// Whether `i` is at the `\r` of a `\r\n` line end. A lone `\r` is
/// part of a word, as in sh (`ls\r` is a command not found), never a
/// blank that would silently join two lines of an old Mac file.
pub(crate) fn crlf(i: &In) -> bool {
    rest(i).as_bytes().starts_with(b"\r\n")
}

fn plain(c: char) -> bool {
    !word_end(c) && !matches!(c, '\'' | '"' | '$' | '\\' | '(' | '\r')
}

/// One command-mode word at `i`, or `None` when a word cannot start there.
/// Braces are not expanded (redirection targets, `NAME=value`, `export`).
pub(crate) fn word(i: In) -> PR<Option<Word>> {
    match word_impl(i, false)? {
        (j, Some(mut ws)) => Ok((j, ws.pop())),
        (j, None) => Ok((j, None)),
    }
}

/// The length of the user name at the start of `s` (`~name`): the
/// portable user-name characters, not starting with `-` or `.` (`~-` and
/// `~+` stay literal).
fn user_name_len(s: &str) -> usize {
    let b = s.as_bytes();
    if !b
        .first()
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        return 0;
    }
    b.iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        .count()
}

/// The words at `i` after brace expansion (one, unless the word has a
/// brace expression; none for `{,}`), or `None` when a word cannot start
/// there.
pub(crate) fn words(i: In) -> PR<Option<Vec<Word>>> {
    word_impl(i, true)
}

/// Whether a brace expression (not a block) starts at `i`.
pub(crate) fn brace_at(i: &In) -> bool {
    peek(i) == Some('{') && matches!(super::brace::scan(rest(i)), Ok(Some(_)) | Err(_))
}

fn word_impl(i: In, braces: bool) -> PR<Option<Vec<Word>>> {
    let start = i;
    let mut i = i;
    let mut parts = Parts::default();
    if peek(&i) == Some('~') {
        let j = adv(i, 1);
        let name = user_name_len(rest(&j));
        let k = adv(j, name);
        if peek(&k).is_none_or(|c| c == '/' || word_end(c)) || crlf(&k) {
            let user = (name > 0).then(|| rest(&j)[..name].to_string());
            parts.0.push(WordPart::Tilde { user });
            i = k;
        }
    }
    loop {
        match peek(&i) {
            None => break,
            Some('{') if braces && brace_at(&i) => return brace_word(start, i, parts),
            Some('{') if off(&i) != off(&start) => match super::brace::literal_len(rest(&i)) {
                Some(n) => {
                    parts.lit(&rest(&i)[..n], false);
                    i = adv(i, n);
                }
                None => break,
            },
            Some(c) if word_end(c) || crlf(&i) => break,
            Some('\r') => {
                parts.lit("\r", false);
                i = adv(i, 1);
            }
            Some('\'') => i = single_quoted(i, &mut parts)?,
            Some('"') => i = double_quoted(i, &mut parts)?,
            Some('$') => i = dollar_part(i, false, &mut parts)?,
            Some('\\') => match escaped(i, &mut parts)? {
                Some(j) => i = j,
                None => break,
            },
            Some('(') => {
                if off(&i) != off(&start) {
                    return fail(
                        &i,
                        "unexpected `(` inside a word (quote it, or write `${...}`)",
                    );
                }
                i = paren_part(i, &mut parts)?;
            }
            Some(_) => {
                let (j, text) = take_while_in(i, plain);
                parts.lit(text, false);
                i = j;
            }
        }
    }
    if off(&i) == off(&start) {
        return Ok((i, None));
    }
    let span = span(&start, &i);
    Ok((
        i,
        Some(vec![Word {
            parts: parts.finish(),
            span,
        }]),
    ))
}

/// The rest of a word from a brace expression at `i` on; `parts` is what
/// came before it. Outside braces the word reads as usual; inside, the
/// scan's marks are structure and other braces and commas are text.
#[inline(never)]
fn brace_word<'a>(start: In<'a>, i: In<'a>, parts: Parts) -> PR<'a, Option<Vec<Word>>> {
    use super::brace::{Seg, expand, scan};
    struct Level {
        alts: Vec<Vec<Seg>>,
        cur: Vec<Seg>,
    }
    fn flush(parts: &mut Parts, cur: &mut Vec<Seg>) {
        let p = std::mem::take(parts).0;
        if !p.is_empty() {
            cur.push(Seg::Parts(p));
        }
    }
    let too_many = |at: &In<'a>, n: usize| {
        fail(
            at,
            format!(
                "brace expansion makes {n} words, more than {} (use range() for long sequences)",
                super::brace::MAX_WORDS
            ),
        )
    };
    let mut parts = parts;
    let mut top: Vec<Seg> = Vec::new();
    let mut stack: Vec<Level> = Vec::new();
    // Absolute offsets of the current brace expression's structure.
    let mut marks: Vec<usize> = Vec::new();
    let mut ranges: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut i = i;
    loop {
        let at = off(&i);
        let c = peek(&i);
        if stack.is_empty() && c == Some('{') {
            match scan(rest(&i)) {
                Ok(Some(sc)) => {
                    marks = sc.marks.iter().map(|m| m + at).collect();
                    ranges = sc
                        .ranges
                        .into_iter()
                        .map(|(o, e, items)| (o + at, e + at, items))
                        .collect();
                }
                Ok(None) => break,
                Err(n) => return too_many(&i, n),
            }
        }
        let cur = match stack.last_mut() {
            Some(level) => &mut level.cur,
            None => &mut top,
        };
        if let Some(k) = ranges.iter().position(|r| r.0 == at) {
            let (_, end, items) = ranges.swap_remove(k);
            flush(&mut parts, cur);
            let alts = items
                .into_iter()
                .map(|t| {
                    vec![Seg::Parts(vec![WordPart::Lit {
                        text: t,
                        quoted: true,
                    }])]
                })
                .collect();
            cur.push(Seg::Alts(alts));
            i = adv(i, end + 1 - at);
            continue;
        }
        if marks.binary_search(&at).is_ok() {
            flush(&mut parts, cur);
            match c {
                Some('{') => stack.push(Level {
                    alts: Vec::new(),
                    cur: Vec::new(),
                }),
                Some(',') => {
                    if let Some(level) = stack.last_mut() {
                        let alt = std::mem::take(&mut level.cur);
                        level.alts.push(alt);
                    }
                }
                _ => {
                    if let Some(mut level) = stack.pop() {
                        level.alts.push(level.cur);
                        let seg = Seg::Alts(level.alts);
                        match stack.last_mut() {
                            Some(parent) => parent.cur.push(seg),
                            None => top.push(seg),
                        }
                    }
                }
            }
            i = adv(i, 1);
            continue;
        }
        let inside = !stack.is_empty();
        match c {
            None => break,
            Some(ch @ ('{' | '}' | ',')) if inside => {
                let mut buf = [0u8; 4];
                parts.lit(ch.encode_utf8(&mut buf), false);
                i = adv(i, 1);
            }
            Some(ch) if word_end(ch) || crlf(&i) => break,
            Some('\r') => {
                parts.lit("\r", false);
                i = adv(i, 1);
            }
            Some('\'') => i = single_quoted(i, &mut parts)?,
            Some('"') => i = double_quoted(i, &mut parts)?,
            Some('$') => i = dollar_part(i, false, &mut parts)?,
            Some('\\') => match escaped(i, &mut parts)? {
                Some(j) => i = j,
                None => break,
            },
            Some('(') => {
                return fail(
                    &i,
                    "unexpected `(` inside a word (quote it, or write `${...}`)",
                );
            }
            Some(_) => {
                let stop = |c: char| !plain(c) || (inside && matches!(c, '{' | '}' | ','));
                let (j, text) = take_while_in(i, |c| !stop(c));
                parts.lit(text, false);
                i = j;
            }
        }
    }
    flush(&mut parts, &mut top);
    let span = span(&start, &i);
    let expanded = match expand(&top) {
        Ok(e) => e,
        Err(n) => return too_many(&start, n),
    };
    let words = expanded
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut merged = Parts::default();
            for part in p {
                match part {
                    WordPart::Lit { text, quoted } => merged.lit(&text, quoted),
                    other => merged.0.push(other),
                }
            }
            Word {
                parts: merged.finish(),
                span,
            }
        })
        .collect();
    Ok((i, Some(words)))
}

/// A backslash escape in an unquoted word; `None` at a line continuation.
#[inline(never)]
fn escaped<'a>(i: In<'a>, parts: &mut Parts) -> Result<Option<In<'a>>, nom::Err<PErr>> {
    match peek2(&i) {
        None => expect(&i, "expected a character after `\\`").map(|(_, ())| None),
        Some('\n') => Ok(None),
        Some('\r') if rest(&i).as_bytes().get(2) == Some(&b'\n') => Ok(None),
        Some(c) => {
            let mut buf = [0u8; 4];
            parts.lit(c.encode_utf8(&mut buf), true);
            Ok(Some(adv(i, 1 + c.len_utf8())))
        }
    }
}

#[inline(never)]
fn paren_part<'a>(i: In<'a>, parts: &mut Parts) -> Result<In<'a>, nom::Err<PErr>> {
    let (j, e) = paren_expr(i)?;
    parts.0.push(WordPart::Expr {
        expr: e,
        quoted: false,
    });
    Ok(j)
}

/// `(EXPR)` at `i` (which is at the `(`): the inner expression.
pub(crate) fn paren_expr(i: In) -> PR<Expr> {
    let open = i;
    let i = spnl(adv(i, 1));
    let (i, e) = expr_after(i, true, "`(`")?;
    let i = spnl(i);
    if peek(&i) != Some(')') {
        return close_err(&i, ")", "(", &open);
    }
    Ok((adv(i, 1), e))
}

/// "expected `)` to close the `(` opened at line N" (or "unexpected X,
/// expected `)`..." when something else is there).
pub(crate) fn close_err<'a, T>(i: &In<'a>, close: &str, opener: &str, open: &In) -> PR<'a, T> {
    let line = open.location_line();
    match peek(i) {
        None => expect(
            i,
            format!("expected `{close}` to close the `{opener}` opened at line {line}"),
        ),
        Some(_) => {
            let tok = token_at(rest(i));
            let found = if tok == "\n" {
                "end of line".to_string()
            } else {
                format!("`{tok}`")
            };
            expect(
                i,
                format!(
                    "expected `{close}` to close the `{opener}` opened at line {line}, found {found}"
                ),
            )
        }
    }
}

/// The end of the input, for errors at end of input.
fn eof(i: In) -> In {
    let n = rest(&i).len();
    adv(i, n)
}

/// `'...'`: literal text, quoted.
pub(crate) fn single_quoted<'a>(i: In<'a>, parts: &mut Parts) -> Result<In<'a>, nom::Err<PErr>> {
    let body = adv(i, 1);
    match rest(&body).find('\'') {
        Some(n) => {
            parts.lit(&rest(&body)[..n], true);
            Ok(adv(body, n + 1))
        }
        None => expect(&eof(body), "unterminated string: expected a closing `'`").map(|(j, ())| j),
    }
}

/// `"..."`: quoted text with `$name`, `${expr}`, `$(...)` and escapes.
pub(crate) fn double_quoted<'a>(i: In<'a>, parts: &mut Parts) -> Result<In<'a>, nom::Err<PErr>> {
    let before = parts.0.len();
    let mut i = adv(i, 1);
    loop {
        match peek(&i) {
            None => {
                return expect(&i, "unterminated string: expected a closing `\"`").map(|(j, ())| j);
            }
            Some('"') => {
                i = adv(i, 1);
                break;
            }
            Some('\\') => i = dq_escape(i, parts)?,
            Some('$') => i = dollar_part(i, true, parts)?,
            Some(_) => {
                let (j, text) = take_while_in(i, |c| !matches!(c, '"' | '\\' | '$'));
                parts.lit(text, true);
                i = j;
            }
        }
    }
    if parts.0.len() == before {
        parts.0.push(WordPart::Lit {
            text: String::new(),
            quoted: true,
        });
    }
    Ok(i)
}

/// A backslash escape in double quotes at `i`: `\" \\ \$ \n \t \r \0 \a
/// \e \xHH \u{H..}` (and `\0NN` octal, for the common `"\033[0m"`); any
/// other backslash is literal. A run of `\xHH`
/// bytes must make UTF-8 text (`"\xc3\xa9"` is `é`): source strings are
/// text, and raw bytes are written with `printf`.
fn dq_escape<'a>(i: In<'a>, parts: &mut Parts) -> Result<In<'a>, nom::Err<PErr>> {
    let simple = match peek2(&i) {
        Some('"') => Some("\""),
        Some('\\') => Some("\\"),
        Some('$') => Some("$"),
        Some('n') => Some("\n"),
        Some('t') => Some("\t"),
        Some('r') => Some("\r"),
        Some('a') => Some("\x07"),
        Some('e') => Some("\x1b"),
        _ => None,
    };
    if let Some(text) = simple {
        parts.lit(text, true);
        return Ok(adv(i, 2));
    }
    match peek2(&i) {
        Some('0') => {
            // `\0` is NUL; `\0NN` (octal, as in `"\033[1m"`) up to 0o77.
            let s = rest(&i).as_bytes();
            let mut value = 0u8;
            let mut n = 2;
            while n < 4 && matches!(s.get(n), Some(b'0'..=b'7')) {
                value = value * 8 + (s[n] - b'0');
                n += 1;
            }
            let mut buf = [0u8; 4];
            parts.lit(char::from(value).encode_utf8(&mut buf), true);
            Ok(adv(i, n))
        }
        Some('x') => hex_bytes(i, parts),
        Some('u') => unicode_escape(i, parts),
        _ => {
            parts.lit("\\", true);
            Ok(adv(i, 1))
        }
    }
}

/// `\xHH` escapes in a row, at `i`: their bytes, which must be UTF-8.
#[inline(never)]
fn hex_bytes<'a>(i: In<'a>, parts: &mut Parts) -> Result<In<'a>, nom::Err<PErr>> {
    let start = i;
    let mut i = i;
    let mut bytes = Vec::new();
    while starts(&i, "\\x") {
        let s = rest(&i).as_bytes();
        let hex = |k: usize| s.get(k).and_then(|b| (*b as char).to_digit(16));
        let Some(hi) = hex(2) else {
            return fail(&i, "expected two hex digits after `\\x`").map(|(j, ())| j);
        };
        let (value, n) = match hex(3) {
            Some(lo) => (hi * 16 + lo, 4),
            None => (hi, 3),
        };
        bytes.push(value as u8);
        i = adv(i, n);
    }
    match String::from_utf8(bytes) {
        Ok(text) => {
            parts.lit(&text, true);
            Ok(i)
        }
        Err(_) => Err(nom::Err::Failure(PErr {
            pos: off(&start),
            len: off(&i) - off(&start),
            msg: "`\\x` escapes here do not make UTF-8 text (write a character as \\u{..}; \
                  raw bytes with printf)"
                .into(),
            cont: false,
        })),
    }
}

/// `\u{H..}` at `i`: one Unicode scalar value, 1 to 6 hex digits.
#[inline(never)]
fn unicode_escape<'a>(i: In<'a>, parts: &mut Parts) -> Result<In<'a>, nom::Err<PErr>> {
    let s = rest(&i);
    let Some(body) = s.strip_prefix("\\u{") else {
        return fail(&i, "expected `{` after `\\u` (as in `\\u{e9}`)").map(|(j, ())| j);
    };
    let Some(close) = body.find('}') else {
        return fail(&i, "expected `}` to close `\\u{`").map(|(j, ())| j);
    };
    let hex = &body[..close];
    let c = (1..=6)
        .contains(&hex.len())
        .then(|| u32::from_str_radix(hex, 16).ok())
        .flatten()
        .and_then(char::from_u32);
    let Some(c) = c else {
        return fail_len(
            &i,
            close + 4,
            format!("`\\u{{{hex}}}` is not a Unicode character"),
        )
        .map(|(j, ())| j);
    };
    let mut buf = [0u8; 4];
    parts.lit(c.encode_utf8(&mut buf), true);
    Ok(adv(i, close + 4))
}

/// What follows a `$`.
pub(crate) enum Dollar {
    Var(Ident),
    Expr(Expr),
    Capture(Block),
    /// A lone `$`: literal.
    Lit,
}

/// Parse at a `$`.
pub(crate) fn dollar(i: In) -> PR<Dollar> {
    let start = i;
    let j = adv(i, 1);
    match peek(&j) {
        Some('{') => dollar_brace(j),
        Some('(') => {
            let (k, body) = capture(start)?;
            Ok((k, Dollar::Capture(body)))
        }
        Some(c) if is_ident_start(c) => {
            let (k, name) = take_while_in(j, is_ident_char);
            Ok((
                k,
                Dollar::Var(Ident {
                    name: name.to_string(),
                    span: span(&j, &k),
                }),
            ))
        }
        _ => Ok((j, Dollar::Lit)),
    }
}

/// `{EXPR}` after a `$`, at the `{`.
#[inline(never)]
fn dollar_brace(open: In) -> PR<Dollar> {
    let k = spnl(adv(open, 1));
    let (k, e) = expr_after(k, true, "`${`")?;
    let k = spnl(k);
    if peek(&k) != Some('}') {
        return close_err(&k, "}", "${", &open);
    }
    Ok((adv(k, 1), Dollar::Expr(e)))
}

/// `$( statements )` at `i` (at the `$`).
pub(crate) fn capture(i: In) -> PR<Block> {
    let start = i;
    let open = adv(i, 1);
    let _g = enter(&open)?;
    let (k, body) = stmts(adv(open, 1), Term::Paren(open))?;
    // `stmts` returns only at the closing `)`.
    let k = adv(k, 1);
    Ok((
        k,
        Block {
            stmts: body,
            span: span(&start, &k),
        },
    ))
}

pub(crate) fn dollar_part<'a>(
    i: In<'a>,
    quoted: bool,
    parts: &mut Parts,
) -> Result<In<'a>, nom::Err<PErr>> {
    let (j, d) = dollar(i)?;
    match d {
        Dollar::Var(name) => parts.0.push(WordPart::Var { name, quoted }),
        Dollar::Expr(expr) => parts.0.push(WordPart::Expr { expr, quoted }),
        Dollar::Capture(body) => parts.0.push(WordPart::Capture { body, quoted }),
        Dollar::Lit => parts.lit("$", quoted),
    }
    Ok(j)
}

/// A `$` form in expression mode.
pub(crate) fn dollar_expr(i: In) -> PR<Expr> {
    let start = i;
    let (j, d) = dollar(i)?;
    let kind = match d {
        Dollar::Var(id) => ExprKind::Var(id),
        Dollar::Expr(e) => return Ok((j, e)),
        Dollar::Capture(b) => ExprKind::Capture(b),
        Dollar::Lit => return expect(&j, "expected a name, `{` or `(` after `$`"),
    };
    Ok((
        j,
        Expr {
            kind,
            span: span(&start, &j),
        },
    ))
}
