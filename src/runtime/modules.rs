//! Modules and sourced files: `use std/NAME`, `use ./file.ash`,
//! `source FILE`, and the prelude.

use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use crate::ast::Span;
use crate::compile::TopLevel;
use crate::process;
use crate::runtime::Runtime;
use crate::vm::error::{Error, ErrorKind, Location};
use crate::vm::fiber::{Fiber, FrameKind, Halt, Resume, cancellable};
use crate::vm::objects::{Captures, Closure};
use crate::vm::value::Value;

/// `use std/NAME`, `use ./file.ash`, `source FILE`.
pub fn use_module(fiber: &mut Fiber, path: Value, source: bool) -> Result<Halt, Error> {
    let path = path.to_bytes()?;
    let path_text = String::from_utf8_lossy(&path).into_owned();
    let rt = fiber.rt.clone();
    if let Some(name) = path_text.strip_prefix("std/") {
        let Some(text) = crate::stdlib::module(name) else {
            return Err(Error::value(format!("no standard module '{path_text}'")));
        };
        if !source && !rt.modules.borrow_mut().insert(path_text.clone()) {
            return Ok(Halt::Await(Box::pin(async { Ok(Resume::Nothing) })));
        }
        let used = Used::new(&rt, (!source).then(|| path_text.clone()));
        let func = load_module(&rt, &path_text, text)?;
        return Ok(Halt::Await(Box::pin(async move {
            Ok(Resume::Call {
                func,
                args: Vec::new(),
                kind: FrameKind::Module { used: used.ran() },
                io: None,
            })
        })));
    }
    // `use` is relative to the using file's directory, `source` to the cwd
    // (the directory itself, see `process::WorkDir`).
    let rel = std::path::Path::new(std::ffi::OsStr::from_bytes(&path));
    let script_dir = fiber.rt.script_dir.borrow().clone();
    let (full, read_at) = match script_dir {
        Some(dir) if !source => (dir.join(rel), dir.join(rel)),
        _ => {
            let cwd = fiber.ctx.cwd();
            (cwd.shown(rel), cwd.resolve(rel))
        }
    };
    let key = full.to_string_lossy().into_owned();
    if !source && !rt.modules.borrow_mut().insert(key.clone()) {
        return Ok(Halt::Await(Box::pin(async { Ok(Resume::Nothing) })));
    }
    let used = Used::new(&rt, (!source).then_some(key));
    // Opened and read off the loop, and given up when the task is
    // cancelled: `source fifo` waits for a writer, then for its data.
    let token = fiber.ctx.token();
    Ok(Halt::Await(cancellable(token.clone(), async move {
        let stop = async {
            token.requested().await;
        };
        let opened = process::open_file_unless(read_at, process::OpenMode::Read, stop).await;
        let Some(opened) = opened else {
            return Err(Rc::new(Error::cancelled()));
        };
        let read = async { process::read_to_end(opened?).await };
        let text = read.await.map_err(|e| {
            Rc::new(Error::io(format!(
                "cannot read {}: {}",
                full.display(),
                crate::builtins::commands::io_message(&e)
            )))
        })?;
        let text = String::from_utf8(text).map_err(|_| {
            Rc::new(Error::value(format!(
                "{} is not valid UTF-8",
                full.display()
            )))
        })?;
        let func = load_module(&rt, &path_text, &text).map_err(Rc::new)?;
        Ok(Resume::Call {
            func,
            args: Vec::new(),
            kind: FrameKind::Module { used: used.ran() },
            io: None,
        })
    })))
}

/// A module `use` marked loaded before it could read and run it: the mark
/// is taken back if the `use` fails or is cancelled before the module's
/// body starts (dropped unused), and by its frame if the body fails.
/// Else a later `use` would do nothing, the module never run.
struct Used {
    rt: Rc<Runtime>,
    key: Option<String>,
}

impl Used {
    fn new(rt: &Rc<Runtime>, key: Option<String>) -> Used {
        Used {
            rt: rt.clone(),
            key,
        }
    }

    /// The body starts: its frame holds the mark from now on.
    fn ran(mut self) -> Option<Rc<String>> {
        self.key.take().map(Rc::new)
    }
}

impl Drop for Used {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            forget_module(&self.rt, &key);
        }
    }
}

/// Forget that module `key` was loaded (its `use` failed or was cancelled).
pub fn forget_module(rt: &Runtime, key: &str) {
    rt.modules.borrow_mut().remove(key);
}

/// A text that does not parse or compile: where and what.
#[derive(Debug)]
pub struct LoadError {
    pub source: u32,
    pub span: Span,
    pub message: String,
}

impl LoadError {
    /// The report `ash FILE` prints: `ash: FILE:LINE:COL: syntax error: ...`
    /// with the line and a caret.
    pub fn report(&self) -> String {
        crate::diag::render(self.source, self.span, "syntax error: ", &self.message)
    }

    /// As the `SyntaxError` a module or sourced file raises where it is
    /// loaded.
    pub fn into_error(self) -> Error {
        let err = Error::new(ErrorKind::Syntax, self.message);
        *err.location.borrow_mut() = Some(Location {
            source: self.source,
            span: self.span,
        });
        err
    }
}

impl Runtime {
    /// Parse and compile a text (a script, module, interactive line or the
    /// prelude) into a closure to run, its globals interned in this
    /// runtime. The text is registered as a source for error locations.
    pub fn load(&self, name: &str, text: &str, top: TopLevel) -> Result<Rc<Closure>, LoadError> {
        let source = crate::diag::add_source(name, text);
        let error = |span, message| LoadError {
            source,
            span,
            message,
        };
        let block = crate::syntax::parse(text).map_err(|e| error(e.span, e.message))?;
        let proto = crate::compile::compile_script(
            &block,
            name,
            source,
            &mut self.globals.borrow_mut(),
            top,
        )
        .map_err(|e| error(e.span, e.message))?;
        Ok(Rc::new(Closure {
            proto,
            captures: Captures::none(),
        }))
    }
}

/// A module's (or interactive line's) text as a closure to run: its
/// top-level `let`s and `fn`s are globals; an error is a `SyntaxError`.
pub fn load_module(rt: &Runtime, name: &str, text: &str) -> Result<Rc<Closure>, Error> {
    rt.load(name, text, TopLevel::Globals)
        .map_err(LoadError::into_error)
}
