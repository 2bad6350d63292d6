//! Bytes in, `ash::syntax::parse` never panics, hangs or grows without bound
//! (libFuzzer's `-timeout` and `-rss_limit_mb` catch the last two).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The binary refuses invalid UTF-8 before parsing; lossy decoding keeps
    // the rest of the input interesting instead of skipping it.
    let text = String::from_utf8_lossy(data);
    if let Err(e) = ash::syntax::parse(&text) {
        // The span must lie inside the text on char boundaries: the
        // diagnostics slice the source with it.
        let (s, e2) = (e.span.start as usize, e.span.end as usize);
        assert!(
            s <= e2 && e2 <= text.len(),
            "span {s}..{e2} out of {}",
            text.len()
        );
        assert!(
            text.is_char_boundary(s) && text.is_char_boundary(e2),
            "span {s}..{e2} splits a char"
        );
        assert!(!e.message.is_empty());
    }
});
