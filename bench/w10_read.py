# W10: `for line in f`, counting the lines that contain a word (in a
# function: CPython's fast form). args: FILE, then "file" or "pipe"
# (the lines come from `cat FILE` through a pipe).
import subprocess
import sys


def count(f):
    n = 0
    for line in f:
        if "ERROR" in line:
            n += 1
    return n


def main(path, how):
    if how == "pipe":
        with subprocess.Popen(["cat", path], stdout=subprocess.PIPE, text=True) as p:
            return count(p.stdout)
    with open(path) as f:
        return count(f)


print(main(sys.argv[1], sys.argv[2]))
