//! Frames in flight: persistent workers, a band queue spanning frames, frames out in order.
//!
//! ```text
//!  workers (N threads)           assembler (calling thread)           caller's sink
//!  claim band g ──► render ──►   copy band into frame g / B   ──►   on_frame(frame)  (in order)
//! ```
//! Workers live for the whole run and claim bands from one [`BandQueue`] whose numbers run on
//! across frames, so when a frame's last bands are being drawn the idle workers are already on
//! the next frame: there is no barrier and no idle tail at frame boundaries. Finished bands
//! travel over a channel to the assembler, which owns the frame buffers (so no two threads ever
//! share a mutable buffer, and no `unsafe` is needed: the copy costs about a millisecond per
//! 1080p frame, against hundreds of milliseconds of rendering). Completed frames are handed to
//! the sink in frame order.
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
use crossbeam::utils::Backoff;

use crate::bands::{BandQueue, Scheduler};
use crate::color::Palette;
use crate::error::{Error, Result};
use crate::kernel::{Escape, Kernel};
use crate::render::{FrameJob, RenderStats, render_band};

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
    fn kernel_for(&self, job: &FrameJob) -> Arc<dyn Kernel>;
}

/// One kernel for every frame.
impl KernelSource for Arc<dyn Kernel> {
    fn kernel_for(&self, _: &FrameJob) -> Arc<dyn Kernel> {
        self.clone()
    }
}

/// A frame's kernel, once the first worker to reach the frame has prepared it.
type PreparedKernel = Arc<OnceLock<Arc<dyn Kernel>>>;

/// Per-frame kernels, prepared once by the first worker that needs one.
struct KernelCache<'a> {
    source: &'a dyn KernelSource,
    /// Frames (by position in the run) whose kernel is prepared or being prepared.
    frames: Mutex<BTreeMap<usize, PreparedKernel>>,
}

impl KernelCache<'_> {
    fn get(&self, position: usize, job: &FrameJob) -> Arc<dyn Kernel> {
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
    Band {
        global: usize,
        pixels: Vec<u8>,
        escapes: Option<Vec<Escape>>,
        stats: RenderStats,
        seconds: f64,
    },
    Panicked(String),
}

/// A frame whose bands are arriving.
struct PartialFrame {
    pixels: Vec<u8>,
    escapes: Option<Vec<Escape>>,
    bands_done: usize,
    stats: RenderStats,
    cpu_seconds: f64,
}

