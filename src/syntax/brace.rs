//! Brace expansion, as in bash and fish: `f{,.bak}`, `src/{lib,bin}/x`,
//! `{1..5}`, `{a..e}`, `{01..10..3}`.
//!
//! It happens while parsing (it is purely syntactic, as in bash): a word
//! with braces becomes several words, before any variable, `$( )` or glob
//! is expanded. A `{` starts an expansion only when a raw scan of the text
//! finds its `}` with no blank (or other word-ending character) between and
//! a `,` or a `..` sequence inside; anything else keeps the old meaning
//! (`{ ... }` is a block; in the middle of a word, `x{a}` is text).

use crate::ast::WordPart;

/// Most words one brace expression may make: more is a syntax error that
/// points at `range()`, which makes a list lazily at run time.
pub(crate) const MAX_WORDS: usize = 100_000;

/// What a raw scan found at a `{`: the offsets (from the scanned text's
/// start) of the characters that are structure, and the sequences.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// `{`, `,` and `}` of every list level, sorted.
    pub marks: Vec<usize>,
    /// `{A..B[..S]}` levels: where the `{` is, where the `}` is, the items.
    pub ranges: Vec<(usize, usize, Vec<String>)>,
}

struct Level {
    open: usize,
    commas: Vec<usize>,
    marks: Vec<usize>,
    ranges: Vec<(usize, usize, Vec<String>)>,
}

/// Scan `s`, which starts with `{`, for a brace expression. `None` if it is
/// not one (unclosed, a blank inside, no `,` or `..`), or if it makes more
/// than [`MAX_WORDS`] items in a sequence (`Err` then, with the count).
pub(crate) fn scan(s: &str) -> Result<Option<Scan>, usize> {
    let b = s.as_bytes();
    let mut stack: Vec<Level> = Vec::new();
    let mut k = 0;
    while k < b.len() {
        match b[k] {
            b'{' => {
                stack.push(Level {
                    open: k,
                    commas: Vec::new(),
                    marks: Vec::new(),
                    ranges: Vec::new(),
                });
                k += 1;
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.commas.push(k);
                }
                k += 1;
            }
            b'}' => {
                let Some(mut level) = stack.pop() else {
                    return Ok(None);
                };
                let content = &s[level.open + 1..k];
                let mut valid = !level.commas.is_empty();
                if valid {
                    level.marks.push(level.open);
                    level.marks.append(&mut level.commas);
                    level.marks.push(k);
                } else if let Some(items) = sequence(content)? {
                    valid = true;
                    level.ranges.push((level.open, k, items));
                }
                match stack.last_mut() {
                    None => {
                        if !valid {
                            return Ok(None);
                        }
                        level.marks.sort_unstable();
                        return Ok(Some(Scan {
                            marks: level.marks,
                            ranges: level.ranges,
                        }));
                    }
                    Some(parent) => {
                        parent.marks.append(&mut level.marks);
                        parent.ranges.append(&mut level.ranges);
                    }
                }
                k += 1;
            }
            b'\\' => k += 2,
            b'\'' => match s[k + 1..].find('\'') {
                Some(n) => k += n + 2,
                None => return Ok(None),
            },
            b'"' => match skip_dq(b, k) {
                Some(n) => k = n,
                None => return Ok(None),
            },
            b'$' if matches!(b.get(k + 1), Some(b'(' | b'{')) => match skip_group(b, k + 1) {
                Some(n) => k = n,
                None => return Ok(None),
            },
            b'\r' if b.get(k + 1) == Some(&b'\n') => return Ok(None),
            b' ' | b'\t' | b'\n' | b';' | b'|' | b'&' | b'<' | b'>' | b'(' | b')' => {
                return Ok(None);
            }
            _ => k += 1,
        }
    }
    Ok(None)
}

