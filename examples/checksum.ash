#!/usr/bin/env ash
# checksum.ash — checksum many files in parallel with `gather -j`, then print
# a summary. Shows: std/fs (a temp dir removed at the end), a fan-out of
# external processes with a concurrency limit, results kept in input order.
#
# Run: ash examples/checksum.ash [FILES...]
# With no FILES it creates 40 files of its own in a temp dir and checks
# them; then it verifies the sums against `sha256sum -c`.

use std/fs

async fn sum_of(path) {
  # sha256sum prints "HASH  PATH"; keep the hash.
  return split($(sha256sum -- $path))[0]
}

fn checksum_all(files, jobs) {
  let start = now()
  let sums = gather -j $jobs (map(files, sum_of))
  let took = now() - start
  let bytes = 0
  for f in $files { bytes = bytes + int(trim($(wc -c < $f))) }
  for i in (range(len(files))) {
    echo "${sums[i]}  ${files[i]}"
  }
  let unique = []
  for s in $sums {
    if (not contains(unique, s)) { push(unique, s) }
  }
  echo "summary: ${len(files)} files, ${bytes} bytes, ${len(unique)} distinct, -j ${jobs}, ${round(took, 2)} s" >&2
  return sums
}

if (len(args) > 0) {
  checksum_all(args, 8)
} else {
  with_tempdir(fn (dir) {
    let files = []
    for i in (range(40)) {
      let f = "${dir}/file-${i}.txt"
      # Every fourth file has the same content, so some sums repeat.
      printf "content %s\n" (i % 4) > $f
      push(files, f)
    }
    let sums = checksum_all(files, 8)
    # Check them with the tool itself.
    let listing = []
    for i in (range(len(files))) { push(listing, "${sums[i]}  ${files[i]}") }
    printf "%s\n" $listing > $dir/SUMS
    sha256sum --quiet -c $dir/SUMS
    echo "verified: all ${len(files)} sums match"
  }, "checksum")
}
