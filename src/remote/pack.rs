//! What travels with a body (section 15): the body's code, the values of
//! the variables it uses, and the code of the script's functions it calls
//! (and of those they call, and the variables they use), all checked and
//! encoded before anything starts, so a value that cannot travel is a
//! `TypeError` at the `spawn`/`gather`/`race`, not a failure on the host.
//!
//! A name is looked up as the closure would: among its captured variables
//! (by the names the compiler kept), then among the globals. Names that are
//! neither (builtins, environment variables, programs) are left for the
//! other side to resolve. The other side binds every name once, so two
//! different variables of the same name (one captured by the body, another
//! by a function it calls) cannot both travel: a `TypeError` says so.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::code;
use super::wire::{self, EncodedBinding, Piece, Writer};
use crate::runtime::Runtime;
use crate::vm::chunk::Proto;
use crate::vm::error::Error;
use crate::vm::objects::Closure;
use crate::vm::value::Value;

/// A proto's piece and free names, computed once per proto.
struct ProtoInfo {
    piece: Piece,
    names: Vec<String>,
}

/// By the proto's address; the `Rc` is kept so the address is never
/// reused for another proto.
type InfoCache = HashMap<usize, (Rc<Proto>, Rc<ProtoInfo>)>;

thread_local! {
    static INFO: RefCell<InfoCache> = RefCell::default();
}

fn info(proto: &Rc<Proto>) -> Result<Rc<ProtoInfo>, Error> {
    let key = Rc::as_ptr(proto) as usize;
    if let Some(i) = INFO.with_borrow(|m| m.get(&key).map(|(_, i)| i.clone())) {
        return Ok(i);
    }
    let cannot = |why: String| {
        Error::type_err(format!(
            "`{}` cannot run on another host: {why}",
            proto.name
        ))
    };
    let piece = code::piece_of(proto).map_err(cannot)?;
    let names = code::free_names(&piece).map_err(cannot)?;
    let info = Rc::new(ProtoInfo { piece, names });
    INFO.with_borrow_mut(|m| m.insert(key, (proto.clone(), info.clone())));
    Ok(info)
}

/// What a name was found to be, to tell two variables of one name apart.
#[derive(Clone, Copy, PartialEq)]
enum Origin {
    Cell(usize),
    Global(u32),
}

const WHAT_TRAVELS: &str = "only null, bool, int, float, string, duration, list, map and error values, and the script's functions, travel";

struct Packer<'a> {
    rt: &'a Runtime,
    bindings: Vec<(String, EncodedBinding)>,
    origins: HashMap<String, Origin>,
    /// Closures whose names are still to be looked up.
    queue: Vec<(Rc<Closure>, Rc<ProtoInfo>)>,
}

impl Packer<'_> {
    fn lookup(&self, closure: &Closure, name: &str) -> Option<(Value, Origin)> {
        if let Some(i) = closure
            .proto
            .capture_names
            .iter()
            .position(|n| &**n == name)
            && let Some(cell) = closure.captures.get(i)
        {
            return Some((
                cell.borrow().clone(),
                Origin::Cell(Rc::as_ptr(cell) as usize),
            ));
        }
        let globals = self.rt.globals.borrow();
        let g = globals.index_of(name)?;
        let value = globals.value(g)?.clone();
        Some((value, Origin::Global(g)))
    }

    fn bind(&mut self, closure: &Closure, name: &str) -> Result<(), Error> {
        // `$status` is the host's own.
        if name == "status" {
            return Ok(());
        }
        let Some((value, origin)) = self.lookup(closure, name) else {
            return Ok(());
        };
        match self.origins.get(name) {
            Some(o) if *o == origin => return Ok(()),
            Some(_) => {
                return Err(Error::type_err(format!(
                    "two different variables named `{name}` would travel to the host (one used by `{}`); rename one",
                    closure.proto.name
                )));
            }
            None => {}
        }
        self.origins.insert(name.to_string(), origin);
        let binding = match &value {
            Value::Func(f) => {
                let i = info(&f.proto)?;
                self.queue.push((f.clone(), i.clone()));
                EncodedBinding::Code(i.piece.clone())
            }
            Value::Native(n) => EncodedBinding::Builtin(n.name.to_string()),
            Value::Suspend(s) => EncodedBinding::Builtin(s.name.to_string()),
            v => {
                let mut w = Writer::default();
                wire::put_value(&mut w, v).map_err(|why| {
                    Error::type_err(format!(
                        "`{name}` cannot travel to another host: it is {} ({WHAT_TRAVELS})",
                        why.describe()
                    ))
                })?;
                EncodedBinding::Value(w.0)
            }
        };
        self.bindings.push((name.to_string(), binding));
        Ok(())
    }
}

/// Check and encode a body for another host: a coroutine (a block, or a
/// call of an `async fn`) or a function to call without arguments. The
/// coroutine is used up.
pub fn pack(rt: &Runtime, body: &Value) -> Result<Vec<u8>, Error> {
    let (func, args) = match body {
        Value::Coroutine(c) => (c.func.clone(), c.take()?),
        Value::Func(f) => (f.clone(), Vec::new()),
        Value::Task(_) => {
            return Err(Error::type_err(
                "a task already runs on this host: it cannot run on another (give the block or the coroutine)",
            ));
        }
        other => {
            return Err(Error::type_err(format!(
                "a remote body must be a block or a coroutine, not {}",
                other.type_name()
            )));
        }
    };
    let entry = info(&func.proto)?;
    let mut p = Packer {
        rt,
        bindings: Vec::new(),
        origins: HashMap::new(),
        queue: vec![(func, entry.clone())],
    };
    while let Some((closure, i)) = p.queue.pop() {
        for name in &i.names {
            p.bind(&closure, name)?;
        }
    }
    let mut encoded_args = Vec::with_capacity(args.len());
    for (n, a) in args.iter().enumerate() {
        let mut w = Writer::default();
        wire::put_value(&mut w, a).map_err(|why| {
            Error::type_err(format!(
                "argument {} of `{}` cannot travel to another host: it is {} ({WHAT_TRAVELS})",
                n + 1,
                entry_name(&entry.piece),
                why.describe()
            ))
        })?;
        encoded_args.push(w.0);
    }
    let mut w = Writer::default();
    wire::put_unit(&mut w, &p.bindings, &entry.piece, &encoded_args);
    Ok(w.0)
}

fn entry_name(piece: &Piece) -> String {
    piece
        .text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(40)
        .collect()
}
