//! Value-building inputs (issue 21): the fuzzer's bytes are a little
//! program over eight registers that makes lists and maps, puts values
//! into them (so cycles, mutual cycles and shared parts appear), nests
//! them thousands deep, and runs every operation that walks values.
//!
//! The same program runs twice: in-process on `ash::vm` values
//! ([`run_in_process`]: `to_bytes`, `repr`, `==`, `<`, then the drop of
//! everything, where libFuzzer sees coverage and a stack overflow is a
//! crash), and as an ash script ([`script`]) that `run_binary` runs, for
//! the paths only the binary has (`echo`, program arguments, `printf`,
//! `export`, env prefixes, `throw`, `str`, `join`, `to_json`, `sorted`).

use std::fmt::Write as _;
use std::rc::{Rc, Weak};

use ash::vm::list::ListCell;
use ash::vm::value::{MapCell, Value};

/// Registers of the little program.
const REGS: usize = 8;
/// The deepest one nesting instruction goes (most go at most 100 deep,
/// which keeps runs fast; a few go this deep).
const MAX_NEST: usize = 20_000;

/// One decoded instruction.
#[derive(Debug, Clone, Copy)]
pub enum Insn {
    NewList(usize),
    NewMap(usize),
    Push(usize, usize),
    SetKey(usize, u8, usize),
    Nest {
        reg: usize,
        depth: usize,
        map: bool,
    },
    Leaf(usize, u8),
    /// Walk `reg` in one of the ways values are walked (`how`).
    Walk(usize, u8),
    Equal(usize, usize),
    Order(usize, usize),
    Copy(usize, usize),
}

/// All nesting instructions of one program together go at most this deep
/// (a million levels of maps take a minute under AddressSanitizer).
const NEST_BUDGET: usize = 60_000;

/// Decode the bytes: each instruction takes 3 bytes (4 for a nesting).
pub fn decode(data: &[u8]) -> Vec<Insn> {
    let mut out = Vec::new();
    let mut budget = NEST_BUDGET;
    let mut i = 0;
    while i + 3 <= data.len() && out.len() < 200 {
        let (op, a, b) = (data[i], data[i + 1] as usize % REGS, data[i + 2]);
        let bb = b as usize % REGS;
        i += 3;
        out.push(match op % 10 {
            0 => Insn::NewList(a),
            1 => Insn::NewMap(a),
            2 => Insn::Push(a, bb),
            3 => Insn::SetKey(a, b % 4, (b as usize / 4) % REGS),
            4 => {
                let extra = data.get(i).copied().unwrap_or(0) as usize;
                i += 1;
                let n = usize::from(b) << 8 | extra;
                let depth = (1 + if op & 0x40 != 0 {
                    n % MAX_NEST
                } else {
                    n % 100
                })
                .min(budget);
                budget -= depth;
                Insn::Nest {
                    reg: a,
                    depth,
                    map: op & 0x80 != 0,
                }
            }
            5 => Insn::Leaf(a, b),
            6 => Insn::Walk(a, b),
            7 => Insn::Equal(a, bb),
            8 => Insn::Order(a, bb),
            _ => Insn::Copy(a, bb),
        });
    }
    out
}

fn leaf(b: u8) -> Value {
    match b % 4 {
        0 => Value::Int(i64::from(b)),
        1 => Value::str(format!("s{b}")),
        2 => Value::Null,
        _ => Value::Bool(b & 4 != 0),
    }
}

