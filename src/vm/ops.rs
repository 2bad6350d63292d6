//! Operators on values: arithmetic, comparison, indexing.

use std::cmp::Ordering;
use std::rc::Rc;

use crate::ast::{BinaryOp, UnaryOp};

use super::error::{Error as AshError, ErrorKind};
type Error = AshError;
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

pub fn binary(op: BinaryOp, a: &Value, b: &Value) -> Result<Value, Error> {
    use Value::*;
    match op {
        BinaryOp::Add => match (a, b) {
            (Int(x), Int(y)) => x.checked_add(*y).map(Int).ok_or_else(overflow),
            (Str(x), Str(y)) => {
                let mut out = Vec::with_capacity(x.len() + y.len());
                out.extend_from_slice(x);
                out.extend_from_slice(y);
                Ok(Value::Str(Rc::from(out)))
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
                if s.len().saturating_mul(n) > 1 << 30 {
                    return Err(AshError::value("string repetition too large"));
                }
                Ok(Value::Str(Rc::from(s.repeat(n))))
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
        BinaryOp::Rem => match (a, b) {
            (Int(_), Int(0)) => Err(AshError::value("division by zero")),
            (Int(x), Int(y)) => x.checked_rem_euclid(*y).map(Int).ok_or_else(overflow),
            _ => {
                let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) else {
                    return Err(bad_operands("%", a, b));
                };
                if y == 0.0 {
                    return Err(AshError::value("division by zero"));
                }
                Ok(Float(x.rem_euclid(y)))
            }
        },
        BinaryOp::Eq => Ok(Bool(a.equals(b))),
        BinaryOp::Ne => Ok(Bool(!a.equals(b))),
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

/// Ordering for `< <= > >=` and sorting: numbers with numbers, strings
/// bytewise, durations, and lists element by element.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, Error> {
    use Value::*;
    match (a, b) {
        (Int(x), Int(y)) => Ok(x.cmp(y)),
        (Str(x), Str(y)) => Ok(x.cmp(y)),
        (Duration(x), Duration(y)) => x
            .partial_cmp(y)
            .ok_or_else(|| AshError::value("cannot compare NaN")),
        (List(x), List(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            for (p, q) in x.iter().zip(y.iter()) {
                let o = compare(p, q)?;
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            Ok(x.len().cmp(&y.len()))
        }
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

/// `c[k]`
pub fn index(c: &Value, k: &Value) -> Result<Value, Error> {
    match (c, k) {
        (Value::List(l), Value::Int(i)) => {
            let l = l.borrow();
            list_index(l.len(), *i)
                .map(|i| l[i].clone())
                .ok_or_else(|| {
                    AshError::new(
                        ErrorKind::Index,
                        format!("list index {i} out of range (length {})", l.len()),
                    )
                })
        }
        (Value::Map(m), Value::Str(s)) => m.borrow().get(s).cloned().ok_or_else(|| {
            AshError::new(
                ErrorKind::Key,
                format!("no key {}", Value::Str(s.clone()).repr()),
            )
        }),
        (Value::Str(s), Value::Int(i)) => {
            // Index by character when the string is valid UTF-8.
            match std::str::from_utf8(s) {
                Ok(text) => {
                    let n = text.chars().count();
                    list_index(n, *i)
                        .and_then(|i| text.chars().nth(i))
                        .map(|ch| Value::str(ch.to_string()))
                        .ok_or_else(|| {
                            AshError::new(
                                ErrorKind::Index,
                                format!("string index {i} out of range (length {n})"),
                            )
                        })
                }
                Err(_) => list_index(s.len(), *i)
                    .map(|i| Value::str([s[i]]))
                    .ok_or_else(|| {
                        AshError::new(ErrorKind::Index, format!("string index {i} out of range"))
                    }),
            }
        }
        (Value::Error(e), Value::Str(s)) => error_field(e, s),
        _ => Err(AshError::type_err(format!(
            "cannot index {} with {}",
            c.type_name(),
            k.type_name()
        ))),
    }
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
        (Value::Map(m), Value::Str(s)) => {
            m.borrow_mut().insert(s.clone(), v);
            Ok(())
        }
        _ => Err(AshError::type_err(format!(
            "cannot assign into {} with a {} index",
            c.type_name(),
            k.type_name()
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
            m.borrow_mut().insert(Rc::from(name), v);
            Ok(())
        }
        _ => Err(AshError::type_err(format!(
            "cannot set a field on {}",
            m.type_name()
        ))),
    }
}
