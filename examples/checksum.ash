#!/usr/bin/env ash
# checksum.ash — checksum many files in parallel, then print a summary.
#
# A command-line tool: its options are the parameters of `fn main`, so
# `--help`, defaults and errors come from ash. Shows: a fan-out of external
# processes with a concurrency limit (`gather -j`), results kept in input
# order, `to_json`, std/fs (a temp dir removed at the end).
#
# Run: ash examples/checksum.ash [-j N] [--json] [FILES...]
# With no FILES it creates 40 files of its own in a temp dir, checks them,
# then verifies the sums with `sha256sum -c`.

use std/fs

async fn sum_of(path) {
  # sha256sum prints "HASH  PATH"; keep the hash.
  let [hash, _path] = split($(sha256sum -- $path))
  return hash
}

fn checksum_all(files, jobs, json) {
  let start = now()
  let sums = gather -j $jobs (map(files, sum_of))
  let took = now() - start
  let bytes = 0
  for f in $files { bytes += int(trim($(wc -c < $f))) }
  let by_file = {}
  let seen = {}
  for [sum, f] in (zip(sums, files)) {
    by_file[f] = sum
    seen[sum] = true
    if (not json) { echo "$sum  $f" }
  }
  if (json) { echo (to_json(by_file)) }
  let distinct = len(seen)
  echo "summary: ${len(files)} files, $bytes bytes, $distinct distinct, -j $jobs, ${round(took, 2)} s" >&2
  return sums
}

# Checksum FILES (SHA-256), a few at a time; with no FILES, a self-test on
# 40 files of its own.
fn main(
  --jobs -j = 8,    # checksums at once
  --json,           # print one JSON object {file: sum} instead of lines
  ...files          # the files (none: a self-test)
) {
  if (len(files) > 0) {
    checksum_all(files, jobs, json)
    return
  }
  with_tempdir(fn (dir) {
    let files = []
    for i in (range(40)) {
      let f = "$dir/file-$i.txt"
      # Every fourth file has the same content, so some sums repeat.
      printf "content %s\n" (i % 4) > $f
      push(files, f)
    }
    let sums = checksum_all(files, jobs, json)
    # Check them with the tool itself.
    for [sum, f] in (zip(sums, files)) { echo "$sum  $f" } > $dir/SUMS
    sha256sum --quiet -c $dir/SUMS
    echo "verified: all ${len(files)} sums match"
  }, "checksum")
}
