//! String functions: `lines split join starts_with ends_with trim replace
//! upper lower`. All work on bytes and pass invalid UTF-8 through unchanged.

use bstr::ByteSlice;

use super::{arity, stringify, want_int, want_str, wrong_type};
use crate::vm::error::Error;
use crate::vm::objects::Host;
use crate::vm::value::{Str, Value};

/// The pieces of `whole` as strings that share its buffer (no copy).
fn strs<'a>(whole: &'a Str, parts: impl Iterator<Item = &'a [u8]> + 'a) -> Value {
    Value::list(whole.cut(parts).map(Value::Str).collect())
}

/// The string argument `v` of `name` itself (to cut pieces from), or a
/// `TypeError`.
fn want_whole<'a>(name: &str, expected: &str, v: &'a Value) -> Result<&'a Str, Error> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(wrong_type(name, expected, other)),
    }
}

pub(super) fn lines(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("lines", args, 1, 1)?;
    let s = want_whole("lines", "a string", &args[0])?;
    Ok(strs(s, s.lines()))
}

/// How `split`'s arguments cut its string.
enum Cut<'a> {
    /// On runs of whitespace (`split(s)`).
    Fields,
    /// On a one-byte separator, at most this many times.
    Byte(u8, usize),
    /// On a longer separator, at most this many times (`None`: no limit).
    Bytes(&'a [u8], Option<usize>),
}

/// `split`'s arguments checked: the string and how to cut it.
fn split_args(args: &[Value]) -> Result<(&Str, Cut<'_>), Error> {
    arity("split", args, 1, 3)?;
    let s = want_whole("split", "a string", &args[0])?;
    let Some(sep) = args.get(1) else {
        return Ok((s, Cut::Fields));
    };
    let sep = want_str("split", "a string as the separator", sep)?;
    if sep.is_empty() {
        return Err(Error::value("split(): empty separator"));
    }
    let limit = match args.get(2) {
        None => -1,
        Some(n) => want_int("split", "an int as the maximum number of splits", n)?,
    };
    let splits = usize::try_from(limit).ok();
    Ok(match *sep {
        [byte] => (s, Cut::Byte(byte, splits.unwrap_or(usize::MAX))),
        _ => (s, Cut::Bytes(sep, splits)),
    })
}

pub(super) fn split(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    let (s, cut) = split_args(args)?;
    Ok(match cut {
        Cut::Fields => strs(s, s.fields()),
        Cut::Byte(byte, splits) => split_on_byte(s, byte, splits),
        Cut::Bytes(sep, splits) => strs(s, split_bytes(s, sep, splits)),
    })
}

/// `split(...)[k]` (a `PickFn`): the same checks and the same pieces as
/// `split`, cut only as far as piece `k` (W12 takes the second of a
/// line's eight fields: no list, no eight strings).
pub(super) fn split_pick(args: &[Value], k: i64) -> Result<Result<Value, usize>, Error> {
    let (s, cut) = split_args(args)?;
    Ok(match cut {
        Cut::Fields => pick(s, || s.fields(), k),
        Cut::Byte(byte, splits) => pick_on_byte(s, byte, splits, k),
        Cut::Bytes(sep, splits) => pick(s, || split_bytes(s, sep, splits), k),
    })
}

/// Piece `k` of `whole` cut on `sep` at most `splits` times, as
/// [`split_on_byte`] cuts it: a line-sized text is searched only as far
/// as the piece, eight bytes at a time ([`next_byte`]: a `memchr` call
/// per field cost more than the field); a longer one, or `k` from the
/// end, as [`pick`] does it.
fn pick_on_byte(whole: &Str, sep: u8, splits: usize, k: i64) -> Result<Value, usize> {
    const SHORT: usize = 256;
    let text: &[u8] = whole;
    let (Ok(k), true) = (usize::try_from(k), text.len() <= SHORT) else {
        let sep = [sep];
        return pick(whole, || split_bytes(whole, &sep, Some(splits)), k);
    };
    // Past k separators (there are `cut + 1` pieces when they run out).
    let mut from = 0;
    for cut in 0..k {
        match next_byte(text, from, sep) {
            Some(at) if cut < splits => from = at + 1,
            _ => return Err(cut + 1),
        }
    }
    let end = match next_byte(text, from, sep) {
        Some(at) if k < splits => at,
        _ => text.len(),
    };
    Ok(Value::Str(whole.window(from, end - from)))
}

