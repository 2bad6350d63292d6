//! `ash --serve`: the agent on a host. A remote ash starts one per host
//! over ssh; it reads jobs from its stdin and answers on its stdout (see
//! `wire`), after a one-line greeting with its protocol version.
//!
//! Each job runs here, in the agent's own process, as a task of a runtime
//! of its own (globals, tasks, `exit`, working directory and environment
//! apart from the other jobs'), on the agent's loop: a body costs no
//! process start of its own, only its programs do. It has the body's
//! deadline (a `timeout` scope around it) and grace period; its stdout
//! and stderr (pipes, which its programs write directly) come back as
//! `OUT` frames, whole, before its `DONE`. `CANCEL` cancels it as `cancel`
//! does a local task: its `finally` blocks run, its programs get SIGTERM,
//! then SIGKILL after the grace period. When it ends, the tasks it left
//! are cancelled and the programs it left behind killed (those that left
//! their process group carry its tag, `ASH_REMOTE_JOB`, in their
//! environment; with no job running, every orphan the agent adopted is
//! killed). When the agent's input ends (the connection is gone: the
//! remote ash exited or was killed, or the network dropped), every job is
//! stopped the same way, with at most [`LOST_GRACE`], and the agent exits;
//! if the agent itself is killed, its sentinel kills the jobs' programs.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, future};

use super::outbox::{self, Outbox};
use super::wire::{self, FrameBuf, Reader, Writer};
use crate::process::{self, OutSink, WorkDir};
use crate::runtime::cancel::{CancelReason, DEFAULT_GRACE, WakeList};
use crate::runtime::task::{Outcome, drive};
use crate::runtime::{Env, Executor, Io, Runtime, TaskCtx, deadline};
use crate::vm::error::{Error, ErrorKind};
use crate::vm::fiber::Fiber;

/// The grace period jobs get when the connection is lost: nobody waits
/// for their answer, and nothing may outlive the connection for long.
pub const LOST_GRACE: Duration = Duration::from_millis(500);

/// In the environment of a job's programs: which job started them, so
/// what they leave behind is found when it ends while others run.
pub const JOB_VAR: &str = "ASH_REMOTE_JOB";

/// How long a job's output is still read after it ended and what it left
/// behind was killed (a program that cleared its environment may hold the
/// pipe until no job runs).
const LINGER: Duration = Duration::from_millis(200);

