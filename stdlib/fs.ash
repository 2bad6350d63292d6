# std/fs — temporary files and directories that are removed even when the
# body fails or is cancelled.
#
#   use std/fs
#   with_tempdir(fn (dir) {
#     echo data > $dir/input.txt
#     process $dir/input.txt
#   })
#   let n = with_tempfile(fn (path) { ...; return len(lines($(cat $path))) })
#
# Creation is done by coreutils `mktemp`, which creates the directory
# (mode 0700) or file (mode 0600) with O_EXCL and a random name, so an
# existing file or symlink of that name is never followed or reused. They go
# in `$TMPDIR` (else /tmp). Removal runs in a `finally`, which ash runs on
# errors, on `exit`-free returns, and on cancellation (`cancel`, an expiring
# `timeout`, a failing `gather` sibling, Ctrl-C), after the body's processes
# have been killed. Only `exit` and SIGKILL skip it.

# mktempdir([prefix]): a new private directory; the caller removes it.
fn mktempdir(...prefix) {
  let p = "ash"
  if (len(prefix) > 0) { p = prefix[0] }
  return $(mktemp -d -t "${p}.XXXXXXXXXX")
}

# mktempfile([prefix]): a new empty file, mode 0600; the caller removes it.
fn mktempfile(...prefix) {
  let p = "ash"
  if (len(prefix) > 0) { p = prefix[0] }
  return $(mktemp -t "${p}.XXXXXXXXXX")
}

# Calls f(arg), awaiting a coroutine it returns, so `async fn` bodies work.
fn _fs_call(f, arg) {
  let v = f(arg)
  if (type(v) == "coroutine" or type(v) == "task") { v = await $v }
  return v
}

# with_tempdir(f[, prefix]): f(dir) with a new directory; removed with
# everything in it when f ends, however it ends. Returns f's value.
fn with_tempdir(f, ...prefix) {
  let p = "ash"
  if (len(prefix) > 0) { p = prefix[0] }
  let dir = mktempdir(p)
  try {
    return _fs_call(f, dir)
  } finally {
    rm -rf -- $dir
  }
}

# with_tempfile(f[, prefix]): f(path) with a new empty file; removed when f
# ends, however it ends. Returns f's value.
fn with_tempfile(f, ...prefix) {
  let p = "ash"
  if (len(prefix) > 0) { p = prefix[0] }
  let path = mktempfile(p)
  try {
    return _fs_call(f, path)
  } finally {
    rm -rf -- $path
  }
}

# exists(path), is_file(path), is_dir(path): the `test -e/-f/-d` checks as
# functions returning a bool, for expression mode (`if (is_dir(d) and ...)`).
fn exists(path) {
  if test -e $path { return true }
  return false
}

fn is_file(path) {
  if test -f $path { return true }
  return false
}

fn is_dir(path) {
  if test -d $path { return true }
  return false
}
