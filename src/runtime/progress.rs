//! `gather --progress`, `race --progress`: one line on the terminal's
//! stderr, redrawn in place while the branches run, with whatever they
//! print appearing above it, never glued to it.
//!
//! The branches' stderr (and their stdout, when that is the terminal too)
//! goes into a pipe that one *relay* task reads: it is the only writer of
//! the terminal while the line is up, so it can erase the line, write the
//! complete lines that came, and draw the line again, in that order. A
//! line still being written stays in the relay's buffer until its newline
//! comes (or until the end). The relay redraws on every change of the
//! counts and four times a second (for the elapsed time and the ETA).
//!
//! At the end the relay prints what is left (waiting at most
//! [`DRAIN_LIMIT`] for writers that outlive the branches: a spawned task,
//! a process that escaped) and the final line, then tells the `gather`,
//! which returns; it keeps relaying, without a line, until every writer
//! has gone, so no byte is lost. Only when stderr is a terminal: anywhere
//! else `--progress` does nothing at all.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::future;

use super::{Runtime, TaskCtx};
use crate::observe::progress::{Counts, line};
use crate::process::{self, OutSink, PipeReader};

/// How often the line is redrawn when nothing changes.
const TICK: Duration = Duration::from_millis(250);
/// How long the end waits for writers that outlive the branches.
const DRAIN_LIMIT: Duration = Duration::from_millis(200);

/// What the relay and the `gather` share.
struct Shared {
    label: &'static str,
    started: Instant,
    counts: Cell<Counts>,
    finished: Cell<bool>,
}

/// A `gather`'s or `race`'s progress line (see the module doc).
pub(super) struct Progress {
    shared: Rc<Shared>,
    /// Where the branches write (the pipes' write ends, or the task's own
    /// stdout when that is not the terminal); dropped at the end so the
    /// relay sees its pipes close.
    sinks: RefCell<Option<(Rc<OutSink>, Rc<OutSink>)>>,
    wake: smol::channel::Sender<()>,
    drawn: smol::channel::Receiver<()>,
}

impl Progress {
    /// A line for `total` branches, when `ctx`'s stderr is a terminal
    /// (`None` otherwise, or when no pipe could be made).
    pub(super) fn start(
        rt: &Runtime,
        ctx: &TaskCtx,
        label: &'static str,
        total: usize,
    ) -> Option<Rc<Progress>> {
        let io = ctx.io();
        io.stderr.terminal()?;
        let relay_out = io.stdout.terminal().is_some();
        let (err_r, err_w) = process::pipe().ok()?;
        let (out_r, out_w) = if relay_out {
            let (r, w) = process::pipe().ok()?;
            (Some(PipeReader::new(r).ok()?), Some(w))
        } else {
            (None, None)
        };
        let err_r = PipeReader::new(err_r).ok()?;
        let shared = Rc::new(Shared {
            label,
            started: Instant::now(),
            counts: Cell::new(Counts {
                total,
                ..Counts::default()
            }),
            finished: Cell::new(false),
        });
        let (wake, woken) = smol::channel::bounded(1);
        let (tell_drawn, drawn) = smol::channel::bounded(1);
        let relay = Relay {
            shared: shared.clone(),
            term_out: io.stdout.clone(),
            term_err: io.stderr.clone(),
            out: out_r.map(Pipe::new),
            err: Some(Pipe::new(err_r)),
            woken,
            tell_drawn,
            shown: false,
            tails: Vec::new(),
        };
        rt.executor.spawn(relay.run()).detach();
        let out_sink = match out_w {
            Some(w) => Rc::new(OutSink::from_fd(w)),
            None => io.stdout.clone(),
        };
        let sinks = (out_sink, Rc::new(OutSink::from_fd(err_w)));
        Some(Rc::new(Progress {
            shared,
            sinks: RefCell::new(Some(sinks)),
            wake,
            drawn,
        }))
    }

