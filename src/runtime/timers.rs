//! The loop's own timer queue, for `sleep` and `timeout` deadlines.
//!
//! A `sleep` in 100,000 tasks at once is ash's most common wait, so it is
//! kept small: a heap of deadlines and a slab of wakers on the loop thread,
//! fired by [`super::run_loop`] between tick slices. Compared with an
//! `async_io::Timer` per wait this saves the timer object, the boxed future
//! around it and the reactor's cross-thread queue of timer operations
//! (about 250 bytes per sleeping task; see docs/performance.md), and a due
//! timer wakes its task without first waiting for a turn of its own.
//!
//! The queue only fires inside `run_loop`: a [`Timer`] polled by another
//! executor would never be woken.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::{Duration, Instant};

thread_local! {
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::new());
}

/// Deadlines in a min-heap of small entries, wakers in a slab beside it
/// (their sizes are held by `tests::entries_are_small`): about 45 bytes a
/// sleeping task, where an ordered map of (deadline, id) → waker took 77
/// (its nodes are half full when keys arrive in order). A disarmed timer frees its slot and waker at once; its
/// heap entry is skipped when it surfaces (the slot's generation moved on),
/// and the heap is compacted when such entries are most of it.
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Heap entries whose timer was disarmed or re-armed.
    stale: usize,
    /// Deadlines are kept as nanoseconds since this instant.
    epoch: Instant,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
struct Entry {
    at: u64,
    slot: u32,
    generation: u32,
}

#[derive(Default)]
struct Slot {
    generation: u32,
    waker: Option<Waker>,
}

impl Queue {
    fn new() -> Queue {
        Queue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            stale: 0,
            epoch: Instant::now(),
        }
    }

    fn nanos(&self, when: Instant) -> u64 {
        let nanos = when.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    fn instant(&self, at: u64) -> Instant {
        self.epoch + Duration::from_nanos(at)
    }

    fn is_live(&self, slot: u32, generation: u32) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|s| s.generation == generation && s.waker.is_some())
    }

    fn insert(&mut self, at: u64, waker: Waker) -> (u32, u32) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.waker = Some(waker);
        let generation = entry.generation;
        self.heap.push(Reverse(Entry {
            at,
            slot,
            generation,
        }));
        (slot, generation)
    }

    /// Free a slot (its waker goes now, its heap entry when it surfaces).
    fn release(&mut self, slot: u32) -> Option<Waker> {
        let entry = &mut self.slots[slot as usize];
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(slot);
        entry.waker.take()
    }

    fn remove(&mut self, slot: u32, generation: u32) {
        if self.is_live(slot, generation) {
            self.release(slot);
            self.stale += 1;
            if self.stale > 1024 && self.stale > self.heap.len() / 2 {
                let slots = &self.slots;
                self.heap
                    .retain(|Reverse(e)| slots[e.slot as usize].generation == e.generation);
                self.stale = 0;
            }
        }
    }
}

/// A registration in the queue: at most one pending deadline, removed when
/// re-armed, disarmed or dropped (so a cancelled sleep frees its waker at
/// once rather than at its deadline).
#[derive(Default)]
pub struct Timer {
    reg: Registration,
    /// The deadline it is armed for, in the queue's nanoseconds.
    at: u64,
}

impl Timer {
    /// Wake `waker` at `when` (replacing any earlier registration).
    pub fn arm(&mut self, when: Instant, waker: &Waker) {
        let at = deadline(when);
        self.reg.arm(at, self.at == at, waker);
        self.at = at;
    }

    pub fn disarm(&mut self) {
        self.reg.disarm();
    }
}

/// A deadline as the loop's timer queue keeps it: nanoseconds since the
/// queue's start (8 bytes where an `Instant` takes 16).
pub fn deadline(when: Instant) -> u64 {
    QUEUE.with_borrow(|queue| queue.nanos(when))
}

/// Whether `at` (see [`deadline`]) has come.
pub fn is_due(at: u64) -> bool {
    deadline(Instant::now()) >= at
}

/// A [`Timer`] without its deadline: a `sleep` keeps its own (it lives in
/// every sleeping task's driver, where 8 bytes moved the executor's
/// allocation of each of 100,000 tasks up a malloc size class).
pub struct Registration {
    /// Its slot ([`UNARMED`] if none) and the slot's generation.
    slot: u32,
    generation: u32,
}

