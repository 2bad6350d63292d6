//! Statements and blocks.

use crate::ast::{
    BinaryOp, Block, Catch, Cond, Expr, ExprKind, FnDef, Ident, OptParam, Pattern, Stmt, StmtKind,
    WordPart,
};

use super::command::{and_or, compound_line, stage_follows};
use super::expr::{binary_from, expr_after, postfix, unary};
use super::lex::*;
use super::word::{brace_at, close_err, word, word_end};

/// What ends a statement list.
#[derive(Clone, Copy)]
pub(crate) enum Term<'a> {
    /// The whole script.
    Eof,
    /// A `{ }` block opened at the given position.
    Brace(In<'a>),
    /// A `$( )` capture opened (at its `(`) at the given position.
    Paren(In<'a>),
}

/// Statements up to the terminator, which is not consumed.
pub(crate) fn stmts<'a>(i: In<'a>, term: Term<'a>) -> PR<'a, Vec<Stmt>> {
    let _g = enter(&i)?;
    let mut out = Vec::new();
    let mut i = i;
    loop {
        i = sp(i);
        match peek(&i) {
            None => {
                return match term {
                    Term::Eof => Ok((i, super::tight(out))),
                    Term::Brace(open) => expect(
                        &i,
                        format!(
                            "expected `}}` to close the block opened at line {}",
                            open.location_line()
                        ),
                    ),
                    Term::Paren(open) => close_err(&i, ")", "$(", &open),
                };
            }
            Some('\n') => {
                i = newline(i);
                continue;
            }
            Some(';') => {
                i = adv(i, 1);
                continue;
            }
            Some('}') => {
                if let Term::Brace(_) = term {
                    return Ok((i, super::tight(out)));
                }
                return fail(&i, "unexpected `}` (no block to close)");
            }
            Some(')') => {
                if let Term::Paren(_) = term {
                    return Ok((i, super::tight(out)));
                }
                return fail(&i, "unexpected `)`");
            }
            _ => {}
        }
        let (j, st) = stmt(i)?;
        let background = matches!(&st.kind, StmtKind::Command(a) if a.background);
        out.push(st);
        let k = sp(j);
        if !at_stmt_end(&k) && !background {
            return unexpected(&k);
        }
        i = k;
    }
}

/// `{ statements }` at `i` (at the `{`).
pub(crate) fn block(i: In) -> PR<Block> {
    let open = i;
    let (j, body) = stmts(adv(i, 1), Term::Brace(open))?;
    let j = adv(j, 1);
    Ok((
        j,
        Block {
            stmts: body,
            span: span(&open, &j),
        },
    ))
}

/// A block after `what`, possibly on the next line.
fn block_after<'a>(i: In<'a>, what: &str) -> PR<'a, Block> {
    let j = spnl(i);
    if peek(&j) != Some('{') {
        let k = sp(i);
        return expect(&k, format!("expected `{{` after {what}"));
    }
    block(j)
}

fn ident<'a>(i: In<'a>, what: &str) -> PR<'a, Ident> {
    match ident_at(i) {
        Some((j, name)) => {
            if is_keyword(name) {
                return fail_len(
                    &i,
                    name.len(),
                    format!(
                        "expected {what}, but `{name}` is a keyword and cannot be used as a name"
                    ),
                );
            }
            Ok((
                j,
                Ident {
                    name: name.to_string(),
                    span: span(&i, &j),
                },
            ))
        }
        None => {
            if at_stmt_end(&i) {
                expect(&i, format!("expected {what}"))
            } else {
                let tok = token_at(rest(&i));
                fail(&i, format!("expected {what}, found `{tok}`"))
            }
        }
    }
}

/// A parameter list: names, `...rest` last, and (for `fn main`) options.
#[derive(Default)]
pub(crate) struct Params {
    pub params: Vec<Ident>,
    pub rest: Option<Ident>,
    pub options: Vec<OptParam>,
}

