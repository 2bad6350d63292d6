//! Pipes, redirection targets, and reading/writing fds that children may
//! share, without blocking the loop and without touching `O_NONBLOCK` on
//! shared file descriptions.

use std::cell::{Cell, RefCell};
use std::fs::OpenOptions;
use std::io::{self, IoSlice, IoSliceMut, Read};
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use async_io::{Async, Timer};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::FileType;
use rustix::io::{Errno, ReadWriteFlags};

use super::spawn::Stdio;
use crate::vm::string::Str;

/// Writes of at most this many bytes to a pipe are atomic, and do not block
/// after `poll` reported `POLLOUT` (barring other writers racing us).
const PIPE_BUF: usize = libc::PIPE_BUF;
/// How much an exclusive source reads at once.
const CHUNK: usize = 64 * 1024;
/// How much a shared seekable source reads before seeking back.
const FILE_CHUNK: usize = 4096;

/// A new pipe, both ends `O_CLOEXEC`: `(read end, write end)`.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// An fd that is either one of ash's own standard fds (borrowed, never
/// closed) or owned here.
enum FdRef {
    Std(BorrowedFd<'static>),
    Owned(Rc<OwnedFd>),
}

impl FdRef {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            FdRef::Std(fd) => *fd,
            FdRef::Owned(fd) => fd.as_fd(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Regular files and the like: never block for long; cannot be polled.
    Direct { seekable: bool },
    /// Pipes, sockets, ttys, ...: poll before each read or write.
    Polled,
}

fn kind_of(fd: BorrowedFd<'_>) -> Kind {
    let Ok(st) = rustix::fs::fstat(fd) else {
        // EBADF and friends surface at the first read or write.
        return Kind::Direct { seekable: false };
    };
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Kind::Direct { seekable: true },
        FileType::BlockDevice => Kind::Direct { seekable: false },
        // Major 1: /dev/null, /dev/zero, /dev/full, /dev/urandom...
        FileType::CharacterDevice if rustix::fs::major(st.st_rdev) == 1 => {
            Kind::Direct { seekable: false }
        }
        _ => Kind::Polled,
    }
}

const ZERO: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// Non-blocking access to one fd, shared or not, without `O_NONBLOCK`.
struct FdIo {
    fd: FdRef,
    kind: Kind,
    /// `RWF_NOWAIT` still believed to work on this fd.
    nowait: Cell<bool>,
    /// One readiness registration (on a dup of `fd`), made on first need.
    reg: RefCell<Option<Rc<Async<OwnedFd>>>>,
    reg_failed: Cell<bool>,
}

/// `Ok(None)`: would block.
type Attempt = io::Result<Option<usize>>;

impl FdIo {
    fn new(fd: FdRef) -> FdIo {
        let kind = kind_of(fd.as_fd());
        FdIo {
            fd,
            kind,
            nowait: Cell::new(true),
            reg: RefCell::new(None),
            reg_failed: Cell::new(false),
        }
    }

