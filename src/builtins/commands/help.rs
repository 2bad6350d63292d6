//! `help [TOPIC]`: the reference, from the project's own documentation,
//! compiled into the binary (so it matches the version that runs, and
//! works without the source tree).
//!
//! A topic is looked up, in order: a section of the reference or of the
//! standard library's documentation whose heading names it (`help
//! gather`, `help std/retry`, `help Functions`), then a row of a table
//! in the builtins or interactive documentation that starts with it (`help
//! printf`, `help fg`). `help` alone lists the topics.

use super::{BuiltinCtx, Output};
use crate::vm::error::Error;
use crate::vm::value::Value;

const DOCS: &[(&str, &str)] = &[
    ("reference", include_str!("../../../docs/reference.md")),
    ("stdlib", include_str!("../../../docs/stdlib.md")),
    ("builtins", include_str!("../../../docs/builtins.md")),
    ("interactive", include_str!("../../../docs/interactive.md")),
];

/// A heading's words, without `#`s, numbers and backquotes.
fn heading_words(line: &str) -> Vec<String> {
    line.trim_start_matches('#')
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .map(|w| w.trim_matches(|c: char| c == '`' || c == '.' || c == '(' || c == ')'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A code fence (not prose that starts with four backquotes).
fn fence(line: &str) -> bool {
    line.starts_with("```") && !line.starts_with("````")
}

fn level(line: &str) -> usize {
    line.chars().take_while(|&c| c == '#').count()
}

/// The section whose heading names `topic`, up to the next heading of the
/// same or a higher level.
fn section(doc: &str, topic: &str) -> Option<String> {
    let topic = topic.to_lowercase();
    let lines: Vec<&str> = doc.lines().collect();
    let mut in_code = false;
    for (i, line) in lines.iter().enumerate() {
        if fence(line) {
            in_code = !in_code;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let words = heading_words(line);
        let whole = line.trim_start_matches('#').trim().to_lowercase();
        if !words.contains(&topic) && whole != topic {
            continue;
        }
        let lvl = level(line);
        let mut out = vec![*line];
        let mut code = false;
        for next in &lines[i + 1..] {
            if fence(next) {
                code = !code;
            }
            if !code && next.starts_with('#') && level(next) <= lvl {
                break;
            }
            out.push(next);
        }
        return Some(out.join("\n").trim_end().to_string() + "\n");
    }
    None
}

/// Table rows that start with `` `topic`` (a builtin, a shell command).
fn rows(doc: &str, topic: &str) -> Vec<String> {
    let prefixes = [format!("| `{topic}`"), format!("| `{topic} ")];
    doc.lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p.as_str())))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            cells.join("\n    ")
        })
        .collect()
}

/// The help text for `topic`, if there is any.
pub fn lookup(topic: &str) -> Option<String> {
    for (_, doc) in DOCS {
        if let Some(s) = section(doc, topic) {
            return Some(s);
        }
    }
    let found: Vec<String> = DOCS.iter().flat_map(|(_, d)| rows(d, topic)).collect();
    (!found.is_empty()).then(|| found.join("\n") + "\n")
}

/// `help [TOPIC...]`
pub fn builtin_help(_: &BuiltinCtx, args: &[Value]) -> Result<Output, Error> {
    let topics = args
        .iter()
        .skip(1)
        .map(Value::to_text)
        .collect::<Result<Vec<String>, Error>>()?;
    if topics.is_empty() {
        let mut out = String::from(
            "help TOPIC shows the reference for a keyword, builtin, standard module or\n\
             section, e.g. `help gather`, `help printf`, `help std/retry`, `help fg`.\n\
             Sections:\n",
        );
        for (name, doc) in DOCS {
            out.push_str(&format!("  {name}:"));
            for line in doc.lines().filter(|l| l.starts_with("## ")) {
                out.push_str(&format!(" {};", line.trim_start_matches('#').trim()));
            }
            out.pop();
            out.push('\n');
        }
        return Ok(Output::out(out.into_bytes()));
    }
    let mut out = String::new();
    let mut status = 0;
    for t in &topics {
        match lookup(t) {
            Some(text) => out.push_str(&text),
            None => {
                return Ok(Output::fail(
                    "help",
                    format!("no help for `{t}` (`help` lists the sections)"),
                    1,
                ));
            }
        }
    }
    if out.is_empty() {
        status = 1;
    }
    Ok(Output {
        status,
        stdout: out.into_bytes(),
        ..Output::default()
    })
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn topics() {
        let g = lookup("gather").expect("gather");
        assert!(g.starts_with("### gather"), "{g}");
        let r = lookup("std/retry").expect("std/retry");
        assert!(r.starts_with("## std/retry"), "{r}");
        let p = lookup("printf").expect("printf");
        assert!(p.contains("FORMAT"), "{p}");
        let t = lookup("timeout").expect("timeout");
        assert!(t.contains("sleep, timeout, cancel"), "{t}");
        assert!(lookup("fg").is_some());
        assert!(lookup("no-such-topic-zz").is_none());
    }
}
