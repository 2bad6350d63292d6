//! The lint pass: one walk over the syntax tree, resolving names as the
//! compiler does (`compile/mod.rs`):
//!
//! - a function (`fn`, lambda) and every coroutine body (`async`, `spawn`,
//!   `gather`/`race` branches, `timeout`, `$( )`, `cmd &`) is a *frame*;
//!   each `{ }` block inside it a *scope*; a `let`, parameter, loop or
//!   `catch` variable lives in its scope from its declaration on, and inner
//!   frames see the enclosing ones' variables as they are at that point;
//! - what the top level of the script defines (`let`, `fn`, `read NAME`)
//!   is visible everywhere in the file, before its definition too (hoisted
//!   or global at run time), and so is what `use`d modules define;
//! - a name that is none of these is looked up at run time among the
//!   built-in functions and then the environment.
//!
//! Global names are resolved after the walk, when every definition and
//! every `use` has been seen; so are the [`Shape`]s of values, for the
//! lints that need to know what a variable holds.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::ast::{
    AndOr, Block, Body, Branch, Command, Cond, Expr, ExprKind, FnDef, Ident, Pattern, Pipeline,
    Span, Stage, Stmt, StmtKind, Word, WordPart,
};

use super::modules::Env;
use super::shape::{Defined, Loops, Shape, Sig, Stored, Val};
use super::words;
use super::{Context, Finding, Lint};
use crate::compile::{is_identifier, read_target};

/// Run the pass; the findings in no particular order.
pub fn run(block: &Block, text: &str, env: &Env, cx: &Context) -> Vec<Finding> {
    let mut w = Walker::new(block, text, env, cx);
    w.frames.push(Frame::new(None));
    w.block(block);
    w.frames.pop();
    w.finish()
}

/// How a variable came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `let` (at the top level of the script too).
    Let,
    /// `fn NAME`
    Fn,
    /// `read NAME`
    Read,
    /// A parameter, a `for` or a `catch` variable: its value is not known.
    Opaque,
    /// Defined by a `use`d module (or the prelude).
    Module,
}

pub(super) struct Binding {
    pub(super) name: String,
    pub(super) span: Span,
    pub(super) kind: Kind,
    pub(super) reads: u32,
    pub(super) stored: Stored,
    /// Where it was declared: the frame, and how many loops of that frame
    /// were open (a later `push` inside a newer loop over input makes the
    /// list as long as the input).
    pub(super) frame: usize,
    pub(super) loops: usize,
    /// The names of one destructuring `let [a, b] = ...` share a group
    /// (the first one's id): reading any of them uses the pattern.
    pub(super) group: Option<usize>,
}

struct Frame {
    scopes: Vec<Vec<(String, usize)>>,
    /// What `return` gives in this frame.
    returns: Vec<Shape>,
    /// The open loops' word shapes (a `while read` loop: an input list).
    loops: Vec<Rc<Vec<Shape>>>,
    /// Directly inside a `timeout`, `gather` or `race` body: which one.
    scope_body: Option<&'static str>,
}

impl Frame {
    fn new(scope_body: Option<&'static str>) -> Frame {
        Frame {
            scopes: vec![Vec::new()],
            returns: Vec::new(),
            loops: Vec::new(),
            scope_body,
        }
    }
}

/// A use of a name that no local variable defines, resolved after the walk.
pub(super) struct GlobalUse {
    pub(super) name: String,
    pub(super) span: Span,
    pub(super) what: Use,
}

#[derive(PartialEq)]
pub(super) enum Use {
    Read,
    /// `x = v`: must name an existing variable.
    Assign(Shape, Loops),
    /// `push(x, v)` and `x[i] = v`.
    Push(Shape, Loops),
    /// A command name: a function of the script, or a program.
    Command,
}

/// Checks that need every definition first.
pub(super) enum Deferred {
    /// A statement's value, dropped: a coroutine never awaited.
    Dropped {
        shape: Shape,
        span: Span,
        command: bool,
    },
    /// A call: its callee and how many arguments it gives (`splices`: a
    /// word may expand to any number, so only "too many" is certain).
    Arity {
        callee: Shape,
        name: String,
        given: usize,
        splices: bool,
        command: bool,
        span: Span,
    },
    /// A `gather` branch without `-j`.
    Gather { shape: Shape, span: Span },
}

/// What a statement does to the rest of its block.
type Leaves = Option<&'static str>;

