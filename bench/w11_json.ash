# W11: from_json of a large file, then a group-by count, while a 10 ms
# ticker runs in another task (FILE = args[0]). Prints the records, the
# groups, and the ticker's worst lateness in ms.
let worst = 0.0
let ticker = spawn {
  while (true) {
    let t0 = now()
    sleep 10ms
    let late = now() - t0 - 0.01
    if (late > worst) { worst = late }
  }
}
sleep 20ms
let data = from_json($(cat ${args[0]}))
let counts = {}
for r in $data {
  let c = r.city
  counts[c] = get(counts, c, 0) + 1
}
sleep 20ms
cancel $ticker
echo (len(data)) (len(counts)) (round(worst * 1000, 1))
