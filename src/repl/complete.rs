//! Tab completion: command names (functions, builtins, keywords, programs on
//! `PATH`), file paths (quoted when the name needs it), variables after `$`,
//! and the flags of ash's own keywords (`gather -j -k --group`,
//! `timeout --grace`).

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use reedline::{Completer, CompletionResult, Span, Suggestion};

use super::highlight::KEYWORDS;
use super::shared::{Shared, Snapshot};

pub struct AshCompleter {
    pub shared: Shared,
}

impl Completer for AshCompleter {
    fn complete(&mut self, line: &str, pos: usize) -> CompletionResult {
        let snap = self.shared.get().clone();
        let items = complete(&snap, line, pos);
        CompletionResult::fresh(items)
    }
}

/// Where the cursor is, as completion sees it.
#[derive(Debug, PartialEq)]
struct Site<'a> {
    /// Where the word being completed starts.
    start: usize,
    /// Its text as typed (quotes included).
    word: &'a str,
    /// The words of the statement before it, unquoted.
    words: Vec<String>,
    /// It is the target of a redirection (`> fi`).
    redirect: bool,
}

/// Scan `line` up to `pos` as the shell's word rules do: quotes (a quoted
/// space does not end a word), backslashes, `${...}`, and the separators
/// that start a new statement (`|`, `;`, `&`, `{`, `(`, newline).
fn site(line: &str, pos: usize) -> Site<'_> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut cur_start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut in_brace = false;
    let mut redirect = false;
    let finish = |cur: &mut String,
                  cur_start: &mut Option<usize>,
                  words: &mut Vec<String>,
                  redirect: &mut bool| {
        if cur_start.take().is_some() {
            let w = std::mem::take(cur);
            // A redirection's target is not an argument.
            if std::mem::take(redirect) {
                return;
            }
            words.push(w);
        }
    };
    for (i, c) in line[..pos].char_indices() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match quote {
            Some('\'') => {
                if c == '\'' {
                    quote = None;
                } else {
                    cur.push(c);
                }
                continue;
            }
            Some(_) => {
                match c {
                    '\\' => escaped = true,
                    '"' => quote = None,
                    _ => cur.push(c),
                }
                continue;
            }
            None => {}
        }
        if in_brace {
            cur.push(c);
            in_brace = c != '}';
            continue;
        }
        match c {
            '\'' | '"' => {
                cur_start.get_or_insert(i);
                quote = Some(c);
            }
            '\\' => {
                cur_start.get_or_insert(i);
                escaped = true;
            }
            '{' if cur.ends_with('$') => {
                cur.push(c);
                in_brace = true;
            }
            c if c.is_whitespace() && c != '\n' => {
                finish(&mut cur, &mut cur_start, &mut words, &mut redirect)
            }
            '|' | ';' | '&' | '{' | '}' | '(' | ')' | '\n' => {
                finish(&mut cur, &mut cur_start, &mut words, &mut redirect);
                words.clear();
                redirect = false;
            }
            '<' | '>' => {
                finish(&mut cur, &mut cur_start, &mut words, &mut redirect);
                redirect = true;
            }
            _ => {
                cur_start.get_or_insert(i);
                cur.push(c);
            }
        }
    }
    let start = cur_start.unwrap_or(pos);
    Site {
        start,
        word: &line[start..pos],
        words,
        redirect,
    }
}

/// The last word of a line as it was typed (quotes kept), for Alt-.:
/// a trailing `&` or `;` is not a word; a line that ends in a separator
/// (`}`, `)`, `|`) has none.
pub fn last_word(line: &str) -> Option<&str> {
    let line = line.trim_end_matches(|c: char| c.is_whitespace() || c == '&' || c == ';');
    let word = site(line, line.len()).word;
    (!word.is_empty()).then_some(word)
}

/// Is a command name expected at `start`?
fn command_position(line: &str, start: usize) -> bool {
    let before = line[..start].trim_end();
    if before.is_empty() {
        return true;
    }
    if before.ends_with(['|', ';', '&', '{', '!', '\n', '(']) {
        // `(` starts an expression, but `$(` a command.
        return !before.ends_with('(') || before.ends_with("$(");
    }
    let last = before
        .rsplit(|c: char| c.is_whitespace() || matches!(c, '{' | ';' | '|'))
        .next()
        .unwrap_or("");
    matches!(
        last,
        "if" | "elif" | "else" | "while" | "try" | "finally" | "spawn" | "not"
    )
}

