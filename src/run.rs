//! A render run, top to bottom: plan (validate everything), then render, then report.
//!
//! [`Plan::new`] does every check that can fail on bad input (scene, command-line values,
//! memory) before anything touches the disk, so bad input exits with code 2 and writes
//! nothing. [`Plan::execute`] then creates the folder, skips finished frames, renders the rest
//! and returns a [`Summary`].

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::bands::Scheduler;
use crate::color::Palette;
use crate::deep::DeepRenderer;
use crate::error::{Error, Result};
use crate::kernel::{Kernel, select_kernel};
use crate::output::{FrameFolder, PngCompression, PngWriter};
use crate::path::ZoomPath;
use crate::pipeline::{KernelSource, ParallelSettings, render_frames};
use crate::progress::{Progress, ProgressMode};
use crate::render::{FrameJob, RenderStats};
use crate::scene::Scene;

/// Smallest and largest frame side, as for the scene file.
const SIZE_RANGE: std::ops::RangeInclusive<u32> = 16..=16384;

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
}

/// A validated run: everything needed to render, nothing written yet.
pub struct Plan {
    pub scene: Scene,
    pub path: ZoomPath,
    pub width: u32,
    pub height: u32,
    pub supersample: u32,
    /// Frames to consider, in the scene's numbering.
    pub frames: Range<u64>,
    pub folder: FrameFolder,
    pub parallel: ParallelSettings,
    pub overwrite: bool,
    pub compression: PngCompression,
    pub progress: ProgressMode,
    pub kernel: Arc<dyn Kernel>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("scene", &self.scene.source)
            .field("size", &(self.width, self.height, self.supersample))
            .field("frames", &self.frames)
            .field("folder", &self.folder)
            .field("parallel", &self.parallel)
            .field("kernel", &self.kernel.name())
            .finish_non_exhaustive()
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub rendered: u64,
    pub skipped: u64,
    pub elapsed: Duration,
    pub stats: RenderStats,
    pub stale_temporaries: usize,
}

impl Plan {
    /// Validates the scene and options. Every error here is bad input (exit code 2).
    pub fn new(options: &RunOptions) -> Result<Plan> {
        let scene = Scene::load_with_overrides(&options.scene, &options.overrides)?;
        let (mut width, mut height) = match &options.size {
            Some(text) => parse_size(text)?,
            None => (scene.video.width, scene.video.height),
        };
        let mut supersample = scene.render.supersample;
        if options.preview {
            width = (width / 4).max(*SIZE_RANGE.start());
            height = (height / 4).max(*SIZE_RANGE.start());
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
            keep_escapes: false,
        };
        check_memory(width, height, supersample, &parallel)?;
        let out = options
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("frames").join(scene.stem()));
        let folder = FrameFolder::new(out, scene.video.frames);
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
            kernel: Arc::from(select_kernel().map_err(Error::Usage)?),
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
            video.frames as f64 / f64::from(video.fps),
            video.fps
        );
        text += &format!(
            "size:           {}x{}, {}x{} samples per pixel\n",
            self.width, self.height, self.supersample, self.supersample
        );
        text += &format!("keyframes:      {}\n", self.scene.keyframes.len());
        text += &format!("deepest width:  1e{deepest:.2}\n");
        text += &format!("max iterations: {min_iter}..={max_iter}\n");
        text += &format!(
            "output:         {}\n",
            self.folder.ffmpeg_pattern().display()
        );
        text
    }

    /// The jobs of the frames in `frames`.
    pub fn jobs(&self, frames: impl IntoIterator<Item = u64>) -> Vec<FrameJob> {
        frames
            .into_iter()
            .map(|f| FrameJob::new(self.path.view(f), self.width, self.height, self.supersample))
            .collect()
    }

    /// The kernels for `frames`: plain `f64` where it is exact enough, perturbation against
    /// reference orbits (computed here, reporting progress) for deeper frames.
    pub fn kernels(&self, frames: &[u64], progress: &mut dyn FnMut(f64)) -> Result<RunKernels> {
        let deep = DeepRenderer::new(
            &self.scene,
            &self.path,
            frames,
            self.width,
            self.height,
            self.supersample,
            progress,
        )
        .map_err(Error::Render)?;
        Ok(RunKernels {
            plain: self.kernel.clone(),
            deep: (deep.orbit_count() > 0).then_some(deep),
        })
    }

    /// Renders the frames that are missing (all of them with `overwrite`).
    pub fn execute(&self, cancel: &AtomicBool) -> Result<Summary> {
        self.folder.create()?;
        let stale_temporaries = self.folder.remove_stale_temporaries()?;
        let todo: Vec<u64> = self
            .frames
            .clone()
            .filter(|&f| self.overwrite || !self.folder.has_frame(f))
            .collect();
        let skipped = (self.frames.end - self.frames.start) - todo.len() as u64;
        let kernels = {
            // Shown only when there are orbits to compute (the callback ends with 1.0 anyway).
            let mut orbit_progress: Option<Progress> = None;
            let kernels = self.kernels(&todo, &mut |f| {
                if f < 1.0 || orbit_progress.is_some() {
                    orbit_progress
                        .get_or_insert_with(|| Progress::new(self.progress, 0, 0))
                        .orbit(f);
                }
            })?;
            if let Some(p) = orbit_progress {
                p.finish();
            }
            kernels
        };
        let jobs = self.jobs(todo);
        let palette = Palette::new(&self.scene.color);
        let bands_per_frame = self
            .height
            .div_ceil(self.parallel.band_height.clamp(1, self.height));
        let progress = std::cell::RefCell::new(Progress::new(
            self.progress,
            jobs.len() as u64,
            bands_per_frame.into(),
        ));
        if skipped > 0 {
            progress.borrow().message(&format!(
                "skipping {skipped} frames already in {}",
                self.folder.dir().display()
            ));
        }
        let encoders = self.parallel.threads.div_ceil(8);
        let writer = PngWriter::start(self.folder.clone(), self.compression, encoders, 2);
        if let Some(deep) = &kernels.deep {
            progress.borrow().message(&format!(
                "deep zoom: {} reference orbits, {}",
                deep.orbit_count(),
                human_bytes(deep.orbit_memory_bytes() as u64)
            ));
        }
        let result = render_frames(
            &jobs,
            &kernels,
            &palette,
            &self.parallel,
            cancel,
            &mut |band| {
                if let Some(job) = jobs.get(band.frame_position) {
                    progress.borrow().band(band, job.view.frame);
                }
            },
            &mut |frame| {
                progress.borrow_mut().frame(&frame);
                writer.submit(frame)
            },
        );
        let finished = writer.finish();
        let progress = progress.into_inner();
        progress.finish();
        result?;
        finished?;
        Ok(Summary {
            rendered: progress.frames_done(),
            skipped,
            elapsed: progress.elapsed(),
            stats: progress.stats(),
            stale_temporaries,
        })
    }

    /// The ffmpeg command that turns the frames into a video.
    pub fn ffmpeg_command(&self) -> String {
        let mut command = format!("ffmpeg -framerate {}", self.scene.video.fps);
        if self.frames.start > 0 {
            command += &format!(" -start_number {}", self.frames.start);
        }
        command += &format!(" -i {}", self.folder.ffmpeg_pattern().display());
        if self.width % 2 == 1 || self.height % 2 == 1 {
            // yuv420p needs even sides.
            command += " -vf pad=ceil(iw/2)*2:ceil(ih/2)*2";
        }
        command += &format!(
            " -c:v libx264 -pix_fmt yuv420p -crf 18 {}.mp4",
            self.scene.stem()
        );
        command
    }
}

