//! Built-in functions whose work over a large input must not hold the loop
//! (section 10): `from_json`, `to_json`, `sorted` (its native part,
//! `_sort`), `join`, `split`, `lines`, and `len` of a string (a count of
//! its characters).
//!
//! Below the thresholds they run in place. Above, the call becomes a wait
//! of the calling task: timers, other tasks and signals go on meanwhile,
//! and a signal or a `timeout` ends the wait at once. Values are `Rc`s that
//! belong to the loop thread (ash has no `unsafe` code to send them
//! elsewhere), so each function splits its work:
//! - the monolithic CPU-heavy part runs on a worker thread over plain data
//!   (parsing and printing JSON text, sorting keys);
//! - what reads or makes values runs on the loop a little at a time,
//!   charged to the task's slice (`vm::budget`) and yielding when the slice
//!   is over (turning JSON into values and values into JSON, reading sort
//!   keys, joining, splitting).
//!
//! A function whose steps span several slices reads its input across them:
//! `to_json` and `join` of a list that another task changes meanwhile may
//! see part of the change (`sorted` and `join` copy the list's items
//! first; strings never change).

use std::cmp::Ordering;

use bstr::ByteSlice;
use serde_json::Value as Json;

use super::Value;
use super::collections::check_sortable;
use super::numbers::{cmp_floats, cmp_int_float};
use super::{json, json_doc, stringify};
use crate::vm::budget;
use crate::vm::error::Error;
use crate::vm::objects::{OffLoop, OffLoopPrep};
use crate::vm::value::Str;

/// Lists with at least this many items go off the loop...
pub const ITEMS: usize = 20_000;
/// ...and strings (or all the strings of a list) of at least this many
/// bytes. Either is about a millisecond of work.
pub const BYTES: usize = 256 * 1024;

/// The functions that have an off-loop path, and their preparers.
const PREPARERS: &[(&str, OffLoopPrep)] = &[
    ("_sort", sorted),
    ("from_json", from_json),
    ("join", join),
    ("len", len),
    ("lines", lines),
    ("split", split),
    ("to_json", to_json),
];

/// The preparer of function `name` (for the table of functions).
pub const fn preparer(name: &str) -> Option<OffLoopPrep> {
    let mut i = 0;
    while i < PREPARERS.len() {
        if super::same(PREPARERS[i].0.as_bytes(), name.as_bytes()) {
            return Some(PREPARERS[i].1);
        }
        i += 1;
    }
    None
}

/// Units of the slice's budget (about a VM loop iteration each) for a
/// node of JSON made or read (allocations, a map insert: about 0.5 µs in a
/// release build)...
const NODE: u32 = 10;
/// ...and for an item read or placed by `sorted`.
const ITEM: u32 = 2;

/// One step of work done on the loop: charged to the slice, and a yield
/// to the loop when the slice is over.
async fn step(units: u32) {
    budget::charge(units);
    if budget::over() {
        futures_lite::future::yield_now().await;
    }
}

/// The one argument of a call that takes a single string, when that
/// string is big enough to be worked on off the loop.
fn one_big_str(args: &[Value]) -> Option<crate::vm::string::Str> {
    match args {
        [Value::Str(s)] if s.len() >= BYTES => Some(s.clone()),
        _ => None,
    }
}

fn from_json(args: &[Value]) -> Option<OffLoop> {
    let s = one_big_str(args)?;
    Some(Box::pin(async move {
        let text = copied(&s).await;
        drop(s);
        let doc = crate::process::unblock(move || json_doc::parse(&text)).await;
        let mut build = json_doc::Build::new(doc.map_err(Error::value)?);
        loop {
            step(NODE).await;
            if let Some(v) = build.step() {
                let doc = build.into_doc();
                crate::process::unblock_detached(move || drop(doc));
                return Ok(v);
            }
        }
    }))
}

/// A copy of `s` for a worker thread (an `Rc` cannot go there), made a
/// piece per step: copying 50 MB at once held the loop for tens of ms.
async fn copied(s: &[u8]) -> Vec<u8> {
    const PIECE: usize = 1 << 20;
    let mut out = Vec::with_capacity(s.len());
    for piece in s.chunks(PIECE) {
        out.extend_from_slice(piece);
        step(budget::for_copy(piece.len())).await;
    }
    out
}

