//! AST to bytecode.
//!
//! One pass over the tree. Each function body (a `fn`, a lambda, and every
//! coroutine body: `async`, `spawn`, `gather`/`race` branches, `timeout`,
//! `$( )`) becomes its own [`Proto`]. Variables resolve at compile time:
//!
//! - `fn` at the top level of a script, module or interactive line defines a
//!   *global*: a slot in the runtime's global table, shared by everything.
//!   So is a top-level `let` of a module or interactive line.
//! - a top-level `let` of a script file (`Scope::ScriptLocals`) is a local
//!   of the script's main function, hoisted so that functions declared
//!   before it can refer to it: locals are much faster than globals in
//!   loops. A script that uses `source` keeps globals, since the sourced
//!   file runs in its scope.
//! - every other `let`, parameter and loop variable is a *local slot* of its
//!   function. Each declaration gets its own slot, so no slot is reused.
//! - a local that an inner function refers to becomes a *cell*: when the
//!   function is finished, its `LoadLocal`/`StoreLocal`/`DeclLocal` ops on
//!   that slot are rewritten to cell ops, and the inner closure captures the
//!   cell (by reference, as the language requires).
//! - a name that resolves nowhere is a global looked up at run time (then a
//!   built-in function, then an environment variable, else `NameError`).

mod command;
pub(crate) use command::{has_glob_meta, is_identifier, read_target};
mod expr;
mod main_call;
mod stmt;

use std::collections::HashMap;
use std::rc::Rc;

use crate::ast::{Block, Span};
use crate::vm::chunk::{CaptureFrom, CmdSpec, Op, Proto, Sites};
use crate::vm::globals::Globals;
use crate::vm::value::Value;

/// A compile error: a span and what is wrong there.
#[derive(Clone, Debug)]
pub struct CompileError {
    pub span: Span,
    pub message: String,
}

type CResult<T = ()> = Result<T, CompileError>;

fn error<T>(span: Span, message: impl Into<String>) -> CResult<T> {
    Err(CompileError {
        span,
        message: message.into(),
    })
}

/// Where the top-level `let`s of a compiled text live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopLevel {
    /// Globals: modules, interactive lines, scripts that use `source`.
    Globals,
    /// Locals of the main function: script files.
    ScriptLocals,
}

/// Compile a script (or module, or interactive line).
pub fn compile_script(
    block: &Block,
    name: &str,
    source: u32,
    globals: &mut Globals,
    top: TopLevel,
) -> Result<Rc<Proto>, CompileError> {
    let mut c = Compiler {
        globals,
        funcs: Vec::new(),
        source,
        too_many: None,
    };
    let mut main = FuncState::new(name.to_string(), true, block.span);
    main.top_locals = top == TopLevel::ScriptLocals
        && !uses_source(block)
        && top_level_let_names(block) <= MAX_HOISTED;
    c.funcs.push(main);
    if c.f().top_locals {
        // Hoist: every top-level `let` gets its slot before any code. A
        // name that the script `unset`s stays a global (unset is dynamic).
        let mut unset = Vec::new();
        unset_names(block, &mut unset);
        for stmt in &block.stmts {
            if let crate::ast::StmtKind::Let { pattern, .. } = &stmt.kind {
                for name in pattern.names() {
                    if c.f().lookup_local(&name.name).is_none() && !unset.contains(&name.name) {
                        c.new_local(&name.name, name.span);
                    }
                }
            }
        }
    }
    c.block_stmts(block)?;
    if top == TopLevel::ScriptLocals {
        c.call_main(block, name)?;
    }
    c.emit(Op::Null, block.span);
    c.emit(Op::Return, block.span);
    let main = c.finish_func();
    c.check_limits()?;
    Ok(Rc::new(main))
}

/// How many distinct names the top-level `let`s of `block` declare.
fn top_level_let_names(block: &Block) -> usize {
    let mut names = std::collections::HashSet::new();
    for stmt in &block.stmts {
        if let crate::ast::StmtKind::Let { pattern, .. } = &stmt.kind {
            for name in pattern.names() {
                names.insert(name.name.as_str());
            }
        }
    }
    names.len()
}

