//! Frames in flight: persistent workers, a band queue spanning frames, frames out in order.
//!
//! ```text
//!  workers (N threads)                                          assembler (calling thread)
//!  claim band g ──► render ──► put it in frame g / B's slot
//!                              last band of the frame? ──► join the bands ──► frame ──► on_frame (in order)
//! ```
//! Workers live for the whole run and claim bands from one [`BandQueue`] whose numbers run on
//! across frames, so when a frame's last bands are being drawn the idle workers are already on
//! the next frame: there is no barrier and no idle tail at frame boundaries. A finished band
//! goes into its frame's slot (one slot per frame in flight, one cell per band); the worker
//! that puts a frame's last band joins the bands into the frame, while the others go on with
//! the next frame, and sends the frame to the assembler, which hands frames to the sink in
//! order. So the only serial work per frame is the sink's, and the assembler wakes once per
//! frame. (The first design sent every band to the assembler, which copied it into the frame:
//! a thread wake-up per band, and one thread copying every byte. On two vCPUs that cost 15% of
//! a one-thread run of the whole set, where bands are cheap: `docs/PERFORMANCE.md`.) Band
//! buffers go back to a lock-free pool when their frame is joined, so no band allocates.
//!
//! Kernels are per frame ([`KernelSource`]): a deep frame's kernel carries tables built from
//! its reference orbit. The first worker to reach a frame prepares its kernel (the others that
//! reach it meanwhile wait for that one preparation), and the kernel is dropped when the frame
//! is handed out. The cache behind this takes a lock once per worker and frame, never per band:
//! handing out bands stays lock-free.
//!
//! Memory stays bounded: a worker may not start a band of a frame more than `frames_in_flight`
//! frames ahead of the oldest frame not yet handed to the sink. When the sink is slow (encoding,
//! a full pipe), the assembler blocks in it, and the workers stop at that window.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam::channel;
use crossbeam::queue::ArrayQueue;
use crossbeam::utils::Backoff;

use crate::render::queue::{BandQueue, Scheduler};
use crate::color::Coloring;
use crate::error::{Error, Result};
use crate::kernel::{Escape, Kernel, Slope};
use crate::render::{FrameJob, FrameKernel, RenderStats, render_band};

/// How the work is spread over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelSettings {
    /// Worker threads, >= 1.
    pub threads: usize,
    /// Rows per band, >= 1.
    pub band_height: u32,
    /// How bands are handed out.
    pub scheduler: Scheduler,
    /// Frames that may be in progress or waiting for the sink at once, >= 1.
    pub frames_in_flight: usize,
    /// Keep every sample's escape data in [`RenderedFrame::escapes`] (for `--data`).
    pub keep_escapes: bool,
}

impl Default for ParallelSettings {
    fn default() -> Self {
        ParallelSettings {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            band_height: 4,
            scheduler: Scheduler::LockFree,
            frames_in_flight: 3,
            keep_escapes: false,
        }
    }
}

/// Chooses the kernel that renders a frame.
pub trait KernelSource: Sync {
    /// The kernel for `job`. Called once per frame of a run, by the first worker to reach it.
    fn kernel_for(&self, job: &FrameJob) -> FrameKernel;
}

/// One kernel for every frame.
impl KernelSource for Arc<dyn Kernel> {
    fn kernel_for(&self, _: &FrameJob) -> FrameKernel {
        FrameKernel::Samples(self.clone())
    }
}

/// A frame's kernel, once the first worker to reach the frame has prepared it.
type PreparedKernel = Arc<OnceLock<FrameKernel>>;

/// Per-frame kernels, prepared once by the first worker that needs one.
struct KernelCache<'a> {
    source: &'a dyn KernelSource,
    /// Frames (by position in the run) whose kernel is prepared or being prepared.
    frames: Mutex<BTreeMap<usize, PreparedKernel>>,
}

