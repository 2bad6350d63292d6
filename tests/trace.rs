//! `ash --trace FILE` and `ash --timeline` (LANGUAGE.md section 13): the
//! trace is loaded with a JSON parser and checked for the event kinds and
//! their fields, for spans that nest on every lane (what Perfetto needs to
//! draw a lane as one row), for nested ash processes under their own pid,
//! and for validity however the script ends (success, uncaught error,
//! `exit`, SIGINT, SIGTERM). The timeline is checked for its rows, its
//! order and its summary line.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::{TempDir, output_within};

const ASH: &str = env!("CARGO_BIN_EXE_ash");

/// Run `ash ARGS` (stdin from /dev/null); (status, stdout, stderr).
fn ash(args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(ASH);
    cmd.args(args)
        .env_remove("ASH_TRACE_DIR")
        .env_remove("TRACEPARENT");
    let f = output_within(&mut cmd, Duration::from_secs(60), "ash --trace");
    (f.status, f.stdout, f.stderr)
}

/// The trace at `path`, parsed (panics, showing the text, when it is not
/// valid JSON of the Trace Event format's object form).
fn load(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("the trace file");
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the trace is not valid JSON ({e}):\n{text}"));
    let events = doc["traceEvents"]
        .as_array()
        .unwrap_or_else(|| panic!("no traceEvents array:\n{text}"))
        .clone();
    for e in &events {
        let ph = e["ph"]
            .as_str()
            .unwrap_or_else(|| panic!("an event without ph: {e}"));
        assert!(
            ["X", "i", "s", "f", "M", "C"].contains(&ph),
            "unexpected phase {ph}: {e}"
        );
        assert!(e["pid"].is_u64(), "an event without a pid: {e}");
        if ph != "M" {
            assert!(e["ts"].is_number(), "an event without ts: {e}");
        }
        if ph == "X" {
            assert!(
                e["dur"].as_f64().is_some_and(|d| d >= 0.0),
                "a span without dur: {e}"
            );
            assert!(e["tid"].is_u64(), "a span without a lane: {e}");
        }
    }
    events
}

fn spans<'a>(events: &'a [Value], cat: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] == cat)
        .collect()
}

fn instants<'a>(events: &'a [Value], cat: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["ph"] == "i" && e["cat"] == cat)
        .collect()
}

/// A span's start and end (ns), and its text.
type Span = (i64, i64, String);

/// Every lane's spans nest: one that starts inside another ends inside it
/// (times are in µs with ns digits; compared in ns to avoid float noise).
fn assert_nested(events: &[Value]) {
    let ns = |v: &Value| (v.as_f64().expect("a number") * 1000.0).round() as i64;
    let mut lanes: HashMap<(u64, u64), Vec<Span>> = HashMap::new();
    for e in events.iter().filter(|e| e["ph"] == "X") {
        let key = (
            e["pid"].as_u64().unwrap_or(0),
            e["tid"].as_u64().unwrap_or(0),
        );
        let start = ns(&e["ts"]);
        let end = start + ns(&e["dur"]);
        lanes
            .entry(key)
            .or_default()
            .push((start, end, e.to_string()));
    }
    for (lane, mut spans) in lanes {
        // Outer spans first: by start, then the longest first.
        spans.sort_by_key(|(s, e, _)| (*s, -*e));
        let mut open: Vec<Span> = Vec::new();
        for span in spans {
            while open.last().is_some_and(|top| top.1 <= span.0) {
                open.pop();
            }
            if let Some(top) = open.last() {
                assert!(
                    span.1 <= top.1,
                    "spans overlap on lane {lane:?}:\n  {}\n  {}",
                    top.2,
                    span.2
                );
            }
            open.push(span);
        }
    }
}

