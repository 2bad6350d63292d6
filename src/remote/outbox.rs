//! Frames waiting to be written to a stream, and the task that writes
//! them: many tasks send, one writes, so frames never interleave. A sender
//! of bulk output waits while too much is waiting (the reader on the
//! other side is slow), so memory stays bounded and the pressure reaches
//! the program writing.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use async_io::Async;
use futures_lite::{AsyncWriteExt, future};

use crate::runtime::cancel::WakeList;

/// Output senders wait while more than this is waiting to be written.
const HIGH_WATER: usize = 4 << 20;

#[derive(Default)]
pub struct Outbox {
    pending: RefCell<Vec<u8>>,
    closed: Cell<bool>,
    /// The writer waits here for frames.
    wake_writer: WakeList,
    /// Senders wait here for room.
    wake_senders: WakeList,
}

impl Outbox {
    /// Queue a frame (never waits: for small messages).
    pub fn send(&self, frame: &[u8]) {
        if self.closed.get() {
            return;
        }
        self.pending.borrow_mut().extend_from_slice(frame);
        self.wake_writer.wake_all();
    }

    /// Wait until there is room for more output.
    pub async fn room(&self) {
        future::poll_fn(|cx| {
            if self.pending.borrow().len() < HIGH_WATER || self.closed.get() {
                std::task::Poll::Ready(())
            } else {
                self.wake_senders.register(cx.waker());
                std::task::Poll::Pending
            }
        })
        .await
    }

    /// Write what is queued, then end the stream.
    pub fn close(&self) {
        self.closed.set(true);
        self.wake_writer.wake_all();
        self.wake_senders.wake_all();
    }
}

/// Write the outbox's frames to `file` until it is closed (then `file` is
/// dropped: the other side sees the end of the stream) or a write fails.
pub async fn write_out(outbox: Rc<Outbox>, mut file: Async<std::fs::File>) -> std::io::Result<()> {
    loop {
        let batch = future::poll_fn(|cx| {
            let pending = std::mem::take(&mut *outbox.pending.borrow_mut());
            if !pending.is_empty() {
                return std::task::Poll::Ready(Some(pending));
            }
            if outbox.closed.get() {
                return std::task::Poll::Ready(None);
            }
            outbox.wake_writer.register(cx.waker());
            std::task::Poll::Pending
        })
        .await;
        let Some(batch) = batch else {
            return Ok(());
        };
        outbox.wake_senders.wake_all();
        if let Err(e) = file.write_all(&batch).await {
            outbox.close();
            return Err(e);
        }
        file.flush().await?;
    }
}
