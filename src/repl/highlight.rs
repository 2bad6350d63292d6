//! Syntax highlighting as you type.
//!
//! A small lexical scan (not the parser: it must color broken and half-typed
//! input too) that knows where a command name is expected: at the start of a
//! statement, after `|`, `&&`, `||`, `;`, `&`, `{`, `!`, and after keywords
//! that take a command (`if`, `while`, `spawn`, ...). Command names are
//! colored by how they resolve, using the [`Shared`] snapshot.

use nu_ansi_term::{Color, Style};
use reedline::{Highlighter, StyledText};

use super::shared::{Resolved, Shared};

pub struct AshHighlighter {
    pub shared: Shared,
}

pub const KEYWORDS: &[&str] = &[
    "and", "async", "await", "break", "cancel", "catch", "continue", "elif", "else", "export",
    "false", "finally", "fn", "for", "gather", "if", "in", "let", "not", "null", "or", "race",
    "return", "sleep", "source", "spawn", "throw", "timeout", "true", "try", "unset", "use",
    "while",
];

/// Keywords after which a command may follow.
const COMMAND_AFTER: &[&str] = &[
    "if", "elif", "else", "while", "try", "finally", "spawn", "not", "async",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    Plain,
    Keyword,
    String,
    Variable,
    Operator,
    Comment,
    Number,
    Command(Resolved),
}

impl Class {
    fn style(self) -> Style {
        match self {
            Class::Plain => Style::new(),
            Class::Keyword => Color::Magenta.bold(),
            Class::String => Style::new().fg(Color::Green),
            Class::Variable => Style::new().fg(Color::Cyan),
            Class::Operator => Style::new().fg(Color::Yellow),
            Class::Comment => Style::new().fg(Color::DarkGray).italic(),
            Class::Number => Style::new().fg(Color::Purple),
            Class::Command(Resolved::Function) => Color::Blue.bold(),
            Class::Command(Resolved::Builtin) => Color::Cyan.bold(),
            Class::Command(Resolved::External) => Color::Green.bold(),
            Class::Command(Resolved::NotFound) => Color::Red.bold(),
        }
    }
}

impl Highlighter for AshHighlighter {
    fn highlight(&self, line: &str, _cursor: usize) -> StyledText {
        let snap = self.shared.get();
        let mut out = StyledText::new();
        for (class, text) in classify(line, &mut |w| snap.resolve(w)) {
            out.push((class.style(), text.to_string()));
        }
        out
    }

    /// An abbreviation expands only where a command goes, outside quotes,
    /// and only if it is still defined (reedline's own map only grows).
    fn should_expand_abbr(
        &self,
        line: &str,
        word_start: usize,
        _context: reedline::AbbrExpandContext,
    ) -> bool {
        let word = line
            .get(word_start..)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_default();
        self.shared.get().abbrs.contains_key(word)
            && super::abbr::in_command_position(line, word_start)
    }
}

fn is_special(c: char) -> bool {
    matches!(
        c,
        '|' | ';' | '&' | '<' | '>' | '(' | ')' | '{' | '}' | '\'' | '"' | '$' | '\n'
    ) || c.is_whitespace()
}

