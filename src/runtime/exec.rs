//! Running command lines: resolving names, redirections, pipelines of
//! external programs, builtins and ash functions, `$( )` captures, and
//! loading modules.
//!
//! A single-stage command that names an ash function runs in the calling
//! fiber (a new frame). A builtin runs at once and only waits if its output
//! cannot be written yet. Everything else (programs, and pipelines with more
//! than one stage) becomes one future that the fiber halts on: externals of
//! a pipeline share one process group; builtin and function stages run as
//! child fibers joined with it, connected by OS pipes.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use futures_lite::future;

use crate::ast::RedirOp;
use crate::builtins::commands::{self, BuiltinCmd, Output};
use crate::process::{self, ExternalCmd, Group, InSource, OpenMode, OutSink, SpawnError, Stdio};
use crate::runtime::task::{Outcome, drive};
use crate::runtime::{Io, Runtime, TaskCtx};
use crate::vm::chunk::{CmdSpec, StageSpec};
use crate::vm::error::{Error, ErrorKind, command_error};
use crate::vm::fiber::{Fiber, FrameKind, Halt, Pending, Restore, Resume, cancellable};
use crate::vm::objects::{Closure, Coroutine};
use crate::vm::value::{Value, flatten_words};

/// One stage with its values taken off the stack.
struct Stage {
    callee: Option<Value>,
    env: Vec<(String, Vec<u8>)>,
    args: Vec<Value>,
    redirects: Vec<(RedirOp, Option<Vec<u8>>)>,
    global: Option<u32>,
}

