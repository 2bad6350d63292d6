# Tests of std/parallel.
use std/assert
use std/parallel

# Results in input order, whatever order the calls finish in.
let r = pmap([3, 1, 2], fn (x) { sleep (x * 30ms); return x * 10 }, 3)
assert_eq(r, [30, 10, 20])
assert_eq(pmap([], fn (x) { return x }), [])

# async fn works too: its coroutine is awaited in the branch.
async fn double(x) { sleep 5ms; return x * 2 }
assert_eq(pmap(range(5), double, {jobs: 2}), [0, 2, 4, 6, 8])

# The concurrency limit: never more than `jobs` at once.
let st = {now: 0, peak: 0}
pmap(range(12), fn (x) {
  st.now = st.now + 1
  if (st.now > st.peak) { st.peak = st.now }
  sleep 20ms
  st.now = st.now - 1
}, {jobs: 3})
assert_eq(st.peak, 3)

# ... and they do run concurrently: 8 x 300ms with jobs 8 is ~300ms, not
# 2.4 s (generous margins: CI machines are loaded).
let t0 = now()
pmap(range(8), fn (x) { sleep 300ms }, 8)
assert(now() - t0 < 1.5, "concurrent")

# External commands run in parallel too.
t0 = now()
let outs = pmap(["a", "b", "c", "d"], fn (x) { return $(sh -c "sleep 0.5; echo $x") }, 4)
assert_eq(outs, ["a", "b", "c", "d"])
assert(now() - t0 < 1.8, "processes ran at once (2 s in sequence)")

# Fail fast (default): the first error cancels the rest and is raised.
let started = []
let finished = []
let e = assert_fails(fn () {
  pmap(range(6), fn (x) {
    push(started, x)
    if (x == 1) { sleep 20ms; throw "item 1 broke" }
    sleep 2s
    push(finished, x)
  }, 3)
}, "Error")
assert_eq(e.message, "item 1 broke")
assert_eq(finished, [])
assert_eq(started, [0, 1, 2])

# keep_going: every call runs; failures are error values in place.
let kg = pmap(range(5), fn (x) {
  if (x % 2 == 1) { sh -c "exit $x" }
  return x
}, {jobs: 2, keep_going: true})
assert_eq(kg[0], 0)
assert_eq(type(kg[1]), "error")
assert_eq(kg[1].status, 1)
assert_eq(kg[3].status, 3)
assert_eq(kg[4], 4)
let s = pmap_stats(kg)
assert_eq(s.ok, 3)
assert_eq(s.failed, 2)
assert_eq(len(s.errors), 2)

# peach: for effects only.
let seen = []
assert_eq(peach(["x", "y"], fn (v) { push(seen, v) }), null)
assert_eq(sorted(seen), ["x", "y"])

# progress: nothing is drawn when stderr is not a terminal.
fn quiet() { pmap(range(3), fn (x) { return x }, {progress: true, jobs: 2}) }
assert_eq($(quiet 2>&1), "")

# Options are checked.
assert_eq(assert_fails(fn () { pmap([1], fn (x) { return x }, {job: 2}) }).message, "pmap: unknown option 'job'")
assert_eq(assert_fails(fn () { pmap([1], fn (x) { return x }, 0) }).message, "pmap: jobs must be at least 1")
echo "parallel: ok"
