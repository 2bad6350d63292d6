//! The protocol between an ash and its agents on other hosts, and between
//! an agent and the ash running one body for it.
//!
//! After the agent's text greeting (`ASH-AGENT <protocol> <version> <os>
//! <arch>`, one line), both directions carry *frames*: a 4-byte big-endian
//! length (of what follows), a kind byte, then the payload. Numbers are
//! big-endian; strings and byte strings are a 4-byte length, then the
//! bytes.
//!
//! | kind | direction | payload |
//! |---|---|---|
//! | `RUN` | ash → agent | job id, deadline (flag byte, Unix time f64), grace in ms, the packed unit |
//! | `CANCEL` | ash → agent | job id, grace in ms |
//! | `OUT` | agent → ash | job id, fd (1 or 2), bytes (the rest) |
//! | `DONE` | agent → ash | job id, a [`Outcome`] |
//!
//! The agent runs each job in its own process (see `agent`).
//!
//! Values keep their types: null, booleans, ints, floats, strings (bytes),
//! durations, lists and maps (in order), and error values. A value nested
//! deeper than [`MAX_DEPTH`] or containing itself does not travel.

use std::rc::Rc;

use crate::vm::error::{Error, ErrorKind};
use crate::vm::value::Value;

/// Bumped whenever a frame or an encoding changes.
pub const PROTOCOL: u32 = 1;
/// Refused: a length this large is a corrupt stream, not a frame.
pub const MAX_FRAME: usize = 1 << 30;
/// How deeply lists and maps may nest in a travelling value.
pub const MAX_DEPTH: usize = 1000;

pub const RUN: u8 = 1;
pub const CANCEL: u8 = 2;
pub const OUT: u8 = 10;
pub const DONE: u8 = 11;

/// A malformed frame or encoding.
#[derive(Debug)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type WResult<T> = Result<T, WireError>;

fn bad<T>(what: &str) -> WResult<T> {
    Err(WireError(format!("malformed message: {what}")))
}

/// Builds a payload.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
}

/// Reads a payload.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> WResult<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let out = &self.buf[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => bad("it ends too soon"),
        }
    }
    pub fn u8(&mut self) -> WResult<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> WResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn i64(&mut self) -> WResult<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    pub fn f64(&mut self) -> WResult<f64> {
        Ok(f64::from_bits(self.i64()? as u64))
    }
    pub fn bytes(&mut self) -> WResult<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn str(&mut self) -> WResult<String> {
        match std::str::from_utf8(self.bytes()?) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => bad("a name that is not UTF-8"),
        }
    }
    pub fn opt_str(&mut self) -> WResult<Option<String>> {
        match self.u8()? {
            0 => Ok(None),
            _ => Ok(Some(self.str()?)),
        }
    }
    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }
}

/// A whole frame: length, kind, payload.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.extend_from_slice(&(payload.len() as u32 + 1).to_be_bytes());
    out.push(kind);
    out.extend_from_slice(payload);
    out
}

/// Bytes read from a stream, cut into frames.
#[derive(Default)]
pub struct FrameBuf {
    buf: Vec<u8>,
    /// Where the next unread frame starts.
    start: usize,
}

impl FrameBuf {
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame (kind, payload), if one has arrived.
    pub fn next_frame(&mut self) -> WResult<Option<(u8, Vec<u8>)>> {
        let have = &self.buf[self.start..];
        if have.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([have[0], have[1], have[2], have[3]]) as usize;
        if len == 0 || len > MAX_FRAME {
            return bad("a frame of impossible length");
        }
        if have.len() < 4 + len {
            return Ok(None);
        }
        let kind = have[4];
        let payload = have[5..4 + len].to_vec();
        self.start += 4 + len;
        if self.start > 1 << 16 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(Some((kind, payload)))
    }
}

// ------------------------------------------------------------------ values

const T_NULL: u8 = 0;
const T_FALSE: u8 = 1;
const T_TRUE: u8 = 2;
const T_INT: u8 = 3;
const T_FLOAT: u8 = 4;
const T_STR: u8 = 5;
const T_LIST: u8 = 6;
const T_MAP: u8 = 7;
const T_DURATION: u8 = 8;
const T_ERROR: u8 = 9;

