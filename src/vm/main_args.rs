//! `fn main`'s parameters as the script's command line (LANGUAGE.md
//! section 18; docs/reference.md, "A script's arguments").
//!
//! The compiler describes main's parameters in a [`MainSpec`] (on main's
//! `Proto`) and, at the end of the script's top level, pushes each
//! option's default and runs `Op::RunMain`, which parses `$args` here
//! against the spec. Parsing follows GNU getopt_long and Python's
//! argparse: options anywhere among the positional arguments, `--` ends
//! them, `--name=value` or `--name value`, `-n value` or `-nvalue`, short
//! flags bundled (`-vq`); the default's type decides what an option takes.

use std::fmt::Write as _;

use crate::vm::value::{Value, format_duration, parse_duration};

/// What `fn main(...)` declares, in its parameters' order.
#[derive(Debug, Default)]
pub struct MainSpec {
    pub params: Vec<Param>,
    /// `...rest`: the arguments left over.
    pub rest: Option<Described>,
    /// The comment block right above `fn main`, without its `#`s.
    pub doc: String,
}

/// A name with the text of the comment after it on its line.
#[derive(Debug, Default)]
pub struct Described {
    pub name: String,
    pub help: String,
}

#[derive(Debug)]
pub enum Param {
    Positional(Described),
    /// `--name`, `--name -n`, `--name = DEFAULT`: `arg.name` is the long
    /// name as written (`dry-run`); the variable has `_` for `-`.
    Option {
        arg: Described,
        short: Option<char>,
    },
}

/// What parsing the arguments comes to.
pub enum Parsed {
    /// main's arguments, in its parameters' order, then the rest.
    Args(Vec<Value>),
    /// `--help`: this text on stdout, status 0.
    Help(String),
    /// A bad command line: the message and the usage, status 2.
    Usage(String),
}

/// What an option takes, from its default.
#[derive(Clone, Copy, PartialEq)]
enum Takes {
    /// A boolean: `--name` sets true, `--no-name` false.
    Flag,
    Int,
    Float,
    Duration,
    /// A string (default a string or null).
    Text,
    /// A list: each use adds a string.
    Each,
}

impl Takes {
    fn of(default: &Value) -> Option<Takes> {
        Some(match default {
            Value::Bool(_) => Takes::Flag,
            Value::Int(_) => Takes::Int,
            Value::Float(_) => Takes::Float,
            Value::Duration(_) => Takes::Duration,
            Value::Str(_) | Value::Null => Takes::Text,
            Value::List(_) => Takes::Each,
            _ => return None,
        })
    }

    /// The placeholder for the value in the usage (`--jobs N`).
    fn metavar(self, long: &str) -> String {
        match self {
            Takes::Flag => String::new(),
            Takes::Int => "N".into(),
            Takes::Float => "X".into(),
            Takes::Duration => "DURATION".into(),
            Takes::Text | Takes::Each => long.to_uppercase().replace('-', "_"),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Takes::Int => "an int",
            Takes::Float => "a number",
            Takes::Duration => "a duration (like 30s, 1.5m, 200ms)",
            _ => "a value",
        }
    }
}

struct Opt<'a> {
    long: &'a str,
    short: Option<char>,
    help: &'a str,
    takes: Takes,
    /// The index of its parameter.
    slot: usize,
}

