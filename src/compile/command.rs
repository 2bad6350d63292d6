//! Command mode: words, pipelines, `&&`/`||`, background jobs.

use crate::ast::{AndOr, Command, Connector, Pipeline, Span, Word, WordPart};
use crate::vm::chunk::{CmdSpec, Op, StageSpec};

use super::{CResult, Compiler};

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
            WordPart::Tilde => {
                self.emit(Op::Home, span);
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
            self.emit(Op::Spawn { job: true }, a.span);
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
            && let Some(var) = read_target(stage)
        {
            return self.read_builtin(var, check, stage.span);
        }
        let mut stages = Vec::new();
        for stage in &p.stages {
            stages.push(self.stage(stage)?);
        }
        let text = self.text_of(p.span);
        let f = self.f();
        f.cmds.push(CmdSpec {
            stages,
            negated: p.negated,
            check,
            run_coroutine,
            text: text.into(),
        });
        let i = (f.cmds.len() - 1) as u32;
        self.emit(Op::Exec(i), p.span);
        Ok(())
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
        let mut redirects = Vec::new();
        for r in &cmd.redirects {
            if let Some(target) = &r.target {
                self.word(target)?;
                self.emit(Op::ToStr, target.span);
            }
            redirects.push(r.op);
        }
        Ok(StageSpec {
            env,
            words: cmd.words.len(),
            global,
            callee_on_stack,
            redirects,
            span: cmd.span,
        })
    }

    /// `read NAME`: the line is stored into the variable, declared in the
    /// current scope if it does not exist yet.
    fn read_builtin(&mut self, var: &str, check: bool, span: Span) -> CResult {
        enum Target {
            Existing,
            Global(u32),
            NewLocal,
        }
        let target = if self.is_local_name(var) {
            Target::Existing
        } else if self.f().at_global_scope() {
            Target::Global(self.globals.intern(var))
        } else {
            Target::NewLocal
        };
        if let Target::NewLocal = target {
            // Declared before the read so a loop body sees it.
            self.emit(Op::Null, span);
            let slot = self.new_local(var);
            self.emit(Op::DeclLocal(slot), span);
        }
        self.emit(Op::ReadLine { check }, span);
        let failed = self.emit(
            Op::JumpIfStatus {
                nonzero: true,
                target: 0,
            },
            span,
        );
        match target {
            Target::Global(g) => {
                self.emit(Op::DefineGlobal(g), span);
            }
            _ => self.store_var(var, span),
        }
        let done = self.emit(Op::Jump(0), span);
        self.patch(failed);
        self.emit(Op::Pop, span);
        self.patch(done);
        Ok(())
    }

    /// The source text of a span (for messages and `jobs`).
    pub(super) fn text_of(&self, span: Span) -> String {
        crate::diag::source_text(self.source, span)
    }
}

/// `read NAME` with nothing else: the variable name.
pub(crate) fn read_target(cmd: &Command) -> Option<&str> {
    if !cmd.env.is_empty() || !cmd.redirects.is_empty() {
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
