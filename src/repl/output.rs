//! Background output: what tasks started at the prompt print, shown
//! whole, in order, at any volume, without corrupting the line being typed.
//!
//! Each task spawned at the prompt writes (stdout and stderr, its programs
//! too) into a pipe of its own ([`Outbox::task_output`]), so a task's half
//! line is never glued to another task's line; past [`PRIVATE_PIPES`] live
//! pipes, later tasks share one. A reader per pipe passes on complete
//! lines; a last line without a newline is passed on, with one added, when
//! the pipe closes (the task and its programs ended). The lines go:
//!
//! - while the user is at the prompt, into the [`Outbox`]'s queue, which
//!   the editor thread prints above the prompt through reedline's external
//!   printer. The queue is bounded ([`QUEUE_LIMIT`] bytes): when it is
//!   full, readers stop reading and the tasks' writes block (back-pressure),
//!   so nothing is dropped or reordered however much is printed;
//! - while a command runs in the foreground, straight to the terminal.
//!
//! Reedline's printer is a channel the editor drains once per pass of its
//! input loop; lines still in it when a line is accepted would be printed
//! only at the next prompt, after newer output. So each prompt gets a fresh
//! printer with room for one message (the whole queue is sent as one), and
//! when the prompt ends the shell checks whether that message was taken: if
//! not, it prints it itself (the old printer, and its copy, are dropped).

use std::cell::{Cell, RefCell};
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

use futures_lite::AsyncReadExt;
use reedline::ExternalPrinter;

use crate::process::OutSink;

/// How many tasks at once get a pipe of their own.
pub const PRIVATE_PIPES: usize = 64;
/// How much output may wait for the editor before tasks are held back.
pub const QUEUE_LIMIT: usize = 1 << 20;

pub struct Outbox {
    at_prompt: Cell<bool>,
    /// Complete lines waiting to be shown above the prompt.
    queue: RefCell<String>,
    /// This prompt's printer.
    printer: RefCell<Option<SyncSender<String>>>,
    /// The last message given to the printer (maybe not printed yet).
    in_flight: RefCell<Option<String>>,
    /// Wakes the pump (new lines) and the readers (room in the queue).
    changed: smol::channel::Sender<()>,
    changed_rx: smol::channel::Receiver<()>,
    /// Live task pipes, and readers still running.
    private_pipes: Cell<usize>,
    readers: Cell<usize>,
    shared: RefCell<Option<(Rc<OutSink>, Rc<OutSink>)>>,
    stdout: OutSink,
}

impl Outbox {
    pub fn new() -> Rc<Outbox> {
        let (changed, changed_rx) = smol::channel::bounded(1);
        Rc::new(Outbox {
            at_prompt: Cell::new(false),
            queue: RefCell::new(String::new()),
            printer: RefCell::new(None),
            in_flight: RefCell::new(None),
            changed,
            changed_rx,
            private_pipes: Cell::new(0),
            readers: Cell::new(0),
            shared: RefCell::new(None),
            stdout: OutSink::stdout(),
        })
    }

    pub fn at_prompt(&self) -> bool {
        self.at_prompt.get()
    }

    fn poke(&self) {
        let _ = self.changed.try_send(());
    }

    /// A prompt is about to be shown: a fresh printer for it.
    pub fn prompt_starts(&self) -> ExternalPrinter<String> {
        let printer = ExternalPrinter::new(1);
        *self.printer.borrow_mut() = Some(printer.sender());
        *self.in_flight.borrow_mut() = None;
        self.at_prompt.set(true);
        self.poke();
        printer
    }

    /// The prompt ended (a line was accepted): print what the editor did
    /// not, in order, before anything else.
    pub fn prompt_ends(&self) {
        self.at_prompt.set(false);
        let printer = self.printer.borrow_mut().take();
        let in_flight = self.in_flight.borrow_mut().take();
        let mut left = String::new();
        // The printer holds one message: if it still has room, the last
        // one was taken (the probe, an empty message, prints nothing).
        if let (Some(p), Some(msg)) = (printer, in_flight)
            && matches!(p.try_send(String::new()), Err(TrySendError::Full(_)))
        {
            left.push_str(&msg);
            left.push('\n');
        }
        left.push_str(&std::mem::take(&mut *self.queue.borrow_mut()));
        if !left.is_empty() {
            let _ = self.stdout.try_write_all(left.as_bytes()).and_then(|n| {
                // The terminal is slow: write the rest blocking (the shell
                // has nothing else to do before the line runs).
                use std::io::Write;
                std::io::stdout().write_all(&left.as_bytes()[n..])
            });
        }
        self.poke();
    }

