//! Loaded sources and error rendering: `ash: FILE:LINE:COL: KIND: message`,
//! then the source line and a caret under the spot.
//!
//! Sources are registered once and kept for the life of the process (error
//! locations refer to them by index). Everything that reads them runs on
//! the loop thread, so the registry is thread-local.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::rc::Rc;

use nu_ansi_term::Color;

use crate::ast::Span;
use crate::vm::error::{Error, Location};

struct SourceFile {
    name: String,
    text: Rc<str>,
}

thread_local! {
    static SOURCES: RefCell<Vec<SourceFile>> = const { RefCell::new(Vec::new()) };
}

/// Register a source text; returns its index for `Location::source`.
pub fn add_source(name: &str, text: &str) -> u32 {
    SOURCES.with(|s| {
        let mut s = s.borrow_mut();
        s.push(SourceFile {
            name: name.to_string(),
            text: Rc::from(text),
        });
        (s.len() - 1) as u32
    })
}

pub fn source_name(source: u32) -> String {
    SOURCES.with(|s| {
        s.borrow()
            .get(source as usize)
            .map_or_else(|| "?".to_string(), |f| f.name.clone())
    })
}

/// The text of a loaded source.
pub fn source_of(source: u32) -> Option<Rc<str>> {
    SOURCES.with(|s| s.borrow().get(source as usize).map(|f| f.text.clone()))
}

/// The text a span covers (empty if unknown).
pub fn source_text(source: u32, span: Span) -> String {
    source_of(source)
        .and_then(|t| {
            t.get(span.start as usize..span.end as usize)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// 1-based line and column (in characters) of a byte offset.
pub fn offset_line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let offset = (0..=offset)
        .rev()
        .find(|&o| text.is_char_boundary(o))
        .unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Where each line of a text starts: line and column of many offsets
/// without rescanning the text for each.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    /// As [`offset_line_col`], for the text the index was made from.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let offset = (0..=offset)
            .rev()
            .find(|&o| text.is_char_boundary(o))
            .unwrap_or(0);
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line, text[start..offset].chars().count() + 1)
    }

    /// The text of 1-based line `line`, without its newline.
    pub fn line<'t>(&self, text: &'t str, line_no: usize) -> &'t str {
        let start = self.starts.get(line_no - 1).copied().unwrap_or(text.len());
        let end = self
            .starts
            .get(line_no)
            .map_or(text.len(), |&next| next - 1);
        let line = text.get(start..end.max(start)).unwrap_or("");
        // As `str::lines`: a `\r` before the newline is not part of it
        // (a lone `\r` at the end of the text is, and is shown).
        match self.starts.get(line_no) {
            Some(_) => line.strip_suffix('\r').unwrap_or(line),
            None => line,
        }
    }
}

/// The text of the line a location starts on (without its newline), and
/// how many characters of the location are on it (at least 1).
pub fn line_and_width(loc: &Location) -> Option<(String, usize)> {
    let text = source_of(loc.source)?;
    let start = (loc.span.start as usize).min(text.len());
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text
        .get(start..)?
        .find('\n')
        .map_or(text.len(), |i| start + i);
    let end = (loc.span.end as usize).clamp(start, line_end);
    let width = text.get(start..end).map_or(0, |t| t.chars().count()).max(1);
    Some((text[line_start..line_end].to_string(), width))
}

pub fn line_col(loc: &Location) -> (usize, usize) {
    source_line_col(loc.source, loc.span.start as usize)
}

/// 1-based line and column of a byte offset of a registered source
/// (`(0, 0)` for an unknown source).
pub fn source_line_col(source: u32, offset: usize) -> (usize, usize) {
    source_of(source).map_or((0, 0), |t| offset_line_col(&t, offset))
}

