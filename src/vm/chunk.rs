//! Compiled code: a function prototype holds its instructions, constants,
//! command descriptions and, in a vector parallel to the instructions, their
//! source spans (as in clox: locations live beside the code, not in it).
//!
//! The VM is a stack machine. Each instruction's stack effect is given as
//! `[before] -> [after]` (top of stack on the right).

use crate::ast::{BinaryOp, RedirOp, Span, UnaryOp};

use super::error::ErrorKind;
use super::value::Value;

/// The switches of `gather` (`-k`, `--group`, `--progress`, and whether a
/// `-j` limit is on the stack), packed in a byte so an instruction stays
/// 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GatherFlags(u8);

impl GatherFlags {
    const KEEP_GOING: u8 = 1;
    const GROUP: u8 = 2;
    const PROGRESS: u8 = 4;
    const LIMIT: u8 = 8;

    pub fn new(keep_going: bool, group: bool, progress: bool, limit: bool) -> GatherFlags {
        GatherFlags(
            (u8::from(keep_going) * Self::KEEP_GOING)
                | (u8::from(group) * Self::GROUP)
                | (u8::from(progress) * Self::PROGRESS)
                | (u8::from(limit) * Self::LIMIT),
        )
    }

    pub fn keep_going(self) -> bool {
        self.0 & Self::KEEP_GOING != 0
    }

    pub fn group(self) -> bool {
        self.0 & Self::GROUP != 0
    }

    pub fn progress(self) -> bool {
        self.0 & Self::PROGRESS != 0
    }

    pub fn limit(self) -> bool {
        self.0 & Self::LIMIT != 0
    }
}