/// Renders `jobs` (all the same size) and hands each finished frame to `on_frame`, in order.
///
/// `on_band` is called after every band with the progress of the oldest unfinished frame.
/// Setting `cancel` makes workers stop after their current band; the call then returns
/// `Ok(())` without handing out the unfinished frames. An error from `on_frame` stops the
/// workers and is returned.
pub fn render_frames(
    jobs: &[FrameJob],
    kernels: &dyn KernelSource,
    palette: &Palette,
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
        jobs.iter().all(|j| j.width == width && j.height == height),
        "all frames of a run have one size"
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
    let row_bytes = width as usize * 3;
    let keep_escapes = settings.keep_escapes;
    let (sender, receiver) = channel::unbounded::<Done>();
    let cache = KernelCache {
        source: kernels,
        frames: Mutex::new(BTreeMap::new()),
    };

    std::thread::scope(|scope| {
        for worker in 0..threads {
            let sender = sender.clone();
            let (queue, released, stop, cache) = (&queue, &released, &stop, &cache);
            scope.spawn(move || {
                let mut cursor = queue.cursor(worker);
                let mut scratch = Vec::new();
                // The kernel of the frame this worker last worked on.
                let mut current: Option<(usize, Arc<dyn Kernel>)> = None;
                while let Some(global) = queue.claim(&mut cursor) {
                    let position = global / bands_per_frame;
                    if !wait_for_window(position, window, released, stop, cancel) {
                        break;
                    }
                    let job = &jobs[position];
                    let band = (global % bands_per_frame) as u32;
                    let rows = band * band_height..((band + 1) * band_height).min(height);
                    let mut pixels = vec![0u8; rows.len() * row_bytes];
                    let mut escapes = keep_escapes.then(Vec::new);
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
                            kernel.as_ref(),
                            palette,
                            rows,
                            &mut scratch,
                            &mut pixels,
                            escapes.as_mut(),
                        )
                    }));
                    let message = match result {
                        Ok(stats) => Done::Band {
                            global,
                            pixels,
                            escapes,
                            stats,
                            seconds: started.elapsed().as_secs_f64(),
                        },
                        Err(panic) => Done::Panicked(panic_message(&panic)),
                    };
                    let panicked = matches!(message, Done::Panicked(_));
                    if sender.send(message).is_err() || panicked {
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
            bands_per_frame,
            band_height,
            row_bytes,
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

/// The assembler loop: collects bands into frames and hands frames out in order.
#[allow(clippy::too_many_arguments)]
fn assemble(
    jobs: &[FrameJob],
    receiver: &channel::Receiver<Done>,
    cache: &KernelCache<'_>,
    bands_per_frame: usize,
    band_height: u32,
    row_bytes: usize,
    released: &AtomicUsize,
    cancel: &AtomicBool,
    on_band: &mut dyn FnMut(BandProgress),
    on_frame: &mut dyn FnMut(RenderedFrame) -> Result<()>,
) -> Result<()> {
    let frame_bytes = row_bytes * jobs[0].height as usize;
    // Samples per pixel row: supersample rows of samples_x samples.
    let samples_per_row = jobs[0].grid.samples_x as usize * jobs[0].supersample as usize;
    let frame_samples = samples_per_row * jobs[0].height as usize;
    let mut partial: BTreeMap<usize, PartialFrame> = BTreeMap::new();
    let mut next_out = 0usize;
    while next_out < jobs.len() {
        if cancel.load(Ordering::Relaxed) {
            return Ok(());
        }
        let message = match receiver.recv_timeout(Duration::from_millis(100)) {
            Ok(message) => message,
            Err(channel::RecvTimeoutError::Timeout) => continue,
            // Every worker left: only happens after a cancel.
            Err(channel::RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let (global, pixels, escapes, stats, seconds) = match message {
            Done::Band {
                global,
                pixels,
                escapes,
                stats,
                seconds,
            } => (global, pixels, escapes, stats, seconds),
            Done::Panicked(what) => {
                return Err(Error::Render(format!("a render thread panicked: {what}")));
            }
        };
        let position = global / bands_per_frame;
        let band = global % bands_per_frame;
        let frame = partial.entry(position).or_insert_with(|| PartialFrame {
            pixels: Vec::with_capacity(frame_bytes),
            escapes: escapes
                .as_ref()
                .map(|_| vec![Escape::INTERIOR; frame_samples]),
            bands_done: 0,
            stats: RenderStats::default(),
            cpu_seconds: 0.0,
        });
        let start = band * band_height as usize * row_bytes;
        place_band(&mut frame.pixels, start, &pixels);
        if let (Some(all), Some(band_escapes)) = (frame.escapes.as_mut(), escapes) {
            let start = band * band_height as usize * samples_per_row;
            all[start..start + band_escapes.len()].copy_from_slice(&band_escapes);
        }
        frame.bands_done += 1;
        frame.stats.add(&stats);
        frame.cpu_seconds += seconds;
        on_band(BandProgress {
            frame_position: next_out,
            bands_done: partial.get(&next_out).map_or(0, |f| f.bands_done),
            bands_per_frame,
        });
        // Hand out every frame that is complete and next in order.
        while !cancel.load(Ordering::Relaxed)
            && partial
                .get(&next_out)
                .is_some_and(|f| f.bands_done == bands_per_frame)
        {
            let Some(done) = partial.remove(&next_out) else {
                break;
            };
            debug_assert_eq!(done.pixels.len(), frame_bytes, "every band placed");
            cache.release(next_out);
            on_frame(RenderedFrame {
                job: jobs[next_out].clone(),
                pixels: done.pixels,
                escapes: done.escapes,
                stats: done.stats,
                cpu_seconds: done.cpu_seconds,
            })?;
            next_out += 1;
            released.store(next_out, Ordering::Release);
        }
    }
    Ok(())
}

/// Writes a band's bytes at `start` of a frame's pixels that grow as bands arrive: bands
/// arrive nearly in order, so most are appended, and only the gap before a band that comes
/// early is zeroed (then overwritten by the bands that belong there). A frame buffer that was
/// zeroed whole first would cost a 6 MB `memset` per 1080p frame on the assembler's thread,
/// 3% of a one-thread run of ffmpeg's zoom.
fn place_band(pixels: &mut Vec<u8>, start: usize, band: &[u8]) {
    if pixels.len() < start {
        pixels.resize(start, 0);
    }
    let inside = (pixels.len() - start).min(band.len());
    pixels[start..start + inside].copy_from_slice(&band[..inside]);
    pixels.extend_from_slice(&band[inside..]);
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
            palette.color_row(&row, 1, &mut rgb);
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
                    Err(Error::Render("disk full".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert!(matches!(result, Err(Error::Render(m)) if m == "disk full"));
        assert_eq!(seen, vec![0, 1, 2, 3]);
    }

    /// Counts how often a kernel is prepared.
    struct CountingSource(AtomicUsize);
    impl KernelSource for CountingSource {
        fn kernel_for(&self, _: &FrameJob) -> Arc<dyn Kernel> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Arc::new(ScalarKernel)
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
    }

    #[test]
    fn bands_in_any_order_make_the_frame() {
        let bands: Vec<Vec<u8>> = (0..5u8).map(|b| vec![b + 1; 3 + b as usize]).collect();
        let starts: Vec<usize> = bands
            .iter()
            .scan(0, |at, b| {
                let s = *at;
                *at += b.len();
                Some(s)
            })
            .collect();
        let want: Vec<u8> = bands.concat();
        for order in [
            [0, 1, 2, 3, 4],
            [4, 3, 2, 1, 0],
            [2, 0, 4, 1, 3],
            [1, 3, 0, 2, 4],
        ] {
            let mut pixels = Vec::new();
            for b in order {
                place_band(&mut pixels, starts[b], &bands[b]);
            }
            assert_eq!(pixels, want, "{order:?}");
        }
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
            Err(Error::Render(m)) => assert!(m.contains("kernel bug at row 7"), "{m}"),
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
