//! Command mode: and-or lists, pipelines, commands and redirections.

use crate::ast::{
    AndOr, Command, Compound, Connector, Ident, Pipeline, RedirOp, Redirect, Stage, Stmt, Word,
    WordPart,
};

use super::lex;
use super::lex::*;
use super::word::{Parts, brace_at, dollar_part, word};

/// `a && b || c &`. `what` names what precedes, for "expected a command
/// after ..." when nothing is there.
pub(crate) fn and_or<'a>(i: In<'a>, what: &str) -> PR<'a, AndOr> {
    and_or_from(i, i, None, what)
}

/// An and-or list starting at `start`, whose first stage may have been
/// parsed already (a compound statement found to be piped or redirected;
/// `i` is after it).
pub(crate) fn and_or_from<'a>(
    start: In<'a>,
    i: In<'a>,
    first_stage: Option<Stage>,
    what: &str,
) -> PR<'a, AndOr> {
    let (mut i, first) = pipeline_from(start, i, first_stage, what)?;
    let mut rest_ = Vec::new();
    let mut background = false;
    loop {
        let j = sp(i);
        let (conn, op) = if starts(&j, "&&") {
            (Connector::And, "`&&`")
        } else if starts(&j, "||") {
            (Connector::Or, "`||`")
        } else {
            if peek(&j) == Some('&') && !starts(&j, "&>") {
                background = true;
                i = adv(j, 1);
            }
            break;
        };
        let k = spnl(adv(j, 2));
        let (k, p) = pipeline(k, op)?;
        rest_.push((conn, p));
        i = k;
    }
    Ok((
        i,
        AndOr {
            first,
            rest: rest_,
            background,
            span: span(&start, &i),
        },
    ))
}

fn pipeline<'a>(i: In<'a>, what: &str) -> PR<'a, Pipeline> {
    pipeline_from(i, i, None, what)
}

/// `! a | b | c`
fn pipeline_from<'a>(
    start: In<'a>,
    i: In<'a>,
    first_stage: Option<Stage>,
    what: &str,
) -> PR<'a, Pipeline> {
    let mut i = i;
    let mut negated = false;
    let first = match first_stage {
        Some(st) => st,
        None => {
            if peek(&i) == Some('!') && matches!(peek2(&i), Some(' ' | '\t')) {
                negated = true;
                i = sp(adv(i, 1));
            }
            let (j, first) = stage(i, if negated { "`!`" } else { what })?;
            i = j;
            first
        }
    };
    let mut stages = vec![first];
    loop {
        let j = sp(i);
        if peek(&j) == Some('|') && peek2(&j) != Some('|') {
            let k = spnl(adv(j, 1));
            let (k, c) = stage(k, "`|`")?;
            stages.push(c);
            i = k;
        } else {
            break;
        }
    }
    Ok((
        i,
        Pipeline {
            negated,
            stages,
            span: span(&start, &i),
        },
    ))
}

/// One stage: a command, or a compound statement (`while`, `for`, `if`,
/// `{ }`) with its redirections.
fn stage<'a>(i: In<'a>, what: &str) -> PR<'a, Stage> {
    let compound = match keyword_at(i) {
        Some((_, "while" | "for" | "if")) => true,
        _ => peek(&i) == Some('{') && !brace_at(&i),
    };
    if !compound {
        let (j, c) = command(i, what)?;
        return Ok((j, Stage::Command(c)));
    }
    let (j, body) = super::stmt::compound_stmt(i)?;
    let (j, redirects) = stage_redirects(j)?;
    Ok((
        j,
        Stage::Compound(Compound {
            body: Box::new(body),
            redirects,
            span: span(&i, &j),
        }),
    ))
}

/// The redirections written after a compound stage.
pub(crate) fn stage_redirects(i: In) -> PR<Vec<Redirect>> {
    let mut out = Vec::new();
    let mut i = i;
    loop {
        let j = sp(i);
        match redirect(j)? {
            (k, Some(r)) => {
                out.push(r);
                i = k;
            }
            (_, None) => return Ok((i, out)),
        }
    }
}

/// Whether what follows a statement at `i` makes it a pipeline stage: a
/// `|`, a redirection, `&&`, `||` or `&`.
pub(crate) fn stage_follows(i: &In) -> bool {
    match peek(i) {
        Some('|') => true,
        Some('&') => true,
        _ => redir_op(i).is_some(),
    }
}

/// A statement already parsed at `start` (up to `i`) that is followed by a
/// pipe, a redirection or `&&`/`||`/`&`: the command line it starts.
pub(crate) fn compound_line<'a>(start: In<'a>, i: In<'a>, body: Stmt) -> PR<'a, AndOr> {
    let (j, redirects) = stage_redirects(i)?;
    let stage = Stage::Compound(Compound {
        body: Box::new(body),
        redirects,
        span: span(&start, &j),
    });
    and_or_from(start, j, Some(stage), "")
}