/// Every flow start has its end (same id), and the other way round.
fn assert_flows_paired(events: &[Value]) {
    let ids = |ph: &str| -> HashSet<String> {
        events
            .iter()
            .filter(|e| e["ph"] == ph)
            .map(|e| e["id"].as_str().expect("a flow id").to_string())
            .collect()
    };
    assert_eq!(ids("s"), ids("f"), "unpaired flow events");
}

#[test]
fn a_trace_holds_every_kind_of_span_instant_flow_and_lane_name() {
    let dir = TempDir::new();
    let trace = dir.0.join("t.json");
    let script = dir.0.join("s.ash");
    std::fs::write(
        &script,
        "let t = spawn { sleep 50ms; /bin/true }\n\
         gather { sleep 20ms } { sh -c 'exit 3' || true }\n\
         try { timeout 100ms { sleep 5 } } catch e { }\n\
         try { timeout 100ms { /bin/sleep 5 } } catch e { }\n\
         race { sleep 10ms } { sleep 5 }\n\
         let c = spawn { sleep 5 }\n\
         sleep 10ms\n\
         cancel $c\n\
         try { await $c } catch CancelledError e { }\n\
         await $t\n",
    )
    .expect("write the script");
    let (status, _, err) = ash(&[
        "--trace",
        trace.to_str().expect("a UTF-8 path"),
        script.to_str().expect("a UTF-8 path"),
    ]);
    assert_eq!(status, Some(0), "{err}");
    let events = load(&trace);
    let pid = events[0]["pid"].as_u64().expect("pid");

    // Tasks: the main one, the two spawns, two gather and two race branches.
    let tasks = spans(&events, "task");
    assert_eq!(tasks.len(), 7, "{tasks:#?}");
    assert!(tasks.iter().any(|t| t["name"] == "main"));
    assert!(tasks.iter().all(|t| t["args"]["outcome"].is_string()));
    assert!(
        tasks.iter().any(|t| t["args"]["outcome"] == "cancelled"),
        "the cancelled task and the race's loser end cancelled: {tasks:#?}"
    );

    // Commands: argv, pid, exit or signal, cwd, location as FILE:LINE.
    let commands = spans(&events, "command");
    let sh = commands
        .iter()
        .find(|c| c["args"]["argv"][0] == "sh")
        .expect("the sh command");
    assert_eq!(
        sh["args"]["argv"],
        serde_json::json!(["sh", "-c", "exit 3"])
    );
    assert_eq!(sh["args"]["exit"], 3);
    assert!(sh["args"]["pid"].as_i64().is_some_and(|p| p > 1));
    let cwd = std::env::current_dir().expect("cwd");
    assert_eq!(sh["args"]["cwd"], cwd.to_str().expect("a UTF-8 path"));
    assert_eq!(sh["args"]["location"], format!("{}:2", script.display()));
    let killed = commands
        .iter()
        .find(|c| c["args"]["argv"][0] == "/bin/sleep")
        .expect("the timed-out /bin/sleep");
    assert_eq!(killed["args"]["signal"], "SIGTERM", "{killed}");
    assert_eq!(
        killed["args"]["location"],
        format!("{}:4", script.display())
    );
    let tru = commands
        .iter()
        .find(|c| c["args"]["argv"][0] == "/bin/true")
        .expect("/bin/true");
    assert_eq!(tru["args"]["exit"], 0);

    // sleep, timeout, gather, race.
    assert!(spans(&events, "sleep").len() >= 6);
    let timeouts = spans(&events, "timeout");
    assert_eq!(timeouts.len(), 2);
    assert!(timeouts.iter().all(|t| t["args"]["outcome"] == "timeout"));
    assert_eq!(spans(&events, "gather").len(), 1);
    assert_eq!(spans(&events, "race").len(), 1);
    assert_eq!(spans(&events, "gather")[0]["args"]["branches"], 2);

    // Instants: expired timeouts, cancellations, the signal to the group.
    assert_eq!(instants(&events, "timeout").len(), 2);
    let cancels = instants(&events, "cancel");
    assert!(
        cancels.iter().any(|c| c["args"]["reason"] == "cancel"),
        "{cancels:#?}"
    );
    let signals = instants(&events, "signal");
    assert!(
        signals.iter().any(
            |s| s["args"]["signal"] == "SIGTERM" && s["args"]["pgid"] == killed["args"]["pgid"]
        ),
        "no SIGTERM instant for the killed group: {signals:#?}"
    );

    // Flows from spawn and from gather/race to the tasks they started.
    let flows: Vec<&Value> = events.iter().filter(|e| e["ph"] == "s").collect();
    assert!(flows.iter().filter(|f| f["name"] == "spawn").count() == 2);
    assert!(flows.iter().filter(|f| f["name"] == "branch").count() == 4);
    assert_flows_paired(&events);

    // Lane names, the process name, the counter of running processes.
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "M" && e["name"] == "process_name")
    );
    let lanes: HashSet<u64> = events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| e["tid"].as_u64().unwrap_or(0))
        .collect();
    for lane in &lanes {
        assert!(
            events.iter().any(|e| e["ph"] == "M"
                && e["name"] == "thread_name"
                && e["tid"] == *lane
                && e["pid"] == pid),
            "lane {lane} has no name"
        );
    }
    let counters: Vec<&Value> = events.iter().filter(|e| e["ph"] == "C").collect();
    assert!(counters.iter().any(|c| c["args"]["running"] == 1));
    assert!(counters.iter().any(|c| c["args"]["running"] == 0));
    assert_nested(&events);
}

