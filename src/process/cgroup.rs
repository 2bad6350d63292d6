//! Containment through cgroup v2, where ash may make cgroups.
//!
//! A process can leave its process group (`setsid`) and clear its
//! environment (`env -i`), so neither a group signal nor the scope token
//! (see `contain`) reaches every descendant. A cgroup is a box no process
//! can leave by itself, and `cgroup.kill` kills everything in it at once.
//! So where cgroup v2 is mounted and ash may write to its own cgroup (root,
//! or a delegated user slice), every process group ash starts gets a
//! cgroup of its own, `<ash's cgroup>/ash-<pid>/c<K>` (made for it, or
//! the empty one of an ended group, reused): cancelling the group also
//! SIGTERMs every process in it, then
//! `cgroup.kill`s it after the grace period; a cancelled scope
//! `cgroup.kill`s the cgroups of its groups that finished but left
//! something running; the end of the script (and the sentinel, when ash
//! was SIGKILLed) `cgroup.kill`s `ash-<pid>` and removes the directories.
//!
//! **Placing a child.** A child is born in the cgroup of the process that
//! forks it, unless the fork names another: ash starts a watched group's
//! programs with `clone3(CLONE_INTO_CGROUP)` (see `spawn_into`), straight
//! into the group's cgroup, and never moves itself. Where `clone3` is not
//! available (not x86_64, or refused by a seccomp profile) ash moves
//! itself into the group's cgroup, spawns with `posix_spawn`, and stays
//! there until it spawns elsewhere or that cgroup is killed or checked
//! ([`spawn_in`], the *move* mode). A move takes the whole process, all
//! its threads, and the kernel's global `cgroup_threadgroup_rwsem` (an RCU
//! grace period, and a wait for every fork and exit in progress): W4's
//! 1,000 commands took 0.64 s instead of 0.47 s that way. In move mode,
//! spawns and anything that forks or kills a cgroup hold one lock
//! meanwhile ([`TREE`]); ash itself is never in `ash-<pid>` otherwise, so
//! killing it cannot kill ash. Without cgroups, and in the *into* mode,
//! a spawn holds that lock only to look the cgroup up, never across the
//! spawn itself, so spawns on several threads run side by side.
//!
//! Where it cannot be done (cgroup v1 only, no write access, `ASH_NO_CGROUP`
//! set, an old kernel without `cgroup.kill`) nothing changes: the tokens
//! and process groups do the work, silently.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// Set (to anything) in the environment: do not use cgroups.
pub const OFF_VAR: &str = "ASH_NO_CGROUP";

/// How a watched group's programs get into its cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No cgroups here: they are born in ash's own.
    Off,
    /// Born straight into it (`spawn_into`); ash never moves.
    Into,
    /// ash moves itself into it around the spawn ([`spawn_in`]).
    Move,
}

/// The [`Mode`], once [`set_up`] has run (0 before).
static MODE: AtomicU8 = AtomicU8::new(0);

fn store_mode(mode: Mode) {
    MODE.store(
        match mode {
            Mode::Off => 1,
            Mode::Into => 2,
            Mode::Move => 3,
        },
        Ordering::Relaxed,
    );
}

/// How this ash places its children (set up on first use).
pub fn mode() -> Mode {
    if MODE.load(Ordering::Relaxed) == 0 {
        with(|_| ());
    }
    match MODE.load(Ordering::Relaxed) {
        2 => Mode::Into,
        3 => Mode::Move,
        _ => Mode::Off,
    }
}

/// A cgroup's directory, and (in the into mode, while processes may still
/// be started in it) the directory open, to name it to `clone3`.
struct Dir {
    path: PathBuf,
    fd: Option<Arc<OwnedFd>>,
}

struct Tree {
    /// ash's own cgroup: where it lives, and returns to after each spawn
    /// in the move mode.
    home: PathBuf,
    /// `home/ash-<pid>`: every program ash starts is below it.
    root: PathBuf,
    /// The cgroups of process groups: group number → its cgroup.
    groups: HashMap<u64, Cgroup>,
    /// Empty cgroups of ended groups, for the next groups: a `mkdir` and
    /// an `rmdir` per group cost more than a spawn.
    free: Vec<Dir>,
    /// The number in the name of the next cgroup made (`c<N>`).
    made: u64,
    /// The group's cgroup ash sits in since its last spawn (`None`: at
    /// home). It moves only to spawn elsewhere, and home before anything
    /// kills or checks that cgroup: one move per spawn, not two.
    away: Option<PathBuf>,
    /// A move back home failed: ash may sit in a group's cgroup, which
    /// must then never be killed.
    stuck: bool,
    /// How many groups ended (see [`group_ended`]).
    ended: u64,
    /// Programs are started straight into their cgroups (see [`Mode`]).
    into: bool,
    /// The tree was killed and removed ([`kill_all`]): children are born
    /// at home from now on.
    closed: bool,
}

