//! Property tests against the built binary, with deterministic
//! pseudo-random inputs (a fixed-seed SplitMix64; no dependency).
//!
//! - Variable contents are never split, globbed or parsed as code: strings
//!   full of shell metacharacters, placed in every expansion position, reach
//!   the child as exactly one argument holding exactly the value.
//! - Every byte except NUL round-trips exactly through arguments, the
//!   environment, file names and captured output, invalid UTF-8 included.
//! - A NUL byte where the OS cannot take one is a clear error, never a panic
//!   or a silent truncation.
//!
//! The random values reach the script through the environment (`V0`,
//! `V1`...), so the test never depends on ash's own quoting. Children print
//! their arguments NUL-terminated (`printf '%s\0'`), and the test compares
//! the records byte for byte.

mod common;
use common::{Rng, TempDir};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const ASH: &str = env!("CARGO_BIN_EXE_ash");
/// How many values one ash process checks (one script line each).
const BATCH: usize = 24;
/// Batches per position.
const ROUNDS: usize = 4;

// ---------------------------------------------------------------- helpers

/// A string of shell metacharacters, blanks, letters and non-ASCII text.
fn meta_string(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "*",
        "?",
        "[",
        "]",
        ";",
        "|",
        "&",
        "$",
        "(",
        ")",
        "'",
        "\"",
        "\\",
        "-",
        " ",
        "\n",
        "{",
        "}",
        "{}",
        "$(",
        "${",
        "$x",
        "`",
        "~",
        "#",
        "=",
        ">",
        "<",
        "2>&1",
        "&&",
        "||",
        "!",
        "..",
        "/",
        "*.rs",
        "[ab]",
        "-n",
        "-e",
        "--",
        "\t",
        "a",
        "b",
        "z",
        "é",
        "日本",
        "🦀",
        "\u{200b}",
        "\u{7f}",
        "\u{1}",
        "%s",
        "%",
        "\\n",
        "\\0",
        "true",
        "echo hi",
        "$(echo pwned)",
        "${len(x)}",
    ];
    let n = rng.below(9);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(PIECES[rng.below(PIECES.len())]);
    }
    s
}

/// Random bytes without NUL, biased to metacharacters and invalid UTF-8.
fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let n = rng.below(40);
    (0..n)
        .map(|_| match rng.below(4) {
            0 => {
                let meta = b"*?[];|&$()'\"\\- \n{}~#";
                meta[rng.below(meta.len())]
            }
            1 => 0x80 + rng.below(0x80) as u8,
            _ => 1 + rng.below(255) as u8,
        })
        .collect()
}

/// A usable file name from a value: no `/`, not empty, `.` or `..`, at
/// most 200 bytes, and unique within `seen`.
fn file_name(v: &[u8], i: usize, seen: &mut BTreeSet<Vec<u8>>) -> Vec<u8> {
    let mut n: Vec<u8> = v
        .iter()
        .map(|&b| if b == b'/' { b'_' } else { b })
        .take(200)
        .collect();
    if n.is_empty() || n == b"." || n == b".." || seen.contains(&n) {
        n.extend_from_slice(format!("~{i}").as_bytes());
    }
    seen.insert(n.clone());
    n
}

