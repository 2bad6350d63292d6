//! Running command lines: resolving each stage's name (an ash function, a
//! builtin, or a program) and choosing how to run the line.
//!
//! A single-stage command that names an ash function runs in the calling
//! fiber (a new frame), and a builtin without redirections runs at once
//! (`here.rs`). Everything else (programs, redirections, pipelines) becomes
//! one future that the fiber halts on (`pipeline.rs`): externals of a
//! pipeline share one process group; builtin and function stages run as
//! child fibers joined with it, connected by OS pipes. Redirections are
//! opened off the loop thread (`redirect.rs`).

mod here;
mod pipeline;
mod redirect;

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::rc::Rc;

use crate::ast::RedirOp;
use crate::builtins::commands::{self, BuiltinCmd};
use crate::process;
use crate::vm::chunk::{CmdSpec, StageSpec};
use crate::vm::error::{Error, command_error, command_line};
use crate::vm::fiber::{Fiber, Halt, Resume};
use crate::vm::objects::Closure;
use crate::vm::value::{Value, flatten_words};

pub use here::write_error;
use here::{call_function, run_builtin_here};
use pipeline::run_pipeline;

/// One stage with its values taken off the stack.
struct Stage {
    callee: Option<Value>,
    env: Vec<(String, Vec<u8>)>,
    args: Vec<Value>,
    redirects: Vec<(RedirOp, Option<Vec<u8>>)>,
    global: Option<u32>,
    /// `command NAME` / `builtin NAME`: what NAME may resolve to.
    only: Only,
}

/// What a stage's name may resolve to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    /// A function, a command of the shell, a builtin, then a program.
    Any,
    /// `command NAME`: a program (past a function of the same name).
    Program,
    /// `builtin NAME`: a builtin or a command of the shell.
    Builtin,
}

impl Stage {
    /// What the stage shows of itself in `e.command` and `e.argv`.
    fn shown(&self) -> Shown {
        Shown {
            callee: self.callee.clone(),
            env: self.env.clone(),
            args: self.args.clone(),
        }
    }

    /// The `CommandError` of this stage alone exiting with `status`.
    fn failed(&self, status: i32) -> Error {
        let shown = Shown {
            callee: None,
            env: self.env.clone(),
            args: self.args.clone(),
        };
        failed(std::slice::from_ref(&shown), 0, status)
    }
}

/// A stage as `e.command` shows it: its words, or, for a compound stage
/// (a closure without words), its source text.
struct Shown {
    callee: Option<Value>,
    env: Vec<(String, Vec<u8>)>,
    args: Vec<Value>,
}

impl Shown {
    fn argv(&self) -> Vec<Vec<u8>> {
        self.args.iter().map(Value::word_bytes).collect()
    }

    fn line(&self) -> String {
        match &self.callee {
            Some(Value::Func(f)) if self.args.is_empty() => {
                crate::diag::source_text(f.proto.source, f.proto.span)
            }
            _ => command_line(&self.env, &self.argv()),
        }
    }
}

/// The `CommandError` of a command line whose stage `failing` decided the
/// status: `e.command` is the whole line as it ran (stages joined by
/// ` | `), `e.argv` that stage's words.
fn failed(stages: &[Shown], failing: usize, status: i32) -> Error {
    let line = stages
        .iter()
        .map(Shown::line)
        .collect::<Vec<_>>()
        .join(" | ");
    let argv = stages.get(failing).map(Shown::argv).unwrap_or_default();
    command_error(&line, argv, status)
}