/// The length of a balanced `{...}` at the start of `s` with no blank
/// inside (text, not a block or an expansion: `x{a}`), if there is one.
pub(crate) fn literal_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut k = 0;
    while k < b.len() {
        match b[k] {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(k + 1);
                }
            }
            b'\\' | b'\'' | b'"' | b'$' => return None,
            b'\r' if b.get(k + 1) == Some(&b'\n') => return None,
            b' ' | b'\t' | b'\n' | b';' | b'|' | b'&' | b'<' | b'>' | b'(' | b')' => {
                return None;
            }
            _ => {}
        }
        k += 1;
    }
    None
}

/// Past the `"..."` starting at `k`.
fn skip_dq(b: &[u8], k: usize) -> Option<usize> {
    let mut k = k + 1;
    while k < b.len() {
        match b[k] {
            b'"' => return Some(k + 1),
            b'\\' => k += 2,
            b'$' if matches!(b.get(k + 1), Some(b'(' | b'{')) => k = skip_group(b, k + 1)?,
            _ => k += 1,
        }
    }
    None
}

/// Past the balanced `(...)` or `{...}` whose opener is at `k`.
fn skip_group(b: &[u8], k: usize) -> Option<usize> {
    let (open, close) = if b[k] == b'(' {
        (b'(', b')')
    } else {
        (b'{', b'}')
    };
    let mut depth = 0usize;
    let mut k = k;
    while k < b.len() {
        match b[k] {
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Some(k + 1);
                }
            }
            b'\\' => k += 1,
            b'\'' => k += b[k + 1..].iter().position(|&c| c == b'\'')? + 1,
            b'"' => {
                k = skip_dq(b, k)?;
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    None
}

/// The items of a sequence `A..B` or `A..B..STEP` (numbers, or single
/// letters), as bash: either direction, the step's sign ignored, numbers
/// zero-padded to the wider end when either end has a leading zero.
fn sequence(content: &str) -> Result<Option<Vec<String>>, usize> {
    let Some((a, b, step)) = sequence_parts(content) else {
        return Ok(None);
    };
    let step = match step.map(str::parse::<i64>) {
        None => 1,
        Some(Ok(v)) => v.unsigned_abs().max(1),
        Some(Err(_)) => return Ok(None),
    };
    if let (Ok(x), Ok(y)) = (a.parse::<i64>(), b.parse::<i64>()) {
        let count = (x.abs_diff(y) / step).saturating_add(1);
        if count > MAX_WORDS as u64 {
            return Err(usize::try_from(count).unwrap_or(usize::MAX));
        }
        let padded = |t: &str| {
            t.trim_start_matches('-').len() > 1 && t.trim_start_matches('-').starts_with('0')
        };
        let width = if padded(a) || padded(b) {
            a.len().max(b.len())
        } else {
            0
        };
        let mut out = Vec::with_capacity(count as usize);
        let mut v = i128::from(x);
        let step = i128::from(step);
        let down = y < x;
        for _ in 0..count {
            out.push(pad_number(v, width));
            v = if down { v - step } else { v + step };
        }
        return Ok(Some(out));
    }
    let letter = |t: &str| {
        let mut cs = t.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => Some(c as u8),
            _ => None,
        }
    };
    if let (Some(x), Some(y)) = (letter(a), letter(b)) {
        let step = usize::try_from(step).unwrap_or(usize::MAX);
        let items: Vec<String> = if x <= y {
            (x..=y)
                .step_by(step)
                .map(|c| (c as char).to_string())
                .collect()
        } else {
            (y..=x)
                .rev()
                .step_by(step)
                .map(|c| (c as char).to_string())
                .collect()
        };
        return Ok(Some(items));
    }
    Ok(None)
}

/// `A..B` or `A..B..STEP`, the whole of `content`: the ends integers
/// (`-` allowed) or single letters, the step an integer.
fn sequence_parts(content: &str) -> Option<(&str, &str, Option<&str>)> {
    use nom::Parser;
    use nom::branch::alt;
    use nom::bytes::complete::tag;
    use nom::character::complete::{char, digit1, satisfy};
    use nom::combinator::{all_consuming, opt, recognize};
    use nom::sequence::preceded;
    let int = || recognize((opt(char('-')), digit1));
    let end = || alt((int(), recognize(satisfy(|c| c.is_ascii_alphabetic()))));
    let mut parts = all_consuming((end(), tag(".."), end(), opt(preceded(tag(".."), int()))));
    let result: nom::IResult<&str, _, nom::error::Error<&str>> = parts.parse(content);
    let (_, (a, _, b, step)) = result.ok()?;
    Some((a, b, step))
}

