//! Command mode: words, pipelines, `&&`/`||`, background jobs.

use crate::ast::{
    AndOr, Command, Compound, Connector, Pipeline, RedirOp, Span, Stage, Word, WordPart,
};
use crate::vm::chunk::{CmdSpec, Op, StageSpec};
use crate::vm::value::Value;

use super::{CResult, Compiler, SiteKind, StageExit};

/// Unquoted glob metacharacters make a word a glob: `*`, `?`, or a `[`
/// with a `]` after it (a lone `[`, as in `[ 3 -gt 2 ]`, is literal).
pub(crate) fn has_glob_meta(text: &str) -> bool {
    text.contains(['*', '?']) || text.find('[').is_some_and(|i| text[i + 1..].contains(']'))
}

impl Compiler<'_> {
    /// Push one word's value. A word that is a single unquoted `$x`,
    /// `${e}`, `(e)` or `$(..)` keeps its value (a list splices later);
    /// a glob word becomes the list of matches; anything else a string.
    pub(super) fn word(&mut self, w: &Word) -> CResult {
        let is_glob = w
            .parts
            .iter()
            .any(|p| matches!(p, WordPart::Lit { text, quoted: false } if has_glob_meta(text)));
        if is_glob {
            for p in &w.parts {
                match p {
                    WordPart::Lit {
                        text,
                        quoted: false,
                    } => self.push_str(text, w.span),
                    other => {
                        self.word_part(other, w.span)?;
                        self.emit(Op::EscapeGlob, w.span);
                    }
                }
            }
            self.emit(Op::Concat(w.parts.len() as u32), w.span);
            self.emit(Op::Glob, w.span);
            return Ok(());
        }
        match w.parts.as_slice() {
            [] => self.push_str("", w.span),
            [WordPart::Lit { text, .. }] => self.push_str(text, w.span),
            [
                p @ (WordPart::Var { quoted: false, .. }
                | WordPart::Expr { quoted: false, .. }
                | WordPart::Capture { quoted: false, .. }),
            ] => self.word_part(p, w.span)?,
            [p] => {
                self.word_part(p, w.span)?;
                self.emit(Op::ToStr, w.span);
            }
            parts => {
                for p in parts {
                    self.word_part(p, w.span)?;
                }
                self.emit(Op::Concat(parts.len() as u32), w.span);
            }
        }
        Ok(())
    }

    pub(super) fn word_part(&mut self, p: &WordPart, span: Span) -> CResult {
        match p {
            WordPart::Lit { text, .. } => self.push_str(text, span),
            WordPart::Tilde { user: None } => {
                self.emit(Op::Home, span);
            }
            WordPart::Tilde { user: Some(user) } => {
                self.push_str(user, span);
                self.emit(Op::HomeOf, span);
            }
            WordPart::Var { name, .. } => self.load_var(&name.name, name.span),
            WordPart::Expr { expr, .. } => self.expr(expr)?,
            WordPart::Capture { body, .. } => self.capture(body)?,
        }
        Ok(())
    }

    /// A command line. In a condition nothing raises on failure; otherwise
    /// the last pipeline run is checked (errexit), as in `set -e`.
    pub(super) fn andor(&mut self, a: &AndOr, in_condition: bool) -> CResult {
        if a.background && !in_condition {
            let site = self.reserve_site(SiteKind::Spawn);
            // The task is named after its command line (for `jobs`).
            let name = self
                .text_of(a.span)
                .trim_end_matches(['&', ' '])
                .to_string();
            self.begin_func(name, a.span);
            let fg = AndOr {
                background: false,
                ..a.clone()
            };
            self.andor_in_coroutine(&fg)?;
            self.emit(Op::Null, a.span);
            self.emit(Op::Return, a.span);
            let proto = self.finish_func();
            self.emit_closure(proto, a.span);
            self.emit(Op::MakeCoroutine, a.span);
            self.emit_site(Op::Spawn { job: true }, a.span, site);
            self.emit(Op::Pop, a.span);
            return Ok(());
        }
        self.andor_with(a, in_condition, false)
    }

    /// The body of `spawn cmd` / `timeout 3s cmd` / `cmd &`: an async
    /// function named by the command runs in place.
    pub(super) fn andor_in_coroutine(&mut self, a: &AndOr) -> CResult {
        self.andor_with(a, false, true)
    }

    fn andor_with(&mut self, a: &AndOr, in_condition: bool, run_coroutine: bool) -> CResult {
        let last = a.rest.len();
        self.pipeline(&a.first, !in_condition && last == 0, run_coroutine)?;
        for (i, (conn, p)) in a.rest.iter().enumerate() {
            let skip = self.emit(
                Op::JumpIfStatus {
                    nonzero: *conn == Connector::And,
                    target: 0,
                },
                p.span,
            );
            self.pipeline(p, !in_condition && i + 1 == last, run_coroutine)?;
            self.patch(skip);
        }
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, check: bool, run_coroutine: bool) -> CResult {
        let check = check && !p.negated;
        if let [stage] = p.stages.as_slice()
            && !p.negated
        {
            match stage {
                Stage::Command(c) if c.redirects.is_empty() => {
                    if let Some(var) = read_target(c) {
                        let target = self.read_target_here(var, c.span);
                        return self.read_line(var, target, check, c.span);
                    }
                }
                // `cond && { ... }`: a compound without redirections runs
                // inline; a group leaves its last command's status, a loop
                // or `if` that finished leaves 0 (as in sh).
                Stage::Compound(c) if c.redirects.is_empty() => {
                    match &c.body.kind {
                        // Left of `&&`/`||`, a group's last command is
                        // the condition: its failure does not raise.
                        crate::ast::StmtKind::Group(block) if !check => {
                            self.begin_scope();
                            let r = self.group_as_condition(block);
                            self.end_scope();
                            r?;
                        }
                        crate::ast::StmtKind::Group(_) => self.stmt_in_line(&c.body)?,
                        _ => {
                            self.stmt_in_line(&c.body)?;
                            self.emit(Op::ClearStatus, c.span);
                        }
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        let n = p.stages.len();
        let mut stages = Vec::with_capacity(n);
        let mut exits = Vec::new();
        for (k, stage) in p.stages.iter().enumerate() {
            let (spec, exit) = match stage {
                // `read NAME` reads as the last stage (or alone, with a
                // redirection); in the middle it is looked up as a command.
                Stage::Command(c) => match read_target(c) {
                    Some(var) if k + 1 == n => self.read_stage(var, c)?,
                    _ => (self.stage(c)?, None),
                },
                Stage::Compound(c) => self.compound_stage(c)?,
            };
            stages.push(spec);
            exits.extend(exit);
        }
        let text = self.text_of(p.span);
        let f = self.f();
        f.cmds.push(CmdSpec {
            stages,
            negated: p.negated,
            check,
            run_coroutine,
            text: std::rc::Rc::new(text),
        });
        let i = (f.cmds.len() - 1) as u32;
        self.emit(Op::Exec(i), p.span);
        for exit in exits {
            self.stage_exit_check(exit, p.span)?;
        }
        Ok(())
    }

    /// A group whose status decides an `&&`/`||`: its last statement, if a
    /// command line, runs as a condition.
    fn group_as_condition(&mut self, block: &crate::ast::Block) -> CResult {
        let Some((last, init)) = block.stmts.split_last() else {
            return Ok(());
        };
        for st in init {
            self.stmt_in_line(st)?;
        }
        match &last.kind {
            crate::ast::StmtKind::Command(a) if !a.background => self.andor(a, true),
            _ => self.stmt_in_line(last),
        }
    }

    /// A compound statement as a stage: a closure run in the current task
    /// (pushed as the stage's callee), with its redirections.
    fn compound_stage(&mut self, c: &Compound) -> CResult<(StageSpec, Option<StageExit>)> {
        let name = match &c.body.kind {
            crate::ast::StmtKind::While { .. } => "while",
            crate::ast::StmtKind::For { .. } => "for",
            crate::ast::StmtKind::If { .. } => "if",
            crate::ast::StmtKind::Group(_) => "{ }",
            _ => "stage",
        };
        // `read NAME` in the stage sets NAME where the pipeline is (as
        // zsh's last stage): declared there first.
        let mut reads = Vec::new();
        stage_reads(&c.body, &mut reads);
        for var in reads {
            if !self.is_local_name(&var) && !self.f().at_global_scope() {
                self.emit(Op::Null, c.span);
                let slot = self.new_local(&var, c.span);
                self.emit(Op::DeclLocal(slot), c.span);
            }
        }
        self.begin_stage_func(name, c.span);
        self.begin_scope();
        let r = self.stmt_in_line(&c.body);
        self.end_scope();
        r?;
        self.emit(Op::Null, c.span);
        self.emit(Op::Return, c.span);
        self.finish_closure_stage(&c.redirects, c.span)
    }

    /// Finish a stage's closure: push it (the stage's callee) and its
    /// redirection targets.
    fn finish_closure_stage(
        &mut self,
        redirects: &[crate::ast::Redirect],
        span: Span,
    ) -> CResult<(StageSpec, Option<StageExit>)> {
        let (proto, exit) = self.finish_stage_func();
        self.emit_closure(proto, span);
        let redirects = self.redirect_targets(redirects)?;
        Ok((
            StageSpec {
                env: Vec::new(),
                words: 0,
                global: None,
                callee_on_stack: true,
                redirects,
                span,
            },
            exit,
        ))
    }

    /// `read NAME` as a pipeline stage or with redirections: a closure that
    /// reads its stdin into the caller's variable (declared in the caller's
    /// scope when new, as zsh's last stage does) and returns the status.
    fn read_stage(&mut self, var: &str, c: &Command) -> CResult<(StageSpec, Option<StageExit>)> {
        let target = self.read_target_here(var, c.span);
        self.begin_stage_func("read", c.span);
        self.read_line(var, target, false, c.span)?;
        self.emit(Op::LoadStatus, c.span);
        self.emit(Op::Return, c.span);
        self.finish_closure_stage(&c.redirects, c.span)
    }

    /// Push the redirections' targets; their ops.
    fn redirect_targets(&mut self, redirects: &[crate::ast::Redirect]) -> CResult<Vec<RedirOp>> {
        let mut ops = Vec::new();
        for r in redirects {
            if let Some(target) = &r.target {
                self.word(target)?;
                self.emit(Op::ToStr, target.span);
            }
            ops.push(r.op);
        }
        Ok(ops)
    }

    fn stage(&mut self, cmd: &Command) -> CResult<StageSpec> {
        // A literal command name that is a local variable holding a
        // function: push it first. A literal name otherwise is interned as
        // a global, so a top-level `fn` is found by index at run time.
        let name = match cmd.words.first().map(|w| w.parts.as_slice()) {
            Some([WordPart::Lit { text, .. }]) => Some(text.clone()),
            _ => None,
        };
        let mut callee_on_stack = false;
        let mut global = None;
        if let Some(name) = &name {
            if self.is_local_name(name) {
                self.load_var(name, cmd.span);
                callee_on_stack = true;
            } else if is_identifier(name) {
                global = Some(self.globals.intern(name));
            }
        }
        let mut env = Vec::new();
        for (name, value) in &cmd.env {
            self.word(value)?;
            self.emit(Op::ToStr, value.span);
            env.push(name.name.clone());
        }
        for w in &cmd.words {
            self.word(w)?;
        }
        let redirects = self.redirect_targets(&cmd.redirects)?;
        Ok(StageSpec {
            env,
            words: cmd.words.len(),
            global,
            callee_on_stack,
            redirects,
            span: cmd.span,
        })
    }

    /// Where `read NAME` here stores: an existing variable, a global, or a
    /// new local of the current scope, declared now (before the read, so a
    /// loop body sees it).
    fn read_target_here(&mut self, var: &str, span: Span) -> ReadTarget {
        if self.is_local_name(var) {
            ReadTarget::Existing
        } else if self.f().at_global_scope() || self.stage_at_global_scope() {
            ReadTarget::Global(self.globals.intern(var))
        } else {
            self.emit(Op::Null, span);
            let slot = self.new_local(var, span);
            self.emit(Op::DeclLocal(slot), span);
            ReadTarget::Existing
        }
    }

    /// `read NAME`: the line is stored into the variable, the empty line
    /// at end of input too (as bash); then, under errexit, a failure raises.
    fn read_line(&mut self, var: &str, target: ReadTarget, check: bool, span: Span) -> CResult {
        self.emit(Op::ReadLine, span);
        match target {
            ReadTarget::Global(g) => {
                self.emit(Op::DefineGlobal(g), span);
            }
            ReadTarget::Existing => self.store_var(var, span),
        }
        if check {
            let read = self.emit(
                Op::JumpIfStatus {
                    nonzero: false,
                    target: 0,
                },
                span,
            );
            let name = self.constant(Value::str(var));
            self.emit(Op::ReadFailed(name), span);
            self.patch(read);
        }
        Ok(())
    }

    /// The source text of a span (for messages and `jobs`).
    pub(super) fn text_of(&self, span: Span) -> String {
        crate::diag::source_text(self.source, span)
    }
}

/// The names `read NAME` sets in a compound stage's own code (its
/// conditions and blocks, not functions or `$( )` inside it).
fn stage_reads(stmt: &crate::ast::Stmt, out: &mut Vec<String>) {
    use crate::ast::{Cond, StmtKind};
    let andor = |a: &AndOr, out: &mut Vec<String>| {
        for p in std::iter::once(&a.first).chain(a.rest.iter().map(|(_, p)| p)) {
            match p.stages.last() {
                Some(Stage::Command(c)) => out.extend(read_target(c).map(str::to_string)),
                Some(Stage::Compound(c)) => stage_reads(&c.body, out),
                None => {}
            }
        }
    };
    let cond = |c: &Cond, out: &mut Vec<String>| {
        if let Cond::Command(a) = c {
            andor(a, out);
        }
    };
    let block = |b: &crate::ast::Block, out: &mut Vec<String>| {
        for s in &b.stmts {
            stage_reads(s, out);
        }
    };
    match &stmt.kind {
        StmtKind::Command(a) => andor(a, out),
        StmtKind::While { cond: c, body } => {
            cond(c, out);
            block(body, out);
        }
        StmtKind::If {
            branches,
            otherwise,
        } => {
            for (c, b) in branches {
                cond(c, out);
                block(b, out);
            }
            if let Some(b) = otherwise {
                block(b, out);
            }
        }
        StmtKind::For { body, .. } | StmtKind::Group(body) => block(body, out),
        _ => {}
    }
}

/// Where `read NAME` stores (see `read_target_here`).
#[derive(Clone, Copy)]
enum ReadTarget {
    Existing,
    Global(u32),
}

/// `read NAME` (maybe with redirections): the variable name.
pub(crate) fn read_target(cmd: &Command) -> Option<&str> {
    if !cmd.env.is_empty() {
        return None;
    }
    match cmd.words.as_slice() {
        [w0, w1] => match (w0.parts.as_slice(), w1.parts.as_slice()) {
            (
                [WordPart::Lit { text: r, .. }],
                [
                    WordPart::Lit {
                        text: v,
                        quoted: false,
                    },
                ],
            ) if r == "read" && is_identifier(v) => Some(v.as_str()),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
