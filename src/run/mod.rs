//! A render run, top to bottom: plan (validate everything), then render, then report.
//!
//! [`Plan::new`] does every check that can fail on bad input (scene, command-line values,
//! memory) before anything touches the disk, so bad input exits with code 2 and writes
//! nothing. [`Plan::execute`] then creates the folder, skips finished frames, renders the rest
//! and returns a [`Summary`].
//!
//! **Resume.** Before anything is written, [`Plan::execute`] surveys the output folder: the
//! manifest and every frame in the range must carry this scene's hash
//! (the `output::metadata` module); a frame that is whole and matches is skipped, one from a different
//! scene makes the run refuse (exit code 2) unless `--overwrite` is given, in which case frames
//! of the old scene are removed rather than left mixed with new ones.
//!
//! **Stopping.** When `cancel` is set (SIGINT or SIGTERM, see `main.rs`), workers stop after
//! their current band, the frames already handed out are written, unfinished frames are
//! dropped, and [`Summary::cancelled`] tells the caller to report how to resume.
//!
//! **The render log.** Each rendered frame appends one JSON line to `render-log.jsonl` in the
//! output folder (see the `log` module).

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::kernel::select_kernel;
use crate::output::FrameSink;
use crate::output::metadata::scene_hash;
mod limits;
mod log;
mod recolor;
mod resume;

use limits::{check_memory, human_bytes};
pub use log::RENDER_LOG_NAME;
use log::budget_looks_low;
use log::{RenderLog, blank_frame_warning, budget_warning};
pub use resume::Survey;

use crate::expmap::{Cache, FrameMethod, MapPlan, SegmentMap};
pub use crate::output::png::PngCompression;
use crate::output::png::{ENCODER_QUEUE, FrameFolder, PngWriter, encoder_threads};
pub use crate::output::stream::PipeFormat;
use crate::output::stream::{
    DEFAULT_VIDEO_ARGS, FfmpegVideo, PAD_TO_EVEN, PipeSink, VideoSink, find_on_path, shell_command,
};
use crate::path::ZoomPath;
pub use crate::progress::ProgressMode;
use crate::progress::{Progress, WorkEstimate};
use crate::render::Renderer;
use crate::render::pipeline::ParallelSettings;
pub use crate::render::queue::Scheduler;
use crate::scene::{FRAME_SIDE, Method, Scene};
use crate::shard::Shard;
pub use crate::signals::Signals;

/// The folder, inside the output folder, of the octaves of exponential maps
/// (`[render] method = "expmap"`).
pub const EXPMAP_CACHE: &str = "expmap-cache";

/// What the user asked for on the command line, before validation.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The scene file.
    pub scene: PathBuf,
    /// `--set key=value` overrides, in order.
    pub overrides: Vec<String>,
    /// Output folder (default `frames/<scene stem>`).
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// `--frames A..B` or `--frames N`, as typed.
    pub frames: Option<String>,
    /// `--size WxH`, as typed.
    pub size: Option<String>,
    /// Quarter size, no supersampling.
    pub preview: bool,
    /// Re-render frames that exist.
    pub overwrite: bool,
    /// Rows per band (default 4).
    pub band_height: Option<u32>,
    /// Band scheduler (default lock-free).
    pub scheduler: Scheduler,
    /// PNG compression level.
    pub compression: PngCompression,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// `--pipe raw|png`: frames on stdout instead of files.
    pub pipe: Option<PipeFormat>,
    /// `--video FILE`: also encode the frames with ffmpeg into this file.
    pub video: Option<PathBuf>,
    /// `--ffmpeg-args`: replaces the default encoding arguments of `--video`.
    pub ffmpeg_args: Option<String>,
    /// `--shard K/N` or `--shard auto`, as typed.
    pub shard: Option<String>,
    /// `--shard-count N` (for `--shard auto` under Kubernetes).
    pub shard_count: Option<u64>,
    /// `--data`: escape data as OpenEXR beside each PNG.
    pub data: bool,
}

