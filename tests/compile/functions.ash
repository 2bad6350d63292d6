# Declarations, rest parameters, calls in both forms, returns.
fn add(a, b) { return a + b }
fn all(first, ...rest) { return rest }
let three = add(1, 2)
let r = all(1, 2, 3)
let twice = fn (x) { return x * 2 }
let four = twice(2)
let parts = split("a b", " ")
fn status_of() { return false }
status_of || echo failed
fn wrapper() {
    fn helper() { return 1 }
    return helper()
}
