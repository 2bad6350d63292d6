//! The built-in functions of expression mode (`len`, `split`, ...).
//!
//! This comment is the reference for their behaviour. The model is Python's
//! builtins and `str` methods, adapted to byte strings: ash strings are bytes,
//! and bytes that are not UTF-8 pass through every string function unchanged.
//! `map` and `filter` are not here: they call ash functions, so the VM runs
//! them.
//!
//! # Errors common to all
//! - Wrong number of arguments: `TypeError: len() takes 1 argument (2 given)`
//!   (or `1 or 2 arguments`, `1 to 3 arguments`, `at least 1 argument`).
//! - Wrong argument type: `TypeError: split() expects a string, got int`.
//!
//! # Strings
//! - `len(s)`: characters (Unicode scalar values) if `s` is valid UTF-8,
//!   else bytes. `len` of a list or map is its number of entries.
//! - `str(v)`: the bytes `v` becomes in a command argument: strings
//!   unchanged, `null` → `""`, `1.0` → `"1.0"`, lists joined by spaces, maps
//!   and others as their `repr`, durations as `1.5s`. Any depth; a list
//!   or map that contains itself → `ValueError: str(): a list that
//!   contains itself cannot be turned into text`.
//! - `lines(s)`: split on `\n`; a `\r` before it is dropped; a final newline
//!   does not make an empty last line; `lines("")` is `[]`.
//! - `split(s)`: on runs of (Unicode) whitespace, ignoring leading and
//!   trailing whitespace, like Python's `str.split()`. `split(s, sep)`: on
//!   each exact occurrence of `sep` (`split("a,,b", ",")` is `["a", "", "b"]`,
//!   `split("", ",")` is `[""]`). `split(s, sep, n)`: at most `n` splits
//!   (`n < 0`: no limit). An empty `sep` is a `ValueError`.
//! - `join(list, sep)`: elements converted as by `str`, `sep` between them
//!   (`null` → `""`, a nested list → its elements joined by spaces).
//! - `contains(s, sub)`, `starts_with(s, prefix)`, `ends_with(s, suffix)`:
//!   byte-wise; the empty string is contained in, and starts and ends,
//!   every string.
//! - `trim(s)`: strips whitespace (Unicode) at both ends. `trim(s, chars)`:
//!   strips any of the characters of `chars` at both ends (Python's
//!   `strip(chars)`; if `chars` is not UTF-8 its bytes are the set).
//! - `replace(s, old, new)`: every non-overlapping occurrence, left to
//!   right. An empty `old` is a `ValueError`.
//! - `upper(s)`, `lower(s)`: Unicode case mapping of the UTF-8 parts; invalid
//!   bytes are copied unchanged.
//! - `index_of(s, sub)`: position of the first occurrence, counted in
//!   characters like `len` (bytes if `s` is not UTF-8), or `-1`.
//!
//! # Numbers
//! - `int(v)`: int unchanged; float truncated toward zero (nan, inf or out of
//!   range → `ValueError`); `true`/`false` → 1/0; a duration → whole
//!   seconds, truncated; a string: surrounding whitespace ignored, optional
//!   sign, decimal digits, else `ValueError: invalid literal for int(): 'x'`
//!   (out of i64 range: `ValueError: int() value out of range: '...'`).
//!   `int(s, base)` parses in base 2 to 36.
//! - `float(v)`: from int, float, bool, duration (seconds) or string (Rust
//!   and Python accept the same forms: `1`, `-1.5e3`, `.5`, `inf`, `nan`),
//!   else `ValueError: invalid literal for float(): 'x'`.
//! - `abs(x)`: int, float or duration; `abs(i64 min)` → `ValueError: integer
//!   overflow`.
//! - `round(x)`: nearest int, ties to even (Python 3: `round(2.5) == 2`);
//!   returns an int. `round(x, n)`: rounded to `n` decimal digits (`n` may be
//!   negative), same type as `x` (an int stays an int).
//! - `min(a, b, ...)`, `max(a, b, ...)`, or of one list: ints and floats
//!   compare by value (exactly, not through f64), strings byte-wise (code
//!   point order for UTF-8), durations with durations, lists
//!   lexicographically. Other mixes (`1` and `"1"`, bools, null) →
//!   `TypeError: min() cannot compare string and int`. An empty list →
//!   `ValueError`. On ties the first one wins. NaN sorts after every number.
//! - `sum(list)`: ints add exactly (overflow → `ValueError: integer
//!   overflow`); once a float is seen the sum is a float; a list of durations
//!   sums to a duration; `sum([])` is `0`. Anything else (bools, strings) →
//!   `TypeError`.
//! - `range(n)`, `range(a, b)`, `range(a, b, step)`: the list of ints, as
//!   Python. `step == 0` → `ValueError`; more than 100,000,000 elements →
//!   `ValueError`. The list is lazy (`vm::list`): its length, indexing,
//!   truth and `for` loops read the range; its items are made when
//!   something needs them all (`push`, `sorted`, `str`, `list`...).
//!
//! # Lists and maps
//! - `keys(m)`, `values(m)`: new lists, in insertion order.
//! - `list(v)`: a new list of the items of a list (a copy), of a map's
//!   keys, or of a string's characters (its bytes if it is not UTF-8).
//! - `contains(list, x)`: some element `== x` (so `1 == 1.0`).
//!   `contains(map, key)`: `key` is a key; a non-string key is a `TypeError`.
//! - `push(list, v)`: appends in place, returns `null`.
//! - `sorted(list)`: a new, sorted list (stable; same ordering as `min`).
//! - `reversed(list)`: a new list in reverse order.
//! - `index_of(list, x)`: index of the first element `== x`, or `-1`.
//! - `get(map, key[, default])`: `m[key]` or `default` (`null` if omitted)
//!   when the key is missing. `get(list, i[, default])`: `xs[i]`, where a
//!   negative `i` counts from the end, or `default` when out of range.
//!
//! # Others
//! - `type(v)`: `null bool int float string list map duration function
//!   coroutine task error`.
//! - `from_json(s)`: objects → maps in document order (a repeated key keeps
//!   its first position and its last value), integers → int when they fit
//!   i64, else float; invalid text → `ValueError: from_json(): <serde_json
//!   message with line and column>`. Nesting deeper than 128 → `ValueError`.
//! - `to_json(v)`: compact JSON; `to_json(v, true)`: indented by 2 spaces.
//!   Durations become seconds (a float); floats keep a `.0`; nan and inf,
//!   strings or keys that are not UTF-8 → `ValueError`; functions,
//!   coroutines, tasks and errors → `TypeError`. Nesting deeper than 128
//!   (for example a list that contains itself) → `ValueError: to_json():
//!   nesting too deep`.
//! - `now()`: seconds since the Unix epoch, as a float.
//! - `getenv(name)`: the environment variable of the calling task, or
//!   `null`.