#[test]
fn concurrent_work_gets_lanes_of_its_own_and_every_lane_nests() {
    let dir = TempDir::new();
    let trace = dir.0.join("t.json");
    // A pipeline (stages overlap), a fan-out with a limit, nested gathers,
    // timeouts inside branches, and tasks that outlive their spawner.
    let (status, _, err) = ash(&[
        "--trace",
        trace.to_str().expect("a UTF-8 path"),
        "-c",
        "fn work(i) { sleep (i * 0.003); /bin/echo $i | cat > /dev/null }\n\
         let ts = []\n\
         for i in (range(0, 6)) { push(ts, async { work $i }) }\n\
         gather -j 3 $ts\n\
         gather { gather { sleep 5ms } { timeout 1s { sleep 7ms } } } { spawn { sleep 30ms } }\n\
         sleep 40ms",
    ]);
    assert_eq!(status, Some(0), "{err}");
    let events = load(&trace);
    assert_nested(&events);
    assert_flows_paired(&events);
    let lanes: HashSet<u64> = events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| e["tid"].as_u64().unwrap_or(0))
        .collect();
    // Lanes are reused once free: -j 3 never needs 6 lanes of branches.
    assert!(lanes.len() >= 3 && lanes.len() <= 12, "lanes: {lanes:?}");
    assert_eq!(spans(&events, "command").len(), 12);
}

