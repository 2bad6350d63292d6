# W13: sort the lines of a file (FILE = args[0]); prints the count and the
# first and last.
let xs = sorted(lines($(cat ${args[0]})))
echo (len(xs)) ${xs[0]} ${xs[-1]}
