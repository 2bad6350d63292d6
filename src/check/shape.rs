//! What a value is known to be, as far as the lints care.
//!
//! The walk builds a symbolic [`Shape`] for every expression; shapes that
//! depend on a variable ([`Shape::Ref`]) or on a call are only evaluated
//! after the whole script has been seen ([`Facts::eval`]), so that a later
//! reassignment or `push` is taken into account. Evaluation gives a
//! [`Val`]: a small lattice where anything uncertain is `Unknown`, and the
//! lints act only on certain facts.

use std::rc::Rc;

/// A symbolic value.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Val(Val),
    /// The value of a variable (a binding of the walk), all its
    /// assignments and pushes considered.
    Ref(usize),
    /// The value of a name no local variable defines: the script's
    /// top-level definitions, a module's, a built-in.
    Global(String),
    /// The result of calling this.
    Call(Box<Shape>),
    /// `map(list, f)`: a list as long as `list` of what `f` returns.
    Map(Box<Shape>, Box<Shape>),
    /// A list with the same length and elements as this one (`filter`,
    /// `sorted`, `reversed`, slices).
    SameList(Box<Shape>),
    /// `a + b`: two lists joined (or something else).
    Add(Box<Shape>, Box<Shape>),
    /// `xs[i]`: an element.
    Elem(Box<Shape>),
    /// A list literal, or a loop-built list: its elements.
    List {
        input: bool,
        elems: Vec<Shape>,
    },
}

impl Shape {
    pub const UNKNOWN: Shape = Shape::Val(Val::Unknown);
    pub const OTHER: Shape = Shape::Val(Val::Other);
    pub const COROUTINE: Shape = Shape::Val(Val::Coroutine);
    pub const TASK: Shape = Shape::Val(Val::Task);

    /// A list whose length comes from input (lines of a file, `args`).
    pub fn input_list() -> Shape {
        Shape::Val(Val::List {
            input: true,
            elem: Box::new(Val::Other),
        })
    }
}

/// A function's signature, as far as calls are concerned.
#[derive(Debug, PartialEq)]
pub struct Sig {
    /// The name it was declared with, if any (for messages).
    pub name: Option<String>,
    pub params: usize,
    /// Has a `...rest` parameter.
    pub rest: bool,
    pub is_async: bool,
    /// What a call returns (for an `fn`: its `return`s joined).
    pub ret: Shape,
    pub defined: Defined,
}

/// Where a function is defined.
#[derive(Clone, Debug, PartialEq)]
pub enum Defined {
    /// In the script being checked.
    Here(crate::ast::Span),
    /// In a module: `std/NAME`, or a local file's path.
    In(String),
}

/// An evaluated value: facts that are certain, or `Unknown`.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// No value at all yet (the elements of an empty list).
    Nothing,
    Unknown,
    /// Some value that is none of the ones below (a number, a string, a
    /// map...).
    Other,
    Coroutine,
    Task,
    Func(Rc<Sig>),
    /// A built-in function, by name.
    Builtin(&'static str),
    /// A list; `input`: its length comes from input.
    List {
        input: bool,
        elem: Box<Val>,
    },
}

impl Val {
    /// The least value that both may be.
    pub fn join(self, other: Val) -> Val {
        match (self, other) {
            (Val::Nothing, v) | (v, Val::Nothing) => v,
            (Val::List { input: a, elem: ea }, Val::List { input: b, elem: eb }) => Val::List {
                input: a || b,
                elem: Box::new(ea.join(*eb)),
            },
            (Val::Func(a), Val::Func(b)) if Rc::ptr_eq(&a, &b) => Val::Func(a),
            (a, b) if a == b => a,
            _ => Val::Unknown,
        }
    }
}

/// Deepest chain of references followed (a longer one is `Unknown`).
const MAX_DEPTH: u32 = 48;

/// Most steps one evaluation takes: values that share parts
/// (`let b = [a, a]`, `let c = [b, b]`, ...) would otherwise take time
/// exponential in their depth. Past it the value is `Unknown`.
const MAX_STEPS: u32 = 20_000;

#[derive(Default)]
struct EvalState {
    /// The variables being evaluated (a cycle adds nothing).
    visiting: Vec<usize>,
    steps: u32,
}

/// The loops a store happened in: each loop's word shapes (a list as long
/// as the input among them makes it a loop over input).
pub type Loops = Vec<Rc<Vec<Shape>>>;

/// Everything stored into a variable.
#[derive(Clone, Debug, Default)]
pub struct Stored {
    /// Its `let` value and each assignment's, with the loops (opened since
    /// its declaration) they happened in.
    pub values: Vec<(Shape, Loops)>,
    /// Elements added: `push(xs, v)`, `xs[i] = v`.
    pub pushes: Vec<(Shape, Loops)>,
}

/// What a global name is.
pub enum Global {
    /// Variables of the script or of modules (all of them: a name defined
    /// twice is as certain as its definitions agree).
    Bindings(Vec<usize>),
    Val(Val),
}

/// What evaluation needs to know about the walk's variables.
pub trait Facts {
    /// What was stored into the binding; `None`: not knowable (a
    /// parameter, a loop variable).
    fn stored(&self, binding: usize) -> Option<&Stored>;

    fn global(&self, name: &str) -> Global;

    fn eval(&self, shape: &Shape) -> Val {
        let mut st = EvalState::default();
        eval_in(self, shape, &mut st, 0)
    }
}