pub(super) struct Walker<'a> {
    pub(super) text: &'a str,
    pub(super) lines: crate::diag::LineIndex,
    pub(super) env: &'a Env,
    pub(super) cx: &'a Context,
    frames: Vec<Frame>,
    pub(super) bindings: Vec<Binding>,
    /// The script's top-level definitions and (after the walk) the
    /// modules', by name.
    pub(super) globals: HashMap<String, Vec<usize>>,
    /// Names of the top level's `let`s: the compiler hoists them, so a
    /// `read` of one anywhere stores into it.
    pub(super) hoisted: HashSet<String>,
    /// Everything the top level defines: such a name is not a built-in.
    pub(super) top_names: HashSet<String>,
    pub(super) exports: HashSet<String>,
    pub(super) uses: Vec<String>,
    pub(super) uses_source: bool,
    pub(super) global_uses: Vec<GlobalUse>,
    pub(super) deferred: Vec<Deferred>,
    pub(super) findings: Vec<Finding>,
    /// "Did you mean" answers, by unknown name.
    pub(super) similar_memo: HashMap<String, Option<String>>,
    /// The script's variables by name (made when first needed, after the
    /// walk).
    pub(super) by_name: HashMap<String, Vec<usize>>,
    /// Every defined name by its length, for "did you mean".
    pub(super) by_length: HashMap<usize, Vec<String>>,
}

/// `read NAME` run at the top level (directly or in a top-level condition):
/// NAME becomes a global.
pub fn top_level_reads(stmt: &Stmt) -> Vec<String> {
    let mut out = Vec::new();
    let mut andor = |a: &AndOr| {
        for p in std::iter::once(&a.first).chain(a.rest.iter().map(|(_, p)| p)) {
            // `read NAME`, alone or as the last stage, sets NAME here.
            if let Some(Stage::Command(stage)) = p.stages.last()
                && !p.negated
                && let Some(v) = read_target(stage)
            {
                out.push(v.to_string());
            }
        }
    };
    match &stmt.kind {
        StmtKind::Command(a) if !a.background => andor(a),
        // Every condition of an `if` and its `elif`s is compiled at the
        // top level (only the bodies are blocks).
        StmtKind::If { branches, .. } => {
            for (cond, _) in branches {
                if let Cond::Command(a) = cond {
                    andor(a)
                }
            }
        }
        StmtKind::While {
            cond: Cond::Command(a),
            ..
        } => andor(a),
        _ => {}
    }
    out
}

/// UPPER_CASE names are taken to be environment variables.
pub(super) fn is_env_name(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_uppercase()) && !name.chars().any(|c| c.is_ascii_lowercase())
}

/// Commands that take a process out of its process group or session, out
/// of reach of a scope's cancellation.
const ESCAPES: [&str; 3] = ["nohup", "setsid", "disown"];

