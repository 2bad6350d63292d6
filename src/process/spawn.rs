//! Resolving, spawning, waiting for and killing external processes.

use super::WorkDir;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::Async;
use async_io::Timer;
use futures_lite::future::poll_fn;
use rustix::process::{Pid, PidfdFlags, Signal};

/// What a child gets on fd 0, 1 or 2.
#[derive(Clone, Debug)]
pub enum Stdio {
    /// The same fd ash has at that position.
    Inherit,
    /// `/dev/null`.
    Null,
    /// This fd, dup'd onto the position in the child. ash's copy is not
    /// inherited (it is `O_CLOEXEC`); the dup made for the spawn is closed
    /// right after it, so dropping every `Rc` closes the fd in ash.
    Fd(Rc<OwnedFd>),
}

/// One external command, ready to spawn.
#[derive(Debug)]
pub struct ExternalCmd {
    /// `argv[0]` is the name as written; must be non-empty.
    pub argv: Vec<OsString>,
    /// Resolved path (see [`find_program`]). A relative path is taken
    /// relative to `cwd` (the child looks it up after entering `cwd`), as
    /// [`find_program_in`] returns it.
    pub program: PathBuf,
    /// `None`: inherit ash's own environment unchanged; `Some`: exactly these.
    pub env: Option<Vec<(OsString, OsString)>>,
    /// `None`: ash's cwd.
    pub cwd: Option<PathBuf>,
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

/// The search path when `PATH` is unset (`env -i`, some cron and init
/// setups), as bash, dash, zsh and fish use.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Resolve a command name. A name containing `/` is taken relative to `cwd`;
/// otherwise each directory of `path` (a `PATH` value, `:`-separated; an empty
/// entry means `cwd`) is searched in order; `None` (`PATH` unset) searches
/// [`DEFAULT_PATH`]. Only executable regular files (after following
/// symlinks) match. The result is `cwd`-joined, so absolute whenever `cwd` is.
pub fn find_program(name: &OsStr, path: Option<&OsStr>, cwd: &Path) -> Option<PathBuf> {
    find_with(name, path, |p| cwd.join(p)).map(|p| cwd.join(p))
}

/// [`find_program`] for a task's working directory: the result is the
/// program as a child started in `cwd` runs it, so relative when it was
/// found relative to `cwd` (`./x`, `bin/x`, a relative `PATH` entry), and
/// looked up through the directory itself, not its path (see `WorkDir`).
pub fn find_program_in(name: &OsStr, path: Option<&OsStr>, cwd: &WorkDir) -> Option<PathBuf> {
    find_with(name, path, |p| cwd.resolve(p))
}

/// The program, relative to the directory it will run in where it was
/// found relative to it; `resolve` makes such a path one to check from
/// here.
fn find_with(
    name: &OsStr,
    path: Option<&OsStr>,
    resolve: impl Fn(&Path) -> PathBuf,
) -> Option<PathBuf> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.contains(&0) {
        return None;
    }
    if bytes.contains(&b'/') {
        let candidate = PathBuf::from(name);
        return is_executable_file(&resolve(&candidate)).then_some(candidate);
    }
    let path = path.unwrap_or(OsStr::new(DEFAULT_PATH));
    for dir in path.as_bytes().split(|&b| b == b':') {
        // `./name`, never a bare `name`: std would search `PATH` for it.
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(name);
        if is_executable_file(&resolve(&candidate)) {
            return Some(candidate);
        }
    }
    None
}

fn is_executable_file(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok(),
        _ => false,
    }
}

/// Why a command could not be started.
#[derive(Debug)]
pub enum SpawnError {
    /// No such program (exit status 127). Holds the name as written.
    NotFound(OsString),
    /// The program exists but cannot be executed (exit status 126).
    NotExecutable(OsString, io::Error),
    /// Anything else (bad arguments, out of resources, bad cwd...).
    Io(io::Error),
}

