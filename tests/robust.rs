//! No input crashes ash or loses data (issue 21): hostile values (cycles,
//! depth), unwritable stderr, the working directory, and the property test
//! over random cyclic and deep values. Each test names the row of
//! docs/reliability.md it proves.

mod common;

use common::Rng;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::{Command, Output, Stdio};

/// The binary under test; `ASH_ROBUST_BIN` runs these tests against
/// another one (to see them fail on a build from before a fix).
fn ash_bin() -> String {
    std::env::var("ASH_ROBUST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ash").to_string())
}

fn ash(script: &str) -> Output {
    Command::new(ash_bin())
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .env("LC_ALL", "C")
        .output()
        .expect("ash runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `script` and checks it ended normally with `want` on stdout.
fn expect_ok(what: &str, script: &str, want: &str) {
    let out = ash(script);
    assert!(
        out.status.success() && text(&out.stdout) == want,
        "{what}: status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

// ------------------------------------------------------------ deep values

/// Lists, maps and closure chains nested a million deep are freed (at the
/// end of the script, or when replaced) without overflowing the stack;
/// before the trashcan they segfaulted from about 700,000 levels in the
/// debug build (3,000,000 in release).
#[test]
fn deep_values_are_freed() {
    const D: usize = 1_000_000;
    expect_ok(
        "deep list",
        &format!("let a = []\nfor i in (range(0, {D})) {{ a = [a] }}\necho built"),
        "built\n",
    );
    expect_ok(
        "deep map, replaced",
        &format!("let a = {{}}\nfor i in (range(0, {D})) {{ a = {{x: a}} }}\na = null\necho freed"),
        "freed\n",
    );
    expect_ok(
        "closure chain",
        &format!(
            "let f = fn () {{ return 0 }}\nfor i in (range(0, {D})) {{ let g = f; f = fn () {{ return g() }} }}\necho built"
        ),
        "built\n",
    );
}

/// `<` and `==` on deep lists and maps, and their text, walk on the heap.
#[test]
fn deep_values_compare_and_print() {
    expect_ok(
        "< on deep lists",
        "let a = []\nlet b = []\nfor i in (range(0, 500000)) { a = [a]; b = [b] }\necho (a < b) (a <= b)",
        "false true\n",
    );
    expect_ok(
        "== on deep maps",
        "let a = {}\nlet b = {}\nfor i in (range(0, 500000)) { a = {x: a}; b = {x: b} }\necho (a == b)",
        "true\n",
    );
    expect_ok(
        "text of a deep list",
        "let a = 7\nfor i in (range(0, 1000000)) { a = [a] }\necho \"<$a>\"",
        "<7>\n",
    );
}

// ------------------------------------------------- random cyclic and deep

#[derive(Clone, Debug)]
enum Leaf {
    Int(i64),
    Str(String),
    Null,
    Bool(bool),
}

/// An element of a container in the model.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Item {
    Leaf(usize),
    /// A plain container: a list or a map filled with items.
    Node(usize),
    /// A chain: `depth` single-element lists (or `{x: ...}` maps) around
    /// its bottom item; `Chain(c, k)` is the chain `c` with `k` levels left.
    Chain(usize, usize),
}

struct Node {
    is_list: bool,
    /// (key for maps, item), in insertion order (a repeated key keeps its
    /// first position and takes the last value, as ash's maps).
    items: Vec<(String, Item)>,
}

struct Chain {
    is_list: bool,
    depth: usize,
    bottom: Item,
}

struct Model {
    leaves: Vec<Leaf>,
    nodes: Vec<Node>,
    chains: Vec<Chain>,
}

enum Kind {
    List,
    Map,
    Leaf,
}

impl Model {
    fn kind(&self, it: Item) -> Kind {
        match self.norm(it) {
            Item::Leaf(_) => Kind::Leaf,
            Item::Node(n) if self.nodes[n].is_list => Kind::List,
            Item::Node(_) => Kind::Map,
            Item::Chain(c, _) if self.chains[c].is_list => Kind::List,
            Item::Chain(..) => Kind::Map,
        }
    }

    /// A chain with no level left is its bottom.
    fn norm(&self, it: Item) -> Item {
        match it {
            Item::Chain(c, 0) => self.norm(self.chains[c].bottom),
            other => other,
        }
    }

    fn entries(&self, it: Item) -> Vec<(String, Item)> {
        match self.norm(it) {
            Item::Node(n) => self.nodes[n].items.clone(),
            Item::Chain(c, k) => vec![("x".to_string(), Item::Chain(c, k - 1))],
            Item::Leaf(_) => Vec::new(),
        }
    }

    /// Whether walking `it` meets a container inside itself.
    fn cyclic(&self, it: Item) -> bool {
        fn visit(m: &Model, it: Item, path: &mut Vec<Item>, done: &mut BTreeSet<String>) -> bool {
            let it = m.norm(it);
            if matches!(it, Item::Leaf(_)) {
                return false;
            }
            // A chain is one object per level, but its levels cannot
            // repeat: the chain as a whole stands for them.
            let id = match it {
                Item::Chain(c, _) => Item::Chain(c, 1),
                other => other,
            };
            if path.contains(&id) {
                return true;
            }
            if done.contains(&format!("{id:?}")) {
                return false;
            }
            path.push(id);
            let found = match it {
                Item::Chain(c, _) => visit(m, m.chains[c].bottom, path, done),
                _ => m.entries(it).iter().any(|(_, e)| visit(m, *e, path, done)),
            };
            path.pop();
            done.insert(format!("{id:?}"));
            found
        }
        visit(self, it, &mut Vec::new(), &mut BTreeSet::new())
    }

    fn write_text(&self, it: Item, out: &mut String) {
        match (self.norm(it), self.kind(it)) {
            (Item::Leaf(l), _) => match &self.leaves[l] {
                Leaf::Int(i) => write!(out, "{i}").unwrap_or(()),
                Leaf::Str(s) => out.push_str(s),
                Leaf::Null => {}
                Leaf::Bool(b) => write!(out, "{b}").unwrap_or(()),
            },
            (it, Kind::List) => {
                for (i, (_, e)) in self.entries(it).iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    self.write_text(*e, out);
                }
            }
            (it, _) => self.write_repr(it, out),
        }
    }

    fn write_repr(&self, it: Item, out: &mut String) {
        match (self.norm(it), self.kind(it)) {
            (Item::Leaf(l), _) => match &self.leaves[l] {
                Leaf::Int(i) => write!(out, "{i}").unwrap_or(()),
                Leaf::Str(s) => write!(out, "\"{s}\"").unwrap_or(()),
                Leaf::Null => out.push_str("null"),
                Leaf::Bool(b) => write!(out, "{b}").unwrap_or(()),
            },
            (it, Kind::List) => {
                out.push('[');
                for (i, (_, e)) in self.entries(it).iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_repr(*e, out);
                }
                out.push(']');
            }
            (it, _) => {
                out.push('{');
                for (i, (k, e)) in self.entries(it).iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write!(out, "\"{k}\": ").unwrap_or(());
                    self.write_repr(*e, out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self, it: Item) -> String {
        let mut s = String::new();
        self.write_text(it, &mut s);
        s
    }

    fn repr(&self, it: Item) -> String {
        let mut s = String::new();
        self.write_repr(it, &mut s);
        s
    }

    /// Structural `==` of two acyclic values.
    fn eq(&self, a: Item, b: Item) -> bool {
        match (self.kind(a), self.kind(b)) {
            (Kind::Leaf, Kind::Leaf) => {
                let (Item::Leaf(x), Item::Leaf(y)) = (self.norm(a), self.norm(b)) else {
                    return false;
                };
                match (&self.leaves[x], &self.leaves[y]) {
                    (Leaf::Int(p), Leaf::Int(q)) => p == q,
                    (Leaf::Str(p), Leaf::Str(q)) => p == q,
                    (Leaf::Null, Leaf::Null) => true,
                    (Leaf::Bool(p), Leaf::Bool(q)) => p == q,
                    _ => false,
                }
            }
            (Kind::List, Kind::List) => {
                let (x, y) = (self.entries(a), self.entries(b));
                x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| self.eq(p.1, q.1))
            }
            (Kind::Map, Kind::Map) => {
                let (x, y) = (self.entries(a), self.entries(b));
                x.len() == y.len()
                    && x.iter().all(|(k, p)| {
                        y.iter()
                            .find(|(l, _)| l == k)
                            .is_some_and(|(_, q)| self.eq(*p, *q))
                    })
            }
            _ => false,
        }
    }
}

/// One random case: the model, and the ash script that builds the same
/// values as `n0`, `n1`, ... (plain containers) and `c0`, `c1`, ...
/// (chains), then runs every operation that walks values on them.
fn random_case(rng: &mut Rng) -> (Model, Vec<Item>, String) {
    let mut m = Model {
        leaves: Vec::new(),
        nodes: Vec::new(),
        chains: Vec::new(),
    };
    let n_nodes = 2 + rng.below(5);
    let n_chains = rng.below(3);
    // Half of the cases may have cycles; the others only point forward.
    let cycles = rng.below(2) == 0;
    for _ in 0..n_nodes {
        m.nodes.push(Node {
            is_list: rng.below(3) > 0,
            items: Vec::new(),
        });
    }
    let leaf = |rng: &mut Rng, m: &mut Model| {
        let l = match rng.below(5) {
            0 | 1 => Leaf::Int(rng.below(4) as i64),
            2 => Leaf::Str(["a", "b", "x y", ""][rng.below(4)].to_string()),
            3 => Leaf::Null,
            _ => Leaf::Bool(rng.below(2) == 0),
        };
        m.leaves.push(l);
        Item::Leaf(m.leaves.len() - 1)
    };
    for c in 0..n_chains {
        // A chain's bottom is a leaf or a plain node (maybe cyclic itself).
        let bottom = if rng.below(2) == 0 {
            leaf(rng, &mut m)
        } else {
            Item::Node(rng.below(n_nodes))
        };
        let depth = [1, 70, 300, 2_000][rng.below(4)];
        m.chains.push(Chain {
            is_list: rng.below(2) == 0,
            depth,
            bottom,
        });
        let _ = c;
    }
    for n in 0..n_nodes {
        let len = rng.below(4);
        for _ in 0..len {
            let item = match rng.below(6) {
                0 | 1 => leaf(rng, &mut m),
                2 if n_chains > 0 => {
                    let c = rng.below(n_chains);
                    Item::Chain(c, m.chains[c].depth)
                }
                _ => {
                    // Forward references only, unless this case has cycles.
                    let lo = if cycles { 0 } else { n + 1 };
                    if lo >= n_nodes {
                        leaf(rng, &mut m)
                    } else {
                        Item::Node(lo + rng.below(n_nodes - lo))
                    }
                }
            };
            let key = format!("k{}", rng.below(4));
            let node = &mut m.nodes[n];
            match node.items.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) if !node.is_list => slot.1 = item,
                _ => node.items.push((key, item)),
            }
        }
    }
    // Chains must not make a forward-only case cyclic: a chain whose
    // bottom is node b, inside node a, is a path a -> b.
    if !cycles {
        for n in 0..n_nodes {
            let bad = m.nodes[n].items.iter().any(|(_, it)| match it {
                Item::Chain(c, _) => matches!(m.chains[*c].bottom, Item::Node(b) if b <= n),
                _ => false,
            });
            if bad {
                m.nodes[n]
                    .items
                    .retain(|(_, it)| !matches!(it, Item::Chain(..)));
            }
        }
    }

    let mut s = String::new();
    let src = |m: &Model, it: Item| -> String {
        match it {
            Item::Leaf(l) => match &m.leaves[l] {
                Leaf::Int(i) => i.to_string(),
                Leaf::Str(x) => format!("\"{x}\""),
                Leaf::Null => "null".into(),
                Leaf::Bool(b) => b.to_string(),
            },
            Item::Node(n) => format!("n{n}"),
            Item::Chain(c, _) => format!("c{c}"),
        }
    };
    for (i, n) in m.nodes.iter().enumerate() {
        writeln!(s, "let n{i} = {}", if n.is_list { "[]" } else { "{}" }).unwrap_or(());
    }
    for (i, c) in m.chains.iter().enumerate() {
        let wrap = if c.is_list { "[c{i}]" } else { "{x: c{i}}" }.replace("{i}", &i.to_string());
        writeln!(
            s,
            "let c{i} = {}\nfor j in (range(0, {})) {{ c{i} = {wrap} }}",
            src(&m, c.bottom),
            c.depth
        )
        .unwrap_or(());
    }
    for (i, n) in m.nodes.iter().enumerate() {
        for (k, it) in &n.items {
            if n.is_list {
                writeln!(s, "push(n{i}, {})", src(&m, *it)).unwrap_or(());
            } else {
                writeln!(s, "n{i}.{k} = {}", src(&m, *it)).unwrap_or(());
            }
        }
    }
    // The values the operations run on.
    let mut values: Vec<Item> = (0..n_nodes).map(Item::Node).collect();
    values.extend((0..m.chains.len()).map(|c| Item::Chain(c, m.chains[c].depth)));
    let name = |it: &Item| src(&m, *it);
    // Errors print their kind after `!`.
    for (i, v) in values.iter().enumerate() {
        let v = name(v);
        writeln!(
            s,
            "try {{ echo \"T {i} ${{{v}}}\" }} catch e {{ echo \"T {i} !\" (e.kind) }}\n\
             try {{ echo \"S {i}\" (str({v})) }} catch e {{ echo \"S {i} !\" (e.kind) }}\n\
             try {{ throw ${v} }} catch e {{ echo \"H {i}\" (e.kind) (e.message) }}\n\
             try {{ export X = {v}; echo \"X {i}\" (getenv(\"X\")) }} catch e {{ echo \"X {i} !\" (e.kind) }}\n\
             try {{ let r = {{v: {v}}}; echo \"R {i} ${{r}}\" }} catch e {{ echo \"R {i} !\" (e.kind) }}\n\
             try {{ printf \"P {i} %s\\n\" \"${{{v}}}\" }} catch e {{ echo \"P {i} !\" (e.kind) }}\n\
             try {{ echo \"J {i}\" (join([{v}], \",\")) }} catch e {{ echo \"J {i} !\" (e.kind) }}\n\
             try {{ let j = to_json({v}); echo \"N {i} ok\" }} catch e {{ echo \"N {i} !\" (e.kind) }}"
        )
        .unwrap_or(());
    }
    // External programs get the same text (a few: they cost a process).
    for (i, v) in values.iter().enumerate().take(2) {
        let v = name(v);
        writeln!(
            s,
            "try {{ V=\"${{{v}}}\" /usr/bin/printenv V | /bin/sed 's/^/V {i} /' }} catch e {{ echo \"V {i} !\" (e.kind) }}\n\
             try {{ V=${v} /usr/bin/printenv V | /bin/sed 's/^/W {i} /' }} catch e {{ echo \"W {i} !\" (e.kind) }}"
        )
        .unwrap_or(());
    }
    let n = values.len();
    for a in 0..n {
        for b in 0..n {
            let (x, y) = (name(&values[a]), name(&values[b]));
            writeln!(
                s,
                "try {{ echo \"E {a} {b}\" ({x} == {y}) ({x} != {y}) }} catch e {{ echo \"E {a} {b} !\" (e.kind) }}\n\
                 try {{ echo \"L {a} {b}\" ({x} < {y}) }} catch e {{ echo \"L {a} {b} !\" (e.kind) }}\n\
                 try {{ echo \"C {a} {b}\" (contains([{x}, 7], {y})) }} catch e {{ echo \"C {a} {b} !\" (e.kind) }}\n\
                 try {{ let o = sorted([{x}, {y}]); let p = min({x}, {y}); echo \"O {a} {b} ok\" }} catch e {{ echo \"O {a} {b} !\" (e.kind) }}"
            )
            .unwrap_or(());
        }
    }
    writeln!(s, "echo end").unwrap_or(());
    (m, values, s)
}

/// What the script must print for one case, line by line: `Err` holds
/// the outcomes allowed where the answer is not determined (cycles).
fn expected(m: &Model, values: &[Item]) -> Vec<Result<String, Vec<String>>> {
    let mut lines = Vec::new();
    for (i, &v) in values.iter().enumerate() {
        let cyc = m.cyclic(v);
        let ok_or = |tag: &str, ok: String| {
            Ok(if cyc {
                format!("{tag} {i} ! ValueError")
            } else {
                ok
            })
        };
        let t = if cyc { String::new() } else { m.text(v) };
        let r = if cyc { String::new() } else { m.repr(v) };
        lines.push(ok_or("T", format!("T {i} {t}")));
        lines.push(ok_or("S", format!("S {i} {t}")));
        lines.push(Ok(if cyc {
            format!("H {i} ValueError a # that contains itself cannot be turned into text")
        } else {
            format!("H {i} Error {t}")
        }));
        lines.push(ok_or("X", format!("X {i} {t}")));
        lines.push(ok_or("R", format!("R {i} {{\"v\": {r}}}")));
        lines.push(ok_or("P", format!("P {i} {t}")));
        lines.push(ok_or("J", format!("J {i} {t}")));
        // to_json: nesting beyond 128 is its own ValueError; a cycle too.
        lines.push(Err(vec![
            format!("N {i} ok"),
            format!("N {i} ! ValueError"),
        ]));
    }
    for (i, &v) in values.iter().enumerate().take(2) {
        let cyc = m.cyclic(v);
        let t = if cyc { String::new() } else { m.text(v) };
        let ok_or = |tag: &str| {
            Ok(if cyc {
                format!("{tag} {i} ! ValueError")
            } else {
                format!("{tag} {i} {t}")
            })
        };
        lines.push(ok_or("V"));
        lines.push(ok_or("W"));
    }
    for (a, &x) in values.iter().enumerate() {
        for (b, &y) in values.iter().enumerate() {
            let (cx, cy) = (m.cyclic(x), m.cyclic(y));
            if a == b {
                // Identity: equal, whatever it holds.
                lines.push(Ok(format!("E {a} {b} true false")));
                lines.push(Err(vec![
                    format!("L {a} {b} false"),
                    format!("L {a} {b} ! TypeError"),
                ]));
            } else if !cx || !cy {
                // One side is finite: the walk ends without a cycle error.
                let e = !cx && !cy && m.eq(x, y);
                lines.push(Ok(format!("E {a} {b} {e} {}", !e)));
                lines.push(Err(vec![
                    format!("L {a} {b} true"),
                    format!("L {a} {b} false"),
                    format!("L {a} {b} ! TypeError"),
                ]));
            } else {
                lines.push(Err(vec![
                    format!("E {a} {b} true false"),
                    format!("E {a} {b} false true"),
                    format!("E {a} {b} ! ValueError"),
                ]));
                lines.push(Err(vec![
                    format!("L {a} {b} true"),
                    format!("L {a} {b} false"),
                    format!("L {a} {b} ! TypeError"),
                    format!("L {a} {b} ! ValueError"),
                ]));
            }
            // contains([x, 7], y): x == y or 7 == y.
            if !cx && !cy {
                let seven =
                    matches!(m.norm(y), Item::Leaf(l) if matches!(m.leaves[l], Leaf::Int(7)));
                lines.push(Ok(format!("C {a} {b} {}", m.eq(x, y) || seven)));
            } else if a == b {
                lines.push(Ok(format!("C {a} {b} true")));
            } else if cx != cy {
                lines.push(Ok(format!("C {a} {b} false")));
            } else {
                lines.push(Err(vec![
                    format!("C {a} {b} true"),
                    format!("C {a} {b} false"),
                    format!("C {a} {b} ! ValueError"),
                ]));
            }
            lines.push(Err(vec![
                format!("O {a} {b} ok"),
                format!("O {a} {b} ! TypeError"),
                format!("O {a} {b} ! ValueError"),
            ]));
        }
    }
    lines.push(Ok("end".to_string()));
    lines
}

/// Random values, some containing themselves (directly, through others,
/// through maps), some nested thousands deep, some both: every operation
/// that walks values (text for `echo`, `"$x"`, `str`, `printf`, `join`,
/// `export`, env prefixes of programs, `throw`; repr; `==`, `!=`, `<`,
/// `contains`, `sorted`, `min`; `to_json`) either gives the model's answer
/// or, where a cycle makes the walk endless, a `ValueError`; never a
/// crash. Before the walk: status 139 (stack overflow) on the first cycle.
#[test]
fn random_cyclic_and_deep_values_never_crash_any_walk() {
    let mut rng = Rng(0x5eed_0021);
    let cases = 40;
    let mut cyclic_seen = 0;
    let mut deep_seen = 0;
    for case in 0..cases {
        let (m, values, script) = random_case(&mut rng);
        cyclic_seen += usize::from(values.iter().any(|&v| m.cyclic(v)));
        deep_seen += usize::from(m.chains.iter().any(|c| c.depth >= 300));
        // The model recurses once per level: run it with room to.
        let want = std::thread::scope(|sc| {
            std::thread::Builder::new()
                .stack_size(256 << 20)
                .spawn_scoped(sc, || expected(&m, &values))
                .expect("thread")
                .join()
                .expect("model")
        });
        let out = ash(&script);
        let got = text(&out.stdout);
        let ctx = || {
            format!(
                "case {case}: status {:?}\nscript:\n{script}\nstdout:\n{got}\nstderr:\n{}",
                out.status,
                text(&out.stderr)
            )
        };
        assert!(out.status.success(), "{}", ctx());
        assert!(out.stderr.is_empty(), "{}", ctx());
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), want.len(), "{}", ctx());
        for (line, w) in lines.iter().zip(&want) {
            // Throw's message names list or map: either is right.
            let line = line
                .replace("a list that contains", "a # that contains")
                .replace("a map that contains", "a # that contains");
            let ok = match w {
                Ok(exact) => line == *exact,
                Err(any) => any.contains(&line),
            };
            assert!(ok, "line {line:?}, expected {w:?}\n{}", ctx());
        }
    }
    // The generator reached what it is for.
    assert!(cyclic_seen >= cases / 4, "{cyclic_seen} cyclic cases");
    assert!(deep_seen >= cases / 4, "{deep_seen} deep cases");
}

