//! What a branch *is*, as text that does not depend on order or timing:
//! the keys and labels of the journal (section 14; docs/journal.md says
//! the same for users).
//!
//! A key is `[PARENT " / "] SITE " " WHAT ["#" N]`:
//!
//! - SITE names the `gather`, `race` or `spawn`: `FILE:FUNC:gatherK` — the
//!   file's base name, the named function it is written in (`fn NAME`,
//!   qualified as `outer.inner`; left out at a file's top level) and its
//!   ordinal among that function's `gather`s (or `race`s, or `spawn`s) in
//!   source order. Not a line number: fixing a line elsewhere in the
//!   script must not change every key (only adding or removing a site of
//!   the same keyword earlier in the same function renumbers the sites).
//! - WHAT is the branch: for a coroutine of a named function, its name and
//!   the values of its arguments (`check("a.txt")`); for an anonymous body
//!   (a literal `{ }` branch, `async { }`, `spawn { }`, `fn (x) { }`) a
//!   hash of its text and of the values of the variables it captures (and
//!   of its arguments), after the literal branch's argument position:
//!   `{2}~3f0c…` (a branch that is not a literal gets `{}~…`). Captured
//!   variables whose name starts with `_` are left out: bookkeeping (a
//!   progress counter, a list the branches share) is not what a branch is.
//! - PARENT is the key of the task the site runs in (nested gathers), so
//!   the same function gathered in two branches gets two keys.
//! - `#N` tells apart the Nth branch of a run with the same key (a loop
//!   around a literal `gather`): a repeat of the same work.
//!
//! Values are written canonically (maps by sorted key, floats as ash
//! prints them); a value that has no stable text (a task, a channel, a
//! cycle, one too big) makes the branch's key *unstable*: it is recorded
//! but never replayed.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use crate::vm::chunk::{Op, Proto};
use crate::vm::objects::Closure;
use crate::vm::value::{Value, format_float};

/// The name the compiler gives a literal `{ }` branch of `gather`/`race`.
pub const LITERAL_BRANCH: &str = "branch";

/// WHAT longer than this is shortened to a hash (the label keeps a prefix).
const MAX_WHAT: usize = 160;
/// A label longer than this is cut with `…`.
const MAX_LABEL: usize = 100;
/// Values with more parts than this (per branch) have no stable text.
const MAX_NODES: usize = 100_000;
/// Nesting deeper than this has no stable text.
const MAX_DEPTH: usize = 64;

/// A `spawn`, `gather` or `race` instruction of the running code.
pub struct Site<'a> {
    pub proto: &'a Rc<Proto>,
    pub pc: usize,
}

impl Site<'_> {
    /// Where the instruction is in the source (for traces).
    pub fn location(&self) -> Option<crate::vm::error::Location> {
        Some(crate::vm::error::Location {
            source: self.proto.source,
            span: *self.proto.spans.get(self.pc)?,
        })
    }
}

/// A site's two names: `FILE:LINE` (for people) and the key's SITE.
#[derive(Clone)]
pub struct SiteName {
    pub line: Rc<str>,
    pub key: Rc<str>,
}

/// A branch's key and label.
pub struct Named {
    pub key: String,
    pub label: String,
    /// Its key is made of values with a stable text (see the module doc).
    pub stable: bool,
}

/// The state of a run's naming: caches, and how often each key was seen.
#[derive(Default)]
pub struct Keys {
    /// By the proto's address (the `Rc` kept, so the address is not reused).
    sites: HashMap<(usize, usize), (Rc<Proto>, SiteName)>,
    code: HashMap<usize, (Rc<Proto>, u64, Rc<str>)>,
    /// Keys seen in this run, by hash: the Nth gets `#N`.
    seen: HashMap<u64, u32>,
}

impl Keys {
    /// The names of a site.
    pub fn site(&mut self, site: &Site) -> SiteName {
        let addr = Rc::as_ptr(site.proto) as usize;
        if let Some((_, name)) = self.sites.get(&(addr, site.pc)) {
            return name.clone();
        }
        let proto = site.proto;
        let file = crate::diag::source_name(proto.source);
        let base = file.rsplit('/').next().unwrap_or(&file).to_string();
        let span = proto.spans.get(site.pc).copied().unwrap_or(proto.span);
        let (line, _) = crate::diag::source_line_col(proto.source, span.start as usize);
        let kind = match proto.code.get(site.pc) {
            Some(Op::Spawn { .. } | Op::SpawnOn) => "spawn",
            Some(Op::Race { .. } | Op::RaceOn { .. }) => "race",
            _ => "gather",
        };
        let ordinal = proto.sites.ordinal(site.pc).unwrap_or(0);
        let key = match &*proto.sites.scope {
            "" => format!("{base}:{kind}{ordinal}"),
            scope => format!("{base}:{scope}:{kind}{ordinal}"),
        };
        let name = SiteName {
            line: Rc::from(format!("{file}:{line}")),
            key: Rc::from(key),
        };
        self.sites
            .insert((addr, site.pc), (proto.clone(), name.clone()));
        name
    }

