# std/parallel — map a function over a list with a concurrency limit.
#
#   use std/parallel
#   let sums = pmap(files, fn (f) { return $(sha256sum $f) }, {jobs: 8})
#   let results = pmap(hosts, check, {jobs: 4, keep_going: true, progress: true})
#
# Built on `gather`: results come back in the order of the input list,
# whatever order the calls finish in.
#
# Options (a map, or an int meaning `jobs`; every key optional):
#   jobs        at most this many calls run at once (default: the number of
#               CPUs, from `nproc`; at least 1)
#   keep_going  false (default): fail fast — the first error cancels the
#               calls still running (their processes are killed) and is
#               raised. true: every call runs; a failed call's error value
#               takes its place in the result list (as `gather -k`).
#   progress    true: while running, keep `gather --progress`'s line on
#               stderr — done/total, running, failed, elapsed, ETA, a bar
#               — redrawn in place, with what the calls print above it.
#               Only when stderr is a terminal; otherwise nothing is
#               printed. (default false)
#   label       accepted for compatibility; the line is gather's
#
# `f` is called with one element. It may be an `fn` (it runs inside its own
# branch, so its commands run concurrently with the other branches) or an
# `async fn` (the coroutine it returns is awaited in the branch).

fn _par_cpus() {
  try {
    return int(trim($(nproc 2>/dev/null)))
  } catch e {
    return 4
  }
}

fn _par_opts(more) {
  let o = {jobs: null, keep_going: false, progress: false, label: "pmap"}
  if (len(more) > 0 and more[0] != null) {
    let given = more[0]
    if (type(given) == "int") {
      o.jobs = given
    } elif (type(given) == "map") {
      for k in (keys(given)) {
        if (not contains(o, k)) { throw "pmap: unknown option '${k}'" }
        o[k] = given[k]
      }
    } else {
      throw "pmap: options must be a map or an int, got ${type(given)}"
    }
  }
  if (o.jobs == null) { o.jobs = _par_cpus() }
  if (o.jobs < 1) { throw "pmap: jobs must be at least 1" }
  return o
}

# pmap(xs, f[, options]): [f(x) for x in xs], run concurrently (see above).
#
# How: one `gather -j N` branch per item (`gather -k` with keep_going), so
# `ash --journal` records each call and `ash --resume` runs again only the
# calls that did not end ok; with `progress`, `gather --progress` counts
# them.
fn pmap(xs, f, ...more) {
  let o = _par_opts(more)
  let n = min(o.jobs, len(xs))
  if (n == 0) { return [] }
  let call = fn (x) {
    return async {
      let v = f(x)
      if (type(v) == "coroutine" or type(v) == "task") { v = await $v }
      return v
    }
  }
  if (o.progress) {
    if (o.keep_going) { return gather -k -j $n --progress (map(xs, call)) }
    return gather -j $n --progress (map(xs, call))
  }
  if (o.keep_going) { return gather -k -j $n (map(xs, call)) }
  return gather -j $n (map(xs, call))
}

# peach(xs, f[, options]): like pmap, for the effects; returns null.
fn peach(xs, f, ...more) {
  if (len(more) > 0) {
    pmap(xs, f, more[0])
  } else {
    pmap(xs, f)
  }
}

# pmap_stats(results): for a keep_going result list, {ok, failed, errors}
# where errors is the list of error values.
fn pmap_stats(results) {
  let errors = filter(results, fn (r) { return type(r) == "error" })
  return {ok: len(results) - len(errors), failed: len(errors), errors: errors}
}
