//! Whole-machine throughput: band schedulers across thread counts and band heights, a whole
//! scene with and without PNG encoding, and PNG compression levels and row filters.
//!
//! A plain binary (no criterion): the scheduler matrix has a hundred cells, and each wants a
//! median of a few full 1080p frames. Run it with
//!
//! ```text
//! cargo bench --bench throughput -- schedulers --threads 1,2,4,8,16 --bands 1,4,16,64
//! cargo bench --bench throughput -- schedulers --schedulers lockfree --views full --threads 1,16
//! cargo bench --bench throughput -- scene --threads 16 --frames 128
//! cargo bench --bench throughput -- png
//! cargo bench --bench throughput -- refill --reps 5
//! cargo bench --bench throughput -- speedup --views seahorse --threads 16 --reps 7 --frames 8
//! ```
//!
//! `refill` is the throughput issue's target 2 on one core: the useful iterations per second
//! of each kernel on a whole 1080p seahorse-valley frame (the kernel bench's view, every row,
//! in bands of 4 rows as the pipeline hands them), against its rate on interior points (the
//! kernel bench's `interior` group), the two alternating in one sitting.
//!
//! `speedup` is target 4's measure on a machine whose one-thread speed drifts between runs: a
//! one-thread run and a `T`-thread run (of `T` times the frames) alternate, each pair's ratio
//! is taken from two runs seconds apart, and the median of the pairs is the figure. Each pair
//! also says where the time went: the share of the workers' time spent in bands at each thread
//! count, and how much longer the same bands took with every core busy. `--repeat N` renders
//! the `--frames` views N times over per one-thread run, `--window N` sets the frames in flight.
//!
//! A whole-scene run should last seconds: its fixed costs (the first frame's encoding cannot
//! overlap anything, the last frame's encoding follows the render) are a frame or two, which
//! is 10% of a 16-frame run at 16 threads. `scripts/scaling.sh` gives it 8 frames per thread.
//!
//! Every table is printed as Markdown, ready for docs/PERFORMANCE.md. Medians of `--reps` runs.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use num_complex::Complex64;
use rayon::prelude::*;
use zoomgen::color::Palette;
use zoomgen::kernel::Kernel;
use zoomgen::output::png::{
    ENCODER_QUEUE, FrameFolder, PngCompression, PngWriter, encode_png, encoder_threads,
};
use zoomgen::path::View;
use zoomgen::render::band::BandScratch;
use zoomgen::render::pipeline::{ParallelSettings, RenderedFrame, render_frames};
use zoomgen::render::queue::Scheduler;
use zoomgen::render::{FrameJob, FrameKernel, RenderStats, render_band};
use zoomgen::scene::ColorSettings;

struct Options {
    what: String,
    threads: Vec<usize>,
    bands: Vec<u32>,
    reps: usize,
    width: u32,
    height: u32,
    frames: usize,
    /// Scheduler rows of the matrix (`static`, `mutex`, `lockfree-cas`, `lockfree`, `rayon`).
    schedulers: Vec<String>,
    /// Views of the matrix (`full`, `seahorse`).
    views: Vec<String>,
    /// `speedup`: the `--frames` views this many times over in a one-thread run.
    repeat: usize,
    /// `speedup`: frames in flight (the pipeline's window).
    window: usize,
}

