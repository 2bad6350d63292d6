#!/usr/bin/env ash
# pipeline.ash — a producer/consumer pipeline between tasks with bounded
# channels (asyncio.Queue): a producer of work items, a stage of 3 workers
# that run an external command per item, and a collector.
#
#   producer --chan(4)--> 3 workers (wc -c) --chan(4)--> collector
#
# Shows: `chan(n)` back-pressure (the producer suspends while the channel is
# full), `send`/`recv`/`close`, std/sync (`consume`, `pipe_stage`, `drain`),
# and that the end of the stream is `close` + `recv` returning null.
#
# Run: ash examples/pipeline.ash

use std/sync

let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]
let jobs = chan(4)
let sizes = chan(4)
let stats = {produced: 0}

# The producer: one item per word; `send` suspends while 4 are queued.
let producer = spawn {
  for w in $words {
    send(jobs, w)
    stats.produced = stats.produced + 1
  }
  close(jobs)
}

# The stage: 3 workers, each runs a process per item; closes `sizes` at the
# end.
let stage = pipe_stage(jobs, sizes, 3, fn (w) {
  let n = int(trim($(printf "%s" $w | wc -c)))
  return {word: w, bytes: n}
})

# The collector: everything until `sizes` is closed and drained.
let results = drain(sizes)
await $producer
await $stage

let total = 0
for r in (sorted(results, {key: fn (r) { return r.word }})) {
  echo "${r.word}=${r.bytes}"
  total += r.bytes
}
echo "${stats.produced} produced, ${len(results)} processed, ${total} bytes in all"

# The same shape by hand, without std/sync: a semaphore caps how many
# consumers run a process at once.
let q = chan(2)
let slots = semaphore(2)
let seen = []
let feeder = spawn { for i in (range(6)) { send(q, i) }; close(q) }
async fn consumer(id) {
  while (true) {
    let item = recv(q)
    if (item == null) { return id }
    acquire(slots)
    try { sh -c "sleep 0.05"; push(seen, item) } finally { release(slots) }
  }
}
gather (consumer(1)) (consumer(2)) (consumer(3))
await $feeder
echo "hand-made: ${len(seen)} items, sorted ${sorted(seen)}"
