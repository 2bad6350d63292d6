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
