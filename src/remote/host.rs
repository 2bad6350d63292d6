//! One connection per host for the whole run: an `ssh` (the host's master
//! connection, or a session over one after a copy) running ash's agent,
//! and the jobs sent to it.
//!
//! A host is brought up at first use by a task of its own (so a branch
//! cancelled meanwhile does not cut the connection short for the others):
//! `ssh HOST` runs a small `sh` program that starts `ash --serve` (ash on
//! the host's `PATH`, else the copy this ash keeps there); on a host
//! without one, of the same system and architecture, this binary is
//! copied there first. The agent greets with its protocol version; after
//! that, frames (see `wire`) carry jobs one way and their output and
//! outcomes the other. A host that cannot be brought up is *down* for the
//! rest of the run, with the reason (ssh's own message when ssh failed).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, future};

use super::outbox::Outbox;
use super::ssh;
use super::wire::{self, FrameBuf, Reader, WireLocation, Writer};
use crate::process::{self, ExternalCmd, Group, OutSink, Stdio};
use crate::runtime::cancel::WakeList;
use crate::runtime::{Runtime, TaskCtx};
use crate::vm::error::{Error, Location};
use crate::vm::value::Value;

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::default();
}

#[derive(Default)]
struct Registry {
    hosts: HashMap<String, Rc<Host>>,
    /// Made at the first connection; removed at exit.
    control_dir: Option<PathBuf>,
    /// Error locations already registered as sources, by host, file, line
    /// and line text.
    sources: HashMap<(String, String, u32, String), u32>,
    /// Names the hosts' control sockets.
    next_index: Cell<usize>,
}

/// The host of this name (one record per run).
pub fn host(name: &str) -> Rc<Host> {
    REGISTRY.with_borrow_mut(|r| {
        r.hosts
            .entry(name.to_string())
            .or_insert_with(|| {
                Rc::new(Host {
                    name: name.to_string(),
                    index: r.next_index.replace(r.next_index.get() + 1),
                    state: RefCell::new(State::Idle),
                    changed: WakeList::default(),
                    warned: Cell::new(false),
                    master: RefCell::new(None),
                })
            })
            .clone()
    })
}

fn control_dir() -> Result<PathBuf, String> {
    if let Some(d) = REGISTRY.with_borrow(|r| r.control_dir.clone()) {
        return Ok(d);
    }
    let dir = ssh::make_control_dir()
        .map_err(|e| format!("cannot make a directory for ssh's control sockets: {e}"))?;
    REGISTRY.with_borrow_mut(|r| r.control_dir = Some(dir.clone()));
    Ok(dir)
}

pub struct Host {
    pub name: String,
    /// Its control socket is `m<index>` in the control directory.
    index: usize,
    state: RefCell<State>,
    changed: WakeList,
    warned: Cell<bool>,
    /// The `ssh` holding the master connection, once started.
    master: RefCell<Option<Ssh>>,
}

#[derive(Clone)]
enum State {
    Idle,
    Connecting,
    Up(Rc<Agent>),
    Down(String),
}

impl Host {
    /// Why the host cannot be used, once that is known.
    pub fn down_reason(&self) -> Option<String> {
        match &*self.state.borrow() {
            State::Down(why) => Some(why.clone()),
            _ => None,
        }
    }

    /// Report, once per run, that the host is left out.
    pub fn warn_once(&self, why: &str) {
        if !self.warned.replace(true) {
            crate::diag::warn(&format!(
                "{} cannot be used ({why}); its branches run on the other hosts",
                self.name
            ));
        }
    }

    /// The host's agent, brought up if need be; why not, if it cannot be.
    pub async fn agent(self: &Rc<Self>, rt: &Rc<Runtime>) -> Result<Rc<Agent>, String> {
        loop {
            let state = self.state.borrow().clone();
            match state {
                State::Up(agent) if agent.lost.borrow().is_none() => return Ok(agent),
                State::Down(why) => return Err(why),
                State::Connecting => {
                    future::poll_fn(|cx| {
                        if matches!(*self.state.borrow(), State::Connecting) {
                            self.changed.register(cx.waker());
                            std::task::Poll::Pending
                        } else {
                            std::task::Poll::Ready(())
                        }
                    })
                    .await;
                }
                State::Idle | State::Up(_) => {
                    *self.state.borrow_mut() = State::Connecting;
                    let (host, rt2) = (self.clone(), rt.clone());
                    rt.executor
                        .spawn(async move {
                            let state = match connect(&rt2, &host).await {
                                Ok(agent) => State::Up(agent),
                                Err(why) => State::Down(why),
                            };
                            *host.state.borrow_mut() = state;
                            host.changed.wake_all();
                        })
                        .detach();
                }
            }
        }
    }
}