/// Where the frames of a run go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Numbered PNG files in the folder.
    Folder,
    /// Numbered PNG files, and a video encoded by ffmpeg on the fly.
    Video {
        /// The video file.
        path: PathBuf,
        /// The ffmpeg found on PATH.
        ffmpeg: PathBuf,
        /// Encoding arguments (between the input and the output).
        args: Vec<String>,
    },
    /// A stream on stdout, no files.
    Pipe(PipeFormat),
}

/// A validated run: everything needed to render, nothing written yet.
pub struct Plan {
    scene: Scene,
    path: ZoomPath,
    width: u32,
    height: u32,
    supersample: u32,
    /// Frames to consider, in the scene's numbering.
    frames: Range<u64>,
    folder: FrameFolder,
    parallel: ParallelSettings,
    overwrite: bool,
    compression: PngCompression,
    progress: ProgressMode,
    /// The frames this run is responsible for: `frames`, less other shards' frames.
    frame_list: Vec<u64>,
    shard: Option<Shard>,
    output: Output,
    /// `--data`: escape data as OpenEXR beside each PNG.
    data: bool,
    /// [`crate::output::metadata::scene_hash`] of this run.
    scene_hash: String,
    /// [`crate::output::metadata::data_hash`] of this run.
    data_hash: String,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("scene", &self.scene.source)
            .field("size", &(self.width, self.height, self.supersample))
            .field("frames", &self.frames)
            .field("folder", &self.folder)
            .field("parallel", &self.parallel)
            .finish_non_exhaustive()
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Frames rendered by this run.
    pub rendered: u64,
    /// Frames found done in the folder and skipped.
    pub skipped: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Iterations of `z -> z^2 + c` over the frames rendered.
    pub iterations: u64,
    /// Temporary files of an interrupted run that were removed.
    pub stale_temporaries: usize,
    /// The run was stopped (SIGINT/SIGTERM) before it was done.
    pub cancelled: bool,
    /// Untrusted samples over the deep frames rendered.
    pub glitches: u64,
    /// The finished video (`--video`).
    pub video: Option<PathBuf>,
    /// Frames of the range (this shard's share) still missing.
    pub missing: u64,
}

