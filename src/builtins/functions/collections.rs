//! Functions on lists, maps and strings as containers: `len keys values
//! contains push sorted reversed index_of get`.

use super::numbers::compare;
use super::{arity, find_bytes, want_str, wrong_type};
use crate::vm::error::Error;
use crate::vm::objects::Host;
use crate::vm::value::{List, Map, Value};

fn want_list<'a>(name: &str, v: &'a Value) -> Result<&'a List, Error> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(wrong_type(name, "a list", other)),
    }
}

fn want_map<'a>(name: &str, v: &'a Value) -> Result<&'a Map, Error> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(wrong_type(name, "a map", other)),
    }
}

fn int(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) fn len(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("len", args, 1, 1)?;
    Ok(int(match &args[0] {
        Value::Str(s) => crate::vm::chars::char_len(s),
        Value::List(l) => l.len(),
        Value::Map(m) => m.borrow().len(),
        other => return Err(wrong_type("len", "a string, list or map", other)),
    }))
}

/// `list(v)`: a new list of `v`'s items: a list's (a range's are made
/// here), a map's keys, a string's characters (its bytes if it is not
/// UTF-8), as Python's `list()`.
pub(super) fn list(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("list", args, 1, 1)?;
    match &args[0] {
        Value::List(l) => Ok(Value::list(l.borrow().clone())),
        Value::Map(m) => Ok(Value::list(
            m.borrow().keys().map(|k| Value::Str(k.clone())).collect(),
        )),
        Value::Str(s) => Ok(Value::list(match std::str::from_utf8(s) {
            Ok(text) => text
                .chars()
                .map(|c| Value::str(c.encode_utf8(&mut [0; 4]).as_bytes()))
                .collect(),
            Err(_) => s.iter().map(|b| Value::str([*b])).collect(),
        })),
        other => Err(wrong_type("list", "a list, map or string", other)),
    }
}

pub(super) fn keys(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("keys", args, 1, 1)?;
    let m = want_map("keys", &args[0])?;
    let keys = m.borrow().keys().map(|k| Value::Str(k.clone())).collect();
    Ok(Value::list(keys))
}

pub(super) fn values(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("values", args, 1, 1)?;
    let m = want_map("values", &args[0])?;
    let values = m.borrow().values().cloned().collect();
    Ok(Value::list(values))
}