/// `(a, b, --flag, --name -n = 1, ...rest)` at `i` (at the `(`).
pub(crate) fn params(i: In) -> PR<Params> {
    let open = i;
    let mut i = spnl(adv(i, 1));
    let mut out = Params::default();
    loop {
        if peek(&i) == Some(')') {
            return Ok((adv(i, 1), out));
        }
        if out.rest.is_some() {
            return close_err(&i, ")", "(", &open);
        }
        if peek(&i).is_none() {
            return close_err(&i, ")", "(", &open);
        }
        let j = if starts(&i, "--") {
            let (j, (id, opt)) = option_param(i, out.params.len())?;
            if let Some(o) = out
                .options
                .iter()
                .find(|o| o.long == opt.long || (o.short.is_some() && o.short == opt.short))
            {
                let what = if o.long == opt.long {
                    format!("--{}", o.long)
                } else {
                    format!("-{}", o.short.unwrap_or('?'))
                };
                return fail(&i, format!("option {what} is declared twice"));
            }
            out.params.push(id);
            out.options.push(opt);
            j
        } else {
            let is_rest = starts(&i, "...");
            let j = if is_rest { adv(i, 3) } else { i };
            let (j, id) = ident(j, "a parameter name")?;
            if is_rest {
                out.rest = Some(id);
            } else {
                out.params.push(id);
            }
            j
        };
        let j = spnl(j);
        match peek(&j) {
            Some(',') => i = spnl(adv(j, 1)),
            Some(')') => i = j,
            _ => return close_err(&j, ")", "(", &open),
        }
    }
}

/// `--name [-n] [= DEFAULT]` at `i`: the parameter it binds and the option.
fn option_param(i: In, param: usize) -> PR<(Ident, OptParam)> {
    let j = adv(i, 2);
    let text = rest(&j);
    let n = text
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        .count();
    if !text.starts_with(|c: char| c.is_ascii_alphabetic()) || text[..n].ends_with('-') {
        return fail(&j, "expected an option name after `--` (like `--dry-run`)");
    }
    let long = &text[..n];
    let var = long.replace('-', "_");
    if is_keyword(&var) {
        return fail_len(
            &j,
            n,
            format!("`{var}` is a keyword and cannot be an option's name"),
        );
    }
    let k = adv(j, n);
    let id = Ident {
        name: var,
        span: span(&j, &k),
    };
    let mut end = k;
    let mut l = sp(k);
    let mut short = None;
    let b = rest(&l).as_bytes();
    if b.first() == Some(&b'-')
        && b.get(1).is_some_and(u8::is_ascii_alphabetic)
        && !b
            .get(2)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        short = Some(char::from(b[1]));
        end = adv(l, 2);
        l = sp(end);
    }
    let mut default = None;
    if peek(&l) == Some('=') && !starts(&l, "==") {
        let (m, e) = super::expr::expr_after(spnl(adv(l, 1)), true, "`=`")?;
        default = Some(e);
        end = m;
    }
    let opt = OptParam {
        long: long.to_string(),
        short,
        default,
        param,
        span: span(&i, &end),
    };
    Ok((end, (id, opt)))
}

/// Options are for `fn main` only: an error at the first one elsewhere.
pub(crate) fn options_only_in_main<'a>(i: In<'a>, ps: &Params, name: Option<&str>) -> PR<'a, ()> {
    match ps.options.first() {
        Some(o) if name != Some("main") => {
            let at = adv(i, o.span.start as usize - off(&i));
            fail_len(
                &at,
                (o.span.end - o.span.start) as usize,
                "options (`--name`) are for `fn main`, whose parameters are the script's \
                 command line; pass other functions a flag as an argument",
            )
        }
        _ => Ok((i, ())),
    }
}

fn mk(kind: StmtKind, a: &In, b: &In) -> Stmt {
    Stmt {
        kind,
        span: span(a, b),
    }
}

