//! Dropping values nested millions deep without overflowing the stack.
//!
//! Dropping a list drops its elements, which drop theirs: Rust's drop glue
//! recurses once per level, so a list nested 3,000,000 deep (or a chain of
//! maps, or of closures each capturing the next) overflowed the stack when
//! it was freed, even at exit after the script had succeeded. As in
//! CPython's "trashcan", the destructors of containers count how deeply
//! they are nested; past [`DEPTH`] they put what they hold on a pile
//! instead of dropping it, and the outermost destructor empties the pile
//! in a loop. Ordinary drops cost two thread-local reads and writes.

use std::any::Any;
use std::cell::{Cell, RefCell};

/// Nested container drops beyond this are deferred to the pile.
const DEPTH: u32 = 64;

thread_local! {
    static NESTING: Cell<u32> = const { Cell::new(0) };
    static PILE: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Drop `contents` (what a container held: its elements, captured
/// variables, arguments), now if the drops in progress are shallow, else
/// later, from the outermost drop's loop.
pub fn dispose<T: 'static>(contents: T) {
    let depth = NESTING.get();
    if depth >= DEPTH {
        PILE.with_borrow_mut(|pile| pile.push(Box::new(contents)));
        return;
    }
    NESTING.set(depth + 1);
    drop(contents);
    if depth == 0 {
        while let Some(deferred) = PILE.with_borrow_mut(Vec::pop) {
            drop(deferred);
        }
    }
    NESTING.set(depth);
}
