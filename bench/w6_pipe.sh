# W6: FILE through `cat FILE | wc -c` (POSIX sh: bash and dash).
cat "$1" | wc -c
