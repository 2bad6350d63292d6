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

/// What the terminal did with a cursor-position query.
pub struct Probe {
    /// It answered in time.
    pub answers: bool,
    /// Text typed before the answer (or before giving up), to keep.
    pub typed: String,
}

/// Ask the terminal on stdin where the cursor is (`ESC [ 6 n`) and wait at
/// most `wait` for the answer. The line editor asks before each prompt
/// and waits 2 s each time (crossterm's fixed timeout, twice per prompt),
/// so a terminal that never answers would hold up every prompt by 4 s:
/// the shell asks once first, and without an answer reads plain lines.
/// Keys typed before the answer are read too: their text is returned, to
/// be put on the first line.
pub fn probe_cursor_query(wait: std::time::Duration) -> Probe {
    use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, tcgetattr, tcsetattr};
    use std::io::Write;
    let stdin = std::io::stdin();
    let Ok(saved) = tcgetattr(&stdin) else {
        return Probe {
            answers: true,
            typed: String::new(),
        };
    };
    let mut raw = saved.clone();
    raw.local_modes
        .remove(LocalModes::ICANON | LocalModes::ECHO);
    raw.special_codes[SpecialCodeIndex::VMIN] = 0;
    raw.special_codes[SpecialCodeIndex::VTIME] = 0;
    let _ = tcsetattr(&stdin, OptionalActions::Now, &raw);
    let mut out = std::io::stdout();
    let _ = out.write_all(b"\x1b[6n").and_then(|()| out.flush());
    let deadline = std::time::Instant::now() + wait;
    let mut got = Vec::new();
    let mut answer = None;
    while answer.is_none() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let timeout = rustix::event::Timespec::try_from(left).ok();
        let mut fds = [rustix::event::PollFd::new(
            &stdin,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
        let mut buf = [0u8; 256];
        match rustix::io::read(&stdin, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        answer = find_position_report(&got);
    }
    let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
    let answers = answer.is_some();
    let typed_bytes = match answer {
        Some(range) => {
            got.drain(range);
            got
        }
        None => got,
    };
    // Typed text up to the first control key (an Enter typed ahead is not
    // taken as running the line).
    let typed = String::from_utf8_lossy(&typed_bytes)
        .chars()
        .take_while(|c| !c.is_control())
        .collect();
    Probe { answers, typed }
}

/// Where `ESC [ row ; col R` is in `bytes`.
fn find_position_report(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut from = 0;
    while let Some(i) = bytes[from..].windows(2).position(|w| w == b"\x1b[") {
        let start = from + i;
        let rest = &bytes[start + 2..];
        let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
        let a = digits(rest);
        if a > 0 && rest.get(a) == Some(&b';') {
            let b = digits(&rest[a + 1..]);
            if b > 0 && rest.get(a + 1 + b) == Some(&b'R') {
                return Some(start..start + 2 + a + 1 + b + 1);
            }
        }
        from = start + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_position_report;

    #[test]
    fn position_reports() {
        assert_eq!(find_position_report(b"\x1b[12;1R"), Some(0..7));
        assert_eq!(find_position_report(b"ls\x1b[3;40R"), Some(2..9));
        assert_eq!(find_position_report(b"\x1b[A\x1b[1;1R"), Some(3..9));
        assert_eq!(find_position_report(b"\x1b[12;"), None);
        assert_eq!(find_position_report(b"\x1b[12R"), None);
    }
}
