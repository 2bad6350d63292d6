//! Behaviour spec tests: runs every case of `tests/spec/*.test` against the
//! `ash` binary and compares stdout, stderr and the exit status.
//!
//! A case file holds many small cases, in the manner of Oils' spec tests:
//!
//! ```text
//! #### echo joins its arguments
//! echo a   b "c d"
//! ## STDOUT:
//! a b c d
//! ## END
//! ```
//!
//! After the script, in any order, each optional:
//! - `## STDOUT:` ... `## END` — the exact stdout (unchecked when absent)
//! - `## STDERR:` ... `## END` — the exact stderr (unchecked when absent)
//! - `## STDOUT-CONTAINS: text`, `## STDERR-CONTAINS: text` — may repeat
//! - `## STATUS: N` — the exit status (default 0)
//! - `## STDIN:` ... `## END` — fed to stdin (default `/dev/null`)
//! - `## ARGS: a b c` — arguments after the script path, split on spaces
//! - `## SKIP: reason` — the case is reported as skipped
//!
//! Lines starting with `##` are never part of a script; trailing blank lines
//! of a script are dropped. Between cases (after a case's directives, before
//! the next `####`) only blank lines and `#` comments may appear.
//!
//! Each case runs in a fresh temporary directory holding only `case.ash`,
//! as `ash case.ash ARGS...`, with `ASH_SPEC=1`, `HOME` set to that
//! directory, `LC_ALL=C`, and a 20 s deadline.
//!
//! Usage: `cargo test --test spec [-- FILTER]` runs the cases whose file
//! name or case name contains FILTER. `ASH_SPEC_BIN=/path` runs them against
//! another binary instead of the freshly built `ash`.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(20);
const THREADS: usize = 4;

// ------------------------------------------------------------------ parsing

#[derive(Clone, Debug, Default, PartialEq)]
struct Case {
    file: String,
    name: String,
    /// 1-based line of the `####` header.
    line: usize,
    script: String,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
    status: i32,
    stdin: Option<String>,
    args: Vec<String>,
    skip: Option<String>,
}

/// A malformed case file: where, and what is wrong.
#[derive(Debug, PartialEq)]
struct ParseError {
    file: String,
    line: usize,
    message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

fn perr(file: &str, line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        file: file.to_string(),
        line,
        message: message.into(),
    }
}

