//! The one formatting engine of the `printf` builtin and `format()`.
//!
//! ash reads the format's directives (`%[flags][width][.precision]conv`,
//! with `*` for a width or precision taken from the arguments), converts
//! each argument the way the shell's printf does, and hands numbers to
//! `fish_printf` (fish's engine, musl's float formatting), so `%g`, `%e`,
//! `%a`, `%#x`, `%+05d` follow C. Strings (`%s`, `%b`, `%c`) are formatted
//! here, by character. Width and precision are capped at [`MAX_FIELD`]:
//! `%.65536f` or `%9223372036854775807s` is an error, not a crash.
//!
//! The two callers differ only where the shell's printf is lenient:
//! - `printf` (POSIX): backslash escapes in the format (`\n \t \\ \a \e
//!   \0NNN \xHH`); a missing argument is `""` or 0; the format is reused
//!   while arguments remain; an argument that is not a number prints a
//!   message, counts as 0 and makes the status 1.
//! - `format(fmt, args...)`: no escapes (the string literal has them); too
//!   few or too many arguments, and a non-number for a number, are errors.

use std::fmt::Write as _;

use crate::vm::error::Error;
use crate::vm::value::Value;

/// The largest width or precision (in characters or digits).
pub const MAX_FIELD: usize = 10_000;

/// How the arguments are read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Printf,
    Format,
}

/// What formatting produced: the bytes, and (printf) messages about bad
/// arguments, each already `ash: printf: ...`.
pub struct Formatted {
    pub out: Vec<u8>,
    pub warnings: Vec<String>,
}

struct Args<'a> {
    values: &'a [Value],
    next: usize,
    mode: Mode,
    warnings: Vec<String>,
}

impl Args<'_> {
    fn take(&mut self) -> Result<Option<&Value>, Error> {
        match self.values.get(self.next) {
            Some(v) => {
                self.next += 1;
                Ok(Some(v))
            }
            None if self.mode == Mode::Format => Err(Error::type_err(format!(
                "format(): not enough arguments for the format ({} given)",
                self.values.len()
            ))),
            None => Ok(None),
        }
    }

    fn bad_number(&mut self, text: &str) -> Result<(), Error> {
        match self.mode {
            Mode::Printf => {
                self.warnings
                    .push(format!("ash: printf: {text}: invalid number"));
                Ok(())
            }
            Mode::Format => Err(Error::value(format!("format(): {text:?} is not a number"))),
        }
    }

    /// An argument as an integer (`%d %i %u %o %x %X %c`, `*`).
    fn int(&mut self) -> Result<i64, Error> {
        let Some(v) = self.take()? else {
            return Ok(0);
        };
        let v = v.clone();
        match &v {
            Value::Int(i) => Ok(*i),
            Value::Bool(b) => Ok(i64::from(*b)),
            Value::Null => Ok(0),
            Value::Float(f) if f.is_finite() => Ok(f.trunc() as i64),
            other => {
                let text = other.to_text()?;
                match parse_int(&text) {
                    Some(i) => Ok(i),
                    None => {
                        self.bad_number(&text)?;
                        Ok(parse_float(&text).map_or(0, |f| f as i64))
                    }
                }
            }
        }
    }

    /// An argument as a float (`%e %f %g %a`).
    fn float(&mut self) -> Result<f64, Error> {
        let Some(v) = self.take()? else {
            return Ok(0.0);
        };
        let v = v.clone();
        match &v {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) | Value::Duration(f) => Ok(*f),
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            Value::Null => Ok(0.0),
            other => {
                let text = other.to_text()?;
                match parse_float(&text) {
                    Some(f) => Ok(f),
                    None => {
                        self.bad_number(&text)?;
                        Ok(0.0)
                    }
                }
            }
        }
    }

    /// An argument as bytes (`%s %b`).
    fn bytes(&mut self) -> Result<Vec<u8>, Error> {
        Ok(self
            .take()?
            .map(Value::to_bytes)
            .transpose()?
            .unwrap_or_default())
    }
}

/// The shell's integer forms: `42`, `-7`, `+3`, `0x1f`, `017` (octal), and
/// `'c` / `"c` (the character's code).
fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return Some(0);
    }
    if let Some(c) = t.strip_prefix(['\'', '"']) {
        return Some(c.chars().next().map_or(0, |c| i64::from(u32::from(c))));
    }
    let (neg, digits) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let magnitude = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(h, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    if neg {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok().or(Some(magnitude as i64))
    }
}

fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() {
        return Some(0.0);
    }
    if let Some(c) = t.strip_prefix(['\'', '"']) {
        return Some(c.chars().next().map_or(0.0, |c| f64::from(u32::from(c))));
    }
    t.parse::<f64>()
        .ok()
        .or_else(|| parse_int(t).map(|i| i as f64))
}

/// One directive's flags, width and precision.
#[derive(Default)]
struct Spec {
    flags: String,
    width: Option<usize>,
    precision: Option<usize>,
    left: bool,
}

impl Spec {
    /// The C spec for `fish_printf`, with conversion `conv`.
    fn c_spec(&self, conv: char) -> String {
        let mut s = String::from("%");
        s.push_str(&self.flags);
        if self.left && !self.flags.contains('-') {
            s.push('-');
        }
        if let Some(w) = self.width {
            let _ = write!(s, "{w}");
        }
        if let Some(p) = self.precision {
            let _ = write!(s, ".{p}");
        }
        s.push(conv);
        s
    }

    /// Pad `text` (already cut to the precision) to the width, by
    /// characters.
    fn pad(&self, text: &[u8], out: &mut Vec<u8>) {
        let chars = match std::str::from_utf8(text) {
            Ok(t) => t.chars().count(),
            Err(_) => text.len(),
        };
        let fill = self.width.unwrap_or(0).saturating_sub(chars);
        if !self.left {
            out.extend(std::iter::repeat_n(b' ', fill));
        }
        out.extend_from_slice(text);
        if self.left {
            out.extend(std::iter::repeat_n(b' ', fill));
        }
    }
}

fn too_large(what: &str, n: &str, mode: Mode) -> Error {
    let who = if mode == Mode::Printf {
        "printf"
    } else {
        "format()"
    };
    Error::value(format!(
        "{who}: {what} {n} is too large (at most {MAX_FIELD})"
    ))
}

/// A width or precision written in the format.
fn field(digits: &str, what: &str, mode: Mode) -> Result<usize, Error> {
    match digits.parse::<usize>() {
        Ok(n) if n <= MAX_FIELD => Ok(n),
        _ => Err(too_large(what, digits, mode)),
    }
}

/// Format `args` by `fmt`.
pub fn format(fmt: &[u8], values: &[Value], mode: Mode) -> Result<Formatted, Error> {
    let mut args = Args {
        values,
        next: 0,
        mode,
        warnings: Vec::new(),
    };
    let mut out = Vec::new();
    loop {
        let before = args.next;
        one_pass(fmt, &mut args, &mut out)?;
        let consumed = args.next > before;
        if args.next >= values.len() || !consumed {
            break;
        }
        if mode == Mode::Format {
            return Err(Error::type_err(format!(
                "format(): too many arguments for the format ({} given, {} used)",
                values.len(),
                args.next
            )));
        }
    }
    if mode == Mode::Format && args.next < values.len() {
        return Err(Error::type_err(format!(
            "format(): too many arguments for the format ({} given, {} used)",
            values.len(),
            args.next
        )));
    }
    Ok(Formatted {
        out,
        warnings: args.warnings,
    })
}

