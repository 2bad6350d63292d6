//! The journal's lines: writing a record as one line of JSON, and reading
//! one back.
//!
//! Every line is a JSON object whose first member is `"run"` (so a line is
//! recognised as the journal's from its first bytes, and a file that does
//! not start that way is not a journal). A branch's record has a `key`; a
//! run's own records (its start and end) have an `event`.

use std::fmt::Write as _;
use std::rc::Rc;

use serde_json::Value as Json;

use crate::vm::value::{Value, format_float};

/// How every line of a journal starts.
pub const PREFIX: &[u8] = b"{\"run\":\"";

/// A value bigger than this (as JSON) is not recorded: its branch runs
/// again on `--resume`, and the journal stays small enough to read whole.
pub const MAX_VALUE: usize = 1 << 20;

/// Nesting deeper than this is not recorded (serde_json reads 128 levels).
const MAX_DEPTH: usize = 100;

/// How a branch ended, as the journal says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Failed,
    Cancelled,
    Timeout,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Ok,
        Status::Failed,
        Status::Cancelled,
        Status::Timeout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Timeout => "timeout",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.name() == s)
    }
}

/// A branch's error, as recorded.
#[derive(Clone, Debug, Default)]
pub struct ErrorText {
    pub kind: String,
    pub message: String,
    /// Where it was raised: `FILE:LINE:COL`.
    pub location: Option<String>,
}

/// One record read back from a journal.
#[derive(Debug)]
pub enum Record {
    /// A branch (or spawned task) ended.
    Branch(Branch),
    /// A run started or ended.
    Run(RunEvent),
}

#[derive(Debug)]
pub struct Branch {
    pub run: String,
    pub key: String,
    pub site: String,
    pub label: String,
    /// `gather`, `race` or `spawn`.
    pub kind: String,
    pub status: Status,
    pub error: Option<ErrorText>,
    /// The value, if it was recorded (JSON-able).
    pub value: Option<Json>,
    pub start: f64,
    pub end: f64,
    pub host: Option<String>,
}

#[derive(Debug)]
pub struct RunEvent {
    pub run: String,
    pub event: String,
    /// The whole object (a run's start names its script, its end its
    /// status and counts).
    pub fields: serde_json::Map<String, Json>,
}

impl Record {
    /// A line read back; `None` if it is not a record of a journal.
    pub fn parse(line: &[u8]) -> Option<Record> {
        if !line.starts_with(PREFIX) {
            return None;
        }
        let Ok(Json::Object(mut o)) = serde_json::from_slice::<Json>(line) else {
            return None;
        };
        let text = |o: &serde_json::Map<String, Json>, k: &str| match o.get(k) {
            Some(Json::String(s)) => Some(s.clone()),
            _ => None,
        };
        let run = text(&o, "run")?;
        if let Some(event) = text(&o, "event") {
            return Some(Record::Run(RunEvent {
                run,
                event,
                fields: o,
            }));
        }
        let key = text(&o, "key")?;
        let status = Status::parse(&text(&o, "status")?)?;
        let number = |o: &serde_json::Map<String, Json>, k: &str| {
            o.get(k).and_then(Json::as_f64).unwrap_or(0.0)
        };
        let error = match o.get("error") {
            Some(Json::Object(e)) => Some(ErrorText {
                kind: text(e, "kind").unwrap_or_default(),
                message: text(e, "message").unwrap_or_default(),
                location: text(e, "location"),
            }),
            _ => None,
        };
        Some(Record::Branch(Branch {
            site: text(&o, "site").unwrap_or_default(),
            label: text(&o, "label").unwrap_or_default(),
            kind: text(&o, "kind").unwrap_or_default(),
            start: number(&o, "start"),
            end: number(&o, "end"),
            host: text(&o, "host"),
            value: o.remove("value"),
            run,
            key,
            status,
            error,
        }))
    }
}

/// Writes one record as one line.
pub struct Line(String);

impl Line {
    /// A record of run `run`: `{"run":"RUN"` so far.
    pub fn new(run: &str) -> Line {
        let mut out = String::with_capacity(256);
        out.push_str("{\"run\":");
        string(run, &mut out);
        Line(out)
    }

    fn name(&mut self, name: &str) {
        self.0.push_str(",\"");
        self.0.push_str(name);
        self.0.push_str("\":");
    }

    pub fn text(&mut self, name: &str, value: &str) -> &mut Line {
        self.name(name);
        string(value, &mut self.0);
        self
    }

    pub fn time(&mut self, name: &str, unix: f64) -> &mut Line {
        self.name(name);
        let _ = write!(self.0, "{unix:.6}");
        self
    }