/// What a unit of code sent from another host runs (section 15).
pub enum UnitEntry<'a> {
    /// A coroutine body: a block, a command line, a keyword expression.
    Body(&'a crate::ast::Body),
    /// A function, called with the unit's arguments.
    Fn(&'a crate::ast::FnDef),
}

/// A function a unit binds to one of its parameters.
pub struct UnitFn<'a> {
    pub param: usize,
    pub def: &'a crate::ast::FnDef,
    /// The loaded source its spans refer to.
    pub source: u32,
}

/// Compile a unit sent from another host: a function whose parameters are
/// the names the code uses (`params`), then `n_args` arguments for the
/// entry. It binds `fns` to their parameters (as closures, so they can
/// call each other and themselves), runs the entry (a body, as `spawn`
/// would, or a function called with the arguments) and returns its value.
/// Every name is a local of the unit: units running side by side in one
/// process never share a variable.
pub fn compile_unit(
    globals: &mut Globals,
    params: &[String],
    fns: &[UnitFn],
    entry: UnitEntry,
    n_args: usize,
    source: u32,
    span: Span,
) -> Result<Rc<Proto>, CompileError> {
    let mut c = Compiler {
        globals,
        funcs: Vec::new(),
        source,
        too_many: None,
    };
    c.funcs
        .push(FuncState::new("<remote>".to_string(), false, span));
    for p in params {
        c.new_local(p, span);
    }
    let args: Vec<u16> = (0..n_args)
        .map(|i| c.new_local(&format!(" argument {i}"), span))
        .collect();
    c.f().n_params = (params.len() + n_args) as u16;
    for f in fns {
        c.source = f.source;
        c.function(f.def)?;
        c.emit(Op::StoreLocal(f.param as u16), f.def.span);
    }
    c.source = source;
    match entry {
        UnitEntry::Body(body) => {
            c.coroutine_body("remote body", body)?;
            c.emit(Op::Await, span);
        }
        UnitEntry::Fn(def) => {
            c.function(def)?;
            for slot in args {
                c.emit(Op::LoadLocal(slot), span);
            }
            c.emit(Op::Call(n_args as u32), span);
            if def.is_async {
                c.emit(Op::Await, span);
            }
        }
    }
    c.emit(Op::Return, span);
    let unit = c.finish_func();
    c.check_limits()?;
    Ok(Rc::new(unit))
}

/// The literal names given to `unset` anywhere in the block.
fn unset_names(block: &Block, out: &mut Vec<String>) {
    use crate::ast::{StmtKind::*, WordPart};
    for s in &block.stmts {
        match &s.kind {
            Command(andor) => {
                let pipelines =
                    std::iter::once(&andor.first).chain(andor.rest.iter().map(|(_, p)| p));
                for stage in pipelines.flat_map(|p| p.stages.iter()) {
                    let cmd = match stage {
                        crate::ast::Stage::Command(cmd) => cmd,
                        crate::ast::Stage::Compound(c) => {
                            unset_names(&one_stmt_block(&c.body), out);
                            continue;
                        }
                    };
                    let literal = |w: &crate::ast::Word| match w.parts.as_slice() {
                        [WordPart::Lit { text, .. }] => Some(text.clone()),
                        _ => None,
                    };
                    if cmd.words.first().and_then(literal).as_deref() == Some("unset") {
                        out.extend(cmd.words[1..].iter().filter_map(literal));
                    }
                }
            }
            Group(body) => unset_names(body, out),
            Unset { names, .. } => out.extend(names.iter().map(|n| n.name.clone())),
            If {
                branches,
                otherwise,
            } => {
                branches.iter().for_each(|(_, b)| unset_names(b, out));
                if let Some(b) = otherwise {
                    unset_names(b, out);
                }
            }
            While { body, .. } | For { body, .. } => unset_names(body, out),
            Try {
                body,
                catches,
                finally,
            } => {
                unset_names(body, out);
                catches.iter().for_each(|c| unset_names(&c.body, out));
                if let Some(b) = finally {
                    unset_names(b, out);
                }
            }
            FnDecl(def) => unset_names(&def.body, out),
            _ => {}
        }
    }
}

/// A block holding one statement (a compound stage's body, for the walks
/// above).
fn one_stmt_block(stmt: &crate::ast::Stmt) -> Block {
    Block {
        stmts: vec![stmt.clone()],
        span: stmt.span,
    }
}

