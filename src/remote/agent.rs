//! `ash --serve`: the agent on a host. A remote ash starts one per host
//! over ssh; it reads jobs from its stdin and answers on its stdout (see
//! `wire`), after a one-line greeting with its protocol version.
//!
//! Each job runs in an ash of its own (`ash --remote-job`, in a process
//! group of its own): it has the body's deadline (`ASH_DEADLINE`) and
//! grace period (`ASH_GRACE`), its stdout and stderr come back as `OUT`
//! frames, whole, before its `DONE`. `CANCEL` gives it SIGTERM, then
//! SIGKILL after the grace period. When the agent's input ends (the
//! connection is gone: the remote ash exited or was killed, or the
//! network dropped), every job is stopped the same way, with at most
//! [`LOST_GRACE`], and the agent exits. If the agent itself is killed, each
//! job's ash sees its control socket close and stops on its own (and the
//! agent's sentinel kills their process groups).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};

use super::outbox::{self, Outbox};
use super::wire::{self, FrameBuf, Reader, Writer};
use crate::process::{self, ExternalCmd, Group, Stdio};
use crate::runtime::cancel::{CancelReason, CancelToken};
use crate::runtime::{Executor, deadline};

/// The grace period jobs get when the connection is lost: nobody waits
/// for their answer, and nothing may outlive the connection for long.
pub const LOST_GRACE: Duration = Duration::from_millis(500);

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
    let executor = Rc::new(Executor::new());
    match crate::runtime::run_loop(&executor, serve(executor.clone())) {
        Ok(code) => code,
        Err(e) => {
            crate::diag::reportln!("ash --serve: {e}");
            1
        }
    }
}

/// A job in progress: how to stop it, and the grace period it was given.
struct Running {
    token: Rc<CancelToken>,
    grace: Duration,
}

async fn serve(executor: Rc<Executor>) -> i32 {
    if let Err(e) = process::io_thread_ready() {
        crate::diag::reportln!("ash --serve: {e}");
        return 1;
    }
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
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            crate::diag::reportln!("ash --serve: cannot find its own binary: {e}");
            return 1;
        }
    };
    let out = Rc::new(Outbox::default());
    let writer = executor.spawn(outbox::write_out(out.clone(), output));
    let jobs: Rc<RefCell<HashMap<u32, Running>>> = Rc::default();
    let mut tasks: Vec<smol::Task<()>> = Vec::new();
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
                    let token = Rc::new(CancelToken::default());
                    jobs.borrow_mut().insert(
                        job.id,
                        Running {
                            token: token.clone(),
                            grace: job.grace,
                        },
                    );
                    let (out, jobs, exe) = (out.clone(), jobs.clone(), exe.clone());
                    tasks.retain(|t| !t.is_finished());
                    tasks.push(executor.spawn(async move {
                        let id = job.id;
                        let answer = match run_job(&out, job, &token, exe).await {
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
                        // The orphans killed when it ended are zombies now.
                        Timer::after(Duration::from_millis(20)).await;
                        process::contain::reap_adopted();
                    }));
                }
                wire::CANCEL => {
                    let (Ok(id), Ok(ms)) = (r.u32(), r.u32()) else {
                        break 'read;
                    };
                    if let Some(j) = jobs.borrow().get(&id) {
                        j.token
                            .cancel(CancelReason::Cancel, Duration::from_millis(ms.into()));
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
        j.token.cancel(CancelReason::Cancel, grace);
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

/// Run one job in an ash of its own; its outcome as the `DONE` payload
/// carries it, or why there is none.
async fn run_job(
    out: &Rc<Outbox>,
    job: RunFrame,
    token: &Rc<CancelToken>,
    exe: PathBuf,
) -> Result<Vec<u8>, String> {
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| format!("cannot make a socket for the body: {e}"))?;
    let pipe = || process::pipe().map_err(|e| format!("cannot make a pipe for the body: {e}"));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    // Not killed by the agent's sentinel if the agent dies: the body's ash
    // then sees its control socket close and stops in order by itself.
    let mut group = Group::new().contained().outlives_ash();
    if let Some(d) = job.deadline {
        group.set_env(deadline::DEADLINE_VAR, deadline::format_unix(d));
    }
    group.set_env(
        deadline::GRACE_VAR,
        format!("{:.3}", job.grace.as_secs_f64()),
    );
    let cmd = ExternalCmd {
        argv: vec![OsString::from("ash"), OsString::from("--remote-job")],
        program: exe,
        env: None,
        cwd: None,
        stdin: Stdio::Fd(Rc::new(OwnedFd::from(theirs))),
        stdout: Stdio::Fd(Rc::new(out_w)),
        stderr: Stdio::Fd(Rc::new(err_w)),
    };
    group
        .spawn(cmd)
        .await
        .map_err(|e| format!("cannot start ash on the host: {e}"))?;
    let mut control = Async::new(ours).map_err(|e| e.to_string())?;
    let send = async {
        let _ = control.write_all(&wire::frame(wire::RUN, &job.unit)).await;
        let mut answer = Vec::new();
        let _ = control.read_to_end(&mut answer).await;
        answer
    };
    let forward_out = forward(out, job.id, 1, out_r);
    let forward_err = forward(out, job.id, 2, err_r);
    let exit = async {
        let exit = group.wait(token.requested()).await;
        // What the body's ash left behind is ours now (a subreaper's):
        // nothing of it may outlive it.
        while !process::contain::kill_adopted() {
            Timer::after(Duration::from_millis(1)).await;
        }
        exit
    };
    let ((answer, exit), _) = future::zip(
        future::zip(send, exit),
        future::zip(forward_out, forward_err),
    )
    .await;
    let mut frames = FrameBuf::default();
    frames.push(&answer);
    match frames.next_frame() {
        Ok(Some((wire::DONE, payload))) => Ok(payload),
        _ => Err(match exit {
            Ok(infos) => match infos.first() {
                Some(i) if i.signal.is_some() => {
                    format!("it was killed by signal {}", i.signal.unwrap_or(0))
                }
                Some(i) => format!("it exited with status {}", i.code),
                None => "it did not start".to_string(),
            },
            Err(_) => "it was stopped (cancelled) before it answered".to_string(),
        }),
    }
}

/// Send what the body writes to `fd` as `OUT` frames, until it closes.
async fn forward(out: &Outbox, id: u32, fd: u8, from: OwnedFd) {
    let Ok(mut from) = Async::new(std::fs::File::from(from)) else {
        return;
    };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        out.room().await;
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut w = Writer::default();
                w.u32(id);
                w.u8(fd);
                w.0.extend_from_slice(&chunk[..n]);
                out.send(&wire::frame(wire::OUT, &w.0));
            }
        }
    }
}