/// One statement at `i` (not at a separator or terminator).
#[inline(never)]
pub(crate) fn stmt(i: In) -> PR<Stmt> {
    if let Some((j, kw)) = keyword_at(i) {
        match kw {
            "let" | "export" => return let_export(i, j, kw),
            "return" | "throw" | "break" | "continue" => return jump(i, j, kw),
            "if" | "while" | "for" => return compound_tail(i, compound_stmt(i)?),
            "fn" | "async" => return fn_or_expr(i, j, kw),
            "try" => return try_stmt(i, j),
            "use" | "source" => return use_source(i, j, kw),
            "await" | "spawn" | "gather" | "race" | "sleep" | "timeout" | "cancel" => {
                return expr_stmt(i);
            }
            // `true` and `false` are commands, as in sh.
            "true" | "false" => {}
            _ => return misplaced_keyword(i, kw),
        }
    }
    if peek(&i) == Some('{') && !brace_at(&i) {
        return compound_tail(i, compound_stmt(i)?);
    }
    if is_assignment(rest(&i)) {
        return assign(i);
    }
    if let Some((j, _)) = ident_at(i)
        && peek(&j) == Some('(')
    {
        return expr_stmt(i);
    }
    if let Some(j) = unset_with_place(i) {
        return unset_stmt(i, j);
    }
    command_stmt(i)
}

/// `unset` followed by a place (`m.k`, `xs[`...) among its arguments: past
/// the word `unset`.
fn unset_with_place(i: In) -> Option<In> {
    let (j, word) = ident_at(i)?;
    if word != "unset" || !matches!(peek(&j), Some(' ' | '\t')) {
        return None;
    }
    let mut k = sp(j);
    while let Some((l, _)) = ident_at(k) {
        match peek(&l) {
            Some('[') => return Some(j),
            Some('.') if peek2(&l).is_some_and(is_ident_start) => return Some(j),
            Some(' ' | '\t') => k = sp(l),
            _ => return None,
        }
    }
    None
}

/// `unset ARG...` where the arguments are names and places (`m.k`,
/// `m["k"]`, `xs[i]`, `m.a.b`), up to the end of the statement.
#[inline(never)]
fn unset_stmt<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Stmt> {
    let mut places = Vec::new();
    let mut names = Vec::new();
    let mut k = sp(j);
    while !at_stmt_end(&k) {
        let (l, id) = ident(k, "a name, `m.k`, `m[key]` or `xs[i]` after `unset`")?;
        if !matches!(peek(&l), Some('[' | '.')) {
            names.push(id);
            k = sp(l);
            continue;
        }
        let var = Expr {
            span: id.span,
            kind: ExprKind::Var(id),
        };
        let (l, place) = postfix(l, var)?;
        if !matches!(place.kind, ExprKind::Field(..) | ExprKind::Index(..)) {
            return fail(
                &k,
                "`unset` removes a key (`m.k`, `m[key]`) or an item (`xs[i]`): \
                 this is not one",
            );
        }
        if !at_stmt_end(&l) && !matches!(peek(&l), Some(' ' | '\t')) {
            return unexpected(&l);
        }
        places.push(place);
        k = sp(l);
    }
    Ok((k, mk(StmtKind::Unset { places, names }, &start, &k)))
}

/// A statement that can be a pipeline stage, at `i`: `if`, `while`, `for`
/// or a `{ }` group (without what may follow it).
pub(crate) fn compound_stmt(i: In) -> PR<Stmt> {
    match keyword_at(i) {
        Some((j, "if")) => if_stmt(i, j),
        Some((j, "while")) => while_stmt(i, j),
        Some((j, "for")) => for_stmt(i, j),
        _ => {
            let (j, b) = block(i)?;
            Ok((j, mk(StmtKind::Group(b), &i, &j)))
        }
    }
}

/// After a compound statement (or a keyword expression, or a call): if a
/// `|`, a redirection, `&&`, `||` or `&` follows on the line, it is the
/// first stage of a command line.
fn compound_tail<'a>(start: In<'a>, parsed: (In<'a>, Stmt)) -> PR<'a, Stmt> {
    let (j, st) = parsed;
    let k = sp(j);
    if !stage_follows(&k) {
        return Ok((j, st));
    }
    let (k, line) = compound_line(start, j, st)?;
    Ok((k, mk(StmtKind::Command(line), &start, &k)))
}

#[inline(never)]
fn command_stmt(i: In) -> PR<Stmt> {
    let (j, c) = and_or(i, "")?;
    Ok((j, mk(StmtKind::Command(c), &i, &j)))
}

#[inline(never)]
fn misplaced_keyword<'a>(start: In<'a>, kw: &str) -> PR<'a, Stmt> {
    match kw {
        "elif" | "else" => fail_len(
            &start,
            kw.len(),
            format!("`{kw}` without `if`: expected a statement"),
        ),
        "catch" | "finally" => fail_len(
            &start,
            kw.len(),
            format!("`{kw}` without `try`: expected a statement"),
        ),
        _ => fail_len(
            &start,
            kw.len(),
            format!("unexpected keyword `{kw}` at the start of a statement"),
        ),
    }
}

