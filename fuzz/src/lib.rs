//! Shared pieces of the fuzz targets.
//!
//! `run_binary` runs the real `ash` binary on a script, contained:
//! - as user `nobody` (the fuzzer runs as root here; a fuzzed `> /etc/x`
//!   must not be able to write anything that matters), in a fresh temporary
//!   working directory that is also `HOME`;
//! - with an empty environment except `PATH` (a directory of symlinks to
//!   `echo true false cat printf sleep` only), `HOME`, `LC_ALL=C` and a
//!   token (`ASH_FUZZ_TOKEN`) that every descendant inherits;
//! - stdin `/dev/null`, stdout discarded, stderr to a file;
//! - in its own session, with rlimits: address space 4 GiB, file size
//!   16 MiB, 64 processes for the user, 20 s of CPU, no core files;
//! - killed (its session, then every process holding the token) after
//!   `ASH_FUZZ_TIMEOUT_MS` (default 3000 ms).
//!
//! Verdict (a panic here is what libFuzzer records as a crash):
//! - "panicked at" on stderr: a Rust panic in ash;
//! - death by a signal we did not send (SIGSEGV, SIGABRT...), except an
//!   allocation failure under the address-space limit (a script that builds
//!   a huge string; counted as `oom`);
//! - a process holding the token still running after ash exited by itself
//!   (ash must not leave anything behind);
//! - an exit status outside 0..=255 cannot happen on Unix, so is not checked.
//!
//! A timeout is not a crash (`while (true) { }` is a valid script); the
//! inputs that timed out are kept under `$ASH_FUZZ_OUT/timeouts/` (at most
//! 200) for review, and counts are written to `$ASH_FUZZ_OUT/stats-PID`.

pub mod values;

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Parse and compile in both top-level modes, and lint; true if both compiled.
/// Never registers the source (the registry would grow for ever).
pub fn parse_and_compile(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(block) = ash::syntax::parse(text) else {
        return false;
    };
    let mut ok = true;
    for top in [
        ash::compile::TopLevel::ScriptLocals,
        ash::compile::TopLevel::Globals,
    ] {
        let mut names = ash::compile::GlobalNames::default();
        ok &= ash::compile::compile_script(&block, "fuzz", u32::MAX, &mut names, top).is_ok();
    }
    // The lint pass of `ash --check` walks the same tree.
    let _ = ash::check::lint(&block, text, &ash::check::Context::default());
    ok
}

const NOBODY: u32 = 65534;
const SAFE_COMMANDS: &[&str] = &["echo", "true", "false", "cat", "printf", "sleep"];

struct Setup {
    ash: PathBuf,
    root: PathBuf,
    bin: PathBuf,
    out: PathBuf,
    timeout: Duration,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let ash = std::env::var_os("ASH_BIN")
            .map(PathBuf::from)
            .expect("set ASH_BIN to the ash binary to run");
        assert!(ash.exists(), "ASH_BIN {} does not exist", ash.display());
        let root = std::env::temp_dir().join(format!("ash-fuzz-run-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("create run root");
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).expect("chmod");
        let bin = root.join("bin");
        fs::create_dir(&bin).expect("create bin");
        for c in SAFE_COMMANDS {
            let target = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(c))
                .find(|p| p.exists())
                .expect("a safe command");
            std::os::unix::fs::symlink(target, bin.join(c)).expect("symlink");
        }
        let out = std::env::var_os("ASH_FUZZ_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("out"));
        fs::create_dir_all(out.join("timeouts")).expect("create out");
        let timeout = Duration::from_millis(
            std::env::var("ASH_FUZZ_TIMEOUT_MS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(3000),
        );
        Setup {
            ash,
            root,
            bin,
            out,
            timeout,
        }
    })
}

static RUNS: AtomicU64 = AtomicU64::new(0);
static TIMEOUTS: AtomicU64 = AtomicU64::new(0);
static OOMS: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// What one run of the binary did.
#[derive(Debug)]
pub enum Verdict {
    Exited(i32),
    TimedOut,
    OutOfMemory,
}

