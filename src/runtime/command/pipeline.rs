//! Pipelines (and single external commands, and builtins with
//! redirections): one future that admits, connects, starts and waits for
//! every stage.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::rc::{Rc, Weak};

use futures_lite::future;

use crate::builtins::commands::{BuiltinCmd, BuiltinCtx, Output};
use crate::observe::{self, Event, Exit};
use crate::process::{self, ExternalCmd, Group, InSource, OutSink, SpawnError, Stdio, WorkDir};
use crate::runtime::admission::Reserve;
use crate::runtime::task::{Outcome, drive};
use crate::runtime::{Env, Io, Runtime, TaskCtx};
use crate::vm::error::{Error, Location};
use crate::vm::fiber::{Fiber, Pending, Resume};
use crate::vm::objects::Closure;
use crate::vm::value::Value;

use super::here::{write_error, write_output};
use super::redirect::apply_redirects;
use super::{Shown, Stage, Target, failed, not_found_message, text_for_message};

fn arg_bytes(args: &[Value]) -> Result<Vec<Vec<u8>>, Error> {
    args.iter().map(Value::to_bytes).collect()
}

fn stdio_of_in(src: &InSource) -> Result<Stdio, Error> {
    src.stdio().map_err(|e| Error::io(format!("stdin: {e}")))
}

/// Run a pipeline (or a single external command) to completion, in five
/// steps: admit its external stages, connect the stages by pipes and
/// redirections, start every stage, wait for all of them, and take the
/// pipeline's status.
pub(super) fn run_pipeline(
    rt: Rc<Runtime>,
    ctx: Rc<TaskCtx>,
    stages: Vec<(Stage, Target)>,
    negated: bool,
    check: bool,
    site: Option<Location>,
) -> Pending {
    Box::pin(async move {
        let n = stages.len();
        // Kept for the error of a checked line that fails (`e.command`).
        let shown: Vec<Shown> = if check {
            stages.iter().map(|(s, _)| s.shown()).collect()
        } else {
            Vec::new()
        };
        let permit = admit(&rt, &ctx, &stages).await?;
        let (mut ios, writes) = connect(&ctx, &stages).await?;
        if permit.is_some() {
            // The ash stages run inside the slots held for the programs:
            // they take the reserve of those, never wait for the pool.
            let mut reserve = None;
            for (io, _) in ios
                .iter_mut()
                .zip(&stages)
                .filter(|(_, (_, t))| !matches!(t, Target::External(_) | Target::NotFound))
            {
                io.reserve = Some(reserve.get_or_insert_with(Reserve::new).clone());
            }
        }
        let external = stages.iter().any(|(_, t)| matches!(t, Target::External(_)));
        let mut started = Started::new(n, &ctx, external, writes);
        started.site = site;
        let lone_checked = check && n == 1;
        for (i, ((stage, target), io)) in stages.into_iter().zip(ios).enumerate() {
            match target {
                Target::External(program) => {
                    started
                        .external(i, stage, program, io, lone_checked)
                        .await?;
                }
                Target::NotFound => started.not_found(i, &stage, &io).await,
                Target::Builtin(b) => started.builtin(&rt, &ctx, i, b, stage, io),
                Target::Shell => started.shell_command(&rt, &ctx, i, stage, io),
                Target::Func(f) => started.function(&rt, &ctx, i, f, stage, io),
            }
        }
        let statuses = started.wait(&rt, &ctx).await?;
        pipeline_status(&statuses, negated, &shown)
    })
}