#[inline(never)]
fn jump<'a>(start: In<'a>, j: In<'a>, kw: &str) -> PR<'a, Stmt> {
    match kw {
        "return" => {
            let k = sp(j);
            if at_stmt_end(&k) {
                return Ok((j, mk(StmtKind::Return(None), &start, &j)));
            }
            let (k, e) = expr_after(k, false, "`return`")?;
            Ok((k, mk(StmtKind::Return(Some(e)), &start, &k)))
        }
        "throw" => {
            let k = sp(j);
            let (k, e) = expr_after(k, false, "`throw`")?;
            Ok((k, mk(StmtKind::Throw(e), &start, &k)))
        }
        "break" => Ok((j, mk(StmtKind::Break, &start, &j))),
        _ => Ok((j, mk(StmtKind::Continue, &start, &j))),
    }
}

#[inline(never)]
fn while_stmt<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Stmt> {
    let (k, cond) = cond(j, "`while`")?;
    let (k, body) = block_after(k, "the `while` condition")?;
    Ok((k, mk(StmtKind::While { cond, body }, &start, &k)))
}

#[inline(never)]
fn fn_or_expr<'a>(start: In<'a>, j: In<'a>, kw: &str) -> PR<'a, Stmt> {
    let k = sp(j);
    if kw == "fn" {
        if matches!(peek(&k), Some('(' | '{')) {
            return expr_stmt(start);
        }
        return fn_decl(start, k, false);
    }
    if let Some(l) = kw_at(k, "fn") {
        let l = sp(l);
        if peek(&l).is_some_and(is_ident_start) {
            return fn_decl(start, l, true);
        }
    }
    expr_stmt(start)
}

/// A statement that is an expression: a keyword form or a call. Written
/// with a `|`, a redirection, `&&`, `||` or `&` after it, it is a pipeline
/// stage (`timeout 5s { make } > log`), not a comparison.
#[inline(never)]
fn expr_stmt(start: In) -> PR<Stmt> {
    let (j, e) = unary(start, false)?;
    let k = sp(j);
    if stage_follows(&k) && !starts(&k, "<=") && !starts(&k, ">=") {
        let st = mk(StmtKind::Expr(e), &start, &j);
        return compound_tail(start, (j, st));
    }
    let (j, e) = binary_from(j, e, false, 0)?;
    Ok((j, mk(StmtKind::Expr(e), &start, &j)))
}

/// Lexical look-ahead: `NAME ([..] | .NAME)* =` (not `==`), with a blank
/// around the `=` or an index/field in the target.
fn is_assignment(s: &str) -> bool {
    let b = s.as_bytes();
    let ident_len = |k: usize| {
        let mut n = k;
        if n < b.len() && (b[n].is_ascii_alphabetic() || b[n] == b'_') {
            n += 1;
            while n < b.len() && (b[n].is_ascii_alphanumeric() || b[n] == b'_') {
                n += 1;
            }
        }
        n - k
    };
    let mut k = ident_len(0);
    if k == 0 {
        return false;
    }
    let mut post = false;
    loop {
        match b.get(k) {
            Some(b'[') => match matching_bracket(&b[k..]) {
                Some(n) => {
                    k += n;
                    post = true;
                }
                None => return false,
            },
            Some(b'.') => {
                let n = ident_len(k + 1);
                if n == 0 {
                    return false;
                }
                k += 1 + n;
                post = true;
            }
            _ => break,
        }
    }
    let mut blank_before = false;
    while matches!(b.get(k), Some(b' ' | b'\t')) {
        k += 1;
        blank_before = true;
    }
    if compound_op(&s[k..]).is_some() {
        return true;
    }
    if b.get(k) != Some(&b'=') || b.get(k + 1) == Some(&b'=') {
        return false;
    }
    let blank_after = matches!(b.get(k + 1), Some(b' ' | b'\t'));
    blank_before || blank_after || post
}

