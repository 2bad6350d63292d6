//! The loop keeps its promises (issue 12): every loop yields, every
//! timeout and signal lands, nothing deadlocks.
//!
//! Timing bounds are generous for a shared 2-core machine, but each is far
//! from what the defect it guards against does (hang forever, or seconds
//! late). `ASH_LOOP_BIN=/path` runs these tests against another binary
//! (how each was seen to fail before its fix).

mod common;

use std::process::Command;
use std::time::Duration;

/// Held by the tests that measure time (a ticker's gaps, how late a
/// timeout fires), so that they do not run beside one another: on a
/// 2-core machine, two of them at once measure each other.
static TIMING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn timing() -> std::sync::MutexGuard<'static, ()> {
    TIMING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn ash_bin() -> String {
    std::env::var("ASH_LOOP_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ash").to_string())
}

/// A fixed-seed SplitMix64 (deterministic, no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Statements a loop body is made of: waits that are already satisfied,
/// builtins, builtins with redirections, pipelines of ash stages,
/// captures, calls, built-in functions and plain VM work.
const STATEMENTS: &[&str] = &[
    "sleep 0",
    "acquire(sem); release(sem)",
    "send(ch, recv(ch))",
    "await $done",
    "await spawn { true }",
    "let v = await async { return 1 }",
    "true",
    "true | true",
    "echo $i | drain",
    "echo $i > /dev/null",
    "echo $i >> $out",
    "echo x 2> /dev/null > $out",
    "nothing",
    "nothing > /dev/null",
    "let y = $(true)",
    "let y = $(echo $i)",
    "let y = sorted(xs)",
    "let y = len(xs) + i",
    "let y = join(xs, \",\")",
    "n = n + 1",
    "true $dir/*",
    "if (i % 2 == 0) { true } else { sleep 0 }",
    "for k in ([1, 2]) { n = n + k }",
];

/// A random loop body of one to four statements.
fn random_body(rng: &mut Rng) -> String {
    let n = 1 + rng.below(4);
    (0..n)
        .map(|_| STATEMENTS[rng.below(STATEMENTS.len())])
        .collect::<Vec<_>>()
        .join("; ")
}

/// A script that runs each body in `while (true) { ... }` under
/// `timeout 150ms`, with a ticker task that sleeps 10 ms between ticks,
/// and prints per trial: how late the timeout fired, the longest gap
/// between two ticks in the trial, and the number of ticks.
///
/// Both figures leave out the time ash's loop thread spent waiting for a
/// CPU (its run delay in `/proc/self/schedstat`, sampled with each tick):
/// on a loaded machine that is the scheduler's doing, not ash's, and the
/// defect this guards against (a task that never yields) shows either way.
fn trials_script(dir: &std::path::Path, bodies: &[String]) -> String {
    let mut s = format!(
        "let sem = semaphore(1)
let ch = chan(4)
send(ch, 1)
let done = spawn {{ return 1 }}
await $done
fn drain() {{ while read line {{ }} }}
fn nothing() {{ }}
fn first_line() {{ read line; echo $line }}
fn run_delay() {{
  try {{ return float(split($(first_line < /proc/self/schedstat))[1]) / 1e9 }}
  catch e {{ return 0.0 }}
}}
let xs = range(200)
let n = 0
let out = \"{out}\"
let dir = \"{dir}\"
let ticks = []
let ticker = spawn {{ while (true) {{ sleep 10ms; let d = run_delay(); push(ticks, [now(), d]) }} }}
sleep 30ms
fn trial(body) {{
  let first = len(ticks)
  let d0 = run_delay()
  let t0 = now()
  try {{ timeout 150ms {{ await $body }} }} catch TimeoutError e {{ }}
  let t1 = now()
  let d1 = run_delay()
  let samples = [[t0, d0]]
  let i = first
  while (i < len(ticks)) {{ push(samples, ticks[i]); i = i + 1 }}
  push(samples, [t1, d1])
  let gap = 0
  let reference = samples[0]
  i = 1
  while (i < len(samples)) {{
    let t = samples[i][0]
    let d = samples[i][1]
    let tp = samples[i - 1][0]
    let dp = samples[i - 1][1]
    if ((t - tp) - (d - dp) > gap) {{ gap = (t - tp) - (d - dp) }}
    if (t <= t0 + 0.15) {{ reference = samples[i] }}
    i = i + 1
  }}
  let late = (t1 - t0 - 0.15) - (d1 - reference[1])
  echo \"$late $gap\" (len(samples) - 2)
}}
",
        out = dir.join("out").display(),
        dir = dir.display()
    );
    for body in bodies {
        s.push_str(&format!(
            "trial(async {{ let i = 0; while (true) {{ {body}; i = i + 1 }} }})\n"
        ));
    }
    s.push_str("cancel $ticker\n");
    s
}

