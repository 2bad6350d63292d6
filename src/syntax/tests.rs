#![allow(clippy::unwrap_used)]

use super::*;
use crate::ast::*;

// ---------------------------------------------------------------- rendering

fn r_block(b: &Block) -> String {
    let v: Vec<String> = b.stmts.iter().map(r_stmt).collect();
    format!("{{{}}}", v.join("; "))
}

fn r_top(b: &Block) -> String {
    let v: Vec<String> = b.stmts.iter().map(r_stmt).collect();
    v.join("; ")
}

fn r_ident(i: &Ident) -> String {
    i.name.clone()
}

fn r_stmt(s: &Stmt) -> String {
    match &s.kind {
        StmtKind::Let { pattern, value } => {
            format!("(let {} {})", r_pattern(pattern), r_expr(value))
        }
        StmtKind::Assign {
            target,
            op: None,
            value,
        } => {
            format!("(= {} {})", r_expr(target), r_expr(value))
        }
        StmtKind::Assign {
            target,
            op: Some(op),
            value,
        } => {
            format!("({:?}= {} {})", op, r_expr(target), r_expr(value))
        }
        StmtKind::Group(b) => format!("(group {})", r_block(b)),
        StmtKind::Export { name, value } => match value {
            Some(v) => format!("(export {} {})", name.name, r_expr(v)),
            None => format!("(export {})", name.name),
        },
        StmtKind::If {
            branches,
            otherwise,
        } => {
            let mut out = String::from("(if");
            for (k, (c, b)) in branches.iter().enumerate() {
                if k > 0 {
                    out.push_str(" elif");
                }
                out.push_str(&format!(" {} {}", r_cond(c), r_block(b)));
            }
            if let Some(b) = otherwise {
                out.push_str(&format!(" else {}", r_block(b)));
            }
            out.push(')');
            out
        }
        StmtKind::While { cond, body } => format!("(while {} {})", r_cond(cond), r_block(body)),
        StmtKind::For {
            pattern,
            words,
            body,
        } => {
            let ws: Vec<String> = words.iter().map(r_word).collect();
            format!(
                "(for {} [{}] {})",
                r_pattern(pattern),
                ws.join(" "),
                r_block(body)
            )
        }
        StmtKind::Break => "break".into(),
        StmtKind::Continue => "continue".into(),
        StmtKind::Return(e) => match e {
            Some(e) => format!("(return {})", r_expr(e)),
            None => "(return)".into(),
        },
        StmtKind::Throw(e) => format!("(throw {})", r_expr(e)),
        StmtKind::FnDecl(f) => r_fn(f),
        StmtKind::Try {
            body,
            catches,
            finally,
        } => {
            let mut out = format!("(try {}", r_block(body));
            for c in catches {
                out.push_str(" (catch");
                if let Some(k) = &c.kind {
                    out.push_str(&format!(" kind={}", k.name));
                }
                if let Some(v) = &c.var {
                    out.push_str(&format!(" var={}", v.name));
                }
                out.push_str(&format!(" {})", r_block(&c.body)));
            }
            if let Some(f) = finally {
                out.push_str(&format!(" (finally {})", r_block(f)));
            }
            out.push(')');
            out
        }
        StmtKind::Use { path } => format!("(use {path})"),
        StmtKind::Source { path } => format!("(source {})", r_word(path)),
        StmtKind::Command(a) => r_andor(a),
        StmtKind::Unset { places, names } => {
            let mut out = String::from("(unset");
            for p in places {
                out.push_str(&format!(" {}", r_expr(p)));
            }
            for n in names {
                out.push_str(&format!(" {}", n.name));
            }
            out.push(')');
            out
        }
        StmtKind::Expr(e) => format!("(expr {})", r_expr(e)),
    }
}

fn r_fn(f: &FnDef) -> String {
    let mut ps: Vec<String> = f.params.iter().map(r_ident).collect();
    if let Some(r) = &f.rest {
        ps.push(format!("...{}", r.name));
    }
    format!(
        "({}fn{} ({}) {})",
        if f.is_async { "async " } else { "" },
        f.name
            .as_ref()
            .map(|n| format!(" {}", n.name))
            .unwrap_or_default(),
        ps.join(" "),
        r_block(&f.body)
    )
}

fn r_pattern(p: &Pattern) -> String {
    match p {
        Pattern::Name(id) => id.name.clone(),
        Pattern::List {
            before,
            rest,
            after,
            ..
        } => {
            let mut v: Vec<String> = before.iter().map(r_pattern).collect();
            if let Some(r) = rest {
                v.push(format!("...{}", r.name));
            }
            v.extend(after.iter().map(r_pattern));
            format!("[{}]", v.join(", "))
        }
    }
}

fn r_cond(c: &Cond) -> String {
    match c {
        Cond::Expr(e) => format!("({})", r_expr(e)),
        Cond::Command(a) => r_andor(a),
    }
}

fn r_andor(a: &AndOr) -> String {
    let mut out = format!("[{}", r_pipe(&a.first));
    for (c, p) in &a.rest {
        out.push_str(match c {
            Connector::And => " && ",
            Connector::Or => " || ",
        });
        out.push_str(&r_pipe(p));
    }
    if a.background {
        out.push_str(" &");
    }
    out.push(']');
    out
}

fn r_pipe(p: &Pipeline) -> String {
    let v: Vec<String> = p.stages.iter().map(r_stage).collect();
    format!("{}{}", if p.negated { "! " } else { "" }, v.join(" | "))
}

fn r_stage(s: &Stage) -> String {
    match s {
        Stage::Command(c) => r_cmd(c),
        Stage::Compound(c) => {
            let mut v = vec![r_stmt(&c.body)];
            v.extend(c.redirects.iter().map(r_redirect));
            v.join(" ")
        }
    }
}

fn r_redirect(r: &Redirect) -> String {
    let op = match r.op {
        RedirOp::Read => "<".to_string(),
        RedirOp::Write(1) => ">".to_string(),
        RedirOp::Write(n) => format!("{n}>"),
        RedirOp::Append(1) => ">>".to_string(),
        RedirOp::Append(n) => format!("{n}>>"),
        RedirOp::Dup { fd, to } => format!("{fd}>&{to}"),
        RedirOp::WriteAll => "&>".to_string(),
        RedirOp::AppendAll => "&>>".to_string(),
        RedirOp::Here => "<<<".to_string(),
    };
    format!("{op}{}", r.target.as_ref().map(r_word).unwrap_or_default())
}

