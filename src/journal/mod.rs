//! Journals (section 14): `ash --journal FILE` appends one JSON line per
//! finished `gather`/`race` branch and spawned task; `ash --resume FILE`
//! runs the script again without the branches that ended `ok` in it (their
//! recorded values stand in); `ash --journal-summary FILE` reads one.
//!
//! The journal is an observer of the run (`runtime::observe`): it writes a
//! task's record when the runtime says the task ended, and answers the
//! runtime's "replay?" for each branch about to start. Keys and labels are
//! the runtime's (`runtime::keys`).
//!
//! Durability: the file is opened with `O_APPEND` and every record is one
//! `write` of one whole line, made before the next task's, with no buffer
//! in ash: a run killed at any moment (SIGKILL included) leaves the lines
//! written so far, and two ash processes appending to one journal never
//! interleave within a line (the kernel appends each `write` whole). The
//! data is synced to disk (`fdatasync`) when the run ends, and before ash
//! exits on a second signal. A crash can still tear the line being written
//! (a big one): the reader takes such a line as the end of what was
//! written. Every record is written under an exclusive `flock`, and a file
//! that then ends inside a line was torn by a writer that died (a live one
//! is never half-way through a line while another holds the lock): the
//! record starts on a fresh line, whether this run just started or the
//! writer died while this one ran.

pub mod read;
pub mod record;
pub mod summary;

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::runtime::observe::{Kind, Observer, Origin, unix_now};
use crate::runtime::task::Outcome;
use crate::vm::error::ErrorKind;
use crate::vm::value::Value;
use record::{Line, Status};

/// `--journal FILE` or `--resume FILE`.
#[derive(Clone, Debug)]
pub struct Options {
    pub path: PathBuf,
    /// `--resume`: leave out what ended `ok` in the journal.
    pub resume: bool,
}

/// The journal of this run.
pub struct Journal {
    path: PathBuf,
    file: File,
    /// The file did not exist before: removed if the script never runs.
    created: bool,
    run: String,
    /// `--resume`: the last record of each key in the journal as it was.
    before: Option<HashMap<String, Last>>,
    skipped: Cell<u64>,
    ran: Cell<u64>,
    /// Ran and did not end ok (a race's cancelled losers aside).
    failed: Cell<u64>,
    /// A write failed (warned once; the run goes on).
    broken: Cell<bool>,
    /// The file's length after our last record: while it still is, no one
    /// else wrote, and the file ends with our newline.
    end: Cell<Option<u64>>,
    /// A branch called `exit`: the branches that end after it were cut
    /// short by it (cancelled), they did not exit themselves.
    exited: Cell<bool>,
}

/// The last record of a key: its status, and its value if recorded.
struct Last {
    status: Status,
    value: Option<serde_json::Value>,
}

impl Journal {
    /// Open the journal for a run, before anything runs: an error (a usage
    /// error: nothing runs) if it cannot be written or is not a journal.
    pub fn open(options: &Options) -> Result<Journal, String> {
        let path = options.path.clone();
        let what = if options.resume {
            "--resume"
        } else {
            "--journal"
        };
        let existed = path.exists();
        let before = if options.resume {
            if existed {
                let journal =
                    read::read(&path).map_err(|e| format!("{what}: {}", e.message(&path)))?;
                for w in &journal.warnings {
                    crate::diag::warn(&format!("{}: {w}", path.display()));
                }
                Some(last_records(journal.records))
            } else {
                crate::diag::warn(&format!(
                    "{what}: {} does not exist yet: everything runs",
                    path.display()
                ));
                Some(HashMap::new())
            }
        } else {
            if existed {
                check_file(&path).map_err(|e| format!("{what}: {e}"))?;
            }
            None
        };
        // Read too, to see how the file ends (not needed to write it).
        let append = |read| {
            std::fs::OpenOptions::new()
                .read(read)
                .append(true)
                .create(true)
                .open(&path)
        };
        let file = append(true)
            .or_else(|_| append(false))
            .map_err(|e| format!("{what}: {}: {}", path.display(), read::io_message(&e)))?;
        let journal = Journal {
            path,
            file,
            created: !existed,
            run: run_id(),
            before,
            skipped: Cell::new(0),
            ran: Cell::new(0),
            failed: Cell::new(0),
            broken: Cell::new(false),
            end: Cell::new(None),
            exited: Cell::new(false),
        };
        Ok(journal)
    }