/// Admission: one slot per external stage, all at once, waiting
/// (cancellably) while too many processes run, unless the reserve of the
/// slot this pipeline runs inside is free. The slots are held until the
/// permit is dropped, when the pipeline has been reaped.
async fn admit(
    rt: &Runtime,
    ctx: &TaskCtx,
    stages: &[(Stage, Target)],
) -> Result<Option<crate::runtime::admission::Permit>, Rc<Error>> {
    let externals = stages
        .iter()
        .filter(|(_, t)| matches!(t, Target::External(_)))
        .count();
    if externals == 0 {
        return Ok(None);
    }
    let token = &ctx.cancel;
    let reserve = ctx.with_io(|io| io.reserve.clone());
    let permit = future::or(
        async { Some(rt.slots.acquire(externals, reserve).await) },
        async {
            token.requested().await;
            None
        },
    )
    .await;
    match permit {
        Some(p) => Ok(Some(p)),
        None => Err(Rc::new(Error::cancelled())),
    }
}

/// Where a stage writes, to tell what its death by SIGPIPE means.
enum Writes {
    /// Into the pipe to the next stage (stdout, or stderr with `2>&1`): a
    /// SIGPIPE only means that the next stage stopped reading.
    NextStage,
    /// Elsewhere: ash's own stdout, a file... (Never the pipe itself: a
    /// write end held here would keep the next stage from its end of file.)
    Own {
        stdout: Rc<OutSink>,
        stderr: Rc<OutSink>,
    },
}

/// Each stage's I/O: the task's, with a pipe from each stage to the next,
/// then the stage's own redirections applied in order; and where each
/// stage writes.
async fn connect(
    ctx: &TaskCtx,
    stages: &[(Stage, Target)],
) -> Result<(Vec<Io>, Vec<Writes>), Rc<Error>> {
    let n = stages.len();
    let base_io = ctx.io();
    let cwd = ctx.cwd();
    // Stage i writes a pipe's write end; stage i+1 reads its read end.
    let mut ios = Vec::with_capacity(n);
    let mut writes = Vec::with_capacity(n);
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
        let mut pipe_out = None;
        if i + 1 < n {
            let (r, w) = process::pipe().map_err(|e| Rc::new(Error::io(format!("pipe: {e}"))))?;
            io.stdout = Rc::new(OutSink::from_fd(w));
            pipe_out = Some(io.stdout.clone());
            next_stdin = Some(r);
        }
        let io = apply_redirects(io, &stage.redirects, &cwd, &ctx.cancel)
            .await
            .map_err(Rc::new)?;
        writes.push(
            if pipe_out.is_some_and(|p| Rc::ptr_eq(&p, &io.stdout) || Rc::ptr_eq(&p, &io.stderr)) {
                Writes::NextStage
            } else {
                Writes::Own {
                    stdout: io.stdout.clone(),
                    stderr: io.stderr.clone(),
                }
            },
        );
        ios.push(io);
    }
    Ok((ios, writes))
}

/// A pipeline whose stages are being started: the process group of its
/// external stages, and how each stage ends.
struct Started {
    group: Group,
    /// Per stage, its status once known (set here for a stage that could
    /// not start, by `wait` for the others).
    statuses: Vec<Option<i32>>,
    /// The builtin and function stages, by index.
    ash_stages: Vec<(usize, StageFuture)>,
    /// The function stages' contexts, for their cancel tokens: a
    /// cancellation of the pipeline reaches them. Weak: a stage's context
    /// (and the pipe ends its I/O holds) closes when the stage ends, so
    /// the next stage sees its end of file.
    child_tokens: Vec<Weak<TaskCtx>>,
    /// The indexes of the spawned external stages, in spawn order.
    spawned: Vec<usize>,
    /// Where "command not found" and spawn failures are reported.
    stderr: Rc<OutSink>,
    /// The task's environment and directory, for the external stages.
    env: Env,
    cwd: Rc<WorkDir>,
    /// Where each stage writes (see `Writes`).
    writes: Vec<Writes>,
    /// For observers: whose commands these are, where the line is, and the
    /// id of each spawned stage (in spawn order).
    owner: observe::Owner,
    site: Option<Location>,
    observed: Vec<u64>,
}

