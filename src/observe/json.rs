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

/// An unsigned integer.
pub fn uint(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// An unsigned integer in lowercase hex, without leading zeros.
pub fn hex(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.push(HEX[(n >> (i * 4)) as usize & 15]);
    }
}

/// A signed integer.
pub fn int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    uint(out, n.unsigned_abs());
}

/// Nanoseconds as microseconds with three decimals (`1234.567`), the
/// trace format's unit.
pub fn micros(out: &mut Vec<u8>, ns: u64) {
    uint(out, ns / 1000);
    let frac = ns % 1000;
    out.push(b'.');
    out.push(b'0' + (frac / 100) as u8);
    out.push(b'0' + (frac / 10 % 10) as u8);
    out.push(b'0' + (frac % 10) as u8);
}

/// A float (seconds), as Rust prints it; a non-finite one as `null`.
pub fn float(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() {
        out.extend_from_slice(format!("{x}").as_bytes());
    } else {
        out.extend_from_slice(b"null");
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
        assert_eq!(text(|o| hex(o, 0)), "0");
        assert_eq!(text(|o| hex(o, 0x1f_0000_00ab)), "1f000000ab");
        assert_eq!(text(|o| hex(o, u64::MAX)), "ffffffffffffffff");
        assert_eq!(text(|o| float(o, 1.5)), "1.5");
        assert_eq!(text(|o| float(o, f64::NAN)), "null");
    }
}
