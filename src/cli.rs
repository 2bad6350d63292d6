//! The command line: `ash FILE`, `ash -c CODE`, `ash --check FILE`, and
//! running a script to its exit status (section 1 of the language).

use std::io::{IsTerminal, Read};
use std::rc::Rc;
use std::time::Duration;

use crate::diag;
use crate::process::{self, OutSink};
use crate::runtime::cancel::DEFAULT_GRACE;
use crate::runtime::task::{Outcome, drive};
use crate::runtime::{CancelReason, Io, Runtime, TaskCtx};
use crate::vm::fiber::Fiber;
use crate::vm::objects::Closure;
use crate::vm::value::Value;

const USAGE: &str = "\
usage: ash [OPTIONS] [--] [FILE [ARGS...]]
       ash [OPTIONS] -c CODE [ARGS...]
       ash [OPTIONS] -s [ARGS...]     (or `ash - ARGS...`)
       ash --check [--path] [--format text|json] FILE...
       ash --dump FILE | --dump -c CODE
       ash --journal-summary FILE [--json]
       ash --serve
       ash --version | --help

Options:
  -c CODE        run CODE; $args holds the ARGS that follow
  -s, -          read the script from standard input; $args holds ARGS
  --             the end of the options: FILE follows (even if it starts
                 with `-`)
  -i             interactive: read commands with the line editor (plain
                 line reading when standard input is not a terminal)
  -l, --login    a login shell: the interactive shell first runs
                 login.ash from the config directory (also when ash is
                 started with a name beginning with `-`, as login(1) does)
  --debug        report tasks that hold the loop
  --journal FILE append a JSON line to FILE for every gather/race branch
                 and spawned task that ends: its key, status, error, value
  --resume FILE  run again, leaving out the branches that ended ok in the
                 journal FILE (their recorded values stand in); new
                 records are appended to FILE
  --journal-summary FILE [--json]
                 per run of journal FILE: counts by status, the slowest
                 branches, the failures; what --resume would run again
  --trace FILE   write what ran to FILE as Chrome Trace Event JSON, for
                 Perfetto (ui.perfetto.dev) or chrome://tracing: tasks,
                 commands, sleeps, timeouts, gathers, cancellations and
                 signals; ash processes started below join the same trace
  --trace-limit SIZE
                 stop adding events to the trace past SIZE bytes (K, M, G
                 suffixes; default 512M); what is left out is counted
  --timeline[=FILE]
                 when the script ends, draw a timeline of its tasks and
                 commands on stderr (or into FILE)
  --check FILE   parse, compile and lint only; run nothing
                 (--path: also check that commands exist; --format json)
  --dump         print the bytecode of FILE or of -c CODE
  --serve        the agent that runs `spawn --on HOST` bodies sent from
                 another host over ssh (on its stdin and stdout)
  -V, --version  print the version
  -h, --help     print this help

With no FILE, ash reads commands from standard input: an interactive shell
when it is a terminal (or with -i), else a script.

`ash --check` runs nothing: it reports errors and warnings (a coroutine
never awaited, an unknown variable, a wrong argument count, ...; `-` reads
stdin; `--path` also looks commands up on PATH; `--format json` prints one
object per finding) and exits 0 when clean, 1 with warnings, 2 on errors.
`# ash: allow NAME` on a line silences one warning.
";

thread_local! {
    /// Which of fds 0-2 were closed when ash started.
    static CLOSED_AT_START: std::cell::Cell<[bool; 3]> = const { std::cell::Cell::new([false; 3]) };
}

