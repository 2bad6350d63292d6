# Conditions, loops, and/or lists, try/catch/finally, throw.
let i = 0
while (i < 10) {
    i = i + 1
    if (i == 3) { continue }
    if (i == 8) { break }
}
if (i > 5) {
    echo big
} elif test -f /etc/passwd {
    echo file
} else {
    echo none
}
let j = 0
while (j != 3) { j = j + 1 }
if (i) { echo truthy }
true && echo yes || echo no
! false
try {
    throw "boom"
} catch TimeoutError e {
    echo timeout
} catch e {
    echo $e
} finally {
    echo done
}
try { false } catch CancelledError e { throw $e }
