//! The interactive shell, driven through a pseudo-terminal.
//!
//! Each test runs the real binary with its own `HOME`, `XDG_DATA_HOME` and
//! `XDG_CONFIG_HOME` in a temporary directory, so the user's history and
//! config are never touched. The terminal side is played by [`Term`]: it
//! answers the editor's cursor-position queries, strips escape sequences
//! and waits (generously: the test machine is small and busy) for text.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use expectrl::Session;
use expectrl::process::unix::{PtyStream, UnixProcess};

const TIMEOUT: Duration = Duration::from_secs(40);

struct Term {
    s: Session<UnixProcess, PtyStream>,
    /// Everything read so far, escape sequences removed.
    text: String,
    /// Where the next `expect` starts looking.
    pos: usize,
    raw: Vec<u8>,
    answered: usize,
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ash-interactive-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["home", "data", "config/ash", "work"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    dir
}

/// Remove ANSI escape sequences (CSI, OSC, two-byte escapes) and `\r`.
fn strip_ansi(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

impl Term {
    fn start(dir: &Path) -> Term {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ash"));
        cmd.current_dir(dir.join("work"))
            .env("HOME", dir.join("home"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("TERM", "xterm-256color")
            .env_remove("ASH_HISTORY")
            .env_remove("ASH_CONFIG");
        let mut s = Session::spawn(cmd).expect("spawn ash in a pty");
        let _ = s.get_process_mut().set_window_size(120, 40);
        Term {
            s,
            text: String::new(),
            pos: 0,
            raw: Vec::new(),
            answered: 0,
        }
    }

    /// Read what is available; answer cursor-position queries.
    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            match self.s.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        let queries = self.raw.windows(4).filter(|w| w == b"\x1b[6n").count();
        while self.answered < queries {
            self.send("\x1b[1;1R");
            self.answered += 1;
        }
        self.text = strip_ansi(&self.raw);
    }

    /// Wait for `needle` after the previous match; returns the text up to
    /// and including it.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            self.pump();
            if let Some(i) = self.text.get(self.pos..).and_then(|t| t.find(needle)) {
                let end = self.pos + i + needle.len();
                let seen = self.text[self.pos..end].to_string();
                self.pos = end;
                return seen;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {needle:?}; screen text since last match:\n{}",
                    &self.text[self.pos.min(self.text.len())..]
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, s: &str) {
        use std::io::Write;
        self.s.write_all(s.as_bytes()).expect("write to pty");
        self.s.flush().expect("flush pty");
    }

    /// Type a line and press Enter.
    fn line(&mut self, s: &str) {
        self.send(s);
        self.send("\r");
    }

    fn prompt(&mut self) {
        self.expect("ASH> ");
        // Let the editor finish its setup before keys arrive.
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Wait for the process to exit.
    fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            self.pump();
            if !self.s.get_process().is_alive().unwrap_or(false) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if self.s.get_process().is_alive().unwrap_or(false) {
            let _ = self.s.get_process_mut().exit(true);
        }
    }
}

/// A session whose prompt is `ASH> ` (set in config.ash, which also tests
/// the prompt function).
fn shell(dir: &Path) -> Term {
    std::fs::write(
        dir.join("config/ash/config.ash"),
        "fn prompt { return \"ASH> \" }\n",
    )
    .expect("write config");
    let mut t = Term::start(dir);
    t.prompt();
    t
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let mut cmdline = Vec::new();
        if std::fs::File::open(e.path().join("cmdline"))
            .and_then(|mut f| f.read_to_end(&mut cmdline))
            .is_err()
        {
            continue;
        }
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            found.push(text);
        }
    }
    found
}

#[test]
fn command_output_and_state_between_lines() {
    let dir = temp_dir("basic");
    let mut t = shell(&dir);
    t.line("let x = 1000");
    t.prompt();
    t.line("fn twice(n) { return n * 2 }");
    t.prompt();
    t.line("echo (twice(x) + 7)");
    t.expect("2007");
    t.prompt();
    // An error is reported with a caret; the session goes on, $status kept.
    t.line("no_such_command_zz");
    t.expect("command not found");
    t.expect("^^^");
    t.prompt();
    t.line("echo \"status=$status\"");
    t.expect("status=127");
    t.prompt();
}

#[test]
fn multi_line_input() {
    let dir = temp_dir("multiline");
    let mut t = shell(&dir);
    t.line("if true {");
    t.expect("… ");
    t.line("echo (600 + 6)");
    t.line("}");
    t.expect("606");
    t.prompt();
}

#[test]
fn history_across_sessions() {
    let dir = temp_dir("history");
    {
        let mut t = shell(&dir);
        t.line("echo (7000 + 77)");
        t.expect("7077");
        t.prompt();
        t.send("\x04");
        assert!(t.wait_exit(), "Ctrl-D on an empty line exits");
    }
    let file = dir.join("data/ash/history.txt");
    let saved = std::fs::read_to_string(&file).expect("history file written");
    assert!(saved.contains("echo (7000 + 77)"), "{saved:?}");
    let mut t = shell(&dir);
    // Up recalls the previous session's line.
    t.send("\x1b[A");
    t.send("\r");
    t.expect("7077");
    t.prompt();
}

#[test]
fn corrupt_history_warns_and_starts() {
    let dir = temp_dir("corrupt");
    std::fs::create_dir_all(dir.join("data/ash")).expect("mkdir");
    std::fs::write(dir.join("data/ash/history.txt"), b"ok\n\xff\xfe bad\n").expect("write");
    let mut t = shell(&dir);
    t.line("echo (1 + 1000)");
    t.expect("1001");
    t.prompt();
    assert!(t.text.contains("warning"), "{}", t.text);
}

#[test]
fn completion_of_command_and_path() {
    let dir = temp_dir("complete");
    std::fs::write(dir.join("work/unique_file_q.txt"), "contents-of-q\n").expect("write");
    let mut t = shell(&dir);
    t.line("fn zz_unique_cmd { echo (300 + 33) }");
    t.prompt();
    t.send("zz_uni");
    t.send("\t");
    std::thread::sleep(Duration::from_millis(500));
    t.send("\r");
    t.expect("333");
    t.prompt();
    t.send("cat unique_fi");
    t.send("\t");
    std::thread::sleep(Duration::from_millis(500));
    t.send("\r");
    t.expect("contents-of-q");
    t.prompt();
}

#[test]
fn ctrl_c_cancels_the_foreground_command() {
    let dir = temp_dir("ctrlc");
    let mut t = shell(&dir);
    // The builtin sleep (a timer in the shell).
    t.line("sleep 10");
    std::thread::sleep(Duration::from_millis(800));
    t.send("\x03");
    t.prompt();
    t.line("echo \"after=$status\"");
    t.expect("after=130");
    t.prompt();
    // An external program, and a function around it.
    t.line("fn slow { /bin/sleep 13.25 }");
    t.prompt();
    t.line("slow");
    let deadline = Instant::now() + TIMEOUT;
    while processes_with("sleep 13.25").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!processes_with("sleep 13.25").is_empty(), "sleep started");
    t.send("\x03");
    t.prompt();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with("sleep 13.25").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(processes_with("sleep 13.25").is_empty(), "no process left");
    t.line("echo (40 + 4)");
    t.expect("44");
    t.prompt();
}

