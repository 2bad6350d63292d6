//! Numeric functions: `int float abs round min max sum range`, and the
//! ordering that `min`, `max` and `sorted` share.

use std::cmp::Ordering;

use bstr::ByteSlice;

use super::{arity, overflow, want_int, wrong_type};
use crate::vm::error::{Error, ErrorKind};
use crate::vm::objects::Host;
use crate::vm::value::Value;

/// The longest list `range` builds.
pub(super) const RANGE_LIMIT: i128 = 100_000_000;

fn float_to_int(name: &str, f: f64) -> Result<i64, Error> {
    // i64::MIN is -2^63 exactly; 2^63 itself is out of range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || f.is_infinite() {
        return Err(Error::value(format!(
            "{name}(): cannot convert float {} to int",
            crate::vm::value::format_float(f)
        )));
    }
    let t = f.trunc();
    if !(-LIMIT..LIMIT).contains(&t) {
        return Err(Error::value(format!(
            "{name}(): {t:e} is out of the int range"
        )));
    }
    Ok(t as i64)
}

fn quoted(s: &[u8]) -> String {
    format!("'{}'", s.to_str_lossy())
}

pub(super) fn int(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("int", args, 1, 2)?;
    if let Some(base) = args.get(1) {
        let base = want_int("int", "an int as the base", base)?;
        let Value::Str(s) = &args[0] else {
            return Err(wrong_type("int", "a string when a base is given", &args[0]));
        };
        let base = u32::try_from(base)
            .ok()
            .filter(|b| (2..=36).contains(b))
            .ok_or_else(|| Error::value("int(): base must be between 2 and 36"))?;
        return parse_int(s, base).map(Value::Int);
    }
    Ok(Value::Int(match &args[0] {
        Value::Int(i) => *i,
        Value::Float(f) | Value::Duration(f) => float_to_int("int", *f)?,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_int(s, 10)?,
        other => {
            return Err(wrong_type(
                "int",
                "a number, bool, duration or string",
                other,
            ));
        }
    }))
}

fn parse_int(s: &[u8], base: u32) -> Result<i64, Error> {
    use std::num::IntErrorKind;
    let invalid = || Error::value(format!("invalid literal for int(): {}", quoted(s)));
    let text = std::str::from_utf8(s.trim()).map_err(|_| invalid())?;
    // `from_str_radix` takes one optional sign then digits only, and
    // reports overflow apart from bad digits.
    i64::from_str_radix(text, base).map_err(|e| match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
            Error::value(format!("int() value out of range: {}", quoted(s)))
        }
        _ => invalid(),
    })
}

pub(super) fn float(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("float", args, 1, 1)?;
    Ok(Value::Float(match &args[0] {
        Value::Int(i) => *i as f64,
        Value::Float(f) | Value::Duration(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => {
            let invalid = || Error::value(format!("invalid literal for float(): {}", quoted(s)));
            let text = std::str::from_utf8(s.trim()).map_err(|_| invalid())?;
            text.parse::<f64>().map_err(|_| invalid())?
        }
        other => {
            return Err(wrong_type(
                "float",
                "a number, bool, duration or string",
                other,
            ));
        }
    }))
}

pub(super) fn abs(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("abs", args, 1, 1)?;
    Ok(match &args[0] {
        Value::Int(i) => Value::Int(i.checked_abs().ok_or_else(overflow)?),
        Value::Float(f) => Value::Float(f.abs()),
        Value::Duration(d) => Value::Duration(d.abs()),
        other => return Err(wrong_type("abs", "a number or duration", other)),
    })
}

pub(super) fn round(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("round", args, 1, 2)?;
    let digits = match args.get(1) {
        None => None,
        Some(n) => Some(want_int("round", "an int as the number of digits", n)?),
    };
    match (&args[0], digits) {
        (Value::Int(i), None) => Ok(Value::Int(*i)),
        (Value::Int(i), Some(n)) => round_int(*i, n).map(Value::Int),
        (Value::Float(f), None) => float_to_int("round", f.round_ties_even()).map(Value::Int),
        (Value::Float(f), Some(n)) => Ok(Value::Float(round_float(*f, n))),
        (other, _) => Err(wrong_type("round", "a number", other)),
    }
}

/// `round(i, n)` for an int: unchanged if `n >= 0`, else to a multiple of
/// `10^-n`, ties to even.
fn round_int(i: i64, n: i64) -> Result<i64, Error> {
    if n >= 0 {
        return Ok(i);
    }
    let Some(unit) = u32::try_from(-n).ok().and_then(|e| 10i128.checked_pow(e)) else {
        return Ok(0);
    };
    let i = i128::from(i);
    let (q, r) = (i.div_euclid(unit), i.rem_euclid(unit));
    let q = match (2 * r).cmp(&unit) {
        Ordering::Less => q,
        Ordering::Greater => q + 1,
        Ordering::Equal => q + (q & 1),
    };
    i64::try_from(q * unit).map_err(|_| overflow())
}

/// `round(f, n)` for a float: correctly rounded through decimal formatting
/// (which rounds the exact binary value, ties to even, like Python).
fn round_float(f: f64, n: i64) -> f64 {
    if !f.is_finite() || n > 340 {
        return f;
    }
    if n >= 0 {
        let text = format!("{f:.0$}", n as usize);
        return text.parse().unwrap_or(f);
    }
    if n < -340 {
        return 0.0 * f.signum();
    }
    let unit = 10f64.powi(-n as i32);
    let r = (f / unit).round_ties_even() * unit;
    if r.is_finite() { r } else { f }
}

/// Compares ints and floats exactly.
pub(super) fn cmp_int_float(i: i64, f: f64) -> Ordering {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        return Ordering::Less; // NaN sorts after every number.
    }
    if f >= LIMIT {
        return Ordering::Less;
    }
    if f < -LIMIT {
        return Ordering::Greater;
    }
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - t)).unwrap_or(Ordering::Equal),
        other => other,
    }
}

