# std/retry — retry a block, a coroutine or a command with exponential
# backoff and jitter.
#
#   use std/retry
#   let body = retry(fn () { return $(curl -sf $url) }, {attempts: 5, timeout: 2s})
#   retry_cmd 3 curl -sf -o page.html $url
#
# Options (a map; every key optional):
#   attempts   total number of tries (default 3; at least 1)
#   delay      wait after the first failure (default 100ms)
#   factor     the wait is multiplied by this after each failure (default 2)
#   max_delay  upper bound of one wait (default 10s)
#   jitter     fraction of random spread around each wait, 0 to 1
#              (default 0.1: a 1s wait becomes 0.9s..1.1s)
#   timeout    a duration: each attempt runs under `timeout` and an attempt
#              that takes longer fails with TimeoutError (default: none)
#   on         which errors are retried: a list of kind names
#              (["CommandError", "TimeoutError"]) or a function taking the
#              error and returning true to retry (default: every error)
#   verbose    true: print a line on stderr before each retry
#
# The last error is re-raised unchanged (same kind, message and location)
# when the attempts run out or the filter says no. CancelledError is never
# retried: cancelling the caller (or an enclosing `timeout`) cancels the
# retry loop, including the wait between attempts.

fn _retry_opts(more) {
  let o = {attempts: 3, delay: 100ms, factor: 2, max_delay: 10s, jitter: 0.1, timeout: null, on: null, verbose: false}
  if (len(more) == 0 or more[0] == null) { return o }
  let given = more[0]
  if (type(given) == "int") {
    o.attempts = given
    return o
  }
  if (type(given) != "map") { throw "retry: options must be a map or an int, got ${type(given)}" }
  for k in (keys(given)) {
    if (not contains(o, k)) { throw "retry: unknown option '${k}'" }
    o[k] = given[k]
  }
  if (o.attempts < 1) { throw "retry: attempts must be at least 1" }
  # Plain numbers are seconds.
  for k in (["delay", "max_delay", "timeout"]) {
    if (type(o[k]) == "int" or type(o[k]) == "float") { o[k] = 1s * o[k] }
  }
  return o
}

fn _retry_wanted(o, e) {
  if (o.on == null) { return true }
  if (type(o.on) == "list") { return contains(o.on, e.kind) }
  if (type(o.on) == "string") { return e.kind == o.on }
  return o.on(e)
}

# The wait before retry number `n` (n = 1 after the first failure).
fn retry_delay(o, n) {
  let d = o.delay
  for i in (range(n - 1)) { d = d * o.factor }
  if (d > o.max_delay) { d = o.max_delay }
  if (o.jitter > 0) {
    d = d * (1 - o.jitter + 2 * o.jitter * random())
  }
  return d
}

# One attempt: call f, await what it returns if that is a coroutine or a
# task, under the per-attempt timeout when there is one.
fn _retry_once(f, o) {
  if (o.timeout == null) {
    let v = f()
    if (type(v) == "coroutine" or type(v) == "task") { v = await $v }
    return v
  }
  let limit = o.timeout
  return timeout $limit {
    let v = f()
    if (type(v) == "coroutine" or type(v) == "task") { v = await $v }
    return v
  }
}

# retry(f[, options]): call f() until it succeeds; its value. `f` is a
# function (an `fn` that runs commands, or an `async fn`: the coroutine it
# returns is awaited). A fresh call per attempt, since a coroutine runs
# once. `options` is a map (above) or an int (the number of attempts).
fn retry(f, ...more) {
  let o = _retry_opts(more)
  let n = 1
  while (true) {
    try {
      return _retry_once(f, o)
    } catch e {
      if (n >= o.attempts or not _retry_wanted(o, e)) { throw $e }
      let d = retry_delay(o, n)
      if (o.verbose) {
        echo "retry: attempt ${n}/${o.attempts} failed (${e.kind}: ${e.message}); next in ${round(float(d), 2)}s" >&2
      }
      sleep $d
      n = n + 1
    }
  }
}

# retry_cmd OPTIONS CMD ARGS...: run a command until it succeeds. OPTIONS
# is an int (attempts; in command form the word `5` works) or a map
# (`retry_cmd ({attempts: 5, timeout: 1s}) curl -sf $url`). The command's
# output goes where the caller's goes; its failures raise CommandError as
# usual once the attempts run out.
fn retry_cmd(opts, ...cmd) {
  if (len(cmd) == 0) { throw "retry_cmd: no command given" }
  if (type(opts) == "string") { opts = int(opts) }
  retry(fn () { $cmd }, opts)
}