// ------------------------------------------------------------------ ssh

/// A running `ssh`: its process and the ends of its pipes ash keeps.
struct Ssh {
    group: Group,
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    /// What it wrote to stderr so far (the tail), read by a task of its own.
    stderr: Rc<RefCell<Vec<u8>>>,
    stderr_done: Rc<Cell<bool>>,
}

/// Keep this much of an ssh's stderr for messages.
const STDERR_TAIL: usize = 8192;

/// Start `ssh` to `host` in `role` (see [`ssh::Role`]), running `command`
/// (none for the master connection), with `stdin` (a pipe ash writes when
/// `None`).
async fn start_ssh(
    rt: &Rc<Runtime>,
    host: &Host,
    role: ssh::Role,
    command: Option<&str>,
    stdin: Option<Stdio>,
) -> Result<Ssh, String> {
    let base = ssh::base_command()?;
    let control = match role {
        // A socket of its own: an earlier one may not be gone yet.
        ssh::Role::MasterRunning => control_dir()?.join(format!(
            "a{}.{}",
            host.index,
            REGISTRY.with_borrow(|r| r.next_index.replace(r.next_index.get() + 1))
        )),
        _ => control_dir()?.join(format!("m{}", host.index)),
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let path = std::env::var_os("PATH");
    let program = process::find_program(&base[0], path.as_deref(), &cwd).ok_or_else(|| {
        format!(
            "{} not found on PATH (ash reaches other hosts with OpenSSH's client)",
            base[0].to_string_lossy()
        )
    })?;
    let pipe = || process::pipe().map_err(|e| format!("pipe: {e}"));
    let (in_r, in_w) = match stdin {
        Some(s) => (s, None),
        None => {
            let (r, w) = pipe()?;
            (Stdio::Fd(Rc::new(r)), Some(w))
        }
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let mut argv = base.clone();
    argv.extend(ssh::options(&control, role));
    argv.extend([OsString::from("--"), host.name.as_str().into()]);
    argv.extend(command.map(OsString::from));
    let mut group = Group::new().contained();
    let cmd = ExternalCmd {
        argv,
        program,
        env: None,
        cwd: None,
        stdin: in_r,
        stdout: Stdio::Fd(Rc::new(out_w)),
        stderr: Stdio::Fd(Rc::new(err_w)),
    };
    group
        .spawn(cmd)
        .await
        .map_err(|e| format!("cannot start ssh: {e}"))?;
    let stderr = Rc::new(RefCell::new(Vec::new()));
    let stderr_done = Rc::new(Cell::new(false));
    let (tail, done) = (stderr.clone(), stderr_done.clone());
    rt.executor
        .spawn(async move {
            if let Ok(mut f) = Async::new(std::fs::File::from(err_r)) {
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = f.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut t = tail.borrow_mut();
                    t.extend_from_slice(&buf[..n]);
                    if t.len() > STDERR_TAIL {
                        let cut = t.len() - STDERR_TAIL;
                        t.drain(..cut);
                    }
                }
            }
            done.set(true);
        })
        .detach();
    Ok(Ssh {
        group,
        stdin: in_w,
        stdout: Some(out_r),
        stderr,
        stderr_done,
    })
}

impl Ssh {
    /// Wait for ssh to exit (at most `limit`, then it is killed); its status.
    async fn finish(&mut self, limit: Duration) -> Option<i32> {
        let status = self
            .group
            .wait(async {
                Timer::after(limit).await;
                Duration::ZERO
            })
            .await
            .ok()
            .and_then(|s| s.first().map(|e| e.code));
        // What it said last may still be in the pipe.
        for _ in 0..20 {
            if self.stderr_done.get() {
                break;
            }
            Timer::after(Duration::from_millis(5)).await;
        }
        status
    }

    /// ssh's complaint, one line, the noise left out.
    fn complaint(&self) -> String {
        stderr_message(&self.stderr.borrow())
    }
}

/// The meaningful lines of what ssh (or the remote command) wrote to stderr.
fn stderr_message(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    tail.join(" / ")
}

/// Why ssh failed, from its exit status and what it said.
fn ssh_failure(status: Option<i32>, said: &str) -> String {
    let said = if said.is_empty() {
        "no message (the agent on the host was killed, or the connection dropped)".to_string()
    } else {
        said.to_string()
    };
    match status {
        Some(255) if said.contains("Host key verification failed") => {
            format!("host key verification failed: {said}")
        }
        Some(255)
            if said.contains("Permission denied") || said.contains("Too many authentication") =>
        {
            format!("authentication failed: {said}")
        }
        Some(255) => format!("ssh failed: {said}"),
        Some(code) => format!("the remote command failed with status {code}: {said}"),
        None => format!("ssh did not finish: {said}"),
    }
}

// ------------------------------------------------------------------ connecting

enum Greeting {
    Agent { protocol: u32, version: String },
    Need { os: String, arch: String },
}

/// Read the greeting line, skipping anything a login script printed
/// before it; the bytes read after it are returned too.
async fn greeting(stdout: &mut Async<std::fs::File>) -> Result<(Greeting, Vec<u8>), ()> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 4096];
    loop {
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&buf[..nl]).into_owned();
            let rest = buf[nl + 1..].to_vec();
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["ASH-AGENT", protocol, version, ..] => {
                    let protocol = protocol.parse().unwrap_or(0);
                    let version = version.to_string();
                    return Ok((Greeting::Agent { protocol, version }, rest));
                }
                ["ASH-NEED", os, arch, ..] => {
                    let g = Greeting::Need {
                        os: os.to_string(),
                        arch: arch.to_string(),
                    };
                    return Ok((g, rest));
                }
                _ => buf = rest,
            }
        }
        if buf.len() > 64 * 1024 {
            return Err(());
        }
        match stdout.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Start the host's master connection, unless it runs: wait until its
