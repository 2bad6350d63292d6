//! Expression mode: a precedence-climbing parser, plus the keyword
//! expressions (`await`, `spawn`, `gather`, `race`, `timeout`, `sleep`,
//! `cancel`, `async`, `fn`).

use crate::ast::{
    BinaryOp, Body, Branch, Expr, ExprKind, FnDef, GatherOpts, Ident, UnaryOp, WordPart,
};

use super::command::and_or;
use super::lex::*;
use super::stmt::{block, params};
use super::word::{Parts, close_err, dollar_expr, double_quoted, single_quoted};

const GENERIC: &str = "expected an expression";

/// An expression, newlines being blanks when `nl` (inside brackets).
pub(crate) fn expr(i: In, nl: bool) -> PR<Expr> {
    let _g = enter(&i)?;
    binary(i, nl, 0)
}

/// An expression; if none starts at `i`, "expected an expression after
/// WHAT".
pub(crate) fn expr_after<'a>(i: In<'a>, nl: bool, what: &str) -> PR<'a, Expr> {
    let at = off(&i);
    match expr(i, nl) {
        Err(nom::Err::Failure(mut e)) if e.pos == at && e.msg == GENERIC => {
            e.msg = format!("expected an expression after {what}");
            Err(nom::Err::Failure(e))
        }
        r => r,
    }
}

fn binop(i: &In) -> Option<(BinaryOp, usize, u8)> {
    let s = rest(i);
    let two = |op| Some((op, 2, 4));
    if s.starts_with("==") {
        return two(BinaryOp::Eq);
    }
    if s.starts_with("!=") {
        return two(BinaryOp::Ne);
    }
    if s.starts_with("<=") {
        return two(BinaryOp::Le);
    }
    if s.starts_with(">=") {
        return two(BinaryOp::Ge);
    }
    let c = s.chars().next()?;
    let r = match c {
        '<' => (BinaryOp::Lt, 1, 4),
        '>' => (BinaryOp::Gt, 1, 4),
        '+' => (BinaryOp::Add, 1, 5),
        '-' => (BinaryOp::Sub, 1, 5),
        '*' if s.starts_with("**") => return None,
        '*' => (BinaryOp::Mul, 1, 6),
        '/' if s.starts_with("//") => (BinaryOp::FloorDiv, 2, 6),
        '/' => (BinaryOp::Div, 1, 6),
        '%' => (BinaryOp::Rem, 1, 6),
        _ => {
            if let Some((_, w)) = ident_at(*i) {
                return match w {
                    "and" => Some((BinaryOp::And, 3, 2)),
                    "or" => Some((BinaryOp::Or, 2, 1)),
                    _ => None,
                };
            }
            return None;
        }
    };
    Some(r)
}

fn op_text(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "`+`",
        BinaryOp::Sub => "`-`",
        BinaryOp::Mul => "`*`",
        BinaryOp::Div => "`/`",
        BinaryOp::FloorDiv => "`//`",
        BinaryOp::Rem => "`%`",
        BinaryOp::Pow => "`**`",
        BinaryOp::Eq => "`==`",
        BinaryOp::Ne => "`!=`",
        BinaryOp::Lt => "`<`",
        BinaryOp::Le => "`<=`",
        BinaryOp::Gt => "`>`",
        BinaryOp::Ge => "`>=`",
        BinaryOp::And => "`and`",
        BinaryOp::Or => "`or`",
    }
}

/// Precedence levels: or 1, and 2, not 3, comparisons 4, `+ -` 5,
/// `* / // %` 6; then unary minus, and `**` (right to left, tighter than
/// a minus on its left: `-2 ** 2` is -4, as in Python).
fn binary(i: In, nl: bool, min: u8) -> PR<Expr> {
    let (i, lhs) = if min <= 3
        && let Some((j, "not")) = ident_at(i)
    {
        not_expr(i, j, nl)?
    } else {
        unary(i, nl)?
    };
    binary_from(i, lhs, nl, min)
}

/// The operators after an operand already parsed (`lhs`, ending at `i`).
pub(crate) fn binary_from(i: In, lhs: Expr, nl: bool, min: u8) -> PR<Expr> {
    let mut i = i;
    let mut lhs = lhs;
    let mut links = 0;
    loop {
        let j = ws(i, nl);
        let Some((op, n, prec)) = binop(&j) else {
            break;
        };
        if prec < min {
            break;
        }
        chain_link(&j)?;
        links += 1;
        let (k, e) = binary_rhs(lhs, adv(j, n), op, prec, nl)?;
        lhs = e;
        i = k;
    }
    chain_done(&i, links);
    Ok((i, lhs))
}