fn to_json(args: &[Value]) -> Option<OffLoop> {
    let pretty = match args {
        [_] => false,
        [_, Value::Bool(b)] => *b,
        _ => return None,
    };
    if size_at_least(&args[0], ITEMS) < ITEMS {
        return None;
    }
    let value = args[0].clone();
    Some(Box::pin(async move {
        let doc = encode(&value).await?;
        let text: Result<String, Error> = crate::process::unblock(move || {
            let mut text = String::new();
            json::write_json(&doc, pretty, 0, &mut text).map(|()| text)
        })
        .await;
        Ok(Value::from(text?))
    }))
}

/// How many values `v` holds, counted up to `enough` (and no further).
fn size_at_least(v: &Value, enough: usize) -> usize {
    let mut n = 0;
    let mut todo = vec![v.clone()];
    while let Some(v) = todo.pop() {
        n += 1;
        if n >= enough {
            break;
        }
        match v {
            Value::List(l) => todo.extend(l.borrow().iter().take(enough - n).cloned()),
            Value::Map(m) => todo.extend(m.borrow().values().take(enough - n).cloned()),
            _ => {}
        }
    }
    n
}

/// A list or map being turned into JSON: its next index, and the output.
enum Encoding {
    List(crate::vm::value::List, usize, Vec<Json>),
    Map(
        crate::vm::value::Map,
        usize,
        serde_json::Map<String, Json>,
        String,
    ),
}

/// The JSON document of `value`, a node per step (what `to_json` does in
/// place, without recursion): the lists and maps are read an item at a
/// time, so a change made meanwhile by another task may be seen.
async fn encode(value: &Value) -> Result<Json, Error> {
    let mut stack: Vec<Encoding> = Vec::new();
    let mut room = json::Room::new();
    let mut checked = false;
    let mut todo = Some(value.clone());
    let mut made: Option<Json> = None;
    loop {
        step(NODE).await;
        // Once the document is big, see (once) whether it can fit at all:
        // a value that shares its parts would fill the room item by item.
        if !checked && room.used() > json::CHECK_AT {
            checked = true;
            room.check(value)?;
        }
        match todo.take() {
            Some(v @ (Value::List(_) | Value::Map(_))) => {
                if stack.len() >= json::MAX_DEPTH {
                    return Err(Error::value("to_json(): nesting too deep"));
                }
                room.take(0)?;
                stack.push(match v {
                    Value::List(l) => Encoding::List(l, 0, Vec::new()),
                    Value::Map(m) => Encoding::Map(m, 0, serde_json::Map::new(), String::new()),
                    _ => return Err(Error::value("to_json(): internal error")),
                });
            }
            Some(scalar) => made = Some(json::to_json_value(&scalar, 0, &mut room)?),
            None => {}
        }
        if let Some(j) = made.take() {
            match stack.last_mut() {
                None => return Ok(j),
                Some(Encoding::List(_, _, out)) => out.push(j),
                Some(Encoding::Map(_, _, out, key)) => {
                    out.insert(std::mem::take(key), j);
                }
            }
        }
        let finished = match stack.last_mut() {
            Some(Encoding::List(l, i, _)) => match l.get(*i) {
                Some(item) => {
                    *i += 1;
                    todo = Some(item);
                    false
                }
                None => true,
            },
            Some(Encoding::Map(m, i, _, key)) => {
                let entry = m
                    .borrow()
                    .get_index(*i)
                    .map(|(k, v)| (k.clone(), v.clone()));
                match entry {
                    Some((k, item)) => {
                        *i += 1;
                        room.take(k.len())?;
                        *key = String::from_utf8(k.to_vec())
                            .map_err(|_| Error::value("to_json(): a map key is not valid UTF-8"))?;
                        todo = Some(item);
                        false
                    }
                    None => true,
                }
            }
            None => false,
        };
        if finished {
            made = match stack.pop() {
                Some(Encoding::List(_, _, out)) => Some(Json::Array(out)),
                Some(Encoding::Map(_, _, out, _)) => Some(Json::Object(out)),
                None => None,
            };
        }
    }
}