/// The report for a located message: header line, source line, caret.
pub fn render(source: u32, span: Span, head: &str, message: &str) -> String {
    let name = source_name(source);
    let (name, message) = (
        escape_controls(&name, false),
        escape_controls(message, true),
    );
    let Some(text) = source_of(source) else {
        return format!("ash: {name}: {head}{message}\n");
    };
    let color = (std::io::stderr().is_terminal() && colors_wanted()).then_some(Color::Red);
    let (line, col, shown) = snippet(&text, span, color);
    format!("ash: {name}:{line}:{col}: {head}{message}\n{shown}")
}

/// The source line of a span and a caret under it (two lines, indented by
/// two spaces), with the 1-based line and column of the span's start.
/// `color`: the caret's, when the output is a terminal.
pub fn snippet(text: &str, span: Span, color: Option<Color>) -> (usize, usize, String) {
    snippet_with(text, &LineIndex::new(text), span, color)
}

/// [`snippet`] with the text's line index made once (for many snippets of
/// one text).
pub fn snippet_with(
    text: &str,
    lines: &LineIndex,
    span: Span,
    color: Option<Color>,
) -> (usize, usize, String) {
    // An error at the end of input points just past the last token, not at
    // an empty last line.
    let end = text.trim_end().len();
    let span = if span.start as usize > end {
        Span::new(end, end)
    } else {
        span
    };
    let (line, col) = lines.line_col(text, span.start as usize);
    let mut out = String::new();
    let line_text = lines.line(text, line);
    // A very long line is shown as a window around the spot; tabs keep the
    // caret aligned.
    const WINDOW: usize = 60;
    let chars: Vec<char> = line_text.chars().collect();
    let (from, to) = if chars.len() > 3 * WINDOW {
        let from = (col - 1).saturating_sub(WINDOW);
        (from, (col - 1 + WINDOW).min(chars.len()))
    } else {
        (0, chars.len())
    };
    let lead = if from > 0 { "…" } else { "" };
    let tail = if to < chars.len() { "…" } else { "" };
    // Control and bidi characters are shown escaped (see
    // `escape_controls`), and the caret counts their escapes' width.
    let mut shown = String::new();
    for &c in &chars[from..to] {
        push_shown(&mut shown, c, false);
    }
    out.push_str(&format!("  {lead}{shown}{tail}\n"));
    let mut pad = String::from(if from > 0 { " " } else { "" });
    for &c in &chars[from..(col - 1).min(chars.len())] {
        if c == '\t' {
            pad.push('\t');
        } else {
            pad.extend(std::iter::repeat_n(' ', shown_width(c)));
        }
    }
    let width = {
        let end = (span.end as usize).min(text.len());
        let start = (span.start as usize).min(end);
        let covered = text.get(start..end).unwrap_or("");
        covered
            .lines()
            .next()
            .map_or(1, |l| l.chars().map(shown_width).sum::<usize>().max(1))
    };
    let caret = "^".repeat(width.min(2 * WINDOW));
    match color {
        Some(c) => out.push_str(&format!("  {pad}{}\n", c.bold().paint(caret))),
        None => out.push_str(&format!("  {pad}{caret}\n")),
    }
    (line, col, out)
}

/// The report of an uncaught error.
pub fn render_error(e: &Error) -> String {
    let head = format!("{}: ", e.kind.name());
    let mut out = match e.location.borrow().as_ref() {
        Some(loc) => render(loc.source, loc.span, &head, &e.message),
        None => format!("ash: {head}{}\n", e.message),
    };
    if let Some(hint) = crate::check::hints::for_error(e) {
        out.push_str(&format!("  hint: {hint}\n"));
    }
    // Consecutive identical call sites (deep recursion) are shown once.
    let trace = e.trace.borrow();
    let mut shown = 0;
    let mut i = 0;
    while i < trace.len() && shown < 20 {
        let call = &trace[i];
        let mut same = 1;
        while i + same < trace.len()
            && trace[i + same].source == call.source
            && trace[i + same].span == call.span
        {
            same += 1;
        }
        let (line, col) = line_col(call);
        out.push_str(&format!(
            "  called from {}:{line}:{col}\n",
            source_name(call.source)
        ));
        if same > 1 {
            out.push_str(&format!(
                "  ... the line above repeated {} more times\n",
                same - 1
            ));
        }
        shown += 1;
        i += same;
    }
    if i < trace.len() {
        out.push_str(&format!("  ... and {} more calls\n", trace.len() - i));
    }
    out
}