#[inline(never)]
fn binary_rhs(lhs: Expr, j: In, op: BinaryOp, prec: u8, nl: bool) -> PR<Expr> {
    let k = ws(j, nl);
    let (k, rhs) = with_context(binary(k, nl, prec + 1), off(&k), op_text(op))?;
    let span = lhs.span.to(span(&k, &k));
    Ok((
        k,
        Expr {
            span,
            kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
        },
    ))
}

/// `not EXPR` (binding looser than comparisons); `j` is after `not`.
#[inline(never)]
fn not_expr<'a>(start: In<'a>, j: In<'a>, nl: bool) -> PR<'a, Expr> {
    let _g = enter(&start)?;
    let j = ws(j, nl);
    // `not not x`, as in Python: the operand may itself be a `not`.
    let (j, operand) = match ident_at(j) {
        Some((k, "not")) => not_expr(j, k, nl)?,
        _ => with_context(binary(j, nl, 4), off(&j), "`not`")?,
    };
    Ok((
        j,
        Expr {
            span: span(&start, &j),
            kind: ExprKind::Unary(UnaryOp::Not, Box::new(operand)),
        },
    ))
}

/// Replace a generic "expected an expression" at `at` by one naming what
/// it follows.
fn with_context<'a, T>(r: PR<'a, T>, at: usize, what: &str) -> PR<'a, T> {
    match r {
        Err(nom::Err::Failure(mut e)) if e.pos == at && e.msg == GENERIC => {
            e.msg = format!("expected an expression after {what}");
            Err(nom::Err::Failure(e))
        }
        r => r,
    }
}

/// Unary minus, then a postfix expression.
pub(crate) fn unary(i: In, nl: bool) -> PR<Expr> {
    let _g = enter(&i)?;
    if peek(&i) == Some('-') {
        return neg(i, nl);
    }
    let (j, e) = primary(i, nl)?;
    let (j, e) = postfix(j, e)?;
    power(j, e, nl)
}

/// `BASE ** EXPONENT` after a postfix expression `e` ending at `i`; the
/// exponent may be negated (`2 ** -1`) and is itself a power (`2 ** 3 **
/// 2` is `2 ** 9`).
fn power(i: In, e: Expr, nl: bool) -> PR<Expr> {
    let j = ws(i, nl);
    if !starts(&j, "**") {
        return Ok((i, e));
    }
    chain_link(&j)?;
    let k = ws(adv(j, 2), nl);
    let r = with_context(unary(k, nl), off(&k), "`**`");
    chain_done(&j, 1);
    let (k, rhs) = r?;
    let span = e.span.to(span(&k, &k));
    Ok((
        k,
        Expr {
            span,
            kind: ExprKind::Binary(BinaryOp::Pow, Box::new(e), Box::new(rhs)),
        },
    ))
}

#[inline(never)]
fn neg(start: In, nl: bool) -> PR<Expr> {
    let j = adv(start, 1);
    if peek(&j).is_some_and(|c| c.is_ascii_digit()) {
        let (k, e) = number(j, true, start)?;
        let (k, e) = postfix(k, e)?;
        if starts(&ws(k, nl), "**") {
            // `-2 ** 2` is `-(2 ** 2)`.
            let (k2, e2) = number(j, false, j)?;
            let (k2, e2) = postfix(k2, e2)?;
            let (k2, p) = power(k2, e2, nl)?;
            return Ok((
                k2,
                Expr {
                    span: span(&start, &k2),
                    kind: ExprKind::Unary(UnaryOp::Neg, Box::new(p)),
                },
            ));
        }
        return Ok((k, e));
    }
    let j = ws(j, nl);
    let (j, operand) = with_context(unary(j, nl), off(&j), "`-`")?;
    Ok((
        j,
        Expr {
            span: span(&start, &j),
            kind: ExprKind::Unary(UnaryOp::Neg, Box::new(operand)),
        },
    ))
}

