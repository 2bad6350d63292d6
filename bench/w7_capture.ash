# W7: capture the stdout of `cat FILE` into a variable (FILE = args[0]).
let x = $(cat ${args[0]})
echo done
