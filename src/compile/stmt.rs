//! Statements: declarations, control flow, `try`, loops.

use crate::ast::{BinaryOp, Block, Cond, Expr, ExprKind, FnDef, Pattern, Span, Stmt, StmtKind};
use crate::vm::chunk::Op;
use crate::vm::error::ErrorKind;

use super::{CResult, Compiler, LoopCtx, TryCtx, error};

impl Compiler<'_> {
    pub(super) fn block_stmts(&mut self, block: &Block) -> CResult {
        for stmt in &block.stmts {
            self.stmt(stmt)?;
        }
        Ok(())
    }

    /// A `{ }` block with its own scope.
    pub(super) fn scoped_block(&mut self, block: &Block) -> CResult {
        self.begin_scope();
        let r = self.block_stmts(block);
        self.end_scope();
        r
    }

    /// One statement (also a compound stage's body, in its closure or
    /// inline).
    pub(super) fn stmt_in_line(&mut self, stmt: &Stmt) -> CResult {
        self.stmt(stmt)
    }

    fn stmt(&mut self, stmt: &Stmt) -> CResult {
        let span = stmt.span;
        match &stmt.kind {
            StmtKind::Let { pattern, value } => {
                self.expr(value)?;
                self.bind(pattern)?;
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value)?,
            StmtKind::Group(body) => self.scoped_block(body)?,
            StmtKind::Export { name, value } => {
                self.push_str(&name.name, name.span);
                match value {
                    Some(v) => self.expr(v)?,
                    None => self.load_var(&name.name, name.span),
                }
                self.emit(Op::Export, span);
            }
            StmtKind::If {
                branches,
                otherwise,
            } => {
                let mut end_jumps = Vec::new();
                for (cond, body) in branches {
                    let skip = self.cond(cond)?;
                    self.scoped_block(body)?;
                    end_jumps.push(self.emit(Op::Jump(0), span));
                    self.patch(skip);
                }
                if let Some(body) = otherwise {
                    self.scoped_block(body)?;
                }
                for j in end_jumps {
                    self.patch(j);
                }
            }
            StmtKind::While { cond, body } => {
                let top = self.here();
                let exit = self.cond(cond)?;
                self.loop_body(body, top)?;
                self.emit(Op::Loop(top as u32), span);
                self.patch(exit);
                self.end_loop(false);
            }
            StmtKind::For {
                pattern,
                words,
                body,
            } => {
                for w in words {
                    self.word(w)?;
                }
                self.emit(Op::ArgList(words.len() as u32), span);
                self.emit(Op::ForPrep, span);
                let top = self.here();
                let next = self.emit(Op::ForNext(0), span);
                self.begin_scope();
                self.bind(pattern)?;
                self.loop_body(body, top)?;
                self.end_scope();
                self.emit(Op::Loop(top as u32), span);
                self.patch(next);
                self.end_loop(true);
            }
            StmtKind::Break => self.break_continue(true, span)?,
            StmtKind::Continue => self.break_continue(false, span)?,
            StmtKind::Return(value) => {
                if self.f().stage.is_some() && !self.can_return() {
                    return error(span, "`return` outside a function");
                }
                if self.funcs.len() == 1 {
                    return error(span, "`return` outside a function");
                }
                match value {
                    Some(v) => self.expr(v)?,
                    None => {
                        self.emit(Op::Null, span);
                    }
                }
                self.return_value(span)?;
            }
            StmtKind::Throw(value) => {
                self.expr(value)?;
                self.emit(Op::Throw, span);
            }
            StmtKind::FnDecl(def) => self.fn_decl(def)?,
            StmtKind::Try {
                body,
                catches,
                finally,
            } => self.try_stmt(body, catches, finally.as_ref(), span)?,
            StmtKind::Use { path } => {
                self.push_str(path, span);
                self.emit(Op::Use { source: false }, span);
            }
            StmtKind::Source { path } => {
                self.word(path)?;
                self.emit(Op::ToStr, span);
                self.emit(Op::Use { source: true }, span);
            }
            StmtKind::Command(andor) => self.andor(andor, false)?,
            StmtKind::Unset { places, names } => self.unset(places, names, span)?,
            StmtKind::Expr(e) => {
                self.expr(e)?;
                self.emit(Op::Pop, span);
            }
        }
        Ok(())
    }

    /// `unset m.k xs[i] NAME`: each place's key or item removed, in order;
    /// the names then go to the `unset` command.
    fn unset(&mut self, places: &[Expr], names: &[crate::ast::Ident], span: Span) -> CResult {
        for place in places {
            match &place.kind {
                ExprKind::Field(c, name) => {
                    self.expr(c)?;
                    self.push_str(&name.name, name.span);
                }
                ExprKind::Index(c, k) => {
                    self.expr(c)?;
                    self.expr(k)?;
                }
                _ => return error(place.span, "`unset` removes a key or an item"),
            }
            self.emit(Op::Remove, place.span);
        }
        if names.is_empty() {
            return Ok(());
        }
        let lit = |text: &str, span: Span| crate::ast::Word {
            parts: vec![crate::ast::WordPart::Lit {
                text: text.to_string(),
                quoted: false,
            }],
            span,
        };
        let mut words = vec![lit("unset", span)];
        words.extend(names.iter().map(|n| lit(&n.name, n.span)));
        let pipeline = crate::ast::Pipeline {
            negated: false,
            stages: vec![crate::ast::Stage::Command(crate::ast::Command {
                env: Vec::new(),
                words,
                redirects: Vec::new(),
                span,
            })],
            span,
        };
        self.andor(
            &crate::ast::AndOr {
                first: pipeline,
                rest: Vec::new(),
                background: false,
                span,
            },
            false,
        )
    }

    /// Leave the function with the value on the stack (through the stage
    /// closures around this code, if any).
    pub(super) fn return_value(&mut self, span: Span) -> CResult {
        if self.f().stage.is_some() {
            return self.stage_jump(super::EXIT_RETURN, span);
        }
        self.leave_tries(0, span)?;
        self.emit(Op::Return, span);
        Ok(())
    }

    /// Bind the value on the stack to a `let`/`for` pattern, declaring its
    /// names in the current scope.
    fn bind(&mut self, pattern: &Pattern) -> CResult {
        let names = pattern.names();
        let mut seen = std::collections::HashSet::with_capacity(names.len());
        for a in &names {
            if !seen.insert(a.name.as_str()) {
                return error(
                    a.span,
                    format!("`{}` is bound twice in the pattern", a.name),
                );
            }
        }
        pattern_fits(pattern)?;
        self.bind_one(pattern);
        Ok(())
    }

    fn bind_one(&mut self, pattern: &Pattern) {
        match pattern {
            Pattern::Name(id) => self.declare_and_store(&id.name, id.span),
            Pattern::List {
                before,
                rest,
                after,
                span,
            } => {
                // `pattern_fits` checked both counts.
                self.emit(
                    Op::Unpack {
                        before: u16::try_from(before.len()).unwrap_or(u16::MAX),
                        rest: rest.is_some(),
                        after: u16::try_from(after.len()).unwrap_or(u16::MAX),
                    },
                    *span,
                );
                // The last item is on top: store right to left.
                for p in after.iter().rev() {
                    self.bind_one(p);
                }
                if let Some(r) = rest {
                    self.declare_and_store(&r.name, r.span);
                }
                for p in before.iter().rev() {
                    self.bind_one(p);
                }
            }
        }
    }

    fn assign(
        &mut self,
        target: &crate::ast::Expr,
        op: Option<BinaryOp>,
        value: &crate::ast::Expr,
    ) -> CResult {
        // `x op= v` computes `x op v`; `+=` extends a list in place.
        let combine = |c: &mut Self| match op {
            Some(BinaryOp::Add) => {
                c.emit(Op::AddInPlace, target.span);
            }
            Some(op) => {
                c.emit(Op::Binary(op), target.span);
            }
            None => {}
        };
        match &target.kind {
            ExprKind::Var(name) => {
                if op.is_some() {
                    self.load_var(&name.name, name.span);
                }
                self.expr(value)?;
                combine(self);
                self.store_var(&name.name, name.span);
            }
            ExprKind::Index(container, key) => {
                self.expr(container)?;
                self.expr(key)?;
                if op.is_some() {
                    self.emit(Op::Dup2, target.span);
                    self.emit(Op::Index, target.span);
                }
                self.expr(value)?;
                combine(self);
                self.emit(Op::SetIndex, target.span);
            }
            ExprKind::Field(container, field) => {
                self.expr(container)?;
                let k = self.constant(crate::vm::value::Value::str(&field.name));
                if op.is_some() {
                    self.emit(Op::Dup, target.span);
                    self.emit(Op::Field(k), field.span);
                }
                self.expr(value)?;
                combine(self);
                self.emit(Op::SetField(k), target.span);
            }
            ExprKind::Slice { .. } => {
                return error(
                    target.span,
                    "cannot assign to a slice (build a new list: `xs = xs[:i] + ys + xs[j:]`)",
                );
            }
            _ => return error(target.span, "cannot assign to this expression"),
        }
        Ok(())
    }

    /// Compile a condition; returns the jump to patch to the false branch.
    pub(super) fn cond(&mut self, cond: &Cond) -> CResult<usize> {
        Ok(match cond {
            Cond::Expr(e) => match &e.kind {
                ExprKind::Binary(
                    op @ (BinaryOp::Lt
                    | BinaryOp::Le
                    | BinaryOp::Gt
                    | BinaryOp::Ge
                    | BinaryOp::Eq
                    | BinaryOp::Ne),
                    a,
                    b,
                ) => {
                    self.expr(a)?;
                    self.expr(b)?;
                    self.emit(Op::CompareJump(*op, 0), e.span)
                }
                _ => {
                    self.expr(e)?;
                    self.emit(Op::JumpIfFalse(0), e.span)
                }
            },
            Cond::Command(andor) => {
                self.andor(andor, true)?;
                self.emit(
                    Op::JumpIfStatus {
                        nonzero: true,
                        target: 0,
                    },
                    andor.span,
                )
            }
        })
    }

    fn loop_body(&mut self, body: &Block, top: usize) -> CResult {
        let try_depth = self.f().tries.len();
        self.f().loops.push(LoopCtx {
            continue_target: top,
            break_jumps: Vec::new(),
            try_depth,
        });
        self.scoped_block(body)
    }

    /// After the loop's exit point: `break` lands here.
    fn end_loop(&mut self, is_for: bool) {
        let Some(ctx) = self.f().loops.pop() else {
            return;
        };
        if ctx.break_jumps.is_empty() {
            return;
        }
        // Normal exit skips the break landing (which pops the for state).
        let skip = is_for.then(|| self.emit(Op::Jump(0), Span::default()));
        for j in ctx.break_jumps {
            self.patch(j);
        }
        if is_for {
            self.emit(Op::Pop, Span::default());
            self.emit(Op::Pop, Span::default());
        }
        if let Some(skip) = skip {
            self.patch(skip);
        }
    }

    pub(super) fn break_continue(&mut self, is_break: bool, span: Span) -> CResult {
        let word = if is_break { "break" } else { "continue" };
        if self.f().loops.is_empty() && self.f().stage.is_some() && self.in_loop() {
            let kind = if is_break {
                super::EXIT_BREAK
            } else {
                super::EXIT_CONTINUE
            };
            return self.stage_jump(kind, span);
        }
        let Some(ctx) = self.f().loops.last() else {
            return error(span, format!("`{word}` outside a loop"));
        };
        let (try_depth, target) = (ctx.try_depth, ctx.continue_target);
        self.leave_tries(try_depth, span)?;
        if is_break {
            let j = self.emit(Op::Jump(0), span);
            if let Some(ctx) = self.f().loops.last_mut() {
                ctx.break_jumps.push(j);
            }
        } else {
            self.emit(Op::Loop(target as u32), span);
        }
        Ok(())
    }

    /// Leaving the `try` blocks above `depth` early: pop their handlers and
    /// run their `finally` blocks, innermost first.
    pub(super) fn leave_tries(&mut self, depth: usize, span: Span) -> CResult {
        let n = self.f().tries.len();
        for i in (depth..n).rev() {
            if self.f().tries[i].handler_pushed {
                self.emit(Op::PopHandler, span);
            }
            if let Some(finally) = self.f().tries[i].finally.clone() {
                // Compile the finally with only the outer tries visible.
                let saved = self.f().tries.split_off(i);
                let r = self.scoped_block(&finally);
                self.f().tries.extend(saved);
                r?;
            }
        }
        Ok(())
    }

    fn fn_decl(&mut self, def: &FnDef) -> CResult {
        let Some(name) = &def.name else {
            return error(def.span, "a function declaration needs a name");
        };
        if let Some(span) = calls_itself_first(def, &name.name) {
            return error(
                span,
                format!(
                    "fn {0} runs itself as its first command, which would repeat until a RecursionError; to run the program {0}, write `command {0}` (a builtin: `builtin {0}`)",
                    name.name
                ),
            );
        }
        if self.f().at_global_scope() {
            self.function(def)?;
            let g = self.globals.intern(&name.name);
            self.emit(Op::DefineGlobal(g), name.span);
        } else {
            // Declare first so the body can call itself through the cell.
            self.emit(Op::Null, name.span);
            let slot = self.new_local(&name.name, name.span);
            self.emit(Op::DeclLocal(slot), name.span);
            self.function(def)?;
            self.emit(Op::StoreLocal(slot), name.span);
        }
        Ok(())
    }

    /// Compile a function literal and emit its closure.
    pub(super) fn function(&mut self, def: &FnDef) -> CResult {
        let name = def.name.as_ref().map_or("<fn>", |n| n.name.as_str());
        self.begin_func(name.to_string(), def.span);
        if def.name.is_some() {
            self.name_scope(name);
        }
        for p in &def.params {
            self.new_local(&p.name, p.span);
        }
        if let Some(rest) = &def.rest {
            self.new_local(&rest.name, rest.span);
        }
        let f = self.f();
        f.n_params = def.params.len() as u16;
        f.has_rest = def.rest.is_some();
        f.is_async = def.is_async;
        self.block_stmts(&def.body)?;
        self.emit(Op::Null, def.body.span);
        self.emit(Op::Return, def.body.span);
        let proto = self.finish_func();
        self.emit_closure(proto, def.span);
        Ok(())
    }

    fn try_stmt(
        &mut self,
        body: &Block,
        catches: &[crate::ast::Catch],
        finally: Option<&Block>,
        span: Span,
    ) -> CResult {
        let has_catch = !catches.is_empty();
        // The body: errors go to the catch dispatch (or straight to the
        // finally when there is no catch).
        let handler = self.emit(Op::PushHandler(0), span);
        self.f().tries.push(TryCtx {
            handler_pushed: true,
            finally: finally.cloned(),
        });
        self.scoped_block(body)?;
        self.f().tries.pop();
        self.emit(Op::PopHandler, span);
        let mut to_finally = vec![self.emit(Op::Jump(0), span)];
        self.patch(handler);
        // Here: [error]
        let mut err_handler = None;
        if has_catch {
            if finally.is_some() {
                err_handler = Some(self.emit(Op::PushHandler(0), span));
            }
            for catch in catches {
                match &catch.kind {
                    Some(kind) => {
                        let Some(k) = ErrorKind::from_name(&kind.name) else {
                            return error(kind.span, format!("unknown error kind `{}`", kind.name));
                        };
                        self.emit(Op::IsKind(k), kind.span);
                    }
                    None => {
                        self.emit(Op::IsCatchable, catch.span);
                    }
                }
                let next = self.emit(Op::JumpIfFalse(0), catch.span);
                self.begin_scope();
                match &catch.var {
                    Some(var) => self.declare_and_store(&var.name, var.span),
                    None => {
                        self.emit(Op::Pop, catch.span);
                    }
                }
                self.f().tries.push(TryCtx {
                    handler_pushed: finally.is_some(),
                    finally: finally.cloned(),
                });
                let r = self.block_stmts(&catch.body);
                self.f().tries.pop();
                self.end_scope();
                r?;
                if finally.is_some() {
                    self.emit(Op::PopHandler, catch.span);
                }
                to_finally.push(self.emit(Op::Jump(0), catch.span));
                self.patch(next);
            }
            // No clause matched: re-raise (through the finally, if any).
            if finally.is_some() {
                self.emit(Op::PopHandler, span);
            }
        }
        match finally {
            Some(f) => {
                // Error path: [error] -> run finally -> re-raise.
                if let Some(h) = err_handler {
                    self.patch(h);
                }
                self.scoped_block(f)?;
                self.emit(Op::Throw, span);
                for j in to_finally {
                    self.patch(j);
                }
                self.scoped_block(f)?;
            }
            None => {
                self.emit(Op::Throw, span);
                for j in to_finally {
                    self.patch(j);
                }
            }
        }
        Ok(())
    }
}