/// A compound assignment operator at the start of `s`: `+= -= *= /= //=
/// %= **=`, the operator and its length.
fn compound_op(s: &str) -> Option<(BinaryOp, usize)> {
    [
        ("//=", BinaryOp::FloorDiv),
        ("**=", BinaryOp::Pow),
        ("+=", BinaryOp::Add),
        ("-=", BinaryOp::Sub),
        ("*=", BinaryOp::Mul),
        ("/=", BinaryOp::Div),
        ("%=", BinaryOp::Rem),
    ]
    .into_iter()
    .find(|(t, _)| s.starts_with(t))
    .map(|(t, op)| (op, t.len()))
}

/// Length of `[ ... ]` at the start of `b`, skipping quoted text; `None`
/// if the statement ends first.
fn matching_bracket(b: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut k = 0;
    while k < b.len() {
        match b[k] {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(k + 1);
                }
            }
            b'\'' => {
                k += 1;
                while k < b.len() && b[k] != b'\'' {
                    k += 1;
                }
            }
            b'"' => {
                k += 1;
                while k < b.len() && b[k] != b'"' {
                    if b[k] == b'\\' {
                        k += 1;
                    }
                    k += 1;
                }
            }
            // Not in an assignment target: stop, so that the scan stays
            // within one statement and parsing stays linear.
            b'\n' | b';' | b'&' | b'|' | b'{' | b'}' => return None,
            _ => {}
        }
        k += 1;
    }
    None
}

/// `LVALUE = EXPR` (the look-ahead said so).
fn assign(i: In) -> PR<Stmt> {
    let start = i;
    let Some((j, name)) = ident_at(i) else {
        return unexpected(&i);
    };
    if is_keyword(name) {
        return fail(
            &i,
            format!("`{name}` is a keyword and cannot be assigned to"),
        );
    }
    let id = Ident {
        name: name.to_string(),
        span: span(&i, &j),
    };
    let var = Expr {
        kind: ExprKind::Var(id),
        span: span(&i, &j),
    };
    let (j, target) = postfix(j, var)?;
    if let ExprKind::Call(..) = target.kind {
        return fail(&j, "cannot assign to a function call");
    }
    let k = sp(j);
    let (op, n) = match compound_op(rest(&k)) {
        Some((op, n)) => (Some(op), n),
        None if peek(&k) == Some('=') => (None, 1),
        None => return expect(&k, "expected `=`"),
    };
    let what = format!("`{}`", &rest(&k)[..n]);
    let k = sp(adv(k, n));
    let (k, value) = expr_after(k, false, &what)?;
    Ok((k, mk(StmtKind::Assign { target, op, value }, &start, &k)))
}

/// A condition after `what` (`if`, `elif`, `while`): `(expr)` or a command.
fn cond<'a>(i: In<'a>, what: &str) -> PR<'a, Cond> {
    let k = sp(i);
    match peek(&k) {
        Some('(') => {
            let (k, e) = super::word::paren_expr(k)?;
            Ok((k, Cond::Expr(e)))
        }
        None | Some('\n' | ';' | '{' | '}') => {
            expect(&k, format!("expected a condition after {what}"))
        }
        _ => {
            let (k, c) = and_or(k, "")?;
            Ok((k, Cond::Command(c)))
        }
    }
}

fn if_stmt<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Stmt> {
    let (k, c) = cond(j, "`if`")?;
    let (k, b) = block_after(k, "the `if` condition")?;
    if_rest(start, k, vec![(c, b)])
}

/// The `elif` / `else` parts after a block, possibly on later lines.
#[inline(never)]
fn if_rest<'a>(start: In<'a>, mut k: In<'a>, mut branches: Vec<(Cond, Block)>) -> PR<'a, Stmt> {
    let mut otherwise = None;
    loop {
        let l = spnl(k);
        if let Some(m) = kw_at(l, "elif") {
            let (m, c) = cond(m, "`elif`")?;
            let (m, b) = block_after(m, "the `elif` condition")?;
            branches.push((c, b));
            k = m;
        } else if let Some(m) = kw_at(l, "else") {
            let (m, b) = block_after(m, "`else`")?;
            otherwise = Some(b);
            k = m;
            break;
        } else {
            break;
        }
    }
    let kind = StmtKind::If {
        branches,
        otherwise,
    };
    Ok((k, mk(kind, &start, &k)))
}

