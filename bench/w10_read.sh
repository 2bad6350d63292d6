# W10: `while read` over a file, counting the lines that contain a word
# (bash; FILE, then "file" or "pipe").
n=0
count() {
  while IFS= read -r line; do
    case $line in *ERROR*) n=$((n + 1)) ;; esac
  done
}
if [ "$2" = pipe ]; then
  cat "$1" | { count; echo "$n"; }
else
  count < "$1"
  echo "$n"
fi