/// Parse `args` against `spec`; `defaults` has one value per option, in
/// order (`false` for a flag written without one). A default of a type
/// an option cannot take is an error of the script (`TypeError`).
pub fn parse(
    spec: &MainSpec,
    script: &str,
    defaults: Vec<Value>,
    args: &[Vec<u8>],
) -> Result<Parsed, String> {
    let mut values: Vec<Value> = Vec::with_capacity(spec.params.len());
    let mut opts = Vec::new();
    let mut defaults = defaults.into_iter();
    for (slot, p) in spec.params.iter().enumerate() {
        match p {
            Param::Positional(_) => values.push(Value::Null),
            Param::Option { arg, short } => {
                let default = defaults.next().unwrap_or(Value::Bool(false));
                let Some(takes) = Takes::of(&default) else {
                    return Err(format!(
                        "fn main: the default of --{} is a {}; an option takes a bool, int, \
                         float, duration, string, null or list",
                        arg.name,
                        default.type_name()
                    ));
                };
                // A list default is copied: each use adds to main's own.
                values.push(match &default {
                    Value::List(l) => Value::list(l.borrow().clone()),
                    _ => default,
                });
                opts.push(Opt {
                    long: &arg.name,
                    short: *short,
                    help: &arg.help,
                    takes,
                    slot,
                });
            }
        }
    }
    let shown_defaults = values.clone();
    let help = Help {
        spec,
        script,
        opts: &opts,
        values: &shown_defaults,
    };
    let own_help = opts.iter().any(|o| o.long == "help");
    let own_h = opts.iter().any(|o| o.short == Some('h'));
    let usage = |msg: String| Ok(Parsed::Usage(help.error(&msg)));

    let mut positional: Vec<&[u8]> = Vec::new();
    let mut only_positional = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_slice();
        i += 1;
        if only_positional || a == b"-" || !a.starts_with(b"-") || is_negative_number(a) {
            positional.push(a);
            continue;
        }
        if a == b"--" {
            only_positional = true;
            continue;
        }
        if let Some(body) = a.strip_prefix(b"--") {
            let (name, inline) = match body.iter().position(|&b| b == b'=') {
                Some(k) => (&body[..k], Some(&body[k + 1..])),
                None => (body, None),
            };
            let name = String::from_utf8_lossy(name);
            if name == "help" && !own_help {
                return Ok(Parsed::Help(help.full()));
            }
            let (opt, on) = match opts.iter().find(|o| o.long == name) {
                Some(o) => (o, true),
                None => match name
                    .strip_prefix("no-")
                    .and_then(|n| opts.iter().find(|o| o.long == n && o.takes == Takes::Flag))
                {
                    Some(o) => (o, false),
                    None => return usage(format!("unknown option --{name}")),
                },
            };
            if opt.takes == Takes::Flag {
                if inline.is_some() {
                    return usage(format!("--{name} takes no value"));
                }
                values[opt.slot] = Value::Bool(on);
                continue;
            }
            let value = match inline {
                Some(v) => v,
                None if i < args.len() => {
                    i += 1;
                    args[i - 1].as_slice()
                }
                None => return usage(format!("--{name} needs a value")),
            };
            if let Err(msg) = set(&mut values[opt.slot], opt, value) {
                return usage(msg);
            }
            continue;
        }
        // A bundle of short options: `-v`, `-vq`, `-j4`, `-j 4`.
        let text = String::from_utf8_lossy(&a[1..]).into_owned();
        for (k, c) in text.char_indices() {
            if c == 'h' && !own_h {
                return Ok(Parsed::Help(help.full()));
            }
            let Some(opt) = opts.iter().find(|o| o.short == Some(c)) else {
                return usage(format!("unknown option -{c}"));
            };
            if opt.takes == Takes::Flag {
                values[opt.slot] = Value::Bool(true);
                continue;
            }
            let attached = &a[1 + k + c.len_utf8()..];
            let value = if !attached.is_empty() {
                attached
            } else if i < args.len() {
                i += 1;
                args[i - 1].as_slice()
            } else {
                return usage(format!("-{c} needs a value"));
            };
            if let Err(msg) = set(&mut values[opt.slot], opt, value) {
                return usage(msg);
            }
            break;
        }
    }

    let names: Vec<&str> = spec
        .params
        .iter()
        .filter_map(|p| match p {
            Param::Positional(d) => Some(d.name.as_str()),
            Param::Option { .. } => None,
        })
        .collect();
    if positional.len() < names.len() {
        let missing: Vec<String> = names[positional.len()..]
            .iter()
            .map(|n| n.to_uppercase())
            .collect();
        let s = if missing.len() == 1 { "" } else { "s" };
        return usage(format!("missing argument{s} {}", missing.join(" ")));
    }
    if positional.len() > names.len() && spec.rest.is_none() {
        let extra = String::from_utf8_lossy(positional[names.len()]);
        return usage(format!("unexpected argument {extra:?}"));
    }
    let mut given = positional.into_iter();
    for (p, v) in spec.params.iter().zip(values.iter_mut()) {
        if let Param::Positional(_) = p {
            *v = Value::str(given.next().unwrap_or_default());
        }
    }
    // The rest as separate arguments: the call gathers them (`...rest`).
    values.extend(given.map(Value::str));
    Ok(Parsed::Args(values))
}

