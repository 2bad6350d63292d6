//! Expressions, including the concurrency keywords.

use crate::ast::{BinaryOp, Body, Branch, Expr, ExprKind, WordPart};
use crate::vm::chunk::{GatherFlags, Op};
use crate::vm::value::Value;

use super::{CResult, Compiler, SiteKind};

impl Compiler<'_> {
    pub(super) fn expr(&mut self, e: &Expr) -> CResult {
        let span = e.span;
        match &e.kind {
            ExprKind::Null => {
                self.emit(Op::Null, span);
            }
            ExprKind::Bool(b) => {
                let k = self.constant(Value::Bool(*b));
                self.emit(Op::Const(k), span);
            }
            ExprKind::Int(i) => {
                match i32::try_from(*i) {
                    Ok(small) => self.emit(Op::SmallInt(small), span),
                    Err(_) => {
                        let k = self.constant(Value::Int(*i));
                        self.emit(Op::Const(k), span)
                    }
                };
            }
            ExprKind::Float(x) => {
                let k = self.constant(Value::Float(*x));
                self.emit(Op::Const(k), span);
            }
            ExprKind::Duration(secs) => {
                let k = self.constant(Value::Duration(*secs));
                self.emit(Op::Const(k), span);
            }
            ExprKind::Str(parts) => self.string_parts(parts, span)?,
            ExprKind::List(items) => {
                for item in items {
                    self.expr(item)?;
                }
                self.emit(Op::MakeList(items.len() as u32), span);
            }
            ExprKind::Map(entries) => {
                for (k, v) in entries {
                    self.expr(k)?;
                    self.expr(v)?;
                }
                self.emit(Op::MakeMap(entries.len() as u32), span);
            }
            ExprKind::Var(name) => self.load_var(&name.name, name.span),
            ExprKind::Capture(block) => self.capture(block)?,
            ExprKind::Unary(op, operand) => {
                self.expr(operand)?;
                self.emit(Op::Unary(*op), span);
            }
            ExprKind::Binary(BinaryOp::And, a, b) => {
                self.expr(a)?;
                let j = self.emit(Op::AndJump(0), span);
                self.expr(b)?;
                self.patch(j);
            }
            ExprKind::Binary(BinaryOp::Or, a, b) => {
                self.expr(a)?;
                let j = self.emit(Op::OrJump(0), span);
                self.expr(b)?;
                self.patch(j);
            }
            ExprKind::Binary(op, a, b) => {
                self.expr(a)?;
                self.expr(b)?;
                self.emit(Op::Binary(*op), span);
            }
            ExprKind::Index(c, k) => {
                self.expr(c)?;
                self.expr(k)?;
                self.emit(Op::Index, span);
            }
            ExprKind::Slice {
                target,
                start,
                end,
                step,
            } => {
                self.expr(target)?;
                for bound in [start, end] {
                    match bound {
                        Some(b) => self.expr(b)?,
                        None => {
                            self.emit(Op::Null, span);
                        }
                    }
                }
                if let Some(st) = step {
                    self.expr(st)?;
                }
                self.emit(
                    Op::Slice {
                        step: step.is_some(),
                    },
                    span,
                );
            }
            ExprKind::Field(c, name) => {
                self.expr(c)?;
                let k = self.constant(Value::str(&name.name));
                self.emit(Op::Field(k), name.span);
            }
            ExprKind::Call(callee, args) => {
                self.expr(callee)?;
                for a in args {
                    self.expr(a)?;
                }
                self.emit(Op::Call(args.len() as u32), span);
            }
            ExprKind::Lambda(def) => self.function(def)?,
            ExprKind::Async(block) => {
                self.body_closure("async block", block)?;
                self.emit(Op::MakeCoroutine, span);
            }
            ExprKind::Await(inner) => {
                self.expr(inner)?;
                self.emit(Op::Await, span);
            }
            ExprKind::Spawn(_) | ExprKind::Gather { .. } | ExprKind::Race { .. } => {
                let site = self.reserve_site(fan_out_site(e));
                self.fan_out(e, span, site, false)?;
            }
            ExprKind::Timeout {
                duration,
                grace,
                body,
            } => {
                self.expr(duration)?;
                if let Some(g) = grace {
                    self.expr(g)?;
                }
                self.coroutine_body("timeout", body)?;
                self.emit(
                    Op::Timeout {
                        grace: grace.is_some(),
                    },
                    span,
                );
            }
            ExprKind::Sleep(d) => {
                self.expr(d)?;
                self.emit(Op::Sleep, span);
                self.emit(Op::Null, span);
            }
            ExprKind::Cancel(t) => {
                self.expr(t)?;
                self.emit(Op::Cancel, span);
                self.emit(Op::Null, span);
            }
            ExprKind::OnHosts { hosts, inner } => self.on_hosts(hosts, inner, span)?,
        }
        Ok(())
    }

    /// `spawn --on`, `gather --on`, `race --on`: the hosts, then what the
    /// plain form would push, then the remote form of its op. The site is
    /// reserved before the hosts are compiled, so its ordinal comes first.
    fn on_hosts(&mut self, hosts: &Expr, inner: &Expr, span: crate::ast::Span) -> CResult {
        let site = self.reserve_site(fan_out_site(inner));
        self.expr(hosts)?;
        self.fan_out(inner, span, site, true)
    }

    /// `spawn`, `gather` or `race` (`e`), here or on the hosts already
    /// pushed (`remote`): the body or branches, then the op at `site`.
    fn fan_out(&mut self, e: &Expr, span: crate::ast::Span, site: u32, remote: bool) -> CResult {
        let op = match &e.kind {
            ExprKind::Spawn(body) => {
                self.coroutine_body("spawn", body)?;
                if remote {
                    Op::SpawnOn
                } else {
                    Op::Spawn { job: false }
                }
            }
            ExprKind::Gather { opts, branches } => {
                self.branches(branches)?;
                if let Some(limit) = &opts.limit {
                    self.expr(limit)?;
                }
                let n = branches.len() as u32;
                let flags = GatherFlags::new(
                    opts.keep_going,
                    opts.group,
                    opts.progress,
                    opts.limit.is_some(),
                );
                if remote {
                    Op::GatherOn { n, flags }
                } else {
                    Op::Gather { n, flags }
                }
            }
            ExprKind::Race { branches, progress } => {
                self.branches(branches)?;
                let n = branches.len() as u32;
                let progress = *progress;
                if remote {
                    Op::RaceOn { n, progress }
                } else {
                    Op::Race { n, progress }
                }
            }
            _ => return super::error(span, "`--on` goes with `spawn`, `gather` or `race`"),
        };
        self.emit_site(op, span, site);
        Ok(())
    }

    /// `"text $x ${e} $(cmd)"`: always a string.
    pub(super) fn string_parts(&mut self, parts: &[WordPart], span: crate::ast::Span) -> CResult {
        match parts {
            [] => self.push_str("", span),
            [WordPart::Lit { text, .. }] => self.push_str(text, span),
            _ => {
                for p in parts {
                    self.word_part(p, span)?;
                }
                self.emit(Op::Concat(parts.len() as u32), span);
            }
        }
        Ok(())
    }

    /// The body of `spawn` / `timeout`, as a value on the stack: a closure
    /// for a block or command (the VM runs it as a coroutine), or the value
    /// of an expression (a coroutine or a task).
    pub(super) fn coroutine_body(&mut self, name: &str, body: &Body) -> CResult {
        match body {
            Body::Block(block) => {
                self.body_closure(name, block)?;
                self.emit(Op::MakeCoroutine, block.span);
            }
            // `timeout 1s sleep 5`, `spawn gather ...`: a keyword form is
            // itself the body, run under the deadline / in the task.
            Body::Expr(
                e @ Expr {
                    kind:
                        ExprKind::Sleep(_)
                        | ExprKind::Gather { .. }
                        | ExprKind::Race { .. }
                        | ExprKind::Await(_)
                        | ExprKind::Timeout { .. }
                        | ExprKind::Capture(_),
                    ..
                },
            ) => {
                self.begin_func(name.to_string(), e.span);
                self.expr(e)?;
                self.emit(Op::Return, e.span);
                let proto = self.finish_func();
                self.emit_closure(proto, e.span);
                self.emit(Op::MakeCoroutine, e.span);
            }
            // `spawn $c`, `timeout 3s f(x)`: the value is the coroutine.
            Body::Expr(e) => self.expr(e)?,
            Body::Command(andor) => {
                let text = self.text_of(andor.span);
                self.begin_func(
                    if text.is_empty() {
                        name.to_string()
                    } else {
                        text
                    },
                    andor.span,
                );
                self.andor_in_coroutine(andor)?;
                self.emit(Op::Null, andor.span);
                self.emit(Op::Return, andor.span);
                let proto = self.finish_func();
                self.emit_closure(proto, andor.span);
                self.emit(Op::MakeCoroutine, andor.span);
            }
        }
        Ok(())
    }

    fn branches(&mut self, branches: &[Branch]) -> CResult {
        for b in branches {
            match b {
                Branch::Block(block) => {
                    self.body_closure("branch", block)?;
                    self.emit(Op::MakeCoroutine, block.span);
                }
                Branch::Expr(e) => self.expr(e)?,
            }
        }
        Ok(())
    }

    /// `$(statements)`: run them with stdout into a pipe.
    pub(super) fn capture(&mut self, block: &crate::ast::Block) -> CResult {
        self.body_closure("$( )", block)?;
        self.emit(Op::Capture, block.span);
        Ok(())
    }
}

/// The kind of site a `spawn`, `gather` or `race` reserves (anything else
/// under `--on` is an error reported after its site is taken).
fn fan_out_site(e: &Expr) -> SiteKind {
    match &e.kind {
        ExprKind::Spawn(_) => SiteKind::Spawn,
        ExprKind::Gather { .. } => SiteKind::Gather,
        _ => SiteKind::Race,
    }
}
