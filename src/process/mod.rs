//! Starting external programs: process groups, pipes, redirections, waiting,
//! killing. Only this module, `runtime` and `repl` touch the OS.
//!
//! # Design
//!
//! **Process groups.** The external processes of one pipeline form one
//! [`Group`]: the first process spawned leads a new process group, the later
//! ones join it. Cancelling a pipeline signals the whole group with `killpg`,
//! so grandchildren (`sh -c 'sleep 100 & wait'`) are reached too: SIGTERM (and
//! SIGCONT, so stopped processes see it), then, once the direct children have
//! exited and the group is empty, or when the grace period runs out, SIGKILL.
//!
//! **posix_spawn.** Processes are started with `std::process::Command` using
//! only features std can express as `posix_spawn` attributes
//! (`process_group`, `arg0`, `current_dir`, `env_clear`/`envs`, stdio), never a
//! `pre_exec` closure, so std keeps its `posix_spawn` (vfork-like) fast path.
//! The program is always given as a path (see [`find_program`]) so std never
//! searches `PATH` itself. std resets SIGPIPE to its default in the child and
//! signal *handlers* are reset by `exec`, but the signal *mask* of the
//! spawning thread is inherited as it is. ash must therefore not set any
//! signal to `SIG_IGN` besides SIGPIPE, nor keep signals blocked on the
//! threads that spawn (the interactive shell catches its stop signals with
//! empty handlers instead of blocking or ignoring them).
//! Where a group's programs go into a cgroup of their own (see `cgroup`),
//! they are started by `spawn_into` instead (`clone3` with
//! `CLONE_INTO_CGROUP`, the same vfork-like start), with the same
//! program, arguments, environment, directory, process group and stdio,
//! SIGPIPE at its default and an empty signal mask.
//!
//! **Off the loop thread.** `posix_spawn` blocks its caller until the child
//! has exec'd; under load (hundreds of children, so a large fd table to copy)
//! that is a millisecond or more per spawn, which would hold every timer of
//! the loop. So the spawn itself runs on smol's blocking pool, and the child
//! is then waited for on the loop through a pidfd. ash does not use
//! async-process, the product's first choice, though its `Command::spawn`
//! could run inside `unblock` too (the `Child` is `Send`): every child it
//! spawns is registered with a global reaper driven by a thread of its own
//! (`async-process`), started on the first spawn with an `expect` that
//! panics when no thread can be created (a tight `ulimit -u`), and each
//! child costs an `Arc<Mutex<..>>` allocation. A pidfd per child needs
//! neither, and reaps exactly that child.
//!
//! **Shared file descriptions.** ash's own stdin/stdout/stderr and the pipes it
//! hands to children are shared file descriptions: setting `O_NONBLOCK` on
//! them would make children's reads/writes fail with `EAGAIN`. [`OutSink`] and
//! [`InSource`] therefore never change file status flags. They write/read with
//! `pwritev2`/`preadv2(RWF_NOWAIT)` where the kernel supports it for that file
//! (pipes and sockets on current Linux), else `poll` with a zero timeout and
//! then at most `PIPE_BUF` bytes (one byte when reading shared input). To wait,
//! they await readiness through one `async_io::Async::new_nonblocking`
//! registration of a dup of the fd (per sink/source). Regular files and
//! `/dev/null` are read and written directly. [`read_to_end`] is only for fds
//! ash alone holds, so it may set `O_NONBLOCK`.
//!
//! **Reaping.** Each child is waited for through its pidfd (`pidfd_open`
//! right after the spawn, Linux 5.3+): the pidfd becomes readable when the
//! child exits and `waitid(P_PIDFD)` reaps exactly that child, never another
//! task's. Where `pidfd_open` fails with ENOSYS or EPERM (kernels before
//! 5.3, seccomp sandboxes) children are waited for by pid on SIGCHLD
//! instead (`by_pid.rs`). ash never calls `waitpid(-1)`. A
//! process group therefore stays alive while a `Group` holds an unreaped
//! member, so later stages can always join it. Dropping a [`Group`] whose
//! processes have not all been seen to exit (what happens when a task is
//! cancelled by dropping its future) sends SIGKILL to the group and reaps
//! the killed children on the blocking pool, so no zombies remain. For a
//! graceful stop, use [`Group::wait`] with a cancel future.
//!
//! All fds created here are `O_CLOEXEC`; a child only gets what its
//! [`Stdio`] says, dup'd onto 0/1/2 during the spawn and closed in ash right
//! after it.

mod by_pid;
mod cgroup;
pub mod contain;
mod io;
mod spawn;
mod spawn_into;
mod unblock;
mod workdir;

pub use io::{
    InSource, OpenMode, OutSink, PipeReader, closed_std_fds, ensure_std_fds, here_doc, open_file,
    open_file_unless, page_size, pipe, raise_fd_limit, read_capture, read_to_end,
    record_closed_std_fds,
};
pub use spawn::{
    Cancelled, ExitInfo, ExternalCmd, Group, SpawnError, Stdio, find_program, find_program_in,
    set_signal_hook,
};
pub use unblock::{io_thread_ready, unblock, unblock_detached};
pub use workdir::WorkDir;

/// The home directory of the user `name` (`~name`), from the password
/// database: `Ok(None)` if there is no such user, `Err` with the reason
/// if the database cannot be read.
pub fn home_of(name: &str) -> Result<Option<std::path::PathBuf>, String> {
    match nix::unistd::User::from_name(name) {
        Ok(user) => Ok(user.map(|u| u.dir)),
        Err(e) => Err(e.desc().to_string()),
    }
}

#[cfg(test)]
mod tests;