    /// Where a branch writes its stdout and stderr.
    pub(super) fn sinks(&self) -> Option<(Rc<OutSink>, Rc<OutSink>)> {
        self.sinks.borrow().clone()
    }

    fn update(&self, f: impl FnOnce(&mut Counts)) {
        let mut c = self.shared.counts.get();
        f(&mut c);
        self.shared.counts.set(c);
        let _ = self.wake.try_send(());
    }

    /// A branch started.
    pub(super) fn started(&self) {
        self.update(|c| c.running += 1);
    }

    /// A branch ended (`failed`: with an error).
    pub(super) fn ended(&self, failed: bool) {
        self.update(|c| {
            c.running = c.running.saturating_sub(1);
            c.done += 1;
            c.failed += usize::from(failed);
        });
    }

    /// The `gather` is over: wait until what the branches printed and the
    /// final line are on the terminal.
    pub(super) async fn finish(&self) {
        self.shared.finished.set(true);
        self.sinks.borrow_mut().take();
        let _ = self.wake.try_send(());
        let _ = self.drawn.recv().await;
    }
}

/// One relayed pipe: its reader, the bytes of a line not yet complete.
struct Pipe {
    reader: PipeReader,
    partial: Vec<u8>,
    buf: Box<[u8]>,
}

impl Pipe {
    fn new(reader: PipeReader) -> Pipe {
        Pipe {
            reader,
            partial: Vec::new(),
            buf: vec![0; 16 * 1024].into_boxed_slice(),
        }
    }
}

enum Event {
    Out(std::io::Result<usize>),
    Err(std::io::Result<usize>),
    Wake,
    Tick,
}

struct Relay {
    shared: Rc<Shared>,
    term_out: Rc<OutSink>,
    term_err: Rc<OutSink>,
    /// `None` once at EOF (or not relayed).
    out: Option<Pipe>,
    err: Option<Pipe>,
    woken: smol::channel::Receiver<()>,
    tell_drawn: smol::channel::Sender<()>,
    /// Whether the line is on the screen now.
    shown: bool,
    /// Last lines of closed pipes, to write (`true`: stdout).
    tails: Vec<(bool, Vec<u8>)>,
}

/// A read of `pipe`, or never when it is closed.
async fn read(pipe: &mut Option<Pipe>) -> std::io::Result<usize> {
    match pipe {
        Some(p) => p.reader.read(&mut p.buf).await,
        None => future::pending().await,
    }
}

impl Relay {
    async fn run(mut self) {
        let mut drain_until: Option<Instant> = None;
        let mut final_drawn = false;
        loop {
            let wait = match drain_until {
                Some(t) if !final_drawn => t.saturating_duration_since(Instant::now()).min(TICK),
                _ => TICK,
            };
            let woken = self.woken.clone();
            let event = {
                let (out, err) = (&mut self.out, &mut self.err);
                future::or(
                    future::or(async { Event::Out(read(out).await) }, async {
                        Event::Err(read(err).await)
                    }),
                    future::or(
                        async {
                            let _ = woken.recv().await;
                            Event::Wake
                        },
                        async {
                            async_io::Timer::after(wait).await;
                            Event::Tick
                        },
                    ),
                )
                .await
            };
            let mut redraw = matches!(event, Event::Wake | Event::Tick);
            match event {
                Event::Out(r) => redraw |= self.take(true, r),
                Event::Err(r) => redraw |= self.take(false, r),
                Event::Wake | Event::Tick => {}
            }
            let mut lines_out = complete_lines(&mut self.out);
            let mut lines_err = complete_lines(&mut self.err);
            for (out, tail) in std::mem::take(&mut self.tails) {
                if out {
                    lines_out.extend_from_slice(&tail);
                } else {
                    lines_err.extend_from_slice(&tail);
                }
            }
            if !lines_out.is_empty() || !lines_err.is_empty() {
                self.erase().await;
                let _ = self.term_out.write_all(&lines_out).await;
                let _ = self.term_err.write_all(&lines_err).await;
                redraw = true;
            }
            let eof = self.out.is_none() && self.err.is_none();
            if self.shared.finished.get() && !final_drawn {
                let until = *drain_until.get_or_insert_with(|| Instant::now() + DRAIN_LIMIT);
                if eof || Instant::now() >= until {
                    self.end().await;
                    final_drawn = true;
                    let _ = self.tell_drawn.try_send(());
                }
            } else if redraw && !final_drawn {
                self.draw(false).await;
            }
            if eof && final_drawn {
                return;
            }
            if final_drawn {
                // From now on, bytes are passed on as they come.
                for (pipe, sink) in [
                    (&mut self.out, &self.term_out),
                    (&mut self.err, &self.term_err),
                ] {
                    if let Some(p) = pipe
                        && !p.partial.is_empty()
                    {
                        let _ = sink.write_all(&std::mem::take(&mut p.partial)).await;
                    }
                }
            }
        }
    }

