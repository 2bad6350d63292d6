//! `from_json`'s parse: JSON text to a flat list of tokens, then the
//! tokens to values.
//!
//! The two halves are apart because values are `Rc`s of the loop thread:
//! a large document is parsed on a worker thread (`offload`) and its
//! values are made on the loop a token at a time. The tokens are plain
//! data in two vectors (no allocation per node, unlike a
//! `serde_json::Value` tree, which was then copied node by node: W11 spent
//! half its time and 3× the memory of python3 that way). A map key that
//! repeats (the field names of a list of records) is one shared string.

use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::vm::error::Error;
use crate::vm::value::{Str, Value};

/// A parsed document: tokens in postfix order (a list's items, then the
/// list), and the bytes of its strings one after another.
pub(super) struct Doc {
    toks: Vec<Tok>,
    bytes: Vec<u8>,
    /// The distinct keys seen (up to [`KEYS`]), by number.
    keys: Vec<Box<[u8]>>,
}

#[derive(Clone, Copy)]
enum Tok {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string whose bytes end at this offset of `bytes` (they start
    /// where the previous string's ended).
    Str(usize),
    /// A map key in `bytes`, as `Str` (one of too many keys to share).
    Key(usize),
    /// Key number n of `keys`.
    Shared(u32),
    /// A list of the last n values.
    List(usize),
    /// A map of the last n key-value pairs.
    Map(usize),
}

/// Keys shared per document at most (a map of ids would have millions),
/// and their length at most.
const KEYS: usize = 4096;
const KEY_LEN: usize = 64;

/// Parse JSON text (no values made: this may run on a worker thread).
/// An error is serde_json's message, with its line and column.
pub(super) fn parse(text: &[u8]) -> Result<Doc, String> {
    let mut out = Parse {
        doc: Doc {
            toks: Vec::new(),
            bytes: Vec::new(),
            keys: Vec::new(),
        },
        key_numbers: HashMap::new(),
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    Node(&mut out)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| format!("from_json(): {e}"))?;
    Ok(out.doc)
}

/// The parse so far.
struct Parse {
    doc: Doc,
    key_numbers: HashMap<Box<[u8]>, u32>,
}

impl Parse {
    fn string(&mut self, s: &str) {
        self.doc.bytes.extend_from_slice(s.as_bytes());
        self.doc.toks.push(Tok::Str(self.doc.bytes.len()));
    }

    fn key(&mut self, k: &str) {
        let k = k.as_bytes();
        if let Some(&n) = self.key_numbers.get(k) {
            self.doc.toks.push(Tok::Shared(n));
        } else if self.doc.keys.len() < KEYS && k.len() <= KEY_LEN {
            let n = self.doc.keys.len() as u32;
            self.doc.keys.push(k.into());
            self.key_numbers.insert(k.into(), n);
            self.doc.toks.push(Tok::Shared(n));
        } else {
            self.doc.bytes.extend_from_slice(k);
            self.doc.toks.push(Tok::Key(self.doc.bytes.len()));
        }
    }
}

/// Any JSON value, appended to the parse.
struct Node<'a>(&'a mut Parse);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.doc.toks.push(Tok::Null);
        Ok(())
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.0.doc.toks.push(Tok::Bool(b));
        Ok(())
    }

    fn visit_i64<E>(self, i: i64) -> Result<(), E> {
        self.0.doc.toks.push(Tok::Int(i));
        Ok(())
    }

    // Integers past i64 become floats.
    fn visit_u64<E>(self, u: u64) -> Result<(), E> {
        self.0.doc.toks.push(match i64::try_from(u) {
            Ok(i) => Tok::Int(i),
            Err(_) => Tok::Float(u as f64),
        });
        Ok(())
    }

    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        self.0.doc.toks.push(Tok::Float(f));
        Ok(())
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.0.string(s);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let mut n = 0;
        while items.next_element_seed(Node(&mut *self.0))?.is_some() {
            n += 1;
        }
        self.0.doc.toks.push(Tok::List(n));
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let mut n = 0;
        while entries.next_key_seed(KeyNode(&mut *self.0))?.is_some() {
            entries.next_value_seed(Node(&mut *self.0))?;
            n += 1;
        }
        self.0.doc.toks.push(Tok::Map(n));
        Ok(())
    }
}