fn parse_options() -> Options {
    let mut options = Options {
        what: "schedulers".into(),
        threads: vec![1, 2],
        bands: vec![1, 4, 16, 64],
        reps: 3,
        width: 1920,
        height: 1080,
        frames: 2,
        schedulers: ["static", "mutex", "lockfree-cas", "lockfree", "rayon"]
            .map(String::from)
            .to_vec(),
        views: vec!["full".into(), "seahorse".into()],
        repeat: 1,
        window: ParallelSettings::default().frames_in_flight,
    };
    let mut args = std::env::args().skip(1);
    let list = |s: String| -> Vec<usize> { s.split(',').filter_map(|x| x.parse().ok()).collect() };
    let names = |s: String| -> Vec<String> { s.split(',').map(String::from).collect() };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => options.threads = list(args.next().unwrap_or_default()),
            "--bands" => {
                options.bands = list(args.next().unwrap_or_default())
                    .into_iter()
                    .map(|b| b as u32)
                    .collect()
            }
            "--reps" => options.reps = args.next().and_then(|s| s.parse().ok()).unwrap_or(3),
            "--frames" => options.frames = args.next().and_then(|s| s.parse().ok()).unwrap_or(2),
            "--schedulers" => options.schedulers = names(args.next().unwrap_or_default()),
            "--views" => options.views = names(args.next().unwrap_or_default()),
            "--window" => options.window = args.next().and_then(|s| s.parse().ok()).unwrap_or(3),
            "--repeat" => options.repeat = args.next().and_then(|s| s.parse().ok()).unwrap_or(1),
            "--size" => {
                let s = args.next().unwrap_or_default();
                if let Some((w, h)) = s.split_once('x') {
                    options.width = w.parse().unwrap_or(1920);
                    options.height = h.parse().unwrap_or(1080);
                }
            }
            "--bench" => {}
            other if !other.starts_with('-') => options.what = other.to_string(),
            other => eprintln!("ignoring unknown option {other}"),
        }
    }
    options
}

fn kernel() -> Arc<dyn Kernel> {
    Arc::from(zoomgen::kernel::select_kernel().unwrap_or_else(|e| panic!("{e}")))
}

fn palette() -> Palette {
    Palette::new(&ColorSettings {
        palette: ["#000764", "#206bcb", "#edffff", "#ffaa00", "#000200"]
            .iter()
            .map(|c| zoomgen::scene::Rgb8::parse(c).unwrap())
            .collect(),
        cycle: 64.0,
        offset: 0.0,
        interior: zoomgen::scene::Rgb8([0, 0, 0]),
        ..ColorSettings::default()
    })
}

/// `frames` views zooming into `center` from `width`, each 10% narrower than the last.
fn views(name: &str, frames: usize) -> Vec<View> {
    let (center, width, iterations) = match name {
        // The whole set: a third of the pixels are interior (max_iterations each), the rest
        // escape in a few steps; rows through the set cost 100x rows above it.
        "full" => (Complex64::new(-0.75, 0.0), 3.5, 1000),
        // Seahorse valley: neighbouring pixels escape at very different counts.
        _ => (
            Complex64::new(-0.743_643_887_037_158_7, 0.131_825_904_205_311_97),
            5e-5,
            4000,
        ),
    };
    (0..frames)
        .map(|f| View {
            frame: f as u64,
            center,
            ln_width: f64::ln(width) + f as f64 * 0.9f64.ln(),
            rotation_deg: 0.0,
            max_iterations: iterations,
            segment: 0,
            center_fraction: 0.0,
            palette_offset: 0.0,
            palette_cycle: 64.0,
        })
        .collect()
}

fn jobs(views: &[View], o: &Options) -> Vec<FrameJob> {
    views
        .iter()
        .map(|v| FrameJob::new(v.clone(), o.width, o.height, 1))
        .collect()
}

