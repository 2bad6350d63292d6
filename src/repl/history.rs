//! Where history lives, and writing it so that no entry is lost or torn,
//! even on a full disk.
//!
//! `history.txt` in the XDG data dir (`$XDG_DATA_HOME/ash`, by default
//! `~/.local/share/ash`), or the file named by `$ASH_HISTORY` (empty: no
//! history file). It is created with mode 0600: it holds every command. One entry per line, in reedline's format (newlines inside
//! an entry are written as `<\n>`), so files written by earlier versions
//! read the same.
//!
//! The file is read at start-up on a thread of its own
//! ([`start_loading`]), while the shell runs config.ash and paints its
//! first prompt; the editor takes the entries in when it first needs them.
//! The editor keeps the entries in memory (a reedline `FileBackedHistory`
//! without a file does the searching) and the shell syncs after every
//! accepted line. A sync takes an exclusive `flock` on the file, reads what
//! other shells appended, and appends this shell's new entries; when the
//! file has grown past [`CAPACITY`] + [`SLACK`] entries it is instead
//! rewritten trimmed to the newest [`CAPACITY`] (a new file renamed over the
//! old one, so every shell checks, once it holds the lock, that the name
//! still leads to the file it locked). Several shells open at once thus
//! interleave their entries without losing any, and each one sees the
//! others' from its next sync on.
//!
//! reedline's own file sync, used before, was not safe on a full disk: a
//! write that ran out of space half-way left a torn line in the file, which
//! the next append ran into (`echo echo ok`), and when the tear fell inside
//! a UTF-8 character the file could no longer be read at all, so every later
//! session started without its history. Its trimming rewrote the file in
//! place, leaving a torn line when that failed. And it warned on every line.
//! Here:
//!
//! - an append that fails is cut back to the file's length before it (the
//!   file is as it was), a rewrite that fails leaves the old file alone (it
//!   is a new file that was not renamed), and a line that is torn anyway
//!   (a crash) starts the next append on a new line;
//! - the entries that could not be written stay in memory (Up recalls
//!   them) and are written by the next sync that works, or at exit;
//! - one warning when writing starts failing, one note when it works again;
//! - lines of the file that are not UTF-8 are skipped with a warning, not
//!   the whole file, and are kept in the file;
//! - nothing is written at start-up, so a full disk does not stop the
//!   shell from starting with its history.
//!
//! The `history` command (see [`command`]) lists and searches the entries
//! as fish's does, and deletes entries: from memory, from those waiting to
//! be written, and from the file (rewritten under the same lock, by a new
//! file renamed over the old one).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use reedline::{
    FileBackedHistory, History, HistoryItem, HistoryItemId, HistorySessionId, SearchDirection,
    SearchQuery,
};

use super::commands::Output;

pub const CAPACITY: usize = 10_000;
/// How far past [`CAPACITY`] the file may grow before it is rewritten
/// trimmed: a rewrite once per 1,000 lines, not on every line.
pub const SLACK: usize = CAPACITY / 10;
/// How reedline writes a newline inside an entry.
const NEWLINE_ESCAPE: &str = "<\\n>";

pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ASH_HISTORY") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "ash").map(|d| d.data_dir().join("history.txt"))
}

/// The session's history: shared between the editor thread (which owns the
/// `Box<dyn History>`) and the exit path ([`save_at_exit`], which makes the
/// last try; unlike reedline's, dropping it writes nothing, since the
/// editor thread may still be dropping it while the process exits).
pub struct AshHistory(Arc<Mutex<Inner>>);

struct Inner {
    path: Option<PathBuf>,
    memory: FileBackedHistory,
    /// This session's entries that are not in the file yet, oldest first.
    pending: Vec<String>,
    /// The file could not be read or written last time, and that was
    /// reported: further failures are quiet until it works again.
    failing: bool,
    /// The file being read by [`start_loading`]'s thread: taken in at the
    /// first use (see [`ready`]).
    loading: Option<Loading>,
    /// The file as `memory` (less `pending`) holds it, if it ends with a
    /// whole line: while it is still that file and that long, no other
    /// shell wrote, and a sync appends without reading it again.
    seen: Option<Seen>,
}