/// A redirection operator at `i`: the op, its length, and whether it takes
/// a file name.
fn redir_op(i: &In) -> Option<(RedirOp, usize)> {
    let s = rest(i).as_bytes();
    let digit = |k: usize| match s.get(k) {
        Some(d @ b'0'..=b'9') => Some(d - b'0'),
        _ => None,
    };
    match s {
        [b'&', b'>', b'>', ..] => Some((RedirOp::AppendAll, 3)),
        [b'&', b'>', ..] => Some((RedirOp::WriteAll, 2)),
        [b'<', b'<', b'<', ..] => Some((RedirOp::Here, 3)),
        [b'<', b'<', b'-', ..] => Some((RedirOp::Here, 3)),
        [b'<', b'<', ..] => Some((RedirOp::Here, 2)),
        [b'<', ..] => Some((RedirOp::Read, 1)),
        [b'>', b'>', ..] => Some((RedirOp::Append(1), 2)),
        [b'>', b'&', ..] => digit(2).map(|to| (RedirOp::Dup { fd: 1, to }, 3)),
        [b'>', ..] => Some((RedirOp::Write(1), 1)),
        [fd @ (b'1' | b'2'), b'>', b'>', ..] => Some((RedirOp::Append(fd - b'0'), 3)),
        [fd @ (b'1' | b'2'), b'>', b'&', ..] => {
            digit(3).map(|to| (RedirOp::Dup { fd: fd - b'0', to }, 4))
        }
        [fd @ (b'1' | b'2'), b'>', ..] => Some((RedirOp::Write(fd - b'0'), 2)),
        _ => None,
    }
}

fn redirect(i: In) -> PR<Option<Redirect>> {
    let start = i;
    let Some((op, n)) = redir_op(&i) else {
        if starts(&i, ">&") || starts(&i, "1>&") || starts(&i, "2>&") {
            let k = rest(&i).find('&').map_or(0, |k| k + 1);
            return fail(
                &adv(i, k),
                "expected a file descriptor digit after `>&` (as in `2>&1`)",
            );
        }
        return Ok((i, None));
    };
    let opstr = &rest(&i)[..n];
    let j = adv(i, n);
    if op == RedirOp::Here && opstr != "<<<" {
        return heredoc(start, j, opstr == "<<-");
    }
    if let RedirOp::Dup { .. } = op {
        return Ok((
            j,
            Some(Redirect {
                op,
                target: None,
                span: span(&start, &j),
            }),
        ));
    }
    let k = sp(j);
    let (k, w) = match word(k) {
        Ok((k, Some(w))) => (k, w),
        Ok(_) => {
            return fail(&k, format!("expected a file name after `{opstr}`"));
        }
        Err(e) => return Err(e),
    };
    let w = if op == RedirOp::Here {
        // `<<< word`: the word and a newline, as in bash.
        let mut w = w;
        w.parts.push(WordPart::Lit {
            text: "\n".into(),
            quoted: true,
        });
        w
    } else {
        w
    };
    Ok((
        k,
        Some(Redirect {
            op,
            target: Some(w),
            span: span(&start, &k),
        }),
    ))
}

/// A here-document: `<<EOF` (its body interpolated like a `"..."` string,
/// where only `\$`, `\\` and backslash-newline are escapes), `<<'EOF'` or
/// `<<"EOF"` (literal), `<<-EOF` (leading tabs removed from each line and
/// from the terminator). `j` is after the operator. The body is on the
/// lines after the rest of the command's line; it is registered so that
/// the newline ending that line skips it (`lex::newline`).
#[inline(never)]
fn heredoc<'a>(start: In<'a>, j: In<'a>, strip_tabs: bool) -> PR<'a, Option<Redirect>> {
    let k = sp(j);
    let (after, delim) = match word(k)? {
        (after, Some(w)) => (after, w),
        (_, None) => return fail(&k, "expected a here-document delimiter after `<<`"),
    };
    let mut tag = String::new();
    let mut literal = false;
    for p in &delim.parts {
        match p {
            WordPart::Lit { text, quoted } => {
                tag.push_str(text);
                literal |= *quoted;
            }
            _ => {
                return fail(
                    &k,
                    "a here-document delimiter must be written literally (no `$` or `~`)",
                );
            }
        }
    }
    let opened = start.location_line();
    let op_at = off(&start);
    let known = start
        .extra
        .heredocs
        .borrow()
        .iter()
        .find(|h| h.op == op_at)
        .copied();
    let line_rest = rest(&after);
    let Some(nl) = line_rest.find('\n').map(|n| n + off(&after)) else {
        return expect(
            &eof_of(after),
            format!("expected the here-document body on the lines after `<<{tag}`"),
        );
    };
    let body_start = known.map_or_else(
        || {
            start
                .extra
                .heredocs
                .borrow()
                .iter()
                .filter(|h| h.newline == nl)
                .map(|h| h.end)
                .max()
                .unwrap_or(nl + 1)
        },
        |h| h.start,
    );
    // Walk the body line by line from its start (ahead of `after`).
    let mut i = adv(after, body_start - off(&after));
    let mut parts = Parts::default();
    loop {
        if peek(&i).is_none() {
            return expect(
                &i,
                format!("expected `{tag}` to end the here-document opened at line {opened}"),
            );
        }
        if strip_tabs {
            i = take_while_in(i, |c| c == '\t').0;
        }
        let line = rest(&i).split('\n').next().unwrap_or("");
        if line.strip_suffix('\r').unwrap_or(line) == tag {
            i = adv(i, (line.len() + 1).min(rest(&i).len()));
            break;
        }
        i = if literal {
            let n = (line.len() + 1).min(rest(&i).len());
            parts.lit(&rest(&i)[..n], true);
            adv(i, n)
        } else {
            heredoc_line(i, &mut parts)?
        };
    }
    let end = off(&i);
    if known.is_none() {
        start.extra.heredocs.borrow_mut().push(lex::HereBody {
            op: op_at,
            newline: nl,
            start: body_start,
            end,
        });
    }
    let mut body = parts.0;
    if body.is_empty() {
        body.push(WordPart::Lit {
            text: String::new(),
            quoted: true,
        });
    }
    Ok((
        after,
        Some(Redirect {
            op: RedirOp::Here,
            target: Some(Word {
                parts: body,
                span: span(&k, &after),
            }),
            span: span(&start, &after),
        }),
    ))
}

