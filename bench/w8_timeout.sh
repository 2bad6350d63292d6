# W8: `timeout 100ms` around an external `sleep ARG` (bash: coreutils timeout,
# $EPOCHREALTIME for the clock).
LC_ALL=C
t0=$EPOCHREALTIME
timeout 0.1 /bin/sleep "$1"
t1=$EPOCHREALTIME
us=$(( ${t1/./} - ${t0/./} ))
if pgrep -f "^/bin/sleep $1" > /dev/null; then state=alive; else state=gone; fi
printf '%d.%06d %s\n' $((us / 1000000)) $((us % 1000000)) "$state"