/// A map key (always a string in JSON).
struct KeyNode<'a>(&'a mut Parse);

impl<'de> DeserializeSeed<'de> for KeyNode<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyNode<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, k: &str) -> Result<(), E> {
        self.0.key(k);
        Ok(())
    }
}

/// The values of a document, made a token at a time.
pub(super) struct Build {
    doc: Doc,
    next: usize,
    /// Where the next string's bytes start.
    at: usize,
    /// The values made and not yet placed in a list or map.
    stack: Vec<Value>,
    /// The shared keys made so far, by number.
    keys: Vec<Option<Str>>,
    /// The document's string bytes (taken from `doc`): each string is a
    /// window on them, not an allocation and a copy of its own.
    bytes: Str,
}

impl Build {
    pub(super) fn new(mut doc: Doc) -> Build {
        let keys = vec![None; doc.keys.len()];
        let bytes = Str::from(std::mem::take(&mut doc.bytes));
        Build {
            bytes,
            doc,
            next: 0,
            at: 0,
            stack: Vec::new(),
            keys,
        }
    }

    /// The tokens and bytes (to be freed off the loop: unmapping a large
    /// document's pages takes milliseconds).
    pub(super) fn into_doc(self) -> Doc {
        self.doc
    }

    /// Make the value of the next token; after the last one, the
    /// document's value.
    pub(super) fn step(&mut self) -> Option<Value> {
        let Some(&tok) = self.doc.toks.get(self.next) else {
            // Past the end (a parsed document has a token).
            return Some(self.stack.pop().unwrap_or_default());
        };
        self.next += 1;
        let v = match tok {
            Tok::Null => Value::Null,
            Tok::Bool(b) => Value::Bool(b),
            Tok::Int(i) => Value::Int(i),
            Tok::Float(f) => Value::Float(f),
            Tok::Str(end) | Tok::Key(end) => {
                let s = Value::Str(self.bytes.window(self.at, end.saturating_sub(self.at)));
                self.at = end;
                s
            }
            Tok::Shared(n) => {
                let slot = &mut self.keys[n as usize];
                let key = slot.get_or_insert_with(|| Str::from(&*self.doc.keys[n as usize]));
                Value::Str(key.clone())
            }
            Tok::List(n) => {
                // The document's own list takes the whole stack as it is:
                // a copy of 289,000 records was one step of milliseconds.
                // (A big stack is its own mapping: the shrink gives back
                // the spare pages without moving the items.)
                let items = match self.stack.len() == n {
                    true => {
                        let mut all = std::mem::take(&mut self.stack);
                        all.shrink_to_fit();
                        all
                    }
                    false => self.stack.split_off(self.stack.len() - n),
                };
                Value::list(items)
            }
            Tok::Map(n) => {
                let mut map =
                    crate::vm::value::Entries::with_capacity_and_hasher(n, Default::default());
                let mut pairs = self.stack.drain(self.stack.len() - 2 * n..);
                while let (Some(Value::Str(k)), Some(v)) = (pairs.next(), pairs.next()) {
                    // A repeated key keeps its first place and its last value.
                    map.insert(k, v);
                }
                drop(pairs);
                Value::map(map)
            }
        };
        if self.next == self.doc.toks.len() {
            return Some(v);
        }
        self.stack.push(v);
        None
    }
}

/// JSON text to a value, at once.
pub(super) fn from_json(text: &[u8]) -> Result<Value, Error> {
    let mut build = Build::new(parse(text).map_err(Error::value)?);
    loop {
        if let Some(v) = build.step() {
            return Ok(v);
        }
    }
}