/// Why a value cannot travel: the type name of the part that cannot (or
/// a sentence for cycles and depth).
#[derive(Debug, PartialEq)]
pub enum Untravelling {
    Type(&'static str),
    Cycle,
    TooDeep,
}

impl Untravelling {
    /// "a task", "a list that contains itself", ...
    pub fn describe(&self) -> String {
        match self {
            Untravelling::Type(t) => {
                let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                format!("{article} {t}")
            }
            Untravelling::Cycle => "a list or map that contains itself".into(),
            Untravelling::TooDeep => format!("lists or maps nested more than {MAX_DEPTH} deep"),
        }
    }
}

/// Encode a value; functions, coroutines, tasks, channels and semaphores
/// cannot travel.
pub fn put_value(w: &mut Writer, v: &Value) -> Result<(), Untravelling> {
    let mut path = Vec::new();
    put_value_in(w, v, &mut path)
}

fn put_value_in(w: &mut Writer, v: &Value, path: &mut Vec<usize>) -> Result<(), Untravelling> {
    match v {
        Value::Null => w.u8(T_NULL),
        Value::Bool(false) => w.u8(T_FALSE),
        Value::Bool(true) => w.u8(T_TRUE),
        Value::Int(i) => {
            w.u8(T_INT);
            w.i64(*i);
        }
        Value::Float(f) => {
            w.u8(T_FLOAT);
            w.f64(*f);
        }
        Value::Duration(d) => {
            w.u8(T_DURATION);
            w.f64(*d);
        }
        Value::Str(s) => {
            w.u8(T_STR);
            w.bytes(s);
        }
        Value::List(l) => {
            enter(path, Rc::as_ptr(l) as *const () as usize)?;
            let items = l.borrow();
            w.u8(T_LIST);
            w.u32(items.len() as u32);
            for item in items.iter() {
                put_value_in(w, item, path)?;
            }
            path.pop();
        }
        Value::Map(m) => {
            enter(path, Rc::as_ptr(m) as *const () as usize)?;
            let entries = m.borrow();
            w.u8(T_MAP);
            w.u32(entries.len() as u32);
            for (k, item) in entries.iter() {
                w.bytes(k);
                put_value_in(w, item, path)?;
            }
            path.pop();
        }
        Value::Error(e) => {
            w.u8(T_ERROR);
            put_error(w, e, &Locator::Plain);
        }
        other => return Err(Untravelling::Type(other.type_name())),
    }
    Ok(())
}

fn enter(path: &mut Vec<usize>, at: usize) -> Result<(), Untravelling> {
    if path.contains(&at) {
        return Err(Untravelling::Cycle);
    }
    if path.len() >= MAX_DEPTH {
        return Err(Untravelling::TooDeep);
    }
    path.push(at);
    Ok(())
}

pub fn get_value(
    r: &mut Reader,
    locate: &dyn Fn(&WireLocation) -> Option<Location>,
) -> WResult<Value> {
    get_value_in(r, 0, locate)
}

type Location = crate::vm::error::Location;

fn get_value_in(
    r: &mut Reader,
    depth: usize,
    locate: &dyn Fn(&WireLocation) -> Option<Location>,
) -> WResult<Value> {
    if depth > MAX_DEPTH {
        return bad("values nested too deep");
    }
    Ok(match r.u8()? {
        T_NULL => Value::Null,
        T_FALSE => Value::Bool(false),
        T_TRUE => Value::Bool(true),
        T_INT => Value::Int(r.i64()?),
        T_FLOAT => Value::Float(r.f64()?),
        T_DURATION => Value::Duration(r.f64()?),
        T_STR => Value::str(r.bytes()?),
        T_LIST => {
            let n = r.u32()? as usize;
            // Each item takes at least a byte: a count beyond what is left
            // is a lie, not a reason to allocate.
            let mut items = Vec::with_capacity(n.min(r.buf.len()));
            for _ in 0..n {
                items.push(get_value_in(r, depth + 1, locate)?);
            }
            Value::list(items)
        }
        T_MAP => {
            let n = r.u32()? as usize;
            let mut entries = crate::vm::value::Entries::with_capacity_and_hasher(
                n.min(r.buf.len()),
                Default::default(),
            );
            for _ in 0..n {
                let k = crate::vm::string::Str::from(r.bytes()?);
                let v = get_value_in(r, depth + 1, locate)?;
                entries.insert(k, v);
            }
            Value::map(entries)
        }
        T_ERROR => Value::Error(Rc::new(get_error(r, locate)?)),
        _ => return bad("an unknown value type"),
    })
}

// ------------------------------------------------------------------ errors

/// Where an error was raised, as it travels: enough to show the line and
/// a caret on the other side.
#[derive(Clone, Debug, PartialEq)]
pub struct WireLocation {
    pub file: String,
    pub line: u32,
    pub col: u32,
    /// Characters under the caret.
    pub width: u32,
    pub line_text: String,
}

/// How the sending side turns its locations into [`WireLocation`]s.
pub enum Locator<'a> {
    /// From the loaded sources (the ash running a body).
    Sources(&'a dyn Fn(&Location) -> Option<WireLocation>),
    /// Locations are not sent (error values inside values sent out).
    Plain,
}

fn put_location(w: &mut Writer, l: &WireLocation) {
    w.str(&l.file);
    w.u32(l.line);
    w.u32(l.col);
    w.u32(l.width);
    w.str(&l.line_text);
}

fn get_location(r: &mut Reader) -> WResult<WireLocation> {
    Ok(WireLocation {
        file: r.str()?,
        line: r.u32()?,
        col: r.u32()?,
        width: r.u32()?,
        line_text: r.str()?,
    })
}

pub fn put_error(w: &mut Writer, e: &Error, locator: &Locator) {
    w.str(e.kind.name());
    w.str(&e.message);
    match e.status {
        Some(s) => {
            w.u8(1);
            w.i64(s.into());
        }
        None => w.u8(0),
    }
    w.opt_str(e.command.as_deref());
    let locate = |l: &Location| match locator {
        Locator::Sources(f) => f(l),
        Locator::Plain => None,
    };
    match e.location.borrow().as_ref().and_then(locate) {
        Some(l) => {
            w.u8(1);
            put_location(w, &l);
        }
        None => w.u8(0),
    }
    let trace: Vec<WireLocation> = e.trace.borrow().iter().filter_map(locate).collect();
    w.u32(trace.len() as u32);
    for l in &trace {
        put_location(w, l);
    }
}

pub fn get_error(
    r: &mut Reader,
    locate: &dyn Fn(&WireLocation) -> Option<Location>,
) -> WResult<Error> {
    let kind = r.str()?;
    let message = r.str()?;
    let status = match r.u8()? {
        0 => None,
        _ => Some(i32::try_from(r.i64()?).unwrap_or(1)),
    };
    let command = r.opt_str()?;
    let location = match r.u8()? {
        0 => None,
        _ => Some(get_location(r)?),
    };
    let n = r.u32()? as usize;
    let mut trace = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        trace.push(get_location(r)?);
    }
    let kind = ErrorKind::from_name(&kind).unwrap_or(ErrorKind::Error);
    let e = match (kind, status) {
        (ErrorKind::Command, Some(status)) => {
            Error::command(command.unwrap_or_default(), status, message)
        }
        _ => Error::new(kind, message),
    };
    *e.location.borrow_mut() = location.as_ref().and_then(locate);
    e.trace.borrow_mut().extend(trace.iter().filter_map(locate));
    Ok(e)
}

