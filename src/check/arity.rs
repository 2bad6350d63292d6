//! How many arguments each built-in function takes, for the `arity` lint.
//!
//! The built-ins check their own arguments at run time; this table states
//! the same counts for `--check`. Two tests hold it true: every entry is
//! probed against the function itself (too few and too many arguments
//! must fail with "takes", the counts listed must not), and every built-in
//! function must have an entry.

/// The argument counts a built-in accepts.
#[derive(Clone, Copy, Debug)]
pub enum Takes {
    /// From `.0` to `.1` arguments (`usize::MAX`: no upper bound).
    Range(usize, usize),
    /// Exactly one of these counts.
    OneOf(&'static [usize]),
}

const ANY: usize = usize::MAX;

/// Sorted by name (a test checks it).
static TABLE: &[(&str, Takes)] = &[
    ("_sort", Takes::Range(3, 3)),
    ("abs", Takes::Range(1, 1)),
    ("abspath", Takes::Range(1, 1)),
    ("acquire", Takes::Range(1, 1)),
    ("basename", Takes::Range(1, 1)),
    ("chan", Takes::Range(0, 1)),
    ("close", Takes::Range(1, 1)),
    ("contains", Takes::Range(2, 2)),
    ("dirname", Takes::Range(1, 1)),
    ("ends_with", Takes::Range(2, 2)),
    ("enumerate", Takes::Range(1, 2)),
    ("ext", Takes::Range(1, 1)),
    ("find_all", Takes::Range(2, 2)),
    ("float", Takes::Range(1, 1)),
    ("format", Takes::Range(1, ANY)),
    ("from_json", Takes::Range(1, 1)),
    ("get", Takes::Range(2, 3)),
    ("getenv", Takes::Range(1, 1)),
    ("glob", Takes::Range(1, 1)),
    ("index_of", Takes::Range(2, 2)),
    ("int", Takes::Range(1, 2)),
    ("items", Takes::Range(1, 1)),
    ("join", Takes::Range(2, 2)),
    ("join_path", Takes::Range(1, ANY)),
    ("keys", Takes::Range(1, 1)),
    ("len", Takes::Range(1, 1)),
    ("lines", Takes::Range(1, 1)),
    ("list", Takes::Range(1, 1)),
    ("lower", Takes::Range(1, 1)),
    ("match", Takes::Range(2, 2)),
    ("matches", Takes::Range(2, 2)),
    ("max", Takes::Range(1, ANY)),
    ("min", Takes::Range(1, ANY)),
    ("now", Takes::Range(0, 0)),
    ("pad_left", Takes::Range(2, 3)),
    ("pad_right", Takes::Range(2, 3)),
    ("push", Takes::Range(2, 2)),
    ("random", Takes::OneOf(&[0, 2])),
    ("range", Takes::Range(1, 3)),
    ("recv", Takes::Range(1, 1)),
    ("release", Takes::Range(1, 1)),
    ("remove", Takes::Range(2, 2)),
    ("repeat", Takes::Range(2, 2)),
    ("replace", Takes::Range(3, 3)),
    ("reversed", Takes::Range(1, 1)),
    ("round", Takes::Range(1, 2)),
    ("semaphore", Takes::Range(1, 1)),
    ("send", Takes::Range(2, 2)),
    ("split", Takes::Range(1, 3)),
    ("split_re", Takes::Range(2, 2)),
    ("starts_with", Takes::Range(2, 2)),
    ("stem", Takes::Range(1, 1)),
    ("str", Takes::Range(1, 1)),
    ("strftime", Takes::Range(1, 3)),
    ("strptime", Takes::Range(2, 3)),
    ("sub", Takes::Range(3, 3)),
    ("sum", Takes::Range(1, 1)),
    ("to_json", Takes::Range(1, 2)),
    ("trim", Takes::Range(1, 2)),
    ("type", Takes::Range(1, 1)),
    ("upper", Takes::Range(1, 1)),
    ("values", Takes::Range(1, 1)),
    ("zip", Takes::Range(1, ANY)),
];

pub fn of(name: &str) -> Option<Takes> {
    TABLE
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| TABLE[i].1)
}

impl Takes {
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Takes::Range(lo, hi) => (lo..=hi).contains(&n),
            Takes::OneOf(counts) => counts.contains(&n),
        }
    }

    /// "1 argument", "1 or 2 arguments", "at least 1 argument".
    pub fn describe(self) -> String {
        let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
        match self {
            Takes::Range(lo, hi) if lo == hi => format!("{lo} {}", plural(lo)),
            Takes::Range(lo, ANY) => format!("at least {lo} {}", plural(lo)),
            Takes::Range(lo, hi) if hi == lo + 1 => format!("{lo} or {hi} {}", plural(hi)),
            Takes::Range(lo, hi) => format!("{lo} to {hi} {}", plural(hi)),
            Takes::OneOf(counts) => {
                let text: Vec<String> = counts.iter().map(|c| c.to_string()).collect();
                let last = counts.last().copied().unwrap_or(0);
                format!("{} {}", text.join(" or "), plural(last))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::objects::Host;
    use crate::vm::value::Value;

    struct NoEnv;
    impl Host for NoEnv {
        fn getenv(&self, _: &[u8]) -> Option<Vec<u8>> {
            None
        }

        fn cwd(&self) -> std::path::PathBuf {
            std::path::PathBuf::from("/")
        }
    }

    /// Calls the built-in with `n` null arguments: was it refused for
    /// their number?
    fn refused_for_count(name: &str, n: usize) -> bool {
        let args = vec![Value::Null; n];
        let result = if let Some(f) = crate::builtins::functions::lookup(name) {
            (f.call)(&NoEnv, &args).err().map(|e| e.message.clone())
        } else if let Some(f) = crate::runtime::sync::lookup(name) {
            let ctx =
                std::rc::Rc::new(crate::runtime::TaskCtx::main(crate::runtime::Io::standard()));
            (f.call)(&args, &ctx).err().map(|e| e.message.clone())
        } else {
            panic!("`{name}` in check/arity.rs is not a built-in function");
        };
        result.is_some_and(|m| m.contains("takes"))
    }

    #[test]
    fn the_table_is_sorted() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn every_entry_agrees_with_the_function_itself() {
        for (name, takes) in TABLE {
            for n in 0..6 {
                assert_eq!(
                    refused_for_count(name, n),
                    !takes.accepts(n),
                    "{name}() with {n} arguments: the table says it takes {}",
                    takes.describe()
                );
            }
        }
    }

    #[test]
    fn every_builtin_function_has_an_entry() {
        let names = crate::builtins::functions::FUNCTIONS
            .iter()
            .map(|f| f.name)
            .chain(crate::runtime::sync::SUSPENDING.iter().map(|f| f.name));
        for name in names {
            assert!(
                of(name).is_some(),
                "the built-in function `{name}` has no entry in src/check/arity.rs: add how many arguments it takes, for `ash --check`"
            );
        }
    }
}