/// Parse the arguments and run; returns the exit status.
pub fn main() -> i32 {
    // Before anything opens a file: a closed stdout/stderr is reported on
    // use, not silently replaced by the /dev/null that `ensure_std_fds`
    // puts there (so that later fds never take the numbers 0-2).
    CLOSED_AT_START.set(process::closed_std_fds());
    process::ensure_std_fds();
    let mut argv = std::env::args_os();
    // login(1) and sshd start a login shell as `-ash`.
    let mut login = argv
        .next()
        .is_some_and(|a0| a0.as_encoded_bytes().starts_with(b"-"));
    let args: Vec<std::ffi::OsString> = argv.collect();
    let mut opts = RunOpts::default();
    let mut interactive = false;
    let mut from_stdin = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].to_str() {
            // `--journal FILE` / `--resume FILE` (section 14).
            Some(flag @ ("--journal" | "--resume")) => {
                let Some(file) = args.get(i + 1).filter(|f| !f.is_empty()) else {
                    crate::diag::report!("ash: {flag} needs a FILE\n{USAGE}");
                    return 2;
                };
                if opts.journal.is_some() {
                    crate::diag::reportln!("ash: give one of --journal and --resume, once");
                    return 2;
                }
                opts.journal = Some(crate::journal::Options {
                    path: file.into(),
                    resume: flag == "--resume",
                });
                i += 1;
            }
            Some("--journal-summary") => return crate::journal::summary::main(&args[i + 1..]),
            Some("--version") | Some("-V") => {
                return print_or_fail(&format!("ash {}\n", env!("CARGO_PKG_VERSION")));
            }
            Some("--help") | Some("-h") => return print_or_fail(USAGE),
            Some("--debug") => opts.debug = true,
            Some("--trace") => {
                let Some(file) = args.get(i + 1) else {
                    crate::diag::report!("ash: --trace needs a FILE\n{USAGE}");
                    return 2;
                };
                opts.trace = Some(file.into());
                i += 1;
            }
            Some("--trace-limit") => {
                let Some(size) = args
                    .get(i + 1)
                    .and_then(|a| a.to_str())
                    .and_then(parse_size)
                else {
                    crate::diag::report!(
                        "ash: --trace-limit needs a SIZE in bytes (like 100M or 2G)\n{USAGE}"
                    );
                    return 2;
                };
                opts.trace_limit = size;
                i += 1;
            }
            Some("--timeline") => opts.timeline = Some(None),
            Some(a) if a.starts_with("--timeline=") => {
                opts.timeline = Some(Some(a["--timeline=".len()..].into()));
            }
            Some("-l") | Some("--login") => login = true,
            Some("-i") => interactive = true,
            // `ash -s ARGS`, `ash - ARGS`: the script on stdin.
            Some("-s") | Some("-") => {
                from_stdin = true;
                i += 1;
                break;
            }
            // Internal: the watchdog started by `process::contain`.
            Some("--sentinel") => {
                let prefix = args.get(i + 1).map(|a| a.to_string_lossy().into_owned());
                let cgroup_tree = args.get(i + 2).map(std::path::Path::new);
                return crate::process::contain::sentinel_main(
                    &prefix.unwrap_or_default(),
                    cgroup_tree,
                );
            }
            Some("--check") => return crate::check::main(&args[i + 1..]),
            // `ash --serve`: the agent a remote ash starts over ssh
            // (section 15; see crate::remote).
            Some("--serve") => return crate::remote::serve_main(),
            Some("--dump") => return dump_main(&args[i + 1..]),
            Some("-c") => {
                let Some(code) = args.get(i + 1) else {
                    crate::diag::report!("ash: -c needs CODE\n{USAGE}");
                    return 2;
                };
                let Some(code) = code.to_str() else {
                    crate::diag::reportln!("ash: -c: the code is not valid UTF-8");
                    return 2;
                };
                let rest = args[i + 2..].to_vec();
                return run_source("-c", code, rest, opts, None);
            }
            // The end of the options: what follows is the script and its
            // arguments, even if it starts with `-`.
            Some("--") => {
                i += 1;
                break;
            }
            Some(a) if a.starts_with('-') => {
                crate::diag::report!("ash: unknown option {a}\n{USAGE}");
                return 2;
            }
            _ => break,
        }
        i += 1;
    }
    let stdin_is_terminal = std::io::stdin().is_terminal();
    match args.get(i) {
        Some(file) if !from_stdin => {
            let name = file.to_string_lossy().into_owned();
            let text = match read_script(&name) {
                Ok(t) => t,
                Err(code) => return code,
            };
            // Absolute, so `use ./x.ash` keeps working after `cd`.
            let dir = std::path::Path::new(&name).parent().map(|p| {
                std::env::current_dir()
                    .map(|cwd| cwd.join(p))
                    .unwrap_or_else(|_| p.to_path_buf())
            });
            run_source(&name, &text, args[i + 1..].to_vec(), opts, dir)
        }
        _ => {
            if interactive || (stdin_is_terminal && !from_stdin) {
                if opts.journal.is_some() {
                    crate::diag::report!("ash: --journal and --resume need a script\n{USAGE}");
                    return 2;
                }
                if opts.trace.is_some() || opts.timeline.is_some() {
                    crate::diag::report!(
                        "ash: --trace and --timeline need a script (FILE, -c CODE or -s), not the interactive shell\n{USAGE}"
                    );
                    return 2;
                }
                return crate::repl::run(crate::repl::Options {
                    debug: opts.debug,
                    login,
                    plain: !stdin_is_terminal,
                });
            }
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                crate::diag::reportln!("ash: reading standard input: {e}");
                return 2;
            }
            let rest = args.get(i..).map(<[_]>::to_vec).unwrap_or_default();
            run_source("<stdin>", &text, rest, opts, None)
        }
    }
}