/// As the fields were shown before they were packed.
impl std::fmt::Debug for GatherFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "keep_going: {}, group: {}, progress: {}, limit: {}",
            self.keep_going(),
            self.group(),
            self.progress(),
            self.limit()
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// `[] -> [consts[i]]`
    Const(u32),
    /// `[] -> [null]`
    Null,
    /// `[] -> [n]`
    SmallInt(i32),
    /// `[v] -> []`
    Pop,
    /// `[v] -> [v v]`
    Dup,
    /// `[a b] -> [a b a b]` (`xs[i] += v` reads and writes one place)
    Dup2,

    /// `[] -> [locals[i]]` (a slot of the current frame)
    LoadLocal(u16),
    /// `[v] -> []`
    StoreLocal(u16),
    /// `[] -> [cells[i].value]` (a captured-by-closure local of this frame)
    LoadCell(u16),
    /// `[v] -> []`
    StoreCell(u16),
    /// `[v] -> []`: a fresh cell holding v (each loop iteration gets its own).
    InitCell(u16),
    /// `[v] -> []`: declare a local (a nested `fn`, `read NAME`). Only
    /// while compiling: when the function is finished it becomes
    /// `InitCell` if a closure captures the variable, else `StoreLocal`.
    DeclLocal(u16),
    /// `[] -> [closure.captures[i].value]`
    LoadCapture(u16),
    /// `[v] -> []`
    StoreCapture(u16),
    /// `[] -> [globals[i]]`; an undefined global falls back to the
    /// environment variable of that name, else `NameError`.
    LoadGlobal(u32),
    /// `[v] -> []`: assignment; `NameError` if the global is undefined.
    StoreGlobal(u32),
    /// `[v] -> []`: `let` / `fn` at top level.
    DefineGlobal(u32),
    /// `[] -> [status]`: `$status` of the current task.
    LoadStatus,
    /// `[] -> []`: `$status` = 0 (a loop or `if` used as a command finished).
    ClearStatus,

    /// `[a] -> [op a]`
    Unary(UnaryOp),
    /// `[a b] -> [a op b]` (not `and`/`or`: those are jumps)
    Binary(BinaryOp),
    /// `[c k] -> [c[k]]`
    Index,
    /// `[c k v] -> []`
    SetIndex,
    /// `[c k] -> []`: `unset m.k`, `unset xs[i]`: the key or item removed
    /// (nothing when there is none).
    Remove,
    /// `[c start end step?] -> [c[start:end:step]]`; a null bound is
    /// omitted.
    Slice {
        step: bool,
    },
    /// `[list] -> [v1 .. v_before rest? w1 .. w_after]`: a `let`/`for`
    /// pattern taken apart (`ValueError` if the length does not fit).
    Unpack {
        before: u16,
        rest: bool,
        after: u16,
    },
    /// `[a b] -> [a + b]`, extending a list `a` in place (`xs += ys`).
    AddInPlace,
    /// `[m] -> [m.name]` with `consts[i]` the field name
    Field(u32),
    /// `[m v] -> []`
    SetField(u32),
    /// `[v1 .. vn] -> [list]`
    MakeList(u32),
    /// `[k1 v1 .. kn vn] -> [map]`
    MakeMap(u32),
    /// `[v1 .. vn] -> [string]`: the values' text, joined.
    Concat(u32),
    /// `[w1 .. wn] -> [list]`: command words to arguments (list values
    /// splice, everything else becomes its text).
    ArgList(u32),
    /// `[v] -> [string]`: `"$x"`, lists joined by spaces.
    ToStr,
    /// `[v] -> [string]`: text with glob metacharacters escaped (variable
    /// parts of a glob word never glob).
    EscapeGlob,
    /// `[pattern] -> [list of paths]` (suspends: globbing is file I/O).
    Glob,
    /// `[] -> [home dir]`
    Home,
    /// `[user name] -> [that user's home dir]` (`~name`)
    HomeOf,

    /// Unconditional jump to an absolute instruction index.
    Jump(u32),
    /// Backward jump of a loop: also spends the slice's budget (`vm::budget`).
    Loop(u32),
    /// `[c] -> []`, jumps when c is falsy.
    JumpIfFalse(u32),
    /// `[a b] -> []`, jumps when `a op b` is false: a comparison fused
    /// with the jump of the condition it decides.
    CompareJump(BinaryOp, u32),
    /// `[c] -> [c]`, jumps when falsy, else pops (for `and`).
    AndJump(u32),

    // Superinstructions: written over the first op of a sequence by
    // [`fuse_locals`] once a function is finished. The ops they stand for
    // stay behind them (skipped), so jump targets and spans do not move.
    /// `locals[d] = locals[d] op k`: `LoadLocal(d) SmallInt(k) Binary(op)
    /// StoreLocal(d)` (`i = i + 1`); skips 3.
    LocalOpInt(BinaryOp, u16, i32),
    /// `locals[d] = locals[d] op locals[s]`: `LoadLocal(d) LoadLocal(s)
    /// Binary(op) StoreLocal(d)` (`s = s + i`); skips 3.
    LocalOpLocal(BinaryOp, u16, u16),
    /// `locals[d] += k`: `LoadLocal(d) SmallInt(k) AddInPlace StoreLocal(d)`; skips 3.
    AddInPlaceInt(u16, i32),
    /// `locals[d] += locals[s]`: `LoadLocal(d) LoadLocal(s) AddInPlace
    /// StoreLocal(d)`; skips 3.
    AddInPlaceLocal(u16, u16),
    /// `LoadLocal(a) LoadLocal(b) CompareJump(op, t)` (`while (i < n)`):
    /// goes on after the `CompareJump` when `a op b` holds, else jumps to
    /// its target.
    CompareLocals(BinaryOp, u16, u16),
    /// `LoadLocal(a) SmallInt(k) CompareJump(op, t)`, likewise.
    CompareLocalInt(BinaryOp, u16, i32),
    /// `Call(n) SmallInt(k) Index` (`split(line, " ")[1]`), written by
    /// [`fuse_calls`]: a built-in with a `pick` (`objects::NativeFn`)
    /// finds item k of its list without making the list, and the two ops
    /// after this one are skipped; any other callee is called as by
    /// `Call(n)` and they run.
    CallIndex(u16, i32),
    /// `ForNext(t) StoreLocal(s)` (`for line in xs`): the item goes
    /// straight into the local; skips 1.
    ForNextLocal(u32, u16),
    /// `[c] -> [c]`, jumps when truthy, else pops (for `or`).
    OrJump(u32),
    /// Jumps when `$status` is non-zero (`&&`) / zero (`||`).
    JumpIfStatus {
        nonzero: bool,
        target: u32,
    },
    /// `[list] -> [list index]` then, each iteration, `ForNext`.
    ForPrep,
    /// `[list i] -> [list i+1 item]`, or pops both and jumps when done.
    ForNext(u32),

    /// `[f a1 .. an] -> [result]`: call a function value.
    Call(u32),
    /// `[v] -> ...`: leave the frame with v.
    Return,
    /// `[] -> [closure]` capturing per `protos[i].captures`.
    Closure(u32),
    /// `[closure] -> [coroutine]` (an `async { }` block).
    MakeCoroutine,

    /// Run `cmds[i]`: `[stage values...] -> []`, sets `$status`.
    Exec(u32),
    /// `[closure] -> []`: run the closure with stdout into a pipe; its
    /// `Return` yields `[captured string]`.
    Capture,

    /// Try: on error, unwind to `target` with `[error]` on the stack.
    PushHandler(u32),
    PopHandler,
    /// `[e] -> [e bool]`: whether error e is of that kind.
    IsKind(ErrorKind),
    /// `[e] -> [e bool]`: whether e is caught by a plain `catch`
    /// (every kind but `CancelledError`).
    IsCatchable,
    /// `[] -> [line]` and `$status` 0, or `[] -> [""]` and status 1 at
    /// end of input: the `read NAME` builtin (the compiler stores the
    /// line, the empty one too, as bash).
    ReadLine,
    /// `[] -> !`: the `CommandError` of a `read` at end of input (after
    /// the compiler stored the empty line); `consts[i]` is the name read.
    ReadFailed(u32),
    /// `[v] -> !`: raise (a string becomes an `Error`).
    Throw,
    /// `[main args script defaults...] -> [value]`: call a script's `fn
    /// main` with `args` parsed against `Proto::main_spec` and the `n`
    /// option defaults; `--help` or a bad argument ends the script.
    RunMain(u16),
    /// `[v] -> []`: main returned `v`; a failing status ends the script
    /// with it (`return 3`, `return false`).
    EndMain,

    /// `[name value] -> []`: set an environment variable of this task.
    Export,
    /// `[path] -> []`: load and run a module or source file.
    Use {
        source: bool,
    },

    /// `[c] -> [value]`: await a coroutine or a task.
    Await,
    /// `[c] -> [task]`: spawn a coroutine; `job` keeps it in the job table.
    Spawn {
        job: bool,
    },
    /// `[b1 .. bn limit?] -> [list]`
    Gather {
        n: u32,
        flags: GatherFlags,
    },
    /// `[b1 .. bn] -> [value]`
    Race {
        n: u32,
        progress: bool,
    },
    /// `[duration grace? closure] -> [value]`
    Timeout {
        grace: bool,
    },
    /// `[hosts c] -> [task]`: spawn coroutine c on a host (section 15).
    SpawnOn,
    /// `[hosts b1 .. bn limit?] -> [list]`: `gather --on`; `limit` is per host.
    GatherOn {
        n: u32,
        flags: GatherFlags,
    },
    /// `[hosts b1 .. bn] -> [value]`: `race --on`.
    RaceOn {
        n: u32,
        progress: bool,
    },
    /// `[target unit] -> [value]`: run a packed body on a host; the code of
    /// the task `spawn --on` and `gather --on` start (built by `remote`).
    RemoteRun,
    /// `[duration] -> []`
    Sleep,
    /// `[task] -> []`
    Cancel,
}

