#!/usr/bin/env ash
# testrunner.ash — run several test suites concurrently with
# `gather -k --group`, then print a pass/fail summary.
#
# Shows: `gather --group` (each suite's stdout and stderr printed whole, in
# order, never interleaved, even though the suites run at once), `gather -k`
# (a failing suite is an error value in the result list, and the others run
# to the end), std/assert for the tests themselves, and `timeout` around a
# suite.
#
# Run: ash examples/testrunner.ash
# Exit status: the number of failed suites (1 here: the `strings` suite has
# a deliberately wrong expectation).

use std/assert

# A suite is a name and a list of [test name, function] pairs. Each test
# prints its own line; the suite raises at the end if any test failed.
fn run_suite(name, tests) {
  let failed = 0
  echo "== ${name}"
  for [test, f] in $tests {
    try {
      f()
      echo "  ok    $test"
    } catch e {
      failed += 1
      echo "  FAIL  $test: ${e.message}"
      echo "$name/$test: ${e.kind}" >&2
    }
  }
  if (failed > 0) { throw "${failed} of ${len(tests)} tests failed" }
  return len(tests)
}

let arith = [
  ["addition", fn () { assert_eq(2 + 2, 4) }],
  ["division is true division", fn () { assert_eq(7 / 2, 3.5) }],
  ["overflow is an error", fn () { assert_fails(fn () { return 9223372036854775807 + 1 }) }],
]

let strings = [
  ["split", fn () { assert_eq(split("a b  c"), ["a", "b", "c"]) }],
  ["upper", fn () { sleep 50ms; assert_eq(upper("ash"), "ASH") }],
  ["a wrong expectation", fn () { assert_eq(replace("a-b", "-", "+"), "a b") }],
]

let processes = [
  ["pipeline", fn () { assert_eq($(printf "b\na\n" | sort | head -1), "a") }],
  ["exit status", fn () { assert_eq(assert_fails(fn () { sh -c "exit 3" }).status, 3) }],
  ["concurrent sleeps", fn () {
    let t0 = now()
    gather { sleep 200ms } { sleep 200ms } { sleep 200ms }
    assert(now() - t0 < 0.55, "ran at once")
  }],
]

let t0 = now()
let results = gather -k --group \
  { return timeout 10s { return run_suite("arith", arith) } } \
  { return timeout 10s { return run_suite("strings", strings) } } \
  { return timeout 10s { return run_suite("processes", processes) } }

let names = ["arith", "strings", "processes"]
let failed = 0
echo "== summary"
for [name, r] in (zip(names, results)) {
  if (type(r) == "error") {
    failed += 1
    echo "  FAIL  $name: ${r.message}"
  } else {
    echo "  pass  $name: $r tests"
  }
}
echo "${len(results) - failed} suites passed, ${failed} failed in ${round(now() - t0, 1)} s"
exit $failed
