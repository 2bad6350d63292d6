# W6: FILE through `cat FILE | wc -c` (FILE = args[0]).
cat ${args[0]} | wc -c
