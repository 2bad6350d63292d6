#!/usr/bin/env ash
# fanout.ash — run one command on several hosts at once over ssh, and print
# each host's output whole, with how long it took, and a summary.
#
# Shows: `spawn --on HOST` (the body runs in an ash on that host; the
# variables it uses travel with it, its return value comes back), a
# `timeout` that is enforced on the hosts too, `gather -k` (a host that
# fails or cannot be reached comes back as an error value, the others go
# on), and what ash reports when a host cannot be used.
#
# Needs OpenSSH's client, and hosts that ssh reaches without a password
# prompt. ash runs there if it is on their PATH; otherwise, on a host of
# the same system and architecture, ash copies itself to ~/.cache/ash.
# Run: ash examples/fanout.ash HOST... -- COMMAND [ARGS...]
#   e.g. ash examples/fanout.ash web1 web2 db1 -- uptime
#   ASH_SSH="ssh -F ./ssh_config" ash examples/fanout.ash ... uses another
#   ssh configuration; ASH_FANOUT_TIMEOUT=30s changes the limit (10s).
# Exit status: 0 when the command succeeded on every host, else 1.

let hosts = []
let cmd = []
let seen = false
for a in $args {
  if (seen) { push(cmd, a) } elif (a == "--") { seen = true } else { push(hosts, a) }
}
if (len(hosts) == 0 or len(cmd) == 0) {
  echo "usage: ash examples/fanout.ash HOST... -- COMMAND [ARGS...]" >&2
  exit 2
}
let limit = 10s
if (getenv("ASH_FANOUT_TIMEOUT") != null) {
  limit = float(replace(getenv("ASH_FANOUT_TIMEOUT"), "s", "")) * 1s
}

# One branch per host, each pinned to its host: an async block that runs
# the command there. Its output comes back as it is written; `--group`
# prints each branch's output whole, in the order of the hosts.
fn on(host) {
  return async {
    echo "== $host"
    let t0 = now()
    timeout $limit {
      await (spawn --on $host { $cmd })
    }
    echo "-- $host: done in ${int((now() - t0) * 1000)} ms"
  }
}

# At most 32 hosts at a time: each is a connection (and a handshake).
let results = gather -k --group -j 32 (map(hosts, on))
let failed = 0
for i in (range(len(hosts))) {
  let r = results[i]
  if (type(r) == "error") {
    failed += 1
    echo "!! ${hosts[i]}: ${r.kind}: ${r.message}"
  }
}
echo "${len(hosts) - failed} of ${len(hosts)} hosts ran `${join(cmd, " ")}`"
if (failed > 0) { exit 1 }
