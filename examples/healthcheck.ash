#!/usr/bin/env ash
# healthcheck.ash — poll several HTTP services at once, each probe with a
# timeout and retries, and print a status table.
#
# Shows: `spawn` for long-running background processes (cancelled — and
# killed — at the end), std/retry (per-attempt `timeout`, backoff), std/parallel
# (all services probed concurrently), std/fs, and `try`/`finally`.
#
# It starts its own services on 127.0.0.1 only, on ports the OS picks:
#   web-ok      python3 -m http.server with a /health file   -> up
#   web-404     python3 -m http.server without it            -> down (HTTP 404)
#   web-hangs   a socket that accepts and never answers      -> down (timeout)
#   web-closed  a port nothing listens on                    -> down (refused)
# Needs python3 and curl.
# Run: ash examples/healthcheck.ash
# Exit status: 0 when exactly web-ok is up (what this demo expects), else 1.

use std/fs
use std/retry
use std/parallel

# A Python one-liner that listens and never answers (it prints its port).
let hang_server = "import socket, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(3600)"

# A free port: bind port 0, print it, close it (so nothing listens there).
let free_port = "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"

# Waits until a server's log names its port; returns it.
fn port_from_log(log) {
  for i in (range(250)) {
    if test -s $log {
      let text = $(cat $log)
      # "Serving HTTP on 127.0.0.1 port 40215 (http://127.0.0.1:40215/) ..."
      if (contains(text, " port ")) { return int(split(split(text, " port ")[1])[0]) }
      try { return int(trim(text)) } catch ValueError e { }
    }
    sleep 20ms
  }
  throw "server did not start: ${log}"
}

# One probe: GET /health must answer 200 within the attempt's timeout.
fn probe(url) {
  let code = $(curl -s -o /dev/null -w "%{http_code}" $url || true)
  if (code != "200") { throw "HTTP ${code}" }
  return code
}

fn check(svc) {
  let url = "http://127.0.0.1:${svc.port}/health"
  let t0 = now()
  try {
    retry(fn () { probe(url) }, {attempts: 3, delay: 100ms, timeout: 500ms})
    return {name: svc.name, up: true, why: "HTTP 200", took: now() - t0}
  } catch e {
    let why = e.message
    if (e.kind == "TimeoutError") { why = "timed out" }
    if (why == "HTTP 000") { why = "connection refused" }
    return {name: svc.name, up: false, why: why, took: now() - t0}
  }
}

let status = with_tempdir(fn (dir) {
  mkdir $dir/ok $dir/empty
  echo "ok" > $dir/ok/health
  let servers = []
  try {
    # Background services; their output goes to log files we read the
    # port from.
    push(servers, spawn { cd $dir/ok; python3 -u -m http.server 0 --bind 127.0.0.1 > $dir/ok.log 2>&1 })
    push(servers, spawn { cd $dir/empty; python3 -u -m http.server 0 --bind 127.0.0.1 > $dir/empty.log 2>&1 })
    push(servers, spawn { python3 -u -c $hang_server > $dir/hang.log })
    let services = [
      {name: "web-ok", port: port_from_log("${dir}/ok.log")},
      {name: "web-404", port: port_from_log("${dir}/empty.log")},
      {name: "web-hangs", port: port_from_log("${dir}/hang.log")},
      {name: "web-closed", port: int($(python3 -c $free_port))},
    ]
    let t0 = now()
    let results = pmap(services, check, {jobs: 4})
    for r in $results {
      let state = "DOWN"
      if (r.up) { state = "UP" }
      printf "%-11s %-5s %-20s %5.2fs\n" ${r.name} $state ${r.why} ${r.took}
    }
    let up = filter(results, fn (r) { return r.up })
    echo "${len(up)} up, ${len(results) - len(up)} down, checked in ${round(now() - t0, 2)} s"
    if (len(up) == 1 and up[0].name == "web-ok") { return 0 }
    return 1
  } finally {
    # Stop the services: cancelling a task kills its processes.
    for t in $servers { cancel $t }
    for t in $servers {
      try { await $t } catch CancelledError e { } catch e { }
    }
  }
}, "health")
exit $status