/// Which file, how long, how many lines.
#[derive(Clone, Copy)]
struct Seen {
    dev: u64,
    ino: u64,
    len: u64,
    lines: usize,
}

impl Seen {
    fn of(meta: &std::fs::Metadata, len: u64, lines: usize) -> Seen {
        Seen {
            dev: meta.dev(),
            ino: meta.ino(),
            len,
            lines,
        }
    }

    /// `meta` is the file seen, as long as it was.
    fn is(&self, meta: &std::fs::Metadata) -> bool {
        self.dev == meta.dev() && self.ino == meta.ino() && self.len == meta.len()
    }
}

/// What [`start_loading`]'s thread read.
struct Loaded {
    memory: FileBackedHistory,
    failing: bool,
    seen: Option<Seen>,
}

struct Loading {
    path: Option<PathBuf>,
    thread: std::thread::JoinHandle<Loaded>,
}

static OPEN: Mutex<Option<Arc<Mutex<Inner>>>> = Mutex::new(None);
static LOADING: Mutex<Option<Loading>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The history, with the file's entries in it.
fn ready(shared: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    let mut inner = lock(shared);
    inner.take_loaded();
    inner
}

/// Start reading the history file on a thread of its own, at start-up:
/// 10,000 entries take a few milliseconds to read and decode, which the
/// first prompt then does not wait for (the entries are needed from the
/// first key on: suggestions, Up). What is wrong with the file is sent
/// on `warnings` (shown above the prompt).
pub fn start_loading(warnings: smol::channel::Sender<String>) {
    let path = history_path();
    let reading = path.clone();
    let thread = std::thread::Builder::new()
        .name("ash-history".into())
        .spawn(move || {
            let mut said = Vec::new();
            let loaded = read_entries(reading.as_deref(), &mut said);
            for w in said {
                let _ = warnings.send_blocking(w);
            }
            loaded
        });
    // No thread (a tight `ulimit -u`): `open` reads the file itself.
    if let Ok(thread) = thread {
        *lock(&LOADING) = Some(Loading { path, thread });
    }
}

/// Open the session's history: the file as [`start_loading`] reads it, or
/// read now (nothing is written).
pub fn open() -> Box<dyn History> {
    let mut inner = Inner {
        path: history_path(),
        memory: empty_memory(),
        pending: Vec::new(),
        failing: false,
        loading: lock(&LOADING).take(),
        seen: None,
    };
    if inner.loading.as_ref().is_none_or(|l| l.path != inner.path) {
        inner.loading = None;
        inner.load();
    }
    let shared = Arc::new(Mutex::new(inner));
    *lock(&OPEN) = Some(shared.clone());
    Box::new(AshHistory(shared))
}

/// When the shell exits: a last try to write the entries that could not be
/// written, and a warning naming how many are lost if that fails too.
pub fn save_at_exit() {
    let Some(shared) = lock(&OPEN).take() else {
        return;
    };
    let mut inner = ready(&shared);
    if inner.pending.is_empty() {
        return;
    }
    let n = inner.pending.len();
    match inner.write() {
        Ok(()) => {
            if inner.failing {
                crate::diag::reportln!(
                    "ash: history saved again ({n} {} written to {})",
                    entries(n),
                    inner.describe_path()
                );
            }
        }
        Err(e) => crate::diag::warn(&format!(
            "{n} history {} could not be saved to {}: {}",
            entries(n),
            inner.describe_path(),
            message(&e)
        )),
    }
}

/// The session's history lines, newest first (for Alt-.).
pub fn newest_first() -> Vec<String> {
    let Some(shared) = lock(&OPEN).clone() else {
        return Vec::new();
    };
    let mut lines = ready(&shared).entries();
    lines.reverse();
    lines
}

