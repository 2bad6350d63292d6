//! Command mode: and-or lists, pipelines, commands and redirections.

use crate::ast::{AndOr, Command, Connector, Ident, Pipeline, RedirOp, Redirect, Word};

use super::lex::*;
use super::word::word;

/// `a && b || c &`. `what` names what precedes, for "expected a command
/// after ..." when nothing is there.
pub(crate) fn and_or<'a>(i: In<'a>, what: &str) -> PR<'a, AndOr> {
    let start = i;
    let (mut i, first) = pipeline(i, what)?;
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

/// `! a | b | c`
fn pipeline<'a>(i: In<'a>, what: &str) -> PR<'a, Pipeline> {
    let start = i;
    let mut i = i;
    let mut negated = false;
    if peek(&i) == Some('!') && matches!(peek2(&i), Some(' ' | '\t')) {
        negated = true;
        i = sp(adv(i, 1));
    }
    let (mut i, first) = command(i, if negated { "`!`" } else { what })?;
    let mut stages = vec![first];
    loop {
        let j = sp(i);
        if peek(&j) == Some('|') && peek2(&j) != Some('|') {
            let k = spnl(adv(j, 1));
            let (k, c) = command(k, "`|`")?;
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
    Ok((
        k,
        Some(Redirect {
            op,
            target: Some(w),
            span: span(&start, &k),
        }),
    ))
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
        match word(j)? {
            (k, Some(w)) => {
                words.push(w);
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
