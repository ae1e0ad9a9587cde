//! The `zoomgen` command: parse arguments, call the library, map errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::{Parser, ValueEnum};
use zoomgen::bands::Scheduler;
use zoomgen::error::{Error, Result};
use zoomgen::output::PngCompression;
use zoomgen::progress::ProgressMode;
use zoomgen::run::{Plan, RunOptions};

/// Render a Mandelbrot zoom video, described by a TOML scene file, into numbered PNG frames.
#[derive(Debug, Parser)]
#[command(name = "zoomgen", version, about, long_about = None)]
struct Cli {
    /// The scene file (TOML).
    #[arg(value_name = "SCENE.toml")]
    scene: PathBuf,

    /// Output folder [default: frames/<scene file stem>].
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: Option<PathBuf>,

    /// Worker threads [default: all cores].
    #[arg(short = 'j', long = "threads", value_name = "THREADS")]
    threads: Option<usize>,

    /// Frames to render: a half-open range A..B or one frame N, in the scene's numbering.
    #[arg(long, value_name = "A..B|N")]
    frames: Option<String>,

    /// Override the resolution; the view keeps its width in the complex plane.
    #[arg(long, value_name = "WxH")]
    size: Option<String>,

    /// Quick look: quarter size, no supersampling.
    #[arg(long)]
    preview: bool,

    /// Render frames again even if they exist (default: skip them, so a rerun resumes).
    #[arg(long)]
    overwrite: bool,

    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,

    /// Validate the scene and print the plan, without rendering.
    #[arg(long)]
    check: bool,

    /// Override a scene value, e.g. --set video.width=3840 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,

    /// Rows per band handed to a worker [default: 4].
    #[arg(long, value_name = "ROWS")]
    band_height: Option<u32>,

    /// How bands are handed out to threads (the others are benchmark baselines).
    #[arg(long, value_enum, default_value_t = SchedulerArg::Lockfree)]
    scheduler: SchedulerArg,

    /// PNG compression: fast (default), default, or best (smallest files, slowest).
    #[arg(long, value_enum, default_value_t = CompressionArg::Fast)]
    png_compression: CompressionArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchedulerArg {
    Lockfree,
    LockfreeCas,
    Mutex,
    Static,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CompressionArg {
    Fast,
    Default,
    Best,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let options = RunOptions {
        scene: cli.scene,
        overrides: cli.set,
        out: cli.out,
        threads: cli.threads,
        frames: cli.frames,
        size: cli.size,
        preview: cli.preview,
        overwrite: cli.overwrite,
        band_height: cli.band_height,
        scheduler: match cli.scheduler {
            SchedulerArg::Lockfree => Scheduler::LockFree,
            SchedulerArg::LockfreeCas => Scheduler::LockFreeCas,
            SchedulerArg::Mutex => Scheduler::Mutex,
            SchedulerArg::Static => Scheduler::Static,
        },
        compression: match cli.png_compression {
            CompressionArg::Fast => PngCompression::Fast,
            CompressionArg::Default => PngCompression::Default,
            CompressionArg::Best => PngCompression::Best,
        },
        progress: ProgressMode::detect(cli.quiet),
    };
    let plan = Plan::new(&options)?;
    if cli.check {
        print!("{}", plan.describe());
        return Ok(());
    }
    let cancel = AtomicBool::new(false);
    let summary = plan.execute(&cancel)?;
    if !cli.quiet {
        let seconds = summary.elapsed.as_secs_f64();
        if summary.stale_temporaries > 0 {
            eprintln!(
                "removed {} temporary files left by an interrupted run",
                summary.stale_temporaries
            );
        }
        eprintln!(
            "rendered {} frames ({} skipped) in {:.1} s: {:.2} frames/s, {:.2} G iterations/s",
            summary.rendered,
            summary.skipped,
            seconds,
            summary.rendered as f64 / seconds.max(1e-9),
            summary.stats.iterations as f64 / seconds.max(1e-9) / 1e9
        );
        eprintln!("make the video with:\n  {}", plan.ffmpeg_command());
    }
    Ok::<(), Error>(())
}