// ------------------------------------------------------ unwritable stderr

/// How ash ends with stderr on `/dev/full` (every write fails with ENOSPC).
fn with_stderr_full(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    Command::new(ash_bin())
        .args(args)
        .stdin(Stdio::null())
        .stderr(full)
        .output()
        .expect("ash runs")
}

/// How ash ends with stderr a pipe whose reader has gone (`2>&1 | head`).
fn with_stderr_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(ash_bin())
        .args(args)
        .stdin(Stdio::null())
        .stderr(writer)
        .output()
        .expect("ash runs")
}

/// Reports to a stderr that cannot take them are dropped quietly and the
/// documented status stands: 1 for an uncaught error, 2 for a usage or
/// syntax error, 0 after a warning. Before: `eprint!` panicked, status 101.
#[test]
fn an_unwritable_stderr_never_panics_and_the_status_stands() {
    // (arguments, status with 2>/dev/full, status with a closed pipe)
    let cases: &[(&[&str], i32, i32)] = &[
        (&["-c", "throw \"x\""], 1, 1),
        // A write to a pipe whose reader left ends the script quietly, as
        // the SIGPIPE that kills bash there.
        (&["-c", "echo warn >&2"], 1, 141),
        (&["-c", "echo out; echo warn >&2; echo unreachable"], 1, 141),
        (
            &["-c", "let t = spawn { throw \"lost\" }; sleep 50ms"],
            1,
            1,
        ),
        (&["-c", "async fn f() { }; f(); echo ok"], 0, 0),
        (&["-c", "echo ("], 2, 2),
        (&["--bogus"], 2, 2),
        (&["-c"], 2, 2),
        (&["--check"], 2, 2),
        (&["/nonexistent/script.ash"], 127, 127),
    ];
    for (args, full, pipe) in cases {
        for (how, out, status) in [
            ("2>/dev/full", with_stderr_full(args), full),
            ("2>&1 | head -0", with_stderr_closed_pipe(args), pipe),
        ] {
            assert_eq!(
                out.status.code(),
                Some(*status),
                "ash {args:?} {how}: stdout {}",
                text(&out.stdout)
            );
        }
    }
}

