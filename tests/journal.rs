//! Journals and resuming (section 14): `ash --journal FILE`, `ash --resume
//! FILE`, `ash --journal-summary FILE`. What a resume runs again is checked
//! by the branches' side effects (a log file they append to), not by the
//! journal alone.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::TempDir;

const ASH: &str = env!("CARGO_BIN_EXE_ash");

/// A script that checks one "file" per branch: each branch appends its
/// name to `ran.log`, fails when `bad-NAME` exists, and returns a map (a
/// value that must come back whole on a resume).
const CHECK: &str = r#"
async fn check(name) {
  echo $name >> ran.log
  if test -f "bad-$name" { throw "$name is bad" }
  return {name: $name, size: len(name), tags: ["t", 1.5, null]}
}
let names = args
let results = gather -k (map(names, check))
for r in $results {
  if (type(r) == "error") { echo "error: ${r.message}" } else { echo "${r.name} ${r.size} ${to_json(r.tags)}" }
}
"#;

struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

fn ash(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(ASH)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run ash");
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn setup(script: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new();
    fs::write(dir.0.join("s.ash"), script).expect("write script");
    let journal = dir.0.join("j.ndjson");
    (dir, journal)
}

/// The lines of `ran.log` (and empties it for the next run).
fn ran(dir: &Path) -> Vec<String> {
    let path = dir.join("ran.log");
    let text = fs::read_to_string(&path).unwrap_or_default();
    let _ = fs::remove_file(&path);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// Every line of the journal, parsed (a line that does not parse fails the
/// test).
fn records(journal: &Path) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(journal).expect("read the journal");
    assert!(text.ends_with('\n'), "the journal ends with a whole line");
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("line {} does not parse ({e}): {l:?}", i + 1))
        })
        .collect()
}

/// The branch records (those with a `key`).
fn branches(journal: &Path) -> Vec<serde_json::Value> {
    records(journal)
        .into_iter()
        .filter(|r| r.get("key").is_some())
        .collect()
}

fn field<'a>(r: &'a serde_json::Value, name: &str) -> &'a str {
    r.get(name).and_then(|v| v.as_str()).unwrap_or("")
}

