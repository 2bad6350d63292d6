# Literals, operators, lists, maps, indexing and fields.
let n = 1 + 2 * 3
let big = 10000000000
let f = 1.5
let d = 250ms
let s = "total: ${n + 1}"
let xs = [1, "two", [3]]
let m = {name: "ash", "key 2": null}
let neg = -n
let no = not (n > 3)
let b = n > 1 and f < 2 or false
let first = xs[0]
let name = m.name
xs[1] = 2
m.name = "sh"
let joined = "a$n" + str(m)