#[test]
fn nested_ash_processes_join_the_trace_under_their_own_pid() {
    let dir = TempDir::new();
    let trace = dir.0.join("t.json");
    let code = format!(
        "{ASH} -c 'sleep 5ms; /bin/true'\n\
         sh -c \"{ASH} -c 'sleep 1ms'\"\n\
         gather {{ {ASH} -c 'printenv TRACEPARENT' }} {{ sleep 1ms }}"
    );
    let (status, out, err) = ash(&[
        "--trace",
        trace.to_str().expect("a UTF-8 path"),
        "-c",
        &code,
    ]);
    assert_eq!(status, Some(0), "{err}");
    let events = load(&trace);
    let root = events[0]["pid"].as_u64().expect("pid");
    let pids: HashSet<u64> = events.iter().filter_map(|e| e["pid"].as_u64()).collect();
    assert_eq!(
        pids.len(),
        4,
        "the first ash and three nested ones: {pids:?}"
    );
    let mains: Vec<&Value> = spans(&events, "task")
        .into_iter()
        .filter(|t| t["name"] == "main")
        .collect();
    assert_eq!(mains.len(), 4);
    // The nested ash's /bin/true is in the trace, under the nested pid.
    let tru = spans(&events, "command")
        .into_iter()
        .find(|c| c["args"]["argv"][0] == "/bin/true")
        .expect("the nested ash's /bin/true");
    assert_ne!(tru["pid"].as_u64(), Some(root));
    // An arrow from the command that started each nested ash to its main task.
    let ash_flows: Vec<&Value> = events
        .iter()
        .filter(|e| e["ph"] == "f" && e["name"] == "ash")
        .collect();
    assert_eq!(ash_flows.len(), 3, "{ash_flows:#?}");
    assert_flows_paired(&events);
    assert_nested(&events);
    // A W3C traceparent for other tools, with the trace's id.
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).expect("the trace")).expect("JSON");
    let id = doc["otherData"]["trace_id"].as_str().expect("trace_id");
    let tp = out.trim();
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "TRACEPARENT: {tp}");
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1], id);
    assert_eq!(parts[2].len(), 16);
    assert!(parts[2].bytes().all(|b| b.is_ascii_hexdigit()) && parts[2] != "0000000000000000");
    // Nothing is left of the nested ashes' parts.
    let leftover = std::fs::read_dir(std::env::temp_dir())
        .expect("the temporary directory")
        .flatten()
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("ash-trace-{root}-"))
        });
    assert!(!leftover, "the nested parts' directory was left behind");
}

#[test]
fn the_trace_is_valid_after_an_error_and_after_exit() {
    let dir = TempDir::new();
    let trace = dir.0.join("t.json");
    let t = trace.to_str().expect("a UTF-8 path");
    let (status, _, err) = ash(&[
        "--trace",
        t,
        "-c",
        "spawn { sleep 5 }\nsleep 5ms\nthrow 'boom'",
    ]);
    assert_eq!(status, Some(1), "{err}");
    let events = load(&trace);
    let main = spans(&events, "task")
        .into_iter()
        .find(|t| t["name"] == "main")
        .expect("main");
    assert_eq!(main["args"]["outcome"], "failed");
    assert!(
        main["args"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("boom")
    );
    assert_nested(&events);

    let (status, _, err) = ash(&[
        "--trace",
        t,
        "-c",
        "fn f() { spawn { sleep 5 }; exit 7 }\nf",
    ]);
    assert_eq!(status, Some(7), "{err}");
    let events = load(&trace);
    let main = spans(&events, "task")
        .into_iter()
        .find(|t| t["name"] == "main")
        .expect("main");
    assert_eq!(main["args"]["outcome"], "exit");
    assert_eq!(main["args"]["exit"], 7);
    assert_eq!(
        spans(&events, "task").len(),
        2,
        "the spawned task is closed too"
    );

    let (status, _, err) = ash(&["--trace", t, "-c", "/bin/false"]);
    assert_eq!(status, Some(1), "{err}");
    let events = load(&trace);
    assert_eq!(spans(&events, "command")[0]["args"]["exit"], 1);
}

/// `ash --trace` killed by `signal` while a task and a command run.
fn signalled(signal: i32, expect: i32) {
    let dir = TempDir::new();
    let trace = dir.0.join("t.json");
    let mut child = Command::new(ASH)
        .args([
            "--trace",
            trace.to_str().expect("a UTF-8 path"),
            "-c",
            "spawn { /bin/sleep 30 }\nspawn { sleep 30 }\nsleep 50ms\necho ready\nsleep 30",
        ])
        .env_remove("ASH_TRACE_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ash");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line, "ready\n");
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
    let sig = if signal == 2 {
        rustix::process::Signal::INT
    } else {
        rustix::process::Signal::TERM
    };
    rustix::process::kill_process(pid, sig).expect("kill");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(expect),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = load(&trace);
    let name = if signal == 2 {
        "SIGINT received"
    } else {
        "SIGTERM received"
    };
    assert!(
        events.iter().any(|e| e["ph"] == "i" && e["name"] == name),
        "no '{name}' instant"
    );
    let sleep = spans(&events, "command")
        .into_iter()
        .find(|c| c["args"]["argv"][0] == "/bin/sleep")
        .expect("the /bin/sleep span");
    assert_eq!(sleep["args"]["signal"], "SIGTERM", "{sleep}");
    assert!(
        instants(&events, "signal")
            .iter()
            .any(|s| s["args"]["pgid"] == sleep["args"]["pgid"]),
        "no instant for the signal sent to /bin/sleep's group"
    );
    assert_eq!(spans(&events, "task").len(), 3);
    assert_nested(&events);
}

