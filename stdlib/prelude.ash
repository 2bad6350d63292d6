# Built-in functions that call ash functions, written in ash so they run
# on the VM (no re-entrant interpreter). Loaded before every script.

fn map(xs, f) {
  let out = []
  for x in $xs { push(out, f(x)) }
  return out
}

fn filter(xs, f) {
  let out = []
  for x in $xs {
    if (f(x)) { push(out, x) }
  }
  return out
}

# sorted(xs) / sorted(xs, {key: f, reverse: true}): the keys are computed
# here (they call ash functions), the stable sort is native (`_sort`).
fn sorted(xs, ...opts) {
  if (len(opts) == 0) { return _sort(xs, null, false) }
  if (len(opts) > 1 or type(opts[0]) != "map") {
    throw "sorted() takes a list and an options map {key: f, reverse: bool}"
  }
  let o = opts[0]
  let keys = null
  if (contains(o, "key")) { keys = map(xs, o.key) }
  return _sort(xs, keys, get(o, "reverse", false))
}

# any(xs) / all(xs): the truth of the items; any(xs, f) / all(xs, f):
# of f(item). They stop at the first item that decides.
fn any(xs, ...f) {
  for x in $xs {
    if (len(f) == 0) { if (x) { return true } } elif (f[0](x)) { return true }
  }
  return false
}

fn all(xs, ...f) {
  for x in $xs {
    if (len(f) == 0) { if (not x) { return false } } elif (not f[0](x)) { return false }
  }
  return true
}
