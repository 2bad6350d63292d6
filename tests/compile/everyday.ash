# Section 18: compound assignment, slices, destructuring, compound stages.
let xs = [1, 2, 3]
let m = {n: 1}
xs += [4]
xs[0] -= 1
m.n *= 2
let s = "héllo"[1:-1]
let r = xs[::-1]
let [a, [b, ...rest]] = [1, [2, 3]]
for [k, v] in ([["a", 1]]) { echo $k $v }
fn first(path) {
  while read l { return l } < $path
}
cat f | while read l { echo $l } | sort
test -f x || { echo no }
while false { } && echo done
echo hi | read got
unset m.n
unset m["b"] HOME