/// `[EXPR]`, `.NAME` and `(ARGS)` written directly after an expression.
pub(crate) fn postfix(mut i: In, mut e: Expr) -> PR<Expr> {
    let mut links = 0;
    loop {
        if matches!(peek(&i), Some('[' | '('))
            || (peek(&i) == Some('.') && peek2(&i).is_some_and(is_ident_start))
        {
            chain_link(&i)?;
            links += 1;
        }
        let (j, next) = match peek(&i) {
            Some('[') => index(i, e)?,
            Some('.') if peek2(&i).is_some_and(is_ident_start) => field(i, e),
            Some('(') => call(i, e)?,
            _ => break,
        };
        i = j;
        e = next;
    }
    chain_done(&i, links);
    Ok((i, e))
}

#[inline(never)]
fn index(open: In, e: Expr) -> PR<Expr> {
    let j = spnl(adv(open, 1));
    if peek(&j) == Some(':') {
        return slice(open, e, j, None);
    }
    let (j, idx) = expr_after(j, true, "`[`")?;
    let j = spnl(j);
    if peek(&j) == Some(':') {
        return slice(open, e, j, Some(idx));
    }
    if peek(&j) != Some(']') {
        return close_err(&j, "]", "[", &open);
    }
    let j = adv(j, 1);
    Ok((
        j,
        Expr {
            span: e.span.to(span(&j, &j)),
            kind: ExprKind::Index(Box::new(e), Box::new(idx)),
        },
    ))
}

/// `[start:end]` or `[start:end:step]`, each part optional; `j` is at the
/// first `:`.
#[inline(never)]
fn slice<'a>(open: In<'a>, e: Expr, j: In<'a>, start: Option<Expr>) -> PR<'a, Expr> {
    let mut bounds: Vec<Option<Box<Expr>>> = vec![start.map(Box::new)];
    let mut j = j;
    while peek(&j) == Some(':') && bounds.len() < 3 {
        let k = spnl(adv(j, 1));
        if matches!(peek(&k), Some(':' | ']')) {
            bounds.push(None);
            j = k;
            continue;
        }
        let (k, b) = expr_after(k, true, "`:`")?;
        bounds.push(Some(Box::new(b)));
        j = spnl(k);
    }
    if peek(&j) != Some(']') {
        return close_err(&j, "]", "[", &open);
    }
    let j = adv(j, 1);
    let mut it = bounds.into_iter();
    let start = it.next().flatten();
    let end = it.next().flatten();
    let step = it.next().flatten();
    Ok((
        j,
        Expr {
            span: e.span.to(span(&j, &j)),
            kind: ExprKind::Slice {
                target: Box::new(e),
                start,
                end,
                step,
            },
        },
    ))
}

#[inline(never)]
fn field(i: In, e: Expr) -> (In, Expr) {
    let j = adv(i, 1);
    let (k, name) = take_while_in(j, is_ident_char);
    let id = Ident {
        name: name.to_string(),
        span: span(&j, &k),
    };
    (
        k,
        Expr {
            span: e.span.to(span(&k, &k)),
            kind: ExprKind::Field(Box::new(e), id),
        },
    )
}

#[inline(never)]
fn call(i: In, e: Expr) -> PR<Expr> {
    let (j, args) = list_items(i, ')', "(", "argument")?;
    Ok((
        j,
        Expr {
            span: e.span.to(span(&j, &j)),
            kind: ExprKind::Call(Box::new(e), args),
        },
    ))
}

/// Comma-separated expressions from the opener at `i` to `close`; newlines
/// are blanks; a trailing comma is allowed.
fn list_items<'a>(i: In<'a>, close: char, opener: &str, what: &str) -> PR<'a, Vec<Expr>> {
    let _g = enter(&i)?;
    let open = i;
    let mut i = spnl(adv(i, 1));
    let mut items = Vec::new();
    loop {
        if peek(&i) == Some(close) {
            return Ok((adv(i, 1), super::tight(items)));
        }
        let (j, e) = match expr(i, true) {
            Err(nom::Err::Failure(e)) if e.pos == off(&i) && e.msg == GENERIC => {
                return close_err(&i, &close.to_string(), opener, &open);
            }
            r => r?,
        };
        items.push(e);
        let j = spnl(j);
        match peek(&j) {
            Some(',') => i = spnl(adv(j, 1)),
            Some(c) if c == close => i = j,
            _ => {
                let _ = what;
                return close_err(&j, &close.to_string(), opener, &open);
            }
        }
    }
}

