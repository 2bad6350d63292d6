//! The line editor runs on its own thread: `Reedline::read_line` blocks, and
//! the event loop must keep running tasks while the user types. The main
//! thread sends a prompt, the editor thread answers with what the user did.

use std::sync::mpsc;
use std::time::Duration;

use reedline::{
    ColumnarMenu, DefaultHinter, EditCommand, EditMode, Emacs, ExternalPrinter, KeyCode,
    KeyModifiers, Keybindings, MenuBuilder, PromptEditMode, Reedline, ReedlineEvent, ReedlineMenu,
    ReedlineRawEvent, Signal, Vi, default_emacs_keybindings, default_vi_insert_keybindings,
    default_vi_normal_keybindings, default_vi_visual_keybindings,
};

use super::complete::AshCompleter;
use super::highlight::AshHighlighter;
use super::menu::QuietMenu;
use super::mode_marks::{self, ShownMode};
use super::prompt::AshPrompt;
use super::shared::Shared;
use super::validate::AshValidator;

pub enum Reply {
    Line(String),
    CtrlC,
    CtrlD,
    /// The terminal failed (read_line returned an error).
    Failed(String),
}

pub struct Settings {
    pub vi: bool,
    /// Colors (highlighting, prompt, suggestions, menu); off with NO_COLOR.
    pub color: bool,
    /// Not a terminal: read plain lines (`ash -i < file`).
    pub plain: bool,
}

/// What the main thread asks for: a line, read with this prompt.
pub struct Request {
    pub prompt: AshPrompt,
    /// Text to start the line with (a line that did not parse, to fix).
    pub initial: Option<String>,
    /// Where background output comes from while the line is edited (one
    /// per prompt: see `super::output`).
    pub printer: ExternalPrinter<String>,
    /// The abbreviations (`abbr`) now.
    pub abbreviations: std::collections::HashMap<String, String>,
}

pub struct Editor {
    requests: mpsc::Sender<Request>,
    replies: smol::channel::Receiver<Reply>,
    /// Redraws the prompt (its text changed: a job ended).
    pub repaint: std::sync::Arc<dyn Fn() + Send + Sync>,
}

