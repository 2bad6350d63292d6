# W10: `while read` over a file, counting the lines that contain a word
# (FILE = args[0]; args[1] = "file": redirected, "pipe": through `cat`).
let n = 0
if (args[1] == "pipe") {
  cat ${args[0]} | while read line {
    if (contains(line, "ERROR")) { n += 1 }
  }
} else {
  while read line {
    if (contains(line, "ERROR")) { n += 1 }
  } < ${args[0]}
}
echo $n
