//! The syntax tree produced by `syntax::parse` and consumed by `compile`.
//!
//! Every node carries a [`Span`] (byte offsets into the source) so that the
//! compiler can attach a location to each instruction and errors can point at
//! the exact spot. The tree holds no `Rc`: the interactive shell's
//! highlighter and validator run the parser on reedline's threads (`Send`).
//!
//! Two modes meet here, as in the language: *command mode* ([`Word`],
//! [`Command`], [`Pipeline`], [`AndOr`]) and *expression mode* ([`Expr`]).

/// A byte range `start..end` in the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A name as written: a variable, function, parameter or error kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A sequence of statements: a script, or the inside of `{ }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let x = EXPR`, `let [a, ...rest] = EXPR`
    Let {
        pattern: Pattern,
        value: Expr,
    },
    /// `x = EXPR`, `xs[i] = EXPR`, `m.k = EXPR`, `m["k"] = EXPR`; with
    /// `op`, the compound form `x += EXPR` (`-= *= /= //= %= **=`), whose
    /// target is evaluated once.
    Assign {
        target: Expr,
        op: Option<BinaryOp>,
        value: Expr,
    },
    /// `export NAME = EXPR` (value given) or `export NAME`
    Export {
        name: Ident,
        value: Option<Expr>,
    },
    /// `if C { } elif C { } else { }`: the `if` and each `elif` in order.
    If {
        branches: Vec<(Cond, Block)>,
        otherwise: Option<Block>,
    },
    While {
        cond: Cond,
        body: Block,
    },
    /// `for NAME in WORD... { }`: the words are expanded as command
    /// arguments. `for [k, v] in ...` destructures each item.
    For {
        pattern: Pattern,
        words: Vec<Word>,
        body: Block,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    Throw(Expr),
    /// `fn name(...) { }` and `async fn name(...) { }`
    FnDecl(FnDef),
    Try {
        body: Block,
        catches: Vec<Catch>,
        finally: Option<Block>,
    },
    /// `use std/NAME` or `use ./path.ash`: the path as written.
    Use {
        path: String,
    },
    /// `source FILE`
    Source {
        path: Word,
    },
    /// `unset m.k xs[i] m["k"] NAME`: at least one argument is a place
    /// (a `Field` or `Index` of a variable), whose key or item is removed;
    /// `names` are unset as the `unset` command does. Without a place,
    /// `unset NAME...` is an ordinary command.
    Unset {
        places: Vec<Expr>,
        names: Vec<Ident>,
    },
    /// A command line: pipelines joined by `&&` / `||`, maybe with `&`.
    Command(AndOr),
    /// `{ statements }` as a statement: a group with its own scope. Piped
    /// or redirected, it is a [`Stage::Compound`] instead.
    Group(Block),
    /// A statement that is an expression: a keyword form such as
    /// `await $t`, `sleep 1`, `gather {..} {..}`, `cancel $t`, `spawn {..}`,
    /// or a call written `f(a, b)` at the start of a statement.
    Expr(Expr),
}

/// What `let` and `for` bind: a name, or a list taken apart.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    Name(Ident),
    /// `[a, b]`, `[first, ...rest]`, `[a, [b, c]]`, `[...init, last]`: the
    /// value must be a list of exactly that many items (at least, with a
    /// rest), else `ValueError`.
    List {
        before: Vec<Pattern>,
        rest: Option<Ident>,
        after: Vec<Pattern>,
        span: Span,
    },
}

impl Pattern {
    /// Every name the pattern binds, left to right.
    pub fn names(&self) -> Vec<&Ident> {
        let mut out = Vec::new();
        self.collect_names(&mut out);
        out
    }

    fn collect_names<'a>(&'a self, out: &mut Vec<&'a Ident>) {
        match self {
            Pattern::Name(id) => out.push(id),
            Pattern::List {
                before,
                rest,
                after,
                ..
            } => {
                before.iter().for_each(|p| p.collect_names(out));
                out.extend(rest.iter());
                after.iter().for_each(|p| p.collect_names(out));
            }
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Pattern::Name(id) => id.span,
            Pattern::List { span, .. } => *span,
        }
    }
}

