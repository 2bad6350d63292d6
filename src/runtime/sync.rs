//! Channels and semaphores (asyncio.Queue and asyncio.Semaphore) for
//! producer/consumer pipelines between tasks, and the built-in functions
//! that suspend the calling task: `send`, `recv`, `acquire`.
//!
//! Everything is on one thread, so a channel is a queue and two wake-up
//! lists. `recv` on a closed and drained channel returns `null`, so a
//! consumer loop ends with `while (true) { let v = recv(ch); if (v == null) { break } ... }`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Poll;

use futures_lite::future;

use super::cancel::WakeList;
use crate::vm::error::Error;
use crate::vm::fiber::{Pending, Resume, cancellable};
use crate::vm::value::Value;

pub struct Channel {
    items: RefCell<VecDeque<Value>>,
    /// 0: unbounded.
    capacity: usize,
    closed: Cell<bool>,
    readers: WakeList,
    writers: WakeList,
}

impl Channel {
    pub fn len(&self) -> usize {
        self.items.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.borrow().is_empty()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

pub struct Semaphore {
    permits: Cell<i64>,
    waiters: WakeList,
}

impl Semaphore {
    pub fn permits(&self) -> i64 {
        self.permits.get()
    }
}

/// A built-in function that may suspend the calling task.
pub struct SuspendFn {
    pub name: &'static str,
    pub call: fn(&[Value], &Rc<super::TaskCtx>) -> Result<Pending, Error>,
}

/// Every suspending built-in function, sorted by name.
pub static SUSPENDING: &[SuspendFn] = &[
    SuspendFn {
        name: "acquire",
        call: acquire,
    },
    SuspendFn {
        name: "glob",
        call: super::glob::glob_fn,
    },
    SuspendFn {
        name: "recv",
        call: recv,
    },
    SuspendFn {
        name: "send",
        call: send,
    },
];

pub fn lookup(name: &str) -> Option<&'static SuspendFn> {
    SUSPENDING
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &SUSPENDING[i])
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), Error> {
    if args.len() != n {
        return Err(Error::type_err(format!(
            "{name}() takes {n} argument{} ({} given)",
            if n == 1 { "" } else { "s" },
            args.len()
        )));
    }
    Ok(())
}

fn channel_arg(name: &str, v: &Value) -> Result<Rc<Channel>, Error> {
    match v {
        Value::Channel(c) => Ok(c.clone()),
        other => Err(Error::type_err(format!(
            "{name}() expects a channel, got {}",
            other.type_name()
        ))),
    }
}

fn semaphore_arg(name: &str, v: &Value) -> Result<Rc<Semaphore>, Error> {
    match v {
        Value::Semaphore(s) => Ok(s.clone()),
        other => Err(Error::type_err(format!(
            "{name}() expects a semaphore, got {}",
            other.type_name()
        ))),
    }
}

/// `chan()` / `chan(n)`: a channel holding at most n items (unbounded
/// without n, or with 0).
pub fn chan(args: &[Value]) -> Result<Value, Error> {
    let capacity = match args {
        [] => 0,
        [Value::Int(n)] if *n >= 0 => *n as usize,
        [other] => {
            return Err(Error::value(format!(
                "chan() expects a capacity >= 0, got {}",
                other.repr()
            )));
        }
        _ => return Err(Error::type_err("chan() takes 0 or 1 argument")),
    };
    Ok(Value::Channel(Rc::new(Channel {
        items: RefCell::new(VecDeque::new()),
        capacity,
        closed: Cell::new(false),
        readers: WakeList::default(),
        writers: WakeList::default(),
    })))
}

/// `close(ch)`: no more sends; receivers drain what is left, then get null.
pub fn close(args: &[Value]) -> Result<Value, Error> {
    arity("close", args, 1)?;
    let ch = channel_arg("close", &args[0])?;
    ch.closed.set(true);
    ch.readers.wake_all();
    ch.writers.wake_all();
    Ok(Value::Null)
}

/// `semaphore(n)`: n permits.
pub fn semaphore(args: &[Value]) -> Result<Value, Error> {
    arity("semaphore", args, 1)?;
    match &args[0] {
        Value::Int(n) if *n >= 0 => Ok(Value::Semaphore(Rc::new(Semaphore {
            permits: Cell::new(*n),
            waiters: WakeList::default(),
        }))),
        other => Err(Error::value(format!(
            "semaphore() expects a number of permits >= 0, got {}",
            other.repr()
        ))),
    }
}

/// `release(s)`: give a permit back.
pub fn release(args: &[Value]) -> Result<Value, Error> {
    arity("release", args, 1)?;
    let s = semaphore_arg("release", &args[0])?;
    s.permits.set(s.permits.get() + 1);
    s.waiters.wake_all();
    Ok(Value::Null)
}

fn send(args: &[Value], ctx: &Rc<super::TaskCtx>) -> Result<Pending, Error> {
    let token = ctx.token();
    arity("send", args, 2)?;
    let ch = channel_arg("send", &args[0])?;
    let v = args[1].clone();
    let mut v = Some(v);
    Ok(cancellable(
        token,
        future::poll_fn(move |cx| {
            if ch.closed.get() {
                return Poll::Ready(Err(Rc::new(Error::value("send on a closed channel"))));
            }
            if ch.capacity == 0 || ch.items.borrow().len() < ch.capacity {
                ch.items
                    .borrow_mut()
                    .push_back(v.take().unwrap_or_default());
                ch.readers.wake_all();
                return Poll::Ready(Ok(Resume::Push(Value::Null)));
            }
            ch.writers.register(cx.waker());
            Poll::Pending
        }),
    ))
}

fn recv(args: &[Value], ctx: &Rc<super::TaskCtx>) -> Result<Pending, Error> {
    let token = ctx.token();
    arity("recv", args, 1)?;
    let ch = channel_arg("recv", &args[0])?;
    Ok(cancellable(
        token,
        future::poll_fn(move |cx| {
            if let Some(v) = ch.items.borrow_mut().pop_front() {
                ch.writers.wake_all();
                return Poll::Ready(Ok(Resume::Push(v)));
            }
            if ch.closed.get() {
                return Poll::Ready(Ok(Resume::Push(Value::Null)));
            }
            ch.readers.register(cx.waker());
            Poll::Pending
        }),
    ))
}

fn acquire(args: &[Value], ctx: &Rc<super::TaskCtx>) -> Result<Pending, Error> {
    let token = ctx.token();
    arity("acquire", args, 1)?;
    let s = semaphore_arg("acquire", &args[0])?;
    Ok(cancellable(
        token,
        future::poll_fn(move |cx| {
            if s.permits.get() > 0 {
                s.permits.set(s.permits.get() - 1);
                return Poll::Ready(Ok(Resume::Push(Value::Null)));
            }
            s.waiters.register(cx.waker());
            Poll::Pending
        }),
    ))
}