/// Parses a case file. Any malformation is an error naming the line.
fn parse_cases(file: &str, text: &str) -> Result<Vec<Case>, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut i = 0;
    // Before the first case: blank lines and comments only.
    while i < lines.len() && !lines[i].starts_with("####") {
        let l = lines[i].trim();
        if !l.is_empty() && !l.starts_with('#') {
            return Err(perr(
                file,
                i + 1,
                "text before the first `####` case header",
            ));
        }
        i += 1;
    }
    while i < lines.len() {
        let header = lines[i];
        debug_assert!(header.starts_with("####"));
        let name = header.trim_start_matches('#').trim().to_string();
        if name.is_empty() {
            return Err(perr(file, i + 1, "a case header `####` without a name"));
        }
        let mut case = Case {
            file: file.to_string(),
            name,
            line: i + 1,
            ..Case::default()
        };
        i += 1;
        // The script: every line up to the first `##` line.
        let mut script: Vec<&str> = Vec::new();
        while i < lines.len() && !lines[i].starts_with("##") {
            script.push(lines[i]);
            i += 1;
        }
        while script.last().is_some_and(|l| l.trim().is_empty()) {
            script.pop();
        }
        if script.is_empty() {
            return Err(perr(
                file,
                case.line,
                format!("case `{}` has an empty script", case.name),
            ));
        }
        case.script = script.join("\n") + "\n";
        // The directives, up to the next case header.
        let mut seen: Vec<&str> = Vec::new();
        while i < lines.len() && !lines[i].starts_with("####") {
            let l = lines[i];
            let at = i + 1;
            i += 1;
            if !l.starts_with("##") {
                let t = l.trim();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                return Err(perr(
                    file,
                    at,
                    "script text after the directives of a case (a missing `####` header?)",
                ));
            }
            let d = l[2..].trim();
            let (key, rest) = match d.split_once(':') {
                Some((k, r)) => (k.trim(), r.strip_prefix(' ').unwrap_or(r)),
                None => (d, ""),
            };
            let once = |seen: &mut Vec<&str>, key: &'static str| -> Result<(), ParseError> {
                if seen.contains(&key) {
                    return Err(perr(
                        file,
                        at,
                        format!("`## {key}` given twice in one case"),
                    ));
                }
                seen.push(key);
                Ok(())
            };
            match key {
                "STDOUT" | "STDERR" | "STDIN" => {
                    if !rest.trim().is_empty() {
                        return Err(perr(
                            file,
                            at,
                            format!(
                                "`## {key}:` takes a block ending with `## END`, not inline text"
                            ),
                        ));
                    }
                    let mut block = String::new();
                    let mut closed = false;
                    while i < lines.len() {
                        let b = lines[i];
                        i += 1;
                        if b.trim_end() == "## END" {
                            closed = true;
                            break;
                        }
                        if b.starts_with("##") {
                            break;
                        }
                        block.push_str(b);
                        block.push('\n');
                    }
                    if !closed {
                        return Err(perr(
                            file,
                            at,
                            format!("`## {key}:` without a matching `## END`"),
                        ));
                    }
                    match key {
                        "STDOUT" => {
                            once(&mut seen, "STDOUT")?;
                            case.stdout = Some(block);
                        }
                        "STDERR" => {
                            once(&mut seen, "STDERR")?;
                            case.stderr = Some(block);
                        }
                        _ => {
                            once(&mut seen, "STDIN")?;
                            case.stdin = Some(block);
                        }
                    }
                }
                "STDOUT-CONTAINS" | "STDERR-CONTAINS" => {
                    if rest.is_empty() {
                        return Err(perr(file, at, format!("`## {key}:` needs some text")));
                    }
                    if key == "STDOUT-CONTAINS" {
                        case.stdout_contains.push(rest.to_string());
                    } else {
                        case.stderr_contains.push(rest.to_string());
                    }
                }
                "STATUS" => {
                    once(&mut seen, "STATUS")?;
                    case.status = rest.trim().parse().map_err(|_| {
                        perr(
                            file,
                            at,
                            format!("`## STATUS:` wants a number, got `{rest}`"),
                        )
                    })?;
                }
                "ARGS" => {
                    once(&mut seen, "ARGS")?;
                    case.args = rest
                        .split(' ')
                        .filter(|a| !a.is_empty())
                        .map(String::from)
                        .collect();
                }
                "SKIP" => {
                    once(&mut seen, "SKIP")?;
                    case.skip = Some(rest.trim().to_string());
                }
                "END" => {
                    return Err(perr(
                        file,
                        at,
                        "`## END` without an opening block directive",
                    ));
                }
                _ => return Err(perr(file, at, format!("unknown directive `{l}`"))),
            }
        }
        cases.push(case);
    }
    Ok(cases)
}

/// Checks the parser itself before trusting it with the real files.
fn self_check() -> Result<(), String> {
    fn expect_err(text: &str, line: usize, needle: &str) -> Result<(), String> {
        match parse_cases("self.test", text) {
            Ok(_) => Err(format!("self-check: accepted a malformed file:\n{text}")),
            Err(e) if e.line == line && e.file == "self.test" && e.message.contains(needle) => {
                Ok(())
            }
            Err(e) => Err(format!("self-check: wrong error `{e}` for:\n{text}")),
        }
    }
    let good = "# comment\n\n#### one\necho a\n\n## STDOUT:\na\n## END\n## STATUS: 3\n\
                # decision: between cases\n#### two\necho 'b'\n## STDERR-CONTAINS: x y\n\
                ## STDERR-CONTAINS: z\n## ARGS: p  q\n## STDIN:\nline\n## END\n\
                #### three\nfalse\n## STDOUT:\n## END\n## SKIP: not yet\n";
    let cases = parse_cases("self.test", good).map_err(|e| format!("self-check: {e}"))?;
    let ok = cases.len() == 3
        && cases[0].name == "one"
        && cases[0].line == 3
        && cases[0].script == "echo a\n"
        && cases[0].stdout.as_deref() == Some("a\n")
        && cases[0].status == 3
        && cases[1].stdout.is_none()
        && cases[1].stderr_contains == ["x y", "z"]
        && cases[1].args == ["p", "q"]
        && cases[1].stdin.as_deref() == Some("line\n")
        && cases[1].status == 0
        && cases[2].stdout.as_deref() == Some("")
        && cases[2].skip.as_deref() == Some("not yet");
    if !ok {
        return Err(format!(
            "self-check: the well-formed file parsed wrongly: {cases:#?}"
        ));
    }
    expect_err(
        "#### a\necho a\n## STDOUT:\na\n",
        3,
        "without a matching `## END`",
    )?;
    expect_err(
        "#### a\necho a\n## STDOUT:\na\n#### b\necho b\n",
        3,
        "without a matching",
    )?;
    expect_err("#### a\necho a\n## STATUS: x\n", 3, "wants a number")?;
    expect_err(
        "#### a\necho a\n## STDOUT:\n## END\necho b\n",
        5,
        "after the directives",
    )?;
    expect_err(
        "#### a\necho a\n## STDOTU:\n## END\n",
        3,
        "unknown directive",
    )?;
    expect_err("#### a\n## STATUS: 1\n", 1, "empty script")?;
    expect_err("echo a\n#### a\necho a\n", 1, "before the first")?;
    expect_err("#### a\necho a\n## STATUS: 1\n## STATUS: 2\n", 4, "twice")?;
    Ok(())
}

