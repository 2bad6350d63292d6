//! Operators on values: arithmetic, comparison, indexing.

use std::cmp::Ordering;
use std::rc::Rc;

use crate::ast::{BinaryOp, UnaryOp};

use super::error::{Error as AshError, ErrorKind};
type Error = AshError;
use super::chars;
use super::value::Value;

fn overflow() -> Error {
    AshError::value("integer overflow")
}

fn bad_operands(op: &str, a: &Value, b: &Value) -> Error {
    AshError::type_err(format!(
        "unsupported operand types for {op}: {} and {}",
        a.type_name(),
        b.type_name()
    ))
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

pub fn unary(op: UnaryOp, v: &Value) -> Result<Value, Error> {
    match (op, v) {
        (UnaryOp::Not, v) => Ok(Value::Bool(!v.truthy())),
        (UnaryOp::Neg, Value::Int(i)) => i.checked_neg().map(Value::Int).ok_or_else(overflow),
        (UnaryOp::Neg, Value::Float(f)) => Ok(Value::Float(-f)),
        (UnaryOp::Neg, Value::Duration(d)) => Ok(Value::Duration(-d)),
        (UnaryOp::Neg, v) => Err(AshError::type_err(format!(
            "bad operand type for unary -: {}",
            v.type_name()
        ))),
    }
}

/// Whether `a op b` is a repetition [`long_repeat`] makes.
pub fn long_repeat_of(op: BinaryOp, a: &Value, b: &Value) -> bool {
    long_repeat_args(op, a, b).is_some()
}

/// The string, count and length of a long repetition.
fn long_repeat_args<'v>(
    op: BinaryOp,
    a: &'v Value,
    b: &'v Value,
) -> Option<(&'v super::value::Str, usize, usize)> {
    if op != BinaryOp::Mul {
        return None;
    }
    let ((Value::Str(s), Value::Int(n)) | (Value::Int(n), Value::Str(s))) = (a, b) else {
        return None;
    };
    let n = usize::try_from(*n).ok()?;
    let total = s.len().checked_mul(n)?;
    (LONG_REPEAT..=MAX_REPEAT)
        .contains(&total)
        .then_some((s, n, total))
}

/// The longest string `s * n` makes.
const MAX_REPEAT: usize = 1 << 30;
/// `s * n` longer than this is made a piece at a time ([`long_repeat`]).
const LONG_REPEAT: usize = 256 * 1024;

/// `s * n` (or `n * s`) whose result is long (about a millisecond of work
/// and more): made a block of about 64 KiB at a time, each charged to the
/// task's slice, yielding to the loop when the slice is over, so timers and
/// signals go on meanwhile. `None` for everything else (`binary` does it).
pub fn long_repeat(
    op: BinaryOp,
    a: &Value,
    b: &Value,
) -> Option<impl std::future::Future<Output = Result<Value, Error>> + 'static> {
    let (s, n, total) = long_repeat_args(op, a, b)?;
    let s = s.clone();
    Some(async move {
        let block = s.repeat((64 * 1024 / s.len()).clamp(1, n));
        let mut out = Vec::with_capacity(total);
        while out.len() + block.len() <= total {
            out.extend_from_slice(&block);
            super::budget::charge(super::budget::for_copy(block.len()));
            if super::budget::over() {
                futures_lite::future::yield_now().await;
            }
        }
        while out.len() < total {
            out.extend_from_slice(&s);
        }
        Ok(Value::Str(crate::vm::string::Str::from(out)))
    })
}

