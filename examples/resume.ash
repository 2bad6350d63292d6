#!/usr/bin/env ash
# resume.ash — convert every *.txt of a directory, one `gather` branch per
# file, and rerun only what failed: under `ash --journal FILE` each branch's
# outcome is written down, and `ash --resume FILE` leaves out the files that
# were converted (their recorded word counts stand in) and runs the others.
#
# Shows: `--journal`/`--resume`, keys that name a branch by its function and
# arguments (`convert("DIR/b.txt")`, so the list may be reordered or grow), `-k`
# to run every branch and report the failures together.
#
# A file "fails" when it holds the word BROKEN; each conversion takes about
# 0.2 s (a `sleep`, standing in for real work) and writes DIR/out/NAME.upper.
#
# Run: ash examples/resume.ash DIR
#      ash --journal DIR.ndjson examples/resume.ash DIR     then fix the
#      broken files and:  ash --resume DIR.ndjson examples/resume.ash DIR
# Exit status: 1 while some file fails, else 0.

if (len(args) != 1) {
  echo "usage: ash [--journal J | --resume J] examples/resume.ash DIR" >&2
  exit 2
}
let dir = args[0]

async fn convert(path) {
  echo "converting $path"
  sleep 200ms
  let text = $(cat $path)
  if (contains(split(text), "BROKEN")) { throw "$path: cannot convert a BROKEN file" }
  mkdir -p $dir/out
  tr a-z A-Z < $path > "$dir/out/${split(path, "/")[-1]}.upper"
  return len(split(text))
}

let files = []
for f in $dir/*.txt { push(files, f) }
let results = gather -k -j 4 (map(files, convert))

let words = 0
let failed = 0
for i in (range(len(files))) {
  let r = results[i]
  if (type(r) == "error") {
    failed += 1
    echo "failed: ${r.message}" >&2
  } else {
    words += r
  }
}
echo "${len(files)} files, $failed failed, $words words converted"
if (failed > 0) { exit 1 }
