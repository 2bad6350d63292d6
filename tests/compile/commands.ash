# Command words, pipelines, redirections, globs, captures, read.
echo hello "quoted $HOME" 'single' (1 + 2)
ls src/*.rs | grep main > /dev/null 2>&1
cat < /etc/hostname >> /tmp/ash-golden-never-written 2>> /dev/null
echo both &> /dev/null
LANG=C sort /dev/null
let dir = "src"
ls $dir/*.rs ~/x ~ ~root/x
let out = $(echo captured)
let lines = "${out}!"
while read line {
    echo $line
}
read name
fn greet(who) { echo "hi $who" }
greet world
let handler = greet
$handler there
echo >&2 to-stderr
