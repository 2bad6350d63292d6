//! The built-in functions of expression mode (`len`, `split`, ...).

use crate::vm::objects::NativeFn;

/// Every built-in function, sorted by name (a test checks the order).
pub static FUNCTIONS: &[NativeFn] = &[];

/// Look a built-in function up by name.
pub fn lookup(name: &str) -> Option<&'static NativeFn> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}
