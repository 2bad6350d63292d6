//! parse → compile, in both top-level modes, → lint: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ash_fuzz::parse_and_compile(data);
});