/// control socket appears (it has authenticated), or it exits (why).
async fn ensure_master(rt: &Rc<Runtime>, host: &Host) -> Result<(), String> {
    let control = control_dir()?.join(format!("m{}", host.index));
    if host.master.borrow().is_some() && control.exists() {
        return Ok(());
    }
    let old = host.master.borrow_mut().take();
    if let Some(mut old) = old {
        old.group.signal(rustix::process::Signal::TERM);
        old.finish(Duration::from_secs(1)).await;
    }
    let mut master = start_ssh(rt, host, ssh::Role::Master, None, Some(Stdio::Null)).await?;
    drop(master.stdout.take());
    let exited = future::or(
        async { Some(master.group.wait(future::pending::<Duration>()).await) },
        async {
            while !control.exists() {
                Timer::after(Duration::from_millis(3)).await;
            }
            None
        },
    )
    .await;
    match exited {
        None => {
            *host.master.borrow_mut() = Some(master);
            Ok(())
        }
        Some(status) => {
            let status = status.ok().and_then(|s| s.first().map(|e| e.code));
            master.finish(Duration::from_secs(1)).await;
            Err(ssh_failure(status, &master.complaint()))
        }
    }
}

/// Bring up the host's agent: first over a connection of its own (which
/// is the host's master: one handshake, one process); if ash must be
/// copied there first, over a master connection that the copy and then
/// the agent share.
async fn connect(rt: &Rc<Runtime>, host: &Rc<Host>) -> Result<Rc<Agent>, String> {
    process::io_thread_ready().map_err(|e| e.to_string())?;
    let mut copied = false;
    loop {
        let role = if copied || host.master.borrow().is_some() {
            ensure_master(rt, host).await?;
            ssh::Role::Session
        } else {
            ssh::Role::MasterRunning
        };
        let bootstrap = ssh::bootstrap_command(own_size());
        let mut ssh = start_ssh(rt, host, role, Some(&bootstrap), None).await?;
        let out = ssh.stdout.take().map(std::fs::File::from);
        let mut out = match out.map(Async::new) {
            Some(Ok(f)) => f,
            _ => return Err("cannot read from ssh".into()),
        };
        match greeting(&mut out).await {
            Err(()) => {
                drop(ssh.stdin.take());
                let status = ssh.finish(Duration::from_secs(5)).await;
                return Err(ssh_failure(status, &ssh.complaint()));
            }
            Ok((Greeting::Need { os, arch }, _)) => {
                drop(ssh.stdin.take());
                ssh.finish(Duration::from_secs(5)).await;
                if copied {
                    return Err("ash was copied to the host but does not start there".into());
                }
                if !ssh::same_platform(&os, &arch) {
                    return Err(format!(
                        "it has no ash on its PATH, and it is a {os} {arch} machine (this ash is for {} {}): install ash there",
                        std::env::consts::OS,
                        std::env::consts::ARCH
                    ));
                }
                ensure_master(rt, host).await?;
                copy_self(rt, host).await?;
                copied = true;
            }
            Ok((Greeting::Agent { protocol, version }, rest)) => {
                if protocol != wire::PROTOCOL {
                    drop(ssh.stdin.take());
                    ssh.finish(Duration::from_secs(5)).await;
                    return Err(format!(
                        "its ash {version} speaks protocol {protocol}, this ash {} speaks protocol {}: install the same version there (or remove it from the PATH there, and ash copies itself)",
                        ssh::VERSION,
                        wire::PROTOCOL
                    ));
                }
                return Agent::start(rt, host, ssh, out, rest);
            }
        }
    }
}

