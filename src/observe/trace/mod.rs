//! `ash --trace FILE`: what ran, as Chrome Trace Event JSON, which
//! Perfetto (ui.perfetto.dev) and chrome://tracing open as they are.
//!
//! The file is `{"traceEvents":[` then one event per line, written as the
//! run goes: a complete span (`"ph":"X"`) when a task, command, `sleep`,
//! `timeout`, `gather` or `race` ends; instants (`"i"`) for cancellations,
//! expired timeouts and signals; flow arrows (`"s"`/`"f"`) from a `spawn`
//! or `gather` to the task it started; a counter (`"C"`) of running
//! processes; lane names (`"M"`). [`Trace::finish`] (on every way out of
//! a run) closes what is still open and writes `]}`.
//!
//! **Lanes.** Each span goes on a lane (`tid`). Spans on one lane must nest
//! (Perfetto drops a span that partly overlaps another), so a task's spans
//! go on its *home* lane, on top of the innermost open container (the
//! task, a `timeout`, a `gather`), and anything that could overlap the
//! top (a second stage of a pipeline while the first runs) gets a lane of
//! its own; a lane is reused, lowest first, once nothing is open on it (as
//! ninjatracing and nextest do). The clock is strictly increasing, so a
//! span opened after another starts strictly inside it.
//!
//! **Size.** Every event is one line of 60 to 300 bytes (a task with a
//! `sleep`: about 400 bytes in all, its lane included); past the limit
//! (`--trace-limit`, 512 MiB by default) later events are left out, counted,
//! noted in the trace and reported on stderr.
//!
//! **Writing.** The loop's thread only turns each event into a small
//! record ([`record`]); a thread of its own runs this state machine and
//! formats the events into 256 KiB chunks that a writer thread writes, so
//! neither the bookkeeping nor a slow disk holds the loop.
//!
//! **Nested ash.** A traced ash gives every program it starts
//! `ASH_TRACE_DIR` (a private directory), `ASH_TRACE_FROM` (its pid and
//! the arrow id of the command) and a W3C `TRACEPARENT`. An ash started
//! with `ASH_TRACE_DIR` (directly, through `sh -c`, at any depth) writes
//! its own events, under its own pid, to a file of its own there, one
//! object per line, ends the arrow at its main task, and leaves a marker
//! file named by the arrow id: when the command's span closes, the ash
//! that ran it sees the marker and starts the arrow there. The ash that
//! owns the trace appends every complete line of those files at its end.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::io::{self, BufRead, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

mod record;

pub use record::Recorder;
use record::{CommandExit, NONE, Outcome, Rec, Started, command_flow};

use super::json;
use super::{GroupKind, Owner};
use crate::vm::walk::AddrHasher;

/// The span tables are looked up several times per event: one multiply
/// per key, not SipHash.
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<AddrHasher>>;

/// The default limit on a trace's size.
pub const DEFAULT_LIMIT: u64 = 512 << 20;

/// The variables a traced ash gives its programs.
pub const DIR_VAR: &str = "ASH_TRACE_DIR";
pub const FROM_VAR: &str = "ASH_TRACE_FROM";
pub const LIMIT_VAR: &str = "ASH_TRACE_LIMIT";
pub const TRACEPARENT_VAR: &str = "TRACEPARENT";

/// How much is formatted before the writer thread gets it.
const CHUNK: usize = 256 * 1024;

/// A span being timed, until it ends.
struct Open {
    key: Key,
    owner: Owner,
    start: u64,
    /// A command or a `sleep`: nothing nests inside it.
    leaf: bool,
    what: What,
}

/// Which span: how its end finds it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Key {
    Task(u64),
    Command(u64),
    Group(u64),
    Timeout(u64),
    Sleep(Owner),
}

enum What {
    Task {
        id: u64,
        name: u32,
        site: Option<u32>,
    },
    Command {
        /// The span's name, as JSON.
        name: Vec<u8>,
        /// `"argv":[...],"cwd":...,"location":...` as JSON.
        args: Vec<u8>,
        pid: i32,
        pgid: i32,
    },
    Sleep {
        seconds: f64,
    },
    Timeout {
        seconds: f64,
        site: Option<u32>,
    },
    Group {
        kind: GroupKind,
        branches: u32,
        limit: Option<u32>,
        site: Option<u32>,
    },
}

/// `,"pid":P,"tid":` of this process's events, formatted once.
#[derive(Clone, Copy)]
struct PidTid {
    bytes: [u8; 32],
    len: usize,
}

