//! `ash --remote-job`: one remote body, in an ash of its own, started by
//! the agent with a control socket on fd 0.
//!
//! The agent sends the unit (one `RUN` frame); this ash puts `/dev/null`
//! on its stdin, registers each piece of code as a source named after its
//! original file and padded to its original place, compiles the unit and
//! runs it like a script (signals, `ASH_DEADLINE`, the end-of-run
//! cleanup), then answers with one `DONE` frame: the body's value, or its
//! error with the locations and the lines they point at. When the control
//! socket closes before that (the agent is gone), it stops as if it got
//! SIGTERM.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use futures_lite::AsyncReadExt;

use super::code::{self, Code};
use super::wire::{self, Binding, Locator, Reader, WireLocation, Writer};
use crate::runtime::Runtime;
use crate::runtime::task::Outcome;
use crate::vm::error::{Error, ErrorKind, Location};
use crate::vm::objects::Closure;
use crate::vm::value::Value;

pub struct Job {
    control: UnixStream,
    main: Option<(Rc<Closure>, Vec<Value>)>,
}

/// Read exactly one frame from a blocking stream.
fn read_frame(s: &mut UnixStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > wire::MAX_FRAME {
        return Err(std::io::Error::other("a frame of impossible length"));
    }
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf)?;
    let kind = buf[0];
    buf.remove(0);
    Ok((kind, buf))
}

impl Job {
    /// Take the control socket, read and compile the unit. On failure the
    /// answer (if the agent can be told) is sent, and the exit status
    /// returned.
    pub fn start(rt: &Runtime) -> Result<Job, i32> {
        // The agent kills what this ash leaves behind (see
        // `contain::supervised_by_parent`).
        crate::process::contain::supervised_by_parent();
        let control = rustix::io::fcntl_dupfd_cloexec(rustix::stdio::stdin(), 3)
            .map(UnixStream::from)
            .map_err(|e| {
                crate::diag::reportln!("ash --remote-job: no control socket on fd 0: {e}");
                2
            })?;
        // The body's commands read /dev/null, as a spawned task's do.
        if let Ok(null) = std::fs::File::open("/dev/null") {
            let _ = rustix::stdio::dup2_stdin(OwnedFd::from(null).as_fd());
        }
        let mut job = Job {
            control,
            main: None,
        };
        let unit = match read_frame(&mut job.control) {
            Ok((wire::RUN, payload)) => payload,
            Ok(_) => {
                crate::diag::reportln!("ash --remote-job: expected a job");
                return Err(2);
            }
            Err(e) => {
                crate::diag::reportln!("ash --remote-job: reading the job: {e}");
                return Err(2);
            }
        };
        match prepare(rt, &unit) {
            Ok(main) => {
                job.main = Some(main);
                Ok(job)
            }
            Err(e) => {
                job.answer(&Outcome::Error(Rc::new(e)));
                Err(0)
            }
        }
    }

    /// The unit's function and arguments, and the future that ends when
    /// the control socket closes.
    pub fn take_main(&mut self) -> (Rc<Closure>, Vec<Value>, crate::cli::Stop) {
        let (main, args) = self.main.take().unwrap_or_else(|| {
            (
                Rc::new(Closure {
                    proto: Rc::new(empty_proto()),
                    captures: crate::vm::objects::Captures::none(),
                }),
                Vec::new(),
            )
        });
        let watch = self.control.try_clone();
        let stop: crate::cli::Stop = Box::pin(async move {
            let Ok(stream) = watch else { return };
            let Ok(mut stream) = async_io::Async::new(stream) else {
                return;
            };
            let mut buf = [0u8; 64];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
        (main, args, stop)
    }

    /// Answer with how the run ended; the exit status.
    pub fn finish(mut self, rt: &Runtime, ran: Result<Outcome, i32>) -> i32 {
        let outcome = match ran {
            Ok(o) => o,
            Err(code) if rt.exit_code.get() == Some(code) => Outcome::Exit(code),
            // A signal (the agent's SIGTERM, or the control socket gone).
            Err(_) => Outcome::Error(Rc::new(Error::cancelled())),
        };
        self.answer(&outcome);
        0
    }

    fn answer(&mut self, outcome: &Outcome) {
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
        let _ = self.control.write_all(&wire::frame(wire::DONE, &w.0));
        let _ = self.control.flush();
    }
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

fn empty_proto() -> crate::vm::chunk::Proto {
    use crate::vm::chunk::{Op, Proto};
    let code = vec![Op::Null, Op::Return];
    Proto {
        name: "<remote>".into(),
        spans: vec![Default::default(); 2],
        stack_needed: crate::vm::chunk::stack_needed(&code, &[], 0),
        code,
        consts: Vec::new(),
        cmds: Vec::new(),
        protos: Vec::new(),
        captures: Vec::new(),
        capture_names: Box::default(),
        n_params: 0,
        has_rest: false,
        n_locals: 0,
        n_cells: 0,
        param_cells: Vec::new(),
        is_async: false,
        main_spec: None,
        source: 0,
        span: Default::default(),
        sites: Default::default(),
    }
}

/// A piece registered as a source (named after its file, padded to its
/// place) and parsed.
fn load(piece: &wire::Piece) -> Result<(Code, u32), Error> {
    let padded = piece.padded();
    let pad = padded.len() - piece.text.len();
    let source = crate::diag::add_source(&piece.file, &padded);
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
fn prepare(rt: &Runtime, payload: &[u8]) -> Result<(Rc<Closure>, Vec<Value>), Error> {
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
