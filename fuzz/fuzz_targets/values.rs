//! Value-building programs (see `ash_fuzz::values`): every walk over
//! random cyclic, shared and deep values, in-process and in the binary.
//! In-process, a stack overflow or a panic is a crash; the binary is
//! judged by `run_binary` (a panic, a signal, a process left running).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let program = ash_fuzz::values::decode(data);
    ash_fuzz::values::run_in_process(&program);
    // The binary costs a process: only programs that walk something.
    if std::env::var_os("ASH_BIN").is_some() && program.len() > 1 {
        ash_fuzz::run_binary(ash_fuzz::values::script(&program).as_bytes());
    }
});