fn entries(n: usize) -> &'static str {
    if n == 1 { "entry" } else { "entries" }
}

/// An io::Error without std's " (os error N)".
fn message(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn empty_memory() -> FileBackedHistory {
    FileBackedHistory::new(CAPACITY).unwrap_or_default()
}

fn encode(entry: &str) -> String {
    entry.replace('\n', NEWLINE_ESCAPE)
}

/// The file's lines (without their `\n`), and whether its last line was
/// torn (it has no `\n`).
fn split_lines(bytes: &[u8]) -> (Vec<&[u8]>, bool) {
    if bytes.is_empty() {
        return (Vec::new(), false);
    }
    // memchr's search, not a byte-by-byte split: this runs on 10,000
    // lines before the first prompt and after every line run.
    let mut lines = Vec::with_capacity(bytes.len() / 32 + 1);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes) {
        lines.push(&bytes[start..end]);
        start = end + 1;
    }
    let torn = start < bytes.len();
    if torn {
        lines.push(&bytes[start..]);
    }
    (lines, torn)
}

/// The entries among `lines`, and how many lines are not UTF-8.
fn decode(lines: &[&[u8]]) -> (Vec<String>, usize) {
    let mut skipped = 0;
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        match std::str::from_utf8(line) {
            Ok("") => {}
            // Only an entry with a `<` can hold an escaped newline: the
            // others are copied without a substring search each.
            Ok(s) if memchr::memchr(b'<', line).is_some() => {
                out.push(s.replace(NEWLINE_ESCAPE, "\n"))
            }
            Ok(s) => out.push(s.to_owned()),
            Err(_) => skipped += 1,
        }
    }
    (out, skipped)
}

/// The entries of a whole file, how many of its lines are not UTF-8, how
/// many lines it has, and whether its last one is torn. The same as
/// [`split_lines`] then [`decode`], faster for the usual file (all UTF-8,
/// few entries with a newline): one check of the whole file instead of one
/// per line.
fn entries_of(bytes: &[u8]) -> (Vec<String>, usize, usize, bool) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        let (lines, torn) = split_lines(bytes);
        let (entries, skipped) = decode(&lines);
        return (entries, skipped, lines.len(), torn);
    };
    let escapes = memchr::memmem::find(bytes, NEWLINE_ESCAPE.as_bytes()).is_some();
    let mut entries = Vec::with_capacity(bytes.len() / 32 + 1);
    let mut lines = 0;
    for line in text.split_terminator('\n') {
        lines += 1;
        if line.is_empty() {
            continue;
        }
        entries.push(if escapes && line.contains(NEWLINE_ESCAPE) {
            line.replace(NEWLINE_ESCAPE, "\n")
        } else {
            line.to_owned()
        });
    }
    (entries, 0, lines, !text.is_empty() && !text.ends_with('\n'))
}

/// The whole file, read under a shared lock (so no other shell is half-way
/// through an append).
fn read_shared(path: &Path) -> io::Result<(Vec<u8>, std::fs::Metadata)> {
    let mut file = File::open(path)?;
    // Best effort: a file system without locks still gets its history.
    let _ = file.lock_shared();
    let meta = file.metadata()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok((bytes, meta))
}

/// What [`Seen`] a file read whole is.
fn seen_whole(bytes: &[u8], meta: &std::fs::Metadata, lines: usize, torn: bool) -> Option<Seen> {
    (!torn).then(|| Seen::of(meta, bytes.len() as u64, lines))
}