fn for_stmt<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Stmt> {
    let k = sp(j);
    let (k, var) = pattern(k, "a variable name after `for`")?;
    let k = sp(k);
    let Some(mut k) = kw_at(k, "in") else {
        let shown = match &var {
            Pattern::Name(id) => id.name.clone(),
            Pattern::List { .. } => "[...]".into(),
        };
        return expect(&k, format!("expected `in` after `for {shown}`"));
    };
    let mut words = Vec::new();
    loop {
        let l = sp(k);
        match peek(&l) {
            Some('{') if brace_at(&l) => match super::word::words(l)? {
                (m, Some(ws)) => {
                    words.extend(ws);
                    k = m;
                }
                (_, None) => return unexpected(&l),
            },
            Some(c) if !word_end(c) && !super::word::crlf(&l) => match super::word::words(l)? {
                (m, Some(ws)) => {
                    words.extend(ws);
                    k = m;
                }
                (_, None) => return unexpected(&l),
            },
            _ => break,
        }
    }
    let (k, body) = block_after(k, "the `for` words")?;
    let kind = StmtKind::For {
        pattern: var,
        words,
        body,
    };
    Ok((k, mk(kind, &start, &k)))
}

fn fn_decl<'a>(start: In<'a>, k: In<'a>, is_async: bool) -> PR<'a, Stmt> {
    let (k, name) = ident(k, "a function name after `fn`")?;
    let l = sp(k);
    let (l, ps) = if peek(&l) == Some('(') {
        let (m, ps) = params(l)?;
        options_only_in_main(l, &ps, Some(&name.name))?;
        (m, ps)
    } else {
        (k, Params::default())
    };
    let (l, body) = block_after(l, "the function parameters")?;
    let def = FnDef {
        name: Some(name),
        params: ps.params,
        rest: ps.rest,
        options: ps.options,
        body,
        is_async,
        span: span(&start, &l),
    };
    Ok((l, mk(StmtKind::FnDecl(def), &start, &l)))
}

fn try_stmt<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Stmt> {
    let (mut k, body) = block_after(j, "`try`")?;
    let mut catches = Vec::new();
    let mut finally = None;
    loop {
        let l = spnl(k);
        if let Some(m) = kw_at(l, "catch") {
            let mut m = sp(m);
            let mut kind = None;
            let mut var = None;
            if let Some((_, name)) = ident_at(m) {
                let (n, id) = ident(m, "an error kind or variable")?;
                if name.ends_with("Error") {
                    kind = Some(id);
                    let n2 = sp(n);
                    if ident_at(n2).is_some() {
                        let (n3, v) = ident(n2, "a variable name")?;
                        var = Some(v);
                        m = n3;
                    } else {
                        m = n;
                    }
                } else {
                    var = Some(id);
                    m = n;
                }
            }
            let (m, b) = block_after(m, "`catch`")?;
            catches.push(Catch {
                kind,
                var,
                body: b,
                span: span(&l, &m),
            });
            k = m;
        } else if let Some(m) = kw_at(l, "finally") {
            let (m, b) = block_after(m, "`finally`")?;
            finally = Some(b);
            k = m;
            break;
        } else {
            break;
        }
    }
    if catches.is_empty() && finally.is_none() {
        let l = spnl(k);
        return expect(&l, "expected `catch` or `finally` after the `try` block");
    }
    Ok((
        k,
        mk(
            StmtKind::Try {
                body,
                catches,
                finally,
            },
            &start,
            &k,
        ),
    ))
}

#[inline(never)]
fn let_export<'a>(start: In<'a>, j: In<'a>, kw: &str) -> PR<'a, Stmt> {
    if kw == "let" {
        let_stmt(start, j)
    } else {
        export_stmt(start, j)
    }
}

fn let_stmt<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Stmt> {
    let k = sp(j);
    let (k, pattern) = pattern(k, "a variable name after `let`")?;
    let k = sp(k);
    if peek(&k) != Some('=') || peek2(&k) == Some('=') {
        return match &pattern {
            Pattern::Name(name) => expect(&k, format!("expected `=` after `let {}`", name.name)),
            Pattern::List { .. } => expect(&k, "expected `=` after the `let` pattern"),
        };
    }
    let k = sp(adv(k, 1));
    let (k, value) = expr_after(k, false, "`=`")?;
    Ok((k, mk(StmtKind::Let { pattern, value }, &start, &k)))
}