    /// Bytes (or the end) read from a pipe; whether the line must change.
    fn take(&mut self, out: bool, r: std::io::Result<usize>) -> bool {
        let pipe = if out { &mut self.out } else { &mut self.err };
        match (r, pipe.as_mut()) {
            (Ok(n), Some(p)) if n > 0 => {
                p.partial.extend_from_slice(&p.buf[..n]);
                false
            }
            (_, Some(p)) => {
                // EOF or a read error: what is left is written at the end.
                // A last line without its newline gets one on the
                // terminal, so the progress line starts a line of its own.
                let mut rest = std::mem::take(&mut p.partial);
                *pipe = None;
                if !rest.is_empty() {
                    rest.push(b'\n');
                    self.tails.push((out, rest));
                }
                true
            }
            (_, None) => false,
        }
    }

    async fn erase(&mut self) {
        if self.shown {
            let _ = self.term_err.write_all(b"\r\x1b[K").await;
            self.shown = false;
        }
    }

    async fn draw(&mut self, last: bool) {
        let width = self.term_err.terminal().unwrap_or(0);
        let text = line(
            self.shared.label,
            self.shared.counts.get(),
            self.shared.started.elapsed(),
            width.into(),
        );
        let mut bytes = Vec::with_capacity(text.len() + 8);
        bytes.extend_from_slice(b"\r");
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(b"\x1b[K");
        if last {
            bytes.push(b'\n');
        }
        let _ = self.term_err.write_all(&bytes).await;
        self.shown = !last;
    }

    /// The end: what is left of unfinished lines, then the final line.
    async fn end(&mut self) {
        let mut rest_out = Vec::new();
        let mut rest_err = Vec::new();
        if let Some(p) = &mut self.out {
            rest_out = std::mem::take(&mut p.partial);
        }
        if let Some(p) = &mut self.err {
            rest_err = std::mem::take(&mut p.partial);
        }
        if !rest_out.is_empty() || !rest_err.is_empty() {
            self.erase().await;
            // On its own line, so the final line starts a line of its own.
            for (rest, sink) in [(rest_out, &self.term_out), (rest_err, &self.term_err)] {
                if !rest.is_empty() {
                    let _ = sink.write_all(&rest).await;
                    let _ = sink.write_all(b"\n").await;
                }
            }
        }
        self.draw(true).await;
    }
}

/// The complete lines buffered for `pipe`, taken out of its buffer.
fn complete_lines(pipe: &mut Option<Pipe>) -> Vec<u8> {
    let Some(p) = pipe else {
        return Vec::new();
    };
    match p.partial.iter().rposition(|&b| b == b'\n') {
        Some(i) => {
            let rest = p.partial.split_off(i + 1);
            std::mem::replace(&mut p.partial, rest)
        }
        None => Vec::new(),
    }
}
