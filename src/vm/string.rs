//! The string type: immutable bytes, shared by reference count.
//!
//! A `Str` is a window (`start`, `len`) on a shared buffer. Most strings
//! are the whole of their buffer; the pieces `lines()` and `split()` cut
//! and a capture's text are windows on the buffer they were cut from or
//! read into, so a million lines are a million counts on one buffer, not a
//! million allocations and copies (W12), and a capture's buffer becomes the
//! string without a copy (W7). A piece keeps its whole buffer alive: a map
//! stores a small piece of a big buffer as a key of its own
//! ([`Str::compact`]), as keys outlive the text they were cut from.
//!
//! A buffer of up to [`INLINE`] bytes lives inside the reference-counted
//! allocation (one `malloc`, as `Rc<[u8]>` was); a longer one is a boxed
//! slice beside it, which is how a `Vec` is adopted without a copy.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::rc::Rc;

/// The longest buffer kept inside the counted allocation (the enum is then
/// 32 bytes, the `Rc` allocation 48).
const INLINE: usize = 30;

/// `len` of a window that runs to the end of its buffer: the only form a
/// string of 4 GiB or more can take.
const TO_END: u32 = u32::MAX;

enum Buf {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Buf {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        match self {
            Buf::Inline { len, bytes } => &bytes[..(*len as usize).min(INLINE)],
            Buf::Heap(b) => b,
        }
    }
}

/// An immutable byte string (see the module's doc).
#[derive(Clone)]
pub struct Str {
    buf: Rc<Buf>,
    start: u32,
    len: u32,
}

impl Str {
    /// The string's bytes.
    #[inline(always)]
    pub fn as_bytes(&self) -> &[u8] {
        let all = self.buf.bytes();
        let start = self.start as usize;
        let range = if self.len == TO_END {
            all.get(start..)
        } else {
            all.get(start..start + self.len as usize)
        };
        // Windows are made inside their buffer; never out of range.
        range.unwrap_or_default()
    }

