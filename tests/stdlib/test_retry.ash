# Tests of std/retry.
use std/assert
use std/retry

# Succeeds at once: one call, its value.
let calls = 0
let v = retry(fn () { calls = calls + 1; return "ok" })
assert_eq(v, "ok")
assert_eq(calls, 1)

# Fails twice, then succeeds; the waits grow: 50ms then 100ms (no jitter).
calls = 0
let t0 = now()
v = retry(fn () {
  calls = calls + 1
  if (calls < 3) { throw "flaky ${calls}" }
  return calls
}, {attempts: 5, delay: 50ms, jitter: 0})
let took = now() - t0
assert_eq(v, 3)
assert_eq(calls, 3)
assert(took >= 0.15, "waited 50ms + 100ms, took ${took}")
assert(took < 3.0, "took ${took}")

# Out of attempts: the last error is raised unchanged.
calls = 0
let e = assert_fails(fn () {
  retry(fn () { calls = calls + 1; throw "attempt ${calls}" }, {attempts: 3, delay: 1ms})
}, "Error")
assert_eq(e.message, "attempt 3")
assert_eq(calls, 3)

# An int as options means the number of attempts.
calls = 0
assert_fails(fn () { retry(fn () { calls = calls + 1; false }, 2) }, "CommandError")
assert_eq(calls, 2)

# The filter: only the listed kinds retry.
calls = 0
assert_fails(fn () {
  retry(fn () { calls = calls + 1; throw "not retried" }, {attempts: 5, delay: 1ms, on: ["CommandError"]})
}, "Error")
assert_eq(calls, 1)

# ... or a predicate on the error: retry status 75 (EX_TEMPFAIL) only.
calls = 0
let e2 = assert_fails(fn () {
  retry(fn () {
    calls = calls + 1
    if (calls < 3) { sh -c "exit 75" }
    sh -c "exit 2"
  }, {attempts: 5, delay: 1ms, on: fn (e) { return e.kind == "CommandError" and e.status == 75 }})
}, "CommandError")
assert_eq(e2.status, 2)
assert_eq(calls, 3)

# A per-attempt timeout: the first attempt hangs and is cut off.
calls = 0
t0 = now()
v = retry(fn () {
  calls = calls + 1
  if (calls == 1) { sleep 5 }
  return "second"
}, {attempts: 3, delay: 1ms, timeout: 100ms})
assert_eq(v, "second")
assert(now() - t0 < 4, "the hung attempt (5 s) was cut off")

# ... and when every attempt times out, TimeoutError is raised.
assert_fails(fn () { retry(fn () { sleep 5 }, {attempts: 2, delay: 1ms, timeout: 50ms}) }, "TimeoutError")

# A coroutine-producing function: each attempt gets a fresh coroutine.
calls = 0
async fn fetch() {
  calls = calls + 1
  sleep 10ms
  if (calls < 2) { throw "not yet" }
  return "fetched"
}
assert_eq(retry(fetch, {delay: 1ms}), "fetched")
assert_eq(calls, 2)

# retry_cmd: a command, in command form, with an int of attempts.
let dir = $(mktemp -d)
retry_cmd 4 sh -c "echo x >> $dir/count; test \$(wc -l < $dir/count) -ge 3"
assert_eq(trim($(wc -l < $dir/count)), "3")
# ... and with an options map; the command's failure surfaces at the end.
let e3 = assert_fails(fn () { retry_cmd({attempts: 2, delay: 1ms}, "sh", "-c", "exit 4") }, "CommandError")
assert_eq(e3.status, 4)
rm -rf $dir

# The backoff schedule: delay * factor^(n-1), capped at max_delay.
let o = {delay: 100ms, factor: 2, max_delay: 350ms, jitter: 0}
assert_eq(retry_delay(o, 1), 100ms)
assert_eq(retry_delay(o, 2), 200ms)
assert_eq(retry_delay(o, 3), 350ms)
# Jitter spreads a wait within +-jitter of it.
let oj = {delay: 1s, factor: 2, max_delay: 10s, jitter: 0.5}
for i in (range(20)) {
  let d = retry_delay(oj, 1)
  assert(d >= 500ms and d <= 1500ms, "jittered ${d}")
}

# Bad options are errors, not silently ignored.
assert_eq(assert_fails(fn () { retry(fn () { return 1 }, {tries: 2}) }).message, "retry: unknown option 'tries'")

# Cancelling the caller stops the loop, even during a wait.
t0 = now()
assert_fails(fn () {
  timeout 200ms { retry(fn () { false }, {attempts: 100, delay: 5s}) }
}, "TimeoutError")
assert(now() - t0 < 3, "cancelled during the 5 s backoff wait")

# verbose: a line on stderr per retry.
calls = 0
fn noisy() {
  retry(fn () { calls = calls + 1; if (calls < 2) { throw "boom" } }, {delay: 1ms, jitter: 0, verbose: true})
}
let err = $(noisy 2>&1)
assert_contains(err, "retry: attempt 1/3 failed (Error: boom); next in")
echo "retry: ok"