/// `{key: value, ...}` at `i`.
fn map(i: In) -> PR<Expr> {
    let _g = enter(&i)?;
    let open = i;
    let mut i = spnl(adv(i, 1));
    let mut entries = Vec::new();
    loop {
        if peek(&i) == Some('}') {
            let j = adv(i, 1);
            return Ok((
                j,
                Expr {
                    kind: ExprKind::Map(entries),
                    span: span(&open, &j),
                },
            ));
        }
        let kstart = i;
        let (j, key) = match peek(&i) {
            Some('"' | '\'') => string(i)?,
            Some('(') => super::word::paren_expr(i)?,
            Some(c) if is_ident_start(c) => {
                let (j, name) = take_while_in(i, is_ident_char);
                (
                    j,
                    Expr {
                        kind: ExprKind::Str(vec![WordPart::Lit {
                            text: name.to_string(),
                            quoted: true,
                        }]),
                        span: span(&kstart, &j),
                    },
                )
            }
            None => return close_err(&i, "}", "{", &open),
            Some(_) => {
                return fail(
                    &i,
                    "expected a map key (a name, a string or `(expr)`) or `}`",
                );
            }
        };
        let j = spnl(j);
        if peek(&j) != Some(':') {
            return expect(&j, "expected `:` after the map key");
        }
        let j = spnl(adv(j, 1));
        let (j, v) = expr_after(j, true, "`:`")?;
        entries.push((key, v));
        let j = spnl(j);
        match peek(&j) {
            Some(',') => i = spnl(adv(j, 1)),
            Some('}') => i = j,
            _ => return close_err(&j, "}", "{", &open),
        }
    }
}

/// A string literal `"..."` or `'...'`.
fn string(i: In) -> PR<Expr> {
    let start = i;
    let mut parts = Parts::default();
    let j = if peek(&i) == Some('"') {
        double_quoted(i, &mut parts)?
    } else {
        single_quoted(i, &mut parts)?
    };
    if parts.0.is_empty() {
        parts.lit("", true);
    }
    Ok((
        j,
        Expr {
            kind: ExprKind::Str(parts.0),
            span: span(&start, &j),
        },
    ))
}

/// A number, integer, float or duration, at `i` (a digit). `neg`: a `-`
/// was written before it, at `start`.
///
/// The numeral's shape is nom combinators: digits, then an optional
/// fraction (a `.` followed by digits: `1.` and `1.x` stay an int and a
/// suffix) and an optional exponent (digits required, else the `e` is a
/// suffix). The suffix is read whole by hand, so that a wrong one is named
/// in the error.
fn number<'a>(i: In<'a>, neg: bool, start: In<'a>) -> PR<'a, Expr> {
    use nom::Parser;
    use nom::character::complete::{char, digit1, one_of};
    use nom::combinator::{consumed, opt};
    let fraction = (char('.'), digit1);
    let exponent = (one_of("eE"), opt(one_of("+-")), digit1);
    let (j, (text, (_, fraction, exponent))) =
        consumed((digit1, opt(fraction), opt(exponent))).parse(i)?;
    let text = *text.fragment();
    let float = fraction.is_some() || exponent.is_some();
    let (k, suffix) = take_while_in(j, is_ident_char);
    let unit = match suffix {
        "" => None,
        "ms" => Some(0.001),
        "s" => Some(1.0),
        "m" => Some(60.0),
        "h" => Some(3600.0),
        _ => {
            return fail(
                &j,
                format!("invalid number suffix `{suffix}` (durations use ms, s, m or h)"),
            );
        }
    };
    let sign = if neg { "-" } else { "" };
    let kind = if unit.is_some() || float {
        let v: f64 = match format!("{sign}{text}").parse() {
            Ok(v) => v,
            Err(_) => return fail(&i, "invalid number"),
        };
        match unit {
            Some(u) => ExprKind::Duration(v * u),
            None => ExprKind::Float(v),
        }
    } else {
        match format!("{sign}{text}").parse::<i64>() {
            Ok(v) => ExprKind::Int(v),
            Err(_) => {
                return Err(nom::Err::Failure(PErr {
                    pos: off(&start),
                    len: off(&k) - off(&start),
                    msg: "integer literal too large".into(),
                    cont: false,
                }));
            }
        }
    };
    Ok((
        k,
        Expr {
            kind,
            span: span(&start, &k),
        },
    ))
}