impl SpawnError {
    /// The shell exit status this error stands for: 127, 126, or 126 for
    /// other failures to start (as sh does when exec fails).
    pub fn status(&self) -> i32 {
        match self {
            SpawnError::NotFound(_) => 127,
            SpawnError::NotExecutable(..) | SpawnError::Io(_) => 126,
        }
    }

    /// A one-line message without the `ash: ` prefix, e.g.
    /// `command not found: foo`, `./x: permission denied`.
    pub fn message(&self) -> String {
        match self {
            SpawnError::NotFound(name) => {
                format!("command not found: {}", name.to_string_lossy())
            }
            SpawnError::NotExecutable(name, e) => {
                let what = match e.kind() {
                    io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                    _ => e.to_string(),
                };
                format!("{}: {what}", name.to_string_lossy())
            }
            SpawnError::Io(e) => e.to_string(),
        }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for SpawnError {}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code, or 128 + the signal number.
    pub code: i32,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
}

impl ExitInfo {
    fn from_status(status: rustix::process::WaitIdStatus) -> ExitInfo {
        match (status.exit_status(), status.terminating_signal()) {
            (Some(code), _) => ExitInfo { code, signal: None },
            (None, Some(sig)) => ExitInfo {
                code: 128 + sig,
                signal: Some(sig),
            },
            // Not reachable with waitpid(.., 0): treat as a failure.
            (None, None) => ExitInfo {
                code: 1,
                signal: None,
            },
        }
    }
}

/// Returned by [`Group::wait`] when the cancel future won.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

/// Under a low limit on processes (`ulimit -u`), the threads of the spawn
/// pool would count against it and crowd out the children themselves, so
/// spawns then run on the loop thread instead (each blocks it briefly).
pub(super) fn spawn_inline() -> bool {
    static INLINE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INLINE.get_or_init(|| {
        rustix::process::getrlimit(rustix::process::Resource::Nproc)
            .current
            .is_some_and(|n| n < 4096)
    })
}

/// Reap the child behind `pidfd` if it has exited.
fn reap(pidfd: &Async<OwnedFd>) -> io::Result<Option<ExitInfo>> {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let status = waitid(
        WaitId::PidFd(pidfd.get_ref().as_fd()),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    )?;
    Ok(status.map(ExitInfo::from_status))
}

struct Member {
    pid: i32,
    wait: Wait,
    exit: Option<ExitInfo>,
}

/// How a member's exit is waited for.
enum Wait {
    /// Readable once the child has exited; `waitid` on it reaps exactly
    /// this child (never another task's).
    PidFd(Async<OwnedFd>),
    /// Where there are no pidfds (see `by_pid`).
    ByPid(super::by_pid::ByPid),
}

/// The external processes of one pipeline: one process group.
///
/// Dropping a `Group` before every process was seen to exit (by [`wait`])
/// sends SIGKILL to the whole group and reaps them (through their pidfds)
/// on the blocking pool. A group whose processes all exited is left alone
/// on drop (background grandchildren it left behind keep running, as in
/// sh).
///
/// [`wait`]: Group::wait
pub struct Group {
    /// Normally one. If the group vanished before a later stage joined it
    /// (only possible if `wait` ran between spawns), that stage leads a new
    /// group and all of them are signalled.
    pgids: Vec<i32>,
    members: Vec<Member>,
    /// `ASH_SCOPE` of every process of the group (see `contain`): finds
    /// descendants that left the process group.
    token: String,
    number: u64,
    /// The cancel scope it was started under (for its cgroup, see `cgroup`).
    scope: u64,
    /// Set in every process of the group (`ASH_DEADLINE`, `ASH_GRACE`).
    env: Vec<(OsString, OsString)>,
    /// Its processes contain their own descendants (see [`Group::contained`]).
    contained: bool,
    /// Registered with the sentinel (see [`Group::outlives_ash`]).
    watched: bool,
}

/// Bounded exponential backoff for transient spawn failures:
/// 2, 4, 8, ... 256 ms, then 256 ms; about 3.5 s in total.
const SPAWN_RETRIES: u32 = 16;
const FIRST_BACKOFF: Duration = Duration::from_millis(2);
const MAX_BACKOFF: Duration = Duration::from_millis(256);

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN | libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ETXTBSY)
    )
}