/// Run `bodies` as trials in one ash process: per body, (seconds late,
/// longest ticker gap in seconds, ticks).
fn run_trials(dir: &std::path::Path, bodies: &[String]) -> Vec<(f64, f64, f64)> {
    let script = trials_script(dir, bodies);
    let out = common::output_within(
        Command::new(ash_bin()).arg("-c").arg(&script),
        Duration::from_secs(60),
        "a round of random loop bodies",
    );
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), bodies.len(), "output: {}", out.stdout);
    lines
        .iter()
        .map(|line| {
            let f: Vec<f64> = line
                .split_whitespace()
                .map(|f| f.parse().expect("a number"))
                .collect();
            (f[0], f[1], f[2])
        })
        .collect()
}

/// The yield family, randomized: loops whose bodies are random mixes of
/// ready waits, builtins, redirections, pipelines of ash stages,
/// captures and calls. The promise: a `timeout 150ms` around each fires
/// within 50 ms, and a concurrent 10 ms ticker keeps its pace (no gap over
/// 50 ms), both net of the time the loop thread waited for a CPU.
///
/// On a loaded 2-core machine a single figure can still miss by chance
/// (a page-fault storm, a run delay between two samples), so the 50 ms
/// promise is checked on the median of the 24 bodies, and each body must
/// stay under a generous 250 ms; a body over that is tried twice more, in
/// a fresh process. A loop that does not yield misses everything, every
/// time: it hangs (the timeout never fires), or its gaps are as long as
/// the timeout.
#[test]
fn random_loops_of_ready_waits_yield_to_timers_and_timeouts() {
    let _timing = timing();
    let dir = common::TempDir::new();
    for f in ["a", "b", "c"] {
        std::fs::write(dir.0.join(f), "").expect("write a file to glob");
    }
    let mut rng = Rng(0x5EED_1212);
    let bodies: Vec<String> = (0..24).map(|_| random_body(&mut rng)).collect();
    let mut figures: Vec<(f64, f64)> = vec![(0.0, 0.0); bodies.len()];
    let mut pending: Vec<usize> = (0..bodies.len()).collect();
    for attempt in 0..3 {
        let mut missed = Vec::new();
        for round in pending.chunks(8) {
            let round_bodies: Vec<String> = round.iter().map(|&i| bodies[i].clone()).collect();
            for (&i, (late, gap, ticks)) in round.iter().zip(run_trials(&dir.0, &round_bodies)) {
                eprintln!(
                    "{late:.4} s late, gap {gap:.4} s, {ticks} ticks: {}",
                    bodies[i]
                );
                figures[i] = (late, gap);
                if late >= 0.25 || gap >= 0.25 {
                    missed.push(i);
                }
            }
        }
        if missed.is_empty() {
            break;
        }
        eprintln!("attempt {attempt}: {} bodies missed; again", missed.len());
        pending = missed;
    }
    let failures: Vec<String> = figures
        .iter()
        .zip(&bodies)
        .filter(|((late, gap), _)| *late >= 0.25 || *gap >= 0.25)
        .map(|((late, gap), body)| {
            format!(
                "while (true) {{ {body} }}: `timeout 150ms` fired {late:.3} s late, \
                 the 10 ms ticker's longest gap was {gap:.3} s"
            )
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let late = median(figures.iter().map(|f| f.0).collect());
    let gap = median(figures.iter().map(|f| f.1).collect());
    assert!(
        late < 0.05 && gap < 0.05,
        "median over {} bodies: the timeout fired {late:.3} s late, the ticker's longest gap {gap:.3} s",
        bodies.len()
    );
}

/// With `PATH` unset (`env -i`, cron, init), programs are found on the
/// default search path, as in bash, dash, zsh and fish; the children do not
/// get a `PATH` they did not have.
#[test]
fn with_path_unset_programs_are_found_on_the_default_path() {
    let out = common::output_within(
        Command::new(ash_bin()).env_clear().arg("-c").arg(
            "ls / > /dev/null && echo found
type sh
echo (contains($(env), \"PATH=\"))",
        ),
        Duration::from_secs(20),
        "ash with an empty environment",
    );
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "found");
    assert!(
        lines[1].starts_with("sh is /usr/") || lines[1].starts_with("sh is /bin/"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "false", "the child's environment has a PATH");
}

/// A running ash whose stdout lines arrive on a channel.
struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Running {
    fn start(cmd: &mut Command) -> Running {
        use std::io::BufRead;
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn ash");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// Wait for the next line of output; panics naming `what` after 20 s.
    fn expect_line(&self, what: &str) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no output line: {what}"))
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// The exit status within `limit`, else kill it and panic.
    fn status_within(&mut self, limit: Duration, what: &str) -> Option<i32> {
        let start = std::time::Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st.code();
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{what}: still running after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process catches `signal` (its `SigCgt` mask).
    fn catches(&self, signal: u32) -> bool {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The contract's "a second Ctrl-C skips the grace period" holds whatever
/// the script catches: a loop that catches `CancelledError` runs on after
/// the first SIGINT or SIGTERM, and the second one ends ash (130 or 143),
/// its process groups killed.
#[test]
fn a_second_signal_ends_ash_whatever_the_script_catches() {
    for (sig, status) in [("INT", 130), ("TERM", 143), ("INT TERM", 143)] {
        let token = common::token();
        let mut ash = Running::start(
            Command::new(ash_bin())
                .env("ASH_TEST_TOKEN", &token)
                .arg("-c")
                .arg(
                    "echo started
while (true) {
  try { sh -c 'trap \"\" TERM; sleep 100' } catch CancelledError e { echo caught }
}",
                ),
        );
        ash.expect_line("started");
        let (first, second) = sig.split_once(' ').unwrap_or((sig, sig));
        std::thread::sleep(Duration::from_millis(200));
        ash.signal(first);
        // The first signal cancels the command (its group gets SIGTERM,
        // then SIGKILL after the grace); the loop catches that and goes on.
        assert_eq!(ash.expect_line("the first cancellation caught"), "caught");
        std::thread::sleep(Duration::from_millis(200));
        ash.signal(second);
        let got = ash.status_within(Duration::from_secs(5), "after a second signal");
        assert_eq!(got, Some(status), "{sig}");
        // The sentinel kills the groups once ash is gone: give it time.
        let mut left = common::leftovers(&token);
        let start = std::time::Instant::now();
        while !left.is_empty() && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
            left = common::leftovers(&token);
        }
        common::kill_all(&left);
        assert!(left.is_empty(), "left running: {left:?}");
    }
}

/// SIGINT while a large script is being compiled is noted, and nothing of
/// the script runs (before, the handlers were installed only once the
/// script started, so the signal was lost and the script ran in full).
#[test]
fn sigint_during_the_compile_of_a_large_script_runs_nothing() {
    let dir = common::TempDir::new();
    let script = dir.0.join("big.ash");
    let mut text = String::from("echo ran\nlet x = 0\n");
    text.push_str(&"x = x + 1\n".repeat(300_000));
    std::fs::write(&script, text).expect("write the script");
    let mut ash = Running::start(Command::new(ash_bin()).arg(&script));
    // Once ash catches SIGINT (and well before its compile ends: seconds
    // for 300,000 lines in a debug build), interrupt it.
    let start = std::time::Instant::now();
    while !ash.catches(2) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "ash never caught SIGINT"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    ash.signal("INT");
    let status = ash.status_within(Duration::from_secs(60), "after SIGINT in the compile");
    assert_eq!(status, Some(130));
    assert!(ash.lines.try_recv().is_err(), "the script ran");
}

/// The ops of the heavy-builtin tests, over `xs` (300,000 strings),
/// `doc` (their JSON text) and `wide` (14 MB of UTF-8 text that is not
/// ASCII, whose `len` counts characters).
const HEAVY: &[&str] = &[
    "sorted(xs)",
    "to_json(xs)",
    "from_json(doc)",
    "join(xs, \",\")",
    "split(text)",
    "lines(text)",
    "len(wide)",
];

const HEAVY_INPUTS: &str = "let text = \"pear apple fig\\n\" * 100000
let xs = split(text)
let doc = to_json(xs)
let wide = \"h\u{e9}llo \" * 2000000";

/// Built-in functions over large inputs (JSON, sorting, joining,
/// splitting) do not hold the loop: a 10 ms ticker keeps its pace while
/// each runs (no gap over 50 ms, net of the loop thread's run delay; the
/// figure is retried twice, as for the random loops). Before, the ticker
/// stopped for as long as each call took (seconds for sorted).
#[test]
fn heavy_builtins_over_large_inputs_keep_the_loop_turning() {
    let _timing = timing();
    let mut script = format!(
        "{HEAVY_INPUTS}
fn first_line() {{ read line; echo $line }}
fn run_delay() {{
  try {{ return float(split($(first_line < /proc/self/schedstat))[1]) / 1e9 }}
  catch e {{ return 0.0 }}
}}
let ticks = []
let ticker = spawn {{ while (true) {{ sleep 10ms; let d = run_delay(); push(ticks, [now(), d]) }} }}
sleep 30ms
fn measure(work) {{
  let first = len(ticks)
  let samples = [[now(), run_delay()]]
  let t0 = now()
  await $work
  let took = now() - t0
  let i = first
  while (i < len(ticks)) {{ push(samples, ticks[i]); i = i + 1 }}
  push(samples, [now(), run_delay()])
  let gap = 0
  i = 1
  while (i < len(samples)) {{
    let held = (samples[i][0] - samples[i - 1][0]) - (samples[i][1] - samples[i - 1][1])
    if (held > gap) {{ gap = held }}
    i = i + 1
  }}
  echo \"$gap $took\"
}}
"
    );
    for op in HEAVY {
        script.push_str(&format!("measure(async {{ let r = {op} }})\n"));
    }
    script.push_str("cancel $ticker\n");
    let mut failures = Vec::new();
    for attempt in 0..3 {
        let out = common::output_within(
            Command::new(ash_bin()).arg("-c").arg(&script),
            Duration::from_secs(120),
            "heavy builtins beside a ticker",
        );
        assert_eq!(out.status, Some(0), "{}", out.stderr);
        failures.clear();
        for (op, line) in HEAVY.iter().zip(out.stdout.lines()) {
            let f: Vec<f64> = line
                .split_whitespace()
                .map(|f| f.parse().expect("a number"))
                .collect();
            eprintln!("{op}: took {:.3} s, longest gap {:.3} s", f[1], f[0]);
            if f[0] >= 0.05 {
                failures.push(format!(
                    "{op} held the loop: the 10 ms ticker's longest gap was {:.3} s (the call took {:.3} s)",
                    f[0], f[1]
                ));
            }
        }
        if failures.is_empty() {
            return;
        }
        eprintln!("attempt {attempt}: {failures:?}");
    }
    panic!("{}", failures.join("\n"));
}

/// SIGINT or SIGTERM during a built-in function over a large input ends
/// the run at once with 130/143, even when the call is the script's last
/// statement. Before, the signal waited for the call to end, and with no
/// wait after it was lost (status 0).
#[test]
fn a_signal_during_a_heavy_builtin_ends_the_run() {
    let _timing = timing();
    for (i, op) in HEAVY.iter().take(4).enumerate() {
        let (sig, status) = if i % 2 == 0 {
            ("INT", 130)
        } else {
            ("TERM", 143)
        };
        // The op, four times over, so that it takes seconds where it
        // runs in place.
        let script = format!(
            "{HEAVY_INPUTS}
let big = []
for i in (range(4)) {{ big += xs }}
xs = big
doc = to_json(xs)
echo ready
let r = {op}"
        );
        let mut ash = Running::start(Command::new(ash_bin()).arg("-c").arg(&script));
        ash.expect_line("ready");
        std::thread::sleep(Duration::from_millis(100));
        let sent = std::time::Instant::now();
        ash.signal(sig);
        let got = ash.status_within(Duration::from_secs(60), op);
        let took = sent.elapsed();
        assert_eq!(got, Some(status), "{op}: SIG{sig}");
        assert!(
            took < Duration::from_secs(1),
            "{op}: ash ended {took:?} after SIG{sig}"
        );
    }
}

/// Redirections that wait in `open`: a FIFO that nobody opens.
const FIFO_WAITS: &[&str] = &[
    "cat < fifo",
    "read line < fifo",
    "echo x > fifo",
    "echo x >> fifo",
    "nothing > fifo",
    "true 2> fifo",
    "cat < fifo | cat",
    "let y = $(cat < fifo)",
    "source fifo",
];

/// A redirection from or to a FIFO with no peer (or `source` of one) waits
/// off the loop: a `timeout` around it fires, and the thread that waited in
/// `open` is released (30 rounds of cancelled opens leave no more threads
/// than one). Before, the wait ignored the timeout and SIGTERM alike and
/// ash hung until it was killed.
#[test]
fn a_fifo_with_no_peer_does_not_hold_the_loop() {
    let dir = common::TempDir::new();
    let made = Command::new("mkfifo")
        .arg(dir.0.join("fifo"))
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let mut script = String::from("fn nothing() { }\n");
    for wait in FIFO_WAITS {
        script.push_str(&format!(
            "try {{ timeout 100ms {{ {wait} }} }} catch TimeoutError e {{ echo 'timed out: {wait}' }}\n"
        ));
    }
    script.push_str(
        "fn threads() { return int($(sh -c 'ls /proc/$PPID/task | wc -l')) }
let before = threads()
for i in (range(30)) {
  try { timeout 5ms { read line < fifo } } catch TimeoutError e { }
  try { timeout 5ms { echo x > fifo } } catch TimeoutError e { }
}
echo more threads: (threads() - before)
",
    );
    let out = common::output_within(
        Command::new(ash_bin())
            .current_dir(&dir.0)
            .arg("-c")
            .arg(&script),
        Duration::from_secs(60),
        "timeouts around opens of a FIFO with no peer",
    );
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    let mut expected: Vec<String> = FIFO_WAITS
        .iter()
        .map(|w| format!("timed out: {w}"))
        .collect();
    let lines: Vec<&str> = out.stdout.lines().collect();
    let more: i64 = lines
        .last()
        .and_then(|l| l.strip_prefix("more threads: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("output: {}", out.stdout));
    expected.push(lines[lines.len() - 1].to_string());
    assert_eq!(lines, expected);
    assert!(more <= 1, "60 cancelled opens left {more} more threads");
}

/// SIGINT and SIGTERM while a redirection or `source` waits for a FIFO's
/// peer end the run (130/143) at once. Before, they waited for a peer.
#[test]
fn a_signal_ends_a_wait_for_a_fifo_peer() {
    let dir = common::TempDir::new();
    let made = Command::new("mkfifo")
        .arg(dir.0.join("fifo"))
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    for (wait, sig, status) in [
        ("cat < fifo", "TERM", 143),
        ("echo x > fifo", "INT", 130),
        ("source fifo", "TERM", 143),
    ] {
        let mut ash = Running::start(
            Command::new(ash_bin())
                .current_dir(&dir.0)
                .arg("-c")
                .arg(format!("echo ready; {wait}")),
        );
        ash.expect_line("ready");
        std::thread::sleep(Duration::from_millis(200));
        ash.signal(sig);
        let got = ash.status_within(Duration::from_secs(10), wait);
        assert_eq!(got, Some(status), "{wait}: SIG{sig}");
    }
}

/// Kills and reaps its processes when dropped.
struct Processes(Vec<std::process::Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The sweep for escaped descendants after a cancellation does not wait
/// on processes with an empty environment: it looks only at ash's own
/// descendants, checks liveness first, and reads again only those that may
/// be in the middle of `execve`, off the loop thread. 20 `env -i sleep`
/// elsewhere on the machine, and one among ash's own descendants, cost a
/// `timeout` nothing. Before, each was read 20 times with 1 ms sleeps on the
/// loop thread, in each of several sweeps: 0.74 s late with ten.
#[test]
fn the_escapee_sweep_does_not_wait_on_processes_with_an_empty_environment() {
    let _timing = timing();
    let elsewhere = Processes(
        (0..20)
            .map(|_| {
                Command::new("env")
                    .args(["-i", "sleep", "60"])
                    .spawn()
                    .expect("start env -i sleep")
            })
            .collect(),
    );
    let out = common::output_within(
        Command::new(ash_bin()).arg("-c").arg(
            "let own = spawn { env -i sleep 60 }
sleep 100ms
let worst = 0
for i in (range(3)) {
  let t0 = now()
  try { timeout 100ms { sh -c 'sleep 1; true'; sleep 5 } } catch TimeoutError e { }
  let late = now() - t0 - 0.1
  if (late > worst) { worst = late }
}
echo $worst
cancel $own",
        ),
        Duration::from_secs(60),
        "timeouts beside processes with an empty environment",
    );
    drop(elsewhere);
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    let worst: f64 = out.stdout.trim().parse().expect("a number");
    assert!(
        worst < 0.5,
        "a `timeout 100ms` returned {worst:.3} s late beside 21 `env -i sleep`"
    );
}

/// Run `script` in ash under `ulimit -n files` (which sizes the process
/// and capture pools: 32 each at 256, 160 at 1,024, 512 and 1,024 at
/// 8,192), with a wall-clock limit far past what it needs: a deadlock in
/// admission sits at 0% CPU until the limit, and fails.
fn under_fd_limit(files: u32, script: &str, dir: &std::path::Path) -> common::Finished {
    common::output_within(
        Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" -c \"$1\""))
            .arg(ash_bin())
            .arg(script)
            .current_dir(dir),
        Duration::from_secs(90),
        &format!("ash under `ulimit -n {files}`"),
    )
}

/// A capture of a function that captures itself, deeper than the capture
/// pool: each level holds its slot while the one inside runs, so the
/// levels past the pool take the reserve of the level around them instead
/// of waiting for a slot that only they would free.
#[test]
fn nested_function_captures_deeper_than_the_pool_do_not_deadlock() {
    let dir = common::TempDir::new();
    let script = "fn nest(n) { if (n == 0) { echo bottom } else { echo $(nest (n - 1)) } }
nest $DEPTH";
    for (files, depth) in [(256, 40), (8192, 1100)] {
        let out = under_fd_limit(
            files,
            &script.replace("$DEPTH", &format!("({depth})")),
            &dir.0,
        );
        assert_eq!(
            (out.status, out.stdout.as_str()),
            (Some(0), "bottom\n"),
            "{depth} nested captures under `ulimit -n {files}`: {}",
            out.stderr
        );
    }
}

/// `ext | fn` where the function does the same again, deeper than the
/// process pool (512 under `ulimit -n 8192`): each pipeline holds its slot
/// while its function stage runs the next one.
#[test]
fn a_pipeline_into_a_function_recursing_past_the_pool_does_not_deadlock() {
    let dir = common::TempDir::new();
    let out = under_fd_limit(
        8192,
        "fn down(n) { read line; if (n == 0) { echo $line } else { /bin/echo $line | down (n - 1) } }
/bin/echo hi | down (600)",
        &dir.0,
    );
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (Some(0), "hi\n"),
        "{}",
        out.stderr
    );
}

/// Fan-out past the pools: a `gather` over 300 files whose branches each
/// capture a function that runs a command and captures again. The outer
/// captures fill the capture pool; each inner capture takes its outer
/// one's reserve.
#[test]
fn a_gather_of_nested_captures_past_the_pools_does_not_deadlock() {
    let dir = common::TempDir::new();
    for i in 0..300 {
        std::fs::write(dir.0.join(format!("f{i:03}")), format!("line {i}\n")).expect("write");
    }
    let out = under_fd_limit(
        1024,
        "fn f(p) { /bin/cat $p > /dev/null; echo $(/bin/cat $p) }
let cs = []
for p in (glob(\"f*\")) { push(cs, async { return $(f $p) }) }
let r = gather $cs
echo (len(r)) (r[0]) (r[299])",
        &dir.0,
    );
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (Some(0), "300 line 0 line 299\n"),
        "{}",
        out.stderr
    );
}

/// Tasks whose capture awaits a task spawned inside it, which captures in
/// turn: the spawned task inherits the reserve of the capture that waits
/// for it. 40 such tasks against a capture pool of 32.
#[test]
fn tasks_awaiting_captures_spawned_inside_their_captures_do_not_deadlock() {
    let dir = common::TempDir::new();
    let out = under_fd_limit(
        256,
        "let ts = []
for i in (range(40)) { push(ts, spawn { return $(await spawn { echo $(echo hi) }) }) }
let n = 0
for t in (ts) { if (await $t == \"hi\") { n = n + 1 } }
echo $n",
        &dir.0,
    );
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (Some(0), "40\n"),
        "{}",
        out.stderr
    );
}

/// Where `pidfd_open` is missing (a kernel before 5.3: `ENOSYS`) or denied
/// (a seccomp sandbox: `EPERM`), commands still run: children are waited
/// for by pid on SIGCHLD. The helper installs a seccomp filter that makes
/// `pidfd_open` fail so, then execs ash. Checked: statuses, a pipeline, a
/// capture, a `timeout` that kills and reaps its command, and 300 commands
/// 8 at a time, with no zombie left at the end.
#[test]
fn commands_run_where_pidfd_open_is_missing_or_denied() {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let script = "/bin/echo ext
let x = $(/bin/echo cap)
echo $x
try { /bin/sh -c 'exit 3' } catch e { echo status $status }
echo (len(split($(/bin/sh -c 'seq 1000' | /bin/cat | /bin/cat), \"\\n\")))
let t0 = now()
try { timeout 200ms { /bin/sleep 30 } } catch TimeoutError e { echo timed out (now() - t0 < 5) }
async fn one(i) { /bin/true }
echo (len(gather -j 8 (map(range(0, 300), one))))
let me = $(/bin/sh -c 'echo $PPID')
let zombies = 0
for f in (glob(\"/proc/[0-9]*/stat\")) {
  try {
    let fields = split($(/bin/cat $f))
    if (fields[2] == \"Z\" and fields[3] == me) { zombies = zombies + 1 }
  } catch e { }
}
echo zombies $zombies";
    for errno in ["ENOSYS", "EPERM"] {
        let out = common::output_within(
            Command::new(common::helper()).args(["no-pidfd", errno, &ash_bin(), "-c", script]),
            Duration::from_secs(120),
            &format!("ash with pidfd_open failing with {errno}"),
        );
        assert_eq!(
            (out.status, out.stdout.as_str()),
            (
                Some(0),
                "ext\ncap\nstatus 3\n1000\ntimed out true\n300\nzombies 0\n"
            ),
            "pidfd_open failing with {errno}: {}",
            out.stderr
        );
    }
}

/// A long string repetition (`s * n`, also as the fused `s = s * k` and
/// `s *= n` of locals) is made a block at a time, yielding to the loop: a
/// `timeout` around one of 500 MB fires on time (and the string is never
/// finished). Before, the repetition ran to its end on the
/// loop thread first: 3.5 s, and 1 GB of memory at its peak.
#[test]
fn a_timeout_lands_during_a_long_string_repetition() {
    let _timing = timing();
    let out = common::output_within(
        Command::new(ash_bin()).arg("-c").arg(
            "fn local_op_int() { let s = \"ab\"; s = s * 250000000; return len(s) }
fn local_op_local(n) { let s = \"ab\"; s *= n; return len(s) }
for f in ([async { return len(\"ab\" * 250000000) }, async { return local_op_int() }, async { return local_op_local(250000000) }]) {
  let t0 = now()
  try { timeout 100ms { echo finished (await $f) } } catch TimeoutError e { echo timed out }
  echo (now() - t0)
}",
        ),
        Duration::from_secs(60),
        "a timeout around a long repetition",
    );
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.stdout);
    // A constant, and the fused forms `local = local * k` and `local *= local`.
    for pair in lines.chunks(2) {
        assert_eq!(pair[0], "timed out", "{}", out.stdout);
        let took: f64 = pair[1].parse().expect("a number");
        assert!(took < 1.0, "`timeout 100ms` returned after {took:.2} s");
    }
}

/// A `use` that is cancelled (here by a `timeout`, while the module's body
/// runs) or fails (the file is missing) does not leave the module marked
/// loaded: a later `use` runs it. Before, the later `use` did nothing and
/// the module's functions were never defined.
#[test]
fn a_cancelled_or_failed_use_leaves_the_module_unloaded() {
    let dir = common::TempDir::new();
    std::fs::write(
        dir.0.join("slow.ash"),
        "echo loading\nsleep 300ms\nfn hello() { echo hello }\n",
    )
    .expect("write the module");
    let out = common::output_within(
        Command::new(ash_bin())
            .arg("-c")
            .arg(
                "try { timeout 100ms { use ./slow.ash } } catch TimeoutError e { echo timed out }
use ./slow.ash
hello
try { use ./later.ash } catch e { echo missing }
echo 'fn later() { echo later }' > later.ash
use ./later.ash
later",
            )
            .current_dir(&dir.0),
        Duration::from_secs(30),
        "a use cancelled by a timeout, then again",
    );
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (
            Some(0),
            "loading\ntimed out\nloading\nhello\nmissing\nlater\n"
        ),
        "{}",
        out.stderr
    );
}

/// A `for` loop over a big list that something else holds starts and
/// ends without holding the loop (W11): it iterates a lazy copy of the
/// list, made only if the list changes meanwhile. Before, the copy (a
/// clone per item) and its drop when the loop ended held the loop: over
/// 3 million items, a 10 ms ticker's longest gap was 0.14 s in a debug
/// build. The loop still sees the items as they were when it started.
#[test]
fn a_for_loop_over_a_big_list_starts_and_ends_at_once() {
    let _timing = timing();
    let script = "let big = split(\"pear apple fig\\n\" * 1000000)
fn first_line() { read line; echo $line }
fn run_delay() {
  try { return float(split($(first_line < /proc/self/schedstat))[1]) / 1e9 }
  catch e { return 0.0 }
}
let ticks = []
let ticker = spawn { while (true) { sleep 10ms; push(ticks, [now(), run_delay()]) } }
sleep 30ms
let samples = [[now(), run_delay()]]
for round in (range(3)) {
  for x in $big { break }
  sleep 20ms
}
let gap = 0
for t in (ticks + [[now(), run_delay()]]) {
  let held = (t[0] - samples[-1][0]) - (t[1] - samples[-1][1])
  if (held > gap) { gap = held }
  push(samples, t)
}
cancel $ticker
let n = 0
for x in $big {
  n += 1
  if (n == 1) { big[1] = \"changed\"; push(big, \"extra\") }
  if (n == 2 and x != \"apple\") { echo \"the loop saw the change: $x\" }
}
echo $n (len(big)) (big[1]) $gap";
    let mut gaps = Vec::new();
    for _ in 0..3 {
        let out = common::output_within(
            Command::new(ash_bin()).arg("-c").arg(script),
            Duration::from_secs(120),
            "for loops over a big list beside a ticker",
        );
        assert_eq!(out.status, Some(0), "{}", out.stderr);
        let words: Vec<&str> = out.stdout.split_whitespace().collect();
        assert_eq!(
            words[..3],
            ["3000000", "3000001", "changed"],
            "{}",
            out.stdout
        );
        let gap: f64 = words[3].parse().expect("a number");
        eprintln!("longest gap {gap:.3} s");
        if gap < 0.05 {
            return;
        }
        gaps.push(gap);
    }
    panic!(
        "the 10 ms ticker's longest gap (net of run delay) was {gaps:?} s: a for loop held the loop"
    );
}