mod collections;
mod json;
mod json_doc;
pub use json::from_json_value;
mod numbers;
mod offload;
mod paths;
mod regex;
mod text;
mod time;

#[cfg(test)]
mod tests;

use crate::vm::error::Error;
use crate::vm::objects::{Host, NativeFn, Work};
use crate::vm::value::{Value, type_error};
use crate::vm::walk::{Form, OnCycle};

macro_rules! natives {
    ($($name:literal => $func:path,)*) => {
        &[$(NativeFn {
            name: $name,
            call: $func,
            work: work_of($name),
            off_loop: offload::preparer($name),
            pick: pick_of($name),
        },)*]
    };
}

/// The built-in functions whose work does not grow with the size of their
/// arguments (the others are charged to the slice by size).
const CONSTANT_TIME: &[&str] = &[
    "abs",
    "chan",
    "close",
    "float",
    "get",
    "getenv",
    "int",
    "len",
    "now",
    "push",
    "random",
    "range",
    "release",
    "round",
    "semaphore",
    "type",
];

/// The built-in functions that find an item of their list without making
/// the list (see `NativeFn::pick`).
const fn pick_of(name: &str) -> Option<crate::vm::objects::PickFn> {
    if same(name.as_bytes(), b"split") {
        return Some(text::split_pick);
    }
    None
}