impl<'a> Walker<'a> {
    fn new(block: &Block, text: &'a str, env: &'a Env, cx: &'a Context) -> Walker<'a> {
        let uses_source = crate::compile::uses_source(block);
        let mut hoisted = HashSet::new();
        let mut top_names = HashSet::new();
        for stmt in &block.stmts {
            match &stmt.kind {
                StmtKind::Let { pattern, .. } => {
                    for name in pattern.names() {
                        if !uses_source {
                            hoisted.insert(name.name.clone());
                        }
                        top_names.insert(name.name.clone());
                    }
                }
                StmtKind::FnDecl(FnDef {
                    name: Some(name), ..
                }) => {
                    top_names.insert(name.name.clone());
                }
                _ => {}
            }
            top_names.extend(top_level_reads(stmt));
        }
        Walker {
            text,
            lines: crate::diag::LineIndex::new(text),
            env,
            cx,
            frames: Vec::new(),
            bindings: Vec::new(),
            globals: HashMap::new(),
            hoisted,
            top_names,
            exports: HashSet::new(),
            uses: Vec::new(),
            uses_source,
            global_uses: Vec::new(),
            deferred: Vec::new(),
            findings: Vec::new(),
            similar_memo: HashMap::new(),
            by_name: HashMap::new(),
            by_length: HashMap::new(),
        }
    }

    pub(super) fn warn(&mut self, lint: Lint, span: Span, message: String, help: String) {
        self.findings.push(Finding::new(lint, span, message, help));
    }

    fn src(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    /// The source of a span, on one line and not too long, for messages.
    pub(super) fn short(&self, span: Span) -> String {
        let text = self.src(span);
        let first = text.lines().next().unwrap_or("").trim_end();
        if first.chars().count() > 40 {
            format!("{}…", first.chars().take(39).collect::<String>())
        } else if first.len() < text.trim_end().len() {
            format!("{first} …")
        } else {
            first.to_string()
        }
    }

    pub(super) fn line_col(&self, span: Span) -> String {
        let (l, c) = self.lines.line_col(self.text, span.start as usize);
        format!("{l}:{c}")
    }

    fn frame(&mut self) -> &mut Frame {
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    /// At the top level of the script (not in a block or function).
    fn at_top(&self) -> bool {
        self.frames.len() == 1 && self.frames[0].scopes.len() == 1
    }

    // ------------------------------------------------------------ names

    fn declare(&mut self, ident: &Ident, kind: Kind, value: Option<Shape>) -> usize {
        let frame = self.frames.len() - 1;
        let id = self.bindings.len();
        let loops = self.frames[frame].loops.len();
        self.bindings.push(Binding {
            name: ident.name.clone(),
            span: ident.span,
            kind,
            reads: 0,
            stored: Stored::default(),
            frame,
            loops,
            group: None,
        });
        if let Some(v) = value {
            self.bindings[id].stored.values.push((v, Vec::new()));
        }
        if self.at_top() && kind != Kind::Opaque {
            self.globals.entry(ident.name.clone()).or_default().push(id);
        } else if let Some(scope) = self.frame().scopes.last_mut() {
            scope.push((ident.name.clone(), id));
        }
        id
    }

    fn lookup_local(&self, name: &str) -> Option<usize> {
        self.frames.iter().rev().find_map(|f| {
            f.scopes
                .iter()
                .rev()
                .find_map(|s| s.iter().rev().find(|(n, _)| n == name).map(|(_, b)| *b))
        })
    }

    /// A variable read: its shape.
    fn read_name(&mut self, ident: &Ident) -> Shape {
        if let Some(b) = self.lookup_local(&ident.name) {
            self.bindings[b].reads += 1;
            return Shape::Ref(b);
        }
        // `$status` is the last command's status, unless a top-level
        // `let status` (hoisted, so a local) takes the name.
        if ident.name == "status" && !self.hoisted.contains("status") {
            return Shape::OTHER;
        }
        self.global_uses.push(GlobalUse {
            name: ident.name.clone(),
            span: ident.span,
            what: Use::Read,
        });
        Shape::Global(ident.name.clone())
    }

    /// The loops opened since binding `b` was declared, from the innermost
    /// frame outwards.
    fn loops_since(&self, b: Option<usize>) -> Loops {
        let (frame, loops) = b.map_or((0, 0), |b| (self.bindings[b].frame, self.bindings[b].loops));
        let mut out = Vec::new();
        for (i, f) in self.frames.iter().enumerate().skip(frame) {
            let from = if i == frame { loops } else { 0 };
            out.extend(f.loops.iter().skip(from).cloned());
        }
        out
    }

    /// `x = v`
    fn assign_name(&mut self, ident: &Ident, shape: Shape) {
        if let Some(b) = self.lookup_local(&ident.name) {
            let loops = self.loops_since(Some(b));
            self.bindings[b].stored.values.push((shape, loops));
            return;
        }
        let loops = self.loops_since(None);
        self.global_uses.push(GlobalUse {
            name: ident.name.clone(),
            span: ident.span,
            what: Use::Assign(shape, loops),
        });
    }

    /// `push(xs, v)`, `xs[i] = v`: an element stored into the list `xs`.
    fn push_into(&mut self, container: &Expr, shape: Shape) {
        let ExprKind::Var(ident) = &container.kind else {
            return;
        };
        if let Some(b) = self.lookup_local(&ident.name) {
            let loops = self.loops_since(Some(b));
            self.bindings[b].stored.pushes.push((shape, loops));
            return;
        }
        let loops = self.loops_since(None);
        self.global_uses.push(GlobalUse {
            name: ident.name.clone(),
            span: ident.span,
            what: Use::Push(shape, loops),
        });
    }

    /// `let NAME = ...` (or a name of a `let` pattern) with the value's shape.
    fn let_name(&mut self, name: &Ident, shape: Shape) -> usize {
        if self.at_top() {
            // The top-level `let`s of one name are one variable.
            if let Some(&b) = self
                .globals
                .get(&name.name)
                .and_then(|v| v.iter().find(|&&b| self.bindings[b].kind == Kind::Let))
            {
                self.bindings[b].stored.values.push((shape, Vec::new()));
                return b;
            }
        }
        self.declare(name, Kind::Let, Some(shape))
    }

    /// `read NAME`: stores into an existing variable, else declares it in
    /// the current scope (a global at the top level), as the compiler does.
    fn read_into(&mut self, name: &str, span: Span) {
        let ident = Ident {
            name: name.to_string(),
            span,
        };
        if self.lookup_local(name).is_some() || self.hoisted.contains(name) {
            self.assign_name(&ident, Shape::OTHER);
        } else {
            self.declare(&ident, Kind::Read, Some(Shape::OTHER));
        }
    }

    // ------------------------------------------------------------ blocks

    /// The statements of a block, in the current scope. Returns what
    /// makes the block always leave, if something does.
    fn block(&mut self, block: &Block) -> Leaves {
        let mut leaves: Option<(Span, &'static str)> = None;
        let mut reported = false;
        for stmt in &block.stmts {
            if let Some((at, what)) = leaves
                && !reported
            {
                reported = true;
                let (line, _) = self.lines.line_col(self.text, at.start as usize);
                let message = if what == "if" {
                    format!(
                        "this is never run: every branch of the `if` on line {line} leaves the block"
                    )
                } else if what == "try" {
                    format!("this is never run: the `try` on line {line} always leaves the block")
                } else {
                    format!("this is never run: the `{what}` on line {line} leaves the block first")
                };
                self.warn(
                    Lint::Unreachable,
                    stmt.span,
                    message,
                    "remove it, or move it before what leaves the block".into(),
                );
            }
            let l = self.stmt(stmt);
            if leaves.is_none()
                && let Some(what) = l
            {
                leaves = Some((stmt.span, what));
            }
        }
        leaves.map(|(_, w)| w)
    }

    /// A `{ }` block with its own scope.
    fn scoped(&mut self, block: &Block) -> Leaves {
        self.frame().scopes.push(Vec::new());
        let l = self.block(block);
        self.frame().scopes.pop();
        l
    }

    /// A coroutine body (or `$( )`, `cmd &`): a frame of its own.
    fn body_frame(&mut self, block: &Block, scope_body: Option<&'static str>) {
        self.frames.push(Frame::new(scope_body));
        self.block(block);
        self.frames.pop();
    }

    /// The `timeout`/`gather`/`race` body the current code is in, if any.
    fn scope_body(&self) -> Option<&'static str> {
        self.frames.last().and_then(|f| f.scope_body)
    }

    // ------------------------------------------------------------ statements

    fn stmt(&mut self, stmt: &Stmt) -> Leaves {
        match &stmt.kind {
            StmtKind::Let {
                pattern: Pattern::Name(name),
                value,
            } => {
                let shape = self.expr(value);
                self.let_name(name, shape);
                None
            }
            StmtKind::Let { pattern, value } => {
                self.expr(value);
                let mut group = None;
                for name in pattern.names() {
                    let b = self.let_name(name, Shape::UNKNOWN);
                    let g = *group.get_or_insert(b);
                    self.bindings[b].group = Some(g);
                }
                None
            }
            StmtKind::Assign { target, op, value } => {
                // `x += v` reads `x` too; `xs += [v]` adds to the list.
                let current = op.map(|_| self.expr(target));
                let shape = self.expr(value);
                let shape = match (op, current) {
                    (Some(crate::ast::BinaryOp::Add), Some(cur)) => {
                        Shape::Add(Box::new(cur), Box::new(shape))
                    }
                    (Some(_), _) => Shape::UNKNOWN,
                    (None, _) => shape,
                };
                self.assign_target(target, shape);
                None
            }
            StmtKind::Group(body) => self.scoped(body),
            StmtKind::Export { name, value } => {
                match value {
                    Some(v) => {
                        self.expr(v);
                    }
                    None => {
                        self.read_name(name);
                    }
                }
                self.exports.insert(name.name.clone());
                None
            }
            StmtKind::If {
                branches,
                otherwise,
            } => {
                let mut all = true;
                for (cond, body) in branches {
                    self.cond(cond);
                    all &= self.scoped(body).is_some();
                }
                match otherwise {
                    Some(body) => all &= self.scoped(body).is_some(),
                    None => all = false,
                }
                all.then_some("if")
            }
            StmtKind::While { cond, body } => {
                let input = matches!(cond, Cond::Command(a) if reads_input(a));
                self.cond(cond);
                self.in_loop(
                    if input {
                        vec![Shape::input_list()]
                    } else {
                        Vec::new()
                    },
                    |w| {
                        w.scoped(body);
                    },
                );
                None
            }
            StmtKind::For {
                pattern,
                words,
                body,
            } => {
                let shapes: Vec<Shape> = words.iter().map(|w| self.word(w)).collect();
                self.frame().scopes.push(Vec::new());
                for var in pattern.names() {
                    self.declare(var, Kind::Opaque, None);
                }
                self.in_loop(shapes, |w| {
                    w.scoped(body);
                });
                self.frame().scopes.pop();
                None
            }
            StmtKind::Break => Some("break"),
            StmtKind::Continue => Some("continue"),
            StmtKind::Return(value) => {
                let shape = value.as_ref().map_or(Shape::OTHER, |v| self.expr(v));
                self.frame().returns.push(shape);
                Some("return")
            }
            StmtKind::Throw(value) => {
                self.expr(value);
                Some("throw")
            }
            StmtKind::FnDecl(def) => {
                if let Some(name) = &def.name {
                    // Declared before the body, which may call itself.
                    let b = self.declare(name, Kind::Fn, None);
                    let sig = self.function(def);
                    self.bindings[b]
                        .stored
                        .values
                        .push((Shape::Val(Val::Func(sig)), Vec::new()));
                } else {
                    self.function(def);
                }
                None
            }
            StmtKind::Try {
                body,
                catches,
                finally,
            } => {
                let body_leaves = self.scoped(body).is_some();
                let mut catches_leave = true;
                for crate::ast::Catch {
                    kind: _,
                    var,
                    body,
                    span: _,
                } in catches
                {
                    self.frame().scopes.push(Vec::new());
                    if let Some(var) = var {
                        self.declare(var, Kind::Opaque, None);
                    }
                    catches_leave &= self.block(body).is_some();
                    self.frame().scopes.pop();
                }
                let finally_leaves = finally.as_ref().is_some_and(|f| self.scoped(f).is_some());
                ((body_leaves && catches_leave) || finally_leaves).then_some("try")
            }
            StmtKind::Use { path } => {
                self.uses.push(path.clone());
                None
            }
            StmtKind::Source { path } => {
                self.word(path);
                self.uses_source = true;
                None
            }
            StmtKind::Command(a) => {
                self.andor(a, Mode::Statement);
                // (Unless the script defines a function of that name.)
                (is_exit(a) && !self.top_names.contains("exit")).then_some("exit")
            }
            StmtKind::Unset { places, names: _ } => {
                // The names are the `unset` command's words: text, not reads.
                for place in places {
                    self.expr(place);
                }
                None
            }
            StmtKind::Expr(e) => {
                let shape = self.expr(e);
                let spawned = match &e.kind {
                    ExprKind::Spawn(_) => true,
                    ExprKind::OnHosts { inner, .. } => matches!(inner.kind, ExprKind::Spawn(_)),
                    _ => false,
                };
                if spawned {
                    self.warn(
                        Lint::Unused,
                        e.span,
                        "this task is never awaited, cancelled or kept: when the script ends it is cancelled, and its errors are lost".into(),
                        format!(
                            "keep it: `let t = {}` and `await $t` later (or `cmd &` for a background job)",
                            self.short(e.span)
                        ),
                    );
                }
                self.deferred.push(Deferred::Dropped {
                    shape,
                    span: e.span,
                    command: false,
                });
                None
            }
        }
    }

    fn in_loop(&mut self, words: Vec<Shape>, body: impl FnOnce(&mut Self)) {
        self.frame().loops.push(Rc::new(words));
        body(self);
        self.frame().loops.pop();
    }

    fn assign_target(&mut self, target: &Expr, shape: Shape) {
        match &target.kind {
            ExprKind::Var(ident) => self.assign_name(ident, shape),
            ExprKind::Index(container, key) => {
                self.expr(container);
                self.expr(key);
                self.push_into(container, shape);
            }
            ExprKind::Field(container, _) => {
                self.expr(container);
            }
            _ => {
                self.expr(target);
            }
        }
    }

    fn cond(&mut self, cond: &Cond) {
        match cond {
            Cond::Expr(e) => {
                self.expr(e);
            }
            Cond::Command(a) => self.andor(a, Mode::Condition),
        }
    }

    /// A function's body: a frame with its parameters; its signature.
    fn function(&mut self, def: &FnDef) -> Rc<Sig> {
        // Every field named: a new one (a kind of parameter) must be
        // declared here before this compiles.
        let FnDef {
            name,
            params,
            rest,
            options,
            body,
            is_async,
            span,
        } = def;
        // `fn main`'s option defaults are evaluated where main is called
        // for the command line: the end of the top level.
        for o in options {
            if let Some(d) = &o.default {
                self.expr(d);
            }
        }
        self.frames.push(Frame::new(None));
        for p in params {
            self.declare(p, Kind::Opaque, None);
        }
        if let Some(rest) = rest {
            self.declare(rest, Kind::Opaque, None);
        }
        self.block(body);
        let frame = self.frames.pop();
        let mut returns = frame.map(|f| f.returns).unwrap_or_default();
        // Several `return`s: their join (the element of a list of them).
        let ret = match returns.len() {
            0 => Shape::OTHER,
            1 => returns.remove(0),
            _ => Shape::Elem(Box::new(Shape::List {
                input: false,
                elems: returns,
            })),
        };
        Rc::new(Sig {
            name: name.as_ref().map(|n| n.name.clone()),
            params: params.len(),
            rest: rest.is_some(),
            is_async: *is_async,
            ret,
            defined: Defined::Here(*span),
        })
    }

    // ------------------------------------------------------------ commands

    fn andor(&mut self, a: &AndOr, mode: Mode) {
        if a.background && mode != Mode::Condition {
            // `cmd &` runs as a task of its own (a frame, as compiled).
            let inherit = self.scope_body();
            self.frames.push(Frame::new(inherit));
            for p in std::iter::once(&a.first).chain(a.rest.iter().map(|(_, p)| p)) {
                self.pipeline(p, Mode::Coroutine);
            }
            self.frames.pop();
            return;
        }
        for p in std::iter::once(&a.first).chain(a.rest.iter().map(|(_, p)| p)) {
            self.pipeline(p, mode);
        }
    }

    fn pipeline(&mut self, p: &Pipeline, mode: Mode) {
        let n = p.stages.len();
        for stage in &p.stages[..n.saturating_sub(1)] {
            if let Stage::Command(stage) = stage
                && stage.words.first().and_then(words::literal) == Some("read")
            {
                self.warn(
                    Lint::ReadInPipeline,
                    stage.span,
                    "`read` in a pipeline stage other than the last: it reads only as the last stage or from a file, so here it is looked up as a program".into(),
                    "read the stream where it ends: `... | while read line { ... }` as the last stage, or `read` from a file: `read x < file`".into(),
                );
            }
        }
        let single = n == 1 && !p.negated && mode != Mode::Coroutine;
        for (k, stage) in p.stages.iter().enumerate() {
            match stage {
                // `read NAME` alone or as the last stage sets NAME here.
                Stage::Command(c)
                    if k + 1 == n
                        && !p.negated
                        && let Some(var) = read_target(c) =>
                {
                    self.redirects(&c.redirects);
                    let span = c.words.get(1).map_or(c.span, |w| w.span);
                    self.read_into(var, span);
                }
                Stage::Command(c) => self.stage(c, single),
                // A compound stage runs in the current task, with the
                // variables around it.
                Stage::Compound(crate::ast::Compound {
                    body,
                    redirects,
                    span: _,
                }) => {
                    self.stmt(body);
                    self.redirects(redirects);
                }
            }
        }
    }

    /// One command; `single`: alone in its pipeline, where an `async fn`
    /// named by it makes a coroutine that is dropped.
    fn stage(&mut self, cmd: &Command, single: bool) {
        let Command {
            env,
            words: _,
            redirects,
            span: _,
        } = cmd;
        for (_, value) in env {
            self.word(value);
        }
        let mut callee = None;
        if let Some(w) = cmd.words.first() {
            match words::literal(w) {
                Some(name) if is_identifier(name) => {
                    if let Some(b) = self.lookup_local(name) {
                        self.bindings[b].reads += 1;
                        callee = Some((Shape::Ref(b), name.to_string()));
                    } else {
                        self.global_uses.push(GlobalUse {
                            name: name.to_string(),
                            span: w.span,
                            what: Use::Command,
                        });
                        callee = Some((Shape::Global(name.to_string()), name.to_string()));
                    }
                    self.escape_check(name, w.span);
                    self.bash_command(cmd, name, w.span);
                }
                Some(name) => {
                    self.bash_command(cmd, name, w.span);
                    if !name.contains('/') {
                        self.global_uses.push(GlobalUse {
                            name: name.to_string(),
                            span: w.span,
                            what: Use::Command,
                        });
                    }
                }
                None => {
                    self.word(w);
                }
            }
        }
        let args = cmd.words.get(1..).unwrap_or(&[]);
        for w in args {
            self.word(w);
        }
        self.redirects(redirects);
        if let Some((shape, name)) = callee {
            let splices = args.iter().any(words::may_splice);
            let given = args.iter().filter(|w| !words::may_splice(w)).count();
            self.deferred.push(Deferred::Arity {
                callee: shape.clone(),
                name,
                given,
                splices,
                command: true,
                span: cmd.span,
            });
            if single {
                self.deferred.push(Deferred::Dropped {
                    shape: Shape::Call(Box::new(shape)),
                    span: cmd.span,
                    command: true,
                });
            }
        }
    }

    /// The files of redirections (and here-documents' bodies).
    fn redirects(&mut self, redirects: &[crate::ast::Redirect]) {
        for crate::ast::Redirect {
            op: _,
            target,
            span: _,
        } in redirects
        {
            if let Some(t) = target {
                self.word(t);
            }
        }
    }

    fn escape_check(&mut self, name: &str, span: Span) {
        if !ESCAPES.contains(&name) {
            return;
        }
        let Some(body) = self.scope_body() else {
            return;
        };
        self.warn(
            Lint::Escape,
            span,
            format!(
                "`{name}` inside a `{body}` body tries to hide a process from the {body}'s cancellation"
            ),
            format!(
                "ash kills what a cancelled `{body}` started, `{name}` or not; to outlive the scope, start the process outside any `timeout`, `gather` or `race`"
            ),
        );
    }

    // ------------------------------------------------------------ words

    /// A word's parts; its shape (a glob is a list as long as the input).
    fn word(&mut self, w: &Word) -> Shape {
        self.index_glob(&w.parts, w.span);
        self.bash_habit(w.span);
        let mut shapes: Vec<Shape> = w.parts.iter().map(|p| self.word_part(p)).collect();
        let glob = w.parts.iter().any(|p| {
            matches!(p, WordPart::Lit { text, quoted: false } if crate::compile::has_glob_meta(text))
        });
        if glob {
            return Shape::input_list();
        }
        match w.parts.as_slice() {
            [
                WordPart::Var { quoted: false, .. }
                | WordPart::Expr { quoted: false, .. }
                | WordPart::Capture { quoted: false, .. },
            ] => shapes.pop().unwrap_or(Shape::OTHER),
            _ => Shape::OTHER,
        }
    }

    fn word_part(&mut self, p: &WordPart) -> Shape {
        match p {
            WordPart::Lit { .. } | WordPart::Tilde { .. } => Shape::OTHER,
            WordPart::Var { name, .. } => self.read_name(name),
            WordPart::Expr { expr, .. } => self.expr(expr),
            WordPart::Capture { body, .. } => {
                let inherit = self.scope_body();
                self.body_frame(body, inherit);
                Shape::OTHER
            }
        }
    }

    /// `$1`, `$?`, `$((`, backquotes in the source of a word or string.
    fn bash_habit(&mut self, span: Span) {
        if let Some(h) = words::bash_habit(self.src(span)) {
            self.habit(span, h);
        }
    }

    fn habit(&mut self, span: Span, h: words::Habit) {
        let start = span.start as usize + h.at;
        self.warn(
            Lint::BashSyntax,
            Span::new(start, start + h.len),
            h.message,
            h.help,
        );
    }

    /// A command name that is bash syntax: `[[`, `local`, `fi`, `i++`.
    fn bash_command(&mut self, cmd: &Command, name: &str, span: Span) {
        if self.lookup_local(name).is_some() || self.top_names.contains(name) {
            return;
        }
        let hint = super::hints::command_not_found(name);
        if let Some(hint) = hint {
            self.warn(
                Lint::BashSyntax,
                span,
                format!(
                    "`{}` is bash syntax; ash runs it as a command, which does not exist",
                    self.short(cmd.span)
                ),
                hint,
            );
        }
    }

    fn index_glob(&mut self, parts: &[WordPart], span: Span) {
        if let Some(found) = words::index_glob(parts) {
            self.warn(Lint::IndexGlob, span, found.message(), found.help());
        }
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self, e: &Expr) -> Shape {
        match &e.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Duration(_) => Shape::OTHER,
            ExprKind::Str(parts) => {
                self.index_glob(parts, e.span);
                self.bash_habit(e.span);
                for p in parts {
                    self.word_part(p);
                }
                Shape::OTHER
            }
            ExprKind::List(items) => Shape::List {
                input: false,
                elems: items.iter().map(|i| self.expr(i)).collect(),
            },
            ExprKind::Map(entries) => {
                for (k, v) in entries {
                    self.expr(k);
                    self.expr(v);
                }
                Shape::OTHER
            }
            ExprKind::Var(ident) => self.read_name(ident),
            ExprKind::Capture(body) => {
                if self.src(e.span).starts_with("$((") {
                    self.habit(e.span, words::arithmetic(0));
                }
                let inherit = self.scope_body();
                self.body_frame(body, inherit);
                Shape::OTHER
            }
            ExprKind::Unary(_, x) => {
                self.expr(x);
                Shape::OTHER
            }
            ExprKind::Binary(op, a, b) => {
                let (sa, sb) = (self.expr(a), self.expr(b));
                match op {
                    crate::ast::BinaryOp::Add => Shape::Add(Box::new(sa), Box::new(sb)),
                    crate::ast::BinaryOp::And | crate::ast::BinaryOp::Or => Shape::UNKNOWN,
                    _ => Shape::OTHER,
                }
            }
            ExprKind::Index(c, k) => {
                let sc = self.expr(c);
                self.expr(k);
                Shape::Elem(Box::new(sc))
            }
            ExprKind::Field(c, _) => {
                self.expr(c);
                Shape::UNKNOWN
            }
            ExprKind::Slice {
                target,
                start,
                end,
                step,
            } => {
                let shape = self.expr(target);
                for b in [start, end, step].into_iter().flatten() {
                    self.expr(b);
                }
                shape
            }
            ExprKind::Call(callee, args) => self.call(callee, args, e.span),
            ExprKind::Lambda(def) => Shape::Val(Val::Func(self.function(def))),
            ExprKind::Async(block) => {
                self.body_frame(block, None);
                Shape::COROUTINE
            }
            ExprKind::Await(x) => {
                self.expr(x);
                Shape::UNKNOWN
            }
            ExprKind::Spawn(body) => {
                // Lexically inside a scope's body, a task started there is
                // still what the script wrote inside the scope.
                let inherit = self.scope_body();
                self.body(body, inherit);
                Shape::TASK
            }
            ExprKind::Gather { opts, branches } => {
                let bounded = self.gather_opts(opts);
                self.branches(branches, "gather", bounded);
                Shape::UNKNOWN
            }
            ExprKind::Race { branches, .. } => {
                self.branches(branches, "race", true);
                Shape::UNKNOWN
            }
            ExprKind::Timeout {
                duration,
                grace,
                body,
            } => {
                self.expr(duration);
                if let Some(g) = grace {
                    self.expr(g);
                }
                self.body(body, Some("timeout"));
                Shape::UNKNOWN
            }
            ExprKind::Sleep(d) => {
                self.expr(d);
                Shape::OTHER
            }
            ExprKind::Cancel(t) => {
                self.expr(t);
                Shape::OTHER
            }
            ExprKind::OnHosts { hosts, inner } => {
                self.expr(hosts);
                match &inner.kind {
                    // Bounded per host (`-j`, 4 by default).
                    ExprKind::Gather { opts, branches } => {
                        self.gather_opts(opts);
                        self.branches(branches, "gather", true);
                        Shape::UNKNOWN
                    }
                    _ => self.expr(inner),
                }
            }
        }
    }

    /// `gather`'s options; whether a limit (`-j N`) bounds it. (Every field
    /// named: a new option holding an expression must be walked.)
    fn gather_opts(&mut self, opts: &crate::ast::GatherOpts) -> bool {
        let crate::ast::GatherOpts {
            limit,
            keep_going: _,
            group: _,
            progress: _,
        } = opts;
        if let Some(limit) = limit {
            self.expr(limit);
        }
        limit.is_some()
    }

    /// The body of `spawn` or `timeout`.
    fn body(&mut self, body: &Body, scope_body: Option<&'static str>) {
        match body {
            Body::Block(block) => self.body_frame(block, scope_body),
            Body::Expr(e) => {
                // `timeout 1s gather ...`: the keyword form is the body.
                self.frames.push(Frame::new(scope_body));
                self.expr(e);
                self.frames.pop();
            }
            Body::Command(a) => {
                self.frames.push(Frame::new(scope_body));
                self.andor(a, Mode::Coroutine);
                self.frames.pop();
            }
        }
    }

    fn branches(&mut self, branches: &[Branch], kind: &'static str, bounded: bool) {
        for b in branches {
            match b {
                Branch::Block(block) => self.body_frame(block, Some(kind)),
                Branch::Expr(e) => {
                    let shape = self.expr(e);
                    if !bounded {
                        self.deferred.push(Deferred::Gather {
                            shape,
                            span: e.span,
                        });
                    }
                }
            }
        }
    }

    /// `f(a, b)`: the built-ins that make or pass on lists get their own
    /// shapes.
    fn call(&mut self, callee: &Expr, args: &[Expr], span: Span) -> Shape {
        let shapes: Vec<Shape> = args.iter().map(|a| self.expr(a)).collect();
        let (callee_shape, name) = match &callee.kind {
            ExprKind::Var(ident) => (self.read_name(ident), Some(ident.name.as_str())),
            _ => (self.expr(callee), None),
        };
        let builtin = name.filter(|n| {
            self.lookup_local(n).is_none()
                && !self.top_names.contains(*n)
                && (self.env.outside(n).is_some()
                    || self.env.prelude().iter().any(|d| d.name == *n))
        });
        self.deferred.push(Deferred::Arity {
            callee: callee_shape.clone(),
            name: name.unwrap_or("").to_string(),
            given: args.len(),
            splices: false,
            command: false,
            span,
        });
        let mut shapes = shapes.into_iter();
        let mut arg = || Box::new(shapes.next().unwrap_or(Shape::UNKNOWN));
        match builtin {
            Some("map") if args.len() == 2 => Shape::Map(arg(), arg()),
            Some("filter" | "sorted" | "reversed" | "enumerate" | "zip") => Shape::SameList(arg()),
            Some("lines" | "split" | "glob" | "find_all" | "split_re" | "from_json") => {
                Shape::input_list()
            }
            Some("push") if args.len() == 2 => {
                let _ = arg();
                let elem = arg();
                self.push_into(&args[0], *elem);
                Shape::OTHER
            }
            _ => Shape::Call(Box::new(callee_shape)),
        }
    }
}

/// Where a command line sits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A statement: an `async fn` named by it makes a dropped coroutine.
    Statement,
    /// An `if`/`while` condition: likewise.
    Condition,
    /// The body of `spawn cmd`, `timeout 3s cmd`, `cmd &`: an `async fn`
    /// named by it runs.
    Coroutine,
}

/// `while read line` (or `... | read line`): a loop over input.
fn reads_input(a: &AndOr) -> bool {
    match a.first.stages.last() {
        Some(Stage::Command(c)) => c.words.first().and_then(words::literal) == Some("read"),
        _ => false,
    }
}

/// `exit` alone as a statement: nothing after it runs.
fn is_exit(a: &AndOr) -> bool {
    a.rest.is_empty()
        && !a.background
        && !a.first.negated
        && matches!(a.first.stages.as_slice(), [Stage::Command(c)] if c.words.first().and_then(words::literal) == Some("exit"))
}