/// Whether a `source` statement appears anywhere in the block.
pub(crate) fn uses_source(block: &Block) -> bool {
    use crate::ast::StmtKind::*;
    block.stmts.iter().any(|s| match &s.kind {
        Source { .. } => true,
        Group(body) => uses_source(body),
        Command(andor) => std::iter::once(&andor.first)
            .chain(andor.rest.iter().map(|(_, p)| p))
            .flat_map(|p| p.stages.iter())
            .any(|st| match st {
                crate::ast::Stage::Compound(c) => uses_source(&one_stmt_block(&c.body)),
                crate::ast::Stage::Command(_) => false,
            }),
        If {
            branches,
            otherwise,
        } => {
            branches.iter().any(|(_, b)| uses_source(b))
                || otherwise.as_ref().is_some_and(uses_source)
        }
        While { body, .. } | For { body, .. } => uses_source(body),
        Try {
            body,
            catches,
            finally,
        } => {
            uses_source(body)
                || catches.iter().any(|c| uses_source(&c.body))
                || finally.as_ref().is_some_and(uses_source)
        }
        FnDecl(def) => uses_source(&def.body),
        _ => false,
    })
}

/// Where a name lives.
#[derive(Clone, Copy, Debug)]
enum VarRef {
    Local(u16),
    Capture(u16),
    Global(u32),
}

struct LoopCtx {
    continue_target: usize,
    break_jumps: Vec<usize>,
    /// `tries.len()` when the loop started: `break` runs the `finally`
    /// blocks entered since.
    try_depth: usize,
}

/// An enclosing `try` as seen from the code being compiled.
struct TryCtx {
    /// A handler is pushed at run time here (leaving must pop it).
    handler_pushed: bool,
    /// The `finally` block to run when leaving by `return`/`break`/`continue`.
    finally: Option<Block>,
}

/// How a compound pipeline stage (compiled as a closure) leaves the
/// function or loop around it: `return`, `break` and `continue` inside it
/// set a flag (and the value) in variables of the enclosing function and
/// end the stage; after the pipeline, the enclosing code checks the flag
/// and does the jump itself.
#[derive(Clone, Debug, Default)]
pub(crate) struct StageExit {
    /// Hidden local of the enclosing function: 1 return, 2 break, 3 continue.
    flag: Option<String>,
    /// Hidden local holding the returned value.
    value: Option<String>,
    returns: bool,
    breaks: bool,
    continues: bool,
}

const EXIT_RETURN: i32 = 1;
const EXIT_BREAK: i32 = 2;
const EXIT_CONTINUE: i32 = 3;

struct FuncState {
    name: String,
    is_script: bool,
    /// A compound pipeline stage's closure: jumps out of it go through
    /// [`StageExit`].
    stage: Option<StageExit>,
    /// Top-level `let`s are (hoisted) locals, not globals.
    top_locals: bool,
    code: Vec<Op>,
    spans: Vec<Span>,
    consts: Vec<Value>,
    cmds: Vec<CmdSpec>,
    protos: Vec<Rc<Proto>>,
    captures: Vec<(String, CaptureFrom)>,
    /// Each captured name's index in `captures`.
    capture_index: HashMap<String, u16>,
    /// Per open block scope, the names it declared (to forget them when it
    /// ends); the innermost last.
    scopes: Vec<Vec<String>>,
    /// Each visible local name's slots, the innermost declaration last: a
    /// lookup is one hash probe (a scan of the scopes made compiling
    /// 65,535 `let`s take 27 s).
    visible: HashMap<String, Vec<u16>>,
    n_locals: u16,
    cell_of_slot: HashMap<u16, u16>,
    n_params: u16,
    has_rest: bool,
    is_async: bool,
    main_spec: Option<Rc<crate::vm::main_args::MainSpec>>,
    loops: Vec<LoopCtx>,
    tries: Vec<TryCtx>,
    span: Span,
    /// A function declared with a name (`fn NAME`).
    named: bool,
    /// The named function this body is written in (see [`Sites`]).
    scope: Rc<str>,
    /// In a named function or a file's top level: how many `spawn`,
    /// `gather` and `race` sites were met so far (the next ordinals).
    site_counts: [u32; 3],
    /// `(pc, ordinal)` of this body's sites.
    sites: Vec<(u32, u32)>,
}

/// The keywords whose sites the journal names (see [`Sites`]).
#[derive(Clone, Copy)]
pub(crate) enum SiteKind {
    Spawn = 0,
    Gather = 1,
    Race = 2,
}