/// Run the agent; its exit status.
pub fn serve_main() -> i32 {
    let hello = format!(
        "ASH-AGENT {} {} {} {}\n",
        wire::PROTOCOL,
        super::ssh::VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    if std::io::stdout().write_all(hello.as_bytes()).is_err() || std::io::stdout().flush().is_err()
    {
        return 1;
    }
    process::raise_fd_limit();
    process::contain::become_subreaper();
    let rt = Runtime::new(false);
    let code = match crate::runtime::run_loop(&rt.executor.clone(), serve(rt)) {
        Ok(code) => code,
        Err(e) => {
            crate::diag::reportln!("ash --serve: {e}");
            1
        }
    };
    process::contain::at_exit();
    code
}

/// A job in progress: how to stop it.
struct Running {
    rt: Rc<Runtime>,
    /// The body's context, for its cancel token (weak: the context, and
    /// the pipes its I/O holds, close when the body ends).
    ctx: Weak<TaskCtx>,
    grace: Duration,
}

impl Running {
    /// Cancel the body and the tasks it started, as `cancel` does.
    fn cancel(&self, grace: Duration) {
        let grace = deadline::grace_for_children(grace);
        if let Some(ctx) = self.ctx.upgrade() {
            ctx.cancel.cancel(CancelReason::Cancel, grace);
        }
        self.rt.cancel_all(CancelReason::Cancel, grace);
    }
}

async fn serve(base: Rc<Runtime>) -> i32 {
    if let Err(e) = process::io_thread_ready() {
        crate::diag::reportln!("ash --serve: {e}");
        return 1;
    }
    let executor: Rc<Executor> = base.executor.clone();
    let dup = |fd: std::os::fd::BorrowedFd| {
        fd.try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(Async::new)
    };
    let (mut input, output) = match (dup(rustix::stdio::stdin()), dup(rustix::stdio::stdout())) {
        (Ok(i), Ok(o)) => (i, o),
        _ => {
            crate::diag::reportln!("ash --serve: cannot use stdin and stdout");
            return 1;
        }
    };
    let out = Rc::new(Outbox::default());
    let writer = executor.spawn(outbox::write_out(out.clone(), output));
    let jobs: Rc<RefCell<HashMap<u32, Running>>> = Rc::default();
    let mut tasks: Vec<crate::runtime::executor::Task<()>> = Vec::new();
    let mut frames = FrameBuf::default();
    let mut chunk = vec![0u8; 64 * 1024];
    'read: loop {
        loop {
            let (kind, payload) = match frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    crate::diag::reportln!("ash --serve: {e}");
                    break 'read;
                }
            };
            let mut r = Reader::new(&payload);
            match kind {
                wire::RUN => {
                    let Ok(job) = read_run(&mut r) else {
                        crate::diag::reportln!("ash --serve: a malformed job");
                        break 'read;
                    };
                    let rt = Runtime::beside(&base);
                    // Made now, so that a `CANCEL` that comes before the
                    // body starts reaches its token.
                    let ctx = Rc::new(body_ctx(&rt));
                    jobs.borrow_mut().insert(
                        job.id,
                        Running {
                            rt: rt.clone(),
                            ctx: Rc::downgrade(&ctx),
                            grace: job.grace,
                        },
                    );
                    let (out, jobs) = (out.clone(), jobs.clone());
                    tasks.retain(|t| !t.is_finished());
                    tasks.push(executor.spawn(async move {
                        let id = job.id;
                        let answer = match run_job(&out, job, rt, ctx).await {
                            Ok(answer) => answer,
                            Err(why) => {
                                let mut w = Writer::default();
                                wire::put_died(&mut w, &why);
                                w.0
                            }
                        };
                        let mut w = Writer::default();
                        w.u32(id);
                        w.0.extend_from_slice(&answer);
                        out.send(&wire::frame(wire::DONE, &w.0));
                        jobs.borrow_mut().remove(&id);
                        if jobs.borrow().is_empty() {
                            // No job runs: every orphan the agent adopted
                            // was left by one that ended (even one that
                            // cleared its environment).
                            while !process::contain::kill_adopted() {
                                Timer::after(Duration::from_millis(1)).await;
                            }
                        }
                        // The orphans killed are zombies now.
                        Timer::after(Duration::from_millis(20)).await;
                        process::contain::reap_adopted();
                    }));
                }
                wire::CANCEL => {
                    let (Ok(id), Ok(ms)) = (r.u32(), r.u32()) else {
                        break 'read;
                    };
                    if let Some(j) = jobs.borrow().get(&id) {
                        j.cancel(Duration::from_millis(ms.into()));
                    }
                }
                _ => {}
            }
        }
        match input.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => frames.push(&chunk[..n]),
        }
    }
    // The connection is gone (or unusable): stop everything, and wait.
    let mut longest = Duration::ZERO;
    for j in jobs.borrow().values() {
        let grace = j.grace.min(LOST_GRACE);
        longest = longest.max(grace);
        j.cancel(grace);
    }
    let all = async {
        for t in tasks {
            t.await;
        }
    };
    future::or(all, async {
        Timer::after(longest + Duration::from_secs(2)).await;
    })
    .await;
    // What the jobs still run (a body that ignored its cancellation) dies
    // with the agent: their programs are killed now, and by the sentinel.
    for j in jobs.borrow().values() {
        kill_groups(&j.rt);
    }
    crate::remote::shutdown(&base).await;
    out.close();
    future::or(
        async {
            let _ = writer.await;
        },
        async {
            Timer::after(Duration::from_millis(200)).await;
        },
    )
    .await;
    0
}