impl KernelCache<'_> {
    fn get(&self, position: usize, job: &FrameJob) -> FrameKernel {
        let cell = {
            let mut frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
            frames.entry(position).or_default().clone()
        };
        cell.get_or_init(|| self.source.kernel_for(job)).clone()
    }

    fn release(&self, position: usize) {
        let mut frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
        frames.remove(&position);
    }
}

/// A finished frame: its pixels and what it took.
#[derive(Debug, Clone)]
pub struct RenderedFrame {
    /// The job it was rendered from (view, size).
    pub job: FrameJob,
    /// RGB bytes, `width * height * 3`, rows top to bottom.
    pub pixels: Vec<u8>,
    /// Every sample's escape, row by row, when [`ParallelSettings::keep_escapes`] is set.
    pub escapes: Option<Vec<Escape>>,
    /// Every sample's slope, in the same order, when [`ParallelSettings::keep_escapes`] is set.
    pub slopes: Option<Vec<Slope>>,
    /// Counts over all its samples.
    pub stats: RenderStats,
    /// Thread-seconds spent on its bands (a cost measure independent of the thread count).
    pub cpu_seconds: f64,
}

/// Progress seen by the assembler, for progress displays.
#[derive(Debug, Clone, Copy)]
pub struct BandProgress {
    /// Position in the run's list of frames of the oldest frame not finished.
    pub frame_position: usize,
    /// Bands of that frame done.
    pub bands_done: usize,
    /// Bands per frame.
    pub bands_per_frame: usize,
}

/// Message from a worker to the assembler.
enum Done {
    /// Frame `position` of the run is complete (its last band's worker put it together).
    Frame {
        position: usize,
        frame: Box<RenderedFrame>,
    },
    Panicked(String),
}

/// A rendered band waiting in its frame's slot.
/// Every sample's escape and slope, kept for `--data`.
type SampleData = (Vec<Escape>, Vec<Slope>);

struct Band {
    pixels: Vec<u8>,
    escapes: Option<SampleData>,
    stats: RenderStats,
    seconds: f64,
}

/// The bands of one frame in flight, put there by workers in any order.
///
/// One slot serves frames `k`, `k + window`, `k + 2 * window`, ...: a worker only reaches a
/// band of frame `p` once frame `p - window` has been handed out, and the frame's last band
/// empties the slot before it is handed out.
struct FrameSlot {
    bands: Vec<Mutex<Option<Band>>>,
    /// Bands of the current frame put so far.
    done: AtomicUsize,
}

impl FrameSlot {
    fn new(bands_per_frame: usize) -> Self {
        FrameSlot {
            bands: (0..bands_per_frame).map(|_| Mutex::new(None)).collect(),
            done: AtomicUsize::new(0),
        }
    }

    /// Puts band `index`; true when it was the frame's last band to arrive.
    fn put(&self, index: usize, band: Band) -> bool {
        *self.bands[index].lock().unwrap_or_else(|e| e.into_inner()) = Some(band);
        // AcqRel: the last band's worker sees every other band's slot (the locks order the
        // slots themselves; this orders "all put" before the frame is taken).
        self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.bands.len()
    }

    /// Takes the complete frame's bands out, in order, and makes the slot ready for the next
    /// frame: their pixels concatenated (the buffers go back to `spare`), their escapes
    /// concatenated when kept, their stats and seconds summed.
    fn take(
        &self,
        spare: &ArrayQueue<Vec<u8>>,
    ) -> (Vec<u8>, Option<SampleData>, RenderStats, f64) {
        let mut pixels = Vec::new();
        let mut escapes: Option<SampleData> = None;
        let mut stats = RenderStats::default();
        let mut seconds = 0.0;
        for (index, cell) in self.bands.iter().enumerate() {
            let band = cell
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .expect("a complete frame has every band");
            if index == 0 {
                pixels.reserve_exact(band.pixels.len() * self.bands.len());
            }
            pixels.extend_from_slice(&band.pixels);
            let _ = spare.push(band.pixels);
            if let Some((band_escapes, band_slopes)) = band.escapes {
                let (all_escapes, all_slopes) = escapes.get_or_insert_with(|| {
                    let len = band_escapes.len() * self.bands.len();
                    (Vec::with_capacity(len), Vec::with_capacity(len))
                });
                all_escapes.extend_from_slice(&band_escapes);
                all_slopes.extend_from_slice(&band_slopes);
            }
            stats.add(&band.stats);
            seconds += band.seconds;
        }
        self.done.store(0, Ordering::Relaxed);
        (pixels, escapes, stats, seconds)
    }