pub fn binary(op: BinaryOp, a: &Value, b: &Value) -> Result<Value, Error> {
    use Value::*;
    match op {
        BinaryOp::Add => match (a, b) {
            (Int(x), Int(y)) => x.checked_add(*y).map(Int).ok_or_else(overflow),
            (Str(x), Str(y)) => {
                let mut out = Vec::with_capacity(x.len() + y.len());
                out.extend_from_slice(x);
                out.extend_from_slice(y);
                Ok(Value::Str(crate::vm::string::Str::from(out)))
            }
            (List(x), List(y)) => {
                let mut out = x.borrow().clone();
                out.extend(y.borrow().iter().cloned());
                Ok(Value::list(out))
            }
            (Duration(x), Duration(y)) => Ok(Duration(x + y)),
            _ => float_op("+", a, b, |x, y| x + y),
        },
        BinaryOp::Sub => match (a, b) {
            (Int(x), Int(y)) => x.checked_sub(*y).map(Int).ok_or_else(overflow),
            (Duration(x), Duration(y)) => Ok(Duration(x - y)),
            _ => float_op("-", a, b, |x, y| x - y),
        },
        BinaryOp::Mul => match (a, b) {
            (Int(x), Int(y)) => x.checked_mul(*y).map(Int).ok_or_else(overflow),
            (Duration(d), n) | (n, Duration(d)) if as_f64(n).is_some() => {
                Ok(Duration(d * as_f64(n).unwrap_or(0.0)))
            }
            (Str(s), Int(n)) | (Int(n), Str(s)) => {
                let n = usize::try_from(*n).unwrap_or(0);
                if s.len().saturating_mul(n) > MAX_REPEAT {
                    return Err(AshError::value("string repetition too large"));
                }
                Ok(Value::Str(crate::vm::string::Str::from(s.repeat(n))))
            }
            _ => float_op("*", a, b, |x, y| x * y),
        },
        BinaryOp::Div => match (a, b) {
            (Duration(d), n) if as_f64(n).is_some() => {
                let n = as_f64(n).unwrap_or(0.0);
                if n == 0.0 {
                    return Err(AshError::value("division by zero"));
                }
                Ok(Duration(d / n))
            }
            (Duration(x), Duration(y)) => {
                if *y == 0.0 {
                    return Err(AshError::value("division by zero"));
                }
                Ok(Float(x / y))
            }
            _ => {
                let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) else {
                    return Err(bad_operands("/", a, b));
                };
                if y == 0.0 {
                    return Err(AshError::value("division by zero"));
                }
                Ok(Float(x / y))
            }
        },
        // `%` and `//` as Python: the remainder has the divisor's sign, the
        // quotient is floored, and `(a // b) * b + a % b == a`.
        BinaryOp::Rem => match (a, b) {
            (Int(_), Int(0)) => Err(AshError::value("division by zero")),
            (Int(x), Int(y)) => {
                let r = x.checked_rem(*y).ok_or_else(overflow)?;
                Ok(Int(if r != 0 && (r < 0) != (*y < 0) {
                    r + y
                } else {
                    r
                }))
            }
            _ => {
                let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) else {
                    return Err(bad_operands("%", a, b));
                };
                if y == 0.0 {
                    return Err(AshError::value("division by zero"));
                }
                let r = x % y;
                Ok(Float(if r != 0.0 && (r < 0.0) != (y < 0.0) {
                    r + y
                } else {
                    r
                }))
            }
        },
        BinaryOp::FloorDiv => match (a, b) {
            (Int(_), Int(0)) => Err(AshError::value("division by zero")),
            (Int(x), Int(y)) => {
                let q = x.checked_div(*y).ok_or_else(overflow)?;
                Ok(Int(if x % y != 0 && (*x < 0) != (*y < 0) {
                    q - 1
                } else {
                    q
                }))
            }
            _ => {
                let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) else {
                    return Err(bad_operands("//", a, b));
                };
                if y == 0.0 {
                    return Err(AshError::value("division by zero"));
                }
                Ok(Float((x / y).floor()))
            }
        },
        BinaryOp::Pow => match (a, b) {
            (Int(x), Int(y)) if *y >= 0 => {
                let e = u32::try_from(*y).map_err(|_| overflow())?;
                x.checked_pow(e).map(Int).ok_or_else(overflow)
            }
            (Int(0), Int(_)) => Err(AshError::value("0 cannot be raised to a negative power")),
            _ => float_op("**", a, b, libm::pow),
        },
        BinaryOp::Eq => Ok(Bool(a.equals(b)?)),
        BinaryOp::Ne => Ok(Bool(!a.equals(b)?)),
        BinaryOp::Lt => Ok(Bool(compare(a, b)? == Ordering::Less)),
        BinaryOp::Le => Ok(Bool(compare(a, b)? != Ordering::Greater)),
        BinaryOp::Gt => Ok(Bool(compare(a, b)? == Ordering::Greater)),
        BinaryOp::Ge => Ok(Bool(compare(a, b)? != Ordering::Less)),
        // Short-circuit forms are compiled to jumps.
        BinaryOp::And => Ok(if a.truthy() { b.clone() } else { a.clone() }),
        BinaryOp::Or => Ok(if a.truthy() { a.clone() } else { b.clone() }),
    }
}