/// The views `copies` times over, numbered on: a run with `T` threads renders `T` times the
/// frames of a one-thread run, so that every cell of the table takes about as long as the
/// one-thread run (steady state, not thread start-up) and costs the same per frame.
fn repeated_jobs(views: &[View], copies: usize, o: &Options) -> Vec<FrameJob> {
    let views: Vec<View> = (0..copies)
        .flat_map(|_| views.iter().cloned())
        .enumerate()
        .map(|(frame, view)| View {
            frame: frame as u64,
            ..view
        })
        .collect();
    jobs(&views, o)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Renders the jobs with one of our schedulers; returns seconds, the stats and the
/// thread-seconds spent in bands.
fn run_ours(
    jobs: &[FrameJob],
    kernel: &Arc<dyn Kernel>,
    palette: &Palette,
    settings: &ParallelSettings,
) -> (f64, RenderStats, f64) {
    let cancel = AtomicBool::new(false);
    let mut stats = RenderStats::default();
    let mut band_seconds = 0.0;
    let start = Instant::now();
    render_frames(
        jobs,
        kernel,
        palette,
        settings,
        &cancel,
        &mut |_| {},
        &mut |f| {
            stats.add(&f.stats);
            band_seconds += f.cpu_seconds;
            Ok(())
        },
    )
    .unwrap();
    (start.elapsed().as_secs_f64(), stats, band_seconds)
}

/// Renders the jobs frame by frame with rayon's `par_chunks_mut` (the outside reference).
fn run_rayon(
    jobs: &[FrameJob],
    kernel: &Arc<dyn Kernel>,
    palette: &Palette,
    threads: usize,
    band_height: u32,
) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let kernel = FrameKernel::Samples(kernel.clone());
    let start = Instant::now();
    pool.install(|| {
        for job in jobs {
            let row_bytes = job.row_bytes();
            let mut pixels = vec![0u8; row_bytes * job.height as usize];
            pixels
                .par_chunks_mut(row_bytes * band_height as usize)
                .enumerate()
                .for_each_init(BandScratch::default, |scratch, (band, chunk)| {
                    let first = band as u32 * band_height;
                    let rows = first..first + (chunk.len() / row_bytes) as u32;
                    render_band(job, &kernel, palette, rows, scratch, chunk, None);
                });
            std::hint::black_box(&pixels);
        }
    });
    start.elapsed().as_secs_f64()
}

fn schedulers(o: &Options) {
    let kernel = kernel();
    let palette = palette();
    println!(
        "kernel {}, {}x{}, {} frames per run times the thread count, median of {} runs; cell = ms per frame (speed-up over 1 thread, lockfree, 4-row bands)\n",
        kernel.name(),
        o.width,
        o.height,
        o.frames,
        o.reps
    );
    for view in &o.views {
        let views = views(view, o.frames);
        let jobs = jobs(&views, o);
        // One untimed run first (it also counts the iterations): the first run of a process
        // pays for page faults and cold caches, which a one-thread cell of a few frames would
        // otherwise carry.
        let (_, stats, _) = run_ours(&jobs, &kernel, &palette, &ParallelSettings::default());
        let base = median(
            (0..o.reps)
                .map(|_| {
                    run_ours(
                        &jobs,
                        &kernel,
                        &palette,
                        &ParallelSettings {
                            threads: 1,
                            band_height: 4,
                            scheduler: Scheduler::LockFree,
                            frames_in_flight: 3,
                            keep_escapes: false,
                        },
                    )
                    .0
                })
                .collect(),
        );
        let base_per_frame = base / jobs.len() as f64;
        println!(
            "### {view} view: {:.2} G iterations per frame, 1 thread {:.1} ms per frame ({:.2} G it/s)\n",
            stats.iterations as f64 / jobs.len() as f64 / 1e9,
            base * 1e3 / jobs.len() as f64,
            stats.iterations as f64 / base / 1e9
        );
        print!("| scheduler | band rows |");
        for t in &o.threads {
            print!(" {t} threads |");
        }
        println!();
        print!("|---|---|");
        for _ in &o.threads {
            print!("---|");
        }
        println!();
        for name in o.schedulers.iter().map(String::as_str) {
            for &band_height in &o.bands {
                if name == "static" && band_height != o.bands[0] {
                    continue; // static ignores the band height: one run of rows per thread
                }
                print!(
                    "| {name} | {} |",
                    if name == "static" {
                        "H/T".to_string()
                    } else {
                        band_height.to_string()
                    }
                );
                for &threads in &o.threads {
                    let jobs = repeated_jobs(&views, threads, o);
                    let secs = median(
                        (0..o.reps)
                            .map(|_| match Scheduler::from_name(name) {
                                Some(scheduler) => {
                                    run_ours(
                                        &jobs,
                                        &kernel,
                                        &palette,
                                        &ParallelSettings {
                                            threads,
                                            band_height,
                                            scheduler,
                                            frames_in_flight: 3,
                                            keep_escapes: false,
                                        },
                                    )
                                    .0
                                }
                                None => run_rayon(&jobs, &kernel, &palette, threads, band_height),
                            })
                            .collect(),
                    );
                    let per_frame = secs / jobs.len() as f64;
                    // Light frames (the full set at 16 threads) take a few ms: one decimal.
                    let ms = per_frame * 1e3;
                    let digits = if ms < 10.0 { 1 } else { 0 };
                    print!(" {ms:.digits$} ({:.2}x) |", base_per_frame / per_frame);
                }
                println!();
            }
        }
        println!();
    }
}

