//! Handing out bands of rows to worker threads.
//!
//! A frame is cut into many bands of a few rows; workers claim the next unclaimed band until
//! none is left, so a thread that drew cheap bands simply takes more of them and no core idles
//! while one expensive band finishes. Band numbers run on across frames (band `g` is band
//! `g % bands_per_frame` of the `g / bands_per_frame`-th frame of the run), so workers move on
//! to the next frame's bands while the last bands of a frame are still being drawn.
//!
//! [`Scheduler::LockFree`] is the default: one `AtomicUsize` advanced with `fetch_add`. It never
//! retries: every call returns a distinct number in one atomic instruction (`lock xadd` on
//! x86), however many threads contend. The compare-and-swap variant ([`Scheduler::LockFreeCas`])
//! has to reload and retry when another thread won the race, so under contention it does more
//! work for the same result; it is kept, with the two older designs, as a benchmark baseline:
//! a `Mutex`-guarded counter ([`Scheduler::Mutex`]) and static splitting
//! ([`Scheduler::Static`]: each thread gets one contiguous run of rows per frame, fixed in
//! advance, so the thread with the expensive rows sets the pace).
//!
//! Ordering: the counter only has to hand out distinct numbers, so `Relaxed` suffices; the
//! pixels of a band go into their frame's slot under a lock, and the frame travels to the
//! assembler through a channel, which order the memory (`super::pipeline`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How bands are handed out to workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheduler {
    /// Lock-free queue, `fetch_add` on one shared counter (the default).
    #[default]
    LockFree,
    /// Lock-free queue, `compare_exchange` loop on one shared counter.
    LockFreeCas,
    /// A counter behind a `Mutex` (baseline).
    Mutex,
    /// One contiguous run of bands per thread and frame, fixed in advance (baseline).
    Static,
}

impl Scheduler {
    /// Every scheduler, for benchmarks.
    pub const ALL: [Scheduler; 4] = [
        Scheduler::LockFree,
        Scheduler::LockFreeCas,
        Scheduler::Mutex,
        Scheduler::Static,
    ];

