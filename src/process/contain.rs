//! Containment beyond process groups.
//!
//! Killing a pipeline's process group reaches its children and
//! grandchildren, but not descendants that left the group (`setsid`,
//! `setpgid`, double forks), and not anything once ash itself is gone.
//!
//! - **Scope tokens.** Every external process ash starts gets
//!   `ASH_SCOPE=<ash pid>.<scope>.<group>` in its environment (scope: the
//!   cancel token of the task that ran it; group: a number that grows with
//!   every process group), which its descendants inherit wherever they
//!   move. When a group is cancelled, the processes carrying its token are
//!   signalled with it; when a `timeout` or a task is cancelled, what its
//!   already finished commands left behind is killed
//!   ([`kill_left_behind`]); when the script ends, every process carrying
//!   one of this ash's tokens is killed.
//!   (A descendant that clears its environment escapes this, except where
//!   ash can put its commands in cgroups: see `cgroup`.)
//! - **Subreaper.** ash makes itself a child subreaper
//!   (`PR_SET_CHILD_SUBREAPER`), so orphaned descendants are re-parented to
//!   ash, not to init, and [`reap_adopted`] reaps those that exit. It never
//!   calls `waitpid(-1)`: it reaps only zombies that are not its own
//!   children (those are reaped through their pidfds, so no exit status is
//!   ever stolen).
//! - **Sentinel.** If ash is killed with SIGKILL it cannot clean up, and
//!   `PR_SET_PDEATHSIG` does not fit (it fires when the *thread* that
//!   spawned a child exits, and ash spawns from a thread pool). So the
//!   first time ash starts a program it also starts `ash --sentinel`, in a
//!   process group of its own, reading process-group ids from a pipe. When
//!   ash dies the pipe reaches end of file and the sentinel kills every
//!   group still registered and every process carrying this ash's token.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;

use rustix::process::{Pid, Signal};

/// The environment variable carrying a process's scope token.
pub const SCOPE_VAR: &str = "ASH_SCOPE";

/// Process-wide, so tokens never repeat even across threads (tests).
static NEXT_SCOPE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Children ash spawned itself (reaped through their pidfds). Process-wide:
/// whichever thread spawned a child, it is never reaped by `reap_adopted`.
static OWN: std::sync::LazyLock<std::sync::Mutex<HashSet<i32>>> =
    std::sync::LazyLock::new(|| std::sync::Mutex::new(HashSet::new()));
/// Spawns in flight: their pids are not in `OWN` yet.
static SPAWNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn own() -> std::sync::MutexGuard<'static, HashSet<i32>> {
    OWN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

thread_local! {
    /// The write end of the sentinel's pipe, once started.
    static SENTINEL: RefCell<Option<std::fs::File>> = const { RefCell::new(None) };
    static SENTINEL_TRIED: Cell<bool> = const { Cell::new(false) };
}

/// A fresh token for a new process group started under cancel scope
/// `scope`, and the group's number.
pub fn new_scope_token(scope: u64) -> (String, u64) {
    let n = NEXT_SCOPE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = rustix::process::getpid().as_raw_nonzero();
    (format!("{pid}.{scope}.{n}"), n)
}

/// The number the next process group will get (groups started from now on
/// have this number or a higher one).
pub fn next_group_number() -> u64 {
    NEXT_SCOPE.load(std::sync::atomic::Ordering::Relaxed)
}

/// SIGKILL every live process carrying a token of this ash for cancel
/// scope `scope` and a group numbered `from` or higher: descendants that
/// commands of a cancelled scope left behind when they finished (daemons,
/// `setsid` escapees), which no group's cancellation reaches. A `/proc`
/// scan, done only when such a scope is cancelled. How many were killed.
pub fn kill_left_behind(scope: u64, from: u64) -> usize {
    // Those that cleared their environment too, where cgroups are used.
    super::cgroup::kill_left_behind(scope, from);
    let me = rustix::process::getpid().as_raw_nonzero();
    let head = format!("{SCOPE_VAR}={me}.{scope}.");
    signal_where(Signal::KILL, |kv| {
        let group = kv
            .strip_prefix(head.as_bytes())
            .and_then(|rest| std::str::from_utf8(rest).ok()?.parse::<u64>().ok());
        group.is_some_and(|g| g >= from)
    })
}