impl FuncState {
    fn new(name: String, is_script: bool, span: Span) -> FuncState {
        FuncState {
            name,
            is_script,
            stage: None,
            top_locals: false,
            code: Vec::new(),
            spans: Vec::new(),
            consts: Vec::new(),
            cmds: Vec::new(),
            protos: Vec::new(),
            captures: Vec::new(),
            capture_index: HashMap::new(),
            scopes: vec![Vec::new()],
            visible: HashMap::new(),
            n_locals: 0,
            cell_of_slot: HashMap::new(),
            n_params: 0,
            has_rest: false,
            is_async: false,
            main_spec: None,
            loops: Vec::new(),
            tries: Vec::new(),
            span,
            named: false,
            scope: Rc::from(""),
            site_counts: [0; 3],
            sites: Vec::new(),
        }
    }

    /// Whether sites in it (and in the anonymous bodies it holds) are
    /// counted here: a named function or a file's top level.
    fn owns_sites(&self) -> bool {
        self.named || self.is_script
    }

    fn lookup_local(&self, name: &str) -> Option<u16> {
        self.visible
            .get(name)
            .and_then(|slots| slots.last().copied())
    }

    /// A new local slot for `name` in the innermost scope; `None` when the
    /// function has no slot left (see [`MAX_LOCALS`]).
    fn add_local(&mut self, name: &str) -> Option<u16> {
        let slot = self.n_locals;
        // Slot numbers are `u16`s, and so is `n_locals` (one past the
        // highest slot): the last number stays unused.
        self.n_locals = slot.checked_add(1)?;
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(name.to_string());
            self.visible.entry(name.to_string()).or_default().push(slot);
        }
        Some(slot)
    }

    fn end_scope(&mut self) {
        for name in self.scopes.pop().unwrap_or_default() {
            if let Some(slots) = self.visible.get_mut(&name) {
                slots.pop();
                if slots.is_empty() {
                    self.visible.remove(&name);
                }
            }
        }
    }

    fn cell_for(&mut self, slot: u16) -> u16 {
        let next = self.cell_of_slot.len() as u16;
        *self.cell_of_slot.entry(slot).or_insert(next)
    }

    /// Declarations at the top level of a script are globals.
    fn at_global_scope(&self) -> bool {
        self.is_script && self.scopes.len() == 1
    }
}

pub(crate) struct Compiler<'g> {
    globals: &'g mut Globals,
    funcs: Vec<FuncState>,
    source: u32,
    /// The first variable that found no slot left: where, and whether in
    /// the script's own code (else a function's).
    too_many: Option<(Span, bool)>,
}

/// The variables (and captured variables) one function can have: slots
/// are `u16`s in the instructions, which keeps them small
/// (`FuncState::add_local`).
const MAX_LOCALS: u16 = u16::MAX;

/// A script with more top-level `let` names than this keeps them as
/// globals (no slot limit) instead of hoisted locals.
const MAX_HOISTED: usize = 60_000;

