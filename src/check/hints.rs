//! Hints for run-time errors whose cause is a common mistake: a line
//! `hint: ...` after the error's source line, naming the ash form.
//!
//! They are found from the error (its kind and message) and the source
//! text it points at; only on the error path, so running costs nothing.
//! `$name[...]` is recognised by re-parsing the word and asking the same
//! detector as `--check`'s `index-glob`.

use crate::vm::error::{Error, ErrorKind};

/// The hint for an error, if its cause is recognised.
pub fn for_error(e: &Error) -> Option<String> {
    let loc = e.location.borrow();
    let loc = loc.as_ref()?;
    let text = crate::diag::source_text(loc.source, loc.span);
    let before = crate::diag::source_text(
        loc.source,
        crate::ast::Span::new(
            loc.span.start.saturating_sub(2) as usize,
            loc.span.start as usize,
        ),
    );
    hint(e.kind, &e.message, &text, &before)
}

/// The hint for an error of `kind` with `message`, raised at source text
/// `text` (just after `before`).
pub fn hint(kind: ErrorKind, message: &str, text: &str, before: &str) -> Option<String> {
    match kind {
        ErrorKind::Glob => glob_hint(text),
        ErrorKind::Command => {
            let name = message.strip_prefix("command not found: ")?;
            command_hint(name, text, before)
        }
        _ => None,
    }
}

/// A glob that matched nothing: `$xs[0]`, `$?`, `$*`.
fn glob_hint(word: &str) -> Option<String> {
    if let Ok(block) = crate::syntax::parse(&format!("echo {word}"))
        && let Some(crate::ast::Stmt {
            kind: crate::ast::StmtKind::Command(a),
            ..
        }) = block.stmts.first()
        && let Some(crate::ast::Stage::Command(c)) = a.first.stages.first()
        && let Some(w) = c.words.get(1)
        && let Some(found) = super::words::index_glob(&w.parts)
    {
        return Some(format!(
            "`${}{}` is `${}` followed by the glob `{}`; to index, write `{}`",
            found.name,
            found.bracket,
            found.name,
            found.bracket,
            found.fixed()
        ));
    }
    if word.contains("$?") {
        return Some("`$?` is bash; in ash the last command's exit status is `$status`".into());
    }
    if word.contains("$*") {
        return Some("`$*` is bash; in ash the script's arguments are the list `$args`".into());
    }
    None
}

/// A command that was not found, from its source text (`before`: the two
/// characters before it): `$((...))` runs `(...)`'s value as a command.
fn command_hint(name: &str, text: &str, before: &str) -> Option<String> {
    if before.ends_with("$(") && text.starts_with('(') {
        let inner = text.trim_start_matches('(').trim_end_matches(')');
        return Some(format!(
            "`$((...))` is bash arithmetic; in ash an expression in parentheses is its value: `({inner})`, or `${{{inner}}}` inside a word"
        ));
    }
    let _ = name;
    None
}

/// Said after `command not found: NAME` when NAME is shell syntax that ash
/// writes another way (whether or not the failure raises an error).
pub fn command_not_found(name: &str) -> Option<String> {
    if name == "[[" {
        return Some(
            "`[[ ... ]]` is bash; in ash write `test ...` (or `[ ... ]`), or an expression condition: `if (x == \"y\") { ... }`".into(),
        );
    }
    for op in ["++", "--"] {
        if let Some(var) = name.strip_suffix(op)
            && is_name(var)
        {
            let sign = &op[..1];
            return Some(format!("`{name}` is bash; in ash write `{var} {sign}= 1`"));
        }
    }
    match name {
        "then" | "fi" | "do" | "done" | "esac" => Some(format!(
            "`{name}` is sh; ash blocks are written in braces: `if test -f x {{ ... }}`, `for f in *.txt {{ ... }}`"
        )),
        "local" | "declare" | "typeset" => Some(format!(
            "`{name}` is bash; in ash declare a variable with `let name = value`"
        )),
        _ => None,
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_glob_hint_names_the_index_form() {
        let h = hint(ErrorKind::Glob, "no match for a b[0]", "$args[0]", "").expect("hint");
        assert!(h.contains("${args[0]}"), "{h}");
        assert_eq!(hint(ErrorKind::Glob, "no match", "*.txt", ""), None);
    }

    #[test]
    fn bash_habits_get_the_ash_form() {
        let h = hint(ErrorKind::Glob, "no match for $?", "$?", "").expect("hint");
        assert!(h.contains("$status"), "{h}");
        let h = hint(ErrorKind::Command, "command not found: 3", "(1+2)", "$(").expect("hint");
        assert!(h.contains("(1+2)"), "{h}");
        assert_eq!(
            hint(ErrorKind::Command, "command not found: foo", "foo x", ""),
            None
        );
        let h = command_not_found("[[").expect("hint");
        assert!(h.contains("test"), "{h}");
        let h = command_not_found("i++").expect("hint");
        assert!(h.contains("i += 1"), "{h}");
        assert_eq!(command_not_found("ls"), None);
    }
}
