//! Word-level detectors, shared by `--check` and the run-time hints (which
//! re-parse the text of the word an error points at).

use crate::ast::{Word, WordPart};

/// `$name[...]` in a word: a variable immediately followed by text that
/// opens with `[` and closes later in the word. In a word that is the
/// glob `[...]` after `$name` (or, quoted, the text `[...]`), never
/// indexing. Returns the variable's name, the bracket text as written, and
/// whether it made the word a glob.
pub fn index_glob(parts: &[WordPart]) -> Option<IndexGlob> {
    for (i, part) in parts.iter().enumerate() {
        let WordPart::Var { name, .. } = part else {
            continue;
        };
        let Some(WordPart::Lit { text, quoted }) = parts.get(i + 1) else {
            continue;
        };
        if !text.starts_with('[') {
            continue;
        }
        // The bracket text: literal parts and `$x` up to the first `]`.
        let mut shown = String::new();
        let mut closed = false;
        for p in &parts[i + 1..] {
            match p {
                WordPart::Lit { text, .. } => match text.find(']') {
                    Some(end) => {
                        shown.push_str(&text[..=end]);
                        closed = true;
                        break;
                    }
                    None => shown.push_str(text),
                },
                WordPart::Var { name, .. } => {
                    shown.push('$');
                    shown.push_str(&name.name);
                }
                _ => break,
            }
        }
        if !closed || shown.len() < 3 {
            continue;
        }
        let glob = !quoted && crate::compile::has_glob_meta(text);
        return Some(IndexGlob {
            name: name.name.clone(),
            bracket: shown,
            glob,
        });
    }
    None
}

/// A `$name[...]` found by [`index_glob`].
#[derive(Clone, Debug, PartialEq)]
pub struct IndexGlob {
    pub name: String,
    /// `[0]`, `[$i]`: as written.
    pub bracket: String,
    /// The word became a glob (unquoted, `[` and `]` in one literal).
    pub glob: bool,
}

impl IndexGlob {
    /// The index expression: `[$i]` becomes `[i]`.
    pub fn fixed(&self) -> String {
        format!("${{{}{}}}", self.name, self.bracket.replace('$', ""))
    }

    pub fn message(&self) -> String {
        let what = if self.glob {
            "the glob pattern"
        } else {
            "the text"
        };
        format!(
            "`${}{}` is `${}` followed by {what} `{}`, not an index",
            self.name, self.bracket, self.name, self.bracket
        )
    }

    pub fn help(&self) -> String {
        format!(
            "to index, write `{}`; for the text, write `${{{}}}{}`",
            self.fixed(),
            self.name,
            self.bracket
        )
    }
}

/// The literal command name of a word, if it is one plain literal.
pub fn literal(w: &Word) -> Option<&str> {
    match w.parts.as_slice() {
        [WordPart::Lit { text, .. }] => Some(text),
        _ => None,
    }
}

/// Whether a word may expand to any number of arguments: an unquoted
/// variable, `${ }`, `( )` or `$( )` alone (a list splices), or a glob.
pub fn may_splice(w: &Word) -> bool {
    let glob = w.parts.iter().any(
        |p| matches!(p, WordPart::Lit { text, quoted: false } if crate::compile::has_glob_meta(text) || brace_list(text)),
    );
    glob || matches!(
        w.parts.as_slice(),
        [WordPart::Var { quoted: false, .. }
            | WordPart::Expr { quoted: false, .. }
            | WordPart::Capture { quoted: false, .. }]
    )
}

/// `{a,b}` or `{1..3}` in unquoted text: brace expansion (section 18)
/// makes several words of one.
fn brace_list(text: &str) -> bool {
    text.find('{').is_some_and(|i| {
        text[i..].contains('}') && (text[i..].contains(',') || text[i..].contains(".."))
    })
}