#[test]
fn the_trace_is_valid_after_sigint() {
    signalled(2, 130);
}

#[test]
fn the_trace_is_valid_after_sigterm() {
    signalled(15, 143);
}

#[test]
fn an_unwritable_trace_or_timeline_is_a_usage_error_before_anything_runs() {
    let dir = TempDir::new();
    let marker = dir.0.join("ran");
    let code = format!("touch {}", marker.display());
    for args in [
        vec!["--trace", "/nonexistent/dir/t.json", "-c", &code],
        vec!["--timeline=/nonexistent/dir/t.txt", "-c", &code],
        vec![
            "--trace",
            dir.0.to_str().expect("a UTF-8 path"),
            "-c",
            &code,
        ],
    ] {
        let (status, _, err) = ash(&args);
        assert_eq!(status, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("/nonexistent") || err.contains("directory"),
            "{err}"
        );
        assert!(!marker.exists(), "{args:?}: the script ran");
    }
    let (status, _, err) = ash(&["-c", "true", "--trace"]);
    assert_eq!(
        status,
        Some(0),
        "after -c CODE, --trace is an argument: {err}"
    );
    let (status, _, err) = ash(&["--trace"]);
    assert_eq!(status, Some(2), "{err}");
    let (status, _, err) = ash(&["--trace-limit", "lots", "-c", "true"]);
    assert_eq!(status, Some(2), "{err}");
}

#[test]
fn a_trace_past_its_limit_stays_valid_and_says_what_it_left_out() {
    let dir = TempDir::new();
    let trace = dir.0.join("t.json");
    let (status, _, err) = ash(&[
        "--trace",
        trace.to_str().expect("a UTF-8 path"),
        "--trace-limit",
        "20K",
        "-c",
        "let ts = []\nfor i in (range(0, 2000)) { push(ts, spawn { sleep 1ms }) }\ngather $ts",
    ]);
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("size limit"), "no warning: {err}");
    let size = std::fs::metadata(&trace).expect("trace").len();
    assert!(size < 21 * 1024, "{size} bytes");
    let events = load(&trace);
    let note = events
        .iter()
        .find(|e| e["name"] == "trace limit reached")
        .expect("a note in the trace");
    assert!(
        note["args"]["dropped_events"]
            .as_u64()
            .is_some_and(|n| n > 1000)
    );
}

#[test]
fn a_run_of_many_tasks_gives_a_trace_that_loads() {
    let dir = TempDir::new();
    let trace = dir.0.join("t.json");
    let (status, _, err) = ash(&[
        "--trace",
        trace.to_str().expect("a UTF-8 path"),
        "-c",
        "let ts = []\nfor i in (range(0, 20000)) { push(ts, spawn { sleep 1ms }) }\ngather $ts",
    ]);
    assert_eq!(status, Some(0), "{err}");
    let events = load(&trace);
    assert_eq!(spans(&events, "task").len(), 20001);
    let size = std::fs::metadata(&trace).expect("trace").len();
    // About 550 bytes per task with its sleep and its arrow (docs/trace.md).
    assert!(size < 20000 * 700, "{size} bytes");
    assert_nested(&events);
}

