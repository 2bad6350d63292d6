//! A task's working directory, held open.
//!
//! Every task has its own working directory, but ash is one process with
//! one OS working directory, so a task's directory cannot simply be ash's.
//! Looked up again by its path for every command, it would follow a rename
//! or a swapped symlink: after `mv /work /old`, a task "in" `/work` would
//! run its next `rm -rf *` in whatever `/work` is now. And a script started
//! in a directory that was removed fell back to `/`.
//!
//! So a [`WorkDir`] is the directory itself, opened once (`O_PATH`, which
//! needs no read permission) when the task enters it: relative paths
//! (redirections, globs, `test`, `source`, `cd`, program names with a `/`)
//! are looked up through `/proc/self/fd/N/...` and children start in it
//! (they `chdir` to `/proc/self/fd/N` between fork and exec, where the fd
//! is still open), whatever has happened to its path since. Its path is
//! kept for what ash shows (`pwd`, `$PWD`, messages).
//!
//! Where that is impossible, the path is used as before, and
//! `docs/reliability.md` says so: without `/proc` (checked once), or when
//! the directory cannot be opened (no fd left under `ulimit -n`).
//!
//! A directory that was removed (its link count is 0) is *gone*: commands
//! of a task there fail with a clear error instead of running (there is
//! nothing they could create there).

use std::cell::OnceCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};

pub struct WorkDir {
    /// What ash shows: the logical path (`cd` through a symlink keeps the
    /// link's name, as in sh).
    path: PathBuf,
    /// The directory itself, where it could be opened; ash's starting
    /// directory is opened on first use (see [`WorkDir::at_start`]).
    dir: OnceCell<Option<OwnedFd>>,
}

/// Whether `/proc/self/fd/N` paths work here (`/proc` mounted).
fn proc_fd_works() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| std::fs::metadata("/proc/self/fd").is_ok_and(|m| m.is_dir()))
}

/// Open `path` as a directory handle (no read permission needed). Whether
/// `/proc` works is asked only when the handle is first used (see
/// [`WorkDir::held`]): a `stat` of `/proc/self/fd` in a new process costs
/// more than the rest of a start's system calls together, and `ash -c
/// true` never needs the answer.
fn open_dir(path: &Path) -> Option<OwnedFd> {
    rustix::fs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

impl WorkDir {
    /// ash's own working directory when it started: opened as `.`, so a
    /// directory that was removed before ash started is still where its
    /// tasks are (gone), never `/`. Opened when first used, not now (an
    /// `open` and a `close`, ~5 us of `ash -c true`'s 0.6 ms): ash never
    /// changes its own OS working directory (a task's `cd` changes only
    /// its `WorkDir`; children `chdir` after the fork), so `.` names the
    /// same directory then, whatever has happened to its path since.
    pub fn at_start() -> WorkDir {
        let dir = OnceCell::new();
        let path = std::env::current_dir().unwrap_or_else(|_| {
            // getcwd fails in a removed directory; the kernel still
            // knows the path it had.
            std::fs::read_link("/proc/self/cwd")
                .ok()
                .map(|p| {
                    use std::os::unix::ffi::OsStrExt;
                    match p.as_os_str().as_bytes().strip_suffix(b" (deleted)") {
                        Some(s) => PathBuf::from(std::ffi::OsStr::from_bytes(s)),
                        None => p,
                    }
                })
                .or_else(|| std::env::var_os("PWD").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("."))
        });
        WorkDir { path, dir }
    }

    /// The directory that `os_path` names now (a path for the OS, as
    /// [`WorkDir::resolve`] gives), shown as `path`.
    pub fn open(path: PathBuf, os_path: &Path) -> WorkDir {
        WorkDir {
            dir: OnceCell::from(open_dir(os_path)),
            path,
        }
    }

    /// A working directory known by its path only.
    pub fn by_path(path: PathBuf) -> WorkDir {
        WorkDir {
            path,
            dir: OnceCell::from(None),
        }
    }

    /// The directory's handle, if it is held open and `/proc/self/fd/N`
    /// paths work here; else the path stands for the directory.
    fn held(&self) -> Option<&OwnedFd> {
        self.dir
            .get_or_init(|| open_dir(Path::new(".")))
            .as_ref()
            .filter(|_| proc_fd_works())
    }

    /// The path ash shows.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory itself, as a path for the OS: `/proc/self/fd/N`, or
    /// its path when it is not held open.
    pub fn os_path(&self) -> PathBuf {
        match self.held() {
            Some(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            None => self.path.clone(),
        }
    }

    /// `rel` relative to this directory, as a path for the OS (an
    /// absolute `rel` as it is).
    pub fn resolve(&self, rel: &Path) -> PathBuf {
        if rel.is_absolute() {
            return rel.to_path_buf();
        }
        match self.held() {
            Some(_) if rel.as_os_str().is_empty() => self.os_path(),
            Some(_) => self.os_path().join(rel),
            None => self.path.join(rel),
        }
    }

    /// `rel` as ash shows it: joined to the shown path.
    pub fn shown(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    /// Whether the directory was removed (nothing can be made in it).
    pub fn gone(&self) -> bool {
        match self.held() {
            Some(fd) => rustix::fs::fstat(fd.as_fd()).is_ok_and(|st| st.st_nlink == 0),
            None => std::fs::metadata(&self.path).is_err(),
        }
    }

    /// An error if the directory was removed: what a command run there
    /// fails with.
    pub fn check(&self) -> io::Result<()> {
        if self.gone() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "the working directory {} was removed (cd to another one)",
                    self.path.display()
                ),
            ));
        }
        Ok(())
    }
}