fn r_cmd(c: &Command) -> String {
    let mut v = Vec::new();
    for (n, w) in &c.env {
        v.push(format!("{}={}", n.name, r_word(w)));
    }
    for w in &c.words {
        v.push(r_word(w));
    }
    for r in &c.redirects {
        v.push(r_redirect(r));
    }
    v.join(" ")
}

fn r_parts(parts: &[WordPart]) -> String {
    let mut out = String::new();
    for p in parts {
        match p {
            WordPart::Lit {
                text,
                quoted: false,
            } => out.push_str(text),
            WordPart::Lit { text, quoted: true } => out.push_str(&format!("'{text}'")),
            WordPart::Tilde { user } => {
                out.push('~');
                out.push_str(user.as_deref().unwrap_or_default());
            }
            WordPart::Var { name, quoted } => out.push_str(&format!(
                "{}${}",
                if *quoted { "\"" } else { "" },
                name.name
            )),
            WordPart::Expr { expr, quoted } => out.push_str(&format!(
                "{}${{{}}}",
                if *quoted { "\"" } else { "" },
                r_expr(expr)
            )),
            WordPart::Capture { body, quoted } => out.push_str(&format!(
                "{}$({})",
                if *quoted { "\"" } else { "" },
                r_top(body)
            )),
        }
    }
    out
}

fn r_word(w: &Word) -> String {
    r_parts(&w.parts)
}

fn r_body(b: &Body) -> String {
    match b {
        Body::Block(b) => r_block(b),
        Body::Expr(e) => r_expr(e),
        Body::Command(a) => r_andor(a),
    }
}

fn r_branch(b: &Branch) -> String {
    match b {
        Branch::Block(b) => r_block(b),
        Branch::Expr(e) => r_expr(e),
    }
}

fn r_expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Null => "null".into(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Duration(d) => format!("{d:?}s"),
        ExprKind::Str(parts) => format!("str({})", r_parts(parts)),
        ExprKind::List(xs) => {
            let v: Vec<String> = xs.iter().map(r_expr).collect();
            format!("[{}]", v.join(", "))
        }
        ExprKind::Map(kv) => {
            let v: Vec<String> = kv
                .iter()
                .map(|(k, v)| format!("{}: {}", r_expr(k), r_expr(v)))
                .collect();
            format!("{{{}}}", v.join(", "))
        }
        ExprKind::Var(i) => i.name.clone(),
        ExprKind::Capture(b) => format!("$({})", r_top(b)),
        ExprKind::Unary(UnaryOp::Neg, x) => format!("(- {})", r_expr(x)),
        ExprKind::Unary(UnaryOp::Not, x) => format!("(not {})", r_expr(x)),
        ExprKind::Binary(op, a, b) => {
            let o = match op {
                BinaryOp::Add => "+",
                BinaryOp::Sub => "-",
                BinaryOp::Mul => "*",
                BinaryOp::Div => "/",
                BinaryOp::FloorDiv => "//",
                BinaryOp::Rem => "%",
                BinaryOp::Pow => "**",
                BinaryOp::Eq => "==",
                BinaryOp::Ne => "!=",
                BinaryOp::Lt => "<",
                BinaryOp::Le => "<=",
                BinaryOp::Gt => ">",
                BinaryOp::Ge => ">=",
                BinaryOp::And => "and",
                BinaryOp::Or => "or",
            };
            format!("({o} {} {})", r_expr(a), r_expr(b))
        }
        ExprKind::Index(a, b) => format!("(idx {} {})", r_expr(a), r_expr(b)),
        ExprKind::Slice {
            target,
            start,
            end,
            step,
        } => {
            let b = |x: &Option<Box<Expr>>| x.as_ref().map(|e| r_expr(e)).unwrap_or_default();
            format!(
                "(slice {} {}:{}:{})",
                r_expr(target),
                b(start),
                b(end),
                b(step)
            )
        }
        ExprKind::Field(a, f) => format!("(. {} {})", r_expr(a), f.name),
        ExprKind::Call(f, args) => {
            let mut v = vec![r_expr(f)];
            v.extend(args.iter().map(r_expr));
            format!("(call {})", v.join(" "))
        }
        ExprKind::Lambda(f) => r_fn(f),
        ExprKind::Async(b) => format!("(async {})", r_block(b)),
        ExprKind::Await(x) => format!("(await {})", r_expr(x)),
        ExprKind::Spawn(b) => format!("(spawn {})", r_body(b)),
        ExprKind::Gather { opts, branches } => {
            let mut out = String::from("(gather");
            if let Some(j) = &opts.limit {
                out.push_str(&format!(" -j {}", r_expr(j)));
            }
            if opts.keep_going {
                out.push_str(" -k");
            }
            if opts.group {
                out.push_str(" --group");
            }
            if opts.progress {
                out.push_str(" --progress");
            }
            for b in branches {
                out.push_str(&format!(" {}", r_branch(b)));
            }
            out.push(')');
            out
        }
        ExprKind::Race { branches, progress } => {
            let v: Vec<String> = branches.iter().map(r_branch).collect();
            let flag = if *progress { "--progress " } else { "" };
            format!("(race {flag}{})", v.join(" "))
        }
        ExprKind::Timeout {
            duration,
            grace,
            body,
        } => format!(
            "(timeout {}{} {})",
            r_expr(duration),
            grace
                .as_ref()
                .map(|g| format!(" grace={}", r_expr(g)))
                .unwrap_or_default(),
            r_body(body)
        ),
        ExprKind::Sleep(x) => format!("(sleep {})", r_expr(x)),
        ExprKind::Cancel(x) => format!("(cancel {})", r_expr(x)),
        ExprKind::OnHosts { hosts, inner } => format!("(on {} {})", r_expr(hosts), r_expr(inner)),
    }
}

#[test]
fn on_hosts() {
    t(
        r#"spawn --on "h1" { true }"#,
        "(expr (on str('h1') (spawn {[true]})))",
    );
    t(
        "gather --on $hosts -j 8 -k { a } { b }",
        "(expr (on hosts (gather -j 8 -k {[a]} {[b]})))",
    );
    t(
        "gather -j 2 --on [\"a\", \"b\"] --group $cs",
        "(expr (on [str('a'), str('b')] (gather -j 2 --group cs)))",
    );
    t(
        "race --on $hs { a } { b }",
        "(expr (on hs (race {[a]} {[b]})))",
    );
    t(
        "let t = spawn --on (hosts[0]) make -s",
        "(let t (on (idx hosts 0) (spawn [make -s])))",
    );
    e(
        "gather --on { a }",
        "expected a host or a list of hosts after `--on`",
        12,
        false,
    );
    e(
        "gather --on $a --on $b { x }",
        "`--on` given twice",
        15,
        false,
    );
    e(
        "spawn --on",
        "expected a host or a list of hosts after `--on`",
        10,
        true,
    );
}