/// How a closure's capture is filled when it is created.
#[derive(Clone, Copy, Debug)]
pub enum CaptureFrom {
    /// The creating frame's own cell.
    Cell(u16),
    /// One of the creating closure's captures.
    Capture(u16),
}

/// A compiled function body.
pub struct Proto {
    pub name: String,
    pub code: Vec<Op>,
    /// `spans[i]` is the source of `code[i]`.
    pub spans: Vec<Span>,
    pub consts: Vec<Value>,
    pub cmds: Vec<CmdSpec>,
    /// Nested functions, referred to by `Op::Closure`.
    pub protos: Vec<std::rc::Rc<Proto>>,
    pub captures: Vec<CaptureFrom>,
    /// The names of the captured variables, in the order of `captures`:
    /// a body sent to another host takes their values (section 15).
    pub capture_names: Box<[Box<str>]>,
    pub n_params: u16,
    pub has_rest: bool,
    /// Value slots, parameters first.
    pub n_locals: u16,
    /// Cells (locals captured by inner closures).
    pub n_cells: u16,
    /// For each parameter captured by a closure, its cell: copied into the
    /// cell at call time.
    pub param_cells: Vec<(u16, u16)>,
    pub is_async: bool,
    /// A script's top level that calls its `fn main`: main's parameters
    /// as a command line (`Op::RunMain`).
    pub main_spec: Option<std::rc::Rc<super::main_args::MainSpec>>,
    /// Stack slots a call needs (see [`stack_needed`]).
    pub stack_needed: usize,
    /// Which loaded source file this code came from.
    pub source: u32,
    pub span: Span,
    /// Where its `spawn`, `gather` and `race` are, by name rather than by
    /// line: the journal's keys (section 14) name a site this way, so an
    /// edit elsewhere in the script does not change them.
    pub sites: Sites,
}

