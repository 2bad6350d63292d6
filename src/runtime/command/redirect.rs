//! Redirections: `< f`, `> f`, `>> f`, `2>&1`, `&> f` applied in order to
//! a copy of the task's I/O, files opened off the loop thread.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::ast::RedirOp;
use crate::process::{self, InSource, OpenMode, OutSink};
use crate::runtime::Io;
use crate::vm::error::Error;

fn path_of(cwd: &Path, bytes: &[u8]) -> PathBuf {
    cwd.join(std::ffi::OsStr::from_bytes(bytes))
}

/// Apply redirections in order to a copy of `io`.
pub(super) async fn apply_redirects(
    mut io: Io,
    redirects: &[(RedirOp, Option<Vec<u8>>)],
    cwd: &Path,
) -> Result<Io, Error> {
    for (op, target) in redirects {
        let target = target.as_deref().unwrap_or_default();
        let open = |mode: OpenMode| {
            let path = path_of(cwd, target);
            async move {
                process::open_file(path.clone(), mode)
                    .await
                    .map_err(|e| Error::io(format!("cannot open {}: {e}", path.display())))
            }
        };
        match *op {
            RedirOp::Read => io.stdin = Rc::new(InSource::shared(open(OpenMode::Read).await?)),
            RedirOp::Here => {
                let fd = process::here_doc(target)
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