// ---------------------------------------------------------------- helpers

#[track_caller]
fn ok(src: &str) -> String {
    match parse(src) {
        Ok(b) => r_top(&b),
        Err(e) => panic!("parse failed for {src:?}: {e:?}"),
    }
}

#[track_caller]
fn t(src: &str, want: &str) {
    assert_eq!(ok(src), want, "source: {src:?}");
}

#[track_caller]
fn err(src: &str) -> ParseError {
    match parse(src) {
        Ok(b) => panic!("expected an error for {src:?}, got {}", r_top(&b)),
        Err(e) => e,
    }
}

/// Error message contains `msg`, at byte offset `at`, with `incomplete`.
#[track_caller]
fn e(src: &str, msg: &str, at: usize, incomplete: bool) {
    let got = err(src);
    assert!(
        got.message.contains(msg),
        "source {src:?}: message {:?} does not contain {msg:?}",
        got.message
    );
    assert_eq!(
        got.span.start as usize, at,
        "source {src:?}: span of {got:?}"
    );
    assert_eq!(
        got.incomplete, incomplete,
        "source {src:?}: incomplete of {got:?}"
    );
}

/// Incomplete input (the interactive shell reads more).
#[track_caller]
fn inc(src: &str) {
    let got = err(src);
    assert!(
        got.incomplete,
        "source {src:?} should be incomplete: {got:?}"
    );
    assert_eq!(got.span, Span::new(src.len(), src.len()), "{src:?}");
}

#[track_caller]
fn not_inc(src: &str) {
    let got = err(src);
    assert!(
        !got.incomplete,
        "source {src:?} should not be incomplete: {got:?}"
    );
}

fn first_stmt(src: &str) -> Stmt {
    parse(src).unwrap().stmts.into_iter().next().unwrap()
}

fn text(src: &str, s: Span) -> &str {
    &src[s.start as usize..s.end as usize]
}

// ---------------------------------------------------------------- smoke

#[test]
fn smoke() {
    t("echo hello world", "[echo hello world]");
    t("", "");
    t("\n\n;;\n", "");
    t("#!/usr/bin/env ash\necho a # comment\n", "[echo a]");
    t("let x = 1 + 2 * 3", "(let x (+ 1 (* 2 3)))");
}

// ---------------------------------------------------------------- statements

#[test]
fn let_assign_export() {
    t("let x = 1", "(let x 1)");
    t("let x=1", "(let x 1)");
    t("x = x + 1", "(= x (+ x 1))");
    t("x= 2", "(= x 2)");
    t("xs[0] = 5", "(= (idx xs 0) 5)");
    t("xs[i+1]=5", "(= (idx xs (+ i 1)) 5)");
    t("m.k = \"v\"", "(= (. m k) str('v'))");
    t("m[\"a b\"].c = 1", "(= (. (idx m str('a b')) c) 1)");
    t("export PATH = \"/bin\"", "(export PATH str('/bin'))");
    t("export FOO", "(export FOO)");
    t("export A=b$c", "(export A str('b'$c))");
    t("x == 1", "[x == 1]");
}

#[test]
fn unset_places() {
    // Without a place, `unset` is a command; with one, a statement.
    t("unset A B", "[unset A B]");
    t("unset m.k", "(unset (. m k))");
    t(
        "unset m[\"a b\"] xs[-1] A",
        "(unset (idx m str('a b')) (idx xs -1) A)",
    );
    t("unset m.a.b; echo", "(unset (. (. m a) b)); [echo]");
    e(
        "unset m.f(1)",
        "`unset` removes a key (`m.k`, `m[key]`) or an item (`xs[i]`): this is not one",
        6,
        false,
    );
    e(
        "unset m.k | cat",
        "expected a name, `m.k`, `m[key]` or `xs[i]` after `unset`, found `|`",
        10,
        false,
    );
}

#[test]
fn env_prefix() {
    t("FOO=1 cmd", "[FOO=1 cmd]");
    t("A=1 B=$x cmd a=b", "[A=1 B=$x cmd a=b]");
    // `=` followed by a blank is an assignment, as the grammar says.
    t("FOO= cmd", "(= FOO cmd)");
    t("FOO=\"\" cmd", "[FOO='' cmd]");
    e(
        "FOO=1",
        "expected a command after `NAME=value` (to assign a variable write `NAME = value`)",
        5,
        false,
    );
    e(
        "FOO=1\necho",
        "expected a command after `NAME=value`",
        5,
        false,
    );
}

#[test]
fn control_flow() {
    t("if (x > 3) { echo a }", "(if ((> x 3)) {[echo a]})");
    t(
        "if (x) { a } elif test -f out.txt { b } else { c }",
        "(if (x) {[a]} elif [test -f out.txt] {[b]} else {[c]})",
    );
    t(
        "if (x) {\n a\n}\nelif (y) {\n b\n}\n\nelse {\n c\n}\necho",
        "(if (x) {[a]} elif (y) {[b]} else {[c]}); [echo]",
    );
    t("if x { }\necho", "(if [x] {}); [echo]");
    t(
        "if grep -q a f && ! b { c }",
        "(if [grep -q a f && ! b] {[c]})",
    );
    t(
        "while (i < 10) { i = i + 1 }",
        "(while ((< i 10)) {(= i (+ i 1))})",
    );
    t(
        "while read line { echo $line }",
        "(while [read line] {[echo $line]})",
    );
    t(
        "while true { break; continue }",
        "(while [true] {break; continue})",
    );
    t("for f in *.log { gzip $f }", "(for f [*.log] {[gzip $f]})");
    t(
        "for i in (range(0, 5)) { echo $i }",
        "(for i [${(call range 0 5)}] {[echo $i]})",
    );
    t("for x in a b 'c d' {}", "(for x [a b 'c d'] {})");
    t("for x in {}", "(for x [] {})");
    t("if (x)\n{\n}", "(if (x) {})");
    t("if (x) { echo a; echo b }", "(if (x) {[echo a]; [echo b]})");
}

#[test]
fn return_throw() {
    t("return", "(return)");
    t("return 1", "(return 1)");
    t("fn f { return }", "(fn f () {(return)})");
    t("fn f { return; }", "(fn f () {(return)})");
    t("return $(make -s)", "(return $([make -s]))");
    t("throw \"bad $x\"", "(throw str('bad '\"$x))");
    t("throw $e", "(throw e)");
}

