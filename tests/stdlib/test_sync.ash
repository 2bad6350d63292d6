# Tests of std/sync.
use std/assert
use std/sync

# with_permit: at most n holders at once; the permit comes back on errors.
let s = semaphore(2)
let st = {now: 0, peak: 0}
fn work(x) {
  return with_permit(s, fn () {
    st.now = st.now + 1
    if (st.now > st.peak) { st.peak = st.now }
    sleep 20ms
    st.now = st.now - 1
    return x * 2
  })
}
let cs = []
for i in (range(6)) { push(cs, async { return work(i) }) }
assert_eq(gather $cs, [0, 2, 4, 6, 8, 10])
assert_eq(st.peak, 2)
assert_fails(fn () { with_permit(s, fn () { throw "inside" }) }, "Error")
# Both permits are free again: two acquires do not block.
timeout 1s { acquire(s); acquire(s) }
release(s)
release(s)

# ... and on cancellation.
let holder = spawn { with_permit(s, fn () { sleep 10 }) }
sleep 20ms
cancel $holder
assert_fails(fn () { await $holder }, "CancelledError")
timeout 1s { acquire(s); acquire(s) }
release(s)
release(s)

# limited: wraps a one-argument function.
let one = semaphore(1)
st.peak = 0
let slow = limited(one, fn (x) {
  st.now = st.now + 1
  if (st.now > st.peak) { st.peak = st.now }
  sleep 10ms
  st.now = st.now - 1
  return x + 1
})
let cs2 = []
for i in (range(4)) { push(cs2, async { return slow(i) }) }
assert_eq(gather $cs2, [1, 2, 3, 4])
assert_eq(st.peak, 1)

# chan_of / drain.
assert_eq(drain(chan_of(["a", "b", "c"])), ["a", "b", "c"])
assert_eq(drain(chan_of([])), [])
assert_fails(fn () { chan_of([1, null]) }, "Error")

# A producer and consumers over a bounded channel: every item once.
let ch = chan(2)
let producer = spawn { send_all(ch, range(20)); close(ch) }
let seen = []
let n = consume(ch, 3, fn (v) { sleep 1ms; push(seen, v) })
await $producer
assert_eq(n, 20)
assert_eq(sorted(seen), range(20))

# consume: the first error cancels the other consumers and is raised.
let e = assert_fails(fn () {
  consume(chan_of(range(10)), 2, fn (v) { if (v == 3) { throw "bad ${v}" } })
})
assert_eq(e.message, "bad 3")

# A two-stage pipeline: numbers -> squares -> collected.
let numbers = chan(4)
let squares = chan(4)
let feed = spawn { send_all(numbers, range(1, 6)); close(numbers) }
let stage = pipe_stage(numbers, squares, 2, fn (x) { return x * x })
let out = drain(squares)
await $feed
await $stage
assert_eq(sorted(out), [1, 4, 9, 16, 25])
echo "sync: ok"