/// A whole seahorse segment rendered with PNG encoding and without: encoding must hide.
fn scene(o: &Options) {
    let kernel = kernel();
    let palette = palette();
    let threads = *o.threads.last().unwrap_or(&1);
    let frames = o.frames.max(8);
    let jobs = jobs(&views("seahorse", frames), o);
    let settings = ParallelSettings {
        threads,
        ..ParallelSettings::default()
    };
    let mut render_only = Vec::new();
    let mut with_png = Vec::new();
    let mut stats = RenderStats::default();
    for _ in 0..o.reps {
        let (secs, s, _) = run_ours(&jobs, &kernel, &palette, &settings);
        render_only.push(secs);
        stats = s;
        let dir = tempfile::tempdir().unwrap();
        let folder = FrameFolder::new(dir.path(), frames as u64);
        let writer = PngWriter::start(
            folder,
            PngCompression::Fast,
            encoder_threads(threads),
            ENCODER_QUEUE,
        );
        let cancel = AtomicBool::new(false);
        let start = Instant::now();
        render_frames(
            &jobs,
            &kernel,
            &palette,
            &settings,
            &cancel,
            &mut |_| {},
            &mut |f| writer.submit(std::sync::Arc::new(f)),
        )
        .unwrap();
        writer.finish().unwrap();
        with_png.push(start.elapsed().as_secs_f64());
    }
    let (r, w) = (median(render_only), median(with_png));
    println!(
        "| {}x{} seahorse, {frames} frames, {threads} threads | render only | with PNG (fast) | ratio |",
        o.width, o.height
    );
    println!("|---|---|---|---|");
    println!(
        "| frames/s | {:.2} | {:.2} | {:.3} |",
        frames as f64 / r,
        frames as f64 / w,
        w / r
    );
    println!(
        "| G iterations/s | {:.2} | {:.2} | |",
        stats.iterations as f64 / r / 1e9,
        stats.iterations as f64 / w / 1e9
    );
}

/// PNG compression levels on a 1080p seahorse frame: milliseconds and bytes.
fn png(o: &Options) {
    let kernel = kernel();
    let palette = palette();
    println!(
        "| view ({}x{}) | level | filter | ms per frame | bytes |",
        o.width, o.height
    );
    println!("|---|---|---|---|---|");
    // Both frames first, so that no timing follows a render directly.
    let frames: Vec<(&str, RenderedFrame)> = ["seahorse", "full"]
        .into_iter()
        .map(|view| {
            let jobs = jobs(&views(view, 1), o);
            let mut frame: Option<RenderedFrame> = None;
            let cancel = AtomicBool::new(false);
            render_frames(
                &jobs,
                &kernel,
                &palette,
                &ParallelSettings::default(),
                &cancel,
                &mut |_| {},
                &mut |f| {
                    frame = Some(f);
                    Ok(())
                },
            )
            .unwrap();
            (view, frame.unwrap())
        })
        .collect();
    for (view, frame) in &frames {
        let time = |encode: &dyn Fn(&mut Vec<u8>)| {
            for _ in 0..3 {
                encode(&mut Vec::new()); // warm-up, not timed
            }
            let mut bytes = 0;
            let secs = median(
                (0..o.reps)
                    .map(|_| {
                        let mut out = Vec::new();
                        let start = Instant::now();
                        encode(&mut out);
                        bytes = out.len();
                        start.elapsed().as_secs_f64()
                    })
                    .collect(),
            );
            (secs * 1e3, bytes)
        };
        // The row filters the png crate offers, with the fast level's deflate: how the
        // fast level's filter was chosen.
        for filter in [
            png::Filter::Adaptive,
            png::Filter::NoFilter,
            png::Filter::Sub,
            png::Filter::Up,
            png::Filter::Avg,
            png::Filter::Paeth,
        ] {
            for (deflate, compression) in [
                ("fast", png::Compression::Fast),
                ("fastest", png::Compression::Fastest),
            ] {
                let (ms, bytes) = time(&|out| {
                    let mut e = png::Encoder::new(out, frame.job.width, frame.job.height);
                    e.set_color(png::ColorType::Rgb);
                    e.set_depth(png::BitDepth::Eight);
                    e.set_compression(compression);
                    e.set_filter(filter);
                    let mut w = e.write_header().unwrap();
                    w.write_image_data(&frame.pixels).unwrap();
                    w.finish().unwrap();
                });
                println!("| {view} | {deflate} deflate | {filter:?} | {ms:.1} | {bytes} |");
            }
        }
        // What `--png-compression` gives.
        for (name, level) in [
            ("fastest", PngCompression::Fastest),
            ("fast", PngCompression::Fast),
            ("default", PngCompression::Default),
            ("best", PngCompression::Best),
        ] {
            let (ms, bytes) = time(&|out| encode_png(frame, level, out).unwrap());
            let filter = format!("{:?}", level.filter());
            println!("| {view} | `{name}` | {filter} | {ms:.1} | {bytes} |");
        }
    }
}

