//! One remote body, run by the agent in its own process: the unit it
//! was sent, compiled (each piece of code registered as a source named
//! after its original file and padded to its original place, so errors
//! point where they would have here), and the `DONE` payload of how it
//! ended: its value, or its error with the locations and the lines they
//! point at.

use std::rc::Rc;

use super::code::{self, Code};
use super::wire::{self, Binding, Locator, Reader, WireLocation, Writer};
use crate::runtime::Runtime;
use crate::runtime::task::Outcome;
use crate::vm::error::{Error, ErrorKind, Location};
use crate::vm::objects::Closure;
use crate::vm::value::Value;

thread_local! {
    /// The pieces of code registered as sources, by file name and text.
    static SOURCES: std::cell::RefCell<std::collections::HashMap<(String, String), u32>> =
        std::cell::RefCell::default();
}

/// The `DONE` payload (after the job id) for how a body ended.
pub fn outcome_payload(outcome: &Outcome) -> Vec<u8> {
    let mut w = Writer::default();
    let locate = |l: &Location| wire_location(l);
    let locator = Locator::Sources(&locate);
    match outcome {
        Outcome::Value(v) => {
            let mut value = Writer::default();
            match wire::put_value_outcome(&mut value, v) {
                Ok(()) => w = value,
                Err(why) => {
                    let e = Error::type_err(format!(
                        "the value the remote body returned cannot travel back: it is {}",
                        why.describe()
                    ));
                    wire::put_error_outcome(&mut w, &e, &locator);
                }
            }
        }
        Outcome::Exit(0) => {
            let _ = wire::put_value_outcome(&mut w, &Value::Null);
        }
        Outcome::Exit(code) => {
            let e = Error::command(
                format!("exit {code}"),
                *code,
                format!("the remote body called `exit {code}`"),
            );
            wire::put_error_outcome(&mut w, &e, &locator);
        }
        Outcome::Error(e) => {
            // The last call in the trace is the unit calling the body:
            // not the user's.
            e.trace.borrow_mut().pop();
            wire::put_error_outcome(&mut w, e, &locator);
        }
    }
    w.0
}

/// A location as it travels: file, line, column, and the line's text.
fn wire_location(l: &Location) -> Option<WireLocation> {
    let (line, col) = crate::diag::line_col(l);
    let (line_text, width) = crate::diag::line_and_width(l)?;
    Some(WireLocation {
        file: crate::diag::source_name(l.source),
        line: line as u32,
        col: col as u32,
        width: width as u32,
        line_text,
    })
}

/// A piece registered as a source (named after its file, padded to its
/// place) and parsed.
fn load(piece: &wire::Piece) -> Result<(Code, u32), Error> {
    let padded = piece.padded();
    let pad = padded.len() - piece.text.len();
    // The same code comes with every body of a `gather`: one source for
    // all of them, so a long-running agent does not keep a copy per body.
    let source = SOURCES.with_borrow_mut(|known| {
        *known
            .entry((piece.file.clone(), padded.clone()))
            .or_insert_with(|| crate::diag::add_source(&piece.file, &padded))
    });
    match code::parse(piece.kind, &padded, pad) {
        Ok(code) => Ok((code, source)),
        Err(e) => {
            let err = Error::new(
                ErrorKind::Syntax,
                format!("the code sent to this host does not parse: {}", e.message),
            );
            *err.location.borrow_mut() = Some(Location {
                source,
                span: e.span,
            });
            Err(err)
        }
    }
}

/// Decode and compile the unit: the function to run and its arguments.
pub fn prepare(rt: &Runtime, payload: &[u8]) -> Result<(Rc<Closure>, Vec<Value>), Error> {
    let unit = wire::get_unit(&mut Reader::new(payload))
        .map_err(|e| Error::value(format!("the job sent to this host: {e}")))?;
    let mut names = Vec::with_capacity(unit.bindings.len());
    let mut values = Vec::with_capacity(unit.bindings.len() + unit.args.len());
    let mut fns = Vec::new();
    for (i, (name, binding)) in unit.bindings.into_iter().enumerate() {
        names.push(name);
        match binding {
            Binding::Value(v) => values.push(v),
            Binding::Builtin(b) => values.push(builtin(&b)),
            Binding::Code(piece) => {
                values.push(Value::Null);
                match load(&piece)? {
                    (Code::Fn(def), source) => fns.push((i, def, source)),
                    (Code::Body(_), _) => {
                        return Err(Error::value("a function sent to this host is not one"));
                    }
                }
            }
        }
    }
    let (entry, source) = load(&unit.entry)?;
    let unit_fns: Vec<crate::compile::UnitFn> = fns
        .iter()
        .map(|(param, def, source)| crate::compile::UnitFn {
            param: *param,
            def,
            source: *source,
        })
        .collect();
    let (entry_ref, span) = match &entry {
        Code::Body(b) => (crate::compile::UnitEntry::Body(b), body_span(b)),
        Code::Fn(def) => (crate::compile::UnitEntry::Fn(def), def.span),
    };
    let proto = crate::compile::compile_unit(
        &mut rt.globals.borrow_mut(),
        &names,
        &unit_fns,
        entry_ref,
        unit.args.len(),
        source,
        span,
    )
    .map_err(|e| {
        let err = Error::new(ErrorKind::Syntax, e.message);
        *err.location.borrow_mut() = Some(Location {
            source,
            span: e.span,
        });
        err
    })?;
    values.extend(unit.args);
    Ok((
        Rc::new(Closure {
            proto,
            captures: crate::vm::objects::Captures::none(),
        }),
        values,
    ))
}

fn body_span(b: &crate::ast::Body) -> crate::ast::Span {
    match b {
        crate::ast::Body::Block(block) => block.span,
        crate::ast::Body::Expr(e) => e.span,
        crate::ast::Body::Command(a) => a.span,
    }
}

fn builtin(name: &str) -> Value {
    if let Some(f) = crate::builtins::functions::lookup(name) {
        return Value::Native(f);
    }
    if let Some(f) = crate::runtime::sync::lookup(name) {
        return Value::Suspend(f);
    }
    Value::Null
}
