//! The loop's executor: runnable tasks in a FIFO, built on async-task (the
//! crate smol's executors are made of).
//!
//! smol's `LocalExecutor` kept, besides the task itself, a slab entry with
//! a waker for every live task and a drop guard around every future (so it
//! can wake them all when it is dropped): about 40 bytes for each of
//! 100,000 sleeping tasks (docs/performance.md). This executor keeps only
//! the queue of tasks ready to run. [`super::run_loop`] drives it.
//!
//! A task's waker may be called from another thread (async-io's reactor
//! thread wakes I/O waiters), so the queue is behind a mutex; the task
//! itself only ever runs, and is dropped, on the loop's thread (async-task
//! checks). Once the executor is gone, a task woken on another thread is
//! leaked rather than dropped there.
//!
//! A task finds its executor's queue by a number in its header (async-task's
//! metadata, which fits in the header's padding) in a registry of live
//! executors, not by a pointer beside its future: with the pointer, each of
//! 100,000 sleeping tasks was a malloc size class bigger.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

/// A task of the loop, as [`Executor::spawn`] returns it.
pub type Task<T> = async_task::Task<T, u32>;

/// A ready task, with its executor's number in the registry.
type Runnable = async_task::Runnable<u32>;

pub struct Executor {
    shared: Arc<Shared>,
    /// Its number in [`REGISTRY`].
    number: u32,
}

/// The executors, by number (`None` once dropped).
static REGISTRY: Mutex<Vec<Option<Arc<Shared>>>> = Mutex::new(Vec::new());

fn registry() -> MutexGuard<'static, Vec<Option<Arc<Shared>>>> {
    // Only whole-slot writes happen under this lock.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Put a woken task in its executor's queue (on whatever thread woke it).
fn schedule(runnable: Runnable) {
    let number = *runnable.metadata() as usize;
    let shared = registry().get(number).cloned().flatten();
    match shared {
        Some(shared) => shared.schedule(runnable),
        // Its executor is gone: see `Shared::schedule`.
        None => std::mem::forget(runnable),
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Runnable>,
    /// The loop, waiting in [`Executor::tick`] for a task to become ready.
    sleeper: Option<Waker>,
    /// The executor was dropped: nothing will run what is scheduled now.
    closed: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves nothing half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn schedule(&self, runnable: Runnable) {
        let sleeper = {
            let mut state = self.state();
            if state.closed {
                // Dropping it here could drop a task's future on the
                // wrong thread.
                std::mem::forget(runnable);
                return;
            }
            state.ready.push_back(runnable);
            state.sleeper.take()
        };
        if let Some(w) = sleeper {
            w.wake();
        }
    }
}

impl Executor {
    pub fn new() -> Executor {
        let shared = Arc::<Shared>::default();
        // Numbers are not reused: a task of a dropped executor, woken
        // later on another thread, must not land in a new executor's queue
        // (on another thread, which may not run it). One word per executor
        // ever made, and a process makes a handful.
        let mut registry = registry();
        registry.push(Some(shared.clone()));
        let number = registry.len() - 1;
        Executor {
            shared,
            number: u32::try_from(number).unwrap_or(u32::MAX),
        }
    }

    /// Start `future` as a task, scheduled at once. Dropping the returned
    /// handle cancels it; `detach` lets it run to its end.
    pub fn spawn<T: 'static>(&self, future: impl Future<Output = T> + 'static) -> Task<T> {
        let (runnable, task) = async_task::Builder::new()
            .metadata(self.number)
            // As in smol: a panic surfaces where the task is awaited.
            .propagate_panic(true)
            .spawn_local(|_| future, schedule);
        runnable.schedule();
        task
    }

    /// Run one ready task, if there is one.
    pub fn try_tick(&self) -> bool {
        let next = self.shared.state().ready.pop_front();
        match next {
            Some(runnable) => {
                crate::vm::budget::begin_slice();
                runnable.run();
                true
            }
            None => false,
        }
    }

    /// Wait until a task is ready, and run it.
    pub async fn tick(&self) {
        std::future::poll_fn(|cx| {
            let next = {
                let mut state = self.shared.state();
                let next = state.ready.pop_front();
                if next.is_none() {
                    state.sleeper = Some(cx.waker().clone());
                }
                next
            };
            match next {
                Some(runnable) => {
                    crate::vm::budget::begin_slice();
                    runnable.run();
                    Poll::Ready(())
                }
                None => Poll::Pending,
            }
        })
        .await
    }
}

impl Default for Executor {
    fn default() -> Executor {
        Executor::new()
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Tasks ready now are dropped here, on their own thread.
        let ready = {
            let mut state = self.shared.state();
            state.closed = true;
            std::mem::take(&mut state.ready)
        };
        if let Some(slot) = registry().get_mut(self.number as usize) {
            *slot = None;
        }
        drop(ready);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn runs_tasks_in_the_order_they_became_ready() {
        let ex = Executor::new();
        let log = Rc::new(std::cell::RefCell::new(Vec::new()));
        for i in 0..3 {
            let log = log.clone();
            ex.spawn(async move {
                log.borrow_mut().push(i);
                futures_lite::future::yield_now().await;
                log.borrow_mut().push(i + 10);
            })
            .detach();
        }
        while ex.try_tick() {}
        assert_eq!(*log.borrow(), [0, 1, 2, 10, 11, 12]);
    }

    #[test]
    fn a_task_woken_from_another_thread_runs_on_this_one() {
        let ex = Executor::new();
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let done = Rc::new(Cell::new(false));
        let task = ex.spawn({
            let done = done.clone();
            let mut sent = false;
            std::future::poll_fn(move |cx| {
                if sent {
                    done.set(true);
                    return Poll::Ready(std::thread::current().id());
                }
                sent = true;
                tx.send(cx.waker().clone()).expect("receiver alive");
                Poll::Pending
            })
        });
        assert!(ex.try_tick());
        assert!(!ex.try_tick(), "waiting for its waker");
        let waker = rx.recv().expect("a waker");
        std::thread::spawn(move || waker.wake())
            .join()
            .expect("waking thread");
        // The loop waits in `tick` until the other thread's wake arrives.
        futures_lite::future::block_on(ex.tick());
        assert!(done.get());
        let ran_on = futures_lite::future::block_on(task);
        assert_eq!(ran_on, std::thread::current().id());
    }

    #[test]
    fn a_task_of_a_dropped_executor_never_lands_in_a_new_one() {
        let old = Executor::new();
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        old.spawn(std::future::poll_fn(move |cx| {
            let _ = tx.send(cx.waker().clone());
            Poll::<()>::Pending
        }))
        .detach();
        assert!(old.try_tick());
        let waker = rx.recv().expect("a waker");
        drop(old);
        let new = Executor::new();
        std::thread::spawn(move || waker.wake())
            .join()
            .expect("waking thread");
        assert!(!new.try_tick(), "the old executor's task is not run here");
    }

    #[test]
    fn dropping_the_handle_cancels_the_task() {
        let ex = Executor::new();
        let ran = Rc::new(Cell::new(false));
        let task = ex.spawn({
            let ran = ran.clone();
            async move { ran.set(true) }
        });
        drop(task);
        while ex.try_tick() {}
        assert!(!ran.get());
    }
}
