//! Why a fiber stops running, and what it is given back when it resumes.
//!
//! [`Fiber::run`](super::fiber::Fiber::run) returns a [`Halt`]; when the
//! halt was a wait, the runtime's driver awaits the [`Pending`] future and
//! hands its [`Resume`] to [`Fiber::resume`](super::fiber::Fiber::resume).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use super::error::Error;
use super::frame::FrameKind;
use super::objects::Closure;
use super::value::Value;
use crate::runtime::shell::{Io, TokenRef};

pub type Pending = Pin<Box<dyn Future<Output = Result<Resume, Rc<Error>>>>>;

/// Why `run` returned.
pub enum Halt {
    Done(Value),
    Failed(Rc<Error>),
    Exit(i32),
    Yield,
    Await(Pending),
    /// `sleep` until then (unless cancelled): the commonest wait, driven
    /// without a boxed future.
    Sleep(std::time::Instant),
}

/// What a finished wait hands back to the fiber.
pub enum Resume {
    Push(Value),
    Nothing,
    /// A command finished: set `$status`; raise `error`, the
    /// `CommandError` of a checked command that failed (made where its
    /// words are known).
    Status {
        status: i32,
        error: Option<Error>,
    },
    /// Call a function here (a command-form call whose redirections had to
    /// be opened first, or a module to run).
    Call {
        func: Rc<Closure>,
        args: Vec<Value>,
        kind: FrameKind,
        io: Option<Io>,
    },
    Exit(i32),
}

/// Race a wait against the task's cancellation: on a request, the wait is
/// dropped and `CancelledError` raised (for waits with nothing to clean up).
pub fn cancellable(
    token: TokenRef,
    fut: impl Future<Output = Result<Resume, Rc<Error>>> + 'static,
) -> Pending {
    Box::pin(futures_lite::future::or(fut, async move {
        token.requested().await;
        Err(Rc::new(Error::cancelled()))
    }))
}
