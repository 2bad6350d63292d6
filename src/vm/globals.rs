//! Global variables: top-level `fn`s of scripts, modules and interactive
//! lines, and top-level `let`s of modules and interactive lines.
//!
//! The compiler interns a global's name to an index (`LoadGlobal(i)`); the
//! VM reads and writes the value at that index. Both live in this one
//! table, and interning a name makes its slot, so every index the compiler
//! hands out is a slot of the table: there is nothing to keep in step.

use std::collections::HashMap;

use super::value::Value;

#[derive(Default)]
pub struct Globals {
    index: HashMap<String, u32>,
    names: Vec<String>,
    /// `values[i]` is the value of `names[i]`; `None` until defined (or
    /// after `unset`).
    values: Vec<Option<Value>>,
    /// The built-in function an undefined name was found to be, by index:
    /// a call of `contains` in a loop finds it once, not by a search of
    /// the table of built-ins per call. Built-ins never change, and a
    /// global defined later with the name is read before this.
    builtins: Vec<Option<Value>>,
}

impl Globals {
    /// The index of `name`, making its (undefined) slot the first time.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.values.push(None);
        self.index.insert(name.to_string(), i);
        i
    }

    /// The index of `name`, if it was ever interned.
    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub fn name(&self, index: u32) -> &str {
        self.names.get(index as usize).map_or("?", |s| s.as_str())
    }

    /// The value at `index`, if defined.
    #[inline]
    pub fn value(&self, index: u32) -> Option<&Value> {
        self.values.get(index as usize).and_then(Option::as_ref)
    }

    /// The built-in function found earlier for the undefined global `index`.
    #[inline]
    pub fn builtin(&self, index: u32) -> Option<&Value> {
        self.builtins.get(index as usize).and_then(Option::as_ref)
    }

    /// Remember that the undefined global `index` is the built-in `f`.
    pub fn remember_builtin(&mut self, index: u32, f: Value) {
        let i = index as usize;
        if self.builtins.len() <= i {
            self.builtins.resize_with(i + 1, || None);
        }
        self.builtins[i] = Some(f);
    }

    /// `let` / `fn` at the top level: define (or redefine) the global.
    pub fn define(&mut self, index: u32, v: Value) {
        debug_assert!((index as usize) < self.values.len(), "an interned index");
        if let Some(slot) = self.values.get_mut(index as usize) {
            *slot = Some(v);
        }
    }

    /// Assignment: only to a defined global; false if it is not.
    pub fn assign(&mut self, index: u32, v: Value) -> bool {
        match self.values.get_mut(index as usize) {
            Some(slot @ Some(_)) => {
                *slot = Some(v);
                true
            }
            _ => false,
        }
    }

    /// The value of the global `name`, if defined.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.value(self.index_of(name)?)
    }

    /// Define the global `name`.
    pub fn set(&mut self, name: &str, v: Value) {
        let i = self.intern(name);
        self.define(i, v);
    }

    /// `unset NAME`: the global is undefined again.
    pub fn unset(&mut self, name: &str) {
        if let Some(i) = self.index_of(name)
            && let Some(slot) = self.values.get_mut(i as usize)
        {
            *slot = None;
        }
    }

    /// The defined globals, in the order their names were interned.
    pub fn defined(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.names
            .iter()
            .zip(&self.values)
            .filter_map(|(n, v)| Some((n.as_str(), v.as_ref()?)))
    }

    /// How many names were interned.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interned_name_has_an_undefined_slot() {
        let mut g = Globals::default();
        let i = g.intern("x");
        assert_eq!(g.intern("x"), i);
        assert!(g.value(i).is_none());
        assert!(!g.assign(i, Value::Int(1)), "assigning an undefined global");
        g.define(i, Value::Int(2));
        assert!(g.assign(i, Value::Int(3)));
        assert!(matches!(g.get("x"), Some(Value::Int(3))));
        g.unset("x");
        assert!(g.value(i).is_none());
        assert_eq!(g.defined().count(), 0);
    }

    #[test]
    fn a_remembered_builtin_is_not_a_definition() {
        let mut g = Globals::default();
        let _ = g.intern("x");
        let i = g.intern("len");
        assert!(g.builtin(i).is_none());
        g.remember_builtin(i, Value::Int(7));
        assert!(matches!(g.builtin(i), Some(Value::Int(7))));
        assert!(g.builtin(0).is_none(), "only the name found");
        // Still undefined: assignment fails and the definitions omit it.
        assert!(g.value(i).is_none());
        assert!(!g.assign(i, Value::Int(1)));
        assert_eq!(g.defined().count(), 0);
    }
}
