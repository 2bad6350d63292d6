# Tests of std/assert, written with std/assert itself.
use std/assert

# Passing assertions return quietly.
assert(true)
assert(1)
assert_eq(1 + 1, 2)
assert_eq([1, {a: "b"}], [1, {a: "b"}])
assert_eq(1, 1.0)
assert_ne("a", "b")
assert_true(1 < 2)
assert_false(1 > 2)
assert_type(2s, "duration")
assert_contains("hello", "ell")
assert_contains([1, 2, 3], 2)
assert_contains({k: 1}, "k")
assert_not_contains([1, 2], 3)
assert_near(0.1 + 0.2, 0.3, 0.000001)
assert_eq(assert_ok(fn () { return 42 }), 42)

# Failing assertions throw an Error whose message shows both values.
fn message_of(f) {
  let e = assert_fails(f, "Error")
  return e.message
}
assert_eq(message_of(fn () { assert(0) }), "assert failed: got 0")
assert_eq(message_of(fn () { assert_eq("a b", ["a", 1]) }), "assert_eq failed: actual \"a b\", expected [\"a\", 1]")
assert_eq(message_of(fn () { assert_eq(null, {k: 2}, "lookup") }), "lookup: assert_eq failed: actual null, expected {\"k\": 2}")
assert_eq(message_of(fn () { assert_ne(3, 3) }), "assert_ne failed: both are 3")
assert_eq(message_of(fn () { assert_true(1) }), "assert_true failed: got 1")
assert_eq(message_of(fn () { assert_false(null) }), "assert_false failed: got null")
assert_eq(message_of(fn () { assert_type("1", "int") }), "assert_type failed: expected int, got string \"1\"")
assert_eq(message_of(fn () { assert_contains("abc", "x") }), "assert_contains failed: \"x\" not in \"abc\"")
assert_eq(message_of(fn () { assert_not_contains([1], 1) }), "assert_not_contains failed: 1 in [1]")
assert_eq(message_of(fn () { assert_near(1, 2, 0.5) }), "assert_near failed: 1 and 2 differ by more than 0.5")
assert_eq(message_of(fn () { assert_ok(fn () { false }) }), "assert_ok failed: raised CommandError: `false` exited with status 1")
assert_eq(message_of(fn () { fail("no") }), "fail: no")

# assert_fails: the kind filter, coroutines, and the error it returns.
let e = assert_fails(fn () { false }, "CommandError")
assert_eq(e.status, 1)
assert_eq(e.command, "false")
async fn late() { sleep 10ms; throw "late" }
assert_eq(assert_fails(late).message, "late")
assert_eq(message_of(fn () { assert_fails(fn () { return 1 }) }), "assert_fails failed: expected an error, nothing was raised")
assert_eq(message_of(fn () { assert_fails(fn () { return 1 }, "TimeoutError") }), "assert_fails failed: expected a TimeoutError, nothing was raised")
assert_eq(message_of(fn () { assert_fails(fn () { throw "x" }, "ValueError") }), "assert_fails failed: expected a ValueError, got Error: x")

# An uncaught failure names the caller's line (checked by tests/stdlib.rs
# through a separate run); here, that the error's own location is in the
# module.
assert_eq(e.kind, "CommandError")
echo "assert: ok"