fn one_pass(fmt: &[u8], args: &mut Args, out: &mut Vec<u8>) -> Result<(), Error> {
    let mode = args.mode;
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        if c == b'\\' && mode == Mode::Printf {
            i = escape(fmt, i, out, false).0;
            continue;
        }
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        if fmt.get(i + 1) == Some(&b'%') {
            out.push(b'%');
            i += 2;
            continue;
        }
        let start = i;
        i += 1;
        let mut spec = Spec::default();
        while let Some(&f) = fmt.get(i) {
            if !b"-+ 0#".contains(&f) {
                break;
            }
            if f == b'-' {
                spec.left = true;
            } else {
                spec.flags.push(f as char);
            }
            i += 1;
        }
        if fmt.get(i) == Some(&b'*') {
            let w = args.int()?;
            if w < 0 {
                spec.left = true;
            }
            let w = w.unsigned_abs();
            if w > MAX_FIELD as u64 {
                return Err(too_large("width", &w.to_string(), mode));
            }
            spec.width = Some(w as usize);
            i += 1;
        } else {
            let n = fmt[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            if n > 0 {
                let digits = String::from_utf8_lossy(&fmt[i..i + n]).into_owned();
                spec.width = Some(field(&digits, "width", mode)?);
                i += n;
            }
        }
        if fmt.get(i) == Some(&b'.') {
            i += 1;
            if fmt.get(i) == Some(&b'*') {
                let p = args.int()?;
                if p > MAX_FIELD as i64 {
                    return Err(too_large("precision", &p.to_string(), mode));
                }
                // A negative precision is taken as missing (C).
                spec.precision = usize::try_from(p).ok();
                i += 1;
            } else {
                let n = fmt[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                let digits = String::from_utf8_lossy(&fmt[i..i + n]).into_owned();
                spec.precision = Some(if n == 0 {
                    0
                } else {
                    field(&digits, "precision", mode)?
                });
                i += n;
            }
        }
        // Length modifiers mean nothing here (values carry their size).
        while fmt.get(i).is_some_and(|b| b"hlLjzt".contains(b)) {
            i += 1;
        }
        let Some(&conv) = fmt.get(i) else {
            let text = String::from_utf8_lossy(&fmt[start..]).into_owned();
            return Err(Error::value(format!(
                "{}: missing conversion at the end of {text:?}",
                who(mode)
            )));
        };
        i += 1;
        if conv == b'%' {
            // `%5%`: a percent sign, whatever came between.
            out.push(b'%');
            continue;
        }
        convert(conv, &spec, args, out)?;
    }
    Ok(())
}

fn who(mode: Mode) -> &'static str {
    match mode {
        Mode::Printf => "printf",
        Mode::Format => "format()",
    }
}

/// One conversion.
fn convert(conv: u8, spec: &Spec, args: &mut Args, out: &mut Vec<u8>) -> Result<(), Error> {
    use fish_printf::{Arg, printf_c_locale};
    let mut text = String::new();
    let mode = args.mode;
    let c_err = move |e: fish_printf::Error| Error::value(format!("{}: {e:?}", who(mode)));
    match conv {
        b'd' | b'i' => {
            let v = args.int()?;
            printf_c_locale(
                &mut text,
                spec.c_spec('d').as_str(),
                &mut [Arg::SInt(v, 64)],
            )
            .map_err(c_err)?;
        }
        b'u' | b'o' | b'x' | b'X' => {
            let v = args.int()? as u64;
            printf_c_locale(
                &mut text,
                spec.c_spec(conv as char).as_str(),
                &mut [Arg::UInt(v)],
            )
            .map_err(c_err)?;
        }
        b'e' | b'E' | b'f' | b'F' | b'g' | b'G' | b'a' | b'A' => {
            let v = args.float()?;
            printf_c_locale(
                &mut text,
                spec.c_spec(conv as char).as_str(),
                &mut [Arg::Float(v)],
            )
            .map_err(c_err)?;
        }
        b's' | b'b' => {
            let bytes = args.bytes()?;
            let bytes = if conv == b'b' {
                expand_escapes(&bytes)
            } else {
                bytes
            };
            let cut = match (spec.precision, std::str::from_utf8(&bytes)) {
                (Some(p), Ok(t)) => t
                    .char_indices()
                    .nth(p)
                    .map_or(&bytes[..], |(at, _)| &bytes[..at]),
                (Some(p), Err(_)) => &bytes[..p.min(bytes.len())],
                (None, _) => &bytes[..],
            };
            spec.pad(cut, out);
            return Ok(());
        }
        b'c' => {
            let ch: Vec<u8> = match args.take()? {
                Some(Value::Int(i)) if mode == Mode::Format => u32::try_from(*i)
                    .ok()
                    .and_then(char::from_u32)
                    .map(|c| c.to_string().into_bytes())
                    .ok_or_else(|| Error::value(format!("format(): {i} is not a character")))?,
                Some(v) => {
                    let b = v.to_bytes()?;
                    match std::str::from_utf8(&b) {
                        Ok(t) => t.chars().next().map(|c| c.to_string().into_bytes()),
                        Err(_) => b.first().map(|x| vec![*x]),
                    }
                    .unwrap_or_default()
                }
                None => Vec::new(),
            };
            spec.pad(&ch, out);
            return Ok(());
        }
        other => {
            let shown = String::from_utf8_lossy(&[other]).into_owned();
            return Err(Error::value(format!(
                "{}: %{shown}: invalid conversion (use %d %i %u %o %x %X %e %f %g %a %s %b %c %%)",
                who(args.mode)
            )));
        }
    }
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// One backslash escape at `fmt[i]` (a `\`); the index after it, and
/// whether it was `\c` (stop all output, in `%b`).
fn escape(fmt: &[u8], i: usize, out: &mut Vec<u8>, in_b: bool) -> (usize, bool) {
    let Some(&c) = fmt.get(i + 1) else {
        out.push(b'\\');
        return (i + 1, false);
    };
    let simple = match c {
        b'n' => Some(b'\n'),
        b't' => Some(b'\t'),
        b'r' => Some(b'\r'),
        b'\\' => Some(b'\\'),
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'v' => Some(0x0b),
        b'e' | b'E' => Some(0x1b),
        b'"' => Some(b'"'),
        b'\'' => Some(b'\''),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return (i + 2, false);
    }
    match c {
        b'c' if in_b => (i + 2, true),
        b'0'..=b'7' => {
            // \NNN (printf's format) or \0NNN (%b): up to 3 octal digits.
            let mut k = i + 1;
            if in_b && c == b'0' {
                k += 1;
            }
            let mut v: u32 = 0;
            let mut n = 0;
            while n < 3 && fmt.get(k).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                v = v * 8 + u32::from(fmt[k] - b'0');
                k += 1;
                n += 1;
            }
            out.push(v as u8);
            (k, false)
        }
        b'x' if fmt.get(i + 2).is_some_and(u8::is_ascii_hexdigit) => {
            let mut k = i + 2;
            let mut v: u32 = 0;
            while k < i + 4 && fmt.get(k).is_some_and(u8::is_ascii_hexdigit) {
                v = v * 16 + (fmt[k] as char).to_digit(16).unwrap_or(0);
                k += 1;
            }
            out.push(v as u8);
            (k, false)
        }
        other => {
            out.push(b'\\');
            out.push(other);
            (i + 2, false)
        }
    }
}