/// The `spawn`, `gather` and `race` sites of a function body, named as the
/// journal's keys name them: the named function they are written in (the
/// `fn NAME` around them, through any anonymous bodies; `""` at the top
/// level of a file) and their ordinal there, per keyword, in source order.
#[derive(Default)]
pub struct Sites {
    /// The named function this body is (or is written in), qualified by
    /// the named functions around it: `deploy`, `deploy.inner`.
    pub scope: std::rc::Rc<str>,
    /// This body is a function declared with a name (`fn NAME`), not an
    /// anonymous one (a block, `async { }`, `fn (x) { }`).
    pub named: bool,
    /// `(pc, ordinal)` of each `Spawn`, `Gather`, `Race` (or their `--on`
    /// forms) in this body: the ordinal counts that keyword's sites in the
    /// scope from 1, in source order.
    pub at: Box<[(u32, u32)]>,
}

impl Sites {
    /// The ordinal of the site whose instruction is at `pc`.
    pub fn ordinal(&self, pc: usize) -> Option<u32> {
        let i = self
            .at
            .binary_search_by_key(&(pc as u32), |&(p, _)| p)
            .ok()?;
        Some(self.at[i].1)
    }
}

/// A command line to run, resolved at run time (function, builtin, or
/// program). The values it needs are on the stack, stage by stage: env
/// values, then words, then redirection targets.
#[derive(Clone, Debug)]
pub struct CmdSpec {
    pub stages: Vec<StageSpec>,
    pub negated: bool,
    /// Errexit: a non-zero status raises `CommandError`.
    pub check: bool,
    /// Run an async function named by the command in place (the body of
    /// `spawn cmd` / `timeout 3s cmd`).
    pub run_coroutine: bool,
    /// The command line as written, for messages and `jobs`. A thin
    /// pointer: a task's context keeps the one it runs (`TaskCtx::current`),
    /// and a fat `Rc<str>` there moved every context up a malloc size class.
    pub text: std::rc::Rc<String>,
}

#[derive(Clone, Debug)]
pub struct StageSpec {
    /// Names of `NAME=value` prefixes.
    pub env: Vec<String>,
    /// How many words (command name included). A list value among them
    /// splices: the compiler turns every non-splicing word into a string.
    pub words: usize,
    /// The interned global of the command name when it is a literal, so a
    /// function defined at top level is found without a name lookup.
    pub global: Option<u32>,
    /// The command name is a local variable: its value is pushed before the
    /// stage's other values.
    pub callee_on_stack: bool,
    pub redirects: Vec<RedirOp>,
    pub span: Span,
}

impl StageSpec {
    /// How many stack values this stage takes.
    pub fn n_values(&self) -> usize {
        usize::from(self.callee_on_stack)
            + self.env.len()
            + self.words
            + self
                .redirects
                .iter()
                .filter(|r| !matches!(r, RedirOp::Dup { .. }))
                .count()
    }
}

