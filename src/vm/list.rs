//! Lists: shared, mutable vectors of values (as in Python). A list made by
//! `range(...)` starts *lazy*: its items are made only when something needs
//! them all (`push`, `sorted`, `str`, ...); its length, its items by index,
//! truth and `for` loops read the range itself. So `for i in
//! (range(100000000)) { }` starts at once and a `timeout` around it fires on
//! time, where building the list took seconds and 1.6 GB. A lazy list is
//! still a list: `type` says so, and everything that takes a list takes it.

use std::cell::{BorrowError, BorrowMutError, Cell, Ref, RefCell, RefMut};
use std::rc::{Rc, Weak};

use super::value::{Map, Value};

/// An arithmetic sequence of ints: `start`, `start + step`, ... (`len`
/// items). Every item fits an `i64` (checked by whoever makes one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: i64,
    pub step: i64,
    pub len: usize,
}

impl Range {
    /// Item `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<i64> {
        if i >= self.len {
            return None;
        }
        // In range by construction: start + (len - 1) * step fits.
        Some(self.start.wrapping_add((i as i64).wrapping_mul(self.step)))
    }

    fn items(&self) -> Vec<Value> {
        (0..self.len)
            .map(|i| Value::Int(self.get(i).unwrap_or_default()))
            .collect()
    }
}

/// A `for` loop over a list of at least this many items that is held
/// elsewhere iterates a lazy copy of it ([`ListCell::copy_of`]); a smaller
/// one is copied at once (a few microseconds).
pub const LAZY_COPY: usize = 4096;

pub struct ListCell {
    items: RefCell<Vec<Value>>,
    /// Almost always `None`; boxed so that it costs every list one word
    /// (a list is 40 bytes, its `Rc` allocation the 64-byte class).
    extra: Cell<Option<Box<Extra>>>,
}

/// What a few lists have besides their items.
enum Extra {
    /// The range whose items these are, until they are made.
    Range(Range),
    /// A regex match's named groups, `m.named` (docs/builtins.md, match).
    Named(Map),
    /// This list is a copy of that one's items as they are now, not made
    /// until that list is about to change or this one is needed whole: a
    /// `for` loop over a big list holds the loop for no copy when it starts
    /// and for no million drops when it ends (W11).
    CopyOf(Rc<ListCell>),
    /// The lists that are copies of this one ([`Extra::CopyOf`]): each is
    /// made before this list changes.
    Copies(Vec<Weak<ListCell>>),
}

/// A list nested millions deep is freed without recursing once per level
/// (see `trash`).
impl Drop for ListCell {
    fn drop(&mut self) {
        super::trash::dispose(std::mem::take(self.items.get_mut()));
    }
}

impl ListCell {
    pub fn new(items: Vec<Value>) -> ListCell {
        ListCell {
            items: RefCell::new(items),
            extra: Cell::new(None),
        }
    }

    /// A list of the items of `range`, made when first needed.
    pub fn lazy(range: Range) -> ListCell {
        ListCell {
            items: RefCell::new(Vec::new()),
            extra: Cell::new(Some(Box::new(Extra::Range(range)))),
        }
    }

    /// A match: the groups, with the named ones as a map (`m.named`).
    pub fn with_named(items: Vec<Value>, named: Map) -> ListCell {
        ListCell {
            items: RefCell::new(items),
            extra: Cell::new(Some(Box::new(Extra::Named(named)))),
        }
    }

    /// A copy of `src`'s items as they are now, made only when `src` is
    /// about to change or the copy is needed whole (see [`Extra::CopyOf`]);
    /// `None` for a list that has an extra of another kind.
    pub fn copy_of(src: &Rc<ListCell>) -> Option<Rc<ListCell>> {
        let mut copies = match src.extra.take() {
            None => Vec::new(),
            Some(extra) => match *extra {
                Extra::Copies(copies) => copies,
                other => {
                    src.extra.set(Some(Box::new(other)));
                    return None;
                }
            },
        };
        let copy = Rc::new(ListCell {
            items: RefCell::new(Vec::new()),
            extra: Cell::new(Some(Box::new(Extra::CopyOf(src.clone())))),
        });
        // Copies that ended (loops that finished) are forgotten here.
        copies.retain(|c| c.strong_count() > 0);
        copies.push(Rc::downgrade(&copy));
        src.extra.set(Some(Box::new(Extra::Copies(copies))));
        Some(copy)
    }

    /// Make a lazy list's items, and, when this list is about to change
    /// (`change`), the items of its lazy copies. While the range or the
    /// source is there, nobody holds a borrow of `items` (every borrow
    /// comes through here first).
    #[inline]
    fn materialize(&self, change: bool) {
        if let Some(extra) = self.extra.take() {
            self.materialize_extra(extra, change);
        }
    }

    /// [`Self::materialize`]'s rare part, kept out of line so the callers
    /// inlined into the VM's dispatch loop stay small.
    #[inline(never)]
    fn materialize_extra(&self, extra: Box<Extra>, change: bool) {
        match *extra {
            Extra::Range(range) => *self.items.borrow_mut() = range.items(),
            Extra::CopyOf(src) => *self.items.borrow_mut() = src.borrow().clone(),
            Extra::Copies(copies) if change => {
                for copy in copies.iter().filter_map(Weak::upgrade) {
                    copy.materialize(false);
                }
            }
            Extra::Named(_) | Extra::Copies(_) => self.extra.set(Some(extra)),
        }
    }

