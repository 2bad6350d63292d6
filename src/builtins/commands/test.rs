//! `test EXPR` and `[ EXPR ]`: the POSIX file, string and integer tests.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::{BuiltinCtx, Output, bytes_of};
use crate::vm::error::Error;
use crate::vm::value::Value;

/// `test EXPR` / `[ EXPR ]`: the POSIX file, string and integer tests.
pub(super) fn builtin_test(ctx: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    let mut a = bytes_of(args)?;
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

fn eval_test(a: &[Vec<u8>], cwd: &crate::process::WorkDir) -> Result<bool, String> {
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
            let path = cwd.resolve(std::path::Path::new(std::ffi::OsStr::from_bytes(x)));
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
    fn test_expressions() {
        let cwd = crate::process::WorkDir::by_path("/".into());
        let t = |a: &[&str]| {
            eval_test(
                &a.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>(),
                &cwd,
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
