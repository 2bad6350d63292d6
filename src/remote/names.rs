//! The free names of a piece of code: the variables and functions it uses
//! that it does not declare itself. These are what travels with a body to
//! another host (their values, or the code of functions).
//!
//! The walk over-approximates where ash resolves names at run time: the
//! first word of every command counts (it may name a function), so do
//! names that turn out to be builtins or environment variables; the
//! caller keeps only those that are variables or functions of the script.

use std::collections::HashSet;

use crate::ast::{
    AndOr, Block, Body, Branch, Command, Cond, Expr, ExprKind, FnDef, Pattern, Pipeline, Stage,
    Stmt, StmtKind, Word, WordPart,
};

/// The free names, in the order they are first used.
#[derive(Default)]
pub struct FreeNames {
    scopes: Vec<HashSet<String>>,
    seen: HashSet<String>,
    pub names: Vec<String>,
}

impl FreeNames {
    #[cfg(test)]
    pub fn of_block(block: &Block) -> Vec<String> {
        let mut f = FreeNames::default();
        f.block(block);
        f.names
    }

    pub fn of_fn(def: &FnDef) -> Vec<String> {
        let mut f = FreeNames::default();
        f.function(def);
        f.names
    }

    pub fn of_body(body: &Body) -> Vec<String> {
        let mut f = FreeNames::default();
        f.body(body);
        f.names
    }