    /// The string's length in bytes, read from the window's own field (no
    /// trip through the buffer): `native_cost` asks it of every string
    /// argument of every built-in call, once per line in a `while read`
    /// loop.
    #[inline(always)]
    pub fn len(&self) -> usize {
        if self.len == TO_END {
            self.as_bytes().len()
        } else {
            self.len as usize
        }
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn whole(buf: Buf) -> Str {
        let len = u32::try_from(buf.bytes().len())
            .ok()
            .filter(|&n| n != TO_END)
            .unwrap_or(TO_END);
        Str {
            buf: Rc::new(buf),
            start: 0,
            len,
        }
    }

    /// `sub`, a slice of this string's bytes (as `lines` and `split` cut
    /// them), as a string that shares this one's buffer; a copy if `sub`
    /// is not inside it or its place does not fit the window's fields.
    pub fn slice_ref(&self, sub: &[u8]) -> Str {
        let me = self.as_bytes();
        let at = (sub.as_ptr() as usize).wrapping_sub(me.as_ptr() as usize);
        if at > me.len() || sub.len() > me.len() - at {
            return Str::from(sub);
        }
        self.share(at, sub.len())
    }

    /// `pieces`, slices of this string's bytes, as strings that share its
    /// buffer ([`Str::slice_ref`] for many, with the bytes looked up once).
    pub fn cut<'a>(
        &'a self,
        pieces: impl Iterator<Item = &'a [u8]> + 'a,
    ) -> impl Iterator<Item = Str> + 'a {
        let me = self.as_bytes();
        let base = me.as_ptr() as usize;
        pieces.map(move |sub| {
            let at = (sub.as_ptr() as usize).wrapping_sub(base);
            if at > me.len() || sub.len() > me.len() - at {
                return Str::from(sub);
            }
            self.share(at, sub.len())
        })
    }

    /// The `len` bytes at `at` of this string, sharing its buffer; what is
    /// past the end is left out.
    #[inline]
    pub fn window(&self, at: usize, len: usize) -> Str {
        let total = if self.len == TO_END {
            self.as_bytes().len()
        } else {
            self.len as usize
        };
        let at = at.min(total);
        self.share(at, len.min(total - at))
    }

    /// The window `at..at + len` (inside this string) on the same buffer;
    /// a copy if it does not fit the fields (past 4 GiB).
    #[inline]
    fn share(&self, at: usize, len: usize) -> Str {
        let start = self.start as usize + at;
        match (u32::try_from(start), u32::try_from(len)) {
            (Ok(start), Ok(len)) if len != TO_END => Str {
                buf: self.buf.clone(),
                start,
                len,
            },
            _ => Str::from(self.as_bytes().get(at..at + len).unwrap_or_default()),
        }
    }

    /// This string with a buffer of its own if it is a small window on a
    /// much bigger buffer (a key kept by a map should not keep the text it
    /// was cut from alive); else itself.
    pub fn compact(self) -> Str {
        let buf_len = self.buf.bytes().len();
        if buf_len > 4096 && self.as_bytes().len() < buf_len / 2 {
            Str::from(self.as_bytes())
        } else {
            self
        }
    }

    /// Whether the two are the same string: one buffer, one window (a
    /// cache keyed by identity).
    pub fn ptr_eq(a: &Str, b: &Str) -> bool {
        Rc::ptr_eq(&a.buf, &b.buf) && a.start == b.start && a.len == b.len
    }

    /// The whole buffer as a `Vec` (its bytes as they are) if no other
    /// string holds it and it is not kept inline; else this string back.
    /// `read` reuses the memory of a block whose lines are gone.
    pub fn into_vec(self) -> Result<Vec<u8>, Str> {
        let Str { buf, start, len } = self;
        match Rc::try_unwrap(buf) {
            Ok(Buf::Heap(b)) => Ok(b.into_vec()),
            Ok(inline) => Err(Str {
                buf: Rc::new(inline),
                start,
                len,
            }),
            Err(buf) => Err(Str { buf, start, len }),
        }
    }

    /// How many strings hold this one's buffer (it among them): `read`
    /// asks it of a block it leaves, to see whether the script kept lines
    /// of it.
    pub fn holders(&self) -> usize {
        Rc::strong_count(&self.buf)
    }

    /// The size of the buffer this string keeps alive (tests of the
    /// sharing).
    #[cfg(test)]
    pub fn buffer_len(&self) -> usize {
        self.buf.bytes().len()
    }

    /// Whether the two strings share a buffer (tests of the sharing).
    pub fn shares_buffer(&self, other: &Str) -> bool {
        Rc::ptr_eq(&self.buf, &other.buf)
    }
}

impl Default for Str {
    fn default() -> Str {
        Str::from(&b""[..])
    }
}

impl Deref for Str {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Str {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Str {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

// Hashes, compares and orders as its bytes (so maps keyed by `Str` are
// looked up by `&[u8]`).
impl Hash for Str {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Str {}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Str) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(bstr::BStr::new(self.as_bytes()), f)
    }
}

impl From<&[u8]> for Str {
    fn from(b: &[u8]) -> Str {
        if b.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            Str::whole(Buf::Inline {
                len: b.len() as u8,
                bytes,
            })
        } else {
            Str::whole(Buf::Heap(Box::from(b)))
        }
    }
}

impl<const N: usize> From<&[u8; N]> for Str {
    fn from(b: &[u8; N]) -> Str {
        Str::from(&b[..])
    }
}

/// A `Vec` becomes the buffer without a copy (its spare capacity is given
/// back first: `realloc` shrinks in place).
impl From<Vec<u8>> for Str {
    fn from(v: Vec<u8>) -> Str {
        if v.len() <= INLINE {
            Str::from(&v[..])
        } else {
            Str::whole(Buf::Heap(v.into_boxed_slice()))
        }
    }
}

impl From<Box<[u8]>> for Str {
    fn from(b: Box<[u8]>) -> Str {
        if b.len() <= INLINE {
            Str::from(&b[..])
        } else {
            Str::whole(Buf::Heap(b))
        }
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::from(s.as_bytes())
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str::from(s.into_bytes())
    }
}