    /// The key and label of a branch running `func(args)` at `site`, in a
    /// task whose key is `parent`; `literal`: the argument position of a
    /// literal `{ }` branch.
    pub fn name(
        &mut self,
        parent: Option<&str>,
        site: &SiteName,
        func: &Closure,
        args: &[Value],
        literal: Option<usize>,
    ) -> Named {
        let mut canon = Canon::new(self);
        let (what, label) = canon.what(func, args, literal);
        let stable = canon.stable;
        let mut key = String::with_capacity(what.len() + site.key.len() + 8);
        if let Some(p) = parent {
            key.push_str(p);
            key.push_str(" / ");
        }
        key.push_str(&site.key);
        key.push(' ');
        key.push_str(&what);
        let n = self.seen.entry(hash_str(&key)).or_insert(0);
        *n += 1;
        if *n > 1 {
            let _ = write!(key, "#{n}");
        }
        Named { key, label, stable }
    }

    /// The hash of an anonymous body's text (spaces folded), and the text.
    fn code(&mut self, proto: &Rc<Proto>) -> (u64, Rc<str>) {
        let addr = Rc::as_ptr(proto) as usize;
        if let Some((_, h, text)) = self.code.get(&addr) {
            return (*h, text.clone());
        }
        let raw = crate::diag::source_text(proto.source, proto.span);
        let text: Rc<str> = Rc::from(raw.split_whitespace().collect::<Vec<_>>().join(" "));
        let h = hash_str(&text);
        self.code.insert(addr, (proto.clone(), h, text.clone()));
        (h, text)
    }
}

/// Writes values canonically, noting whether they were all stable.
struct Canon<'k> {
    keys: &'k mut Keys,
    stable: bool,
    nodes: usize,
    /// The lists, maps and closures being written (a cycle is unstable).
    path: Vec<usize>,
}

