//! The observers' clock: `CLOCK_MONOTONIC` in nanoseconds, the same in
//! every process of the machine (so a nested ash's events line up with
//! its parent's in one trace), and strictly increasing within a process:
//! two events are never at the same instant, so a span that starts after
//! another always starts inside it, and a flow's end is always inside
//! the span it binds to.

use std::cell::Cell;

thread_local! {
    static LAST: Cell<u64> = const { Cell::new(0) };
}

/// Nanoseconds of `CLOCK_MONOTONIC`, later than any earlier reading here.
pub fn now() -> u64 {
    // Through the C library's vDSO call: rustix's own vDSO lookup reads
    // the auxiliary vector in a way that crashes under valgrind, which
    // the tracing benchmarks run ash under.
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .unwrap_or_else(|_| nix::sys::time::TimeSpec::new(0, 0));
    let ns = (t.tv_sec() as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec() as u64);
    LAST.with(|last| {
        let ns = ns.max(last.get() + 1);
        last.set(ns);
        ns
    })
}

/// `CLOCK_MONOTONIC` now, as the wall clock reads it: the Unix time in
/// nanoseconds that corresponds to monotonic instant `ns`.
pub fn unix_nanos_at(ns: u64) -> u64 {
    let mono = now();
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    unix.saturating_sub(mono.saturating_sub(ns))
}
