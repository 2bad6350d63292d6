//! The OpenSSH command lines ash runs, and the little `sh` programs it
//! runs on a host before its agent.
//!
//! A host's agent runs over a connection of its own, which is also the
//! host's master (`ControlMaster=yes`, its control socket in a directory
//! of this ash process, mode 0700): one handshake and one `ssh` process
//! per host. Only when ash must first be copied to the host does it start
//! a separate master (`ssh -N -o ControlMaster=yes`), wait for its socket
//! to appear (authentication done), and run the copy and then the agent
//! as sessions over it. Every `ssh` is a child of ash in a process group
//! of its own; at exit the masters get SIGTERM (the agents' connections
//! end with their agents); if ash dies first, its sentinel kills them (a
//! master left in the background by `ControlPersist` would not be found:
//! ssh overwrites its environment, where ash's scope token is).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The command that replaces plain `ssh` (`ASH_SSH="ssh -F ./ssh_config"`).
pub const SSH_VAR: &str = "ASH_SSH";

/// `ASH_SSH` split into words (single and double quotes group, a backslash
/// escapes the next character), or `ssh`.
pub fn base_command() -> Result<Vec<OsString>, String> {
    let Some(text) = std::env::var_os(SSH_VAR) else {
        return Ok(vec!["ssh".into()]);
    };
    let text = text.to_string_lossy().into_owned();
    let words =
        split_words(&text).ok_or_else(|| format!("{SSH_VAR} has an unclosed quote: {text}"))?;
    if words.is_empty() {
        return Err(format!("{SSH_VAR} is empty"));
    }
    Ok(words.into_iter().map(OsString::from).collect())
}

/// Shell-like words: blanks separate; quotes group; no expansions.
fn split_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => cur.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => cur.push(chars.next()?),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// How an `ssh` reaches the host.
#[derive(Clone, Copy, PartialEq)]
pub enum Role {
    /// The master connection, running nothing (`-N`): sessions go over it.
    Master,
    /// A connection of its own that is the master too, running the command
    /// (the agent: one handshake, no second process, no wait for the
    /// control socket).
    MasterRunning,
    /// A session over the master connection.
    Session,
}

/// The options of an `ssh` in `role`; `control` is the master's socket.
/// All get keep-alives, so a vanished host is noticed (in about 30 s), and
/// no terminal.
pub fn options(control: &Path, role: Role) -> Vec<OsString> {
    let mut path = OsString::from("ControlPath=");
    path.push(control);
    let mut out: Vec<OsString> = vec!["-o".into(), path];
    if role != Role::Session {
        // In the foreground, as ash's child: killed with ash's other
        // children (by its sentinel, even after a SIGKILL); it ends when
        // its own session does (and the sessions over it have).
        out.extend([
            "-o".into(),
            "ControlMaster=yes".into(),
            "-o".into(),
            "ControlPersist=no".into(),
        ]);
        if role == Role::Master {
            out.push("-N".into());
        }
    } else {
        out.extend(["-o".into(), "ControlMaster=no".into()]);
    }
    out.extend([
        "-o".into(),
        "ServerAliveInterval=10".into(),
        "-o".into(),
        "ServerAliveCountMax=3".into(),
        "-T".into(),
    ]);
    out
}

/// The private directory for this process's control sockets: short (a
/// Unix socket path holds about 100 bytes), under `$XDG_RUNTIME_DIR` or
/// `/tmp`, mode 0700.
pub fn make_control_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.as_os_str().len() < 40 && p.is_dir())
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let pid = std::process::id();
    let mut last = None;
    for _ in 0..8 {
        let dir = base.join(format!("ash-ssh-{pid}-{:06x}", fastrand::u32(..0x100_0000)));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("cannot make a directory")))
}

/// The version in the name of the copy of ash kept on a host.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The directory on the host where a copy of ash is kept.
const CACHE_DIR: &str = r#"${XDG_CACHE_HOME:-$HOME/.cache}/ash"#;

/// Run on the host by its login shell: find ash (on `PATH` and answering
/// `--version` as ash does, else the copy in the cache, if it has this
/// binary's size: another build of the same version is replaced) and make
/// it the agent; without one, say what the host is (`ASH-NEED <uname -s>
/// <uname -m>`). One line, no single quotes, no `!`: it goes through the
/// login shell inside `sh -c '...'`, whatever that shell is.
pub fn bootstrap_command(own_size: u64) -> String {
    let script = format!(
        r#"d="{CACHE_DIR}"; a=$(command -v ash 2>/dev/null) || a=; if [ -n "$a" ]; then case "$("$a" --version 2>/dev/null)" in "ash "[0-9]*) ;; *) a= ;; esac; fi; c="$d/ash-{VERSION}"; if [ -z "$a" ] && [ -x "$c" ] && [ "$(wc -c < "$c")" -eq {own_size} ]; then a="$c"; fi; if [ -z "$a" ]; then echo "ASH-NEED $(uname -s) $(uname -m)"; exit 0; fi; exec "$a" --serve"#
    );
    format!("exec sh -c '{script}'")
}

/// Run on the host to install the copy read from stdin: to a temporary
/// name, then renamed, so a half-written file is never run and two ash
/// processes copying at once do not clash.
pub fn copy_command() -> String {
    let script = format!(
        r#"d="{CACHE_DIR}"; mkdir -p "$d" && t="$d/.ash-{VERSION}.$$" && cat > "$t" && chmod 755 "$t" && mv -f "$t" "$d/ash-{VERSION}" || {{ rm -f "$t"; exit 1; }}"#
    );
    format!("exec sh -c '{script}'")
}

/// This machine's system and architecture, as `uname -s` and `uname -m`
/// name them on a host, lowercased and with the usual aliases mapped:
/// whether a copy of this binary can run there.
pub fn same_platform(uname_s: &str, uname_m: &str) -> bool {
    let os = match uname_s.to_ascii_lowercase().as_str() {
        "darwin" => "macos".to_string(),
        other => other.to_string(),
    };
    let arch = match uname_m.to_ascii_lowercase().as_str() {
        "amd64" => "x86_64".to_string(),
        "arm64" => "aarch64".to_string(),
        "i386" | "i486" | "i586" | "i686" => "x86".to_string(),
        other => other.to_string(),
    };
    os == std::env::consts::OS && arch == std::env::consts::ARCH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ash_ssh_is_split_like_a_shell_would() {
        assert_eq!(
            split_words(r#"ssh -F "my config" -o 'A=b c'  x\ y"#),
            Some(vec![
                "ssh".to_string(),
                "-F".into(),
                "my config".into(),
                "-o".into(),
                "A=b c".into(),
                "x y".into()
            ])
        );
        assert_eq!(split_words("ssh 'open"), None);
    }

    #[test]
    fn the_scripts_survive_the_login_shells_quoting() {
        for s in [bootstrap_command(1234), copy_command()] {
            let inner = s
                .strip_prefix("exec sh -c '")
                .and_then(|r| r.strip_suffix('\''))
                .expect("quoted");
            assert!(!inner.contains('\''), "{inner}");
            assert!(!inner.contains('!'), "{inner}");
            assert!(!inner.contains('\n'), "{inner}");
        }
    }

    #[test]
    fn platforms_by_their_uname_names() {
        let os = match std::env::consts::OS {
            "macos" => "Darwin",
            "linux" => "Linux",
            other => other,
        };
        assert!(same_platform(os, std::env::consts::ARCH));
        assert!(!same_platform("Plan9", std::env::consts::ARCH));
    }
}
