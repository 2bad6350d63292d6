//! Tests of every built-in function, its errors included.

#![allow(clippy::unwrap_used)]

use super::{FUNCTIONS, lookup};
use crate::vm::error::{Error, ErrorKind};
use crate::vm::objects::Host;
use crate::vm::value::Value;

struct Env;

impl Host for Env {
    fn getenv(&self, name: &[u8]) -> Option<Vec<u8>> {
        match name {
            b"HOME" => Some(b"/home/ash".to_vec()),
            b"RAW" => Some(b"a\xffb".to_vec()),
            _ => None,
        }
    }

    fn cwd(&self) -> std::path::PathBuf {
        std::path::PathBuf::from("/work/dir")
    }
}

fn s(x: &str) -> Value {
    Value::str(x)
}

fn b(x: &[u8]) -> Value {
    Value::str(x)
}

fn i(n: i64) -> Value {
    Value::Int(n)
}

fn f(x: f64) -> Value {
    Value::Float(x)
}

fn l(items: Vec<Value>) -> Value {
    Value::list(items)
}

fn m(entries: &[(&str, Value)]) -> Value {
    let mut map = crate::vm::value::Entries::default();
    for (k, v) in entries {
        map.insert(crate::vm::value::Str::from(*k), v.clone());
    }
    Value::map(map)
}

fn call(name: &str, args: Vec<Value>) -> Result<Value, Error> {
    let func = lookup(name).unwrap_or_else(|| panic!("no builtin {name}"));
    (func.call)(&Env, &args)
}

/// The result's `repr` (which shows types: `1` vs `1.0` vs `"1"`).
fn ok(name: &str, args: Vec<Value>) -> String {
    match call(name, args) {
        Ok(v) => v.repr(),
        Err(e) => panic!("{name}: unexpected {}: {}", e.kind.name(), e.message),
    }
}

/// The bytes of a string result.
fn bytes(name: &str, args: Vec<Value>) -> Vec<u8> {
    match call(name, args) {
        Ok(Value::Str(s)) => s.to_vec(),
        Ok(v) => panic!("{name}: expected a string, got {}", v.repr()),
        Err(e) => panic!("{name}: unexpected {}: {}", e.kind.name(), e.message),
    }
}

fn err(name: &str, args: Vec<Value>) -> (ErrorKind, String) {
    match call(name, args) {
        Ok(v) => panic!("{name}: expected an error, got {}", v.repr()),
        Err(e) => (e.kind, e.message.clone()),
    }
}

fn type_err(name: &str, args: Vec<Value>) -> String {
    let (kind, msg) = err(name, args);
    assert_eq!(kind, ErrorKind::Type, "{msg}");
    msg
}

fn value_err(name: &str, args: Vec<Value>) -> String {
    let (kind, msg) = err(name, args);
    assert_eq!(kind, ErrorKind::Value, "{msg}");
    msg
}

#[test]
fn table_is_sorted_without_duplicates() {
    for pair in FUNCTIONS.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} before {}",
            pair[0].name,
            pair[1].name
        );
    }
    for func in FUNCTIONS {
        assert!(std::ptr::eq(lookup(func.name).unwrap(), func));
    }
    assert!(lookup("nope").is_none());
    assert!(lookup("map").is_none() && lookup("filter").is_none());
}

#[test]
fn the_documented_functions_exist() {
    let names = "len str int float lines split join range keys values contains starts_with \
                 ends_with trim replace type push from_json to_json now getenv upper lower abs \
                 min max sum reversed round index_of get remove items zip enumerate repeat \
                 pad_left pad_right basename dirname ext stem join_path abspath format \
                 strftime strptime matches match find_all sub split_re";
    for name in names.split(' ') {
        assert!(lookup(name).is_some(), "{name}");
    }
}

#[test]
fn arity_errors() {
    assert_eq!(
        type_err("len", vec![s("a"), s("b")]),
        "len() takes 1 argument (2 given)"
    );
    assert_eq!(type_err("len", vec![]), "len() takes 1 argument (0 given)");
    assert_eq!(
        type_err("join", vec![l(vec![])]),
        "join() takes 2 arguments (1 given)"
    );
    assert_eq!(
        type_err("trim", vec![]),
        "trim() takes 1 or 2 arguments (0 given)"
    );
    assert_eq!(
        type_err("range", vec![]),
        "range() takes 1 to 3 arguments (0 given)"
    );
    assert_eq!(
        type_err("min", vec![]),
        "min() takes at least 1 argument (0 given)"
    );
    assert_eq!(
        type_err("now", vec![i(1)]),
        "now() takes 0 arguments (1 given)"
    );
    assert_eq!(
        type_err("replace", vec![s("a"), s("b")]),
        "replace() takes 3 arguments (2 given)"
    );
}

#[test]
fn len_counts_characters_items_and_entries() {
    assert_eq!(ok("len", vec![s("")]), "0");
    assert_eq!(ok("len", vec![s("abc")]), "3");
    assert_eq!(ok("len", vec![s("héllo")]), "5");
    assert_eq!(ok("len", vec![s("日本")]), "2");
    assert_eq!(ok("len", vec![b(b"a\xff\xfeb")]), "4");
    assert_eq!(ok("len", vec![l(vec![i(1), i(2)])]), "2");
    assert_eq!(ok("len", vec![m(&[("a", i(1))])]), "1");
    assert_eq!(
        type_err("len", vec![i(3)]),
        "len() expects a string, list or map, got int"
    );
    type_err("len", vec![Value::Null]);
}