/// Print ash's own output; status 0, or 1 with a message if stdout
/// cannot take it (`ash --help > /dev/full`).
fn print_or_fail(text: &str) -> i32 {
    match diag::to_stdout(text) {
        Ok(()) => 0,
        Err(e) => {
            crate::diag::reportln!(
                "ash: write error: {}",
                crate::builtins::commands::io_message(&e)
            );
            1
        }
    }
}

/// Read a script file: UTF-8 (a BOM is tolerated); CRLF line endings are
/// refused with a clear message.
pub(crate) fn read_script(name: &str) -> Result<String, i32> {
    let bytes = match std::fs::read(name) {
        Ok(b) => b,
        Err(e) => {
            crate::diag::reportln!("ash: {name}: {}", crate::builtins::commands::io_message(&e));
            return Err(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(e) => {
            let (line, col) = diag::offset_line_col(
                &String::from_utf8_lossy(&bytes[..e.valid_up_to()]),
                e.valid_up_to(),
            );
            crate::diag::reportln!("ash: {name}:{line}:{col}: the script is not valid UTF-8");
            return Err(2);
        }
    };
    if let Some(pos) = text.find('\0') {
        let (line, col) = diag::offset_line_col(&text, pos);
        crate::diag::reportln!(
            "ash: {name}:{line}:{col}: the script contains a NUL byte (is it a binary file?)"
        );
        return Err(2);
    }
    if let Some(pos) = text.find("\r\n") {
        let (line, _) = diag::offset_line_col(&text, pos);
        crate::diag::reportln!(
            "ash: {name}:{line}: the script has Windows (CRLF) line endings; convert it with `dos2unix {name}`"
        );
        return Err(2);
    }
    Ok(text)
}

/// `--dump FILE` / `--dump -c CODE`: print the compiled bytecode.
fn dump_main(args: &[std::ffi::OsString]) -> i32 {
    let (name, text) = match args.first().and_then(|a| a.to_str()) {
        Some("-c") => match args.get(1).map(|c| c.to_str()) {
            Some(Some(code)) => ("-c".to_string(), code.to_string()),
            Some(None) => {
                crate::diag::reportln!("ash: -c: the code is not valid UTF-8");
                return 2;
            }
            None => {
                crate::diag::report!("ash: -c needs CODE\n{USAGE}");
                return 2;
            }
        },
        _ => {
            let Some(file) = args.first() else {
                crate::diag::report!("ash: --dump needs a FILE or -c CODE\n{USAGE}");
                return 2;
            };
            let name = file.to_string_lossy().into_owned();
            match read_script(&name) {
                Ok(text) => (name, text),
                Err(code) => return code,
            }
        }
    };
    match dump_source(&name, &text) {
        Ok(dump) => print_or_fail(&dump),
        Err(report) => {
            crate::diag::report!("{report}");
            2
        }
    }
}

/// The disassembly of a script as `ash FILE` would run it (every function
/// in it), or the error report if it does not compile.
pub fn dump_source(name: &str, text: &str) -> Result<String, String> {
    let rt = Runtime::new(false);
    let main = compile_main(&rt, name, text)?;
    Ok(crate::vm::disasm::disassemble(
        &main.proto,
        &rt.globals.borrow(),
    ))
}

/// Parse and compile a script; the error report on failure.
fn compile_main(rt: &Runtime, name: &str, text: &str) -> Result<Rc<Closure>, String> {
    rt.load(name, text, crate::compile::TopLevel::ScriptLocals)
        .map_err(|e| e.report())
}

fn main_ctx() -> TaskCtx {
    // A stdout or stderr that was closed at start-up is reported on use.
    let closed = CLOSED_AT_START.get();
    let mut io = Io::standard();
    if closed[1] {
        io.stdout = Rc::new(OutSink::closed_at_startup(1));
    }
    if closed[2] {
        io.stderr = Rc::new(OutSink::closed_at_startup(2));
    }
    TaskCtx::main(io)
}

/// How to run a script: the options of the command line.
struct RunOpts {
    debug: bool,
    /// `--trace FILE`
    trace: Option<std::path::PathBuf>,
    trace_limit: u64,
    /// `--timeline` (on stderr) or `--timeline=FILE`.
    timeline: Option<Option<std::path::PathBuf>>,
    /// `--journal FILE` or `--resume FILE`.
    journal: Option<crate::journal::Options>,
}

impl Default for RunOpts {
    fn default() -> RunOpts {
        RunOpts {
            debug: false,
            trace: None,
            trace_limit: crate::observe::trace::DEFAULT_LIMIT,
            timeline: None,
            journal: None,
        }
    }
}

/// `512M`, `2G`, `100000`: a size in bytes (K, M, G are powers of 1024).
fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return None,
    };
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(1 << shift).filter(|&n| n > 0)
}

