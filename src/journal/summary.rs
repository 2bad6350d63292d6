//! `ash --journal-summary FILE [--json]`: what a journal says, per run —
//! its counts by status, its slowest branches, its failures with their
//! messages — and what `--resume` would run again.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value as Json, json};

use super::read::{self, Journal};
use super::record::{Branch, Record, Status};

/// Slowest branches shown per run.
const SLOWEST: usize = 5;
/// Failures listed per run in the text form (`--json` lists all).
const FAILURES: usize = 20;

/// One run's records.
#[derive(Default)]
struct Run {
    id: String,
    start: Option<serde_json::Map<String, Json>>,
    end: Option<serde_json::Map<String, Json>>,
    branches: Vec<Branch>,
}

impl Run {
    fn count(&self, status: Status) -> usize {
        self.branches.iter().filter(|b| b.status == status).count()
    }

    fn field(&self, event: &Option<serde_json::Map<String, Json>>, name: &str) -> Option<Json> {
        event.as_ref().and_then(|e| e.get(name)).cloned()
    }

    /// When it started: its start record, else its first branch.
    fn started(&self) -> Option<f64> {
        self.field(&self.start, "time")
            .and_then(|t| t.as_f64())
            .or_else(|| self.branches.iter().map(|b| b.start).reduce(f64::min))
    }

    fn ended(&self) -> Option<f64> {
        self.field(&self.end, "time").and_then(|t| t.as_f64())
    }

    fn slowest(&self, n: usize) -> Vec<&Branch> {
        let mut by_time: Vec<&Branch> = self.branches.iter().collect();
        by_time.sort_by(|a, b| (b.end - b.start).total_cmp(&(a.end - a.start)));
        by_time.truncate(n);
        by_time
    }

    /// The branches that did not end ok (a race's cancelled losers aside).
    fn failures(&self) -> impl Iterator<Item = &Branch> {
        self.branches.iter().filter(|b| {
            b.status != Status::Ok && !(b.kind == "race" && b.status == Status::Cancelled)
        })
    }
}

/// The runs of a journal, in the order they first appear.
fn runs(journal: Journal) -> Vec<Run> {
    let mut order: Vec<Run> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in journal.records {
        let id = match &r {
            Record::Branch(b) => b.run.clone(),
            Record::Run(e) => e.run.clone(),
        };
        let i = *index.entry(id.clone()).or_insert_with(|| {
            order.push(Run {
                id,
                ..Run::default()
            });
            order.len() - 1
        });
        let run = &mut order[i];
        match r {
            Record::Branch(b) => run.branches.push(b),
            Record::Run(e) if e.event == "start" => run.start = Some(e.fields),
            Record::Run(e) if e.event == "end" => run.end = Some(e.fields),
            Record::Run(_) => {}
        }
    }
    order
}

/// What `--resume` would do now, as (keys, done): keys whose last record
/// is ok (with a value) are done, left out; the others run again. A
/// race's cancelled losers are not counted: the race runs again only if
/// no branch of it is done.
fn keys(runs: &[Run]) -> (usize, usize) {
    let mut last: HashMap<&str, Option<bool>> = HashMap::new();
    for run in runs {
        for b in &run.branches {
            let lost = b.kind == "race" && b.status == Status::Cancelled;
            let done = b.status == Status::Ok && b.value.is_some();
            last.insert(&b.key, (!lost).then_some(done));
        }
    }
    let counted = last.values().flatten();
    let total = counted.clone().count();
    let done = counted.filter(|&&done| done).count();
    (total, done)
}

/// `ash --journal-summary FILE [--json]`: the exit status.
pub fn main(args: &[std::ffi::OsString]) -> i32 {
    let mut json = false;
    let mut file = None;
    for a in args {
        match a.to_str() {
            Some("--json") => json = true,
            Some(s) if s.starts_with('-') && s != "-" => {
                crate::diag::reportln!("ash: --journal-summary: unknown option {s}");
                return 2;
            }
            _ if file.is_none() => file = Some(a.clone()),
            _ => {
                crate::diag::reportln!("ash: --journal-summary takes one FILE");
                return 2;
            }
        }
    }
    let Some(file) = file else {
        crate::diag::reportln!("ash: --journal-summary needs a FILE");
        return 2;
    };
    let path = Path::new(&file);
    let journal = match read::read(path) {
        Ok(j) => j,
        Err(e) => {
            crate::diag::reportln!("ash: --journal-summary: {}", e.message(path));
            return 2;
        }
    };
    for w in &journal.warnings {
        crate::diag::warn(&format!("{}: {w}", path.display()));
    }
    let warnings = journal.warnings.clone();
    let runs = runs(journal);
    let out = if json {
        let mut text = to_json(path, &runs, &warnings).to_string();
        text.push('\n');
        text
    } else {
        to_text(path, &runs)
    };
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Ok(()) => 0,
        // `ash --journal-summary FILE | head`: the reader left.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            crate::diag::reportln!("ash: --journal-summary: {}", read::io_message(&e));
            1
        }
    }
}

