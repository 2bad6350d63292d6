//! Abbreviations and aliases, as in fish.
//!
//! An abbreviation (`abbr -a gco git checkout`) is text the line editor
//! replaces as you type: a word that names one, typed where a command goes,
//! becomes its expansion when you press Space or Enter, so the history and
//! the screen show what really ran. reedline does the replacing (its
//! abbreviation map, handed the current set before each prompt); the
//! highlighter's `should_expand_abbr` vetoes a word that is not in command
//! position, inside quotes, or was erased since (reedline's map only grows).
//!
//! An alias (`alias ll='ls -l'`) is a function: `fn ll(...argv) { ls -l
//! $argv }`. When the definition starts with the alias's own name
//! (`alias ls='ls -F'`), that word becomes `command ls` (`builtin echo` for
//! a builtin), as fish's `alias` does, so the function does not call itself.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::runtime::{Runtime, TaskCtx};
use crate::vm::value::Value;

use super::commands::Output;

/// The abbreviations and aliases of the session.
#[derive(Default)]
pub struct Abbrs {
    /// Name -> expansion.
    pub abbrs: std::cell::RefCell<BTreeMap<String, String>>,
    /// Name -> (definition as written, the function made for it).
    aliases: std::cell::RefCell<BTreeMap<String, (String, Value)>>,
}

/// `abbr`, as fish's: `abbr -a NAME EXPANSION...` (or `abbr NAME
/// EXPANSION...`), `abbr` / `abbr --show` to list them re-readably,
/// `abbr --list` for the names, `abbr -e NAME...`, `abbr -q NAME...`,
/// `abbr --rename OLD NEW`.
pub fn abbr(state: &Abbrs, args: &[String], out: &mut Output) -> i32 {
    let mut abbrs = state.abbrs.borrow_mut();
    let (flag, rest) = match args.first().map(String::as_str) {
        Some(f) if f.starts_with('-') && f != "--" => (f, &args[1..]),
        Some("--") => ("--add", &args[1..]),
        Some(_) => ("--add", args),
        None => ("--show", args),
    };
    match flag {
        "-a" | "--add" => {
            let rest = match rest.first().map(String::as_str) {
                Some("--") => &rest[1..],
                _ => rest,
            };
            let Some((name, words)) = rest.split_first() else {
                out.err("ash: abbr: -a needs a name and an expansion");
                return 2;
            };
            if words.is_empty() {
                out.err(format!("ash: abbr: {name}: no expansion given"));
                return 2;
            }
            if name.is_empty() || name.chars().any(char::is_whitespace) {
                out.err(format!(
                    "ash: abbr: {name:?}: a name is one word, without spaces"
                ));
                return 2;
            }
            abbrs.insert(name.clone(), words.join(" "));
            0
        }
        "-s" | "--show" => {
            for (name, expansion) in abbrs.iter() {
                out.out(format!("abbr -a -- {name} {}", quote(expansion)));
            }
            0
        }
        "-l" | "--list" => {
            for name in abbrs.keys() {
                out.out(name);
            }
            0
        }
        "-e" | "--erase" => {
            let mut status = 0;
            for name in rest {
                if abbrs.remove(name).is_none() {
                    out.err(format!("ash: abbr: no abbreviation named {name}"));
                    status = 1;
                }
            }
            status
        }
        "-q" | "--query" => {
            let all = !rest.is_empty() && rest.iter().all(|n| abbrs.contains_key(n));
            if all { 0 } else { 1 }
        }
        "-r" | "--rename" => {
            let [old, new] = rest else {
                out.err("ash: abbr: --rename needs the old name and the new one");
                return 2;
            };
            if abbrs.contains_key(new) {
                out.err(format!("ash: abbr: {new} is an abbreviation already"));
                return 1;
            }
            match abbrs.remove(old) {
                Some(expansion) => {
                    abbrs.insert(new.clone(), expansion);
                    0
                }
                None => {
                    out.err(format!("ash: abbr: no abbreviation named {old}"));
                    1
                }
            }
        }
        other => {
            out.err(format!(
                "ash: abbr: unknown option {other} (-a NAME EXPANSION, --show, --list, -e NAME, -q NAME, --rename OLD NEW)"
            ));
            2
        }
    }
}