#[test]
fn background_output_does_not_corrupt_the_line() {
    let dir = temp_dir("bg");
    let mut t = shell(&dir);
    t.line("spawn { sleep 1.5s; echo (\"task\" + \"-out\") }");
    t.prompt();
    // Start typing before the task prints, finish after.
    t.send("echo (20 ");
    t.expect("task-out");
    t.send("+ 1)");
    t.send("\r");
    t.expect("21");
    t.prompt();
}

#[test]
fn ctrl_d_asks_when_tasks_are_running() {
    let dir = temp_dir("ctrld");
    let mut t = shell(&dir);
    t.line("spawn { /bin/sleep 14.75 }");
    t.prompt();
    t.send("\x04");
    t.expect("still running");
    t.prompt();
    t.send("\x04");
    assert!(t.wait_exit(), "second Ctrl-D exits");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with("sleep 14.75").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        processes_with("sleep 14.75").is_empty(),
        "task's process killed"
    );
}

#[test]
fn config_error_is_reported_and_shell_starts() {
    let dir = temp_dir("config");
    std::fs::write(
        dir.join("config/ash/config.ash"),
        "let greeting = \"hello\"\nlet = oops\n",
    )
    .expect("write config");
    let mut t = Term::start(&dir);
    t.expect("config.ash:2:");
    // The default prompt shows the directory.
    t.expect("work");
    t.expect("> ");
    t.line("echo (4000 + 4)");
    t.expect("4004");
}

