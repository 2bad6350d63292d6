# Coroutines, tasks, gather, race, timeout, sleep, cancel.
async fn fetch(n) {
    sleep 10ms
    return n
}
let c = async { return 1 }
let v = await c
let t = spawn { sleep 1s }
let t2 = spawn fetch(2)
sleep 0.5
sh -c "sleep 1" &
cancel $t
let all = gather { return 1 } { return 2 }
let some = gather -j 2 -k --group $c { return 3 }
let first = race { sleep 1s } { return "fast" }
let out = timeout 2s { return $(echo x) }
let graced = timeout --grace 200ms 1s { sleep 5 }
timeout 1s sleep 2
let w = await t2