#[test]
fn the_timeline_shows_tasks_and_commands_longest_first_then_the_totals() {
    let (status, _, err) = ash(&[
        "--timeline",
        "-c",
        "gather { sleep 60ms } { /bin/sleep 0.02 } { sh -c 'exit 4' || true }",
    ]);
    assert_eq!(status, Some(0), "{err}");
    assert!(!err.contains('\x1b'), "no colours off a terminal: {err:?}");
    let lines: Vec<&str> = err.lines().collect();
    let main = lines
        .iter()
        .position(|l| l.contains("main"))
        .expect("main row");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("$ /bin/sleep 0.02") && l.contains("ok")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("$ sh -c exit 4") && l.contains("exit 4")),
        "{err}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(" branch ")).count(),
        3,
        "{err}"
    );
    assert!(
        lines[main + 1..].iter().any(|l| l.contains('█')),
        "no bars: {err}"
    );
    let last = lines.last().expect("a summary");
    assert!(
        last.contains("total") && last.contains("peak concurrency: 3 tasks"),
        "{err}"
    );
}

/// `ash ARGS` in a pty of 100 columns; everything it wrote, raw.
fn in_pty(args: &[&str]) -> Vec<u8> {
    use expectrl::Session;
    let mut cmd = Command::new(ASH);
    cmd.args(args)
        .env_remove("ASH_TRACE_DIR")
        .env("TERM", "xterm-256color");
    let mut s = Session::spawn(cmd).expect("spawn ash in a pty");
    let _ = s.get_process_mut().set_window_size(100, 30);
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let start = std::time::Instant::now();
    loop {
        match s.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if !s.get_process().is_alive().unwrap_or(false)
                    && start.elapsed() > Duration::from_millis(50)
                {
                    // Drain what is left, then stop.
                    while let Ok(n) = s.try_read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        raw.extend_from_slice(&buf[..n]);
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => break,
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "ash did not end: {}",
            String::from_utf8_lossy(&raw)
        );
    }
    raw
}

#[test]
fn the_progress_line_is_redrawn_in_place_with_output_above_it() {
    let raw = in_pty(&[
        "-c",
        "gather -j 2 --progress { sleep 0.3; echo one } { sleep 0.6; echo two; echo err >&2 } { sleep 0.2; sh -c 'echo three' } { sleep 0.9; printf 'no newline' }\n\
         echo after",
    ]);
    let text = String::from_utf8_lossy(&raw).to_string();
    // Drawn in place: a carriage return before each drawing, erased to the
    // end of the line after it, and never a line of its own until the end.
    let draws: Vec<&str> = text
        .split('\r')
        .filter(|p| p.starts_with("gather ["))
        .collect();
    assert!(draws.len() >= 3, "few redraws: {text:?}");
    for d in &draws {
        assert!(d.contains("running") && d.contains("failed 0"), "{d:?}");
        assert!(d.chars().count() < 100, "wider than the terminal: {d:?}");
    }
    assert!(text.contains("gather [0/4]"), "{text:?}");
    assert!(text.contains("gather [4/4]"), "{text:?}");
    assert!(text.contains("ETA"), "{text:?}");
    // What the branches printed is on lines of its own, never glued to the
    // progress line: each comes right after the line was erased (or at the
    // start of a line).
    for word in ["one", "two", "err", "three", "no newline"] {
        let at = text
            .find(word)
            .unwrap_or_else(|| panic!("{word} is missing: {text:?}"));
        let before = &text[..at];
        assert!(
            before.ends_with("\r\x1b[K") || before.ends_with('\n'),
            "{word} glued to something: {:?}",
            &text[at.saturating_sub(60)..(at + word.len()).min(text.len())]
        );
        let after = &text[at + word.len()..];
        assert!(
            after.starts_with("\r\n") || after.starts_with('\n'),
            "{word}: {text:?}"
        );
    }
    // A last line without its newline gets one, before the final line.
    assert!(text.contains("no newline\r\n\rgather [4/4]"), "{text:?}");
    // The final line stays, then what comes after the gather.
    let last = text.rfind("gather [4/4]").expect("final line");
    let after = text.find("after").expect("after");
    assert!(last < after, "{text:?}");
}