/// The prefix every token of this ash process starts with.
pub fn own_token_prefix() -> String {
    format!("{}.", rustix::process::getpid().as_raw_nonzero())
}

/// At start-up: adopt orphaned descendants instead of letting init have them.
pub fn become_subreaper() {
    let made = rustix::process::set_child_subreaper(Some(rustix::process::getpid())).is_ok();
    SUBREAPER.store(made, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn spawn_started() {
    SPAWNING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

pub(crate) fn spawn_finished(pid: Option<i32>) {
    if let Some(pid) = pid {
        own().insert(pid);
    }
    SPAWNING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
}

pub(crate) fn reaped(pid: i32) {
    own().remove(&pid);
}

/// Fields of `/proc/PID/stat` after the command name: (state, ppid).
fn stat_of(pid: &str) -> Option<(u8, i32)> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.bytes().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

fn numeric_dirs() -> impl Iterator<Item = String> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Kernel threads (children of kthreadd, pid 2) have no environment at all.
fn is_kernel_thread(pid: &str, ppid: i32) -> bool {
    pid == "2" || ppid == 2
}

/// Accepts `ASH_SCOPE=<token>`, or with `prefix` any token starting with it.
fn token_entry(token: &str, prefix: bool) -> impl Fn(&[u8]) -> bool {
    let head = format!("{SCOPE_VAR}={token}");
    move |kv| match prefix {
        true => kv.starts_with(head.as_bytes()),
        false => kv == head.as_bytes(),
    }
}

fn is_live(pid: &str) -> bool {
    !matches!(stat_of(pid), Some((b'Z', _)) | None)
}

/// The process group of process `pid`.
fn pgrp_of(pid: &str) -> Option<i32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// ash made itself a child subreaper (see [`become_subreaper`]): every
/// process it started, and everything they started, is then one of its
/// descendants, wherever it moved (`setsid`, double forks).
static SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The processes a sweep looks at. While ash is a subreaper, only its
/// descendants (a walk down the `children` files, as many reads as there
/// are descendants: a machine's other processes cost nothing, and none of
/// them can carry this ash's token). Else, and without `children` files
/// (CONFIG_PROC_CHILDREN), or in the sentinel (ash is gone, its orphans
/// went elsewhere): every process.
fn candidates() -> Vec<String> {
    if SUBREAPER.load(std::sync::atomic::Ordering::Relaxed)
        && let Some(found) = descendants_of_ash()
    {
        return found;
    }
    numeric_dirs().collect()
}

/// ash's descendants, breadth first, from the `children` files of each
/// thread of each process (a child is attached to the thread that forked
/// it; adopted orphans to one of ash's threads). `None` when ash's own
/// cannot be read.
fn descendants_of_ash() -> Option<Vec<String>> {
    let mut found: Vec<String> = children_of_ash()?
        .into_iter()
        .map(|p| p.to_string())
        .collect();
    let mut next = 0;
    while next < found.len() {
        let pid = found[next].clone();
        next += 1;
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
                found.extend(list.split_whitespace().map(str::to_string));
            }
        }
    }
    Some(found)
}

/// Visit every live process but ash whose environment has an entry that
/// `wanted` accepts, until `visit` returns false.
///
/// Liveness comes first (one small read; a zombie or a kernel thread is
/// passed over). A process in the middle of `execve` shows an empty
/// environment for a moment (the new image's is not set up yet), which
/// would pass for "no token": those that are running or in an
/// uninterruptible wait (where `execve` is) are read again, all together,
/// for up to about 20 ms. A process asleep with an empty environment (`env
/// -i sleep 60`) is not in `execve` and costs nothing more.
fn scan(wanted: impl Fn(&[u8]) -> bool, mut visit: impl FnMut(&str) -> bool) {
    let me = rustix::process::getpid().as_raw_nonzero().get().to_string();
    let has = |env: &[u8]| env.split(|&b| b == 0).any(&wanted);
    let mut unsure = Vec::new();
    for pid in candidates() {
        if pid == me {
            continue;
        }
        let Some((state, ppid)) = stat_of(&pid) else {
            continue;
        };
        if matches!(state, b'Z' | b'X') || is_kernel_thread(&pid, ppid) {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.is_empty() && matches!(state, b'R' | b'D') {
            unsure.push(pid);
        } else if has(&env) && !visit(&pid) {
            return;
        }
    }
    for _ in 0..20 {
        if unsure.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        let mut still = Vec::new();
        for pid in unsure {
            match std::fs::read(format!("/proc/{pid}/environ")) {
                Ok(env) if env.is_empty() => still.push(pid),
                Ok(env) if has(&env) && is_live(&pid) && !visit(&pid) => return,
                _ => {}
            }
        }
        unsure = still;
    }
}

/// Send `sig` to every live process but ash whose environment has an entry
/// that `wanted` accepts; how many were signalled.
fn signal_where(sig: Signal, wanted: impl Fn(&[u8]) -> bool) -> usize {
    signal_where_outside(sig, &[], wanted)
}

/// [`signal_where`], skipping the members of the process groups `skip`
/// (already signalled through their group: a second SIGTERM would tell an
/// ash among them to stop at once, without its grace period).
fn signal_where_outside(sig: Signal, skip: &[i32], wanted: impl Fn(&[u8]) -> bool) -> usize {
    let mut n = 0;
    scan(wanted, |pid| {
        if !skip.is_empty() && pgrp_of(pid).is_some_and(|g| skip.contains(&g)) {
            return true;
        }
        if let Some(p) = pid.parse().ok().and_then(Pid::from_raw) {
            if rustix::process::kill_process(p, sig).is_ok() {
                super::spawn::signal_sent(p.as_raw_nonzero().get(), false, sig);
            }
            n += 1;
        }
        true
    });
    n
}

/// Signal every live process carrying `token` (or, with `prefix`, any token
/// starting with it); how many were signalled.
pub fn signal_scope(token: &str, prefix: bool, sig: Signal) -> usize {
    signal_where(sig, token_entry(token, prefix))
}

/// Signal the processes carrying exactly `token` that are not in one of
/// the process groups `groups` (those that left their group: `setsid`,
/// double forks); how many were signalled.
pub fn signal_escapees(token: &str, groups: &[i32], sig: Signal) -> usize {
    signal_where_outside(sig, groups, token_entry(token, false))
}

/// Whether a live process carries exactly `token`.
pub fn signal_scope_alive(token: &str) -> bool {
    let mut alive = false;
    scan(token_entry(token, false), |_| {
        alive = true;
        false
    });
    alive
}

/// Reap exited descendants that were re-parented to ash (it is a
/// subreaper). Skipped while a spawn is in flight, since that child's pid
/// is not known yet and its status must not be taken: returns false then,
/// and the caller tries again shortly.
pub fn reap_adopted() -> bool {
    if SPAWNING.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        return false;
    }
    for pid in adopted() {
        // Only that pid: a child still running is left alone (NOHANG).
        if let Some(p) = Pid::from_raw(pid) {
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
        }
    }
    true
}

/// ash's children that it did not spawn itself: orphans it adopted.
fn adopted() -> Vec<i32> {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let children = children_of_ash().unwrap_or_else(|| {
        // No /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): every
        // process whose parent is ash.
        numeric_dirs()
            .filter(|pid| matches!(stat_of(pid), Some((_, ppid)) if ppid == me))
            .filter_map(|pid| pid.parse().ok())
            .collect()
    });
    let own = own();
    children.into_iter().filter(|p| !own.contains(p)).collect()
}

/// ash's children, from each of its threads' `children` file (adopted
/// orphans are attached to one of ash's threads): a few small reads
/// instead of a scan of every process on the machine.
fn children_of_ash() -> Option<Vec<i32>> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).ok()?;
        out.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    Some(out)
}

