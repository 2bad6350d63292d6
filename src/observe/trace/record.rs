//! The loop's side of `--trace`: each event becomes a small owned record,
//! appended to a batch that a thread of its own turns into the trace
//! ([`super::Trace`]: lanes, JSON, the file). So the loop pays for a clock
//! reading and a copy per event, not for the lane bookkeeping, the
//! formatting or the writing (W3's 100,000 tasks made 400,000 events).
//!
//! What only the loop's thread can do is done here: task names and
//! `FILE:LINE`s are interned (sent once, then named by number), a
//! command's argv is formatted, and an error becomes its text.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc;

use super::{FastMap, Trace, json};
use crate::observe::{Ended, Event, Exit, GroupKind, Observer, Origin, Owner};
use crate::vm::error::Location;

/// Records sent to the trace's thread at a time.
const BATCH: usize = 4096;

/// How a task, a `timeout` or a `gather` ended, as the trace writes it.
pub(super) enum Outcome {
    Ok,
    Exit(i32),
    /// `class`: `failed`, `cancelled`, `timeout`; `text`: `Kind: message`.
    Error {
        class: &'static str,
        text: Box<str>,
    },
}

impl Outcome {
    fn of(ended: &Ended<'_>) -> Outcome {
        match ended {
            Ended::Value(_) => Outcome::Ok,
            Ended::Exit(code) => Outcome::Exit(*code),
            Ended::Error(e) => Outcome::Error {
                class: crate::observe::outcome(ended),
                text: format!("{}: {}", e.kind.name(), e.message).into(),
            },
        }
    }
}

/// How a command ended.
pub(super) enum CommandExit {
    Code(i32),
    Signal(i32),
    NotStarted { status: i32, message: Box<str> },
    Killed,
}

/// A command about to start: its span's name and `args` as JSON.
pub(super) struct CommandStart {
    pub at: u64,
    pub id: u64,
    pub owner: Owner,
    pub name: Vec<u8>,
    pub args: Vec<u8>,
}

/// One event, owned (see the module doc). `at`: nanoseconds of the clock.
pub(super) enum Rec {
    /// String `id` of the tables (a task name or a `FILE:LINE`), as JSON.
    Str {
        id: u32,
        json: Box<[u8]>,
    },
    TaskStart {
        at: u64,
        task: u64,
        owner: Owner,
        parent: Option<Owner>,
        origin: Origin,
        name: u32,
        site: Option<u32>,
    },
    TaskEnd {
        at: u64,
        task: u64,
        end: Outcome,
    },
    Command(Box<CommandStart>),
    CommandSpawned {
        at: u64,
        id: u64,
        pid: i32,
        pgid: i32,
    },
    CommandEnd {
        at: u64,
        id: u64,
        exit: CommandExit,
    },
    SleepStart {
        at: u64,
        owner: Owner,
        seconds: f64,
    },
    SleepEnd {
        at: u64,
        owner: Owner,
        completed: bool,
    },
    TimeoutStart {
        at: u64,
        owner: Owner,
        scope: u64,
        seconds: f64,
        site: Option<u32>,
    },
    TimeoutEnd {
        at: u64,
        scope: u64,
        end: Outcome,
    },
    TimeoutExpired {
        at: u64,
        scope: u64,
    },
    GroupStart {
        at: u64,
        id: u64,
        owner: Owner,
        kind: GroupKind,
        branches: usize,
        limit: Option<usize>,
        site: Option<u32>,
    },
    GroupEnd {
        at: u64,
        id: u64,
        end: Outcome,
    },
    Cancel {
        at: u64,
        task: u64,
        reason: &'static str,
    },
    SignalSent {
        at: u64,
        pid: i32,
        group: bool,
        signal: i32,
    },
    SignalReceived {
        at: u64,
        signal: i32,
    },
    /// The run is over: close what is open and finish the file.
    Finish {
        at: u64,
    },
}

/// The arrow id of command `id` of process `pid` (a nested ash it starts
/// draws its arrow with it): the pid above the command's number, with the
/// top bit of the low half set so it never meets a task arrow's id.
pub(super) fn command_flow(pid: u32, id: u64) -> u64 {
    (u64::from(pid) << 32) | 0x8000_0000 | (id & 0x7fff_ffff)
}

/// Where records go: a thread running the [`Trace`], or (when no thread
/// could be started) the trace itself, here.
enum To {
    Thread {
        tx: mpsc::Sender<Vec<Rec>>,
        recycled: mpsc::Receiver<Vec<Rec>>,
        handle: std::thread::JoinHandle<Vec<String>>,
    },
    Here(Box<Trace>),
    Done,
}

