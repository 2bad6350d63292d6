//! `$( )`: the body runs in a frame whose stdout is a pipe, read to its end
//! by a concurrent task; the text becomes the value.

use std::rc::Rc;

use crate::process::{self, OutSink};
use crate::runtime::admission::Reserve;
use crate::runtime::{Io, Runtime, TaskCtx};
use crate::vm::error::Error;
use crate::vm::fiber::{CaptureFrame, Fiber, FrameKind, Halt, Restore, Resume, cancellable};
use crate::vm::objects::Closure;
use crate::vm::value::Str;

/// `$( )`: run `f` in a frame whose stdout is a pipe read concurrently.
///
/// The pipe takes a capture slot (see `admission`): without waiting when
/// one is free (or the reserve of the capture or pipeline this one runs
/// inside is), else the fiber halts until one is, so thousands of
/// concurrent captures never run out of file descriptors, and nested ones
/// never wait for the slots their enclosing ones hold.
pub fn begin_capture(fiber: &mut Fiber, f: Rc<Closure>) -> Result<Option<Halt>, Error> {
    let reserve = fiber.ctx.with_io(|io| io.reserve.clone());
    if let Some(permit) = fiber.rt.capture_slots.try_acquire(1, reserve.as_ref()) {
        let (kind, io) = capture_frame(&fiber.rt, &fiber.ctx, permit)?;
        fiber.ctx.set_io(io);
        fiber.enter(f, Vec::new(), kind)?;
        return Ok(None);
    }
    let (rt, ctx) = (fiber.rt.clone(), fiber.ctx.clone());
    Ok(Some(Halt::Await(cancellable(
        fiber.ctx.token(),
        async move {
            let permit = rt.capture_slots.acquire(1, reserve).await;
            let (kind, io) = capture_frame(&rt, &ctx, permit).map_err(Rc::new)?;
            Ok(Resume::Call {
                func: f,
                args: Vec::new(),
                kind,
                io: Some(io),
            })
        },
    ))))
}

/// The frame of a capture and the I/O its body runs with; the slot is
/// held until the output has been read to its end, and the body runs with
/// a reserve of its own.
fn capture_frame(
    rt: &Runtime,
    ctx: &TaskCtx,
    permit: crate::runtime::admission::Permit,
) -> Result<(FrameKind, Io), Error> {
    let (r, w) = process::pipe().map_err(|e| Error::io(format!("pipe: {e}")))?;
    let reader = rt.executor.spawn(async move {
        // The buffer becomes the string: no copy.
        let bytes = process::read_capture(r).await.map(Str::from);
        drop(permit);
        bytes
    });
    let old_io = ctx.io();
    let mut io = old_io.clone();
    io.stdout = Rc::new(OutSink::from_fd(w));
    io.reserve = Some(Reserve::new());
    // Like a subshell, a capture does not leak `cd` or `export`.
    let restore = Restore {
        io: Some(old_io),
        env: Some(ctx.env()),
        cwd: Some(ctx.cwd()),
        ..Restore::default()
    };
    Ok((
        FrameKind::Capture(Box::new(CaptureFrame { reader, restore })),
        io,
    ))
}