/// When the script ends: kill the orphans ash adopted; and if a program
/// was ever started but the sentinel could not be, do its work here (kill
/// what carries this ash's tokens).
/// Otherwise nothing: closing the sentinel's pipe at exit is the signal,
/// and the sentinel's `/proc` scan then costs ash no time.
pub fn at_exit() {
    let started_programs = SENTINEL_TRIED.get();
    if started_programs {
        // Everything below ash's cgroup, environment or not, wherever it
        // moved; and the cgroups themselves.
        super::cgroup::kill_all();
    }
    if started_programs && SUBREAPER.load(std::sync::atomic::Ordering::Relaxed) {
        // Descendants whose parents died were adopted by ash: kill them
        // (and their groups) whether they carry a token or not, since one
        // that cleared its environment (`env -i`, `env -u ASH_SCOPE`) is
        // found by no sweep, and once ash is gone it would be init's.
        kill_adopted();
    }
    let has_sentinel = SENTINEL.with(|s| s.borrow().is_some());
    if started_programs && !has_sentinel {
        sweep_until_clean(&own_token_prefix());
    }
}

/// SIGKILL every live child of ash it did not spawn itself (orphans it
/// adopted as a subreaper) and their process groups, until none is left
/// (a killed one's descendants are adopted in turn); the killed are reaped
/// later by [`reap_adopted`]. Skipped while a spawn is in flight (that
/// child's pid is not known yet): false then, and the caller tries again.
pub fn kill_adopted() -> bool {
    if SPAWNING.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        return false;
    }
    for _ in 0..10 {
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let mut killed = 0;
        for pid in adopted() {
            if !is_live(&pid.to_string()) {
                continue;
            }
            let group = pgrp_of(&pid.to_string());
            if let Some(p) = Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, Signal::KILL);
            }
            let own_group = rustix::process::getpgrp().as_raw_nonzero().get();
            if let Some(g) = group
                .filter(|&g| g != me && g != own_group)
                .and_then(Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(g, Signal::KILL);
            }
            killed += 1;
        }
        if killed == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    true
}

