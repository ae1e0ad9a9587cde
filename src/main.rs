//! The `zoomgen` command: parse arguments, call the library, map errors to exit codes.
//!
//! Exit codes: 0 done; 2 bad input (before anything is written); 1 a failure while rendering;
//! 130 / 143 stopped by SIGINT / SIGTERM (finished frames kept, rerun to resume).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use zoomgen::run::{
    Output, PipeFormat, Plan, PngCompression, ProgressMode, RunOptions, Scheduler, Signals,
};
use zoomgen::{Error, Result};

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

    /// Frames to render: a half-open range A..B (A.. to the end, ..B from the start) or one
    /// frame N, in the scene's numbering.
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

    /// Bits per color channel of the frames: 8 (dithered) or 16 (16-bit PNGs; rgb48le with
    /// --pipe raw). The same as --set video.bit_depth=BITS.
    #[arg(long, value_name = "BITS", value_parser = ["8", "16"])]
    bit_depth: Option<String>,

    /// How frames are computed: direct (every sample of every frame), or expmap (zooms
    /// assembled from an exponential map computed once per octave). The same as
    /// --set render.method=METHOD.
    #[arg(long, value_name = "METHOD", value_parser = ["direct", "expmap"])]
    method: Option<String>,

    /// Rows per band handed to a worker [default: 4].
    #[arg(long, value_name = "ROWS")]
    band_height: Option<u32>,

    /// How bands are handed out to threads (the others are benchmark baselines).
    #[arg(long, value_enum, default_value_t = SchedulerArg::Lockfree)]
    scheduler: SchedulerArg,

    /// PNG compression: fastest (for frames assembled from a map, where encoding sets the
    /// pace), fast (default), default, or best (smallest files, slowest).
    #[arg(long, value_enum, default_value_t = CompressionArg::Fast)]
    png_compression: CompressionArg,

    /// Write frames in order to stdout instead of files: raw rgb24 (rgb48le with --bit-depth 16), or a PNG stream.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pipe: Option<PipeArg>,

    /// Also encode the frames into this video with ffmpeg (found on PATH).
    #[arg(long, value_name = "FILE")]
    video: Option<PathBuf>,

    /// ffmpeg encoding arguments for --video [default: -c:v libx264 -pix_fmt yuv420p -crf 18].
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    ffmpeg_args: Option<String>,

    /// Render only frames whose number mod N is K: K/N, or auto (Slurm array / Kubernetes).
    #[arg(long, value_name = "K/N|auto")]
    shard: Option<String>,

    /// Number of shards for --shard auto in a Kubernetes Indexed Job.
    #[arg(long, value_name = "N")]
    shard_count: Option<u64>,

    /// Write each frame's data (N, NF, DE, DEX, DEY, T) as OpenEXR beside its PNG.
    #[arg(long)]
    data: bool,

    /// Color the frames again from the data --data wrote beside them, without iterating
    /// (the scene's colors may change; its geometry may not).
    #[arg(long, conflicts_with_all = ["data", "check"])]
    recolor: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PipeArg {
    Raw,
    Png,
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
    Fastest,
    Fast,
    Default,
    Best,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    let options = RunOptions {
        scene: cli.scene,
        overrides: {
            let mut set = cli.set;
            if let Some(bits) = cli.bit_depth {
                set.push(format!("video.bit_depth={bits}"));
            }
            if let Some(method) = cli.method {
                set.push(format!("render.method=\"{method}\""));
            }
            set
        },
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
            CompressionArg::Fastest => PngCompression::Fastest,
            CompressionArg::Fast => PngCompression::Fast,
            CompressionArg::Default => PngCompression::Default,
            CompressionArg::Best => PngCompression::Best,
        },
        progress: ProgressMode::detect(cli.quiet),
        pipe: cli.pipe.map(|p| match p {
            PipeArg::Raw => PipeFormat::Raw,
            PipeArg::Png => PipeFormat::Png,
        }),
        video: cli.video,
        ffmpeg_args: cli.ffmpeg_args,
        shard: cli.shard,
        shard_count: cli.shard_count,
        data: cli.data,
    };
    let plan = Plan::new(&options)?;
    if cli.check {
        // The same refusal a render would give (an output folder holding another scene's
        // frames), without writing anything.
        plan.survey()?;
        print!("{}", plan.describe());
        return Ok(0);
    }
    let signals = Signals::install()?;
    if cli.recolor {
        let summary = plan.recolor(signals.cancel_flag())?;
        if let Some((name, code)) = signals.received()
            && summary.cancelled
        {
            eprintln!(
                "stopped by {name}: {} recolored, {} still to do",
                frames(summary.rendered),
                summary.missing
            );
            return Ok(code);
        }
        if !cli.quiet {
            eprintln!(
                "recolored {} in {:.1} s",
                frames(summary.rendered),
                summary.elapsed.as_secs_f64()
            );
        }
        return Ok(0);
    }
    let summary = plan.execute(signals.cancel_flag())?;
    if let Some((name, code)) = signals.received()
        && summary.cancelled
    {
        eprintln!(
            "stopped by {name}: {} rendered, {} skipped, {} still missing; {}",
            frames(summary.rendered),
            summary.skipped,
            summary.missing,
            plan.resume_hint()
        );
        return Ok(code);
    }
    if !cli.quiet {
        let seconds = summary.elapsed.as_secs_f64();
        if summary.stale_temporaries > 0 {
            eprintln!(
                "removed {} temporary files left by an interrupted run",
                summary.stale_temporaries
            );
        }
        eprintln!(
            "rendered {} ({} skipped) in {:.1} s: {:.2} frames/s, {:.2} G iterations/s",
            frames(summary.rendered),
            summary.skipped,
            seconds,
            summary.rendered as f64 / seconds.max(1e-9),
            summary.iterations as f64 / seconds.max(1e-9) / 1e9
        );
        if summary.glitches > 0 {
            eprintln!(
                "{} samples of deep frames could not be trusted (glitches; see render-log.jsonl)",
                summary.glitches
            );
        }
        match (plan.output(), &summary.video) {
            (_, Some(video)) => eprintln!("video written to {}", video.display()),
            (Output::Pipe(_), _) => {}
            _ => eprintln!("make the video with:\n  {}", plan.ffmpeg_command()),
        }
    }
    Ok::<u8, Error>(0)
}

/// `1 frame`, `2 frames`.
fn frames(n: u64) -> String {
    if n == 1 {
        "1 frame".into()
    } else {
        format!("{n} frames")
    }
}