/// ash's own output to an unwritable stdout is an error, not a panic.
#[test]
fn help_to_a_full_stdout_is_a_write_error() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Command::new(ash_bin())
        .arg("--help")
        .stdout(full)
        .output()
        .expect("ash runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("ash: write error: No space left on device"),
        "{}",
        text(&out.stderr)
    );
}

// ----------------------------------------------------------------- SIGPIPE

/// A program killed by SIGPIPE because ash's own stdout lost its reader
/// ends the script quietly, with status 141, as bash does when its stdout
/// goes away: nothing after it runs. Before: `$status` 0 and the script
/// went on (here: it created the file).
#[test]
fn sigpipe_from_a_closed_stdout_ends_the_script_quietly() {
    let dir = common::TempDir::new();
    let marker = dir.0.join("after");
    for script in [
        format!("yes; touch {}", marker.display()),
        format!("yes | cat; touch {}", marker.display()),
        format!("fn f() {{ yes }}\nf; touch {}", marker.display()),
        format!("echo x >&1; echo more; touch {}", marker.display()),
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(ash_bin())
            .arg("-c")
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(writer)
            .output()
            .expect("ash runs");
        assert_eq!(
            out.status.code(),
            Some(141),
            "{script}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{script}: {}", text(&out.stderr));
        assert!(!marker.exists(), "{script}: the script went on");
    }
}

