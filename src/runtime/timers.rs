//! The loop's own timer queue, for `sleep` and `timeout` deadlines.
//!
//! A `sleep` in 100,000 tasks at once is ash's most common wait, so it is
//! kept small: one ordered map of (deadline, id) → waker on the loop thread,
//! fired by [`super::run_loop`] between tick slices. Compared with an
//! `async_io::Timer` per wait this saves the timer object, the boxed future
//! around it and the reactor's cross-thread queue of timer operations
//! (about 250 bytes per sleeping task; see docs/performance.md), and a due
//! timer wakes its task without first waiting for a turn of its own.
//!
//! The queue only fires inside `run_loop`: a [`Timer`] polled by another
//! executor would never be woken.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Instant;

thread_local! {
    static QUEUE: RefCell<BTreeMap<(Instant, u64), Waker>> = const { RefCell::new(BTreeMap::new()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// A registration in the queue: at most one pending deadline, removed when
/// re-armed, disarmed or dropped (so a cancelled sleep frees its waker at
/// once rather than at its deadline).
#[derive(Default)]
pub struct Timer {
    key: Option<(Instant, u64)>,
}

impl Timer {
    /// Wake `waker` at `when` (replacing any earlier registration).
    pub fn arm(&mut self, when: Instant, waker: &Waker) {
        QUEUE.with_borrow_mut(|queue| {
            if let Some(key) = self.key {
                if key.0 == when
                    && let Some(w) = queue.get_mut(&key)
                {
                    if !w.will_wake(waker) {
                        *w = waker.clone();
                    }
                    return;
                }
                queue.remove(&key);
            }
            let id = NEXT_ID.get();
            NEXT_ID.set(id + 1);
            queue.insert((when, id), waker.clone());
            self.key = Some((when, id));
        });
    }

    pub fn disarm(&mut self) {
        if let Some(key) = self.key.take() {
            // The thread's queue is gone only while the thread exits.
            let _ = QUEUE.try_with(|q| q.borrow_mut().remove(&key));
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// Wake every timer that is due; the earliest deadline still ahead.
pub fn fire_due() -> Option<Instant> {
    let now = Instant::now();
    let mut due = Vec::new();
    let next = QUEUE.with_borrow_mut(|queue| {
        while let Some(entry) = queue.first_entry() {
            if entry.key().0 > now {
                return Some(entry.key().0);
            }
            due.push(entry.remove());
        }
        None
    });
    // Woken outside the borrow: a waker may run code that arms a timer.
    for w in due {
        w.wake();
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;
    use std::time::Duration;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn fires_due_timers_once_and_forgets_dropped_ones() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let now = Instant::now();
        let mut due = Timer::default();
        due.arm(now, &waker);
        let mut later = Timer::default();
        later.arm(now + Duration::from_secs(60), &waker);
        let mut dropped = Timer::default();
        dropped.arm(now, &waker);
        drop(dropped);
        assert_eq!(fire_due(), Some(now + Duration::from_secs(60)));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(fire_due(), Some(now + Duration::from_secs(60)));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // Re-arming moves the registration instead of adding one.
        later.arm(now, &waker);
        assert_eq!(fire_due(), None);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }
}
