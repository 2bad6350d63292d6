# W7: capture the stdout of `cat FILE` into a variable (POSIX sh: bash and dash).
x=$(cat "$1")
echo done
