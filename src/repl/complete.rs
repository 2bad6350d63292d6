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

/// Characters that end a word for completion purposes.
fn delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '|' | ';' | '&' | '(' | ')' | '{' | '}' | '<' | '>')
}

/// The start of the word that ends at `pos`, honouring an open quote.
fn word_start(line: &str, pos: usize) -> usize {
    let before = &line[..pos];
    // An unclosed quote: the word starts at it.
    let mut quote: Option<(char, usize)> = None;
    for (i, c) in before.char_indices() {
        match quote {
            Some((q, _)) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some((c, i)),
            None => {}
        }
    }
    if let Some((_, i)) = quote {
        // Include any word characters glued before the quote.
        return word_start(line, i).min(i);
    }
    before
        .char_indices()
        .rev()
        .find(|&(_, c)| delimiter(c))
        .map_or(0, |(i, c)| i + c.len_utf8())
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

/// The first word of the statement the cursor is in.
fn statement_head(line: &str, start: usize) -> &str {
    let before = &line[..start];
    let stmt_start = before
        .rfind(['|', ';', '&', '{', '\n'])
        .map_or(0, |i| i + 1);
    before[stmt_start..].split_whitespace().next().unwrap_or("")
}

pub fn complete(snap: &Snapshot, line: &str, pos: usize) -> Vec<Suggestion> {
    let pos = pos.min(line.len());
    let start = word_start(line, pos);
    let word = &line[start..pos];
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
    if word.starts_with('-') {
        let flags: &[(&str, &str)] = match statement_head(line, start) {
            "gather" => &[
                ("-j", "at most N branches at once"),
                ("-k", "keep going: errors as values"),
                ("--group", "print each branch's output whole"),
            ],
            "timeout" => &[("--grace", "time between SIGTERM and SIGKILL")],
            _ => &[],
        };
        if !flags.is_empty() {
            return flags
                .iter()
                .filter(|(f, _)| f.starts_with(word))
                .map(|(f, d)| mk(f.to_string(), true, Some(d)))
                .collect();
        }
    }
    if command_position(line, start) && !word.contains('/') && !word.starts_with(['\'', '"', '~']) {
        return command_names(snap, word)
            .into_iter()
            .map(|(n, d)| mk(n, true, Some(d)))
            .collect();
    }
    complete_path(snap, word)
        .into_iter()
        .map(|(v, dir)| mk(v, !dir, None))
        .collect()
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
    for b in ["fg", "bg"] {
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
fn complete_path(snap: &Snapshot, word: &str) -> Vec<(String, bool)> {
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
            Some((name, is_dir))
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
        assert_eq!(values(&s, "echo $cou"), vec!["$count"]);
        assert_eq!(values(&s, "echo $sta"), vec!["$status"]);
        assert_eq!(values(&s, "gather -"), vec!["-j", "-k", "--group"]);
        assert_eq!(values(&s, "timeout --g"), vec!["--grace"]);
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
