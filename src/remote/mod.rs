//! Other hosts (section 15 of the language): `spawn --on HOST { }`,
//! `gather --on HOSTS [-j N] ...`, `race --on HOSTS ...`.
//!
//! Each remote body is a local task (so `await`, `cancel`, `timeout`,
//! `gather`'s failure handling and `--group` work as they do for local
//! ones) whose code is one instruction, [`crate::vm::chunk::Op::RemoteRun`]:
//! send the body to a host and wait for its answer.
//!
//! - [`pack`]: what travels, checked before anything starts: the body's
//!   source text, the values of the variables it uses, the code of the
//!   functions it calls ([`code`] reads a closure's text back, [`names`]
//!   finds the names it uses).
//! - [`sched`]: which host runs a branch: at most `-j` at once on each, a
//!   host that cannot be reached left out (once, with a warning).
//! - [`host`]: one `ssh` session per host for the whole run (sharing
//!   OpenSSH's master connection), running ash's agent; jobs, their output
//!   and their outcomes over it ([`wire`]: the framed protocol).
//! - [`agent`]: `ash --serve`, the agent: runs each job as a task of a
//!   runtime of its own in its own process ([`job`]: the unit compiled,
//!   the outcome encoded), forwards its output, and stops it when told
//!   to, or on its own when the connection goes.
//!
//! Cancellation crosses every boundary: a cancelled local task sends
//! `CANCEL` and waits for the body's `finally` blocks; the agent cancels
//! the job as `cancel` does a local task (its programs get SIGTERM, the
//! grace period, then SIGKILL); when the connection goes (the local ash
//! killed, even with SIGKILL: its sentinel kills the `ssh` processes), the
//! agent stops every job; and if the agent itself dies, its sentinel kills
//! the jobs' programs.

mod agent;
mod code;
mod host;
pub mod job;
mod names;
mod outbox;
mod pack;
mod sched;
mod ssh;
pub mod wire;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use crate::runtime::{Runtime, TaskCtx};
use crate::vm::chunk::{Op, Proto};
use crate::vm::error::Error;
use crate::vm::fiber::{Pending, Resume};
use crate::vm::objects::{Closure, Coroutine};
use crate::vm::value::Value;

pub use agent::serve_main;
pub use sched::Sched;

/// How many branches run at once on each host unless `-j` says.
pub const DEFAULT_PER_HOST: usize = 4;

thread_local! {
    /// The hosts of each `gather --on` / `race --on` in progress, by the
    /// number its branch tasks carry.
    static FLEETS: RefCell<HashMap<i64, Rc<Sched>>> = RefCell::default();
    static NEXT_FLEET: Cell<i64> = const { Cell::new(1) };
}

/// Keeps a fleet's hosts known to its branches while its `gather` runs.
pub struct Fleet(i64);

impl Drop for Fleet {
    fn drop(&mut self) {
        FLEETS.with_borrow_mut(|f| f.remove(&self.0));
    }
}

/// The hosts named by `--on`: a string or a list of strings, in order,
/// each once.
fn host_list(hosts: &Value, what: &str) -> Result<Vec<Rc<host::Host>>, Error> {
    let names: Vec<Value> = match hosts {
        Value::Str(_) => vec![hosts.clone()],
        Value::List(l) => l.borrow().clone(),
        other => {
            return Err(Error::type_err(format!(
                "{what} --on expects a host name or a list of them, got {}",
                other.type_name()
            )));
        }
    };
    let mut out: Vec<Rc<host::Host>> = Vec::with_capacity(names.len());
    for n in &names {
        let Value::Str(s) = n else {
            return Err(Error::type_err(format!(
                "{what} --on expects host names (strings), got a list containing {}",
                n.type_name()
            )));
        };
        let name = String::from_utf8_lossy(s).into_owned();
        if name.is_empty() || name.starts_with('-') || name.contains(['\0', '\n']) {
            return Err(Error::value(format!(
                "{what} --on: {name:?} is not a host name"
            )));
        }
        if !out.iter().any(|h| h.name == name) {
            out.push(host::host(&name));
        }
    }
    if out.is_empty() {
        return Err(Error::value(format!(
            "{what} --on: the list of hosts is empty"
        )));
    }
    Ok(out)
}

/// The closure of a remote branch's task: `RemoteRun(target, unit)`,
/// named and located like the body it runs. It keeps the body's function
/// and arguments (which the code does not read): the journal names a
/// remote branch after what it runs (see [`original`]).
fn stub_closure(name: String, body: &Value) -> Option<Rc<Closure>> {
    let (func, args) = match body {
        Value::Coroutine(c) => (c.func.clone(), c.args.borrow().clone().unwrap_or_default()),
        Value::Func(f) => (f.clone(), Vec::new()),
        _ => return None,
    };
    let keep = |v: Value| Rc::new(std::cell::RefCell::new(v));
    let captures = [keep(Value::Func(func.clone())), keep(Value::list(args))];
    let body = &func.proto;
    let code = vec![
        Op::LoadLocal(0),
        Op::LoadLocal(1),
        Op::RemoteRun,
        Op::Return,
    ];
    let stack_needed = crate::vm::chunk::stack_needed(&code, &[], 2);
    Some(Rc::new(Closure {
        proto: Rc::new(Proto {
            name,
            spans: vec![body.span; code.len()],
            code,
            consts: Vec::new(),
            cmds: Vec::new(),
            protos: Vec::new(),
            captures: Vec::new(),
            capture_names: Box::default(),
            n_params: 2,
            has_rest: false,
            n_locals: 2,
            n_cells: 0,
            param_cells: Vec::new(),
            is_async: false,
            main_spec: None,
            stack_needed,
            source: body.source,
            span: body.span,
            sites: Default::default(),
        }),
        captures: captures.into_iter().collect(),
    }))
}