/// Start the observers the options ask for (and a nested trace when a
/// traced ash started this one); the exit status of a usage error when a
/// file cannot be written.
fn start_observers(name: &str, opts: &RunOpts) -> Result<(), i32> {
    use crate::observe;
    let title = format!("ash {name}");
    if let Some(path) = &opts.trace {
        match observe::trace::Trace::create(path, opts.trace_limit, &title) {
            Ok(t) => observe::add(Box::new(t)),
            Err(e) => {
                crate::diag::reportln!(
                    "ash: --trace {}: {}",
                    path.display(),
                    crate::builtins::commands::io_message(&e)
                );
                return Err(2);
            }
        }
    } else if let Some(t) = observe::trace::Trace::nested(&title) {
        observe::add(Box::new(t));
    }
    match &opts.timeline {
        None => {}
        Some(None) => observe::add(Box::new(observe::timeline::Timeline::new())),
        Some(Some(path)) => match std::fs::File::create(path) {
            Ok(f) => observe::add(Box::new(observe::timeline::Timeline::to_file(f))),
            Err(e) => {
                observe::finish();
                crate::diag::reportln!(
                    "ash: --timeline={}: {}",
                    path.display(),
                    crate::builtins::commands::io_message(&e)
                );
                return Err(2);
            }
        },
    }
    if observe::on() {
        process::set_signal_hook(observe::signal_sent);
    }
    Ok(())
}

/// Run a script's text with `$args`; returns the exit status. Observers
/// (`--trace`, `--timeline`) see the whole run and finish on every way out.
fn run_source(
    name: &str,
    text: &str,
    args: Vec<std::ffi::OsString>,
    opts: RunOpts,
    dir: Option<std::path::PathBuf>,
) -> i32 {
    if let Err(code) = start_observers(name, &opts) {
        return code;
    }
    let code = run_text(name, text, args, opts.debug, dir, opts.journal);
    crate::observe::finish();
    code
}

