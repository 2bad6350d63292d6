# W5: N concurrent external `/bin/sleep S` (N = args[0], S = args[1]).
let n = int(args[0])
let s = args[1]
async fn one(i) { /bin/sleep $s }
let r = gather (map(range(0, n), one))
echo (len(r))