// ------------------------------------------------------------------ outcomes

/// How a body ended, as the agent reports it.
pub enum Outcome {
    Value(Value),
    Error(Error),
    /// The ash running it ended without an answer (a sentence why).
    Died(String),
}

const O_VALUE: u8 = 0;
const O_ERROR: u8 = 1;
const O_DIED: u8 = 2;

pub fn put_value_outcome(w: &mut Writer, v: &Value) -> Result<(), Untravelling> {
    w.u8(O_VALUE);
    put_value(w, v)
}

pub fn put_error_outcome(w: &mut Writer, e: &Error, locator: &Locator) {
    w.u8(O_ERROR);
    put_error(w, e, locator);
}

pub fn put_died(w: &mut Writer, why: &str) {
    w.u8(O_DIED);
    w.str(why);
}

pub fn get_outcome(
    r: &mut Reader,
    locate: &dyn Fn(&WireLocation) -> Option<Location>,
) -> WResult<Outcome> {
    Ok(match r.u8()? {
        O_VALUE => Outcome::Value(get_value(r, locate)?),
        O_ERROR => Outcome::Error(get_error(r, locate)?),
        O_DIED => Outcome::Died(r.str()?),
        _ => return bad("an unknown outcome"),
    })
}

// ------------------------------------------------------------------ units

