//! Pipelines (and single external commands, and builtins with
//! redirections): one future that admits, connects, starts and waits for
//! every stage.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::rc::Rc;

use futures_lite::future;

use crate::builtins::commands::{BuiltinCmd, Output};
use crate::process::{self, ExternalCmd, Group, InSource, OutSink, SpawnError, Stdio};
use crate::runtime::task::{Outcome, drive};
use crate::runtime::{Io, Runtime, TaskCtx};
use crate::vm::error::Error;
use crate::vm::fiber::{Fiber, Pending, Resume};
use crate::vm::value::Value;

use super::here::{write_error, write_output};
use super::redirect::apply_redirects;
use super::{Stage, Target, not_found_message};

fn arg_bytes(args: &[Value]) -> Vec<Vec<u8>> {
    args.iter().map(Value::to_bytes).collect()
}

fn stdio_of_in(src: &InSource) -> Result<Stdio, Error> {
    src.stdio().map_err(|e| Error::io(format!("stdin: {e}")))
}

/// Run a pipeline (or a single external command) to completion.
pub(super) fn run_pipeline(
    rt: Rc<Runtime>,
    ctx: Rc<TaskCtx>,
    stages: Vec<(Stage, Target)>,
    negated: bool,
    check: bool,
    text: Rc<str>,
) -> Pending {
    Box::pin(async move {
        let n = stages.len();
        // Admission: one slot per external stage, all at once, waiting
        // (cancellably) while too many processes run.
        let externals = stages
            .iter()
            .filter(|(_, t)| matches!(t, Target::External(_)))
            .count();
        let _permit = if externals > 0 {
            let token = ctx.cancel.clone();
            let permit = future::or(async { Some(rt.slots.acquire(externals).await) }, async {
                token.requested().await;
                None
            })
            .await;
            match permit {
                Some(p) => Some(p),
                None => return Err(Rc::new(Error::cancelled())),
            }
        } else {
            None
        };
        let base_io = ctx.io();
        let cwd = ctx.cwd();
        let env = ctx.env();
        // Pipes between stages: stage i writes pipes[i].1, stage i+1 reads pipes[i].0.
        let mut ios = Vec::with_capacity(n);
        let mut next_stdin: Option<OwnedFd> = None;
        for (i, (stage, target)) in stages.iter().enumerate() {
            let mut io = base_io.clone();
            if let Some(r) = next_stdin.take() {
                io.stdin = Rc::new(if matches!(target, Target::External(_)) {
                    InSource::shared(r)
                } else {
                    InSource::exclusive(r)
                });
            }
            if i + 1 < n {
                let (r, w) =
                    process::pipe().map_err(|e| Rc::new(Error::io(format!("pipe: {e}"))))?;
                io.stdout = Rc::new(OutSink::from_fd(w));
                next_stdin = Some(r);
            }
            let io = apply_redirects(io, &stage.redirects, &cwd)
                .await
                .map_err(Rc::new)?;
            ios.push(io);
        }
        let mut group = Group::in_scope(ctx.cancel.id());
        if let Some(vars) = crate::runtime::deadline::env_for(&ctx.cancel) {
            for (k, v) in vars {
                group.set_env(k, v);
            }
        }
        let mut statuses: Vec<Option<i32>> = vec![None; n];
        let mut ash_stages = Vec::new();
        let mut child_tokens = Vec::new();
        let mut spawned = Vec::new();
        for (i, ((stage, target), io)) in stages.into_iter().zip(ios).enumerate() {
            match target {
                Target::External(program) => {
                    let mut envv = env.clone();
                    for (k, v) in &stage.env {
                        envv.set(k.as_bytes(), v);
                    }
                    let argv = arg_bytes(&stage.args);
                    // The OS cannot pass a NUL byte: say so instead of
                    // truncating the argument.
                    if let Some(i) = argv.iter().position(|a| a.contains(&0)) {
                        return Err(Rc::new(Error::value(format!(
                            "argument {i} of `{}` contains a NUL byte, which cannot be passed to a program",
                            stage.args.first().map(Value::to_text).unwrap_or_default()
                        ))));
                    }
                    if let Some((k, _)) = stage.env.iter().find(|(_, v)| v.contains(&0)) {
                        return Err(Rc::new(Error::value(format!(
                            "environment variable {k} contains a NUL byte"
                        ))));
                    }
                    let argv: Vec<OsString> = argv.into_iter().map(OsString::from_vec).collect();
                    let cmd = ExternalCmd {
                        argv,
                        program,
                        env: envv.for_child(),
                        cwd: Some(cwd.as_ref().clone()),
                        stdin: stdio_of_in(&io.stdin).map_err(Rc::new)?,
                        stdout: io
                            .stdout
                            .stdio_for(1)
                            .map_err(|e| Rc::new(Error::io(e.to_string())))?,
                        stderr: io
                            .stderr
                            .stdio_for(2)
                            .map_err(|e| Rc::new(Error::io(e.to_string())))?,
                    };
                    drop(io);
                    match group.spawn(cmd).await {
                        Ok(()) => spawned.push(i),
                        Err(SpawnError::NotFound(_)) => {
                            statuses[i] = Some(127);
                            let _ = base_io
                                .stderr
                                .write_all(
                                    format!("ash: {}\n", not_found_message(&stage.args)).as_bytes(),
                                )
                                .await;
                        }
                        // A lone checked command raises the spawn error itself
                        // (it names the limit or the reason); otherwise it
                        // is reported like a shell does and the stage fails.
                        Err(e) if check && n == 1 => {
                            return Err(Rc::new(Error::command(
                                text.to_string(),
                                e.status(),
                                e.message(),
                            )));
                        }
                        Err(e) => {
                            statuses[i] = Some(e.status());
                            let _ = base_io
                                .stderr
                                .write_all(format!("ash: {}\n", e.message()).as_bytes())
                                .await;
                        }
                    }
                }
                Target::NotFound => {
                    statuses[i] = Some(127);
                    let _ = io
                        .stderr
                        .write_all(format!("ash: {}\n", not_found_message(&stage.args)).as_bytes())
                        .await;
                }
                Target::Builtin(b) => {
                    let child = Rc::new(stage_ctx(&ctx, io));
                    ash_stages.push((i, builtin_stage(rt.clone(), child, b, stage.args)));
                }
                Target::Func(f) => {
                    let child = Rc::new(stage_ctx(&ctx, io));
                    child_tokens.push(child.cancel.clone());
                    let mut args = stage.args;
                    if !args.is_empty() {
                        args.remove(0);
                    }
                    let fiber = Fiber::call(rt.clone(), child, f, args);
                    ash_stages.push((
                        i,
                        Box::pin(async move {
                            match drive(fiber).await {
                                Outcome::Value(v) => Ok(status_of_value(&v)),
                                // Like a process killed by SIGPIPE.
                                Outcome::Error(e) if e.broken_pipe => Ok(141),
                                Outcome::Error(e) => Err(e),
                                Outcome::Exit(c) => Ok(c),
                            }
                        }),
                    ));
                }
            }
        }
        if let Some(pgid) = group.pgid() {
            rt.groups.borrow_mut().insert(pgid);
            rt.group_event(pgid, ctx.id, true);
        }
        let token = ctx.cancel.clone();
        let ash_futs = future::poll_fn({
            let mut pending: Vec<_> = ash_stages.into_iter().map(|(i, f)| (i, Some(f))).collect();
            let mut results: Vec<(usize, Result<i32, Rc<Error>>)> = Vec::new();
            move |cx| {
                for (i, slot) in pending.iter_mut() {
                    if let Some(f) = slot
                        && let std::task::Poll::Ready(r) = f.as_mut().poll(cx)
                    {
                        results.push((*i, r));
                        *slot = None;
                    }
                }
                if pending.iter().all(|(_, s)| s.is_none()) {
                    std::task::Poll::Ready(std::mem::take(&mut results))
                } else {
                    std::task::Poll::Pending
                }
            }
        });
        let propagate = {
            let token = token.clone();
            async move {
                let grace = token.requested().await;
                for t in &child_tokens {
                    t.cancel(crate::runtime::CancelReason::Cancel, grace);
                }
                future::pending::<()>().await;
            }
        };
        let both = future::zip(group.wait(token.requested()), ash_futs);
        let (ext, ash) = future::or(both, async {
            propagate.await;
            unreachable_pair()
        })
        .await;
        if let Some(pgid) = group.pgid() {
            rt.groups.borrow_mut().remove(&pgid);
            rt.group_event(pgid, ctx.id, false);
        }
        let cancelled = ext.is_err();
        if ext.is_ok() && group.pgid().is_some() {
            ctx.cancel.group_finished(group.number());
        }
        if let Ok(infos) = ext {
            // Exit infos come in spawn order. A stage killed by SIGPIPE
            // because a later stage stopped reading is not a failure.
            for (&i, info) in spawned.iter().zip(infos) {
                statuses[i] = Some(if info.signal == Some(13) {
                    0
                } else {
                    info.code
                });
            }
        }
        let mut first_error = None;
        for (i, r) in ash {
            match r {
                Ok(status) => statuses[i] = Some(if status == 141 { 0 } else { status }),
                Err(e) => {
                    statuses[i] = Some(1);
                    if first_error.is_none() {
                        first_error = Some(e);
                    }
                }
            }
        }
        if cancelled || token.is_requested() {
            return Err(Rc::new(Error::cancelled()));
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        // pipefail: the rightmost failing stage decides.
        let status = statuses
            .iter()
            .rev()
            .flatten()
            .copied()
            .find(|&s| s != 0)
            .unwrap_or(0);
        if negated {
            return Ok(Resume::Status {
                status: i32::from(status == 0),
                check: false,
                text,
            });
        }
        if check && status == 127 && n == 1 {
            return Err(Rc::new(Error::command(
                text.to_string(),
                127,
                format!("command not found: {text}"),
            )));
        }
        Ok(Resume::Status {
            status,
            check,
            text,
        })
    })
}

type StageResults = Vec<(usize, Result<i32, Rc<Error>>)>;

/// The type of the joined waits (never produced: the propagation future
/// never completes).
fn unreachable_pair() -> (
    Result<Vec<process::ExitInfo>, process::Cancelled>,
    StageResults,
) {
    (Err(process::Cancelled), Vec::new())
}

/// A pipeline stage's own context: the task's cwd and env, its own I/O and
/// cancellation token.
fn stage_ctx(parent: &TaskCtx, io: Io) -> TaskCtx {
    let ctx = parent.child(parent.id, io.stdin.clone());
    *ctx.io.borrow_mut() = io;
    ctx
}

type StageFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<i32, Rc<Error>>>>>;

fn builtin_stage(
    rt: Rc<Runtime>,
    ctx: Rc<TaskCtx>,
    b: &'static BuiltinCmd,
    args: Vec<Value>,
) -> StageFuture {
    Box::pin(async move {
        let out: Output = (b.run)(&rt, &ctx, &args).map_err(Rc::new)?;
        let io = ctx.io();
        match write_output(&io, &out.stdout, &out.stderr).await {
            Ok(()) => Ok(out.status),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(141),
            Err(e) => Err(Rc::new(write_error(&e))),
        }
    })
}

fn status_of_value(v: &Value) -> i32 {
    match v {
        Value::Bool(false) => 1,
        Value::Int(i) => (*i).clamp(0, 255) as i32,
        _ => 0,
    }
}
