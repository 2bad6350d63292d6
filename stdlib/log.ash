# std/log — leveled, timestamped logging to stderr.
#
#   use std/log
#   log_info "building" $target
#   log_warn "disk almost full:" (pct) "%"
#   log_level debug            # show debug lines too
#
# A line is `2025-01-31T12:00:00.123Z INFO  message`: the time in UTC with
# milliseconds (computed from `now()`, no process started), the level, and
# the arguments joined by spaces. Levels, from lowest: debug, info, warn,
# error. Lines below the threshold are dropped; the threshold starts at
# `$ASH_LOG_LEVEL` if set, else info.
#
# Colour: the level is coloured when stderr is a terminal (checked once, when
# the module is loaded, with the external `test -t 2`), unless `NO_COLOR` is
# set (https://no-color.org). `log_color(true|false)` forces it either way.

let _log_levels = {debug: 10, info: 20, warn: 30, error: 40}
# SGR codes of each level; the escape character itself is made when colour
# is turned on (ash strings have no escape for it: the external printf(1)
# makes one).
let _log_colors = {debug: "[2m", info: "[32m", warn: "[33m", error: "[1;31m"}
let _log_state = {threshold: 20, color: false, esc: null}

fn _log_init() {
  let env_level = getenv("ASH_LOG_LEVEL")
  if (env_level != null and contains(_log_levels, lower(trim(env_level)))) {
    _log_state.threshold = _log_levels[lower(trim(env_level))]
  }
  if (getenv("NO_COLOR") == null or getenv("NO_COLOR") == "") {
    if env test -t 2 { log_color(true) }
  }
}

# log_level NAME: set the threshold (debug, info, warn, error). Returns the
# previous level's name.
fn log_level(name) {
  let n = lower(str(name))
  if (not contains(_log_levels, n)) { throw "log_level: unknown level '${name}' (debug, info, warn, error)" }
  let old = "info"
  for k in (keys(_log_levels)) {
    if (_log_levels[k] == _log_state.threshold) { old = k }
  }
  _log_state.threshold = _log_levels[n]
  return old
}

# log_color BOOL: force colour on or off.
fn log_color(on) {
  _log_state.color = on == true or on == "true" or on == "on"
  if (_log_state.color and _log_state.esc == null) { _log_state.esc = $(env printf "\033") }
}

fn _log_pad(n, width) {
  let s = str(n)
  while (len(s) < width) { s = "0" + s }
  return s
}

# Floor division of non-negative ints (`/` always gives a float).
fn _log_div(a, b) { return int((a - a % b) / b) }

# log_timestamp([t]): `now()` (or seconds since the epoch `t`) as
# `YYYY-MM-DDTHH:MM:SS.mmmZ`, in UTC.
fn log_timestamp(...at) {
  let t = now()
  if (len(at) > 0) { t = float(at[0]) }
  let ms_total = int(t * 1000)
  let ms = ms_total % 1000
  let secs = _log_div(ms_total, 1000)
  let days = _log_div(secs, 86400)
  let sod = secs % 86400
  # Howard Hinnant's days-to-civil algorithm (dates from 1970 on).
  let z = days + 719468
  let era = _log_div(z, 146097)
  let doe = z - era * 146097
  let yoe = _log_div(doe - _log_div(doe, 1460) + _log_div(doe, 36524) - _log_div(doe, 146096), 365)
  let y = yoe + era * 400
  let doy = doe - (365 * yoe + _log_div(yoe, 4) - _log_div(yoe, 100))
  let mp = _log_div(5 * doy + 2, 153)
  let d = doy - _log_div(153 * mp + 2, 5) + 1
  let m = mp + 3
  if (mp >= 10) { m = mp - 9 }
  if (m <= 2) { y = y + 1 }
  let hh = _log_div(sod, 3600)
  let mm = _log_div(sod % 3600, 60)
  let ss = sod % 60
  return "${y}-${_log_pad(m, 2)}-${_log_pad(d, 2)}T${_log_pad(hh, 2)}:${_log_pad(mm, 2)}:${_log_pad(ss, 2)}.${_log_pad(ms, 3)}Z"
}

# log LEVEL ARGS...: one line at LEVEL.
fn log(level, ...words) {
  let lv = lower(str(level))
  if (not contains(_log_levels, lv)) { throw "log: unknown level '${level}' (debug, info, warn, error)" }
  if (_log_levels[lv] < _log_state.threshold) { return null }
  let tag = upper(lv)
  while (len(tag) < 5) { tag = tag + " " }
  if (_log_state.color) {
    let esc = _log_state.esc
    tag = "${esc}${_log_colors[lv]}${tag}${esc}[0m"
  }
  echo "${log_timestamp()} ${tag} ${join(words, " ")}" >&2
  return null
}

fn log_debug(...words) { log("debug", join(words, " ")) }
fn log_info(...words) { log("info", join(words, " ")) }
fn log_warn(...words) { log("warn", join(words, " ")) }
fn log_error(...words) { log("error", join(words, " ")) }

_log_init