/// The history file's entries, one per line.
fn history_entries(dir: &Path) -> Vec<String> {
    let file = dir.join("data/ash/history.txt");
    let saved = std::fs::read_to_string(&file).expect("history file written");
    saved.lines().map(str::to_string).collect()
}

#[test]
fn two_sessions_share_one_history_file() {
    let dir = temp_dir("history-two");
    let mut a = shell(&dir);
    let mut b = shell(&dir);
    // Interleave: each line is synced to the file before it runs, and the
    // next one is typed only after the previous output appeared.
    let mut expected = Vec::new();
    for i in 1..=5 {
        for (t, name) in [(&mut a, "alpha"), (&mut b, "beta")] {
            let line = format!("echo (\"{name}-\" + \"{i}\")");
            t.line(&line);
            t.expect(&format!("{name}-{i}"));
            t.prompt();
            expected.push(line);
        }
    }
    for t in [&mut a, &mut b] {
        t.send("\x04");
        assert!(t.wait_exit(), "Ctrl-D on an empty line exits");
    }
    drop((a, b));
    let saved = history_entries(&dir);
    for line in &expected {
        let n = saved.iter().filter(|s| *s == line).count();
        assert_eq!(n, 1, "{line:?} saved {n} times; file: {saved:#?}");
    }
    assert_eq!(saved, expected, "entries in the order they were run");

    // A third session recalls entries typed in either of them.
    let mut c = shell(&dir);
    // Up: the newest entry (session B's last line).
    c.send("\x1b[A");
    std::thread::sleep(Duration::from_millis(300));
    c.send("\r");
    c.expect("beta-5");
    c.prompt();
    // Ctrl-R: search for one of session A's lines, Enter to take it, Enter
    // to run it.
    c.send("\x12");
    std::thread::sleep(Duration::from_millis(300));
    c.send("alpha-\" + \"3");
    std::thread::sleep(Duration::from_millis(500));
    c.send("\r");
    std::thread::sleep(Duration::from_millis(300));
    c.send("\r");
    c.expect("alpha-3");
    c.prompt();
    c.send("\x04");
    assert!(c.wait_exit(), "Ctrl-D on an empty line exits");
    drop(c);
    // Recalled lines are saved again, except the first: it equals the
    // newest entry, and a line repeating the newest entry is not saved.
    let saved = history_entries(&dir);
    let mut after = expected.clone();
    after.push(expected[4].clone());
    assert_eq!(saved, after, "one recalled line appended");
}

#[test]
fn unwritable_history_warns_and_works() {
    let uid = Command::new("id").arg("-u").output().expect("run id -u");
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        eprintln!("skipped: running as root, file permissions are not enforced");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("history-unwritable");
    let file = dir.join("data/ash/history.txt");
    std::fs::create_dir_all(dir.join("data/ash")).expect("mkdir");
    std::fs::write(&file, "echo (\"old-\" + \"entry\")\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let mut t = shell(&dir);
    t.line("echo (2000 + 2)");
    t.expect("2002");
    t.prompt();
    assert!(t.text.contains("warning"), "{}", t.text);
    // History still works within the session.
    t.send("\x1b[A");
    std::thread::sleep(Duration::from_millis(300));
    t.send("\r");
    t.expect("2002");
    t.prompt();
    t.send("\x04");
    assert!(t.wait_exit(), "Ctrl-D on an empty line exits");
    drop(t);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let saved = std::fs::read_to_string(&file).expect("read");
    assert_eq!(saved, "echo (\"old-\" + \"entry\")\n", "file left alone");
}
