# W5: N concurrent external `/bin/sleep S` (POSIX sh: bash and dash).
n=$1
i=0
while [ "$i" -lt "$n" ]; do
  /bin/sleep "$2" &
  i=$((i + 1))
done
wait
echo "$n"