    /// The run's first record: what runs, how.
    pub fn begin(&self, script: &str, args: &[Value]) {
        let mut line = Line::new(&self.run);
        line.text("event", "start")
            .time("time", unix_now())
            .text("script", script);
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_text().unwrap_or_default())
            .collect();
        let mut list = String::from("[");
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            record::string(a, &mut list);
        }
        list.push(']');
        line.json("args", &list)
            .int("pid", i64::from(std::process::id()))
            .bool("resume", self.before.is_some());
        if let Ok(cwd) = std::env::current_dir() {
            line.text("cwd", &cwd.to_string_lossy());
        }
        self.write(line.finish().as_bytes());
    }

    /// The script did not run (it did not compile): a journal file made
    /// for it is removed.
    pub fn abandon(&self) {
        if self.created && self.file.metadata().is_ok_and(|m| m.len() == 0) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// One record: one `write` of one whole line, under an exclusive
    /// `flock` of the file (as every ash writing this journal does). If the
    /// file then ends inside a line, no writer is half-way through it: a
    /// run was killed while writing it, and ours starts on a new line so
    /// that the torn one does not swallow it. Without the lock, the start
    /// of another run's big line looked torn, and the newline ended up
    /// after it (an empty line) or inside it (a writer that writes a line
    /// in pieces).
    fn write(&self, line: &[u8]) {
        use std::os::unix::fs::FileExt as _;
        if self.broken.get() {
            return;
        }
        // Best effort: a file system without locks still gets its records.
        let locked = self.file.lock().is_ok();
        // The length (a seek: cheaper than a stat).
        let len = (&self.file).seek(std::io::SeekFrom::End(0)).ok();
        let mut last = [b'\n'];
        if let Some(len) = len
            && len > 0
            && self.end.get() != Some(len)
        {
            let _ = self.file.read_at(&mut last, len - 1);
        }
        let repaired: Vec<u8>;
        let mut bytes = line;
        if last[0] != b'\n' {
            crate::diag::warn(&format!(
                "{}: its last line is torn (a run was killed while writing it); new records start on the next line",
                self.path.display()
            ));
            repaired = [b"\n", line].concat();
            bytes = &repaired;
        }
        let written = (&self.file).write_all(bytes);
        self.end.set(len.map(|l| l + bytes.len() as u64));
        if locked {
            let _ = self.file.unlock();
        }
        if let Err(e) = written {
            self.broken.set(true);
            crate::diag::warn(&format!(
                "--journal: {}: {}: later records are lost",
                self.path.display(),
                read::io_message(&e)
            ));
        }
    }
}

/// `--journal FILE` on a file that exists: it must be a journal.
fn check_file(path: &Path) -> Result<(), String> {
    use std::io::Read as _;
    let mut start = [0u8; 64];
    let mut f =
        File::open(path).map_err(|e| format!("{}: {}", path.display(), read::io_message(&e)))?;
    let mut n = 0;
    while n < start.len() {
        match f.read(&mut start[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("{}: {}", path.display(), read::io_message(&e))),
        }
    }
    read::check_start(&start[..n]).map_err(|e| e.message(path))
}

/// The last record of each key.
fn last_records(records: Vec<record::Record>) -> HashMap<String, Last> {
    let mut last = HashMap::new();
    for r in records {
        if let record::Record::Branch(b) = r {
            last.insert(
                b.key,
                Last {
                    status: b.status,
                    value: b.value,
                },
            );
        }
    }
    last
}

/// A name for this run: when it started, and which process ran it.
fn run_id() -> String {
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let time = jiff::fmt::strtime::format("%Y%m%dT%H%M%S%.3fZ", &now).unwrap_or_default();
    format!("{time}-{}", std::process::id())
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Spawn => "spawn",
        Kind::Gather => "gather",
        Kind::Race => "race",
    }
}

