//! The loop's side of `--trace`: each event becomes a small fixed-size
//! record ([`Rec`]: plain data, 64 bytes at most, no heap), appended to a
//! preallocated batch that a thread of its own turns into the trace
//! ([`super::Trace`]: lanes, JSON, the file). So the loop pays for a clock
//! reading and a copy per event, not for the lane bookkeeping, the
//! formatting or the writing (W3's 100,000 tasks made 400,000 events).
//!
//! What only the loop's thread can do is done here: task names and
//! `FILE:LINE`s are interned (sent once, then named by number; a name is
//! found by its address first, so a task costs no string hashing), and the
//! few variable-length parts (a command's argv, an error's text) are
//! written into the batch's byte buffer, which a record points into.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc;

use super::{FastMap, Trace, json};
use crate::observe::{Ended, Event, Exit, GroupKind, Observer, Origin, Owner};
use crate::vm::error::Location;

/// Records sent to the trace's thread at a time.
const BATCH: usize = 4096;

/// No string (a task without a site).
pub(super) const NONE: u32 = u32::MAX;

/// Bytes of a batch's buffer: `len` bytes from `off`.
#[derive(Clone, Copy)]
pub(super) struct Text {
    off: u32,
    len: u32,
}

impl Text {
    pub(super) fn of(self, bytes: &[u8]) -> &[u8] {
        let start = self.off as usize;
        bytes.get(start..start + self.len as usize).unwrap_or(b"")
    }
}

/// Records and the bytes they point into, sent to the trace's thread
/// together and given back empty to be filled again.
#[derive(Default)]
pub(super) struct Batch {
    pub recs: Vec<Rec>,
    pub bytes: Vec<u8>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            recs: Vec::with_capacity(BATCH),
            bytes: Vec::with_capacity(BATCH * 8),
        }
    }

    /// Append what `f` writes to the byte buffer.
    fn text(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> Text {
        let off = self.bytes.len();
        f(&mut self.bytes);
        Text {
            off: off as u32,
            len: (self.bytes.len() - off) as u32,
        }
    }
}

/// How a task, a `timeout` or a `gather` ended, as the trace writes it.
#[derive(Clone, Copy)]
pub(super) enum Outcome {
    Ok,
    Exit(i32),
    /// `class`: `failed`, `cancelled`, `timeout`; `text`: `Kind: message`.
    Error {
        class: &'static str,
        text: Text,
    },
}

/// How a command ended.
#[derive(Clone, Copy)]
pub(super) enum CommandExit {
    Code(i32),
    Signal(i32),
    NotStarted { status: i32, message: Text },
    Killed,
}

/// How a task was started (an [`Origin`] without the branch's index).
#[derive(Clone, Copy)]
pub(super) enum Started {
    Main,
    Spawn,
    Branch { group: u64 },
}

/// One event, as plain data (see the module doc). `at`: nanoseconds of
/// the clock; a string is a number of the tables ([`NONE`]: none); a
/// parent of 0 is none.
#[derive(Clone, Copy)]
pub(super) enum Rec {
    /// String `id` of the tables (a task name or a `FILE:LINE`), as JSON.
    Str {
        id: u32,
        json: Text,
    },
    TaskStart {
        at: u64,
        task: u64,
        owner: Owner,
        parent: Owner,
        started: Started,
        name: u32,
        site: u32,
    },
    TaskEnd {
        at: u64,
        task: u64,
        end: Outcome,
    },
    /// A command about to start: its span's name and `args` as JSON.
    CommandStart {
        at: u64,
        id: u64,
        owner: Owner,
        name: Text,
        args: Text,
    },
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
        site: u32,
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
        branches: u32,
        limit: u32,
        site: u32,
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
        tx: mpsc::Sender<Batch>,
        recycled: mpsc::Receiver<Batch>,
        handle: std::thread::JoinHandle<Vec<String>>,
    },
    Here(Box<Trace>),
    Done,
}