/// The size of this binary (0 if unknown: a cached copy is then never
/// taken for it).
fn own_size() -> u64 {
    std::env::current_exe()
        .and_then(std::fs::metadata)
        .map_or(0, |m| m.len())
}

/// Copy this binary to the host's cache (see `ssh::copy_command`).
async fn copy_self(rt: &Rc<Runtime>, host: &Host) -> Result<(), String> {
    let exe = std::env::current_exe()
        .and_then(std::fs::File::open)
        .map_err(|e| format!("cannot read this ash's binary to copy it: {e}"))?;
    let stdin = Stdio::Fd(Rc::new(OwnedFd::from(exe)));
    let mut ssh = start_ssh(
        rt,
        host,
        ssh::Role::Session,
        Some(&ssh::copy_command()),
        Some(stdin),
    )
    .await?;
    drop(ssh.stdout.take());
    match ssh.finish(Duration::from_secs(600)).await {
        Some(0) => Ok(()),
        status => Err(format!(
            "copying ash to the host failed: {}",
            ssh_failure(status, &ssh.complaint())
        )),
    }
}

// ------------------------------------------------------------------ the agent

/// A job sent to the agent: where its output goes, and its outcome.
struct Job {
    stdout: Rc<OutSink>,
    stderr: Rc<OutSink>,
    outcome: RefCell<Option<Result<Value, Rc<Error>>>>,
    wake: WakeList,
}

/// A host's agent: an ssh session running `ash --serve`.
pub struct Agent {
    host: String,
    outbox: Rc<Outbox>,
    jobs: RefCell<HashMap<u32, Rc<Job>>>,
    next_job: Cell<u32>,
    /// Why the connection ended, once it has.
    lost: RefCell<Option<String>>,
    stderr: Rc<RefCell<Vec<u8>>>,
    /// Reads the agent's frames; ends when the session does.
    reader: RefCell<Option<crate::runtime::executor::Task<()>>>,
}

impl Agent {
    fn start(
        rt: &Rc<Runtime>,
        host: &Rc<Host>,
        mut ssh: Ssh,
        stdout: Async<std::fs::File>,
        already: Vec<u8>,
    ) -> Result<Rc<Agent>, String> {
        let stdin = ssh
            .stdin
            .take()
            .map(std::fs::File::from)
            .map(Async::new)
            .and_then(Result::ok)
            .ok_or("cannot write to ssh")?;
        let agent = Rc::new(Agent {
            host: host.name.clone(),
            outbox: Rc::new(Outbox::default()),
            jobs: RefCell::default(),
            next_job: Cell::new(1),
            lost: RefCell::new(None),
            stderr: ssh.stderr.clone(),
            reader: RefCell::new(None),
        });
        let writer = agent.clone();
        rt.executor
            .spawn(async move {
                if let Err(e) = super::outbox::write_out(writer.outbox.clone(), stdin).await {
                    writer.lose(format!("writing to ssh: {e}"));
                }
            })
            .detach();
        let reader = rt
            .executor
            .spawn(read_frames(agent.clone(), ssh, stdout, already));
        *agent.reader.borrow_mut() = Some(reader);
        Ok(agent)
    }