    /// The name used on the command line and in benchmark tables.
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::LockFree => "lockfree",
            Scheduler::LockFreeCas => "lockfree-cas",
            Scheduler::Mutex => "mutex",
            Scheduler::Static => "static",
        }
    }

    /// Parses a name given by [`Scheduler::name`].
    pub fn from_name(name: &str) -> Option<Scheduler> {
        Scheduler::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The shared hand-out state for `total` bands in frames of `bands_per_frame`.
#[derive(Debug)]
pub struct BandQueue {
    scheduler: Scheduler,
    /// Next band number to hand out (lock-free schedulers). May run past `total` by at most
    /// one per worker: each worker stops at its first number `>= total`.
    next: AtomicUsize,
    /// Next band number to hand out (the `Mutex` baseline).
    locked: Mutex<usize>,
    total: usize,
    bands_per_frame: usize,
    workers: usize,
}

/// A worker's private position, used by the static scheduler.
#[derive(Debug, Clone)]
pub struct WorkerCursor {
    worker: usize,
    frame: usize,
    band: usize,
}

impl BandQueue {
    /// A queue for `total` bands, `bands_per_frame` to a frame, shared by `workers` threads.
    pub fn new(scheduler: Scheduler, total: usize, bands_per_frame: usize, workers: usize) -> Self {
        assert!(bands_per_frame > 0 && workers > 0);
        BandQueue {
            scheduler,
            next: AtomicUsize::new(0),
            locked: Mutex::new(0),
            total,
            bands_per_frame,
            workers,
        }
    }

    /// The cursor for worker `worker` (in `0..workers`).
    pub fn cursor(&self, worker: usize) -> WorkerCursor {
        WorkerCursor {
            worker,
            frame: 0,
            band: 0,
        }
    }

    /// Claims the next band for the worker owning `cursor`, or `None` when all are handed out.
    #[inline]
    pub fn claim(&self, cursor: &mut WorkerCursor) -> Option<usize> {
        let band = match self.scheduler {
            Scheduler::LockFree => self.next.fetch_add(1, Ordering::Relaxed),
            Scheduler::LockFreeCas => {
                let mut current = self.next.load(Ordering::Relaxed);
                loop {
                    if current >= self.total {
                        return None;
                    }
                    match self.next.compare_exchange_weak(
                        current,
                        current + 1,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break current,
                        Err(seen) => current = seen,
                    }
                }
            }
            Scheduler::Mutex => {
                // A poisoned lock only means another worker panicked; the counter is still valid.
                let mut next = self.locked.lock().unwrap_or_else(|e| e.into_inner());
                let band = *next;
                if band < self.total {
                    *next += 1;
                }
                band
            }
            Scheduler::Static => return self.claim_static(cursor),
        };
        (band < self.total).then_some(band)
    }

    /// Static split: worker `w` takes bands `[w * B / T, (w + 1) * B / T)` of every frame.
    fn claim_static(&self, cursor: &mut WorkerCursor) -> Option<usize> {
        let per_frame = self.bands_per_frame;
        let first = cursor.worker * per_frame / self.workers;
        let end = (cursor.worker + 1) * per_frame / self.workers;
        loop {
            let band = first + cursor.band;
            let global = cursor.frame * per_frame + band;
            if global >= self.total {
                return None;
            }
            if band < end {
                cursor.band += 1;
                return Some(global);
            }
            cursor.frame += 1;
            cursor.band = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU8;

    /// Many threads claim 1-row bands of many frames at once; every band must be handed out
    /// exactly once.
    fn hand_out_each_band_once(scheduler: Scheduler, threads: usize, frames: usize, per: usize) {
        let total = frames * per;
        let queue = BandQueue::new(scheduler, total, per, threads);
        let seen: Vec<AtomicU8> = (0..total).map(|_| AtomicU8::new(0)).collect();
        std::thread::scope(|s| {
            for w in 0..threads {
                let (queue, seen) = (&queue, &seen);
                s.spawn(move || {
                    let mut cursor = queue.cursor(w);
                    while let Some(band) = queue.claim(&mut cursor) {
                        seen[band].fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        for (band, count) in seen.iter().enumerate() {
            assert_eq!(
                count.load(Ordering::Relaxed),
                1,
                "{scheduler:?}: band {band}"
            );
        }
    }

    #[test]
    fn every_band_is_handed_out_exactly_once_under_contention() {
        let (rounds, frames, per) = if cfg!(miri) {
            (2, 3, 7)
        } else {
            (20, 40, 1080)
        };
        for scheduler in Scheduler::ALL {
            for round in 0..rounds {
                let threads = [2, 3, 8, 16][round % 4];
                hand_out_each_band_once(scheduler, threads, frames, per);
            }
        }
    }

    #[test]
    fn more_threads_than_bands() {
        for scheduler in Scheduler::ALL {
            hand_out_each_band_once(scheduler, 8, 2, 3);
        }
    }

    #[test]
    fn static_split_gives_each_worker_one_contiguous_run_per_frame() {
        let queue = BandQueue::new(Scheduler::Static, 20, 10, 3);
        let take = |w| {
            let mut c = queue.cursor(w);
            std::iter::from_fn(|| queue.claim(&mut c)).collect::<Vec<_>>()
        };
        assert_eq!(take(0), vec![0, 1, 2, 10, 11, 12]);
        assert_eq!(take(1), vec![3, 4, 5, 13, 14, 15]);
        assert_eq!(take(2), vec![6, 7, 8, 9, 16, 17, 18, 19]);
    }

    #[test]
    fn queues_hand_out_in_order_on_one_thread() {
        for scheduler in [
            Scheduler::LockFree,
            Scheduler::LockFreeCas,
            Scheduler::Mutex,
        ] {
            let queue = BandQueue::new(scheduler, 5, 2, 1);
            let mut c = queue.cursor(0);
            let got: Vec<_> = std::iter::from_fn(|| queue.claim(&mut c)).collect();
            assert_eq!(got, vec![0, 1, 2, 3, 4]);
            assert_eq!(queue.claim(&mut c), None);
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Scheduler::ALL {
            assert_eq!(Scheduler::from_name(s.name()), Some(s));
        }
        assert_eq!(Scheduler::from_name("nope"), None);
    }
}