/// Where the first `byte` at or after `from` is in `text`: a word of
/// eight bytes at a time (the bytes equal to `byte` become zero, and the
/// lowest zero byte of a word is the lowest bit of `(x - 0x01..) & !x &
/// 0x80..`), then byte by byte.
pub(super) fn next_byte(text: &[u8], from: usize, byte: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(byte);
    let mut at = from;
    while let Some(eight) = text.get(at..at + 8) {
        let word = u64::from_le_bytes(eight.try_into().unwrap_or_default());
        let x = word ^ pattern;
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(at + (zeros.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = text.get(at..)?;
    rest.iter().position(|&b| b == byte).map(|i| at + i)
}

/// Item `k` of the pieces `pieces()` makes (counted from the end when
/// negative, as a list index), or `Err` with the number of pieces.
fn pick<'a, I: Iterator<Item = &'a [u8]>>(
    whole: &Str,
    pieces: impl Fn() -> I,
    k: i64,
) -> Result<Value, usize> {
    let at = match usize::try_from(k) {
        Ok(at) => at,
        Err(_) => {
            // From the end: the count first (k < 0, so no overflow).
            let len = pieces().count();
            usize::try_from(k + len as i64).map_err(|_| len)?
        }
    };
    match pieces().nth(at) {
        Some(piece) => Ok(Value::Str(whole.slice_ref(piece))),
        None => Err(pieces().count()),
    }
}

/// `split` on a one-byte separator. A first scan counts the separators so
/// the list is allocated once at its size (W12 splits each line in 8
/// fields). A line-sized text is scanned byte by byte (a `memchr` call per
/// short field costs more than the field: its SIMD search restarts each
/// time); a longer one with `memchr`.
fn split_on_byte(whole: &Str, sep: u8, splits: usize) -> Value {
    const SHORT: usize = 256;
    let text: &[u8] = whole;
    let n = if text.len() <= SHORT {
        text.iter().filter(|&&b| b == sep).count()
    } else {
        memchr::memchr_iter(sep, text).count()
    }
    .min(splits);
    let mut out = Vec::with_capacity(n + 1);
    let mut from = 0;
    let mut piece = |at: usize| {
        out.push(Value::Str(whole.window(from, at - from)));
        from = at + 1;
    };
    if text.len() <= SHORT {
        let ats = text.iter().enumerate().filter(|&(_, &b)| b == sep);
        ats.take(n).for_each(|(at, _)| piece(at));
    } else {
        memchr::memchr_iter(sep, text).take(n).for_each(piece);
    }
    out.push(Value::Str(whole.window(from, text.len() - from)));
    Value::list(out)
}

/// The pieces of `s` between occurrences of `sep` (not empty), after at
/// most `splits` splits. A one-byte separator is found with `memchr`;
/// a longer one with a finder built once per call, not per piece.
pub(super) fn split_bytes<'a>(
    s: &'a [u8],
    sep: &'a [u8],
    splits: Option<usize>,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let finder = (sep.len() > 1).then(|| memchr::memmem::Finder::new(sep));
    let mut left = splits.unwrap_or(usize::MAX);
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        let at = match &finder {
            _ if left == 0 => None,
            None => memchr::memchr(sep[0], r),
            Some(f) => f.find(r),
        };
        match at {
            Some(i) => {
                left -= 1;
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => rest.take(),
        }
    })
}

pub(super) fn join(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("join", args, 2, 2)?;
    let list = match &args[0] {
        Value::List(l) => l,
        other => return Err(wrong_type("join", "a list", other)),
    };
    let sep = want_str("join", "a string as the separator", &args[1])?;
    Ok(Value::from(join_bytes(&list.borrow(), sep)?))
}

/// `items` as `join` puts them together (reading them only: it may run on
/// a worker thread).
pub(super) fn join_bytes(items: &[Value], sep: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        stringify("join", v, &mut out)?;
    }
    Ok(out)
}

pub(super) fn starts_with(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("starts_with", args, 2, 2)?;
    let s = want_str("starts_with", "a string", &args[0])?;
    let prefix = want_str("starts_with", "a string as the prefix", &args[1])?;
    Ok(Value::Bool(s.starts_with(prefix)))
}

pub(super) fn ends_with(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("ends_with", args, 2, 2)?;
    let s = want_str("ends_with", "a string", &args[0])?;
    let suffix = want_str("ends_with", "a string as the suffix", &args[1])?;
    Ok(Value::Bool(s.ends_with(suffix)))
}

pub(super) fn trim(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("trim", args, 1, 2)?;
    let s = want_str("trim", "a string", &args[0])?;
    let Some(chars) = args.get(1) else {
        return Ok(Value::str(s.trim()));
    };
    let chars = want_str("trim", "a string of characters to trim", chars)?;
    let trimmed = match std::str::from_utf8(chars) {
        Ok(set) => trim_chars(s, set),
        Err(_) => {
            let start = s.iter().position(|b| !chars.contains(b));
            let end = s.iter().rposition(|b| !chars.contains(b));
            match (start, end) {
                (Some(a), Some(b)) => &s[a..=b],
                _ => &[],
            }
        }
    };
    Ok(Value::str(trimmed))
}

