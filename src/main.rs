//! The `ash` executable: the C entry point, the big stack, then `cli::main`.
//!
//! Start-up cost (`ash -c true`, docs/performance.md, W1) is why this file
//! does by hand what std's runtime and the `stacker` crate would do: both
//! ask glibc for the main thread's stack (`pthread_getattr_np`), which
//! parses `/proc/self/maps` with `sscanf`, ~110,000 instructions each time,
//! 40% of a start. The unsafe code of the crate is here, in `start`, and in
//! `process::spawn_into` (a program started straight into a cgroup).
#![no_main]

/// ash runs on a large stack: the compiler and the syntax tree's destructor
/// recurse on the depth of the input (bounded by the parser, up to a few
/// thousand levels), and debug builds use kilobytes of stack per level. The
/// memory is reserved, not used, until needed.
const STACK_SIZE: usize = 256 * 1024 * 1024;

/// Runs with std's library ready (it needs no runtime set-up: glibc hands
/// the arguments to std before `main`) and what std's own `main` wrapper
/// did for ash done by `start::main`.
fn run() -> i32 {
    // The `--sentinel` watchdog (see process::contain) needs no big stack.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "--sentinel")
    {
        return ash::cli::main();
    }
    // On this thread, with its stack pointer moved to a mapped region: a
    // thread of its own cost every start a clone, a second malloc arena and
    // a join, about 0.2 ms of `ash -c true`.
    let code = if room_for_big_stack() {
        start::on_big_stack(STACK_SIZE, ash::cli::main)
    } else {
        // Under a small `ulimit -v` the usual stack (`ulimit -s`, usually
        // 8 MiB) holds less nesting: in a debug build, operator chains of
        // about 1,600 links.
        ash::cli::main()
    };
    // What was dropped as ash ended may have warned again.
    ash::diag::flush_repeated();
    code
}

/// Whether the address-space limit leaves room to map the big stack.
fn room_for_big_stack() -> bool {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As);
    limit
        .current
        .is_none_or(|bytes| bytes >= 2 * STACK_SIZE as u64)
}

/// Unsafe code (the library denies it but for the few blocks
/// docs/architecture.md lists):
/// each block says why it is sound.
#[allow(unsafe_code)]
mod start {
    use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};

    /// The C entry point, in place of std's (`#![no_main]`). std's wrapper
    /// would first find the main thread's stack bounds (for its "stack
    /// overflow" message: a `/proc/self/maps` parse), open `/dev/null` on
    /// a closed fd 0-2, ignore SIGPIPE and name the thread "main". ash
    /// needs only the SIGPIPE part; `cli::main` opens `/dev/null` itself,
    /// after noting which of fds 0-2 were closed. A stack overflow is then
    /// a plain SIGSEGV, without std's message.
    // SAFETY (of `no_mangle`): no other `main` symbol is linked: std's
    // is not generated under `no_main`, and the C runtime calls this one
    // with the C signature declared here.
    #[unsafe(no_mangle)]
    extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
        ash::process::record_closed_std_fds();
        // Writes to a closed pipe fail with EPIPE instead of killing ash,
        // as under std's own `main`; std's `Command` puts SIGPIPE back to
        // its default in every child it starts.
        // SAFETY: SIG_IGN installs no handler; no other thread exists yet.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        // A panic ends ash with status 101, as under std's `main` (its
        // message is printed by the panic hook as it happens); it must not
        // unwind into the C runtime.
        let code = std::panic::catch_unwind(super::run).unwrap_or(101);
        // Flushes std's buffered stdout, then exits.
        std::process::exit(code)
    }

    /// Runs `f` on a new stack of `size` bytes (a multiple of the page
    /// size) with an inaccessible guard page below it, or on the current
    /// stack when the memory cannot be mapped. Rust probes every page of a
    /// large frame, so an overflow hits the guard page (SIGSEGV) rather
    /// than skipping over it.
    pub fn on_big_stack(size: usize, f: fn() -> i32) -> i32 {
        let page = ash::process::page_size();
        let len = size + page;
        // SAFETY: a new private anonymous mapping, which aliases nothing.
        let Ok(base) = (unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::STACK,
            )
        }) else {
            return f();
        };
        let unmap = || {
            // SAFETY: the mapping made above; nothing points into it any
            // more (the callback has returned, or never ran).
            let _ = unsafe { rustix::mm::munmap(base, len) };
        };
        // SAFETY: `page` bytes into the mapping above, `size` bytes of it.
        let stack = unsafe { base.cast::<u8>().add(page) };
        let rw = MprotectFlags::READ | MprotectFlags::WRITE;
        // SAFETY: changes the protection of the mapping made above only.
        if unsafe { rustix::mm::mprotect(stack.cast(), size, rw) }.is_err() {
            unmap();
            return f();
        }
        // SAFETY: `stack` is page-aligned (so aligned for any target) and
        // `size` bytes of it are mapped read-write; the callback cannot
        // unwind: a panic is caught and carried out as a value.
        let result = unsafe {
            psm::on_stack(stack, size, || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            })
        };
        unmap();
        result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}