impl Plan {
    /// Where the frames go.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// Validates the scene and options. Every error here is bad input (exit code 2).
    pub fn new(options: &RunOptions) -> Result<Plan> {
        let scene = Scene::load_with_overrides(&options.scene, &options.overrides)?;
        let (mut width, mut height) = match &options.size {
            Some(text) => parse_size(text)?,
            None => (scene.video.width, scene.video.height),
        };
        let mut supersample = scene.render.supersample;
        if options.preview {
            (width, height) = preview_size(width, height);
            supersample = 1;
        }
        let frames = match &options.frames {
            Some(text) => parse_frames(text, scene.video.frames)?,
            None => 0..scene.video.frames,
        };
        let threads = match options.threads {
            Some(0) => {
                return Err(Error::Usage(
                    "--threads 0 is invalid (expected >= 1)".into(),
                ));
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let band_height = match options.band_height {
            Some(0) => {
                return Err(Error::Usage(
                    "--band-height 0 is invalid (expected >= 1)".into(),
                ));
            }
            Some(h) => h,
            None => 4,
        };
        let parallel = ParallelSettings {
            threads,
            band_height,
            scheduler: options.scheduler,
            frames_in_flight: 3,
            keep_escapes: options.data,
        };
        check_memory(
            (width, height, scene.video.bit_depth),
            supersample,
            &parallel,
        )?;
        let shard = match &options.shard {
            Some(text) => Some(Shard::parse(text, options.shard_count, &|name| {
                std::env::var(name).ok()
            })?),
            None if options.shard_count.is_some() => {
                return Err(Error::Usage("--shard-count needs --shard auto".into()));
            }
            None => None,
        };
        let output = output_of(options, width, height)?;
        if shard.is_some() && output != Output::Folder {
            return Err(Error::Usage(
                "--shard renders a share of the frames into the folder: it cannot be combined \
                 with --pipe or --video (make the video once every shard is done)"
                    .into(),
            ));
        }
        if options.data {
            if matches!(output, Output::Pipe(_)) {
                return Err(Error::Usage(
                    "--data writes files beside the frames: it cannot be combined with --pipe"
                        .into(),
                ));
            }
            if supersample != 1 {
                return Err(Error::Usage(format!(
                    "--data needs one sample per pixel, but the scene has supersample = \
                     {supersample}: add --set render.supersample=1 or --preview"
                )));
            }
        }
        let frame_list: Vec<u64> = frames
            .clone()
            .filter(|&f| shard.is_none_or(|s| s.owns(f)))
            .collect();
        let scene_hash = scene_hash(&scene, width, height, supersample);
        let data_hash = crate::output::metadata::data_hash(&scene, width, height, supersample);
        let out = options
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("frames").join(scene.stem()));
        let folder = FrameFolder::new(out, scene.video.frames);
        // A ZOOMGEN_KERNEL this CPU cannot run is bad input: refused here, before anything
        // is written (the renderer makes the same choice).
        select_kernel()?;
        Ok(Plan {
            path: ZoomPath::new(&scene),
            scene,
            width,
            height,
            supersample,
            frames,
            folder,
            parallel,
            overwrite: options.overwrite,
            compression: options.compression,
            progress: options.progress,
            frame_list,
            shard,
            output,
            data: options.data,
            scene_hash,
            data_hash,
        })
    }

    /// The plan as text, for `--check`.
    pub fn describe(&self) -> String {
        let video = &self.scene.video;
        let views: Vec<_> = self.frames.clone().map(|f| self.path.view(f)).collect();
        let deepest = views
            .iter()
            .map(|v| v.log10_width())
            .fold(f64::INFINITY, f64::min);
        let min_iter = views.iter().map(|v| v.max_iterations).min().unwrap_or(0);
        let max_iter = views.iter().map(|v| v.max_iterations).max().unwrap_or(0);
        let mut text = String::new();
        if let Some(title) = &self.scene.title {
            text += &format!("scene:          {title}\n");
        }
        text += &format!(
            "frames:         {} of {} ({}..{}), {:.2} s at {} fps\n",
            self.frames.end - self.frames.start,
            video.frames,
            self.frames.start,
            self.frames.end,
            video.frames as f64 / video.fps.per_second(),
            video.fps.human()
        );
        text += &format!(
            "size:           {}x{}, {}x{} samples per pixel\n",
            self.width, self.height, self.supersample, self.supersample
        );
        text += &format!("keyframes:      {}\n", self.scene.keyframes.len());
        text += &format!("deepest width:  {}\n", width_text(deepest));
        text += &format!("max iterations: {min_iter}..={max_iter}\n");
        text += &self.describe_method();
        if let Some(shard) = self.shard {
            text += &format!(
                "shard:          {} of {} ({} frames)\n",
                shard.index,
                shard.count,
                self.frame_list.len()
            );
        }
        match &self.output {
            Output::Pipe(format) => {
                text += &format!("output:         stdout ({format:?} frames)\n");
            }
            Output::Folder | Output::Video { .. } => {
                text += &format!(
                    "output:         {}\n",
                    self.folder.ffmpeg_pattern().display()
                );
            }
        }
        if let Output::Video { path, .. } = &self.output {
            text += &format!("video:          {}\n", path.display());
        }
        text += &format!("scene hash:     {}\n", self.scene_hash);
        text
    }

    /// Renders the frames that are missing (all of them with `overwrite`).
    pub fn execute(&self, cancel: &AtomicBool) -> Result<Summary> {
        let started = Instant::now();
        let to_folder = !matches!(self.output, Output::Pipe(_));
        let survey = if to_folder {
            self.survey()?
        } else {
            Survey {
                todo: self.frame_list.clone(),
                ..Survey::default()
            }
        };
        let stale_temporaries = if to_folder { self.prepare_folder()? } else { 0 };
        let todo = survey.todo.clone();
        let skipped = survey.done.len() as u64;
        let renderer = {
            // Shown only when there are orbits to compute (the callback ends with 1.0 anyway).
            let mut orbit_progress: Option<Progress> = None;
            let cache = to_folder.then(|| Cache {
                dir: self.cache_dir(),
                tag: self.data_hash.clone(),
            });
            let renderer = Renderer::prepare(
                &self.scene,
                (self.width, self.height, self.supersample),
                self.parallel,
                &todo,
                cache,
                &mut |f| {
                    if f < 1.0 || orbit_progress.is_some() {
                        orbit_progress
                            .get_or_insert_with(|| Progress::new(self.progress, Vec::new(), 0))
                            .orbit(f);
                    }
                },
            )?;
            if let Some(p) = orbit_progress {
                p.finish();
            }
            renderer
        };
        let kernels = renderer.kernels();
        let jobs = renderer.jobs(todo);
        let bands_per_frame = self
            .height
            .div_ceil(self.parallel.band_height.clamp(1, self.height));
        let samples =
            u64::from(self.width * self.supersample) * u64::from(self.height * self.supersample);
        // A frame from a map costs what looking its samples up and coloring them does; the
        // octaves' time shows in the frames' rate (the estimate's throughput is the frames'
        // work per second of the run).
        let costs = jobs
            .iter()
            .map(|j| {
                let assembled = renderer.maps().is_some_and(|m| m.assembles(j.view.frame));
                let budget = if assembled { 0 } else { j.view.max_iterations };
                WorkEstimate::frame_cost(samples, budget)
            })
            .collect();
        let progress =
            std::cell::RefCell::new(Progress::new(self.progress, costs, bands_per_frame.into()));
        if survey.damaged > 0 {
            progress.borrow().message(&format!(
                "rendering {} damaged frames again (cut short outside zoomgen)",
                survey.damaged
            ));
        }
        if skipped > 0 {
            progress.borrow().message(&format!(
                "skipping {skipped} frames already in {}",
                self.folder.dir().display()
            ));
        }
        let mut sinks = self.open_sinks(&progress.borrow(), &survey.done)?;
        let mut log = if to_folder {
            Some(RenderLog::open(self.folder.dir())?)
        } else {
            None
        };
        if let Some((orbits, bytes)) = kernels.orbits() {
            progress.borrow().message(&format!(
                "deep zoom: {orbits} reference orbits, {}",
                human_bytes(bytes as u64)
            ));
        }
        let mut warned = false;
        let mut warned_blank = false;
        let mut glitches = 0;
        let mut last_out = Instant::now();
        if let Some(maps) = renderer.maps() {
            let plan = maps.plan();
            progress.borrow().message(&format!(
                "expmap: {} of {} frames assembled from {} octaves of {} maps ({:.1}% of the \
                 samples of direct frames)",
                maps.map_frames(),
                plan.frames.len(),
                plan.octaves.len(),
                plan.maps_used(),
                100.0 * plan.sample_ratio(samples),
            ));
        }
        let (mut octaves_rendered, mut octaves_read) = (0, 0);
        let result = renderer.render_jobs(
            &jobs,
            cancel,
            &mut |_, from_cache| {
                if from_cache {
                    octaves_read += 1;
                } else {
                    octaves_rendered += 1;
                }
            },
            &mut |band| {
                if let Some(job) = jobs.get(band.frame_position) {
                    progress.borrow().band(band, job.view.frame);
                }
            },
            &mut |frame| {
                let number = frame.job.view.frame;
                progress.borrow_mut().frame(&frame);
                let frame_glitches = kernels.glitches(number);
                glitches += frame_glitches;
                if !warned_blank && let Some(text) = blank_frame_warning(&frame) {
                    warned_blank = true;
                    progress.borrow().message(&text);
                }
                if !warned && budget_looks_low(&frame) {
                    warned = true;
                    progress.borrow().message(&budget_warning(&frame));
                }
                if let Some(log) = &mut log {
                    let now = Instant::now();
                    log.frame(
                        &frame,
                        now.duration_since(last_out).as_secs_f64(),
                        kernels.name_of(number).unwrap_or("unknown"),
                        frame_glitches,
                        kernels.exact_samples(number),
                    )?;
                    last_out = now;
                }
                let frame = Arc::new(frame);
                sinks
                    .iter_mut()
                    .try_for_each(|sink| sink.accept(frame.clone()))
            },
        );
        // Every sink is finished, in order (PNG files before the video), even after an error:
        // a sink that is not complete drops what is unfinished. A stop that comes while the
        // PNG files are still being written abandons the video too.
        let mut outcome = result;
        let mut video = None;
        for sink in sinks {
            let complete = outcome.is_ok() && !cancel.load(Ordering::SeqCst);
            match sink.finish(complete) {
                Ok(made) => video = video.or(made),
                Err(e) => outcome = outcome.and(Err(e)),
            }
        }
        let cancelled = cancel.load(Ordering::SeqCst);
        if let Some(maps) = renderer.maps()
            && outcome.is_ok()
            && !cancelled
            && self.shard.is_none()
        {
            maps.clear_cache();
        }
        let progress = progress.into_inner();
        if let Some(maps) = renderer.maps() {
            let (untrusted, exact) = maps.glitches();
            glitches += untrusted;
            let deep = if untrusted + exact > 0 {
                format!("; deep octaves: {untrusted} glitches, {exact} samples iterated again")
            } else {
                String::new()
            };
            progress.message(&format!(
                "expmap: {octaves_rendered} octaves rendered, {octaves_read} read from the \
                 cache, at most {} held at once{deep}",
                human_bytes(maps.peak_bytes() as u64)
            ));
        }
        progress.finish();
        outcome?;
        let rendered = progress.frames_done();
        Ok(Summary {
            rendered,
            skipped,
            elapsed: started.elapsed(),
            iterations: progress.stats().iterations,
            stale_temporaries,
            cancelled,
            glitches,
            video,
            missing: (self.frame_list.len() as u64).saturating_sub(skipped + rendered),
        })
    }

    /// The sinks of this run, in the order they get each frame: PNG files (and escape data)
    /// in the folder unless piped, then the stream of `--pipe` or the video of `--video` (fed
    /// the frames in `done` from the folder in their turn); says on `progress` how a stream is
    /// read or encoded.
    fn open_sinks(&self, progress: &Progress, done: &[u64]) -> Result<Vec<Box<dyn FrameSink>>> {
        let mut sinks: Vec<Box<dyn FrameSink>> = Vec::new();
        if !matches!(self.output, Output::Pipe(_)) {
            sinks.push(Box::new(PngWriter::start_tagged(
                self.folder.clone(),
                self.compression,
                self.scene_hash.clone(),
                self.data.then(|| self.data_hash.clone()),
                encoder_threads(self.parallel.threads),
                ENCODER_QUEUE,
            )));
        }
        match &self.output {
            Output::Folder => {}
            Output::Pipe(format) => {
                progress.message(&format!(
                    "streaming frames to stdout; read them with:\n  {}",
                    crate::output::stream::pipe_command(
                        *format,
                        (self.width, self.height, self.scene.video.bit_depth),
                        self.scene.video.fps,
                        &format!("{}.mp4", self.scene.stem())
                    )
                ));
                sinks.push(Box::new(PipeSink::new(
                    *format,
                    self.compression,
                    self.scene_hash.clone(),
                )));
            }
            Output::Video { path, ffmpeg, args } => {
                let video = FfmpegVideo::start(
                    ffmpeg,
                    path,
                    (self.width, self.height, self.scene.video.bit_depth),
                    self.scene.video.fps,
                    args,
                )?;
                progress.message(&format!("encoding with: {}", video.command()));
                sinks.push(Box::new(VideoSink::new(
                    video,
                    done.to_vec(),
                    self.folder.clone(),
                    (self.width, self.height, self.scene.video.bit_depth),
                )));
            }
        }
        Ok(sinks)
    }

    /// The `method:` lines of [`Plan::describe`]: with `expmap`, how each segment is rendered
    /// and the samples its map saves.
    fn describe_method(&self) -> String {
        if self.scene.render.method == Method::Direct {
            return "method:         direct\n".into();
        }
        let size = (self.width, self.height, self.supersample);
        let plan = MapPlan::new(&self.scene, &self.path, &self.frame_list, size);
        let frame_samples =
            u64::from(self.width * self.supersample) * u64::from(self.height * self.supersample);
        let mut text = format!(
            "method:         expmap: {} of {} frames from maps, {:.1}% of the direct samples\n",
            plan.frames
                .iter()
                .filter(|(_, m)| *m != FrameMethod::Direct)
                .count(),
            plan.frames.len(),
            100.0 * plan.sample_ratio(frame_samples)
        );
        let last = self.scene.keyframes.len() - 1;
        for segment in 0..last {
            let range =
                self.scene.keyframes[segment].frame..self.scene.keyframes[segment + 1].frame;
            let frames: Vec<&(u64, FrameMethod)> = plan
                .frames
                .iter()
                .filter(|(f, _)| range.contains(f))
                .collect();
            if frames.is_empty() {
                continue;
            }
            let why = match frames.iter().find_map(|(_, m)| match m {
                FrameMethod::Map { map, .. } => Some(*map),
                FrameMethod::Direct => None,
            }) {
                Some(map) => {
                    let m = &plan.maps[map];
                    let octaves = plan.octaves.keys().filter(|(i, _)| *i == map).count();
                    let samples: f64 = plan
                        .octaves
                        .iter()
                        .filter(|((i, _), _)| *i == map)
                        .map(|(_, n)| f64::from(n.octave.angles) * f64::from(n.octave.rings))
                        .sum();
                    format!(
                        "map of {octaves} octaves of {}x{} samples about {:.6e}{:+.6e}i, {:.1}% \
                         of the direct samples",
                        m.angles,
                        m.rings,
                        m.center.re,
                        m.center.im,
                        100.0 * samples / (frames.len() as f64 * frame_samples as f64)
                    )
                }
                None => match SegmentMap::new(&self.scene, &self.path, segment, size) {
                    None => "direct (a pan, or the fixed point is too far from the frame)".into(),
                    Some(_) => "direct (the map would not save half the samples)".into(),
                },
            };
            text += &format!("  frames {}..{}: {why}\n", range.start, range.end);
        }
        text
    }

    /// The folder inside the output folder where exponential maps' octaves are cached.
    fn cache_dir(&self) -> PathBuf {
        self.folder.dir().join(EXPMAP_CACHE)
    }

    /// How to carry on after a stop: the same command again.
    pub fn resume_hint(&self) -> String {
        match self.output {
            Output::Pipe(_) => {
                "a piped run cannot resume: run it again (or render to a folder)".into()
            }
            _ => format!(
                "rerun the same command to resume: finished frames in {} are kept and skipped",
                self.folder.dir().display()
            ),
        }
    }

    /// The ffmpeg command that turns the frames into a video.
    ///
    /// Every word is quoted for a POSIX shell where it needs it (a path with spaces, the padding
    /// filter's parentheses), so the line can be pasted into a terminal as it is.
    pub fn ffmpeg_command(&self) -> String {
        let fps = self.scene.video.fps.to_string();
        let start = self.frames.start.to_string();
        let pattern = self.folder.ffmpeg_pattern().display().to_string();
        let video = format!("{}.mp4", self.scene.stem());
        let mut words: Vec<&str> = vec!["ffmpeg", "-framerate", &fps];
        if self.frames.start > 0 {
            words.extend(["-start_number", &start]);
        }
        words.extend(["-i", &pattern]);
        if self.width % 2 == 1 || self.height % 2 == 1 {
            words.extend(["-vf", PAD_TO_EVEN]);
        }
        words.extend(DEFAULT_VIDEO_ARGS.split(' '));
        words.push(&video);
        shell_command(&words)
    }
}

/// The smallest side `--preview` gives the longer side of a frame, so that a preview is large
/// enough to judge (unless the frame itself is smaller).
const PREVIEW_MIN_LONG_SIDE: u32 = 480;

/// The `--preview` size of a `width` x `height` frame: a quarter of each side, but the longer
/// side at least [`PREVIEW_MIN_LONG_SIDE`] (never more than the frame), keeping the aspect.
fn preview_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    let target = (long / 4).max(PREVIEW_MIN_LONG_SIDE).min(long);
    let scale = |side: u32| {
        ((u64::from(side) * u64::from(target) + u64::from(long) / 2) / u64::from(long)) as u32
    };
    (
        scale(width).max(*FRAME_SIDE.start()),
        scale(height).max(*FRAME_SIDE.start()),
    )
}

