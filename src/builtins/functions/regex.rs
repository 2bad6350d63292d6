//! Regular expressions: `matches match find_all sub split_re`, with the
//! `regex` crate (RE2 syntax, linear time: a pattern or a text from input
//! cannot make ash hang). Compiled patterns are kept by their text, so a
//! pattern in a loop compiles once. Texts are bytes: `.` matches a UTF-8
//! character, and bytes that are not UTF-8 never match it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use regex::bytes::Regex;

use super::{arity, want_str};
use crate::vm::error::Error;
use crate::vm::list::ListCell;
use crate::vm::objects::Host;
use crate::vm::value::{MapCell, Value};

/// Compiled patterns kept at most (the cache is emptied when full).
const CACHE: usize = 256;

thread_local! {
    static COMPILED: RefCell<HashMap<Vec<u8>, Rc<Regex>>> = RefCell::new(HashMap::new());
}

/// The compiled pattern, or a `ValueError` that says where it is wrong.
fn compile(name: &str, pattern: &[u8]) -> Result<Rc<Regex>, Error> {
    if let Some(re) = COMPILED.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(re);
    }
    let text = std::str::from_utf8(pattern)
        .map_err(|_| Error::value(format!("{name}(): the pattern is not valid UTF-8")))?;
    let re = Regex::new(text).map_err(|e| bad_pattern(name, text, &e))?;
    let re = Rc::new(re);
    COMPILED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE {
            c.clear();
        }
        c.insert(pattern.to_vec(), re.clone());
    });
    Ok(re)
}

/// `ValueError: match(): invalid regex "a(b" at character 1: unclosed group`.
fn bad_pattern(name: &str, text: &str, e: &regex::Error) -> Error {
    if let Err(ast) = regex_syntax::ast::parse::Parser::new().parse(text) {
        let at = text[..ast.span().start.offset.min(text.len())]
            .chars()
            .count()
            + 1;
        return Error::value(format!(
            "{name}(): invalid regex {text:?} at character {at}: {}",
            ast.kind()
        ));
    }
    let reason = e.to_string();
    let last = reason.lines().last().unwrap_or("").trim();
    Error::value(format!(
        "{name}(): invalid regex {text:?}: {}",
        last.trim_start_matches("error: ")
    ))
}

fn text_and_pattern<'a>(name: &str, args: &'a [Value]) -> Result<(&'a [u8], Rc<Regex>), Error> {
    let s = want_str(name, "a string", &args[0])?;
    let re = compile(name, want_str(name, "a pattern string", &args[1])?)?;
    Ok((s, re))
}

/// `matches(s, re)`: whether `re` matches anywhere in `s`.
pub(super) fn matches(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("matches", args, 2, 2)?;
    let (s, re) = text_and_pattern("matches", args)?;
    Ok(Value::Bool(re.is_match(s)))
}

/// The whole match and each group (`null` for a group that took no part).
fn groups(caps: &regex::bytes::Captures) -> Vec<Value> {
    caps.iter()
        .map(|m| m.map_or(Value::Null, |m| Value::str(m.as_bytes())))
        .collect()
}

/// A match as a value: the list of the whole match and its groups, with
/// the named groups as a map under `named` (an empty one when the pattern
/// names none). The map rides on the list (`ListCell::with_named`), so the
/// match is a list for everything else: len, indexing, destructuring.
fn match_value(re: &Regex, caps: &regex::bytes::Captures) -> Value {
    let named: crate::vm::value::Entries = re
        .capture_names()
        .flatten()
        .map(|n| {
            let v = caps
                .name(n)
                .map_or(Value::Null, |m| Value::str(m.as_bytes()));
            (crate::vm::string::Str::from(n.as_bytes()), v)
        })
        .collect();
    Value::List(Rc::new(ListCell::with_named(
        groups(caps),
        MapCell::new(named),
    )))
}

/// `match(s, re)`: null, or `[whole, group1, ...]` with `.named`.
pub(super) fn match_(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("match", args, 2, 2)?;
    let (s, re) = text_and_pattern("match", args)?;
    Ok(match re.captures(s) {
        Some(caps) => match_value(&re, &caps),
        None => Value::Null,
    })
}

/// `find_all(s, re)`: every match, left to right, not overlapping; a
/// pattern with groups gives a match (as `match` does) for each.
pub(super) fn find_all(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("find_all", args, 2, 2)?;
    let (s, re) = text_and_pattern("find_all", args)?;
    let out = if re.captures_len() > 1 {
        re.captures_iter(s).map(|c| match_value(&re, &c)).collect()
    } else {
        re.find_iter(s).map(|m| Value::str(m.as_bytes())).collect()
    };
    Ok(Value::list(out))
}

/// `sub(s, re, repl)`: every match replaced; `$1`, `${name}` in `repl`
/// are groups (`$$` is a `$`).
pub(super) fn sub(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("sub", args, 3, 3)?;
    let (s, re) = text_and_pattern("sub", args)?;
    let repl = want_str("sub", "a replacement string", &args[2])?;
    Ok(Value::str(re.replace_all(s, repl)))
}

/// `split_re(s, re)`: the pieces between the matches.
pub(super) fn split_re(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("split_re", args, 2, 2)?;
    let (s, re) = text_and_pattern("split_re", args)?;
    Ok(Value::list(re.split(s).map(Value::str).collect()))
}
