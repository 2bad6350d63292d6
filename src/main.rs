/// ash runs on a thread with a large stack: the compiler and the syntax
/// tree's destructor recurse on the depth of the input (bounded by the
/// parser, up to a few thousand levels), and debug builds use kilobytes of
/// stack per level. The memory is reserved, not used, until needed.
const STACK_SIZE: usize = 256 * 1024 * 1024;

fn main() {
    let code = match std::thread::Builder::new()
        .name("ash".into())
        .stack_size(STACK_SIZE)
        .spawn(ash::cli::main)
    {
        Ok(thread) => thread.join().unwrap_or(70),
        // No thread (resource limits): run here, with the usual stack.
        Err(_) => ash::cli::main(),
    };
    std::process::exit(code);
}
