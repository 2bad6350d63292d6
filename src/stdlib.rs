//! The standard library: modules written in ash (`stdlib/*.ash`), embedded
//! in the binary and loaded by `use std/NAME`.

/// `map` and `filter`, loaded the first time either name is looked up.
pub const PRELUDE: &str = include_str!("../stdlib/prelude.ash");

/// The functions the prelude defines.
pub const PRELUDE_NAMES: &[&str] = &["all", "any", "filter", "map", "sorted"];

/// Every standard module by name, sorted.
static MODULES: &[(&str, &str)] = &[
    ("assert", include_str!("../stdlib/assert.ash")),
    ("fs", include_str!("../stdlib/fs.ash")),
    ("log", include_str!("../stdlib/log.ash")),
    ("parallel", include_str!("../stdlib/parallel.ash")),
    ("retry", include_str!("../stdlib/retry.ash")),
    ("sync", include_str!("../stdlib/sync.ash")),
];

/// The source of `std/NAME`.
pub fn module(name: &str) -> Option<&'static str> {
    MODULES
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| MODULES[i].1)
}

/// Names of the standard modules (for completion and docs).
pub fn names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|(n, _)| *n)
}
