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
