//! Modules and sourced files: `use std/NAME`, `use ./file.ash`,
//! `source FILE`, and the prelude.

use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use crate::process;
use crate::runtime::Runtime;
use crate::vm::error::{Error, ErrorKind};
use crate::vm::fiber::{Fiber, FrameKind, Halt, Resume};
use crate::vm::objects::Closure;
use crate::vm::value::Value;

/// `use std/NAME`, `use ./file.ash`, `source FILE`.
pub fn use_module(fiber: &mut Fiber, path: Value, source: bool) -> Result<Halt, Error> {
    let path = path.to_bytes();
    let path_text = String::from_utf8_lossy(&path).into_owned();
    let rt = fiber.rt.clone();
    if let Some(name) = path_text.strip_prefix("std/") {
        let Some(text) = crate::stdlib::module(name) else {
            return Err(Error::value(format!("no standard module '{path_text}'")));
        };
        if !source && !rt.modules.borrow_mut().insert(path_text.clone()) {
            return Ok(Halt::Await(Box::pin(async { Ok(Resume::Nothing) })));
        }
        let func = load_module(&rt, &path_text, text)?;
        return Ok(Halt::Await(Box::pin(async move {
            Ok(Resume::Call {
                func,
                args: Vec::new(),
                kind: FrameKind::Module,
                io: None,
            })
        })));
    }
    // `use` is relative to the using file's directory, `source` to the cwd.
    let base = if source {
        fiber.ctx.cwd().as_ref().clone()
    } else {
        fiber
            .rt
            .script_dir
            .borrow()
            .clone()
            .unwrap_or_else(|| fiber.ctx.cwd().as_ref().clone())
    };
    let full = base.join(std::ffi::OsStr::from_bytes(&path));
    let key = full.to_string_lossy().into_owned();
    if !source && !rt.modules.borrow_mut().insert(key.clone()) {
        return Ok(Halt::Await(Box::pin(async { Ok(Resume::Nothing) })));
    }
    Ok(Halt::Await(Box::pin(async move {
        let p = full.clone();
        let read = process::unblock(move || std::fs::read(p));
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
            kind: FrameKind::Module,
            io: None,
        })
    })))
}

/// Parse and compile a module's text into a closure to run.
pub fn load_module(rt: &Runtime, name: &str, text: &str) -> Result<Rc<Closure>, Error> {
    let source = crate::diag::add_source(name, text);
    let block = crate::syntax::parse(text).map_err(|e| {
        let err = Error::new(ErrorKind::Syntax, e.message);
        *err.location.borrow_mut() = Some(crate::vm::error::Location {
            source,
            span: e.span,
        });
        err
    })?;
    let proto = crate::compile::compile_script(
        &block,
        name,
        source,
        &mut rt.names.borrow_mut(),
        crate::compile::TopLevel::Globals,
    )
    .map_err(|e| {
        let err = Error::new(ErrorKind::Syntax, e.message);
        *err.location.borrow_mut() = Some(crate::vm::error::Location {
            source,
            span: e.span,
        });
        err
    })?;
    rt.sync_globals();
    Ok(Rc::new(Closure {
        proto,
        captures: crate::vm::objects::Captures::none(),
    }))
}