/// Run `ash` on `script` contained (see the module docs); panics on a crash.
pub fn run_binary(script: &[u8]) -> Verdict {
    let s = setup();
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let token = format!("{}-{n}", std::process::id());
    let work = s.root.join("w");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir(&work).expect("create work dir");
    fs::write(work.join("s.ash"), script).expect("write script");
    std::os::unix::fs::chown(&work, Some(NOBODY), Some(NOBODY)).expect("chown");
    let err_path = s.root.join("stderr");
    let err_file = fs::File::create(&err_path).expect("stderr file");

    let mut cmd = Command::new(&s.ash);
    cmd.arg("s.ash")
        .current_dir(&work)
        .env_clear()
        .env("PATH", &s.bin)
        .env("HOME", &work)
        .env("LC_ALL", "C")
        .env("ASH_FUZZ_TOKEN", &token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = |res, v: u64| {
                let r = libc::rlimit {
                    rlim_cur: v,
                    rlim_max: v,
                };
                libc::setrlimit(res, &r)
            };
            libc::setsid();
            lim(libc::RLIMIT_AS, 4 << 30);
            lim(libc::RLIMIT_FSIZE, 16 << 20);
            lim(libc::RLIMIT_NPROC, 64);
            lim(libc::RLIMIT_CPU, 20);
            lim(libc::RLIMIT_CORE, 0);
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn ash");
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if start.elapsed() > s.timeout {
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let verdict;
    let mut stderr = String::new();
    let _ = fs::File::open(&err_path).and_then(|mut f| f.read_to_string(&mut stderr));
    match status {
        None => {
            // SAFETY: kill(2) on the session we created.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            kill_leftovers(&token);
            let t = TIMEOUTS.fetch_add(1, Ordering::Relaxed);
            if t < 200 {
                let _ = fs::write(s.out.join("timeouts").join(format!("{token}.ash")), script);
            }
            verdict = Verdict::TimedOut;
        }
        Some(st) => {
            // ash waits for what it started before it exits: give the
            // kernel a moment to tear down, then nothing may be left.
            let mut left = leftovers(&token);
            if !left.is_empty() {
                std::thread::sleep(Duration::from_millis(50));
                left = leftovers(&token);
            }
            kill_leftovers(&token);
            assert!(
                !stderr.contains("panicked at"),
                "ash panicked ({st:?}):\n{stderr}"
            );
            if let Some(sig) = st.signal() {
                if sig == libc::SIGABRT && stderr.contains("memory allocation of") {
                    OOMS.fetch_add(1, Ordering::Relaxed);
                    verdict = Verdict::OutOfMemory;
                } else {
                    panic!("ash died of signal {sig}:\n{stderr}");
                }
            } else {
                assert!(
                    left.is_empty(),
                    "ash exited ({st:?}) but left running: {left:?}\n{stderr}"
                );
                if st.code() != Some(0) {
                    FAILED.fetch_add(1, Ordering::Relaxed);
                }
                verdict = Verdict::Exited(st.code().unwrap_or(-1));
            }
        }
    }
    if n % 20 == 0 {
        let _ = fs::write(
            s.out.join(format!("stats-{}", std::process::id())),
            format!(
                "runs {} timeouts {} oom {} nonzero {}\n",
                n + 1,
                TIMEOUTS.load(Ordering::Relaxed),
                OOMS.load(Ordering::Relaxed),
                FAILED.load(Ordering::Relaxed)
            ),
        );
    }
    verdict
}

/// Live (non-zombie) processes whose environment holds the token.
pub fn leftovers(token: &str) -> Vec<String> {
    let needle = format!("ASH_FUZZ_TOKEN={token}");
    let mut found = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()) {
            continue;
        }
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_string));
        if state.as_deref() != Some("Z") {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            ));
        }
    }
    found
}

fn kill_leftovers(token: &str) {
    for p in leftovers(token) {
        if let Some(pid) = p.split(':').next().and_then(|p| p.parse::<i32>().ok()) {
            // SAFETY: kill(2).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}