#[test]
fn a_fixed_input_reruns_only_the_failed_branches() {
    let (dir, journal) = setup(CHECK);
    let j = journal.to_str().expect("utf-8");
    for bad in ["b", "d"] {
        fs::write(dir.0.join(format!("bad-{bad}")), "").expect("write");
    }
    let first = ash(&dir.0, &["--journal", j, "s.ash", "a", "b", "c", "d"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    assert_eq!(ran(&dir.0), ["a", "b", "c", "d"]);
    let recs = branches(&journal);
    assert_eq!(recs.len(), 4, "{recs:?}");
    for r in &recs {
        let label = field(r, "label");
        let ok = label == "check(\"a\")" || label == "check(\"c\")";
        assert_eq!(field(r, "status"), if ok { "ok" } else { "failed" }, "{r}");
        assert!(field(r, "site").ends_with("s.ash:8"), "{r}");
        assert!(r["start"].as_f64() <= r["end"].as_f64(), "{r}");
        if ok {
            assert_eq!(r["value"]["tags"], serde_json::json!(["t", 1.5, null]));
        } else {
            assert_eq!(r["error"]["kind"], "Error", "{r}");
            assert!(field(&r["error"], "message").ends_with("is bad"), "{r}");
        }
    }

    // Fix b (d stays bad), resume: only b and d run again.
    fs::remove_file(dir.0.join("bad-b")).expect("fix b");
    let second = ash(&dir.0, &["--resume", j, "s.ash", "a", "b", "c", "d"]);
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert_eq!(ran(&dir.0), ["b", "d"], "only what failed runs again");
    // The skipped branches' recorded values are their results, whole.
    assert_eq!(
        second.stdout,
        "a 1 [\"t\",1.5,null]\nb 1 [\"t\",1.5,null]\nc 1 [\"t\",1.5,null]\nerror: d is bad\n",
    );
    assert!(
        second
            .stderr
            .contains("resume: 2 skipped, 2 rerun, 1 failed again"),
        "{}",
        second.stderr
    );
    // The new records were appended.
    assert_eq!(branches(&journal).len(), 6);

    // Fix d: one branch runs; then a resume with nothing left runs nothing.
    fs::remove_file(dir.0.join("bad-d")).expect("fix d");
    let third = ash(&dir.0, &["--resume", j, "s.ash", "a", "b", "c", "d"]);
    assert_eq!(ran(&dir.0), ["d"], "{}", third.stderr);
    let fourth = ash(&dir.0, &["--resume", j, "s.ash", "a", "b", "c", "d"]);
    assert_eq!(ran(&dir.0), Vec::<String>::new(), "{}", fourth.stderr);
    assert!(fourth.stdout.contains("d 1"), "{}", fourth.stdout);
    assert!(
        fourth
            .stderr
            .contains("resume: 4 skipped, 0 rerun, 0 failed again"),
        "{}",
        fourth.stderr
    );
}

#[test]
fn the_key_does_not_change_when_the_list_is_reordered() {
    let (dir, journal) = setup(CHECK);
    let j = journal.to_str().expect("utf-8");
    let first = ash(&dir.0, &["--journal", j, "s.ash", "a", "b", "c"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    ran(&dir.0);
    // Another order, and one new input: only the new one runs, and the
    // results follow the new order.
    let second = ash(&dir.0, &["--resume", j, "s.ash", "c", "new", "a", "b"]);
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert_eq!(ran(&dir.0), ["new"]);
    let names: Vec<&str> = second
        .stdout
        .lines()
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(names, ["c", "new", "a", "b"]);
    // Keys name the function and its arguments, not the position.
    let keys: Vec<String> = branches(&journal)
        .iter()
        .map(|r| field(r, "key").to_string())
        .collect();
    assert!(
        keys.iter().any(|k| k.ends_with("check(\"new\")")),
        "{keys:?}"
    );
}

#[test]
fn an_edit_elsewhere_in_the_script_keeps_the_keys() {
    let (dir, journal) = setup(CHECK);
    let j = journal.to_str().expect("utf-8");
    ash(&dir.0, &["--journal", j, "s.ash", "a", "b"]);
    ran(&dir.0);
    // Lines added above the gather move it; its keys stay.
    let edited = format!("# a comment\necho start\n{CHECK}");
    fs::write(dir.0.join("s.ash"), edited).expect("edit");
    let out = ash(&dir.0, &["--resume", j, "s.ash", "a", "b"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(ran(&dir.0), Vec::<String>::new(), "{}", out.stderr);
}

#[test]
fn literal_branches_nested_gathers_spawns_and_races() {
    let script = r#"
async fn inner(x) {
  echo "inner $x" >> ran.log
  if test -f "bad-$x" { throw "bad $x" }
  return $x * 10
}
async fn outer(name) {
  echo "outer $name" >> ran.log
  # -k: inner(1) always ends ok (a plain gather may cancel it first).
  let r = gather -k (map([1, 2], inner))
  for x in $r { if (type(x) == "error") { throw $x } }
  return $r
}
let r = gather -k { echo lit1 >> ran.log; return "one" } { echo lit2 >> ran.log; return 2s } (outer("p")) (outer("q"))
fn show(v) { if (type(v) == "error") { return "error" }; return to_json(v) }
echo ${r[0]} ${r[1]} (show(r[2])) (show(r[3]))
let t = spawn { echo spawned >> ran.log; return [1, 2] }
echo (to_json(await $t))
let w = race { echo fast >> ran.log; return "fast" } { sleep 5; return "slow" }
echo $w
"#;
    let (dir, journal) = setup(script);
    let j = journal.to_str().expect("utf-8");
    fs::write(dir.0.join("bad-2"), "").expect("write");
    let first = ash(&dir.0, &["--journal", j, "s.ash"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    assert_eq!(
        ran(&dir.0),
        [
            "fast", "inner 1", "inner 1", "inner 2", "inner 2", "lit1", "lit2", "outer p",
            "outer q", "spawned"
        ]
    );
    let recs = branches(&journal);
    let keys: Vec<&str> = recs.iter().map(|r| field(r, "key")).collect();
    // Nested gathers are keyed by their path: inner(1) under outer("p")
    // and under outer("q") are two keys.
    let inner1: Vec<&&str> = keys.iter().filter(|k| k.ends_with("inner(1)")).collect();
    assert_eq!(inner1.len(), 2, "{keys:?}");
    assert!(
        inner1.iter().any(|k| k.contains("outer(\"p\") / ")),
        "{keys:?}"
    );
    assert!(
        inner1.iter().any(|k| k.contains("outer(\"q\") / ")),
        "{keys:?}"
    );
    // A race's loser is recorded as cancelled.
    assert!(
        recs.iter()
            .any(|r| field(r, "kind") == "race" && field(r, "status") == "cancelled"),
        "{recs:?}"
    );

    // Resume: the failed path (inner(2) under both outers, so both outers)
    // runs again; a literal branch whose value is not JSON-able (2s) runs
    // again; the ok literal, the spawn and the race's winner do not.
    fs::remove_file(dir.0.join("bad-2")).expect("fix");
    let second = ash(&dir.0, &["--resume", j, "s.ash"]);
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert_eq!(
        ran(&dir.0),
        ["inner 2", "inner 2", "lit2", "outer p", "outer q"],
        "{}",
        second.stderr
    );
    assert_eq!(
        second.stdout, "one 2s [10,20] [10,20]\n[1,2]\nfast\n",
        "{}",
        second.stderr
    );
}

/// Wait until `journal` holds at least `n` `ok` branch records.
fn wait_for_ok(journal: &Path, n: usize, deadline: Duration) {
    let start = Instant::now();
    loop {
        let text = fs::read_to_string(journal).unwrap_or_default();
        if text.matches("\"status\":\"ok\"").count() >= n {
            return;
        }
        assert!(
            start.elapsed() < deadline,
            "no {n} ok records after {deadline:?}: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_run_killed_with_sigkill_resumes_where_it_stopped() {
    // 40 branches, 2 at a time, each 100 ms: about 2 s in all.
    let script = r#"
async fn step(i) {
  sleep 100ms
  echo $i >> ran.log
  return "done $i"
}
let r = gather -j 2 (map(range(0, 40), step))
echo (len(r)) ${r[0]} ${r[39]}
"#;
    let (dir, journal) = setup(script);
    let j = journal.to_str().expect("utf-8");
    let mut child = Command::new(ASH)
        .args(["--journal", j, "s.ash"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ash");
    wait_for_ok(&journal, 5, Duration::from_secs(20));
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    // Every line of what was written parses; no end record.
    let before = records(&journal);
    assert!(
        !before.iter().any(|r| field(r, "event") == "end"),
        "a killed run writes no end: {before:?}"
    );
    let done: Vec<String> = before
        .iter()
        .filter(|r| field(r, "status") == "ok")
        .map(|r| field(r, "value").trim_start_matches("done ").to_string())
        .collect();
    assert!(done.len() >= 5 && done.len() < 40, "{done:?}");
    let mut first_ran = ran(&dir.0);
    let out = ash(&dir.0, &["--resume", j, "s.ash"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "40 done 0 done 39\n");
    let rerun = ran(&dir.0);
    // What had ended ok is not run again; everything else is.
    for d in &done {
        assert!(!rerun.contains(d), "{d} ran again: {rerun:?}");
    }
    assert_eq!(rerun.len(), 40 - done.len(), "{rerun:?}");
    first_ran.extend(rerun);
    first_ran.sort();
    first_ran.dedup();
    assert_eq!(first_ran.len(), 40, "every step ran at least once");
}

#[test]
fn sigterm_records_what_was_running_as_cancelled() {
    let script = r#"
async fn slow(i) { echo $i >> ran.log; sleep 30s; return $i }
gather (map([1, 2, 3], slow))
"#;
    let (dir, journal) = setup(script);
    let j = journal.to_str().expect("utf-8");
    let mut child = Command::new(ASH)
        .args(["--journal", j, "s.ash"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ash");
    // Wait for the three branches to be running.
    let start = Instant::now();
    let log = dir.0.join("ran.log");
    while fs::read_to_string(&log).unwrap_or_default().lines().count() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the branches did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(143));
    let recs = records(&journal);
    let cancelled = recs
        .iter()
        .filter(|r| field(r, "status") == "cancelled")
        .count();
    assert_eq!(cancelled, 3, "{recs:?}");
    let end = recs.last().expect("records");
    assert_eq!(field(end, "event"), "end", "{recs:?}");
    assert_eq!(end["status"], 143);
}

#[test]
fn concurrent_writers_do_not_tear_each_others_lines() {
    // Four ash processes append 300 records each, of about 6 KB (more than
    // a pipe's atomic write), to one journal at the same time.
    let script = r#"
let chunk = join(map(range(0, 600), fn (_) { return "0123456789" }), "")
async fn big(i) { return chunk + str(i) }
let r = gather -j 8 (map(range(0, 300), big))
"#;
    let (dir, journal) = setup(script);
    let j = journal.to_str().expect("utf-8");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(ASH)
                .args(["--journal", j, "s.ash"])
                .current_dir(&dir.0)
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn ash")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let recs = records(&journal);
    let branch = recs.iter().filter(|r| r.get("key").is_some()).count();
    assert_eq!(branch, 4 * 300);
    for r in recs.iter().filter(|r| r.get("key").is_some()) {
        assert_eq!(
            field(r, "value").len(),
            6000 + field(r, "label").len() - "big()".len()
        );
    }
    let runs: std::collections::HashSet<&str> = recs.iter().map(|r| field(r, "run")).collect();
    assert_eq!(runs.len(), 4, "four runs");
}

#[test]
fn a_run_starting_while_another_writes_a_line_does_not_split_it() {
    // Another writer is half-way through a record: it holds the journal's
    // lock (as every ash writer does while it appends) and has written the
    // first half of its line. A run that starts now must not take that
    // half for a line torn by a crash and end it with a newline: it waits
    // for the lock, and the other writer's line stays whole.
    let (dir, journal) = setup(CHECK);
    let j = journal.to_str().expect("utf-8");
    ash(&dir.0, &["--journal", j, "s.ash", "a"]);
    ran(&dir.0);
    let record = format!(
        r#"{{"run":"other","key":"k","site":"s","label":"l","kind":"gather","status":"ok","value":"{}"}}"#,
        "x".repeat(5000)
    );
    let (first, rest) = record.as_bytes().split_at(record.len() / 2);
    let mut writer = fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .expect("open");
    writer.lock().expect("lock the journal");
    std::io::Write::write_all(&mut writer, first).expect("write");
    let before = fs::metadata(&journal).expect("stat").len();
    let child = Command::new(ASH)
        .args(["--journal", j, "s.ash", "b"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ash");
    // A summary read meanwhile waits for the line too.
    let summary = Command::new(ASH)
        .args(["--journal-summary", j])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ash");
    // Give the run time to start (and, before the lock, to write into the
    // half line): until the file grows, at most a second.
    let start = Instant::now();
    while fs::metadata(&journal).expect("stat").len() == before
        && start.elapsed() < Duration::from_secs(1)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let grew = fs::metadata(&journal).expect("stat").len() != before;
    std::io::Write::write_all(&mut writer, rest).expect("write");
    std::io::Write::write_all(&mut writer, b"\n").expect("write");
    writer.unlock().expect("unlock");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let recs = records(&journal);
    assert!(
        recs.iter().any(|r| field(r, "run") == "other"),
        "the other writer's line is whole"
    );
    assert!(!stderr.contains("torn"), "{stderr}");
    let summary = summary.wait_with_output().expect("wait");
    assert!(summary.status.success());
    let stderr = String::from_utf8_lossy(&summary.stderr);
    assert!(!stderr.contains("torn"), "the summary: {stderr}");
    assert!(!grew, "the run wrote while another writer held the lock");
    assert_eq!(ran(&dir.0), ["b"]);
    assert_eq!(recs.iter().filter(|r| r.get("key").is_some()).count(), 3);
}

#[test]
fn a_writer_killed_mid_line_during_a_run_does_not_swallow_its_next_record() {
    // Another run sharing the journal is killed half-way through a line
    // while this one runs (the branch plays it): this run's next record
    // starts on a new line instead of ending the torn one.
    let script = r#"
async fn step() { printf '%s' '{"run":"killed","key":"x' >> j.ndjson; return 1 }
let r = gather (step())
"#;
    let (dir, journal) = setup(script);
    let j = journal.to_str().expect("utf-8");
    let out = ash(&dir.0, &["--journal", j, "s.ash"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("torn"), "{}", out.stderr);
    let text = fs::read_to_string(&journal).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[1], r#"{"run":"killed","key":"x"#);
    let step: serde_json::Value = serde_json::from_str(lines[2]).expect("a record");
    assert_eq!(field(&step, "status"), "ok");
    assert!(field(&step, "label").starts_with("step("), "{step}");
}

#[test]
fn a_torn_journal_is_read_up_to_the_torn_line() {
    let (dir, journal) = setup(CHECK);
    let j = journal.to_str().expect("utf-8");
    ash(&dir.0, &["--journal", j, "s.ash", "a", "b", "c"]);
    ran(&dir.0);
    // A crash tore the last branch record and the end record.
    let text = fs::read_to_string(&journal).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let torn_label = field(
        &serde_json::from_str(lines[lines.len() - 2]).expect("a record"),
        "label",
    )
    .to_string();
    let last_branch = lines[lines.len() - 2];
    let mut cut = lines[..lines.len() - 2].join("\n");
    cut.push('\n');
    cut.push_str(&last_branch[..last_branch.len() / 2]);
    fs::write(&journal, &cut).expect("tear");

    let summary = ash(&dir.0, &["--journal-summary", j]);
    assert_eq!(summary.status, 0, "{}", summary.stderr);
    assert!(summary.stderr.contains("torn"), "{}", summary.stderr);

    let out = ash(&dir.0, &["--resume", j, "s.ash", "a", "b", "c"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("torn"), "{}", out.stderr);
    let name = torn_label
        .trim_start_matches("check(\"")
        .trim_end_matches("\")");
    assert_eq!(ran(&dir.0), [name], "the torn record's branch runs again");
    // The new records start on a line of their own: all of them parse.
    let after = fs::read_to_string(&journal).expect("read");
    let bad: Vec<&str> = after
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_err())
        .collect();
    assert_eq!(bad.len(), 1, "only the torn line: {bad:?}");
}

#[test]
fn a_file_that_is_not_a_journal_is_an_error_that_changes_nothing() {
    let (dir, journal) = setup(CHECK);
    let j = journal.to_str().expect("utf-8");
    let text = "name,size\na,1\n";
    fs::write(&journal, text).expect("write");
    for flag in ["--journal", "--resume", "--journal-summary"] {
        let mut args = vec![flag, j];
        if flag != "--journal-summary" {
            args.extend(["s.ash", "a"]);
        }
        let out = ash(&dir.0, &args);
        assert_eq!(out.status, 2, "{flag}: {}", out.stderr);
        assert!(
            out.stderr.contains("not an ash journal"),
            "{flag}: {}",
            out.stderr
        );
        assert_eq!(fs::read_to_string(&journal).expect("read"), text);
        assert_eq!(ran(&dir.0), Vec::<String>::new(), "{flag}: nothing runs");
    }
    // A journal that cannot be opened: nothing runs either.
    let out = ash(&dir.0, &["--journal", "/nonexistent/dir/j", "s.ash", "a"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert_eq!(ran(&dir.0), Vec::<String>::new());
    // --resume from a journal that does not exist yet runs everything.
    let fresh = dir.0.join("fresh.ndjson");
    let out = ash(
        &dir.0,
        &["--resume", fresh.to_str().expect("utf-8"), "s.ash", "a"],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(ran(&dir.0), ["a"]);
    assert_eq!(branches(&fresh).len(), 1);
}

#[test]
fn the_summary_counts_lists_the_slowest_and_the_failures() {
    let (dir, journal) = setup(CHECK);
    let j = journal.to_str().expect("utf-8");
    fs::write(dir.0.join("bad-b"), "").expect("write");
    ash(&dir.0, &["--journal", j, "s.ash", "a", "b", "c"]);
    let text = ash(&dir.0, &["--journal-summary", j]);
    assert_eq!(text.status, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("3 branches: 2 ok, 1 failed, 0 cancelled, 0 timeout"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("slowest:"), "{}", text.stdout);
    assert!(
        text.stdout.contains("check(\"b\")") && text.stdout.contains("Error: b is bad"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("1 to run on --resume"),
        "{}",
        text.stdout
    );
    let json = ash(&dir.0, &["--journal-summary", j, "--json"]);
    assert_eq!(json.status, 0, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(v["runs"][0]["counts"]["ok"], 2);
    assert_eq!(v["runs"][0]["counts"]["failed"], 1);
    assert_eq!(v["runs"][0]["failures"][0]["error"]["message"], "b is bad");
    assert_eq!(v["keys"]["to_run"], 1);
}

#[test]
fn a_branch_that_exits_fails_and_the_ones_it_cut_short_are_cancelled() {
    let script = r#"
async fn wait(x) { echo $x >> ran.log; sleep 30s }
async fn quit() {
  # Once both waits run (ran.log may not exist yet).
  while (true) {
    if test -f ran.log { if (len(lines($(cat ran.log))) >= 2) { break } }
    sleep 10ms
  }
  exit 3
}
gather (wait(1)) (wait(2)) (quit())
"#;
    let (dir, journal) = setup(script);
    let j = journal.to_str().expect("utf-8");
    let out = ash(&dir.0, &["--journal", j, "s.ash"]);
    assert_eq!(out.status, 3, "{}", out.stderr);
    let recs = branches(&journal);
    let by_label = |label: &str| {
        recs.iter()
            .find(|r| field(r, "label") == label)
            .unwrap_or_else(|| panic!("no record of {label}: {recs:?}"))
    };
    let quit = by_label("quit()");
    assert_eq!(field(quit, "status"), "failed", "{quit}");
    assert_eq!(field(&quit["error"], "kind"), "Exit", "{quit}");
    for label in ["wait(1)", "wait(2)"] {
        let r = by_label(label);
        assert_eq!(field(r, "status"), "cancelled", "{r}");
        assert!(field(&r["error"], "message").contains("exit 3"), "{r}");
    }
}