impl Editor {
    pub fn start(settings: Settings, shared: Shared) -> std::io::Result<Editor> {
        let (req_tx, req_rx) = mpsc::channel::<Request>();
        let (rep_tx, rep_rx) = smol::channel::unbounded();
        if settings.plain {
            std::thread::Builder::new()
                .name("ash-editor".into())
                .spawn(move || plain_lines(&req_rx, &rep_tx))?;
            return Ok(Editor {
                requests: req_tx,
                replies: rep_rx,
                repaint: std::sync::Arc::new(|| {}),
            });
        }
        let (repaint_tx, repaint_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("ash-editor".into())
            .spawn(move || {
                let mut ed = build(settings, shared);
                let signal = ed.repaint_signal();
                let repaint: std::sync::Arc<dyn Fn() + Send + Sync> =
                    std::sync::Arc::new(move || signal.request_repaint());
                let _ = repaint_tx.send(repaint);
                while let Ok(Request {
                    prompt,
                    initial,
                    printer,
                    abbreviations,
                }) = req_rx.recv()
                {
                    ed = ed
                        .with_external_printer(printer)
                        .with_abbreviations(abbreviations);
                    if let Some(text) = initial {
                        ed.run_edit_commands(&[EditCommand::InsertString(text)]);
                    }
                    let reply = match ed.read_line(&prompt) {
                        Ok(Signal::Success(line)) => {
                            if let Err(e) = ed.sync_history() {
                                crate::diag::warn(&format!("saving history: {e}"));
                            }
                            Reply::Line(line)
                        }
                        Ok(Signal::CtrlC) => Reply::CtrlC,
                        Ok(Signal::CtrlD) => Reply::CtrlD,
                        Ok(_) => Reply::CtrlC,
                        Err(e) => Reply::Failed(e.to_string()),
                    };
                    if rep_tx.send_blocking(reply).is_err() {
                        break;
                    }
                }
            })?;
        let repaint = repaint_rx
            .recv()
            .map_err(|_| std::io::Error::other("the line editor did not start"))?;
        Ok(Editor {
            requests: req_tx,
            replies: rep_rx,
            repaint,
        })
    }

    /// Show the prompt and wait (asynchronously) for the user.
    pub async fn read(&self, request: Request) -> Reply {
        if self.requests.send(request).is_err() {
            return Reply::Failed("the line editor stopped".into());
        }
        self.replies
            .recv()
            .await
            .unwrap_or_else(|_| Reply::Failed("the line editor stopped".into()))
    }
}

/// Without a terminal: the prompt on stderr, lines from stdin (more lines
/// while the text is incomplete), end of input as Ctrl-D.
fn plain_lines(requests: &mpsc::Receiver<Request>, replies: &smol::channel::Sender<Reply>) {
    use reedline::Prompt;
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    while let Ok(Request { prompt, .. }) = requests.recv() {
        let mut text = String::new();
        let mut marker = prompt.render_prompt_left().into_owned();
        let reply = loop {
            crate::diag::report!("{marker}");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            match stdin.lock().read_line(&mut line) {
                Ok(0) if text.is_empty() => break Reply::CtrlD,
                Ok(0) => break Reply::Line(text),
                Ok(_) => {
                    text.push_str(&line);
                    if !super::validate::is_incomplete(&text) {
                        break Reply::Line(text.trim_end_matches('\n').to_string());
                    }
                    marker = prompt.render_prompt_multiline_indicator().into_owned();
                }
                Err(e) => break Reply::Failed(e.to_string()),
            }
        };
        if replies.send_blocking(reply).is_err() {
            break;
        }
    }
}

/// What the Alt-. binding sends, for [`Keys`] to replace with the words.
const LAST_ARG: &str = "\u{0}ash:last-arg";

/// The key bindings' edit mode (emacs or vi), with two additions that
/// need to know the keys before and after:
///
/// - Alt-. (as in bash, zsh and fish) inserts the last word of the
///   previous line; pressed again right after, it replaces that word with
///   the last word of the line before, and so on back (lines without one,
///   ending in `}`, are passed over; at the oldest, nothing changes). The
///   words are what was typed, quotes included.
/// - A typed space is an edit of its own: reedline fuses the edits of keys
///   that arrive together (typed ahead while a command ran, a fast typist
///   on a slow link) and looks for an abbreviation only when the first of
///   them is a space, so `gco master` typed ahead did not expand `gco`.
///
/// It also keeps vi mode right for keys that arrive together (see
/// [`super::mode_marks`]).
struct Keys {
    inner: Box<dyn EditMode>,
    /// After an Alt-.: how far back its word came from (0: the newest
    /// line with a last word) and how many graphemes it inserted.
    last_arg: Option<(usize, usize)>,
    /// The mode the engine is told, for the event it is running now.
    shown: ShownMode,
    /// Keys were parsed and the engine has not asked for the mode since:
    /// it is still reading one batch.
    in_batch: std::cell::Cell<bool>,
}

impl Keys {
    fn last_arg(&mut self) -> ReedlineEvent {
        use unicode_segmentation::UnicodeSegmentation;
        let (back, erase) = match self.last_arg {
            Some((back, len)) => (back + 1, len),
            None => (0, 0),
        };
        let lines = super::history::newest_first();
        let Some(word) = lines
            .iter()
            .filter_map(|line| super::complete::last_word(line))
            .nth(back)
        else {
            // Nothing further back: the line stays as it is.
            return ReedlineEvent::None;
        };
        let mut edits = vec![EditCommand::Backspace; erase];
        edits.push(EditCommand::InsertString(word.to_string()));
        self.last_arg = Some((back, word.graphemes(true).count()));
        ReedlineEvent::Edit(edits)
    }
}

impl EditMode for Keys {
    fn parse_event(&mut self, event: ReedlineRawEvent) -> ReedlineEvent {
        if !self.in_batch.replace(true) {
            // A new batch: the previous one has run, so its last key's
            // mode is the mode now (also if a mark was passed over).
            self.shown.set(self.inner.edit_mode());
        }
        let before = self.inner.edit_mode();
        let event = self.keys(event);
        let after = self.inner.edit_mode();
        if before == after {
            return event;
        }
        // The mode changes here: the engine is to adopt it when it runs
        // this key's events, not before the keys ahead of it. (The second
        // mark is for a key that closes a completion menu, Esc: the first
        // is passed over while the menu is open.)
        let mark = || ReedlineEvent::Menu(mode_marks::name(&after));
        ReedlineEvent::Multiple(vec![mark(), event, mark()])
    }

