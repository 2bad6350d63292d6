//! Compiled code: a function prototype holds its instructions, constants
//! and, in a vector parallel to the instructions, their source spans.

/// A compiled function body.
pub struct Proto {
    pub name: String,
}