/// The function and arguments a remote branch's task runs on a host
/// (`None` for any other closure).
pub fn original(stub: &Closure) -> Option<(Rc<Closure>, Vec<Value>)> {
    if !matches!(stub.proto.code.get(2), Some(Op::RemoteRun)) {
        return None;
    }
    let [func, args] = &*stub.captures else {
        return None;
    };
    match (&*func.borrow(), &*args.borrow()) {
        (Value::Func(f), Value::List(a)) => Some((f.clone(), a.borrow().clone())),
        _ => None,
    }
}

fn proto_of(body: &Value) -> Option<Rc<Proto>> {
    match body {
        Value::Coroutine(c) => Some(c.func.proto.clone()),
        Value::Func(f) => Some(f.proto.clone()),
        _ => None,
    }
}

/// `spawn --on HOSTS BODY`: the coroutine the task runs. With several
/// hosts, the first that can be reached runs it.
pub fn spawn_stub(rt: &Runtime, hosts: &Value, body: Value) -> Result<Rc<Coroutine>, Error> {
    let names = host_list(hosts, "spawn").inspect_err(|_| consumed(std::slice::from_ref(&body)))?;
    let label = match names.as_slice() {
        [one] => one.name.clone(),
        _ => "a host".into(),
    };
    let Some(stub) =
        proto_of(&body).and_then(|proto| stub_closure(format!("{} on {label}", proto.name), &body))
    else {
        // Its error says why this body cannot travel.
        pack::pack(rt, &body)?;
        return Err(Error::type_err("spawn --on expects a block or a coroutine"));
    };
    let unit = pack::pack(rt, &body)?;
    Ok(Rc::new(Coroutine::new(
        stub,
        vec![hosts.clone(), Value::from(unit)],
    )))
}

/// `gather --on` / `race --on`: the branches (blocks, coroutines, or lists
/// of them), each checked and packed before any starts, as coroutines of
/// tasks that run them on the hosts; and what keeps the hosts' schedule
/// alive meanwhile.
pub fn branch_stubs(
    rt: &Runtime,
    hosts: &Value,
    branches: Vec<Value>,
    limit: Option<Value>,
    what: &str,
) -> Result<(Value, Fleet), Error> {
    let all = branches.clone();
    make_branch_stubs(rt, hosts, branches, limit, what).inspect_err(|_| consumed(&all))
}

/// The branches of a `--on` statement that failed before running them were
/// handed to it: they are not "never awaited" (a block, a coroutine, or a
/// list of them).
fn consumed(bodies: &[Value]) {
    for b in bodies {
        match b {
            Value::Coroutine(c) => c.used.set(true),
            Value::List(l) => consumed(&l.borrow()),
            _ => {}
        }
    }
}

fn make_branch_stubs(
    rt: &Runtime,
    hosts: &Value,
    branches: Vec<Value>,
    limit: Option<Value>,
    what: &str,
) -> Result<(Value, Fleet), Error> {
    let hosts = host_list(hosts, what)?;
    let per_host = match limit {
        None => DEFAULT_PER_HOST,
        Some(Value::Int(n)) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(v) => {
            return Err(Error::value(format!(
                "{what} -j expects a positive integer, got {}",
                v.repr()
            )));
        }
    };
    let mut bodies = Vec::new();
    for b in branches {
        match b {
            Value::List(l) => bodies.extend(l.borrow().iter().cloned()),
            other => bodies.push(other),
        }
    }
    let mut packed = Vec::with_capacity(bodies.len());
    for body in &bodies {
        let Some(stub) = proto_of(body)
            .and_then(|proto| stub_closure(format!("{} on a host", proto.name), body))
        else {
            pack::pack(rt, body)?;
            return Err(Error::type_err(format!(
                "{what} --on expects blocks or coroutines"
            )));
        };
        let unit = pack::pack(rt, body)?;
        packed.push((unit, stub));
    }
    let id = NEXT_FLEET.replace(NEXT_FLEET.get() + 1);
    FLEETS.with_borrow_mut(|f| f.insert(id, Sched::new(hosts, per_host)));
    let stubs = packed
        .into_iter()
        .map(|(unit, stub)| {
            Value::Coroutine(Rc::new(Coroutine::new(
                stub,
                vec![Value::Int(id), Value::from(unit)],
            )))
        })
        .collect();
    Ok((Value::list(stubs), Fleet(id)))
}

/// `Op::RemoteRun`: run the packed `unit` on a host of `target` (a fleet's
/// number, or the hosts of a `spawn --on`).
pub fn run(
    rt: &Rc<Runtime>,
    ctx: &Rc<TaskCtx>,
    target: Value,
    unit: Value,
) -> Result<Pending, Error> {
    let sched = match &target {
        Value::Int(id) => FLEETS
            .with_borrow(|f| f.get(id).cloned())
            .ok_or_else(|| Error::value("the hosts of this branch's gather are gone"))?,
        hosts => Sched::new(host_list(hosts, "spawn")?, usize::MAX),
    };
    let Value::Str(unit) = unit else {
        return Err(Error::type_err("a remote body's code must be bytes"));
    };
    let (rt, ctx) = (rt.clone(), ctx.clone());
    Ok(Box::pin(async move {
        sched.run(rt, ctx, unit).await.map(Resume::Push)
    }))
}

/// At exit: close the connections to every host (their agents stop what
/// still runs) and the master connections.
pub async fn shutdown(rt: &Rc<Runtime>) {
    host::shutdown(rt).await;
}
