/// ash runs on a thread with a large stack: the compiler and the syntax
/// tree's destructor recurse on the depth of the input (bounded by the
/// parser, up to a few thousand levels), and debug builds use kilobytes of
/// stack per level. The memory is reserved, not used, until needed.
const STACK_SIZE: usize = 256 * 1024 * 1024;

fn main() {
    // The `--sentinel` watchdog (see process::contain) needs neither.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "--sentinel")
    {
        std::process::exit(ash::cli::main());
    }
    if let Err(e) = start_io_thread() {
        eprintln!("ash: cannot start: {e}");
        std::process::exit(1);
    }
    let code = match std::thread::Builder::new()
        .name("ash".into())
        .stack_size(STACK_SIZE)
        .spawn(ash::cli::main)
    {
        Ok(thread) => thread.join().unwrap_or(70),
        // No thread (a tight `ulimit -u`): run here, on the main thread's
        // stack (`ulimit -s`, usually 8 MiB), which holds less nesting:
        // in a debug build, operator chains of about 1,600 links.
        Err(_) => ash::cli::main(),
    };
    std::process::exit(code);
}

/// Start async-io's helper thread now, while a failure can still be
/// reported. async-io starts it on first use and panics when it cannot
/// (`cannot spawn async-io thread`); a panic there, in the middle of the
/// run, aborted ash (the unwinding went through a destructor that tried
/// again). Its `block_on` starts the thread on return.
fn start_io_thread() -> Result<(), String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let started = std::panic::catch_unwind(|| async_io::block_on(async {}));
    std::panic::set_hook(hook);
    started.map_err(|panic| match std::thread::Builder::new().spawn(|| {}) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            "no thread can be created: the limit on processes (ulimit -u) was reached".into()
        }
        Err(e) => format!("no thread can be created: {e}"),
        Ok(probe) => {
            let _ = probe.join();
            let text = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied());
            format!("async-io failed: {}", text.unwrap_or("(no message)"))
        }
    })
}
