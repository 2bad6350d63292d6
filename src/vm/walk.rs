//! The one walk over values that contain values.
//!
//! Every operation that follows lists and maps into their elements goes
//! through here: the text a value becomes (command arguments, `echo`,
//! `"$x"`, `export`, env prefixes, `throw`, `str`, `join`), its `repr`
//! (messages, maps as text), `==` (and `contains`, `index_of`) and
//! ordering (`<`, `sorted`, `min`). Two promises:
//!
//! - **Any depth.** The walk keeps its own stack of frames on the heap, so
//!   a list nested millions deep is printed or compared, never overflowing
//!   the Rust stack.
//! - **Cycles end.** A list or map that contains itself (directly or
//!   through others) has no finite text and no finite comparison: the walk
//!   notices when it enters a container that is already being walked
//!   (for a comparison: the same *pair* of containers) and fails with a
//!   `ValueError` naming the cycle, or, for the `repr` of messages, shows
//!   it as `[...]` / `{...}` as Python does.
//!
//! Tracking costs a hash set insert per container, so it starts only when
//! a walk gets deep ([`TRACK_DEPTH`]) or, for comparisons, long
//! ([`TRACK_WORK`]): ordinary values are walked without it, and a cycle is
//! still caught, a few dozen levels later. Comparisons also remember the
//! pairs they found equal, so shared sublists (`a = [a, a]` a hundred
//! times over) are compared once, not 2^100 times.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::io::Write as _;

use bstr::ByteSlice;

use super::error::Error;
use super::value::{List, Map, Value, format_duration, format_float};

/// Walks deeper than this track which containers they are inside.
const TRACK_DEPTH: usize = 64;
/// Comparisons that entered this many pairs of containers track them.
const TRACK_WORK: usize = 1_000;

/// The most bytes one walk writes into its output (`join` writes all its
/// items into one). A list that shares its parts (`a = [a, a]` forty
/// times: a few kilobytes of values) has terabytes of text; past the
/// limit the walk fails with a `ValueError` instead of asking the
/// allocator for more, which would abort ash. The same limit as string
/// repetition.
pub const TEXT_LIMIT: usize = 1 << 30;

/// Once a walk has written this much, it works out (once) the least its
/// whole text can take ([`text_at_least`]), and fails at once if that is
/// past [`TEXT_LIMIT`], rather than writing a gigabyte first.
const ESTIMATE_AT: usize = 1 << 20;

/// What the walk writes.
#[derive(Clone, Copy, PartialEq)]
pub enum Form {
    /// The bytes of a command argument: strings as they are, null as
    /// nothing, list elements joined by spaces, anything else its repr.
    Text,
    /// The repr: strings quoted, lists `[a, b]`, maps `{"k": v}`.
    Repr,
}

/// What to do on meeting a container inside itself.
#[derive(Clone, Copy, PartialEq)]
pub enum OnCycle {
    /// A `ValueError`: the value has no finite text.
    Fail,
    /// Write `[...]` or `{...}` (for messages, which must not fail).
    Mark,
}

fn kind(is_list: bool) -> &'static str {
    if is_list { "list" } else { "map" }
}

/// The error for a value with no finite text.
fn text_cycle(is_list: bool) -> Error {
    let k = kind(is_list);
    Error::value(format!(
        "a {k} that contains itself cannot be turned into text"
    ))
}

/// The error for a value whose text would pass [`TEXT_LIMIT`].
fn text_too_large(v: &Value) -> Error {
    Error::value(format!(
        "the text of this {} would be larger than {} MiB (does it hold the same list many times over?)",
        v.type_name(),
        TEXT_LIMIT >> 20
    ))
}

/// The error for a comparison that would never end.
fn compare_cycle(is_list: bool) -> Error {
    let k = kind(is_list);
    Error::value(format!(
        "cannot compare two {k}s that contain themselves (the comparison would never end)"
    ))
}

/// Hashing for addresses and small integer keys: one multiply per word
/// (SipHash made deep walks 3x slower; `observe` keys its spans with it).
#[derive(Default)]
pub struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n.into());
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u64);
    }
    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
}

type AddrSet<K> = HashSet<K, std::hash::BuildHasherDefault<AddrHasher>>;

fn addr<T: ?Sized>(rc: &std::rc::Rc<T>) -> usize {
    std::rc::Rc::as_ptr(rc).cast::<()>() as usize
}