/// `-1`, `-2.5`: a positional argument, not an option (no short option
/// is a digit... unless the script has one, which it cannot: a short
/// alias is a letter).
fn is_negative_number(a: &[u8]) -> bool {
    a.len() > 1
        && a[1..]
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b'.' || *b == b'_')
        && a[1].is_ascii_digit()
}

/// Store `text` as the option's value, converted to what it takes.
fn set(slot: &mut Value, opt: &Opt, text: &[u8]) -> Result<(), String> {
    let s = String::from_utf8_lossy(text);
    let bad = || format!("--{} expects {}, got {:?}", opt.long, opt.takes.what(), s);
    let v = match opt.takes {
        Takes::Flag => Value::Bool(true),
        Takes::Int => Value::Int(parse_int(s.trim()).ok_or_else(bad)?),
        Takes::Float => match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Value::Float(x),
            _ => return Err(bad()),
        },
        Takes::Duration => match parse_duration(text) {
            Some(d) if d.is_finite() && d >= 0.0 => Value::Duration(d),
            _ => return Err(bad()),
        },
        Takes::Text => Value::str(text),
        Takes::Each => {
            if let Value::List(l) = slot {
                l.borrow_mut().push(Value::str(text));
            }
            return Ok(());
        }
    };
    *slot = v;
    Ok(())
}

/// An int as a user types it: decimal with an optional sign and `_`s.
fn parse_int(s: &str) -> Option<i64> {
    let digits: String = s.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || digits.starts_with('_') {
        return None;
    }
    digits.parse().ok()
}

struct Help<'a> {
    spec: &'a MainSpec,
    script: &'a str,
    opts: &'a [Opt<'a>],
    /// The defaults, by parameter.
    values: &'a [Value],
}

impl Help<'_> {
    /// `usage: tool.ash [-v] [-j N] SRC [FILES...]`
    fn line(&self) -> String {
        let mut out = format!("usage: {}", self.script);
        for p in &self.spec.params {
            match p {
                Param::Positional(_) => {}
                Param::Option { arg, short } => {
                    let opt = self.opts.iter().find(|o| o.long == arg.name);
                    let takes = opt.map_or(Takes::Flag, |o| o.takes);
                    let name = match short {
                        Some(c) => format!("-{c}"),
                        None => format!("--{}", arg.name),
                    };
                    let meta = takes.metavar(&arg.name);
                    let more = if takes == Takes::Each { "..." } else { "" };
                    if meta.is_empty() {
                        let _ = write!(out, " [{name}]");
                    } else {
                        let _ = write!(out, " [{name} {meta}]{more}");
                    }
                }
            }
        }
        for p in &self.spec.params {
            if let Param::Positional(d) = p {
                let _ = write!(out, " {}", d.name.to_uppercase());
            }
        }
        if let Some(r) = &self.spec.rest {
            let _ = write!(out, " [{}...]", r.name.to_uppercase());
        }
        out
    }

    /// A bad command line: what is wrong, then the usage.
    fn error(&self, msg: &str) -> String {
        format!(
            "ash: {script}: {msg}\nash: {script}: {} (--help for more)\n",
            self.line(),
            script = self.script
        )
    }

    /// `--help`: the usage, the doc comment, the arguments and options.
    fn full(&self) -> String {
        let mut out = self.line();
        out.push('\n');
        if !self.spec.doc.is_empty() {
            let _ = write!(out, "\n{}\n", self.spec.doc.trim_end());
        }
        let mut args: Vec<(String, String)> = Vec::new();
        for p in &self.spec.params {
            if let Param::Positional(d) = p {
                args.push((d.name.to_uppercase(), d.help.clone()));
            }
        }
        if let Some(r) = &self.spec.rest {
            args.push((format!("{}...", r.name.to_uppercase()), r.help.clone()));
        }
        let mut opts: Vec<(String, String)> = Vec::new();
        for o in self.opts {
            let short = o.short.map_or("    ".to_string(), |c| format!("-{c}, "));
            let meta = o.takes.metavar(o.long);
            let mut left = format!("{short}--{}", o.long);
            if !meta.is_empty() {
                let _ = write!(left, " {meta}");
            }
            let mut help = o.help.to_string();
            if let Some(d) = default_text(&self.values[o.slot], o.takes) {
                if !help.is_empty() {
                    help.push(' ');
                }
                let _ = write!(help, "(default: {d})");
            }
            opts.push((left, help));
        }
        let (own_help, own_h) = (
            self.opts.iter().any(|o| o.long == "help"),
            self.opts.iter().any(|o| o.short == Some('h')),
        );
        if !own_help {
            let short = if own_h { "    " } else { "-h, " };
            opts.push((format!("{short}--help"), "show this help and exit".into()));
        }
        let width = args
            .iter()
            .chain(&opts)
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0)
            .min(28);
        for (title, rows) in [("arguments", &args), ("options", &opts)] {
            if rows.is_empty() {
                continue;
            }
            let _ = write!(out, "\n{title}:\n");
            for (left, help) in rows {
                if help.is_empty() {
                    let _ = writeln!(out, "  {left}");
                } else if left.chars().count() > width {
                    let _ = writeln!(out, "  {left}\n  {:width$}  {help}", "");
                } else {
                    let _ = writeln!(out, "  {left:width$}  {help}");
                }
            }
        }
        out
    }
}

