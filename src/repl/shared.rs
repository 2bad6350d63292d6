//! Plain data the line editor's thread may read: a snapshot of the names the
//! runtime knows, refreshed by the main thread before each prompt.
//!
//! The runtime is single-threaded (`Rc` everywhere); reedline's highlighter,
//! completer and validator run on the editor thread and must be `Send`, so
//! they see only this copy.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::runtime::{Runtime, TaskCtx};
use crate::vm::value::Value;

#[derive(Default, Clone)]
pub struct Snapshot {
    /// Global functions (`fn` at the prompt, in config.ash, from modules).
    pub functions: BTreeSet<String>,
    /// Global variables that have a value (functions included).
    pub globals: BTreeSet<String>,
    /// Environment variable names of the session.
    pub env: BTreeSet<String>,
    pub cwd: PathBuf,
    pub path: Option<OsString>,
    pub home: Option<PathBuf>,
    /// Abbreviations (`abbr`): name -> expansion.
    pub abbrs: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Snapshot>>);

impl Shared {
    pub fn get(&self) -> MutexGuard<'_, Snapshot> {
        // A panic on the editor thread must not take the shell down.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copy what the editor needs from the runtime (main thread).
    pub fn refresh(&self, rt: &Runtime, ctx: &TaskCtx) {
        let mut functions = BTreeSet::new();
        let mut globals = BTreeSet::new();
        {
            for (name, v) in rt.globals.borrow().defined() {
                if name.starts_with('<') {
                    continue;
                }
                if matches!(v, Value::Func(_)) {
                    functions.insert(name.to_string());
                }
                globals.insert(name.to_string());
            }
        }
        let env_ref = ctx.env();
        let env: BTreeSet<String> = match env_ref.for_child() {
            Some(vars) => vars
                .into_iter()
                .filter_map(|(k, _)| k.into_string().ok())
                .collect(),
            None => std::env::vars_os()
                .filter_map(|(k, _)| k.into_string().ok())
                .collect(),
        };
        let path = env_ref.get(b"PATH");
        let home = env_ref.get(b"HOME").map(PathBuf::from);
        drop(env_ref);
        let mut snap = self.get();
        snap.functions = functions;
        snap.globals = globals;
        snap.env = env;
        snap.cwd = ctx.cwd().path().to_path_buf();
        snap.path = path;
        snap.home = home;
    }
}

/// How a command name resolves, for highlighting.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Resolved {
    Function,
    Builtin,
    External,
    NotFound,
}

impl Snapshot {
    pub fn resolve(&self, name: &str) -> Resolved {
        if self.functions.contains(name) || self.abbrs.contains_key(name) {
            Resolved::Function
        } else if crate::builtins::commands::lookup(name).is_some() || is_repl_command(name) {
            Resolved::Builtin
        } else if crate::process::find_program(name.as_ref(), self.path.as_deref(), &self.cwd)
            .is_some()
        {
            Resolved::External
        } else {
            Resolved::NotFound
        }
    }

    /// `~` and `~/x` expanded, relative paths against the session's cwd.
    pub fn expand(&self, p: &str) -> PathBuf {
        let home = self.home.as_deref().unwrap_or(Path::new("/"));
        let p = if p == "~" {
            home.to_path_buf()
        } else if let Some(rest) = p.strip_prefix("~/") {
            home.join(rest)
        } else {
            PathBuf::from(p)
        };
        self.cwd.join(p)
    }
}

/// Commands the interactive shell itself provides (see `super::commands`).
pub fn is_repl_command(name: &str) -> bool {
    super::commands::NAMES.contains(&name)
}
