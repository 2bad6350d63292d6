/// ash runs on a large stack: the compiler and the syntax tree's destructor
/// recurse on the depth of the input (bounded by the parser, up to a few
/// thousand levels), and debug builds use kilobytes of stack per level. The
/// memory is reserved, not used, until needed.
const STACK_SIZE: usize = 256 * 1024 * 1024;

/// Runs before `main`, while a closed stdin, stdout or stderr is still
/// closed (see `process::record_closed_std_fds`). The only unsafe line in
/// ash (allowed here only): the linker section is what makes the C runtime
/// call it, and the function makes only `fcntl` calls.
#[allow(unsafe_code)]
#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_CLOSED_STD_FDS: extern "C" fn() = {
    extern "C" fn record() {
        ash::process::record_closed_std_fds();
    }
    record
};

fn main() {
    // The `--sentinel` watchdog (see process::contain) needs no big stack.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "--sentinel")
    {
        std::process::exit(ash::cli::main());
    }
    // On this thread, with its stack pointer moved to a mapped region
    // (stacker): a thread of its own cost every start a clone, a second
    // malloc arena and a join, about 0.2 ms of `ash -c true`.
    let code = if room_for_big_stack() {
        stacker::grow(STACK_SIZE, ash::cli::main)
    } else {
        // Under a small `ulimit -v` the usual stack (`ulimit -s`, usually
        // 8 MiB) holds less nesting: in a debug build, operator chains of
        // about 1,600 links.
        ash::cli::main()
    };
    // What was dropped as ash ended may have warned again.
    ash::diag::flush_repeated();
    std::process::exit(code);
}

/// Whether the address-space limit leaves room to map the big stack
/// (stacker panics when it cannot).
fn room_for_big_stack() -> bool {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As);
    limit
        .current
        .is_none_or(|bytes| bytes >= 2 * STACK_SIZE as u64)
}