fn mk(kind: ExprKind, a: &In, b: &In) -> Expr {
    Expr {
        kind,
        span: span(a, b),
    }
}

/// A primary expression (no postfix). Each arm is its own function so the
/// frames on the recursive path stay small.
pub(crate) fn primary(i: In, nl: bool) -> PR<Expr> {
    match peek(&i) {
        Some('(') => super::word::paren_expr(i),
        Some('[') => list(i),
        Some('{') => map(i),
        Some('"' | '\'') => string(i),
        Some('$') => dollar_expr(i),
        Some(c) if c.is_ascii_digit() => number(i, false, i),
        Some(c) if is_ident_start(c) => name_expr(i, nl),
        None | Some('\n' | ';' | '}' | ')' | ']' | ',') => expect(&i, GENERIC),
        Some(_) => no_expr(i),
    }
}

#[inline(never)]
fn list(i: In) -> PR<Expr> {
    let (j, items) = list_items(i, ']', "[", "element")?;
    Ok((j, mk(ExprKind::List(items), &i, &j)))
}

#[inline(never)]
fn no_expr<T>(i: In) -> PR<T> {
    let tok = token_at(rest(&i));
    Err(nom::Err::Failure(PErr {
        pos: off(&i),
        len: tok.len(),
        msg: format!("expected an expression, found `{tok}`"),
        cont: false,
    }))
}

/// A name: a variable, or a keyword.
#[inline(never)]
fn name_expr(i: In, nl: bool) -> PR<Expr> {
    let (j, name) = take_while_in(i, is_ident_char);
    if is_keyword(name) {
        return keyword_expr(i, j, name, nl);
    }
    let id = Ident {
        name: name.to_string(),
        span: span(&i, &j),
    };
    Ok((j, mk(ExprKind::Var(id), &i, &j)))
}

/// Keywords usable as expressions; `i` is at the keyword, `j` after it.
#[inline(never)]
fn keyword_expr<'a>(i: In<'a>, j: In<'a>, name: &str, nl: bool) -> PR<'a, Expr> {
    let start = i;
    match name {
        "true" => Ok((j, mk(ExprKind::Bool(true), &start, &j))),
        "false" => Ok((j, mk(ExprKind::Bool(false), &start, &j))),
        "null" => Ok((j, mk(ExprKind::Null, &start, &j))),
        "fn" => kw_fn(start, j),
        "async" => kw_async(start, j),
        "await" => kw_await(start, j, nl),
        "spawn" => kw_spawn(start, j, nl),
        "sleep" | "cancel" => kw_sleep_cancel(start, j, name),
        "timeout" => kw_timeout(start, j, nl),
        "gather" => kw_gather(start, j),
        "race" => kw_race(start, j),
        _ => fail_len(
            &start,
            name.len(),
            format!("`{name}` is a keyword and cannot be used in an expression"),
        ),
    }
}

#[inline(never)]
fn kw_fn<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Expr> {
    let (k, def) = lambda(start, j, false)?;
    Ok((k, mk(ExprKind::Lambda(Box::new(def)), &start, &k)))
}

#[inline(never)]
fn kw_async<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Expr> {
    let k = sp(j);
    if let Some(l) = kw_at(k, "fn") {
        let (l, def) = lambda(start, l, true)?;
        return Ok((l, mk(ExprKind::Lambda(Box::new(def)), &start, &l)));
    }
    if peek(&k) == Some('{') {
        let (l, b) = block(k)?;
        return Ok((l, mk(ExprKind::Async(b), &start, &l)));
    }
    expect(&k, "expected `{` or `fn` after `async`")
}

#[inline(never)]
fn kw_await<'a>(start: In<'a>, j: In<'a>, nl: bool) -> PR<'a, Expr> {
    let k = ws(j, nl);
    let (k, e) = with_context(unary(k, nl), off(&k), "`await`")?;
    Ok((k, mk(ExprKind::Await(Box::new(e)), &start, &k)))
}

#[inline(never)]
fn kw_spawn<'a>(start: In<'a>, j: In<'a>, nl: bool) -> PR<'a, Expr> {
    let (j, hosts) = on_hosts(sp(j))?;
    let (k, b) = body(j, nl, "`spawn`")?;
    let spawn = mk(ExprKind::Spawn(Box::new(b)), &start, &k);
    Ok((k, on(hosts, spawn)))
}

