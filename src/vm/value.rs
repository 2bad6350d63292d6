//! Runtime values.
//!
//! Strings are byte strings (`Rc<[u8]>`): arguments, file names, environment
//! values and command output are bytes on Unix, and ash passes non-UTF-8 data
//! through unchanged. Lists and maps are shared by reference (as in Python)
//! through `Rc<RefCell<..>>`; everything runs on one thread, so `Rc` is enough.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;

use indexmap::IndexMap;

use super::error::{Error, ErrorKind};
use super::objects::{Closure, Coroutine, NativeFn};
use super::walk::{self, Form, OnCycle};
use crate::runtime::shell::{Channel, Semaphore, SuspendFn, TaskRef};

pub use super::string::Str;
pub type List = Rc<super::list::ListCell>;
pub type Map = Rc<MapCell>;

/// A map's entries, behind the `RefCell` that `Deref` reaches. Its own
/// type for its destructor: see `trash` (and `list::ListCell`).
pub struct MapCell(RefCell<Entries>, Cell<usize>);

/// A map's entries in insertion order.
pub type Entries = IndexMap<Str, Value, KeyHasher>;

/// The hash of map keys: foldhash, seeded per map.
///
/// SipHash (std's default) took ~7% of a loop that counts lines by a field
/// (W12: two lookups a line); foldhash hashes a short key in a few
/// instructions. Against HashDoS (maps keyed by untrusted input: words of
/// a log, JSON keys), each map gets its own seed, and all of them a
/// process-wide secret drawn from the OS's randomness (std's `RandomState`
/// keys), so colliding keys cannot be computed ahead of time. foldhash
/// does not resist an attacker who can observe hash values or time many
/// lookups to recover the secret; ash never shows hash values (maps
/// iterate in insertion order), which leaves timing, a much harder attack.
#[derive(Clone)]
pub struct KeyHasher(foldhash::fast::SeedableRandomState);

impl Default for KeyHasher {
    fn default() -> KeyHasher {
        static SHARED: std::sync::OnceLock<foldhash::SharedSeed> = std::sync::OnceLock::new();
        let shared = SHARED.get_or_init(|| {
            use std::hash::BuildHasher;
            // std draws these keys from the OS (getrandom) once per thread.
            let secret = std::collections::hash_map::RandomState::new().hash_one(0u64);
            foldhash::SharedSeed::from_u64(secret)
        });
        KeyHasher(foldhash::fast::SeedableRandomState::with_seed(
            fastrand::u64(..),
            shared,
        ))
    }
}

