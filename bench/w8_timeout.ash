# W8: `timeout 100ms` around an external `sleep ARG` (ARG = args[0], about 10 s).
# Prints the seconds from before the timeout to after it returned, and whether
# the sleep is still running right then.
let t0 = now()
try { timeout 100ms { /bin/sleep ${args[0]} } } catch TimeoutError e { }
let t = now() - t0
if pgrep -f "^/bin/sleep ${args[0]}" > /dev/null { echo "$t alive" } else { echo "$t gone" }
