# Superinstructions (vm::chunk::fuse_locals): local = local op k,
# local = local op local, += of either, and comparisons of locals that
# decide a condition; a constant index of a call.
fn sum(n) {
  let i = 0
  let s = 0
  let t = 0
  while (i < n) {
    i = i + 1
    s = s + i
    t += 2
    t += i
    if (t > 100) { break }
  }
  return s
}
# A constant index of a call's result: CallIndex (vm::chunk::fuse_calls);
# a built-in with a pick takes the item without making the list.
fn field(line) {
  return split(line, " ")[1]
}
# A for loop's item into its local (ForNextLocal).
fn count(xs) {
  let n = 0
  for x in (xs) {
    n = (n + x) * 2
  }
  return n > 3
}
