# W4: N runs of /bin/true, at most 8 at a time (N = args[0]).
let n = int(args[0])
async fn one(i) { /bin/true }
let r = gather -j 8 (map(range(0, n), one))
echo (len(r))
