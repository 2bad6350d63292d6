# W9: checksum every file of DIR with sha256sum, 8 at a time (xargs -P8, one
# file per process as in the other versions), into an associative array.
declare -A sums
while read -r sum f; do
  sums[$f]=$sum
done < <(printf '%s\0' "$1"/* | xargs -0 -P8 -n1 sha256sum)
first=("$1"/*)
echo "${#sums[@]}"
echo "${sums[${first[0]}]}"