/// `alias` lists the aliases; `alias NAME=DEFINITION` or `alias NAME
/// DEFINITION...` defines one (a function).
pub async fn alias(
    state: &Abbrs,
    rt: &Rc<Runtime>,
    ctx: &Rc<TaskCtx>,
    args: &[String],
    out: &mut Output,
) -> i32 {
    if args.is_empty() {
        let aliases = state.aliases.borrow();
        for (name, (def, made)) in aliases.iter() {
            // Only those still defined as made (not redefined by `fn`).
            if still_defined(rt, name, made) {
                out.out(format!("alias {name} {}", quote(def)));
            }
        }
        return 0;
    }
    let (name, def) = match args[0].split_once('=') {
        Some((name, def)) if args.len() == 1 => (name.to_string(), def.to_string()),
        Some(_) => {
            out.err(
                "ash: alias: write alias NAME=DEFINITION (one argument) or alias NAME DEFINITION",
            );
            return 2;
        }
        None if args.len() >= 2 => (args[0].clone(), args[1..].join(" ")),
        None => {
            // `alias NAME`: show that one.
            let aliases = state.aliases.borrow();
            return match aliases.get(&args[0]) {
                Some((def, made)) if still_defined(rt, &args[0], made) => {
                    out.out(format!("alias {} {}", args[0], quote(def)));
                    0
                }
                _ => {
                    out.err(format!("ash: alias: no alias named {}", args[0]));
                    1
                }
            };
        }
    };
    if !crate::compile::is_identifier(&name) {
        out.err(format!(
            "ash: alias: {name:?} cannot be a function name (letters, digits and _)"
        ));
        return 2;
    }
    if def.trim().is_empty() {
        out.err(format!("ash: alias: {name}: empty definition"));
        return 2;
    }
    let source = function_source(&name, &def);
    let closure = match crate::runtime::modules::load_module(rt, &format!("alias {name}"), &source)
    {
        Ok(c) => c,
        Err(e) => {
            out.err(format!(
                "ash: alias: {name}: the definition does not parse: {}",
                e.message
            ));
            return 2;
        }
    };
    let ran = crate::runtime::task::drive(crate::vm::fiber::Fiber::call(
        rt.clone(),
        ctx.clone(),
        closure,
        Vec::new(),
    ))
    .await;
    if let crate::runtime::task::Outcome::Error(e) = ran {
        out.err(format!("ash: alias: {name}: {}", e.message));
        return 1;
    }
    let made = rt.get_global(&name).unwrap_or(Value::Null);
    state.aliases.borrow_mut().insert(name, (def, made));
    0
}

/// `unalias NAME...`: the functions aliases made are undefined.
pub fn unalias(state: &Abbrs, rt: &Runtime, args: &[String], out: &mut Output) -> i32 {
    let mut status = 0;
    for name in args {
        let known = state.aliases.borrow_mut().remove(name);
        match known {
            Some((_, made)) if still_defined(rt, name, &made) => {
                rt.globals.borrow_mut().unset(name);
            }
            _ => {
                out.err(format!("ash: unalias: no alias named {name}"));
                status = 1;
            }
        }
    }
    status
}

fn still_defined(rt: &Runtime, name: &str, made: &Value) -> bool {
    match (rt.get_global(name), made) {
        (Some(Value::Func(now)), Value::Func(made)) => Rc::ptr_eq(&now, made),
        _ => false,
    }
}

/// `fn NAME(...argv) { DEF $argv }`, with a first word that is NAME itself
/// run past the function (`command NAME`, or `builtin NAME`).
fn function_source(name: &str, def: &str) -> String {
    let def = def.trim();
    let first = def.split_whitespace().next().unwrap_or_default();
    let body = if first == name {
        let prefix = if crate::builtins::commands::lookup(name).is_some() {
            "builtin"
        } else {
            "command"
        };
        format!("{prefix} {def}")
    } else {
        def.to_string()
    };
    format!("fn {name}(...argv) {{\n{body} $argv\n}}\n")
}

/// `'text'` for ash (and fish, and sh): single quotes, `'` written `\'`
/// outside them. Plain words stay bare.
fn quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./=:,+%@".contains(c));
    if plain {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Whether an abbreviation may expand at `word_start` of `line`: the word
/// is in command position (the start of a line or after `|`, `;`, `&&`,
/// `||`, `&`, `{`, `(`) and not inside quotes.
pub fn in_command_position(line: &str, word_start: usize) -> bool {
    let Some(before) = line.get(..word_start) else {
        return false;
    };
    // Inside an open quote, nothing is a command.
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in before.chars() {
        match (quote, c) {
            (_, _) if escaped => escaped = false,
            (Some('\''), '\'') => quote = None,
            (Some('\''), _) => {}
            (_, '\\') => escaped = true,
            (Some('"'), '"') => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            _ => {}
        }
    }
    if quote.is_some() {
        return false;
    }
    let before = before.trim_end_matches([' ', '\t']);
    before.is_empty() || before.ends_with(['|', ';', '&', '{', '(', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_position() {
        for (line, at, yes) in [
            ("gco ", 0, true),
            ("echo gco ", 5, false),
            ("ls | gco ", 5, true),
            ("true && gco ", 8, true),
            ("x; gco ", 3, true),
            ("if true { gco ", 10, true),
            ("echo 'x; gco ", 8, false),
            ("echo \"x | gco ", 10, false),
        ] {
            assert_eq!(in_command_position(line, at), yes, "{line:?} at {at}");
        }
    }

    #[test]
    fn alias_sources() {
        assert_eq!(
            function_source("ll", "ls -l"),
            "fn ll(...argv) {\nls -l $argv\n}\n"
        );
        assert_eq!(
            function_source("ls", "ls -F"),
            "fn ls(...argv) {\ncommand ls -F $argv\n}\n"
        );
        assert_eq!(
            function_source("echo", "echo -n"),
            "fn echo(...argv) {\nbuiltin echo -n $argv\n}\n"
        );
        assert_eq!(quote("git checkout"), "'git checkout'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("ls"), "ls");
    }
}