/// The `--trace` observer (see the module doc).
pub struct Recorder {
    to: To,
    batch: Vec<Rec>,
    pid: u32,
    names: HashMap<Box<str>, u32>,
    sites: FastMap<(u32, u32), u32>,
    next_string: u32,
    /// What programs get to join the trace: `ASH_TRACE_DIR`, the limit,
    /// the trace id (none when nested ashes cannot join).
    dir: Option<OsString>,
    limit: u64,
    trace_id: String,
}

impl Recorder {
    pub(super) fn start(trace: Trace) -> Recorder {
        let pid = trace.pid;
        let dir = trace.parts_dir().map(|d| d.as_os_str().to_owned());
        let limit = trace.limit();
        let trace_id = trace.trace_id.clone();
        let (tx, rx) = mpsc::channel::<Vec<Rec>>();
        let (give_back, recycled) = mpsc::channel::<Vec<Rec>>();
        // Shared until the thread takes it, so that if no thread can be
        // started the trace is still here to run on the loop.
        let shared = std::sync::Arc::new(std::sync::Mutex::new(Some(trace)));
        let theirs = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("ash-trace".into())
            .spawn(move || {
                let taken = theirs.lock().ok().and_then(|mut t| t.take());
                let Some(mut trace) = taken else {
                    return Vec::new();
                };
                for mut batch in rx {
                    for rec in batch.drain(..) {
                        trace.record(rec);
                    }
                    let _ = give_back.send(batch);
                }
                trace.take_warnings()
            });
        let to = match spawned {
            Ok(handle) => To::Thread {
                tx,
                recycled,
                handle,
            },
            // No thread (a tight `ulimit -u`): the trace runs on the loop.
            Err(_) => match shared.lock().ok().and_then(|mut t| t.take()) {
                Some(trace) => To::Here(Box::new(trace)),
                None => To::Done,
            },
        };
        Recorder {
            to,
            batch: Vec::with_capacity(BATCH),
            pid,
            names: HashMap::new(),
            sites: FastMap::default(),
            next_string: 0,
            dir,
            limit,
            trace_id,
        }
    }

    fn push(&mut self, rec: Rec) {
        match &mut self.to {
            To::Here(trace) => trace.record(rec),
            To::Done => {}
            To::Thread { tx, recycled, .. } => {
                self.batch.push(rec);
                if self.batch.len() >= BATCH {
                    let next = recycled
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                    let full = std::mem::replace(&mut self.batch, next);
                    let _ = tx.send(full);
                }
            }
        }
    }

    fn name(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.names.get(name) {
            return id;
        }
        let id = self.new_string(name.as_bytes());
        self.names.insert(name.into(), id);
        id
    }

    fn site(&mut self, site: Option<&Location>) -> Option<u32> {
        let loc = site?;
        let key = (loc.source, loc.span.start);
        if let Some(&id) = self.sites.get(&key) {
            return Some(id);
        }
        let id = self.new_string(crate::observe::file_line(loc).as_bytes());
        self.sites.insert(key, id);
        Some(id)
    }

    fn new_string(&mut self, text: &[u8]) -> u32 {
        let id = self.next_string;
        self.next_string += 1;
        let mut s = Vec::new();
        json::string(&mut s, text);
        self.push(Rec::Str {
            id,
            json: s.into_boxed_slice(),
        });
        id
    }
}

