# std/sync — helpers on the built-in channels and semaphores
# (asyncio.Queue and asyncio.Semaphore).
#
#   use std/sync
#   let s = semaphore(2)
#   with_permit(s, fn () { make -C $dir })     # at most 2 makes at once
#
#   let ch = chan(10)
#   let p = spawn { send_all(ch, files); close(ch) }
#   consume(ch, 4, fn (f) { gzip $f })         # 4 consumers until drained
#
# The built-ins (see docs/builtins.md): `chan([capacity])`, `send(ch, v)`,
# `recv(ch)` (null once the channel is closed and drained), `close(ch)`,
# `semaphore(n)`, `acquire(s)`, `release(s)`. `send` on a full channel,
# `recv` on an empty one and `acquire` without a permit suspend the calling
# task (no `await`). Since `recv` signals the end with null, null cannot be
# sent as an item: `send_all` and `consume` refuse it.

# Calls f() and awaits the coroutine or task it returns, if any.
fn _sync_call(f, ...args) {
  let v = null
  if (len(args) == 0) { v = f() } else { v = f(args[0]) }
  if (type(v) == "coroutine" or type(v) == "task") { v = await $v }
  return v
}

# with_permit(s, f): acquire a permit of semaphore s, run f(), release the
# permit however f ends (error or cancellation too). f's value.
fn with_permit(s, f) {
  acquire(s)
  try {
    return _sync_call(f)
  } finally {
    release(s)
  }
}

# limited(s, f): a function like f (one argument) that holds a permit of s
# while it runs: `pmap(xs, limited(db_slots, query))`.
fn limited(s, f) {
  return fn (x) {
    acquire(s)
    try {
      return _sync_call(f, x)
    } finally {
      release(s)
    }
  }
}

# send_all(ch, xs): send every element of xs, in order (suspending while the
# channel is full). Does not close the channel.
fn send_all(ch, xs) {
  for x in $xs {
    if (x == null) { throw "send_all: null cannot be sent (it marks the end of a channel)" }
    send(ch, x)
  }
}

# chan_of(xs): a new closed channel holding the elements of xs: a work
# queue for consumers.
fn chan_of(xs) {
  let ch = chan()
  send_all(ch, xs)
  close(ch)
  return ch
}

# drain(ch): receive until the channel is closed and empty; the list of
# items received.
fn drain(ch) {
  let out = []
  while (true) {
    let v = recv(ch)
    if (v == null) { break }
    push(out, v)
  }
  return out
}

# consume(ch, n, f): run n consumers concurrently, each calling f(item) for
# the items it receives, until the channel is closed and drained. Returns
# the number of items handled. The first error cancels the other consumers
# and is raised (as gather); close the channel from the producer side, or
# the consumers wait for ever.
fn consume(ch, n, f) {
  let count = {n: 0}
  let worker = fn () {
    return async {
      while (true) {
        let v = recv(ch)
        if (v == null) { break }
        _sync_call(f, v)
        count.n = count.n + 1
      }
    }
  }
  let ws = []
  for i in (range(n)) { push(ws, worker()) }
  gather -j $n $ws
  return count.n
}

# pipe_stage(input, output, n, f): n workers that receive from input, send
# f(item) to output, and close output once input is drained and they are
# all done: one stage of a pipeline. Returns the task running the stage (a
# `spawn`), to await for its errors.
fn pipe_stage(input, output, n, f) {
  return spawn {
    try {
      consume(input, n, fn (v) {
        let r = _sync_call(f, v)
        if (r != null) { send(output, r) }
      })
    } finally {
      close(output)
    }
  }
}