fn nul_error(what: &str, value: &OsStr) -> SpawnError {
    SpawnError::Io(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what} contains a NUL byte: {:?}", value.to_string_lossy()),
    ))
}

fn has_nul(s: &OsStr) -> bool {
    s.as_bytes().contains(&0)
}

fn validate(cmd: &ExternalCmd) -> Result<(), SpawnError> {
    if cmd.argv.is_empty() {
        return Err(SpawnError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty command",
        )));
    }
    for arg in &cmd.argv {
        if has_nul(arg) {
            return Err(nul_error("argument", arg));
        }
    }
    if has_nul(cmd.program.as_os_str()) {
        return Err(nul_error("program path", cmd.program.as_os_str()));
    }
    if let Some(cwd) = &cmd.cwd
        && has_nul(cwd.as_os_str())
    {
        return Err(nul_error("directory", cwd.as_os_str()));
    }
    if let Some(env) = &cmd.env {
        for (k, v) in env {
            if has_nul(k) {
                return Err(nul_error("environment variable name", k));
            }
            if has_nul(v) {
                return Err(nul_error("environment variable value", v));
            }
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(SpawnError::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "invalid environment variable name: {:?}",
                        k.to_string_lossy()
                    ),
                )));
            }
        }
    }
    Ok(())
}

/// What a child gets on fd 0, 1 or 2, owned, for the thread that spawns.
enum Given {
    Inherit,
    Null,
    /// A dup of the fd (`F_DUPFD_CLOEXEC` with a minimum of 3, so it never
    /// lands on 0/1/2 itself), closed once the child was started.
    Fd(OwnedFd),
}

impl Given {
    fn of(s: &Stdio) -> io::Result<Given> {
        Ok(match s {
            Stdio::Inherit => Given::Inherit,
            Stdio::Null => Given::Null,
            Stdio::Fd(fd) => Given::Fd(fd.try_clone()?),
        })
    }

    fn into_std(self) -> std::process::Stdio {
        match self {
            Given::Inherit => std::process::Stdio::inherit(),
            Given::Null => std::process::Stdio::null(),
            Given::Fd(fd) => std::process::Stdio::from(fd),
        }
    }

    /// The fd to put in place (`None`: inherit ash's).
    fn into_fd(self) -> io::Result<Option<OwnedFd>> {
        Ok(match self {
            Given::Inherit => None,
            Given::Null => {
                let null = rustix::fs::open(
                    "/dev/null",
                    rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )?;
                // Never 0/1/2 itself (were one of them closed): it is
                // dup'd onto them.
                Some(rustix::io::fcntl_dupfd_cloexec(&null, 3)?)
            }
            Given::Fd(fd) => Some(fd),
        })
    }
}

/// One process to start, owned, for the thread that starts it: by
/// `posix_spawn` (std's `Command`) or straight into a cgroup
/// (`spawn_into`), with the same program, arguments, environment,
/// directory, process group and stdio either way.
struct Launch {
    program: PathBuf,
    /// `argv[0]` included.
    argv: Vec<OsString>,
    /// `None`: ash's own environment.
    env: Option<Vec<(OsString, OsString)>>,
    /// Set over `env` (the scope token, the group's variables).
    set: Vec<(OsString, OsString)>,
    /// The scope token is taken out of `env` (an unwatched group).
    unset_scope: bool,
    cwd: Option<PathBuf>,
    /// The process group to join; 0: lead a new one.
    pgid: i32,
    stdio: [Given; 3],
}