impl Observer for Recorder {
    fn event(&mut self, at: u64, event: &Event<'_>) {
        let rec = match *event {
            Event::TaskStart {
                task,
                owner,
                parent,
                origin,
                name,
                site,
                ..
            } => {
                let name = match origin {
                    Origin::Main => self.name("main"),
                    _ => self.name(name),
                };
                let site = self.site(site);
                Rec::TaskStart {
                    at,
                    task,
                    owner,
                    parent,
                    origin,
                    name,
                    site,
                }
            }
            Event::TaskEnd { task, ended, .. } => Rec::TaskEnd {
                at,
                task,
                end: Outcome::of(&ended),
            },
            Event::CommandStart {
                id,
                owner,
                argv,
                cwd,
                site,
            } => Rec::Command(Box::new(command_start(at, id, owner, argv, cwd, site))),
            Event::CommandSpawned { id, pid, pgid } => Rec::CommandSpawned { at, id, pid, pgid },
            Event::CommandEnd { id, exit } => Rec::CommandEnd {
                at,
                id,
                exit: match exit {
                    Exit::Code(c) => CommandExit::Code(c),
                    Exit::Signal(s) => CommandExit::Signal(s),
                    Exit::NotStarted { status, message } => CommandExit::NotStarted {
                        status,
                        message: message.into(),
                    },
                    Exit::Killed => CommandExit::Killed,
                },
            },
            Event::SleepStart { owner, seconds } => Rec::SleepStart { at, owner, seconds },
            Event::SleepEnd { owner, completed } => Rec::SleepEnd {
                at,
                owner,
                completed,
            },
            Event::TimeoutStart {
                owner,
                scope,
                seconds,
                site,
            } => {
                let site = self.site(site);
                Rec::TimeoutStart {
                    at,
                    owner,
                    scope,
                    seconds,
                    site,
                }
            }
            Event::TimeoutEnd { scope, ended, .. } => Rec::TimeoutEnd {
                at,
                scope,
                end: Outcome::of(&ended),
            },
            Event::TimeoutExpired { scope } => Rec::TimeoutExpired { at, scope },
            Event::GroupStart {
                id,
                owner,
                kind,
                branches,
                limit,
                site,
            } => {
                let site = self.site(site);
                Rec::GroupStart {
                    at,
                    id,
                    owner,
                    kind,
                    branches,
                    limit,
                    site,
                }
            }
            Event::GroupEnd { id, ended } => Rec::GroupEnd {
                at,
                id,
                end: Outcome::of(&ended),
            },
            Event::CancelRequested { task, reason } => Rec::Cancel { at, task, reason },
            Event::SignalSent { pid, group, signal } => Rec::SignalSent {
                at,
                pid,
                group,
                signal,
            },
            Event::SignalReceived { signal } => Rec::SignalReceived { at, signal },
        };
        self.push(rec);
    }

    fn child_env(&mut self, command: u64, env: &mut Vec<(OsString, OsString)>) {
        let Some(dir) = &self.dir else {
            return;
        };
        let flow = command_flow(self.pid, command);
        env.push((super::DIR_VAR.into(), dir.clone()));
        env.push((
            super::FROM_VAR.into(),
            format!("{}:{flow:x}", self.pid).into(),
        ));
        env.push((super::LIMIT_VAR.into(), self.limit.to_string().into()));
        env.push((
            super::TRACEPARENT_VAR.into(),
            format!("00-{}-{flow:016x}-01", self.trace_id).into(),
        ));
    }

    fn finish(&mut self, at: u64) {
        self.push(Rec::Finish { at });
        let warnings = match std::mem::replace(&mut self.to, To::Done) {
            To::Thread { tx, handle, .. } => {
                let _ = tx.send(std::mem::take(&mut self.batch));
                drop(tx);
                handle
                    .join()
                    .unwrap_or_else(|_| vec!["the trace writer stopped".to_string()])
            }
            To::Here(mut trace) => trace.take_warnings(),
            To::Done => Vec::new(),
        };
        for w in warnings {
            crate::diag::warn(&w);
        }
    }
}

/// A command's span name (its line, cut at 80 bytes) and `args` as JSON.
fn command_start(
    at: u64,
    id: u64,
    owner: Owner,
    argv: &[OsString],
    cwd: &Path,
    site: Option<&Location>,
) -> CommandStart {
    let mut name = Vec::new();
    let mut label = Vec::new();
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            label.push(b' ');
        }
        label.extend_from_slice(a.as_bytes());
        if label.len() > 80 {
            break;
        }
    }
    if label.len() > 80 {
        let mut cut = 77;
        while cut > 0 && (label[cut] & 0xc0) == 0x80 {
            cut -= 1;
        }
        label.truncate(cut);
        label.extend_from_slice("…".as_bytes());
    }
    json::string(&mut name, &label);
    let mut args = Vec::new();
    args.extend_from_slice(b"\"argv\":[");
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            args.push(b',');
        }
        json::string(&mut args, a.as_bytes());
    }
    args.extend_from_slice(b"],\"cwd\":");
    json::string(&mut args, cwd.as_os_str().as_bytes());
    if let Some(loc) = site {
        args.extend_from_slice(b",\"location\":");
        json::string(&mut args, crate::observe::file_line(loc).as_bytes());
    }
    CommandStart {
        at,
        id,
        owner,
        name,
        args,
    }
}
