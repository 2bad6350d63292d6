//! Starting external programs: process groups, pipes, redirections, waiting,
//! killing. Only this module, `runtime` and `repl` touch the OS.