/// A warning line on stderr: `ash: warning: ...`.
pub fn warn(message: &str) {
    to_stderr(&format!(
        "ash: warning: {}\n",
        escape_controls(message, true)
    ));
}

thread_local! {
    /// Warnings said once, and how often each came again since.
    static REPEATED: RefCell<indexmap::IndexMap<String, u64>> = RefCell::new(indexmap::IndexMap::new());
}

/// A warning that can come in floods (a coroutine never awaited, once per
/// level of a runaway recursion): the first of each text is printed at
/// once, the ones after it only counted, and [`flush_repeated`] says how
/// many there were (as Python prints a warning once per place).
pub fn warn_repeatable(message: &str) {
    let first = REPEATED.with_borrow_mut(|seen| match seen.get_mut(message) {
        Some(n) => {
            *n += 1;
            false
        }
        None => {
            seen.insert(message.to_string(), 0);
            true
        }
    });
    if first {
        warn(message);
    }
}

/// One line per repeated warning: `... (N more times)`; the counts start
/// again. Called when a script ends and after each interactive line.
pub fn flush_repeated() {
    let seen = REPEATED.with_borrow_mut(std::mem::take);
    for (message, more) in seen {
        if more > 0 {
            let times = if more == 1 { "time" } else { "times" };
            warn(&format!("{message} ({more} more {times})"));
        }
    }
}

/// Whether `c` is shown escaped in a report: control characters (but tab,
/// and newline where `newline` is kept) and the bidirectional formatting
/// characters, which could make a report (or a source line) read other
/// than it is (CVE-2021-42574, "Trojan Source").
fn hidden(c: char, newline: bool) -> bool {
    match c {
        '\t' => false,
        '\n' => !newline,
        c if c.is_control() => true,
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// Append `c` to `out` as a report shows it: `\r`, `\x1b`, `\u{202e}`
/// for the characters [`hidden`] names, else itself.
fn push_shown(out: &mut String, c: char, newline: bool) {
    use std::fmt::Write as _;
    if !hidden(c, newline) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\r' => write!(out, "\\r"),
        '\n' => write!(out, "\\n"),
        '\0' => write!(out, "\\0"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// How many columns `c` takes in a shown source line (1, or its escape's).
fn shown_width(c: char) -> usize {
    if c == '\t' || !hidden(c, false) {
        return 1;
    }
    let mut s = String::new();
    push_shown(&mut s, c, false);
    s.len()
}

/// `text` with control and bidi characters escaped (see [`hidden`]);
/// newlines kept when `newline`.
pub fn escape_controls(text: &str, newline: bool) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| hidden(c, newline)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_shown(&mut out, c, newline);
    }
    std::borrow::Cow::Owned(out)
}

/// Write ash's own report (an error, a warning, a usage message) to
/// stderr. A stderr that cannot take it (`2>/dev/full`, a full disk, a
/// pipe whose reader has gone, as in `2>&1 | head`) drops it quietly: the
/// exit status still says what happened. (`eprint!` panics there, which
/// turned every such status into 101.)
pub fn to_stderr(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Write ash's own output (`--help`, `--version`, the job list) to
/// stdout; the error, if it could not be written.
pub fn to_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// `eprint!` that never panics: see [`to_stderr`].
macro_rules! report {
    ($($arg:tt)*) => {
        $crate::diag::to_stderr(&format!($($arg)*))
    };
}

/// `eprintln!` that never panics: see [`to_stderr`].
macro_rules! reportln {
    ($($arg:tt)*) => {
        $crate::diag::to_stderr(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// Colors are used unless `NO_COLOR` is set to a non-empty value
/// (no-color.org); every colored output of ash asks here.
pub fn colors_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub(crate) use {report, reportln};
