//! Commands that run in the calling fiber: a call of an ash function (a
//! new frame, after its redirections are opened) and a builtin without
//! redirections (run now; the fiber waits only if its output cannot be
//! written yet).

use std::rc::Rc;

use crate::builtins::commands::{BuiltinCmd, BuiltinCtx};
use crate::process::OutSink;
use crate::runtime::Io;
use crate::vm::chunk::CmdSpec;
use crate::vm::error::Error;
use crate::vm::fiber::{Fiber, FrameKind, Halt, Restore, Resume};
use crate::vm::objects::{Closure, Coroutine};

use super::Stage;
use super::redirect::apply_redirects;

pub(super) fn call_function(
    fiber: &mut Fiber,
    f: Rc<Closure>,
    stage: Stage,
    spec: &CmdSpec,
) -> Result<Option<Halt>, Error> {
    // A checked call keeps its words for the error a failing status raises.
    let (mut args, argv) = if spec.check {
        (stage.args.clone(), stage.args)
    } else {
        (stage.args, Vec::new())
    };
    if !args.is_empty() {
        args.remove(0);
    }
    if f.proto.is_async && !spec.run_coroutine {
        // `f x` on an async fn makes a coroutine; as a statement it is
        // dropped (and warned about), as in Python.
        drop(Coroutine::new(f, args));
        fiber.ctx.status.set(0);
        return Ok(None);
    }
    let env_restore = if stage.env.is_empty() {
        None
    } else {
        let old = fiber.ctx.env();
        let mut env = old.clone();
        for (k, v) in &stage.env {
            env.set(k.as_bytes(), v);
        }
        fiber.ctx.set_env(env);
        Some(old)
    };
    let restore = (env_restore.is_some() || !argv.is_empty()).then(|| {
        Box::new(Restore {
            env: env_restore,
            argv,
            argv_env: if spec.check { stage.env } else { Vec::new() },
            ..Restore::default()
        })
    });
    let kind = FrameKind::Command {
        check: spec.check,
        restore,
    };
    if stage.redirects.is_empty() {
        fiber.enter(f, args, kind)?;
        return Ok(None);
    }
    // Open the redirection targets off the loop, then call.
    let io = fiber.ctx.io();
    let cwd = fiber.ctx.cwd();
    let token = fiber.ctx.token();
    let redirects = stage.redirects;
    Ok(Some(Halt::Await(Box::pin(async move {
        let io = apply_redirects(io, &redirects, &cwd, &token)
            .await
            .map_err(Rc::new)?;
        Ok(Resume::Call {
            func: f,
            args,
            kind,
            io: Some(io),
        })
    }))))
}

/// A builtin without redirections: runs now; waits only to write output.
pub(super) fn run_builtin_here(
    fiber: &mut Fiber,
    b: &'static BuiltinCmd,
    stage: &Stage,
    check: bool,
) -> Result<Option<Halt>, Error> {
    let io = fiber.ctx.io();
    let out = (b.run)(&BuiltinCtx::new(&fiber.rt, &fiber.ctx), &stage.args)?;
    if let Some(code) = out.exit {
        fiber.rt.exit_code.set(Some(code));
        return Ok(Some(Halt::Exit(code)));
    }
    let status = out.status;
    fiber.ctx.status.set(status);
    // Fast path: everything written without waiting.
    let written_out = write_now(&io.stdout, &out.stdout)?;
    let written_err = write_now(&io.stderr, &out.stderr)?;
    let error = (check && status != 0).then(|| stage.failed(status));
    if written_out == out.stdout.len() && written_err == out.stderr.len() {
        return match error {
            Some(e) => Err(e),
            None => Ok(None),
        };
    }
    Ok(Some(Halt::Await(Box::pin(async move {
        write_output(&io, &out.stdout[written_out..], &out.stderr[written_err..])
            .await
            .map_err(|e| Rc::new(write_error(&e)))?;
        Ok(Resume::Status { status, error })
    }))))
}

/// Write what can be written without waiting; how much that was.
fn write_now(sink: &OutSink, bytes: &[u8]) -> Result<usize, Error> {
    if bytes.is_empty() {
        return Ok(0);
    }
    sink.try_write_all(bytes).map_err(|e| write_error(&e))
}

/// The error for a failed write of a builtin's output.
pub fn write_error(e: &std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Error::broken_pipe()
    } else {
        Error::io(format!(
            "write error: {}",
            crate::builtins::commands::io_message(e)
        ))
    }
}

pub(super) async fn write_output(io: &Io, stdout: &[u8], stderr: &[u8]) -> std::io::Result<()> {
    if !stdout.is_empty() {
        io.stdout.write_all(stdout).await?;
    }
    if !stderr.is_empty() {
        io.stderr.write_all(stderr).await?;
    }
    Ok(())
}
