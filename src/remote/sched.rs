//! Spreading branches over hosts: at most `limit` branches at once on each
//! host, a new branch going to the host with the fewest running; a host
//! that cannot be used is reported once and its branches go to the others;
//! when none is left, the branches fail with an error naming every host
//! and why.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_lite::future;

use super::host::Host;
use crate::runtime::cancel::WakeList;
use crate::runtime::{Runtime, TaskCtx};
use crate::vm::error::Error;
use crate::vm::value::Value;

/// The hosts of one `gather --on`, `race --on` or `spawn --on`.
pub struct Sched {
    hosts: Vec<Rc<Host>>,
    limit: usize,
    running: Vec<Cell<usize>>,
    waiters: WakeList,
    /// Where the search for a host starts next (ties go round).
    next: Cell<usize>,
}

/// One branch's place on a host; given back when dropped.
pub struct Slot {
    sched: Rc<Sched>,
    index: usize,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let r = &self.sched.running[self.index];
        r.set(r.get() - 1);
        self.sched.waiters.wake_n(1);
    }
}

impl Sched {
    pub fn new(hosts: Vec<Rc<Host>>, limit: usize) -> Rc<Sched> {
        Rc::new(Sched {
            running: hosts.iter().map(|_| Cell::new(0)).collect(),
            hosts,
            limit: limit.max(1),
            waiters: WakeList::default(),
            next: Cell::new(0),
        })
    }

    /// A free place on the least busy usable host, or the error that no
    /// host is left.
    fn try_take(self: &Rc<Self>) -> Option<Result<Slot, Error>> {
        let n = self.hosts.len();
        let mut best: Option<usize> = None;
        let mut usable = false;
        for k in 0..n {
            let i = (self.next.get() + k) % n;
            if self.hosts[i].down_reason().is_some() {
                continue;
            }
            usable = true;
            let busy = self.running[i].get();
            if busy < self.limit && best.is_none_or(|b| busy < self.running[b].get()) {
                best = Some(i);
            }
        }
        if !usable {
            return Some(Err(self.none_left()));
        }
        let i = best?;
        self.running[i].set(self.running[i].get() + 1);
        self.next.set((i + 1) % n);
        Some(Ok(Slot {
            sched: self.clone(),
            index: i,
        }))
    }

    fn none_left(&self) -> Error {
        if let [only] = self.hosts.as_slice() {
            return Error::io(format!(
                "cannot run on {}: {}",
                only.name,
                only.down_reason().unwrap_or_default()
            ));
        }
        let why: Vec<String> = self
            .hosts
            .iter()
            .map(|h| format!("{} ({})", h.name, h.down_reason().unwrap_or_default()))
            .collect();
        Error::io(format!("no host left to run on: {}", why.join("; ")))
    }

    fn acquire(self: &Rc<Self>) -> Acquire {
        Acquire {
            sched: self.clone(),
            done: false,
        }
    }

    /// Run a packed body on one of the hosts: wait for a place, bring the
    /// host's agent up (moving on to another host if it cannot be), and
    /// run it there.
    pub async fn run(
        self: Rc<Self>,
        rt: Rc<Runtime>,
        ctx: Rc<TaskCtx>,
        unit: crate::vm::string::Str,
    ) -> Result<Value, Rc<Error>> {
        let token = ctx.token();
        loop {
            let slot = future::or(async { Some(self.acquire().await) }, async {
                token.requested().await;
                None
            })
            .await;
            let slot = match slot {
                None => return Err(Rc::new(Error::cancelled())),
                Some(slot) => slot.map_err(Rc::new)?,
            };
            let host = self.hosts[slot.index].clone();
            let agent = future::or(async { Some(host.agent(&rt).await) }, async {
                token.requested().await;
                None
            })
            .await;
            match agent {
                None => return Err(Rc::new(Error::cancelled())),
                Some(Ok(agent)) => {
                    rt.observers.on_host(ctx.id, &host.name);
                    return agent.run(&ctx, unit).await;
                }
                Some(Err(reason)) => {
                    if self.hosts.len() == 1 {
                        return Err(Rc::new(Error::io(format!(
                            "cannot run on {}: {reason}",
                            host.name
                        ))));
                    }
                    // With no host left, the error that follows names
                    // each one and why: no warning that its branches run
                    // on "the other hosts".
                    if self.hosts.iter().any(|h| h.down_reason().is_none()) {
                        host.warn_once(&reason);
                    }
                    drop(slot);
                    // Others waiting may now have no host left.
                    self.waiters.wake_all();
                }
            }
        }
    }
}

/// Waiting for a place. A waiter dropped while waiting (cancelled) passes
/// its wake-up on, so a free place is never left with everyone asleep.
struct Acquire {
    sched: Rc<Sched>,
    done: bool,
}

impl Future for Acquire {
    type Output = Result<Slot, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sched = self.sched.clone();
        match sched.try_take() {
            Some(r) => {
                self.done = true;
                Poll::Ready(r)
            }
            None => {
                sched.waiters.register(cx.waker());
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if !self.done {
            self.sched.waiters.wake_n(1);
        }
    }
}
