//! Options and subcommands of external programs, for Tab completion, read
//! from their man page or `--help` output the first time they are needed
//! and cached for the session (as fish does with its generated
//! completions).
//!
//! The man page comes first: reading it runs `man`, not the program. Only
//! a program without a man page is run, as `PROGRAM --help` with stdin from
//! /dev/null, in a process group of its own, killed after [`DEADLINE`].
//! Both texts are parsed the same way: an option line is an indented line
//! that starts with `-x` or `--long` (several, separated by `,` or spaces,
//! each perhaps with an argument: `--size=N`, `-o FILE`), its description
//! after two spaces or on the next, more indented line (man's layout); a
//! subcommand is an indented `name  description` line in a section whose
//! heading names commands ("Commands:", "COMMANDS", "These are common Git
//! commands ...").

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long `man` or `PROGRAM --help` may take.
pub const DEADLINE: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// `(flag, takes an argument after '=', description)`.
    pub options: Vec<(String, bool, String)>,
    /// `(name, description)`.
    pub subcommands: Vec<(String, String)>,
}

/// Per program path: what its man page or `--help` said.
static CACHE: Mutex<Option<HashMap<PathBuf, std::sync::Arc<Known>>>> = Mutex::new(None);

/// What `program` (found at `path`) accepts; read once per session.
pub fn known(name: &str, path: &Path) -> std::sync::Arc<Known> {
    if let Some(k) = CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .get(path)
    {
        return k.clone();
    }
    let mut known = man_page(name).map(|t| parse(&t, name)).unwrap_or_default();
    if known.options.is_empty() && known.subcommands.is_empty() {
        known = help_output(path)
            .map(|t| parse(&t, name))
            .unwrap_or_default();
    }
    let known = std::sync::Arc::new(known);
    CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(path.to_path_buf(), known.clone());
    known
}

/// The man page of `name`, rendered as plain text (no pager, no overstrike).
fn man_page(name: &str) -> Option<String> {
    let mut cmd = Command::new("man");
    cmd.arg(name)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "160")
        .env_remove("MAN_KEEP_FORMATTING");
    run_quietly(cmd)
}

/// `path --help`.
fn help_output(path: &Path) -> Option<String> {
    let mut cmd = Command::new(path);
    cmd.arg("--help").env("PAGER", "cat").env("MANPAGER", "cat");
    run_quietly(cmd)
}

/// Run `cmd` with stdin from /dev/null in its own process group, and return
/// its standard output (stderr too: some programs print help there), or
/// `None` if it could not run or took longer than [`DEADLINE`] (then it is
/// killed).
fn run_quietly(mut cmd: Command) -> Option<String> {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().ok()?;
    let mut out = child.stdout.take()?;
    let mut err = child.stderr.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = out.read_to_end(&mut text);
        let mut e = Vec::new();
        let _ = err.read_to_end(&mut e);
        if text.is_empty() {
            text = e;
        }
        text
    });
    let deadline = Instant::now() + DEADLINE;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                // Too slow (or waiting on something): the whole group goes.
                if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                }
                let _ = child.wait();
                return None;
            }
        }
    }
    let bytes = reader.join().ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Remove overstrike (`X\bX` bold, `_\bX` underline) and escape sequences.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{8}' => {
                out.pop();
            }
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Is this line a section heading (`Options:`, `COMMANDS`, `Git commands:`)?
fn heading(line: &str) -> Option<String> {
    let t = line.trim_end();
    if t.is_empty() || indent(t) > 3 {
        return None;
    }
    let t = t.trim_start();
    let caps = t.chars().any(|c| c.is_alphabetic())
        && t.chars().all(|c| !c.is_alphabetic() || c.is_uppercase())
        && indent(line) == 0;
    if t.ends_with(':') || caps {
        Some(t.to_lowercase())
    } else {
        None
    }
}

