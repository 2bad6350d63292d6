//! `cd [DIR]`: the task's working directory, changed logically (as sh's
//! `cd` without `-P`).

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use super::{BuiltinCtx, Output, io_message};
use crate::process::WorkDir;
use crate::vm::error::Error;
use crate::vm::value::Value;

/// `cd [DIR]`: changes this task's working directory only.
pub(super) fn builtin_cd(ctx: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    // `cd -`: back to $OLDPWD, and say where (as sh does).
    let back = matches!(args.get(1), Some(Value::Str(a)) if &a[..] == b"-");
    let target = if back {
        match ctx.getenv(b"OLDPWD") {
            Some(d) if !d.is_empty() => d.as_bytes().to_vec(),
            _ => return Ok(Output::fail("cd", "OLDPWD is not set", 1)),
        }
    } else {
        match args.get(1) {
            Some(v) => v.to_bytes()?,
            None => match ctx.getenv(b"HOME") {
                Some(h) => h.as_bytes().to_vec(),
                None => return Ok(Output::fail("cd", "HOME is not set", 1)),
            },
        }
    };
    let old = ctx.cwd();
    let rel = Path::new(std::ffi::OsStr::from_bytes(&target));
    let clean = normalize(&old.shown(rel));
    // The new directory is looked up through the old one itself (see
    // `process::WorkDir`), unless the way there goes up with `..`: that
    // is logical, as in sh (`..` of a symlinked directory is where the
    // link is), so it goes by the path.
    let found = if rel.components().any(|c| c == Component::ParentDir) {
        clean.clone()
    } else {
        old.resolve(rel)
    };
    match std::fs::metadata(&found) {
        Ok(m) if m.is_dir() => {
            ctx.env_mut(|env| {
                env.set(b"OLDPWD", old.path().as_os_str().as_bytes());
                env.set(b"PWD", clean.as_os_str().as_bytes());
            });
            let said = if back {
                let mut line = clean.as_os_str().as_bytes().to_vec();
                line.push(b'\n');
                line
            } else {
                Vec::new()
            };
            ctx.set_cwd(Rc::new(WorkDir::open(clean, &found)));
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
