# std/assert — assertions for tests written in ash.
#
#   use std/assert
#   assert_eq(len(xs), 3)
#   assert_fails(fn () { false }, "CommandError")
#
# A failed assertion throws an `Error` whose message starts with the
# assertion's name and shows the values involved (as `repr`, so strings are
# quoted). Uncaught, ash reports it with the location of the `throw` in this
# module followed by `called from FILE:LINE:COL` — the line of the test that
# failed. Every assertion takes an optional last argument: a message (any
# value) prepended to the report.

# The repr of any value: strings quoted, lists and maps as in `echo`.
fn _assert_repr(v) {
  # The repr of a map shows its values as reprs: take ours back out.
  let r = str({v: v})
  let body = split(r, "{\"v\": ", 1)[1]
  let out = []
  for i in (range(len(body) - 1)) { push(out, body[i]) }
  return join(out, "")
}

fn _assert_fail(what, detail, more) {
  let text = "${what} failed"
  if (len(more) > 0) { text = "${more[0]}: ${text}" }
  if (detail != "") { text = "${text}: ${detail}" }
  throw $text
}

# assert(cond[, msg]): cond must be truthy.
fn assert(cond, ...more) {
  if (not cond) { _assert_fail("assert", "got ${_assert_repr(cond)}", more) }
}

# assert_eq(actual, expected[, msg]): actual == expected.
fn assert_eq(actual, expected, ...more) {
  if (actual != expected) {
    _assert_fail("assert_eq", "actual ${_assert_repr(actual)}, expected ${_assert_repr(expected)}", more)
  }
}

# assert_ne(a, b[, msg]): a != b.
fn assert_ne(a, b, ...more) {
  if (a == b) {
    _assert_fail("assert_ne", "both are ${_assert_repr(a)}", more)
  }
}

# assert_true(v[, msg]) / assert_false(v[, msg]): exactly `true` / `false`.
fn assert_true(v, ...more) {
  if (v != true or type(v) != "bool") { _assert_fail("assert_true", "got ${_assert_repr(v)}", more) }
}

fn assert_false(v, ...more) {
  if (v != false or type(v) != "bool") { _assert_fail("assert_false", "got ${_assert_repr(v)}", more) }
}

# assert_type(v, name[, msg]): type(v) == name.
fn assert_type(v, name, ...more) {
  if (type(v) != name) {
    _assert_fail("assert_type", "expected ${name}, got ${type(v)} ${_assert_repr(v)}", more)
  }
}

# assert_contains(container, item[, msg]): a substring of a string, an
# element of a list, a key of a map (the built-in `contains`).
fn assert_contains(container, item, ...more) {
  if (not contains(container, item)) {
    _assert_fail("assert_contains", "${_assert_repr(item)} not in ${_assert_repr(container)}", more)
  }
}

# assert_not_contains(container, item[, msg]): the opposite.
fn assert_not_contains(container, item, ...more) {
  if (contains(container, item)) {
    _assert_fail("assert_not_contains", "${_assert_repr(item)} in ${_assert_repr(container)}", more)
  }
}

# assert_fails(f[, kind[, msg]]): calling f() (and awaiting the coroutine it
# returns, if any) must raise an error — of kind `kind` when given (a kind
# name such as "CommandError", or null for any). Returns the error, so
# its fields can be checked further. A CancelledError counts only when
# `kind` is "CancelledError"; otherwise it goes on (it means the test
# itself is being cancelled).
fn assert_fails(f, ...more) {
  let kind = null
  let rest = []
  if (len(more) > 0) { kind = more[0] }
  if (len(more) > 1) { rest = [more[1]] }
  let caught = null
  try {
    let v = f()
    if (type(v) == "coroutine" or type(v) == "task") { await $v }
  } catch CancelledError e {
    # Only when asked for: otherwise it is this task being cancelled.
    if (kind != "CancelledError") { throw $e }
    caught = e
  } catch e {
    caught = e
  }
  if (caught == null) {
    let want = "an error"
    if (kind != null) { want = "a ${kind}" }
    _assert_fail("assert_fails", "expected ${want}, nothing was raised", rest)
  }
  if (kind != null and caught.kind != kind) {
    _assert_fail("assert_fails", "expected a ${kind}, got ${caught.kind}: ${caught.message}", rest)
  }
  return caught
}

# assert_ok(f[, msg]): f() (awaited if a coroutine) must not raise; returns
# its value. Reports the error's kind and message when it does.
fn assert_ok(f, ...more) {
  try {
    let v = f()
    if (type(v) == "coroutine" or type(v) == "task") { v = await $v }
    return v
  } catch e {
    _assert_fail("assert_ok", "raised ${e.kind}: ${e.message}", more)
  }
}

# assert_near(a, b, tolerance[, msg]): |a - b| <= tolerance (numbers or
# durations).
fn assert_near(a, b, tol, ...more) {
  if (abs(a - b) > tol) {
    _assert_fail("assert_near", "${_assert_repr(a)} and ${_assert_repr(b)} differ by more than ${_assert_repr(tol)}", more)
  }
}

# fail(msg): fail unconditionally.
fn fail(msg) { throw "fail: ${msg}" }
