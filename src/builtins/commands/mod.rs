//! Command-mode builtins: `echo`, `cd`, `test`, ...
//!
//! One signature for all (as in fish): the runtime, the calling task, and
//! the arguments (command name first). A builtin returns its status and the
//! bytes it wants on stdout and stderr; the runtime writes them without
//! blocking the loop. `read` is compiled specially (it assigns a variable);
//! `sleep`, `cancel` and friends are keywords, not builtins.

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::rc::Rc;

use crate::runtime::{Runtime, TaskCtx};
use crate::vm::error::Error;
use crate::vm::value::Value;

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

pub type BuiltinFn = fn(&Rc<Runtime>, &Rc<TaskCtx>, &[Value]) -> Result<Output, Error>;

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
        run: builtin_test,
    },
    BuiltinCmd {
        name: "cd",
        run: builtin_cd,
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
        name: "jobs",
        run: builtin_jobs,
    },
    BuiltinCmd {
        name: "printf",
        run: builtin_printf,
    },
    BuiltinCmd {
        name: "pwd",
        run: builtin_pwd,
    },
    BuiltinCmd {
        name: "test",
        run: builtin_test,
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

fn bytes_of(args: &[Value]) -> Vec<Vec<u8>> {
    args.iter().map(Value::to_bytes).collect()
}

fn builtin_true(_: &Rc<Runtime>, _: &Rc<TaskCtx>, _: &[Value]) -> Result<Output, Error> {
    Ok(Output::status(0))
}

fn builtin_false(_: &Rc<Runtime>, _: &Rc<TaskCtx>, _: &[Value]) -> Result<Output, Error> {
    Ok(Output::status(1))
}

/// `echo [-n] ARGS...`: arguments joined by one space, then a newline.
fn builtin_echo(_: &Rc<Runtime>, _: &Rc<TaskCtx>, args: &[Value]) -> Result<Output, Error> {
    let args = bytes_of(&args[1.min(args.len())..]);
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

/// `printf FORMAT ARGS...`: `%s %d %i %f %x %o %c %b %%` and the escapes
/// `\n \t \\ \r \0`; the format is reused while arguments remain, as in sh.
fn builtin_printf(_: &Rc<Runtime>, _: &Rc<TaskCtx>, args: &[Value]) -> Result<Output, Error> {
    let args = bytes_of(args);
    let Some(format) = args.get(1) else {
        return Ok(Output::fail(
            "printf",
            "usage: printf FORMAT [ARGUMENTS...]",
            2,
        ));
    };
    let mut rest = args[2..].iter();
    let mut out = Vec::new();
    let mut status = 0;
    let mut err = Vec::new();
    loop {
        let mut consumed = false;
        let mut i = 0;
        while i < format.len() {
            let c = format[i];
            if c == b'\\' && i + 1 < format.len() {
                i += 1;
                out.extend_from_slice(match format[i] {
                    b'n' => b"\n",
                    b't' => b"\t",
                    b'r' => b"\r",
                    b'\\' => b"\\",
                    b'0'..=b'7' => {
                        // \NNN octal (up to 3 digits), as in sh's printf.
                        let mut v: u32 = 0;
                        let mut k = 0;
                        while k < 3 && i < format.len() && (b'0'..=b'7').contains(&format[i]) {
                            v = v * 8 + u32::from(format[i] - b'0');
                            i += 1;
                            k += 1;
                        }
                        out.push(v as u8);
                        continue;
                    }
                    b'x' if format.get(i + 1).is_some_and(u8::is_ascii_hexdigit) => {
                        // \xHH
                        let mut v: u32 = 0;
                        i += 1;
                        let mut k = 0;
                        while k < 2 && i < format.len() && format[i].is_ascii_hexdigit() {
                            v = v * 16 + (format[i] as char).to_digit(16).unwrap_or(0);
                            i += 1;
                            k += 1;
                        }
                        out.push(v as u8);
                        continue;
                    }
                    b'e' => b"\x1b",
                    b'a' => b"\x07",
                    other => {
                        out.push(b'\\');
                        out.push(other);
                        i += 1;
                        continue;
                    }
                });
                i += 1;
                continue;
            }
            if c != b'%' || i + 1 >= format.len() {
                out.push(c);
                i += 1;
                continue;
            }
            // %[flags][width][.precision]conv
            let start = i;
            i += 1;
            while i < format.len() && b"-+ 0#".contains(&format[i]) {
                i += 1;
            }
            while i < format.len() && (format[i].is_ascii_digit() || format[i] == b'.') {
                i += 1;
            }
            let Some(&conv) = format.get(i) else { break };
            i += 1;
            let spec = String::from_utf8_lossy(&format[start + 1..i - 1]).into_owned();
            if conv == b'%' {
                out.push(b'%');
                continue;
            }
            consumed = true;
            let arg = rest.next().cloned().unwrap_or_default();
            let text = String::from_utf8_lossy(&arg).into_owned();
            let formatted: Vec<u8> = match conv {
                b's' | b'b' => pad(&spec, arg),
                b'c' => arg.first().map(|b| vec![*b]).unwrap_or_default(),
                b'd' | b'i' | b'x' | b'X' | b'o' => {
                    let n = if text.trim().is_empty() {
                        0
                    } else {
                        match text.trim().parse::<i64>() {
                            Ok(n) => n,
                            Err(_) => {
                                status = 1;
                                let _ =
                                    writeln!(String::new(), "ash: printf: {text}: invalid number");
                                err.extend_from_slice(
                                    format!("ash: printf: {text}: invalid number\n").as_bytes(),
                                );
                                0
                            }
                        }
                    };
                    let s = match conv {
                        b'x' => format!("{n:x}"),
                        b'X' => format!("{n:X}"),
                        b'o' => format!("{n:o}"),
                        _ => n.to_string(),
                    };
                    pad(&spec, s.into_bytes())
                }
                b'f' | b'e' | b'g' => {
                    let x: f64 = text.trim().parse().unwrap_or(0.0);
                    let prec = spec
                        .split('.')
                        .nth(1)
                        .and_then(|p| p.parse::<usize>().ok())
                        .unwrap_or(6);
                    let spec_width = spec.split('.').next().unwrap_or("").to_string();
                    let s = match conv {
                        b'e' => format!("{x:.prec$e}"),
                        _ => format!("{x:.prec$}"),
                    };
                    pad(&spec_width, s.into_bytes())
                }
                other => {
                    let mut v = b"%".to_vec();
                    v.extend_from_slice(spec.as_bytes());
                    v.push(other);
                    v
                }
            };
            out.extend_from_slice(&formatted);
        }
        if !consumed || rest.len() == 0 {
            break;
        }
    }
    Ok(Output {
        status,
        stdout: out,
        stderr: err,
        exit: None,
    })
}

/// Width and `-` (left-align) from a printf spec such as `-10` or `5`.
fn pad(spec: &str, s: Vec<u8>) -> Vec<u8> {
    let left = spec.starts_with('-');
    let width: usize = spec
        .trim_start_matches(['-', '+', ' ', '0', '#'])
        .split('.')
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    let len = String::from_utf8_lossy(&s).chars().count();
    if len >= width {
        return s;
    }
    let fill = vec![b' '; width - len];
    if left {
        [s, fill].concat()
    } else {
        [fill, s].concat()
    }
}

/// `cd [DIR]`: changes this task's working directory only.
fn builtin_cd(_: &Rc<Runtime>, ctx: &Rc<TaskCtx>, args: &[Value]) -> Result<Output, Error> {
    // `cd -`: back to $OLDPWD, and say where (as sh does).
    let back = args.get(1).is_some_and(|a| a.to_bytes() == b"-");
    let target = if back {
        match ctx.getenv(b"OLDPWD") {
            Some(d) if !d.is_empty() => d.as_bytes().to_vec(),
            _ => return Ok(Output::fail("cd", "OLDPWD is not set", 1)),
        }
    } else {
        match args.get(1) {
            Some(v) => v.to_bytes(),
            None => match ctx.getenv(b"HOME") {
                Some(h) => h.as_bytes().to_vec(),
                None => return Ok(Output::fail("cd", "HOME is not set", 1)),
            },
        }
    };
    let path = ctx.cwd().join(std::ffi::OsStr::from_bytes(&target));
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => {
            let clean = normalize(&path);
            let old = ctx.cwd();
            ctx.env_mut(|env| {
                env.set(b"OLDPWD", old.as_os_str().as_bytes());
                env.set(b"PWD", clean.as_os_str().as_bytes());
            });
            let said = if back {
                let mut line = clean.as_os_str().as_bytes().to_vec();
                line.push(b'\n');
                line
            } else {
                Vec::new()
            };
            ctx.set_cwd(Rc::new(clean));
            Ok(Output::out(said))
        }
        Ok(_) => Ok(Output::fail(
            "cd",
            format!("{}: not a directory", String::from_utf8_lossy(&target)),
            1,
        )),
        Err(e) => Ok(Output::fail(
            "cd",
            format!("{}: {}", String::from_utf8_lossy(&target), io_message(&e)),
            1,
        )),
    }
}

/// A path without `.` and `..` components (logical, as `cd` in sh).
fn normalize(path: &std::path::Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

pub fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    // "No such file or directory (os error 2)" -> without the code.
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn builtin_pwd(_: &Rc<Runtime>, ctx: &Rc<TaskCtx>, _: &[Value]) -> Result<Output, Error> {
    let mut out = ctx.cwd().as_os_str().as_bytes().to_vec();
    out.push(b'\n');
    Ok(Output::out(out))
}

/// `exit [N]`: end the script with N (default: `$status`).
fn builtin_exit(_: &Rc<Runtime>, ctx: &Rc<TaskCtx>, args: &[Value]) -> Result<Output, Error> {
    let code = match args.get(1) {
        None => ctx.status.get(),
        Some(Value::Int(i)) => (*i & 0xff) as i32,
        Some(v) => match v.to_text().trim().parse::<i64>() {
            Ok(i) => (i & 0xff) as i32,
            Err(_) => {
                return Ok(Output::fail(
                    "exit",
                    format!("{}: numeric argument required", v.to_text()),
                    2,
                ));
            }
        },
    };
    Ok(Output {
        exit: Some(code),
        ..Output::default()
    })
}

/// `unset NAME...`: remove environment variables of this task (and a
/// global shell variable of that name).
fn builtin_unset(rt: &Rc<Runtime>, ctx: &Rc<TaskCtx>, args: &[Value]) -> Result<Output, Error> {
    for name in bytes_of(&args[1.min(args.len())..]) {
        ctx.env_mut(|env| env.remove(&name));
        rt.globals
            .borrow_mut()
            .unset(&String::from_utf8_lossy(&name));
    }
    Ok(Output::status(0))
}

/// `jobs`: live tasks with id, state, elapsed time and what they run.
fn builtin_jobs(rt: &Rc<Runtime>, _: &Rc<TaskCtx>, _: &[Value]) -> Result<Output, Error> {
    let mut out = String::new();
    let live = rt.tasks.borrow().live();
    for t in live {
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

/// `type NAME...`: how each name resolves.
fn builtin_type(rt: &Rc<Runtime>, ctx: &Rc<TaskCtx>, args: &[Value]) -> Result<Output, Error> {
    let mut out = String::new();
    let mut status = 0;
    for name in args.iter().skip(1).map(Value::to_text) {
        if matches!(rt.get_global(&name), Some(Value::Func(_))) {
            let _ = writeln!(out, "{name} is a function");
        } else if lookup(&name).is_some() {
            let _ = writeln!(out, "{name} is a builtin");
        } else if let Some(p) = crate::process::find_program(
            std::ffi::OsStr::new(&name),
            ctx.getenv(b"PATH").as_deref(),
            &ctx.cwd(),
        ) {
            let _ = writeln!(out, "{name} is {}", p.display());
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

/// `test EXPR` / `[ EXPR ]`: the POSIX file, string and integer tests.
fn builtin_test(_: &Rc<Runtime>, ctx: &Rc<TaskCtx>, args: &[Value]) -> Result<Output, Error> {
    let mut a = bytes_of(args);
    let name = String::from_utf8_lossy(&a[0]).into_owned();
    if name == "[" {
        if a.last().map(|l| l.as_slice()) != Some(b"]") {
            return Ok(Output::fail("[", "missing `]`", 2));
        }
        a.pop();
    }
    let cwd = ctx.cwd();
    match eval_test(&a[1..], &cwd) {
        Ok(true) => Ok(Output::status(0)),
        Ok(false) => Ok(Output::status(1)),
        Err(msg) => Ok(Output::fail(&name, msg, 2)),
    }
}

fn eval_test(a: &[Vec<u8>], cwd: &std::path::Path) -> Result<bool, String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let int = |b: &[u8]| -> Result<i64, String> {
        text(b)
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{}: integer expected", text(b)))
    };
    match a {
        [] => Ok(false),
        [bang, rest @ ..] if bang == b"!" => Ok(!eval_test(rest, cwd)?),
        [s] => Ok(!s.is_empty()),
        [op, x] => {
            let path = cwd.join(std::ffi::OsStr::from_bytes(x));
            let meta = std::fs::metadata(&path);
            Ok(match op.as_slice() {
                b"-n" => !x.is_empty(),
                b"-z" => x.is_empty(),
                b"-e" => meta.is_ok(),
                b"-f" => meta.is_ok_and(|m| m.is_file()),
                b"-d" => meta.is_ok_and(|m| m.is_dir()),
                b"-s" => meta.is_ok_and(|m| m.len() > 0),
                b"-r" => rustix::fs::access(&path, rustix::fs::Access::READ_OK).is_ok(),
                b"-w" => rustix::fs::access(&path, rustix::fs::Access::WRITE_OK).is_ok(),
                b"-x" => rustix::fs::access(&path, rustix::fs::Access::EXEC_OK).is_ok(),
                b"-L" | b"-h" => {
                    std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
                }
                b"-p" => meta.is_ok_and(|m| (m.mode() & 0o170000) == 0o010000),
                b"-u" => meta.is_ok_and(|m| m.permissions().mode() & 0o4000 != 0),
                b"-t" => match text(x).trim().parse::<i32>() {
                    // Only ash's own 0-2 are known here; a task's
                    // redirections do not change what `-t` sees.
                    Ok(fd @ 0..=2) => {
                        let fd = match fd {
                            0 => rustix::stdio::stdin(),
                            1 => rustix::stdio::stdout(),
                            _ => rustix::stdio::stderr(),
                        };
                        rustix::termios::isatty(fd)
                    }
                    Ok(_) => false,
                    Err(_) => return Err(format!("{}: integer expected", text(x))),
                },
                _ => return Err(format!("{}: unknown operator", text(op))),
            })
        }
        [x, op, y] => Ok(match op.as_slice() {
            b"=" | b"==" => x == y,
            b"!=" => x != y,
            b"<" => x < y,
            b">" => x > y,
            b"-eq" => int(x)? == int(y)?,
            b"-ne" => int(x)? != int(y)?,
            b"-lt" => int(x)? < int(y)?,
            b"-le" => int(x)? <= int(y)?,
            b"-gt" => int(x)? > int(y)?,
            b"-ge" => int(x)? >= int(y)?,
            b"-a" => !x.is_empty() && !y.is_empty(),
            b"-o" => !x.is_empty() || !y.is_empty(),
            _ => return Err(format!("{}: unknown operator", text(op))),
        }),
        _ => {
            // `A -a B`, `A -o B` over longer expressions.
            if let Some(i) = a.iter().position(|w| w == b"-o") {
                return Ok(eval_test(&a[..i], cwd)? || eval_test(&a[i + 1..], cwd)?);
            }
            if let Some(i) = a.iter().position(|w| w == b"-a") {
                return Ok(eval_test(&a[..i], cwd)? && eval_test(&a[i + 1..], cwd)?);
            }
            Err("too many arguments".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn test_expressions() {
        let cwd = std::path::Path::new("/");
        let t = |a: &[&str]| {
            eval_test(
                &a.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>(),
                cwd,
            )
        };
        assert_eq!(t(&["-d", "/"]), Ok(true));
        assert_eq!(t(&["-f", "/"]), Ok(false));
        assert_eq!(t(&["a", "=", "a"]), Ok(true));
        assert_eq!(t(&["3", "-lt", "10"]), Ok(true));
        assert_eq!(t(&["!", "-z", "x"]), Ok(true));
        assert!(t(&["x", "-lt", "1"]).is_err());
    }
}
