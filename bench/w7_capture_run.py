# W7: capture the stdout of `cat FILE` (subprocess.run, the usual form).
import subprocess
import sys

x = subprocess.run(["cat", sys.argv[1]], capture_output=True, check=True).stdout
print("done")