/// The most items one list pattern can have before (and after) its rest:
/// the counts are `u16`s in the unpacking instruction.
const MAX_PATTERN_ITEMS: usize = u16::MAX as usize;

/// Whether every list in `pattern` has few enough items to unpack.
fn pattern_fits(pattern: &Pattern) -> CResult {
    if let Pattern::List {
        before,
        after,
        span,
        ..
    } = pattern
    {
        if before.len() > MAX_PATTERN_ITEMS || after.len() > MAX_PATTERN_ITEMS {
            return error(
                *span,
                format!(
                    "a list pattern can take apart at most {MAX_PATTERN_ITEMS} items \
                     (before and after its `...rest`); take the list apart by index"
                ),
            );
        }
        for p in before.iter().chain(after) {
            pattern_fits(p)?;
        }
    }
    Ok(())
}

/// Where `fn NAME` runs NAME as the first command of its body (`fn ls(...a)
/// { ls -F $a }`): the call always comes first, so it can only repeat
/// until a RecursionError (and, with growing arguments, gigabytes before
/// that). The wrapper meant `command ls` (fish reports the same mistake).
/// A parameter of that name is not the function.
fn calls_itself_first(def: &FnDef, name: &str) -> Option<Span> {
    use crate::ast::{Stage, WordPart};
    if def.params.iter().chain(&def.rest).any(|p| p.name == name) {
        return None;
    }
    let StmtKind::Command(andor) = &def.body.stmts.first()?.kind else {
        return None;
    };
    if andor.background {
        return None;
    }
    let Stage::Command(cmd) = andor.first.stages.first()? else {
        return None;
    };
    match cmd.words.first()?.parts.as_slice() {
        [
            WordPart::Lit {
                text,
                quoted: false,
            },
        ] if text == name => Some(cmd.span),
        _ => None,
    }
}