/// Open `path` for reading and writing (creating it), locked exclusively.
/// If the name was moved to another file while waiting for the lock (a
/// trimming rewrite by another shell), start over with the new one.
fn open_locked(path: &Path) -> io::Result<File> {
    let mut tries = 0;
    loop {
        tries += 1;
        // Created readable by its owner only: it holds every command typed.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        // Best effort: a file system without locks still gets its history.
        let _ = file.lock();
        let held = file.metadata()?;
        match std::fs::metadata(path) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => return Ok(file),
            // Renamed over again and again: write to the one held.
            _ if tries >= 10 => return Ok(file),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Replace the file behind `path` (following a symlink) with `content`:
/// write a new file next to it and rename it over the old one. On failure
/// the old file is untouched.
fn replace(path: &Path, old: &File, content: &[u8]) -> io::Result<()> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.{}.new", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = (|| {
        let mut new = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let meta = old.metadata()?;
        new.set_permissions(meta.permissions())?;
        let _ = std::os::unix::fs::fchown(&new, Some(meta.uid()), Some(meta.gid()));
        new.write_all(content)?;
        new.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The newest [`CAPACITY`] of `entries`, searchable.
fn memory_of(entries: Vec<String>) -> FileBackedHistory {
    let mut memory = empty_memory();
    let skip = entries.len().saturating_sub(CAPACITY);
    for e in entries.into_iter().skip(skip) {
        let _ = memory.save(HistoryItem::from_command_line(e));
    }
    memory
}

/// The entries of the history file at `path`; what is wrong with it (not
/// UTF-8 lines, not readable) is pushed on `warnings`.
fn read_entries(path: Option<&Path>, warnings: &mut Vec<String>) -> Loaded {
    let mut loaded = Loaded {
        memory: empty_memory(),
        failing: false,
        seen: None,
    };
    let Some(path) = path else {
        return loaded;
    };
    match read_shared(path) {
        Ok((bytes, meta)) => {
            let (entries, skipped, lines, torn) = entries_of(&bytes);
            loaded.seen = seen_whole(&bytes, &meta, lines, torn);
            if skipped > 0 {
                warnings.push(format!(
                    "{skipped} {} of the history file {} {} not UTF-8 and {} skipped",
                    if skipped == 1 { "line" } else { "lines" },
                    path.display(),
                    if skipped == 1 { "is" } else { "are" },
                    if skipped == 1 { "was" } else { "were" },
                ));
            }
            loaded.memory = memory_of(entries);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            warnings.push(format!(
                "cannot read the history file {}: {}; this session's history is kept in memory until the file can be written",
                path.display(),
                message(&e)
            ));
            loaded.failing = true;
        }
    }
    loaded
}

impl Inner {
    fn describe_path(&self) -> String {
        self.path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Keep the newest [`CAPACITY`] of `entries` in memory.
    fn set_memory(&mut self, entries: Vec<String>) {
        self.memory = memory_of(entries);
    }

    /// At start-up, without [`start_loading`]: read the file.
    fn load(&mut self) {
        let mut said = Vec::new();
        let loaded = read_entries(self.path.as_deref(), &mut said);
        for w in said {
            crate::diag::warn(&w);
        }
        self.failing = loaded.failing;
        self.memory = loaded.memory;
        self.seen = loaded.seen;
    }

    /// Take in the entries [`start_loading`]'s thread read (waiting for it
    /// if it is not done).
    fn take_loaded(&mut self) {
        let Some(loading) = self.loading.take() else {
            return;
        };
        match loading.thread.join() {
            Ok(loaded) => {
                self.failing = loaded.failing;
                self.memory = loaded.memory;
                self.seen = loaded.seen;
            }
            Err(_) => self.load(),
        }
    }

    /// Nothing to write: take in what other shells wrote, under a shared
    /// lock (a file that is not there, or not writable, is no error).
    fn merge(&mut self, path: &Path) -> io::Result<()> {
        if let (Some(seen), Ok(meta)) = (self.seen, std::fs::metadata(path))
            && seen.is(&meta)
        {
            return Ok(());
        }
        match read_shared(path) {
            Ok((bytes, meta)) => {
                let (entries, _, lines, torn) = entries_of(&bytes);
                self.seen = seen_whole(&bytes, &meta, lines, torn);
                self.set_memory(entries);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Merge the file into memory and append the pending entries to it
    /// (or rewrite it trimmed). On failure the file is as it was and the
    /// pending entries stay pending.
    fn write(&mut self) -> io::Result<()> {
        let Some(path) = self.path.clone() else {
            self.pending.clear();
            return Ok(());
        };
        if self.pending.is_empty() {
            return self.merge(&path);
        }
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = open_locked(&path)?;
        let meta = file.metadata()?;
        let mut added = Vec::new();
        for e in &self.pending {
            added.extend_from_slice(encode(e).as_bytes());
            added.push(b'\n');
        }
        // No other shell wrote since: append, memory already holds it all
        // (the file is not read and decoded again after every line).
        if let Some(seen) = self.seen
            && seen.is(&meta)
            && seen.lines + self.pending.len() <= CAPACITY + SLACK
        {
            let appended = file
                .seek(SeekFrom::Start(seen.len))
                .and_then(|_| file.write_all(&added));
            if let Err(e) = appended {
                let _ = file.set_len(seen.len);
                return Err(e);
            }
            self.seen = Some(Seen::of(
                &meta,
                seen.len + added.len() as u64,
                seen.lines + self.pending.len(),
            ));
            self.pending.clear();
            return Ok(());
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (lines, torn) = split_lines(&bytes);
        let total = lines.len() + self.pending.len();
        let mut kept = &lines[..];
        let mut trimmed = false;
        if total > CAPACITY + SLACK {
            kept = &lines[(total - CAPACITY).min(lines.len())..];
            let mut content = Vec::with_capacity(bytes.len() + added.len());
            for line in kept {
                content.extend_from_slice(line);
                content.push(b'\n');
            }
            content.extend_from_slice(&added);
            // If the new file cannot be written, appending may still fit.
            trimmed = replace(&path, &file, &content).is_ok();
            if !trimmed {
                kept = &lines[..];
            }
        }
        if !trimmed && !added.is_empty() {
            let before = bytes.len() as u64;
            if torn {
                // A line cut short (by a crash): ours start on a new line.
                added.insert(0, b'\n');
            }
            let appended = file
                .seek(SeekFrom::Start(before))
                .and_then(|_| file.write_all(&added));
            if let Err(e) = appended {
                // Out of space half-way: cut back what did fit.
                let _ = file.set_len(before);
                return Err(e);
            }
        }
        // A trimmed file is a new one: the next sync reads it.
        self.seen = (!trimmed).then(|| {
            Seen::of(
                &meta,
                bytes.len() as u64 + added.len() as u64,
                kept.len() + self.pending.len(),
            )
        });
        let (mut entries, _) = decode(kept);
        entries.append(&mut self.pending);
        self.set_memory(entries);
        Ok(())
    }
}

/// How `history search` and `history delete` match an entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Match {
    Contains,
    Prefix,
    Exact,
}

struct Query {
    how: Match,
    case_sensitive: bool,
    terms: Vec<String>,
}

impl Query {
    fn matches(&self, entry: &str) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        let entry = if self.case_sensitive {
            std::borrow::Cow::Borrowed(entry)
        } else {
            std::borrow::Cow::Owned(entry.to_lowercase())
        };
        self.terms.iter().any(|t| {
            let t = if self.case_sensitive {
                t.clone()
            } else {
                t.to_lowercase()
            };
            match self.how {
                Match::Contains => entry.contains(&t),
                Match::Prefix => entry.starts_with(&t),
                Match::Exact => *entry == t,
            }
        })
    }
}

/// `history [search] [--contains|--prefix|--exact] [-C] [-n N] [-R]
/// [TEXT...]`: the entries, newest first, each once (with TEXT: those
/// that contain it, case-insensitively by default); `history delete
/// [--exact|--prefix|--contains] [-C] TEXT...`: remove the matching
/// entries (whole entries: `--exact` by default), here and in the file;
/// `history merge`: read what other shells have written since.
pub fn command(args: &[String], out: &mut Output) -> i32 {
    let (sub, rest) = match args.first().map(String::as_str) {
        Some(s @ ("search" | "delete" | "merge")) => (s, &args[1..]),
        _ => ("search", args),
    };
    let mut query = Query {
        how: if sub == "delete" {
            Match::Exact
        } else {
            Match::Contains
        },
        case_sensitive: sub == "delete",
        terms: Vec::new(),
    };
    let mut max = usize::MAX;
    let mut oldest_first = false;
    let mut options = true;
    let mut words = rest.iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "--" if options => options = false,
            "-c" | "--contains" if options => query.how = Match::Contains,
            "-p" | "--prefix" if options => query.how = Match::Prefix,
            "-e" | "--exact" if options => query.how = Match::Exact,
            "-C" | "--case-sensitive" if options => query.case_sensitive = true,
            "-R" | "--reverse" if options => oldest_first = true,
            "-n" | "--max" if options => match words.next().map(|n| n.parse::<usize>()) {
                Some(Ok(n)) => max = n,
                _ => {
                    out.err("ash: history: --max needs a number");
                    return 2;
                }
            },
            o if options && o.starts_with('-') && o.len() > 1 => {
                out.err(format!(
                    "ash: history: unknown option {o} (history [search|delete|merge] [--contains|--prefix|--exact] [-C] [-n N] [-R] [TEXT...])"
                ));
                return 2;
            }
            _ => query.terms.push(w.clone()),
        }
    }
    let Some(shared) = lock(&OPEN).clone() else {
        out.err("ash: history: no history in this shell");
        return 1;
    };
    let mut inner = ready(&shared);
    match sub {
        "merge" => match inner.write() {
            Ok(()) => 0,
            Err(e) => {
                out.err(format!("ash: history: {}", message(&e)));
                1
            }
        },
        "delete" => {
            if query.terms.is_empty() {
                out.err("ash: history: delete needs the text of the entries to delete");
                return 2;
            }
            match inner.delete(&query) {
                Ok(0) => {
                    out.err("ash: history: no entry matches");
                    1
                }
                Ok(_) => 0,
                Err(e) => {
                    out.err(format!(
                        "ash: history: cannot delete from {}: {}",
                        inner.describe_path(),
                        message(&e)
                    ));
                    1
                }
            }
        }
        _ => {
            // Newest first, each entry once (at its newest).
            let mut seen = std::collections::HashSet::new();
            let mut found: Vec<String> = inner
                .entries()
                .into_iter()
                .rev()
                .filter(|e| query.matches(e) && seen.insert(e.clone()))
                .take(max)
                .collect();
            if oldest_first {
                found.reverse();
            }
            for e in &found {
                out.out(e);
            }
            if found.is_empty() && !query.terms.is_empty() {
                1
            } else {
                0
            }
        }
    }
}

impl Inner {
    /// The entries in memory (the file as of the last sync, and this
    /// session's), oldest first.
    fn entries(&self) -> Vec<String> {
        self.memory
            .search(SearchQuery::everything(SearchDirection::Forward, None))
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.command_line)
            .collect()
    }

    /// Remove the entries `query` matches from memory, from the pending
    /// ones and from the file; how many were found.
    fn delete(&mut self, query: &Query) -> io::Result<usize> {
        let before = self.entries();
        let kept: Vec<String> = before
            .iter()
            .filter(|e| !query.matches(e))
            .cloned()
            .collect();
        let mut removed = before.len() - kept.len();
        let pending = self.pending.len();
        self.pending.retain(|e| !query.matches(e));
        if let Some(path) = self.path.clone() {
            removed = removed.max(delete_from_file(&path, query)?);
        }
        removed = removed.max(pending - self.pending.len());
        self.set_memory(kept);
        self.seen = None;
        Ok(removed)
    }
}

/// Rewrite the history file without the entries `query` matches (lines
/// that are not UTF-8 are kept as they are); how many were removed.
fn delete_from_file(path: &Path, query: &Query) -> io::Result<usize> {
    if !path.exists() {
        return Ok(0);
    }
    let mut file = open_locked(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let (lines, _) = split_lines(&bytes);
    let mut content = Vec::with_capacity(bytes.len());
    let mut removed = 0;
    for line in lines {
        let (entry, _) = decode(&[line]);
        if entry.first().is_some_and(|e| query.matches(e)) {
            removed += 1;
            continue;
        }
        content.extend_from_slice(line);
        content.push(b'\n');
    }
    if removed > 0 {
        replace(path, &file, &content)?;
    }
    Ok(removed)
}

impl History for AshHistory {
    fn save(&mut self, h: HistoryItem) -> reedline::Result<HistoryItem> {
        let mut inner = ready(&self.0);
        let line = h.command_line.clone();
        let saved = inner.memory.save(h)?;
        if saved.id.is_some() && inner.path.is_some() {
            if inner.pending.len() >= CAPACITY {
                inner.pending.remove(0);
            }
            inner.pending.push(line);
        }
        Ok(saved)
    }

    fn load(&self, id: HistoryItemId) -> reedline::Result<HistoryItem> {
        ready(&self.0).memory.load(id)
    }

    fn count(&self, query: SearchQuery) -> reedline::Result<i64> {
        ready(&self.0).memory.count(query)
    }

    fn search(&self, query: SearchQuery) -> reedline::Result<Vec<HistoryItem>> {
        ready(&self.0).memory.search(query)
    }

    fn update(
        &mut self,
        id: HistoryItemId,
        updater: &dyn Fn(HistoryItem) -> HistoryItem,
    ) -> reedline::Result<()> {
        // Memory no longer holds the file as it is: the next sync reads it.
        let mut inner = ready(&self.0);
        inner.seen = None;
        inner.memory.update(id, updater)
    }

    fn clear(&mut self) -> reedline::Result<()> {
        let mut inner = ready(&self.0);
        inner.pending.clear();
        inner.seen = None;
        inner.memory.clear()
    }

    fn delete(&mut self, id: HistoryItemId) -> reedline::Result<()> {
        let mut inner = ready(&self.0);
        inner.seen = None;
        inner.memory.delete(id)
    }

    /// Never fails: a failure is reported here (once, until writing works
    /// again) and the entries are tried again on the next sync.
    fn sync(&mut self) -> io::Result<()> {
        let mut inner = ready(&self.0);
        let waiting = inner.pending.len();
        match inner.write() {
            Ok(()) => {
                if inner.failing && waiting > 0 {
                    crate::diag::reportln!(
                        "ash: history saved again ({waiting} {} written to {})",
                        entries(waiting),
                        inner.describe_path()
                    );
                }
                inner.failing = false;
            }
            Err(e) => {
                if !inner.failing {
                    crate::diag::warn(&format!(
                        "cannot save history to {}: {}; new entries are kept for this session and saved when the file can be written",
                        inner.describe_path(),
                        message(&e)
                    ));
                }
                inner.failing = true;
            }
        }
        Ok(())
    }

    fn session(&self) -> Option<HistorySessionId> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_torn_tails() {
        assert_eq!(split_lines(b""), (Vec::<&[u8]>::new(), false));
        assert_eq!(split_lines(b"a\nb\n"), (vec![&b"a"[..], b"b"], false));
        assert_eq!(split_lines(b"a\nec"), (vec![&b"a"[..], b"ec"], true));
        let (entries, skipped) = decode(&[b"ok", b"", b"\xff\xfe bad", b"if x {<\\n>}"]);
        assert_eq!(entries, vec!["ok".to_string(), "if x {\n}".to_string()]);
        assert_eq!(skipped, 1);
        // The whole-file reading agrees with them, UTF-8 or not.
        for file in [
            &b""[..],
            b"a\n",
            b"a\n\nb",
            b"ok\n\nif x {<\\n>}\na<b\n",
            b"ok\n\xff\xfe bad\nif x {<\\n>}\nec",
        ] {
            let (lines, torn) = split_lines(file);
            let (entries, skipped) = decode(&lines);
            assert_eq!(
                entries_of(file),
                (entries, skipped, lines.len(), torn),
                "{file:?}"
            );
        }
    }

    fn history_at(path: &Path) -> AshHistory {
        let mut inner = Inner {
            path: Some(path.to_path_buf()),
            memory: empty_memory(),
            pending: Vec::new(),
            failing: false,
            loading: None,
            seen: None,
        };
        inner.load();
        AshHistory(Arc::new(Mutex::new(inner)))
    }

    /// A sync appends this shell's entries; what another shell appended in
    /// between is read and comes before them, in the file's order; with
    /// nothing written in between, the file is not read again.
    #[test]
    fn syncs_append_and_take_in_what_other_shells_wrote() {
        let dir = std::env::temp_dir().join(format!("ash-history-merge-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("history.txt");
        std::fs::write(&path, "echo old\n").expect("write");
        let mut h = history_at(&path);
        let mut run = |line: &str| {
            h.save(HistoryItem::from_command_line(line)).expect("save");
            h.sync().expect("sync");
            lock(&h.0).entries()
        };
        run("echo mine1");
        let mut other = OpenOptions::new().append(true).open(&path).expect("open");
        other.write_all(b"echo theirs\n").expect("append");
        let entries = run("echo mine2");
        assert_eq!(
            entries,
            ["echo old", "echo mine1", "echo theirs", "echo mine2"]
        );
        let entries = run("echo mine3");
        assert_eq!(entries.last().map(String::as_str), Some("echo mine3"));
        assert_eq!(entries.len(), 5);
        let saved = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            saved,
            "echo old\necho mine1\necho theirs\necho mine2\necho mine3\n"
        );
        // Another shell's line cut short: ours start on a new line.
        other.write_all(b"echo cut").expect("append");
        run("echo mine4");
        let saved = std::fs::read_to_string(&path).expect("read");
        assert!(
            saved.ends_with("echo mine3\necho cut\necho mine4\n"),
            "{saved}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn trimming_keeps_the_newest_entries_the_mode_and_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ash-history-trim-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let real = dir.join("real.txt");
        let link = dir.join("history.txt");
        let text: String = (0..CAPACITY + SLACK)
            .map(|i| format!("echo {i}\n"))
            .collect();
        std::fs::write(&real, text).expect("write");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let mut h = history_at(&link);
        h.save(HistoryItem::from_command_line("echo new"))
            .expect("save");
        h.sync().expect("sync");
        let saved = std::fs::read_to_string(&real).expect("read");
        let lines: Vec<&str> = saved.lines().collect();
        assert_eq!(lines.len(), CAPACITY);
        assert_eq!(lines[0], format!("echo {}", SLACK + 1));
        assert_eq!(lines[CAPACITY - 1], "echo new");
        let meta = std::fs::metadata(&real).expect("stat");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("lstat")
                .is_symlink()
        );
        let names = std::fs::read_dir(&dir).expect("list").count();
        assert_eq!(names, 2, "no new file left over");
        // Appending again (under capacity + slack) adds one line.
        h.save(HistoryItem::from_command_line("echo newer"))
            .expect("save");
        h.sync().expect("sync");
        let saved = std::fs::read_to_string(&real).expect("read");
        assert_eq!(saved.lines().count(), CAPACITY + 1);
        assert!(saved.ends_with("echo new\necho newer\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_append_starts_on_a_new_line_after_a_torn_one() {
        let dir = std::env::temp_dir().join(format!("ash-history-torn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("history.txt");
        std::fs::write(&path, "echo one\nech").expect("write");
        let mut h = history_at(&path);
        h.save(HistoryItem::from_command_line("echo two"))
            .expect("save");
        h.sync().expect("sync");
        let saved = std::fs::read_to_string(&path).expect("read");
        assert_eq!(saved, "echo one\nech\necho two\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