fn float_op(name: &str, a: &Value, b: &Value, f: fn(f64, f64) -> f64) -> Result<Value, Error> {
    match (as_f64(a), as_f64(b)) {
        (Some(x), Some(y)) => Ok(Value::Float(f(x, y))),
        _ => Err(bad_operands(name, a, b)),
    }
}

/// An int and a float compared exactly (not through `as f64`, which
/// rounds ints past 2^53); `None` when the float is NaN.
pub fn int_float_cmp(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // 2^63 as a float: every float at or past it is beyond every i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f >= LIMIT {
        return Some(Ordering::Less);
    }
    if f < -LIMIT {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    // `t` is integral and within i64's range here.
    match i.cmp(&(t as i64)) {
        Ordering::Equal if f > t => Some(Ordering::Less),
        Ordering::Equal if f < t => Some(Ordering::Greater),
        o => Some(o),
    }
}

/// Ordering for `< <= > >=` and sorting: numbers with numbers, strings
/// bytewise, durations, and lists element by element (any depth: `walk`).
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, Error> {
    match (a, b) {
        (Value::List(_), Value::List(_)) => super::walk::compare(a, b, &mut compare_leaf),
        _ => compare_leaf(a, b),
    }
}

/// [`compare`] on anything but two lists.
fn compare_leaf(a: &Value, b: &Value) -> Result<Ordering, Error> {
    use Value::*;
    let nan = || AshError::value("cannot compare NaN");
    match (a, b) {
        (Int(x), Int(y)) => Ok(x.cmp(y)),
        (Int(x), Float(y)) => int_float_cmp(*x, *y).ok_or_else(nan),
        (Float(x), Int(y)) => int_float_cmp(*y, *x).map(Ordering::reverse).ok_or_else(nan),
        (Str(x), Str(y)) => Ok(x.cmp(y)),
        (Duration(x), Duration(y)) => x
            .partial_cmp(y)
            .ok_or_else(|| AshError::value("cannot compare NaN")),
        _ => match (as_f64(a), as_f64(b)) {
            (Some(x), Some(y)) => x
                .partial_cmp(&y)
                .ok_or_else(|| AshError::value("cannot compare NaN")),
            _ => Err(AshError::type_err(format!(
                "cannot compare {} with {}",
                a.type_name(),
                b.type_name()
            ))),
        },
    }
}

/// A list index that may be negative (from the end).
fn list_index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// The `IndexError` of `xs[i]` for a list of `len` items.
#[cold]
pub fn list_index_error(i: i64, len: usize) -> Error {
    AshError::new(
        ErrorKind::Index,
        format!("list index {i} out of range (length {len})"),
    )
}

/// `c[k]`
pub fn index(c: &Value, k: &Value) -> Result<Value, Error> {
    match (c, k) {
        (Value::List(l), Value::Int(i)) => list_index(l.len(), *i)
            .and_then(|i| l.get(i))
            .ok_or_else(|| list_index_error(*i, l.len())),
        (Value::Map(m), Value::Str(s)) => m.lookup(s).ok_or_else(|| {
            AshError::new(
                ErrorKind::Key,
                format!("no key {}", Value::Str(s.clone()).repr()),
            )
        }),
        (Value::Str(s), Value::Int(i)) => {
            // By character when the string is UTF-8 (as `len` counts).
            let n = chars::char_len(s);
            list_index(n, *i)
                .map(|k| Value::str(chars::char_slice(s, k, k + 1)))
                .ok_or_else(|| {
                    AshError::new(
                        ErrorKind::Index,
                        format!("string index {i} out of range (length {n})"),
                    )
                })
        }
        (Value::Error(e), Value::Str(s)) => error_field(e, s),
        _ => Err(AshError::type_err(format!(
            "cannot index {} with {}",
            c.type_name(),
            k.type_name()
        ))),
    }
}

/// A slice bound: an int, or null for "omitted".
fn bound(v: &Value, what: &str) -> Result<Option<i64>, Error> {
    match v {
        Value::Null => Ok(None),
        Value::Int(i) => Ok(Some(*i)),
        other => Err(AshError::type_err(format!(
            "a slice {what} must be an int, got {}",
            other.type_name()
        ))),
    }
}