/// A width of view given as its log10, as a person writes it: `3.5`, `0.0123`, `2e-10`,
/// `1e-300` (three significant digits at most).
fn width_text(log10: f64) -> String {
    if !log10.is_finite() {
        return "?".into();
    }
    let mut exponent = log10.floor();
    let mut mantissa = 10f64.powf(log10 - exponent);
    // Round to three significant digits; 9.996 becomes 10, the next power.
    mantissa = (mantissa * 100.0).round() / 100.0;
    if mantissa >= 10.0 {
        mantissa /= 10.0;
        exponent += 1.0;
    }
    let digits = format!("{mantissa:.2}");
    let digits = digits.trim_end_matches('0').trim_end_matches('.');
    if (-3.0..=3.0).contains(&exponent) {
        let value = mantissa * 10f64.powf(exponent);
        let decimals = (2.0 - exponent).max(0.0) as usize;
        let text = format!("{value:.decimals$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    } else {
        format!("{digits}e{exponent}")
    }
}

/// Where the frames go, from `--pipe`, `--video` and `--ffmpeg-args`.
fn output_of(options: &RunOptions, width: u32, height: u32) -> Result<Output> {
    match (&options.pipe, &options.video) {
        (Some(_), Some(_)) => Err(Error::Usage(
            "--pipe and --video cannot be combined (--video runs ffmpeg itself)".into(),
        )),
        (Some(_), None) if options.ffmpeg_args.is_some() => Err(Error::Usage(
            "--ffmpeg-args goes with --video (with --pipe you run ffmpeg yourself)".into(),
        )),
        (Some(_), None) if std::io::IsTerminal::is_terminal(&std::io::stdout()) => {
            Err(Error::Usage(
                "--pipe writes binary frames to stdout, which is a terminal: pipe it into \
                 ffmpeg (zoomgen scene.toml --pipe raw | ffmpeg ...), or leave --pipe out to \
                 write PNG files"
                    .into(),
            ))
        }
        (Some(format), None) => Ok(Output::Pipe(*format)),
        (None, None) if options.ffmpeg_args.is_some() => {
            Err(Error::Usage("--ffmpeg-args goes with --video".into()))
        }
        (None, None) => Ok(Output::Folder),
        (None, Some(path)) => {
            let ffmpeg = find_on_path("ffmpeg").ok_or_else(|| {
                Error::Usage(
                    "--video needs ffmpeg, and there is no ffmpeg on PATH: install it \
                     (e.g. apt-get install ffmpeg), or render frames and make the video \
                     elsewhere"
                        .into(),
                )
            })?;
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !parent.is_dir() {
                return Err(Error::Usage(format!(
                    "--video {}: the folder {} does not exist",
                    path.display(),
                    parent.display()
                )));
            }
            if path.file_name().is_none() || path.is_dir() {
                return Err(Error::Usage(format!(
                    "--video {} is invalid (expected a file name such as zoom.mp4)",
                    path.display()
                )));
            }
            let args = match &options.ffmpeg_args {
                Some(text) => text.split_whitespace().map(str::to_string).collect(),
                None => {
                    let mut args: Vec<String> =
                        DEFAULT_VIDEO_ARGS.split(' ').map(str::to_string).collect();
                    if width % 2 == 1 || height % 2 == 1 {
                        // yuv420p needs even sides.
                        args.extend(["-vf".into(), PAD_TO_EVEN.into()]);
                    }
                    args
                }
            };
            Ok(Output::Video {
                path: path.clone(),
                ffmpeg,
                args,
            })
        }
    }
}

/// Parses `--size WxH`.
fn parse_size(text: &str) -> Result<(u32, u32)> {
    let bad = |why: &str| Error::Usage(format!("--size {text} is invalid ({why})"));
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| bad("expected WIDTHxHEIGHT, e.g. 1920x1080"))?;
    let side = |s: &str| -> Result<u32> {
        let v: u32 = s
            .trim()
            .parse()
            .map_err(|_| bad("expected WIDTHxHEIGHT, e.g. 1920x1080"))?;
        if FRAME_SIDE.contains(&v) {
            Ok(v)
        } else {
            Err(bad("expected each side in 16..=16384"))
        }
    };
    Ok((side(w)?, side(h)?))
}

