//! Command-mode builtins: `echo`, `cd`, `test`, ...
//!
//! One signature for all (as in fish): a [`BuiltinCtx`] and the arguments
//! (command name first). A builtin returns its status and the bytes it
//! wants on stdout and stderr; the runtime writes them without blocking the
//! loop. Every builtin is in [`BUILTINS`], sorted by name (a test checks
//! the order, and that docs/builtins.md lists each one). A large builtin
//! has a file of its own (`cd.rs`, `printf.rs`, `test.rs`); the small ones
//! are here. `read` is compiled specially (it assigns a variable); `sleep`,
//! `cancel` and friends are keywords, not builtins.

mod cd;
pub mod help;
mod printf;
mod test;

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;

use crate::runtime::task::TaskRef;
use crate::runtime::{Runtime, TaskCtx};
use crate::vm::error::Error;
use crate::vm::value::Value;

/// What a builtin may use: its task's context (working directory,
/// environment, `$status`) and, for the few that need more of the shell,
/// a narrow set of calls on the runtime.
pub struct BuiltinCtx<'a> {
    task: &'a TaskCtx,
    rt: &'a Runtime,
}

impl<'a> BuiltinCtx<'a> {
    pub fn new(rt: &'a Runtime, task: &'a TaskCtx) -> BuiltinCtx<'a> {
        BuiltinCtx { task, rt }
    }

    /// `unset`: the global `name` is undefined again.
    fn unset_global(&self, name: &str) {
        self.rt.globals.borrow_mut().unset(name);
    }

    /// `type`: whether the global `name` is a function.
    fn is_function(&self, name: &str) -> bool {
        matches!(self.rt.globals.borrow().get(name), Some(Value::Func(_)))
    }

    /// `jobs`: the live tasks, oldest first.
    fn live_tasks(&self) -> Vec<TaskRef> {
        self.rt.tasks.borrow().live()
    }
}

/// The calling task's context (`ctx.cwd()`, `ctx.getenv(..)`, ...).
impl std::ops::Deref for BuiltinCtx<'_> {
    type Target = TaskCtx;

    fn deref(&self) -> &TaskCtx {
        self.task
    }
}

/// What a builtin produced.
#[derive(Default)]
pub struct Output {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `exit N`: end the script.
    pub exit: Option<i32>,
}

impl Output {
    fn status(status: i32) -> Output {
        Output {
            status,
            ..Output::default()
        }
    }

    fn out(bytes: Vec<u8>) -> Output {
        Output {
            stdout: bytes,
            ..Output::default()
        }
    }

    /// `ash: NAME: message` on stderr with a status.
    fn fail(name: &str, message: impl std::fmt::Display, status: i32) -> Output {
        Output {
            status,
            stderr: format!("ash: {name}: {message}\n").into_bytes(),
            ..Output::default()
        }
    }
}

pub type BuiltinFn = fn(&BuiltinCtx, &[Value]) -> Result<Output, Error>;

pub struct BuiltinCmd {
    pub name: &'static str,
    pub run: BuiltinFn,
}

/// Every builtin, sorted by name (a test checks the order).
pub static BUILTINS: &[BuiltinCmd] = &[
    BuiltinCmd {
        name: ":",
        run: builtin_true,
    },
    BuiltinCmd {
        name: "[",
        run: test::builtin_test,
    },
    BuiltinCmd {
        name: "builtin",
        run: builtin_builtin,
    },
    BuiltinCmd {
        name: "cd",
        run: cd::builtin_cd,
    },
    BuiltinCmd {
        name: "command",
        run: builtin_command,
    },
    BuiltinCmd {
        name: "echo",
        run: builtin_echo,
    },
    BuiltinCmd {
        name: "exit",
        run: builtin_exit,
    },
    BuiltinCmd {
        name: "false",
        run: builtin_false,
    },
    BuiltinCmd {
        name: "help",
        run: help::builtin_help,
    },
    BuiltinCmd {
        name: "jobs",
        run: builtin_jobs,
    },
    BuiltinCmd {
        name: "printf",
        run: printf::builtin_printf,
    },
    BuiltinCmd {
        name: "pwd",
        run: builtin_pwd,
    },
    BuiltinCmd {
        name: "test",
        run: test::builtin_test,
    },
    BuiltinCmd {
        name: "true",
        run: builtin_true,
    },
    BuiltinCmd {
        name: "type",
        run: builtin_type,
    },
    BuiltinCmd {
        name: "unset",
        run: builtin_unset,
    },
];