    fn declared(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.contains(name))
    }

    fn declare(&mut self, name: &str) {
        if let Some(s) = self.scopes.last_mut() {
            s.insert(name.to_string());
        }
    }

    fn use_name(&mut self, name: &str) {
        if !self.declared(name) && self.seen.insert(name.to_string()) {
            self.names.push(name.to_string());
        }
    }

    fn declare_pattern(&mut self, p: &Pattern) {
        for id in p.names() {
            self.declare(&id.name);
        }
    }

    fn scoped(&mut self, f: impl FnOnce(&mut Self)) {
        self.scopes.push(HashSet::new());
        f(self);
        self.scopes.pop();
    }

    fn block(&mut self, block: &Block) {
        self.scoped(|f| f.stmts(&block.stmts));
    }

    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn function(&mut self, def: &FnDef) {
        self.scoped(|f| {
            for p in def.params.iter().chain(def.rest.iter()) {
                f.declare(&p.name);
            }
            f.stmts(&def.body.stmts);
        });
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Let { pattern, value } => {
                self.expr(value);
                self.declare_pattern(pattern);
            }
            StmtKind::Assign { target, value, .. } => {
                self.expr(target);
                self.expr(value);
            }
            StmtKind::Export { name, value } => match value {
                Some(v) => self.expr(v),
                None => self.use_name(&name.name),
            },
            StmtKind::If {
                branches,
                otherwise,
            } => {
                for (c, b) in branches {
                    self.cond(c);
                    self.block(b);
                }
                if let Some(b) = otherwise {
                    self.block(b);
                }
            }
            StmtKind::While { cond, body } => {
                self.cond(cond);
                self.block(body);
            }
            StmtKind::For {
                pattern,
                words,
                body,
            } => {
                for w in words {
                    self.word(w);
                }
                self.scoped(|f| {
                    f.declare_pattern(pattern);
                    f.stmts(&body.stmts);
                });
            }
            StmtKind::Group(block) => self.block(block),
            StmtKind::Break | StmtKind::Continue => {}
            StmtKind::Return(e) => {
                if let Some(e) = e {
                    self.expr(e);
                }
            }
            StmtKind::Throw(e) => self.expr(e),
            StmtKind::FnDecl(def) => {
                if let Some(name) = &def.name {
                    // Declared before its body: it may call itself.
                    self.declare(&name.name);
                }
                self.function(def);
            }
            StmtKind::Try {
                body,
                catches,
                finally,
            } => {
                self.block(body);
                for c in catches {
                    self.scoped(|f| {
                        if let Some(v) = &c.var {
                            f.declare(&v.name);
                        }
                        f.stmts(&c.body.stmts);
                    });
                }
                if let Some(b) = finally {
                    self.block(b);
                }
            }
            StmtKind::Use { .. } => {}
            StmtKind::Source { path } => self.word(path),
            StmtKind::Command(a) => self.andor(a),
            StmtKind::Unset { places, names: _ } => places.iter().for_each(|e| self.expr(e)),
            StmtKind::Expr(e) => self.expr(e),
        }
    }

    fn cond(&mut self, c: &Cond) {
        match c {
            Cond::Expr(e) => self.expr(e),
            Cond::Command(a) => self.andor(a),
        }
    }

    fn andor(&mut self, a: &AndOr) {
        self.pipeline(&a.first);
        for (_, p) in &a.rest {
            self.pipeline(p);
        }
    }

    fn pipeline(&mut self, p: &Pipeline) {
        for stage in &p.stages {
            match stage {
                Stage::Command(c) => self.command(c),
                Stage::Compound(c) => {
                    self.scoped(|f| f.stmt(&c.body));
                    for r in &c.redirects {
                        if let Some(w) = &r.target {
                            self.word(w);
                        }
                    }
                }
            }
        }
    }

    fn command(&mut self, c: &Command) {
        for (_, w) in &c.env {
            self.word(w);
        }
        // A command named by a plain word may be a function of the script.
        if let Some(first) = c.words.first()
            && let [
                WordPart::Lit {
                    text,
                    quoted: false,
                },
            ] = first.parts.as_slice()
            && !text.contains('/')
        {
            self.use_name(text);
        }
        for w in &c.words {
            self.word(w);
        }
        for r in &c.redirects {
            if let Some(w) = &r.target {
                self.word(w);
            }
        }
    }

    fn word(&mut self, w: &Word) {
        for p in &w.parts {
            self.word_part(p);
        }
    }

    fn word_part(&mut self, p: &WordPart) {
        match p {
            WordPart::Lit { .. } | WordPart::Tilde { .. } => {}
            WordPart::Var { name, .. } => self.use_name(&name.name),
            WordPart::Expr { expr, .. } => self.expr(expr),
            WordPart::Capture { body, .. } => self.block(body),
        }
    }

    fn body(&mut self, b: &Body) {
        match b {
            Body::Block(block) => self.block(block),
            Body::Expr(e) => self.expr(e),
            Body::Command(a) => self.andor(a),
        }
    }

    fn branches(&mut self, branches: &[Branch]) {
        for b in branches {
            match b {
                Branch::Block(block) => self.block(block),
                Branch::Expr(e) => self.expr(e),
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Duration(_) => {}
            ExprKind::Str(parts) => {
                for p in parts {
                    self.word_part(p);
                }
            }
            ExprKind::List(items) => items.iter().for_each(|i| self.expr(i)),
            ExprKind::Map(entries) => {
                for (k, v) in entries {
                    self.expr(k);
                    self.expr(v);
                }
            }
            ExprKind::Var(name) => self.use_name(&name.name),
            ExprKind::Capture(block) | ExprKind::Async(block) => self.block(block),
            ExprKind::Unary(_, x)
            | ExprKind::Await(x)
            | ExprKind::Sleep(x)
            | ExprKind::Cancel(x) => self.expr(x),
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Slice {
                target,
                start,
                end,
                step,
            } => {
                self.expr(target);
                for e in [start, end, step].into_iter().flatten() {
                    self.expr(e);
                }
            }
            ExprKind::Field(x, _) => self.expr(x),
            ExprKind::Call(callee, args) => {
                self.expr(callee);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::Lambda(def) => self.function(def),
            ExprKind::Spawn(body) => self.body(body),
            ExprKind::Gather { opts, branches } => {
                if let Some(l) = &opts.limit {
                    self.expr(l);
                }
                self.branches(branches);
            }
            ExprKind::Race { branches, .. } => self.branches(branches),
            ExprKind::Timeout {
                duration,
                grace,
                body,
            } => {
                self.expr(duration);
                if let Some(g) = grace {
                    self.expr(g);
                }
                self.body(body);
            }
            ExprKind::OnHosts { hosts, inner } => {
                self.expr(hosts);
                self.expr(inner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<String> {
        let block = crate::syntax::parse(src).expect("parses");
        FreeNames::of_block(&block)
    }

    #[test]
    fn declared_names_are_not_free() {
        assert_eq!(
            names(
                "let a = b + 1; echo $a $c; fn f(x) { return x + d }; f 1; for i in $xs { echo $i }"
            ),
            ["b", "echo", "c", "d", "xs"]
        );
    }

    #[test]
    fn names_used_before_their_let_are_free() {
        assert_eq!(names("echo $x; let x = 1; echo $x"), ["echo", "x"]);
    }

    #[test]
    fn nested_bodies_and_catch_variables() {
        assert_eq!(
            names(
                "gather { work $n } { try { ./run.sh } catch e { echo ${e.kind} $m } }; timeout $t { g() }"
            ),
            ["work", "n", "echo", "m", "t", "g"]
        );
    }
}