/// The cgroup of a process group.
struct Cgroup {
    dir: Dir,
    /// The cancel scope the group was started under.
    scope: u64,
    /// The group's processes were reaped; what runs on in the cgroup was
    /// left behind (a daemon).
    ended: bool,
    /// `cgroup.kill` was written to it: it is removed, never reused. The
    /// kernel SIGKILLs every child started into such a cgroup with
    /// `CLONE_INTO_CGROUP` (its count of kills differs from that of ash's
    /// own cgroup; see `spawn_into::available`).
    killed: bool,
}

/// Every this many ended groups, the kept cgroups are checked for ones
/// that emptied.
const SWEEP_EVERY: u64 = 64;

/// At most this many empty cgroups are kept for reuse.
const FREE_MAX: usize = 64;

/// `None` before the first use; then `Some(None)` where cgroups cannot be
/// used. In the move mode, held across each move of ash and its spawn.
static TREE: Mutex<Option<Option<Tree>>> = Mutex::new(None);

fn lock() -> std::sync::MutexGuard<'static, Option<Option<Tree>>> {
    TREE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Run `f` with the tree, set up on first use (`None` if unusable).
fn with<R>(f: impl FnOnce(Option<&mut Tree>) -> R) -> R {
    let mut guard = lock();
    let state = guard.get_or_insert_with(set_up);
    f(state.as_mut().filter(|t| !t.stuck))
}

/// The mount point of the cgroup v2 hierarchy, from `/proc/self/mountinfo`.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        // "ID PARENT MAJ:MIN ROOT MOUNT OPTS [OPTIONAL...] - TYPE SOURCE ..."
        let (head, tail) = line.split_once(" - ")?;
        if tail.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mut fields = head.split_whitespace();
        let root = fields.nth(3)?;
        let mount = fields.next()?;
        // A bind mount of a sub-tree would shift every path: not used.
        (root == "/").then(|| PathBuf::from(unescape(mount)))
    })
}

/// mountinfo escapes spaces, tabs, newlines and backslashes as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// ash's own cgroup v2 path, from the `0::` line of `/proc/self/cgroup`.
fn own_cgroup() -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

fn my_pid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

fn set_up() -> Option<Tree> {
    let tree = try_set_up();
    store_mode(match &tree {
        None => Mode::Off,
        Some(t) if t.into => Mode::Into,
        Some(_) => Mode::Move,
    });
    tree
}

fn try_set_up() -> Option<Tree> {
    if std::env::var_os(OFF_VAR).is_some() {
        return None;
    }
    let mount = cgroup2_mount()?;
    let own = own_cgroup()?;
    // "/x/y (deleted)" or a path outside the mount's view cannot be used.
    if own.ends_with(" (deleted)") {
        return None;
    }
    let home = mount.join(own.trim_start_matches('/'));
    clean_stale(&home);
    let root = home.join(format!("ash-{}", my_pid()));
    match std::fs::create_dir(&root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    if !root.join("cgroup.kill").exists() {
        let _ = std::fs::remove_dir(&root);
        return None;
    }
    let into = probe_into(&root);
    // Without starting programs straight into cgroups, ash moves itself:
    // may it? Writing its pid where it already is checks the permission
    // and changes nothing, but takes the kernel's cgroup lock and waits
    // for an RCU grace period (15 ms here, once per script that runs a
    // program: 8% of W12), so only where moving is the way (a probe that
    // starts a child into the tree needs the same permission).
    if !into && std::fs::write(home.join("cgroup.procs"), my_pid().to_string()).is_err() {
        let _ = std::fs::remove_dir(&root);
        return None;
    }
    Some(Tree {
        home,
        root,
        into,
        closed: false,
        groups: HashMap::new(),
        free: Vec::new(),
        made: 0,
        away: None,
        stuck: false,
        ended: 0,
    })
}

/// Whether programs can be started straight into cgroups of `root` (see
/// `spawn_into::available`): the probe's child is born in `root`, fresh.
fn probe_into(root: &Path) -> bool {
    let Ok(dir) = rustix::fs::open(
        root,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return false;
    };
    // Its child is ash's own for a moment: not an orphan to reap.
    super::contain::spawn_started();
    let works = super::spawn_into::available(std::os::fd::AsFd::as_fd(&dir));
    super::contain::spawn_finished(None);
    works
}

/// Remove the empty `ash-<pid>` trees of ashes that are gone (SIGKILLed
/// together with their sentinel): a tree still holding processes is left.
fn clean_stale(home: &Path) {
    let Ok(dir) = std::fs::read_dir(home) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("ash-"))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid != my_pid() && !Path::new(&format!("/proc/{pid}")).exists() {
            remove_tree(&entry.path());
        }
    }
}

