//! `printf FORMAT ARGS...`: sh's `printf`, the format reused while
//! arguments remain.

use std::fmt::Write as _;

use super::{BuiltinCtx, Output, bytes_of};
use crate::vm::error::Error;
use crate::vm::value::Value;

/// `printf FORMAT ARGS...`: `%s %d %i %f %x %o %c %b %%` and the escapes
/// `\n \t \\ \r \0`; the format is reused while arguments remain, as in sh.
pub(super) fn builtin_printf(_: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    let args = bytes_of(args);
    let Some(format) = args.get(1) else {
        return Ok(Output::fail(
            "printf",
            "usage: printf FORMAT [ARGUMENTS...]",
            2,
        ));
    };
    let mut rest = args[2..].iter();
    let mut out = Vec::new();
    let mut status = 0;
    let mut err = Vec::new();
    loop {
        let mut consumed = false;
        let mut i = 0;
        while i < format.len() {
            let c = format[i];
            if c == b'\\' && i + 1 < format.len() {
                i += 1;
                out.extend_from_slice(match format[i] {
                    b'n' => b"\n",
                    b't' => b"\t",
                    b'r' => b"\r",
                    b'\\' => b"\\",
                    b'0'..=b'7' => {
                        // \NNN octal (up to 3 digits), as in sh's printf.
                        let mut v: u32 = 0;
                        let mut k = 0;
                        while k < 3 && i < format.len() && (b'0'..=b'7').contains(&format[i]) {
                            v = v * 8 + u32::from(format[i] - b'0');
                            i += 1;
                            k += 1;
                        }
                        out.push(v as u8);
                        continue;
                    }
                    b'x' if format.get(i + 1).is_some_and(u8::is_ascii_hexdigit) => {
                        // \xHH
                        let mut v: u32 = 0;
                        i += 1;
                        let mut k = 0;
                        while k < 2 && i < format.len() && format[i].is_ascii_hexdigit() {
                            v = v * 16 + (format[i] as char).to_digit(16).unwrap_or(0);
                            i += 1;
                            k += 1;
                        }
                        out.push(v as u8);
                        continue;
                    }
                    b'e' => b"\x1b",
                    b'a' => b"\x07",
                    other => {
                        out.push(b'\\');
                        out.push(other);
                        i += 1;
                        continue;
                    }
                });
                i += 1;
                continue;
            }
            if c != b'%' || i + 1 >= format.len() {
                out.push(c);
                i += 1;
                continue;
            }
            // %[flags][width][.precision]conv
            let start = i;
            i += 1;
            while i < format.len() && b"-+ 0#".contains(&format[i]) {
                i += 1;
            }
            while i < format.len() && (format[i].is_ascii_digit() || format[i] == b'.') {
                i += 1;
            }
            let Some(&conv) = format.get(i) else { break };
            i += 1;
            let spec = String::from_utf8_lossy(&format[start + 1..i - 1]).into_owned();
            if conv == b'%' {
                out.push(b'%');
                continue;
            }
            consumed = true;
            let arg = rest.next().cloned().unwrap_or_default();
            let text = String::from_utf8_lossy(&arg).into_owned();
            let formatted: Vec<u8> = match conv {
                b's' | b'b' => pad(&spec, arg),
                b'c' => arg.first().map(|b| vec![*b]).unwrap_or_default(),
                b'd' | b'i' | b'x' | b'X' | b'o' => {
                    let n = if text.trim().is_empty() {
                        0
                    } else {
                        match text.trim().parse::<i64>() {
                            Ok(n) => n,
                            Err(_) => {
                                status = 1;
                                let _ =
                                    writeln!(String::new(), "ash: printf: {text}: invalid number");
                                err.extend_from_slice(
                                    format!("ash: printf: {text}: invalid number\n").as_bytes(),
                                );
                                0
                            }
                        }
                    };
                    let s = match conv {
                        b'x' => format!("{n:x}"),
                        b'X' => format!("{n:X}"),
                        b'o' => format!("{n:o}"),
                        _ => n.to_string(),
                    };
                    pad(&spec, s.into_bytes())
                }
                b'f' | b'e' | b'g' => {
                    let x: f64 = text.trim().parse().unwrap_or(0.0);
                    let prec = spec
                        .split('.')
                        .nth(1)
                        .and_then(|p| p.parse::<usize>().ok())
                        .unwrap_or(6);
                    let spec_width = spec.split('.').next().unwrap_or("").to_string();
                    let s = match conv {
                        b'e' => format!("{x:.prec$e}"),
                        _ => format!("{x:.prec$}"),
                    };
                    pad(&spec_width, s.into_bytes())
                }
                other => {
                    let mut v = b"%".to_vec();
                    v.extend_from_slice(spec.as_bytes());
                    v.push(other);
                    v
                }
            };
            out.extend_from_slice(&formatted);
        }
        if !consumed || rest.len() == 0 {
            break;
        }
    }
    Ok(Output {
        status,
        stdout: out,
        stderr: err,
        exit: None,
    })
}

/// Width and `-` (left-align) from a printf spec such as `-10` or `5`.
fn pad(spec: &str, s: Vec<u8>) -> Vec<u8> {
    let left = spec.starts_with('-');
    let width: usize = spec
        .trim_start_matches(['-', '+', ' ', '0', '#'])
        .split('.')
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    let len = String::from_utf8_lossy(&s).chars().count();
    if len >= width {
        return s;
    }
    let fill = vec![b' '; width - len];
    if left {
        [s, fill].concat()
    } else {
        [fill, s].concat()
    }
}