/// SIGKILL every process group a job's runtime runs.
fn kill_groups(rt: &Runtime) {
    for &pgid in rt.groups.borrow().iter() {
        if let Some(pid) = rustix::process::Pid::from_raw(pgid) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

struct RunFrame {
    id: u32,
    deadline: Option<f64>,
    grace: Duration,
    unit: Vec<u8>,
}

fn read_run(r: &mut Reader) -> Result<RunFrame, wire::WireError> {
    let id = r.u32()?;
    let deadline = match r.u8()? {
        0 => None,
        _ => Some(r.f64()?),
    };
    let grace = Duration::from_millis(r.u32()?.into());
    let unit = r.rest().to_vec();
    Ok(RunFrame {
        id,
        deadline,
        grace,
        unit,
    })
}

/// A body's context, before its output pipes are made: its stdout and
/// stderr are never written (`run_body` gives it its pipes before the body
/// runs), and are errors if they were.
fn body_ctx(rt: &Runtime) -> TaskCtx {
    let io = Io {
        stdin: rt.null_stdin(),
        stdout: Rc::new(OutSink::closed_at_startup(1)),
        stderr: Rc::new(OutSink::closed_at_startup(2)),
        reserve: None,
    };
    TaskCtx::with(0, Rc::new(WorkDir::at_start()), Env::default(), io)
}

/// Run one job here, as a task of `rt` in `ctx`; its outcome as the
/// `DONE` payload carries it, or why there is none.
async fn run_job(
    out: &Rc<Outbox>,
    job: RunFrame,
    rt: Rc<Runtime>,
    ctx: Rc<TaskCtx>,
) -> Result<Vec<u8>, String> {
    let pipe = || process::pipe().map_err(|e| format!("cannot make a pipe for the body: {e}"));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let ended = Rc::new(Ended::default());
    let forward_out = forward(out, job.id, 1, out_r, ended.clone());
    let forward_err = forward(out, job.id, 2, err_r, ended.clone());
    let tag = job.id.to_string();
    let body = async {
        let outcome = run_body(&job, &rt, ctx, out_w, err_w, &tag).await;
        // What it left behind: its tasks, then its programs.
        rt.cancel_and_wait_all(DEFAULT_GRACE).await;
        kill_left_by(&tag).await;
        ended.set();
        outcome
    };
    let (outcome, _) = future::zip(body, future::zip(forward_out, forward_err)).await;
    Ok(super::job::outcome_payload(&outcome))
}

/// Compile and run the body, under its deadline; how it ended.
async fn run_body(
    job: &RunFrame,
    rt: &Rc<Runtime>,
    ctx: Rc<TaskCtx>,
    out_w: OwnedFd,
    err_w: OwnedFd,
    tag: &str,
) -> Outcome {
    let (main, args) = match super::job::prepare(rt, &job.unit) {
        Ok(m) => m,
        Err(e) => return Outcome::Error(Rc::new(e)),
    };
    let io = Io {
        stdin: rt.null_stdin(),
        stdout: Rc::new(OutSink::from_fd(out_w)),
        stderr: Rc::new(OutSink::from_fd(err_w)),
        // Not inside a slot: the body's commands take the pool's.
        reserve: None,
    };
    ctx.set_io(io);
    ctx.env_mut(|env| env.set(JOB_VAR.as_bytes(), tag.as_bytes()));
    *rt.main_cancel.borrow_mut() = Some(Rc::downgrade(&ctx));
    // The local deadline: the whole body is a `timeout` scope.
    let mut scope = None;
    if let Some(d) = job.deadline {
        let when = deadline::instant_at(d);
        if when <= Instant::now() {
            return Outcome::Error(Rc::new(Error::new(
                ErrorKind::Timeout,
                "the deadline passed before the body started on the host",
            )));
        }
        let id = rt.next_id();
        ctx.cancel
            .push_deadline(id, when, deadline::grace_for_children(job.grace));
        scope = Some(id);
    }
    let outcome = drive(Fiber::call(rt.clone(), ctx, main, args)).await;
    *rt.main_cancel.borrow_mut() = None;
    if let Some(code) = rt.exit_code.get() {
        return Outcome::Exit(code);
    }
    match outcome {
        Outcome::Error(e)
            if scope.is_some()
                && e.kind == ErrorKind::Cancelled
                && e.timeout_scope.get() == scope =>
        {
            let t = Error::new(ErrorKind::Timeout, "the deadline in ASH_DEADLINE passed");
            *t.location.borrow_mut() = e.location.borrow().clone();
            *t.trace.borrow_mut() = e.trace.borrow().clone();
            Outcome::Error(Rc::new(t))
        }
        other => other,
    }
}

/// Kill the orphans the agent adopted that carry the job's tag (and their
/// process groups), until none is left.
async fn kill_left_by(tag: &str) {
    let entry = format!("{JOB_VAR}={tag}");
    for _ in 0..10 {
        if process::contain::kill_adopted_where(entry.as_bytes()) == 0 {
            return;
        }
        Timer::after(Duration::from_millis(2)).await;
    }
}

/// Set once a job has ended and what it left behind is gone.
#[derive(Default)]
struct Ended {
    set: Cell<bool>,
    wake: WakeList,
}

impl Ended {
    fn set(&self) {
        self.set.set(true);
        self.wake.wake_all();
    }

    async fn wait(&self) {
        future::poll_fn(|cx| {
            if self.set.get() {
                std::task::Poll::Ready(())
            } else {
                self.wake.register(cx.waker());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// Send what the body writes to `fd` as `OUT` frames, until it closes (or,
/// once the job has ended, nothing came for [`LINGER`]).
async fn forward(out: &Outbox, id: u32, fd: u8, from: OwnedFd, ended: Rc<Ended>) {
    let Ok(mut from) = Async::new(std::fs::File::from(from)) else {
        return;
    };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        out.room().await;
        let read = future::or(async { Some(from.read(&mut chunk).await) }, async {
            ended.wait().await;
            Timer::after(LINGER).await;
            None
        })
        .await;
        match read {
            None | Some(Ok(0) | Err(_)) => return,
            Some(Ok(n)) => {
                let mut w = Writer::default();
                w.u32(id);
                w.u8(fd);
                w.0.extend_from_slice(&chunk[..n]);
                out.send(&wire::frame(wire::OUT, &w.0));
            }
        }
    }
}