pub fn lookup(name: &str) -> Option<&'static BuiltinCmd> {
    BUILTINS
        .binary_search_by(|b| b.name.cmp(name))
        .ok()
        .map(|i| &BUILTINS[i])
}

fn bytes_of(args: &[Value]) -> Result<Vec<Vec<u8>>, Error> {
    args.iter().map(Value::to_bytes).collect()
}

fn builtin_true(_: &BuiltinCtx, _: &[Value]) -> Result<Output, Error> {
    Ok(Output::status(0))
}

fn builtin_false(_: &BuiltinCtx, _: &[Value]) -> Result<Output, Error> {
    Ok(Output::status(1))
}

/// `echo [-n] ARGS...`: arguments joined by one space, then a newline.
fn builtin_echo(_: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    let args = bytes_of(&args[1.min(args.len())..])?;
    let (newline, args) = match args.first() {
        Some(a) if a == b"-n" => (false, &args[1..]),
        _ => (true, &args[..]),
    };
    let mut out = Vec::with_capacity(args.iter().map(|a| a.len() + 1).sum::<usize>() + 1);
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a);
    }
    if newline {
        out.push(b'\n');
    }
    Ok(Output::out(out))
}

pub fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    // "No such file or directory (os error 2)" -> without the code.
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn builtin_pwd(ctx: &BuiltinCtx, _: &[Value]) -> Result<Output, Error> {
    let mut out = ctx.cwd().path().as_os_str().as_bytes().to_vec();
    out.push(b'\n');
    Ok(Output::out(out))
}

/// `exit [N]`: end the script with N (default: `$status`).
fn builtin_exit(ctx: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    if args.len() > 2 {
        // As bash and zsh: a usage error, and the script does not end.
        return Ok(Output::fail("exit", "too many arguments", 2));
    }
    let code = match args.get(1) {
        None => ctx.status.get(),
        Some(Value::Int(i)) => (*i & 0xff) as i32,
        Some(v) => {
            let text = v.to_text()?;
            match text.trim().parse::<i64>() {
                Ok(i) => (i & 0xff) as i32,
                Err(_) => {
                    return Ok(Output::fail(
                        "exit",
                        format!("{text}: numeric argument required"),
                        2,
                    ));
                }
            }
        }
    };
    Ok(Output {
        exit: Some(code),
        ..Output::default()
    })
}

/// `unset NAME...`: remove environment variables of this task (and a
/// global shell variable of that name).
fn builtin_unset(ctx: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    for name in bytes_of(&args[1.min(args.len())..])? {
        ctx.env_mut(|env| env.remove(&name));
        ctx.unset_global(&String::from_utf8_lossy(&name));
    }
    Ok(Output::status(0))
}

/// `jobs`: live tasks with id, state, elapsed time and what they run.
fn builtin_jobs(ctx: &BuiltinCtx, _: &[Value]) -> Result<Output, Error> {
    let mut out = String::new();
    for t in ctx.live_tasks() {
        let _ = writeln!(
            out,
            "[{}] {:<10} {:>7.1}s  {}",
            t.id,
            t.state_name(),
            t.elapsed().as_secs_f64(),
            t.doing()
        );
    }
    Ok(Output::out(out.into_bytes()))
}

/// `command -v|-s|-q NAME...`: where each NAME's program is (`-q`: only
/// the status). `command NAME ARGS` itself (run NAME as a program, past a
/// function of that name) is resolved by the runtime, which comes here
/// only for the options.
fn builtin_command(ctx: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    let words = args
        .iter()
        .skip(1)
        .map(Value::to_text)
        .collect::<Result<Vec<String>, Error>>()?;
    let (quiet, names) = match words.first().map(String::as_str) {
        None => return Ok(Output::status(0)),
        Some("-v" | "-s" | "--search") => (false, &words[1..]),
        Some("-q" | "--query") => (true, &words[1..]),
        Some(other) => {
            return Ok(Output::fail(
                "command",
                format!(
                    "unknown option {other} (command NAME ARGS runs the program NAME; -v, -s or -q NAME says where it is)"
                ),
                2,
            ));
        }
    };
    let mut out = String::new();
    let mut status = if names.is_empty() { 1 } else { 0 };
    for name in names {
        match crate::process::find_program_in(
            std::ffi::OsStr::new(name),
            ctx.getenv(b"PATH").as_deref(),
            &ctx.cwd(),
        ) {
            Some(p) if !quiet => {
                let _ = writeln!(out, "{}", p.display());
            }
            Some(_) => {}
            None => status = 1,
        }
    }
    Ok(Output {
        status,
        stdout: out.into_bytes(),
        ..Output::default()
    })
}

