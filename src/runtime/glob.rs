//! Glob expansion: `*`, `?`, `[abc]`, `[a-z]`, `[!x]` per path component,
//! sorted results, no match is a `GlobError`. Patterns are bytes; text that
//! came from variables was escaped with `\` by the compiler, so it never
//! globs. Directory walking is file I/O: it runs on smol's blocking pool.

use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::rc::Rc;

use crate::vm::error::{Error, ErrorKind};
use crate::vm::value::Value;

/// Escape glob metacharacters (and `\`) so the text matches literally.
pub fn escape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &b in text {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

fn has_meta(component: &[u8]) -> bool {
    let mut i = 0;
    while i < component.len() {
        match component[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

fn unescape(component: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(component.len());
    let mut i = 0;
    while i < component.len() {
        if component[i] == b'\\' && i + 1 < component.len() {
            i += 1;
        }
        out.push(component[i]);
        i += 1;
    }
    out
}

/// Whether `name` matches the glob component `pat`.
pub fn matches(pat: &[u8], name: &[u8]) -> bool {
    // Iterative matching with single-star backtracking (linear-ish).
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                b'?' => {
                    // One character, not one byte (`?1` matches `é1`).
                    p += 1;
                    n += char_width(&name[n..]);
                    continue;
                }
                b'[' => match class(&pat[p..], name[n]) {
                    Some((true, len)) => {
                        p += len;
                        n += 1;
                        continue;
                    }
                    Some((false, _)) => {}
                    // Not closed: a literal `[` (`*[b` matches `a[b`).
                    None if name[n] == b'[' => {
                        p += 1;
                        n += 1;
                        continue;
                    }
                    None => {}
                },
                b'\\' if p + 1 < pat.len() && pat[p + 1] == name[n] => {
                    p += 2;
                    n += 1;
                    continue;
                }
                c if c == name[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

/// The length of the UTF-8 character starting `s` (1 for a byte that does
/// not start a valid one).
fn char_width(s: &[u8]) -> usize {
    let want = match s.first() {
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        _ => return 1,
    };
    match s.get(..want).map(std::str::from_utf8) {
        Some(Ok(_)) => want,
        _ => 1,
    }
}

/// Match `c` against the class at the start of `pat` (`[...]`): whether it
/// matched and the class's length; `None` if the class is not closed.
fn class(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        let b = pat[i];
        if b == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if b == b'\\' && i + 1 < pat.len() {
            i += 1;
            pat[i]
        } else {
            b
        };
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&h| h != b']') {
            let hi = pat[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
    None
}

fn expand_sync(pattern: &[u8], cwd: &std::path::Path) -> Vec<Vec<u8>> {
    let absolute = pattern.first() == Some(&b'/');
    // Each candidate: (path to read on disk, text to return).
    let mut candidates: Vec<(PathBuf, Vec<u8>)> = vec![if absolute {
        (PathBuf::from("/"), b"/".to_vec())
    } else {
        (cwd.to_path_buf(), Vec::new())
    }];
    let components: Vec<&[u8]> = pattern
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let trailing_slash = pattern.ends_with(b"/");
    for (ci, comp) in components.iter().enumerate() {
        let last = ci + 1 == components.len();
        let mut next = Vec::new();
        for (dir, text) in &candidates {
            let join_text = |name: &[u8]| {
                let mut t = text.clone();
                if !t.is_empty() && !t.ends_with(b"/") {
                    t.push(b'/');
                }
                t.extend_from_slice(name);
                t
            };
            if !has_meta(comp) {
                let name = unescape(comp);
                let path = dir.join(std::ffi::OsStr::from_bytes(&name));
                if std::fs::symlink_metadata(&path).is_ok() {
                    next.push((path, join_text(&name)));
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().into_vec();
                if name.first() == Some(&b'.') && comp.first() != Some(&b'.') {
                    continue;
                }
                if !matches(comp, &name) {
                    continue;
                }
                let path = entry.path();
                if (!last || trailing_slash) && !path.is_dir() {
                    continue;
                }
                next.push((path, join_text(&name)));
            }
        }
        candidates = next;
        if candidates.is_empty() {
            break;
        }
    }
    let mut out: Vec<Vec<u8>> = candidates
        .into_iter()
        .map(|(_, mut t)| {
            if trailing_slash {
                t.push(b'/');
            }
            t
        })
        .collect();
    out.sort();
    out
}

/// Expand a glob pattern relative to the directory `cwd`.
pub async fn expand(pattern: Value, cwd: Rc<crate::process::WorkDir>) -> Result<Value, Error> {
    let pattern = pattern.to_bytes()?;
    // Read through the directory itself (see `process::WorkDir`); the
    // matches are relative, so they do not show how it was reached.
    let dir = cwd.os_path();
    let p = pattern.clone();
    let found = crate::process::unblock(move || expand_sync(&p, &dir)).await;
    if found.is_empty() {
        return Err(Error::new(
            ErrorKind::Glob,
            format!(
                "no match for {}",
                String::from_utf8_lossy(&unescape(&pattern))
            ),
        ));
    }
    Ok(Value::list(found.into_iter().map(Value::from).collect()))
}

/// `glob(pattern)`: the sorted matches relative to the task's directory,
/// as a list, empty when nothing matches (the expression form of a glob
/// word, which raises instead). Matching runs off the loop.
pub fn glob_fn(
    args: &[Value],
    ctx: &Rc<super::TaskCtx>,
) -> Result<crate::vm::fiber::Pending, Error> {
    let [pattern] = args else {
        return Err(Error::type_err(format!(
            "glob() takes 1 argument ({} given)",
            args.len()
        )));
    };
    let Value::Str(pattern) = pattern else {
        return Err(Error::type_err(format!(
            "glob() expects a string, got {}",
            pattern.type_name()
        )));
    };
    let pattern = pattern.to_vec();
    // Read through the directory itself (see `process::WorkDir`).
    let dir = ctx.cwd().os_path();
    Ok(Box::pin(async move {
        let found = crate::process::unblock(move || expand_sync(&pattern, &dir)).await;
        Ok(crate::vm::fiber::Resume::Push(Value::list(
            found.into_iter().map(Value::from).collect(),
        )))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        assert!(matches(b"*.rs", b"main.rs"));
        assert!(!matches(b"*.rs", b"main.rc"));
        assert!(matches(b"a?c", b"abc"));
        assert!(matches(b"[a-c]x", b"bx"));
        assert!(!matches(b"[!a-c]x", b"bx"));
        assert!(matches(b"\\*", b"*"));
        assert!(!matches(b"\\*", b"a"));
        assert!(matches(b"*a*b*", b"xxaxxbxx"));
        assert!(matches(b"[]]", b"]"));
        assert!(matches(b"*[b", b"a[b"));
        assert!(matches("?1".as_bytes(), "é1".as_bytes()));
        assert!(!matches(b"??1", "é1".as_bytes()));
    }

    #[test]
    fn escaping_makes_literal() {
        let e = escape(b"a*[b]?");
        assert!(matches(&e, b"a*[b]?"));
        assert!(!matches(&e, b"aXbY"));
        assert!(!has_meta(&e));
    }
}