/// SIGKILL the orphans ash adopted whose environment has the entry
/// `entry` (`NAME=value`), and their process groups; how many. Cheap when
/// there are none: one read of ash's `children` files. A child spawned
/// meanwhile has not the entry of a job that ended (only its own job's),
/// so no spawn in flight is at risk.
pub fn kill_adopted_where(entry: &[u8]) -> usize {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let own_group = rustix::process::getpgrp().as_raw_nonzero().get();
    let mut killed = 0;
    for pid in adopted() {
        let name = pid.to_string();
        if !is_live(&name) {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{name}/environ")) else {
            continue;
        };
        if !env.split(|&b| b == 0).any(|kv| kv == entry) {
            continue;
        }
        let group = pgrp_of(&name);
        if let Some(p) = Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(p, Signal::KILL);
        }
        if let Some(g) = group
            .filter(|&g| g != me && g != own_group)
            .and_then(Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(g, Signal::KILL);
        }
        killed += 1;
    }
    killed
}

/// Register a process group with the sentinel (starting it the first time).
pub fn sentinel_add(pgid: i32) {
    sentinel_send(pgid);
}

/// The group has been reaped: the sentinel forgets it.
pub fn sentinel_remove(pgid: i32) {
    sentinel_send(-pgid);
}

fn sentinel_send(value: i32) {
    if !SENTINEL_TRIED.get() {
        SENTINEL_TRIED.set(true);
        if let Ok(w) = start_sentinel() {
            SENTINEL.with(|s| *s.borrow_mut() = Some(w));
        }
    }
    SENTINEL.with(|s| {
        if let Some(w) = s.borrow_mut().as_mut() {
            // 4 bytes < PIPE_BUF: atomic; the sentinel reads constantly.
            let _ = w.write_all(&value.to_le_bytes());
        }
    });
}