/// Run a script's text with `$args` (and a journal); returns the exit
/// status.
fn run_text(
    name: &str,
    text: &str,
    args: Vec<std::ffi::OsString>,
    debug: bool,
    dir: Option<std::path::PathBuf>,
    journal: Option<crate::journal::Options>,
) -> i32 {
    process::raise_fd_limit();
    process::contain::become_subreaper();
    // Before the compile, which takes a while for a large script: Ctrl-C
    // meanwhile is noted, and nothing of the script runs.
    let _ = crate::runtime::signals::install();
    // A journal that cannot be written (or is not one) is a usage error:
    // nothing runs.
    let journal = match journal.map(|o| crate::journal::Journal::open(&o)) {
        None => None,
        Some(Ok(j)) => Some(Rc::new(j)),
        Some(Err(message)) => {
            crate::diag::reportln!("ash: {message}");
            return 2;
        }
    };
    let rt = Runtime::new(debug);
    *rt.script_dir.borrow_mut() = dir;
    let main = match compile_main(&rt, name, text) {
        Ok(m) => m,
        Err(report) => {
            crate::diag::report!("{report}");
            journal.inspect(|j| j.abandon());
            return 2;
        }
    };
    if let Some(sig) = crate::runtime::signals::pending() {
        journal.inspect(|j| j.abandon());
        return signal_status(sig);
    }
    let argv: Vec<Value> = args
        .into_iter()
        .map(|a| Value::from(std::os::unix::ffi::OsStringExt::into_vec(a)))
        .collect();
    if let Some(j) = journal {
        j.begin(name, &argv);
        crate::journal::install(&rt, j);
    }
    rt.set_global("args", Value::list(argv));
    rt.set_global("script", Value::str(name));
    let status = run_script(&rt, main);
    // The journal's last record, synced to disk.
    rt.observers.finish(status, false);
    status
}

/// Run a compiled script to its exit status.
fn run_script(rt: &Rc<Runtime>, main: Rc<Closure>) -> i32 {
    let outcome = match run_main(rt, main, Vec::new()) {
        Ok(outcome) => outcome,
        Err(code) => return code,
    };
    let unretrieved = report_unretrieved(rt);
    match outcome {
        Outcome::Value(_) => i32::from(unretrieved),
        Outcome::Exit(code) => code,
        // `ash script | head -1`: the reader left; end quietly, as a
        // process killed by SIGPIPE would.
        Outcome::Error(e) if e.broken_pipe => e.exit_status(),
        Outcome::Error(e) => {
            crate::diag::report!("{}", diag::render_error(&e));
            e.exit_status()
        }
    }
}

/// Run `main(args)` as a script's main task, to the end of the run: with
/// ash's signal handling, under the deadline it was started with
/// (`ASH_DEADLINE`, whose expiry becomes a `TimeoutError`), then cancelling
/// and waiting for the tasks still running, closing the connections to
/// other hosts and killing what was left behind. `Err` is the exit status when the run ended by `exit N` or a
/// signal, or could not start.
pub fn run_main(rt: &Rc<Runtime>, main: Rc<Closure>, args: Vec<Value>) -> Result<Outcome, i32> {
    let ctx = Rc::new(main_ctx());
    *rt.main_cancel.borrow_mut() = Some(Rc::downgrade(&ctx));
    if crate::observe::on() {
        crate::observe::emit(crate::observe::Event::TaskStart {
            task: ctx.id,
            owner: ctx.observe_key(),
            parent: None,
            origin: crate::observe::Origin::Main,
            name: &main.proto.name,
            site: None,
            args: &args,
        });
    }
    // Started under a parent's deadline (`ASH_DEADLINE`): the whole run is
    // a `timeout` scope of its own.
    let deadline = inherited_deadline(rt, &ctx)?;
    let deadline_scope = deadline.map(|d| d.0);
    let signal_code = Rc::new(std::cell::Cell::new(None));
    let outcome = crate::runtime::run_loop(&rt.executor.clone(), {
        let (rt, signal_code) = (rt.clone(), signal_code.clone());
        async move {
            let _signals = watch_signals(&rt, &ctx, signal_code, deadline);
            let outcome = drive(Fiber::call(rt.clone(), ctx.clone(), main, args)).await;
            if crate::observe::on() {
                crate::observe::emit(crate::observe::Event::TaskEnd {
                    task: ctx.id,
                    owner: ctx.observe_key(),
                    ended: outcome.observed(),
                });
            }
            // When the main body ends: cancel what still runs, and wait for it.
            rt.cancel_and_wait_all(DEFAULT_GRACE).await;
            crate::remote::shutdown(&rt).await;
            // Descendants that left their process group (daemons) are
            // killed by the sentinel when ash exits (see process::contain).
            process::contain::at_exit();
            outcome
        }
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            crate::diag::reportln!("ash: cannot start: {e}");
            return Err(1);
        }
    };
    // Warnings counted while the script ran, before its error's report.
    diag::flush_repeated();
    if let Some(code) = rt.exit_code.get() {
        return Err(code);
    }
    if let Some(code) = signal_code.get() {
        return Err(code);
    }
    // A signal in the last moments of the run, when nothing awaited it.
    if let Some(sig) = crate::runtime::signals::pending() {
        return Err(signal_status(sig));
    }
    Ok(match outcome {
        Outcome::Error(e)
            if deadline_scope.is_some()
                && e.kind == crate::vm::error::ErrorKind::Cancelled
                && e.timeout_scope.get() == deadline_scope =>
        {
            let t = crate::vm::error::Error::new(
                crate::vm::error::ErrorKind::Timeout,
                "the deadline in ASH_DEADLINE passed",
            );
            *t.location.borrow_mut() = e.location.borrow().clone();
            *t.trace.borrow_mut() = e.trace.borrow().clone();
            Outcome::Error(Rc::new(t))
        }
        other => other,
    })
}