impl std::hash::BuildHasher for KeyHasher {
    type Hasher = foldhash::fast::FoldHasher<'static>;
    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

impl std::ops::Deref for MapCell {
    type Target = RefCell<Entries>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl MapCell {
    pub fn new(entries: Entries) -> Map {
        Rc::new(MapCell(RefCell::new(entries), Cell::new(0)))
    }

    /// Where `key` is in `entries` (this map's, borrowed). The place of
    /// the last key found is tried first: `m[k] = get(m, k, 0) + 1` and
    /// `m[k] += 1` look the same key up twice, and the second time costs a
    /// comparison instead of a hash and a probe (W12). Keys are unique, so
    /// an entry whose key is `key` is its place, however the map changed
    /// since.
    #[inline]
    pub fn index_of(&self, entries: &Entries, key: &[u8]) -> Option<usize> {
        let last = self.1.get();
        if let Some((k, _)) = entries.get_index(last)
            && k.as_bytes() == key
        {
            return Some(last);
        }
        let at = entries.get_index_of(key)?;
        self.1.set(at);
        Some(at)
    }

    /// The value of `key`, if the map has it (through [`MapCell::index_of`]).
    #[inline]
    pub fn lookup(&self, key: &[u8]) -> Option<Value> {
        let entries = self.0.borrow();
        let at = self.index_of(&entries, key)?;
        entries.get_index(at).map(|(_, v)| v.clone())
    }
}

impl Drop for MapCell {
    fn drop(&mut self) {
        super::trash::dispose(std::mem::take(self.0.get_mut()));
    }
}

/// The tag is a whole word (`repr(u64)`), so a `Value` is three words
/// and the VM moves it as such. With a one-byte tag the bytes after it
/// were a `bool`'s payload, and moves of a `Value` of unknown variant
/// copied them apart (bytes 1-7 as two 4-byte moves) before reading the
/// whole back as 16 bytes: a failed store-to-load forward, ~12 cycles, on
/// every push of a load (W12: 0.49 -> 0.42 s of CPU, docs/performance.md).
#[derive(Default)]
#[repr(u64)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Str),
    List(List),
    Map(Map),
    /// Seconds.
    Duration(f64),
    Func(Rc<Closure>),
    Native(&'static NativeFn),
    Coroutine(Rc<Coroutine>),
    Task(TaskRef),
    Error(Rc<Error>),
    /// A built-in function that suspends the task (`recv`, `send`, ...).
    Suspend(&'static SuspendFn),
    Channel(Rc<Channel>),
    Semaphore(Rc<Semaphore>),
}

impl Clone for Value {
    // Inlined into the VM's loads. The counted variants take their count
    // here and then the three words are copied as one: built variant by
    // variant (tag, pointer, window as three 8-byte stores) and read back
    // as 16 + 8 bytes by the push, a clone missed the store-to-load
    // forward, ~12 cycles on every load of a string, list or map (the
    // hottest instructions of W12's loop).
    #[inline(always)]
    #[allow(unsafe_code)]
    fn clone(&self) -> Value {
        match self {
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Duration(_)
            | Value::Native(_)
            | Value::Suspend(_) => {}
            Value::Str(s) => std::mem::forget(s.clone()),
            Value::List(l) => std::mem::forget(l.clone()),
            Value::Map(m) => std::mem::forget(m.clone()),
            Value::Func(f) => std::mem::forget(f.clone()),
            Value::Coroutine(c) => std::mem::forget(c.clone()),
            Value::Task(t) => std::mem::forget(t.clone()),
            Value::Error(e) => std::mem::forget(e.clone()),
            Value::Channel(c) => std::mem::forget(c.clone()),
            Value::Semaphore(s) => std::mem::forget(s.clone()),
        }
        // SAFETY: the variants without a count are plain data (copies are
        // clones); each counted one is an `Rc`, or a `Str` (an `Rc` and
        // two integers), whose clone is its bits with the count raised by
        // one, which the forgotten clone above did: the copy owns it. (A
        // new variant must be one of these kinds, or cloned the usual way
        // and returned from its arm. Test: `a_clone_takes_one_count`.)
        unsafe { std::ptr::read(self) }
    }
}

impl Value {
    pub fn str(bytes: impl AsRef<[u8]>) -> Value {
        Value::Str(Str::from(bytes.as_ref()))
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(super::list::ListCell::new(items)))
    }

    pub fn map(entries: Entries) -> Value {
        Value::Map(MapCell::new(entries))
    }

    /// The name `type(v)` returns.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Duration(_) => "duration",
            Value::Func(_) | Value::Native(_) | Value::Suspend(_) => "function",
            Value::Channel(_) => "channel",
            Value::Semaphore(_) => "semaphore",
            Value::Coroutine(_) => "coroutine",
            Value::Task(_) => "task",
            Value::Error(_) => "error",
        }
    }

