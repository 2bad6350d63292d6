# Tests of std/log.
use std/assert
use std/log

# Timestamps: UTC, milliseconds, computed in ash.
assert_eq(log_timestamp(0), "1970-01-01T00:00:00.000Z")
assert_eq(log_timestamp(951782400.5), "2000-02-29T00:00:00.500Z")
assert_eq(log_timestamp(1700000000.123), "2023-11-14T22:13:20.123Z")
assert_eq(log_timestamp(1709164800), "2024-02-29T00:00:00.000Z")
assert_eq(log_timestamp(4102444799.999), "2099-12-31T23:59:59.999Z")
assert_eq(len(log_timestamp()), 24)

# A line on stderr: timestamp, level padded to 5, the words joined.
fn info_line() { log_info "hello" world 42 }
let out = $(info_line 2>/dev/null)
assert_eq(out, "", "nothing on stdout")
let line = $(info_line 2>&1)
assert_eq(len(line), 24 + 1 + 5 + 1 + len("hello world 42"))
assert(ends_with(line, "Z INFO  hello world 42"), line)

# Not a terminal here: no colour codes.
assert_not_contains(line, "[32m")

# The threshold: info by default, so debug is dropped.
fn all_levels() {
  log_debug "d"
  log_info "i"
  log_warn "w"
  log_error "e"
  log "warn" "via log"
}
let lines_ = lines($(all_levels 2>&1))
assert_eq(len(lines_), 4)
assert(ends_with(lines_[0], "INFO  i"))
assert(ends_with(lines_[1], "WARN  w"))
assert(ends_with(lines_[2], "ERROR e"))
assert(ends_with(lines_[3], "WARN  via log"))

assert_eq(log_level("debug"), "info")
assert_eq(len(lines($(all_levels 2>&1))), 5)
assert_eq(log_level("error"), "debug")
assert_eq(len(lines($(all_levels 2>&1))), 1)
log_level info

# Colour can be forced: the level is wrapped in SGR codes.
log_color true
let colored = $(log_warn "c" 2>&1)
assert_contains(colored, "[33mWARN ")
assert_contains(colored, "[0m c")
log_color false
assert_not_contains($(log_warn "c" 2>&1), "[33m")

# Unknown levels are errors.
assert_eq(assert_fails(fn () { log_level("loud") }).message, "log_level: unknown level 'loud' (debug, info, warn, error)")
assert_fails(fn () { log("trace", "x") })

# ASH_LOG_LEVEL and NO_COLOR are read when the module loads.
let fresh = $(ASH_LOG_LEVEL=warn ash -c "use std/log; log_info hidden; log_warn shown" 2>&1)
assert_eq(len(lines(fresh)), 1)
assert(ends_with(fresh, "WARN  shown"), fresh)
echo "log: ok"