#[test]
fn functions() {
    t(
        "fn greet(name) { echo \"hello $name\" }",
        "(fn greet (name) {[echo 'hello '\"$name]})",
    );
    t("fn f(a, b,) {}", "(fn f (a b) {})");
    t("fn all(...rest) {}", "(fn all (...rest) {})");
    t("fn f(a, ...rest) {}", "(fn f (a ...rest) {})");
    t("fn f() {}", "(fn f () {})");
    t("fn prompt { echo '> ' }", "(fn prompt () {[echo '> ']})");
    t(
        "async fn fetch(u) { curl $u }",
        "(async fn fetch (u) {[curl $u]})",
    );
    t(
        "let f = fn (x) { return x * 2 }",
        "(let f (fn (x) {(return (* x 2))}))",
    );
    t("let f = async fn () {}", "(let f (async fn () {}))");
    t("let n = add(1, 2)", "(let n (call add 1 2))");
    t("push(xs, 1)", "(expr (call push xs 1))");
    t("f(x)[0]", "(expr (idx (call f x) 0))");
    t("greet world", "[greet world]");
    t("fn (x) {}", "(expr (fn (x) {}))");
}

#[test]
fn try_catch() {
    t("try { a } catch e { b }", "(try {[a]} (catch var=e {[b]}))");
    t(
        "try { a } catch TimeoutError e { b } catch { c } finally { d }",
        "(try {[a]} (catch kind=TimeoutError var=e {[b]}) (catch {[c]}) (finally {[d]}))",
    );
    t("try { a } finally { d }", "(try {[a]} (finally {[d]}))");
    t(
        "try { a } catch CancelledError { }",
        "(try {[a]} (catch kind=CancelledError {}))",
    );
    t(
        "try {\n a\n}\ncatch e {\n}\nfinally {\n}",
        "(try {[a]} (catch var=e {}) (finally {}))",
    );
    t(
        "try { a } catch Error err { }",
        "(try {[a]} (catch kind=Error var=err {}))",
    );
}

#[test]
fn use_source() {
    t("use std/retry", "(use std/retry)");
    t("use ./lib.ash", "(use ./lib.ash)");
    t("source ~/x.ash", "(source ~/x.ash)");
    t("source $f", "(source $f)");
}

#[test]
fn keyword_statements() {
    t("await $t", "(expr (await t))");
    t("sleep 1.5", "(expr (sleep 1.5))");
    t("sleep 200ms", "(expr (sleep 0.2s))");
    t("sleep $d", "(expr (sleep d))");
    t("sleep (x * 2)", "(expr (sleep (* x 2)))");
    t("cancel $t", "(expr (cancel t))");
    t("cancel tasks[0]", "(expr (cancel (idx tasks 0)))");
    t("spawn { a }", "(expr (spawn {[a]}))");
    t("spawn curl -s x", "(expr (spawn [curl -s x]))");
    t("spawn $c", "(expr (spawn c))");
    t("spawn f(1)", "(expr (spawn (call f 1)))");
    t("spawn (c)", "(expr (spawn c))");
    t("let t = spawn async { }", "(let t (spawn (async {})))");
    t(
        "spawn gather {a} {b}",
        "(expr (spawn (gather {[a]} {[b]})))",
    );
    t("gather {a} {b}", "(expr (gather {[a]} {[b]}))");
    t("gather $list", "(expr (gather list))");
    t(
        "gather -j 4 -k --group { a } $x (y) ${z}",
        "(expr (gather -j 4 -k --group {[a]} x y z))",
    );
    t(
        "gather --progress -j 2 { a } { b }",
        "(expr (gather -j 2 --progress {[a]} {[b]}))",
    );
    t(
        "race --progress { a } { b }",
        "(expr (race --progress {[a]} {[b]}))",
    );
    t("gather -j $n {a}", "(expr (gather -j n {[a]}))");
    t("gather {a} \\\n  {b}", "(expr (gather {[a]} {[b]}))");
    t("race {a} {b}", "(expr (race {[a]} {[b]}))");
    t("timeout 3s { a }", "(expr (timeout 3.0s {[a]}))");
    t("timeout 3s make -j4", "(expr (timeout 3.0s [make -j4]))");
    t(
        "timeout --grace 200ms 1s { a }",
        "(expr (timeout 1.0s grace=0.2s {[a]}))",
    );
    t(
        "timeout 1s --grace 200ms { a }",
        "(expr (timeout 1.0s grace=0.2s {[a]}))",
    );
    t("timeout $d $c", "(expr (timeout d c))");
    t("timeout (d * 2) { }", "(expr (timeout (* d 2) {}))");
    t(
        "let out = timeout 2s { return $(make -s) }",
        "(let out (timeout 2.0s {(return $([make -s]))}))",
    );
    t("async { a }", "(expr (async {[a]}))");
    t(
        "let t = spawn curl x | wc -l",
        "(let t (spawn [curl x | wc -l]))",
    );
    t("let r = await spawn { a }", "(let r (await (spawn {[a]})))");
    t(
        "let xs = (gather {a} {b})[0]",
        "(let xs (idx (gather {[a]} {[b]}) 0))",
    );
}

// ---------------------------------------------------------------- commands

#[test]
fn commands() {
    t("a | b | c", "[a | b | c]");
    t("a && b || c", "[a && b || c]");
    t("! a | b", "[! a | b]");
    t("!a", "[!a]");
    t("a &", "[a &]");
    t("a & b", "[a &]; [b]");
    t("a && b &", "[a && b &]");
    t("a |\n b", "[a | b]");
    t("a &&\n\n b ||\n c", "[a && b || c]");
    t("a \\\n b", "[a b]");
    t("echo if for in let", "[echo if for in let]");
    t("true", "[true]");
    t("false && x", "[false && x]");
    t("echo a; echo b", "[echo a]; [echo b]");
    t("yes | head -1", "[yes | head -1]");
}

#[test]
fn redirections() {
    t("a > out.txt", "[a >out.txt]");
    t("a >out.txt", "[a >out.txt]");
    t("a >> f < g 2> e 2>> e2", "[a >>f <g 2>e 2>>e2]");
    t("a 2>&1 1>&2 >&2", "[a 2>&1 1>&2 1>&2]");
    t("a &> f &>> g", "[a &>f &>>g]");
    t("a 1> f 1>> g", "[a >f >>g]");
    t("> f a", "[a >f]");
    t("a>b", "[a >b]");
    t("a 3>f", "[a 3 >f]");
    t("a > \"$x.txt\"", "[a >\"$x'.txt']");
    e("a >", "expected a file name after `>`", 3, false);
    e("a > | b", "expected a file name after `>`", 4, false);
    e("a 2>> ;", "expected a file name after `2>>`", 6, false);
    e("a >& f", "file descriptor", 4, false);
}

