# W11: json.load of a large file, then a group-by count (in a function).
import json
import sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    counts = {}
    for r in data:
        c = r["city"]
        counts[c] = counts.get(c, 0) + 1
    return len(data), len(counts)


print(*main(sys.argv[1]))