// ------------------------------------------------------------------ running

struct Outcome {
    stdout: String,
    stderr: String,
    /// None when killed for the timeout or by a signal.
    status: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    elapsed: Duration,
}

enum Verdict {
    Pass,
    Skip(String),
    Fail(String),
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn temp_dir() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("ash-spec-{}-{n}", std::process::id()))
}

fn kill_group(pid: u32) {
    // The child leads its own process group; kill it and whatever it left.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn reader(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

fn run_case(bin: &Path, case: &Case) -> Result<Outcome, String> {
    let dir = temp_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let result = run_in(bin, case, &dir);
    let _ = fs::remove_dir_all(&dir);
    result
}

fn run_in(bin: &Path, case: &Case, dir: &Path) -> Result<Outcome, String> {
    fs::write(dir.join("case.ash"), &case.script).map_err(|e| format!("writing case.ash: {e}"))?;
    let mut cmd = Command::new(bin);
    cmd.arg("case.ash")
        .args(&case.args)
        .current_dir(dir)
        .env("ASH_SPEC", "1")
        .env("HOME", dir)
        .env("LC_ALL", "C")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if case.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let pid = child.id();
    if let Some(input) = &case.stdin {
        let mut w = child.stdin.take().ok_or("no stdin pipe")?;
        let input = input.clone();
        thread::spawn(move || {
            let _ = w.write_all(input.as_bytes());
        });
    }
    let out = reader(child.stdout.take().ok_or("no stdout pipe")?);
    let err = reader(child.stderr.take().ok_or("no stderr pipe")?);
    let mut timed_out = false;
    let exit: Option<ExitStatus> = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for ash: {e}")),
        }
        if start.elapsed() > TIMEOUT {
            timed_out = true;
            kill_group(pid);
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    // Processes ash left behind may hold the pipes open: give them a moment,
    // then kill the group so the readers finish.
    let grace = Duration::from_secs(2);
    let collect = |rx: &mpsc::Receiver<Vec<u8>>| match rx.recv_timeout(grace) {
        Ok(b) => b,
        Err(_) => {
            kill_group(pid);
            rx.recv_timeout(grace).unwrap_or_default()
        }
    };
    let stdout = collect(&out);
    let stderr = collect(&err);
    use std::os::unix::process::ExitStatusExt;
    Ok(Outcome {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        status: exit.and_then(|s| s.code()),
        signal: exit.and_then(|s| s.signal()),
        timed_out,
        elapsed,
    })
}

// ------------------------------------------------------------------ judging

/// A line diff of `expected` against `actual` (LCS), `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.split_inclusive('\n').collect();
    let b: Vec<&str> = actual.split_inclusive('\n').collect();
    let mut out = String::new();
    let show = |l: &str| -> String {
        match l.strip_suffix('\n') {
            Some(s) => format!("{s:?}").trim_matches('"').to_string(),
            None => format!(
                "{}  (no newline at end)",
                format!("{l:?}").trim_matches('"')
            ),
        }
    };
    if a.len() * b.len() > 4_000_000 {
        for l in &a {
            let _ = writeln!(out, "    - {}", show(l));
        }
        for l in &b {
            let _ = writeln!(out, "    + {}", show(l));
        }
        return out;
    }
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            let _ = writeln!(out, "      {}", show(a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            let _ = writeln!(out, "    - {}", show(a[i]));
            i += 1;
        } else {
            let _ = writeln!(out, "    + {}", show(b[j]));
            j += 1;
        }
    }
    out
}

fn indent(text: &str) -> String {
    if text.is_empty() {
        return "    (empty)\n".to_string();
    }
    let mut out = String::new();
    for l in text.lines() {
        let _ = writeln!(out, "    | {l}");
    }
    out
}

