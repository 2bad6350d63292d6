# Other hosts: spawn --on, gather --on, race --on (section 15).
let hosts = ["h1", "h2"]
let n = 3
let t = spawn --on "h1" { return n * 2 }
let all = gather --on $hosts -j 2 -k --group { return 1 } { uname -n }
let first = race --on $hosts { sleep 1s } { return "fast" }
