import sys
n = int(sys.argv[1])
i = 0
s = 0
while i < n:
    i = i + 1
    s = s + i
print(s)
