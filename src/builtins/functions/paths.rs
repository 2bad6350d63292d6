//! Path functions: `basename dirname ext stem join_path abspath`. Paths are
//! byte strings and are taken apart textually (nothing is looked up on the
//! disk), as Python's `os.path`.

use std::os::unix::ffi::OsStrExt;

use super::{arity, want_str};
use crate::vm::error::Error;
use crate::vm::objects::Host;
use crate::vm::value::Value;

/// The path without trailing slashes (but `/` stays `/`).
fn trimmed(p: &[u8]) -> &[u8] {
    let mut end = p.len();
    while end > 1 && p[end - 1] == b'/' {
        end -= 1;
    }
    &p[..end]
}

fn base(p: &[u8]) -> &[u8] {
    let p = trimmed(p);
    if p == b"/" {
        return p;
    }
    match p.iter().rposition(|&c| c == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// The extension of a base name: from its last `.`, unless that `.` is
/// the first character (`.bashrc` has none) or the last.
fn ext_of(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&c| c == b'.') {
        Some(0) | None => b"",
        Some(i) if i + 1 == name.len() => b"",
        Some(i) => &name[i..],
    }
}

/// `basename("a/b.txt")` is `"b.txt"`; trailing slashes are ignored.
pub(super) fn basename(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("basename", args, 1, 1)?;
    Ok(Value::str(base(want_str(
        "basename", "a string", &args[0],
    )?)))
}

/// `dirname("a/b.txt")` is `"a"`; `"."` when there is no directory.
pub(super) fn dirname(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("dirname", args, 1, 1)?;
    let p = trimmed(want_str("dirname", "a string", &args[0])?);
    Ok(Value::str(match p.iter().rposition(|&c| c == b'/') {
        Some(0) => &b"/"[..],
        Some(i) => trimmed(&p[..i]),
        None => b".",
    }))
}

/// `ext("a/b.tar.gz")` is `".gz"`; `""` when there is none.
pub(super) fn ext(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("ext", args, 1, 1)?;
    Ok(Value::str(ext_of(base(want_str(
        "ext", "a string", &args[0],
    )?))))
}

/// `stem("a/b.tar.gz")` is `"b.tar"`: the base name without its extension.
pub(super) fn stem(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("stem", args, 1, 1)?;
    let b = base(want_str("stem", "a string", &args[0])?);
    Ok(Value::str(&b[..b.len() - ext_of(b).len()]))
}

/// `join_path("a", "b", "c.txt")` is `"a/b/c.txt"`; an absolute part
/// starts over (`join_path("a", "/b")` is `"/b"`), as Python's join.
pub(super) fn join_path(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("join_path", args, 1, usize::MAX)?;
    let mut out: Vec<u8> = Vec::new();
    for a in args {
        let part = want_str("join_path", "strings", a)?;
        if part.first() == Some(&b'/') {
            out.clear();
        } else if !out.is_empty() && out.last() != Some(&b'/') {
            out.push(b'/');
        }
        out.extend_from_slice(part);
    }
    Ok(Value::from(out))
}

/// `abspath(p)`: `p` from the task's directory, with `.` and `..` resolved
/// textually (symlinks are not followed).
pub(super) fn abspath(host: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("abspath", args, 1, 1)?;
    let p = want_str("abspath", "a string", &args[0])?;
    let full = host.cwd().join(std::ffi::OsStr::from_bytes(p));
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in full.as_os_str().as_bytes().split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = Vec::new();
    for c in parts {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Ok(Value::from(out))
}
