//! `ash --check [--path] [--format text|json] FILE...`: checks each file
//! (`-` is standard input), prints what it finds, and returns the exit
//! status: 2 if some file has an error (it does not parse or compile, or
//! cannot be read), else 1 if a warning was printed, else 0.
//!
//! Warnings go to stdout: `FILE:LINE:COL: warning[NAME]: message`, the
//! source line with a caret, and `help: ...`. Errors go to stderr in the
//! form of every ash error (`ash: FILE:LINE:COL: syntax error: ...`). With
//! `--format json`, every finding, errors included, is one JSON object on
//! a line of its own on stdout.
//!
//! `# ash: allow NAME` (several names: separated by commas or blanks) on
//! the line of a warning, or on the line above, silences it there.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};

use nu_ansi_term::Color;

use super::{Context, Finding, Lint};
use crate::ast::Span;
use crate::diag;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub format: Format,
    /// `--path`: report command names that are nowhere on `PATH`.
    pub check_path: bool,
}

const USAGE: &str = "usage: ash --check [--path] [--format text|json] FILE...  (- for stdin)\n";

/// The `--check` command line (the arguments after `--check`); the exit
/// status.
pub fn main(args: &[OsString]) -> i32 {
    let mut opts = Options::default();
    let mut files = Vec::new();
    let mut i = 0;
    let mut options_done = false;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if options_done || a == "-" || !a.starts_with('-') {
            files.push(args[i].clone());
        } else if a == "--" {
            options_done = true;
        } else if a == "--path" {
            opts.check_path = true;
        } else if a == "--format" || a.starts_with("--format=") {
            let value = match a.strip_prefix("--format=") {
                Some(v) => v.to_string(),
                None => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.to_string_lossy().into_owned(),
                        None => {
                            crate::diag::report!("ash: --format needs text or json\n{USAGE}");
                            return 2;
                        }
                    }
                }
            };
            opts.format = match value.as_str() {
                "text" => Format::Text,
                "json" => Format::Json,
                other => {
                    crate::diag::report!("ash: unknown format `{other}` (text or json)\n{USAGE}");
                    return 2;
                }
            };
        } else {
            crate::diag::report!("ash: unknown option {a} for --check\n{USAGE}");
            return 2;
        }
        i += 1;
    }
    if files.is_empty() {
        crate::diag::report!("ash: --check needs a FILE\n{USAGE}");
        return 2;
    }
    let mut status = 0;
    let mut out = std::io::stdout().lock();
    for file in &files {
        let s = check_one(file, &opts, &mut out);
        status = status.max(s);
    }
    let _ = out.flush();
    status
}

/// Check one file (or stdin); its status: 0, 1 (warnings) or 2 (error).
fn check_one(file: &OsString, opts: &Options, out: &mut impl Write) -> i32 {
    let (name, text, dir) = if file == "-" {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            crate::diag::reportln!("ash: reading standard input: {e}");
            return 2;
        }
        ("<stdin>".to_string(), text, None)
    } else {
        let name = file.to_string_lossy().into_owned();
        let text = match crate::cli::read_script(&name) {
            Ok(t) => t,
            Err(_) => return 2,
        };
        let dir = std::path::Path::new(&name)
            .parent()
            .map(|p| p.to_path_buf());
        (name, text, dir)
    };
    let cx = Context {
        dir,
        check_path: opts.check_path,
    };
    let lines = diag::LineIndex::new(&text);
    let at = Located {
        file: &name,
        text: &text,
        lines: &lines,
    };
    match check_text(&name, &text, &cx) {
        Err((source, span, message)) => {
            match opts.format {
                Format::Text => {
                    crate::diag::report!(
                        "{}",
                        diag::render(source, span, "syntax error: ", &message)
                    )
                }
                Format::Json => {
                    let _ = writeln!(out, "{}", at.json(span, "error", "syntax", &message, ""));
                }
            }
            2
        }
        Ok(findings) => {
            let color = opts.format == Format::Text
                && std::io::stdout().is_terminal()
                && diag::colors_wanted();
            for f in &findings {
                let shown = match opts.format {
                    Format::Text => text_report(&at, f, color),
                    Format::Json => {
                        at.json(f.span, "warning", f.lint.name(), &f.message, &f.help) + "\n"
                    }
                };
                let _ = out.write_all(shown.as_bytes());
            }
            i32::from(!findings.is_empty())
        }
    }
}