/// The `--trace` observer (see the module doc).
pub struct Recorder {
    to: To,
    batch: Batch,
    pid: u32,
    /// Task names by their text, and by their address and length (the
    /// fast way: a coroutine's name is found again at the same address;
    /// the text is compared, as the address may be reused).
    names: HashMap<Box<str>, u32>,
    names_at: FastMap<(usize, usize), u32>,
    texts: Vec<Box<str>>,
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
        let (tx, rx) = mpsc::channel::<Batch>();
        let (give_back, recycled) = mpsc::channel::<Batch>();
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
                    for &rec in &batch.recs {
                        trace.record(rec, &batch.bytes);
                    }
                    batch.recs.clear();
                    batch.bytes.clear();
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
            batch: Batch::new(),
            pid,
            names: HashMap::new(),
            names_at: FastMap::default(),
            texts: Vec::new(),
            sites: FastMap::default(),
            next_string: 0,
            dir,
            limit,
            trace_id,
        }
    }

    /// Append a record; a full batch goes to the trace's thread, and one
    /// it gave back (else a new one) is filled next.
    fn push(&mut self, rec: Rec) {
        self.batch.recs.push(rec);
        if self.batch.recs.len() >= BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        match &mut self.to {
            To::Thread { tx, recycled, .. } => {
                let next = recycled.try_recv().unwrap_or_else(|_| Batch::new());
                let full = std::mem::replace(&mut self.batch, next);
                let _ = tx.send(full);
            }
            To::Here(trace) => {
                for &rec in &self.batch.recs {
                    trace.record(rec, &self.batch.bytes);
                }
                self.batch.recs.clear();
                self.batch.bytes.clear();
            }
            To::Done => {
                self.batch.recs.clear();
                self.batch.bytes.clear();
            }
        }
    }

    fn name(&mut self, name: &str) -> u32 {
        let at = (name.as_ptr().addr(), name.len());
        if let Some(&id) = self.names_at.get(&at)
            && self.texts.get(id as usize).is_some_and(|t| **t == *name)
        {
            return id;
        }
        let id = match self.names.get(name) {
            Some(&id) => id,
            None => {
                let id = self.new_string(name.as_bytes());
                self.names.insert(name.into(), id);
                id
            }
        };
        self.names_at.insert(at, id);
        id
    }

    fn site(&mut self, site: Option<&Location>) -> u32 {
        let Some(loc) = site else {
            return NONE;
        };
        let key = (loc.source, loc.span.start);
        if let Some(&id) = self.sites.get(&key) {
            return id;
        }
        let id = self.new_string(crate::observe::file_line(loc).as_bytes());
        self.sites.insert(key, id);
        id
    }

    fn new_string(&mut self, text: &[u8]) -> u32 {
        let id = self.next_string;
        self.next_string += 1;
        let index = id as usize;
        if self.texts.len() <= index {
            self.texts.resize_with(index + 1, Default::default);
        }
        self.texts[index] = String::from_utf8_lossy(text).into();
        let json = self.batch.text(|o| json::string(o, text));
        self.push(Rec::Str { id, json });
        id
    }

    fn outcome(&mut self, ended: &Ended<'_>) -> Outcome {
        match ended {
            Ended::Value(_) => Outcome::Ok,
            Ended::Exit(code) => Outcome::Exit(*code),
            Ended::Error(e) => Outcome::Error {
                class: crate::observe::outcome(ended),
                text: self.batch.text(|o| {
                    let _ = write!(o, "{}: {}", e.kind.name(), e.message);
                }),
            },
        }
    }
}

