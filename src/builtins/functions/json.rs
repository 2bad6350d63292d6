//! `to_json`, through `serde_json::Value` (whose maps keep document order
//! with the `preserve_order` feature), and `from_json`, whose parse is in
//! `json_doc` (`from_json_value` turns a `serde_json::Value` of the
//! journal into a value).

use serde_json::Value as Json;

use super::{arity, want_str, wrong_type};
use crate::vm::error::Error;
use crate::vm::objects::Host;
use crate::vm::value::{Value, format_float};
use crate::vm::walk::{TEXT_LIMIT, items_at_least};

/// How deeply lists and maps may nest in `to_json` (serde_json's parser has
/// the same limit for `from_json`).
pub(super) const MAX_DEPTH: usize = 128;

/// What a JSON document being made may still take, in bytes: each item
/// costs [`ITEM_COST`] (the tree serde_json holds before the text is
/// written) plus the bytes of its string or key. A list that shares its
/// parts (`a = [a, a]` forty times) is a few kilobytes of values but a
/// tree of a trillion items: past [`TEXT_LIMIT`] `to_json` fails with a
/// `ValueError` instead of asking the allocator for more (which aborts).
pub(super) struct Room(usize);

/// When the document being made has taken this much room, `to_json`
/// checks once whether the whole can fit ([`Room::check`]).
pub(super) const CHECK_AT: usize = TEXT_LIMIT / 16;

/// The least an item of the document costs: its node in the tree.
const ITEM_COST: usize = std::mem::size_of::<Json>();

impl Room {
    pub(super) fn new() -> Room {
        Room(TEXT_LIMIT)
    }

    /// The room taken so far.
    pub(super) fn used(&self) -> usize {
        TEXT_LIMIT - self.0
    }

    /// Fail at once if `v` holds more items than there is room for (a
    /// value that shares its parts would otherwise fill the room item by
    /// item first: seconds).
    pub(super) fn check(&self, v: &Value) -> Result<(), Error> {
        if items_at_least(v).saturating_mul(ITEM_COST) > self.0 {
            return Err(too_large());
        }
        Ok(())
    }

    /// Take room for one item with `bytes` of text of its own.
    pub(super) fn take(&mut self, bytes: usize) -> Result<(), Error> {
        match self.0.checked_sub(ITEM_COST + bytes) {
            Some(left) => {
                self.0 = left;
                Ok(())
            }
            None => Err(too_large()),
        }
    }
}

fn too_large() -> Error {
    Error::value(format!(
        "to_json(): the value is too large to encode (its JSON would take over {} MiB; does it hold the same list many times over?)",
        TEXT_LIMIT >> 20
    ))
}

pub(super) fn from_json(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("from_json", args, 1, 1)?;
    super::json_doc::from_json(want_str("from_json", "a string", &args[0])?)
}

/// A parsed JSON document as a value (objects become maps in document
/// order; integers that fit an `i64` become ints, other numbers floats).
pub fn from_json_value(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::from(s),
        Json::Array(items) => Value::list(items.into_iter().map(from_json_value).collect()),
        Json::Object(entries) => {
            let mut map = crate::vm::value::Entries::with_capacity_and_hasher(
                entries.len(),
                Default::default(),
            );
            for (k, v) in entries {
                map.insert(
                    crate::vm::string::Str::from(k.into_bytes()),
                    from_json_value(v),
                );
            }
            Value::map(map)
        }
    }
}

pub(super) fn to_json(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("to_json", args, 1, 2)?;
    let pretty = match args.get(1) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(wrong_type(
                "to_json",
                "a bool as the second argument",
                other,
            ));
        }
    };
    let json = to_json_value(&args[0], 0, &mut Room::new())?;
    let mut text = String::new();
    write_json(&json, pretty, 0, &mut text)?;
    Ok(Value::from(text))
}

/// JSON text, compact or indented by 2 as serde_json writes it, but with
/// floats as ash prints them (`1e+16`, `0.1`), so `echo` and `to_json`
/// agree.
pub(super) fn write_json(
    v: &Json,
    pretty: bool,
    indent: usize,
    out: &mut String,
) -> Result<(), Error> {
    let newline = |out: &mut String, n: usize| {
        if pretty {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', 2 * n));
        }
    };
    match v {
        Json::Number(n) if n.is_f64() => out.push_str(&format_float(n.as_f64().unwrap_or(0.0))),
        Json::Array(items) if !items.is_empty() => {
            out.push('[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                newline(out, indent + 1);
                write_json(item, pretty, indent + 1, out)?;
            }
            newline(out, indent);
            out.push(']');
        }
        Json::Object(entries) if !entries.is_empty() => {
            out.push('{');
            for (k, (key, item)) in entries.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                newline(out, indent + 1);
                out.push_str(
                    &serde_json::to_string(key)
                        .map_err(|e| Error::value(format!("to_json(): {e}")))?,
                );
                out.push_str(if pretty { ": " } else { ":" });
                write_json(item, pretty, indent + 1, out)?;
            }
            newline(out, indent);
            out.push('}');
        }
        other => out.push_str(
            &serde_json::to_string(other).map_err(|e| Error::value(format!("to_json(): {e}")))?,
        ),
    }
    Ok(())
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::value(format!("to_json(): {what} is not valid UTF-8")))
}

fn number(f: f64) -> Result<Json, Error> {
    serde_json::Number::from_f64(f)
        .map(Json::Number)
        .ok_or_else(|| Error::value(format!("to_json(): cannot encode {}", format_float(f))))
}

pub(super) fn to_json_value(v: &Value, depth: usize, room: &mut Room) -> Result<Json, Error> {
    let nested = || {
        if depth >= MAX_DEPTH {
            Err(Error::value("to_json(): nesting too deep"))
        } else {
            Ok(())
        }
    };
    room.take(match v {
        Value::Str(s) => s.len(),
        _ => 0,
    })?;
    Ok(match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) | Value::Duration(f) => number(*f)?,
        Value::Str(s) => Json::String(utf8(s, "a string")?),
        Value::List(l) => {
            nested()?;
            let items = l.borrow();
            Json::Array(
                items
                    .iter()
                    .map(|x| to_json_value(x, depth + 1, room))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Map(m) => {
            nested()?;
            let entries = m.borrow();
            let mut object = serde_json::Map::with_capacity(entries.len());
            for (k, x) in entries.iter() {
                room.take(k.len())?;
                object.insert(utf8(k, "a map key")?, to_json_value(x, depth + 1, room)?);
            }
            Json::Object(object)
        }
        other => {
            return Err(Error::type_err(format!(
                "to_json(): a {} cannot be encoded as JSON",
                other.type_name()
            )));
        }
    })
}