    /// Bands of the current frame put so far.
    fn bands_done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }
}

/// How often the assembler reports the progress of the oldest unfinished frame.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

/// Renders `jobs` (all the same size) and hands each finished frame to `on_frame`, in order.
///
/// `on_band` is called about every 50 ms, and after every frame, with the progress of the
/// oldest unfinished frame. Setting `cancel` makes workers stop after their current band; the
/// call then returns `Ok(())` without handing out the unfinished frames. An error from
/// `on_frame` stops the workers and is returned.
pub fn render_frames(
    jobs: &[FrameJob],
    kernels: &dyn KernelSource,
    coloring: &dyn Coloring,
    settings: &ParallelSettings,
    cancel: &AtomicBool,
    on_band: &mut dyn FnMut(BandProgress),
    on_frame: &mut dyn FnMut(RenderedFrame) -> Result<()>,
) -> Result<()> {
    let Some(first) = jobs.first() else {
        return Ok(());
    };
    let (width, height) = (first.width, first.height);
    assert!(
        jobs.iter()
            .all(|j| j.width == width && j.height == height && j.row_bytes() == first.row_bytes()),
        "all frames of a run have one size and depth"
    );
    let band_height = settings.band_height.clamp(1, height);
    let bands_per_frame = height.div_ceil(band_height) as usize;
    let total = bands_per_frame * jobs.len();
    let threads = settings.threads.max(1);
    let window = settings.frames_in_flight.max(1);
    let queue = BandQueue::new(settings.scheduler, total, bands_per_frame, threads);
    // Frames handed to the sink so far; workers may work on frames below `released + window`.
    let released = AtomicUsize::new(0);
    // Set when the assembler stops early (error, cancel): workers leave at their next claim.
    let stop = AtomicBool::new(false);
    let row_bytes = first.row_bytes();
    let keep_escapes = settings.keep_escapes;
    let slots: Vec<FrameSlot> = (0..window.min(jobs.len()))
        .map(|_| FrameSlot::new(bands_per_frame))
        .collect();
    // Band pixel buffers back from assembled frames, for the next bands: no allocation (and
    // no freeing on another thread) per band.
    let spare: ArrayQueue<Vec<u8>> = ArrayQueue::new(bands_per_frame * slots.len() + threads);
    let (sender, receiver) = channel::unbounded::<Done>();
    let cache = KernelCache {
        source: kernels,
        frames: Mutex::new(BTreeMap::new()),
    };

    std::thread::scope(|scope| {
        for worker in 0..threads {
            let sender = sender.clone();
            let (queue, released, stop, cache) = (&queue, &released, &stop, &cache);
            let (slots, spare) = (&slots, &spare);
            scope.spawn(move || {
                let mut cursor = queue.cursor(worker);
                let mut scratch = super::band::BandScratch::default();
                // The kernel of the frame this worker last worked on.
                let mut current: Option<(usize, FrameKernel)> = None;
                while let Some(global) = queue.claim(&mut cursor) {
                    let position = global / bands_per_frame;
                    if !wait_for_window(position, window, released, stop, cancel) {
                        break;
                    }
                    let job = &jobs[position];
                    let index = global % bands_per_frame;
                    let first_row = index as u32 * band_height;
                    let rows = first_row..(first_row + band_height).min(height);
                    // render_band writes every byte, so a recycled buffer needs no clearing.
                    let mut pixels = spare.pop().unwrap_or_default();
                    pixels.resize(rows.len() * row_bytes, 0);
                    let mut escapes = keep_escapes.then(|| (Vec::new(), Vec::new()));
                    let started = Instant::now();
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        let kernel = match &current {
                            Some((p, kernel)) if *p == position => kernel.clone(),
                            _ => {
                                let kernel = cache.get(position, job);
                                current = Some((position, kernel.clone()));
                                kernel
                            }
                        };
                        render_band(
                            job,
                            &kernel,
                            coloring,
                            rows,
                            &mut scratch,
                            &mut pixels,
                            escapes.as_mut().map(|(e, s)| (e, s)),
                        )
                    }));
                    let stats = match result {
                        Ok(stats) => stats,
                        Err(panic) => {
                            let _ = sender.send(Done::Panicked(panic_message(&panic)));
                            break;
                        }
                    };
                    let slot = &slots[position % slots.len()];
                    let band = Band {
                        pixels,
                        escapes,
                        stats,
                        seconds: started.elapsed().as_secs_f64(),
                    };
                    if !slot.put(index, band) {
                        continue;
                    }
                    // This worker finished the frame: it puts it together (in parallel with
                    // the other workers, which go on with the next frame's bands).
                    let (pixels, data, stats, cpu_seconds) = slot.take(spare);
                    let (escapes, slopes) = data.unzip();
                    let frame = Box::new(RenderedFrame {
                        job: job.clone(),
                        pixels,
                        escapes,
                        slopes,
                        stats,
                        cpu_seconds,
                    });
                    if sender.send(Done::Frame { position, frame }).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);

        let result = assemble(
            jobs,
            &receiver,
            &cache,
            &slots,
            bands_per_frame,
            &released,
            cancel,
            on_band,
            on_frame,
        );
        // Whatever happened, let the workers go and wait for them (the scope joins them).
        stop.store(true, Ordering::Relaxed);
        drop(receiver);
        result
    })
}