/// A count as a record keeps it (`u32::MAX - 1` at most; [`NONE`]: none).
fn count(n: Option<usize>) -> u32 {
    n.map_or(NONE, |n| u32::try_from(n).unwrap_or(NONE - 1).min(NONE - 1))
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
                let (name, started) = match origin {
                    Origin::Main => (self.name("main"), Started::Main),
                    Origin::Spawn => (self.name(name), Started::Spawn),
                    Origin::Branch { group, .. } => (self.name(name), Started::Branch { group }),
                };
                Rec::TaskStart {
                    at,
                    task,
                    owner,
                    parent: parent.unwrap_or(0),
                    started,
                    name,
                    site: self.site(site),
                }
            }
            Event::TaskEnd { task, ended, .. } => Rec::TaskEnd {
                at,
                task,
                end: self.outcome(&ended),
            },
            Event::CommandStart {
                id,
                owner,
                argv,
                cwd,
                site,
            } => {
                let name = self.batch.text(|o| command_name(o, argv));
                let args = self.batch.text(|o| command_args(o, argv, cwd, site));
                Rec::CommandStart {
                    at,
                    id,
                    owner,
                    name,
                    args,
                }
            }
            Event::CommandSpawned { id, pid, pgid } => Rec::CommandSpawned { at, id, pid, pgid },
            Event::CommandEnd { id, exit } => Rec::CommandEnd {
                at,
                id,
                exit: match exit {
                    Exit::Code(c) => CommandExit::Code(c),
                    Exit::Signal(s) => CommandExit::Signal(s),
                    Exit::NotStarted { status, message } => CommandExit::NotStarted {
                        status,
                        message: self.batch.text(|o| o.extend_from_slice(message.as_bytes())),
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
            } => Rec::TimeoutStart {
                at,
                owner,
                scope,
                seconds,
                site: self.site(site),
            },
            Event::TimeoutEnd { scope, ended, .. } => Rec::TimeoutEnd {
                at,
                scope,
                end: self.outcome(&ended),
            },
            Event::TimeoutExpired { scope } => Rec::TimeoutExpired { at, scope },
            Event::GroupStart {
                id,
                owner,
                kind,
                branches,
                limit,
                site,
            } => Rec::GroupStart {
                at,
                id,
                owner,
                kind,
                branches: count(Some(branches)),
                limit: count(limit),
                site: self.site(site),
            },
            Event::GroupEnd { id, ended } => Rec::GroupEnd {
                at,
                id,
                end: self.outcome(&ended),
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
        self.send();
        let warnings = match std::mem::replace(&mut self.to, To::Done) {
            To::Thread {
                tx,
                recycled,
                handle,
            } => {
                drop(tx);
                let warnings = handle
                    .join()
                    .unwrap_or_else(|_| vec!["the trace writer stopped".to_string()]);
                // The batches are left to the process's end, which is
                // near: freeing one (a big block) made glibc consolidate
                // the whole heap, 100,000 freed tasks of W3's included.
                std::mem::forget(recycled);
                std::mem::forget(std::mem::take(&mut self.batch));
                warnings
            }
            To::Here(mut trace) => trace.take_warnings(),
            To::Done => Vec::new(),
        };
        for w in warnings {
            crate::diag::warn(&w);
        }
    }
}

/// A command's span name: its line, cut at 80 bytes, as JSON.
fn command_name(o: &mut Vec<u8>, argv: &[OsString]) {
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
    json::string(o, &label);
}

/// A command's `args` as JSON: `"argv":[...],"cwd":...,"location":...`.
fn command_args(o: &mut Vec<u8>, argv: &[OsString], cwd: &Path, site: Option<&Location>) {
    o.extend_from_slice(b"\"argv\":[");
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        json::string(o, a.as_bytes());
    }
    o.extend_from_slice(b"],\"cwd\":");
    json::string(o, cwd.as_os_str().as_bytes());
    if let Some(loc) = site {
        o.extend_from_slice(b",\"location\":");
        json::string(o, crate::observe::file_line(loc).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record is a copy of 64 bytes at most: the loop writes 4 per task.
    #[test]
    fn a_record_is_small() {
        assert!(
            std::mem::size_of::<Rec>() <= 64,
            "{}",
            std::mem::size_of::<Rec>()
        );
    }
}