#[test]
fn words() {
    t("echo 'a b' \"c $d\" e\\ f", "[echo 'a b' 'c '\"$d e' 'f]");
    t("echo out/$name.txt", "[echo out/$name.txt]");
    t("echo $m.k", "[echo $m.k]");
    t("echo ${m.k}", "[echo ${(. m k)}]");
    t("echo $(ls -l | wc)", "[echo $([ls -l | wc])]");
    t("echo \"$(echo \")\")\"", "[echo \"$([echo ')'])]");
    t("echo (1 + 2)", "[echo ${(+ 1 2)}]");
    t("echo (x)suffix", "[echo ${x}suffix]");
    t("echo ~ ~/x a~b ~user", "[echo ~ ~/x a~b ~user]");
    t("echo $ $1 a$", "[echo $ $1 a$]");
    t("echo *.rs ? [ab]", "[echo *.rs ? [ab]]");
    t("echo a=b", "[echo a=b]");
    t("echo a#b #c", "[echo a#b]");
    t("echo \"\\\"\\\\\\$\\n\\t\\q\"", "[echo '\"\\$\n\t\\q']");
    t("echo '' \"\"", "[echo '' '']");
    t("echo a''b", "[echo ab]");
    t("echo \"a\"'b'c", "[echo 'ab'c]");
    t("echo ${ x + 1 }", "[echo ${(+ x 1)}]");
    t("echo \"${x}y\"", "[echo \"${x}'y']");
    t("echo 'it''s'", "[echo 'its']");
    t("echo é∑ 日本", "[echo é∑ 日本]");
    t("echo $(a; b\n c)", "[echo $([a]; [b]; [c])]");
    t("echo $( )", "[echo $()]");
    t("echo \"$\"", "[echo '$']");
}

#[test]
fn word_parts_quoted_flags() {
    let s = first_stmt("echo a\"b\"$c\"$d\"");
    let StmtKind::Command(a) = s.kind else {
        panic!()
    };
    let Stage::Command(cmd) = &a.first.stages[0] else {
        panic!()
    };
    let w = &cmd.words[1];
    assert_eq!(
        w.parts,
        vec![
            WordPart::Lit {
                text: "a".into(),
                quoted: false
            },
            WordPart::Lit {
                text: "b".into(),
                quoted: true
            },
            WordPart::Var {
                name: Ident {
                    name: "c".into(),
                    span: Span::new(10, 11)
                },
                quoted: false
            },
            WordPart::Var {
                name: Ident {
                    name: "d".into(),
                    span: Span::new(13, 14)
                },
                quoted: true
            },
        ]
    );
}

// ---------------------------------------------------------------- expressions

#[test]
fn expressions() {
    t(
        "let x = 1 + 2 * 3 - 4 / 5 % 6",
        "(let x (- (+ 1 (* 2 3)) (% (/ 4 5) 6)))",
    );
    t("let x = (1 + 2) * 3", "(let x (* (+ 1 2) 3))");
    t(
        "let x = a or b and not c == d",
        "(let x (or a (and b (not (== c d)))))",
    );
    t("let x = not a and b", "(let x (and (not a) b))");
    t("let x = -a * -2", "(let x (* (- a) -2))");
    t("let x = - - a", "(let x (- (- a)))");
    t("let x = a < b", "(let x (< a b))");
    t(
        "let x = a <= b != c >= d > e",
        "(let x (> (>= (!= (<= a b) c) d) e))",
    );
    t("let x = $a + b", "(let x (+ a b))");
    t(
        "let x = xs[0][1].k(1)(2)",
        "(let x (call (call (. (idx (idx xs 0) 1) k) 1) 2))",
    );
    t("let x = null", "(let x null)");
    t("let x = true or false", "(let x (or true false))");
    t("let x = [1, \"a\", $x,]", "(let x [1, str('a'), x])");
    t("let x = []", "(let x [])");
    t("let x = [\n 1,\n 2\n]", "(let x [1, 2])");
    t(
        "let m = {name: \"ash\", \"key 2\": 3, (k): 4,}",
        "(let m {str('name'): str('ash'), str('key 2'): 3, k: 4})",
    );
    t("let m = {}", "(let m {})");
    t(
        "let m = {\n a: 1,\n b: [\n 2 ]\n}",
        "(let m {str('a'): 1, str('b'): [2]})",
    );
    t("let s = 'lit $x'", "(let s str('lit $x'))");
    t("let s = \"\"", "(let s str(''))");
    t(
        "let s = \"a $x ${y + 1} $(z)\"",
        "(let s str('a '\"$x' '\"${(+ y 1)}' '\"$([z])))",
    );
    t("let c = $(date)", "(let c $([date]))");
    t("let x = ${y}", "(let x y)");
    t("let x = (a\n + b)", "(let x (+ a b))");
    t("let x = f(\n a,\n b\n)", "(let x (call f a b))");
    t("let x = f()", "(let x (call f))");
    t("let x = e.status", "(let x (. e status))");
    t("let a = async { }", "(let a (async {}))");
    t("let x = nothing", "(let x nothing)");
    t("let x = android or order", "(let x (or android order))");
}

#[test]
fn numbers() {
    t("let x = 42", "(let x 42)");
    t("let x = 1.5", "(let x 1.5)");
    t("let x = 2.0", "(let x 2.0)");
    t("let x = 1e3", "(let x 1000.0)");
    t("let x = 2.5e-1", "(let x 0.25)");
    t("let x = 250ms", "(let x 0.25s)");
    t("let x = 2s", "(let x 2.0s)");
    t("let x = 1.5m", "(let x 90.0s)");
    t("let x = 1h", "(let x 3600.0s)");
    t("let x = 9223372036854775807", "(let x 9223372036854775807)");
    t(
        "let x = -9223372036854775808",
        "(let x -9223372036854775808)",
    );
    e(
        "let x = 9223372036854775808",
        "integer literal too large",
        8,
        false,
    );
    e("let x = 3x", "invalid number suffix `x`", 9, false);
    // The numeral's edges: an exponent needs digits, a fraction too.
    t("let x = 2E+2", "(let x 200.0)");
    t("let x = 1e-3s", "(let x 0.001s)");
    t("let x = 10.25ms", "(let x 0.01025s)");
    t("let x = 07", "(let x 7)");
    e("let x = 1e", "invalid number suffix `e`", 9, false);
    e("let x = 1e+", "invalid number suffix `e`", 9, false);
    e("let x = 1.5.2", "unexpected `.2`", 11, false);
    t("let x = 1.y", "(let x (. 1 y))");
}

