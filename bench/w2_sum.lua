-- W2: sum 1..N in a while loop (lua5.4; luajit for reference).
local n = tonumber(arg[1])
local i = 0
local s = 0
while i < n do
  i = i + 1
  s = s + i
end
print(string.format("%d", s))