/// The most values a call of a function holds on the value stack (its
/// locals and the deepest expression), from the stack effects documented
/// on [`Op`]; the compiler stores it in [`Proto::stack_needed`]. A fiber
/// sizes its stack by it: a task that only runs `sleep $s` needs one value,
/// not the four a growing `Vec` would make room for (100,000 such tasks;
/// docs/performance.md). Only a capacity hint: the stack still grows if it
/// is ever short.
pub fn stack_needed(code: &[Op], cmds: &[CmdSpec], n_locals: u16) -> usize {
    // One pass in code order (the compiler emits structured code), taking
    // the depth at a jump target from the jumps that reach it.
    let mut at_target: Vec<Option<isize>> = vec![None; code.len() + 1];
    let mut depth = n_locals as isize;
    let mut deepest = depth;
    let mut reachable = true;
    for (pc, op) in code.iter().enumerate() {
        if let Some(d) = at_target[pc] {
            depth = if reachable { depth.max(d) } else { d };
        }
        reachable = true;
        let mut jump = |target: u32, depth_there: isize| {
            if let Some(slot) = at_target.get_mut(target as usize) {
                *slot = Some(slot.map_or(depth_there, |d| d.max(depth_there)));
            }
        };
        let (pops, pushes): (isize, isize) = match *op {
            Op::Const(_)
            | Op::Null
            | Op::SmallInt(_)
            | Op::LoadLocal(_)
            | Op::LoadCell(_)
            | Op::LoadCapture(_)
            | Op::LoadGlobal(_)
            | Op::LoadStatus
            | Op::Home
            | Op::Closure(_)
            | Op::ReadLine => (0, 1),
            Op::Pop
            | Op::StoreLocal(_)
            | Op::StoreCell(_)
            | Op::InitCell(_)
            | Op::DeclLocal(_)
            | Op::StoreCapture(_)
            | Op::StoreGlobal(_)
            | Op::DefineGlobal(_)
            | Op::Use { .. }
            | Op::Sleep
            | Op::Cancel => (1, 0),
            Op::Dup | Op::IsKind(_) | Op::IsCatchable | Op::ForPrep => (1, 2),
            Op::Dup2 => (2, 4),
            Op::ClearStatus => (0, 0),
            // The ops they stand for follow and are counted as if run.
            Op::LocalOpInt(..)
            | Op::LocalOpLocal(..)
            | Op::AddInPlaceInt(..)
            | Op::AddInPlaceLocal(..)
            | Op::CompareLocals(..)
            | Op::CompareLocalInt(..) => (0, 0),
            Op::Slice { step } => (3 + isize::from(step), 1),
            Op::Unpack {
                before,
                rest,
                after,
            } => (1, before as isize + isize::from(rest) + after as isize),
            Op::AddInPlace => (2, 1),
            Op::Unary(_)
            | Op::ToStr
            | Op::HomeOf
            | Op::EscapeGlob
            | Op::Glob
            | Op::Field(_)
            | Op::MakeCoroutine
            | Op::Await
            | Op::Spawn { .. }
            | Op::Capture => (1, 1),
            Op::Binary(_) | Op::Index => (2, 1),
            Op::SetIndex => (3, 0),
            Op::SetField(_) | Op::Export | Op::Remove => (2, 0),
            Op::MakeList(n) | Op::Concat(n) | Op::ArgList(n) | Op::Race { n, .. } => {
                (n as isize, 1)
            }
            Op::MakeMap(n) => (2 * n as isize, 1),
            // (The `SmallInt` and `Index` it stands for follow.)
            Op::Call(n) => (n as isize + 1, 1),
            Op::CallIndex(n, _) => (n as isize + 1, 1),
            Op::Gather { n, flags } => (n as isize + isize::from(flags.limit()), 1),
            Op::SpawnOn | Op::RemoteRun => (2, 1),
            Op::GatherOn { n, flags } => (n as isize + 1 + isize::from(flags.limit()), 1),
            Op::RaceOn { n, .. } => (n as isize + 1, 1),
            Op::Timeout { grace } => (2 + isize::from(grace), 1),
            Op::Exec(i) => {
                let values = cmds.get(i as usize).map_or(0, |spec| {
                    spec.stages.iter().map(StageSpec::n_values).sum::<usize>()
                });
                (values as isize, 0)
            }
            Op::Jump(t) | Op::Loop(t) => {
                jump(t, depth);
                reachable = false;
                (0, 0)
            }
            Op::RunMain(n) => (n as isize + 3, 1),
            Op::EndMain => (1, 0),
            Op::Return | Op::Throw | Op::ReadFailed(_) => {
                reachable = false;
                (1, 0)
            }
            Op::JumpIfFalse(t) => {
                jump(t, depth - 1);
                (1, 0)
            }
            Op::CompareJump(_, t) => {
                jump(t, depth - 2);
                (2, 0)
            }
            Op::AndJump(t) | Op::OrJump(t) => {
                jump(t, depth);
                (1, 0)
            }
            Op::JumpIfStatus { target, .. } => {
                jump(target, depth);
                (0, 0)
            }
            Op::ForNext(t) | Op::ForNextLocal(t, _) => {
                jump(t, depth - 2);
                (2, 3)
            }
            // The handler starts with the stack as it is here, plus the error.
            Op::PushHandler(t) => {
                jump(t, depth + 1);
                (0, 0)
            }
            Op::PopHandler => (0, 0),
        };
        depth = (depth - pops).max(0) + pushes;
        deepest = deepest.max(depth);
    }
    deepest as usize
}