impl<'k> Canon<'k> {
    fn new(keys: &'k mut Keys) -> Canon<'k> {
        Canon {
            keys,
            stable: true,
            nodes: 0,
            path: Vec::new(),
        }
    }

    /// WHAT and the label.
    fn what(&mut self, func: &Closure, args: &[Value], literal: Option<usize>) -> (String, String) {
        let proto = &func.proto;
        let mut arg_text = String::new();
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                arg_text.push_str(", ");
            }
            self.value(a, 0, &mut arg_text);
        }
        if proto.sites.named {
            let name = &*proto.sites.scope;
            let label = cut(&format!("{name}({arg_text})"), MAX_LABEL);
            let what = if arg_text.len() > MAX_WHAT {
                format!("{name}(~{:016x})", hash_str(&arg_text))
            } else {
                format!("{name}({arg_text})")
            };
            return (what, label);
        }
        // Anonymous: its text, the values it captured, its arguments.
        let (code_hash, text) = self.keys.code(proto);
        let mut captured = String::new();
        for (i, cell) in func.captures.iter().enumerate() {
            let name = proto.capture_names.get(i).map_or("?", |n| n);
            if name.starts_with('_') {
                // Bookkeeping (a progress counter, a list the branches
                // share): not what the branch is.
                continue;
            }
            if !captured.is_empty() {
                captured.push_str(", ");
            }
            captured.push_str(name);
            captured.push('=');
            self.value(&cell.borrow(), 0, &mut captured);
        }
        let mut h = Fnv::new();
        h.write_u64(code_hash);
        h.write(captured.as_bytes());
        h.write(&[0]);
        h.write(arg_text.as_bytes());
        let what = match literal {
            Some(pos) => format!("{{{pos}}}~{:016x}", h.finish()),
            None => format!("{{}}~{:016x}", h.finish()),
        };
        let mut label = String::new();
        let body = if text.starts_with('{') {
            text.to_string()
        } else {
            format!("{{ {text} }}")
        };
        label.push_str(&cut(&body, 48));
        if !arg_text.is_empty() {
            let _ = write!(label, "({arg_text})");
        }
        if !captured.is_empty() {
            let _ = write!(label, " [{captured}]");
        }
        (what, cut(&label, MAX_LABEL))
    }

    fn value(&mut self, v: &Value, depth: usize, out: &mut String) {
        self.nodes += 1;
        if self.nodes > MAX_NODES || depth > MAX_DEPTH {
            self.stable = false;
            out.push_str("<…>");
            return;
        }
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&format_float(*f)),
            Value::Duration(d) => {
                out.push_str(&format_float(*d));
                out.push('s');
            }
            Value::Str(s) => string(s, out),
            Value::List(l) => {
                let addr = Rc::as_ptr(l) as usize;
                if !self.enter(addr, out) {
                    return;
                }
                out.push('[');
                if let Some(r) = l.lazy_range() {
                    // Not made into items just to be named.
                    let _ = write!(out, "range {} +{} x{}", r.start, r.step, r.len);
                } else if let Ok(items) = l.try_borrow() {
                    for (i, x) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        self.value(x, depth + 1, out);
                    }
                }
                out.push(']');
                self.path.pop();
            }
            Value::Map(m) => {
                let addr = Rc::as_ptr(m) as usize;
                if !self.enter(addr, out) {
                    return;
                }
                out.push('{');
                if let Ok(entries) = m.try_borrow() {
                    // Sorted: the same entries inserted in another order are
                    // the same value.
                    let mut sorted: Vec<_> = entries.iter().collect();
                    sorted.sort_by(|a, b| a.0.cmp(b.0));
                    for (i, (k, x)) in sorted.into_iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        string(k, out);
                        out.push_str(": ");
                        self.value(x, depth + 1, out);
                    }
                }
                out.push('}');
                self.path.pop();
            }
            Value::Func(f) => self.closure(f, depth, out),
            Value::Native(n) => {
                let _ = write!(out, "<fn {}>", n.name);
            }
            Value::Suspend(f) => {
                let _ = write!(out, "<fn {}>", f.name);
            }
            Value::Error(e) => {
                out.push_str("<error ");
                out.push_str(e.kind.name());
                out.push(' ');
                string(e.message.as_bytes(), out);
                out.push('>');
            }
            // Made anew by every run: nothing to name them by.
            Value::Coroutine(_) | Value::Task(_) | Value::Channel(_) | Value::Semaphore(_) => {
                self.stable = false;
                let _ = write!(out, "<{}>", v.type_name());
            }
        }
    }

    /// A named function by its name; an anonymous one by its text and
    /// what it captured.
    fn closure(&mut self, f: &Rc<Closure>, depth: usize, out: &mut String) {
        if f.proto.sites.named {
            let _ = write!(out, "<fn {}>", f.proto.sites.scope);
            return;
        }
        let addr = Rc::as_ptr(f) as usize;
        if !self.enter(addr, out) {
            return;
        }
        let (code_hash, _) = self.keys.code(&f.proto);
        let mut captured = String::new();
        for (i, cell) in f.captures.iter().enumerate() {
            if f.proto
                .capture_names
                .get(i)
                .is_some_and(|n| n.starts_with('_'))
            {
                continue;
            }
            self.value(&cell.borrow(), depth + 1, &mut captured);
            captured.push(',');
        }
        let mut h = Fnv::new();
        h.write_u64(code_hash);
        h.write(captured.as_bytes());
        let _ = write!(out, "<fn ~{:016x}>", h.finish());
        self.path.pop();
    }

    /// Start writing a container; false (and unstable) if it is one of
    /// those being written: a cycle.
    fn enter(&mut self, addr: usize, out: &mut String) -> bool {
        if self.path.contains(&addr) {
            self.stable = false;
            out.push_str("<cycle>");
            return false;
        }
        self.path.push(addr);
        true
    }
}

/// A string as a JSON string; bytes that are not UTF-8 as `\xNN`.
fn string(bytes: &[u8], out: &mut String) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
}

/// `text` cut to at most `max` characters, `…` marking the cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => {
            let end = text[..end].char_indices().next_back().map_or(0, |(i, _)| i);
            format!("{}…", &text[..end])
        }
    }
}

/// FNV-1a, 64 bits, with a final mix: the same on every machine and in
/// every version of ash (std's hasher promises neither), which a key
/// written into a file needs.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.write(&v.to_le_bytes());
    }

    fn finish(&self) -> u64 {
        // splitmix64's finalizer: every input bit moves every output bit.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn hash_str(s: &str) -> u64 {
    let mut h = Fnv::new();
    h.write(s.as_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fixed() {
        // Keys are written to files: the hash of a text never changes
        // (values computed independently: FNV-1a 64, splitmix64's mix).
        assert_eq!(hash_str(""), 0xf52a_15e9_a9b5_e89b);
        assert_eq!(
            hash_str("s.ash:gather1 check(\"a\")"),
            0x0202_27d6_869f_2ba8
        );
    }

    #[test]
    fn cut_marks_the_cut() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("ééééé", 3), "éé…");
    }
}