/// A sort key that can go to a worker thread: a number, a duration, or a
/// string's place in one buffer of all their bytes.
#[derive(Clone, Copy)]
enum Key {
    Int(i64),
    Float(f64),
    Duration(f64),
    Str(usize, usize),
}

/// `_sort(xs, keys, reverse)`, the native part of the prelude's `sorted`.
fn sorted(args: &[Value]) -> Option<OffLoop> {
    let [Value::List(l), keys, reverse] = args else {
        return None;
    };
    if l.len() < ITEMS {
        return None;
    }
    let mut items = l.borrow().clone();
    let keys = match keys {
        Value::Null => None,
        Value::List(k) if k.len() == items.len() => Some(k.borrow().clone()),
        _ => return None,
    };
    // Lists compare item by item through their cells: those stay in place.
    if keys
        .as_ref()
        .unwrap_or(&items)
        .iter()
        .any(|v| matches!(v, Value::List(_)))
    {
        return None;
    }
    let reverse = reverse.truthy();
    Some(Box::pin(async move {
        // The keys as plain data, read on the loop a slice at a time.
        let of = keys.as_ref().unwrap_or(&items);
        let mut plain = Vec::with_capacity(of.len());
        let mut bytes = Vec::new();
        let mut first_kind = None;
        for v in of {
            step(ITEM).await;
            let (key, kind) = match v {
                Value::Int(n) => (Key::Int(*n), 0),
                Value::Float(f) => (Key::Float(*f), 0),
                Value::Duration(d) => (Key::Duration(*d), 1),
                Value::Str(s) => {
                    bytes.extend_from_slice(s);
                    (Key::Str(bytes.len() - s.len(), bytes.len()), 2)
                }
                _ => (Key::Int(0), 3),
            };
            if kind == 3 || first_kind.is_some_and(|k| k != kind) {
                // A mix, or a value of no order: the error in place gives.
                check_sortable(of)?;
            }
            first_kind.get_or_insert(kind);
            plain.push(key);
        }
        drop(keys);
        // The order, on a worker thread: a stable sort of the indices
        // (stable in reverse too, as Python's `reverse=True`). Each index
        // carries its string's first bytes as a number, which decides most
        // comparisons without reaching into the bytes (W13: 1M strings
        // took 2.4 M memcmp calls and cache misses per level before).
        let order = crate::process::unblock(move || {
            let mut order: Vec<(u64, usize)> = plain
                .iter()
                .enumerate()
                .map(|(i, key)| (prefix(key, &bytes), i))
                .collect();
            order.sort_by(|a, b| {
                let o =
                    a.0.cmp(&b.0)
                        .then_with(|| cmp_keys(&plain[a.1], &plain[b.1], &bytes));
                if reverse { o.reverse() } else { o }
            });
            order
        })
        .await;
        let mut out = Vec::with_capacity(order.len());
        for (_, i) in order {
            step(ITEM).await;
            out.push(std::mem::take(&mut items[i]));
        }
        Ok(Value::list(out))
    }))
}

/// A number whose order agrees with the order of the keys where the two
/// differ: a string's first 8 bytes, big-endian, padded with zeros (a
/// string and its extension by zero bytes tie, and are compared in full);
/// 0 for the other kinds, which are compared in full.
fn prefix(key: &Key, bytes: &[u8]) -> u64 {
    let Key::Str(start, end) = *key else {
        return 0;
    };
    let s = &bytes[start..end.min(start + 8)];
    let mut first = [0u8; 8];
    first[..s.len()].copy_from_slice(s);
    u64::from_be_bytes(first)
}

/// `compare`'s order, for keys of one kind (checked before).
fn cmp_keys(a: &Key, b: &Key, bytes: &[u8]) -> Ordering {
    match (*a, *b) {
        (Key::Int(x), Key::Int(y)) => x.cmp(&y),
        (Key::Float(x), Key::Float(y)) | (Key::Duration(x), Key::Duration(y)) => cmp_floats(x, y),
        (Key::Int(x), Key::Float(y)) => cmp_int_float(x, y),
        (Key::Float(x), Key::Int(y)) => cmp_int_float(y, x).reverse(),
        (Key::Str(a0, a1), Key::Str(b0, b1)) => bytes[a0..a1].cmp(&bytes[b0..b1]),
        _ => Ordering::Equal,
    }
}