/// Where `op` may jump to.
fn jump_target(op: &Op) -> Option<u32> {
    match *op {
        Op::Jump(t)
        | Op::Loop(t)
        | Op::JumpIfFalse(t)
        | Op::CompareJump(_, t)
        | Op::AndJump(t)
        | Op::OrJump(t)
        | Op::ForNext(t)
        | Op::ForNextLocal(t, _)
        | Op::PushHandler(t)
        | Op::JumpIfStatus { target: t, .. } => Some(t),
        _ => None,
    }
}

/// Where a jump lands, by op index (one past the end included): no fused
/// sequence may have a target inside it.
fn jump_targets(code: &[Op]) -> Vec<bool> {
    let mut targeted = vec![false; code.len() + 1];
    for op in code {
        if let Some(slot) = jump_target(op).and_then(|t| targeted.get_mut(t as usize)) {
            *slot = true;
        }
    }
    targeted
}

/// How many ops of the code `op` stands for: a superinstruction the ops
/// of its sequence (itself and those it skips), any other op itself.
fn ops_stood_for(op: Op) -> usize {
    match op {
        Op::LocalOpInt(..)
        | Op::LocalOpLocal(..)
        | Op::AddInPlaceInt(..)
        | Op::AddInPlaceLocal(..) => 4,
        Op::CompareLocals(..) | Op::CompareLocalInt(..) | Op::CallIndex(..) => 3,
        Op::ForNextLocal(..) => 2,
        _ => 1,
    }
}

/// Write superinstructions over the hot sequences of a finished function
/// (after captured slots became cells: only true locals fuse). Each fused
/// op replaces the first op of its sequence and the VM skips the rest, so
/// no index moves; a sequence with a jump target inside is left alone. The
/// fused op takes the span of the sequence's operator (errors point there).
/// `LoadLocal`'s clone, the push, the pop and the dispatch of three ops go
/// away: the W2 loop runs 4 ops an iteration instead of 12.
pub fn fuse_locals(code: &mut [Op], spans: &mut [Span]) {
    let targeted = jump_targets(code);
    let free = |from: usize, to: usize| (from..=to).all(|i| !targeted[i]);
    let mut p = 0;
    while p + 2 < code.len() {
        let fused = match (code[p], code[p + 1], code[p + 2], code.get(p + 3)) {
            (Op::LoadLocal(d), Op::SmallInt(k), Op::Binary(op), Some(&Op::StoreLocal(d2)))
                if d == d2 && free(p + 1, p + 3) =>
            {
                Some(Op::LocalOpInt(op, d, k))
            }
            (Op::LoadLocal(d), Op::LoadLocal(s), Op::Binary(op), Some(&Op::StoreLocal(d2)))
                if d == d2 && free(p + 1, p + 3) =>
            {
                Some(Op::LocalOpLocal(op, d, s))
            }
            (Op::LoadLocal(d), Op::SmallInt(k), Op::AddInPlace, Some(&Op::StoreLocal(d2)))
                if d == d2 && free(p + 1, p + 3) =>
            {
                Some(Op::AddInPlaceInt(d, k))
            }
            (Op::LoadLocal(d), Op::LoadLocal(s), Op::AddInPlace, Some(&Op::StoreLocal(d2)))
                if d == d2 && free(p + 1, p + 3) =>
            {
                Some(Op::AddInPlaceLocal(d, s))
            }
            (Op::LoadLocal(a), Op::LoadLocal(b), Op::CompareJump(op, _), _)
                if free(p + 1, p + 2) =>
            {
                Some(Op::CompareLocals(op, a, b))
            }
            (Op::LoadLocal(a), Op::SmallInt(k), Op::CompareJump(op, _), _)
                if free(p + 1, p + 2) =>
            {
                Some(Op::CompareLocalInt(op, a, k))
            }
            _ => None,
        };
        match fused {
            Some(op) => {
                code[p] = op;
                if let (Some(&span), true) = (spans.get(p + 2), p < spans.len()) {
                    spans[p] = span;
                }
                p += ops_stood_for(op);
            }
            None => p += 1,
        }
    }
}