fn start_sentinel() -> io::Result<std::fs::File> {
    let (r, w) = super::pipe()?;
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.arg("--sentinel")
        .arg(own_token_prefix())
        // Not with the token this ash was started with (by another ash):
        // that ash's sweeps, when it stops this one, must leave the
        // sentinel to do its work, or what this ash started would live on.
        .env_remove(SCOPE_VAR)
        .stdin(std::process::Stdio::from(r))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // Not waited for: it outlives ash by design, and exits on its own. It
    // is born in ash's own cgroup, never in one ash kills, and is told
    // ash's cgroup tree to kill when ash dies.
    let _child = super::cgroup::at_home(|tree| {
        if let Some(tree) = tree {
            cmd.arg(tree);
        }
        cmd.spawn()
    })?;
    Ok(std::fs::File::from(w))
}

/// How long the sentinel lets group messages gather between reads.
const SENTINEL_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// `ash --sentinel TOKEN_PREFIX`: read group ids from stdin until end of
/// file, then kill what is left. Runs in its own process; returns its status.
pub fn sentinel_main(prefix: &str, cgroup_tree: Option<&std::path::Path>) -> i32 {
    let mut groups: HashSet<i32> = HashSet::new();
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 4096];
    let mut have = 0;
    loop {
        let n = match stdin.read(&mut buf[have..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        have += n;
        let used = apply_group_messages(&buf[..have], &mut groups);
        buf.copy_within(used..have, 0);
        have -= used;
        // Let messages gather before reading again: ash sends two per
        // process group, and waking this process for each (a context
        // switch on both sides) cost a run of 2,000 short commands about
        // 3% of its CPU (W9). When ash is gone this notices within the
        // pause; an idle shell sends nothing and this sleeps in `read`.
        std::thread::sleep(SENTINEL_PAUSE);
    }
    // ash is gone (or finished): nothing it started may live on.
    if let Some(tree) = cgroup_tree
        && tree
            .file_name()
            .is_some_and(|n| n.as_bytes().starts_with(b"ash-"))
    {
        super::cgroup::kill_tree(tree);
    }
    for g in groups {
        if let Some(p) = Pid::from_raw(g) {
            let _ = rustix::process::kill_process_group(p, Signal::KILL);
        }
    }
    if !prefix.is_empty() && std::ffi::OsStr::new(prefix).as_bytes().ends_with(b".") {
        sweep_until_clean(prefix);
    }
    0
}

/// Apply the whole 4-byte messages at the start of `bytes` (a group id to
/// add, or its negation to remove); how many bytes they took. A read may
/// end inside a message: its start is kept for the next.
fn apply_group_messages(bytes: &[u8], groups: &mut HashSet<i32>) -> usize {
    let whole = bytes.len() - bytes.len() % 4;
    for message in bytes[..whole].chunks_exact(4) {
        let v = i32::from_le_bytes([message[0], message[1], message[2], message[3]]);
        if v > 0 {
            groups.insert(v);
        } else {
            groups.remove(&-v);
        }
    }
    whole
}

/// SIGKILL every process carrying a token starting with `prefix`, again and
/// again while a sweep still finds one: a process may fork between being
/// read and being killed, and its child carries the token too.
fn sweep_until_clean(prefix: &str) {
    for _ in 0..10 {
        if signal_scope(prefix, true, Signal::KILL) == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_messages_split_across_reads_are_applied_whole() {
        let mut bytes = Vec::new();
        for v in [7, 9, -7, 11] {
            bytes.extend_from_slice(&i32::to_le_bytes(v));
        }
        let mut groups = HashSet::new();
        // The first read ends two bytes into the third message.
        let used = apply_group_messages(&bytes[..10], &mut groups);
        assert_eq!(used, 8);
        assert_eq!(groups, HashSet::from([7, 9]));
        let mut rest = bytes[used..10].to_vec();
        rest.extend_from_slice(&bytes[10..]);
        assert_eq!(apply_group_messages(&rest, &mut groups), 8);
        assert_eq!(groups, HashSet::from([9, 11]));
    }
}
