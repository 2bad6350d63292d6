#!/usr/bin/env ash
# hello.ash — the smallest tour: a command, a variable, a function, and two
# tasks running at once.
# Run: ash examples/hello.ash [NAME]

let who = "world"
if (len(args) > 0) { who = args[0] }

fn greet(name) { echo "hello, $name" }
greet $who

# Two sleeps of 0.2 s run concurrently: about 0.2 s in all, not 0.4 s.
let start = now()
let both = gather { sleep 200ms; return "a" } { sleep 200ms; return "b" }
let took = now() - start
echo "gathered ${both} in ${round(took, 1)} s"
