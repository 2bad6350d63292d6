//! The terminal and process groups.
//!
//! The shell leads its own process group and owns the terminal. A
//! foreground pipeline's process group is made the terminal's foreground
//! group when it starts (then sent SIGCONT, in case a process read the
//! terminal before it was handed over and was stopped by SIGTTIN), and the
//! shell takes the terminal back, with its saved modes, when it ends or
//! stops. The shell catches SIGTSTP, SIGTTIN and SIGTTOU with empty
//! handlers (see [`catch_stop_signals`]) and blocks SIGTTOU only around its
//! own `tcsetpgrp` calls.

use std::os::fd::{AsFd, OwnedFd};

use rustix::process::{Pid, Signal};
use rustix::termios::Termios;

pub struct Terminal {
    fd: OwnedFd,
    shell_pgid: Pid,
    modes: Option<Termios>,
}

impl Terminal {
    /// Take control of the terminal on stdin.
    pub fn init() -> Option<Terminal> {
        let fd = rustix::io::fcntl_dupfd_cloexec(std::io::stdin(), 3).ok()?;
        let pid = rustix::process::getpid();
        if rustix::process::getpgrp() != pid {
            let _ = rustix::process::setpgid(None, None);
        }
        let shell_pgid = rustix::process::getpgrp();
        set_foreground(&fd, shell_pgid);
        let modes = rustix::termios::tcgetattr(&fd).ok();
        Some(Terminal {
            fd,
            shell_pgid,
            modes,
        })
    }

    /// Make `pgid` the foreground process group and let it run.
    pub fn give(&self, pgid: i32) {
        if let Some(pid) = Pid::from_raw(pgid) {
            set_foreground(&self.fd, pid);
            let _ = rustix::process::kill_process_group(pid, Signal::CONT);
        }
    }

    /// The shell is the foreground again, with the terminal modes it had.
    pub fn take_back(&self) {
        set_foreground(&self.fd, self.shell_pgid);
        if let Some(m) = &self.modes {
            let _ = rustix::termios::tcsetattr(
                self.fd.as_fd(),
                rustix::termios::OptionalActions::Drain,
                m,
            );
        }
    }
}

/// `tcsetpgrp`, with SIGTTOU blocked for the call: from a background
/// group the kernel would otherwise stop (or, with a handler, endlessly
/// interrupt) the caller. The mask is restored at once because children
/// inherit the spawning thread's signal mask.
fn set_foreground(fd: &OwnedFd, pgid: Pid) {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal as S, pthread_sigmask};
    let mut set = SigSet::empty();
    set.add(S::SIGTTOU);
    let mut old = SigSet::empty();
    let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).is_ok();
    let _ = rustix::termios::tcsetpgrp(fd.as_fd(), pgid);
    if blocked {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
}

/// The shell itself must not be stopped by Ctrl-Z (SIGTSTP) or by touching
/// the terminal from the background (SIGTTIN/SIGTTOU). It catches them with
/// a handler that does nothing; unlike `SIG_IGN` (or a blocked mask, which
/// std's spawn passes on) a handler is reset to the default by `exec`, so
/// children can still be stopped. Poll the stream to drain it.
pub fn catch_stop_signals() -> Option<async_signal::Signals> {
    use async_signal::{Signal as S, Signals};
    Signals::new([S::Tstp, S::Ttin, S::Ttou]).ok()
}

/// Whether a process of group `pgid` is stopped (Ctrl-Z), without reaping.
pub fn group_stopped(pgid: i32) -> bool {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let Some(pid) = Pid::from_raw(pgid) else {
        return false;
    };
    matches!(
        waitid(
            WaitId::Pgid(Some(pid)),
            WaitIdOptions::STOPPED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT
        ),
        Ok(Some(s)) if s.stopped()
    )
}

pub fn continue_group(pgid: i32) {
    if let Some(pid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pid, Signal::CONT);
    }
}

pub fn kill_group(pgid: i32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
}
