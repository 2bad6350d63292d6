# W3: N concurrent tasks, each `sleep S`, gathered (N = args[0], S = args[1]).
let n = int(args[0])
let s = float(args[1])
let tasks = []
for i in (range(0, n)) { push(tasks, spawn { sleep $s }) }
gather $tasks
echo (len(tasks))