fn seconds(t: f64) -> String {
    format!("{t:.3} s")
}

/// A Unix time as local date and time.
fn when(t: f64) -> String {
    let Ok(ts) = jiff::Timestamp::from_microsecond((t * 1e6) as i64) else {
        return format!("{t}");
    };
    let local = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    jiff::fmt::strtime::format("%Y-%m-%d %H:%M:%S %Z", &local).unwrap_or_else(|_| format!("{t}"))
}

fn to_text(path: &Path, runs: &[Run]) -> String {
    let mut out = String::new();
    let (total, skip) = keys(runs);
    let _ = writeln!(
        out,
        "{}: {} run{}, {} branch key{}: {} done, {} to run on --resume",
        path.display(),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        total,
        if total == 1 { "" } else { "s" },
        skip,
        total - skip,
    );
    for run in runs {
        out.push('\n');
        let script = run
            .field(&run.start, "script")
            .and_then(|s| s.as_str().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        let resume = run
            .field(&run.start, "resume")
            .and_then(|r| r.as_bool())
            .unwrap_or(false);
        let _ = write!(out, "run {}  {script}", run.id);
        if resume {
            out.push_str("  (--resume)");
        }
        out.push('\n');
        let mut head = String::new();
        if let Some(t) = run.started() {
            let _ = write!(head, "started {}", when(t));
            match run.ended() {
                Some(end) => {
                    let _ = write!(head, ", took {}", seconds(end - t));
                }
                None => head.push_str(", no end record (killed?)"),
            }
        }
        if let Some(status) = run.field(&run.end, "status") {
            let _ = write!(head, ", exit status {status}");
        }
        if !head.is_empty() {
            let _ = writeln!(out, "  {head}");
        }
        let counts: Vec<String> = Status::ALL
            .iter()
            .map(|&s| format!("{} {}", run.count(s), s.name()))
            .collect();
        let _ = write!(
            out,
            "  {} branch{}: {}",
            run.branches.len(),
            if run.branches.len() == 1 { "" } else { "es" },
            counts.join(", ")
        );
        if let Some(skipped) = run.field(&run.end, "skipped").and_then(|s| s.as_u64())
            && resume
        {
            let _ = write!(out, "; {skipped} skipped (ok before)");
        }
        out.push('\n');
        if !run.branches.is_empty() {
            out.push_str("  slowest:\n");
            for b in run.slowest(SLOWEST) {
                let _ = writeln!(
                    out,
                    "    {:>10}  {}  {}{}",
                    seconds(b.end - b.start),
                    b.label,
                    b.site,
                    host_text(b)
                );
            }
        }
        let failures: Vec<&Branch> = run.failures().collect();
        if !failures.is_empty() {
            out.push_str("  not ok:\n");
            for b in failures.iter().take(FAILURES) {
                let error = b
                    .error
                    .as_ref()
                    .map(|e| format!("{}: {}", e.kind, e.message))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {:<9}  {}  {}{}  {error}",
                    b.status.name(),
                    b.label,
                    b.site,
                    host_text(b)
                );
            }
            if failures.len() > FAILURES {
                let _ = writeln!(out, "    ... and {} more", failures.len() - FAILURES);
            }
        }
    }
    out
}

fn host_text(b: &Branch) -> String {
    b.host
        .as_ref()
        .map(|h| format!(" on {h}"))
        .unwrap_or_default()
}

fn branch_json(b: &Branch) -> Json {
    let mut o = json!({
        "key": b.key,
        "label": b.label,
        "site": b.site,
        "status": b.status.name(),
        "seconds": b.end - b.start,
    });
    if let Some(h) = &b.host {
        o["host"] = json!(h);
    }
    if let Some(e) = &b.error {
        o["error"] = json!({"kind": e.kind, "message": e.message, "location": e.location});
    }
    o
}

fn to_json(path: &Path, runs: &[Run], warnings: &[String]) -> Json {
    let (total, skip) = keys(runs);
    let runs: Vec<Json> = runs
        .iter()
        .map(|run| {
            let mut counts = serde_json::Map::new();
            for s in Status::ALL {
                counts.insert(s.name().into(), json!(run.count(s)));
            }
            json!({
                "run": run.id,
                "script": run.field(&run.start, "script"),
                "args": run.field(&run.start, "args"),
                "resume": run.field(&run.start, "resume"),
                "start": run.started(),
                "end": run.ended(),
                "status": run.field(&run.end, "status"),
                "skipped": run.field(&run.end, "skipped"),
                "branches": run.branches.len(),
                "counts": counts,
                "slowest": run.slowest(SLOWEST * 2).into_iter().map(branch_json).collect::<Vec<_>>(),
                "failures": run.failures().map(branch_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "file": path.display().to_string(),
        "runs": runs,
        "keys": {"total": total, "done": skip, "to_run": total - skip},
        "warnings": warnings,
    })
}