/// `builtin -n` lists the builtins, `builtin -q NAME...` says whether they
/// are all builtins. `builtin NAME ARGS` itself (run the builtin NAME,
/// past a function of that name) is resolved by the runtime.
fn builtin_builtin(_: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    let words = args
        .iter()
        .skip(1)
        .map(Value::to_text)
        .collect::<Result<Vec<String>, Error>>()?;
    match words.first().map(String::as_str) {
        None => Ok(Output::status(0)),
        Some("-n" | "--names") => {
            let mut out = String::new();
            for b in BUILTINS {
                let _ = writeln!(out, "{}", b.name);
            }
            Ok(Output::out(out.into_bytes()))
        }
        Some("-q" | "--query") => {
            let all = words.len() > 1 && words[1..].iter().all(|w| lookup(w).is_some());
            Ok(Output::status(if all { 0 } else { 1 }))
        }
        Some(other) => Ok(Output::fail(
            "builtin",
            format!(
                "unknown option {other} (builtin NAME ARGS runs the builtin NAME; -n lists them; -q NAME asks)"
            ),
            2,
        )),
    }
}

/// `type NAME...`: how each name resolves.
fn builtin_type(ctx: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    let mut out = String::new();
    let mut status = 0;
    for name in args.iter().skip(1).map(Value::to_text) {
        let name = name?;
        if crate::runtime::shell::is_keyword(&name) {
            let _ = writeln!(out, "{name} is a keyword (see `help {name}`)");
        } else if ctx.is_function(&name) {
            let _ = writeln!(out, "{name} is a function");
        } else if lookup(&name).is_some() {
            let _ = writeln!(out, "{name} is a builtin");
        } else if let Some(p) = crate::process::find_program_in(
            std::ffi::OsStr::new(&name),
            ctx.getenv(b"PATH").as_deref(),
            &ctx.cwd(),
        ) {
            let _ = writeln!(out, "{name} is {}", ctx.cwd().shown(&p).display());
        } else {
            let _ = writeln!(out, "ash: type: {name}: not found");
            status = 1;
        }
    }
    Ok(Output {
        status,
        stdout: out.into_bytes(),
        ..Output::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part of docs/builtins.md from `## {title}` to the next `## `.
    fn docs_section(title: &str) -> &'static str {
        let docs = include_str!("../../../docs/builtins.md");
        let start = docs
            .find(&format!("\n## {title}\n"))
            .unwrap_or_else(|| panic!("docs/builtins.md has no section {title}"));
        let rest = &docs[start + 1..];
        let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
        &rest[..end]
    }

    #[test]
    fn every_builtin_is_documented() {
        let commands = docs_section("Commands");
        for b in BUILTINS {
            let documented = [" ", "`", "]"]
                .iter()
                .any(|after| commands.contains(&format!("`{}{after}", b.name)));
            assert!(documented, "docs/builtins.md, Commands: no `{}`", b.name);
        }
        let functions = docs_section("Functions");
        let natives = crate::builtins::functions::FUNCTIONS.iter().map(|f| f.name);
        let suspending = crate::runtime::sync::SUSPENDING.iter().map(|f| f.name);
        let prelude = crate::stdlib::PRELUDE_NAMES.iter().copied();
        for name in natives.chain(suspending).chain(prelude) {
            assert!(
                functions.contains(&format!("`{name}(")),
                "docs/builtins.md, Functions: no `{name}(`"
            );
        }
    }

    #[test]
    fn builtins_are_sorted_and_unique() {
        for pair in BUILTINS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
    }
}