/// A condition of `if`, `elif` or `while`.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// `(expr)`: its truthiness.
    Expr(Expr),
    /// A command line: its exit status (non-zero is false, not an error).
    Command(AndOr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Catch {
    /// `catch TimeoutError e { }`: the kind named, if any.
    pub kind: Option<Ident>,
    /// The variable bound to the error value, if any.
    pub var: Option<Ident>,
    pub body: Block,
    pub span: Span,
}

/// A function literal or declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    /// `None` for `fn (x) { }` literals.
    pub name: Option<Ident>,
    pub params: Vec<Ident>,
    /// `...rest`: collects the remaining arguments as a list.
    pub rest: Option<Ident>,
    /// `fn main`'s options (`--name`), each also in `params`.
    pub options: Vec<OptParam>,
    pub body: Block,
    /// `async fn`: calling returns a coroutine instead of running the body.
    pub is_async: bool,
    pub span: Span,
}

/// `--name`, `--name -n`, `--name = DEFAULT` among `fn main`'s parameters:
/// an option of the script's command line (section 18).
#[derive(Clone, Debug, PartialEq)]
pub struct OptParam {
    /// The long name as written, without `--` (`dry-run`); the parameter
    /// (`params[param]`) is named with `_` for `-` (`dry_run`).
    pub long: String,
    pub short: Option<char>,
    /// None: a flag (false unless given).
    pub default: Option<Expr>,
    pub param: usize,
    pub span: Span,
}

// ---------------------------------------------------------------- commands

/// `a && b || ! c | d &`
#[derive(Clone, Debug, PartialEq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
    /// Ends with `&`: run as a spawned task kept in the job table.
    pub background: bool,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    And,
    Or,
}

/// `! a | b | c`
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub negated: bool,
    pub stages: Vec<Stage>,
    pub span: Span,
}

/// One stage of a pipeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    Command(Command),
    /// `while ... { } < f`, `cat f | for x in ... { }`, `{ a; b } | sort`,
    /// `timeout 5s { } > log`: a compound statement (or a keyword
    /// expression) run as a stage, in the current task.
    Compound(Compound),
}

impl Stage {
    pub fn span(&self) -> Span {
        match self {
            Stage::Command(c) => c.span,
            Stage::Compound(c) => c.span,
        }
    }

    pub fn redirects(&self) -> &[Redirect] {
        match self {
            Stage::Command(c) => &c.redirects,
            Stage::Compound(c) => &c.redirects,
        }
    }
}

/// A compound statement used as a pipeline stage, with its redirections.
#[derive(Clone, Debug, PartialEq)]
pub struct Compound {
    /// A `While`, `For`, `If`, `Group`, or `Expr` (a keyword form such as
    /// `timeout` or `gather`) statement; `read NAME` as a stage is a
    /// `Command` statement.
    pub body: Box<Stmt>,
    pub redirects: Vec<Redirect>,
    pub span: Span,
}