/// `%b`: the argument's backslash escapes expanded (`\c` ends it).
fn expand_escapes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' {
            let (next, stop) = escape(s, i, &mut out, true);
            if stop {
                break;
            }
            i = next;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[Value]) -> String {
        String::from_utf8(format(fmt.as_bytes(), args, Mode::Format).unwrap().out).unwrap()
    }

    #[test]
    fn conversions_follow_c() {
        assert_eq!(f("%g", &[Value::Float(4.5)]), "4.5");
        assert_eq!(f("%e", &[Value::Float(1234.5)]), "1.234500e+03");
        assert_eq!(
            f("%05d|%+d|%-4d|", &[42.into(), 7.into(), 3.into()]),
            "00042|+7|3   |"
        );
        assert_eq!(
            f("%#x %o %X", &[255.into(), 8.into(), 255.into()]),
            "0xff 10 FF"
        );
        assert_eq!(
            f("%.2s|%5.1f", &["héllo".into(), Value::Float(3.25)]),
            "hé|  3.2"
        );
        assert_eq!(
            f("%*d|%-*s|", &[4.into(), 1.into(), 3.into(), "a".into()]),
            "   1|a  |"
        );
        assert_eq!(f("%c%c", &["xyz".into(), 233.into()]), "xé");
    }

    #[test]
    fn fields_are_capped() {
        let e = format(b"%.65536f", &[1.into()], Mode::Format)
            .err()
            .unwrap();
        assert!(e.message.contains("too large"), "{}", e.message);
        let e = format(b"%9223372036854775807s", &["x".into()], Mode::Printf)
            .err()
            .unwrap();
        assert!(e.message.contains("too large"), "{}", e.message);
    }

    #[test]
    fn shell_numbers() {
        assert_eq!(parse_int("0x1f"), Some(31));
        assert_eq!(parse_int("017"), Some(15));
        assert_eq!(parse_int("'A"), Some(65));
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("1.5"), None);
    }
}