/// A container being written, and the index of its next element.
enum Frame {
    List { list: List, next: usize, form: Form },
    Map { map: Map, next: usize },
}

impl Frame {
    fn addr(&self) -> usize {
        match self {
            Frame::List { list, .. } => addr(list),
            Frame::Map { map, .. } => addr(map),
        }
    }
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    frames: Vec<Frame>,
    /// The containers being written, once the walk is deep.
    inside: Option<AddrSet<usize>>,
    on_cycle: OnCycle,
    /// The output reached [`TEXT_LIMIT`]: nothing more is written.
    full: bool,
    /// What is being written, in which form, from which length of `out`
    /// on; and whether its size was estimated yet (see [`ESTIMATE_AT`]).
    root: Value,
    form: Form,
    start: usize,
    estimated: bool,
}

/// Append the text or repr of `v` to `out`.
pub fn write(v: &Value, form: Form, on_cycle: OnCycle, out: &mut Vec<u8>) -> Result<(), Error> {
    let start = out.len();
    let mut w = Writer {
        out,
        frames: Vec::new(),
        // A message shows a cycle where it starts (messages are rare).
        inside: (on_cycle == OnCycle::Mark).then(AddrSet::default),
        on_cycle,
        full: false,
        root: v.clone(),
        form,
        start,
        estimated: false,
    };
    w.value(v, form)?;
    w.run()?;
    if w.full {
        return match on_cycle {
            OnCycle::Fail => Err(text_too_large(v)),
            // A message is cut, never failed.
            OnCycle::Mark => {
                w.out.extend_from_slice(b"...");
                Ok(())
            }
        };
    }
    Ok(())
}

/// The repr of a value that is not a list or a map, or a string in Repr
/// form (the leaves of both forms).
pub fn write_leaf(v: &Value, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = match v {
        Value::Null => out.write_all(b"null"),
        Value::Bool(b) => out.write_all(if *b { b"true" } else { b"false" }),
        Value::Int(i) => write!(out, "{i}"),
        Value::Float(f) => out.write_all(format_float(*f).as_bytes()),
        Value::Str(s) => write!(out, "{:?}", s.as_bstr()),
        Value::Duration(d) => out.write_all(format_duration(*d).as_bytes()),
        Value::List(_) => out.write_all(b"[...]"),
        Value::Map(_) => out.write_all(b"{...}"),
        Value::Func(c) => write!(out, "<function {}>", c.proto.name),
        Value::Native(n) => write!(out, "<builtin function {}>", n.name),
        Value::Coroutine(c) => write!(out, "<coroutine {}>", c.name()),
        Value::Task(t) => write!(out, "<task {}>", t.id()),
        Value::Error(e) => write!(out, "{}: {}", e.kind.name(), e.message),
        Value::Suspend(f) => write!(out, "<builtin function {}>", f.name),
        Value::Channel(c) => write!(out, "<channel {}/{}>", c.len(), c.capacity()),
        Value::Semaphore(s) => write!(out, "<semaphore {}>", s.permits()),
    };
}