fn pad_number(v: i128, width: usize) -> String {
    if width == 0 {
        return v.to_string();
    }
    if v < 0 {
        format!("-{:0>w$}", -v, w = width.saturating_sub(1))
    } else {
        format!("{v:0>width$}")
    }
}

/// A word under brace expansion: literal runs and alternatives.
#[derive(Debug)]
pub(crate) enum Seg {
    Parts(Vec<WordPart>),
    Alts(Vec<Vec<Seg>>),
}

/// Every word the segments make, left to right (the product of the
/// alternatives, as bash); `Err(count)` past [`MAX_WORDS`].
pub(crate) fn expand(segs: &[Seg]) -> Result<Vec<Vec<WordPart>>, usize> {
    let mut out: Vec<Vec<WordPart>> = vec![Vec::new()];
    for seg in segs {
        match seg {
            Seg::Parts(parts) => {
                for w in &mut out {
                    w.extend(parts.iter().cloned());
                }
            }
            Seg::Alts(alts) => {
                let mut choices = Vec::new();
                for alt in alts {
                    choices.extend(expand(alt)?);
                    if choices.len() > MAX_WORDS {
                        return Err(choices.len());
                    }
                }
                let total = out.len().saturating_mul(choices.len());
                if total > MAX_WORDS {
                    return Err(total);
                }
                let mut next = Vec::with_capacity(total);
                for w in &out {
                    for c in &choices {
                        let mut x = w.clone();
                        x.extend(c.iter().cloned());
                        next.push(x);
                    }
                }
                out = next;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn items(s: &str) -> Option<Vec<String>> {
        sequence(s).ok().flatten()
    }

    #[test]
    fn sequences() {
        assert_eq!(items("1..3").unwrap(), ["1", "2", "3"]);
        assert_eq!(items("3..1").unwrap(), ["3", "2", "1"]);
        assert_eq!(items("01..10..4").unwrap(), ["01", "05", "09"]);
        assert_eq!(items("-2..1").unwrap(), ["-2", "-1", "0", "1"]);
        assert_eq!(items("a..e..2").unwrap(), ["a", "c", "e"]);
        assert_eq!(items("e..c").unwrap(), ["e", "d", "c"]);
        assert!(items("1..x").is_none());
        assert!(items("1...3").is_none());
        assert!(items("1..5..").is_none());
        assert!(items("1..5..x").is_none());
        assert!(items("1..5..2..1").is_none());
        assert!(items("..5").is_none());
        assert!(items("--1..2").is_none());
        assert!(items("ab..c").is_none());
        assert!(items("a..5").is_none());
        assert!(items("+1..3").is_none());
        assert!(items("99999999999999999999..1").is_none());
        assert!(items("1..3..99999999999999999999").is_none());
        assert_eq!(items("1..5..-2").unwrap(), ["1", "3", "5"]);
        assert_eq!(items("5..1..0").unwrap(), ["5", "4", "3", "2", "1"]);
        assert_eq!(
            items("Z..b").unwrap(),
            ["Z", "[", "\\", "]", "^", "_", "`", "a", "b"]
        );
        assert_eq!(sequence("1..1000000"), Err(1_000_000));
    }

    #[test]
    fn scans() {
        assert!(scan("{a,b}").unwrap().is_some());
        assert!(scan("{a}").unwrap().is_none());
        assert!(scan("{ a,b}").unwrap().is_none());
        assert!(scan("{a,b").unwrap().is_none());
        assert_eq!(scan("{a,'x}'}rest").unwrap().unwrap().marks, [0, 2, 7]);
        assert_eq!(scan("{x,${m.k}}").unwrap().unwrap().marks, [0, 2, 9]);
        let s = scan("{a,{b}}").unwrap().unwrap();
        assert_eq!(s.marks, [0, 2, 6]);
    }
}