/// Write [`Op::CallIndex`] over each `Call(n) SmallInt(k) Index` of a
/// finished function, and [`Op::ForNextLocal`] over `ForNext StoreLocal`,
/// as [`fuse_locals`] does (no index moves; not where a jump lands inside;
/// not inside a sequence `fuse_locals` wrote over). Each keeps its first
/// op's span: an error of a call is located there, and an `IndexError` at
/// the `Index` (the VM moves its pc there first), as unfused.
pub fn fuse_calls(code: &mut [Op]) {
    let targeted = jump_targets(code);
    let mut p = 0;
    while p + 2 < code.len() {
        if let (Op::Call(n), Op::SmallInt(k), Op::Index) = (code[p], code[p + 1], code[p + 2])
            && let Ok(n) = u16::try_from(n)
            && !targeted[p + 1]
            && !targeted[p + 2]
        {
            code[p] = Op::CallIndex(n, k);
        }
        // What this pass or `fuse_locals` wrote stands for the ops after it.
        p += ops_stood_for(code[p]);
    }
    // Pairs, the last one included.
    let mut p = 0;
    while p + 1 < code.len() {
        let fused = match (code[p], code[p + 1]) {
            _ if targeted[p + 1] => None,
            (Op::ForNext(t), Op::StoreLocal(s)) => Some(Op::ForNextLocal(t, s)),
            _ => None,
        };
        if let Some(op) = fused {
            code[p] = op;
        }
        p += ops_stood_for(code[p]);
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use crate::compile::TopLevel;
    use crate::runtime::{Io, Runtime, TaskCtx};
    use crate::vm::fiber::{Fiber, Halt};
    use crate::vm::objects::Closure;

    fn compiled(src: &str, rt: &Runtime) -> Rc<Closure> {
        rt.load("<test>", src, TopLevel::ScriptLocals)
            .expect("compiles")
    }

    /// Run `src` (code that never waits and calls no ash function, so all
    /// of it runs in the root frame); the stack size the compiler computed
    /// and the capacity the stack had at the end: equal unless it grew.
    fn needed_and_used(src: &str) -> (usize, usize) {
        let rt = Runtime::new(false);
        let main = compiled(src, &rt);
        let needed = main.proto.stack_needed;
        let ctx = Rc::new(TaskCtx::main(Io::standard()));
        let mut fiber = Fiber::call(rt, ctx, main, Vec::new());
        loop {
            match fiber.run() {
                Halt::Done(_) => break,
                Halt::Yield => continue,
                Halt::Failed(e) => panic!("{src} failed: {}", e.message),
                _ => panic!("{src} waited"),
            }
        }
        (needed, fiber.stack_capacity())
    }

    #[test]
    fn the_computed_stack_size_is_enough() {
        for src in [
            "let x = 1 + 2 * (3 - 4)",
            "let total = 0\nfor i in ([1, 2, 3]) { total = total + i * 2 }",
            "let i = 0\nwhile (i < 10 and (i != 5 or true)) { i = i + 1 }",
            "let m = {a: [1, [2, 3]], b: \"x${1 + 2}y\"}\nlet v = m.a[1][0]",
            "let r = null\ntry { throw \"boom\" } catch e { r = [e, 1, 2] } finally { r = [r, 3] }",
            "let s = 0\nif (1 < 2) { s = [1, 2, 3] } elif (s > 1) { s = [4] } else { s = 5 }",
        ] {
            let (needed, used) = needed_and_used(src);
            assert_eq!(used, needed, "the stack grew past its size for: {src}");
        }
    }

    #[test]
    fn a_task_that_only_sleeps_needs_one_value() {
        let rt = Runtime::new(false);
        let main = compiled("let s = 1\nspawn { sleep $s }", &rt);
        let block = &main.proto.protos[0];
        assert_eq!(block.stack_needed, 1);
    }
}
