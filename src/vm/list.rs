//! Lists: shared, mutable vectors of values (as in Python). A list made by
//! `range(...)` starts *lazy*: its items are made only when something needs
//! them all (`push`, `sorted`, `str`, ...); its length, its items by index,
//! truth and `for` loops read the range itself. So `for i in
//! (range(100000000)) { }` starts at once and a `timeout` around it fires on
//! time, where building the list took seconds and 1.6 GB. A lazy list is
//! still a list: `type` says so, and everything that takes a list takes it.

use std::cell::{BorrowError, BorrowMutError, Cell, Ref, RefCell, RefMut};

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

    /// Make a lazy list's items. While the range is there, nobody holds a
    /// borrow of `items` (every borrow comes through here first).
    fn materialize(&self) {
        let Some(extra) = self.extra.take() else {
            return;
        };
        match *extra {
            Extra::Range(range) => *self.items.borrow_mut() = range.items(),
            Extra::Named(_) => self.extra.set(Some(extra)),
        }
    }

    /// The items (made first if the list is lazy).
    pub fn borrow(&self) -> Ref<'_, Vec<Value>> {
        self.materialize();
        self.items.borrow()
    }

    pub fn borrow_mut(&self) -> RefMut<'_, Vec<Value>> {
        self.materialize();
        self.items.borrow_mut()
    }

    pub fn try_borrow(&self) -> Result<Ref<'_, Vec<Value>>, BorrowError> {
        self.materialize();
        self.items.try_borrow()
    }

    pub fn try_borrow_mut(&self) -> Result<RefMut<'_, Vec<Value>>, BorrowMutError> {
        self.materialize();
        self.items.try_borrow_mut()
    }

    /// The number of items, without making them.
    pub fn len(&self) -> usize {
        match self.lazy_range() {
            Some(r) => r.len,
            None => self.items.borrow().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `i`, without making the others.
    pub fn get(&self, i: usize) -> Option<Value> {
        match self.lazy_range() {
            Some(r) => r.get(i).map(Value::Int),
            None => self.items.borrow().get(i).cloned(),
        }
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
            Extra::Named(_) => None,
        })
    }

    /// A match's named groups (`m.named`); `None` for other lists.
    pub fn named(&self) -> Option<Map> {
        self.peek_extra(|e| match e {
            Extra::Named(m) => Some(m.clone()),
            Extra::Range(_) => None,
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
}