#[test]
fn spans() {
    let src = "echo  hello\"x\"  $(a) ";
    let s = first_stmt(src);
    assert_eq!(text(src, s.span), "echo  hello\"x\"  $(a)");
    let StmtKind::Command(a) = s.kind else {
        panic!()
    };
    let Stage::Command(cmd) = &a.first.stages[0] else {
        panic!()
    };
    let ws: Vec<&str> = cmd.words.iter().map(|w| text(src, w.span)).collect();
    assert_eq!(ws, vec!["echo", "hello\"x\"", "$(a)"]);

    let src = "let x = a + b * 2 # c";
    let s = first_stmt(src);
    assert_eq!(text(src, s.span), "let x = a + b * 2");
    let StmtKind::Let {
        pattern: Pattern::Name(name),
        value,
    } = s.kind
    else {
        panic!()
    };
    assert_eq!(text(src, name.span), "x");
    assert_eq!(text(src, value.span), "a + b * 2");
    let ExprKind::Binary(_, l, r) = value.kind else {
        panic!()
    };
    assert_eq!(text(src, l.span), "a");
    assert_eq!(text(src, r.span), "b * 2");

    let src = "if (x) {\n  echo a > f 2>&1\n} else { b }\n";
    let s = first_stmt(src);
    assert_eq!(
        text(src, s.span),
        "if (x) {\n  echo a > f 2>&1\n} else { b }"
    );
    let StmtKind::If {
        branches,
        otherwise,
    } = s.kind
    else {
        panic!()
    };
    assert_eq!(text(src, branches[0].1.span), "{\n  echo a > f 2>&1\n}");
    assert_eq!(text(src, otherwise.unwrap().span), "{ b }");
    let StmtKind::Command(c) = &branches[0].1.stmts[0].kind else {
        panic!()
    };
    let cmd = &c.first.stages[0];
    assert_eq!(text(src, cmd.span()), "echo a > f 2>&1");
    assert_eq!(text(src, cmd.redirects()[0].span), "> f");
    assert_eq!(text(src, cmd.redirects()[1].span), "2>&1");
    assert_eq!(text(src, c.span), "echo a > f 2>&1");

    let src = "let v = xs[0].k(1)";
    let StmtKind::Let { value, .. } = first_stmt(src).kind else {
        panic!()
    };
    assert_eq!(text(src, value.span), "xs[0].k(1)");

    let src = "a | b && c &";
    let StmtKind::Command(a) = first_stmt(src).kind else {
        panic!()
    };
    assert_eq!(text(src, a.span), "a | b && c &");
    assert_eq!(text(src, a.first.span), "a | b");

    let src = "fn f(a) { }";
    let StmtKind::FnDecl(f) = first_stmt(src).kind else {
        panic!()
    };
    assert_eq!(text(src, f.span), src);
    assert_eq!(text(src, f.params[0].span), "a");

    let src = "echo $name";
    let StmtKind::Command(a) = first_stmt(src).kind else {
        panic!()
    };
    let Stage::Command(cmd) = &a.first.stages[0] else {
        panic!()
    };
    let WordPart::Var { name, .. } = &cmd.words[1].parts[0] else {
        panic!()
    };
    assert_eq!(text(src, name.span), "name");
    assert_eq!(parse("  a\n").unwrap().span, Span::new(0, 4));
}

// ---------------------------------------------------------------- errors

#[test]
fn error_messages() {
    // Unclosed constructs: incomplete, span at the end.
    e(
        "if (x) {\n echo a\n",
        "expected `}` to close the block opened at line 1",
        17,
        true,
    );
    e("fn f() {\n\n  if x {\n", "opened at line 3", 19, true);
    e(
        "echo (1 + 2",
        "expected `)` to close the `(` opened at line 1",
        11,
        true,
    );
    e(
        "let x = [1, 2",
        "expected `]` to close the `[` opened at line 1",
        13,
        true,
    );
    e(
        "let x = {a: 1",
        "expected `}` to close the `{` opened at line 1",
        13,
        true,
    );
    e("echo \"abc", "unterminated string", 9, true);
    e("echo 'abc", "unterminated string", 9, true);
    e(
        "echo $(ls",
        "expected `)` to close the `$(` opened at line 1",
        9,
        true,
    );
    e(
        "echo ${x",
        "expected `}` to close the `${` opened at line 1",
        8,
        true,
    );
    e("let x =", "expected an expression after `=`", 7, true);
    e("let x = 1 +", "expected an expression after `+`", 11, true);
    e("if (x)", "expected `{` after the `if` condition", 6, true);
    e("if x", "expected `{` after the `if` condition", 4, true);
    e(
        "while (x)",
        "expected `{` after the `while` condition",
        9,
        true,
    );
    e("a |", "expected a command after `|`", 3, true);
    e("a &&", "expected a command after `&&`", 4, true);
    e("a ||  ", "expected a command after `||`", 6, true);
    e("echo a \\", "expected a character after `\\`", 8, true);
    e(
        "try { }",
        "expected `catch` or `finally` after the `try` block",
        7,
        true,
    );
    e("if", "expected a condition after `if`", 2, true);
    e(
        "fn f(a,",
        "expected `)` to close the `(` opened at line 1",
        7,
        true,
    );

    // Errors in the middle: not incomplete, span at the offending spot.
    e("echo )", "unexpected `)`", 5, false);
    e(")", "unexpected `)`", 0, false);
    e("}", "unexpected `}`", 0, false);
    e("echo a }\necho b", "unexpected `}`", 7, false);
    e("else { }", "`else` without `if`", 0, false);
    e("elif x { }", "`elif` without `if`", 0, false);
    e("catch e { }", "`catch` without `try`", 0, false);
    e("finally { }", "`finally` without `try`", 0, false);
    e(
        "let = 1",
        "expected a variable name after `let`, found `=`",
        4,
        false,
    );
    e("let x 1", "expected `=` after `let x`", 6, false);
    e("let x\necho", "expected `=` after `let x`", 5, false);
    e("let if = 1", "`if` is a keyword", 4, false);
    e(
        "let x = if",
        "`if` is a keyword and cannot be used in an expression",
        8,
        false,
    );
    e("let x = 1 2", "unexpected `2`", 10, false);
    e(
        "let x = (1 + 2\necho",
        "expected `)` to close the `(` opened at line 1",
        15,
        false,
    );
    e("let x = )", "expected an expression after `=`", 8, false);
    e(
        "let x = [1 2]",
        "expected `]` to close the `[` opened at line 1, found `2`",
        11,
        false,
    );
    e("let x = {1: 2}", "expected a map key", 9, false);
    e("let x = {a 2}", "expected `:` after the map key", 11, false);
    e(
        "if (x) echo",
        "expected `{` after the `if` condition",
        7,
        false,
    );
    e("if { }", "expected a condition after `if`", 3, false);
    e("for in x {}", "`in` is a keyword", 4, false);
    e("for x y {}", "expected `in` after `for x`", 6, false);
    e("fn (x) { } x", "unexpected `x`", 11, false);
    e(
        "fn f(1) {}",
        "expected a parameter name, found `1`",
        5,
        false,
    );
    e(
        "fn f(...a, b) {}",
        "expected `)` to close the `(`",
        11,
        false,
    );
    e("a | | b", "expected a command after `|`", 4, false);
    e("| b", "unexpected `|`", 0, false);
    e("&& b", "unexpected `&&`", 0, false);
    e("echo a(b)", "unexpected `(` inside a word", 6, false);
    e("echo {", "unexpected `{`", 5, false);
    e(
        "{ echo",
        "expected `}` to close the block opened at line 1",
        6,
        true,
    );
    e(
        "let x = 1 +\necho",
        "expected an expression after `+`",
        11,
        false,
    );
    e("and x", "unexpected keyword `and`", 0, false);
    e("sleep", "expected a duration after `sleep`", 5, true);
    e("sleep {", "expected a duration after `sleep`", 6, false);
    e("cancel\nx", "expected a task after `cancel`", 6, false);
    e(
        "timeout 1s",
        "expected a block, an expression or a command after",
        10,
        true,
    );
    e(
        "timeout { }",
        "expected a duration after `timeout`",
        8,
        false,
    );
    e("gather", "expected a branch", 6, true);
    e("gather -x {a}", "unknown `gather` option `-x`", 7, false);
    e("race x", "expected a branch", 5, false);
    e(
        "spawn",
        "expected a block, an expression or a command after `spawn`",
        5,
        true,
    );
    e("async x", "expected `{` or `fn` after `async`", 6, false);
    e(
        "let x = await",
        "expected an expression after `await`",
        13,
        true,
    );
    e("throw", "expected an expression after `throw`", 5, true);
    e("use", "expected a module path after `use`", 3, true);
    e("source", "expected a file name after `source`", 6, true);
    e("x = ", "expected an expression after `=`", 4, true);
    e(
        "let x = $",
        "expected a name, `{` or `(` after `$`",
        9,
        true,
    );
    e(
        "let x = not",
        "expected an expression after `not`",
        11,
        true,
    );
    e("let x = -", "expected an expression after `-`", 9, true);
    e("let x = a[", "expected an expression after `[`", 10, true);
    e(
        "let x = f(1,",
        "expected `)` to close the `(` opened at line 1",
        12,
        true,
    );
    e("echo (", "expected an expression after `(`", 6, true);
    e("let x = @", "expected an expression, found `@`", 8, false);
}