/// `--on HOSTS` at `i`, if written there: the hosts expression and what
/// follows it.
fn on_hosts(i: In) -> PR<Option<Expr>> {
    let Some(j) = kw_at(i, "--on") else {
        return Ok((i, None));
    };
    let (k, hosts) = operand(sp(j), "a host or a list of hosts after `--on`")?;
    Ok((sp(k), Some(hosts)))
}

/// `inner` run on `hosts`, if given.
fn on(hosts: Option<Expr>, inner: Expr) -> Expr {
    match hosts {
        None => inner,
        Some(hosts) => Expr {
            span: inner.span,
            kind: ExprKind::OnHosts {
                hosts: Box::new(hosts),
                inner: Box::new(inner),
            },
        },
    }
}

#[inline(never)]
fn kw_sleep_cancel<'a>(start: In<'a>, j: In<'a>, name: &str) -> PR<'a, Expr> {
    if name == "sleep" {
        let (k, e) = operand(sp(j), "a duration after `sleep`")?;
        Ok((k, mk(ExprKind::Sleep(Box::new(e)), &start, &k)))
    } else {
        let (k, e) = operand(sp(j), "a task after `cancel`")?;
        Ok((k, mk(ExprKind::Cancel(Box::new(e)), &start, &k)))
    }
}

#[inline(never)]
fn kw_timeout<'a>(start: In<'a>, j: In<'a>, nl: bool) -> PR<'a, Expr> {
    let mut k = sp(j);
    let mut grace = None;
    let mut duration = None;
    loop {
        if let Some(l) = grace_opt(k) {
            if grace.is_some() {
                return fail(&k, "`--grace` given twice");
            }
            let (l, g) = operand(sp(l), "a duration after `--grace`")?;
            grace = Some(Box::new(g));
            k = sp(l);
        } else if duration.is_none() {
            let (l, d) = operand(k, "a duration after `timeout`")?;
            duration = Some(Box::new(d));
            k = sp(l);
        } else {
            break;
        }
    }
    let Some(duration) = duration else {
        return expect(&k, "expected a duration after `timeout`");
    };
    let (k, b) = body(k, nl, "the `timeout` duration")?;
    let kind = ExprKind::Timeout {
        duration,
        grace,
        body: Box::new(b),
    };
    Ok((k, mk(kind, &start, &k)))
}

#[inline(never)]
fn kw_gather<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Expr> {
    let mut opts = GatherOpts::default();
    let mut hosts = None;
    let mut k = sp(j);
    loop {
        if kw_at(k, "--on").is_some() {
            if hosts.is_some() {
                return fail(&k, "`--on` given twice");
            }
            let (l, h) = on_hosts(k)?;
            hosts = h;
            k = l;
        } else if let Some(l) = kw_at(k, "-j") {
            let (l, e) = operand(sp(l), "a number after `-j`")?;
            opts.limit = Some(Box::new(e));
            k = sp(l);
        } else if let Some(l) = kw_at(k, "-k") {
            opts.keep_going = true;
            k = sp(l);
        } else if let Some(l) = kw_at(k, "--group") {
            opts.group = true;
            k = sp(l);
        } else if let Some(l) = kw_at(k, "--progress") {
            opts.progress = true;
            k = sp(l);
        } else if peek(&k) == Some('-') && peek2(&k).is_some_and(|c| c != ' ') {
            let tok = token_at(rest(&k));
            return fail(
                &k,
                format!(
                    "unknown `gather` option `{tok}` (options are `-j N`, `-k`, `--group`, `--progress`, `--on HOSTS`)"
                ),
            );
        } else {
            break;
        }
    }
    let (k, branches) = branches(k, "`gather`")?;
    let gather = mk(ExprKind::Gather { opts, branches }, &start, &k);
    Ok((k, on(hosts, gather)))
}