const UNARMED: u32 = u32::MAX;

impl Default for Registration {
    fn default() -> Registration {
        Registration {
            slot: UNARMED,
            generation: 0,
        }
    }
}

impl Registration {
    fn armed(&self) -> Option<(u32, u32)> {
        (self.slot != UNARMED).then_some((self.slot, self.generation))
    }

    /// Wake `waker` at `at` (see [`deadline`]), replacing any earlier
    /// registration; `same`: the caller knows a live registration is for
    /// `at` already, so only its waker may change.
    pub fn arm(&mut self, at: u64, same: bool, waker: &Waker) {
        QUEUE.with_borrow_mut(|queue| {
            if let Some((slot, generation)) = self.armed() {
                if same && queue.is_live(slot, generation) {
                    let w = queue.slots[slot as usize].waker.as_mut();
                    if let Some(w) = w.filter(|w| !w.will_wake(waker)) {
                        *w = waker.clone();
                    }
                    return;
                }
                queue.remove(slot, generation);
            }
            let (slot, generation) = queue.insert(at, waker.clone());
            (self.slot, self.generation) = (slot, generation);
        });
    }

    pub fn disarm(&mut self) {
        if let Some((slot, generation)) = self.armed() {
            self.slot = UNARMED;
            // The thread's queue is gone only while the thread exits.
            let _ = QUEUE.try_with(|q| q.borrow_mut().remove(slot, generation));
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// Timers fired by one [`fire_due`]. When 100,000 sleeps end at once,
/// waking them all together held a list of 100,000 wakers and a ready
/// queue as long, on top of every task (peak RSS +2 MB); in batches, the
/// first tasks finish and free their memory before the next are woken.
const FIRE_BATCH: usize = 1024;

/// Wake the timers that are due (at most [`FIRE_BATCH`]); the earliest
/// deadline left, which is already past if more are due.
pub fn fire_due() -> Option<Instant> {
    let mut due = Vec::new();
    let next = QUEUE.with_borrow_mut(|queue| {
        let now = queue.nanos(Instant::now());
        while let Some(&Reverse(top)) = queue.heap.peek() {
            if !queue.is_live(top.slot, top.generation) {
                queue.heap.pop();
                queue.stale = queue.stale.saturating_sub(1);
                continue;
            }
            if top.at > now || due.len() == FIRE_BATCH {
                return Some(queue.instant(top.at));
            }
            queue.heap.pop();
            due.extend(queue.release(top.slot));
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

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn entries_are_small() {
        // One of each per sleeping task (100,000 in W3).
        assert_eq!(std::mem::size_of::<Entry>(), 16, "a heap entry");
        assert_eq!(std::mem::size_of::<Slot>(), 24, "a waker slot");
    }

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

    #[test]
    fn many_due_timers_fire_in_batches() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let now = Instant::now();
        let mut timers: Vec<Timer> = (0..2500).map(|_| Timer::default()).collect();
        for t in &mut timers {
            t.arm(now, &waker);
        }
        let next = fire_due();
        assert_eq!(count.0.load(Ordering::SeqCst), FIRE_BATCH);
        assert!(
            next.is_some_and(|at| at <= Instant::now()),
            "more are due now"
        );
        fire_due();
        assert_eq!(fire_due(), None);
        assert_eq!(count.0.load(Ordering::SeqCst), 2500);
    }

    #[test]
    fn disarmed_timers_free_their_slots_and_heap_entries() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let later = Instant::now() + Duration::from_secs(60);
        let mut timers: Vec<Timer> = (0..3000).map(|_| Timer::default()).collect();
        for t in &mut timers {
            t.arm(later, &waker);
        }
        let kept = timers.split_off(2500);
        drop(timers);
        let (heap, slots, free) =
            QUEUE.with_borrow(|q| (q.heap.len(), q.slots.len(), q.free.len()));
        assert!(heap < 1500, "stale entries compacted: {heap} left");
        assert_eq!((slots, free), (3000, 2500));
        // Freed slots are reused, and their old heap entries never fire.
        let mut again = Timer::default();
        again.arm(Instant::now(), &waker);
        assert_eq!(QUEUE.with_borrow(|q| q.slots.len()), 3000);
        assert_eq!(fire_due(), Some(later));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        drop(kept);
        assert_eq!(fire_due(), None);
    }
}
