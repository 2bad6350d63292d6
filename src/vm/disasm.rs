//! The disassembler: a compiled function as text (`ash --dump`, and the
//! golden files of `tests/compile/`), as clox's `debug.c`.
//!
//! Each function is a header (name, where it starts, its slot counts), its
//! captures, then one line per instruction: index, source `LINE:COL`, the
//! instruction, and after `;` what its operand refers to (a constant, a
//! global's name, a command line, a nested function). Nested functions
//! follow their parent, depth first, so a dump reads top to bottom.

use std::fmt::Write as _;

use super::globals::Globals;

use super::chunk::{CaptureFrom, CmdSpec, Op, Proto};

/// The text of `proto` and every function nested in it.
pub fn disassemble(proto: &Proto, names: &Globals) -> String {
    let mut out = String::new();
    function(&mut out, proto, names, "");
    out
}

/// One function, then its nested ones (named `parent/child` by position).
fn function(out: &mut String, proto: &Proto, names: &Globals, path: &str) {
    let path = if path.is_empty() {
        proto.name.clone()
    } else {
        format!("{path}/{}", proto.name)
    };
    let (line, col) = line_col(proto, proto.span.start as usize);
    let _ = write!(
        out,
        "fn {path} @{line}:{col}: params {}{}, locals {}, cells {}, stack {}",
        proto.n_params,
        if proto.has_rest { "+rest" } else { "" },
        proto.n_locals,
        proto.n_cells,
        proto.stack_needed,
    );
    if proto.is_async {
        out.push_str(", async");
    }
    out.push('\n');
    if !proto.captures.is_empty() {
        let list: Vec<String> = proto
            .captures
            .iter()
            .map(|c| match c {
                CaptureFrom::Cell(i) => format!("cell {i}"),
                CaptureFrom::Capture(i) => format!("capture {i}"),
            })
            .collect();
        let _ = writeln!(out, "  captures: {}", list.join(", "));
    }
    if !proto.param_cells.is_empty() {
        let list: Vec<String> = proto
            .param_cells
            .iter()
            .map(|(slot, cell)| format!("param {slot} -> cell {cell}"))
            .collect();
        let _ = writeln!(out, "  param cells: {}", list.join(", "));
    }
    for (pc, op) in proto.code.iter().enumerate() {
        let at = proto
            .spans
            .get(pc)
            .map(|s| {
                let (line, col) = line_col(proto, s.start as usize);
                format!("{line}:{col}")
            })
            .unwrap_or_else(|| "?".to_string());
        let op_text = format!("{op:?}");
        let note = note(op, proto, names);
        let line = format!("  {pc:04} {at:>7}  {op_text:<28} {note}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    for child in &proto.protos {
        out.push('\n');
        function(out, child, names, &path);
    }
}

/// What an instruction's operand refers to, after a `;`.
fn note(op: &Op, proto: &Proto, names: &Globals) -> String {
    let constant = |k: u32| {
        proto
            .consts
            .get(k as usize)
            .map_or_else(|| "<no such constant>".to_string(), |v| v.repr())
    };
    match *op {
        Op::Const(k) | Op::Field(k) | Op::SetField(k) | Op::ReadFailed(k) => {
            format!("; {}", constant(k))
        }
        Op::LoadGlobal(g) | Op::StoreGlobal(g) | Op::DefineGlobal(g) => {
            format!("; {}", names.name(g))
        }
        Op::Closure(i) => match proto.protos.get(i as usize) {
            Some(p) => format!("; fn {}", p.name),
            None => "; <no such function>".to_string(),
        },
        Op::Exec(i) => match proto.cmds.get(i as usize) {
            Some(spec) => format!("; {}", command(spec, names)),
            None => "; <no such command>".to_string(),
        },
        _ => String::new(),
    }
}

/// A command spec on one line: its text, flags, and per stage what it pops.
fn command(spec: &CmdSpec, names: &Globals) -> String {
    let mut out = format!("`{}`", spec.text);
    for (flag, set) in [
        ("negated", spec.negated),
        ("check", spec.check),
        ("run-coroutine", spec.run_coroutine),
    ] {
        if set {
            let _ = write!(out, " {flag}");
        }
    }
    for (i, stage) in spec.stages.iter().enumerate() {
        let _ = write!(out, " | stage {i}: words {}", stage.words);
        if !stage.env.is_empty() {
            let _ = write!(out, ", env [{}]", stage.env.join(", "));
        }
        if let Some(g) = stage.global {
            let _ = write!(out, ", global {}", names.name(g));
        }
        if stage.callee_on_stack {
            out.push_str(", callee on stack");
        }
        if !stage.redirects.is_empty() {
            let _ = write!(out, ", redirects {:?}", stage.redirects);
        }
    }
    out
}

/// 1-based line and column of a byte offset of the function's source.
fn line_col(proto: &Proto, offset: usize) -> (usize, usize) {
    crate::diag::source_line_col(proto.source, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(src: &str) -> String {
        let block = crate::syntax::parse(src).expect("parses");
        let source = crate::diag::add_source("t.ash", src);
        let mut names = Globals::default();
        let proto = crate::compile::compile_script(
            &block,
            "<main>",
            source,
            &mut names,
            crate::compile::TopLevel::ScriptLocals,
        )
        .expect("compiles");
        disassemble(&proto, &names)
    }

    #[test]
    fn lines_show_position_op_and_operand() {
        let text = dump("let x = \"hi\"\necho $x");
        assert!(
            text.starts_with("fn <main> @1:1: params 0, locals 1"),
            "{text}"
        );
        assert!(text.contains("1:9  Const(0)"), "{text}");
        assert!(text.contains("; \"hi\""), "{text}");
        assert!(text.contains("2:1  Exec(0)"), "{text}");
        assert!(
            text.contains("; `echo $x` check | stage 0: words 2"),
            "{text}"
        );
    }

    #[test]
    fn nested_functions_follow_their_parent() {
        let text = dump("fn f(a) { return fn (b) { a + b } }");
        let main = text.find("fn <main>").expect("main");
        let f = text.find("fn <main>/f @1:1").expect("f");
        assert!(main < f, "{text}");
        assert!(text.contains("param cells: param 0 -> cell 0"), "{text}");
        assert!(text.contains("captures: cell 0"), "{text}");
    }
}