impl Writer<'_> {
    /// Write a leaf, or open a container (its elements follow in `run`).
    fn value(&mut self, v: &Value, form: Form) -> Result<(), Error> {
        match (v, form) {
            (Value::Str(s), Form::Text) => self.put(s),
            (Value::Null, Form::Text) => {}
            (Value::List(l), _) => {
                self.open(Frame::List {
                    list: l.clone(),
                    next: 0,
                    form,
                })?;
            }
            // Maps have no text of their own: their repr.
            (Value::Map(m), _) => {
                self.open(Frame::Map {
                    map: m.clone(),
                    next: 0,
                })?;
            }
            (other, _) => self.leaf(other),
        }
        Ok(())
    }

    /// Append bytes, unless that would pass [`TEXT_LIMIT`].
    fn put(&mut self, bytes: &[u8]) {
        if self.full || self.out.len() + bytes.len() > TEXT_LIMIT {
            self.full = true;
        } else {
            self.out.extend_from_slice(bytes);
            self.check_estimate();
        }
    }

    /// Past [`ESTIMATE_AT`] bytes, once: will the whole text fit?
    fn check_estimate(&mut self) {
        if !self.estimated && self.out.len() - self.start > ESTIMATE_AT {
            self.estimated = true;
            if self.start + text_at_least(&self.root, self.form) > TEXT_LIMIT {
                self.full = true;
            }
        }
    }

    /// Append a leaf's repr, unless that would pass [`TEXT_LIMIT`] (a
    /// string's repr is at most 4 bytes per byte, `\xff`, and its quotes).
    fn leaf(&mut self, v: &Value) {
        let most = match v {
            Value::Str(s) => 4 * s.len() + 2,
            _ => 0,
        };
        if self.full || self.out.len() + most > TEXT_LIMIT {
            self.full = true;
            return;
        }
        write_leaf(v, self.out);
        if self.out.len() > TEXT_LIMIT {
            self.full = true;
        }
        self.check_estimate();
    }

    fn open(&mut self, frame: Frame) -> Result<(), Error> {
        let is_list = matches!(frame, Frame::List { .. });
        if self.inside.is_none() && self.frames.len() >= TRACK_DEPTH {
            self.inside = Some(self.frames.iter().map(Frame::addr).collect());
        }
        if let Some(inside) = &mut self.inside
            && !inside.insert(frame.addr())
        {
            return match self.on_cycle {
                OnCycle::Fail => Err(text_cycle(is_list)),
                OnCycle::Mark => {
                    self.out
                        .extend_from_slice(if is_list { b"[...]" } else { b"{...}" });
                    Ok(())
                }
            };
        }
        match frame {
            Frame::List {
                form: Form::Repr, ..
            } => self.out.push(b'['),
            Frame::Map { .. } => self.out.push(b'{'),
            _ => {}
        }
        self.frames.push(frame);
        Ok(())
    }

    fn close(&mut self) {
        if let Some(frame) = self.frames.pop() {
            if let Some(inside) = &mut self.inside {
                inside.remove(&frame.addr());
            }
            match frame {
                Frame::List {
                    form: Form::Repr, ..
                } => self.out.push(b']'),
                Frame::Map { .. } => self.out.push(b'}'),
                _ => {}
            }
        }
    }

    fn run(&mut self) -> Result<(), Error> {
        while let Some(top) = self.frames.last() {
            if self.full {
                return Ok(());
            }
            // Write the top container's leaves up to its next element
            // that is a container itself, if any.
            let step = match top {
                Frame::List { list, next, form } => {
                    let (list, start, form) = (list.clone(), *next, *form);
                    let Ok(items) = list.try_borrow() else {
                        self.busy();
                        continue;
                    };
                    self.elements(items.iter().skip(start).map(|v| (None, v)), start, form)
                }
                Frame::Map { map, next } => {
                    let (map, start) = (map.clone(), *next);
                    let Ok(entries) = map.try_borrow() else {
                        self.busy();
                        continue;
                    };
                    let entries = entries.iter().skip(start).map(|(k, v)| (Some(&k[..]), v));
                    self.elements(entries, start, Form::Repr)
                }
            };
            match step {
                (next, Some((child, form))) => {
                    if let Some(Frame::List { next: n, .. } | Frame::Map { next: n, .. }) =
                        self.frames.last_mut()
                    {
                        *n = next;
                    }
                    self.value(&child, form)?;
                }
                (_, None) => self.close(),
            }
        }
        Ok(())
    }

    /// Write elements (with their keys, for a map) from index `i` on,
    /// until one is a container: the index after it, and it.
    fn elements<'v>(
        &mut self,
        items: impl Iterator<Item = (Option<&'v [u8]>, &'v Value)>,
        mut i: usize,
        form: Form,
    ) -> (usize, Option<(Value, Form)>) {
        for (key, item) in items {
            if self.full {
                break;
            }
            if i > 0 {
                self.put(match form {
                    Form::Text => b" ",
                    Form::Repr => b", ",
                });
            }
            i += 1;
            if let Some(k) = key {
                if self.out.len() + 4 * k.len() + 4 > TEXT_LIMIT {
                    self.full = true;
                    break;
                }
                let _ = write!(self.out, "{:?}: ", k.as_bstr());
            }
            match (item, form) {
                (Value::List(_) | Value::Map(_), _) => return (i, Some((item.clone(), form))),
                (Value::Str(s), Form::Text) => self.put(s),
                (Value::Null, Form::Text) => {}
                (leaf, _) => self.leaf(leaf),
            }
        }
        (i, None)
    }

    /// The top container is being changed right now (cannot happen from a
    /// script: kept from the old repr).
    fn busy(&mut self) {
        self.out.extend_from_slice(b"...");
        self.close();
    }
}