/// Parses `--frames A..B` (half-open) or `--frames N` against a scene of `total` frames.
fn parse_frames(text: &str, total: u64) -> Result<Range<u64>> {
    let bad = |why: String| Error::Usage(format!("--frames {text} is invalid ({why})"));
    let number = |s: &str| -> Result<u64> {
        s.trim()
            .parse()
            .map_err(|_| bad("expected A..B, A.., ..B or N, e.g. 0..100, 150.. or 42".into()))
    };
    // An open end runs to the scene's end; an open start from frame 0.
    let bound = |s: &str, open: u64| {
        if s.trim().is_empty() {
            Ok(open)
        } else {
            number(s)
        }
    };
    let range = match text.split_once("..") {
        Some((a, b)) => bound(a, 0)?..bound(b, total)?,
        None => {
            let n = number(text)?;
            n..n.saturating_add(1)
        }
    };
    if range.start >= range.end {
        return Err(bad("the range is empty".into()));
    }
    if range.end > total {
        return Err(bad(format!(
            "the scene has {total} frames, numbered 0..{total}"
        )));
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ranges() {
        assert_eq!(parse_frames("0..10", 10).unwrap(), 0..10);
        assert_eq!(parse_frames("3", 10).unwrap(), 3..4);
        assert!(parse_frames("5..5", 10).is_err());
        assert!(parse_frames("0..11", 10).is_err());
        assert!(parse_frames("10", 10).is_err());
        assert!(parse_frames("a..b", 10).is_err());
        assert!(parse_frames("-1", 10).is_err());
        // Open ranges run to the end, or from the start.
        assert_eq!(parse_frames("7..", 10).unwrap(), 7..10);
        assert_eq!(parse_frames("..4", 10).unwrap(), 0..4);
        assert_eq!(parse_frames("..", 10).unwrap(), 0..10);
        assert!(parse_frames("10..", 10).is_err());
        assert!(parse_frames("x..", 10).is_err());
    }

    #[test]
    fn widths_print_as_people_write_them() {
        assert_eq!(width_text(3.5f64.log10()), "3.5");
        assert_eq!(width_text(2e-10f64.log10()), "2e-10");
        assert_eq!(width_text(-9.70), "2e-10");
        assert_eq!(width_text(-11.0), "1e-11");
        assert_eq!(width_text(-300.0), "1e-300");
        assert_eq!(width_text(0.0123f64.log10()), "0.0123");
        assert_eq!(width_text(1.5e-4f64.log10()), "1.5e-4");
        assert_eq!(width_text(3.2f64.log10()), "3.2");
        assert_eq!(width_text(0.00015f64.log10()), "1.5e-4");
        assert_eq!(width_text(9.999f64.log10()), "10");
    }

    #[test]
    fn previews_keep_the_aspect_and_a_usable_size() {
        assert_eq!(preview_size(1920, 1080), (480, 270));
        assert_eq!(preview_size(3840, 2160), (960, 540));
        assert_eq!(preview_size(640, 360), (480, 270));
        assert_eq!(preview_size(1080, 1920), (270, 480));
        // Never larger than the frame, never below the smallest side.
        assert_eq!(preview_size(320, 180), (320, 180));
        assert_eq!(preview_size(4000, 16), (1000, 16));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1920x1080").unwrap(), (1920, 1080));
        assert!(parse_size("15x100").is_err());
        assert!(parse_size("100x16385").is_err());
        assert!(parse_size("100").is_err());
        let e = parse_size("axb").unwrap_err().to_string();
        assert!(e.contains("--size axb"), "{e}");
    }
}