    pub fn int(&mut self, name: &str, n: i64) -> &mut Line {
        self.name(name);
        let _ = write!(self.0, "{n}");
        self
    }

    pub fn bool(&mut self, name: &str, b: bool) -> &mut Line {
        self.name(name);
        self.0.push_str(if b { "true" } else { "false" });
        self
    }

    /// A member whose value is already JSON text.
    pub fn json(&mut self, name: &str, json: &str) -> &mut Line {
        self.name(name);
        self.0.push_str(json);
        self
    }

    /// The finished line, with its newline.
    pub fn finish(mut self) -> String {
        self.0.push_str("}\n");
        self.0
    }
}

/// `text` as a JSON string.
pub fn string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A value as JSON, if reading that JSON back gives the same value (null,
/// bools, ints, finite floats, UTF-8 strings, lists and maps of them, not
/// too deep, not cyclic, at most [`MAX_VALUE`] bytes); `None` otherwise.
pub fn value_json(v: &Value) -> Option<String> {
    let mut out = String::new();
    let mut path = Vec::new();
    write_value(v, 0, &mut path, &mut out)?;
    Some(out)
}

fn write_value(v: &Value, depth: usize, path: &mut Vec<usize>, out: &mut String) -> Option<()> {
    if out.len() > MAX_VALUE || depth > MAX_DEPTH {
        return None;
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_finite() => out.push_str(&format_float(*f)),
        Value::Str(s) => string(std::str::from_utf8(s).ok()?, out),
        Value::List(l) => {
            let addr = Rc::as_ptr(l) as usize;
            if path.contains(&addr) {
                return None;
            }
            path.push(addr);
            out.push('[');
            let items = l.try_borrow().ok()?;
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(x, depth + 1, path, out)?;
            }
            out.push(']');
            path.pop();
        }
        Value::Map(m) => {
            let addr = Rc::as_ptr(m) as usize;
            if path.contains(&addr) {
                return None;
            }
            path.push(addr);
            out.push('{');
            let entries = m.try_borrow().ok()?;
            for (i, (k, x)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(std::str::from_utf8(k).ok()?, out);
                out.push(':');
                write_value(x, depth + 1, path, out)?;
            }
            out.push('}');
            path.pop();
        }
        // Floats that are not finite, durations, functions, tasks, errors:
        // JSON would give back something else.
        _ => return None,
    }
    (out.len() <= MAX_VALUE).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn back(json: &str) -> Value {
        crate::builtins::functions::from_json_value(serde_json::from_str(json).expect("json"))
    }

    #[test]
    fn values_that_come_back_the_same() {
        let list = Value::list(vec![
            Value::Int(1),
            Value::Float(1.0),
            Value::Float(1e16),
            Value::str("a\"b\n"),
            Value::Null,
            Value::Bool(true),
        ]);
        let json = value_json(&list).expect("json-able");
        assert_eq!(json, r#"[1,1.0,1e+16,"a\"b\n",null,true]"#);
        assert_eq!(back(&json).repr(), list.repr());
    }

    #[test]
    fn values_that_would_not() {
        assert!(value_json(&Value::Duration(1.0)).is_none());
        assert!(value_json(&Value::Float(f64::NAN)).is_none());
        assert!(value_json(&Value::str(b"\xff")).is_none());
        let l = Value::list(vec![]);
        if let Value::List(cell) = &l {
            cell.borrow_mut().push(l.clone());
            cell.borrow_mut().push(l.clone());
        }
        assert!(value_json(&l).is_none(), "a cycle");
        if let Value::List(cell) = &l {
            cell.borrow_mut().clear();
        }
        let big = Value::str("x".repeat(MAX_VALUE + 1));
        assert!(value_json(&big).is_none());
    }

    #[test]
    fn lines_read_back() {
        let mut line = Line::new("r1");
        line.text("key", "k \"1\"")
            .text("status", "failed")
            .time("start", 1.5)
            .json("error", r#"{"kind":"Error","message":"no"}"#);
        let text = line.finish();
        assert!(text.ends_with("}\n") && !text[..text.len() - 1].contains('\n'));
        let Some(Record::Branch(b)) = Record::parse(text.trim_end().as_bytes()) else {
            panic!("not read back: {text}");
        };
        assert_eq!(b.key, "k \"1\"");
        assert_eq!(b.status, Status::Failed);
        assert_eq!(b.error.map(|e| e.message).as_deref(), Some("no"));
        assert!(Record::parse(b"{\"key\":\"x\",\"run\":\"r\"}").is_none());
        assert!(Record::parse(b"{\"run\":\"r\",\"key\":\"x\"").is_none());
    }
}