impl PidTid {
    fn new(pid: u32) -> PidTid {
        let mut text = Vec::with_capacity(32);
        text.extend_from_slice(b",\"pid\":");
        json::uint(&mut text, pid.into());
        text.extend_from_slice(b",\"tid\":");
        let mut bytes = [0u8; 32];
        bytes[..text.len()].copy_from_slice(&text);
        PidTid {
            bytes,
            len: text.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The arrow to a nested ash's main task (`ASH_TRACE_FROM`): its id.
struct From {
    flow: u64,
}

/// The trace of this process: the whole file (the first ash) or a part
/// of it (a nested one).
pub struct Trace {
    sink: Sink,
    pub(super) pid: u32,
    pid_tid: PidTid,
    /// Per lane (lane N at index N-1), the spans open on it, innermost last.
    lanes: Vec<Vec<Open>>,
    free: BinaryHeap<Reverse<u32>>,
    /// The lane of every open span.
    open: FastMap<Key, u32>,
    /// Each owner's home lane, while it has spans open there.
    homes: FastMap<Owner, u32>,
    /// JSON strings used again and again (task names, `FILE:LINE`s), by
    /// the number the recorder gave them.
    strings: Vec<Box<[u8]>>,
    /// Process groups of running commands, for signal instants.
    pgids: FastMap<i32, u64>,
    running: u32,
    next_flow: u64,
    pub(super) trace_id: String,
    /// The first ash: the file's path, and the directory nested ones write to.
    root: Option<(PathBuf, PathBuf)>,
    /// A nested ash: its directory, and where its arrow starts.
    nested_dir: Option<PathBuf>,
    from: Option<From>,
    title: String,
    /// What to tell the user at the end (said on the loop's thread).
    warnings: Vec<String>,
}

impl Trace {
    /// The trace of a run, written to `path` (created or truncated now:
    /// an error here is a usage error, before anything runs). `title`
    /// names the process (`ash build.ash`).
    pub fn create(path: &Path, limit: u64, title: &str) -> io::Result<Recorder> {
        Trace::create_file(path, limit, title).map(Recorder::start)
    }

    /// The part of an ash started below a traced one (`ASH_TRACE_DIR` is
    /// set), if its directory is there.
    pub fn nested(title: &str) -> Option<Recorder> {
        Trace::nested_part(title).map(Recorder::start)
    }

    fn create_file(path: &Path, limit: u64, title: &str) -> io::Result<Trace> {
        // Written over in place and cut to its length at the end
        // ([`Trace::close_file`]), not truncated now: on ext4, a file
        // truncated to nothing and written again is flushed to disk when
        // it is closed (its `auto_da_alloc` guard), which made a run that
        // replaced a 60 MB trace take a few hundred ms longer.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let pid = std::process::id();
        let parts = std::env::temp_dir().join(format!("ash-trace-{pid}-{:08x}", fastrand::u32(..)));
        // Without it nested ashes cannot add their events (a warning at
        // the end says so if any tried; nothing else is lost).
        let parts_made = std::fs::DirBuilder::new()
            .mode_private()
            .create(&parts)
            .is_ok();
        let trace_id = inherited_trace_id().unwrap_or_else(new_trace_id);
        let mut trace = Trace::new(Sink::new(file, limit, false), pid, trace_id, title);
        let parts = if parts_made { parts } else { PathBuf::new() };
        trace.root = Some((path.to_path_buf(), parts));
        trace.sink.raw(b"{\"traceEvents\":[\n");
        trace.process_name(true);
        Ok(trace)
    }

    fn nested_part(title: &str) -> Option<Trace> {
        let dir = PathBuf::from(std::env::var_os(DIR_VAR)?);
        if !dir.is_absolute() || !dir.is_dir() {
            return None;
        }
        let pid = std::process::id();
        let path = dir.join(format!("{pid}-{:08x}.part", fastrand::u32(..)));
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .ok()?;
        let limit = std::env::var(LIMIT_VAR)
            .ok()
            .and_then(|l| l.parse().ok())
            .unwrap_or(DEFAULT_LIMIT);
        let trace_id = inherited_trace_id().unwrap_or_else(new_trace_id);
        let mut trace = Trace::new(Sink::new(file, limit, true), pid, trace_id, title);
        trace.from = std::env::var(FROM_VAR).ok().and_then(|v| parse_from(&v));
        if let Some(from) = &trace.from {
            // The marker that tells the ash that ran the command to start
            // the arrow (see the module doc).
            let _ = File::create(dir.join(format!("{:x}.link", from.flow)));
        }
        trace.nested_dir = Some(dir);
        trace.process_name(false);
        Some(trace)
    }

    fn new(sink: Sink, pid: u32, trace_id: String, title: &str) -> Trace {
        Trace {
            sink,
            pid,
            pid_tid: PidTid::new(pid),
            lanes: Vec::new(),
            free: BinaryHeap::new(),
            open: FastMap::default(),
            homes: FastMap::default(),
            strings: Vec::new(),
            pgids: FastMap::default(),
            running: 0,
            next_flow: 1,
            trace_id,
            root: None,
            nested_dir: None,
            from: None,
            title: title.to_string(),
            warnings: Vec::new(),
        }
    }

    /// The directory nested ashes write their parts to.
    fn parts_dir(&self) -> Option<&Path> {
        match (&self.root, &self.nested_dir) {
            (Some((_, parts)), _) if !parts.as_os_str().is_empty() => Some(parts),
            (_, Some(dir)) => Some(dir),
            _ => None,
        }
    }

    fn limit(&self) -> u64 {
        self.sink.limit
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn process_name(&mut self, first: bool) {
        let (pid, title) = (self.pid, self.title.clone());
        let write = |o: &mut Vec<u8>| {
            o.extend_from_slice(b"{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":");
            json::uint(o, pid.into());
            o.extend_from_slice(b",\"args\":{\"name\":");
            json::string(o, title.as_bytes());
            o.extend_from_slice(b"}}");
        };
        if first {
            // The first event of the file: no separator before it.
            let mut o = Vec::new();
            write(&mut o);
            self.sink.raw(&o);
        } else {
            self.sink.event(write);
        }
    }

    // ---------------------------------------------------------------- lanes

    /// A lane nobody uses: the lowest free one, else a new one (named).
    fn take_lane(&mut self) -> u32 {
        if let Some(Reverse(lane)) = self.free.pop() {
            return lane;
        }
        self.lanes.push(Vec::new());
        let lane = self.lanes.len() as u32;
        let pid = self.pid;
        self.sink.event(|o| {
            o.extend_from_slice(b"{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":");
            json::uint(o, pid.into());
            o.extend_from_slice(b",\"tid\":");
            json::uint(o, lane.into());
            o.extend_from_slice(b",\"args\":{\"name\":\"");
            if lane == 1 {
                o.extend_from_slice(b"main");
            } else {
                o.extend_from_slice(b"lane ");
                json::uint(o, lane.into());
            }
            o.extend_from_slice(b"\"}}");
        });
        lane
    }

    fn stack(&mut self, lane: u32) -> &mut Vec<Open> {
        let i = (lane as usize).saturating_sub(1);
        if i >= self.lanes.len() {
            self.lanes.resize_with(i + 1, Vec::new);
        }
        &mut self.lanes[i]
    }

    /// Open a span of `owner`: on its home lane if that lane's innermost
    /// span can hold it, else on a lane of its own.
    fn push(&mut self, open: Open) -> u32 {
        let home = self.homes.get(&open.owner).copied();
        let lane = match home {
            Some(lane) if self.stack(lane).last().is_none_or(|top| !top.leaf) => lane,
            Some(_) => self.take_lane(),
            None => {
                let lane = self.take_lane();
                self.homes.insert(open.owner, lane);
                lane
            }
        };
        self.open.insert(open.key, lane);
        self.stack(lane).push(open);
        lane
    }

    /// The lane a span is on.
    fn lane_of(&self, key: Key) -> Option<u32> {
        self.open.get(&key).copied()
    }

    /// Close span `key` at `at`: what is still open above it on its lane
    /// ends with it (`unfinished`), so the lane stays nested.
    fn close(&mut self, key: Key, at: u64, end: &End<'_>) {
        let Some(lane) = self.open.remove(&key) else {
            return;
        };
        while let Some(top) = self.stack(lane).pop() {
            if top.key == key {
                self.write_span(lane, &top, at, end);
                self.after_close(lane, &top);
                break;
            }
            self.open.remove(&top.key);
            self.write_span(lane, &top, at, &End::Unfinished);
            self.after_close(lane, &top);
        }
    }

    fn after_close(&mut self, lane: u32, span: &Open) {
        if let What::Command { pid, pgid, .. } = &span.what
            && *pid != 0
        {
            self.pgids.remove(pgid);
            self.running = self.running.saturating_sub(1);
        }
        if self.stack(lane).is_empty() {
            if self.homes.get(&span.owner) == Some(&lane) {
                self.homes.remove(&span.owner);
            }
            self.free.push(Reverse(lane));
        }
    }

    // ---------------------------------------------------------------- writing

    /// The start of an event on lane `lane`: `{"ph":PH,...,"ts":T,"pid":P,"tid":L`.
    fn head(o: &mut Vec<u8>, ph: &[u8], pid: &PidTid, lane: u32, ts: u64) {
        o.extend_from_slice(b"{\"ph\":\"");
        o.extend_from_slice(ph);
        o.extend_from_slice(b"\",\"ts\":");
        json::micros(o, ts);
        o.extend_from_slice(pid.bytes());
        json::uint(o, lane.into());
    }

    fn write_span(&mut self, lane: u32, span: &Open, at: u64, end: &End<'_>) {
        let pid = self.pid_tid;
        let strings = &self.strings;
        let string = |i: u32| strings.get(i as usize).map_or(&b"\"\""[..], |s| &s[..]);
        self.sink.event(|o| {
            Trace::head(o, b"X", &pid, lane, span.start);
            o.extend_from_slice(b",\"dur\":");
            json::micros(o, at.saturating_sub(span.start));
            match &span.what {
                What::Task { id, name, site } => {
                    o.extend_from_slice(b",\"cat\":\"task\",\"name\":");
                    o.extend_from_slice(string(*name));
                    o.extend_from_slice(b",\"args\":{\"task\":");
                    json::uint(o, *id);
                    if let Some(site) = site {
                        o.extend_from_slice(b",\"site\":");
                        o.extend_from_slice(string(*site));
                    }
                }
                What::Command {
                    name,
                    args,
                    pid,
                    pgid,
                } => {
                    o.extend_from_slice(b",\"cat\":\"command\",\"name\":");
                    o.extend_from_slice(name);
                    o.extend_from_slice(b",\"args\":{");
                    o.extend_from_slice(args);
                    if *pid != 0 {
                        o.extend_from_slice(b",\"pid\":");
                        json::int(o, (*pid).into());
                        o.extend_from_slice(b",\"pgid\":");
                        json::int(o, (*pgid).into());
                    }
                }
                What::Sleep { seconds } => {
                    o.extend_from_slice(
                        b",\"cat\":\"sleep\",\"name\":\"sleep\",\"args\":{\"seconds\":",
                    );
                    json::float(o, *seconds);
                }
                What::Timeout { seconds, site } => {
                    o.extend_from_slice(
                        b",\"cat\":\"timeout\",\"name\":\"timeout\",\"args\":{\"seconds\":",
                    );
                    json::float(o, *seconds);
                    if let Some(site) = site {
                        o.extend_from_slice(b",\"site\":");
                        o.extend_from_slice(string(*site));
                    }
                }
                What::Group {
                    kind,
                    branches,
                    limit,
                    site,
                } => {
                    o.extend_from_slice(match kind {
                        GroupKind::Gather => b",\"cat\":\"gather\",\"name\":\"gather\"",
                        GroupKind::Race => b",\"cat\":\"race\",\"name\":\"race\"",
                    });
                    o.extend_from_slice(b",\"args\":{\"branches\":");
                    json::uint(o, (*branches).into());
                    if let Some(limit) = limit {
                        o.extend_from_slice(b",\"limit\":");
                        json::uint(o, (*limit).into());
                    }
                    if let Some(site) = site {
                        o.extend_from_slice(b",\"site\":");
                        o.extend_from_slice(string(*site));
                    }
                }
            }
            end.write(o);
            o.extend_from_slice(b"}}");
        });
    }

    /// An instant on `lane` (or, without one, on the process).
    fn instant(&mut self, lane: Option<u32>, at: u64, cat: &[u8], name: &[u8], args: &[u8]) {
        let (pid, pid_tid) = (self.pid, self.pid_tid);
        self.sink.event(|o| {
            match lane {
                Some(lane) => {
                    Trace::head(o, b"i", &pid_tid, lane, at);
                    o.extend_from_slice(b",\"s\":\"t\"");
                }
                None => {
                    o.extend_from_slice(b"{\"ph\":\"i\",\"s\":\"p\",\"ts\":");
                    json::micros(o, at);
                    o.extend_from_slice(b",\"pid\":");
                    json::uint(o, pid.into());
                }
            }
            o.extend_from_slice(b",\"cat\":\"");
            o.extend_from_slice(cat);
            o.extend_from_slice(b"\",\"name\":");
            json::string(o, name);
            o.extend_from_slice(b",\"args\":{");
            o.extend_from_slice(args);
            o.extend_from_slice(b"}}");
        });
    }

    /// One end of an arrow: `s` (from) or `f` (to, bound to the span
    /// around it).
    fn flow(&mut self, ph: &[u8], lane: u32, at: u64, name: &[u8], id: u64) {
        let pid_tid = self.pid_tid;
        self.sink.event(|o| {
            Trace::head(o, ph, &pid_tid, lane, at);
            if ph == b"f" {
                o.extend_from_slice(b",\"bp\":\"e\"");
            }
            o.extend_from_slice(b",\"cat\":\"flow\",\"name\":\"");
            o.extend_from_slice(name);
            o.extend_from_slice(b"\",\"id\":\"");
            json::hex(o, id);
            o.extend_from_slice(b"\"}");
        });
    }

    /// An id for an arrow, unique in the whole trace (nested ashes
    /// included): the pid above a count (written in hex: Perfetto reads
    /// string ids as hex).
    fn flow_id(&mut self) -> u64 {
        let n = self.next_flow;
        self.next_flow += 1;
        (u64::from(self.pid) << 32) | (n & 0xffff_ffff)
    }

    fn counter(&mut self, at: u64) {
        let (pid, running) = (self.pid, self.running);
        self.sink.event(|o| {
            o.extend_from_slice(b"{\"ph\":\"C\",\"name\":\"processes\",\"ts\":");
            json::micros(o, at);
            o.extend_from_slice(b",\"pid\":");
            json::uint(o, pid.into());
            o.extend_from_slice(b",\"args\":{\"running\":");
            json::uint(o, running.into());
            o.extend_from_slice(b"}}");
        });
    }

    // ---------------------------------------------------------------- events

    /// A task starts (`event` is a `TaskStart`).
    /// A task starts (`name`, `site`: numbers of the string table).
    fn task_start(
        &mut self,
        at: u64,
        (task, owner, parent): (u64, Owner, Owner),
        started: Started,
        name: u32,
        site: Option<u32>,
    ) {
        let lane = self.push(Open {
            key: Key::Task(task),
            owner,
            start: at,
            leaf: false,
            what: What::Task {
                id: task,
                name,
                site,
            },
        });
        // The arrow from what started it, drawn from the innermost span
        // open there.
        let (from, flow_name): (Option<(u32, u64)>, &[u8]) = match started {
            Started::Spawn => (self.homes.get(&parent).map(|&l| (l, at)), b"spawn"),
            Started::Branch { group } => {
                (self.lane_of(Key::Group(group)).map(|l| (l, at)), b"branch")
            }
            // The arrow's start is written by the ash that ran the
            // command (see the module doc).
            Started::Main => {
                if let Some(f) = self.from.take() {
                    self.flow(b"f", lane, at + 1, b"ash", f.flow);
                }
                (None, b"ash")
            }
        };
        if let Some((from_lane, ts)) = from {
            let id = self.flow_id();
            self.flow(b"s", from_lane, ts, flow_name, id);
            self.flow(b"f", lane, at + 1, flow_name, id);
        }
    }

    fn command_spawned(&mut self, at: u64, id: u64, new_pid: i32, new_pgid: i32) {
        let Some(lane) = self.lane_of(Key::Command(id)) else {
            return;
        };
        let Some(open) = self
            .stack(lane)
            .iter_mut()
            .rev()
            .find(|o| o.key == Key::Command(id))
        else {
            return;
        };
        if let What::Command { pid, pgid, .. } = &mut open.what {
            *pid = new_pid;
            *pgid = new_pgid;
        }
        self.pgids.insert(new_pgid, id);
        self.running += 1;
        self.counter(at);
    }

    fn signal_sent(&mut self, at: u64, pid: i32, group: bool, signal: i32) {
        let lane = group
            .then(|| self.pgids.get(&pid).copied())
            .flatten()
            .and_then(|c| self.lane_of(Key::Command(c)));
        let name = super::signal_name(signal);
        let mut args = Vec::new();
        args.extend_from_slice(b"\"signal\":");
        json::string(&mut args, name.as_bytes());
        args.extend_from_slice(if group { b",\"pgid\":" } else { b",\"pid\":" });
        json::int(&mut args, pid.into());
        self.instant(lane, at, b"signal", name.as_bytes(), &args);
    }

    // ---------------------------------------------------------------- the end

    /// Close the file: the end of the JSON, the parts of nested ashes
    /// appended first (the first ash only).
    fn close_file(&mut self, at: u64) -> Result<(), String> {
        let sink = std::mem::replace(&mut self.sink, Sink::closed());
        let (file, dropped, written, limit, error) = sink.finish();
        if let Some(e) = error {
            return Err(e.to_string());
        }
        let Some(mut file) = file else {
            return Ok(());
        };
        let Some((path, parts)) = self.root.take() else {
            return Ok(());
        };
        let mut out = io::BufWriter::with_capacity(CHUNK, &mut file);
        let mut written = written;
        let mut dropped = dropped;
        let mut torn = 0;
        if !parts.as_os_str().is_empty() {
            merge_parts(
                &parts,
                &mut out,
                &mut written,
                limit,
                &mut dropped,
                &mut torn,
            )
            .map_err(|e| e.to_string())?;
        }
        let mut tail = Vec::new();
        if dropped > 0 {
            tail.extend_from_slice(b",\n{\"ph\":\"i\",\"s\":\"g\",\"ts\":");
            json::micros(&mut tail, at);
            tail.extend_from_slice(b",\"pid\":");
            json::uint(&mut tail, self.pid.into());
            tail.extend_from_slice(
                b",\"cat\":\"ash\",\"name\":\"trace limit reached\",\"args\":{\"dropped_events\":",
            );
            json::uint(&mut tail, dropped);
            tail.extend_from_slice(b",\"limit_bytes\":");
            json::uint(&mut tail, limit);
            tail.extend_from_slice(b"}}");
        }
        tail.extend_from_slice(b"\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"ash\":");
        json::string(&mut tail, env!("CARGO_PKG_VERSION").as_bytes());
        tail.extend_from_slice(b",\"trace_id\":");
        json::string(&mut tail, self.trace_id.as_bytes());
        tail.extend_from_slice(b",\"dropped_events\":");
        json::uint(&mut tail, dropped);
        tail.extend_from_slice(b"}}\n");
        out.write_all(&tail)
            .and_then(|()| out.flush())
            .map_err(|e| e.to_string())?;
        drop(out);
        // What is left of an earlier, longer file goes (see `create_file`).
        if file.metadata().is_ok_and(|m| m.is_file()) {
            let end = file.stream_position().map_err(|e| e.to_string())?;
            file.set_len(end).map_err(|e| e.to_string())?;
        }
        if dropped > 0 {
            self.warnings.push(format!(
                "the trace {} reached its size limit ({} bytes): {dropped} later events were left out (see --trace-limit)",
                path.display(),
                limit
            ));
        }
        if torn > 0 {
            self.warnings.push(format!(
                "the trace {}: {torn} events of nested ash processes were cut short and left out",
                path.display()
            ));
        }
        Ok(())
    }
}

/// How a span ended, as its `args` say (the bytes: the batch's buffer
/// that an outcome's text points into).
enum End<'a> {
    Ended(Outcome, &'a [u8]),
    Command(CommandExit, &'a [u8]),
    Sleep {
        completed: bool,
    },
    /// Still open when what held it ended, or when the run did.
    Unfinished,
}

impl End<'_> {
    fn write(&self, o: &mut Vec<u8>) {
        o.extend_from_slice(b",\"outcome\":\"");
        match self {
            End::Ended(Outcome::Ok, _) => o.extend_from_slice(b"ok\""),
            End::Ended(Outcome::Exit(code), _) => {
                o.extend_from_slice(b"exit\",\"exit\":");
                json::int(o, (*code).into());
            }
            End::Ended(Outcome::Error { class, text }, bytes) => {
                o.extend_from_slice(class.as_bytes());
                o.extend_from_slice(b"\",\"error\":");
                json::string(o, text.of(bytes));
            }
            End::Command(exit, bytes) => match exit {
                CommandExit::Code(code) => {
                    o.extend_from_slice(if *code == 0 { b"ok\"" } else { b"failed\"" });
                    o.extend_from_slice(b",\"exit\":");
                    json::int(o, (*code).into());
                }
                CommandExit::Signal(signal) => {
                    o.extend_from_slice(b"killed\",\"signal\":");
                    json::string(o, super::signal_name(*signal).as_bytes());
                }
                CommandExit::NotStarted { status, message } => {
                    o.extend_from_slice(b"failed\",\"exit\":");
                    json::int(o, (*status).into());
                    o.extend_from_slice(b",\"error\":");
                    json::string(o, message.of(bytes));
                }
                CommandExit::Killed => o.extend_from_slice(b"killed\""),
            },
            End::Sleep { completed: true } => o.extend_from_slice(b"ok\""),
            End::Sleep { completed: false } => o.extend_from_slice(b"cancelled\""),
            End::Unfinished => o.extend_from_slice(b"unfinished\""),
        }
    }
}

impl Trace {
    /// One record of the loop's (see [`record`]); `bytes`: its batch's
    /// buffer, which its texts point into.
    fn record(&mut self, rec: Rec, bytes: &[u8]) {
        let some = |id: u32| (id != NONE).then_some(id);
        match rec {
            Rec::Str { id, json } => {
                let i = id as usize;
                if self.strings.len() <= i {
                    self.strings.resize_with(i + 1, Default::default);
                }
                self.strings[i] = json.of(bytes).into();
            }
            Rec::TaskStart {
                at,
                task,
                owner,
                parent,
                started,
                name,
                site,
            } => self.task_start(at, (task, owner, parent), started, name, some(site)),
            Rec::TaskEnd { at, task, end } => {
                self.close(Key::Task(task), at, &End::Ended(end, bytes));
            }
            Rec::CommandStart {
                at,
                id,
                owner,
                name,
                args,
            } => {
                self.push(Open {
                    key: Key::Command(id),
                    owner,
                    start: at,
                    leaf: true,
                    what: What::Command {
                        name: name.of(bytes).to_vec(),
                        args: args.of(bytes).to_vec(),
                        pid: 0,
                        pgid: 0,
                    },
                });
            }
            Rec::CommandSpawned { at, id, pid, pgid } => self.command_spawned(at, id, pid, pgid),
            Rec::CommandEnd { at, id, exit } => {
                let spawned = self.lane_of(Key::Command(id)).is_some()
                    && !matches!(exit, CommandExit::NotStarted { .. });
                self.nested_arrow(id);
                self.close(Key::Command(id), at, &End::Command(exit, bytes));
                if spawned {
                    self.counter(at);
                }
            }
            Rec::SleepStart { at, owner, seconds } => {
                self.push(Open {
                    key: Key::Sleep(owner),
                    owner,
                    start: at,
                    leaf: true,
                    what: What::Sleep { seconds },
                });
            }
            Rec::SleepEnd {
                at,
                owner,
                completed,
            } => {
                self.close(Key::Sleep(owner), at, &End::Sleep { completed });
            }
            Rec::TimeoutStart {
                at,
                owner,
                scope,
                seconds,
                site,
            } => {
                self.push(Open {
                    key: Key::Timeout(scope),
                    owner,
                    start: at,
                    leaf: false,
                    what: What::Timeout {
                        seconds,
                        site: some(site),
                    },
                });
            }
            Rec::TimeoutEnd { at, scope, end } => {
                self.close(Key::Timeout(scope), at, &End::Ended(end, bytes));
            }
            Rec::TimeoutExpired { at, scope } => {
                let lane = self.lane_of(Key::Timeout(scope));
                self.instant(lane, at, b"timeout", b"timeout expired", b"");
            }
            Rec::GroupStart {
                at,
                id,
                owner,
                kind,
                branches,
                limit,
                site,
            } => {
                self.push(Open {
                    key: Key::Group(id),
                    owner,
                    start: at,
                    leaf: false,
                    what: What::Group {
                        kind,
                        branches,
                        limit: some(limit),
                        site: some(site),
                    },
                });
            }
            Rec::GroupEnd { at, id, end } => {
                self.close(Key::Group(id), at, &End::Ended(end, bytes));
            }
            Rec::Cancel { at, task, reason } => {
                let lane = self.lane_of(Key::Task(task));
                let mut args = Vec::new();
                args.extend_from_slice(b"\"task\":");
                json::uint(&mut args, task);
                args.extend_from_slice(b",\"reason\":");
                json::string(&mut args, reason.as_bytes());
                self.instant(lane, at, b"cancel", b"cancel", &args);
            }
            Rec::SignalSent {
                at,
                pid,
                group,
                signal,
            } => self.signal_sent(at, pid, group, signal),
            Rec::SignalReceived { at, signal } => {
                let name = super::signal_name(signal);
                self.instant(
                    None,
                    at,
                    b"signal",
                    format!("{name} received").as_bytes(),
                    b"",
                );
            }
            Rec::Finish { at } => self.finish(at),
        }
    }

    /// Command `id` ends: if an ash it ran joined the trace (its marker
    /// is there), the arrow to that ash's main task starts on its span.
    fn nested_arrow(&mut self, id: u64) {
        let flow = command_flow(self.pid, id);
        let Some(dir) = self.parts_dir() else {
            return;
        };
        if !dir.join(format!("{flow:x}.link")).exists() {
            return;
        }
        let Some(lane) = self.lane_of(Key::Command(id)) else {
            return;
        };
        let start = self
            .stack(lane)
            .iter()
            .rev()
            .find(|o| o.key == Key::Command(id))
            .map_or(0, |o| o.start);
        self.flow(b"s", lane, start + 1, b"ash", flow);
    }

    fn finish(&mut self, at: u64) {
        // Whatever is still open ends now, innermost first.
        for lane in 1..=self.lanes.len() as u32 {
            while let Some(key) = self.stack(lane).last().map(|o| o.key) {
                self.close(key, at, &End::Unfinished);
            }
        }
        if let Err(e) = self.close_file(at) {
            self.warnings.push(format!("cannot write the trace: {e}"));
        }
    }
}

/// Append every complete, valid line of the nested ashes' files, then
/// remove them and their directory.
fn merge_parts(
    dir: &Path,
    out: &mut impl Write,
    written: &mut u64,
    limit: u64,
    dropped: &mut u64,
    torn: &mut u64,
) -> io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files {
        if let Ok(f) = File::open(&path) {
            let mut reader = io::BufReader::new(f);
            let mut line = Vec::new();
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                // A line cut short (its ash killed mid-write) or garbled
                // is left out: the trace stays valid JSON.
                let whole = line.last() == Some(&b'\n')
                    && serde_json::from_slice::<serde_json::Value>(&line)
                        .is_ok_and(|v| v.is_object());
                if !whole {
                    *torn += 1;
                    continue;
                }
                let n = line.len() as u64 + 1;
                if *written + n > limit {
                    *dropped += 1;
                    continue;
                }
                *written += n;
                out.write_all(b",\n")?;
                out.write_all(&line[..line.len() - 1])?;
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir(dir);
    Ok(())
}

/// `PID:FLOW` of `ASH_TRACE_FROM` (the arrow id in hex).
fn parse_from(v: &str) -> Option<From> {
    let (pid, flow) = v.split_once(':')?;
    pid.parse::<u32>().ok()?;
    Some(From {
        flow: u64::from_str_radix(flow, 16).ok()?,
    })
}

/// The trace id of a W3C `TRACEPARENT` in the environment, if valid:
/// `00-<32 hex>-<16 hex>-<2 hex>`.
fn inherited_trace_id() -> Option<String> {
    let tp = std::env::var(TRACEPARENT_VAR).ok()?;
    let parts: Vec<&str> = tp.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let ok = parts.len() == 4
        && hex(parts[0], 2)
        && parts[0] != "ff"
        && hex(parts[1], 32)
        && parts[1].bytes().any(|b| b != b'0')
        && hex(parts[2], 16)
        && hex(parts[3], 2);
    ok.then(|| parts[1].to_ascii_lowercase())
}

fn new_trace_id() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(1..));
    format!("{a:016x}{b:016x}")
}

/// Where formatted events go: a buffer handed in chunks to a writer thread
/// (or written here, if no thread could be started), within a size limit.
struct Sink {
    buf: Vec<u8>,
    to_writer: Option<mpsc::Sender<Vec<u8>>>,
    recycled: Option<mpsc::Receiver<Vec<u8>>>,
    writer: Option<std::thread::JoinHandle<Option<io::Error>>>,
    /// The file (written here only when there is no writer thread).
    file: Option<File>,
    error: Option<io::Error>,
    written: u64,
    limit: u64,
    dropped: u64,
    /// One event per line, no commas (a nested ash's part).
    lines: bool,
}

impl Sink {
    fn new(file: File, limit: u64, lines: bool) -> Sink {
        let (to_writer, chunks) = mpsc::channel::<Vec<u8>>();
        let (give_back, recycled) = mpsc::channel::<Vec<u8>>();
        let spawned = file.try_clone().and_then(|mut theirs| {
            std::thread::Builder::new()
                .name("ash-trace".into())
                .spawn(move || {
                    let mut error = None;
                    for mut chunk in chunks {
                        if error.is_none()
                            && let Err(e) = theirs.write_all(&chunk)
                        {
                            error = Some(e);
                        }
                        chunk.clear();
                        let _ = give_back.send(chunk);
                    }
                    error
                })
        });
        let (to_writer, recycled, writer) = match spawned {
            Ok(handle) => (Some(to_writer), Some(recycled), Some(handle)),
            // No thread (a tight `ulimit -u`): write on the loop's thread.
            Err(_) => (None, None, None),
        };
        Sink {
            buf: Vec::with_capacity(CHUNK + 4096),
            to_writer,
            recycled,
            writer,
            file: Some(file),
            error: None,
            written: 0,
            limit,
            dropped: 0,
            lines,
        }
    }

    fn closed() -> Sink {
        Sink {
            buf: Vec::new(),
            to_writer: None,
            recycled: None,
            writer: None,
            file: None,
            error: None,
            written: 0,
            limit: 0,
            dropped: 0,
            lines: true,
        }
    }

    /// Bytes outside any event (the file's head).
    fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
    }

    /// Format one event with `f`; left out (and counted) past the limit.
    fn event(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        let mark = self.buf.len();
        if !self.lines {
            self.buf.extend_from_slice(b",\n");
        }
        f(&mut self.buf);
        if self.lines {
            self.buf.push(b'\n');
        }
        let n = (self.buf.len() - mark) as u64;
        if self.written + n > self.limit {
            self.buf.truncate(mark);
            self.dropped += 1;
            return;
        }
        self.written += n;
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        match &self.to_writer {
            Some(tx) => {
                let next = self
                    .recycled
                    .as_ref()
                    .and_then(|r| r.try_recv().ok())
                    .unwrap_or_else(|| Vec::with_capacity(CHUNK + 4096));
                let chunk = std::mem::replace(&mut self.buf, next);
                let _ = tx.send(chunk);
            }
            None => {
                if let Some(f) = &mut self.file
                    && let Err(e) = f.write_all(&self.buf)
                    && self.error.is_none()
                {
                    self.error = Some(e);
                }
                self.buf.clear();
            }
        }
    }

    /// Write what is buffered and wait for the writer: the file, events
    /// left out, bytes written, the limit, and the first write error.
    fn finish(mut self) -> (Option<File>, u64, u64, u64, Option<io::Error>) {
        self.flush();
        self.to_writer = None;
        if let Some(writer) = self.writer.take() {
            let error = writer
                .join()
                .unwrap_or_else(|_| Some(io::Error::other("the trace writer stopped")));
            if self.error.is_none() {
                self.error = error;
            }
        }
        (
            self.file.take(),
            self.dropped,
            self.written,
            self.limit,
            self.error.take(),
        )
    }
}

/// `DirBuilder` with mode 0700.
trait PrivateDir {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateDir for std::fs::DirBuilder {
    fn mode_private(&mut self) -> &mut Self {
        std::os::unix::fs::DirBuilderExt::mode(self, 0o700)
    }
}