/// A default worth showing in the help: not false, null or empty.
fn default_text(v: &Value, takes: Takes) -> Option<String> {
    match (v, takes) {
        (_, Takes::Flag) | (Value::Null, _) => None,
        (Value::List(l), _) if l.is_empty() => None,
        (Value::Duration(d), _) => Some(format_duration(*d)),
        (Value::Str(s), _) if s.is_empty() => Some("\"\"".into()),
        (v, _) => Some(v.word_bytes()).map(|b| String::from_utf8_lossy(&b).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> MainSpec {
        let d = |n: &str| Described {
            name: n.into(),
            help: String::new(),
        };
        MainSpec {
            params: vec![
                Param::Positional(d("src")),
                Param::Option {
                    arg: d("verbose"),
                    short: Some('v'),
                },
                Param::Option {
                    arg: d("jobs"),
                    short: Some('j'),
                },
                Param::Option {
                    arg: d("tag"),
                    short: None,
                },
            ],
            rest: Some(d("files")),
            doc: String::new(),
        }
    }

    fn run(args: &[&str]) -> Parsed {
        let defaults = vec![Value::Bool(false), Value::Int(4), Value::list(vec![])];
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        parse(&spec(), "t.ash", defaults, &args).expect("a good spec")
    }

    fn shown(p: Parsed) -> String {
        match p {
            Parsed::Args(v) => v.iter().map(Value::repr).collect::<Vec<_>>().join(" "),
            Parsed::Help(h) => format!("help: {}", h.lines().next().unwrap_or("")),
            Parsed::Usage(u) => format!("usage: {}", u.lines().next().unwrap_or("")),
        }
    }

    #[test]
    fn options_anywhere_bundled_and_attached() {
        assert_eq!(shown(run(&["a"])), r#""a" false 4 []"#);
        assert_eq!(
            shown(run(&["-vj8", "a", "b", "--tag=x", "--tag", "y"])),
            r#""a" true 8 ["x", "y"] "b""#
        );
        assert_eq!(shown(run(&["a", "--", "-v"])), r#""a" false 4 [] "-v""#);
        assert_eq!(shown(run(&["-5", "-"])), r#""-5" false 4 [] "-""#);
        assert_eq!(
            shown(run(&["a", "-v", "--no-verbose"])),
            r#""a" false 4 []"#
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert_eq!(shown(run(&[])), "usage: ash: t.ash: missing argument SRC");
        assert_eq!(
            shown(run(&["a", "--jobs", "x"])),
            r#"usage: ash: t.ash: --jobs expects an int, got "x""#
        );
        assert_eq!(
            shown(run(&["a", "-j"])),
            "usage: ash: t.ash: -j needs a value"
        );
        assert_eq!(
            shown(run(&["a", "-x"])),
            "usage: ash: t.ash: unknown option -x"
        );
        assert_eq!(
            shown(run(&["a", "--verbose=1"])),
            "usage: ash: t.ash: --verbose takes no value"
        );
        assert_eq!(
            shown(run(&["a", "-h"])),
            "help: usage: t.ash [-v] [-j N] [--tag TAG]... SRC [FILES...]"
        );
    }
}