#[inline(never)]
fn kw_race<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Expr> {
    let mut j = sp(j);
    let mut progress = false;
    let mut hosts = None;
    loop {
        if kw_at(j, "--on").is_some() {
            if hosts.is_some() {
                return fail(&j, "`--on` given twice");
            }
            let (l, h) = on_hosts(j)?;
            hosts = h;
            j = l;
        } else if let Some(l) = kw_at(j, "--progress") {
            progress = true;
            j = sp(l);
        } else if peek(&j) == Some('-') && peek2(&j).is_some_and(|c| c != ' ') {
            let tok = token_at(rest(&j));
            return fail(
                &j,
                format!("unknown `race` option `{tok}` (options are `--progress`, `--on HOSTS`)"),
            );
        } else {
            break;
        }
    }
    let (k, branches) = branches(j, "`race`")?;
    let race = mk(ExprKind::Race { branches, progress }, &start, &k);
    Ok((k, on(hosts, race)))
}

fn grace_opt(i: In) -> Option<In> {
    let j = kw_at(i, "--grace")?;
    Some(j)
}

/// A primary with postfixes, for `sleep`, `cancel`, `timeout`, `-j`.
fn operand<'a>(i: In<'a>, what: &str) -> PR<'a, Expr> {
    match peek(&i) {
        None | Some('\n' | ';' | '}' | ')' | '{') => expect(&i, format!("expected {what}")),
        _ => {
            let (j, e) = match primary(i, false) {
                Err(nom::Err::Failure(mut e)) if e.pos == off(&i) && e.msg.starts_with(GENERIC) => {
                    e.msg = format!("expected {what}");
                    return Err(nom::Err::Failure(e));
                }
                r => r?,
            };
            postfix(j, e)
        }
    }
}

/// The body of `spawn` / `timeout`: a block, an expression, or a command.
fn body<'a>(i: In<'a>, nl: bool, what: &str) -> PR<'a, Body> {
    let i = sp(i);
    match peek(&i) {
        Some('{') => {
            let (j, b) = block(i)?;
            Ok((j, Body::Block(b)))
        }
        Some('$' | '(') => {
            let (j, e) = unary(i, nl)?;
            Ok((j, Body::Expr(e)))
        }
        None | Some('\n' | ';' | '}' | ')') => expect(
            &i,
            format!("expected a block, an expression or a command after {what}"),
        ),
        _ => {
            if let Some((j, name)) = ident_at(i) {
                let kwexpr = matches!(
                    name,
                    "async" | "await" | "gather" | "race" | "sleep" | "timeout" | "spawn"
                ) && is_kw_boundary(peek(&j));
                if peek(&j) == Some('(') || kwexpr {
                    let (j, e) = unary(i, nl)?;
                    return Ok((j, Body::Expr(e)));
                }
            }
            let (j, c) = and_or(i, "")?;
            Ok((j, Body::Command(c)))
        }
    }
}

/// Branches of `gather` / `race`: `{ block }`, `$name`, `${..}`, `(expr)`.
fn branches<'a>(i: In<'a>, what: &str) -> PR<'a, Vec<Branch>> {
    let mut out = Vec::new();
    let mut i = i;
    let mut end = i;
    loop {
        match peek(&i) {
            Some('{') => {
                let (j, b) = block(i)?;
                out.push(Branch::Block(b));
                end = j;
            }
            Some('$' | '(') => {
                let (j, e) = primary(i, false)?;
                let (j, e) = postfix(j, e)?;
                out.push(Branch::Expr(e));
                end = j;
            }
            _ => break,
        }
        i = sp(end);
    }
    if out.is_empty() {
        return expect(
            &i,
            format!("expected a branch (`{{ block }}`, `$var` or `(expr)`) after {what}"),
        );
    }
    Ok((end, out))
}

/// `fn (PARAMS) BLOCK` after `fn` (at `j`); `start` is where it began.
fn lambda<'a>(start: In<'a>, j: In<'a>, is_async: bool) -> PR<'a, FnDef> {
    let k = sp(j);
    let (k, ps) = if peek(&k) == Some('(') {
        let (m, ps) = params(k)?;
        super::stmt::options_only_in_main(k, &ps, None)?;
        (m, ps)
    } else {
        (k, super::stmt::Params::default())
    };
    let k = spnl(k);
    if peek(&k) != Some('{') {
        return expect(&k, "expected `(` or `{` after `fn`");
    }
    let (k, body) = block(k)?;
    Ok((
        k,
        FnDef {
            name: None,
            params: ps.params,
            rest: ps.rest,
            options: ps.options,
            body,
            is_async,
            span: span(&start, &k),
        },
    ))
}