/// The kernels of a run: one plain kernel, and perturbation for deep frames.
pub struct RunKernels {
    plain: Arc<dyn Kernel>,
    deep: Option<DeepRenderer>,
}

impl std::fmt::Debug for RunKernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunKernels")
            .field("plain", &self.plain.name())
            .field("deep", &self.deep)
            .finish()
    }
}

impl KernelSource for RunKernels {
    fn kernel_for(&self, job: &FrameJob) -> Arc<dyn Kernel> {
        self.deep
            .as_ref()
            .and_then(|deep| deep.kernel_for(&job.view, &job.grid))
            .unwrap_or_else(|| self.plain.clone())
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
        if SIZE_RANGE.contains(&v) {
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
            .map_err(|_| bad("expected A..B or N, e.g. 0..100 or 42".into()))
    };
    let range = match text.split_once("..") {
        Some((a, b)) => number(a)?..number(b)?,
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

/// Refuses frames that would not fit in memory, saying what they would need.
fn check_memory(
    width: u32,
    height: u32,
    supersample: u32,
    parallel: &ParallelSettings,
) -> Result<()> {
    let frame = u64::from(width) * u64::from(height) * 3;
    // Frames being assembled and waiting to be encoded, plus each worker's band and samples.
    let in_flight = parallel.frames_in_flight as u64 + 2 + parallel.threads.div_ceil(8) as u64;
    let band = u64::from(width)
        * u64::from(supersample * supersample)
        * 8
        * u64::from(parallel.band_height);
    let need = frame * in_flight + band * parallel.threads as u64;
    let Some((limit, source)) = memory_limit() else {
        return Ok(());
    };
    if need > limit {
        return Err(Error::Usage(format!(
            "a {width}x{height} frame is too large to render here: it needs {} of memory \
             ({in_flight} frames in flight), but only {} is available ({source}); \
             lower --size or video.width/video.height",
            human_bytes(need),
            human_bytes(limit)
        )));
    }
    Ok(())
}

/// The memory zoomgen may use: `ZOOMGEN_MEMORY_LIMIT` (bytes, or with a K/M/G suffix), else
/// the system's available memory.
fn memory_limit() -> Option<(u64, &'static str)> {
    if let Ok(text) = std::env::var("ZOOMGEN_MEMORY_LIMIT") {
        let text = text.trim();
        let (digits, scale) = match text.chars().last() {
            Some('K' | 'k') => (&text[..text.len() - 1], 1u64 << 10),
            Some('M' | 'm') => (&text[..text.len() - 1], 1 << 20),
            Some('G' | 'g') => (&text[..text.len() - 1], 1 << 30),
            _ => (text, 1),
        };
        if let Ok(v) = digits.parse::<u64>() {
            return Some((v.saturating_mul(scale), "ZOOMGEN_MEMORY_LIMIT"));
        }
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib * 1024, "MemAvailable in /proc/meminfo"))
}

fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
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
