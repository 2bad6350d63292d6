#!/usr/bin/env ash
# tour.ash — the README's short tour, as a script that runs as written
# (`cargo test` runs it). It works in a directory of its own under $TMPDIR.
# Run: ash examples/tour.ash

let work = $(mktemp -d)
cd $work

# Commands, pipes, redirections — words are never split or re-globbed.
let name = "my file.txt"
echo "hello" > $name            # one argument, spaces and all
cat $name | tr a-z A-Z
echo "one" > a.log
echo "two" > b.log
for f in *.log { gzip $f }      # globs are sorted; no match is an error
ls

# Values and expressions
let xs = [1, 2, 3]
push(xs, 4)
let m = {name: "ash", tags: ["async", "shell"]}
echo (len(xs)) ${m.name} (xs[0] + 10)

# Errors are exceptions: a failing command raises CommandError
echo "hay" > haystack.txt
try { grep -q needle haystack.txt } catch e { echo "status ${e.status}" }

# Concurrency
async fn fetch(url) { return "page of $url" }  # curl -s $url, offline here
let urls = ["a", "b", "c", "d", "e"]
let t = spawn { sleep 0.2; return "done" }     # runs now, in the background
let results = gather -j 4 (map(urls, fetch))   # at most 4 at once, in order
echo ${len(results)} ${results[0]}
echo (await $t)
try {
    timeout 0.2s { sleep 5 }                   # TimeoutError, and its commands killed
} catch TimeoutError e { echo "timed out" }

cd /
rm -r $work