impl Started {
    /// `external`: some stage is a program (which gets the deadline the
    /// task is under, if any). `writes`: where each stage writes.
    fn new(n: usize, ctx: &TaskCtx, external: bool, writes: Vec<Writes>) -> Started {
        let mut group = Group::in_scope(ctx.cancel.id());
        if external && let Some(vars) = crate::runtime::deadline::env_for(&ctx.cancel) {
            for (k, v) in vars {
                group.set_env(k, v);
            }
        }
        Started {
            group,
            statuses: vec![None; n],
            ash_stages: Vec::new(),
            child_tokens: Vec::new(),
            spawned: Vec::new(),
            stderr: ctx.io().stderr,
            env: ctx.env(),
            cwd: ctx.cwd(),
            writes,
            owner: ctx.observe_key(),
            site: None,
            observed: Vec::new(),
        }
    }

    /// Spawn an external stage into the group. A lone checked command
    /// raises a spawn failure itself (it names the limit or the reason);
    /// otherwise the failure is reported like a shell does and the stage
    /// fails.
    async fn external(
        &mut self,
        i: usize,
        stage: Stage,
        program: PathBuf,
        io: Io,
        lone_checked: bool,
    ) -> Result<(), Rc<Error>> {
        let mut env = self.env.clone();
        for (k, v) in &stage.env {
            env.set(k.as_bytes(), v);
        }
        let argv = arg_bytes(&stage.args).map_err(Rc::new)?;
        // The OS cannot pass a NUL byte: say so instead of truncating the
        // argument.
        if let Some(i) = argv.iter().position(|a| a.contains(&0)) {
            return Err(Rc::new(Error::value(format!(
                "argument {i} of `{}` contains a NUL byte, which cannot be passed to a program",
                stage.args.first().map(text_for_message).unwrap_or_default()
            ))));
        }
        if let Some((k, _)) = stage.env.iter().find(|(_, v)| v.contains(&0)) {
            return Err(Rc::new(Error::value(format!(
                "environment variable {k} contains a NUL byte"
            ))));
        }
        let argv: Vec<OsString> = argv.into_iter().map(OsString::from_vec).collect();
        // A task whose directory was removed runs nothing there (what it
        // would create could not be made, and its files are gone).
        self.cwd
            .check()
            .map_err(|e| Rc::new(Error::io(e.to_string())))?;
        let cmd = ExternalCmd {
            argv,
            program,
            env: env.for_child(),
            // The child enters the directory itself (see `WorkDir`).
            cwd: Some(self.cwd.os_path()),
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
        let observed = observe::on().then(|| self.observe_start(&cmd));
        let spawned = self.group.spawn(cmd).await;
        if let Some(id) = observed {
            match &spawned {
                Ok(()) => {
                    let pid = self.group.pids().last().copied().unwrap_or(0);
                    let pgid = self.group.pgid().unwrap_or(pid);
                    observe::emit(Event::CommandSpawned { id, pid, pgid });
                    self.observed.push(id);
                }
                Err(e) => {
                    let message = e.message();
                    observe::emit(Event::CommandEnd {
                        id,
                        exit: Exit::NotStarted {
                            status: e.status(),
                            message: &message,
                        },
                    });
                }
            }
        }
        match spawned {
            Ok(()) => self.spawned.push(i),
            Err(SpawnError::NotFound(_)) => {
                self.statuses[i] = Some(127);
                let message = format!("ash: {}\n", not_found_message(&stage));
                let _ = self.stderr.write_all(message.as_bytes()).await;
            }
            Err(e) if lone_checked => {
                let failed = stage.failed(e.status());
                return Err(Rc::new(
                    Error::command(
                        failed.command.clone().unwrap_or_default(),
                        e.status(),
                        e.message(),
                    )
                    .with_argv(failed.argv.clone()),
                ));
            }
            Err(e) => {
                self.statuses[i] = Some(e.status());
                let message = format!("ash: {}\n", e.message());
                let _ = self.stderr.write_all(message.as_bytes()).await;
            }
        }
        Ok(())
    }

    /// Tell observers `cmd` is about to start, and give it (through its
    /// process group's environment) what they want it to have; its id.
    fn observe_start(&mut self, cmd: &ExternalCmd) -> u64 {
        let id = observe::next_id();
        observe::emit(Event::CommandStart {
            id,
            owner: self.owner,
            argv: &cmd.argv,
            cwd: self.cwd.path(),
            site: self.site.as_ref(),
        });
        for (k, v) in observe::child_env(id) {
            self.group.set_env(k, v);
        }
        id
    }

    /// A stage naming nothing: status 127, reported on its stderr.
    async fn not_found(&mut self, i: usize, stage: &Stage, io: &Io) {
        self.statuses[i] = Some(127);
        let message = format!("ash: {}\n", not_found_message(stage));
        let _ = io.stderr.write_all(message.as_bytes()).await;
    }

    /// A builtin stage: runs in a context of its own, output to its pipe.
    fn builtin(
        &mut self,
        rt: &Rc<Runtime>,
        ctx: &TaskCtx,
        i: usize,
        b: &'static BuiltinCmd,
        stage: Stage,
        io: Io,
    ) {
        let child = Rc::new(stage_ctx(ctx, io));
        self.ash_stages
            .push((i, builtin_stage(rt.clone(), child, b, stage.args)));
    }

    /// A stage that is a command of the interactive shell (`jobs | grep`).
    fn shell_command(&mut self, rt: &Rc<Runtime>, ctx: &TaskCtx, i: usize, stage: Stage, io: Io) {
        let child = Rc::new(stage_ctx(ctx, io));
        self.child_tokens.push(Rc::downgrade(&child));
        let hooks = rt.hooks.borrow().clone();
        let run = hooks.map(|h| h.run_command(child, stage.args));
        self.ash_stages.push((
            i,
            Box::pin(async move {
                match run {
                    Some(run) => run.await.map_err(Rc::new),
                    None => Ok(127),
                }
            }),
        ));
    }

    /// A function stage: a child fiber with its own context.
    fn function(
        &mut self,
        rt: &Rc<Runtime>,
        ctx: &TaskCtx,
        i: usize,
        f: Rc<Closure>,
        stage: Stage,
        io: Io,
    ) {
        let child = Rc::new(stage_ctx(ctx, io));
        self.child_tokens.push(Rc::downgrade(&child));
        let mut args = stage.args;
        if !args.is_empty() {
            args.remove(0);
        }
        let fiber = Fiber::call(rt.clone(), child, f, args);
        self.ash_stages.push((
            i,
            Box::pin(async move {
                match drive(fiber).await {
                    Outcome::Value(v) => Ok(status_of_value(&v)),
                    Outcome::Error(e) => Err(e),
                    Outcome::Exit(c) => Ok(c),
                }
            }),
        ));
    }

    /// Wait for every stage (the process group's processes reaped); each
    /// stage's status. A cancellation of the task kills the group and
    /// cancels the function stages first, and raises `CancelledError`; a
    /// function stage's error is raised once all have ended.
    async fn wait(self, rt: &Runtime, ctx: &TaskCtx) -> Result<Vec<Option<i32>>, Rc<Error>> {
        let Started {
            mut group,
            mut statuses,
            ash_stages,
            child_tokens,
            spawned,
            writes,
            observed,
            ..
        } = self;
        if let Some(pgid) = group.pgid() {
            rt.groups.borrow_mut().insert(pgid);
            rt.group_event(pgid, ctx.id, true);
        }
        let token = &ctx.cancel;
        let ash_futs = join_stages(ash_stages);
        let propagate = {
            async move {
                let grace = token.requested().await;
                // A stage that has ended has nothing left to cancel.
                for t in child_tokens.iter().filter_map(Weak::upgrade) {
                    t.cancel.cancel(crate::runtime::CancelReason::Cancel, grace);
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
        if !observed.is_empty() {
            for (id, exit) in observed.into_iter().zip(group.exits()) {
                let exit = match exit {
                    Some(info) => match info.signal {
                        Some(signal) => Exit::Signal(signal),
                        None => Exit::Code(info.code),
                    },
                    None => Exit::Killed,
                };
                observe::emit(Event::CommandEnd { id, exit });
            }
        }
        let cancelled = ext.is_err();
        if ext.is_ok() && group.pgid().is_some() {
            ctx.cancel.group_finished(group.number());
        }
        // A stage killed by SIGPIPE because a later stage stopped reading
        // is not a failure. One whose own output (ash's stdout, say) lost
        // its reader ends the script quietly, as bash dies of SIGPIPE when
        // its stdout goes away: nobody reads what it would go on to do.
        let mut reader_gone = false;
        let mut sigpipe = |i: usize, gone: bool| match &writes[i] {
            Writes::NextStage => 0,
            Writes::Own { stdout, stderr } => {
                reader_gone |= gone || stdout.reader_gone() || stderr.reader_gone();
                141
            }
        };
        if let Ok(infos) = ext {
            // Exit infos come in spawn order.
            for (&i, info) in spawned.iter().zip(infos) {
                statuses[i] = Some(if info.signal == Some(13) {
                    sigpipe(i, false)
                } else {
                    info.code
                });
            }
        }
        let mut first_error = None;
        for (i, r) in ash {
            match r {
                Ok(status) => statuses[i] = Some(status),
                // A write failed with EPIPE: like a process killed by SIGPIPE.
                Err(e) if e.broken_pipe => statuses[i] = Some(sigpipe(i, true)),
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
        match first_error {
            Some(e) => Err(e),
            None if reader_gone => Err(Rc::new(Error::broken_pipe())),
            None => Ok(statuses),
        }
    }
}

/// All the builtin and function stages' results, once every one is done.
fn join_stages(
    stages: Vec<(usize, StageFuture)>,
) -> impl std::future::Future<Output = StageResults> {
    let mut pending: Vec<_> = stages.into_iter().map(|(i, f)| (i, Some(f))).collect();
    let mut results: StageResults = Vec::new();
    future::poll_fn(move |cx| {
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
    })
}

/// The pipeline's status (pipefail: the rightmost failing stage decides),
/// negated by `!`. `shown` (empty unless the line is checked) makes the
/// `CommandError` of a failure; a lone command that was not found says so.
fn pipeline_status(
    statuses: &[Option<i32>],
    negated: bool,
    shown: &[Shown],
) -> Result<Resume, Rc<Error>> {
    let failing = statuses.iter().rposition(|s| s.is_some_and(|s| s != 0));
    let status = failing.and_then(|i| statuses[i]).unwrap_or(0);
    if negated {
        return Ok(Resume::Status {
            status: i32::from(status == 0),
            error: None,
        });
    }
    let error = match failing {
        Some(i) if !shown.is_empty() => {
            let e = failed(shown, i, status);
            if status == 127 && statuses.len() == 1 {
                let line = e.command.clone().unwrap_or_default();
                return Err(Rc::new(
                    Error::command(line.clone(), 127, format!("command not found: {line}"))
                        .with_argv(e.argv.clone()),
                ));
            }
            Some(e)
        }
        _ => None,
    };
    Ok(Resume::Status { status, error })
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
    ctx.set_io(io);
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
        let out: Output = (b.run)(&BuiltinCtx::new(&rt, &ctx), &args).map_err(Rc::new)?;
        let io = ctx.io();
        match write_output(&io, &out.stdout, &out.stderr).await {
            Ok(()) => Ok(out.status),
            // A broken pipe is `write_error`'s quiet error.
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