/// The least number of bytes the text (or repr) of `v` takes, saturating:
/// each container is counted once per form and its count reused wherever
/// it appears again, so a list that shares its parts (`a = [a, a]` forty
/// times) is counted in forty steps, not 2^40; a container met inside
/// itself counts nothing (the walk fails or marks it). Leaves count their
/// least (a string its bytes, and its quotes in a repr; anything else one
/// byte), separators and brackets exactly. On its own heap stack, for
/// any depth.
fn text_at_least(v: &Value, form: Form) -> usize {
    least(v, form, false)
}

/// How many values `v` holds, itself included, counting shared parts each
/// time they appear (as `to_json` writes them), saturating; a container
/// met inside itself counts one. As [`text_at_least`], in steps linear in
/// the distinct containers.
pub fn items_at_least(v: &Value) -> usize {
    least(v, Form::Repr, true)
}

/// [`text_at_least`], or with `items` [`items_at_least`].
fn least(v: &Value, form: Form, items: bool) -> usize {
    type Key = (usize, bool);
    struct Counting {
        key: Key,
        node: Value,
        form: Form,
        next: usize,
        total: usize,
    }
    let leaf_least = |v: &Value, form: Form| -> usize {
        if items {
            return 1;
        }
        match (v, form) {
            (Value::Str(s), Form::Text) => s.len(),
            (Value::Str(s), Form::Repr) => s.len() + 2,
            (Value::Null, Form::Text) => 0,
            _ => 1,
        }
    };
    let key = |v: &Value, form: Form| -> Option<Key> {
        match v {
            Value::List(l) => Some((addr(l), form == Form::Text)),
            Value::Map(m) => Some((addr(m), false)),
            _ => None,
        }
    };
    let mut counted: std::collections::HashMap<
        Key,
        usize,
        std::hash::BuildHasherDefault<AddrHasher>,
    > = Default::default();
    let mut open: AddrSet<Key> = AddrSet::default();
    let mut stack: Vec<Counting> = Vec::new();
    let mut done: Option<usize> = None;
    let start = |v: &Value, form: Form, k: Key| {
        let (brackets, form) = match (v, form) {
            _ if items => (1, form),
            (Value::List(_), Form::Text) => (0, Form::Text),
            _ => (2, Form::Repr),
        };
        Counting {
            key: k,
            node: v.clone(),
            form,
            next: 0,
            total: brackets,
        }
    };
    match key(v, form) {
        None => return leaf_least(v, form),
        Some(k) => {
            open.insert(k);
            stack.push(start(v, form, k));
        }
    }
    while let Some(top) = stack.last_mut() {
        if let Some(n) = done.take() {
            top.total = top.total.saturating_add(n);
        }
        let i = top.next;
        top.next += 1;
        // The next element (and its key's bytes, in a map), if any.
        let item = match &top.node {
            Value::List(l) => l.get(i).map(|v| (0, v)),
            Value::Map(m) => m
                .borrow()
                .get_index(i)
                .map(|(k, v)| (if items { 0 } else { k.len() + 4 }, v.clone())),
            _ => None,
        };
        let Some((key_bytes, item)) = item else {
            let finished = stack.pop();
            if let Some(f) = finished {
                open.remove(&f.key);
                counted.insert(f.key, f.total);
                done = Some(f.total);
            }
            continue;
        };
        let separator = match (i, top.form) {
            _ if items => 0,
            (0, _) => 0,
            (_, Form::Text) => 1,
            (_, Form::Repr) => 2,
        };
        top.total = top.total.saturating_add(separator + key_bytes);
        let form = top.form;
        match key(&item, form) {
            None => top.total = top.total.saturating_add(leaf_least(&item, form)),
            Some(k) => {
                if let Some(&n) = counted.get(&k) {
                    top.total = top.total.saturating_add(n);
                } else if open.insert(k) {
                    stack.push(start(&item, form, k));
                }
            }
        }
    }
    done.unwrap_or(0)
}

/// What a comparison walks into besides lists.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `==`: lists and maps; any difference ends the walk.
    Equality,
    /// Ordering: lists, lexicographically (maps are the leaf's business).
    Order,
}

/// A pair of containers being compared.
enum PairFrame {
    Lists { a: List, b: List, next: usize },
    Maps { a: Map, b: Map, next: usize },
}

impl PairFrame {
    fn key(&self) -> (usize, usize) {
        match self {
            PairFrame::Lists { a, b, .. } => (addr(a), addr(b)),
            PairFrame::Maps { a, b, .. } => (addr(a), addr(b)),
        }
    }
}