    /// The items (made first if the list is lazy).
    pub fn borrow(&self) -> Ref<'_, Vec<Value>> {
        self.materialize(false);
        self.items.borrow()
    }

    pub fn borrow_mut(&self) -> RefMut<'_, Vec<Value>> {
        self.materialize(true);
        self.items.borrow_mut()
    }

    pub fn try_borrow(&self) -> Result<Ref<'_, Vec<Value>>, BorrowError> {
        self.materialize(false);
        self.items.try_borrow()
    }

    pub fn try_borrow_mut(&self) -> Result<RefMut<'_, Vec<Value>>, BorrowMutError> {
        self.materialize(true);
        self.items.try_borrow_mut()
    }

    /// The number of items, without making them.
    pub fn len(&self) -> usize {
        if let Some(n) = self.peek_extra(|e| match e {
            Extra::Range(r) => Some(r.len),
            Extra::CopyOf(src) => Some(src.len()),
            _ => None,
        }) {
            return n;
        }
        self.items.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `i`, without making the others.
    pub fn get(&self, i: usize) -> Option<Value> {
        if let Some(item) = self.peek_extra(|e| match e {
            Extra::Range(r) => Some(r.get(i).map(Value::Int)),
            Extra::CopyOf(src) => Some(src.get(i)),
            _ => None,
        }) {
            return item;
        }
        self.items.borrow().get(i).cloned()
    }

    /// Look at the extra without taking it (a `Cell` of a non-`Copy`
    /// value is read by taking it and putting it back).
    fn peek_extra<T>(&self, f: impl FnOnce(&Extra) -> Option<T>) -> Option<T> {
        let extra = self.extra.take()?;
        let out = f(&extra);
        self.extra.set(Some(extra));
        out
    }

    /// The range of a list whose items are not made yet.
    pub fn lazy_range(&self) -> Option<Range> {
        self.peek_extra(|e| match e {
            Extra::Range(r) => Some(*r),
            _ => None,
        })
    }

    /// A match's named groups (`m.named`); `None` for other lists.
    pub fn named(&self) -> Option<Map> {
        self.peek_extra(|e| match e {
            Extra::Named(m) => Some(m.clone()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lazy_list_reads_its_range_until_its_items_are_needed() {
        let l = ListCell::lazy(Range {
            start: 10,
            step: -3,
            len: 4,
        });
        assert_eq!(l.len(), 4);
        assert!(matches!(l.get(3), Some(Value::Int(1))));
        assert!(l.get(4).is_none());
        assert!(l.lazy_range().is_some());
        l.borrow_mut().push(Value::Int(0));
        assert!(l.lazy_range().is_none());
        let items: Vec<i64> = l
            .borrow()
            .iter()
            .map(|v| match v {
                Value::Int(i) => *i,
                _ => -1,
            })
            .collect();
        assert_eq!(items, [10, 7, 4, 1, 0]);
    }

    fn ints(l: &ListCell) -> Vec<i64> {
        l.borrow()
            .iter()
            .map(|v| match v {
                Value::Int(i) => *i,
                _ => -1,
            })
            .collect()
    }

    #[test]
    fn a_lazy_copy_keeps_the_items_its_source_had_and_copies_only_on_a_change() {
        let src = Rc::new(ListCell::new((0..5).map(Value::Int).collect()));
        let copy = ListCell::copy_of(&src).expect("a plain list");
        let second = ListCell::copy_of(&src).expect("a plain list");
        // Nothing copied yet: the copies read the source.
        assert!(copy.items.borrow().is_empty());
        assert_eq!(copy.len(), 5);
        assert!(matches!(copy.get(4), Some(Value::Int(4))));
        assert!(copy.get(5).is_none());
        // Reading the source whole copies nothing either.
        assert_eq!(ints(&src), [0, 1, 2, 3, 4]);
        assert!(copy.items.borrow().is_empty());
        // A change of the source makes every live copy first.
        src.borrow_mut().push(Value::Int(5));
        src.borrow_mut()[0] = Value::Int(9);
        assert_eq!(ints(&copy), [0, 1, 2, 3, 4]);
        assert_eq!(ints(&second), [0, 1, 2, 3, 4]);
        assert_eq!(ints(&src), [9, 1, 2, 3, 4, 5]);
        // A copy made after the change sees it, and changing a copy leaves
        // the source alone.
        let third = ListCell::copy_of(&src).expect("a plain list");
        third.borrow_mut().clear();
        assert_eq!(src.len(), 6);
        assert_eq!(third.len(), 0);
        // Ended copies are forgotten when the next one is made.
        drop((copy, second, third));
        let _fourth = ListCell::copy_of(&src).expect("a plain list");
        let kept = src.peek_extra(|e| match e {
            Extra::Copies(c) => Some(c.len()),
            _ => None,
        });
        assert_eq!(kept, Some(1));
        // A match's list (it has named groups) is copied as before.
        let named = Rc::new(ListCell::with_named(
            Vec::new(),
            super::super::value::MapCell::new(Default::default()),
        ));
        assert!(ListCell::copy_of(&named).is_none());
    }
}
