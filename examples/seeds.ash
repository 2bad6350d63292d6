#!/usr/bin/env ash
# seeds.ash — the core ideas of ash side by side, with timings:
#   1. sequential vs concurrent (three 0.3 s jobs: 0.9 s vs 0.3 s)
#   2. coroutine vs task (a coroutine is lazy, a task starts at once)
#   3. timeout (the body is cancelled and its process killed)
#   4. race (first success wins, the loser is cancelled)
#   5. gather -j (a limit: six 0.2 s jobs, two at a time: 0.6 s)
# Each line shows the measured time next to the expected one.
#
# Run: ash examples/seeds.ash

fn since(t0) { return round(now() - t0, 1) }

# 1. Sequential vs concurrent ------------------------------------------------
echo "1. sequential vs concurrent"
let t0 = now()
sh -c "sleep 0.3"
sh -c "sleep 0.3"
sh -c "sleep 0.3"
echo "   sequential: 3 x 0.3 s took ${since(t0)} s (expect 0.9)"
t0 = now()
gather { sh -c "sleep 0.3" } { sh -c "sleep 0.3" } { sh -c "sleep 0.3" }
echo "   gather:     3 x 0.3 s took ${since(t0)} s (expect 0.3)"

# 2. Coroutine vs task --------------------------------------------------------
echo "2. coroutine vs task"
let log = []
t0 = now()
let c = async { push(log, "coroutine ran"); sleep 300ms; return "c" }
let t = spawn { push(log, "task ran"); sleep 300ms; return "t" }
sleep 300ms
# The task has been running meanwhile; the coroutine has not started.
echo "   after 0.3 s: ${log}"
let vt = await $t
echo "   await task:      ${vt} at ${since(t0)} s (expect 0.3: it ran in the background)"
let vc = await $c
echo "   await coroutine: ${vc} at ${since(t0)} s (expect 0.6: it only started now)"

# 3. Timeout ------------------------------------------------------------------
echo "3. timeout"
t0 = now()
try {
  timeout 300ms { sh -c "sleep 5" }
} catch TimeoutError e {
  echo "   ${e.kind} after ${since(t0)} s (expect 0.3); sleep 5 was killed"
}
# As an expression, with a value when in time.
let v = timeout 1s { sleep 100ms; return "in time" }
echo "   timeout 1s { ... } = ${v}"

# 4. Race ---------------------------------------------------------------------
echo "4. race"
t0 = now()
let winner = race { sh -c "sleep 2"; return "slow mirror" } { sleep 200ms; return "fast mirror" }
echo "   ${winner} won at ${since(t0)} s (expect 0.2); the slow one was cancelled"

# 5. gather -j ------------------------------------------------------------------
echo "5. gather -j 2"
t0 = now()
async fn job(n) { sleep 200ms; return n * n }
let squares = gather -j 2 (map(range(6), job))
echo "   ${squares} in ${since(t0)} s (expect 0.6: three rounds of two)"
