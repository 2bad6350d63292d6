//! Redirections: `< f`, `> f`, `>> f`, `2>&1`, `&> f` applied in order to
//! a copy of the task's I/O, files opened off the loop thread.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use crate::ast::RedirOp;
use crate::process::{self, InSource, OpenMode, OutSink, WorkDir};
use crate::runtime::{CancelToken, Io};
use crate::vm::error::Error;

/// Apply redirections in order to a copy of `io`. A relative target is
/// opened in the directory `cwd` itself (see `process::WorkDir`). An open
/// that waits (a FIFO with no peer) ends with `CancelledError` when the
/// task is cancelled.
pub(super) async fn apply_redirects(
    mut io: Io,
    redirects: &[(RedirOp, Option<Vec<u8>>)],
    cwd: &WorkDir,
    token: &CancelToken,
) -> Result<Io, Error> {
    for (op, target) in redirects {
        let target = Path::new(std::ffi::OsStr::from_bytes(
            target.as_deref().unwrap_or_default(),
        ));
        let open = |mode: OpenMode| {
            let (path, shown) = (cwd.resolve(target), cwd.shown(target));
            let gone = cwd.check().err();
            let requested = token.requested();
            async move {
                let stop = async {
                    requested.await;
                };
                match process::open_file_unless(path, mode, stop).await {
                    Some(opened) => opened.map_err(|e| {
                        // In a removed directory, say so rather than ENOENT.
                        let e = gone.unwrap_or(e);
                        Error::io(format!("cannot open {}: {e}", shown.display()))
                    }),
                    None => Err(Error::cancelled()),
                }
            }
        };
        match *op {
            RedirOp::Read => io.stdin = Rc::new(InSource::shared(open(OpenMode::Read).await?)),
            RedirOp::Here => {
                let fd = process::here_doc(target.as_os_str().as_bytes())
                    .map_err(|e| Error::io(format!("here-document: {e}")))?;
                io.stdin = Rc::new(InSource::shared(fd));
            }
            RedirOp::Write(fd) | RedirOp::Append(fd) => {
                let mode = if matches!(op, RedirOp::Write(_)) {
                    OpenMode::Write
                } else {
                    OpenMode::Append
                };
                let sink = Rc::new(OutSink::from_fd(open(mode).await?));
                if fd == 2 {
                    io.stderr = sink;
                } else {
                    io.stdout = sink;
                }
            }
            RedirOp::WriteAll | RedirOp::AppendAll => {
                let mode = if *op == RedirOp::WriteAll {
                    OpenMode::Write
                } else {
                    OpenMode::Append
                };
                let sink = Rc::new(OutSink::from_fd(open(mode).await?));
                io.stdout = sink.clone();
                io.stderr = sink;
            }
            RedirOp::Dup { fd, to } => {
                let src = if to == 2 {
                    io.stderr.clone()
                } else {
                    io.stdout.clone()
                };
                if fd == 2 {
                    io.stderr = src;
                } else {
                    io.stdout = src;
                }
            }
        }
    }
    Ok(io)
}