/// Remove a cgroup and the cgroups below it, deepest first (`rmdir`
/// fails on one that still holds processes, which is then left).
fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl Tree {
    /// Move ash home (from wherever it sits); false if it cannot, and
    /// then ash is stuck where it is and no cgroup is killed again.
    fn go_home(&mut self) -> bool {
        if self.away.is_none() {
            return true;
        }
        if (0..3).any(|_| move_to(&self.home)) {
            self.away = None;
            true
        } else {
            self.stuck = true;
            false
        }
    }

    /// Make sure ash is not in `dir` (before it is killed or checked).
    fn leave(&mut self, dir: &Path) -> bool {
        if self.away.as_deref() == Some(dir) {
            self.go_home()
        } else {
            !self.stuck
        }
    }
}

/// Whether a cgroup (or one below it) holds a process.
fn populated(dir: &Path) -> bool {
    match std::fs::read_to_string(dir.join("cgroup.events")) {
        Ok(events) => events.lines().any(|l| l == "populated 1"),
        Err(_) => false,
    }
}

fn move_to(dir: &Path) -> bool {
    std::fs::write(dir.join("cgroup.procs"), my_pid().to_string()).is_ok()
}

impl Tree {
    /// The cgroup of group `number` of cancel scope `scope`, made (or
    /// taken from the free ones) on first use; `None` if it cannot be.
    /// `open`: with its directory open (for the into mode).
    fn group_dir(&mut self, number: u64, scope: u64, open: bool) -> Option<&Dir> {
        if self.closed {
            return None;
        }
        if !self.groups.contains_key(&number) {
            let dir = match self.free.pop() {
                Some(dir) => dir,
                None => {
                    self.made += 1;
                    let path = self.root.join(format!("c{}", self.made));
                    std::fs::create_dir(&path).ok()?;
                    Dir { path, fd: None }
                }
            };
            self.groups.insert(
                number,
                Cgroup {
                    dir,
                    scope,
                    ended: false,
                    killed: false,
                },
            );
        }
        let dir = &mut self.groups.get_mut(&number)?.dir;
        if open && dir.fd.is_none() {
            let fd = rustix::fs::open(
                &dir.path,
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ok()?;
            dir.fd = Some(Arc::new(fd));
        }
        Some(dir)
    }
}

/// Held (shared) by each spawn of the into mode from the look-up of its
/// cgroup until the child is in it, and (exclusively) by [`kill_all`]: a
/// child is never born in a cgroup after the tree was killed.
static SPAWNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Start a process of group `number` of cancel scope `scope` with
/// `start`, given the group's cgroup (its directory, open) to start it
/// straight into, in the into mode; or `None`: start it here, which is at
/// home without cgroups, and in the group's cgroup in the move mode (ash
/// moves there first, see [`spawn_in`]). The cgroup is made on first use;
/// where it cannot be (or after [`kill_all`]) the child is born at home,
/// where the tokens and process groups still reach it. Only the move mode
/// holds the tree's lock across `start`.
pub fn start<R>(
    number: u64,
    scope: u64,
    start: impl FnOnce(Option<std::os::fd::BorrowedFd<'_>>) -> R,
) -> R {
    start_as(mode(), number, scope, start)
}

fn start_as<R>(
    mode: Mode,
    number: u64,
    scope: u64,
    start: impl FnOnce(Option<std::os::fd::BorrowedFd<'_>>) -> R,
) -> R {
    match mode {
        Mode::Off => start(None),
        Mode::Move => spawn_in(number, scope, || start(None)),
        Mode::Into => {
            let _spawning = SPAWNS
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let dir = with(|t| t?.group_dir(number, scope, true)?.fd.clone());
            start(dir.as_deref().map(std::os::fd::AsFd::as_fd))
        }
    }
}

/// The move mode: run `spawn` (which starts one process) with ash in the
/// cgroup of group `number` of cancel scope `scope`, made on first use,
/// so the child is born there (ash stays there, see [`Tree::leave`]).
/// When the cgroup cannot be made, the child is born at home.
fn spawn_in<R>(number: u64, scope: u64, spawn: impl FnOnce() -> R) -> R {
    let mut guard = lock();
    let Some(tree) = guard.as_mut().and_then(Option::as_mut).filter(|t| !t.stuck) else {
        drop(guard);
        return spawn();
    };
    let Some(dir) = tree.group_dir(number, scope, false).map(|d| d.path.clone()) else {
        tree.go_home();
        return spawn();
    };
    if tree.away.as_ref() != Some(&dir) {
        if move_to(&dir) {
            tree.away = Some(dir);
        } else {
            // Born at home: the tokens and process groups still reach it.
            tree.go_home();
        }
    }
    // ash stays there until it spawns elsewhere, or something kills or
    // checks this cgroup (see `Tree::leave`).
    spawn()
}

/// Run `f` (which forks a process that must not be inside ash's tree, the
/// sentinel) while no spawn has ash in a group's cgroup.
pub fn at_home<R>(f: impl FnOnce(Option<&Path>) -> R) -> R {
    with(|t| match t {
        Some(t) => {
            if t.go_home() {
                f(Some(t.root.as_path()))
            } else {
                f(None)
            }
        }
        None => f(None),
    })
}

/// Send `sig` to every process directly in group `number`'s cgroup but
/// those in the process groups `skip` (signalled through their group
/// already: a second SIGTERM tells an ash to stop at once). Processes in
/// cgroups below it (those of a nested ash) are its business, and
/// `cgroup.kill` reaches them. How many were signalled.
pub fn signal_group(number: u64, sig: rustix::process::Signal, skip: &[i32]) -> usize {
    let dir = with(|t| {
        t.and_then(|t| t.groups.get(&number))
            .map(|c| c.dir.path.clone())
    });
    let Some(dir) = dir else {
        return 0;
    };
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return 0;
    };
    let me = my_pid();
    let mut n = 0;
    for pid in procs
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        if pid == me || skip.contains(&pgrp_of(pid).unwrap_or(0)) {
            continue;
        }
        if let Some(p) = rustix::process::Pid::from_raw(pid)
            && rustix::process::kill_process(p, sig).is_ok()
        {
            super::spawn::signal_sent(pid, false, sig);
            n += 1;
        }
    }
    n
}

fn pgrp_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Whether group `number`'s cgroup still holds a process (false without
/// cgroups).
pub fn group_populated(number: u64) -> bool {
    with(|t| {
        let Some(t) = t else {
            return false;
        };
        let Some(dir) = t.groups.get(&number).map(|c| c.dir.path.clone()) else {
            return false;
        };
        t.leave(&dir) && populated(&dir)
    })
}

/// SIGKILL everything in group `number`'s cgroup, wherever it moved.
pub fn kill_group(number: u64) {
    with(|t| {
        let Some(t) = t else {
            return;
        };
        if let Some(dir) = t.groups.get(&number).map(|c| c.dir.path.clone())
            && t.leave(&dir)
        {
            let _ = std::fs::write(dir.join("cgroup.kill"), "1");
            if let Some(c) = t.groups.get_mut(&number) {
                c.killed = true;
            }
        }
    });
}

/// Group `number` has ended (its processes reaped): remove its cgroup if
/// nothing it started runs on; else keep it, for [`kill_left_behind`] and
/// the end of the script. Every so often, also remove the kept cgroups
/// that emptied since (their daemons ended).
pub fn group_ended(number: u64) {
    let doomed = with(|t| ended(t, number));
    // Outside the lock: an `rmdir` of a cgroup waits for the kernel
    // (hundreds of microseconds on a busy machine), and no spawn needs
    // these any more.
    for dir in doomed {
        remove_tree(&dir);
    }
}

/// [`group_ended`] right here if no spawn holds the lock (a read of
/// `cgroup.events`), else on the blocking pool: a job there per group
/// cost a run of 1,000 short commands a tenth of its CPU.
pub fn group_ended_soon(number: u64) {
    let doomed = match TREE.try_lock() {
        Ok(mut guard) => match guard.as_mut() {
            Some(state) => ended(state.as_mut().filter(|t| !t.stuck), number),
            None => Vec::new(),
        },
        Err(_) => {
            super::unblock::unblock_detached(move || group_ended(number));
            return;
        }
    };
    if !doomed.is_empty() {
        super::unblock::unblock_detached(move || doomed.iter().for_each(|d| remove_tree(d)));
    }
}

/// The bookkeeping of [`group_ended`]: the cgroups to remove.
fn ended(t: Option<&mut Tree>, number: u64) -> Vec<PathBuf> {
    let Some(t) = t else {
        return Vec::new();
    };
    let Some(c) = t.groups.get_mut(&number) else {
        return Vec::new();
    };
    c.ended = true;
    let dir = c.dir.path.clone();
    t.ended += 1;
    let sweep = t.ended % SWEEP_EVERY == 0;
    // Whether a cgroup is empty cannot be told with ash inside it.
    let away_in_ended = t.away.as_ref().is_some_and(|a| {
        *a == dir || (sweep && t.groups.values().any(|c| c.ended && c.dir.path == *a))
    });
    if away_in_ended && !t.go_home() {
        return Vec::new();
    }
    // Emptied cgroups: those never killed can be reused.
    let mut emptied = Vec::new();
    let mut doomed = Vec::new();
    if sweep {
        t.groups.retain(|_, c| {
            if !c.ended || populated(&c.dir.path) {
                return true;
            }
            let taken = Dir {
                path: PathBuf::new(),
                fd: None,
            };
            let dir = std::mem::replace(&mut c.dir, taken);
            if c.killed {
                doomed.push(dir.path);
            } else {
                emptied.push(dir);
            }
            false
        });
    } else if !populated(&dir)
        && let Some(c) = t.groups.remove(&number)
    {
        if c.killed {
            doomed.push(c.dir.path);
        } else {
            emptied.push(c.dir);
        }
    }
    if let Some(c) = t.groups.get_mut(&number) {
        // Kept for what it left running: nothing is started in it any
        // more, and no fd is held for a cgroup a daemon may keep for long.
        c.dir.fd = None;
    }
    let room = FREE_MAX.saturating_sub(t.free.len());
    let extra = emptied.split_off(room.min(emptied.len()));
    t.free.extend(emptied);
    doomed.extend(extra.into_iter().map(|d| d.path));
    doomed
}

/// Cancel scope `scope` was cancelled: SIGKILL what its ended groups
/// numbered `from` or higher left running, wherever it moved, environment
/// or not. How many cgroups were killed.
pub fn kill_left_behind(scope: u64, from: u64) -> usize {
    with(|t| {
        let Some(t) = t else {
            return 0;
        };
        let doomed: Vec<u64> = t
            .groups
            .iter()
            .filter(|(number, c)| c.scope == scope && **number >= from && c.ended)
            .map(|(number, _)| *number)
            .collect();
        let mut n = 0;
        for number in doomed {
            let Some(dir) = t.groups.get(&number).map(|c| c.dir.path.clone()) else {
                continue;
            };
            if t.leave(&dir)
                && populated(&dir)
                && std::fs::write(dir.join("cgroup.kill"), "1").is_ok()
            {
                if let Some(c) = t.groups.get_mut(&number) {
                    c.killed = true;
                }
                n += 1;
            }
        }
        n
    })
}

/// The end of the script: SIGKILL everything below `ash-<pid>`, wait
/// (up to about a second) for it to be gone, and remove the cgroups.
pub fn kill_all() {
    // No spawn of the into mode may be starting a child in the tree
    // meanwhile, nor later (`closed`).
    let _no_spawns = SPAWNS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Under the lock: no spawn may have ash inside the tree meanwhile.
    with(|t| {
        if let Some(t) = t
            && t.go_home()
        {
            t.closed = true;
            // Their open directories first: the tree is removed below.
            t.groups.clear();
            t.free.clear();
            kill_tree(&t.root);
        }
    });
}

/// `cgroup.kill` a tree, wait for it to empty, remove it (ash's exit, and
/// the sentinel's when ash was killed).
pub fn kill_tree(root: &Path) {
    if populated(root) {
        let _ = std::fs::write(root.join("cgroup.kill"), "1");
        for _ in 0..200 {
            if !populated(root) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    remove_tree(root);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spawn holds the tree's lock only while it looks its cgroup up,
    /// not while the child starts (which blocks the spawning thread until
    /// the child has exec'd), so spawns on several threads run side by
    /// side. Before, every spawn held it throughout, without cgroups too:
    /// W4's eight at a time started one at a time (0.47 s instead of
    /// 0.36 s with `ASH_NO_CGROUP=1`).
    #[test]
    fn the_lock_is_free_while_a_child_starts() {
        let modes = match mode() {
            Mode::Into => vec![Mode::Off, Mode::Into],
            _ => vec![Mode::Off],
        };
        for m in modes {
            let (_, number) = crate::process::contain::new_scope_token(0);
            let free = start_as(m, number, 0, |_| {
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    with(|_| ());
                    let _ = tx.send(());
                });
                rx.recv_timeout(std::time::Duration::from_secs(10)).is_ok()
            });
            group_ended(number);
            assert!(free, "{m:?}: the lock was held while the child started");
        }
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/sys/fs/a\040b"), "/sys/fs/a b");
        assert_eq!(unescape(r"/x\\"), r"/x\\");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