/// Run the program on `ash::vm` values: no walk may crash; then every
/// value is dropped (deep ones through the trashcan) and the containers
/// kept alive by cycles are emptied, so nothing leaks between runs.
pub fn run_in_process(program: &[Insn]) {
    let mut regs: Vec<Value> = (0..REGS as i64).map(Value::Int).collect();
    let mut lists: Vec<Weak<ListCell>> = Vec::new();
    let mut maps: Vec<Weak<MapCell>> = Vec::new();
    let mut track = |v: &Value| match v {
        Value::List(l) => lists.push(Rc::downgrade(l)),
        Value::Map(m) => maps.push(Rc::downgrade(m)),
        _ => {}
    };
    for &insn in program {
        match insn {
            Insn::NewList(r) => {
                regs[r] = Value::list(Vec::new());
                track(&regs[r]);
            }
            Insn::NewMap(r) => {
                regs[r] = Value::map(Default::default());
                track(&regs[r]);
            }
            Insn::Push(r, s) => {
                let v = regs[s].clone();
                if let Value::List(l) = &regs[r] {
                    l.borrow_mut().push(v);
                }
            }
            Insn::SetKey(r, k, s) => {
                let v = regs[s].clone();
                if let Value::Map(m) = &regs[r] {
                    m.borrow_mut()
                        .insert(ash::vm::value::Str::from(format!("k{k}")), v);
                }
            }
            Insn::Nest { reg, depth, map } => {
                for _ in 0..depth {
                    let inner = std::mem::take(&mut regs[reg]);
                    regs[reg] = if map {
                        let m = Value::map(Default::default());
                        if let Value::Map(cell) = &m {
                            cell.borrow_mut()
                                .insert(ash::vm::value::Str::from("x"), inner);
                        }
                        m
                    } else {
                        Value::list(vec![inner])
                    };
                    track(&regs[reg]);
                }
            }
            Insn::Leaf(r, b) => regs[r] = leaf(b),
            Insn::Walk(r, how) => {
                if how % 2 == 0 {
                    let _ = regs[r].to_bytes();
                } else {
                    let _ = regs[r].repr();
                }
            }
            Insn::Equal(r, s) => {
                let _ = regs[r].equals(&regs[s]);
            }
            Insn::Order(r, s) => {
                let _ = ash::vm::ops::compare(&regs[r], &regs[s]);
            }
            Insn::Copy(r, s) => regs[r] = regs[s].clone(),
        }
    }
    drop(regs);
    for l in lists {
        if let Some(l) = l.upgrade() {
            let items = std::mem::take(&mut *l.borrow_mut());
            drop(items);
        }
    }
    for m in maps {
        if let Some(m) = m.upgrade() {
            let entries = std::mem::take(&mut *m.borrow_mut());
            drop(entries);
        }
    }
}

/// The same program as an ash script; every operation that can fail is
/// in a `try`, so a run goes on to the next one.
pub fn script(program: &[Insn]) -> String {
    let mut s = String::new();
    for r in 0..REGS {
        let _ = writeln!(s, "let r{r} = {r}");
    }
    for &insn in program {
        let _ = match insn {
            Insn::NewList(r) => writeln!(s, "r{r} = []"),
            Insn::NewMap(r) => writeln!(s, "r{r} = {{}}"),
            Insn::Push(r, x) => writeln!(s, "try {{ push(r{r}, r{x}) }} catch e {{ }}"),
            Insn::SetKey(r, k, x) => writeln!(s, "try {{ r{r}.k{k} = r{x} }} catch e {{ }}"),
            Insn::Nest { reg, depth, map } => {
                let wrap = if map {
                    format!("{{x: r{reg}}}")
                } else {
                    format!("[r{reg}]")
                };
                writeln!(s, "for j in (range(0, {depth})) {{ r{reg} = {wrap} }}")
            }
            Insn::Leaf(r, b) => match leaf(b) {
                Value::Int(i) => writeln!(s, "r{r} = {i}"),
                Value::Str(x) => writeln!(s, "r{r} = \"{}\"", String::from_utf8_lossy(&x)),
                Value::Bool(x) => writeln!(s, "r{r} = {x}"),
                _ => writeln!(s, "r{r} = null"),
            },
            Insn::Walk(r, how) => {
                let op = match how % 12 {
                    0 => format!("echo $r{r}"),
                    1 => format!("echo \"<${{r{r}}}>\""),
                    2 => format!("printf \"%s\\n\" $r{r}"),
                    3 => format!("export X = r{r}"),
                    4 => format!("X=$r{r} cat < /dev/null"),
                    5 => format!("echo x $r{r} | cat"),
                    6 => format!("throw $r{r}"),
                    7 => format!("echo (str(r{r})) (join([r{r}], \",\"))"),
                    8 => format!("echo (to_json(r{r}))"),
                    9 => format!("let m = {{k: r{r}}}; echo \"$m\""),
                    // A value's repr in a message.
                    10 => format!("echo (chan(r{r}))"),
                    _ => format!("echo $(echo $r{r})"),
                };
                writeln!(s, "try {{ {op} }} catch e {{ echo (e.kind) }}")
            }
            Insn::Equal(r, x) => writeln!(
                s,
                "try {{ echo (r{r} == r{x}) (r{r} != r{x}) (contains([r{r}], r{x})) (index_of([r{r}], r{x})) }} catch e {{ echo (e.kind) }}"
            ),
            Insn::Order(r, x) => writeln!(
                s,
                "try {{ echo (r{r} < r{x}) (sorted([r{r}, r{x}])) (min(r{r}, r{x})) }} catch e {{ echo (e.kind) }}"
            ),
            Insn::Copy(r, x) => writeln!(s, "r{r} = r{x}"),
        };
    }
    s.push_str("echo end\n");
    s
}