/// Runs `ash -c script` in `dir` with extra environment variables.
fn ash(dir: &Path, script: &str, env: &[(String, Vec<u8>)]) -> Output {
    let mut cmd = Command::new(ASH);
    cmd.arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("LC_ALL", "C");
    for (k, v) in env {
        cmd.env(k, OsString::from_vec(v.clone()));
    }
    cmd.output().expect("run ash")
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// NUL-terminated records of a child's output.
fn records(out: &[u8]) -> Vec<Vec<u8>> {
    let mut r: Vec<Vec<u8>> = out.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
    // The text after the last NUL: empty when every record was terminated.
    if r.last().is_some_and(Vec::is_empty) {
        r.pop();
    }
    r
}

/// `$(...)` drops trailing newlines.
fn captured(v: &[u8]) -> Vec<u8> {
    let mut v = v.to_vec();
    while v.last() == Some(&b'\n') {
        v.pop();
    }
    v
}

/// A position: a script line for value `i` (`{i}` replaced), and the
/// records the child must print for value `v`.
struct Position {
    name: &'static str,
    line: &'static str,
    expect: fn(&[u8]) -> Vec<Vec<u8>>,
}

fn one(v: &[u8]) -> Vec<Vec<u8>> {
    vec![v.to_vec()]
}

/// Every value of a batch through one position; on a mismatch the failing
/// value and both outputs are reported.
fn check_position(pos: &Position, prelude: &str, values: &[Vec<u8>], dir: &Path) {
    let mut script = String::from(prelude);
    let mut env = Vec::new();
    let mut expected = Vec::new();
    for (i, v) in values.iter().enumerate() {
        script.push_str(&pos.line.replace("{i}", &i.to_string()));
        script.push('\n');
        env.push((format!("V{i}"), v.clone()));
        expected.push((i, (pos.expect)(v)));
    }
    let out = ash(dir, &script, &env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("panicked"),
        "{}: ash failed ({:?}): {err}\nscript:\n{script}\nvalues: {:?}",
        pos.name,
        out.status,
        values.iter().map(|v| show(v)).collect::<Vec<_>>()
    );
    let got = records(&out.stdout);
    let mut k = 0;
    for (i, want) in expected {
        for w in want {
            let g = got.get(k).cloned();
            assert!(
                g.as_deref() == Some(&w[..]),
                "{}: value V{i} = {} (bytes {:?})\nline: {}\nwant {}\n got {}",
                pos.name,
                show(&values[i]),
                values[i],
                pos.line.replace("{i}", &i.to_string()),
                show(&w),
                g.map_or("nothing".to_string(), |g| show(&g)),
            );
            k += 1;
        }
    }
    assert_eq!(k, got.len(), "{}: extra output records", pos.name);
}

/// `p` prints its arguments NUL-terminated; `p1` prints them bare. `f`
/// is an ash function passing its arguments on.
const PRELUDE: &str = "fn f(...a) { /usr/bin/printf '%s\\0' $a }\n";

const POSITIONS: &[Position] = &[
    Position {
        name: "bare $V",
        line: "/usr/bin/printf '%s\\0' $V{i}",
        expect: one,
    },
    Position {
        name: "quoted \"$V\"",
        line: "/usr/bin/printf '%s\\0' \"$V{i}\"",
        expect: one,
    },
    Position {
        name: "${V}",
        line: "/usr/bin/printf '%s\\0' ${V{i}}",
        expect: one,
    },
    Position {
        name: "quoted \"${V}\" with text around",
        line: "/usr/bin/printf '%s\\0' \"<${V{i}}>\"",
        expect: |v| vec![[b"<", v, b">"].concat()],
    },
    Position {
        name: "pre$V\"post\"",
        line: "/usr/bin/printf '%s\\0' pre$V{i}\"post\"",
        expect: |v| vec![[b"pre", v, b"post"].concat()],
    },
    Position {
        name: "expression word (V)",
        line: "/usr/bin/printf '%s\\0' (V{i})",
        expect: one,
    },
    Position {
        name: "expression word (V + V)",
        line: "/usr/bin/printf '%s\\0' (V{i} + V{i})",
        expect: |v| vec![[v, v].concat()],
    },
    Position {
        name: "list elements $xs and (xs)",
        line: "let xs{i} = [V{i}, \"k\", getenv(\"V{i}\")]; /usr/bin/printf '%s\\0' $xs{i} (xs{i})",
        expect: |v| {
            vec![
                v.to_vec(),
                b"k".to_vec(),
                v.to_vec(),
                v.to_vec(),
                b"k".to_vec(),
                v.to_vec(),
            ]
        },
    },
    Position {
        name: "for words",
        line: "for w in $V{i} \"$V{i}\" (V{i}) { /usr/bin/printf '%s\\0' $w }",
        expect: |v| vec![v.to_vec(), v.to_vec(), v.to_vec()],
    },
    Position {
        name: "ash function arguments",
        line: "f $V{i} x \"$V{i}\"",
        expect: |v| vec![v.to_vec(), b"x".to_vec(), v.to_vec()],
    },
    Position {
        name: "builtin echo -n",
        line: "echo -n $V{i}; /usr/bin/printf '\\0'",
        expect: one,
    },
    Position {
        name: "builtin printf",
        line: "printf '%s\\0' $V{i}",
        expect: one,
    },
    Position {
        name: "env prefix W=$V",
        line: "W=$V{i} sh -c 'printf \"%s\\0\" \"$W\"'",
        expect: one,
    },
    Position {
        name: "env prefix W=\"$V\"",
        line: "W=\"$V{i}\" sh -c 'printf \"%s\\0\" \"$W\"'",
        expect: one,
    },
    Position {
        name: "export W = V",
        line: "export W{i} = V{i}; sh -c 'printf \"%s\\0\" \"$W{i}\"'",
        expect: one,
    },
    Position {
        name: "export W=$V",
        line: "export X{i}=$V{i}; sh -c 'printf \"%s\\0\" \"$X{i}\"'",
        expect: one,
    },
    Position {
        name: "inherited environment",
        line: "sh -c 'printf \"%s\\0\" \"$V{i}\"'",
        expect: one,
    },
    Position {
        name: "capture $(...)",
        line: "/usr/bin/printf '%s\\0' $(/usr/bin/printf '%s' $V{i}) \"$(/usr/bin/printf '%s' $V{i})\"",
        expect: |v| vec![captured(v), captured(v)],
    },
    Position {
        name: "capture of a builtin",
        line: "let c{i} = $(echo -n $V{i}); /usr/bin/printf '%s\\0' $c{i}",
        expect: |v| vec![captured(v)],
    },
    Position {
        name: "capture through a pipeline",
        line: "/usr/bin/printf '%s\\0' $(/usr/bin/printf '%s' $V{i} | cat)",
        expect: |v| vec![captured(v)],
    },
];

/// Files that a glob would match if a value were globbed.
fn glob_bait(dir: &Path) {
    for name in ["a", "b", "ab", "[ab]", "x.rs", "-n", "*"] {
        fs::write(dir.join(name), "bait").expect("write bait");
    }
}

#[test]
fn metacharacters_in_values_are_never_split_globbed_or_run() {
    let mut rng = Rng(0x00a5_0001);
    let dir = TempDir::new();
    glob_bait(&dir.0);
    for pos in POSITIONS {
        for _ in 0..ROUNDS {
            let values: Vec<Vec<u8>> = (0..BATCH)
                .map(|_| meta_string(&mut rng).into_bytes())
                .collect();
            check_position(pos, PRELUDE, &values, &dir.0);
        }
    }
}

#[test]
fn all_bytes_but_nul_round_trip_through_every_position() {
    let mut rng = Rng(0x00a5_0002);
    let dir = TempDir::new();
    glob_bait(&dir.0);
    for pos in POSITIONS {
        for _ in 0..ROUNDS {
            let values: Vec<Vec<u8>> = (0..BATCH).map(|_| random_bytes(&mut rng)).collect();
            check_position(pos, PRELUDE, &values, &dir.0);
        }
    }
}

/// Redirection targets and file names: `> $F` creates exactly the file
/// named by the value, `< $F` reads it, and a glob gives the names back.
fn file_names_round_trip(values: Vec<Vec<u8>>) {
    let dir = TempDir::new();
    let mut seen = BTreeSet::new();
    let names: Vec<Vec<u8>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| file_name(v, i, &mut seen))
        .collect();
    let mut script = String::new();
    let mut env = Vec::new();
    let mut want = Vec::new();
    for (i, (v, n)) in values.iter().zip(&names).enumerate() {
        env.push((format!("V{i}"), v.clone()));
        env.push((format!("F{i}"), n.clone()));
        // Write through one redirection form, append through another,
        // read back through a third.
        script.push_str(&format!(
            "/usr/bin/printf '%s' $V{i} > $F{i}; echo -n '|' >> \"$F{i}\"; cat < ${{F{i}}}; /usr/bin/printf '\\0'\n"
        ));
        want.push([v.as_slice(), b"|"].concat());
    }
    // The glob lists every name (the set, compared below, not the order).
    script.push_str("for g in * { /usr/bin/printf '%s\\0' $g }\n");
    let out = ash(&dir.0, &script, &env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ash failed: {err}\nscript:\n{script}");
    let got = records(&out.stdout);
    for (i, w) in want.iter().enumerate() {
        assert_eq!(
            got.get(i).map(|g| show(g)),
            Some(show(w)),
            "file content through F{i} = {}",
            show(&names[i])
        );
    }
    let globbed: BTreeSet<Vec<u8>> = got[want.len()..].iter().cloned().collect();
    let on_disk: BTreeSet<Vec<u8>> = fs::read_dir(&dir.0)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().as_bytes().to_vec())
        .collect();
    let wanted: BTreeSet<Vec<u8>> = names.iter().cloned().collect();
    assert_eq!(
        on_disk,
        wanted,
        "files created: {:?}",
        on_disk.iter().map(|n| show(n)).collect::<Vec<_>>()
    );
    // Names starting with `.` are hidden from `*`.
    let visible: BTreeSet<Vec<u8>> = wanted
        .into_iter()
        .filter(|n| n.first() != Some(&b'.'))
        .collect();
    assert_eq!(globbed, visible);
}