impl Launch {
    /// Start it where ash is, by `posix_spawn`; its pid and pidfd.
    fn spawn_here(self) -> io::Result<(i32, Option<OwnedFd>)> {
        let mut std_cmd = std::process::Command::new(&self.program);
        std_cmd.arg0(&self.argv[0]).args(&self.argv[1..]);
        if let Some(env) = &self.env {
            std_cmd.env_clear();
            std_cmd.envs(env.iter().map(|(k, v)| (k, v)));
        }
        if let Some(cwd) = &self.cwd {
            std_cmd.current_dir(cwd);
        }
        std_cmd.process_group(self.pgid);
        if self.unset_scope {
            std_cmd.env_remove(super::contain::SCOPE_VAR);
        }
        for (k, v) in &self.set {
            std_cmd.env(k, v);
        }
        let [stdin, stdout, stderr] = self.stdio;
        std_cmd
            .stdin(stdin.into_std())
            .stdout(stdout.into_std())
            .stderr(stderr.into_std());
        let child = std_cmd.spawn()?;
        let pid = child.id() as i32;
        if super::by_pid::no_pidfd() {
            return Ok((pid, None));
        }
        // Dropping a std Child neither waits nor kills: the pidfd is
        // how this child is waited for and reaped.
        let pidfd = Pid::from_raw(pid)
            .ok_or_else(|| io::Error::other("spawn returned pid 0"))
            .and_then(|p| Ok(rustix::process::pidfd_open(p, PidfdFlags::empty())?));
        match pidfd {
            Ok(fd) => Ok((pid, Some(fd))),
            // No pidfds here (an old kernel, a sandbox): by pid.
            Err(e) if super::by_pid::pidfd_unavailable(&e) => Ok((pid, None)),
            Err(e) => {
                // Without a pidfd the child could not be waited for:
                // kill and reap it rather than leak it.
                let mut child = child;
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// Start it straight into the cgroup open as `cgroup` (see
    /// `spawn_into`); its pid and pidfd.
    fn spawn_into(self, cgroup: std::os::fd::BorrowedFd<'_>) -> io::Result<(i32, Option<OwnedFd>)> {
        let mut env: Vec<(OsString, OsString)> = match self.env {
            Some(env) => env,
            None => std::env::vars_os().collect(),
        };
        if self.unset_scope {
            env.retain(|(k, _)| k != super::contain::SCOPE_VAR);
        }
        env.extend(self.set);
        let [stdin, stdout, stderr] = self.stdio;
        let spec = super::spawn_into::Spec::new(
            &self.program,
            &self.argv,
            &env,
            self.cwd.as_deref(),
            self.pgid,
            [stdin.into_fd()?, stdout.into_fd()?, stderr.into_fd()?],
        )?;
        let (pid, pidfd) = super::spawn_into::spawn(&spec, cgroup)?;
        Ok((pid, Some(pidfd)))
    }
}

/// Map a spawn failure that is not transient (or retried too often).
fn classify(e: io::Error, cmd: &ExternalCmd) -> SpawnError {
    let name = cmd.argv.first().cloned().unwrap_or_default();
    match e.raw_os_error() {
        // Still failing after the retries: name the limit.
        Some(libc::EAGAIN) => SpawnError::Io(io::Error::new(
            e.kind(),
            format!(
                "cannot start {}: the limit on processes (ulimit -u) was reached and did not ease in time",
                name.to_string_lossy()
            ),
        )),
        Some(libc::EMFILE | libc::ENFILE) => SpawnError::Io(io::Error::new(
            e.kind(),
            format!(
                "cannot start {}: the limit on open files (ulimit -n) was reached and did not ease in time",
                name.to_string_lossy()
            ),
        )),
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => {
            if let Some(cwd) = &cmd.cwd
                && !cwd.is_dir()
            {
                return SpawnError::Io(io::Error::new(
                    e.kind(),
                    format!("cannot change directory to {}: {e}", cwd.display()),
                ));
            }
            // A relative program is relative to the child's directory.
            let program = match &cmd.cwd {
                Some(cwd) => cwd.join(&cmd.program),
                None => cmd.program.clone(),
            };
            if std::fs::metadata(&program).is_err() {
                SpawnError::NotFound(name)
            } else {
                // The file exists: a missing #! interpreter.
                SpawnError::NotExecutable(
                    name,
                    io::Error::new(e.kind(), format!("bad interpreter: {e}")),
                )
            }
        }
        // Running a directory (`./src`): say so, as sh does. A relative
        // program is relative to the child's directory, not ash's.
        Some(libc::EACCES | libc::EISDIR)
            if cmd
                .cwd
                .as_ref()
                .map_or_else(|| cmd.program.clone(), |cwd| cwd.join(&cmd.program))
                .is_dir() =>
        {
            SpawnError::NotExecutable(
                name,
                io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
            )
        }
        Some(libc::EACCES | libc::ENOEXEC | libc::EISDIR | libc::ETXTBSY | libc::EPERM) => {
            SpawnError::NotExecutable(name, e)
        }
        _ => SpawnError::Io(e),
    }
}

impl Group {
    pub fn new() -> Group {
        Group::in_scope(0)
    }

    /// A group started under cancel scope `scope` (see `contain`).
    pub fn in_scope(scope: u64) -> Group {
        let (token, number) = super::contain::new_scope_token(scope);
        Group {
            pgids: Vec::new(),
            members: Vec::new(),
            token,
            number,
            scope,
            env: Vec::new(),
            contained: false,
            watched: true,
        }
    }

    /// A group of programs that contain their own descendants (an ash, an
    /// `ssh`): stopping it signals only the group, with no `/proc` scans
    /// for processes that left it, which a cancellation otherwise pays
    /// for every group (milliseconds each on a busy machine).
    pub fn contained(mut self) -> Group {
        self.contained = true;
        self
    }

    /// Set an environment variable in every process started from now on
    /// (after the command's own environment).
    pub fn set_env(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) {
        self.env.push((name.into(), value.into()));
    }

    /// The group's number (they grow with every group ash starts).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The process group id, once a process has been started.
    pub fn pgid(&self) -> Option<i32> {
        self.pgids.first().copied()
    }

    /// The pids of the processes started so far, in spawn order.
    pub fn pids(&self) -> Vec<i32> {
        self.members.iter().map(|m| m.pid).collect()
    }

    /// Start a process; the first one leads a new process group, later ones
    /// join it. Transient failures (EAGAIN, EMFILE, ENFILE, ENOMEM, ETXTBSY)
    /// are retried with bounded exponential backoff on the loop's timers.
    /// All processes of a pipeline should be spawned before [`Group::wait`].
    pub async fn spawn(&mut self, cmd: ExternalCmd) -> Result<(), SpawnError> {
        // Before the first child: under a tight `ulimit -u` the children
        // could otherwise take the slot async-io's thread needs.
        super::io_thread_ready().map_err(SpawnError::Io)?;
        validate(&cmd)?;
        let mut delay = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            let target = self.pgids.last().copied();
            let result = match self.try_spawn(&cmd, target.unwrap_or(0)).await {
                // The group is gone (its members were all reaped): lead a new one.
                Err(e) if target.is_some() && e.raw_os_error() == Some(libc::EPERM) => {
                    self.try_spawn(&cmd, 0).await.map(|c| (c, true))
                }
                r => r.map(|c| (c, target.is_none())),
            };
            match result {
                Ok(((pid, pidfd), leader)) => {
                    return self.add(pid, pidfd, leader).map_err(SpawnError::Io);
                }
                Err(e) if is_transient(&e) && attempt < SPAWN_RETRIES => {
                    attempt += 1;
                    Timer::after(delay).await;
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
                Err(e) => return Err(classify(e, &cmd)),
            }
        }
    }

    /// Spawn off the loop thread: `posix_spawn` blocks its caller until the
    /// child has exec'd (the kernel copies the fd table, the child closes
    /// its CLOEXEC fds and loads the program), which on a busy machine is
    /// a millisecond or more. On the loop that would delay every timer.
    async fn try_spawn(&self, cmd: &ExternalCmd, pgid: i32) -> io::Result<(i32, Option<OwnedFd>)> {
        let mut set = Vec::with_capacity(self.env.len() + 1);
        if self.watched {
            set.push((
                OsString::from(super::contain::SCOPE_VAR),
                OsString::from(&self.token),
            ));
        }
        set.extend(self.env.iter().cloned());
        let launch = Launch {
            program: cmd.program.clone(),
            argv: cmd.argv.clone(),
            env: cmd.env.clone(),
            set,
            unset_scope: !self.watched,
            cwd: cmd.cwd.clone(),
            pgid,
            stdio: [
                Given::of(&cmd.stdin)?,
                Given::of(&cmd.stdout)?,
                Given::of(&cmd.stderr)?,
            ],
        };
        // The launch (and so the dups made for the child) is dropped on
        // the blocking thread right after the spawn.
        super::contain::spawn_started();
        let (number, scope, watched) = (self.number, self.scope, self.watched);
        // Born in the group's cgroup (see `cgroup`), unless the group must
        // outlive ash (which kills its cgroups when it dies).
        let spawn = move || {
            if !watched {
                return launch.spawn_here();
            }
            super::cgroup::start(number, scope, |cgroup| match cgroup {
                Some(cgroup) => launch.spawn_into(cgroup),
                None => launch.spawn_here(),
            })
        };
        let spawned = if spawn_inline() {
            spawn()
        } else {
            super::unblock(spawn).await
        };
        super::contain::spawn_finished(spawned.as_ref().ok().map(|(pid, _)| *pid));
        spawned
    }

    fn add(&mut self, pid: i32, pidfd: Option<OwnedFd>, leader: bool) -> io::Result<()> {
        if leader {
            self.pgids.push(pid);
            if self.watched {
                super::contain::sentinel_add(pid);
            }
        }
        let wait = match pidfd {
            Some(fd) => Wait::PidFd(Async::new(fd)?),
            None => Wait::ByPid(super::by_pid::ByPid::new(pid)),
        };
        self.members.push(Member {
            pid,
            wait,
            exit: None,
        });
        Ok(())
    }

    fn all_exited(&self) -> bool {
        self.members.iter().all(|m| m.exit.is_some())
    }

    fn poll_members(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut done = true;
        for m in &mut self.members {
            if m.exit.is_some() {
                continue;
            }
            let polled = match &mut m.wait {
                Wait::PidFd(pidfd) => pidfd.poll_readable(cx).map_ok(|()| reap(pidfd)),
                Wait::ByPid(by_pid) => by_pid
                    .poll_exit(cx)
                    .map_ok(|status| Ok(Some(ExitInfo::from_status(status)))),
            };
            match polled {
                Poll::Ready(Ok(reaped)) => match reaped {
                    Ok(Some(exit)) => {
                        super::contain::reaped(m.pid);
                        m.exit = Some(exit);
                    }
                    // Readable but not yet reapable: wait again.
                    Ok(None) => done = false,
                    // Waiting failed (should not happen): report a failure.
                    Err(_) => {
                        m.exit = Some(ExitInfo {
                            code: 1,
                            signal: None,
                        })
                    }
                },
                Poll::Ready(Err(_)) => {
                    m.exit = Some(ExitInfo {
                        code: 1,
                        signal: None,
                    })
                }
                Poll::Pending => done = false,
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    }

    fn results(&self) -> Vec<ExitInfo> {
        self.members
            .iter()
            .map(|m| {
                m.exit.unwrap_or(ExitInfo {
                    code: 1,
                    signal: None,
                })
            })
            .collect()
    }

    /// Wait for every process of the group; the exit infos are in spawn order.
    /// If `cancel` completes first: SIGTERM (and SIGCONT) to the whole process
    /// group, wait up to the grace period it returned for the group to empty,
    /// then SIGKILL the group, reap, and return `Err(Cancelled)`. A grace of
    /// zero kills at once. A group with no processes returns `Ok(vec![])`.
    pub async fn wait(
        &mut self,
        cancel: impl Future<Output = Duration>,
    ) -> Result<Vec<ExitInfo>, Cancelled> {
        let mut cancel = pin!(cancel);
        let grace = poll_fn(|cx| {
            if self.poll_members(cx).is_ready() {
                return Poll::Ready(None);
            }
            cancel.as_mut().poll(cx).map(Some)
        })
        .await;
        match grace {
            None => Ok(self.results()),
            Some(grace) => {
                self.terminate(grace).await;
                Err(Cancelled)
            }
        }
    }

    /// SIGTERM, grace, SIGKILL, reap.
    async fn terminate(&mut self, grace: Duration) {
        if !grace.is_zero() {
            // The grace period runs from the SIGTERM, not from the end of
            // the `/proc` scan for escapees below, which a loaded machine
            // makes slow (a third of a second was seen): a nested ash times
            // its own children's shorter grace period from its SIGTERM, and
            // must be done before its parent's SIGKILL.
            let deadline = std::time::Instant::now() + grace;
            self.signal_groups(Signal::TERM);
            self.signal_groups(Signal::CONT);
            // Only those that left the group: the members just got it.
            if !self.contained {
                let (token, pgids, number) = (self.token.clone(), self.pgids.clone(), self.number);
                super::unblock(move || {
                    // The group's cgroup finds those without a token too.
                    super::cgroup::signal_group(number, Signal::TERM, &pgids);
                    super::contain::signal_escapees(&token, &pgids, Signal::TERM)
                })
                .await;
            }
            let mut timer = Timer::at(deadline);
            // First the direct children...
            let children_done = poll_fn(|cx| {
                if self.poll_members(cx).is_ready() {
                    return Poll::Ready(true);
                }
                Pin::new(&mut timer).poll(cx).map(|_| false)
            })
            .await;
            // ...then whatever else is left in the group (grandchildren).
            if children_done && !self.contained {
                let mut step = Duration::from_millis(5);
                while (self.group_alive()
                    || self.escapees_alive().await
                    || self.cgroup_alive().await)
                    && std::time::Instant::now() < deadline
                {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    Timer::after(step.min(left)).await;
                    step = (step * 2).min(Duration::from_millis(50));
                }
            }
        }
        self.signal_groups(Signal::KILL);
        let (token, number, contained) = (self.token.clone(), self.number, self.contained);
        super::unblock(move || {
            // Everything in the group's cgroup, wherever it moved.
            super::cgroup::kill_group(number);
            if !contained {
                super::contain::signal_scope(&token, false, Signal::KILL);
            }
        })
        .await;
        poll_fn(|cx| self.poll_members(cx)).await;
        super::contain::reap_adopted();
    }

    /// Whether a process that left the group (setsid, setpgid) but carries
    /// its scope token still runs. A `/proc` walk, off the loop thread.
    async fn escapees_alive(&self) -> bool {
        let token = self.token.clone();
        super::unblock(move || super::contain::signal_scope_alive(&token)).await
    }

    /// Whether the group's cgroup still holds a process (see `cgroup`).
    async fn cgroup_alive(&self) -> bool {
        let number = self.number;
        super::unblock(move || super::cgroup::group_populated(number)).await
    }

    /// Whether any process of the group still runs. A zombie does not
    /// count: an orphaned grandchild that died stays a zombie until init
    /// reaps it, and `kill(-pgid, 0)` still succeeds on it, which would make
    /// every cancellation wait out its whole grace period.
    fn group_alive(&self) -> bool {
        self.pgids.iter().any(|&g| {
            Pid::from_raw(g).is_some_and(|p| rustix::process::test_kill_process_group(p).is_ok())
                && group_has_live_member(g)
        })
    }

    fn signal_groups(&self, sig: Signal) {
        for &g in &self.pgids {
            if let Some(p) = Pid::from_raw(g) {
                // ESRCH (group already empty) is fine.
                if rustix::process::kill_process_group(p, sig).is_ok() {
                    signal_sent(g, true, sig);
                }
            }
        }
    }

    /// How each process of the group ended, in spawn order (`None`: not
    /// seen to end).
    pub fn exits(&self) -> Vec<Option<ExitInfo>> {
        self.members.iter().map(|m| m.exit).collect()
    }

    /// Send a signal to the whole group now. No-op if no process was started
    /// or all of them have been seen to exit (their pgid might be reused).
    pub fn signal(&self, sig: Signal) {
        if self.members.is_empty() || self.all_exited() {
            return;
        }
        self.signal_groups(sig);
    }
}

/// Told of every signal sent to a process group or to a process that left
/// its group: `(pid or pgid, is a group, signal number)` (see
/// [`set_signal_hook`]).
static SIGNAL_HOOK: std::sync::OnceLock<fn(i32, bool, i32)> = std::sync::OnceLock::new();

/// Have `hook` told of every signal ash sends to its processes (for
/// `--trace`). Set once; later calls are ignored.
pub fn set_signal_hook(hook: fn(pid: i32, group: bool, signal: i32)) {
    let _ = SIGNAL_HOOK.set(hook);
}

/// A signal was sent (to a group when `group`).
pub(super) fn signal_sent(pid: i32, group: bool, sig: Signal) {
    if let Some(hook) = SIGNAL_HOOK.get() {
        hook(pid, group, sig.as_raw());
    }
}

/// Scan `/proc` for a process of group `pgid` that is not a zombie. Where
/// `/proc` cannot be read, assume there is one (the caller then waits out
/// the grace period and SIGKILLs, which is safe).
fn group_has_live_member(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
        if pgrp == Some(pgid) && state != Some("Z") && state != Some("X") {
            return true;
        }
    }
    false
}

impl Default for Group {
    fn default() -> Group {
        Group::new()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for &g in &self.pgids {
            if self.watched {
                super::contain::sentinel_remove(g);
            }
        }
        let number = self.number;
        if self.all_exited() {
            if !self.members.is_empty() && self.watched {
                // Its cgroup goes, unless it left something running.
                super::cgroup::group_ended_soon(number);
            }
            return;
        }
        self.signal_groups(Signal::KILL);
        if !self.contained {
            super::contain::signal_scope(&self.token, false, Signal::KILL);
        }
        // Reap the killed children on the blocking pool, so no zombie is
        // left behind even though nobody awaits them any more.
        let waits: Vec<(i32, Wait)> = std::mem::take(&mut self.members)
            .into_iter()
            .filter(|m| m.exit.is_none())
            .map(|m| (m.pid, m.wait))
            .collect();
        let pidfds: Vec<Result<OwnedFd, i32>> = waits
            .into_iter()
            .filter_map(|(pid, wait)| match wait {
                Wait::PidFd(fd) => fd.into_inner().ok().map(Ok),
                Wait::ByPid(_) => Some(Err(pid)),
            })
            .collect();
        let watched = self.watched;
        super::unblock::unblock_detached(move || {
            use rustix::process::{WaitId, WaitIdOptions, waitid};
            if watched {
                super::cgroup::kill_group(number);
            }
            for fd in &pidfds {
                match fd {
                    Ok(fd) => {
                        // The pidfd was non-blocking for the reactor; a
                        // blocking waitid needs it blocking again (else it
                        // returns EAGAIN).
                        let _ = rustix::fs::fcntl_setfl(fd, rustix::fs::OFlags::empty());
                        let _ = waitid(WaitId::PidFd(fd.as_fd()), WaitIdOptions::EXITED);
                    }
                    Err(pid) => super::by_pid::reap_blocking(*pid),
                }
            }
            if watched {
                super::cgroup::group_ended(number);
            }
        });
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("pgids", &self.pgids)
            .field("pids", &self.pids())
            .finish()
    }
}
