//! The prompt: the default one (working directory, last status when
//! non-zero, running background tasks), or the text of `fn prompt { }`.

use std::borrow::Cow;
use std::path::Path;

use nu_ansi_term::Color;
use reedline::{
    Prompt, PromptEditMode, PromptHistorySearch, PromptHistorySearchStatus, PromptViMode,
};

/// A rendered prompt, sent to the editor thread for one `read_line`.
#[derive(Clone)]
pub struct AshPrompt {
    pub left: String,
}

impl Prompt for AshPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.left)
    }

    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Borrowed("")
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

/// `~/src/ash [1] (2 tasks)> `
pub fn default_prompt(
    cwd: &Path,
    home: Option<&Path>,
    status: i32,
    tasks: usize,
    stopped: usize,
    color: bool,
) -> String {
    let paint = |style: nu_ansi_term::Style, text: String| {
        if color {
            style.paint(text).to_string()
        } else {
            text
        }
    };
    let dir = match home {
        Some(h) if cwd == h => "~".to_string(),
        Some(h) => match cwd.strip_prefix(h) {
            Ok(rest) if h != Path::new("/") => format!("~/{}", rest.display()),
            _ => cwd.display().to_string(),
        },
        None => cwd.display().to_string(),
    };
    let mut s = paint(Color::Blue.bold(), dir);
    if status != 0 {
        s.push(' ');
        s.push_str(&paint(Color::Red.bold(), format!("[{status}]")));
    }
    if tasks > 0 {
        let word = if tasks == 1 { "task" } else { "tasks" };
        s.push(' ');
        s.push_str(&paint(Color::Yellow.normal(), format!("({tasks} {word})")));
    }
    if stopped > 0 {
        s.push(' ');
        s.push_str(&paint(
            Color::Yellow.normal(),
            format!("({stopped} stopped)"),
        ));
    }
    s.push_str("> ");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_prompt_parts() {
        let p = default_prompt(
            Path::new("/home/u/src"),
            Some(Path::new("/home/u")),
            0,
            0,
            0,
            true,
        );
        assert!(p.contains("~/src") && p.ends_with("> "), "{p}");
        let p = default_prompt(Path::new("/tmp"), None, 2, 3, 0, false);
        assert!(!p.contains('\x1b'), "{p}");
        assert!(p.contains("[2]") && p.contains("(3 tasks)"), "{p}");
    }
}