    /// The connection is gone: every job still waiting fails with why.
    fn lose(&self, why: String) {
        if self.lost.borrow().is_some() {
            return;
        }
        *self.lost.borrow_mut() = Some(why);
        self.outbox.close();
        let jobs: Vec<Rc<Job>> = self.jobs.borrow_mut().drain().map(|(_, j)| j).collect();
        for job in jobs {
            if job.outcome.borrow().is_none() {
                *job.outcome.borrow_mut() = Some(Err(Rc::new(self.lost_error())));
            }
            job.wake.wake_all();
        }
    }

    fn lost_error(&self) -> Error {
        let why = self.lost.borrow().clone().unwrap_or_default();
        Error::io(format!("lost the connection to {}: {why}", self.host))
    }

    /// Run a packed body; its value, or its error (located on the host).
    pub async fn run(
        &self,
        ctx: &Rc<TaskCtx>,
        unit: crate::vm::string::Str,
    ) -> Result<Value, Rc<Error>> {
        if self.lost.borrow().is_some() {
            return Err(Rc::new(self.lost_error()));
        }
        let io = ctx.io();
        let job = Rc::new(Job {
            stdout: io.stdout.clone(),
            stderr: io.stderr.clone(),
            outcome: RefCell::new(None),
            wake: WakeList::default(),
        });
        let id = self.next_job.get();
        self.next_job.set(id.wrapping_add(1));
        self.jobs.borrow_mut().insert(id, job.clone());
        let token = ctx.token();
        let (deadline, grace) = match token.earliest_deadline() {
            Some((when, grace)) => (Some(crate::runtime::deadline::unix_time(when)), grace),
            None => (None, crate::runtime::cancel::DEFAULT_GRACE),
        };
        let mut w = Writer::default();
        w.u32(id);
        match deadline {
            Some(d) => {
                w.u8(1);
                w.f64(d);
            }
            None => w.u8(0),
        }
        w.u32(millis(grace));
        w.0.extend_from_slice(&unit);
        self.outbox.send(&wire::frame(wire::RUN, &w.0));
        let done = || {
            future::poll_fn(|cx| match job.outcome.borrow_mut().take() {
                Some(r) => std::task::Poll::Ready(r),
                None => {
                    job.wake.register(cx.waker());
                    std::task::Poll::Pending
                }
            })
        };
        let first = future::or(async { Ok(done().await) }, async {
            Err(token.requested().await)
        })
        .await;
        let result = match first {
            Ok(r) => r,
            Err(grace) => {
                // Cancelled here: cancel it there, and wait for it to end
                // (its finally blocks run within the grace period), but
                // never longer than the grace period and a margin.
                let mut w = Writer::default();
                w.u32(id);
                w.u32(millis(grace));
                self.outbox.send(&wire::frame(wire::CANCEL, &w.0));
                future::or(
                    async {
                        let _ = done().await;
                    },
                    async {
                        Timer::after(grace + Duration::from_secs(3)).await;
                    },
                )
                .await;
                Err(Rc::new(Error::cancelled()))
            }
        };
        self.jobs.borrow_mut().remove(&id);
        result
    }