/// Whether two values are a pair of containers the walk opens.
fn container_pair(mode: Mode, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::List(_), Value::List(_)) => true,
        (Value::Map(_), Value::Map(_)) => mode == Mode::Equality,
        _ => false,
    }
}

struct Pairs<'a> {
    mode: Mode,
    leaf: &'a mut dyn FnMut(&Value, &Value) -> Result<Ordering, Error>,
    frames: Vec<PairFrame>,
    /// Pairs of containers entered so far (until tracking starts).
    work: usize,
    /// Once tracking: the pairs being compared, and those found equal.
    inside: Option<Tracked>,
}

#[derive(Default)]
struct Tracked {
    path: AddrSet<(usize, usize)>,
    equal: AddrSet<(usize, usize)>,
}

/// Compare `a` and `b`: lists (and, for `==`, maps) element by element
/// on the walk's own stack; every other pair of values by `leaf`.
fn compare_pairs(
    mode: Mode,
    a: &Value,
    b: &Value,
    leaf: &mut dyn FnMut(&Value, &Value) -> Result<Ordering, Error>,
) -> Result<Ordering, Error> {
    if !container_pair(mode, a, b) {
        return leaf(a, b);
    }
    let mut w = Pairs {
        mode,
        leaf,
        frames: Vec::new(),
        work: 0,
        inside: None,
    };
    match w.open(a, b)? {
        Ordering::Equal => w.run(),
        differs => Ok(differs),
    }
}

/// How a run of element pairs compared.
enum Scan {
    /// A pair differs (or a map key is missing on the right).
    Differs(Ordering),
    /// A pair of containers, to open; the index after it.
    Child(usize, Value, Value),
    /// All equal up to the end.
    End,
}

impl Pairs<'_> {
    /// Compare element pairs (`None`: a key missing on the right) from
    /// index `i` on, leaves by `leaf`, until a pair of containers.
    fn scan<'v>(
        &mut self,
        pairs: impl Iterator<Item = Option<(&'v Value, &'v Value)>>,
        mut i: usize,
    ) -> Result<Scan, Error> {
        for pair in pairs {
            let Some((p, q)) = pair else {
                return Ok(Scan::Differs(Ordering::Less));
            };
            i += 1;
            if container_pair(self.mode, p, q) {
                return Ok(Scan::Child(i, p.clone(), q.clone()));
            }
            match (self.leaf)(p, q)? {
                Ordering::Equal => {}
                differs => return Ok(Scan::Differs(differs)),
            }
        }
        Ok(Scan::End)
    }

    /// Enter a pair of containers. `Equal`: entered, or known equal;
    /// anything else: they differ (for `==`, without looking inside).
    fn open(&mut self, a: &Value, b: &Value) -> Result<Ordering, Error> {
        let frame = match (a, b) {
            (Value::List(x), Value::List(y)) => {
                if std::rc::Rc::ptr_eq(x, y) {
                    return Ok(Ordering::Equal);
                }
                if self.mode == Mode::Equality && x.borrow().len() != y.borrow().len() {
                    return Ok(Ordering::Less);
                }
                PairFrame::Lists {
                    a: x.clone(),
                    b: y.clone(),
                    next: 0,
                }
            }
            (Value::Map(x), Value::Map(y)) => {
                if std::rc::Rc::ptr_eq(x, y) {
                    return Ok(Ordering::Equal);
                }
                if x.borrow().len() != y.borrow().len() {
                    return Ok(Ordering::Less);
                }
                PairFrame::Maps {
                    a: x.clone(),
                    b: y.clone(),
                    next: 0,
                }
            }
            _ => return (self.leaf)(a, b),
        };
        self.work += 1;
        if self.inside.is_none() && (self.frames.len() >= TRACK_DEPTH || self.work >= TRACK_WORK) {
            self.inside = Some(Tracked {
                path: self.frames.iter().map(PairFrame::key).collect(),
                equal: AddrSet::default(),
            });
        }
        if let Some(t) = &mut self.inside {
            let key = frame.key();
            if t.equal.contains(&key) {
                return Ok(Ordering::Equal);
            }
            if !t.path.insert(key) {
                return Err(compare_cycle(matches!(frame, PairFrame::Lists { .. })));
            }
        }
        self.frames.push(frame);
        Ok(Ordering::Equal)
    }

    fn run(&mut self) -> Result<Ordering, Error> {
        while let Some(top) = self.frames.last() {
            // Compare the top pair's elements up to the next pair of
            // containers, if any.
            let scan = match top {
                PairFrame::Lists { a, b, next } => {
                    let (a, b, start) = (a.clone(), b.clone(), *next);
                    let (x, y) = (a.borrow(), b.borrow());
                    let pairs = x.iter().zip(y.iter()).skip(start).map(Some);
                    match self.scan(pairs, start)? {
                        // All shared positions equal: the shorter is less.
                        Scan::End if x.len() != y.len() => Scan::Differs(x.len().cmp(&y.len())),
                        scan => scan,
                    }
                }
                PairFrame::Maps { a, b, next } => {
                    let (a, b, start) = (a.clone(), b.clone(), *next);
                    let (x, y) = (a.borrow(), b.borrow());
                    let pairs = x.iter().skip(start).map(|(k, p)| y.get(k).map(|q| (p, q)));
                    self.scan(pairs, start)?
                }
            };
            let child = match scan {
                Scan::Differs(o) => return Ok(o),
                Scan::End => None,
                Scan::Child(i, p, q) => {
                    if let Some(PairFrame::Lists { next, .. } | PairFrame::Maps { next, .. }) =
                        self.frames.last_mut()
                    {
                        *next = i;
                    }
                    Some((p, q))
                }
            };
            match child {
                Some((p, q)) => match self.open(&p, &q)? {
                    Ordering::Equal => {}
                    differs => return Ok(differs),
                },
                None => {
                    // This pair is equal.
                    if let Some(frame) = self.frames.pop()
                        && let Some(t) = &mut self.inside
                    {
                        let key = frame.key();
                        t.path.remove(&key);
                        t.equal.insert(key);
                    }
                }
            }
        }
        Ok(Ordering::Equal)
    }
}