/// What `let` and `for` bind: a name, or `[a, [b, c], ...rest]`.
fn pattern<'a>(i: In<'a>, what: &str) -> PR<'a, Pattern> {
    if peek(&i) != Some('[') {
        let (j, id) = ident(i, what)?;
        return Ok((j, Pattern::Name(id)));
    }
    let _g = enter(&i)?;
    let open = i;
    let mut i = spnl(adv(i, 1));
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut rest_: Option<Ident> = None;
    loop {
        if peek(&i) == Some(']') {
            let j = adv(i, 1);
            if before.is_empty() && after.is_empty() && rest_.is_none() {
                return fail(&open, "a `[ ]` pattern needs at least one name");
            }
            let span = span(&open, &j);
            return Ok((
                j,
                Pattern::List {
                    before,
                    rest: rest_,
                    after,
                    span,
                },
            ));
        }
        if starts(&i, "...") {
            if rest_.is_some() {
                return fail(&i, "only one `...rest` in a pattern");
            }
            let (j, id) = ident(adv(i, 3), "a name after `...`")?;
            rest_ = Some(id);
            i = j;
        } else {
            let (j, p) = pattern(i, "a name or `[` in the pattern")?;
            if rest_.is_some() {
                after.push(p);
            } else {
                before.push(p);
            }
            i = j;
        }
        let j = spnl(i);
        match peek(&j) {
            Some(',') => i = spnl(adv(j, 1)),
            Some(']') => i = j,
            _ => return close_err(&j, "]", "[", &open),
        }
    }
}

fn export_stmt<'a>(start: In<'a>, j: In<'a>) -> PR<'a, Stmt> {
    let k = sp(j);
    let (k, name) = ident(k, "a variable name after `export`")?;
    if peek(&k) == Some('=') && peek2(&k) != Some('=') {
        // `export NAME=word`: the shell habit; the value is a word, as a
        // string (its literal parts quoted: no globbing).
        let vstart = adv(k, 1);
        let (l, w) = word(vstart)?;
        let parts = match w {
            Some(w) => w
                .parts
                .into_iter()
                .map(|p| match p {
                    WordPart::Lit { text, .. } => WordPart::Lit { text, quoted: true },
                    other => other,
                })
                .collect(),
            None => vec![WordPart::Lit {
                text: String::new(),
                quoted: true,
            }],
        };
        let value = Expr {
            kind: ExprKind::Str(parts),
            span: span(&vstart, &l),
        };
        let kind = StmtKind::Export {
            name,
            value: Some(value),
        };
        return Ok((l, mk(kind, &start, &l)));
    }
    let l = sp(k);
    if peek(&l) == Some('=') && peek2(&l) != Some('=') {
        let l = sp(adv(l, 1));
        let (l, value) = expr_after(l, false, "`=`")?;
        let kind = StmtKind::Export {
            name,
            value: Some(value),
        };
        return Ok((l, mk(kind, &start, &l)));
    }
    Ok((k, mk(StmtKind::Export { name, value: None }, &start, &k)))
}

#[inline(never)]
fn use_source<'a>(start: In<'a>, j: In<'a>, kw: &str) -> PR<'a, Stmt> {
    let k = sp(j);
    let (l, w) = word(k)?;
    if kw == "source" {
        let Some(path) = w else {
            return expect(&k, "expected a file name after `source`");
        };
        return Ok((l, mk(StmtKind::Source { path }, &start, &l)));
    }
    let Some(w) = w else {
        return expect(&k, "expected a module path after `use`");
    };
    let mut path = String::new();
    for p in &w.parts {
        match p {
            WordPart::Lit { text, .. } => path.push_str(text),
            WordPart::Tilde { user } => {
                path.push('~');
                path.push_str(user.as_deref().unwrap_or_default());
            }
            _ => return fail(&k, "a `use` path must be written literally (no `$`)"),
        }
    }
    Ok((l, mk(StmtKind::Use { path }, &start, &l)))
}
