//! The observer seam: what the run shows to whoever watches it — the
//! journal (`--journal`, `--resume`; section 14), and traces and timelines
//! (section 13) — through one set of hooks.
//!
//! The runtime calls [`Observers`] where tasks start and end; with no
//! observer installed each call is one flag test, so a plain run pays
//! nothing (W3's 100,000 spawns included). With one installed, every
//! spawned task and every `gather`/`race` branch gets an [`Origin`]: where
//! it was started, and a key and a label that say what it is
//! ([`super::keys`]) — computed when the site is reached, for every branch
//! at once, so they do not depend on which branch starts first.
//!
//! An observer may also *replay* a branch ([`Observer::replay`]): the
//! journal's `--resume` gives the value a branch returned in an earlier run
//! instead of running it again. The branch then becomes a task that has
//! already finished with that value (nothing runs; no start or end hook).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::TaskCtx;
use super::keys::{Keys, LITERAL_BRANCH, Site, SiteName};
use super::task::Outcome;
use crate::vm::objects::{Closure, Coroutine};
use crate::vm::value::Value;

/// What started a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Spawn,
    Gather,
    Race,
}

/// Where a task came from and what it is (see the module doc).
pub struct Origin {
    pub kind: Kind,
    /// The site as `FILE:LINE`.
    pub site: Rc<str>,
    /// What the branch is, stable across runs (the journal's key).
    pub key: Box<str>,
    /// What the branch is, for people: `check("a.txt")`, `{ make -C a }`.
    pub label: Box<str>,
    /// Its key is made of stable values, so a recorded result may stand in
    /// for it (see [`super::keys`]).
    pub replayable: bool,
    /// When it started (Unix time, seconds).
    pub start: Cell<f64>,
    /// The host its body runs on (section 15), once one is chosen.
    pub host: RefCell<Option<Box<str>>>,
}

/// A watcher of the run. Every hook has a default that does nothing.
pub trait Observer {
    /// May the branch `origin` be left out, its result being this value?
    fn replay(&self, _origin: &Origin) -> Option<Value> {
        None
    }
    /// Task `id` started for `origin`.
    fn task_started(&self, _id: u64, _origin: &Origin) {}
    /// Task `id` of `origin` ended. (At a signal's forced exit, tasks
    /// still running end here as cancelled, before [`Observer::finish`].)
    fn task_ended(&self, _id: u64, _origin: &Origin, _outcome: &Outcome) {}
    /// The run is over with exit status `status`, or ash is about to exit
    /// on a signal: write what is left, and make it durable.
    fn finish(&self, _status: i32) {}
}

/// The installed observers and the origins of the live tasks.
#[derive(Default)]
pub struct Observers {
    /// Set once one is installed: the runtime's test before any work.
    active: Cell<bool>,
    list: RefCell<Vec<Rc<dyn Observer>>>,
    keys: RefCell<Keys>,
    /// The origins of tasks that started and have not ended, by task id.
    live: RefCell<HashMap<u64, Rc<Origin>>>,
    finished: Cell<bool>,
}

impl Observers {
    /// Install an observer (before the run starts).
    pub fn add(&self, observer: Rc<dyn Observer>) {
        self.list.borrow_mut().push(observer);
        self.active.set(true);
    }

    /// Whether anyone watches.
    #[inline]
    pub fn active(&self) -> bool {
        // See `crate::observe::on` for the feature.
        !cfg!(feature = "no-observe-hooks") && self.active.get()
    }

    fn each(&self) -> Vec<Rc<dyn Observer>> {
        self.list.borrow().clone()
    }

    /// The origin of the task `parent` belongs to (the main task has none).
    fn parent_key(&self, parent: &TaskCtx) -> Option<Rc<Origin>> {
        self.live.borrow().get(&parent.id).cloned()
    }