/// A habit from bash in a word's source text: a special parameter (`$1`,
/// `$@`, `$*`, `$#`, `$?`), arithmetic `$((...))`, or a backquoted
/// command. Single quotes, backslash escapes, and the code inside `${ }`
/// and `$( )` (checked as words of their own) are skipped; backquotes only
/// count outside quotes (inside, they are often just text).
pub fn bash_habit(src: &str) -> Option<Habit> {
    let b = src.as_bytes();
    let (mut i, mut double) = (0, false);
    let plain = |at: usize, what: &str, help: String| Habit {
        at,
        len: what.len(),
        message: format!("`{what}` is bash; ash reads it as plain text"),
        help,
    };
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'\'' if !double => match src[i + 1..].find('\'') {
                Some(end) => i += end + 1,
                None => return None,
            },
            b'"' => double = !double,
            b'`' if !double => {
                // The closing backquote may be in this word or, after a
                // blank, in a later one: `date +%F`.
                let end = src[i + 1..].find('`');
                if end.is_none() && i > 0 {
                    // The closing one of a pair opened in an earlier word.
                    i += 1;
                    continue;
                }
                let help = match end {
                    Some(end) => format!(
                        "write `$({})` for the command's output",
                        &src[i + 1..i + 1 + end]
                    ),
                    None => "write `$(command)` for a command's output".to_string(),
                };
                return Some(Habit {
                    at: i,
                    len: end.map_or(1, |e| e + 2),
                    message:
                        "backquotes are bash's command substitution; ash reads them as plain text"
                            .into(),
                    help,
                });
            }
            b'$' => match b.get(i + 1) {
                Some(b'(') if b.get(i + 2) == Some(&b'(') => return Some(arithmetic(i)),
                Some(b'(' | b'{') => {
                    i = skip_nested(b, i + 1);
                    continue;
                }
                Some(&c @ b'0'..=b'9')
                    if !matches!(b.get(i + 2), Some(b'0'..=b'9' | b'.' | b',')) =>
                {
                    let n = usize::from(c - b'0');
                    let help = if n == 0 {
                        "the script's path is `$script`".to_string()
                    } else {
                        format!(
                            "the script's arguments are the list `$args`: write `${{args[{}]}}`",
                            n - 1
                        )
                    };
                    return Some(plain(i, &src[i..i + 2], help));
                }
                Some(b'@' | b'*') => {
                    let help = "the script's arguments are the list `$args` (a list expands to one argument per element)";
                    return Some(plain(i, &src[i..i + 2], help.into()));
                }
                Some(b'#') => {
                    let help = "the number of arguments is `(len(args))`";
                    return Some(plain(i, "$#", help.into()));
                }
                Some(b'?') => {
                    let help = "the last command's exit status is `$status`";
                    return Some(plain(i, "$?", help.into()));
                }
                _ => {}
            },
            _ => {}
        }
        i += 1;
    }
    None
}

/// `$((` at `at`: bash arithmetic.
pub fn arithmetic(at: usize) -> Habit {
    Habit {
        at,
        len: 3,
        message: "`$((...))` is bash arithmetic; ash runs the value of `(...)` as a command".into(),
        help: "in ash an expression in parentheses is its value: `(1 + 2)`, or `${1 + 2}` inside a word".into(),
    }
}

/// A habit from bash found by [`bash_habit`]: where (a byte offset and
/// length in the text), what it is, and the ash form.
#[derive(Clone, Debug, PartialEq)]
pub struct Habit {
    pub at: usize,
    pub len: usize,
    pub message: String,
    pub help: String,
}

/// The index just past the bracket group opening at `open` (`(` or `{`),
/// nested groups and quotes included.
fn skip_nested(b: &[u8], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(b'"') if c == b'\\' => i += 1,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'\\' => i += 1,
                b'(' | b'{' => depth += 1,
                b')' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Ident, Span};

    fn var(n: &str) -> WordPart {
        WordPart::Var {
            name: Ident {
                name: n.into(),
                span: Span::default(),
            },
            quoted: false,
        }
    }
    fn lit(t: &str, quoted: bool) -> WordPart {
        WordPart::Lit {
            text: t.into(),
            quoted,
        }
    }

    #[test]
    fn finds_a_variable_followed_by_brackets() {
        let g = index_glob(&[var("args"), lit("[0]", false)]).expect("found");
        assert!(g.glob);
        assert_eq!(g.fixed(), "${args[0]}");
        let g = index_glob(&[var("xs"), lit("[", true), var("i"), lit("]", true)]).expect("found");
        assert!(!g.glob);
        assert_eq!(g.bracket, "[$i]");
        assert_eq!(g.fixed(), "${xs[i]}");
    }

    #[test]
    fn bash_habits_in_words() {
        let found = |s: &str| bash_habit(s).map(|h| (h.at, h.len));
        assert_eq!(found("$1"), Some((0, 2)));
        assert_eq!(found("\"usage: $0 FILE\""), Some((8, 2)));
        assert_eq!(found("x$?"), Some((1, 2)));
        assert_eq!(found("$#"), Some((0, 2)));
        assert_eq!(found("\"$@\""), Some((1, 2)));
        assert_eq!(found("$((1+2))"), Some((0, 3)));
        assert_eq!(found("`date`"), Some((0, 6)));
        // Literal text, money, escapes, code of its own, quoted backquotes.
        for clean in [
            "'$1'",
            "\\$1",
            "\"costs $5.00\"",
            "$10",
            "${f('$1')}",
            "$(echo '$?')",
            "\"run `make`\"",
            "$name",
            "'`x`'",
            "$",
        ] {
            assert_eq!(found(clean), None, "{clean}");
        }
    }

    #[test]
    fn leaves_other_words_alone() {
        assert_eq!(
            index_glob(&[lit("[", false), var("x"), lit("]", false)]),
            None
        );
        assert_eq!(index_glob(&[var("x"), lit("[", false)]), None);
        assert_eq!(index_glob(&[var("x"), lit(".txt", false)]), None);
        assert_eq!(index_glob(&[var("x"), lit("[]", false)]), None);
    }
}