/// How the work of function `name` grows (see `Work`).
const fn work_of(name: &str) -> Work {
    if same(name.as_bytes(), b"_sort") {
        return Work::Sort;
    }
    let mut i = 0;
    while i < CONSTANT_TIME.len() {
        if same(CONSTANT_TIME[i].as_bytes(), name.as_bytes()) {
            return Work::Constant;
        }
        i += 1;
    }
    Work::Linear
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Every built-in function, sorted by name (a test checks the order).
pub static FUNCTIONS: &[NativeFn] = natives! {
    "_sort" => collections::sort_keyed,
    "abs" => numbers::abs,
    "abspath" => paths::abspath,
    "basename" => paths::basename,
    "chan" => chan,
    "close" => close,
    "contains" => collections::contains,
    "dirname" => paths::dirname,
    "ends_with" => text::ends_with,
    "enumerate" => collections::enumerate,
    "ext" => paths::ext,
    "find_all" => regex::find_all,
    "float" => numbers::float,
    "format" => text::format,
    "from_json" => json::from_json,
    "get" => collections::get,
    "getenv" => getenv,
    "index_of" => collections::index_of,
    "int" => numbers::int,
    "items" => collections::items,
    "join" => text::join,
    "join_path" => paths::join_path,
    "keys" => collections::keys,
    "len" => collections::len,
    "lines" => text::lines,
    "list" => collections::list,
    "lower" => text::lower,
    "match" => regex::match_,
    "matches" => regex::matches,
    "max" => numbers::max,
    "min" => numbers::min,
    "now" => now,
    "pad_left" => text::pad_left,
    "pad_right" => text::pad_right,
    "push" => collections::push,
    "random" => random,
    "range" => numbers::range,
    "release" => release,
    "remove" => collections::remove,
    "repeat" => text::repeat,
    "replace" => text::replace,
    "reversed" => collections::reversed,
    "round" => numbers::round,
    "semaphore" => semaphore,
    "split" => text::split,
    "split_re" => regex::split_re,
    "starts_with" => text::starts_with,
    "stem" => paths::stem,
    "str" => str_,
    "strftime" => time::strftime,
    "strptime" => time::strptime,
    "sub" => regex::sub,
    "sum" => numbers::sum,
    "to_json" => json::to_json,
    "trim" => text::trim,
    "type" => type_,
    "upper" => text::upper,
    "values" => collections::values,
    "zip" => collections::zip,
};

/// `random()`: a float in [0, 1); `random(a, b)`: an int from a to b
/// inclusive (Python's `random.random` and `random.randint`). Not for
/// secrets.
fn random(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    match args {
        [] => Ok(Value::Float(fastrand::f64())),
        [Value::Int(a), Value::Int(b)] if a <= b => Ok(Value::Int(fastrand::i64(*a..=*b))),
        [Value::Int(_), Value::Int(_)] => Err(Error::value("random(a, b) needs a <= b")),
        [a, b] => Err(Error::type_err(format!(
            "random() expects two ints, got {} and {}",
            a.type_name(),
            b.type_name()
        ))),
        _ => Err(Error::type_err(format!(
            "random() takes 0 or 2 arguments ({} given)",
            args.len()
        ))),
    }
}

// Channels and semaphores live in the runtime (their waiting side suspends
// the task: `send`, `recv`, `acquire` are in `runtime::sync::SUSPENDING`).
fn chan(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    crate::runtime::sync::chan(args)
}

fn close(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    crate::runtime::sync::close(args)
}

fn semaphore(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    crate::runtime::sync::semaphore(args)
}

fn release(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    crate::runtime::sync::release(args)
}

/// Look a built-in function up by name.
pub fn lookup(name: &str) -> Option<&'static NativeFn> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

/// Haystacks up to this many bytes (a line) are searched without
/// `memmem`'s finder.
const SHORT_HAYSTACK: usize = 256;

/// Where `needle` first occurs in `hay` (byte-wise; the empty needle at 0).
/// A short haystack is searched from each place the needle's first byte
/// occurs: building `memmem`'s SIMD finder cost more than searching a
/// line (10% of W10's `contains` loop was the finder's set-up).
fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    if hay.len() > SHORT_HAYSTACK {
        return memchr::memmem::find(hay, needle);
    }
    memchr::memchr_iter(first, hay).find(|&at| hay[at + 1..].starts_with(rest))
}

/// Checks the number of arguments: `TypeError: len() takes 1 argument (2
/// given)`. The check inlined, the message not: W12 calls two built-ins a
/// line, and each paid a call to find its count right.
#[inline]
fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), Error> {
    let n = args.len();
    if (min..=max).contains(&n) {
        return Ok(());
    }
    Err(arity_error(name, n, min, max))
}

#[cold]
#[inline(never)]
fn arity_error(name: &str, n: usize, min: usize, max: usize) -> Error {
    let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
    let takes = if min == max {
        format!("{min} {}", plural(min))
    } else if max == usize::MAX {
        format!("at least {min} {}", plural(min))
    } else if max == min + 1 {
        format!("{min} or {max} {}", plural(max))
    } else {
        format!("{min} to {max} {}", plural(max))
    };
    Error::type_err(format!("{name}() takes {takes} ({n} given)"))
}

/// `TypeError: NAME() expects EXPECTED, got TYPE`.
#[cold]
#[inline(never)]
fn wrong_type(name: &str, expected: &str, got: &Value) -> Error {
    type_error(&format!("{name}()"), expected, got)
}

/// The string argument `v` of `name`, or a `TypeError`.
#[inline]
fn want_str<'a>(name: &str, expected: &str, v: &'a Value) -> Result<&'a [u8], Error> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(wrong_type(name, expected, other)),
    }
}

/// The int argument `v` of `name`, or a `TypeError`.
fn want_int(name: &str, expected: &str, v: &Value) -> Result<i64, Error> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(wrong_type(name, expected, other)),
    }
}

fn overflow() -> Error {
    Error::value("integer overflow")
}

/// Appends the bytes of `v` as `Value::to_bytes` gives them; a list or
/// map that contains itself is a `ValueError` naming the function.
fn stringify(name: &str, v: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
    crate::vm::walk::write(v, Form::Text, OnCycle::Fail, out)
        .map_err(|e| Error::value(format!("{name}(): {}", e.message)))
}

fn str_(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("str", args, 1, 1)?;
    Ok(match &args[0] {
        s @ Value::Str(_) => s.clone(),
        other => {
            let mut out = Vec::new();
            stringify("str", other, &mut out)?;
            Value::from(out)
        }
    })
}

fn type_(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("type", args, 1, 1)?;
    Ok(Value::str(args[0].type_name()))
}

fn now(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("now", args, 0, 0)?;
    use std::time::{SystemTime, UNIX_EPOCH};
    let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    Ok(Value::Float(secs))
}

fn getenv(host: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("getenv", args, 1, 1)?;
    let name = want_str("getenv", "a string", &args[0])?;
    Ok(host.getenv(name).map_or(Value::Null, Value::from))
}