/// Target 2 of the throughput issue: see the module docs.
fn refill(o: &Options) {
    use zoomgen::kernel::{
        Avx2Kernel, Avx512Kernel, Escape, InterleavedKernel, KernelOptions, SampleGrid,
    };
    let interior = SampleGrid::new(Complex64::new(-0.1226, 0.7449), 1e-3, 0.0, 512, 1, 1);
    let center = Complex64::new(-0.743_643_887_037_158_7, 0.131_825_904_205_311_97);
    let frame = SampleGrid::new(center, 1e-5, 0.0, 1920, 1080, 1);
    // G iterations per second and seconds for every row of `grid`, `band` rows per call.
    let rate = |kernel: &dyn Kernel, grid: &SampleGrid, max: u32, band: u32| -> (f64, f64) {
        let mut out = vec![Escape::INTERIOR; (grid.samples_x * band) as usize];
        let start = Instant::now();
        let mut iterations = 0;
        for sy in (0..grid.samples_y).step_by(band as usize) {
            let rows = sy..(sy + band).min(grid.samples_y);
            let len = rows.len() * grid.samples_x as usize;
            iterations += kernel.escape_rows(grid, rows, max, &mut out[..len]);
        }
        let seconds = start.elapsed().as_secs_f64();
        (iterations as f64 / seconds / 1e9, seconds)
    };
    println!(
        "| kernel | interior G it/s | frame, detection off: G it/s (ms) | ratio | frame, adaptive detection: G it/s (ms) | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    type Make = fn(KernelOptions) -> Option<Box<dyn Kernel>>;
    let kernels: [(&str, Make); 3] = [
        ("avx512", |options| {
            Avx512Kernel::new(options).map(|k| Box::new(k) as Box<dyn Kernel>)
        }),
        ("avx2", |options| {
            Avx2Kernel::new(options).map(|k| Box::new(k) as Box<dyn Kernel>)
        }),
        ("interleaved", |options| {
            Some(Box::new(InterleavedKernel::new(options)))
        }),
    ];
    for (name, make) in kernels {
        let (Some(off), Some(adaptive)) = (
            make(KernelOptions::fixed(false)),
            make(KernelOptions::default()),
        ) else {
            println!("| {name} | not on this CPU | | | | |");
            continue;
        };
        let (mut inside, mut plain, mut plain_ms, mut auto, mut auto_ms) =
            (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..o.reps {
            // The interior rate (one call is 2 M iterations, a third of a millisecond).
            inside.push(median(
                (0..15)
                    .map(|_| rate(off.as_ref(), &interior, 4000, 1).0)
                    .collect(),
            ));
            let (r, s) = rate(off.as_ref(), &frame, 3000, 4);
            plain.push(r);
            plain_ms.push(s * 1e3);
            let (r, s) = rate(adaptive.as_ref(), &frame, 3000, 4);
            auto.push(r);
            auto_ms.push(s * 1e3);
        }
        let (inside, plain, auto) = (median(inside), median(plain), median(auto));
        println!(
            "| {name} | {inside:.2} | {plain:.2} ({:.0}) | {:.1}% | {auto:.2} ({:.0}) | {:.1}% |",
            median(plain_ms),
            100.0 * plain / inside,
            median(auto_ms),
            100.0 * auto / inside,
        );
    }
}

/// One thread against `T` threads (the last of `--threads`), in alternating pairs: the
/// lock-free queue, 4-row bands, `--frames` views `--repeat` times over per one-thread run and
/// `T` times as many per `T`-thread run. Prints every pair and the median of the pairs'
/// speed-ups.
fn speedup(o: &Options) {
    let kernel = kernel();
    let palette = palette();
    let threads = *o.threads.last().unwrap_or(&1);
    let settings = |threads| ParallelSettings {
        threads,
        band_height: 4,
        scheduler: Scheduler::LockFree,
        frames_in_flight: o.window,
        keep_escapes: false,
    };
    println!(
        "kernel {}, {}x{}, lock-free queue, 4-row bands, {} frames in flight; {} frames per 1-thread run, {} per {threads}-thread run; {} pairs, the order alternating\n",
        kernel.name(),
        o.width,
        o.height,
        o.window,
        o.frames * o.repeat,
        o.frames * o.repeat * threads,
        o.reps
    );
    println!(
        "| view | pair | 1 thread (ms per frame) | {threads} threads (ms per frame) | speed-up | busy at 1 | busy at {threads} | band time per frame at {threads} / at 1 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for view in &o.views {
        let views = views(view, o.frames);
        let one = repeated_jobs(&views, o.repeat, o);
        let many = repeated_jobs(&views, o.repeat * threads, o);
        // Untimed warm-up of both (page faults, caches, the thread pool's first start).
        let (_, stats, _) = run_ours(&one, &kernel, &palette, &settings(1));
        run_ours(&many, &kernel, &palette, &settings(threads));
        // Per frame: wall seconds, and thread-seconds in bands.
        let time = |jobs: &[FrameJob], t| {
            let (wall, _, band) = run_ours(jobs, &kernel, &palette, &settings(t));
            (wall / jobs.len() as f64, band / jobs.len() as f64)
        };
        // Per pair: [1-thread ms, T-thread ms, speed-up, busy at 1, busy at T, slower].
        let mut pairs: Vec<[f64; 6]> = Vec::new();
        for pair in 0..o.reps {
            let ((a, a_band), (b, b_band)) = if pair % 2 == 0 {
                let a = time(&one, 1);
                (a, time(&many, threads))
            } else {
                let b = time(&many, threads);
                (time(&one, 1), b)
            };
            // The speed-up is `threads * (busy / busy at 1) / slower`: `busy` is how much of
            // the workers' time went into bands, `slower` how much longer the same bands took
            // with every core busy.
            let row = [
                a * 1e3,
                b * 1e3,
                a / b,
                100.0 * a_band / a,
                100.0 * b_band / (b * threads as f64),
                b_band / a_band,
            ];
            println!(
                "| {view} | {} | {:.2} | {:.3} | {:.2}x | {:.1}% | {:.1}% | {:.3} |",
                pair + 1,
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5]
            );
            pairs.push(row);
        }
        let m: [f64; 6] = std::array::from_fn(|i| median(pairs.iter().map(|r| r[i]).collect()));
        println!(
            "| {view} | **median** | {:.2} ({:.2} G it/s) | {:.3} | **{:.2}x** (of medians: {:.2}x) | {:.1}% | {:.1}% | {:.3} |",
            m[0],
            stats.iterations as f64 / one.len() as f64 / (m[0] / 1e3) / 1e9,
            m[1],
            m[2],
            m[0] / m[1],
            m[3],
            m[4],
            m[5]
        );
    }
}

fn main() {
    let o = parse_options();
    match o.what.as_str() {
        "schedulers" => schedulers(&o),
        "scene" => scene(&o),
        "png" => png(&o),
        "refill" => refill(&o),
        "speedup" => speedup(&o),
        other => eprintln!(
            "unknown benchmark {other} (expected schedulers, scene, png, refill or speedup)"
        ),
    }
}