    /// Show complete lines (`text` ends with a newline): above the prompt,
    /// or on the terminal while a command runs. Waits while the queue is
    /// full.
    pub async fn show(&self, text: &str) {
        loop {
            if !self.at_prompt.get() {
                let _ = self.stdout.write_all(text.as_bytes()).await;
                return;
            }
            if self.queue.borrow().len() < QUEUE_LIMIT {
                self.queue.borrow_mut().push_str(text);
                self.poke();
                return;
            }
            self.wait().await;
        }
    }

    /// A message (a failure, a job's end) above the prompt or on stderr.
    pub fn note(&self, msg: &str) {
        let mut text = msg.trim_end().to_string();
        text.push('\n');
        if self.at_prompt.get() {
            self.queue.borrow_mut().push_str(&text);
            self.poke();
        } else {
            crate::diag::report!("{text}");
        }
    }

    async fn wait(&self) {
        // Woken by a change, or a tick: the editor takes messages on its
        // own time, unseen.
        futures_lite::future::or(
            async {
                let _ = self.changed_rx.recv().await;
            },
            async {
                async_io::Timer::after(Duration::from_millis(10)).await;
            },
        )
        .await;
    }

    /// Hand the queue to the editor's printer whenever it has room.
    pub async fn pump(self: Rc<Self>) {
        loop {
            if self.at_prompt.get() && !self.queue.borrow().is_empty() {
                let text = {
                    let mut q = self.queue.borrow_mut();
                    let t = std::mem::take(&mut *q);
                    t.strip_suffix('\n').map(str::to_string).unwrap_or(t)
                };
                let copy = text.clone();
                let sent = match self.printer.borrow().as_ref() {
                    Some(p) => p.try_send(text),
                    None => Err(TrySendError::Disconnected(text)),
                };
                match sent {
                    Ok(()) => {
                        // The editor splits a message into its lines.
                        *self.in_flight.borrow_mut() = Some(copy);
                        continue;
                    }
                    Err(TrySendError::Full(text) | TrySendError::Disconnected(text)) => {
                        // Put it back in front of anything queued since.
                        let mut q = self.queue.borrow_mut();
                        let later = std::mem::take(&mut *q);
                        q.push_str(&text);
                        q.push('\n');
                        q.push_str(&later);
                    }
                }
            }
            self.wait().await;
        }
    }

    /// The stdout and stderr of a task spawned at the prompt: a pipe of its
    /// own (or the shared one, past [`PRIVATE_PIPES`]), read by a task on
    /// `executor` that shows its lines.
    pub fn task_output(
        self: &Rc<Self>,
        executor: &crate::runtime::executor::Executor,
    ) -> Option<(Rc<OutSink>, Rc<OutSink>)> {
        if self.private_pipes.get() >= PRIVATE_PIPES
            && let Some(shared) = self.shared.borrow().as_ref()
        {
            return Some(shared.clone());
        }
        let (r, w) = crate::process::pipe().ok()?;
        let w2 = rustix::io::fcntl_dupfd_cloexec(&w, 3).ok()?;
        let sinks = (Rc::new(OutSink::from_fd(w)), Rc::new(OutSink::from_fd(w2)));
        let private = self.private_pipes.get() < PRIVATE_PIPES;
        if private {
            self.private_pipes.set(self.private_pipes.get() + 1);
        } else {
            *self.shared.borrow_mut() = Some(sinks.clone());
        }
        self.readers.set(self.readers.get() + 1);
        let me = self.clone();
        executor
            .spawn(async move {
                me.forward(r).await;
                if private {
                    me.private_pipes.set(me.private_pipes.get() - 1);
                }
                me.readers.set(me.readers.get() - 1);
            })
            .detach();
        Some(sinks)
    }

    /// Pass on a pipe's complete lines; at its end, a last partial line
    /// with a newline added.
    async fn forward(&self, r: OwnedFd) {
        let Ok(mut file) = async_io::Async::new(std::fs::File::from(r)) else {
            return;
        };
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            pending.extend_from_slice(&buf[..n]);
            if let Some(end) = pending.iter().rposition(|&b| b == b'\n') {
                let rest = pending.split_off(end + 1);
                let lines = std::mem::replace(&mut pending, rest);
                self.show(&String::from_utf8_lossy(&lines)).await;
            }
        }
        if !pending.is_empty() {
            pending.push(b'\n');
            self.show(&String::from_utf8_lossy(&pending)).await;
        }
    }

    /// At exit: wait (at most `limit`) for the readers to pass on what the
    /// tasks wrote, last partial lines included.
    pub async fn drain(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        while self.readers.get() > 0 && std::time::Instant::now() < deadline {
            async_io::Timer::after(Duration::from_millis(5)).await;
        }
    }
}