/// `NAME=value ... word word ... redirections`
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// `NAME=value` prefixes: environment for this command only.
    pub env: Vec<(Ident, Word)>,
    /// The command name followed by its arguments; never empty.
    pub words: Vec<Word>,
    /// Redirections in the order written (order matters for `2>&1`).
    pub redirects: Vec<Redirect>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Redirect {
    pub op: RedirOp,
    /// The file for every op but `Dup`.
    pub target: Option<Word>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirOp {
    /// `< f` (fd 0)
    Read,
    /// `> f`, `2> f` (fd 1 or 2)
    Write(u8),
    /// `>> f`, `2>> f`
    Append(u8),
    /// `2>&1` is `Dup { fd: 2, to: 1 }`; `>&2` is `Dup { fd: 1, to: 2 }`.
    Dup { fd: u8, to: u8 },
    /// `&> f`: stdout and stderr to the file.
    WriteAll,
    /// `&>> f`
    AppendAll,
    /// `<<EOF`, `<<'EOF'`, `<<-EOF` and `<<< word`: stdin is the target's
    /// text (the here-document's body, or the word and a newline).
    Here,
}

/// One command-mode word: adjacent parts joined, never split.
#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    pub parts: Vec<WordPart>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum WordPart {
    /// Literal text. `quoted` is true for text from `'..'`, `".."` or a
    /// backslash escape: only unquoted `*`, `?`, `[` make a glob.
    Lit { text: String, quoted: bool },
    /// An unquoted `~` (the home directory) or `~name` (user name's) at
    /// the start of a word, followed by `/` or the end of the word.
    Tilde { user: Option<String> },
    /// `$name`
    Var { name: Ident, quoted: bool },
    /// `${expr}` or a whole-word `(expr)`
    Expr { expr: Expr, quoted: bool },
    /// `$(statements)`: stdout as a string, trailing newlines removed.
    Capture { body: Block, quoted: bool },
}

// ---------------------------------------------------------------- expressions

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A duration literal (`250ms`, `2s`, `1.5m`, `1h`), in seconds.
    Duration(f64),
    /// A string literal; `"..."` with interpolation has several parts
    /// (`Lit` parts are all `quoted: true`).
    Str(Vec<WordPart>),
    List(Vec<Expr>),
    /// `{key: value, "key 2": value}`: keys are string expressions.
    Map(Vec<(Expr, Expr)>),
    /// `x` or `$x`
    Var(Ident),
    /// `$(statements)`
    Capture(Block),
    Unary(UnaryOp, Box<Expr>),
    /// `and` / `or` short-circuit; the others evaluate both sides.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Index(Box<Expr>, Box<Expr>),
    /// `xs[a:b]`, `s[:-4]`, `xs[::-1]`: each bound optional.
    Slice {
        target: Box<Expr>,
        start: Option<Box<Expr>>,
        end: Option<Box<Expr>>,
        step: Option<Box<Expr>>,
    },
    Field(Box<Expr>, Ident),
    /// `f(a, b)`
    Call(Box<Expr>, Vec<Expr>),
    /// `fn (x) { }` / `async fn (x) { }`
    Lambda(Box<FnDef>),
    /// `async { }`: a coroutine value.
    Async(Block),
    Await(Box<Expr>),
    Spawn(Box<Body>),
    Gather {
        opts: GatherOpts,
        branches: Vec<Branch>,
    },
    /// `race [--progress] BRANCH...`
    Race {
        branches: Vec<Branch>,
        progress: bool,
    },
    Timeout {
        duration: Box<Expr>,
        grace: Option<Box<Expr>>,
        body: Box<Body>,
    },
    Sleep(Box<Expr>),
    Cancel(Box<Expr>),
    /// `spawn --on HOST ...`, `gather --on HOSTS ...`, `race --on HOSTS
    /// ...`: `inner` (a `Spawn`, `Gather` or `Race`) runs its body or
    /// branches in an ash on other hosts (section 15).
    OnHosts {
        hosts: Box<Expr>,
        inner: Box<Expr>,
    },
}

/// The body of `spawn` or `timeout`.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Block(Block),
    /// `spawn $c`, `spawn f(1)`: a coroutine or task value.
    Expr(Expr),
    /// `spawn cmd args`, `timeout 3s cmd args`
    Command(AndOr),
}

/// A branch of `gather` or `race`.
#[derive(Clone, Debug, PartialEq)]
pub enum Branch {
    Block(Block),
    /// `$var` or `(expr)`: a coroutine, a task, or a list of them.
    Expr(Expr),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GatherOpts {
    /// `-j N`
    pub limit: Option<Box<Expr>>,
    /// `-k`: errors come back as values.
    pub keep_going: bool,
    /// `--group`: each branch's output printed whole, in order.
    pub group: bool,
    /// `--progress`: a progress line on a terminal's stderr.
    pub progress: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `//`: floor division.
    FloorDiv,
    Rem,
    /// `**`
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}