/// Strips the characters of `set` from both ends of `s`; bytes of `s` that
/// are not UTF-8 are never stripped.
fn trim_chars<'a>(s: &'a [u8], set: &str) -> &'a [u8] {
    // `char_indices` yields U+FFFD for invalid bytes; tell those apart from a
    // real U+FFFD by its width in the text.
    let strippable = |start: usize, end: usize, c: char| {
        set.contains(c) && (c != char::REPLACEMENT_CHARACTER || end - start == 3)
    };
    let mut start = s.len();
    for (a, b, c) in s.char_indices() {
        if !strippable(a, b, c) {
            start = a;
            break;
        }
    }
    let mut end = start;
    for (a, b, c) in s[start..].char_indices().rev() {
        if !strippable(a, b, c) {
            end = start + b;
            break;
        }
    }
    &s[start..end]
}

pub(super) fn replace(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("replace", args, 3, 3)?;
    let s = want_str("replace", "a string", &args[0])?;
    let old = want_str("replace", "a string as the text to replace", &args[1])?;
    let new = want_str("replace", "a string as the replacement", &args[2])?;
    if old.is_empty() {
        return Err(Error::value("replace(): empty pattern"));
    }
    Ok(Value::from(s.replace(old, new)))
}

pub(super) fn upper(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("upper", args, 1, 1)?;
    let s = want_str("upper", "a string", &args[0])?;
    Ok(Value::from(s.to_uppercase()))
}

pub(super) fn lower(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("lower", args, 1, 1)?;
    let s = want_str("lower", "a string", &args[0])?;
    Ok(Value::from(s.to_lowercase()))
}

/// The length of `s` as `len` counts it: characters if UTF-8, else bytes.
pub(super) fn char_len(s: &[u8]) -> usize {
    match std::str::from_utf8(s) {
        Ok(text) => text.chars().count(),
        Err(_) => s.len(),
    }
}

/// `repeat(s, n)`: `s` n times (a list: its items n times); `n < 0` is 0.
pub(super) fn repeat(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("repeat", args, 2, 2)?;
    let n = usize::try_from(want_int("repeat", "an int count", &args[1])?).unwrap_or(0);
    match &args[0] {
        Value::Str(s) => {
            if s.len().saturating_mul(n) > 1 << 30 {
                return Err(Error::value("repeat(): the result is too large"));
            }
            Ok(Value::str(s.repeat(n)))
        }
        Value::List(l) => {
            let l = l.borrow();
            if l.len().saturating_mul(n) > 1 << 27 {
                return Err(Error::value("repeat(): the result is too large"));
            }
            let mut out = Vec::with_capacity(l.len() * n);
            for _ in 0..n {
                out.extend(l.iter().cloned());
            }
            Ok(Value::list(out))
        }
        other => Err(wrong_type("repeat", "a string or a list", other)),
    }
}

/// `pad_left(s, width[, fill])` / `pad_right(...)`: `s` (as by `str`)
/// padded with `fill` (a space by default, one character) to `width`
/// characters; longer text is not cut.
fn pad(name: &str, args: &[Value], left: bool) -> Result<Value, Error> {
    arity(name, args, 2, 3)?;
    let mut text = Vec::new();
    stringify(name, &args[0], &mut text)?;
    let width = usize::try_from(want_int(name, "an int width", &args[1])?).unwrap_or(0);
    if width > 1 << 20 {
        return Err(Error::value(format!(
            "{name}(): width {width} is too large"
        )));
    }
    let fill = match args.get(2) {
        None => " ".to_string(),
        Some(v) => {
            let f = want_str(name, "a one-character fill", v)?;
            match std::str::from_utf8(f)
                .ok()
                .filter(|t| t.chars().count() == 1)
            {
                Some(t) => t.to_string(),
                None => {
                    return Err(Error::value(format!(
                        "{name}(): the fill must be one character"
                    )));
                }
            }
        }
    };
    let n = char_len(&text);
    if n >= width {
        return Ok(Value::from(text));
    }
    let padding = fill.repeat(width - n).into_bytes();
    Ok(Value::from(if left {
        [padding, text].concat()
    } else {
        [text, padding].concat()
    }))
}

pub(super) fn pad_left(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    pad("pad_left", args, true)
}

pub(super) fn pad_right(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    pad("pad_right", args, false)
}

/// `format(fmt, args...)`: printf's conversions (`builtins::format`),
/// strictly: the number of arguments must fit the format.
pub(super) fn format(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("format", args, 1, usize::MAX)?;
    let fmt = want_str("format", "a format string", &args[0])?;
    let done =
        crate::builtins::format::format(fmt, &args[1..], crate::builtins::format::Mode::Format)?;
    Ok(Value::from(done.out))
}