#[test]
fn metacharacter_file_names_round_trip_through_redirections_and_globs() {
    let mut rng = Rng(0x00a5_0003);
    for _ in 0..ROUNDS {
        file_names_round_trip(
            (0..BATCH)
                .map(|_| meta_string(&mut rng).into_bytes())
                .collect(),
        );
    }
}

#[test]
fn byte_file_names_round_trip_through_redirections_and_globs() {
    let mut rng = Rng(0x00a5_0004);
    for _ in 0..ROUNDS {
        file_names_round_trip((0..BATCH).map(|_| random_bytes(&mut rng)).collect());
    }
}

#[test]
fn captured_file_contents_round_trip() {
    // Bytes written by the test, read by `cat` inside `$(...)`.
    let mut rng = Rng(0x00a5_0005);
    let dir = TempDir::new();
    let mut script = String::new();
    let mut want = Vec::new();
    for i in 0..BATCH * ROUNDS {
        let v = random_bytes(&mut rng);
        fs::write(dir.0.join(format!("c{i}")), &v).expect("write");
        script.push_str(&format!(
            "let c{i} = $(cat c{i}); /usr/bin/printf '%s\\0' $c{i}\n"
        ));
        want.push(captured(&v));
    }
    let out = ash(&dir.0, &script, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = records(&out.stdout);
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(show(g), show(w), "c{i}: bytes {w:?}");
    }
}