fn join(args: &[Value]) -> Option<OffLoop> {
    let [Value::List(l), Value::Str(sep)] = args else {
        return None;
    };
    let items = l.borrow().clone();
    let bytes: usize = items
        .iter()
        .map(|v| match v {
            Value::Str(s) => s.len(),
            _ => 8,
        })
        .sum();
    if items.len() < ITEMS && bytes < BYTES {
        return None;
    }
    let sep = sep.clone();
    Some(Box::pin(async move {
        let mut out = Vec::with_capacity(bytes + sep.len() * items.len());
        for (i, v) in items.iter().enumerate() {
            step(ITEM + budget::for_copy(sep.len() + 64)).await;
            if i > 0 {
                out.extend_from_slice(&sep);
            }
            stringify("join", v, &mut out)?;
        }
        Ok(Value::from(out))
    }))
}

fn split(args: &[Value]) -> Option<OffLoop> {
    let (text, sep, limit) = match args {
        [Value::Str(s)] => (s, None, -1),
        [Value::Str(s), Value::Str(sep)] if !sep.is_empty() => (s, Some(sep), -1),
        [Value::Str(s), Value::Str(sep), Value::Int(n)] if !sep.is_empty() => (s, Some(sep), *n),
        _ => return None,
    };
    // (Asked of every `split` call: the size first, nothing cloned.)
    if text.len() < BYTES {
        return None;
    }
    let sep = sep.cloned();
    let text = text.clone();
    Some(Box::pin(async move {
        let pieces: Box<dyn Iterator<Item = &[u8]>> = match &sep {
            None => Box::new(text.fields()),
            Some(sep) => Box::new(super::text::split_bytes(
                &text,
                sep,
                usize::try_from(limit).ok(),
            )),
        };
        made_of(&text, pieces).await
    }))
}

fn lines(args: &[Value]) -> Option<OffLoop> {
    let text = one_big_str(args)?;
    Some(Box::pin(async move {
        made_of(&text, Box::new(text.lines())).await
    }))
}

/// `len` of a long string: its characters counted a piece at a time (its
/// bytes if it is not UTF-8), with no copy.
fn len(args: &[Value]) -> Option<OffLoop> {
    let text = one_big_str(args)?;
    Some(Box::pin(async move {
        const PIECE: usize = 64 * 1024;
        let mut chars = 0;
        let mut at = 0;
        while at < text.len() {
            let mut end = (at + PIECE).min(text.len());
            // End the piece on the first byte of a character.
            while end < text.len() && end > at && text[end] & 0xC0 == 0x80 {
                end -= 1;
            }
            let piece = std::str::from_utf8(&text[at..end])
                .ok()
                .filter(|_| end > at);
            let Some(piece) = piece else {
                return Ok(Value::Int(i64::try_from(text.len()).unwrap_or(i64::MAX)));
            };
            chars += piece.chars().count();
            at = end;
            step(2 * budget::for_copy(piece.len())).await;
        }
        Ok(Value::Int(i64::try_from(chars).unwrap_or(i64::MAX)))
    }))
}

/// The list of the pieces of a string, a piece per step; each shares the
/// string's buffer.
async fn made_of<'a>(
    whole: &'a Str,
    pieces: Box<dyn Iterator<Item = &'a [u8]> + 'a>,
) -> Result<Value, Error> {
    // A few hundred pieces a step: a step each (a budget charge and
    // check, a poll) cost as much as cutting the piece (W12's `lines`).
    const PIECES: usize = 256;
    let mut out = Vec::new();
    let mut cut = whole.cut(pieces);
    loop {
        let before = out.len();
        out.extend(cut.by_ref().take(PIECES).map(Value::Str));
        let made = out.len() - before;
        step(ITEM * made as u32).await;
        if made < PIECES {
            return Ok(Value::list(out));
        }
    }
}