/// Floats in a total order: NaN after everything, equal to itself.
pub(super) fn cmp_floats(a: f64, b: f64) -> Ordering {
    match a.partial_cmp(&b) {
        Some(o) => o,
        None => a.is_nan().cmp(&b.is_nan()),
    }
}

/// The ordering of `min`, `max` and `sorted`: lists lexicographically, at
/// any depth (`walk`; a comparison that cannot end is a `ValueError`).
pub(super) fn compare(name: &str, a: &Value, b: &Value) -> Result<Ordering, Error> {
    let mut leaf = |a: &Value, b: &Value| compare_leaf(name, a, b);
    match (a, b) {
        (Value::List(_), Value::List(_)) => {
            crate::vm::walk::compare(a, b, &mut leaf).map_err(|e| match e.kind {
                ErrorKind::Value => Error::value(format!("{name}(): {}", e.message)),
                _ => e,
            })
        }
        _ => leaf(a, b),
    }
}

/// [`compare`] on anything but two lists.
fn compare_leaf(name: &str, a: &Value, b: &Value) -> Result<Ordering, Error> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) | (Value::Duration(x), Value::Duration(y)) => {
            cmp_floats(*x, *y)
        }
        (Value::Int(x), Value::Float(y)) => cmp_int_float(*x, *y),
        (Value::Float(x), Value::Int(y)) => cmp_int_float(*y, *x).reverse(),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ => {
            return Err(Error::type_err(format!(
                "{name}() cannot compare {} and {}",
                a.type_name(),
                b.type_name()
            )));
        }
    })
}

/// The values `min` and `max` choose from: their arguments, or the elements
/// of their one list argument.
fn candidates(name: &str, args: &[Value]) -> Result<Vec<Value>, Error> {
    arity(name, args, 1, usize::MAX)?;
    let items = match args {
        [Value::List(l)] => l.borrow().clone(),
        [other] => {
            return Err(wrong_type(name, "a list or at least 2 arguments", other));
        }
        _ => args.to_vec(),
    };
    if items.is_empty() {
        return Err(Error::value(format!("{name}() of an empty list")));
    }
    Ok(items)
}

/// The first of `items` that no other is `better` than.
fn pick(name: &str, args: &[Value], better: Ordering) -> Result<Value, Error> {
    let items = candidates(name, args)?;
    let mut best = &items[0];
    for v in &items[1..] {
        if compare(name, v, best)? == better {
            best = v;
        }
    }
    Ok(best.clone())
}

pub(super) fn min(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    pick("min", args, Ordering::Less)
}

pub(super) fn max(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    pick("max", args, Ordering::Greater)
}

pub(super) fn sum(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("sum", args, 1, 1)?;
    let items = match &args[0] {
        Value::List(l) => l.borrow().clone(),
        other => return Err(wrong_type("sum", "a list", other)),
    };
    let not_number = |v: &Value| {
        Error::type_err(format!(
            "sum() expects a list of numbers or durations, got a {} element",
            v.type_name()
        ))
    };
    let mut total = Value::Int(0);
    for (i, v) in items.iter().enumerate() {
        total = match (&total, v) {
            (Value::Int(a), Value::Int(b)) => Value::Int(a.checked_add(*b).ok_or_else(overflow)?),
            (Value::Int(a), Value::Float(b)) => Value::Float(*a as f64 + b),
            (Value::Float(a), Value::Int(b)) => Value::Float(a + *b as f64),
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            (Value::Int(0), Value::Duration(d)) if i == 0 => Value::Duration(*d),
            (Value::Duration(a), Value::Duration(b)) => Value::Duration(a + b),
            (Value::Duration(_), Value::Int(_) | Value::Float(_))
            | (Value::Int(_) | Value::Float(_), Value::Duration(_)) => {
                return Err(Error::type_err("sum() cannot add durations and numbers"));
            }
            _ => return Err(not_number(v)),
        };
    }
    Ok(total)
}

pub(super) fn range(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("range", args, 1, 3)?;
    let mut ints = [0i64; 3];
    for (slot, v) in ints.iter_mut().zip(args) {
        *slot = want_int("range", "int arguments", v)?;
    }
    let (start, stop, step) = match args.len() {
        1 => (0, ints[0], 1),
        2 => (ints[0], ints[1], 1),
        _ => (ints[0], ints[1], ints[2]),
    };
    if step == 0 {
        return Err(Error::value("range(): step must not be zero"));
    }
    let (start, stop, step) = (i128::from(start), i128::from(stop), i128::from(step));
    let count = if step > 0 {
        (stop - start + step - 1).div_euclid(step)
    } else {
        (start - stop - step - 1).div_euclid(-step)
    }
    .max(0);
    if count > RANGE_LIMIT {
        return Err(Error::value(format!(
            "range(): too many elements ({count}; the limit is {RANGE_LIMIT})"
        )));
    }
    // Every item fits an i64: the first is `start`, and the last lies
    // between it and `stop`.
    let (Ok(start), Ok(step), Ok(len)) = (
        i64::try_from(start),
        i64::try_from(step),
        usize::try_from(count),
    ) else {
        return Err(overflow());
    };
    // Lazy: its items are made only when something needs them all.
    Ok(Value::List(std::rc::Rc::new(
        crate::vm::list::ListCell::lazy(crate::vm::list::Range { start, step, len }),
    )))
}