#[test]
fn progress_is_silent_off_a_terminal() {
    let (status, out, err) = ash(&[
        "-c",
        "race --progress { sleep 0.05; echo a } { sleep 5 }\n\
         use std/parallel\n\
         echo (pmap([1, 2, 3], fn (x) { return x * 2 }, {progress: true}))",
    ]);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(out, "a\n2 4 6\n");
    assert_eq!(err, "");
}

#[test]
fn pmap_progress_is_the_gather_line() {
    let raw = in_pty(&[
        "-c",
        "use std/parallel\n\
         let r = pmap([1, 2, 3, 4], fn (x) { sleep 0.1; echo item $x; return x * 10 }, {jobs: 2, progress: true})\n\
         echo $r",
    ]);
    let text = String::from_utf8_lossy(&raw).to_string();
    assert!(text.contains("gather [4/4]"), "{text:?}");
    for i in 1..=4 {
        let word = format!("item {i}");
        let at = text
            .find(&word)
            .unwrap_or_else(|| panic!("{word}: {text:?}"));
        assert!(
            text[..at].ends_with("\r\x1b[K") || text[..at].ends_with('\n'),
            "{word} glued: {text:?}"
        );
    }
    assert!(text.contains("\n10 20 30 40\r\n"), "{text:?}");
}

#[test]
fn debug_blames_the_lines_that_held_the_loop_once_per_hold() {
    let dir = TempDir::new();
    let script = dir.0.join("held.ash");
    std::fs::write(
        &script,
        "fn spin(s) {\n\
         \x20 let t = now()\n\
         \x20 while (now() - t < s) { let x = 1 }\n\
         }\n\
         spin(0.3)\n\
         sleep 10ms\n\
         let t = now()\n\
         while (now() - t < 0.3) { sleep 0 }\n\
         sleep 10ms\n",
    )
    .expect("write the script");
    let (status, _, err) = ash(&["--debug", script.to_str().expect("a UTF-8 path")]);
    assert_eq!(status, Some(0), "{err}");
    let reports: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("held the loop"))
        .collect();
    assert_eq!(reports.len(), 2, "one report per hold: {err}");
    let name = script.display().to_string();
    // The busy loop's line, not the `sleep` the task waited at next.
    assert!(
        reports[0].starts_with(&format!("ash: debug: {name}:3: task 0 held")),
        "{err}"
    );
    // A loop of ready waits (`sleep 0`) is one hold, blamed on its line.
    assert!(
        reports[1].starts_with(&format!("ash: debug: {name}:8: task 0 held")),
        "{err}"
    );
}

