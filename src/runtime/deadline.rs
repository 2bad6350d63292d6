//! Deadlines and grace periods across processes (section 16 of the
//! language).
//!
//! - Inside a `timeout`, every program ash starts gets `ASH_DEADLINE`: the
//!   absolute deadline as Unix time in seconds with a fraction (the
//!   earliest of the scopes the task is under, so an inner `timeout` never
//!   extends an outer one), and `ASH_GRACE`: the grace period of that
//!   scope, in seconds.
//! - An ash started with `ASH_DEADLINE` runs its whole script under it, as
//!   if in a `timeout` (an uncaught `TimeoutError`, status 124, when it
//!   passes); its own `timeout`s can only come sooner.
//! - An ash started with `ASH_GRACE` uses it when a signal (its parent's
//!   cancellation) or that deadline stops it, so its `finally` blocks get
//!   the time the cancelling scope allows; its own children get that less
//!   a quarter (at most 0.5 s), so that it can finish before the parent's
//!   SIGKILL.
//!
//! The deadline crosses hosts too: a remote body is sent the deadline of
//! the task that runs it (`crate::remote`).

use std::ffi::OsString;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::cancel::{CancelToken, DEFAULT_GRACE};

pub const DEADLINE_VAR: &str = "ASH_DEADLINE";
pub const GRACE_VAR: &str = "ASH_GRACE";

/// The two clocks read at (nearly) the same moment: Unix time in seconds,
/// and the monotonic instant. The reads are bracketed by two monotonic ones
/// and retried when something came between them (the thread preempted on a
/// loaded machine), so that the same deadline exported twice, or read back
/// by a nested ash, is the same instant to within microseconds, not
/// however long the preemption lasted.
fn clocks() -> (f64, Instant) {
    let mut best: Option<(Duration, f64, Instant)> = None;
    for _ in 0..4 {
        let before = Instant::now();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let after = Instant::now();
        let spread = after - before;
        let mid = before + spread / 2;
        if best.is_none_or(|(s, _, _)| spread < s) {
            best = Some((spread, wall, mid));
        }
        if spread < Duration::from_micros(50) {
            break;
        }
    }
    best.map(|(_, wall, mid)| (wall, mid))
        .unwrap_or_else(|| (0.0, Instant::now()))
}

/// Unix time, in seconds, of an instant of the monotonic clock.
pub fn unix_time(at: Instant) -> f64 {
    let (wall, now) = clocks();
    if at >= now {
        wall + (at - now).as_secs_f64()
    } else {
        wall - (now - at).as_secs_f64()
    }
}

/// The instant of the monotonic clock at Unix time `unix` (now if it has
/// passed).
pub fn instant_at(unix: f64) -> Instant {
    let (wall, now) = clocks();
    let ahead = unix - wall;
    if ahead.is_finite() && ahead > 0.0 {
        // Beyond what an Instant holds: far enough.
        now.checked_add(Duration::from_secs_f64(ahead.min(1e9)))
            .unwrap_or(now)
    } else {
        now
    }
}

/// `ASH_DEADLINE`'s text for an instant: seconds with microseconds.
pub fn format_unix(unix: f64) -> String {
    format!("{unix:.6}")
}

/// A number of seconds from an environment variable: `None` when unset;
/// `Err` with a message when set but not a finite, non-negative number.
fn seconds_var(name: &str) -> Result<Option<f64>, String> {
    let Some(text) = std::env::var_os(name) else {
        return Ok(None);
    };
    let text = text.to_string_lossy();
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(format!("ignoring {name}={text:?}: not a number of seconds")),
    }
}

/// The deadline this ash was started under (`ASH_DEADLINE`), as Unix
/// time; a malformed value is reported as a warning and ignored.
pub fn inherited() -> Option<f64> {
    match seconds_var(DEADLINE_VAR) {
        Ok(v) => v,
        Err(message) => {
            crate::diag::warn(&message);
            None
        }
    }
}

/// The grace period this ash gets when its parent cancels it
/// (`ASH_GRACE`), else the default.
pub fn inherited_grace() -> Duration {
    match seconds_var(GRACE_VAR) {
        Ok(Some(secs)) => Duration::from_secs_f64(secs.min(1e9)),
        Ok(None) => DEFAULT_GRACE,
        Err(message) => {
            crate::diag::warn(&message);
            DEFAULT_GRACE
        }
    }
}

/// The part of an inherited grace period this ash gives its own children:
/// all but a quarter of it (at most 0.5 s), so that it can stop them, run
/// what is left of its `finally` blocks and exit before the parent's
/// SIGKILL.
pub fn grace_for_children(grace: Duration) -> Duration {
    grace - (grace / 4).min(Duration::from_millis(500))
}

/// What the programs a task starts get in their environment: nothing
/// outside a `timeout`; inside, `ASH_DEADLINE` and `ASH_GRACE`.
pub fn env_for(token: &CancelToken) -> Option<[(OsString, OsString); 2]> {
    let (when, grace) = token.earliest_deadline()?;
    Some([
        (DEADLINE_VAR.into(), format_unix(unix_time(when)).into()),
        (
            GRACE_VAR.into(),
            format!("{:.3}", grace.as_secs_f64()).into(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_time_and_instants_round_trip() {
        let at = Instant::now() + Duration::from_millis(1500);
        let back = instant_at(unix_time(at));
        let diff = if back > at { back - at } else { at - back };
        assert!(diff < Duration::from_millis(5), "{diff:?}");
        // A time in the past is now.
        assert!(instant_at(1.0) <= Instant::now());
    }

    #[test]
    fn an_inner_deadline_never_extends_an_outer_one() {
        let token = CancelToken::default();
        let now = Instant::now();
        token.push_deadline(1, now + Duration::from_secs(1), Duration::from_millis(300));
        token.push_deadline(2, now + Duration::from_secs(10), DEFAULT_GRACE);
        assert_eq!(
            token.earliest_deadline(),
            Some((now + Duration::from_secs(1), Duration::from_millis(300)))
        );
        // A child context knows it, but does not enforce it.
        let child = token.child();
        assert_eq!(
            child.earliest_deadline().map(|d| d.0),
            Some(now + Duration::from_secs(1))
        );
        assert_eq!(child.check_deadlines(), None);
        token.pop_deadline(1);
        assert_eq!(
            token.earliest_deadline().map(|d| d.0),
            Some(now + Duration::from_secs(10))
        );
    }
}