/// `ASH_DEADLINE` (section 16): a deadline on the main task's token for
/// the whole run; its scope and instant, or `Err(124)` when it has already
/// passed.
fn inherited_deadline(
    rt: &Runtime,
    ctx: &TaskCtx,
) -> Result<Option<(u64, std::time::Instant)>, i32> {
    use crate::runtime::deadline;
    let Some(unix) = deadline::inherited() else {
        return Ok(None);
    };
    let when = deadline::instant_at(unix);
    if when <= std::time::Instant::now() {
        crate::diag::reportln!(
            "ash: TimeoutError: the deadline in ASH_DEADLINE passed before the script started"
        );
        return Err(124);
    }
    let scope = rt.next_id();
    let grace = deadline::grace_for_children(deadline::inherited_grace());
    ctx.cancel.push_deadline(scope, when, grace);
    Ok(Some((scope, when)))
}

/// The grace period a first SIGINT/SIGTERM gives: the default, or, for an
/// ash started by another ash inside a `timeout`, a little less than the
/// grace period its parent gives it (`ASH_GRACE`, see
/// `deadline::grace_for_children`).
fn signal_grace() -> Duration {
    use crate::runtime::deadline;
    if std::env::var_os(deadline::GRACE_VAR).is_some() {
        deadline::grace_for_children(deadline::inherited_grace())
    } else {
        DEFAULT_GRACE
    }
}

/// Warn about failed tasks nobody awaited; true if there were any. Past
/// the first hundred no one can await any more, only a count is printed.
fn report_unretrieved(rt: &Runtime) -> bool {
    let mut unheard = rt.unheard_failures.borrow_mut();
    unheard.take_unreachable(&mut rt.failed.borrow_mut());
    let mut any = !unheard.is_empty();
    for (id, report) in &unheard.reports {
        diag::warn(&format!("task {id} failed and was never awaited: {report}"));
    }
    if unheard.more > 0 {
        let (more, tasks) = (
            unheard.more,
            if unheard.more == 1 { "task" } else { "tasks" },
        );
        diag::warn(&format!(
            "{more} more {tasks} failed and were never awaited"
        ));
    }
    for t in rt.failed.borrow().iter() {
        if t.retrieved() {
            continue;
        }
        if let Some(Outcome::Error(e)) = t.outcome() {
            let report = crate::runtime::task::failure_report(&e);
            diag::warn(&format!(
                "task {} failed and was never awaited: {report}",
                t.id
            ));
            any = true;
        }
    }
    any
}

