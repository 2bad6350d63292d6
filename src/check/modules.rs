//! The names a script can see without defining them: built-in functions,
//! the prelude, the variables ash sets (`args`, `script`, `status`), and
//! the top-level definitions of the modules it `use`s — the standard
//! library's (embedded) and local files (read relative to the script's
//! directory, as `use` does at run time), transitively.

use std::collections::HashMap;
use std::rc::Rc;

use crate::ast::{Block, StmtKind};

use super::shape::{Defined, Shape, Sig, Val};

/// One top-level definition of a module.
#[derive(Clone)]
pub struct ModuleDef {
    pub name: String,
    /// A function's signature, or `Unknown` for a variable.
    pub val: Val,
}

/// The top-level definitions of a module and of the modules it uses.
#[derive(Default)]
pub struct Loaded {
    pub defs: Vec<ModuleDef>,
    /// Some module could not be read or parsed: its names are unknown.
    pub incomplete: bool,
}

/// Names every script sees.
pub struct Env {
    /// The prelude's functions (`map`, `filter`).
    prelude: Vec<ModuleDef>,
    dir: Option<std::path::PathBuf>,
    cache: std::cell::RefCell<HashMap<String, Rc<Loaded>>>,
}

/// What a global name that the script does not define refers to.
pub enum Outside {
    /// A built-in function (its arity is in `arity.rs`).
    Builtin(&'static str),
    /// `args`: the script's arguments, as long as the input.
    Args,
    /// `script`, `status`.
    Special,
}

impl Env {
    pub fn for_script(_block: &Block, cx: &super::Context) -> Env {
        let prelude = parse_defs("<prelude>", crate::stdlib::PRELUDE)
            .map(|(defs, _)| defs)
            .unwrap_or_default();
        Env {
            prelude,
            dir: cx.dir.clone(),
            cache: Default::default(),
        }
    }

    /// A name defined outside any script.
    pub fn outside(&self, name: &str) -> Option<Outside> {
        match name {
            "args" => return Some(Outside::Args),
            "script" | "status" => return Some(Outside::Special),
            _ => {}
        }
        if let Some(f) = crate::builtins::functions::lookup(name) {
            return Some(Outside::Builtin(f.name));
        }
        if let Some(f) = crate::runtime::sync::lookup(name) {
            return Some(Outside::Builtin(f.name));
        }
        None
    }

    /// The prelude's definitions (loaded on first use by every script).
    pub fn prelude(&self) -> &[ModuleDef] {
        &self.prelude
    }

    /// The definitions `use PATH` brings, with the modules it uses.
    pub fn load(&self, path: &str) -> Rc<Loaded> {
        let mut seen = Vec::new();
        self.load_in(path, &mut seen)
    }

    fn load_in(&self, path: &str, seen: &mut Vec<String>) -> Rc<Loaded> {
        if let Some(l) = self.cache.borrow().get(path) {
            return l.clone();
        }
        if seen.iter().any(|p| p == path) {
            // A cycle: its names are being collected further up.
            return Rc::new(Loaded::default());
        }
        seen.push(path.to_string());
        let mut loaded = Loaded::default();
        match self.text_of(path) {
            Some(text) => match parse_defs(path, &text) {
                Some((defs, uses)) => {
                    loaded.defs = defs;
                    for u in uses {
                        let inner = self.load_in(&u, seen);
                        loaded.incomplete |= inner.incomplete;
                        loaded.defs.extend(inner.defs.iter().map(|d| ModuleDef {
                            name: d.name.clone(),
                            val: d.val.clone(),
                        }));
                    }
                }
                None => loaded.incomplete = true,
            },
            None => loaded.incomplete = true,
        }
        let loaded = Rc::new(loaded);
        self.cache
            .borrow_mut()
            .insert(path.to_string(), loaded.clone());
        loaded
    }

    fn text_of(&self, path: &str) -> Option<String> {
        if let Some(name) = path.strip_prefix("std/") {
            return crate::stdlib::module(name).map(str::to_string);
        }
        let full = match &self.dir {
            Some(d) => d.join(path),
            None => std::path::PathBuf::from(path),
        };
        std::fs::read_to_string(full).ok()
    }
}

/// The top-level definitions of a module's text and the paths it `use`s;
/// `None` if it does not parse.
fn parse_defs(path: &str, text: &str) -> Option<(Vec<ModuleDef>, Vec<String>)> {
    let block = crate::syntax::parse(text).ok()?;
    let mut defs = Vec::new();
    let mut uses = Vec::new();
    let from = if path.starts_with("std/") || path == "<prelude>" {
        path.to_string()
    } else {
        format!("`{path}`")
    };
    for stmt in &block.stmts {
        match &stmt.kind {
            StmtKind::FnDecl(def) => {
                if let Some(name) = &def.name {
                    defs.push(ModuleDef {
                        name: name.name.clone(),
                        val: Val::Func(Rc::new(Sig {
                            name: Some(name.name.clone()),
                            params: def.params.len(),
                            rest: def.rest.is_some(),
                            is_async: def.is_async,
                            ret: Shape::UNKNOWN,
                            defined: Defined::In(from.clone()),
                        })),
                    });
                }
            }
            StmtKind::Let { pattern, .. } => {
                for name in pattern.names() {
                    defs.push(ModuleDef {
                        name: name.name.clone(),
                        val: Val::Unknown,
                    });
                }
            }
            StmtKind::Export { name, .. } => defs.push(ModuleDef {
                name: name.name.clone(),
                val: Val::Unknown,
            }),
            StmtKind::Use { path } => uses.push(path.clone()),
            _ => {}
        }
        for name in super::walk::top_level_reads(stmt) {
            defs.push(ModuleDef {
                name,
                val: Val::Other,
            });
        }
    }
    Some((defs, uses))
}