fn eval_in<F: Facts + ?Sized>(facts: &F, shape: &Shape, st: &mut EvalState, depth: u32) -> Val {
    st.steps += 1;
    if depth > MAX_DEPTH || st.steps > MAX_STEPS {
        return Val::Unknown;
    }
    let d = depth + 1;
    match shape {
        Shape::Val(v) => v.clone(),
        Shape::Ref(b) => {
            if st.visiting.contains(b) {
                // A cycle (`xs = xs + [x]`): adds nothing new.
                return Val::Nothing;
            }
            let Some(stored) = facts.stored(*b) else {
                return Val::Unknown;
            };
            st.visiting.push(*b);
            let mut v = Val::Nothing;
            let mut in_input_loop = false;
            for (s, loops) in &stored.values {
                v = v.join(eval_in(facts, s, st, d));
                in_input_loop |= any_input(facts, loops, st, d);
            }
            if let Val::List { input, elem } = v {
                let mut elem = *elem;
                let mut input = input || in_input_loop;
                for (s, loops) in &stored.pushes {
                    elem = elem.join(eval_in(facts, s, st, d));
                    input |= any_input(facts, loops, st, d);
                }
                v = Val::List {
                    input,
                    elem: Box::new(elem),
                };
            }
            st.visiting.pop();
            match v {
                Val::Nothing => Val::Unknown,
                v => v,
            }
        }
        Shape::Global(name) => match facts.global(name) {
            Global::Val(v) => v,
            // `Nothing` stays: it is a cycle back to a variable being
            // evaluated (`xs += [x]` at the top level).
            Global::Bindings(ids) => {
                let mut v = Val::Nothing;
                for b in ids {
                    v = v.join(eval_in(facts, &Shape::Ref(b), st, d));
                }
                v
            }
        },
        Shape::Call(callee) => match eval_in(facts, callee, st, d) {
            Val::Func(sig) if sig.is_async => Val::Coroutine,
            Val::Func(sig) => match eval_in(facts, &sig.ret, st, d) {
                Val::Nothing => Val::Unknown,
                v => v,
            },
            _ => Val::Unknown,
        },
        Shape::Map(list, f) => match eval_in(facts, list, st, d) {
            Val::List { input, .. } => {
                let elem = match eval_in(facts, f, st, d) {
                    Val::Func(sig) if sig.is_async => Val::Coroutine,
                    Val::Func(sig) => eval_in(facts, &sig.ret, st, d),
                    _ => Val::Unknown,
                };
                Val::List {
                    input,
                    elem: Box::new(elem),
                }
            }
            _ => Val::Unknown,
        },
        Shape::SameList(list) => match eval_in(facts, list, st, d) {
            l @ Val::List { .. } => l,
            _ => Val::Unknown,
        },
        Shape::Add(a, b) => match (eval_in(facts, a, st, d), eval_in(facts, b, st, d)) {
            (
                Val::List {
                    input: ia,
                    elem: ea,
                },
                Val::List {
                    input: ib,
                    elem: eb,
                },
            ) => Val::List {
                input: ia || ib,
                elem: Box::new(ea.join(*eb)),
            },
            // A cycle through the list itself: the other side.
            (Val::Nothing, l @ Val::List { .. }) | (l @ Val::List { .. }, Val::Nothing) => l,
            _ => Val::Unknown,
        },
        Shape::Elem(list) => match eval_in(facts, list, st, d) {
            Val::List { elem, .. } => match *elem {
                Val::Nothing => Val::Unknown,
                v => v,
            },
            _ => Val::Unknown,
        },
        Shape::List { input, elems } => {
            let mut elem = Val::Nothing;
            for e in elems {
                elem = elem.join(eval_in(facts, e, st, d));
            }
            Val::List {
                input: *input,
                elem: Box::new(elem),
            }
        }
    }
}

/// Whether one of the loops goes over a list as long as the input.
fn any_input<F: Facts + ?Sized>(facts: &F, loops: &Loops, st: &mut EvalState, depth: u32) -> bool {
    loops.iter().any(|words| {
        words
            .iter()
            .any(|w| matches!(eval_in(facts, w, st, depth), Val::List { input: true, .. }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoVars;
    impl Facts for NoVars {
        fn stored(&self, _: usize) -> Option<&Stored> {
            None
        }
        fn global(&self, _: &str) -> Global {
            Global::Val(Val::Unknown)
        }
    }

    fn sig(is_async: bool, ret: Shape) -> Shape {
        Shape::Val(Val::Func(Rc::new(Sig {
            name: None,
            params: 1,
            rest: false,
            is_async,
            ret,
            defined: Defined::In(String::new()),
        })))
    }

    #[test]
    fn calling_an_async_fn_gives_a_coroutine() {
        let call = Shape::Call(Box::new(sig(true, Shape::OTHER)));
        assert_eq!(NoVars.eval(&call), Val::Coroutine);
        let call = Shape::Call(Box::new(sig(false, Shape::COROUTINE)));
        assert_eq!(NoVars.eval(&call), Val::Coroutine);
        let call = Shape::Call(Box::new(sig(false, Shape::OTHER)));
        assert_eq!(NoVars.eval(&call), Val::Other);
    }

    #[test]
    fn map_over_input_with_an_async_fn_is_an_input_list_of_coroutines() {
        let m = Shape::Map(
            Box::new(Shape::input_list()),
            Box::new(sig(true, Shape::OTHER)),
        );
        assert_eq!(
            NoVars.eval(&m),
            Val::List {
                input: true,
                elem: Box::new(Val::Coroutine)
            }
        );
    }

    #[test]
    fn mixed_facts_are_unknown() {
        assert_eq!(Val::Coroutine.join(Val::Task), Val::Unknown);
        assert_eq!(Val::Nothing.join(Val::Task), Val::Task);
    }
}
