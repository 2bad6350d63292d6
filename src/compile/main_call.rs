//! A script's `fn main` (section 18): unless the script calls `main`
//! itself, its top level ends by calling it with `$args` parsed against
//! its parameters (`vm::main_args`). The description of the command line
//! (names, short aliases, the comments that document them) is made here,
//! from the syntax tree and the source text; the option defaults are
//! evaluated at the call, in the top level's scope.

use std::rc::Rc;

use crate::ast::{Block, FnDef, StmtKind};
use crate::vm::chunk::{Op, Proto};
use crate::vm::main_args::{Described, MainSpec, Param};
use crate::vm::value::Value;

use super::{CResult, Compiler};

impl Compiler<'_> {
    /// At the end of a script's top level: call its last top-level `fn
    /// main`, unless the script refers to `main` anywhere else.
    pub(super) fn call_main(&mut self, block: &Block, script: &str) -> CResult {
        let Some(def) = block.stmts.iter().rev().find_map(|s| match &s.kind {
            StmtKind::FnDecl(d) if d.name.as_ref().is_some_and(|n| n.name == "main") => Some(d),
            _ => None,
        }) else {
            return Ok(());
        };
        let main = self.globals.intern("main");
        let f = self.f();
        let called = refers_to(&f.code, &f.cmds, main)
            || f.protos
                .iter()
                .any(|p| p.name != "main" && proto_refers_to(p, main));
        if called {
            return Ok(());
        }
        let spec = self.main_spec(def);
        let span = def.name.as_ref().map_or(def.span, |n| n.span);
        let args = self.globals.intern("args");
        self.emit(Op::LoadGlobal(main), span);
        self.emit(Op::LoadGlobal(args), span);
        let k = self.constant(Value::str(script));
        self.emit(Op::Const(k), span);
        for o in &def.options {
            match &o.default {
                Some(e) => self.expr(e)?,
                None => {
                    let k = self.constant(Value::Bool(false));
                    self.emit(Op::Const(k), o.span);
                }
            }
        }
        self.f().main_spec = Some(Rc::new(spec));
        self.emit(Op::RunMain(def.options.len() as u16), span);
        self.emit(Op::EndMain, span);
        Ok(())
    }

    fn main_spec(&self, def: &FnDef) -> MainSpec {
        let text = crate::diag::source_of(self.source).unwrap_or_else(|| Rc::from(""));
        let described = |name: &str, end: u32| Described {
            name: name.to_string(),
            help: comment_after(&text, end as usize),
        };
        let params = def
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| match def.options.iter().find(|o| o.param == i) {
                Some(o) => Param::Option {
                    arg: described(&o.long, o.span.end),
                    short: o.short,
                },
                None => Param::Positional(described(&p.name, p.span.end)),
            })
            .collect();
        MainSpec {
            params,
            rest: def.rest.as_ref().map(|r| described(&r.name, r.span.end)),
            doc: comment_above(&text, def.span.start as usize),
        }
    }
}

/// Whether code loads the global `g` or runs it as a command.
fn refers_to(code: &[Op], cmds: &[crate::vm::chunk::CmdSpec], g: u32) -> bool {
    code.iter()
        .any(|op| matches!(op, Op::LoadGlobal(x) if *x == g))
        || cmds
            .iter()
            .any(|c| c.stages.iter().any(|s| s.global == Some(g)))
}

fn proto_refers_to(p: &Proto, g: u32) -> bool {
    refers_to(&p.code, &p.cmds, g) || p.protos.iter().any(|c| proto_refers_to(c, g))
}

/// The comment after a parameter on its line (`--jobs = 4,  # at once`).
fn comment_after(text: &str, end: usize) -> String {
    let Some(rest) = text.get(end..) else {
        return String::new();
    };
    let line = rest.split('\n').next().unwrap_or("");
    let line = line.trim_start_matches([' ', '\t', ',']);
    match line.strip_prefix('#') {
        Some(c) => c.trim().to_string(),
        None => String::new(),
    }
}

/// The block of `#` lines right above `start` (not a `#!` line), without
/// the `#` and one space after it.
fn comment_above(text: &str, start: usize) -> String {
    let before = text.get(..start).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if !before[line_start..].trim().is_empty() {
        return String::new();
    }
    let mut lines: Vec<&str> = Vec::new();
    for line in before[..line_start].lines().rev() {
        let t = line.trim_start();
        match t.strip_prefix('#') {
            Some(c) if !c.starts_with('!') => {
                lines.push(c.strip_prefix(' ').unwrap_or(c).trim_end());
            }
            _ => break,
        }
    }
    lines.reverse();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_document_main_and_its_parameters() {
        let text = "#!/usr/bin/env ash\n# Copy files.\n#\n#   indented\nfn main(src,  # from here\n --n -n = 1 # count\n) {}";
        let at = text.find("fn").unwrap_or(0);
        assert_eq!(comment_above(text, at), "Copy files.\n\n  indented");
        let end = text.find("src").unwrap_or(0) + 3;
        assert_eq!(comment_after(text, end), "from here");
        let end = text.find("= 1").unwrap_or(0) + 3;
        assert_eq!(comment_after(text, end), "count");
        assert_eq!(comment_above("x\n\nfn main() {}", 3), "");
    }
}