/// The positions `c[start:end:step]` takes from a sequence of `len`, as
/// Python: negative bounds count from the end, bounds out of range are
/// clamped, so the result is empty rather than an error.
fn slice_positions(len: usize, start: Option<i64>, end: Option<i64>, step: i64) -> (i64, i64, i64) {
    let len = len as i64;
    let clamp = |v: Option<i64>, default: i64| -> i64 {
        match v {
            None => default,
            Some(v) if v < 0 => {
                let v = v.saturating_add(len);
                if v < 0 {
                    if step < 0 { -1 } else { 0 }
                } else {
                    v
                }
            }
            Some(v) if v >= len => {
                if step < 0 {
                    len - 1
                } else {
                    len
                }
            }
            Some(v) => v,
        }
    };
    if step > 0 {
        (clamp(start, 0), clamp(end, len), step)
    } else {
        (clamp(start, len - 1), clamp(end, -1), step)
    }
}

/// `c[start:end]` / `c[start:end:step]` on a list or a string (strings by
/// character).
pub fn slice(c: &Value, start: &Value, end: &Value, step: Option<&Value>) -> Result<Value, Error> {
    let start = bound(start, "start")?;
    let end = bound(end, "end")?;
    let step = match step {
        None => 1,
        Some(v) => bound(v, "step")?.unwrap_or(1),
    };
    if step == 0 {
        return Err(AshError::value("slice step cannot be zero"));
    }
    let len = match c {
        Value::List(l) => l.len(),
        Value::Str(s) => chars::char_len(s),
        other => {
            return Err(AshError::type_err(format!(
                "cannot slice {}",
                other.type_name()
            )));
        }
    };
    let (a, b, st) = slice_positions(len, start, end, step);
    let positions = move || {
        let mut i = a;
        std::iter::from_fn(move || {
            let more = if st > 0 { i < b } else { i > b };
            if !more {
                return None;
            }
            let here = i as usize;
            i += st;
            Some(here)
        })
    };
    match c {
        Value::List(l) => {
            let l = l.borrow();
            if st == 1 {
                let (a, b) = (a as usize, (b.max(a)) as usize);
                return Ok(Value::list(l[a..b].to_vec()));
            }
            Ok(Value::list(positions().map(|i| l[i].clone()).collect()))
        }
        Value::Str(s) => {
            if st == 1 {
                return Ok(Value::str(chars::char_slice(
                    s,
                    a as usize,
                    b.max(a) as usize,
                )));
            }
            Ok(Value::from(chars::chars_at(s, positions())))
        }
        _ => Ok(Value::Null),
    }
}

/// `[a, b, ...rest] = v`: the items, in order, for the pattern's names.
pub fn unpack(v: &Value, before: usize, rest: bool, after: usize) -> Result<Vec<Value>, Error> {
    let Value::List(l) = v else {
        return Err(AshError::type_err(format!(
            "cannot unpack {} (a list pattern needs a list)",
            v.type_name()
        )));
    };
    let items = l.borrow();
    let fixed = before + after;
    let n = items.len();
    if (!rest && n != fixed) || (rest && n < fixed) {
        let want = if rest {
            format!("at least {fixed}")
        } else {
            fixed.to_string()
        };
        return Err(AshError::value(format!(
            "cannot unpack a list of {n} into {want} names"
        )));
    }
    let mut out = Vec::with_capacity(fixed + usize::from(rest));
    out.extend(items[..before].iter().cloned());
    if rest {
        out.push(Value::list(items[before..n - after].to_vec()));
    }
    out.extend(items[n - after..].iter().cloned());
    Ok(out)
}

/// `a += b`: a list is extended in place (as Python's `+=`, so other names
/// for the list see it); anything else is `a + b`.
pub fn add_in_place(a: Value, b: &Value) -> Result<Value, Error> {
    if let (Value::List(x), Value::List(y)) = (&a, b) {
        if Rc::ptr_eq(x, y) {
            let copy = y.borrow().clone();
            x.borrow_mut().extend(copy);
        } else {
            x.borrow_mut().extend(y.borrow().iter().cloned());
        }
        return Ok(a);
    }
    binary(BinaryOp::Add, &a, b)
}

