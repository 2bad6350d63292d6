//! parse → compile → run: the `ash` binary itself runs the input under
//! limits (see `ash_fuzz::run_binary`); a panic message, a death by signal
//! or a process left running after ash exited is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Only inputs that compile are worth a process: the rest is the
    // compile target's job. Compiling in-process also gives libFuzzer its
    // coverage signal (the child process is not instrumented).
    if ash_fuzz::parse_and_compile(data) {
        ash_fuzz::run_binary(data);
    }
});
