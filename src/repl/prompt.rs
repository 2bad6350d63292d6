//! The prompt: the default one (working directory, last status when
//! non-zero, how long the last command took when that was long, running
//! tasks and stopped jobs), or the text of `fn prompt { }`, and on the
//! right the text of `fn right_prompt { }`.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nu_ansi_term::Color;
use reedline::{
    Prompt, PromptEditMode, PromptHistorySearch, PromptHistorySearchStatus, PromptViMode,
};

/// The rendered prompt (left and right), shared with the editor thread:
/// the main thread updates it in place (a job ended) and asks for a
/// repaint.
#[derive(Clone, Default)]
pub struct PromptText(Arc<Mutex<(String, String)>>);

impl PromptText {
    pub fn set(&self, left: String, right: String) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = (left, right);
    }

    fn get(&self) -> (String, String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The prompt of one `read_line`.
#[derive(Clone)]
pub struct AshPrompt {
    pub text: PromptText,
}

impl Prompt for AshPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        Cow::Owned(self.text.get().0)
    }

    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Owned(self.text.get().1)
    }

    fn render_prompt_indicator(&self, mode: PromptEditMode) -> Cow<'_, str> {
        match mode {
            PromptEditMode::Vi(PromptViMode::Normal) => Cow::Borrowed("[N] "),
            _ => Cow::Borrowed(""),
        }
    }

    fn render_prompt_multiline_indicator(&self) -> Cow<'_, str> {
        Cow::Borrowed("… ")
    }

    fn render_prompt_history_search_indicator(&self, search: PromptHistorySearch) -> Cow<'_, str> {
        let failing = match search.status {
            PromptHistorySearchStatus::Passing => "",
            PromptHistorySearchStatus::Failing => "failing ",
        };
        Cow::Owned(format!("({failing}search: {}) ", search.term))
    }
}

/// What the default prompt shows.
pub struct Info<'a> {
    pub cwd: &'a Path,
    pub home: Option<&'a Path>,
    pub status: i32,
    /// How long the last command line ran.
    pub duration: Duration,
    pub running: usize,
    pub stopped: usize,
    pub color: bool,
}

/// A last command that took at least this long shows its time.
pub const LONG: Duration = Duration::from_secs(3);

/// `12.3s`, `2m05s`, `1h02m`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

/// `~/src/ash [1] 12.3s (2 tasks, 1 stopped)> `
pub fn default_prompt(info: &Info) -> String {
    let paint = |style: nu_ansi_term::Style, text: String| {
        if info.color {
            style.paint(text).to_string()
        } else {
            text
        }
    };
    let dir = match info.home {
        Some(h) if info.cwd == h => "~".to_string(),
        Some(h) => match info.cwd.strip_prefix(h) {
            Ok(rest) if h != Path::new("/") => format!("~/{}", rest.display()),
            _ => info.cwd.display().to_string(),
        },
        None => info.cwd.display().to_string(),
    };
    let mut s = paint(Color::Blue.bold(), dir);
    if info.status != 0 {
        s.push(' ');
        s.push_str(&paint(Color::Red.bold(), format!("[{}]", info.status)));
    }
    if info.duration >= LONG {
        s.push(' ');
        s.push_str(&paint(
            Color::Yellow.normal(),
            format_duration(info.duration),
        ));
    }
    let mut counts = Vec::new();
    if info.running > 0 {
        let word = if info.running == 1 { "task" } else { "tasks" };
        counts.push(format!("{} {word}", info.running));
    }
    if info.stopped > 0 {
        counts.push(format!("{} stopped", info.stopped));
    }
    if !counts.is_empty() {
        s.push(' ');
        s.push_str(&paint(
            Color::Yellow.normal(),
            format!("({})", counts.join(", ")),
        ));
    }
    s.push_str("> ");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info<'a>(cwd: &'a Path, home: Option<&'a Path>) -> Info<'a> {
        Info {
            cwd,
            home,
            status: 0,
            duration: Duration::ZERO,
            running: 0,
            stopped: 0,
            color: true,
        }
    }

    #[test]
    fn default_prompt_parts() {
        let p = default_prompt(&info(Path::new("/home/u/src"), Some(Path::new("/home/u"))));
        assert!(p.contains("~/src") && p.ends_with("> "), "{p}");
        let p = default_prompt(&Info {
            status: 2,
            running: 3,
            stopped: 1,
            duration: Duration::from_millis(12_300),
            color: false,
            ..info(Path::new("/tmp"), None)
        });
        assert_eq!(p, "/tmp [2] 12.3s (3 tasks, 1 stopped)> ");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
    }
}