/// The shortest time between two reaps of adopted orphans.
const REAP_INTERVAL: Duration = Duration::from_millis(20);

/// How long before its `ASH_DEADLINE` a SIGTERM is taken for the parent
/// enforcing that same deadline (the two clocks' readings differ a little).
const DEADLINE_SKEW: Duration = Duration::from_millis(50);

/// SIGINT/SIGTERM: cancel everything; exit 130/143. A second signal kills
/// every process group at once.
///
/// Under an inherited deadline (`deadline`: its scope and instant), the
/// parent sends SIGTERM when that deadline passes, just as this ash's own
/// copy of it fires: such a SIGTERM is the same cancellation, and asking
/// again would cut short the `finally` blocks it runs. Any other first
/// signal removes the deadline, for the same reason.
fn watch_signals(
    rt: &Rc<Runtime>,
    main: &Rc<TaskCtx>,
    code: Rc<std::cell::Cell<Option<i32>>>,
    deadline: Option<(u64, std::time::Instant)>,
) -> Option<crate::runtime::executor::Task<()>> {
    use crate::runtime::signals::{self, Signal};
    signals::install().ok()?;
    let first_grace = signal_grace();
    let rt2 = rt.clone();
    let main = main.clone();
    Some(rt.executor.spawn(async move {
        let mut count = 0;
        // Orphans adopted as subreaper are reaped on SIGCHLD, at most every
        // REAP_INTERVAL (a burst of exits is one reap), and once more after
        // the last one, so none is left a zombie for long.
        let mut last_reap = std::time::Instant::now();
        let mut reap_at: Option<std::time::Instant> = None;
        loop {
            let sig = match reap_at {
                Some(at) => {
                    futures_lite::future::or(async { Some(signals::next().await) }, async {
                        async_io::Timer::at(at).await;
                        None
                    })
                    .await
                }
                None => Some(signals::next().await),
            };
            let Some(sig) = sig.filter(|&s| s != Signal::Child) else {
                let now = std::time::Instant::now();
                if now >= last_reap + REAP_INTERVAL {
                    last_reap = now;
                    reap_at = (!process::contain::reap_adopted()).then(|| now + REAP_INTERVAL);
                } else {
                    reap_at = Some(last_reap + REAP_INTERVAL);
                }
                continue;
            };
            if count == 0
                && let Some((scope, when)) = deadline
            {
                if sig == Signal::Term && std::time::Instant::now() + DEADLINE_SKEW >= when {
                    continue;
                }
                main.cancel.pop_deadline(scope);
            }
            count += 1;
            code.set(Some(signal_status(sig)));
            if crate::observe::on() {
                let signal = if sig == Signal::Term { 15 } else { 2 };
                crate::observe::emit(crate::observe::Event::SignalReceived { signal });
            }
            let grace = if count > 1 {
                Duration::ZERO
            } else {
                first_grace
            };
            main.cancel.cancel(CancelReason::Signal, grace);
            rt2.cancel_all(CancelReason::Signal, grace);
            if count > 1 {
                // The second signal ends ash, whatever the script catches
                // (a loop that catches `CancelledError` would run on): its
                // process groups are killed now, and the sentinel kills
                // what left them when ash is gone.
                for &pgid in rt2.groups.borrow().iter() {
                    if let Some(pid) = rustix::process::Pid::from_raw(pgid)
                        && rustix::process::kill_process_group(pid, rustix::process::Signal::KILL)
                            .is_ok()
                    {
                        crate::observe::signal_sent(pgid, true, 9);
                    }
                }
                process::contain::at_exit();
                // The journal's records of what was still running, synced.
                rt2.observers.finish(signal_status(sig), true);
                crate::observe::finish();
                std::process::exit(signal_status(sig));
            }
        }
    }))
}

/// The exit status after a signal: 130 for SIGINT, 143 for SIGTERM.
fn signal_status(sig: crate::runtime::signals::Signal) -> i32 {
    match sig {
        crate::runtime::signals::Signal::Term => 143,
        _ => 130,
    }
}
