//! Code that travels: a closure's source text as a [`Piece`] (with where it
//! was written), and a piece parsed back into what runs on the other side.
//!
//! A closure's `Proto` keeps the span of what it was compiled from: a
//! `{ block }` (bodies, branches, `async`), a command line or keyword
//! expression (`spawn --on h make -s`), or a function (`fn f(x) { }`). The
//! text of that span is sent; the other side pads it with blank lines and
//! spaces to the same line and column and parses it as the local compiler
//! did, so its error locations name the original file's lines.

use crate::ast::{Block, Body, Expr, ExprKind, FnDef, Span, StmtKind, WordPart};
use crate::vm::chunk::Proto;
use crate::vm::error::Location;

use super::wire::{Piece, PieceKind};

/// What a piece is, parsed.
pub enum Code {
    /// A coroutine body (run as the body of `spawn` would be).
    Body(Body),
    /// A function definition.
    Fn(FnDef),
}

/// The piece a closure was compiled from.
pub fn piece_of(proto: &Proto) -> Result<Piece, String> {
    let text = crate::diag::source_text(proto.source, proto.span);
    if text.is_empty() {
        return Err(format!("the source of `{}` is not known", proto.name));
    }
    let (line, col) = crate::diag::line_col(&Location {
        source: proto.source,
        span: proto.span,
    });
    let kind = classify(&text)?;
    Ok(Piece {
        file: crate::diag::source_name(proto.source),
        line: line as u32,
        col: col as u32,
        kind,
        text,
    })
}

fn classify(text: &str) -> Result<PieceKind, String> {
    if text.starts_with('{') {
        return Ok(PieceKind::Block);
    }
    let word_after = |s: &str, w: &str| {
        s.strip_prefix(w)
            .is_some_and(|rest| rest.starts_with(|c: char| !c.is_alphanumeric() && c != '_'))
    };
    if word_after(text, "fn")
        || text
            .strip_prefix("async")
            .is_some_and(|rest| word_after(rest.trim_start(), "fn"))
    {
        return Ok(PieceKind::Fn);
    }
    let block = crate::syntax::parse(text).map_err(|e| e.message)?;
    match block.stmts.as_slice() {
        [s] => match &s.kind {
            StmtKind::Expr(_) => Ok(PieceKind::Expr),
            StmtKind::Command(_) if text.starts_with("$(") => Ok(PieceKind::Expr),
            StmtKind::Command(_) => Ok(PieceKind::Command),
            _ => Err(format!("cannot send `{text}` to another host")),
        },
        _ => Err(format!("cannot send `{text}` to another host")),
    }
}