    fn ready_now(&self, flags: PollFlags) -> io::Result<bool> {
        let fd = self.fd.as_fd();
        loop {
            let mut fds = [PollFd::new(&fd, flags)];
            match rustix::event::poll(&mut fds, Some(&ZERO)) {
                Ok(0) => return Ok(false),
                Ok(_) => return Ok(true),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether this is a pipe (or socket) whose reading end has gone: a
    /// write would fail with EPIPE (and kill a child with SIGPIPE).
    fn reader_gone(&self) -> bool {
        let fd = self.fd.as_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
        matches!(rustix::event::poll(&mut fds, Some(&ZERO)), Ok(n) if n > 0)
            && fds[0].revents().contains(PollFlags::ERR)
    }

    /// Write some of `buf` if that can be done without waiting.
    fn try_write(&self, buf: &[u8]) -> Attempt {
        let fd = self.fd.as_fd();
        loop {
            let result = match self.kind {
                Kind::Direct { .. } => rustix::io::write(fd, buf),
                Kind::Polled => {
                    if self.nowait.get() {
                        match rustix::io::pwritev2(
                            fd,
                            &[IoSlice::new(buf)],
                            u64::MAX,
                            ReadWriteFlags::NOWAIT,
                        ) {
                            Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS | Errno::SPIPE) => {
                                self.nowait.set(false);
                                continue;
                            }
                            r => r,
                        }
                    } else {
                        if !self.ready_now(PollFlags::OUT)? {
                            return Ok(None);
                        }
                        rustix::io::write(fd, &buf[..buf.len().min(PIPE_BUF)])
                    }
                }
            };
            match result {
                Ok(n) => return Ok(Some(n)),
                Err(Errno::AGAIN) => return Ok(None),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Read into `buf` if that can be done without waiting. `Some(0)`: EOF.
    fn try_read(&self, buf: &mut [u8]) -> Attempt {
        let fd = self.fd.as_fd();
        loop {
            let result = match self.kind {
                Kind::Direct { .. } => rustix::io::read(fd, &mut *buf),
                Kind::Polled => {
                    if self.nowait.get() {
                        match rustix::io::preadv2(
                            fd,
                            &mut [IoSliceMut::new(buf)],
                            u64::MAX,
                            ReadWriteFlags::NOWAIT,
                        ) {
                            Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS | Errno::SPIPE) => {
                                self.nowait.set(false);
                                continue;
                            }
                            r => r,
                        }
                    } else {
                        if !self.ready_now(PollFlags::IN)? {
                            return Ok(None);
                        }
                        rustix::io::read(fd, &mut *buf)
                    }
                }
            };
            match result {
                Ok(n) => return Ok(Some(n)),
                Err(Errno::AGAIN) => return Ok(None),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn registration(&self) -> Option<Rc<Async<OwnedFd>>> {
        if let Some(reg) = self.reg.borrow().as_ref() {
            return Some(reg.clone());
        }
        if self.reg_failed.get() {
            return None;
        }
        let made = super::io_thread_ready()
            .and_then(|()| self.fd.as_fd().try_clone_to_owned())
            .and_then(Async::new_nonblocking);
        match made {
            Ok(a) => {
                let a = Rc::new(a);
                *self.reg.borrow_mut() = Some(a.clone());
                Some(a)
            }
            Err(_) => {
                self.reg_failed.set(true);
                None
            }
        }
    }

    async fn writable(&self) -> io::Result<()> {
        match self.registration() {
            Some(reg) => reg.writable().await,
            // Cannot be polled (or EAGAIN on something odd): retry shortly.
            None => {
                Timer::after(Duration::from_millis(1)).await;
                Ok(())
            }
        }
    }

    async fn readable(&self) -> io::Result<()> {
        match self.registration() {
            Some(reg) => reg.readable().await,
            None => {
                Timer::after(Duration::from_millis(1)).await;
                Ok(())
            }
        }
    }
}

/// Where ash code (echo, printf, functions) writes: an fd children may share.
///
/// Never sets `O_NONBLOCK` and never blocks the loop thread (see the module
/// doc). Writes from several tasks to one sink do not interleave: each
/// `write_all` is whole. EPIPE comes back as `io::ErrorKind::BrokenPipe`.
pub struct OutSink {
    io: FdIo,
    /// Held for the whole of one `write_all`.
    lock: smol::lock::Mutex<()>,
    /// Set when ash's own fd was closed when it started: every write and
    /// every hand-over to a child fails with this message (the fd itself is
    /// /dev/null then, so later fds never land on it).
    closed: Option<&'static str>,
}

impl OutSink {
    /// Whether the reader of this pipe has gone (see `FdIo::reader_gone`).
    pub fn reader_gone(&self) -> bool {
        self.closed.is_none() && self.io.reader_gone()
    }

    fn new(fd: FdRef) -> OutSink {
        OutSink {
            io: FdIo::new(fd),
            lock: smol::lock::Mutex::new(()),
            closed: None,
        }
    }

    /// A sink for ash's fd 1 or 2 that was closed at start-up: writing to
    /// it is an error that says so, never a silent success.
    pub fn closed_at_startup(fd: i32) -> OutSink {
        let mut sink = if fd == 2 {
            OutSink::stderr()
        } else {
            OutSink::stdout()
        };
        sink.closed = Some(if fd == 2 {
            "standard error was closed when ash started"
        } else {
            "standard output was closed when ash started"
        });
        sink
    }

    fn check_open(&self) -> io::Result<()> {
        match self.closed {
            Some(why) => Err(io::Error::new(io::ErrorKind::NotConnected, why)),
            None => Ok(()),
        }
    }

    /// ash's own fd 1 (borrowed, never closed).
    pub fn stdout() -> OutSink {
        OutSink::new(FdRef::Std(rustix::stdio::stdout()))
    }

    /// ash's own fd 2 (borrowed, never closed).
    pub fn stderr() -> OutSink {
        OutSink::new(FdRef::Std(rustix::stdio::stderr()))
    }

    /// A sink owning `fd` (closed when the sink and every `Stdio` handed out
    /// by [`OutSink::stdio`] are dropped).
    pub fn from_fd(fd: OwnedFd) -> OutSink {
        OutSink::new(FdRef::Owned(Rc::new(fd)))
    }

    /// Force the `poll` + `PIPE_BUF` path (tests).
    #[cfg(test)]
    pub(super) fn disable_nowait(&self) {
        self.io.nowait.set(false);
    }

    /// Write all of `buf`, awaiting writability as needed.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        self.check_open()?;
        let _guard = self.lock.lock().await;
        while !buf.is_empty() {
            match self.io.try_write(buf)? {
                Some(0) => return Err(io::ErrorKind::WriteZero.into()),
                Some(n) => buf = &buf[n..],
                None => self.io.writable().await?,
            }
        }
        Ok(())
    }

    /// Fast path: write as much of `buf` as can be written without waiting
    /// and return how much that was (`buf.len()` when complete; 0 if nothing
    /// could be written, also when another task's `write_all` is in progress).
    /// Write the rest with `write_all(&buf[n..])`.
    pub fn try_write_all(&self, buf: &[u8]) -> io::Result<usize> {
        self.check_open()?;
        let Some(_guard) = self.lock.try_lock() else {
            return Ok(0);
        };
        let mut done = 0;
        while done < buf.len() {
            match self.io.try_write(&buf[done..])? {
                Some(0) => return Err(io::ErrorKind::WriteZero.into()),
                Some(n) => done += n,
                None => break,
            }
        }
        Ok(done)
    }

    /// Whether this sink is a terminal, and its width in columns (0 when
    /// the terminal does not say).
    pub fn terminal(&self) -> Option<u16> {
        if self.closed.is_some() || !rustix::termios::isatty(self.io.fd.as_fd()) {
            return None;
        }
        Some(rustix::termios::tcgetwinsize(self.io.fd.as_fd()).map_or(0, |w| w.ws_col))
    }

    /// For handing this sink to a child, at any of its fds. For ash's own
    /// 1/2 this is a dup (so that e.g. ash's stdout can become a child's fd
    /// 2); see [`OutSink::stdio_for`] to get `Inherit` where it applies.
    pub fn stdio(&self) -> io::Result<Stdio> {
        self.check_open()?;
        Ok(match &self.io.fd {
            FdRef::Std(fd) => Stdio::Fd(Rc::new(fd.try_clone_to_owned()?)),
            FdRef::Owned(fd) => Stdio::Fd(fd.clone()),
        })
    }

    /// Like [`OutSink::stdio`] for the child's fd `target` (1 or 2):
    /// `Inherit` when this is ash's own fd `target`.
    pub fn stdio_for(&self, target: i32) -> io::Result<Stdio> {
        self.check_open()?;
        match &self.io.fd {
            FdRef::Std(fd) if std::os::fd::AsRawFd::as_raw_fd(fd) == target => Ok(Stdio::Inherit),
            _ => self.stdio(),
        }
    }
}

/// How `read` may consume an [`InSource`]: how far past the newline it may
/// read. The rule (docs/reference.md, "How `read` reads"): ash reads ahead
/// only where nobody else can see what it took.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ahead {
    /// A pipe ash made to a function or compound stage: read ahead freely
    /// (a command given it sees only what was not read ahead yet).
    Pipe,
    /// A regular file ash opened itself (`< file`, a here-document): read
    /// ahead; before a command is given the fd, seek back to just after
    /// the last line returned, so that the command reads on from there.
    File,
    /// Inherited (ash's own stdin) or shared with commands: never consume
    /// past the newline (a block then a seek back on regular files, else a
    /// byte at a time), since whoever else holds it reads on from there.
    Never,
}

/// Lines read ahead and not yet returned.
///
/// Bytes are read into `data` (zeroed once when it grows, never per read;
/// unread bytes move to the front only when a read needs room; the newline
/// scan never goes over the same bytes twice). A read that leaves at least
/// [`SEAL`] bytes unread (a file, a busy pipe) turns `data` into `block`,
/// an immutable string, and the lines after are windows on it: no
/// allocation and no copy a line (W10). The block's last, partial line
/// then goes back into a new `data`. A held line keeps its block (at most
/// [`CHUNK`] bytes and its longest line) alive; when lines of a block are
/// still held after `read` left it, the next [`COPY_BLOCKS`] blocks' lines
/// are copies, so a script that keeps a few lines out of many does not keep
/// the blocks they came from.
#[derive(Default)]
struct LineBuf {
    /// Sealed bytes: `block[bstart..]` is unread (then `data` holds none),
    /// `block[bstart..bscanned]` has no newline.
    block: Str,
    bstart: usize,
    bscanned: usize,
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// `data[start..scanned]` has no newline.
    scanned: usize,
    /// How many more reads that could be sealed are not (lines as copies).
    copies: u32,
    /// The block before `block`: once no line holds it, its memory is the
    /// next `data` (no `malloc`, zeroing and `free` a block).
    spare: Option<Str>,
    /// Bytes moved from blocks back into `data` (tests).
    #[cfg(test)]
    moved: usize,
}

/// A read that leaves this many bytes unread becomes a block of windows.
const SEAL: usize = CHUNK / 2;

/// Reads whose lines are copies after a block whose lines were kept.
const COPY_BLOCKS: u32 = 16;

impl LineBuf {
    /// The next complete line (without its `'\n'`), if one is buffered.
    fn line(&mut self) -> Option<Str> {
        if self.bstart < self.block.len() {
            let from = self.bscanned.max(self.bstart);
            if let Some(i) = memchr::memchr(b'\n', &self.block[from..]) {
                let nl = from + i;
                let line = self.block.window(self.bstart, nl - self.bstart);
                self.bstart = nl + 1;
                self.bscanned = self.bstart;
                return Some(line);
            }
            self.unseal();
        }
        let from = self.scanned.max(self.start);
        match memchr::memchr(b'\n', &self.data[from..self.end]) {
            Some(i) => {
                let nl = from + i;
                let line = Str::from(&self.data[self.start..nl]);
                self.start = nl + 1;
                self.scanned = self.start;
                Some(line)
            }
            None => {
                self.scanned = self.end;
                None
            }
        }
    }

    /// The block's last, partial line into `data` (empty while the block
    /// has unread bytes), and the block left to the lines still held. More
    /// held than the last line returned (which the loop's variable holds):
    /// the script keeps lines, so the next reads' lines are copies.
    fn unseal(&mut self) {
        let block = std::mem::take(&mut self.block);
        if block.holders() > 2 {
            self.copies = COPY_BLOCKS;
        }
        let tail = &block[self.bstart..];
        let need = (tail.len() + SEAL).max(CHUNK);
        if self.data.len() < need {
            self.data = match self.spare.take().map(Str::into_vec) {
                Some(Ok(old)) if old.len() >= need => old,
                _ => vec![0; need],
            };
        }
        self.data[..tail.len()].copy_from_slice(tail);
        #[cfg(test)]
        {
            self.moved += tail.len();
        }
        self.start = 0;
        self.end = tail.len();
        self.scanned = self.bscanned.max(self.bstart) - self.bstart;
        self.bstart = 0;
        self.bscanned = 0;
        self.spare = Some(block);
    }

    /// Room at the end of `data` to read into (at least `CHUNK / 2` bytes).
    fn space(&mut self) -> &mut [u8] {
        if self.start == self.end && self.data.len() > 4 * CHUNK {
            // A long line grew the buffer: give the memory back.
            self.data = Vec::new();
            (self.start, self.end, self.scanned) = (0, 0, 0);
        }
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.data.len() - self.end < CHUNK / 2 {
            let grow = self.data.len().max(CHUNK);
            self.data.resize(self.data.len() + grow, 0);
        }
        &mut self.data[self.end..]
    }

    /// `n` bytes were read into [`LineBuf::space`]; if that leaves a
    /// block's worth unread, `data` becomes the block. Not while a line of
    /// [`SEAL`] bytes or more is still coming (already scanned without its
    /// newline): each block would move the whole line back into `data`,
    /// quadratic in its length; it grows in `data` (doubling) instead.
    fn filled(&mut self, n: usize) {
        self.end += n;
        let partial = self.scanned.max(self.start) - self.start;
        if self.end - self.start < SEAL || partial >= SEAL {
            return;
        }
        if self.copies > 0 {
            self.copies -= 1;
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.truncate(self.end);
        self.block = Str::from(data);
        self.bstart = self.start;
        self.bscanned = self.scanned.max(self.start);
        (self.start, self.end, self.scanned) = (0, 0, 0);
    }

    /// One byte read (a byte at a time: never sealed).
    fn push(&mut self, byte: u8) {
        self.space()[0] = byte;
        self.end += 1;
    }

    fn unread(&self) -> usize {
        (self.block.len() - self.bstart) + (self.end - self.start)
    }

    /// What is left at end of input (a last line without `'\n'`).
    fn rest(&mut self) -> Option<Str> {
        if self.bstart < self.block.len() {
            self.unseal();
        }
        let rest = Str::from(&self.data[self.start..self.end]);
        self.start = self.end;
        self.scanned = self.end;
        (!rest.is_empty()).then_some(rest)
    }
}

/// Where the `read` builtin reads lines from.
pub struct InSource {
    io: FdIo,
    ahead: Ahead,
    /// Read ahead but not yet returned (`Ahead::Pipe` and `Ahead::File`).
    buf: RefCell<LineBuf>,
    /// Held by a `read` that waits for its line, so that two tasks reading
    /// one source take whole lines in turn.
    lock: smol::lock::Mutex<()>,
    /// How many `read`s hold or wait for `lock`. The fast path takes a line
    /// only when none does: it runs to its end without yielding (one
    /// thread), so it needs no lock of its own; taking and releasing the
    /// mutex cost a line about 180 instructions (W10).
    waiting: Cell<u32>,
}

/// Counts a `read` in [`InSource::waiting`] until it ends or is dropped
/// (cancelled).
struct Waiting<'a>(&'a Cell<u32>);

impl<'a> Waiting<'a> {
    fn new(count: &'a Cell<u32>) -> Waiting<'a> {
        count.set(count.get() + 1);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl InSource {
    fn new(fd: FdRef, ahead: Ahead) -> InSource {
        let io = FdIo::new(fd);
        let ahead = match (ahead, io.kind) {
            (Ahead::File, Kind::Direct { seekable: true }) => Ahead::File,
            (Ahead::File, _) => Ahead::Never,
            (ahead, _) => ahead,
        };
        InSource {
            io,
            ahead,
            buf: RefCell::new(LineBuf::default()),
            lock: smol::lock::Mutex::new(()),
            waiting: Cell::new(0),
        }
    }

    /// ash's own fd 0, shared with children: never consumes past the newline
    /// (a byte at a time from pipes and ttys; from a regular file a block,
    /// then seeks back to just after the newline, as sh does).
    pub fn stdin() -> InSource {
        InSource::new(FdRef::Std(rustix::stdio::stdin()), Ahead::Never)
    }

    /// An fd ash opened that commands may be given too (`read < file`, a
    /// here-document, a pipe to a command): a regular file is read ahead
    /// and the unread part given back (by seeking) before a command gets
    /// it; anything else is read like [`InSource::stdin`].
    pub fn shared(fd: OwnedFd) -> InSource {
        InSource::new(FdRef::Owned(Rc::new(fd)), Ahead::File)
    }

    /// A pipe only ash reads (a function as a pipeline stage): reads ahead.
    /// Bytes read ahead are not seen by a child given [`InSource::stdio`].
    pub fn exclusive(fd: OwnedFd) -> InSource {
        InSource::new(FdRef::Owned(Rc::new(fd)), Ahead::Pipe)
    }

    /// Force the `poll` path (tests).
    #[cfg(test)]
    pub(super) fn disable_nowait(&self) {
        self.io.nowait.set(false);
    }

    /// Bytes of partial lines moved from blocks back into the read buffer
    /// (tests).
    #[cfg(test)]
    pub(super) fn bytes_moved(&self) -> usize {
        self.buf.borrow().moved
    }

    /// Whether reads currently use `RWF_NOWAIT` (tests).
    #[cfg(test)]
    pub(super) fn uses_nowait(&self) -> bool {
        self.io.nowait.get()
    }

    /// The next line, without its `'\n'`; a last line without `'\n'` is
    /// returned as is. `None` at EOF with nothing read.
    pub async fn read_line(&self) -> io::Result<Option<Str>> {
        let _waiting = Waiting::new(&self.waiting);
        let _guard = self.lock.lock().await;
        loop {
            if let Some(done) = self.read_line_unlocked() {
                return done;
            }
            self.io.readable().await?;
        }
    }

    /// [`InSource::read_line`] if it can finish without waiting (a line is
    /// buffered, or the fd is a regular file, or data is there): `None`
    /// means "would wait", then call `read_line`. The `read` builtin's fast
    /// path: most lines of a file or a busy pipe need no trip through the
    /// scheduler.
    pub fn try_read_line(&self) -> Option<io::Result<Option<Str>>> {
        if self.waiting.get() > 0 {
            return None;
        }
        self.read_line_unlocked()
    }

    /// One attempt, with the lock held: `None` if it would wait.
    fn read_line_unlocked(&self) -> Option<io::Result<Option<Str>>> {
        match (self.ahead, self.io.kind) {
            (Ahead::Pipe | Ahead::File, _) => self.read_line_ahead(),
            (Ahead::Never, Kind::Direct { seekable: true }) => Some(self.read_line_seeking()),
            (Ahead::Never, _) => self.read_line_bytewise(),
        }
    }

    fn read_line_ahead(&self) -> Option<io::Result<Option<Str>>> {
        let mut buf = self.buf.borrow_mut();
        loop {
            if let Some(line) = buf.line() {
                return Some(Ok(Some(line)));
            }
            match self.io.try_read(buf.space()) {
                Err(e) => return Some(Err(e)),
                Ok(None) => return None,
                Ok(Some(0)) => return Some(Ok(buf.rest())),
                Ok(Some(n)) => buf.filled(n),
            }
        }
    }

    fn read_line_seeking(&self) -> io::Result<Option<Str>> {
        let fd = self.io.fd.as_fd();
        let mut line = Vec::new();
        let mut chunk = [0u8; FILE_CHUNK];
        loop {
            let n = loop {
                match rustix::io::read(fd, &mut chunk) {
                    Err(Errno::INTR) => continue,
                    r => break r?,
                }
            };
            if n == 0 {
                return Ok((!line.is_empty()).then(|| Str::from(line)));
            }
            if let Some(pos) = memchr::memchr(b'\n', &chunk[..n]) {
                line.extend_from_slice(&chunk[..pos]);
                let excess = (n - pos - 1) as i64;
                if excess > 0 {
                    rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(-excess))?;
                }
                return Ok(Some(Str::from(line)));
            }
            line.extend_from_slice(&chunk[..n]);
        }
    }

    /// A byte at a time; what was read before a would-block is kept in
    /// `buf` for the next attempt.
    fn read_line_bytewise(&self) -> Option<io::Result<Option<Str>>> {
        let mut buf = self.buf.borrow_mut();
        let mut byte = [0u8; 1];
        loop {
            match self.io.try_read(&mut byte) {
                Err(e) => return Some(Err(e)),
                Ok(None) => return None,
                Ok(Some(0)) => return Some(Ok(buf.rest())),
                Ok(Some(_)) if byte[0] == b'\n' => {
                    let line = buf.rest().unwrap_or_default();
                    return Some(Ok(Some(line)));
                }
                Ok(Some(_)) => buf.push(byte[0]),
            }
        }
    }

    /// For handing this source to a child as its stdin: `Inherit` for ash's
    /// own fd 0, else the fd itself. A file read ahead is first given back
    /// what `read` has not returned (the offset moves back to just after
    /// the last line returned).
    pub fn stdio(&self) -> io::Result<Stdio> {
        if self.ahead == Ahead::File {
            let mut buf = self.buf.borrow_mut();
            let unread = buf.unread();
            if unread > 0 {
                rustix::fs::seek(
                    self.io.fd.as_fd(),
                    rustix::fs::SeekFrom::Current(-(unread as i64)),
                )?;
                *buf = LineBuf::default();
            }
        }
        Ok(match &self.io.fd {
            FdRef::Std(fd) if std::os::fd::AsRawFd::as_raw_fd(fd) == 0 => Stdio::Inherit,
            FdRef::Std(fd) => Stdio::Fd(Rc::new(fd.try_clone_to_owned()?)),
            FdRef::Owned(fd) => Stdio::Fd(fd.clone()),
        })
    }
}

/// The read end of a pipe only ash holds, read a chunk at a time without
/// blocking the loop (a progress line relays its branches' output).
pub struct PipeReader(Async<std::fs::File>);

impl PipeReader {
    pub fn new(fd: OwnedFd) -> io::Result<PipeReader> {
        super::io_thread_ready()?;
        Ok(PipeReader(Async::new(std::fs::File::from(fd))?))
    }

    /// Some bytes into `buf` (0 at EOF).
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use futures_lite::AsyncReadExt;
        loop {
            match self.0.read(buf).await {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

/// Read an fd that only ash holds (a capture pipe's read end) to EOF without
/// blocking the loop. Pipes and sockets are set `O_NONBLOCK` and polled;
/// regular files are read on the blocking pool.
pub async fn read_to_end(fd: OwnedFd) -> io::Result<Vec<u8>> {
    read_all(fd).await
}

/// [`read_to_end`] for `$( )`: the text without its trailing newlines, in
/// the buffer it was read into (which the string adopts: a big output is
/// held once, and never copied).
pub async fn read_capture(fd: OwnedFd) -> io::Result<Vec<u8>> {
    let mut out = read_all(fd).await?;
    let newlines = out.iter().rev().take_while(|&&c| c == b'\n').count();
    out.truncate(out.len() - newlines);
    Ok(out)
}

/// Past this many bytes a read goes on through a bigger pipe.
const SMALL_MAX: usize = 256 * 1024;
/// A pipe that carries more than [`SMALL_MAX`] is grown to this (the
/// unprivileged maximum by default): fewer wake-ups of the writer and of
/// ash than with the default 64 KiB.
const BIG_PIPE: usize = 1 << 20;

/// Everything the fd gives until its end, in one buffer.
///
/// The buffer doubles as it fills; `realloc` grows a big one by moving
/// its pages (`mremap`), not its bytes, and pages not yet read into are
/// not resident, so a 100 MiB output costs 100 MiB and one pass of
/// writes (W7). (Pieces copied into the string at the end cost a second
/// pass, and a byte loop to fill an `Rc<[u8]>` without zeroing it.)
async fn read_all(fd: OwnedFd) -> io::Result<Vec<u8>> {
    let file = std::fs::File::from(fd);
    match kind_of(file.as_fd()) {
        Kind::Polled => {
            super::io_thread_ready()?;
            let file = Async::new(file)?;
            // Reads go into the spare capacity of the buffer (never zeroed):
            // futures-lite's `read_to_end` zero-filled the whole spare
            // capacity again after each would-block, quadratic in practice
            // (a 135 MB capture spent 80% of its time in memset).
            // The first buffer is small: most captures are a line or two
            // (W9 runs 2,000 `$(sha256sum f)`).
            let mut out = Vec::with_capacity(8 * 1024);
            loop {
                if out.len() == out.capacity() {
                    if out.len() >= SMALL_MAX {
                        return read_big(&file, out).await;
                    }
                    out.reserve(out.len().max(64 * 1024));
                }
                if read_some(&file, &mut out).await? == 0 {
                    if out.capacity() - out.len() > out.len() / 8 {
                        out.shrink_to_fit();
                    }
                    return Ok(out);
                }
            }
        }
        Kind::Direct { .. } => {
            super::unblock(move || {
                let mut out = Vec::new();
                (&file).read_to_end(&mut out)?;
                Ok(out)
            })
            .await
        }
    }
}

/// The rest of a big output (`out` holds its first [`SMALL_MAX`] bytes or
/// more), through a pipe grown to [`BIG_PIPE`].
///
/// A pipe `read` copies into the reader's buffer holding the pipe's lock,
/// so the first touch of each page of the buffer (a fault, a page zeroed
/// by the kernel) was paid under that lock, and a writer on another CPU
/// (W7's `cat`) spun on the lock meanwhile: on a quiet two-core machine,
/// where the writer runs beside ash, the capture took twice the CPU
/// (`mutex_spin_on_owner` a third of the profile). So the pages the next
/// reads can fill are mapped first, outside the lock, a few pipes' worth
/// at a time ([`populate`]): one call instead of a fault per page, and
/// nothing resident more than a few pipes ahead of the data.
async fn read_big(file: &Async<std::fs::File>, mut out: Vec<u8>) -> io::Result<Vec<u8>> {
    let _ = rustix::pipe::fcntl_setpipe_size(file.get_ref(), BIG_PIPE);
    // The most one read returns: the pipe's size.
    let pipe = rustix::pipe::fcntl_getpipe_size(file.get_ref()).unwrap_or(BIG_PIPE);
    // The buffer's bytes (from its start) known to be mapped, and where
    // the buffer was then (a move by `reserve` leaves only the data).
    let (mut mapped, mut base) = (0, out.as_ptr());
    let mut populating = true;
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.len());
        }
        if out.as_ptr() != base {
            (mapped, base) = (out.len(), out.as_ptr());
        }
        if populating && mapped < (out.len() + pipe).min(out.capacity()) {
            let upto = (out.len() + 4 * pipe).min(out.capacity());
            // Refused before Linux 5.14: pages fault in the read as before.
            populating = populate(&mut out, upto).is_ok();
            mapped = upto;
        }
        if read_some(file, &mut out).await? == 0 {
            if out.capacity() - out.len() > out.len() / 8 {
                out.shrink_to_fit();
            }
            return Ok(out);
        }
    }
}

/// The size of a memory page. (Not rustix's `page_size`: it reads the
/// auxiliary vector through a `prctl` that valgrind does not survive, and
/// callgrind is how the captures' cost and ash's start are measured.)
#[allow(unsafe_code)]
#[inline]
pub fn page_size() -> usize {
    // SAFETY: `sysconf` only reads a value glibc keeps.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// Map the whole pages of `buf`'s spare capacity up to byte `upto` of the
/// buffer (`MADV_POPULATE_WRITE`: the zeroed pages a first write would
/// fault in, without writing).
#[allow(unsafe_code)]
pub(super) fn populate(buf: &mut Vec<u8>, upto: usize) -> io::Result<()> {
    let page = page_size();
    let start = buf.as_mut_ptr() as usize;
    let from = (start + buf.len()).next_multiple_of(page);
    let to = (start + upto.min(buf.capacity())) / page * page;
    if to <= from {
        return Ok(());
    }
    // SAFETY: [from, to) is whole pages inside `buf`'s allocation, past
    // its initialised bytes; MADV_POPULATE_WRITE maps pages and never
    // changes what memory holds, so no Rust value (nor the allocator's
    // data) can be affected.
    unsafe {
        rustix::mm::madvise(
            from as *mut _,
            to - from,
            rustix::mm::Advice::LinuxPopulateWrite,
        )
    }
    .map_err(io::Error::from)
}

/// One read into `buf`'s spare capacity (not zeroed first), waiting until
/// the pipe is readable: the bytes read, 0 at end of file.
async fn read_some(file: &Async<std::fs::File>, buf: &mut Vec<u8>) -> io::Result<usize> {
    file.read_with(|f| {
        loop {
            match rustix::io::read(f, rustix::buffer::spare_capacity(&mut *buf)) {
                Err(Errno::INTR) => continue,
                r => return r.map_err(io::Error::from),
            }
        }
    })
    .await
}

/// An fd to read `text` from, for a here-document or here-string: an
/// anonymous in-memory file (`memfd`), written and rewound, so a child of
/// any size of input reads it without ash having to feed a pipe.
pub fn here_doc(text: &[u8]) -> io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create("ash-heredoc", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut rest = text;
    while !rest.is_empty() {
        match rustix::io::write(&fd, rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(0))?;
    Ok(fd)
}

/// How to open a redirection target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// `< f`
    Read,
    /// `> f`: create (0666 & ~umask) and truncate.
    Write,
    /// `>> f`: create (0666 & ~umask) and append.
    Append,
}

/// Open a redirection target on the blocking pool (opening a FIFO blocks
/// until the other end opens). The fd is `O_CLOEXEC`. Errors are the plain
/// OS errors; the caller adds the path to the message.
pub async fn open_file(path: PathBuf, mode: OpenMode) -> io::Result<OwnedFd> {
    match open_file_unless(path, mode, futures_lite::future::pending()).await {
        Some(opened) => opened,
        None => unreachable!("a pending future never resolves"),
    }
}

/// [`open_file`], given up (`None`) when `stop` resolves first: a
/// redirection from or to a FIFO that nobody opens must not outlive a
/// `timeout`, a `cancel` or a signal.
///
/// The thread blocked in `open` is then released: ash opens the FIFO's
/// other end for a moment, without blocking (`O_NONBLOCK`), which
/// completes the pending open, whose fd is dropped. Else each cancelled
/// wait for a writer would keep a thread of the blocking pool, and a
/// script that polls a FIFO under a `timeout` in a loop would use them all
/// up. A process that has the FIFO open at that moment sees the extra
/// opener come and go (a reader with no other writer gets end of file).
pub async fn open_file_unless(
    path: PathBuf,
    mode: OpenMode,
    stop: impl std::future::Future<Output = ()>,
) -> Option<io::Result<OwnedFd>> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let abandoned = Arc::new(AtomicBool::new(false));
    let job = {
        let (path, abandoned) = (path.clone(), abandoned.clone());
        super::unblock(move || {
            if abandoned.load(Ordering::Relaxed) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let mut options = OpenOptions::new();
            match mode {
                OpenMode::Read => options.read(true),
                OpenMode::Write => options.write(true).create(true).truncate(true),
                OpenMode::Append => options.append(true).create(true),
            };
            Ok(OwnedFd::from(options.open(&path)?))
        })
    };
    let mut job = std::pin::pin!(job);
    let opened = futures_lite::future::or(async { Some((&mut job).await) }, async {
        stop.await;
        None
    })
    .await;
    if opened.is_none() {
        abandoned.store(true, Ordering::Relaxed);
        // Wait for the released open to end (and its fd to be closed), so
        // that the FIFO has no stray end when the script goes on: a writer
        // opened next would pair with it and get EPIPE. Released again if
        // the thread was only entering `open`; given up after about a
        // second. Not waited for when the target is no FIFO (a hung
        // network file system, say): nothing would release it.
        for _ in 0..50 {
            if !release_fifo_open(&path, mode) {
                break;
            }
            let ended = futures_lite::future::or(
                async {
                    let _ = (&mut job).await;
                    true
                },
                async {
                    Timer::after(Duration::from_millis(20)).await;
                    false
                },
            );
            if ended.await {
                break;
            }
        }
    }
    opened
}

/// Complete an `open` of the FIFO at `path` that another thread is blocked
/// in, by opening the other end without blocking and closing it at once.
/// Nothing happens (`false`) when `path` is not a FIFO.
fn release_fifo_open(path: &std::path::Path, mode: OpenMode) -> bool {
    use rustix::fs::{Mode, OFlags};
    let is_fifo = rustix::fs::stat(path)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Fifo);
    if !is_fifo {
        return false;
    }
    // A blocked reader counts as one, so a non-blocking writer may open.
    let other_end = match mode {
        OpenMode::Read => OFlags::WRONLY,
        OpenMode::Write | OpenMode::Append => OFlags::RDONLY,
    };
    let flags = other_end | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    drop(rustix::fs::open(path, flags, Mode::empty()));
    true
}

/// At start-up: raise the RLIMIT_NOFILE soft limit to the hard limit, capped
/// at 2^20. Failures are ignored. Children inherit the raised soft limit.
pub fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    const CAP: u64 = 1 << 20;
    let limit = getrlimit(Resource::Nofile);
    let target = limit.maximum.map_or(CAP, |hard| hard.min(CAP));
    if limit.current.is_none_or(|soft| soft >= target) {
        return;
    }
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        },
    );
}

/// Fds 0, 1, 2 that were closed when the process started, as bits, once
/// [`record_closed_std_fds`] has run; `NOT_RECORDED` before.
static CLOSED_AT_EXEC: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(NOT_RECORDED);
const NOT_RECORDED: u8 = 0x80;

/// Note which of fds 0, 1, 2 are closed. Must run before Rust's runtime
/// set-up, which puts `/dev/null` (read-write) on a closed 0, 1 or 2: after
/// it, a closed stdout cannot be told from `stdout=DEVNULL` in Python's
/// subprocess (also `/dev/null`, read-write). `main.rs` calls it from an
/// `.init_array` constructor, which the C runtime runs before `main`.
pub fn record_closed_std_fds() {
    let mut bits = 0;
    for (n, fd) in [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ]
    .into_iter()
    .enumerate()
    {
        if rustix::io::fcntl_getfd(fd) == Err(Errno::BADF) {
            bits |= 1 << n;
        }
    }
    CLOSED_AT_EXEC.store(bits, std::sync::atomic::Ordering::Relaxed);
}

/// Which of fds 0, 1, 2 were closed when ash was started (call before
/// [`ensure_std_fds`]): as recorded before Rust's runtime ran, or, where
/// nothing was recorded (unit tests), which are closed now.
pub fn closed_std_fds() -> [bool; 3] {
    let mut bits = CLOSED_AT_EXEC.load(std::sync::atomic::Ordering::Relaxed);
    if bits == NOT_RECORDED {
        record_closed_std_fds();
        bits = CLOSED_AT_EXEC.load(std::sync::atomic::Ordering::Relaxed);
    }
    [0, 1, 2].map(|n| bits & (1 << n) != 0)
}

/// At start-up: open `/dev/null` on any of fds 0, 1, 2 that is closed, so
/// that fds ash opens later never land there (and get handed to children as
/// their stdio by accident).
pub fn ensure_std_fds() {
    let std_fds = [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ];
    for (n, fd) in std_fds.into_iter().enumerate() {
        if rustix::io::fcntl_getfd(fd) == Err(Errno::BADF) {
            let mode = if n == 0 {
                rustix::fs::OFlags::RDONLY
            } else {
                rustix::fs::OFlags::WRONLY
            };
            // Without O_CLOEXEC: it is the process's standard fd from now on.
            // If it landed elsewhere (cannot happen: lowest free fd), it is
            // closed on drop.
            if let Ok(null) = rustix::fs::open("/dev/null", mode, rustix::fs::Mode::empty())
                && std::os::fd::AsRawFd::as_raw_fd(&null) == n as i32
            {
                let _ = null.into_raw_fd();
            }
        }
    }
}
