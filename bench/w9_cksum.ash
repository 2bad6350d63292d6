# W9: checksum every file of DIR (args[0]) with sha256sum, 8 at a time, into a
# map file -> sum. Prints the number of entries and the first file's sum.
let files = []
for f in ${args[0]}/* { push(files, f) }
let sums = {}
async fn one(f) {
  let out = $(sha256sum $f)
  sums[f] = split(out, " ")[0]
}
gather -j 8 (map(files, one))
echo (len(keys(sums)))
echo ${sums[files[0]]}