fn name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Split `line` into classified pieces covering it exactly.
pub fn classify<'a>(
    line: &'a str,
    resolve: &mut dyn FnMut(&str) -> Resolved,
) -> Vec<(Class, &'a str)> {
    let mut out: Vec<(Class, &'a str)> = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    let mut cmd_pos = true;
    // `(`-nesting where words are expressions, not commands.
    let mut word_start = true;
    while i < line.len() {
        let c = line[i..].chars().next().unwrap_or(' ');
        let start = i;
        if c == '\n' || c == ';' {
            i += 1;
            out.push((
                if c == ';' {
                    Class::Operator
                } else {
                    Class::Plain
                },
                &line[start..i],
            ));
            cmd_pos = true;
            word_start = true;
            continue;
        }
        if c.is_whitespace() {
            i += c.len_utf8();
            out.push((Class::Plain, &line[start..i]));
            word_start = true;
            continue;
        }
        if c == '#' && word_start {
            let end = line[i..].find('\n').map_or(line.len(), |n| i + n);
            out.push((Class::Comment, &line[start..end]));
            i = end;
            continue;
        }
        word_start = false;
        match c {
            '\'' => {
                let end = line[i + 1..]
                    .find('\'')
                    .map_or(line.len(), |n| i + 1 + n + 1);
                out.push((Class::String, &line[start..end]));
                i = end;
                cmd_pos = false;
            }
            '"' => {
                i += 1;
                let mut seg = start;
                while i < line.len() {
                    match b[i] {
                        b'\\' => {
                            i += 1;
                            if let Some(ch) = line[i..].chars().next() {
                                i += ch.len_utf8();
                            }
                        }
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'$' if i + 1 < line.len()
                            && (name_char(b[i + 1] as char) || b[i + 1] == b'{') =>
                        {
                            out.push((Class::String, &line[seg..i]));
                            let end = variable_end(line, i);
                            out.push((Class::Variable, &line[i..end]));
                            i = end;
                            seg = i;
                        }
                        _ => i += 1,
                    }
                }
                out.push((Class::String, &line[seg..i]));
                cmd_pos = false;
            }
            '$' => {
                if line[i + 1..].starts_with('(') {
                    i += 2;
                    out.push((Class::Operator, &line[start..i]));
                    cmd_pos = true;
                    word_start = true;
                } else {
                    let end = variable_end(line, i);
                    out.push((Class::Variable, &line[start..end]));
                    i = end;
                    cmd_pos = false;
                }
            }
            '|' | '&' | '>' | '<' | '!' => {
                let mut end = i + 1;
                while end < line.len() && matches!(b[end], b'|' | b'&' | b'>' | b'<') {
                    end += 1;
                }
                let op = &line[start..end];
                cmd_pos = matches!(op, "|" | "&&" | "||" | "&" | "!");
                out.push((Class::Operator, op));
                i = end;
                word_start = true;
            }
            '{' => {
                i += 1;
                out.push((Class::Plain, &line[start..i]));
                cmd_pos = true;
                word_start = true;
            }
            '}' | ')' => {
                i += 1;
                out.push((Class::Plain, &line[start..i]));
                cmd_pos = false;
            }
            '(' => {
                i += 1;
                out.push((Class::Plain, &line[start..i]));
                cmd_pos = false;
                word_start = true;
            }
            _ => {
                let mut end = i;
                for ch in line[i..].chars() {
                    if is_special(ch) {
                        break;
                    }
                    end += ch.len_utf8();
                }
                if end == i {
                    end = i + c.len_utf8();
                }
                let word = &line[start..end];
                let next_is_assign = {
                    let rest = line[end..].trim_start_matches([' ', '\t']);
                    rest.starts_with('=') && !rest.starts_with("==")
                };
                let class = if cmd_pos && KEYWORDS.contains(&word) {
                    cmd_pos = COMMAND_AFTER.contains(&word);
                    Class::Keyword
                } else if !cmd_pos
                    && matches!(
                        word,
                        "and" | "or" | "not" | "true" | "false" | "null" | "in"
                    )
                {
                    Class::Keyword
                } else if cmd_pos && next_is_assign {
                    cmd_pos = false;
                    Class::Variable
                } else if cmd_pos && word.contains('=') && !word.starts_with('=') {
                    // `NAME=value cmd`: still expecting the command.
                    Class::Plain
                } else if cmd_pos {
                    cmd_pos = false;
                    Class::Command(resolve(word))
                } else if word.chars().next().is_some_and(|c| c.is_ascii_digit())
                    && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
                {
                    Class::Number
                } else {
                    Class::Plain
                };
                out.push((class, word));
                i = end;
            }
        }
    }
    out
}

/// The end of `$name` / `${...}` starting at `i` (the `$`).
fn variable_end(line: &str, i: usize) -> usize {
    let rest = &line[i + 1..];
    if rest.starts_with('{') {
        let mut depth = 0;
        for (n, ch) in rest.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1 + n + 1;
                    }
                }
                _ => {}
            }
        }
        return line.len();
    }
    let n: usize = rest
        .chars()
        .take_while(|&c| name_char(c))
        .map(char::len_utf8)
        .sum();
    i + 1 + n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(line: &str) -> Vec<(Class, String)> {
        let mut resolve = |w: &str| {
            if w == "ls" {
                Resolved::External
            } else {
                Resolved::NotFound
            }
        };
        let parts = classify(line, &mut resolve);
        assert_eq!(parts.iter().map(|p| p.1).collect::<String>(), line);
        parts
            .into_iter()
            .filter(|p| !p.1.trim().is_empty())
            .map(|(c, s)| (c, s.to_string()))
            .collect()
    }

    #[test]
    fn commands_keywords_strings() {
        let c = classes("if ls -l | nope \"a $x b\" # done");
        assert_eq!(c[0], (Class::Keyword, "if".into()));
        assert_eq!(c[1], (Class::Command(Resolved::External), "ls".into()));
        assert_eq!(c[2], (Class::Plain, "-l".into()));
        assert_eq!(c[3], (Class::Operator, "|".into()));
        assert_eq!(c[4], (Class::Command(Resolved::NotFound), "nope".into()));
        assert_eq!(c[5], (Class::String, "\"a ".into()));
        assert_eq!(c[6], (Class::Variable, "$x".into()));
        assert_eq!(c.last().map(|p| p.0), Some(Class::Comment));
    }

    #[test]
    fn covers_odd_input() {
        for line in [
            "",
            "\"unclosed $",
            "'x",
            "${a.b",
            "a=b ls",
            "x = 1",
            "é|ü&&",
            "$(ls",
        ] {
            classes(line);
        }
        let c = classes("let x = 1");
        assert_eq!(c[0].0, Class::Keyword);
        assert_eq!(c[3].0, Class::Number);
    }
}