    fn origin(
        &self,
        kind: Kind,
        parent: Option<&Origin>,
        site: &SiteName,
        func: &Closure,
        args: &[Value],
        literal: Option<usize>,
    ) -> Rc<Origin> {
        let remote = crate::remote::original(func);
        let (func, args) = match &remote {
            Some((f, a)) => (&**f, a.as_slice()),
            None => (func, args),
        };
        let named = self
            .keys
            .borrow_mut()
            .name(parent.map(|p| &*p.key), site, func, args, literal);
        Rc::new(Origin {
            kind,
            site: site.line.clone(),
            key: named.key.into(),
            label: named.label.into(),
            replayable: named.stable && parent.is_none_or(|p| p.replayable),
            start: Cell::new(0.0),
            host: RefCell::new(None),
        })
    }

    fn site_name(&self, site: Option<&Site>) -> SiteName {
        match site {
            Some(s) => self.keys.borrow_mut().site(s),
            None => SiteName {
                line: Rc::from("?"),
                key: Rc::from("?"),
            },
        }
    }

    /// The origins of a `gather` or `race`'s branches as the runtime will
    /// start them (lists flattened): `None` for a task (it has its own).
    pub fn branches(
        &self,
        parent: &TaskCtx,
        site: Option<&Site>,
        kind: Kind,
        branches: &[Value],
    ) -> Vec<Option<Rc<Origin>>> {
        let name = self.site_name(site);
        let up = self.parent_key(parent);
        let mut out = Vec::new();
        for (arg, b) in branches.iter().enumerate() {
            let one = |v: &Value, literal: Option<usize>| match v {
                Value::Coroutine(c) => {
                    let args = c.args.borrow();
                    let args = args.as_deref().unwrap_or(&[]);
                    let literal = literal.filter(|_| {
                        !c.func.proto.sites.named && c.func.proto.name == LITERAL_BRANCH
                    });
                    Some(self.origin(kind, up.as_deref(), &name, &c.func, args, literal))
                }
                _ => None,
            };
            match b {
                Value::List(l) => {
                    let items = l.borrow().clone();
                    out.extend(items.iter().map(|v| one(v, None)));
                }
                v => out.push(one(v, Some(arg + 1))),
            }
        }
        out
    }

    /// The origin of a `spawn` of `coro` by `parent`.
    pub fn spawn(&self, parent: &TaskCtx, site: Option<&Site>, coro: &Coroutine) -> Rc<Origin> {
        let name = self.site_name(site);
        let up = self.parent_key(parent);
        let args = coro.args.borrow();
        let args = args.as_deref().unwrap_or(&[]);
        self.origin(Kind::Spawn, up.as_deref(), &name, &coro.func, args, None)
    }

    /// A recorded result for `origin`, if an observer has one.
    pub fn replay(&self, origin: &Origin) -> Option<Value> {
        if !origin.replayable {
            return None;
        }
        self.each().iter().find_map(|o| o.replay(origin))
    }

    /// Task `id` started for `origin`.
    pub fn started(&self, id: u64, origin: Rc<Origin>) {
        origin.start.set(unix_now());
        self.live.borrow_mut().insert(id, origin.clone());
        for o in self.each() {
            o.task_started(id, &origin);
        }
    }

    /// Task `id` ended (nothing if it had no origin).
    pub fn ended(&self, id: u64, outcome: &Outcome) {
        let Some(origin) = self.live.borrow_mut().remove(&id) else {
            return;
        };
        for o in self.each() {
            o.task_ended(id, &origin, outcome);
        }
    }

    /// The body of task `id` runs on `host`.
    pub fn on_host(&self, id: u64, host: &str) {
        if let Some(origin) = self.live.borrow().get(&id) {
            *origin.host.borrow_mut() = Some(host.into());
        }
    }

    /// The run is over (or ash exits on a signal, `forced`: tasks still
    /// running end as cancelled first). Once.
    pub fn finish(&self, status: i32, forced: bool) {
        if !self.active() || self.finished.replace(true) {
            return;
        }
        if forced {
            let mut live: Vec<(u64, Rc<Origin>)> = self.live.borrow_mut().drain().collect();
            live.sort_by_key(|(id, _)| *id);
            let cancelled = Outcome::Error(Rc::new(crate::vm::error::Error::cancelled()));
            for (id, origin) in live {
                for o in self.each() {
                    o.task_ended(id, &origin, &cancelled);
                }
            }
        }
        for o in self.each() {
            o.finish(status);
        }
    }
}

/// The time now as Unix seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