/// The index of the first element `== x`; `ValueError` (named after the
/// function) if a comparison cannot end.
fn position(name: &str, items: &[Value], x: &Value) -> Result<Option<usize>, Error> {
    for (i, v) in items.iter().enumerate() {
        if v.equals(x)
            .map_err(|e| Error::value(format!("{name}(): {}", e.message)))?
        {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

pub(super) fn contains(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("contains", args, 2, 2)?;
    let found = match &args[0] {
        Value::Str(s) => {
            let sub = want_str("contains", "a string to look for in a string", &args[1])?;
            find_bytes(s, sub).is_some()
        }
        Value::List(l) => position("contains", &l.borrow(), &args[1])?.is_some(),
        Value::Map(m) => {
            let key = want_str("contains", "a string as a map key", &args[1])?;
            m.borrow().contains_key(key)
        }
        other => return Err(wrong_type("contains", "a string, list or map", other)),
    };
    Ok(Value::Bool(found))
}

pub(super) fn push(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("push", args, 2, 2)?;
    let l = want_list("push", &args[0])?;
    let mut items = l
        .try_borrow_mut()
        .map_err(|_| Error::value("push(): the list is in use"))?;
    items.push(args[1].clone());
    Ok(Value::Null)
}

/// What `sorted` can order among themselves: numbers, durations, strings,
/// lists. A mix, or a value of no order at all, is the error of comparing
/// it with the first item (the same error whatever the list's length, and
/// so whether it is sorted in place or off the loop).
pub(super) fn check_sortable(items: &[Value]) -> Result<(), Error> {
    let kind = |v: &Value| match v {
        Value::Int(_) | Value::Float(_) => Some(0),
        Value::Duration(_) => Some(1),
        Value::Str(_) => Some(2),
        Value::List(_) => Some(3),
        _ => None,
    };
    // One item needs no comparing (as in Python: `sorted([{}])` is fine).
    let [first, _, ..] = items else {
        return Ok(());
    };
    for v in items {
        if kind(v).is_none() || kind(v) != kind(first) {
            // In the order the merge sort compares a later item with an
            // earlier one.
            compare("sorted", v, first)?;
            // Comparable after all: no error to give.
        }
    }
    Ok(())
}

/// A stable merge sort with a comparison that may fail. (`slice::sort_by`
/// may panic when the comparison is not a total order, and ours gives up on
/// incomparable values.)
fn merge_sort<T>(
    mut items: Vec<T>,
    cmp: &mut impl FnMut(&T, &T) -> Result<std::cmp::Ordering, Error>,
) -> Result<Vec<T>, Error> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let right = items.split_off(items.len() / 2);
    let left = merge_sort(items, cmp)?;
    let right = merge_sort(right, cmp)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        // Take from the right only when strictly smaller: stability.
        let next = if cmp(r, l)? == std::cmp::Ordering::Less {
            right.next()
        } else {
            left.next()
        };
        out.extend(next);
    }
    out.extend(left);
    out.extend(right);
    Ok(out)
}

pub(super) fn reversed(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("reversed", args, 1, 1)?;
    let l = want_list("reversed", &args[0])?;
    let items = l.borrow().iter().rev().cloned().collect();
    Ok(Value::list(items))
}

pub(super) fn index_of(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("index_of", args, 2, 2)?;
    let found = match &args[0] {
        Value::List(l) => position("index_of", &l.borrow(), &args[1])?,
        Value::Str(s) => {
            let sub = want_str("index_of", "a string to look for in a string", &args[1])?;
            // In UTF-8 text, the index of the character the match starts in
            // (a needle that is not UTF-8 may match mid-character).
            let utf8 = std::str::from_utf8(s).is_ok();
            find_bytes(s, sub).map(|at| {
                if !utf8 {
                    return at;
                }
                let starts = s[..at].iter().filter(|&&b| !is_continuation(b)).count();
                let inside = s.get(at).is_some_and(|&b| is_continuation(b));
                starts - usize::from(inside)
            })
        }
        other => return Err(wrong_type("index_of", "a list or string", other)),
    };
    Ok(found.map_or(Value::Int(-1), int))
}

pub(super) fn get(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("get", args, 2, 3)?;
    let default = || args.get(2).cloned().unwrap_or_default();
    match &args[0] {
        Value::Map(m) => {
            let key = want_str("get", "a string as a map key", &args[1])?;
            Ok(m.lookup(key).unwrap_or_else(default))
        }
        Value::List(l) => {
            let i = match &args[1] {
                Value::Int(i) => *i,
                other => return Err(wrong_type("get", "an int as a list index", other)),
            };
            let len = i64::try_from(l.len()).unwrap_or(i64::MAX);
            let i = if i < 0 { i.saturating_add(len) } else { i };
            let item = usize::try_from(i).ok().and_then(|i| l.get(i));
            Ok(item.unwrap_or_else(default))
        }
        other => Err(wrong_type("get", "a map or list", other)),
    }
}

/// A UTF-8 continuation byte (`10xxxxxx`).
fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// `remove(m, key)` / `remove(xs, i)`: takes the entry out and returns its
/// value (a map keeps the order of the others); a missing key is a
/// `KeyError`, an index out of range an `IndexError` (negative counts from
/// the end).
pub(super) fn remove(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    use crate::vm::error::ErrorKind;
    arity("remove", args, 2, 2)?;
    match (&args[0], &args[1]) {
        (Value::Map(m), key) => {
            let k = want_str("remove", "a string key", key)?;
            m.borrow_mut().shift_remove(k).ok_or_else(|| {
                Error::new(ErrorKind::Key, format!("no key {}", Value::str(k).repr()))
            })
        }
        (Value::List(l), Value::Int(i)) => {
            let mut l = l.borrow_mut();
            let n = l.len();
            let at = if *i < 0 { *i + n as i64 } else { *i };
            if !(0..n as i64).contains(&at) {
                return Err(Error::new(
                    ErrorKind::Index,
                    format!("list index {i} out of range (length {n})"),
                ));
            }
            Ok(l.remove(at as usize))
        }
        (Value::List(_), other) => Err(wrong_type("remove", "an int index", other)),
        (other, _) => Err(wrong_type("remove", "a map or a list", other)),
    }
}

/// `items(m)`: `[[key, value], ...]` in insertion order.
pub(super) fn items(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("items", args, 1, 1)?;
    let m = want_map("items", &args[0])?;
    let out = m
        .borrow()
        .iter()
        .map(|(k, v)| Value::list(vec![Value::Str(k.clone()), v.clone()]))
        .collect();
    Ok(Value::list(out))
}

/// `zip(a, b, ...)`: `[[a0, b0], [a1, b1], ...]`, as long as the shortest.
pub(super) fn zip(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("zip", args, 1, usize::MAX)?;
    let lists: Vec<Vec<Value>> = args
        .iter()
        .map(|a| want_list("zip", a).map(|l| l.borrow().clone()))
        .collect::<Result<_, _>>()?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    let out = (0..n)
        .map(|i| Value::list(lists.iter().map(|l| l[i].clone()).collect()))
        .collect();
    Ok(Value::list(out))
}

/// `enumerate(xs[, start])`: `[[0, x0], [1, x1], ...]`.
pub(super) fn enumerate(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("enumerate", args, 1, 2)?;
    let l = want_list("enumerate", &args[0])?;
    let start = match args.get(1) {
        None => 0,
        Some(v) => super::want_int("enumerate", "an int start", v)?,
    };
    let out = l
        .borrow()
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let i = start.saturating_add(i64::try_from(i).unwrap_or(i64::MAX));
            Value::list(vec![Value::Int(i), x.clone()])
        })
        .collect();
    Ok(Value::list(out))
}

/// `_sort(xs, keys, reverse)`: the prelude's `sorted` after it computed the
/// keys (or `null`: the items are their own keys). Stable both ways, as
/// Python's `sorted(reverse=True)`.
pub(super) fn sort_keyed(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("_sort", args, 3, 3)?;
    let items = want_list("sorted", &args[0])?.borrow().clone();
    let keys = match &args[1] {
        Value::Null => items.clone(),
        other => want_list("sorted", other)?.borrow().clone(),
    };
    if keys.len() != items.len() {
        return Err(Error::value("_sort(): one key per item is needed"));
    }
    let reverse = args[2].truthy();
    check_sortable(&keys)?;
    let order: Vec<Value> = (0..items.len() as i64).map(Value::Int).collect();
    let order = merge_sort(order, &mut |a, b| {
        let (Value::Int(a), Value::Int(b)) = (a, b) else {
            return Ok(std::cmp::Ordering::Equal);
        };
        let (ka, kb) = (&keys[*a as usize], &keys[*b as usize]);
        let o = compare("sorted", ka, kb)?;
        Ok(if reverse { o.reverse() } else { o })
    })?;
    Ok(Value::list(
        order
            .iter()
            .filter_map(|i| match i {
                Value::Int(i) => items.get(*i as usize).cloned(),
                _ => None,
            })
            .collect(),
    ))
}
