# W2: sum 1..N in a while loop (N = first argument).
let n = int(args[0])
let i = 0
let s = 0
while (i < n) {
  i = i + 1
  s = s + i
}
echo $s
