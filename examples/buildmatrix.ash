#!/usr/bin/env ash
# buildmatrix.ash — build every combination of a matrix at once; the first
# failing branch cancels the others (their processes are killed) and its
# error is reported. asyncio.TaskGroup semantics, which is what a plain
# `gather` does.
#
# Shows: `gather` fail-fast, `CancelledError` reaching the siblings'
# processes, `finally` running in every cancelled branch, `gather -j` to cap
# concurrency, and timing that proves nobody waited for the slow branches.
#
# The "builds" are `sh -c` commands that sleep, so it runs anywhere. One
# branch (linux/arm64/release) fails after 0.3 s; the slowest would take 5 s.
# Run: ash examples/buildmatrix.ash [--all-pass]
# Exit status: 0 (the failure is expected and checked); `--all-pass` runs
# a matrix without the broken branch, which then succeeds.

let oses = ["linux", "macos"]
let arches = ["x86_64", "arm64"]
let profiles = ["debug", "release"]
let broken = "linux/arm64/release"
let state = {}

fn build(target) {
  return async {
    state[target] = "running"
    # A fake build: its duration depends on the target.
    let secs = 0.1 * (len(target) % 5) + 0.2
    if (contains(target, "macos")) { secs = 5 }
    if (target == broken) { secs = 0.3 }
    try {
      sh -c "sleep $secs"
      if (target == broken) { sh -c "echo 'error[E0425]: cannot find value' >&2; exit 2" }
      state[target] = "ok"
      return target
    } catch CancelledError e {
      state[target] = "cancelled"
      throw $e
    } catch e {
      state[target] = "FAILED (${e.kind}, status ${e.status})"
      throw $e
    }
  }
}

# Build every target of the matrix at once; the first failure cancels
# the others.
fn main(--all-pass) {   # leave out the broken branch
  if (all_pass) { broken = "" }
  let targets = []
  for os in $oses {
    for arch in $arches {
      for p in $profiles { push(targets, "$os/$arch/$p") }
    }
  }

  let t0 = now()
  let code = 0
  try {
    let built = gather -j 8 (map(targets, build))
    echo "built ${len(built)} targets"
  } catch e {
    echo "matrix failed: ${e.message}"
    code = e.status
  }
  let took = now() - t0
  for t in $targets { printf "  %-22s %s\n" $t ${get(state, t, "not started")} }
  echo "finished in ${round(took, 1)} s (the slowest branch alone would take 5 s)"
  if (broken != "" and code != 2) { echo "expected the broken branch's status 2"; return 1 }
  if (broken == "" and code != 0) { return 1 }
}