/// How a piece of code is written, so the other side parses it as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceKind {
    /// `{ statements }`
    Block,
    /// A command line (`spawn --on h make -s`).
    Command,
    /// A keyword expression (`spawn --on h gather ...`): its value is the
    /// body's.
    Expr,
    /// `fn name(params) { }`, `async fn ...`, `fn (x) { }`
    Fn,
}

/// Source text sent to another host, with where it was: the other side
/// pads it to the same line and column, so its errors name the place in
/// the original file.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub kind: PieceKind,
    pub text: String,
}

impl Piece {
    /// The text as it sits in its file: blank lines and spaces before it.
    pub fn padded(&self) -> String {
        let lines = self.line.saturating_sub(1) as usize;
        let cols = self.col.saturating_sub(1) as usize;
        let mut out = String::with_capacity(lines + cols + self.text.len());
        out.extend(std::iter::repeat_n('\n', lines));
        out.extend(std::iter::repeat_n(' ', cols));
        out.push_str(&self.text);
        out
    }
}

/// What a name of the body is bound to on the other side.
pub enum Binding {
    Value(Value),
    /// A function of the script: its code.
    Code(Piece),
    /// A built-in function, by name.
    Builtin(String),
}

/// Everything a body needs on another host.
pub struct Unit {
    pub bindings: Vec<(String, Binding)>,
    pub entry: Piece,
    pub args: Vec<Value>,
}

fn put_piece(w: &mut Writer, p: &Piece) {
    w.str(&p.file);
    w.u32(p.line);
    w.u32(p.col);
    w.u8(match p.kind {
        PieceKind::Block => 0,
        PieceKind::Command => 1,
        PieceKind::Expr => 2,
        PieceKind::Fn => 3,
    });
    w.str(&p.text);
}

fn get_piece(r: &mut Reader) -> WResult<Piece> {
    Ok(Piece {
        file: r.str()?,
        line: r.u32()?,
        col: r.u32()?,
        kind: match r.u8()? {
            0 => PieceKind::Block,
            1 => PieceKind::Command,
            2 => PieceKind::Expr,
            3 => PieceKind::Fn,
            _ => return bad("an unknown kind of code"),
        },
        text: r.str()?,
    })
}

/// The encoding of a unit whose values were encoded already (by
/// [`put_value`], as they were checked).
pub fn put_unit(
    w: &mut Writer,
    bindings: &[(String, EncodedBinding)],
    entry: &Piece,
    args: &[Vec<u8>],
) {
    w.u32(bindings.len() as u32);
    for (name, b) in bindings {
        w.str(name);
        match b {
            EncodedBinding::Value(bytes) => {
                w.u8(0);
                w.0.extend_from_slice(bytes);
            }
            EncodedBinding::Code(p) => {
                w.u8(1);
                put_piece(w, p);
            }
            EncodedBinding::Builtin(name) => {
                w.u8(2);
                w.str(name);
            }
        }
    }
    put_piece(w, entry);
    w.u32(args.len() as u32);
    for a in args {
        w.0.extend_from_slice(a);
    }
}

/// A binding whose value is already encoded.
pub enum EncodedBinding {
    Value(Vec<u8>),
    Code(Piece),
    Builtin(String),
}