/// One line of an interpolated here-document body, with its newline.
fn heredoc_line<'a>(i: In<'a>, parts: &mut Parts) -> Result<In<'a>, nom::Err<PErr>> {
    let mut i = i;
    loop {
        match peek(&i) {
            None => return Ok(i),
            Some('\n') => {
                parts.lit("\n", true);
                return Ok(adv(i, 1));
            }
            Some('\\') => match peek2(&i) {
                Some(c @ ('$' | '\\' | '`')) => {
                    let mut buf = [0u8; 4];
                    parts.lit(c.encode_utf8(&mut buf), true);
                    i = adv(i, 2);
                }
                Some('\n') => i = adv(i, 2),
                _ => {
                    parts.lit("\\", true);
                    i = adv(i, 1);
                }
            },
            Some('$') => i = dollar_part(i, true, parts)?,
            Some(_) => {
                let (j, text) = take_while_in(i, |c| !matches!(c, '\n' | '\\' | '$'));
                parts.lit(text, true);
                i = j;
            }
        }
    }
}

fn eof_of(i: In) -> In {
    let n = rest(&i).len();
    adv(i, n)
}

/// `NAME=` at `i`: the name and the input after the `=`.
fn env_prefix(i: In) -> Option<(In, Ident)> {
    let (j, name) = ident_at(i)?;
    if peek(&j) != Some('=') {
        return None;
    }
    Some((
        adv(j, 1),
        Ident {
            name: name.to_string(),
            span: span(&i, &j),
        },
    ))
}

/// `NAME=value ... words ... redirections`
pub(crate) fn command<'a>(i: In<'a>, what: &str) -> PR<'a, Command> {
    let start = i;
    let mut env: Vec<(Ident, Word)> = Vec::new();
    let mut words = Vec::new();
    let mut redirects = Vec::new();
    let mut i = i;
    loop {
        let j = if off(&i) == off(&start) { i } else { sp(i) };
        match peek(&j) {
            Some('{') if brace_at(&j) => {}
            None | Some('\n' | ';' | '|' | ')' | '{' | '}') => break,
            Some('&') if !starts(&j, "&>") => break,
            _ => {}
        }
        if let (k, Some(r)) = redirect(j)? {
            redirects.push(r);
            i = k;
            continue;
        }
        if words.is_empty()
            && let Some((k, name)) = env_prefix(j)
        {
            i = env_value(k, name, &mut env)?;
            continue;
        }
        match super::word::words(j)? {
            (k, Some(ws)) => {
                words.extend(ws);
                i = k;
            }
            (_, None) => return unexpected(&j),
        }
    }
    if words.is_empty() {
        return no_words(i, what, !env.is_empty(), !redirects.is_empty());
    }
    Ok((
        i,
        Command {
            env,
            words,
            redirects,
            span: span(&start, &i),
        },
    ))
}

#[inline(never)]
fn env_value<'a>(
    k: In<'a>,
    name: Ident,
    env: &mut Vec<(Ident, Word)>,
) -> Result<In<'a>, nom::Err<PErr>> {
    let (j, w) = word(k)?;
    let w = w.unwrap_or(Word {
        parts: Vec::new(),
        span: span(&k, &k),
    });
    env.push((name, w));
    Ok(j)
}

/// The error for a command without a word.
#[inline(never)]
fn no_words<'a>(i: In<'a>, what: &str, has_env: bool, has_redirects: bool) -> PR<'a, Command> {
    let j = sp(i);
    if has_env {
        return fail(
            &j,
            "expected a command after `NAME=value` (to assign a variable write `NAME = value`)",
        );
    }
    if !has_redirects && what.is_empty() {
        return match peek(&j) {
            None | Some('\n' | ';') => expect(&j, "expected a command"),
            _ => unexpected(&j),
        };
    }
    if what.is_empty() || has_redirects {
        return expect(&j, "expected a command");
    }
    expect(&j, format!("expected a command after {what}"))
}