/// A hold made of many waits that are ready at once (a channel, `sleep 0`)
/// is reported for the whole time the loop ran the task, not only the
/// time its fiber ran between the waits (which once said 0.12 s for
/// 1.28 s, and 0.53 s for 1 s): the script measures the hold itself.
#[test]
fn debug_reports_the_whole_of_a_hold_made_of_ready_waits() {
    let dir = TempDir::new();
    let script = dir.0.join("ready.ash");
    std::fs::write(
        &script,
        "let ch = chan(4)\n\
         send(ch, 1)\n\
         sleep 10ms\n\
         let t = now()\n\
         while (now() - t < 1.0) { send(ch, recv(ch)); sleep 0 }\n\
         echo (now() - t)\n\
         sleep 10ms\n",
    )
    .expect("write the script");
    let (status, out, err) = ash(&["--debug", script.to_str().expect("a UTF-8 path")]);
    assert_eq!(status, Some(0), "{err}");
    let measured: f64 = out
        .trim()
        .parse()
        .expect("the hold, measured by the script");
    let reports: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("held the loop"))
        .collect();
    assert_eq!(reports.len(), 1, "one hold: {err}");
    let name = script.display().to_string();
    assert!(
        reports[0].starts_with(&format!("ash: debug: {name}:5: "))
            || reports[0].starts_with(&format!("ash: debug: {name}:5-6: ")),
        "blamed on the loop's line: {err}"
    );
    let reported: f64 = reports[0]
        .rsplit("for ")
        .next()
        .and_then(|s| s.strip_suffix(" s"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a duration: {err}"));
    assert!(
        reported >= 0.9 * measured && reported <= measured + 0.2,
        "reported {reported} s for a hold of {measured:.2} s"
    );
}

/// The README's walk-through: the trace of `examples/buildmatrix.ash`
/// shows the failing branch and its cancelled, signalled siblings.
#[test]
fn the_readme_example_trace_shows_the_cancelled_siblings() {
    let dir = TempDir::new();
    let trace = dir.0.join("matrix.json");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/buildmatrix.ash");
    let (status, _, err) = ash(&["--trace", trace.to_str().expect("a UTF-8 path"), example]);
    assert_eq!(status, Some(0), "{err}");
    let events = load(&trace);
    let branches: Vec<&Value> = spans(&events, "task")
        .into_iter()
        .filter(|t| t["name"] != "main")
        .collect();
    assert!(
        branches.iter().any(|t| t["args"]["outcome"] == "failed"),
        "{branches:#?}"
    );
    assert!(
        branches
            .iter()
            .filter(|t| t["args"]["outcome"] == "cancelled")
            .count()
            >= 2
    );
    assert!(!instants(&events, "cancel").is_empty());
    assert!(
        instants(&events, "signal")
            .iter()
            .any(|s| s["name"] == "SIGTERM")
    );
    assert_nested(&events);
    assert_flows_paired(&events);
}

/// The tracing benchmarks count instructions with callgrind, so a traced
/// ash must run under valgrind: its clock once crashed there at the first
/// event (rustix's own vDSO lookup read past the auxiliary vector that
/// valgrind gives a program). Skipped where valgrind is not installed.
#[test]
fn a_traced_run_works_under_valgrind() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("skipped: no valgrind");
        return;
    }
    let dir = TempDir::new();
    let trace = dir.0.join("t.json");
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=none", "-q", ASH, "--trace"])
        .arg(&trace)
        .args(["-c", "sleep 0.01"])
        .env_remove("ASH_TRACE_DIR")
        .env_remove("TRACEPARENT");
    let f = output_within(&mut cmd, Duration::from_secs(120), "valgrind ash --trace");
    assert_eq!(f.status, Some(0), "{}", f.stderr);
    let events = load(&trace);
    assert_eq!(spans(&events, "sleep").len(), 1);
}

/// A trace is written over the file in place (cheaper than truncating it
/// first on ext4) and cut to its length at the end: a short run traced
/// into the file of a longer one leaves nothing of the old one behind.
#[test]
fn a_trace_written_over_a_longer_one_holds_only_the_new_run() {
    let dir = TempDir::new();
    let trace = dir.0.join("t.json");
    let path = trace.to_str().expect("a UTF-8 path");
    let long =
        "let ts = []\nfor i in (range(0, 300)) { push(ts, spawn { sleep 1ms }) }\ngather $ts";
    let (status, _, err) = ash(&["--trace", path, "-c", long]);
    assert_eq!(status, Some(0), "{err}");
    let before = std::fs::metadata(&trace).expect("trace").len();
    let (status, _, err) = ash(&["--trace", path, "-c", "sleep 0.01"]);
    assert_eq!(status, Some(0), "{err}");
    let after = std::fs::metadata(&trace).expect("trace").len();
    assert!(after < before / 10, "{after} bytes after {before}");
    let events = load(&trace);
    assert_eq!(spans(&events, "task").len(), 1);
    assert_eq!(spans(&events, "sleep").len(), 1);
}
