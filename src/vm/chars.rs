//! Character positions in byte strings, for `len`, `s[i]` and `s[a:b]`.
//!
//! Strings are bytes; ones that are valid UTF-8 are indexed by character
//! (as `len` counts them), others by byte. Finding character `i` must not
//! scan the whole string each time, or a loop indexing a 1 MB string is
//! quadratic: the layout of a long string (ASCII, not UTF-8, or where every
//! 64th character starts) is computed once and kept in a small cache keyed
//! by the string's allocation, so an ASCII string indexes in O(1), another
//! UTF-8 one in O(64), and a slice costs its length.

use std::cell::RefCell;
use std::rc::Rc;

use super::value::Str;

/// Strings shorter than this are scanned directly: the scan is cheaper
/// than the cache.
const SHORT: usize = 256;
/// One checkpoint every this many characters.
const STRIDE: usize = 64;
/// Entries of the cache (the strings a loop works on at once).
const WAYS: usize = 4;

/// How a string is indexed.
enum Layout {
    /// ASCII, or not UTF-8: character `i` is byte `i`.
    Bytes,
    /// UTF-8 with multi-byte characters: the character count and the byte
    /// offset of every `STRIDE`th character.
    Utf8 { chars: usize, marks: Vec<usize> },
}

fn layout_of(s: &[u8]) -> Layout {
    if s.is_ascii() {
        return Layout::Bytes;
    }
    let Ok(text) = std::str::from_utf8(s) else {
        return Layout::Bytes;
    };
    let mut marks = Vec::with_capacity(s.len() / STRIDE + 1);
    let mut chars = 0;
    for (at, _) in text.char_indices() {
        if chars % STRIDE == 0 {
            marks.push(at);
        }
        chars += 1;
    }
    Layout::Utf8 { chars, marks }
}

struct Cache {
    entries: Vec<(Str, Rc<Layout>)>,
    next: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache {
            entries: Vec::new(),
            next: 0,
        })
    };
}

/// The layout of `s`, from the cache when `s` was seen recently.
fn layout(s: &Str) -> Rc<Layout> {
    if s.len() < SHORT {
        return Rc::new(layout_of(s));
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((_, l)) = c.entries.iter().find(|(k, _)| Str::ptr_eq(k, s)) {
            return l.clone();
        }
        let l = Rc::new(layout_of(s));
        if c.entries.len() < WAYS {
            c.entries.push((s.clone(), l.clone()));
        } else {
            let at = c.next;
            c.entries[at] = (s.clone(), l.clone());
            c.next = (at + 1) % WAYS;
        }
        l
    })
}

/// Characters in `s` (bytes if it is not UTF-8).
pub fn char_len(s: &Str) -> usize {
    if s.len() < SHORT {
        return match std::str::from_utf8(s) {
            Ok(t) => t.chars().count(),
            Err(_) => s.len(),
        };
    }
    match &*layout(s) {
        Layout::Bytes => s.len(),
        Layout::Utf8 { chars, .. } => *chars,
    }
}

/// Byte offset of character `i` (`i` at most the length).
fn byte_at(s: &[u8], layout: &Layout, i: usize) -> usize {
    match layout {
        Layout::Bytes => i.min(s.len()),
        Layout::Utf8 { marks, .. } => {
            let k = i / STRIDE;
            let Some(&from) = marks.get(k) else {
                return s.len();
            };
            let mut at = from;
            for _ in 0..i % STRIDE {
                at += s.get(at).map_or(1, |&b| utf8_width(b));
            }
            at.min(s.len())
        }
    }
}

fn utf8_width(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// The bytes of characters `start..end` (both at most the length).
pub fn char_slice(s: &Str, start: usize, end: usize) -> &[u8] {
    if end <= start {
        return &[];
    }
    let l = layout(s);
    let a = byte_at(s, &l, start);
    let b = byte_at(s, &l, end);
    &s[a..b.max(a)]
}

/// The characters at the given indexes (each less than the length), for
/// a slice with a step.
pub fn chars_at(s: &Str, indexes: impl Iterator<Item = usize>) -> Vec<u8> {
    let l = layout(s);
    let mut out = Vec::new();
    for i in indexes {
        let a = byte_at(s, &l, i);
        let b = byte_at(s, &l, i + 1);
        out.extend_from_slice(&s[a..b.max(a)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn str_of(s: &str) -> Str {
        Str::from(s)
    }

    #[test]
    fn long_utf8_strings_index_by_character() {
        let text: String = "aé€😀".repeat(100);
        let s = str_of(&text);
        assert_eq!(char_len(&s), 400);
        assert_eq!(char_slice(&s, 0, 4), "aé€😀".as_bytes());
        assert_eq!(char_slice(&s, 398, 400), "€😀".as_bytes());
        assert_eq!(char_slice(&s, 129, 130), "é".as_bytes());
        assert_eq!(chars_at(&s, [3, 1].into_iter()), "😀é".as_bytes());
    }

    #[test]
    fn short_and_invalid_strings() {
        let s: Str = Str::from(&b"a\xffb"[..]);
        assert_eq!(char_len(&s), 3);
        assert_eq!(char_slice(&s, 1, 3), b"\xffb");
        assert_eq!(char_slice(&str_of("héllo"), 1, 2), "é".as_bytes());
    }
}