#[test]
fn error_span_is_a_token() {
    let src = "let x = 1 foo";
    let got = err(src);
    assert_eq!(text(src, got.span), "foo");
    let src = "  else { }";
    assert_eq!(text(src, err(src).span), "else");
    let src = "let x = 1 + while";
    assert_eq!(text(src, err(src).span), "while");
    let src = "let for = 1";
    assert_eq!(text(src, err(src).span), "for");
    let got = err("echo ∑)");
    assert_eq!(got.span, Span::new(8, 9));
}

#[test]
fn incomplete_cases() {
    for src in [
        "if (x) {",
        "if (x) {\n",
        "echo (",
        "let x = [",
        "let x = {",
        "echo 'a",
        "echo \"a",
        "echo $(",
        "echo $(echo",
        "a |",
        "a |\n",
        "a &&",
        "a ||",
        "echo \\",
        "let x =",
        "let x = ",
        "let x",
        "if (x)",
        "if (x) { } else",
        "if (x) { } elif",
        "while true",
        "for x in a b",
        "fn f(",
        "fn f()",
        "try {} catch",
        "try {} catch e",
        "let f = fn (x)",
        "gather {a} {",
        "echo \"$(echo 'a\"",
        "let x = 1 + # comment",
        "async fn",
        "let s = \"${",
        "{\n# c\n",
    ] {
        inc(src);
    }
    for src in [
        "echo )",
        "}",
        "let x = 1 2",
        "echo >",
        "FOO=1",
        "if (x) echo",
        "a | | b",
        "else {",
        "let x = 99999999999999999999",
        "echo a(",
    ] {
        not_inc(src);
    }
    for src in [
        "echo a",
        "if (x) { }",
        "a | b",
        "let x = 1",
        "",
        "# just a comment",
    ] {
        assert!(parse(src).is_ok(), "{src:?}");
    }
}

// ---------------------------------------------------------------- robustness

const SCRIPT: &str = r#"#!/usr/bin/env ash
use std/retry
let xs = [1, 2.5, "three", {a: 1, "b c": [true, null]}]
fn greet(name, ...rest) {
    echo "hello $name ${rest[0]} $(date +%s)" > /dev/null 2>&1
    return len(rest) * 2
}
async fn fetch(url) { curl -s $url | jq .data && echo ok || echo fail & }
let t = spawn { sleep 250ms; return 1 }
let r = gather -j 2 -k --group { a } $t (fetch("x"))
if (r[0] == 1 and not false) {
    xs[0] = xs[1] + 1
} elif test -f out.txt {
    m.k = 'v'
} else { export FOO = "bar" }
while read line { for w in $line *.txt ~/x { echo $w } }
try { timeout --grace 200ms 3s make -j4 } catch TimeoutError e { throw $e } finally { cancel $t }
let out = timeout 2s { return $(make -s) }
race { a } { b }
FOO=1 BAR=x env | grep FOO >> log.txt
"#;

#[test]
fn long_script_parses() {
    let b = parse(SCRIPT).unwrap();
    assert_eq!(b.stmts.len(), 12);
}

#[test]
fn no_panic_on_prefixes() {
    for (k, _) in SCRIPT.char_indices() {
        let _ = parse(&SCRIPT[..k]);
        let _ = parse(&SCRIPT[k..]);
    }
}

#[test]
fn no_panic_on_garbage() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let alphabet = b"(){}[]$\"'\\|&;<>=!#~*?.,:- \n\tabcfnilxy0129e%+/";
    for round in 0..3000 {
        let len = (round % 80) + 1;
        let mut bytes = Vec::with_capacity(len);
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let b = (seed >> 24) as u8;
            if round % 2 == 0 {
                bytes.push(b);
            } else {
                bytes.push(alphabet[b as usize % alphabet.len()]);
            }
        }
        let s = String::from_utf8_lossy(&bytes);
        let r = parse(&s);
        if let Err(e) = r {
            assert!(e.span.start <= e.span.end && e.span.end as usize <= s.len());
            assert!(s.is_char_boundary(e.span.start as usize), "{s:?}: {e:?}");
            assert!(s.is_char_boundary(e.span.end as usize), "{s:?}: {e:?}");
        }
    }
}