/// `c[k] = v`
pub fn set_index(c: &Value, k: &Value, v: Value) -> Result<(), Error> {
    match (c, k) {
        (Value::List(l), Value::Int(i)) => {
            let mut l = l.borrow_mut();
            let len = l.len();
            match list_index(len, *i) {
                Some(i) => {
                    l[i] = v;
                    Ok(())
                }
                None => Err(AshError::new(
                    ErrorKind::Index,
                    format!("list index {i} out of range (length {len})"),
                )),
            }
        }
        (Value::Map(cell), Value::Str(s)) => {
            let mut m = cell.borrow_mut();
            match cell.index_of(&m, s) {
                Some(at) => m[at] = v,
                // A new key: a piece of a big text is copied, not kept with it.
                None => {
                    m.insert(s.clone().compact(), v);
                }
            }
            Ok(())
        }
        _ => Err(AshError::type_err(format!(
            "cannot assign into {} with a {} index",
            c.type_name(),
            k.type_name()
        ))),
    }
}

/// `unset m.k`, `unset m[k]`, `unset xs[i]`: the key or the item (negative
/// from the end) taken out; a missing one is no error, as `unset NAME` of
/// a name that is not set.
pub fn remove(c: &Value, k: &Value) -> Result<(), Error> {
    match (c, k) {
        (Value::Map(m), Value::Str(s)) => {
            m.borrow_mut().shift_remove(s);
            Ok(())
        }
        (Value::List(l), Value::Int(i)) => {
            let mut l = l.borrow_mut();
            if let Some(i) = list_index(l.len(), *i) {
                l.remove(i);
            }
            Ok(())
        }
        (Value::Map(_), k) => Err(AshError::type_err(format!(
            "unset: a map key is a string, not {}",
            k.type_name()
        ))),
        (Value::List(_), k) => Err(AshError::type_err(format!(
            "unset: a list index is an int, not {}",
            k.type_name()
        ))),
        (c, _) => Err(AshError::type_err(format!(
            "unset: cannot remove an item from {} (only from a map or a list)",
            c.type_name()
        ))),
    }
}

/// `v.name`: map fields, and the fields of errors and tasks.
pub fn field(v: &Value, name: &[u8]) -> Result<Value, Error> {
    match v {
        Value::Map(m) => m.borrow().get(name).cloned().ok_or_else(|| {
            AshError::new(
                ErrorKind::Key,
                format!("no key {}", Value::str(name).repr()),
            )
        }),
        Value::Error(e) => error_field(e, name),
        // A regex match: a list with its named groups (`m.named`).
        Value::List(l) if name == b"named" => l.named().map(Value::Map).ok_or_else(|| {
            AshError::type_err("list has no field \"named\" (only a match() has one)")
        }),
        Value::Task(t) => match name {
            b"id" => Ok(Value::Int(t.id() as i64)),
            b"state" => Ok(Value::str(t.state_name())),
            _ => Err(AshError::new(
                ErrorKind::Key,
                format!("a task has no field {:?}", String::from_utf8_lossy(name)),
            )),
        },
        _ => Err(AshError::type_err(format!(
            "{} has no field {:?}",
            v.type_name(),
            String::from_utf8_lossy(name)
        ))),
    }
}

fn error_field(e: &Rc<Error>, name: &[u8]) -> Result<Value, Error> {
    Ok(match name {
        b"kind" => Value::str(e.kind.name()),
        b"message" => Value::str(&e.message),
        b"status" => e.status.map_or(Value::Null, |s| Value::Int(s as i64)),
        b"command" => e.command.as_ref().map_or(Value::Null, Value::str),
        b"argv" => match e.command {
            Some(_) => Value::list(e.argv.iter().map(Value::str).collect()),
            None => Value::Null,
        },
        b"line" | b"file" => {
            let loc = e.location.borrow();
            match (loc.as_ref(), name) {
                (Some(l), b"line") => Value::Int(crate::diag::line_col(l).0 as i64),
                (Some(l), _) => Value::str(crate::diag::source_name(l.source)),
                (None, _) => Value::Null,
            }
        }
        _ => {
            return Err(AshError::new(
                ErrorKind::Key,
                format!("an error has no field {:?}", String::from_utf8_lossy(name)),
            ));
        }
    })
}

/// `m.name = v`
pub fn set_field(m: &Value, name: &[u8], v: Value) -> Result<(), Error> {
    match m {
        Value::Map(m) => {
            m.borrow_mut().insert(crate::vm::string::Str::from(name), v);
            Ok(())
        }
        _ => Err(AshError::type_err(format!(
            "cannot set a field on {}",
            m.type_name()
        ))),
    }
}
