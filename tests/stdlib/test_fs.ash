# Tests of std/fs. tests/stdlib.rs points TMPDIR at an empty directory and
# checks that it is empty again afterwards.
use std/assert
use std/fs

let tmp = getenv("TMPDIR")
if (tmp == null) { tmp = "/tmp" }

# with_tempdir: a fresh private directory, removed afterwards; f's value.
let seen = null
let v = with_tempdir(fn (dir) {
  seen = dir
  assert(starts_with(dir, tmp), "${dir} is in ${tmp}")
  assert(is_dir(dir))
  assert_eq($(stat -c %a $dir), "700")
  echo data > $dir/a.txt
  mkdir $dir/sub
  touch $dir/sub/b.txt
  return "value"
})
assert_eq(v, "value")
assert_false(exists(seen))

# Removed when f fails, and the error goes on.
let e = assert_fails(fn () {
  with_tempdir(fn (dir) { seen = dir; touch $dir/x; throw "inside" })
}, "Error")
assert_eq(e.message, "inside")
assert_false(exists(seen))

# Removed when the task is cancelled, after its processes are killed.
let t = spawn {
  with_tempdir(fn (dir) {
    seen = dir
    sleep 10
  })
}
sleep 100ms
assert(is_dir(seen))
cancel $t
assert_fails(fn () { await $t }, "CancelledError")
assert_false(exists(seen))

# ... and when a timeout expires around it (a process is running inside).
assert_fails(fn () {
  timeout 200ms { with_tempdir(fn (dir) { seen = dir; sh -c "sleep 10" }) }
}, "TimeoutError")
# Removed before the TimeoutError reached here: the `finally` of the
# expired timeout's body runs its `rm` to the end.
assert_false(exists(seen))

# ... and when a gather sibling fails.
assert_fails(fn () {
  gather { with_tempdir(fn (dir) { seen = dir; sleep 10 }) } { sleep 100ms; throw "sibling" }
}, "Error")
assert_false(exists(seen))

# async fn bodies are awaited inside.
async fn fill(dir) { sleep 10ms; touch $dir/f; return $(ls $dir) }
assert_eq(with_tempdir(fill), "f")

# with_tempfile: an empty file of mode 0600, removed afterwards.
let n = with_tempfile(fn (path) {
  seen = path
  assert(is_file(path))
  assert_eq($(stat -c %a $path), "600")
  assert_eq(trim($(wc -c < $path)), "0")
  printf "a\nb\n" > $path
  return len(lines($(cat $path)))
})
assert_eq(n, 2)
assert_false(exists(seen))
assert_fails(fn () { with_tempfile(fn (p) { seen = p; false }) }, "CommandError")
assert_false(exists(seen))

# A prefix names them.
with_tempdir(fn (dir) { assert_contains(dir, "/build.") }, "build")

# mktempdir / mktempfile leave removal to the caller.
let d = mktempdir()
let f = mktempfile("x")
assert(is_dir(d))
assert(is_file(f))
rm -r $d $f
assert_true(is_dir("."))
assert_false(is_file("."))
assert_false(exists("no-such-file"))
echo "fs: ok"
