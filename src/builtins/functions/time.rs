//! `strftime` and `strptime`, with the `jiff` crate (time zones from the
//! system's zoneinfo). Times are seconds since the Unix epoch as floats,
//! like `now()`. The zone is the system's local one unless a third
//! argument names one (`"UTC"`, `"Europe/Paris"`).

use jiff::Timestamp;
use jiff::fmt::strtime;
use jiff::tz::TimeZone;

use super::{arity, want_str, wrong_type};
use crate::vm::error::Error;
use crate::vm::objects::Host;
use crate::vm::value::Value;

fn zone(name: &str, v: Option<&Value>) -> Result<TimeZone, Error> {
    match v {
        None | Some(Value::Null) => Ok(TimeZone::system()),
        Some(Value::Str(s)) => {
            let s = String::from_utf8_lossy(s);
            if s == "UTC" || s == "utc" {
                return Ok(TimeZone::UTC);
            }
            if s == "local" {
                return Ok(TimeZone::system());
            }
            TimeZone::get(&s)
                .map_err(|e| Error::value(format!("{name}(): unknown time zone {s:?}: {e}")))
        }
        Some(other) => Err(wrong_type(name, "a time zone name", other)),
    }
}

/// `strftime(fmt[, t[, zone]])`: `t` (default now) as text.
pub(super) fn strftime(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("strftime", args, 1, 3)?;
    let fmt = want_str("strftime", "a format string", &args[0])?;
    let secs = match args.get(1) {
        None | Some(Value::Null) => None,
        Some(Value::Int(i)) => Some(*i as f64),
        Some(Value::Float(f)) => Some(*f),
        Some(other) => return Err(wrong_type("strftime", "a time in seconds", other)),
    };
    let ts = match secs {
        None => Timestamp::now(),
        Some(s) => {
            let nanos = (s * 1e9).round();
            if !nanos.is_finite() {
                return Err(Error::value("strftime(): the time is out of range"));
            }
            Timestamp::from_nanosecond(nanos as i128)
                .map_err(|e| Error::value(format!("strftime(): {e}")))?
        }
    };
    let tz = zone("strftime", args.get(2))?;
    let zdt = ts.to_zoned_datetime(tz);
    strtime::format(fmt, &zdt)
        .map(Value::from)
        .map_err(|e| Error::value(format!("strftime(): {e}")))
}

/// `strptime(s, fmt[, zone])`: the time `s` shows, in seconds; a text
/// with its own offset (`%z`) keeps it, else it is read in the zone.
pub(super) fn strptime(_: &dyn Host, args: &[Value]) -> Result<Value, Error> {
    arity("strptime", args, 2, 3)?;
    let text = want_str("strptime", "a string", &args[0])?;
    let fmt = want_str("strptime", "a format string", &args[1])?;
    let bad = |e: jiff::Error| {
        Error::value(format!(
            "strptime(): {:?} does not match {:?}: {e}",
            String::from_utf8_lossy(text),
            String::from_utf8_lossy(fmt)
        ))
    };
    let parsed = strtime::parse(fmt, text).map_err(bad)?;
    let ts = match parsed.offset() {
        Some(_) => parsed.to_timestamp().map_err(bad)?,
        None => {
            let tz = zone("strptime", args.get(2))?;
            let dt = parsed.to_datetime().map_err(bad)?;
            dt.to_zoned_datetime(tz).map_err(bad)?.timestamp()
        }
    };
    let nanos = ts.as_nanosecond();
    Ok(Value::Float(nanos as f64 / 1e9))
}
