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
        out.0
    }
}

/// A character that ends an unquoted word (besides end of input).
pub(crate) fn word_end(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | ';' | '|' | '&' | '<' | '>' | ')' | '{' | '}'
    )
}

fn plain(c: char) -> bool {
    !word_end(c) && !matches!(c, '\'' | '"' | '$' | '\\' | '(')
}

/// One command-mode word at `i`, or `None` when a word cannot start there.
pub(crate) fn word(i: In) -> PR<Option<Word>> {
    let start = i;
    let mut i = i;
    let mut parts = Parts::default();
    if peek(&i) == Some('~') {
        let j = adv(i, 1);
        match peek(&j) {
            None | Some('/') => {
                parts.0.push(WordPart::Tilde);
                i = j;
            }
            Some(c) if word_end(c) => {
                parts.0.push(WordPart::Tilde);
                i = j;
            }
            _ => {}
        }
    }
    loop {
        match peek(&i) {
            None => break,
            Some(c) if word_end(c) => break,
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
        Some(Word {
            parts: parts.finish(),
            span,
        }),
    ))
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
            Some('\\') => {
                let (esc, n) = match peek2(&i) {
                    Some('"') => ("\"", 2),
                    Some('\\') => ("\\", 2),
                    Some('$') => ("$", 2),
                    Some('n') => ("\n", 2),
                    Some('t') => ("\t", 2),
                    _ => ("\\", 1),
                };
                parts.lit(esc, true);
                i = adv(i, n);
            }
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

fn dollar_part<'a>(i: In<'a>, quoted: bool, parts: &mut Parts) -> Result<In<'a>, nom::Err<PErr>> {
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