    /// Close the session: the agent sees the end of its input, stops what
    /// still runs and exits; wait (a little) for that.
    async fn close(&self) {
        self.outbox.close();
        let reader = self.reader.borrow_mut().take();
        if let Some(reader) = reader {
            future::or(reader, async {
                Timer::after(Duration::from_secs(3)).await;
            })
            .await;
        }
    }
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// Read the agent's frames until the session ends.
async fn read_frames(
    agent: Rc<Agent>,
    mut ssh: Ssh,
    mut stdout: Async<std::fs::File>,
    already: Vec<u8>,
) {
    let mut frames = FrameBuf::default();
    frames.push(&already);
    let mut chunk = vec![0u8; 64 * 1024];
    let ended = loop {
        loop {
            match frames.next_frame() {
                Ok(Some((kind, payload))) => dispatch(&agent, kind, &payload).await,
                Ok(None) => break,
                Err(e) => {
                    // Nothing more can be understood on this connection.
                    let _ = ssh.group.wait(async { Duration::ZERO }).await;
                    agent.lose(format!("{e} from the agent"));
                    return;
                }
            }
        }
        match stdout.read(&mut chunk).await {
            Ok(0) => break None,
            Ok(n) => frames.push(&chunk[..n]),
            Err(e) => break Some(e.to_string()),
        }
    };
    drop(stdout);
    let status = ssh.finish(Duration::from_secs(2)).await;
    let said = stderr_message(&agent.stderr.borrow());
    let why = match (ended, status) {
        (Some(e), _) => format!("reading from ssh: {e}"),
        (None, Some(0)) if said.is_empty() => "the agent ended".to_string(),
        (None, status) => ssh_failure(status, &said),
    };
    agent.lose(why);
}

/// Act on one frame from the agent.
async fn dispatch(agent: &Agent, kind: u8, payload: &[u8]) {
    let mut r = Reader::new(payload);
    let Ok(id) = r.u32() else {
        return;
    };
    let job = agent.jobs.borrow().get(&id).cloned();
    let Some(job) = job else {
        return;
    };
    match kind {
        wire::OUT => {
            let fd = r.u8().unwrap_or(1);
            let bytes = r.rest();
            let sink = if fd == 2 { &job.stderr } else { &job.stdout };
            // A reader that went away (`| head`) only loses the output.
            let _ = sink.write_all(bytes).await;
        }
        wire::DONE => {
            let host = agent.host.clone();
            let locate = move |l: &WireLocation| Some(locate(&host, l));
            let outcome = match wire::get_outcome(&mut r, &locate) {
                Ok(wire::Outcome::Value(v)) => Ok(v),
                Ok(wire::Outcome::Error(e)) => Err(Rc::new(e)),
                Ok(wire::Outcome::Died(why)) => Err(Rc::new(Error::io(format!(
                    "the ash running the body on {} ended without an answer: {why}",
                    agent.host
                )))),
                Err(e) => Err(Rc::new(Error::io(format!(
                    "{e} from the agent on {}",
                    agent.host
                )))),
            };
            *job.outcome.borrow_mut() = Some(outcome);
            job.wake.wake_all();
        }
        _ => {}
    }
}

/// A location on a host, as a source of its own (`HOST:FILE`, the line at
/// its number) so errors render with the line and a caret.
fn locate(host: &str, l: &WireLocation) -> Location {
    let key = (
        host.to_string(),
        l.file.clone(),
        l.line,
        l.line_text.clone(),
    );
    let lines = l.line.saturating_sub(1) as usize;
    let source = REGISTRY.with_borrow_mut(|r| {
        *r.sources.entry(key).or_insert_with(|| {
            let mut text = "\n".repeat(lines);
            text.push_str(&l.line_text);
            crate::diag::add_source(&format!("{host}:{}", l.file), &text)
        })
    });
    let col = l.col.saturating_sub(1) as usize;
    let start = lines
        + l.line_text
            .char_indices()
            .nth(col)
            .map_or(l.line_text.len(), |(i, _)| i);
    let width: usize = l.line_text[start - lines..]
        .chars()
        .take(l.width.max(1) as usize)
        .map(char::len_utf8)
        .sum();
    Location {
        source,
        span: crate::ast::Span::new(start, start + width),
    }
}

/// At exit: close every agent (each stops what still runs there and
/// exits), then every master connection, and remove the control directory.
pub async fn shutdown(rt: &Rc<Runtime>) {
    let hosts: Vec<Rc<Host>> =
        REGISTRY.with_borrow_mut(|r| r.hosts.drain().map(|(_, h)| h).collect());
    if hosts.is_empty() {
        return;
    }
    let agents: Vec<Rc<Agent>> = hosts
        .iter()
        .filter_map(|h| match &*h.state.borrow() {
            State::Up(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    let closing: Vec<_> = agents
        .into_iter()
        .map(|a| rt.executor.spawn(async move { a.close().await }))
        .collect();
    for c in closing {
        c.await;
    }
    let masters: Vec<Ssh> = hosts
        .iter()
        .filter_map(|h| h.master.borrow_mut().take())
        .collect();
    let stopping: Vec<_> = masters
        .into_iter()
        .map(|mut m| {
            m.group.signal(rustix::process::Signal::TERM);
            rt.executor.spawn(async move {
                m.finish(Duration::from_secs(1)).await;
            })
        })
        .collect();
    for s in stopping {
        s.await;
    }
    if let Some(dir) = REGISTRY.with_borrow_mut(|r| r.control_dir.take()) {
        let _ = std::fs::remove_dir_all(dir);
    }
}