/// `==` on two values: structural for lists and maps (any depth), `leaf`
/// for everything else. A `ValueError` when both contain themselves in a
/// way that makes the comparison endless.
pub fn equals(
    a: &Value,
    b: &Value,
    leaf: &mut dyn FnMut(&Value, &Value) -> bool,
) -> Result<bool, Error> {
    let mut leaf = |p: &Value, q: &Value| {
        Ok(if leaf(p, q) {
            Ordering::Equal
        } else {
            Ordering::Less
        })
    };
    Ok(compare_pairs(Mode::Equality, a, b, &mut leaf)? == Ordering::Equal)
}

/// Lexicographic ordering of lists (any depth), `leaf` for every other
/// pair; cycles as for [`equals`].
pub fn compare(
    a: &Value,
    b: &Value,
    leaf: &mut dyn FnMut(&Value, &Value) -> Result<Ordering, Error>,
) -> Result<Ordering, Error> {
    compare_pairs(Mode::Order, a, b, leaf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(v: &Value, form: Form) -> usize {
        let mut out = Vec::new();
        let _ = write(v, form, OnCycle::Mark, &mut out);
        out.len()
    }

    /// The estimate never exceeds the text (a value it rejected would
    /// have fit), is exact where every leaf is a string in text form, and
    /// counts shared parts each time they appear.
    #[test]
    fn the_least_text_is_a_lower_bound_and_counts_shared_parts() {
        let s = Value::str("abc");
        let inner = Value::list(vec![s.clone(), Value::str(""), s.clone()]);
        let mut entries = crate::vm::value::Entries::default();
        entries.insert(crate::vm::value::Str::from("key"), inner.clone());
        entries.insert(crate::vm::value::Str::from("n"), Value::Int(12345));
        let map = Value::map(entries);
        let mixed = Value::list(vec![
            inner.clone(),
            map.clone(),
            Value::Null,
            Value::Float(1.5),
            inner.clone(),
            Value::Bool(true),
        ]);
        for v in [&s, &inner, &map, &mixed] {
            for form in [Form::Text, Form::Repr] {
                let least = text_at_least(v, form);
                assert!(least <= text_of(v, form), "{} {least}", v.repr());
            }
        }
        assert_eq!(
            text_at_least(&inner, Form::Text),
            text_of(&inner, Form::Text)
        );
        let mut shared = Value::list(vec![Value::str("xy")]);
        for _ in 0..10 {
            shared = Value::list(vec![shared.clone(), shared]);
        }
        assert_eq!(
            text_at_least(&shared, Form::Text),
            text_of(&shared, Form::Text)
        );
        // 2,047 lists and 1,024 strings.
        assert_eq!(items_at_least(&shared), 2047 + 1024);
    }
}
