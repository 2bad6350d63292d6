# W9 with GNU parallel instead of xargs (run only where parallel is installed).
declare -A sums
while read -r sum f; do
  sums[$f]=$sum
done < <(parallel -j8 sha256sum ::: "$1"/*)
first=("$1"/*)
echo "${#sums[@]}"
echo "${sums[${first[0]}]}"