/// A NUL byte cannot reach the OS: each of these is an error with a
/// message, a non-zero status and no panic, and the command does not run
/// with a truncated value.
#[test]
fn nul_bytes_are_a_clear_error_wherever_the_os_needs_a_c_string() {
    let dir = TempDir::new();
    // (what, line, whether the message names the NUL byte today)
    let cases = [
        ("argument", "/usr/bin/printf '%s' $z", true),
        (
            "argument in a pipeline",
            "/usr/bin/printf '%s' $z | cat",
            true,
        ),
        (
            "argument in a capture",
            "let y = $(/usr/bin/printf '%s' $z)",
            true,
        ),
        ("program name", "$z", true),
        ("env prefix", "W=$z /usr/bin/printf ran", true),
        ("export", "export W = z; /usr/bin/printf ran", true),
        ("redirection target", "echo ran > $z", true),
        ("cd", "cd $z", true),
    ];
    for (what, line, names_nul) in cases {
        let script = format!("let z = $(/usr/bin/printf 'a\\0b')\n{line}\n");
        let out = ash(&dir.0, &script, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{what}: panic: {err}");
        assert!(
            out.status.code().is_some_and(|c| c != 0),
            "{what}: status {:?}, stdout {}, stderr {err}",
            out.status,
            show(&out.stdout)
        );
        assert!(
            !names_nul || err.contains("NUL"),
            "{what}: the error does not name the NUL byte: {err}"
        );
        assert!(
            !out.stdout.starts_with(b"a") && !out.stdout.starts_with(b"ran"),
            "{what}: the command ran: {}",
            show(&out.stdout)
        );
    }
    // Nothing named `a` (a truncated `a\0b`) was created.
    assert!(!dir.0.join("a").exists(), "a file `a` was created");
}

/// Nothing in the environment is executed or imported at start-up: the
/// variables other shells source or import, and values that look like
/// code, do nothing.
#[test]
fn nothing_in_the_environment_runs_at_start_up() {
    let dir = TempDir::new();
    fs::write(dir.0.join("evil.ash"), "touch pwned\n").expect("write");
    let evil: &[(&str, &str)] = &[
        ("ENV", "./evil.ash"),
        ("BASH_ENV", "./evil.ash"),
        ("ASH_ENV", "./evil.ash"),
        ("ASHRC", "./evil.ash"),
        ("PROMPT_COMMAND", "touch pwned"),
        ("BASH_FUNC_echo%%", "() { touch pwned; }"),
        ("echo", "$(touch pwned)"),
        ("f", "fn () { touch pwned }"),
        ("X", "$(touch pwned) ${touch(pwned)} `touch pwned`"),
    ];
    let env: Vec<(String, Vec<u8>)> = evil
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    let out = ash(&dir.0, "echo ok $X", &env);
    assert_eq!(
        out.stdout,
        b"ok $(touch pwned) ${touch(pwned)} `touch pwned`\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.0.join("pwned").exists(), "something ran at start-up");
}