// ------------------------------------------------------------ small items

/// `--` ends ash's options, as in sh: the next argument is the script
/// even if it starts with `-`. Before: "unknown option --", status 2.
#[test]
fn double_dash_ends_the_options() {
    let dir = common::TempDir::new();
    std::fs::write(dir.0.join("-x.ash"), "echo ran $args\n").expect("write");
    std::fs::write(dir.0.join("s.ash"), "echo s $args\n").expect("write");
    for (args, want) in [
        (&["--", "-x.ash", "a", "--", "b"][..], "ran a -- b\n"),
        (&["--", "s.ash", "-c", "x"][..], "s -c x\n"),
        (&["--debug", "--", "s.ash"][..], "s\n"),
    ] {
        let out = Command::new(ash_bin())
            .args(args)
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .output()
            .expect("ash runs");
        assert_eq!(
            (out.status.code(), text(&out.stdout)),
            (Some(0), want.to_string()),
            "ash {args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// A lone carriage return is part of a word, as in sh (an old Mac file's
/// lines are not silently joined), and shown escaped in messages; the
/// `\r` of a `\r\n` line end still is not. Before: a lone CR was a blank
/// (`echo a<CR>b` printed `a b`), and `ls<CR>` printed a raw CR.
#[test]
fn a_lone_carriage_return_is_not_a_blank() {
    let dir = common::TempDir::new();
    std::fs::write(dir.0.join("cr.ash"), "echo a\rb\n").expect("write");
    let out = Command::new(ash_bin())
        .arg(dir.0.join("cr.ash"))
        .output()
        .expect("ash runs");
    assert_eq!(text(&out.stdout), "a\rb\n", "{}", text(&out.stderr));
    let out = ash("ls\r");
    assert_eq!(out.status.code(), Some(127));
    let err = text(&out.stderr);
    assert!(err.contains("command not found: ls\\r"), "{err}");
    assert!(!err.contains('\r'), "a raw CR in {err:?}");
    expect_ok("CRLF", "echo a\r\nif true {\r\n  echo b\r\n}\r\n", "a\nb\n");
}

/// Ctrl-C during `gather --group`: what each branch wrote is printed
/// before ash exits 130. Before: it was discarded.
#[test]
fn an_interrupted_gather_group_prints_what_each_branch_wrote() {
    let child = Command::new(ash_bin())
        .arg("-c")
        .arg("gather --group { echo one; sleep 10 } { echo two; /bin/echo three; sleep 10 }")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ash starts");
    std::thread::sleep(std::time::Duration::from_millis(800));
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let out = child.wait_with_output().expect("ash ends");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "one\ntwo\nthree\n");
}

// ------------------------------------------------------------ memory

/// What `/proc` says of an ash started by `cmd` once it printed `ready`
/// (it then sleeps until killed): its status file, and the CPU time it
/// used until then in seconds (user and system; waiting for a core
/// under load does not count).
fn proc_when_ready(mut cmd: Command) -> (String, f64) {
    use std::io::BufRead;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ash starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line, "ready\n");
    let pid = child.id().to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let stat = common::stat_fields(&pid).expect("/proc stat");
    let _ = child.kill();
    let _ = child.wait();
    // utime and stime, fields 14 and 15 of stat, in clock ticks (100 a
    // second on Linux).
    let ticks: u64 =
        stat[11].parse::<u64>().expect("utime") + stat[12].parse::<u64>().expect("stime");
    (status, ticks as f64 / 100.0)
}

/// The value of the `key:` line of a `/proc/PID/status` text, in KiB.
fn kib(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a size in /proc status")
}

/// The resident memory (KiB) of `ash -c script` once it printed `ready`
/// (it then sleeps until killed).
fn rss_when_ready(script: &str) -> u64 {
    let mut cmd = Command::new(ash_bin());
    cmd.arg("-c").arg(format!("{script}\necho ready\nsleep 60"));
    kib(&proc_when_ready(cmd).0, "VmRSS:")
}

/// Sleeping tasks are small (W3): each is an executor task with its
/// driver, a task record, a context with its cancel token, a frame, a
/// closure, a timer entry, a slot in the table of live tasks and a place
/// in the script's list and in `gather`'s (and no value stack while it
/// sleeps with nothing on it). Measured between 1,024 and 16,384 tasks
/// (powers of two, so no list has spare room), in bytes of resident
/// memory per task at the peak: about 735 before the records were packed
/// (session 7), about 640 after, 620-630 with the 40-byte frame, 533-546
/// with the stack given back and the token inside the context (session
/// 8; debug and release builds alike, ±10 from run to run: a change of
/// one 16-byte size class is within the noise, tests/sizes.rs holds the
/// records exactly); the bound fails if they grow back.
#[test]
fn sleeping_tasks_are_small() {
    let peak = |n: usize| {
        let script = format!(
            "let tasks = []\n\
             for i in (range(0, {n})) {{ push(tasks, spawn {{ sleep 60 }}) }}\n\
             let all = spawn {{ gather $tasks }}\n\
             sleep 0.2\necho ready\nsleep 60\n"
        );
        let mut cmd = Command::new(ash_bin());
        cmd.args(["-c", &script]);
        kib(&proc_when_ready(cmd).0, "VmHWM:")
    };
    let (small, big) = (peak(1_024), peak(16_384));
    let per_task = (big.saturating_sub(small) * 1024) / (16_384 - 1_024);
    assert!(
        per_task < 600,
        "{per_task} bytes per sleeping task ({small} KiB -> {big} KiB)"
    );
}

/// A failed task or `gather` branch whose error was retrieved (caught),
/// or that nothing can retrieve any more, costs no memory once it is gone.
/// Before: every failed task stayed in the list of failures to report at
/// exit, about 440 bytes each (200,000 caught failures: 86 MB).
#[test]
fn caught_task_failures_do_not_accumulate() {
    for (what, body) in [
        (
            "awaited task",
            "try { await (spawn { throw \"x\" }) } catch e { }",
        ),
        (
            "gather branch",
            "try { gather { throw \"x\" } } catch e { }",
        ),
        // No handle kept: nobody can await it, only its report is kept
        // (the first hundred, then a count).
        ("task never awaited", "spawn { throw \"x\" }"),
    ] {
        let run = |n: u64| {
            rss_when_ready(&format!(
                "let i = 0\nwhile (i < {n}) {{\n  {body}\n  i = i + 1\n}}"
            ))
        };
        let (small, big) = (run(20_000), run(120_000));
        let per_failure = (big.saturating_sub(small) * 1024) / 100_000;
        assert!(
            per_failure < 100,
            "{what}: {per_failure} bytes per failure ({small} KiB -> {big} KiB)"
        );
    }
}

// ------------------------------------------------------ working directory

/// Started in a directory that was removed, ash stays there: its commands
/// fail with a clear error and nothing is made in `/`. Before: ash worked
/// in `/` (`touch f` made `/f`).
#[test]
fn started_in_a_removed_directory_ash_never_falls_back_to_root() {
    let dir = common::TempDir::new();
    let gone = dir.0.join("gone");
    std::fs::create_dir(&gone).expect("mkdir");
    let name = format!("ash-robust-{}", std::process::id());
    let script = format!(
        "pwd\ntry {{ touch {name}-1 }} catch e {{ echo (e.kind) (e.message) }}\n\
         try {{ echo x > {name}-2 }} catch e {{ echo (e.kind) }}\ncd {}\npwd",
        dir.0.display()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg("cd \"$1\" && rmdir \"$1\" && exec \"$2\" -c \"$3\"")
        .args(["sh", &gone.display().to_string(), &ash_bin(), &script])
        .output()
        .expect("sh runs");
    let made: Vec<_> = [1, 2]
        .iter()
        .map(|i| std::path::PathBuf::from(format!("/{name}-{i}")))
        .filter(|p| p.exists())
        .collect();
    for p in &made {
        let _ = std::fs::remove_file(p);
    }
    assert!(made.is_empty(), "made in /: {made:?}");
    assert_eq!(
        text(&out.stdout),
        format!(
            "{gone}\nIOError the working directory {gone} was removed (cd to another one)\nIOError\n{}\n",
            dir.0.display(),
            gone = gone.display()
        ),
        "{}",
        text(&out.stderr)
    );
}

/// A task's directory is held open: after the directory is renamed, or a
/// symlink it was entered through is pointed elsewhere, its commands,
/// redirections, globs and tests still run where it is. Before: the path
/// was looked up again for every command (the renamed case failed with
/// "cannot change directory", the symlink case wrote into the new target).
#[test]
fn a_renamed_directory_or_a_swapped_symlink_does_not_move_a_task() {
    let dir = common::TempDir::new();
    let d = dir.0.display().to_string();
    std::fs::create_dir(dir.0.join("x")).expect("mkdir");
    expect_ok(
        "renamed",
        &format!(
            "cd {d}/x\nmv {d}/x {d}/y\ntouch a\necho b > b\necho *\ntest -f a && echo test\n/bin/pwd\npwd"
        ),
        &format!("a b\ntest\n{d}/y\n{d}/x\n"),
    );
    assert!(dir.0.join("y/a").exists() && dir.0.join("y/b").exists());
    std::fs::create_dir(dir.0.join("A")).expect("mkdir");
    std::fs::create_dir(dir.0.join("B")).expect("mkdir");
    std::os::unix::fs::symlink("A", dir.0.join("link")).expect("symlink");
    expect_ok(
        "swapped symlink",
        &format!(
            "cd {d}/link\nln -sfn B {d}/link\ntouch z\necho z > y\nspawn {{ touch w }}\nsleep 100ms\necho *"
        ),
        "w y z\n",
    );
    assert!(dir.0.join("A/z").exists() && dir.0.join("A/w").exists());
    assert!(
        std::fs::read_dir(dir.0.join("B"))
            .expect("B")
            .next()
            .is_none()
    );
}

// ------------------------------------------------------------ big scripts

/// `text` as the script file `name` in `dir`.
fn script_file(dir: &common::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.0.join(name);
    std::fs::write(&path, text).expect("write the script");
    path
}

/// `n` lines made by `line`, joined.
fn lines(n: usize, line: impl Fn(usize) -> String) -> String {
    (0..n).map(|i| line(i) + "\n").collect()
}

/// Variables are numbered by 16-bit slots in the code: 65,536 of them in
/// one function (or in the blocks of a script) are a clear compile error
/// at the first one that does not fit, and a script's top-level `let`s
/// past that many are globals, which have no limit. Before: a panic
/// (index out of bounds in `vm/fiber.rs`, status 101), and a 70,000-name
/// list pattern unpacked into 4,464 names (the count was truncated).
#[test]
fn sixty_five_thousand_variables_are_a_clear_error_never_a_panic() {
    let dir = common::TempDir::new();
    let n = 65_536;
    let run = |name: &str, src: String| {
        let path = script_file(&dir, name, &src);
        let out = Command::new(ash_bin())
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .expect("ash runs");
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let top = lines(n, |i| format!("let v{i} = {i}")) + "echo $v0 $v65535\n";
    assert_eq!(
        run("top.ash", top),
        (Some(0), "0 65535\n".to_string(), String::new()),
        "65,536 top-level lets"
    );
    let body = lines(n, |i| format!("  let v{i} = {i}"));
    for (name, src, whose) in [
        ("fn.ash", format!("fn f() {{\n{body}}}\nf\n"), "a function"),
        (
            "block.ash",
            format!("if (true) {{\n{body}}}\n"),
            "the script",
        ),
    ] {
        let (code, stdout, stderr) = run(name, src);
        let want = format!(
            "{name}:65537:7: syntax error: too many variables: {whose} can have at most 65535"
        );
        assert!(
            code == Some(2) && stdout.is_empty() && stderr.contains(&want),
            "{name}: status {code:?}\nstdout: {stdout}\nstderr: {stderr}"
        );
    }
    let names: Vec<String> = (0..70_000).map(|i| format!("a{i}")).collect();
    let (code, stdout, stderr) = run(
        "pattern.ash",
        format!("let [{}] = range(70000)\necho $a69999\n", names.join(", ")),
    );
    assert!(
        code == Some(2)
            && stdout.is_empty()
            && stderr.contains(
                "pattern.ash:1:5: syntax error: a list pattern can take apart at most 65535 items"
            ),
        "70,000-name pattern: status {code:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
}

/// Compiling is linear in the number of variables: a name is found with
/// one hash probe, not a scan of every name declared before it. Before:
/// 60,000 top-level `let`s took about 23 s of CPU (debug build), a
/// 30,000-name pattern 3 s, a function reading 30,000 outer variables
/// 37 s; now each well under a second.
#[test]
fn compile_time_is_linear_in_the_number_of_variables() {
    let dir = common::TempDir::new();
    let n = 60_000;
    let chain = |indent: &str| {
        lines(n, |i| match i {
            0 => format!("{indent}let v0 = 0"),
            _ => format!("{indent}let v{i} = v{} + 1", i - 1),
        })
    };
    let names: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
    let outer = 30_000;
    let cases = [
        ("top-level lets", chain("")),
        (
            "lets in a function",
            format!("fn f() {{\n{}}}\n", chain("  ")),
        ),
        (
            "a list pattern",
            format!("fn f() {{\n  let [{}] = range({n})\n}}\n", names.join(", ")),
        ),
        (
            "a function reading outer variables",
            lines(outer, |i| format!("let v{i} = {i}"))
                + "fn g() {\n"
                + &lines(outer, |i| format!("  echo -n $v{i}"))
                + "}\n",
        ),
    ];
    for (k, (what, text)) in cases.into_iter().enumerate() {
        let path = script_file(
            &dir,
            &format!("c{k}.ash"),
            &(text + "echo ready\nsleep 60\n"),
        );
        let mut cmd = Command::new(ash_bin());
        cmd.arg(&path);
        let (_, cpu) = proc_when_ready(cmd);
        assert!(cpu < 5.0, "{what}: {cpu:.2} s of CPU to compile");
    }
}

/// The syntax tree of a script lives beside its code until the compile
/// ends; its lists keep no spare room. Before: about 3,000 bytes per
/// `echo` line at the peak (debug build; 2,400 in release), now about
/// 1,850 (1,400).
#[test]
fn a_big_script_compiles_in_little_memory() {
    let dir = common::TempDir::new();
    let peak = |n: usize| {
        let text = lines(n, |i| format!("echo hello world {i} > /dev/null"));
        let path = script_file(
            &dir,
            &format!("echo{n}.ash"),
            &(text + "echo ready\nsleep 60\n"),
        );
        let mut cmd = Command::new(ash_bin());
        cmd.arg(&path);
        kib(&proc_when_ready(cmd).0, "VmHWM:")
    };
    let (small, big) = (peak(20_000), peak(100_000));
    let per_line = (big.saturating_sub(small) * 1024) / 80_000;
    assert!(
        per_line < 2_400,
        "{per_line} bytes per line at the peak ({small} KiB -> {big} KiB)"
    );
}

/// A large capture is held once at its peak: its pieces are freed as the
/// string is filled (W7). Before, the string was zero-filled while all the
/// pieces were alive: 2.0x the output.
#[test]
fn a_big_capture_is_held_once_at_the_peak() {
    let peak = |mib: usize| {
        let script = format!(
            "let x = $(head -c {} /dev/zero | tr '\\0' a)\necho ready\nsleep 60\n",
            mib << 20
        );
        let mut cmd = Command::new(ash_bin());
        cmd.args(["-c", &script]);
        kib(&proc_when_ready(cmd).0, "VmHWM:")
    };
    let (small, big) = (peak(1), peak(33));
    let per_mib = (big.saturating_sub(small)) as f64 / 32.0 / 1024.0;
    assert!(
        per_mib < 1.25,
        "{per_mib:.2} MiB at the peak per MiB captured ({small} KiB -> {big} KiB)"
    );
}

/// What docs/reference.md tells users about pieces of a big text: a line
/// `lines()` cut from a 64 MiB capture keeps the whole capture in memory
/// while it is held, and `"$piece"` is a copy of its own that does not.
#[test]
fn a_piece_keeps_its_text_alive_and_an_interpolated_copy_does_not() {
    let rss = |kept: &str| {
        rss_when_ready(&format!(
            "let text = $(printf 'head\\n'; head -c 67108864 /dev/zero)\n\
             let piece = lines(text)[0]\n\
             let kept = {kept}\n\
             text = null\n\
             piece = null\n\
             if (kept != \"head\") {{ exit 1 }}"
        ))
    };
    let (piece, copy) = (rss("piece"), rss("\"$piece\""));
    assert!(
        piece > 60 * 1024,
        "the piece holds {piece} KiB, not the text"
    );
    assert!(
        copy < 40 * 1024,
        "the copy holds {copy} KiB: the text is kept"
    );
}

// ------------------------------------------------------------- containment

/// A descendant that clears its environment carries no scope token, so no
/// sweep finds it; but once its parent is gone it is ash's (a subreaper),
/// and the end of the script kills what ash adopted. Before: `env -i
/// sleep`, `env -i setsid sleep` orphaned by a finished `sh`, and one
/// orphaned by the cancellation of a background job at the end, all
/// outlived ash.
#[test]
fn descendants_that_clear_their_environment_die_when_the_script_ends() {
    // A duration no other test uses, so the leftovers are these. Their
    // output goes to /dev/null, so a leftover does not hold ash's stdout
    // open (the test would wait for it).
    let mark = format!("300.{}", std::process::id());
    let script = format!(
        "sh -c '(env -i sleep {mark} &) ; (env -i setsid sleep {mark} &)' > /dev/null 2>&1\n\
         sh -c 'env -u ASH_SCOPE setsid sleep {mark} & wait' > /dev/null 2>&1 &\n\
         sleep 0.3\n\
         echo started"
    );
    let out = ash(&script);
    assert_eq!(
        text(&out.stdout),
        "started\n",
        "stderr: {}",
        text(&out.stderr)
    );
    // What ash killed may take a moment to be gone.
    let mut left = common::processes_with_arg(&mark);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        left = common::processes_with_arg(&mark);
    }
    for &pid in &left {
        // Leave nothing behind for the next test.
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    assert!(
        left.is_empty(),
        "{} left running after ash exited",
        left.len()
    );
}

/// The text of a list that shares its parts (`a = [a, a]` forty times:
/// 2^40 leaves from a few kilobytes of values) is a `ValueError` at its
/// location, for `"$a"`, `echo`, a program's arguments, `str`, `to_json`
/// and `join`: at once when the leaves are small (the walk works out the
/// least its text takes after its first MiB), at 1 GiB when they are 1 MiB
/// strings. Before: ash asked the allocator for more and aborted (SIGABRT,
/// "memory allocation of ... failed"). Run under a 2.5 GB address-space
/// limit, so the old binary aborts quickly rather than swallowing the
/// machine's memory.
#[test]
fn the_text_of_a_huge_shared_value_is_a_clear_error() {
    for leaf in ["1", "\"x\" * 1048576"] {
        for (what, stmt) in [
            ("interpolation", "let t = \"$a\""),
            ("echo", "echo $a"),
            ("program", "/bin/true $a"),
            ("str", "let t = str(a)"),
            ("to_json", "let t = to_json(a)"),
            ("join", "let t = join(a, \",\")"),
        ] {
            let script = format!(
                "let a = [{leaf}]\nfor i in (range(40)) {{ a = [a, a] }}\n{stmt}\necho survived"
            );
            let out = Command::new("prlimit")
                .arg("--as=2500000000")
                .arg(ash_bin())
                .arg("-c")
                .arg(&script)
                .stdin(Stdio::null())
                .env("LC_ALL", "C")
                .output()
                .expect("prlimit runs ash");
            let err = text(&out.stderr);
            assert!(
                out.status.code() == Some(1)
                    && out.stdout.is_empty()
                    && err.contains("-c:3:")
                    && err.contains("ValueError")
                    && err.contains("1024 MiB"),
                "{what} of [{leaf}]: status {:?}\nstderr: {}",
                out.status,
                &err[..err.len().min(2000)]
            );
        }
    }
}
