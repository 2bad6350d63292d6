//! Where history lives and how it is opened.
//!
//! `history.txt` in the XDG data dir (`$XDG_DATA_HOME/ash`, by default
//! `~/.local/share/ash`), or the file named by `$ASH_HISTORY` (empty: no
//! history file). reedline's `FileBackedHistory` keeps one entry per line
//! (newlines inside an entry are escaped). The shell syncs after every
//! accepted line: under an exclusive `flock` on the file, sync reads what
//! other shells appended, appends this shell's new entries and (when over
//! capacity) rewrites the file trimmed to the newest entries. So several
//! shells open at once interleave their entries without losing any; each
//! one sees the others' entries from its next sync on.

use std::path::PathBuf;

use reedline::{FileBackedHistory, History};

pub const CAPACITY: usize = 10_000;

pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ASH_HISTORY") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "ash").map(|d| d.data_dir().join("history.txt"))
}

/// Open the history file; on any problem, warn and keep history in memory
/// only for this session.
pub fn open() -> Box<dyn History> {
    let memory = || -> Box<dyn History> {
        match FileBackedHistory::new(CAPACITY) {
            Ok(h) => Box::new(h),
            Err(_) => Box::<FileBackedHistory>::default(),
        }
    };
    let Some(path) = history_path() else {
        return memory();
    };
    match FileBackedHistory::with_file(CAPACITY, path.clone()) {
        Ok(h) => Box::new(h),
        Err(e) => {
            crate::diag::warn(&format!(
                "cannot use the history file {}: {e}; history is not saved this session",
                path.display()
            ));
            memory()
        }
    }
}