/// One option spec at the start of `s`: the flag, whether `=ARG` follows,
/// and the rest.
fn flag(s: &str) -> Option<(String, bool, &str)> {
    let s = s.trim_start_matches([',', ' ', '|', '/']);
    let body = s.strip_prefix('-')?;
    let (dashes, body) = match body.strip_prefix('-') {
        Some(b) => ("--", b),
        None => ("-", body),
    };
    let name_len = body
        .char_indices()
        .find(|&(i, c)| {
            let word = c.is_ascii_alphanumeric() || (i > 0 && (c == '-' || c == '_'));
            !(word || (dashes == "-" && i == 0 && c == '?'))
        })
        .map_or(body.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let name = format!("{dashes}{}", &body[..name_len]);
    let mut rest = &body[name_len..];
    let mut takes_arg = false;
    // `=ARG`, `[=ARG]`, ` ARG`, `<arg>`
    if let Some(r) = rest.strip_prefix("[=") {
        takes_arg = true;
        rest = r.find(']').map_or("", |i| &r[i + 1..]);
    } else if let Some(r) = rest.strip_prefix('=') {
        takes_arg = true;
        rest = r.find([' ', ',']).map_or("", |i| &r[i..]);
    } else if let Some(r) = rest.strip_prefix(' ')
        && let Some(word) = r.split([' ', ',']).next()
        && !word.is_empty()
        && !word.starts_with('-')
        && (word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c == '-')
            || (word.starts_with('<') && word.ends_with('>')))
    {
        rest = &r[word.len()..];
    }
    Some((name, takes_arg, rest))
}

/// Parse an option line: its flags and the description on the same line.
fn option_line(line: &str) -> Option<(Vec<(String, bool)>, String)> {
    if indent(line) == 0 {
        return None;
    }
    let mut rest = line.trim_start();
    if !rest.starts_with('-') || rest.starts_with("--- ") || rest == "-" || rest == "--" {
        return None;
    }
    let mut flags = Vec::new();
    while let Some((name, arg, r)) = flag(rest) {
        flags.push((name, arg));
        rest = r;
        let next = rest.trim_start_matches([',', '|', '/']);
        // Another flag follows only after a separator or one space.
        if next.starts_with(" -") && !next.starts_with("  ") {
            rest = next;
            continue;
        }
        if next.starts_with('-') {
            rest = next;
            continue;
        }
        break;
    }
    if flags.is_empty() {
        return None;
    }
    // The description: after the spaces that follow the flags. A line that
    // goes on with a single space is prose that happens to start with a
    // dash, not an option.
    let description = if rest.trim().is_empty() {
        String::new()
    } else if rest.starts_with("  ") || rest.starts_with('\t') {
        rest.trim().to_string()
    } else {
        return None;
    };
    Some((flags, description))
}

/// `name  description` in a commands section (or a man page's
/// `program-name(1)`).
fn subcommand_line(line: &str, program: &str) -> Option<(String, String)> {
    let n = indent(line);
    if n == 0 || n > 12 {
        return None;
    }
    let t = line.trim();
    let name_len = t
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map_or(t.len(), |(i, _)| i);
    let name = &t[..name_len];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return None;
    }
    let rest = &t[name_len..];
    if rest.starts_with('(')
        && let Some(sub) = name.strip_prefix(program).and_then(|n| n.strip_prefix('-'))
    {
        return Some((sub.to_string(), String::new()));
    }
    if rest.is_empty() {
        return Some((name.to_string(), String::new()));
    }
    // The name, then a column gap (or a man page's `name(1)`).
    if let Some(r) = rest.strip_prefix("  ").or_else(|| rest.strip_prefix('\t')) {
        return Some((name.to_string(), r.trim().to_string()));
    }
    None
}