    /// Truthiness, as in Python: null, false, 0, 0.0, "", [], {} and a zero
    /// duration are false; everything else is true.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Duration(d) => *d != 0.0,
            _ => true,
        }
    }

    /// The bytes a value becomes as a command argument or in `"$x"`:
    /// strings as they are, numbers and booleans as their text, null as the
    /// empty string, lists joined by spaces, maps and others as JSON-like
    /// text. A list or map that contains itself has no text: `ValueError`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        match self {
            Value::Str(s) => Ok(s.to_vec()),
            Value::Null => Ok(Vec::new()),
            other => {
                let mut out = Vec::new();
                walk::write(other, Form::Text, OnCycle::Fail, &mut out)?;
                Ok(out)
            }
        }
    }

    /// The bytes of a word for a message or an error's `e.argv`: as
    /// [`Value::to_bytes`], its repr for a list or map inside itself.
    pub fn word_bytes(&self) -> Vec<u8> {
        self.to_bytes().unwrap_or_else(|_| self.repr().into_bytes())
    }

    /// The text of a value as `str(v)` gives it (lossy for invalid UTF-8,
    /// where a `String` is needed).
    pub fn to_text(&self) -> Result<String, Error> {
        Ok(String::from_utf8_lossy(&self.to_bytes()?).into_owned())
    }

    /// A representation that shows the type: strings are quoted. Used for
    /// list and map elements and in messages; a list or map inside itself
    /// shows as `[...]` or `{...}`.
    pub fn repr(&self) -> String {
        let mut out = Vec::new();
        // Cannot fail: cycles are marked.
        let _ = walk::write(self, Form::Repr, OnCycle::Mark, &mut out);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// `==`: structural for data (any depth: `walk`), identity for
    /// functions, tasks and the like. Ints and floats compare by value,
    /// exactly (`1 == 1.0`, but `2**53 + 1 != float(2**53 + 1)`). Two lists
    /// or maps that contain themselves can make the comparison endless:
    /// `ValueError`.
    pub fn equals(&self, other: &Value) -> Result<bool, Error> {
        match (self, other) {
            (Value::List(_), Value::List(_)) | (Value::Map(_), Value::Map(_)) => {
                walk::equals(self, other, &mut Value::equals_leaf)
            }
            _ => Ok(self.equals_leaf(other)),
        }
    }

    /// `==` on anything but a pair of lists or a pair of maps.
    fn equals_leaf(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                super::ops::int_float_cmp(*a, *b) == Some(std::cmp::Ordering::Equal)
            }
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Duration(a), Value::Duration(b)) => a == b,
            (Value::Func(a), Value::Func(b)) => Rc::ptr_eq(a, b),
            (Value::Native(a), Value::Native(b)) => std::ptr::eq(*a, *b),
            (Value::Coroutine(a), Value::Coroutine(b)) => Rc::ptr_eq(a, b),
            (Value::Task(a), Value::Task(b)) => a.id() == b.id(),
            (Value::Error(a), Value::Error(b)) => Rc::ptr_eq(a, b),
            (Value::Suspend(a), Value::Suspend(b)) => std::ptr::eq(*a, *b),
            (Value::Channel(a), Value::Channel(b)) => Rc::ptr_eq(a, b),
            (Value::Semaphore(a), Value::Semaphore(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// A string value's bytes, or a `TypeError` naming what was expected.
    pub fn expect_str(&self, what: &str) -> Result<&[u8], Error> {
        match self {
            Value::Str(s) => Ok(s),
            other => Err(type_error(what, "a string", other)),
        }
    }

    pub fn expect_int(&self, what: &str) -> Result<i64, Error> {
        match self {
            Value::Int(i) => Ok(*i),
            other => Err(type_error(what, "an int", other)),
        }
    }

    pub fn expect_list(&self, what: &str) -> Result<&List, Error> {
        match self {
            Value::List(l) => Ok(l),
            other => Err(type_error(what, "a list", other)),
        }
    }

    pub fn expect_map(&self, what: &str) -> Result<&Map, Error> {
        match self {
            Value::Map(m) => Ok(m),
            other => Err(type_error(what, "a map", other)),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Str::from(s.into_bytes()))
    }
}

impl From<Vec<u8>> for Value {
    fn from(s: Vec<u8>) -> Value {
        Value::Str(Str::from(s))
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// `TypeError: WHAT expects EXPECTED, got TYPE`
pub fn type_error(what: &str, expected: &str, got: &Value) -> Error {
    Error::new(
        ErrorKind::Type,
        format!("{what} expects {expected}, got {}", got.type_name()),
    )
}

/// Floats print like Python's `repr`: the shortest digits that read back
/// as the same float, always with a `.` or an exponent; an exponent from
/// 1e16 up and below 1e-4 (`1e+16`, `1.5e-07`, `0.0001`, `123.0`).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.2345e3`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::from(sign);
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let point = exp as usize + 1;
            if digits.len() <= point {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    out
}

/// Durations print in the largest unit that keeps them readable: `250ms`,
/// `1.5s`, `2m`, `1h`.
pub fn format_duration(secs: f64) -> String {
    let trim = |x: f64| {
        let s = format!("{x:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    };
    if secs != 0.0 && secs.abs() < 1.0 {
        format!("{}ms", trim(secs * 1000.0))
    } else if secs.abs() < 60.0 {
        format!("{}s", trim(secs))
    } else if secs.abs() < 3600.0 {
        format!("{}m", trim(secs / 60.0))
    } else {
        format!("{}h", trim(secs / 3600.0))
    }
}

/// Command words to arguments: list values splice, others stay as they are
/// (a function receives values; programs and builtins get their text).
pub fn flatten_words(words: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::with_capacity(words.len());
    for w in words {
        match w {
            Value::List(l) => out.extend(l.borrow().iter().cloned()),
            other => out.push(other),
        }
    }
    out
}

/// `1.5`, `200ms`, `2s`, `1.5m`, `1h` as seconds.
pub fn parse_duration(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>().ok().map(|x| x * mult)
}

/// A duration from a duration value or a number of seconds.
pub fn to_duration(v: &Value, what: &str) -> Result<std::time::Duration, Error> {
    let secs = match v {
        Value::Duration(d) => *d,
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Str(s) => parse_duration(s).ok_or_else(|| {
            Error::value(format!(
                "{what}: invalid duration {:?}",
                String::from_utf8_lossy(s)
            ))
        })?,
        other => {
            return Err(Error::type_err(format!(
                "{what} expects a duration, got {}",
                other.type_name()
            )));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(Error::value(format!("{what}: invalid duration")));
    }
    Ok(std::time::Duration::from_secs_f64(secs.min(1e9)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// `Value::clone` copies the bits after taking the count: a clone of
    /// each counted kind raises its count by one and its drop gives it
    /// back, and the copy is the same value.
    #[test]
    fn a_clone_takes_one_count() {
        let list = Rc::new(crate::vm::list::ListCell::new(vec![Value::Int(7)]));
        let map = MapCell::new(Entries::default());
        let err = Rc::new(Error::value("boom"));
        let s = Str::from(&b"a string longer than what fits inline"[..]);
        let values = [
            Value::List(list.clone()),
            Value::Map(map.clone()),
            Value::Error(err.clone()),
            Value::Str(s.clone()),
        ];
        let counts = || {
            (
                Rc::strong_count(&list),
                Rc::strong_count(&map),
                Rc::strong_count(&err),
            )
        };
        let before = counts();
        let copies: Vec<Value> = values.iter().map(Value::clone).collect();
        let after = counts();
        assert_eq!(
            (after.0, after.1, after.2),
            (before.0 + 1, before.1 + 1, before.2 + 1)
        );
        for (a, b) in values.iter().zip(&copies) {
            assert!(
                a.equals(b).unwrap_or(false),
                "{} is not {}",
                a.repr(),
                b.repr()
            );
        }
        assert_eq!(
            copies[3].to_text().ok().as_deref(),
            Some("a string longer than what fits inline")
        );
        drop(copies);
        assert_eq!(counts(), before);
    }

    /// Each map hashes with a seed of its own (HashDoS: keys that collide
    /// in one map do not in the next), and a piece of a big text stored as
    /// a new key is copied out of it.
    #[test]
    fn maps_are_seeded_apart_and_keep_compact_keys() {
        let (a, b) = (KeyHasher::default(), KeyHasher::default());
        let key: &[u8] = b"host07";
        assert_ne!(a.hash_one(key), b.hash_one(key));
        assert_eq!(a.hash_one(key), a.clone().hash_one(key));

        let text = Str::from(vec![b'x'; 100_000]);
        let piece = text.slice_ref(&text[10..16]);
        let m = Value::map(Entries::default());
        super::super::ops::set_index(&m, &Value::Str(piece.clone()), Value::Int(1)).expect("set");
        super::super::ops::set_index(&m, &Value::Str(piece), Value::Int(2)).expect("set");
        let Value::Map(m) = m else { unreachable!() };
        let m = m.borrow();
        let (k, v) = m.get_index(0).expect("one entry");
        assert_eq!(m.len(), 1);
        assert!(matches!(v, Value::Int(2)));
        assert!(
            !k.shares_buffer(&text),
            "the key keeps the 100 kB text alive"
        );
    }
}
