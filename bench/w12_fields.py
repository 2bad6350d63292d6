# W12: the lines of a file, each split into fields, counted by one field
# (in a function).
import sys


def main(path):
    counts = {}
    with open(path) as f:
        for line in f:
            host = line.split(" ")[1]
            counts[host] = counts.get(host, 0) + 1
    return len(counts)


print(main(sys.argv[1]))