/// Parse a piece's text as it was written. `text` is the piece's text,
/// possibly after `pad` bytes of padding (spans then match the padded
/// source).
pub fn parse(kind: PieceKind, text: &str, pad: usize) -> Result<Code, crate::syntax::ParseError> {
    let fail = |message: &str| crate::syntax::ParseError {
        span: Span::new(pad, text.len()),
        message: message.to_string(),
        incomplete: false,
    };
    match kind {
        PieceKind::Block => {
            // The braces become blanks: the statements stay where they were.
            let inner = text.get(pad..).unwrap_or("");
            if !(inner.starts_with('{') && inner.ends_with('}')) {
                return Err(fail("expected a `{ block }`"));
            }
            let mut blanked = String::with_capacity(text.len());
            blanked.push_str(&text[..pad]);
            blanked.push(' ');
            blanked.push_str(&inner[1..inner.len() - 1]);
            blanked.push(' ');
            let block = crate::syntax::parse(&blanked)?;
            Ok(Code::Body(Body::Block(Block {
                stmts: block.stmts,
                span: Span::new(pad, text.len()),
            })))
        }
        PieceKind::Fn => {
            let block = crate::syntax::parse(text)?;
            match block.stmts.into_iter().next().map(|s| s.kind) {
                Some(StmtKind::FnDecl(def)) => Ok(Code::Fn(def)),
                Some(StmtKind::Expr(Expr {
                    kind: ExprKind::Lambda(def),
                    ..
                })) => Ok(Code::Fn(*def)),
                _ => Err(fail("expected a function")),
            }
        }
        PieceKind::Command | PieceKind::Expr => {
            let block = crate::syntax::parse(text)?;
            match block.stmts.into_iter().next().map(|s| s.kind) {
                Some(StmtKind::Expr(e)) if kind == PieceKind::Expr => Ok(Code::Body(Body::Expr(e))),
                Some(StmtKind::Command(a)) if kind == PieceKind::Command => {
                    Ok(Code::Body(Body::Command(a)))
                }
                // `spawn --on h $(cmd)`: the capture is the body.
                Some(StmtKind::Command(a)) => {
                    let words = match a.first.stages.first() {
                        Some(crate::ast::Stage::Command(c)) => Some(c.words.as_slice()),
                        _ => None,
                    };
                    match words {
                        Some([w]) => match w.parts.as_slice() {
                            [WordPart::Capture { body, .. }] => Ok(Code::Body(Body::Expr(Expr {
                                kind: ExprKind::Capture(body.clone()),
                                span: w.span,
                            }))),
                            _ => Err(fail("expected an expression")),
                        },
                        _ => Err(fail("expected an expression")),
                    }
                }
                _ => Err(fail("expected a command or an expression")),
            }
        }
    }
}

/// The free names of a piece (see [`super::names`]).
pub fn free_names(piece: &Piece) -> Result<Vec<String>, String> {
    let code = parse(piece.kind, &piece.text, 0).map_err(|e| e.message)?;
    Ok(match &code {
        Code::Body(body) => super::names::FreeNames::of_body(body),
        Code::Fn(def) => super::names::FreeNames::of_fn(def),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_classified_as_written() {
        assert_eq!(classify("{ echo hi }"), Ok(PieceKind::Block));
        assert_eq!(classify("fn f(x) { }"), Ok(PieceKind::Fn));
        assert_eq!(classify("async fn f(x) { }"), Ok(PieceKind::Fn));
        assert_eq!(classify("fn (x) { }"), Ok(PieceKind::Fn));
        assert_eq!(classify("make -s all"), Ok(PieceKind::Command));
        assert_eq!(classify("sleep 1"), Ok(PieceKind::Expr));
        assert_eq!(classify("gather { a } { b }"), Ok(PieceKind::Expr));
        assert_eq!(classify("$(uname -a)"), Ok(PieceKind::Expr));
    }

    #[test]
    fn a_padded_block_keeps_its_positions() {
        let p = Piece {
            file: "s.ash".into(),
            line: 2,
            col: 3,
            kind: PieceKind::Block,
            text: "{ echo $x }".into(),
        };
        let padded = p.padded();
        let pad = padded.len() - p.text.len();
        let Ok(Code::Body(Body::Block(b))) = parse(p.kind, &padded, pad) else {
            panic!("a block")
        };
        let span = b.stmts[0].span;
        assert_eq!(&padded[span.start as usize..span.end as usize], "echo $x");
        assert_eq!(
            crate::diag::offset_line_col(&padded, span.start as usize),
            (2, 5)
        );
    }

    #[test]
    fn free_names_of_each_kind() {
        let piece = |kind, text: &str| Piece {
            file: "s".into(),
            line: 1,
            col: 1,
            kind,
            text: text.into(),
        };
        assert_eq!(
            free_names(&piece(PieceKind::Fn, "fn f(x) { g $x $y }")),
            Ok(vec!["g".to_string(), "y".to_string()])
        );
        assert_eq!(
            free_names(&piece(PieceKind::Command, "deploy $target")),
            Ok(vec!["deploy".to_string(), "target".to_string()])
        );
        assert_eq!(
            free_names(&piece(PieceKind::Expr, "$(cat $f)")),
            Ok(vec!["cat".to_string(), "f".to_string()])
        );
    }
}