/// The assembler loop: hands complete frames out in order and reports progress. It wakes
/// once per frame (and every [`PROGRESS_INTERVAL`]), never per band.
#[allow(clippy::too_many_arguments)]
fn assemble(
    jobs: &[FrameJob],
    receiver: &channel::Receiver<Done>,
    cache: &KernelCache<'_>,
    slots: &[FrameSlot],
    bands_per_frame: usize,
    released: &AtomicUsize,
    cancel: &AtomicBool,
    on_band: &mut dyn FnMut(BandProgress),
    on_frame: &mut dyn FnMut(RenderedFrame) -> Result<()>,
) -> Result<()> {
    // Complete frames that came before an earlier one.
    let mut waiting: BTreeMap<usize, RenderedFrame> = BTreeMap::new();
    let mut next_out = 0usize;
    while next_out < jobs.len() {
        if cancel.load(Ordering::Relaxed) {
            return Ok(());
        }
        match receiver.recv_timeout(PROGRESS_INTERVAL) {
            Ok(Done::Frame { position, frame }) => {
                waiting.insert(position, *frame);
            }
            Ok(Done::Panicked(what)) => {
                return Err(Error::Panicked {
                    thread: "render",
                    message: Some(what),
                });
            }
            Err(channel::RecvTimeoutError::Timeout) => {}
            // Every worker left: only happens after a cancel.
            Err(channel::RecvTimeoutError::Disconnected) => return Ok(()),
        }
        // Hand out every frame that is complete and next in order.
        while !cancel.load(Ordering::Relaxed) {
            let Some(frame) = waiting.remove(&next_out) else {
                break;
            };
            cache.release(next_out);
            on_frame(frame)?;
            next_out += 1;
            released.store(next_out, Ordering::Release);
        }
        if next_out < jobs.len() {
            // The slot of the oldest frame not handed out holds that frame's bands: later
            // frames' bands wait until it is handed out. A complete one waiting for the sink
            // has emptied its slot.
            let bands_done = if waiting.contains_key(&next_out) {
                bands_per_frame
            } else {
                slots[next_out % slots.len()].bands_done()
            };
            on_band(BandProgress {
                frame_position: next_out,
                bands_done,
                bands_per_frame,
            });
        }
    }
    Ok(())
}