/// Parse, compile, lint, and apply `# ash: allow`. An error: the source
/// index, where, and the message.
pub fn check_text(
    name: &str,
    text: &str,
    cx: &Context,
) -> Result<Vec<Finding>, (u32, Span, String)> {
    let source = diag::add_source(name, text);
    let block = crate::syntax::parse(text).map_err(|e| (source, e.span, e.message))?;
    let mut names = crate::vm::globals::Globals::default();
    crate::compile::compile_script(
        &block,
        name,
        source,
        &mut names,
        crate::compile::TopLevel::ScriptLocals,
    )
    .map_err(|e| (source, e.span, e.message))?;
    let findings = super::lint(&block, text, cx);
    let allowed = allow_comments(text);
    let lines = diag::LineIndex::new(text);
    Ok(findings
        .into_iter()
        .filter(|f| {
            let (line, _) = lines.line_col(text, f.span.start as usize);
            let here = |l: usize| {
                allowed
                    .get(l.wrapping_sub(1))
                    .is_some_and(|names| names.contains(&f.lint))
            };
            !(here(line) || (line > 1 && here(line - 1)))
        })
        .collect())
}

/// Per line (0-based), the lints its `# ash: allow ...` comment names.
fn allow_comments(text: &str) -> Vec<Vec<Lint>> {
    text.lines()
        .map(|line| {
            let Some(at) = line.find("# ash: allow") else {
                return Vec::new();
            };
            line[at + "# ash: allow".len()..]
                .split(|c: char| c == ',' || c.is_whitespace())
                .take_while(|w| !w.starts_with('#'))
                .filter_map(Lint::from_name)
                .collect()
        })
        .collect()
}

fn text_report(at: &Located, f: &Finding, color: bool) -> String {
    let caret_color = color.then_some(Color::Yellow);
    let (line, col, shown) = diag::snippet_with(at.text, at.lines, f.span, caret_color);
    let head = format!("warning[{}]", f.lint.name());
    let head = if color {
        Color::Yellow.bold().paint(head).to_string()
    } else {
        head
    };
    format!(
        "{}:{line}:{col}: {head}: {}\n{shown}  help: {}\n",
        at.file, f.message, f.help
    )
}

/// A file's name and text, to locate findings in.
struct Located<'a> {
    file: &'a str,
    text: &'a str,
    lines: &'a diag::LineIndex,
}

impl Located<'_> {
    /// One finding as a JSON object: `file`, `line`, `column`, `end_line`,
    /// `end_column` (1-based, the end exclusive, columns in characters),
    /// `severity`, `name`, `message`, `help`.
    fn json(&self, span: Span, severity: &str, name: &str, message: &str, help: &str) -> String {
        let (line, column) = self.lines.line_col(self.text, span.start as usize);
        let (end_line, end_column) = self.lines.line_col(self.text, span.end as usize);
        serde_json::json!({
            "file": self.file,
            "line": line,
            "column": column,
            "end_line": end_line,
            "end_column": end_column,
            "severity": severity,
            "name": name,
            "message": message,
            "help": help,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_comments_name_lints_on_their_line() {
        let a = allow_comments("x\necho # ash: allow unused, arity\n# ash: allow escape bogus\n");
        assert_eq!(a[0], Vec::<Lint>::new());
        assert_eq!(a[1], vec![Lint::Unused, Lint::Arity]);
        assert_eq!(a[2], vec![Lint::Escape]);
    }
}
