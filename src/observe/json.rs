//! Writing JSON by hand into a byte buffer: the trace writes hundreds of
//! thousands of small objects, and formatting them through `serde_json`
//! values (a map per event) cost several times as much.

/// `"text"`, escaped (bytes that are not UTF-8 become U+FFFD).
pub fn string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    let text = String::from_utf8_lossy(text);
    for &b in text.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..0x20 | 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Two decimal digits of 0..100, for [`uint`].
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// An unsigned integer. Two digits per division: timestamps, pids and
/// lanes are most of a trace's bytes, and a digit at a time made this
/// the trace thread's costliest function.
pub fn uint(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[i..]);
}

/// An unsigned integer in lowercase hex, without leading zeros.
pub fn hex(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let len = ((64 - n.leading_zeros()).div_ceil(4).max(1)) as usize;
    for (i, d) in digits[..len].iter_mut().enumerate() {
        *d = HEX[(n >> ((len - 1 - i) * 4)) as usize & 15];
    }
    out.extend_from_slice(&digits[..len]);
}

/// A signed integer.
pub fn int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    uint(out, n.unsigned_abs());
}

/// Nanoseconds as microseconds with three decimals (`1234.567`), the
/// trace format's unit (every event has one or two of these): the whole
/// seconds as an integer, then the nine digits of the nanoseconds below
/// them, in 32-bit arithmetic, with the point put in.
pub fn micros(out: &mut Vec<u8>, ns: u64) {
    let (secs, mut below) = (ns / 1_000_000_000, (ns % 1_000_000_000) as u32);
    let mut digits = [0u8; 10];
    for i in (1..5).rev() {
        let pair = (below % 100) as usize * 2;
        below /= 100;
        digits[i * 2..i * 2 + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    digits[1] = b'0' + below as u8;
    // digits[1..10] are the nine digits; the point goes before the last 3.
    let (whole, frac) = (&digits[1..7], &digits[7..10]);
    if secs > 0 {
        uint(out, secs);
        out.extend_from_slice(whole);
    } else {
        let first = whole.iter().position(|&d| d != b'0').unwrap_or(5);
        out.extend_from_slice(&whole[first..]);
    }
    out.push(b'.');
    out.extend_from_slice(frac);
}

/// A float (seconds): to the nanosecond, without trailing zeros (`0.25`,
/// `3`); a non-finite one as `null`. (Rust's shortest form through
/// `format!` was a fifth of the trace thread's time: every `sleep` has one.)
pub fn float(out: &mut Vec<u8>, x: f64) {
    if !x.is_finite() {
        out.extend_from_slice(b"null");
    } else if (0.0..1e10).contains(&x) {
        let ns = (x * 1e9).round() as u64;
        uint(out, ns / 1_000_000_000);
        let mut frac = ns % 1_000_000_000;
        if frac != 0 {
            let mut digits = [b'0'; 9];
            for d in digits.iter_mut().rev() {
                *d = b'0' + (frac % 10) as u8;
                frac /= 10;
            }
            let len = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
            out.push(b'.');
            out.extend_from_slice(&digits[..len]);
        }
    } else {
        out.extend_from_slice(format!("{x}").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn strings_are_escaped_and_parse_back() {
        let raw = b"a\"b\\c\nd\te\x01f\x7f\xffg\xc3\xa9";
        let s = text(|o| string(o, raw));
        let back: String = serde_json::from_str(&s).expect("valid JSON string");
        assert_eq!(back, "a\"b\\c\nd\te\u{1}f\u{7f}\u{fffd}gé");
    }

    #[test]
    fn numbers() {
        assert_eq!(text(|o| uint(o, 0)), "0");
        assert_eq!(text(|o| uint(o, u64::MAX)), u64::MAX.to_string());
        assert_eq!(text(|o| int(o, -42)), "-42");
        assert_eq!(text(|o| int(o, i64::MIN)), i64::MIN.to_string());
        assert_eq!(text(|o| micros(o, 1_234_567)), "1234.567");
        assert_eq!(text(|o| micros(o, 5)), "0.005");
        assert_eq!(text(|o| micros(o, 0)), "0.000");
        assert_eq!(text(|o| micros(o, 1000)), "1.000");
        assert_eq!(text(|o| micros(o, 98_765)), "98.765");
        assert_eq!(text(|o| micros(o, u64::MAX)), "18446744073709551.615");
        assert_eq!(text(|o| micros(o, 1_000_000_000)), "1000000.000");
        assert_eq!(text(|o| micros(o, 4_380_012_345_678)), "4380012345.678");
        assert_eq!(text(|o| micros(o, 999_999_999)), "999999.999");
        assert_eq!(text(|o| hex(o, 0)), "0");
        assert_eq!(text(|o| hex(o, 0x1f_0000_00ab)), "1f000000ab");
        assert_eq!(text(|o| hex(o, u64::MAX)), "ffffffffffffffff");
        for n in [
            0,
            7,
            9,
            10,
            99,
            100,
            101,
            12_345,
            1_000_000,
            1_234_567_890_123,
        ] {
            assert_eq!(text(|o| uint(o, n)), n.to_string());
        }
        assert_eq!(text(|o| float(o, 1.5)), "1.5");
        assert_eq!(text(|o| float(o, 3.0)), "3");
        assert_eq!(text(|o| float(o, 0.0)), "0");
        assert_eq!(text(|o| float(o, 0.05)), "0.05");
        assert_eq!(text(|o| float(o, 1e-9)), "0.000000001");
        assert_eq!(text(|o| float(o, 0.999_987_654)), "0.999987654");
        assert_eq!(text(|o| float(o, -2.5)), "-2.5");
        assert_eq!(text(|o| float(o, 1e300)), format!("{}", 1e300));
        assert_eq!(text(|o| float(o, f64::NAN)), "null");
    }
}