enum Target {
    Func(Rc<Closure>),
    Builtin(&'static BuiltinCmd),
    External(PathBuf),
    NotFound,
}

fn split_stages(spec: &CmdSpec, values: Vec<Value>) -> Vec<Stage> {
    // The compiler pushed exactly what the spec says (see `Op::Exec`); a
    // missing value would silently become `null` in a release build.
    debug_assert_eq!(
        values.len(),
        spec.stages.iter().map(StageSpec::n_values).sum::<usize>(),
        "values on the stack for `{}`",
        spec.text
    );
    let mut it = values.into_iter();
    spec.stages
        .iter()
        .map(|st: &StageSpec| {
            let callee = if st.callee_on_stack { it.next() } else { None };
            let env = st
                .env
                .iter()
                .map(|n| (n.clone(), it.next().unwrap_or_default().to_bytes()))
                .collect();
            let words: Vec<Value> = (0..st.words)
                .map(|_| it.next().unwrap_or_default())
                .collect();
            let redirects = st
                .redirects
                .iter()
                .map(|&op| match op {
                    RedirOp::Dup { .. } => (op, None),
                    _ => (op, Some(it.next().unwrap_or_default().to_bytes())),
                })
                .collect();
            Stage {
                callee,
                env,
                args: flatten_words(words),
                redirects,
                global: st.global,
            }
        })
        .collect()
}

fn resolve(fiber: &Fiber, stage: &Stage) -> Target {
    if let Some(Value::Func(f)) = &stage.callee {
        return Target::Func(f.clone());
    }
    if let Some(g) = stage.global
        && let Some(Some(Value::Func(f))) = fiber.rt.globals.borrow().get(g as usize)
    {
        return Target::Func(f.clone());
    }
    let Some(name) = stage.args.first() else {
        return Target::NotFound;
    };
    let name = name.to_bytes();
    if let Some(b) = std::str::from_utf8(&name).ok().and_then(commands::lookup) {
        return Target::Builtin(b);
    }
    let path = fiber.ctx.getenv(b"PATH");
    match process::find_program(
        std::ffi::OsStr::from_bytes(&name),
        path.as_deref(),
        &fiber.ctx.cwd(),
    ) {
        Some(p) => Target::External(p),
        // A path that exists but cannot run: let the spawn say why (126).
        None if name.contains(&b'/')
            && fiber
                .ctx
                .cwd()
                .join(std::ffi::OsStr::from_bytes(&name))
                .exists() =>
        {
            Target::External(fiber.ctx.cwd().join(std::ffi::OsStr::from_bytes(&name)))
        }
        None => Target::NotFound,
    }
}

fn arg_bytes(args: &[Value]) -> Vec<Vec<u8>> {
    args.iter().map(Value::to_bytes).collect()
}

fn not_found_message(args: &[Value]) -> String {
    let name = args.first().map(Value::to_text).unwrap_or_default();
    if name == "read" {
        // `read NAME` is compiled as a statement; anywhere else (a pipeline
        // stage, with a redirection) it would be looked up as a program.
        return "command not found: read (`read NAME` is a statement of its own, \
                not a pipeline stage and without redirections; to read a stream, \
                pipe it into a function that runs `while read line { ... }`)"
            .to_string();
    }
    match crate::check::hints::command_not_found(&name) {
        Some(hint) => format!("command not found: {name} ({hint})"),
        None => format!("command not found: {name}"),
    }
}

/// Run `spec` with its values. `Ok(None)`: continue running the fiber (a
/// frame was pushed or the command already finished).
pub fn exec(fiber: &mut Fiber, spec: &CmdSpec, values: Vec<Value>) -> Result<Option<Halt>, Error> {
    let mut stages = split_stages(spec, values);
    for s in &stages {
        if s.callee.is_none()
            && let Some(Value::Str(name)) = s.args.first()
            && name.contains(&0)
        {
            return Err(Error::value(format!(
                "the command name '{}' contains a NUL byte",
                String::from_utf8_lossy(name).replace('\0', "\\0")
            )));
        }
    }
    let text = spec.text.clone();
    if stages.len() == 1
        && !spec.negated
        && let Some(stage) = stages.pop()
    {
        match resolve(fiber, &stage) {
            Target::Func(f) => return call_function(fiber, f, stage, spec),
            Target::Builtin(b) if stage.redirects.is_empty() => {
                return run_builtin_here(fiber, b, &stage, spec.check, text);
            }
            Target::NotFound if spec.check => {
                fiber.ctx.status.set(127);
                return Err(Error::command(
                    text.to_string(),
                    127,
                    not_found_message(&stage.args),
                ));
            }
            _ => stages.push(stage),
        }
    }
    let prepared = stages
        .into_iter()
        .map(|s| {
            let target = resolve(fiber, &s);
            (s, target)
        })
        .collect();
    let fut = run_pipeline(
        fiber.rt.clone(),
        fiber.ctx.clone(),
        prepared,
        spec.negated,
        spec.check,
        text,
    );
    Ok(Some(Halt::Await(fut)))
}

fn call_function(
    fiber: &mut Fiber,
    f: Rc<Closure>,
    stage: Stage,
    spec: &CmdSpec,
) -> Result<Option<Halt>, Error> {
    let mut args = stage.args;
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
    let kind = FrameKind::Command {
        check: spec.check,
        restore: env_restore.map(|env| {
            Box::new(Restore {
                io: None,
                env: Some(env),
                cwd: None,
            })
        }),
    };
    if stage.redirects.is_empty() {
        fiber.enter(f, args, kind)?;
        return Ok(None);
    }
    // Open the redirection targets off the loop, then call.
    let io = fiber.ctx.io();
    let cwd = fiber.ctx.cwd();
    let redirects = stage.redirects;
    Ok(Some(Halt::Await(Box::pin(async move {
        let io = apply_redirects(io, &redirects, &cwd)
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
fn run_builtin_here(
    fiber: &mut Fiber,
    b: &'static BuiltinCmd,
    stage: &Stage,
    check: bool,
    text: Rc<str>,
) -> Result<Option<Halt>, Error> {
    let io = fiber.ctx.io();
    let out = (b.run)(&fiber.rt, &fiber.ctx, &stage.args)?;
    if let Some(code) = out.exit {
        fiber.rt.exit_code.set(Some(code));
        return Ok(Some(Halt::Exit(code)));
    }
    let status = out.status;
    fiber.ctx.status.set(status);
    // Fast path: everything written without waiting.
    let written_out = write_now(&io.stdout, &out.stdout)?;
    let written_err = write_now(&io.stderr, &out.stderr)?;
    if written_out == out.stdout.len() && written_err == out.stderr.len() {
        if check && status != 0 {
            return Err(command_error(&text, status));
        }
        return Ok(None);
    }
    Ok(Some(Halt::Await(Box::pin(async move {
        write_output(&io, &out.stdout[written_out..], &out.stderr[written_err..])
            .await
            .map_err(|e| Rc::new(write_error(&e)))?;
        Ok(Resume::Status {
            status,
            check,
            text,
        })
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

async fn write_output(io: &Io, stdout: &[u8], stderr: &[u8]) -> std::io::Result<()> {
    if !stdout.is_empty() {
        io.stdout.write_all(stdout).await?;
    }
    if !stderr.is_empty() {
        io.stderr.write_all(stderr).await?;
    }
    Ok(())
}

fn path_of(cwd: &Path, bytes: &[u8]) -> PathBuf {
    cwd.join(std::ffi::OsStr::from_bytes(bytes))
}

/// Apply redirections in order to a copy of `io`.
async fn apply_redirects(
    mut io: Io,
    redirects: &[(RedirOp, Option<Vec<u8>>)],
    cwd: &Path,
) -> Result<Io, Error> {
    for (op, target) in redirects {
        let target = target.as_deref().unwrap_or_default();
        let open = |mode: OpenMode| {
            let path = path_of(cwd, target);
            async move {
                process::open_file(path.clone(), mode)
                    .await
                    .map_err(|e| Error::io(format!("cannot open {}: {e}", path.display())))
            }
        };
        match *op {
            RedirOp::Read => io.stdin = Rc::new(InSource::shared(open(OpenMode::Read).await?)),
            RedirOp::Write(fd) | RedirOp::Append(fd) => {
                let mode = if matches!(op, RedirOp::Write(_)) {
                    OpenMode::Write
                } else {
                    OpenMode::Append
                };
                let sink = Rc::new(OutSink::from_fd(open(mode).await?));
                if fd == 2 {
                    io.stderr = sink;
                } else {
                    io.stdout = sink;
                }
            }
            RedirOp::WriteAll | RedirOp::AppendAll => {
                let mode = if *op == RedirOp::WriteAll {
                    OpenMode::Write
                } else {
                    OpenMode::Append
                };
                let sink = Rc::new(OutSink::from_fd(open(mode).await?));
                io.stdout = sink.clone();
                io.stderr = sink;
            }
            RedirOp::Dup { fd, to } => {
                let src = if to == 2 {
                    io.stderr.clone()
                } else {
                    io.stdout.clone()
                };
                if fd == 2 {
                    io.stderr = src;
                } else {
                    io.stdout = src;
                }
            }
        }
    }
    Ok(io)
}

fn stdio_of_in(src: &InSource) -> Result<Stdio, Error> {
    src.stdio().map_err(|e| Error::io(format!("stdin: {e}")))
}

/// Run a pipeline (or a single external command) to completion.
fn run_pipeline(
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
        if let Some(vars) = super::deadline::env_for(&ctx.cancel) {
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
                    t.cancel(super::CancelReason::Cancel, grace);
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

/// `$( )`: run `f` in a frame whose stdout is a pipe read concurrently.
///
/// The pipe takes a capture slot (see `admission`): without waiting when
/// one is free, else the fiber halts until one is, so thousands of
/// concurrent captures never run out of file descriptors.
pub fn begin_capture(fiber: &mut Fiber, f: Rc<Closure>) -> Result<Option<Halt>, Error> {
    if let Some(permit) = fiber.rt.capture_slots.try_acquire(1) {
        let (kind, io) = capture_frame(&fiber.rt, &fiber.ctx, permit)?;
        *fiber.ctx.io.borrow_mut() = io;
        fiber.enter(f, Vec::new(), kind)?;
        return Ok(None);
    }
    let (rt, ctx) = (fiber.rt.clone(), fiber.ctx.clone());
    Ok(Some(Halt::Await(cancellable(
        fiber.ctx.cancel.clone(),
        async move {
            let permit = rt.capture_slots.acquire(1).await;
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
/// held until the output has been read to its end.
fn capture_frame(
    rt: &Runtime,
    ctx: &TaskCtx,
    permit: crate::runtime::admission::Permit,
) -> Result<(FrameKind, Io), Error> {
    let (r, w) = process::pipe().map_err(|e| Error::io(format!("pipe: {e}")))?;
    let reader = rt.executor.spawn(async move {
        let bytes = process::read_to_end(r).await;
        drop(permit);
        bytes
    });
    let old_io = ctx.io();
    let mut io = old_io.clone();
    io.stdout = Rc::new(OutSink::from_fd(w));
    // Like a subshell, a capture does not leak `cd` or `export`.
    let restore = Box::new(Restore {
        io: Some(old_io),
        env: Some(ctx.env()),
        cwd: Some(ctx.cwd()),
    });
    Ok((FrameKind::Capture { reader, restore }, io))
}

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