/// Waits until frame `position` is inside the window of frames allowed in flight.
/// Returns `false` when the run is stopping instead.
fn wait_for_window(
    position: usize,
    window: usize,
    released: &AtomicUsize,
    stop: &AtomicBool,
    cancel: &AtomicBool,
) -> bool {
    let backoff = Backoff::new();
    loop {
        if stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
            return false;
        }
        if position < released.load(Ordering::Acquire) + window {
            return true;
        }
        if backoff.is_completed() {
            std::thread::sleep(Duration::from_micros(200));
        } else {
            backoff.snooze();
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::Palette;
    use crate::kernel::{SampleGrid, ScalarKernel};
    use crate::path::View;
    use crate::scene::{ColorSettings, Rgb8};
    use num_complex::Complex64;

    fn scalar() -> Arc<dyn Kernel> {
        Arc::new(ScalarKernel)
    }

    fn palette() -> Palette {
        Palette::new(&ColorSettings {
            palette: vec![
                Rgb8([0, 7, 100]),
                Rgb8([32, 107, 203]),
                Rgb8([237, 255, 255]),
            ],
            cycle: 16.0,
            offset: 0.0,
            interior: Rgb8([0, 0, 0]),
            ..ColorSettings::default()
        })
    }

    fn jobs(count: u64, width: u32, height: u32, ss: u32) -> Vec<FrameJob> {
        (0..count)
            .map(|f| {
                let view = View {
                    frame: f,
                    center: Complex64::new(-0.7435, 0.1314),
                    ln_width: (0.02 / (1.0 + f as f64)).ln(),
                    rotation_deg: 10.0 * f as f64,
                    max_iterations: 300 + 50 * f as u32,
                    segment: 0,
                    center_fraction: 0.0,
                    palette_offset: 0.0,
                    palette_cycle: 64.0,
                };
                FrameJob::new(view, width, height, ss)
            })
            .collect()
    }

    fn render(jobs: &[FrameJob], settings: ParallelSettings) -> Vec<(u64, Vec<u8>)> {
        let mut frames = Vec::new();
        let cancel = AtomicBool::new(false);
        render_frames(
            jobs,
            &scalar(),
            &palette(),
            &settings,
            &cancel,
            &mut |_| {},
            &mut |f| {
                frames.push((f.job.view.frame, f.pixels));
                Ok(())
            },
        )
        .unwrap();
        frames
    }

    #[test]
    fn same_pixels_for_any_thread_count_band_height_and_scheduler() {
        let jobs = jobs(3, 37, 23, 2);
        let reference = render(
            &jobs,
            ParallelSettings {
                threads: 1,
                band_height: 23,
                scheduler: Scheduler::LockFree,
                frames_in_flight: 1,
                keep_escapes: false,
            },
        );
        assert_eq!(reference.len(), 3);
        assert_ne!(reference[0].1, reference[1].1, "frames differ");
        for scheduler in Scheduler::ALL {
            for threads in [1, 2, 3, 8] {
                for band_height in [1, 2, 5, 64] {
                    let got = render(
                        &jobs,
                        ParallelSettings {
                            threads,
                            band_height,
                            scheduler,
                            frames_in_flight: 2,
                            keep_escapes: false,
                        },
                    );
                    assert!(
                        got == reference,
                        "{scheduler:?}, {threads} threads, {band_height}-row bands differ"
                    );
                }
            }
        }
    }

    /// Many tiny frames, one-row bands and more workers than bands per frame: frame slots are
    /// reused as fast as the window allows, and frames complete out of order. Every frame
    /// still arrives once, in order, with its own pixels and escapes.
    #[test]
    fn frame_slots_reused_under_contention() {
        let (count, rounds) = if cfg!(miri) { (6, 1) } else { (60, 10) };
        let jobs = jobs(count, 9, 4, 1);
        let run = |threads: usize, window: usize| {
            let mut frames = Vec::new();
            let cancel = AtomicBool::new(false);
            render_frames(
                &jobs,
                &scalar(),
                &palette(),
                &ParallelSettings {
                    threads,
                    band_height: 1,
                    scheduler: Scheduler::LockFree,
                    frames_in_flight: window,
                    keep_escapes: true,
                },
                &cancel,
                &mut |_| {},
                &mut |f| {
                    frames.push((f.job.view.frame, f.pixels, f.escapes));
                    Ok(())
                },
            )
            .unwrap();
            frames
        };
        let reference = run(1, 1);
        assert_eq!(reference.len(), count as usize);
        for _ in 0..rounds {
            for window in [1, 2, 3, 5] {
                assert!(run(8, window) == reference, "window {window}");
            }
        }
    }

    #[test]
    fn pixels_and_escapes_match_a_direct_single_threaded_render() {
        let jobs = jobs(1, 20, 10, 1);
        let cancel = AtomicBool::new(false);
        let mut got = None;
        render_frames(
            &jobs,
            &scalar(),
            &palette(),
            &ParallelSettings {
                band_height: 3,
                keep_escapes: true,
                ..ParallelSettings::default()
            },
            &cancel,
            &mut |_| {},
            &mut |f| {
                got = Some(f);
                Ok(())
            },
        )
        .unwrap();
        let got = got.unwrap();
        let job = &jobs[0];
        let palette = palette();
        let mut pixels = Vec::new();
        let mut escapes = Vec::new();
        for y in 0..job.height {
            let row: Vec<_> = (0..job.width)
                .map(|x| {
                    let c = job.grid.point(x, y);
                    crate::kernel::scalar::escape_point(c.re, c.im, job.view.max_iterations).0
                })
                .collect();
            let mut rgb = vec![0u8; job.row_bytes()];
            palette.color_row(&job.color, y, &row, 1, &mut rgb);
            pixels.extend(rgb);
            escapes.extend(row);
        }
        assert_eq!(got.pixels, pixels);
        assert_eq!(got.escapes, Some(escapes));
    }

    #[test]
    fn frames_arrive_in_order_and_a_sink_error_stops_the_run() {
        let jobs = jobs(6, 16, 16, 1);
        let mut seen = Vec::new();
        let cancel = AtomicBool::new(false);
        let result = render_frames(
            &jobs,
            &scalar(),
            &palette(),
            &ParallelSettings {
                threads: 4,
                band_height: 1,
                ..ParallelSettings::default()
            },
            &cancel,
            &mut |_| {},
            &mut |f| {
                seen.push(f.job.view.frame);
                if f.job.view.frame == 3 {
                    Err(Error::Usage("disk full".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert!(matches!(result, Err(Error::Usage(m)) if m == "disk full"));
        assert_eq!(seen, vec![0, 1, 2, 3]);
    }

    /// Counts how often a kernel is prepared.
    struct CountingSource(AtomicUsize);
    impl KernelSource for CountingSource {
        fn kernel_for(&self, _: &FrameJob) -> FrameKernel {
            self.0.fetch_add(1, Ordering::Relaxed);
            FrameKernel::Samples(Arc::new(ScalarKernel))
        }
    }

    #[test]
    fn each_frame_kernel_is_prepared_once_however_many_workers_share_it() {
        let jobs = jobs(5, 24, 24, 1);
        let source = CountingSource(AtomicUsize::new(0));
        let cancel = AtomicBool::new(false);
        let mut frames = 0;
        render_frames(
            &jobs,
            &source,
            &palette(),
            &ParallelSettings {
                threads: 8,
                band_height: 1,
                ..ParallelSettings::default()
            },
            &cancel,
            &mut |_| {},
            &mut |_| {
                frames += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(frames, 5);
        assert_eq!(source.0.load(Ordering::Relaxed), 5);
    }

    struct PanickingKernel;
    impl Kernel for PanickingKernel {
        fn name(&self) -> &'static str {
            "panics"
        }
        fn escape_row(&self, _: &SampleGrid, sy: u32, _: u32, out: &mut [Escape]) -> u64 {
            assert!(sy != 7, "kernel bug at row 7");
            out.fill(Escape::INTERIOR);
            0
        }
        fn slope_rows(
            &self,
            grid: &SampleGrid,
            rows: std::ops::Range<u32>,
            max: u32,
            out: &mut [Escape],
            slopes: &mut [crate::kernel::Slope],
        ) -> u64 {
            slopes.fill(crate::kernel::Slope::NONE);
            self.escape_rows(grid, rows, max, out)
        }
    }

    /// A slot completes once, at its last band in whatever order the bands come, gives the
    /// frame back in band order, and is then empty for the next frame.
    #[test]
    fn bands_in_any_order_make_the_frame() {
        let band = |b: usize| Band {
            pixels: vec![b as u8 + 1; 3 + b],
            escapes: Some((
                vec![Escape::escaped(b as u32, 1.0); 1 + b],
                vec![Slope::at_escape([300.0, 0.0], [b as f64, 1.0]); 1 + b],
            )),
            stats: RenderStats {
                iterations: 10 * b as u64,
                ..RenderStats::default()
            },
            seconds: b as f64,
        };
        let want: Vec<u8> = (0..5).flat_map(|b| band(b).pixels).collect();
        let want_escapes: Vec<Escape> = (0..5).flat_map(|b| band(b).escapes.unwrap().0).collect();
        let want_slopes: Vec<Slope> = (0..5).flat_map(|b| band(b).escapes.unwrap().1).collect();
        let slot = FrameSlot::new(5);
        let spare = ArrayQueue::new(8);
        for order in [
            [0, 1, 2, 3, 4],
            [4, 3, 2, 1, 0],
            [2, 0, 4, 1, 3],
            [1, 3, 0, 2, 4],
        ] {
            let completed: Vec<bool> = order.iter().map(|&b| slot.put(b, band(b))).collect();
            assert_eq!(completed, [false, false, false, false, true], "{order:?}");
            assert_eq!(slot.bands_done(), 5);
            let (pixels, escapes, stats, seconds) = slot.take(&spare);
            assert_eq!(pixels, want, "{order:?}");
            let (escapes, slopes) = escapes.unwrap();
            assert_eq!(escapes, want_escapes, "{order:?}");
            assert_eq!(slopes, want_slopes, "{order:?}");
            assert_eq!(stats.iterations, 100);
            assert_eq!(seconds, 10.0);
            assert_eq!(slot.bands_done(), 0);
            assert!(slot.bands.iter().all(|b| b.lock().unwrap().is_none()));
        }
        // Every band's buffer came back for reuse (up to the queue's capacity).
        assert_eq!(spare.len(), 8);
    }

    #[test]
    fn a_worker_panic_becomes_an_error() {
        let jobs = jobs(2, 16, 16, 1);
        let cancel = AtomicBool::new(false);
        let panicking: Arc<dyn Kernel> = Arc::new(PanickingKernel);
        let result = render_frames(
            &jobs,
            &panicking,
            &palette(),
            &ParallelSettings::default(),
            &cancel,
            &mut |_| {},
            &mut |_| Ok(()),
        );
        match result {
            Err(Error::Panicked {
                thread: "render",
                message: Some(m),
            }) => assert!(m.contains("kernel bug at row 7"), "{m}"),
            other => panic!("expected a render error, got {other:?}"),
        }
    }

    #[test]
    fn cancel_stops_early_without_error() {
        let jobs = jobs(50, 32, 32, 1);
        let cancel = AtomicBool::new(false);
        let mut count = 0;
        render_frames(
            &jobs,
            &scalar(),
            &palette(),
            &ParallelSettings::default(),
            &cancel,
            &mut |_| {},
            &mut |_| {
                count += 1;
                if count == 2 {
                    cancel.store(true, Ordering::Relaxed);
                }
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(count, 2);
    }
}