    fn edit_mode(&self) -> PromptEditMode {
        // The engine asks right after parsing a batch, and before running
        // each edit of it.
        self.in_batch.set(false);
        self.shown.get()
    }
}

impl Keys {
    fn keys(&mut self, event: ReedlineRawEvent) -> ReedlineEvent {
        let event = self.inner.parse_event(event);
        match event {
            ReedlineEvent::Edit(edits) if matches!(edits.as_slice(), [EditCommand::InsertString(s)] if s == LAST_ARG) => {
                self.last_arg()
            }
            ReedlineEvent::Edit(edits)
                if matches!(edits.first(), Some(EditCommand::InsertChar(' '))) =>
            {
                self.last_arg = None;
                // Not an `Edit`, so not fused with the edits before it
                // (`UntilFound`, unlike `Multiple`, also reaches the
                // Ctrl-R search's query).
                ReedlineEvent::UntilFound(vec![ReedlineEvent::Edit(edits)])
            }
            event => {
                self.last_arg = None;
                event
            }
        }
    }
}

fn add_common_bindings(kb: &mut Keybindings) {
    kb.add_binding(
        KeyModifiers::NONE,
        KeyCode::Tab,
        ReedlineEvent::UntilFound(vec![
            ReedlineEvent::Menu("completion_menu".to_string()),
            ReedlineEvent::MenuNext,
        ]),
    );
    kb.add_binding(
        KeyModifiers::SHIFT,
        KeyCode::BackTab,
        ReedlineEvent::MenuPrevious,
    );
    kb.add_binding(
        KeyModifiers::ALT,
        KeyCode::Enter,
        ReedlineEvent::Edit(vec![EditCommand::InsertNewline]),
    );
    kb.add_binding(
        KeyModifiers::ALT,
        KeyCode::Char('.'),
        ReedlineEvent::Edit(vec![EditCommand::InsertString(LAST_ARG.to_string())]),
    );
}

fn build(settings: Settings, shared: Shared) -> Reedline {
    let menu = ColumnarMenu::default().with_name("completion_menu");
    let edit_mode: Box<dyn reedline::EditMode> = if settings.vi {
        let mut insert = default_vi_insert_keybindings();
        add_common_bindings(&mut insert);
        Box::new(Vi::new(
            insert,
            default_vi_normal_keybindings(),
            default_vi_visual_keybindings(),
        ))
    } else {
        let mut kb = default_emacs_keybindings();
        add_common_bindings(&mut kb);
        Box::new(Emacs::new(kb))
    };
    let shown = ShownMode::new(edit_mode.edit_mode());
    let edit_mode = Box::new(Keys {
        inner: edit_mode,
        last_arg: None,
        shown: shown.clone(),
        in_batch: std::cell::Cell::new(false),
    });
    let mut ed = Reedline::create();
    for mark in mode_marks::all(&shown) {
        ed = ed.with_menu(ReedlineMenu::EngineCompleter(Box::new(mark)));
    }
    ed.with_history(super::history::open())
        .with_history_exclusion_prefix(Some(" ".into()))
        .with_hinter(Box::new(DefaultHinter::default().with_style(
            if settings.color {
                nu_ansi_term::Style::new().fg(nu_ansi_term::Color::DarkGray)
            } else {
                nu_ansi_term::Style::new()
            },
        )))
        .with_ansi_colors(settings.color)
        .with_highlighter(Box::new(AshHighlighter {
            shared: shared.clone(),
        }))
        .with_completer(Box::new(AshCompleter {
            shared: shared.clone(),
        }))
        .with_quick_completions(true)
        .with_partial_completions(true)
        .with_menu(ReedlineMenu::EngineCompleter(Box::new(QuietMenu(menu))))
        .with_validator(Box::new(AshValidator))
        .with_edit_mode(edit_mode)
        .with_poll_interval(Duration::from_millis(50))
        // A paste arrives as one insertion: never run line by line, and a
        // TAB in it is text, not completion.
        .use_bracketed_paste(true)
}
