# W13: sort the lines of a file (in a function).
import sys


def main(path):
    with open(path) as f:
        xs = sorted(f.read().splitlines())
    return len(xs), xs[0], xs[-1]


print(*main(sys.argv[1]))