/// Options of the commands that run another command, which take an
/// argument: `sudo -u USER cmd`, `env -u NAME cmd`, `timeout -s SIG 5 cmd`.
fn wrapper_option_takes_value(wrapper: &str, opt: &str) -> bool {
    match wrapper {
        "sudo" | "doas" => matches!(
            opt,
            "-u" | "-g" | "-C" | "-D" | "-h" | "-p" | "-R" | "-T" | "-U" | "-r" | "-t"
        ),
        "env" => matches!(opt, "-u" | "-C" | "-S" | "--unset" | "--chdir"),
        "timeout" => matches!(opt, "-s" | "-k" | "--signal" | "--kill-after" | "--grace"),
        "nice" => matches!(opt, "-n" | "--adjustment"),
        _ => false,
    }
}

/// The command of a statement whose words are `words`, past keywords,
/// `NAME=value` assignments and wrappers (`sudo`, `env`, `timeout`, ...):
/// its index, or `None` when the command is still to come (the word being
/// completed is it).
fn command_index(words: &[String]) -> Option<usize> {
    let mut i = 0;
    let is_assignment = |w: &str| {
        w.split_once('=').is_some_and(|(n, _)| {
            !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
    };
    while let Some(w) = words.get(i) {
        if matches!(
            w.as_str(),
            "if" | "elif" | "else" | "while" | "try" | "finally" | "spawn" | "not" | "!"
        ) || is_assignment(w)
        {
            i += 1;
            continue;
        }
        let wrapper = w.as_str();
        if !matches!(
            wrapper,
            "sudo"
                | "doas"
                | "env"
                | "timeout"
                | "nice"
                | "nohup"
                | "command"
                | "exec"
                | "time"
                | "xargs"
        ) {
            return Some(i);
        }
        i += 1;
        // Its options (and their values), then for `env` its assignments,
        // for `timeout` the duration.
        while let Some(o) = words.get(i) {
            if o.starts_with('-') && o.len() > 1 {
                i += if wrapper_option_takes_value(wrapper, o) {
                    2
                } else {
                    1
                };
            } else if wrapper == "env" && is_assignment(o) {
                i += 1;
            } else {
                break;
            }
        }
        if wrapper == "timeout" {
            if i >= words.len() {
                return None;
            }
            i += 1;
        }
    }
    None
}

pub fn complete(snap: &Snapshot, line: &str, pos: usize) -> Vec<Suggestion> {
    let pos = pos.min(line.len());
    let site = site(line, pos);
    let (start, word) = (site.start, site.word);
    let span = Span::new(start, pos);
    let mk = |value: String, space: bool, description: Option<&str>| Suggestion {
        value,
        description: description.map(str::to_string),
        span,
        append_whitespace: space,
        ..Suggestion::default()
    };
    if let Some(prefix) = word.strip_prefix('$') {
        let (prefix, brace) = match prefix.strip_prefix('{') {
            Some(p) => (p, true),
            None => (prefix, false),
        };
        let names: BTreeSet<&String> = snap
            .globals
            .iter()
            .chain(snap.env.iter())
            .filter(|n| n.starts_with(prefix))
            .collect();
        let mut out: Vec<Suggestion> = names
            .into_iter()
            .map(|n| {
                let v = if brace {
                    format!("${{{n}}}")
                } else {
                    format!("${n}")
                };
                mk(v, false, None)
            })
            .collect();
        if "status".starts_with(prefix) && !snap.globals.contains("status") {
            let v = if brace { "${status}" } else { "$status" };
            out.insert(0, mk(v.to_string(), false, None));
        }
        return out;
    }
    if site.redirect {
        return complete_path(snap, word, false)
            .into_iter()
            .map(|(v, dir)| mk(v, !dir, None))
            .collect();
    }
    let command = command_index(&site.words);
    let in_command_position = if site.words.is_empty() {
        command_position(line, start)
    } else {
        command.is_none() && !word.starts_with('-')
    };
    if in_command_position && !word.contains('/') && !word.starts_with(['\'', '"', '~']) {
        return command_names(snap, word)
            .into_iter()
            .map(|(n, d)| mk(n, true, Some(d)))
            .collect();
    }
    let head = command.and_then(|i| site.words.get(i)).map(String::as_str);
    let args = command.map_or(&[][..], |i| &site.words[i + 1..]);
    if word.starts_with('-') {
        // `--file=pa<Tab>`: a path after the `=`.
        if word.starts_with("--")
            && let Some(eq) = word.find('=')
        {
            let value_span = Span::new(start + eq + 1, pos);
            return complete_path(snap, &word[eq + 1..], false)
                .into_iter()
                .map(|(v, dir)| Suggestion {
                    span: value_span,
                    ..mk(v, !dir, None)
                })
                .collect();
        }
        // ash's own flags, before the command they run (if any).
        let keyword = match command {
            None => site.words.first().map(String::as_str),
            Some(_) => head,
        };
        let keyword_flags: &[(&str, &str)] = match keyword {
            Some("gather") => &[
                ("-j", "at most N branches at once"),
                ("-k", "keep going: errors as values"),
                ("--group", "print each branch's output whole"),
            ],
            Some("timeout") => &[("--grace", "time between SIGTERM and SIGKILL")],
            _ => &[],
        };
        if !keyword_flags.is_empty() {
            return keyword_flags
                .iter()
                .filter(|(f, _)| f.starts_with(word))
                .map(|(f, d)| mk(f.to_string(), true, Some(d)))
                .collect();
        }
        let Some(known) = head.and_then(|h| program_options(snap, h)) else {
            return Vec::new();
        };
        return known
            .options
            .iter()
            .filter(|(f, _, _)| f.starts_with(word))
            .map(|(f, takes_value, d)| {
                let d = (!d.is_empty()).then_some(d.as_str());
                if *takes_value {
                    mk(format!("{f}="), false, d)
                } else {
                    mk(f.clone(), true, d)
                }
            })
            .collect();
    }
    let dirs_only = matches!(head, Some("cd" | "pushd"));
    let mut out = Vec::new();
    // The first argument of a program with subcommands (`git ch`).
    if let Some(h) = head
        && !dirs_only
        && args.iter().all(|a| a.starts_with('-'))
        && !word.contains('/')
        && let Some(known) = program_options(snap, h)
    {
        out.extend(
            known
                .subcommands
                .iter()
                .filter(|(n, _)| n.starts_with(word))
                .map(|(n, d)| mk(n.clone(), true, (!d.is_empty()).then_some(d.as_str()))),
        );
    }
    out.extend(
        complete_path(snap, word, dirs_only)
            .into_iter()
            .map(|(v, dir)| mk(v, !dir, None)),
    );
    out
}

/// What the man page or `--help` of program `name` offers (not for ash's
/// own functions, builtins and keywords).
fn program_options(snap: &Snapshot, name: &str) -> Option<std::sync::Arc<super::options::Known>> {
    if snap.functions.contains(name)
        || crate::builtins::commands::lookup(name).is_some()
        || KEYWORDS.contains(&name)
    {
        return None;
    }
    let path = crate::process::find_program(name.as_ref(), snap.path.as_deref(), &snap.cwd)?;
    Some(super::options::known(name, &path))
}

fn command_names(snap: &Snapshot, prefix: &str) -> Vec<(String, &'static str)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut add = |name: &str, what: &'static str, out: &mut Vec<(String, &'static str)>| {
        if name.starts_with(prefix) && seen.insert(name.to_string()) {
            out.push((name.to_string(), what));
        }
    };
    for f in &snap.functions {
        add(f, "function", &mut out);
    }
    for b in crate::builtins::commands::BUILTINS {
        add(b.name, "builtin", &mut out);
    }
    for b in super::commands::NAMES {
        add(b, "builtin", &mut out);
    }
    for k in KEYWORDS {
        add(k, "keyword", &mut out);
    }
    let mut programs = BTreeSet::new();
    if let Some(path) = &snap.path {
        for dir in std::env::split_paths(path) {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if !name.starts_with(prefix) {
                    continue;
                }
                let exec = std::fs::metadata(e.path())
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
                if exec {
                    programs.insert(name.to_string());
                }
            }
        }
    }
    for p in programs {
        add(&p, "program", &mut out);
    }
    out
}

/// Characters that may appear unquoted in a word.
fn needs_quoting(s: &str) -> bool {
    s.chars().any(|c| {
        !(c.is_alphanumeric()
            || matches!(
                c,
                '/' | '.' | '_' | '-' | '+' | ',' | ':' | '@' | '%' | '=' | '~'
            ))
    })
}

fn quote(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else {
        let mut out = String::from("\"");
        for c in s.chars() {
            if matches!(c, '"' | '\\' | '$') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }
}

/// The word as typed, without its quotes (`'my di` → `my di`).
fn unquote(word: &str) -> String {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Path candidates for `word`: (replacement text, is a directory).
fn complete_path(snap: &Snapshot, word: &str, dirs_only: bool) -> Vec<(String, bool)> {
    let raw = unquote(word);
    let (dir_part, file_prefix) = match raw.rfind('/') {
        Some(i) => (&raw[..=i], &raw[i + 1..]),
        None => ("", raw.as_str()),
    };
    let dir = if dir_part.is_empty() {
        snap.cwd.clone()
    } else {
        snap.expand(dir_part)
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, bool)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !name.starts_with(file_prefix)
                || (name.starts_with('.') && !file_prefix.starts_with('.'))
            {
                return None;
            }
            let is_dir = std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir());
            (is_dir || !dirs_only).then_some((name, is_dir))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(name, is_dir)| {
            let mut full = format!("{dir_part}{name}");
            if is_dir {
                full.push('/');
            }
            // `~/` stays unquoted so it still expands.
            let text = match full.strip_prefix("~/") {
                Some(rest) if needs_quoting(rest) => format!("~/{}", quote(rest)),
                _ if needs_quoting(&full) => quote(&full),
                _ => full,
            };
            (text, is_dir)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(dir: &std::path::Path) -> Snapshot {
        Snapshot {
            cwd: dir.to_path_buf(),
            functions: ["greet".to_string()].into_iter().collect(),
            globals: ["greet".to_string(), "count".to_string()]
                .into_iter()
                .collect(),
            path: None,
            ..Snapshot::default()
        }
    }

    fn values(s: &Snapshot, line: &str) -> Vec<String> {
        complete(s, line, line.len())
            .into_iter()
            .map(|s| s.value)
            .collect()
    }

    #[test]
    fn last_words() {
        for (line, word) in [
            ("cp a.txt 'my dir/'", Some("'my dir/'")),
            ("sleep 10 &", Some("10")),
            ("echo x;  ", Some("x")),
            ("vim \"a b\"", Some("\"a b\"")),
            ("for x in (xs) {\n  echo $x\n}", None),
            ("", None),
        ] {
            assert_eq!(last_word(line), word, "{line:?}");
        }
    }

    #[test]
    fn sites() {
        let s = site("ls 'my dir/'", 12);
        assert_eq!(
            (s.start, s.word, s.words),
            (3, "'my dir/'", vec!["ls".to_string()])
        );
        let s = site("a | sudo -u x ls -l", 19);
        assert_eq!(s.word, "-l");
        assert_eq!(s.words, ["sudo", "-u", "x", "ls"]);
        assert_eq!(command_index(&s.words), Some(3));
        assert_eq!(command_index(&["timeout".into(), "5".into()]), None);
        assert_eq!(
            command_index(&["env".into(), "-i".into(), "A=b".into(), "x".into()]),
            Some(3)
        );
        let s = site("echo ${HOME", 11);
        assert_eq!(s.word, "${HOME");
        let s = site("cat < in", 8);
        assert!(s.redirect && s.words == ["cat"]);
    }

    #[test]
    fn kinds_of_completion() {
        let tmp = std::env::temp_dir().join(format!("ash-complete-{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("sub dir")).expect("mkdir");
        std::fs::write(tmp.join("notes.txt"), "").expect("write");
        let s = snap(&tmp);
        assert_eq!(values(&s, "gre"), vec!["greet"]);
        assert_eq!(values(&s, "ech"), vec!["echo"]);
        assert_eq!(values(&s, "ls | gre"), vec!["greet"]);
        assert_eq!(values(&s, "if tru"), vec!["true"]);
        assert_eq!(values(&s, "cat no"), vec!["notes.txt"]);
        assert_eq!(values(&s, "cd su"), vec!["'sub dir/'"]);
        assert_eq!(values(&s, "cd 'sub"), vec!["'sub dir/'"]);
        // After a closed quote, inside the directory.
        std::fs::write(tmp.join("sub dir/inner.txt"), "").expect("write");
        assert_eq!(values(&s, "cat 'sub dir/'"), vec!["'sub dir/inner.txt'"]);
        assert_eq!(values(&s, "cat sub\\ dir/in"), vec!["'sub dir/inner.txt'"]);
        // cd: directories only.
        assert_eq!(values(&s, "cd "), vec!["'sub dir/'"]);
        assert_eq!(values(&s, "cat > no"), vec!["notes.txt"]);
        assert_eq!(values(&s, "x --file=no"), vec!["notes.txt"]);
        assert_eq!(values(&s, "sudo -u root ech"), vec!["echo"]);
        assert_eq!(values(&s, "env A=1 ech"), vec!["echo"]);
        assert_eq!(values(&s, "timeout 5s ech"), vec!["echo"]);
        assert_eq!(values(&s, "echo $cou"), vec!["$count"]);
        assert_eq!(values(&s, "echo $sta"), vec!["$status"]);
        assert_eq!(values(&s, "gather -"), vec!["-j", "-k", "--group"]);
        assert_eq!(values(&s, "timeout --g"), vec!["--grace"]);
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