#[test]
fn str_converts_like_command_arguments() {
    assert_eq!(bytes("str", vec![s("x")]), b"x");
    assert_eq!(bytes("str", vec![b(b"\xff\x00z")]), b"\xff\x00z");
    assert_eq!(bytes("str", vec![i(-42)]), b"-42");
    assert_eq!(bytes("str", vec![f(1.0)]), b"1.0");
    assert_eq!(bytes("str", vec![f(2.5)]), b"2.5");
    assert_eq!(bytes("str", vec![Value::Bool(true)]), b"true");
    assert_eq!(bytes("str", vec![Value::Null]), b"");
    assert_eq!(
        bytes("str", vec![l(vec![s("a"), i(1), b(b"\xff")])]),
        b"a 1 \xff"
    );
    assert_eq!(bytes("str", vec![Value::Duration(1.5)]), b"1.5s");
    assert_eq!(bytes("str", vec![m(&[("k", s("v"))])]), br#"{"k": "v"}"#);
    assert_eq!(
        bytes(
            "str",
            vec![l(vec![l(vec![i(1), i(2)]), Value::Null, s("z")])]
        ),
        b"1 2  z"
    );
    // A list that contains itself does not overflow the stack.
    let me = l(vec![]);
    let Value::List(inner) = &me else {
        unreachable!()
    };
    inner.borrow_mut().push(me.clone());
    assert_eq!(
        value_err("str", vec![me.clone()]),
        "str(): a list that contains itself cannot be turned into text"
    );
    value_err("join", vec![me.clone(), s(",")]);
    inner.borrow_mut().clear();
}

#[test]
fn int_conversions() {
    assert_eq!(ok("int", vec![i(7)]), "7");
    assert_eq!(ok("int", vec![f(3.9)]), "3");
    assert_eq!(ok("int", vec![f(-3.9)]), "-3");
    assert_eq!(ok("int", vec![Value::Bool(true)]), "1");
    assert_eq!(ok("int", vec![Value::Bool(false)]), "0");
    assert_eq!(ok("int", vec![Value::Duration(2.7)]), "2");
    assert_eq!(ok("int", vec![s("42")]), "42");
    assert_eq!(ok("int", vec![s("  -17\n")]), "-17");
    assert_eq!(ok("int", vec![s("+5")]), "5");
    assert_eq!(
        ok("int", vec![s("-9223372036854775808")]),
        "-9223372036854775808"
    );
    assert_eq!(ok("int", vec![s("ff"), i(16)]), "255");
    assert_eq!(ok("int", vec![s("-101"), i(2)]), "-5");
    assert_eq!(
        value_err("int", vec![s("x")]),
        "invalid literal for int(): 'x'"
    );
    assert_eq!(
        value_err("int", vec![s("1.5")]),
        "invalid literal for int(): '1.5'"
    );
    value_err("int", vec![s("")]);
    value_err("int", vec![s("-")]);
    value_err("int", vec![s("1 2")]);
    value_err("int", vec![b(b"1\xff")]);
    assert_eq!(
        value_err("int", vec![s("9223372036854775808")]),
        "int() value out of range: '9223372036854775808'"
    );
    value_err("int", vec![f(f64::NAN)]);
    value_err("int", vec![f(f64::INFINITY)]);
    value_err("int", vec![f(1e19)]);
    assert_eq!(ok("int", vec![f(-(2f64.powi(63)))]), "-9223372036854775808");
    value_err("int", vec![s("12"), i(1)]);
    value_err("int", vec![s("12"), i(37)]);
    value_err("int", vec![s("z"), i(16)]);
    type_err("int", vec![i(12), i(16)]);
    type_err("int", vec![s("12"), s("16")]);
    assert_eq!(
        type_err("int", vec![Value::Null]),
        "int() expects a number, bool, duration or string, got null"
    );
    type_err("int", vec![l(vec![])]);
}

#[test]
fn float_conversions() {
    assert_eq!(ok("float", vec![i(2)]), "2.0");
    assert_eq!(ok("float", vec![f(2.5)]), "2.5");
    assert_eq!(ok("float", vec![Value::Bool(true)]), "1.0");
    assert_eq!(ok("float", vec![Value::Duration(0.25)]), "0.25");
    assert_eq!(ok("float", vec![s(" 3.25 ")]), "3.25");
    assert_eq!(ok("float", vec![s("-1e3")]), "-1000.0");
    assert_eq!(ok("float", vec![s(".5")]), "0.5");
    assert_eq!(ok("float", vec![s("7")]), "7.0");
    assert_eq!(ok("float", vec![s("inf")]), "inf");
    assert_eq!(ok("float", vec![s("nan")]), "nan");
    assert_eq!(
        value_err("float", vec![s("abc")]),
        "invalid literal for float(): 'abc'"
    );
    value_err("float", vec![s("")]);
    value_err("float", vec![b(b"\xff")]);
    type_err("float", vec![Value::Null]);
    type_err("float", vec![m(&[])]);
}

#[test]
fn lines_splits_on_newlines() {
    assert_eq!(ok("lines", vec![s("a\nb\n")]), r#"["a", "b"]"#);
    assert_eq!(ok("lines", vec![s("a\nb")]), r#"["a", "b"]"#);
    assert_eq!(ok("lines", vec![s("a\r\nb\r\n")]), r#"["a", "b"]"#);
    assert_eq!(ok("lines", vec![s("a\n\nb")]), r#"["a", "", "b"]"#);
    assert_eq!(ok("lines", vec![s("\n")]), r#"[""]"#);
    assert_eq!(ok("lines", vec![s("")]), "[]");
    assert_eq!(ok("lines", vec![b(b"\xff\n\xfe")]), r#"["\xff", "\xfe"]"#);
    type_err("lines", vec![i(1)]);
}

/// The pieces `lines` and `split` cut share the buffer of the string they
/// were cut from (no allocation or copy per piece: W12), in the loop and
/// off it (a big input), and have the same bytes either way.
#[test]
fn lines_and_split_pieces_share_the_text() {
    let text: Vec<u8> = (0..40_000)
        .flat_map(|n| {
            let mut line = format!("2024-05-03 host{:02} INFO req {n}", n % 40).into_bytes();
            line.extend_from_slice(b"\x00\xff\n");
            line
        })
        .collect();
    assert!(text.len() > super::offload::BYTES);
    let whole = Value::str(&text);
    let Value::Str(w) = &whole else {
        unreachable!()
    };
    let pieces = |name: &str, args: Vec<Value>, off: bool| -> Vec<Value> {
        let f = lookup(name).unwrap();
        let r = if off {
            let work = (f.off_loop.unwrap())(&args).expect("a big input runs off the loop");
            futures_lite::future::block_on(work)
        } else {
            (f.call)(&Env, &args)
        };
        match r.unwrap() {
            Value::List(l) => l.borrow().clone(),
            v => panic!("{name}: {}", v.repr()),
        }
    };
    use bstr::ByteSlice;
    for off in [false, true] {
        let got = pieces("lines", vec![whole.clone()], off);
        let want: Vec<&[u8]> = text.lines().collect();
        assert_eq!(got.len(), want.len());
        for (g, w2) in got.iter().zip(&want) {
            let Value::Str(g) = g else { panic!() };
            assert_eq!(&**g, *w2);
            assert!(g.shares_buffer(w), "a line is a copy (off the loop: {off})");
        }
        for sep in [&b" "[..], b"\x00\xff"] {
            let got = pieces("split", vec![whole.clone(), Value::str(sep)], off);
            let want: Vec<&[u8]> = text.split_str(sep).collect();
            assert_eq!(got.len(), want.len());
            for (g, w2) in got.iter().zip(&want) {
                let Value::Str(g) = g else { panic!() };
                assert_eq!(&**g, *w2);
                assert!(
                    g.shares_buffer(w),
                    "a field is a copy (off the loop: {off})"
                );
            }
        }
    }
    // A small line is cut the same way, and a field of a field too.
    let line = &pieces("lines", vec![whole.clone()], false)[7];
    let field = &pieces("split", vec![line.clone()], false)[1];
    let (Value::Str(f), Value::Str(l)) = (field, line) else {
        panic!()
    };
    assert_eq!(&**f, b"host07");
    assert!(f.shares_buffer(w) && l.shares_buffer(w));
}

/// `split` with a separator gives bstr's pieces, with and without a
/// limit, for one-byte and longer separators, at the ends and repeated.
#[test]
fn split_pieces_agree_with_bstr() {
    use bstr::ByteSlice;
    let texts: &[&[u8]] = &[
        b"",
        b",",
        b",,",
        b"a,b,,c,",
        b",a",
        b"a::b:::c::",
        b"abc",
        b"::",
    ];
    for &text in texts {
        for sep in [&b","[..], b"::", b"abcd"] {
            let all: Vec<&[u8]> = super::text::split_bytes(text, sep, None).collect();
            assert_eq!(
                all,
                text.split_str(sep).collect::<Vec<_>>(),
                "{text:?} {sep:?}"
            );
            for n in 0..4 {
                let some: Vec<&[u8]> = super::text::split_bytes(text, sep, Some(n)).collect();
                let want: Vec<&[u8]> = text.splitn_str(n + 1, sep).collect();
                assert_eq!(some, want, "{text:?} {sep:?} {n}");
            }
        }
    }
}

/// `split` on a one-byte separator (one scan for all the separators)
/// gives bstr's pieces too, with any limit, negative and past the count.
#[test]
fn split_on_one_byte_agrees_with_bstr() {
    use bstr::ByteSlice;
    let pieces = |args: Vec<Value>| -> Vec<Vec<u8>> {
        match call("split", args).unwrap() {
            Value::List(l) => l
                .borrow()
                .iter()
                .map(|v| match v {
                    Value::Str(s) => s.to_vec(),
                    v => panic!("{}", v.repr()),
                })
                .collect(),
            v => panic!("{}", v.repr()),
        }
    };
    let texts: &[&[u8]] = &[b"", b",", b",,", b"a,b,,c,", b",a", b"abc", b"a\xff,\x00,b"];
    for &text in texts {
        let all = pieces(vec![b(text), s(",")]);
        let want: Vec<Vec<u8>> = text.split_str(",").map(<[u8]>::to_vec).collect();
        assert_eq!(all, want, "{text:?}");
        for n in -2..6 {
            let some = pieces(vec![b(text), s(","), i(n)]);
            let want: Vec<Vec<u8>> = match usize::try_from(n) {
                Ok(n) => text.splitn_str(n + 1, ",").map(<[u8]>::to_vec).collect(),
                Err(_) => text.split_str(",").map(<[u8]>::to_vec).collect(),
            };
            assert_eq!(some, want, "{text:?} {n}");
        }
    }
}

/// The word-at-a-time search of `split`'s pick finds the first byte
/// where a plain search does, for bytes next to every borrow case
/// (0x00, 0x01, 0x7f, 0x80, 0xff) and from every offset.
#[test]
fn next_byte_agrees_with_a_plain_search() {
    let alphabet = [0u8, 1, 0x7f, 0x80, 0xff, b' ', b'!', b'\x1f'];
    let mut seed = 7u64;
    for len in 0..40 {
        for _ in 0..50 {
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(seed >> 33) as usize % alphabet.len()]
                })
                .collect();
            for &byte in &alphabet {
                for from in 0..=len {
                    let want = text[from..]
                        .iter()
                        .position(|&b| b == byte)
                        .map(|i| from + i);
                    assert_eq!(
                        super::text::next_byte(&text, from, byte),
                        want,
                        "{text:?} {byte} {from}"
                    );
                }
            }
        }
    }
}

/// `split(...)[k]` found by `split`'s `pick` (the fused `CallIndex`) is
/// item k of the list `split` makes, and its errors are `split`'s; past
/// the ends it gives the list's length, for the index's own error.
#[test]
fn split_pick_is_the_item_of_the_split_list() {
    let pick = lookup("split")
        .and_then(|f| f.pick)
        .expect("split has a pick");
    let texts: Vec<Vec<u8>> = [
        "",
        " ",
        "a",
        "a b  c ",
        "  lead\ttab\u{a0}x\u{3000}y ",
        "2024-05-03T04:05:06 host07 INFO request 12 took 345ms",
        "a,b,,c,",
        "a::b:::c::",
    ]
    .iter()
    .map(|t| t.as_bytes().to_vec())
    .chain([b"\xff,\x00 ,b".to_vec()])
    // Past the length scanned byte by byte (256), and at it.
    .chain([b"a, ".repeat(100), b"a, ".repeat(86)[..256].to_vec()])
    .collect();
    let mut arg_lists: Vec<Vec<Value>> = Vec::new();
    for text in &texts {
        arg_lists.push(vec![b(text)]);
        for sep in [&b" "[..], b",", b"::", b"\x00", b""] {
            arg_lists.push(vec![b(text), b(sep)]);
            for n in [-1, 0, 1, 2, 9] {
                arg_lists.push(vec![b(text), b(sep), i(n)]);
            }
            arg_lists.push(vec![b(text), b(sep), s("1")]);
        }
    }
    // Wrong types and counts.
    arg_lists.extend([
        vec![],
        vec![i(1)],
        vec![s("a"), i(1)],
        vec![s("a"), s(" "), i(1), i(2)],
    ]);
    for args in &arg_lists {
        let whole = call("split", args.clone());
        for k in -12..12 {
            let picked = pick(args, k);
            match (&whole, picked) {
                (Ok(Value::List(list)), Ok(item)) => {
                    let want = crate::vm::ops::index(&Value::List(list.clone()), &i(k))
                        .map_err(|e| e.message.to_string());
                    let got = item
                        .map_err(|n| crate::vm::ops::list_index_error(k, n).message.to_string());
                    match (&want, &got) {
                        (Ok(w), Ok(g)) => assert!(
                            w.equals(g).unwrap(),
                            "{} [{k}]: {} != {}",
                            Value::list(args.clone()).repr(),
                            g.repr(),
                            w.repr()
                        ),
                        (Err(w), Err(g)) => assert_eq!(w, g),
                        _ => panic!(
                            "{} [{k}]: {:?} vs {:?}",
                            Value::list(args.clone()).repr(),
                            want.as_ref().map(Value::repr),
                            got.as_ref().map(Value::repr)
                        ),
                    }
                }
                (Err(e), Err(p)) => {
                    assert_eq!((e.kind, &e.message), (p.kind, &p.message));
                }
                (w, p) => panic!(
                    "{} [{k}]: split {:?} but pick {:?}",
                    Value::list(args.clone()).repr(),
                    w.as_ref().map(Value::repr).map_err(|e| &e.message),
                    p.map(|r| r.map(|v| v.repr()))
                        .map_err(|e| e.message.to_string())
                ),
            }
        }
    }
}

#[test]
fn split_on_whitespace_or_a_separator() {
    assert_eq!(ok("split", vec![s("  a b\t\tc\n")]), r#"["a", "b", "c"]"#);
    assert_eq!(ok("split", vec![s("")]), "[]");
    assert_eq!(ok("split", vec![s("   ")]), "[]");
    assert_eq!(
        ok("split", vec![s("a,b,,c"), s(",")]),
        r#"["a", "b", "", "c"]"#
    );
    assert_eq!(ok("split", vec![s(""), s(",")]), r#"[""]"#);
    assert_eq!(ok("split", vec![s("a::b"), s("::")]), r#"["a", "b"]"#);
    assert_eq!(
        ok("split", vec![s("a,b,c"), s(","), i(1)]),
        r#"["a", "b,c"]"#
    );
    assert_eq!(ok("split", vec![s("a,b,c"), s(","), i(0)]), r#"["a,b,c"]"#);
    assert_eq!(
        ok("split", vec![s("a,b,c"), s(","), i(-1)]),
        r#"["a", "b", "c"]"#
    );
    assert_eq!(
        ok("split", vec![b(b"\xff \xfe\x80")]),
        r#"["\xff", "\xfe\x80"]"#
    );
    let parts = call("split", vec![b(b"a\xff,\xfeb"), s(",")]).unwrap();
    assert!(
        parts
            .equals(&l(vec![b(b"a\xff"), b(b"\xfeb")]))
            .is_ok_and(|e| e)
    );
    assert_eq!(
        value_err("split", vec![s("a"), s("")]),
        "split(): empty separator"
    );
    assert_eq!(
        type_err("split", vec![i(1)]),
        "split() expects a string, got int"
    );
    type_err("split", vec![s("a"), i(1)]);
    type_err("split", vec![s("a"), s(","), s("1")]);
}

#[test]
fn join_stringifies_elements() {
    assert_eq!(
        bytes("join", vec![l(vec![s("a"), s("b")]), s(", ")]),
        b"a, b"
    );
    assert_eq!(bytes("join", vec![l(vec![]), s(",")]), b"");
    assert_eq!(bytes("join", vec![l(vec![s("x")]), s(",")]), b"x");
    assert_eq!(
        bytes(
            "join",
            vec![
                l(vec![i(1), f(2.0), Value::Null, Value::Bool(false)]),
                s("-")
            ]
        ),
        b"1-2.0--false"
    );
    assert_eq!(
        bytes("join", vec![l(vec![b(b"\xff"), b(b"\xfe")]), b(b"\x80")]),
        b"\xff\x80\xfe"
    );
    assert_eq!(
        bytes(
            "join",
            vec![l(vec![l(vec![s("a"), s("b")]), s("c")]), s(",")]
        ),
        b"a b,c"
    );
    type_err("join", vec![s("ab"), s(",")]);
    type_err("join", vec![l(vec![]), i(1)]);
}

#[test]
fn range_builds_int_lists() {
    assert_eq!(ok("range", vec![i(3)]), "[0, 1, 2]");
    assert_eq!(ok("range", vec![i(0)]), "[]");
    assert_eq!(ok("range", vec![i(-2)]), "[]");
    assert_eq!(ok("range", vec![i(2), i(5)]), "[2, 3, 4]");
    assert_eq!(ok("range", vec![i(5), i(2)]), "[]");
    assert_eq!(ok("range", vec![i(0), i(10), i(3)]), "[0, 3, 6, 9]");
    assert_eq!(ok("range", vec![i(5), i(0), i(-2)]), "[5, 3, 1]");
    assert_eq!(ok("range", vec![i(0), i(5), i(-1)]), "[]");
    assert_eq!(
        ok("range", vec![i(i64::MAX - 1), i(i64::MAX)]),
        "[9223372036854775806]"
    );
    assert_eq!(
        ok("range", vec![i(i64::MIN), i(i64::MAX), i(i64::MAX)]),
        "[-9223372036854775808, -1, 9223372036854775806]"
    );
    assert_eq!(
        value_err("range", vec![i(0), i(1), i(0)]),
        "range(): step must not be zero"
    );
    value_err("range", vec![i(i64::MIN), i(i64::MAX)]);
    value_err("range", vec![i(100_000_001)]);
    type_err("range", vec![f(3.0)]);
    type_err("range", vec![i(1), s("3")]);
}

#[test]
fn keys_and_values_keep_insertion_order() {
    let map = m(&[("z", i(1)), ("a", i(2)), ("m", i(3))]);
    assert_eq!(ok("keys", vec![map.clone()]), r#"["z", "a", "m"]"#);
    assert_eq!(ok("values", vec![map]), "[1, 2, 3]");
    assert_eq!(ok("keys", vec![m(&[])]), "[]");
    assert_eq!(
        type_err("keys", vec![l(vec![])]),
        "keys() expects a map, got list"
    );
    type_err("values", vec![s("a")]);
}

/// The search without a finder (short haystacks) and with one (long
/// ones) find the same first place: at the start, the end, overlapping,
/// a needle longer than the haystack, a first byte that repeats.
#[test]
fn substring_search_agrees_on_short_and_long_haystacks() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"ERROR at the start", b"ERROR"),
        (b"at the end ERROR", b"ERROR"),
        (b"EERRORR", b"ERROR"),
        (b"aaab", b"aab"),
        (b"ab", b"abc"),
        (b"abc", b"c"),
        (b"", b"a"),
        (b"xyz", b"q"),
    ];
    for &(hay, needle) in cases {
        let want = memchr::memmem::find(hay, needle);
        assert_eq!(super::find_bytes(hay, needle), want, "{hay:?} {needle:?}");
        // The same text past the short-haystack limit.
        let mut long = vec![b'.'; super::SHORT_HAYSTACK];
        long.extend_from_slice(hay);
        let want = memchr::memmem::find(&long, needle);
        assert_eq!(super::find_bytes(&long, needle), want, "long {hay:?}");
    }
    assert_eq!(super::find_bytes(b"abc", b""), Some(0));
}

#[test]
fn contains_in_strings_lists_and_maps() {
    assert_eq!(ok("contains", vec![s("hello"), s("ell")]), "true");
    assert_eq!(ok("contains", vec![s("hello"), s("xyz")]), "false");
    assert_eq!(ok("contains", vec![s("hello"), s("")]), "true");
    assert_eq!(ok("contains", vec![b(b"a\xffb"), b(b"\xff")]), "true");
    assert_eq!(ok("contains", vec![l(vec![i(1), s("a")]), s("a")]), "true");
    assert_eq!(ok("contains", vec![l(vec![i(1), s("a")]), f(1.0)]), "true");
    assert_eq!(ok("contains", vec![l(vec![i(1)]), s("1")]), "false");
    assert_eq!(
        ok("contains", vec![l(vec![l(vec![i(1)])]), l(vec![i(1)])]),
        "true"
    );
    assert_eq!(ok("contains", vec![m(&[("k", i(1))]), s("k")]), "true");
    assert_eq!(ok("contains", vec![m(&[("k", i(1))]), s("v")]), "false");
    type_err("contains", vec![s("abc"), i(1)]);
    type_err("contains", vec![m(&[]), i(1)]);
    type_err("contains", vec![i(1), i(1)]);
}

#[test]
fn starts_and_ends_with() {
    assert_eq!(ok("starts_with", vec![s("hello"), s("he")]), "true");
    assert_eq!(ok("starts_with", vec![s("hello"), s("lo")]), "false");
    assert_eq!(ok("starts_with", vec![s("hello"), s("")]), "true");
    assert_eq!(ok("starts_with", vec![s("he"), s("hello")]), "false");
    assert_eq!(ok("ends_with", vec![s("hello"), s("lo")]), "true");
    assert_eq!(ok("ends_with", vec![s("hello"), s("he")]), "false");
    assert_eq!(ok("ends_with", vec![b(b"x\xff"), b(b"\xff")]), "true");
    type_err("starts_with", vec![l(vec![]), s("a")]);
    type_err("ends_with", vec![s("a"), i(1)]);
}

#[test]
fn trim_whitespace_or_given_characters() {
    assert_eq!(bytes("trim", vec![s("  a b \n")]), b"a b");
    assert_eq!(bytes("trim", vec![s("\u{3000}x\u{a0}")]), b"x");
    assert_eq!(bytes("trim", vec![s("   ")]), b"");
    assert_eq!(bytes("trim", vec![s("")]), b"");
    assert_eq!(bytes("trim", vec![b(b" \xff\xfe ")]), b"\xff\xfe");
    assert_eq!(bytes("trim", vec![s("xxaxbxx"), s("x")]), b"axb");
    assert_eq!(bytes("trim", vec![s("-=a=-"), s("=-")]), b"a");
    assert_eq!(bytes("trim", vec![s("ééaé"), s("é")]), b"a");
    assert_eq!(bytes("trim", vec![s("xxx"), s("x")]), b"");
    assert_eq!(bytes("trim", vec![s("abc"), s("")]), b"abc");
    assert_eq!(bytes("trim", vec![b(b"/\xff/"), s("/")]), b"\xff");
    // Invalid bytes are not the replacement character.
    assert_eq!(
        bytes("trim", vec![b(b"\xffa\xff"), s("\u{fffd}")]),
        b"\xffa\xff"
    );
    assert_eq!(bytes("trim", vec![s("\u{fffd}a"), s("\u{fffd}")]), b"a");
    // A set that is not UTF-8 trims bytes.
    assert_eq!(
        bytes("trim", vec![b(b"\xff\xfea\xff"), b(b"\xff\xfe")]),
        b"a"
    );
    type_err("trim", vec![i(1)]);
    type_err("trim", vec![s("a"), i(1)]);
}

#[test]
fn replace_every_occurrence() {
    assert_eq!(bytes("replace", vec![s("a-b-c"), s("-"), s("+")]), b"a+b+c");
    assert_eq!(bytes("replace", vec![s("aaa"), s("aa"), s("b")]), b"ba");
    assert_eq!(bytes("replace", vec![s("abc"), s("x"), s("y")]), b"abc");
    assert_eq!(bytes("replace", vec![s("abc"), s("b"), s("")]), b"ac");
    assert_eq!(
        bytes("replace", vec![b(b"\xff.\xfe"), s("."), b(b"\x80")]),
        b"\xff\x80\xfe"
    );
    assert_eq!(
        value_err("replace", vec![s("abc"), s(""), s("x")]),
        "replace(): empty pattern"
    );
    type_err("replace", vec![i(1), s("a"), s("b")]);
    type_err("replace", vec![s("a"), s("a"), i(1)]);
}

#[test]
fn type_names() {
    assert_eq!(ok("type", vec![Value::Null]), r#""null""#);
    assert_eq!(ok("type", vec![i(1)]), r#""int""#);
    assert_eq!(ok("type", vec![f(1.0)]), r#""float""#);
    assert_eq!(ok("type", vec![s("")]), r#""string""#);
    assert_eq!(ok("type", vec![l(vec![])]), r#""list""#);
    assert_eq!(ok("type", vec![m(&[])]), r#""map""#);
    assert_eq!(ok("type", vec![Value::Duration(1.0)]), r#""duration""#);
    let len = lookup("len").unwrap();
    assert_eq!(ok("type", vec![Value::Native(len)]), r#""function""#);
}

#[test]
fn push_appends_in_place() {
    let xs = l(vec![i(1)]);
    assert_eq!(ok("push", vec![xs.clone(), s("a")]), "null");
    assert_eq!(ok("push", vec![xs.clone(), xs.clone()]), "null");
    let Value::List(items) = &xs else {
        unreachable!()
    };
    assert_eq!(items.borrow().len(), 3);
    assert!(items.borrow()[1].equals(&s("a")).is_ok_and(|e| e));
    assert_eq!(
        type_err("push", vec![s("a"), i(1)]),
        "push() expects a list, got string"
    );
}

#[test]
fn upper_and_lower() {
    assert_eq!(bytes("upper", vec![s("abc É ß")]), "ABC É SS".as_bytes());
    assert_eq!(bytes("lower", vec![s("ABC É")]), "abc é".as_bytes());
    assert_eq!(bytes("upper", vec![b(b"a\xffb")]), b"A\xffB");
    assert_eq!(bytes("lower", vec![b(b"A\xfe\xffB")]), b"a\xfe\xffb");
    type_err("upper", vec![i(1)]);
    type_err("lower", vec![Value::Null]);
}

#[test]
fn abs_of_numbers() {
    assert_eq!(ok("abs", vec![i(-3)]), "3");
    assert_eq!(ok("abs", vec![i(3)]), "3");
    assert_eq!(ok("abs", vec![f(-2.5)]), "2.5");
    assert_eq!(ok("abs", vec![Value::Duration(-1.5)]), "1.5s");
    assert_eq!(value_err("abs", vec![i(i64::MIN)]), "integer overflow");
    type_err("abs", vec![s("-1")]);
}

#[test]
fn min_and_max() {
    assert_eq!(ok("min", vec![i(3), i(1), i(2)]), "1");
    assert_eq!(ok("max", vec![i(3), i(1), i(2)]), "3");
    assert_eq!(ok("min", vec![l(vec![i(3), f(1.5), i(2)])]), "1.5");
    assert_eq!(ok("max", vec![l(vec![i(3), f(3.5), i(2)])]), "3.5");
    assert_eq!(ok("min", vec![l(vec![i(5)])]), "5");
    assert_eq!(ok("min", vec![s("b"), s("a"), s("c")]), r#""a""#);
    assert_eq!(ok("max", vec![s("b"), s("ab")]), r#""b""#);
    // Ties: the first wins.
    assert_eq!(ok("min", vec![i(1), f(1.0)]), "1");
    assert_eq!(ok("max", vec![f(1.0), i(1)]), "1.0");
    // Exact comparison of large ints and floats.
    assert_eq!(
        ok("max", vec![i(i64::MAX), f(2f64.powi(63))]),
        f(2f64.powi(63)).repr()
    );
    assert_eq!(
        ok(
            "max",
            vec![i(9_007_199_254_740_993), f(9_007_199_254_740_992.0)]
        ),
        "9007199254740993"
    );
    assert_eq!(
        ok("min", vec![Value::Duration(2.0), Value::Duration(0.5)]),
        "500ms"
    );
    assert_eq!(
        ok("max", vec![l(vec![i(1), i(2)]), l(vec![i(1), i(3)])]),
        "[1, 3]"
    );
    assert_eq!(ok("max", vec![f(f64::NAN), i(1)]), "nan");
    assert_eq!(ok("min", vec![f(f64::NAN), i(1)]), "1");
    assert_eq!(value_err("min", vec![l(vec![])]), "min() of an empty list");
    value_err("max", vec![l(vec![])]);
    assert_eq!(
        type_err("min", vec![i(1), s("a")]),
        "min() cannot compare string and int"
    );
    type_err("max", vec![Value::Bool(true), Value::Bool(false)]);
    type_err("max", vec![i(1), Value::Duration(1.0)]);
    type_err("min", vec![i(3)]);
    type_err("max", vec![s("abc")]);
}

#[test]
fn sum_of_numbers() {
    assert_eq!(ok("sum", vec![l(vec![])]), "0");
    assert_eq!(ok("sum", vec![l(vec![i(1), i(2), i(3)])]), "6");
    assert_eq!(ok("sum", vec![l(vec![i(1), f(0.5)])]), "1.5");
    assert_eq!(ok("sum", vec![l(vec![f(0.5), i(1)])]), "1.5");
    assert_eq!(ok("sum", vec![l(vec![f(1.0), f(2.0)])]), "3.0");
    assert_eq!(
        ok(
            "sum",
            vec![l(vec![Value::Duration(1.0), Value::Duration(0.5)])]
        ),
        "1.5s"
    );
    assert_eq!(
        value_err("sum", vec![l(vec![i(i64::MAX), i(1)])]),
        "integer overflow"
    );
    // Overflow is checked at each step, as `+` does.
    value_err("sum", vec![l(vec![i(i64::MAX), i(1), i(-1)])]);
    type_err("sum", vec![l(vec![i(1), s("2")])]);
    type_err("sum", vec![l(vec![Value::Bool(true)])]);
    type_err("sum", vec![l(vec![i(1), Value::Duration(1.0)])]);
    type_err("sum", vec![l(vec![Value::Duration(1.0), i(1)])]);
    type_err("sum", vec![s("12")]);
}

#[test]
fn sorted_returns_a_new_list() {
    // `sorted(xs)` is the prelude's; the native sort is `_sort(xs, keys,
    // reverse)`.
    let with_opts = |mut args: Vec<Value>| {
        args.push(Value::Null);
        args.push(Value::Bool(false));
        args
    };
    let ok = |name: &str, args: Vec<Value>| match name {
        "sorted" => ok("_sort", with_opts(args)),
        other => ok(other, args),
    };
    let call = |name: &str, args: Vec<Value>| match name {
        "sorted" => call("_sort", with_opts(args)),
        other => call(other, args),
    };
    let type_err = |name: &str, args: Vec<Value>| match name {
        "sorted" => type_err("_sort", with_opts(args)),
        other => type_err(other, args),
    };
    let value_err = |name: &str, args: Vec<Value>| match name {
        "sorted" => value_err("_sort", with_opts(args)),
        other => value_err(other, args),
    };
    let xs = l(vec![i(3), f(1.5), i(2), i(-7)]);
    assert_eq!(ok("sorted", vec![xs.clone()]), "[-7, 1.5, 2, 3]");
    assert_eq!(ok("len", vec![xs.clone()]), "4");
    assert_eq!(xs.repr(), "[3, 1.5, 2, -7]");
    assert_eq!(ok("sorted", vec![l(vec![])]), "[]");
    assert_eq!(
        ok("sorted", vec![l(vec![s("b"), s("B"), s("a"), s("é")])]),
        r#"["B", "a", "b", "é"]"#
    );
    // Stable: equal values keep their order.
    assert_eq!(
        ok("sorted", vec![l(vec![f(1.0), i(0), i(1)])]),
        "[0, 1.0, 1]"
    );
    assert_eq!(
        ok(
            "sorted",
            vec![l(vec![l(vec![i(2)]), l(vec![i(1), i(5)]), l(vec![i(1)])])]
        ),
        "[[1], [1, 5], [2]]"
    );
    assert_eq!(
        ok(
            "sorted",
            vec![l(vec![f(f64::NAN), i(2), f(f64::NEG_INFINITY)])]
        ),
        "[-inf, 2, nan]"
    );
    let big: Vec<Value> = (0..1000).map(|k| i((k * 7919) % 1000)).collect();
    let Ok(Value::List(out)) = call("sorted", vec![l(big)]) else {
        panic!()
    };
    let out = out.borrow();
    assert!(
        out.iter()
            .enumerate()
            .all(|(k, v)| v.equals(&i(k as i64)).is_ok_and(|e| e))
    );
    assert_eq!(
        type_err("sorted", vec![l(vec![i(1), s("a")])]),
        "sorted() cannot compare string and int"
    );
    type_err("sorted", vec![l(vec![Value::Null, Value::Null])]);
    type_err("sorted", vec![l(vec![l(vec![i(1)]), l(vec![s("a")])])]);
    type_err("sorted", vec![s("cba")]);
    // A list that contains itself does not overflow the stack.
    let me = l(vec![]);
    let Value::List(inner) = &me else {
        unreachable!()
    };
    inner.borrow_mut().push(me.clone());
    let twin = l(vec![]);
    let Value::List(inner2) = &twin else {
        unreachable!()
    };
    inner2.borrow_mut().push(twin.clone());
    value_err("sorted", vec![l(vec![me.clone(), twin.clone()])]);
    inner.borrow_mut().clear();
    inner2.borrow_mut().clear();
}

#[test]
fn reversed_returns_a_new_list() {
    let xs = l(vec![i(1), s("a"), i(3)]);
    assert_eq!(ok("reversed", vec![xs.clone()]), r#"[3, "a", 1]"#);
    assert_eq!(xs.repr(), r#"[1, "a", 3]"#);
    assert_eq!(ok("reversed", vec![l(vec![])]), "[]");
    type_err("reversed", vec![s("abc")]);
}

#[test]
fn round_like_python() {
    assert_eq!(ok("round", vec![f(2.5)]), "2");
    assert_eq!(ok("round", vec![f(3.5)]), "4");
    assert_eq!(ok("round", vec![f(-2.6)]), "-3");
    assert_eq!(ok("round", vec![f(0.4)]), "0");
    assert_eq!(ok("round", vec![i(7)]), "7");
    assert_eq!(ok("round", vec![f(1.23456), i(2)]), "1.23");
    assert_eq!(ok("round", vec![f(2.675), i(2)]), "2.67");
    assert_eq!(ok("round", vec![f(0.125), i(2)]), "0.12");
    assert_eq!(ok("round", vec![f(1.5), i(0)]), "2.0");
    assert_eq!(ok("round", vec![f(1234.5), i(-2)]), "1200.0");
    assert_eq!(ok("round", vec![f(1.5), i(1000)]), "1.5");
    assert_eq!(ok("round", vec![f(1.5), i(-1000)]), "0.0");
    assert_eq!(ok("round", vec![i(1234), i(-2)]), "1200");
    assert_eq!(ok("round", vec![i(1250), i(-2)]), "1200");
    assert_eq!(ok("round", vec![i(1350), i(-2)]), "1400");
    assert_eq!(ok("round", vec![i(-1250), i(-2)]), "-1200");
    assert_eq!(ok("round", vec![i(-1251), i(-2)]), "-1300");
    assert_eq!(ok("round", vec![i(1234), i(2)]), "1234");
    assert_eq!(ok("round", vec![i(1234), i(-30)]), "0");
    value_err("round", vec![i(i64::MAX), i(-1)]);
    value_err("round", vec![f(f64::NAN)]);
    value_err("round", vec![f(f64::INFINITY)]);
    value_err("round", vec![f(1e30)]);
    assert_eq!(ok("round", vec![f(f64::NAN), i(2)]), "nan");
    type_err("round", vec![s("1.5")]);
    type_err("round", vec![f(1.5), f(1.0)]);
}

#[test]
fn index_of_in_lists_and_strings() {
    assert_eq!(ok("index_of", vec![l(vec![i(5), i(6), i(6)]), i(6)]), "1");
    assert_eq!(ok("index_of", vec![l(vec![i(5)]), i(7)]), "-1");
    assert_eq!(ok("index_of", vec![l(vec![i(5)]), f(5.0)]), "0");
    assert_eq!(ok("index_of", vec![s("hello"), s("l")]), "2");
    assert_eq!(ok("index_of", vec![s("hello"), s("z")]), "-1");
    assert_eq!(ok("index_of", vec![s("hello"), s("")]), "0");
    assert_eq!(ok("index_of", vec![s("héllo"), s("l")]), "2");
    assert_eq!(ok("index_of", vec![b(b"\xff\xfel"), s("l")]), "2");
    // A needle that is not UTF-8 matching inside a character.
    assert_eq!(ok("index_of", vec![s("aé"), b(b"\xa9")]), "1");
    assert_eq!(ok("index_of", vec![s("日本"), b(b"\x9c")]), "1");
    type_err("index_of", vec![s("abc"), i(1)]);
    type_err("index_of", vec![m(&[]), s("a")]);
}

#[test]
fn get_with_default() {
    let map = m(&[("a", i(1))]);
    assert_eq!(ok("get", vec![map.clone(), s("a"), i(0)]), "1");
    assert_eq!(ok("get", vec![map.clone(), s("b"), i(0)]), "0");
    assert_eq!(ok("get", vec![map.clone(), s("b")]), "null");
    let xs = l(vec![s("x"), s("y")]);
    assert_eq!(ok("get", vec![xs.clone(), i(1), s("d")]), r#""y""#);
    assert_eq!(ok("get", vec![xs.clone(), i(-1), s("d")]), r#""y""#);
    assert_eq!(ok("get", vec![xs.clone(), i(-2), s("d")]), r#""x""#);
    assert_eq!(ok("get", vec![xs.clone(), i(2), s("d")]), r#""d""#);
    assert_eq!(ok("get", vec![xs.clone(), i(-3), s("d")]), r#""d""#);
    assert_eq!(ok("get", vec![xs.clone(), i(i64::MIN)]), "null");
    type_err("get", vec![map, i(1), i(0)]);
    type_err("get", vec![xs, s("0"), i(0)]);
    type_err("get", vec![s("abc"), i(0), i(0)]);
}

/// The token parse makes what a `serde_json::Value` tree made: shared keys
/// (records), more distinct keys than are shared, long keys, repeated keys,
/// nesting, numbers past i64.
#[test]
fn from_json_tokens_agree_with_a_serde_tree() {
    let mut many = String::from("{");
    for k in 0..5000 {
        many.push_str(&format!("\"k{k}\": [{k}, {{\"k{k}\": \"v\"}}], "));
    }
    many.push_str(&format!("\"{}\": 1, \"k7\": null}}", "x".repeat(100)));
    let records = format!(
        "[{}]",
        (0..300)
            .map(|i| format!(
                r#"{{"id": {i}, "city": "c{}", "tags": ["a", "b"], "a": {{"z": -{i}.5}}}}"#,
                i % 7
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let docs = [
        many.as_str(),
        records.as_str(),
        r#"[1, -2, 18446744073709551615, -9223372036854775809, 1e300, 0.1, "", [], {}, [[[]]]]"#,
        r#"{"k": 1, "j": {"k": 2, "k": 3}, "k": 4}"#,
        r#""just a string""#,
        "null",
    ];
    for doc in docs {
        let tree = super::from_json_value(serde_json::from_str(doc).unwrap());
        let made = super::json_doc::from_json(doc.as_bytes()).unwrap();
        assert_eq!(made.repr(), tree.repr(), "{}", &doc[..doc.len().min(80)]);
    }
}

#[test]
fn from_json_values() {
    assert_eq!(
        ok(
            "from_json",
            vec![s(r#"{"b": 1, "a": [true, null, 2.5, "x"], "c": {}}"#)]
        ),
        r#"{"b": 1, "a": [true, null, 2.5, "x"], "c": {}}"#
    );
    assert_eq!(ok("from_json", vec![s("1.0")]), "1.0");
    assert_eq!(ok("from_json", vec![s("-5")]), "-5");
    assert_eq!(
        ok("from_json", vec![s("18446744073709551615")]),
        f(2f64.powi(64)).repr()
    );
    assert_eq!(ok("from_json", vec![s(r#""\u00e9""#)]), r#""é""#);
    assert_eq!(
        ok("from_json", vec![s(r#"{"k": 1, "k": 2}"#)]),
        r#"{"k": 2}"#
    );
    assert_eq!(
        value_err("from_json", vec![s("[1,")]),
        "from_json(): EOF while parsing a value at line 1 column 3"
    );
    assert_eq!(
        value_err("from_json", vec![s("{\n  \"a\": x}")]),
        "from_json(): expected value at line 2 column 8"
    );
    value_err("from_json", vec![s("")]);
    value_err("from_json", vec![b(b"\"\xff\"")]);
    value_err("from_json", vec![s(&"[".repeat(10_000))]);
    type_err("from_json", vec![i(1)]);
}

#[test]
fn to_json_values() {
    let v = m(&[
        ("b", i(1)),
        (
            "a",
            l(vec![Value::Bool(true), Value::Null, f(2.0), s("x\"y")]),
        ),
        ("d", Value::Duration(1.5)),
    ]);
    assert_eq!(
        bytes("to_json", vec![v.clone()]),
        br#"{"b":1,"a":[true,null,2.0,"x\"y"],"d":1.5}"#
    );
    assert_eq!(
        String::from_utf8(bytes("to_json", vec![v, Value::Bool(true)])).unwrap(),
        "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null,\n    2.0,\n    \"x\\\"y\"\n  ],\n  \"d\": 1.5\n}"
    );
    assert_eq!(bytes("to_json", vec![l(vec![]), Value::Bool(false)]), b"[]");
    assert_eq!(bytes("to_json", vec![s("é")]), "\"é\"".as_bytes());
    // Round trip.
    let text = r#"{"z":[1,2.5,"s",{"n":null}],"a":false}"#;
    let back = call("from_json", vec![s(text)]).unwrap();
    assert_eq!(bytes("to_json", vec![back]), text.as_bytes());
    assert_eq!(
        value_err("to_json", vec![b(b"\xff")]),
        "to_json(): a string is not valid UTF-8"
    );
    let mut bad_key = crate::vm::value::Entries::default();
    bad_key.insert(crate::vm::value::Str::from(&b"\xff"[..]), i(1));
    assert_eq!(
        value_err("to_json", vec![Value::map(bad_key)]),
        "to_json(): a map key is not valid UTF-8"
    );
    value_err("to_json", vec![f(f64::NAN)]);
    value_err("to_json", vec![f(f64::INFINITY)]);
    let len = lookup("len").unwrap();
    assert_eq!(
        type_err("to_json", vec![l(vec![Value::Native(len)])]),
        "to_json(): a function cannot be encoded as JSON"
    );
    type_err("to_json", vec![i(1), i(1)]);
    // A list that contains itself.
    let me = l(vec![]);
    let Value::List(inner) = &me else {
        unreachable!()
    };
    inner.borrow_mut().push(me.clone());
    assert_eq!(
        value_err("to_json", vec![me.clone()]),
        "to_json(): nesting too deep"
    );
    inner.borrow_mut().clear();
}

#[test]
fn now_and_getenv() {
    let Ok(Value::Float(t)) = call("now", vec![]) else {
        panic!("now")
    };
    assert!(t > 1.6e9, "{t}");
    assert_eq!(ok("getenv", vec![s("HOME")]), r#""/home/ash""#);
    assert_eq!(bytes("getenv", vec![s("RAW")]), b"a\xffb");
    assert_eq!(ok("getenv", vec![s("NOPE")]), "null");
    type_err("getenv", vec![i(1)]);
}

#[test]
fn the_constant_time_functions_exist_and_the_others_are_charged_by_size() {
    for name in super::CONSTANT_TIME {
        let f = super::lookup(name).unwrap_or_else(|| panic!("{name} is not a built-in function"));
        assert_eq!(f.work, crate::vm::objects::Work::Constant, "{name}");
    }
    for name in ["join", "split", "to_json", "from_json"] {
        assert!(
            super::lookup(name).is_some_and(|f| f.work == crate::vm::objects::Work::Linear),
            "{name}"
        );
    }
    assert!(super::lookup("_sort").is_some_and(|f| f.work == crate::vm::objects::Work::Sort));
}