impl Compiler<'_> {
    /// The error for a function that ran out of variable slots, if one did.
    fn check_limits(&self) -> CResult {
        match self.too_many {
            Some((span, script)) => {
                let whose = if script { "the script" } else { "a function" };
                error(
                    span,
                    format!(
                        "too many variables: {whose} can have at most {MAX_LOCALS} \
                         (keep the values in a list or a map, or split it into functions)"
                    ),
                )
            }
            None => Ok(()),
        }
    }

    /// Note that the current function ran out of slots at `span`; the
    /// compile goes on (its code is never run) and ends in that error.
    fn out_of_slots(&mut self, span: Span) {
        let script = self.f().is_script;
        self.too_many.get_or_insert((span, script));
    }

    fn f(&mut self) -> &mut FuncState {
        // `funcs` is never empty while compiling.
        let last = self.funcs.len() - 1;
        &mut self.funcs[last]
    }

    fn emit(&mut self, op: Op, span: Span) -> usize {
        let f = self.f();
        f.code.push(op);
        f.spans.push(span);
        f.code.len() - 1
    }

    fn here(&mut self) -> usize {
        self.f().code.len()
    }

    /// Point the jump at `at` to the current position.
    fn patch(&mut self, at: usize) {
        let target = self.here() as u32;
        let op = &mut self.f().code[at];
        *op = match *op {
            Op::Jump(_) => Op::Jump(target),
            Op::JumpIfFalse(_) => Op::JumpIfFalse(target),
            Op::CompareJump(op, _) => Op::CompareJump(op, target),
            Op::AndJump(_) => Op::AndJump(target),
            Op::OrJump(_) => Op::OrJump(target),
            Op::JumpIfStatus { nonzero, .. } => Op::JumpIfStatus { nonzero, target },
            Op::ForNext(_) => Op::ForNext(target),
            Op::PushHandler(_) => Op::PushHandler(target),
            other => other,
        };
    }

    fn constant(&mut self, v: Value) -> u32 {
        let f = self.f();
        f.consts.push(v);
        (f.consts.len() - 1) as u32
    }

    fn push_str(&mut self, s: &str, span: Span) {
        let k = self.constant(Value::str(s));
        self.emit(Op::Const(k), span);
    }

    fn begin_scope(&mut self) {
        self.f().scopes.push(Vec::new());
    }

    fn end_scope(&mut self) {
        self.f().end_scope();
    }

    /// Declare `name` in the current scope; the value to store is on the
    /// stack and is consumed.
    fn declare_and_store(&mut self, name: &str, span: Span) {
        let f = self.f();
        if f.at_global_scope()
            && f.top_locals
            && let Some(slot) = f.lookup_local(name)
        {
            // A hoisted top-level variable: closures may already hold its
            // cell, so store into it rather than making a new one.
            self.emit(Op::StoreLocal(slot), span);
            return;
        }
        if self.f().at_global_scope() {
            let g = self.globals.intern(name);
            self.emit(Op::DefineGlobal(g), span);
        } else {
            let slot = self.new_local(name, span);
            self.emit(Op::DeclLocal(slot), span);
        }
    }

    fn new_local(&mut self, name: &str, span: Span) -> u16 {
        match self.f().add_local(name) {
            Some(slot) => slot,
            None => {
                self.out_of_slots(span);
                0
            }
        }
    }

    fn resolve(&mut self, name: &str) -> VarRef {
        let top = self.funcs.len() - 1;
        self.resolve_in(top, name)
    }

    fn resolve_in(&mut self, f: usize, name: &str) -> VarRef {
        if let Some(slot) = self.funcs[f].lookup_local(name) {
            return VarRef::Local(slot);
        }
        if let Some(&i) = self.funcs[f].capture_index.get(name) {
            return VarRef::Capture(i);
        }
        if f == 0 {
            return VarRef::Global(self.globals.intern(name));
        }
        let from = match self.resolve_in(f - 1, name) {
            VarRef::Local(slot) => CaptureFrom::Cell(self.funcs[f - 1].cell_for(slot)),
            VarRef::Capture(i) => CaptureFrom::Capture(i),
            global => return global,
        };
        let func = &mut self.funcs[f];
        let Ok(i) = u16::try_from(func.captures.len()) else {
            let span = func.span;
            let script = func.is_script;
            self.too_many.get_or_insert((span, script));
            return VarRef::Capture(0);
        };
        func.captures.push((name.to_string(), from));
        func.capture_index.insert(name.to_string(), i);
        VarRef::Capture(i)
    }

    /// Whether `name` is a variable of some enclosing function (not a global).
    fn is_local_name(&self, name: &str) -> bool {
        self.funcs
            .iter()
            .any(|f| f.lookup_local(name).is_some() || f.capture_index.contains_key(name))
    }

    fn load_var(&mut self, name: &str, span: Span) {
        if name == "status" && !self.is_local_name(name) {
            self.emit(Op::LoadStatus, span);
            return;
        }
        let op = match self.resolve(name) {
            VarRef::Local(s) => Op::LoadLocal(s),
            VarRef::Capture(i) => Op::LoadCapture(i),
            VarRef::Global(g) => Op::LoadGlobal(g),
        };
        self.emit(op, span);
    }

    fn store_var(&mut self, name: &str, span: Span) {
        let op = match self.resolve(name) {
            VarRef::Local(s) => Op::StoreLocal(s),
            VarRef::Capture(i) => Op::StoreCapture(i),
            VarRef::Global(g) => Op::StoreGlobal(g),
        };
        self.emit(op, span);
    }

    /// Start compiling a nested function body.
    fn begin_func(&mut self, name: String, span: Span) {
        let mut f = FuncState::new(name, false, span);
        if let Some(outer) = self.funcs.last() {
            f.scope = outer.scope.clone();
        }
        self.funcs.push(f);
    }

    /// The function being compiled is `fn NAME`: sites in it are counted
    /// in it, named after it (qualified by the named functions around it).
    fn name_scope(&mut self, name: &str) {
        let f = self.f();
        f.named = true;
        f.scope = match &*f.scope {
            "" => Rc::from(name),
            outer => Rc::from(format!("{outer}.{name}")),
        };
    }

    /// The ordinal of a new `kind` site in the current scope (counted
    /// where the keyword is, so ordinals follow the source's order).
    fn reserve_site(&mut self, kind: SiteKind) -> u32 {
        let owner = self
            .funcs
            .iter()
            .rposition(FuncState::owns_sites)
            .unwrap_or(0);
        let count = &mut self.funcs[owner].site_counts[kind as usize];
        *count += 1;
        *count
    }

    /// Emit a site's instruction, noting its ordinal.
    fn emit_site(&mut self, op: Op, span: Span, ordinal: u32) {
        let pc = self.emit(op, span);
        self.f().sites.push((pc as u32, ordinal));
    }

    /// Start compiling a compound pipeline stage's closure.
    fn begin_stage_func(&mut self, name: &str, span: Span) {
        self.begin_func(name.to_string(), span);
        self.f().stage = Some(StageExit::default());
    }

    /// Finish a stage's closure: its proto, and how it may jump out.
    fn finish_stage_func(&mut self) -> (Proto, Option<StageExit>) {
        let exit = self.f().stage.take().filter(|e| e.flag.is_some());
        (self.finish_func(), exit)
    }

    /// Whether `return` is allowed here: inside a function, seen through
    /// the compound stages around this code.
    fn can_return(&self) -> bool {
        for f in self.funcs.iter().rev() {
            if f.stage.is_none() {
                return !f.is_script;
            }
        }
        false
    }

    /// Whether the current code is in compound stages whose enclosing
    /// function is at the top level of a script (a `read` there sets a
    /// global).
    fn stage_at_global_scope(&self) -> bool {
        for f in self.funcs.iter().rev() {
            if f.stage.is_none() {
                return f.at_global_scope();
            }
        }
        false
    }

    /// Whether `break`/`continue` has a loop to leave, seen through the
    /// compound stages around this code.
    fn in_loop(&self) -> bool {
        for f in self.funcs.iter().rev() {
            if !f.loops.is_empty() {
                return true;
            }
            if f.stage.is_none() {
                return false;
            }
        }
        false
    }

    /// A hidden variable of the function enclosing the current stage
    /// closure, initialised to null where the stage's closure is made.
    fn stage_var(&mut self, what: &str, span: Span) -> String {
        let n = self.funcs.len();
        let name = format!("\u{0}{what}{}", self.funcs[n - 2].code.len());
        let parent = &mut self.funcs[n - 2];
        let script = parent.is_script;
        let slot = match parent.add_local(&name) {
            Some(slot) => slot,
            None => {
                self.too_many.get_or_insert((span, script));
                0
            }
        };
        let parent = &mut self.funcs[n - 2];
        parent.code.push(Op::Null);
        parent.spans.push(span);
        parent.code.push(Op::DeclLocal(slot));
        parent.spans.push(span);
        name
    }

    /// Leave the current stage closure by `kind` (the returned value on the
    /// stack for a return): set the flag, run the `finally` blocks, end the
    /// stage.
    fn stage_jump(&mut self, kind: i32, span: Span) -> CResult {
        if self.f().stage.as_ref().is_some_and(|e| e.flag.is_none()) {
            let flag = self.stage_var("exit", span);
            if let Some(e) = self.f().stage.as_mut() {
                e.flag = Some(flag);
            }
        }
        if kind == EXIT_RETURN {
            if self.f().stage.as_ref().is_some_and(|e| e.value.is_none()) {
                let value = self.stage_var("value", span);
                if let Some(e) = self.f().stage.as_mut() {
                    e.value = Some(value);
                }
            }
            let value = self.f().stage.as_ref().and_then(|e| e.value.clone());
            if let Some(v) = value {
                self.store_var(&v, span);
            }
        }
        let flag = self.f().stage.as_ref().and_then(|e| e.flag.clone());
        if let Some(flag) = flag {
            self.emit(Op::SmallInt(kind), span);
            self.store_var(&flag, span);
        }
        if let Some(e) = self.f().stage.as_mut() {
            match kind {
                EXIT_RETURN => e.returns = true,
                EXIT_BREAK => e.breaks = true,
                _ => e.continues = true,
            }
        }
        self.leave_tries(0, span)?;
        self.emit(Op::Null, span);
        self.emit(Op::Return, span);
        Ok(())
    }

    /// After a pipeline with a stage that may jump out: do the jump it
    /// asked for, here.
    fn stage_exit_check(&mut self, exit: StageExit, span: Span) -> CResult {
        let Some(flag) = exit.flag else {
            return Ok(());
        };
        self.load_var(&flag, span);
        let done = self.emit(Op::JumpIfFalse(0), span);
        let cases = [
            (exit.returns, EXIT_RETURN),
            (exit.breaks, EXIT_BREAK),
            (exit.continues, EXIT_CONTINUE),
        ];
        for (used, kind) in cases {
            if !used {
                continue;
            }
            self.load_var(&flag, span);
            self.emit(Op::SmallInt(kind), span);
            let next = self.emit(Op::CompareJump(crate::ast::BinaryOp::Eq, 0), span);
            match kind {
                EXIT_RETURN => {
                    match &exit.value {
                        Some(v) => self.load_var(v, span),
                        None => {
                            self.emit(Op::Null, span);
                        }
                    }
                    self.return_value(span)?;
                }
                EXIT_BREAK => self.break_continue(true, span)?,
                _ => self.break_continue(false, span)?,
            }
            self.patch(next);
        }
        self.patch(done);
        Ok(())
    }

    /// Finish the innermost function: rewrite captured slots to cells.
    fn finish_func(&mut self) -> Proto {
        debug_assert!(!self.funcs.is_empty(), "finish_func without begin_func");
        let mut f = self
            .funcs
            .pop()
            .unwrap_or_else(|| FuncState::new(String::new(), true, Span::default()));
        for op in f.code.iter_mut() {
            *op = match *op {
                Op::LoadLocal(s) => f.cell_of_slot.get(&s).map_or(*op, |&c| Op::LoadCell(c)),
                Op::StoreLocal(s) => f.cell_of_slot.get(&s).map_or(*op, |&c| Op::StoreCell(c)),
                Op::DeclLocal(s) => f
                    .cell_of_slot
                    .get(&s)
                    .map_or(Op::StoreLocal(s), |&c| Op::InitCell(c)),
                other => other,
            };
        }
        let param_cells = (0..f.n_params + u16::from(f.has_rest))
            .filter_map(|p| f.cell_of_slot.get(&p).map(|&c| (p, c)))
            .collect();
        let stack_needed = crate::vm::chunk::stack_needed(&f.code, &f.cmds, f.n_locals);
        crate::vm::chunk::fuse_locals(&mut f.code, &mut f.spans);
        crate::vm::chunk::fuse_calls(&mut f.code);
        Proto {
            stack_needed,
            name: f.name,
            code: f.code,
            spans: f.spans,
            consts: f.consts,
            cmds: f.cmds,
            protos: f.protos,
            capture_names: f.captures.iter().map(|(n, _)| n.as_str().into()).collect(),
            captures: f.captures.into_iter().map(|(_, c)| c).collect(),
            n_params: f.n_params,
            has_rest: f.has_rest,
            n_locals: f.n_locals,
            n_cells: f.cell_of_slot.len() as u16,
            param_cells,
            is_async: f.is_async,
            main_spec: f.main_spec,
            source: self.source,
            span: f.span,
            sites: Sites {
                scope: f.scope,
                named: f.named,
                at: f.sites.into(),
            },
        }
    }

    /// Add a finished nested proto to the current function and emit the
    /// closure creation for it.
    fn emit_closure(&mut self, proto: Proto, span: Span) {
        let f = self.f();
        f.protos.push(Rc::new(proto));
        let i = (f.protos.len() - 1) as u32;
        self.emit(Op::Closure(i), span);
    }

    /// A coroutine body (`async`, `spawn`, branches, `timeout`, `$( )`):
    /// a zero-parameter closure whose `return` leaves the body.
    fn body_closure(&mut self, name: &str, body: &Block) -> CResult {
        self.begin_func(name.to_string(), body.span);
        self.block_stmts(body)?;
        self.emit(Op::Null, body.span);
        self.emit(Op::Return, body.span);
        let proto = self.finish_func();
        self.emit_closure(proto, body.span);
        Ok(())
    }
}