impl From<&Vec<u8>> for Str {
    fn from(v: &Vec<u8>) -> Str {
        Str::from(&v[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_is_the_length_of_the_bytes_for_every_form() {
        for n in [0, 1, INLINE, INLINE + 1, 1000] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let s = Str::from(bytes.clone());
            assert_eq!((s.len(), s.is_empty()), (n, n == 0));
            for (at, len) in [(0, n), (n / 3, n / 2), (n, 0)] {
                let w = s.window(at, len);
                assert_eq!(w.len(), w.as_bytes().len());
                assert_eq!(w.as_bytes(), &bytes[at..at + len.min(n - at)]);
            }
        }
    }

    #[test]
    fn small_and_big_strings_keep_their_bytes() {
        for n in [0, 1, INLINE - 1, INLINE, INLINE + 1, 1000] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            assert_eq!(&*Str::from(&bytes[..]), &bytes[..]);
            assert_eq!(&*Str::from(bytes.clone()), &bytes[..]);
            assert_eq!(&*Str::from(bytes.clone().into_boxed_slice()), &bytes[..]);
        }
    }

    #[test]
    fn a_vec_is_adopted_without_a_copy() {
        let v = vec![b'x'; 1000];
        let at = v.as_ptr();
        assert_eq!(Str::from(v).as_ptr(), at);
    }

    #[test]
    fn a_slice_shares_the_buffer_and_an_outside_one_is_copied() {
        let s = Str::from(vec![b'a'; 100]);
        let piece = s.slice_ref(&s[10..60]);
        assert!(piece.shares_buffer(&s));
        assert_eq!(&*piece, &s[10..60]);
        // A window of a window.
        let inner = piece.slice_ref(&piece[5..45]);
        assert!(inner.shares_buffer(&s));
        assert_eq!(inner.as_ptr(), s[15..].as_ptr());
        assert_eq!(inner.len(), 40);
        // Small pieces share too; foreign slices are copies.
        assert!(s.slice_ref(&s[0..3]).shares_buffer(&s));
        let other = vec![b'a'; 50];
        let copy = s.slice_ref(&other);
        assert!(!copy.shares_buffer(&s));
        assert_eq!(&*copy, &other[..]);
        // The empty tail is inside (at the end).
        assert_eq!(s.slice_ref(&s[100..]).len(), 0);
    }

    #[test]
    fn into_vec_gives_the_buffer_back_only_when_nobody_else_holds_it() {
        let s = Str::from(vec![7u8; 100]);
        let piece = s.window(10, 5);
        let s = s.into_vec().expect_err("a piece holds the buffer");
        drop(piece);
        assert_eq!(s.into_vec().ok(), Some(vec![7u8; 100]));
        let small = Str::from(&b"short"[..]);
        assert_eq!(&*small.into_vec().expect_err("inline"), b"short");
    }

    #[test]
    fn compact_copies_a_small_window_of_a_big_buffer() {
        let s = Str::from(vec![b'a'; 10_000]);
        let piece = s.slice_ref(&s[0..100]);
        assert!(!piece.clone().compact().shares_buffer(&s));
        assert_eq!(&*piece.clone().compact(), &s[0..100]);
        let most = s.slice_ref(&s[0..9000]);
        assert!(most.compact().shares_buffer(&s));
    }

    #[test]
    fn hashes_and_orders_as_bytes() {
        use std::collections::hash_map::DefaultHasher;
        let h = |x: &dyn Fn(&mut DefaultHasher)| {
            let mut d = DefaultHasher::new();
            x(&mut d);
            d.finish()
        };
        let s = Str::from(vec![b'k'; 40]);
        let piece = s.slice_ref(&s[1..39]);
        assert_eq!(h(&|d| piece.hash(d)), h(&|d| piece[..].hash(d)));
        assert!(Str::from("a") < Str::from("b"));
        assert_eq!(Str::from("ab"), Str::from(b"ab".to_vec()));
    }
}