enum Target {
    Func(Rc<Closure>),
    /// A command of the interactive shell (see `Hooks::has_command`).
    Shell,
    Builtin(&'static BuiltinCmd),
    External(PathBuf),
    NotFound,
}

fn split_stages(spec: &CmdSpec, values: Vec<Value>) -> Result<Vec<Stage>, Error> {
    // The compiler pushed exactly what the spec says (see `Op::Exec`); a
    // missing value would silently become `null` in a release build.
    debug_assert_eq!(
        values.len(),
        spec.stages.iter().map(StageSpec::n_values).sum::<usize>(),
        "values on the stack for `{}`",
        spec.text
    );
    let mut it = values.into_iter();
    spec.stages
        .iter()
        .map(|st: &StageSpec| {
            let callee = if st.callee_on_stack { it.next() } else { None };
            let env = st
                .env
                .iter()
                .map(|n| Ok((n.clone(), it.next().unwrap_or_default().to_bytes()?)))
                .collect::<Result<_, Error>>()?;
            let words: Vec<Value> = (0..st.words)
                .map(|_| it.next().unwrap_or_default())
                .collect();
            let redirects = st
                .redirects
                .iter()
                .map(|&op| match op {
                    RedirOp::Dup { .. } => Ok((op, None)),
                    _ => Ok((op, Some(it.next().unwrap_or_default().to_bytes()?))),
                })
                .collect::<Result<_, Error>>()?;
            Ok(Stage {
                callee,
                env,
                args: flatten_words(words),
                redirects,
                global: st.global,
                only: Only::Any,
            })
        })
        .collect()
}

/// `command NAME ARGS` and `builtin NAME ARGS` (unless a function of that
/// name takes precedence): the stage runs NAME, resolved past functions.
/// With an option first (`command -v ls`) they are builtins of their own.
fn strip_command_prefix(fiber: &Fiber, stage: &mut Stage) {
    if stage.callee.is_some() || stage.args.len() < 2 {
        return;
    }
    let only = match &stage.args[0] {
        Value::Str(s) if &s[..] == b"command" => Only::Program,
        Value::Str(s) if &s[..] == b"builtin" => Only::Builtin,
        _ => return,
    };
    if let Some(g) = stage.global
        && let Some(Value::Func(_)) = fiber.rt.globals.borrow().value(g)
    {
        return;
    }
    let Ok(second) = stage.args[1].to_bytes() else {
        return;
    };
    let skip = match second.as_slice() {
        b"--" if stage.args.len() > 2 => 2,
        [b'-', ..] => return,
        _ => 1,
    };
    stage.args.drain(..skip);
    stage.global = None;
    stage.only = only;
}

fn resolve(fiber: &Fiber, stage: &Stage) -> Result<Target, Error> {
    if let Some(Value::Func(f)) = &stage.callee {
        return Ok(Target::Func(f.clone()));
    }
    if let Some(g) = stage.global
        && stage.only == Only::Any
        && let Some(Value::Func(f)) = fiber.rt.globals.borrow().value(g)
    {
        return Ok(Target::Func(f.clone()));
    }
    let Some(name) = stage.args.first() else {
        return Ok(Target::NotFound);
    };
    if stage.only != Only::Program {
        let hooks = fiber.rt.hooks.borrow().clone();
        if let Some(h) = hooks
            && h.has_command(&stage.args)
        {
            return Ok(Target::Shell);
        }
    }
    let name = name.to_bytes()?;
    if stage.only != Only::Program
        && let Some(b) = std::str::from_utf8(&name).ok().and_then(commands::lookup)
    {
        return Ok(Target::Builtin(b));
    }
    // A list or map argument that has no text (it contains itself) fails
    // here, before anything is started.
    for arg in &stage.args[1..] {
        if matches!(arg, Value::List(_) | Value::Map(_)) {
            arg.to_bytes()?;
        }
    }
    if stage.only == Only::Builtin {
        return Ok(Target::NotFound);
    }
    let path = fiber.ctx.getenv(b"PATH");
    let cwd = fiber.ctx.cwd();
    let name = std::path::Path::new(std::ffi::OsStr::from_bytes(&name));
    Ok(
        match process::find_program_in(name.as_os_str(), path.as_deref(), &cwd) {
            Some(p) => Target::External(p),
            // A path that exists but cannot run: let the spawn say why (126).
            None if name.as_os_str().as_bytes().contains(&b'/') && cwd.resolve(name).exists() => {
                Target::External(name.to_path_buf())
            }
            None => Target::NotFound,
        },
    )
}

/// A value's text for a message (its repr if it has none).
fn text_for_message(v: &Value) -> String {
    v.to_text().unwrap_or_else(|_| v.repr())
}

fn not_found_message(stage: &Stage) -> String {
    let args = &stage.args;
    let name = args.first().map(text_for_message).unwrap_or_default();
    if stage.only == Only::Builtin {
        return format!("builtin: {name}: not a builtin");
    }
    if name == "read" {
        // `read NAME` is compiled specially (alone, with redirections, or as
        // the last stage); anywhere else it is looked up as a program.
        return "command not found: read (`read NAME` reads as the last stage of a pipeline \
                or with `< file`, not a pipeline stage in the middle; it needs a variable name)"
            .to_string();
    }
    // Written to stderr as it is (not through `diag::render`): a `\r` or
    // a bidi override in the name is shown escaped here.
    let name = crate::diag::escape_controls(&name, false);
    match crate::check::hints::command_not_found(&name) {
        Some(hint) => format!("command not found: {name} ({hint})"),
        None => format!("command not found: {name}"),
    }
}

/// Run `spec` with its values. `Ok(None)`: continue running the fiber (a
/// frame was pushed or the command already finished).
pub fn exec(fiber: &mut Fiber, spec: &CmdSpec, values: Vec<Value>) -> Result<Option<Halt>, Error> {
    let mut stages = split_stages(spec, values)?;
    for s in &mut stages {
        strip_command_prefix(fiber, s);
    }
    for s in &stages {
        if s.callee.is_none()
            && let Some(Value::Str(name)) = s.args.first()
            && name.contains(&0)
        {
            return Err(Error::value(format!(
                "the command name '{}' contains a NUL byte",
                String::from_utf8_lossy(name).replace('\0', "\\0")
            )));
        }
    }
    if stages.len() == 1
        && !spec.negated
        && let Some(stage) = stages.pop()
    {
        match resolve(fiber, &stage)? {
            Target::Func(f) => return call_function(fiber, f, stage, spec),
            Target::Builtin(b) if stage.redirects.is_empty() => {
                return run_builtin_here(fiber, b, &stage, spec.check);
            }
            // A shell command alone runs in the task itself (like `cd`,
            // `prevd` changes its directory).
            Target::Shell if stage.redirects.is_empty() => {
                return Ok(Some(shell_command_here(fiber, stage, spec.check)));
            }
            Target::NotFound if spec.check => {
                fiber.ctx.status.set(127);
                let e = stage.failed(127);
                return Err(Error::command(
                    e.command.clone().unwrap_or_default(),
                    127,
                    not_found_message(&stage),
                )
                .with_argv(e.argv.clone()));
            }
            _ => stages.push(stage),
        }
    }
    let prepared = stages
        .into_iter()
        .map(|s| {
            let target = resolve(fiber, &s)?;
            Ok((s, target))
        })
        .collect::<Result<_, Error>>()?;
    let site = if crate::observe::on() {
        fiber.location()
    } else {
        None
    };
    let fut = run_pipeline(
        fiber.rt.clone(),
        fiber.ctx.clone(),
        prepared,
        spec.negated,
        spec.check,
        site,
    );
    Ok(Some(Halt::Await(fut)))
}

/// A command of the interactive shell, run in the calling task.
fn shell_command_here(fiber: &Fiber, stage: Stage, check: bool) -> Halt {
    let hooks = fiber.rt.hooks.borrow().clone();
    let run = hooks.map(|h| h.run_command(fiber.ctx.clone(), stage.args.clone()));
    Halt::Await(Box::pin(async move {
        let status = match run {
            Some(run) => run.await.map_err(Rc::new)?,
            None => 127,
        };
        let error = (check && status != 0).then(|| stage.failed(status));
        Ok(Resume::Status { status, error })
    }))
}