fn judge(case: &Case, o: &Outcome) -> Verdict {
    let mut problems = String::new();
    if o.timed_out {
        let _ = writeln!(
            problems,
            "  timed out after {} s (killed)",
            TIMEOUT.as_secs()
        );
    } else if o.status != Some(case.status) {
        match (o.status, o.signal) {
            (Some(s), _) => {
                let _ = writeln!(problems, "  status: expected {}, got {s}", case.status);
            }
            (None, Some(sig)) => {
                let _ = writeln!(
                    problems,
                    "  status: expected {}, killed by signal {sig}",
                    case.status
                );
            }
            _ => {
                let _ = writeln!(problems, "  status: expected {}, got none", case.status);
            }
        }
    }
    if let Some(exp) = &case.stdout
        && *exp != o.stdout
    {
        let _ = write!(
            problems,
            "  stdout differs (- expected, + actual):\n{}",
            diff(exp, &o.stdout)
        );
    }
    for needle in &case.stdout_contains {
        if !o.stdout.contains(needle.as_str()) {
            let _ = writeln!(problems, "  stdout does not contain {needle:?}");
        }
    }
    if let Some(exp) = &case.stderr
        && *exp != o.stderr
    {
        let _ = write!(
            problems,
            "  stderr differs (- expected, + actual):\n{}",
            diff(exp, &o.stderr)
        );
    }
    for needle in &case.stderr_contains {
        if !o.stderr.contains(needle.as_str()) {
            let _ = writeln!(problems, "  stderr does not contain {needle:?}");
        }
    }
    if problems.is_empty() {
        return Verdict::Pass;
    }
    let _ = write!(problems, "  script:\n{}", indent(&case.script));
    if case.stdout.is_none() || !case.stdout_contains.is_empty() {
        let _ = write!(problems, "  actual stdout:\n{}", indent(&o.stdout));
    }
    if case.stderr.is_none() {
        let _ = write!(problems, "  actual stderr:\n{}", indent(&o.stderr));
    }
    let _ = writeln!(problems, "  took {:.2} s", o.elapsed.as_secs_f64());
    Verdict::Fail(problems)
}

// ------------------------------------------------------------------ main

fn main() -> ExitCode {
    if let Err(e) = self_check() {
        eprintln!("spec harness: {e}");
        return ExitCode::FAILURE;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let spec_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("spec");
    // ASH_SPEC_BIN runs the cases against another binary (to check the harness).
    let bin = std::env::var_os("ASH_SPEC_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ash")));

    let mut files: Vec<PathBuf> = match fs::read_dir(&spec_dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "test"))
            .collect(),
        Err(e) => {
            eprintln!("spec harness: reading {}: {e}", spec_dir.display());
            return ExitCode::FAILURE;
        }
    };
    files.sort();

    let mut harness_errors = 0;
    let mut cases = Vec::new();
    for path in &files {
        let fname = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                println!("HARNESS ERROR {fname}: cannot read: {e}");
                harness_errors += 1;
                continue;
            }
        };
        match parse_cases(&fname, &text) {
            Ok(cs) => cases.extend(cs.into_iter().filter(|c| {
                filters.is_empty()
                    || filters
                        .iter()
                        .any(|f| c.file.contains(f) || c.name.contains(f))
            })),
            Err(e) => {
                println!("HARNESS ERROR {e}");
                harness_errors += 1;
            }
        }
    }

    let total = cases.len();
    let queue = Arc::new(Mutex::new(
        cases.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let results = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let results = Arc::clone(&results);
            let bin = bin.clone();
            thread::spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                    let Some((idx, case)) = next else { break };
                    let verdict = if let Some(reason) = &case.skip {
                        Verdict::Skip(reason.clone())
                    } else {
                        match run_case(&bin, &case) {
                            Ok(o) => judge(&case, &o),
                            Err(e) => Verdict::Fail(format!("  could not run: {e}\n")),
                        }
                    };
                    if let Ok(mut r) = results.lock() {
                        r.push((idx, case, verdict));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let mut results = match Arc::try_unwrap(results) {
        Ok(m) => m.into_inner().unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    results.sort_by_key(|(i, _, _)| *i);

    let (mut passed, mut failed, mut skipped) = (0, harness_errors, 0);
    for (_, case, verdict) in &results {
        match verdict {
            Verdict::Pass => passed += 1,
            Verdict::Skip(reason) => {
                skipped += 1;
                println!("SKIP {}:{}: {} ({reason})", case.file, case.line, case.name);
            }
            Verdict::Fail(why) => {
                failed += 1;
                println!("FAIL {}:{}: {}\n{why}", case.file, case.line, case.name);
            }
        }
    }
    if results.len() != total {
        println!(
            "HARNESS ERROR: {} of {total} cases produced no result",
            total - results.len()
        );
        failed += total - results.len();
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