#[test]
fn nul_bytes() {
    t("echo a\0b", "[echo a\0b]");
    let _ = parse("\0\0\0");
    let _ = parse("let x = \0");
    let _ = parse("\"\0");
}

#[test]
fn deep_nesting_fails_cleanly() {
    // In command mode `[` is glob text: a long word, parsed quickly.
    assert!(parse(&"[".repeat(10_000)).is_ok());
    // (prefix written once, opener repeated)
    for (pre, open) in [
        ("", "("),
        ("", "{"),
        ("", "$("),
        ("", "${"),
        ("echo ", "("),
        ("let x = ", "["),
        ("let x = ", "("),
        ("let x = ", "-"),
        ("let x = ", "not "),
        ("let x = ", "f("),
        ("let x = ", "{a:"),
        ("", "if x {"),
        ("", "spawn {"),
        ("", "not "),
        ("", "await "),
        ("", "gather {"),
        ("echo ", "\"$("),
        ("echo ", "${"),
    ] {
        let src = format!("{pre}{}", open.repeat(10_000));
        let start = std::time::Instant::now();
        let r = parse(&src);
        let e = r.expect_err(open);
        assert!(!e.incomplete || e.message != "nesting too deep", "{open}");
        assert!(start.elapsed().as_secs() < 2, "{open}");
    }
    let got = err(&"(".repeat(10_000));
    assert_eq!(got.message, "nesting too deep");
    let got = err(&format!("echo {}", "(".repeat(10_000)));
    assert_eq!(got.message, "nesting too deep");
    assert!(!got.incomplete);
    let got = err(&format!("let x = {}", "[".repeat(10_000)));
    assert_eq!(got.message, "nesting too deep");
    let got = err(&"if x {".repeat(10_000));
    assert_eq!(got.message, "nesting too deep");
    // Moderate nesting is fine.
    let src = format!("let x = {}1{}", "(".repeat(50), ")".repeat(50));
    t(&src, "(let x 1)");
}

#[test]
fn big_script_is_fast() {
    let mut src = String::new();
    for k in 0..100_000 {
        match k % 4 {
            0 => src.push_str("echo hello $x > out.txt\n"),
            1 => src.push_str("let y = x + 1 * (2 - z)\n"),
            2 => src.push_str("if (y > 3) { a | b } else { c }\n"),
            _ => src.push_str("xs[0] = f(1, \"s $y\")\n"),
        }
    }
    let start = std::time::Instant::now();
    let b = parse(&src).unwrap();
    assert_eq!(b.stmts.len(), 100_000);
    eprintln!("100k statements parsed in {:?}", start.elapsed());
    // A sanity bound only: about 0.9 s in a debug build on an idle machine.
    assert!(
        start.elapsed().as_secs_f64() < 15.0,
        "{:?}",
        start.elapsed()
    );
}

/// Realistic nesting parses, even with debug-build frame sizes.
#[test]
fn moderate_nesting_parses() {
    let cases: [(&str, &str, &str, &str); 9] = [
        ("echo ", "(", "1", ")"),
        ("let x = ", "[", "1", "]"),
        ("echo ", "$(echo ", "a", ")"),
        ("", "if x {", "a", "}"),
        ("let x = ", "-", "1", ""),
        ("echo ", "${", "1", "}"),
        ("let x = ", "f(", "1", ")"),
        ("let x = ", "{a: ", "1", "}"),
        ("", "spawn { ", "a", "}"),
    ];
    for (pre, open, mid, close) in cases {
        let n = 40;
        let src = format!("{pre}{}{mid}{}", open.repeat(n), close.repeat(n));
        let ctx = lex::Ctx::default();
        let r = parse_ctx(&src, &ctx);
        assert!(r.is_ok(), "{src:?}: {:?}", r.err());
        eprintln!("{open:?}: {} bytes/level", ctx.stack_max.get() / n);
    }
}

#[test]
fn assignment_lookahead_is_linear() {
    for unit in ["a[\n", "a[ & ", "a[\"x\" ;", "a.b[c;"] {
        let src = unit.repeat(30_000);
        let start = std::time::Instant::now();
        let _ = parse(&src);
        assert!(
            // Quadratic would take minutes; linear is ~50 ms in debug.
            start.elapsed().as_secs_f64() < 10.0,
            "{unit:?}: {:?}",
            start.elapsed()
        );
    }
    t("a[ & b", "[a[ &]; [b]");
    t("xs[\"]\"] = 1", "(= (idx xs str(']')) 1)");
}

#[test]
fn no_panic_on_token_soup() {
    let vocab = [
        "let", "x", "=", "==", "if", "elif", "else", "while", "for", "in", "fn", "async", "await",
        "spawn", "gather", "race", "sleep", "timeout", "cancel", "try", "catch", "finally",
        "throw", "return", "use", "source", "export", "and", "or", "not", "true", "null", "{", "}",
        "(", ")", "[", "]", "$(", "${", "$x", "\"", "'", "\\", "|", "&&", "||", "&", ";", "\n",
        " ", "#", ">", ">>", "2>&1", "&>", "<", "-j", "--grace", "1s", "1.5", "-", "+", "*", ",",
        ":", ".", "...", "~", "é", "\0", "e", "Error", "a=b", "-k", "!",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..4000 {
        let mut s = String::new();
        for _ in 0..(round % 40 + 1) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push_str(vocab[(seed >> 33) as usize % vocab.len()]);
            if seed & 1 == 0 {
                s.push(' ');
            }
        }
        if let Err(e) = parse(&s) {
            assert!(
                e.span.start <= e.span.end && e.span.end as usize <= s.len(),
                "{s:?}"
            );
            assert!(s.is_char_boundary(e.span.start as usize), "{s:?}: {e:?}");
            assert!(s.is_char_boundary(e.span.end as usize), "{s:?}: {e:?}");
            assert!(!e.message.is_empty());
        }
    }
}

#[test]
fn misc_lexical() {
    t(
        "echo a\r\nif x {\r\n  b\r\n}\r\n",
        "[echo a]; (if [x] {[b]})",
    );
    t("let xs = [1, # one\n 2]", "(let xs [1, 2])");
    t("echo a \\\n  b \\\n  c", "[echo a b c]");
    // Backslash-newline is a blank, even inside a word.
    t("a\\\nb", "[a b]");
}
