//! Vi mode for keys that arrive together.
//!
//! reedline reads every key that is waiting (typed ahead while a command
//! ran, a fast burst), parses them all, then runs their edits under the
//! mode the edit mode reports *after the last key*. A burst ending in Esc
//! (`echo hello<Esc>`) so ran its insert-mode keys under normal mode's
//! rule that the cursor rests on a character, not past the end: each key
//! landed before the one typed ahead of it (`cho helloe`).
//!
//! An edit mode cannot tell the engine that the mode changed half-way:
//! the hook for that (`EditMode::handle_mode_specific_event`) returns a
//! type reedline does not export. What the engine does run, in order with
//! the edits, is `ReedlineEvent::Menu(name)`: it activates the menu of that
//! name. So each mode has a mark, a menu that never shows; the edit mode
//! ([`super::editor`]'s `Keys`) reports the mode in [`ShownMode`], and puts
//! `Menu(mark)` before the events of a key that changes the mode; running
//! it sets the mode the engine then reads for the edits that follow (it
//! asks before each edit). A mark is passed over while a completion menu
//! is open; the mode is then set right at the next key.

use std::sync::{Arc, Mutex, PoisonError};

use reedline::{
    Completer, Editor, Menu, MenuEvent, MenuSettings, PromptEditMode, PromptViMode, Suggestion,
};

/// The mode the engine is told (shared by the edit mode and the marks).
#[derive(Clone)]
pub struct ShownMode(Arc<Mutex<PromptEditMode>>);

impl ShownMode {
    pub fn new(mode: PromptEditMode) -> ShownMode {
        ShownMode(Arc::new(Mutex::new(mode)))
    }

    pub fn get(&self) -> PromptEditMode {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set(&self, mode: PromptEditMode) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }
}

/// The modes that have a mark.
const MODES: [PromptEditMode; 5] = [
    PromptEditMode::Vi(PromptViMode::Insert),
    PromptEditMode::Vi(PromptViMode::Normal),
    PromptEditMode::Vi(PromptViMode::Visual),
    PromptEditMode::Emacs,
    PromptEditMode::Default,
];

/// The name of the mark of `mode` (a mode without one names no menu, and
/// the engine passes over a `Menu` event it cannot find).
pub fn name(mode: &PromptEditMode) -> String {
    format!("\u{0}ash:mode:{mode:?}")
}

/// One mark per mode, to register as menus.
pub fn all(shown: &ShownMode) -> Vec<Mark> {
    MODES
        .into_iter()
        .map(|mode| Mark {
            settings: MenuSettings::default().with_name(&name(&mode)),
            mode,
            shown: shown.clone(),
            none: Vec::new(),
        })
        .collect()
}

/// A menu that is never active: activating it sets the shown mode.
pub struct Mark {
    settings: MenuSettings,
    mode: PromptEditMode,
    shown: ShownMode,
    none: Vec<Suggestion>,
}

impl Menu for Mark {
    fn settings(&self) -> &MenuSettings {
        &self.settings
    }

    fn is_active(&self) -> bool {
        false
    }

    fn set_active(&mut self, _active: bool) {}

    fn clear_input(&mut self) {}

    fn menu_event(&mut self, event: MenuEvent) {
        if let MenuEvent::Activate(_) = event {
            self.shown.set(self.mode.clone());
        }
    }

    fn can_quick_complete(&self) -> bool {
        false
    }

    fn can_partially_complete(
        &mut self,
        _values_updated: bool,
        _editor: &mut Editor,
        _completer: &mut dyn Completer,
    ) -> bool {
        false
    }

    fn update_values(&mut self, _editor: &mut Editor, _completer: &mut dyn Completer) {}

    fn reset_position(&mut self) {}

    fn update_working_details(
        &mut self,
        _editor: &mut Editor,
        _completer: &mut dyn Completer,
        _painter: &reedline::Painter,
    ) {
    }

    fn replace_in_buffer(&self, _editor: &mut Editor) {}

    fn menu_required_lines(&self, _terminal_columns: u16) -> u16 {
        0
    }

    fn menu_string(&self, _available_lines: u16, _use_ansi_coloring: bool) -> String {
        String::new()
    }

    fn min_rows(&self) -> u16 {
        0
    }

    fn get_values(&self) -> &[Suggestion] {
        &self.none
    }
}
