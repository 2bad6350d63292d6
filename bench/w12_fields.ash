# W12: the lines of a file, each split into fields, counted by one field
# (FILE = args[0]). Prints the number of distinct values.
let counts = {}
for line in (lines($(cat ${args[0]}))) {
  let host = split(line, " ")[1]
  counts[host] = get(counts, host, 0) + 1
}
echo (len(counts))
