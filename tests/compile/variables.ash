# Locals, globals, cells and captures; $status; export.
fn counter() {
    let count = 0
    let bump = fn () {
        count = count + 1
        return count
    }
    count = count + 10
    let plain = count
    return bump
}
fn keep(x) { return fn () { return x } }
fn outer() {
    let shared = 1
    return fn () {
        return fn () {
            shared = shared + 1
            return shared
        }
    }
}
for i in (range(3)) {
    let later = fn () { return i }
}
true
let last = $status
export GREETING = "hi"
unset later_global
later_global = 1