/// How a task ended, as the journal says it, and its error.
/// `exited`: an earlier branch called `exit` (so this one was cut short).
fn status_of(outcome: &Outcome, exited: bool) -> (Status, Option<String>) {
    let e = match outcome {
        Outcome::Value(_) => return (Status::Ok, None),
        // The first branch to end with `exit` called it; the script ends,
        // and every branch still running ends the same way after it.
        Outcome::Exit(code) => {
            let (status, kind, message) = match exited {
                false => (Status::Failed, "Exit", format!("exit {code}")),
                true => (
                    Status::Cancelled,
                    "CancelledError",
                    format!("the script exited (exit {code}) while it ran"),
                ),
            };
            let mut json = String::from("{\"kind\":");
            record::string(kind, &mut json);
            json.push_str(",\"message\":");
            record::string(&message, &mut json);
            json.push('}');
            return (status, Some(json));
        }
        Outcome::Error(e) => e,
    };
    let status = match e.kind {
        ErrorKind::Cancelled => Status::Cancelled,
        ErrorKind::Timeout => Status::Timeout,
        _ => Status::Failed,
    };
    let mut json = String::from("{\"kind\":");
    record::string(e.kind.name(), &mut json);
    json.push_str(",\"message\":");
    record::string(&e.message, &mut json);
    if let Some(s) = e.status {
        json.push_str(&format!(",\"status\":{s}"));
    }
    if let Some(loc) = e.location.borrow().as_ref() {
        let (line, col) = crate::diag::line_col(loc);
        let at = format!("{}:{line}:{col}", crate::diag::source_name(loc.source));
        json.push_str(",\"location\":");
        record::string(&at, &mut json);
    }
    json.push('}');
    (status, Some(json))
}

impl Observer for Journal {
    fn replay(&self, origin: &Origin) -> Option<Value> {
        let last = self.before.as_ref()?.get(&*origin.key)?;
        if last.status != Status::Ok {
            return None;
        }
        let value = last.value.clone()?;
        self.skipped.set(self.skipped.get() + 1);
        Some(crate::builtins::functions::from_json_value(value))
    }

    fn task_ended(&self, _id: u64, origin: &Origin, outcome: &Outcome) {
        let (status, error) = status_of(outcome, self.exited.get());
        if matches!(outcome, Outcome::Exit(_)) {
            self.exited.set(true);
        }
        self.ran.set(self.ran.get() + 1);
        // A race cancels its losers: that is how it ends, not a failure.
        let lost = origin.kind == Kind::Race && status == Status::Cancelled;
        if status != Status::Ok && !lost {
            self.failed.set(self.failed.get() + 1);
        }
        let mut line = Line::new(&self.run);
        line.text("key", &origin.key)
            .text("site", &origin.site)
            .text("label", &origin.label)
            .text("kind", kind_name(origin.kind))
            .text("status", status.name())
            .time("start", origin.start.get())
            .time("end", unix_now());
        if let Some(host) = origin.host.borrow().as_deref() {
            line.text("host", host);
        }
        if let Some(e) = &error {
            line.json("error", e);
        }
        if let Outcome::Value(v) = outcome
            && let Some(json) = record::value_json(v)
        {
            line.json("value", &json);
        }
        self.write(line.finish().as_bytes());
    }

    fn finish(&self, status: i32) {
        let mut line = Line::new(&self.run);
        line.text("event", "end")
            .time("time", unix_now())
            .int("status", i64::from(status))
            .int("ran", self.ran.get() as i64)
            .int("not_ok", self.failed.get() as i64)
            .int("skipped", self.skipped.get() as i64);
        self.write(line.finish().as_bytes());
        if let Err(e) = self.file.sync_data() {
            crate::diag::warn(&format!(
                "--journal: {}: {}",
                self.path.display(),
                read::io_message(&e)
            ));
        }
        if self.before.is_some() {
            crate::diag::reportln!(
                "ash: resume: {} skipped, {} rerun, {} failed again ({})",
                self.skipped.get(),
                self.ran.get(),
                self.failed.get(),
                self.path.display()
            );
        }
    }
}

/// Install the journal as an observer of `rt`'s run.
pub fn install(rt: &crate::runtime::Runtime, journal: Rc<Journal>) {
    rt.observers.add(journal);
}