pub fn get_unit(r: &mut Reader) -> WResult<Unit> {
    let none = |_: &WireLocation| None;
    let n = r.u32()? as usize;
    let mut bindings = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let name = r.str()?;
        let b = match r.u8()? {
            0 => Binding::Value(get_value(r, &none)?),
            1 => Binding::Code(get_piece(r)?),
            2 => Binding::Builtin(r.str()?),
            _ => return bad("an unknown binding"),
        };
        bindings.push((name, b));
    }
    let entry = get_piece(r)?;
    let n = r.u32()? as usize;
    let mut args = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        args.push(get_value(r, &none)?);
    }
    Ok(Unit {
        bindings,
        entry,
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Value) -> Value {
        let mut w = Writer::default();
        put_value(&mut w, v).expect("travels");
        let mut r = Reader::new(&w.0);
        let back = get_value(&mut r, &|_| None).expect("decodes");
        assert!(r.rest().is_empty());
        back
    }

    #[test]
    fn values_keep_their_types() {
        let mut m = crate::vm::value::Entries::default();
        m.insert(crate::vm::value::Str::from("z"), Value::Int(-7));
        m.insert(crate::vm::value::Str::from("a"), Value::Duration(1.5));
        let v = Value::list(vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(i64::MIN),
            Value::Float(0.1),
            Value::str(b"bytes \xff\0 kept"),
            Value::map(m),
            Value::list(vec![]),
        ]);
        let back = round_trip(&v);
        assert_eq!(back.repr(), v.repr());
        let Value::List(items) = back else {
            panic!("not a list")
        };
        assert!(matches!(items.borrow()[3], Value::Float(f) if f == 0.1));
        assert!(matches!(items.borrow()[4], Value::Str(ref s) if &s[..] == b"bytes \xff\0 kept"));
    }

    #[test]
    fn what_cannot_travel_says_why() {
        let l = Value::list(vec![]);
        if let Value::List(inner) = &l {
            inner.borrow_mut().push(l.clone());
        }
        let mut w = Writer::default();
        assert_eq!(put_value(&mut w, &l), Err(Untravelling::Cycle));
        if let Value::List(inner) = &l {
            inner.borrow_mut().clear();
        }
        let mut deep = Value::Null;
        for _ in 0..MAX_DEPTH + 1 {
            deep = Value::list(vec![deep]);
        }
        assert_eq!(put_value(&mut w, &deep), Err(Untravelling::TooDeep));
    }

    #[test]
    fn frames_are_cut_whole_whatever_the_reads() {
        let mut bytes = frame(OUT, b"hello");
        bytes.extend(frame(DONE, b""));
        let mut buf = FrameBuf::default();
        let mut got = Vec::new();
        for b in &bytes {
            buf.push(std::slice::from_ref(b));
            while let Some(f) = buf.next_frame().expect("well formed") {
                got.push(f);
            }
        }
        assert_eq!(got, vec![(OUT, b"hello".to_vec()), (DONE, Vec::new())]);
        let mut buf = FrameBuf::default();
        buf.push(&[0, 0, 0, 0, 1]);
        assert!(buf.next_frame().is_err());
    }

    #[test]
    fn a_truncated_message_is_an_error_not_a_panic() {
        let mut w = Writer::default();
        put_value(&mut w, &Value::list(vec![Value::str("abc"), Value::Int(1)])).expect("ok");
        for cut in 0..w.0.len() {
            let mut r = Reader::new(&w.0[..cut]);
            assert!(get_value(&mut r, &|_| None).is_err(), "cut at {cut}");
        }
        // A list that claims four billion items.
        let mut r = Reader::new(&[T_LIST, 0xff, 0xff, 0xff, 0xff]);
        assert!(get_value(&mut r, &|_| None).is_err());
    }

    #[test]
    fn pieces_pad_to_their_place() {
        let p = Piece {
            file: "s.ash".into(),
            line: 3,
            col: 5,
            kind: PieceKind::Block,
            text: "{ x }".into(),
        };
        assert_eq!(p.padded(), "\n\n    { x }");
    }
}