/// Options and subcommands in a man page or `--help` text.
pub fn parse(text: &str, program: &str) -> Known {
    let text = plain(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut known = Known::default();
    let mut in_commands = false;
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(h) = heading(line) {
            in_commands = h.contains("command") && !h.contains("option");
            continue;
        }
        if let Some((flags, mut description)) = option_line(line) {
            if description.is_empty()
                && let Some(next) = lines.get(i + 1)
                && indent(next) > indent(line)
                && !next.trim_start().starts_with('-')
            {
                description = next.trim().to_string();
            }
            let description = first_sentence(&description);
            for (f, arg) in flags {
                if seen.insert(f.clone()) {
                    known.options.push((f, arg, description.clone()));
                }
            }
            continue;
        }
        if in_commands && let Some((name, description)) = subcommand_line(line, program) {
            let description = if description.is_empty() {
                lines
                    .get(i + 1)
                    .filter(|next| indent(next) > indent(line))
                    .map(|n| n.trim().to_string())
                    .unwrap_or_default()
            } else {
                description
            };
            if seen.insert(name.clone()) {
                known.subcommands.push((name, first_sentence(&description)));
            }
        }
    }
    known
}

/// A description cut to its first sentence, at most 60 characters.
fn first_sentence(s: &str) -> String {
    let s = s.split(". ").next().unwrap_or(s);
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(k: &Known) -> Vec<&str> {
        k.options.iter().map(|(f, _, _)| f.as_str()).collect()
    }

    #[test]
    fn gnu_help() {
        let k = parse(
            "Usage: ls [OPTION]... [FILE]...\n\
             List information about the FILEs.\n\
             \n\
             Mandatory arguments to long options are mandatory for short options too.\n\
             \x20 -a, --all                  do not ignore entries starting with .\n\
             \x20     --block-size=SIZE      with -l, scale sizes by SIZE\n\
             \x20 -C                         list entries by columns\n\
             \x20     --color[=WHEN]         color the output WHEN\n\
             \x20 -I, --ignore=PATTERN       do not list implied entries\n\
             \x20 -T, --tabsize=COLS         assume tab stops at each COLS\n",
            "ls",
        );
        assert_eq!(
            flags(&k),
            [
                "-a",
                "--all",
                "--block-size",
                "-C",
                "--color",
                "-I",
                "--ignore",
                "-T",
                "--tabsize"
            ]
        );
        assert!(k.options[2].1, "--block-size takes =SIZE");
        assert_eq!(k.options[0].2, "do not ignore entries starting with .");
        assert!(k.subcommands.is_empty());
    }

    #[test]
    fn man_layout_and_overstrike() {
        let k = parse(
            "NAME\n       ls - list directory contents\n\nDESCRIPTION\n\
             \x20      List information about the FILEs.  Sort entries\n\
             \x20      -cftuvSUX nor --sort is specified.\n\n\
             \x20      -\u{8}--\u{8}-a\u{8}al\u{8}ll\u{8}l\n              do not ignore entries\n\n\
             \x20      -c     with -lt: sort by ctime\n",
            "ls",
        );
        assert_eq!(flags(&k), ["--all", "-c"]);
        assert_eq!(k.options[0].2, "do not ignore entries");
    }

    #[test]
    fn subcommands_in_a_commands_section() {
        let k = parse(
            "usage: tool [-v] <command> [<args>]\n\n\
             These are common tool commands used in various situations:\n\n\
             start a working area\n\
             \x20  clone     Clone a repository into a new directory\n\
             \x20  init      Create an empty repository\n\n\
             Options:\n\
             \x20  -v, --verbose   say more\n\
             \x20  never   a command outside the section\n",
            "tool",
        );
        let names: Vec<&str> = k.subcommands.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["clone", "init"]);
        assert_eq!(flags(&k), ["-v", "--verbose"]);
        let k = parse(
            "HIGH-LEVEL COMMANDS (PORCELAIN)\n\
             \x20      We separate the porcelain commands.\n\n\
             \x20  Main porcelain commands\n\
             \x20      git-add(1)\n           Add file contents to the index.\n\n\
             \x20      git-am(1)\n           Apply a series of patches.\n",
            "git",
        );
        assert_eq!(
            k.subcommands,
            [
                (
                    "add".to_string(),
                    "Add file contents to the index.".to_string()
                ),
                ("am".to_string(), "Apply a series of patches.".to_string())
            ]
        );
    }
}
