# W2: sum 1..N in a while loop, in a function (CPython's fast form: locals
# are array slots there, module-level names are dict lookups).
import sys


def main(n):
    i = 0
    s = 0
    while i < n:
        i = i + 1
        s = s + i
    return s


print(main(int(sys.argv[1])))
