//! Rendering: frame numbers in, pixels out, on every core.
//!
//! [`Renderer`] is the library's front door: built once from a [`Scene`] (validating the size,
//! choosing the kernels, computing the reference orbits of deep frames), it renders any frame it
//! was prepared for into a buffer, plain or deep chosen inside, with any number of threads. The
//! command line and the tests render through it; the benches also time its parts (a band, the
//! pipeline) on their own.
//!
//! Inside: a frame is a [`job::FrameJob`]; its rows are cut into bands ([`band`]) that workers
//! claim from a lock-free queue ([`queue`]); [`pipeline`] keeps several frames in flight and
//! hands each finished frame on in order; [`kernels`] gives each frame its kernel.

pub mod band;
pub mod job;
pub mod kernels;
pub mod pipeline;
pub mod queue;

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use band::{FrameKernel, RenderStats, render_band};
pub use job::FrameJob;

use crate::color::Look;
use crate::expmap::{Cache, FrameMethod, Maps, Octave, SegmentMap};
use pipeline::KernelSource;
use crate::error::{Error, Result};
use crate::path::ZoomPath;
use crate::scene::{FRAME_SIDE, Method, SUPERSAMPLE_RANGE, Scene};
use kernels::FrameKernels;
use pipeline::{BandProgress, ParallelSettings, RenderedFrame, render_frames};

/// How a [`Renderer`] renders; every field defaults to the scene's value or the machine's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Frame size in pixels, each side in `16..=16384` (default: the scene's `[video]` size).
    /// The view keeps its width in the complex plane.
    pub size: Option<(u32, u32)>,
    /// Samples per pixel along each axis, `1..=8` (default: the scene's `supersample`).
    pub supersample: Option<u32>,
    /// The frames the renderer will be asked for (default: all of the scene's). The reference
    /// orbits of deep frames are computed for these when the renderer is built.
    pub frames: Option<Range<u64>>,
    /// Worker threads, >= 1 (default: every core).
    pub threads: Option<usize>,
    /// Rows per band handed to a worker, >= 1 (default 4).
    pub band_height: Option<u32>,
}

/// Renders the frames of one scene at one size.
///
/// Built by [`Renderer::new`]; [`Renderer::render_frame`] renders one frame into a buffer of
/// [`Renderer::frame_bytes`] bytes (RGB, 8 bits per channel, or 16 big-endian with the scene's
/// `[video] bit_depth = 16`; rows top to bottom). A pixel depends
/// only on the scene, the size and the frame number: never on the thread count or the kernel.
pub struct Renderer {
    path: ZoomPath,
    width: u32,
    height: u32,
    supersample: u32,
    look: Look,
    /// Bits per channel of the frames (from the scene).
    depth: crate::scene::BitDepth,
    kernels: FrameKernels,
    parallel: ParallelSettings,
    /// The frames this renderer was prepared for, in order.
    frames: Vec<u64>,
    /// With `[render] method = "expmap"`: the maps its zooms are assembled from.
    maps: Option<Maps>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("size", &(self.width, self.height, self.supersample))
            .field("kernels", &self.kernels)
            .field("parallel", &self.parallel)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// A renderer for `scene` with `options`, ready to render the frames of
    /// [`RenderOptions::frames`]. Fails on an invalid option (a size or supersampling out of
    /// range, zero threads, a frame range outside the scene) or an unusable `ZOOMGEN_KERNEL`.
    pub fn new(scene: &Scene, options: RenderOptions) -> Result<Renderer> {
        let (width, height) = options
            .size
            .unwrap_or((scene.video.width, scene.video.height));
        let invalid = |option, value: String, expected: String| Error::InvalidOption {
            option,
            value,
            expected,
        };
        let range = |r: &std::ops::RangeInclusive<u32>| format!("{}..={}", r.start(), r.end());
        for (option, side) in [("frame width", width), ("frame height", height)] {
            if !FRAME_SIDE.contains(&side) {
                return Err(invalid(option, side.to_string(), range(&FRAME_SIDE)));
            }
        }
        let supersample = options.supersample.unwrap_or(scene.render.supersample);
        if !SUPERSAMPLE_RANGE.contains(&supersample) {
            return Err(invalid(
                "supersample",
                supersample.to_string(),
                range(&SUPERSAMPLE_RANGE),
            ));
        }
        let frames = options.frames.unwrap_or(0..scene.video.frames);
        if frames.end > scene.video.frames || frames.start >= frames.end {
            return Err(invalid(
                "frames",
                format!("{}..{}", frames.start, frames.end),
                format!("a non-empty range within 0..{}", scene.video.frames),
            ));
        }
        let mut parallel = ParallelSettings::default();
        match options.threads {
            Some(0) => return Err(invalid("threads", "0".into(), ">= 1".into())),
            Some(n) => parallel.threads = n,
            None => {}
        }
        match options.band_height {
            Some(0) => return Err(invalid("band height", "0".into(), ">= 1".into())),
            Some(h) => parallel.band_height = h,
            None => {}
        }
        let frames: Vec<u64> = frames.collect();
        Renderer::prepare(
            scene,
            (width, height, supersample),
            parallel,
            &frames,
            None,
            &mut |_| {},
        )
    }

    /// A renderer from values already validated (the command line's plan), reporting the
    /// progress of the reference orbits (0 to 1) to `progress`; the octaves of exponential
    /// maps are cached in `cache` when given.
    pub(crate) fn prepare(
        scene: &Scene,
        (width, height, supersample): (u32, u32, u32),
        parallel: ParallelSettings,
        frames: &[u64],
        cache: Option<Cache>,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Renderer> {
        let path = ZoomPath::new(scene);
        let size = (width, height, supersample);
        let look = Look::new(&scene.color, &scene.video);
        let maps = (scene.render.method == Method::Expmap).then(|| {
            Maps::new(scene, &path, frames, size, cache, (&look, parallel.keep_escapes))
        });
        // Orbits for the frames rendered directly; the maps' deep octaves get theirs when
        // they are first rendered.
        let direct: Vec<u64> = match &maps {
            Some(m) => m
                .plan()
                .frames
                .iter()
                .filter(|(_, method)| *method == FrameMethod::Direct)
                .map(|(f, _)| *f)
                .collect(),
            None => frames.to_vec(),
        };
        let deep_octaves = maps
            .as_ref()
            .is_some_and(|m| m.plan().octaves.values().any(|n| n.octave.deep));
        let kernels = FrameKernels::new(scene, &path, &direct, size, deep_octaves, progress)?;
        Ok(Renderer {
            maps,
            look,
            depth: scene.video.bit_depth,
            path,
            width,
            height,
            supersample,
            kernels,
            parallel,
            frames: frames.to_vec(),
        })
    }

    /// Frame width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Bytes of one frame: `width * height * 3` (8-bit channels), or twice that with the
    /// scene's `bit_depth = 16` (big-endian 16-bit channels).
    pub fn frame_bytes(&self) -> usize {
        self.width as usize * self.height as usize * 3 * self.depth.bytes()
    }

    /// Renders frame `frame` into `out` ([`Renderer::frame_bytes`] bytes of RGB, rows top to
    /// bottom) with the renderer's threads. Fails when `out` has another length or the frame is
    /// not one the renderer was prepared for.
    pub fn render_frame(&self, frame: u64, out: &mut [u8]) -> Result<()> {
        if out.len() != self.frame_bytes() {
            return Err(Error::InvalidOption {
                option: "buffer length",
                value: out.len().to_string(),
                expected: format!(
                    "{} bytes, a {}x{} RGB frame",
                    self.frame_bytes(),
                    self.width,
                    self.height
                ),
            });
        }
        if let Some(rendered) = self.render_one(frame, false)? {
            out.copy_from_slice(&rendered.pixels);
        }
        Ok(())
    }

    /// Every sample's escape and slope of frame `frame`, row by row (what `--data` writes),
    /// for the tests that check the escape data against the renderer.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    #[allow(clippy::type_complexity)]
    pub fn render_escapes(
        &self,
        frame: u64,
    ) -> Result<(Vec<crate::kernel::Escape>, Vec<crate::kernel::Slope>)> {
        self.render_one(frame, true)?
            .and_then(|rendered| rendered.escapes.zip(rendered.slopes))
            .ok_or(Error::NoEscapeData(frame))
    }

    /// Renders one frame the renderer was prepared for (an error names any other), keeping every
    /// sample's escape with `keep_escapes`. `None` only if the pipeline handed out nothing,
    /// which an uncancelled run never does.
    fn render_one(&self, frame: u64, keep_escapes: bool) -> Result<Option<RenderedFrame>> {
        if self.frames.binary_search(&frame).is_err() {
            return Err(Error::InvalidOption {
                option: "frame",
                value: frame.to_string(),
                expected: "one of the frames the renderer was prepared for".into(),
            });
        }
        let parallel = ParallelSettings {
            keep_escapes,
            ..self.parallel
        };
        let mut result = None;
        self.render_jobs_with(
            &self.jobs([frame]),
            &parallel,
            &AtomicBool::new(false),
            &mut |_, _| {},
            &mut |_| {},
            &mut |rendered| {
                result = Some(rendered);
                Ok(())
            },
        )?;
        debug_assert!(result.is_some(), "an uncancelled run hands out every frame");
        Ok(result)
    }

    /// The jobs of `frames`, with the exact geometry of deep frames.
    pub(crate) fn jobs(&self, frames: impl IntoIterator<Item = u64>) -> Vec<FrameJob> {
        frames
            .into_iter()
            .map(|f| {
                let mut job =
                    FrameJob::new(self.path.view(f), self.width, self.height, self.supersample);
                job.exact = self.kernels.geometry(&job).map(Arc::new);
                job.color = self.look.frame_color(&job.view, &job.grid);
                job
            })
            .collect()
    }

    /// Renders `jobs` (from [`Renderer::jobs`]) on the renderer's threads and hands each frame to
    /// `on_frame` in order; see [`pipeline::render_frames`].
    pub(crate) fn render_jobs(
        &self,
        jobs: &[FrameJob],
        cancel: &AtomicBool,
        on_octave: &mut dyn FnMut(&Octave, bool),
        on_band: &mut dyn FnMut(BandProgress),
        on_frame: &mut dyn FnMut(RenderedFrame) -> Result<()>,
    ) -> Result<()> {
        self.render_jobs_with(jobs, &self.parallel, cancel, on_octave, on_band, on_frame)
    }

    /// [`Renderer::render_jobs`] with `parallel` settings. With maps, the frames go in runs:
    /// the octaves the first frame of a run reads are read from the cache or rendered (on
    /// every thread, `on_octave` told of each), then the frames that need no other octave are
    /// assembled, then the octaves no later frame reads are let go.
    fn render_jobs_with(
        &self,
        jobs: &[FrameJob],
        parallel: &ParallelSettings,
        cancel: &AtomicBool,
        on_octave: &mut dyn FnMut(&Octave, bool),
        on_band: &mut dyn FnMut(BandProgress),
        on_frame: &mut dyn FnMut(RenderedFrame) -> Result<()>,
    ) -> Result<()> {
        let Some(maps) = &self.maps else {
            return render_frames(
                jobs,
                &self.kernels,
                &self.look,
                parallel,
                cancel,
                on_band,
                on_frame,
            );
        };
        let source = MapSource {
            kernels: &self.kernels,
            maps,
        };
        let kernel_of = |map: &SegmentMap, octave: &Octave, needs, counters| {
            self.kernels.ring_kernel(map, octave, needs, counters)
        };
        let mut start = 0;
        while start < jobs.len() && !cancel.load(std::sync::atomic::Ordering::SeqCst) {
            let first = jobs[start].view.frame;
            if !maps.prepare(first, &kernel_of, parallel.threads, cancel, on_octave)? {
                break;
            }
            let end = start
                + 1
                + jobs[start + 1..]
                    .iter()
                    .take_while(|j| maps.ready(j.view.frame))
                    .count();
            render_frames(
                &jobs[start..end],
                &source,
                &self.look,
                parallel,
                cancel,
                &mut |band| {
                    on_band(BandProgress {
                        frame_position: band.frame_position + start,
                        ..band
                    })
                },
                on_frame,
            )?;
            if !cancel.load(std::sync::atomic::Ordering::SeqCst) {
                maps.release_through(jobs[end - 1].view.frame);
            }
            start = end;
        }
        Ok(())
    }

    /// The maps the renderer assembles frames from (`[render] method = "expmap"`).
    pub(crate) fn maps(&self) -> Option<&Maps> {
        self.maps.as_ref()
    }

    /// The kernels of the renderer's frames (names, glitches, orbits).
    pub(crate) fn kernels(&self) -> &FrameKernels {
        &self.kernels
    }
}

/// The kernels of a run with maps: a [`MapKernel`] for the frames a map assembles, the
/// run's kernels for the others.
struct MapSource<'a> {
    kernels: &'a FrameKernels,
    maps: &'a Maps,
}

impl KernelSource for MapSource<'_> {
    fn kernel_for(&self, job: &FrameJob) -> FrameKernel {
        match self.maps.kernel(&job.view) {
            Some(kernel) => {
                self.kernels.note(job.view.frame, "expmap");
                FrameKernel::Map(Arc::new(kernel))
            }
            None => self.kernels.kernel_for(job),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENE: &str = r#"
        [video]
        width = 32
        height = 18
        frames = 4
        [render]
        supersample = 2
        [[keyframe]]
        frame = 0
        center = ["-0.75", "0.0"]
        width = 3.5
        [[keyframe]]
        frame = 3
        center = ["-0.743643887037158704752191506114774", "0.131825904205311970493132056385139"]
        width = "1e-25"
    "#;

    /// Any thread count and band height gives the same bytes, plain and deep frames alike, and
    /// frames differ from one another.
    #[test]
    fn frames_do_not_depend_on_threads_or_bands() {
        let scene: Scene = SCENE.parse().unwrap();
        let render = |threads, band_height, frame| {
            let options = RenderOptions {
                threads: Some(threads),
                band_height: Some(band_height),
                ..RenderOptions::default()
            };
            let renderer = Renderer::new(&scene, options).unwrap();
            let mut out = vec![0; renderer.frame_bytes()];
            renderer.render_frame(frame, &mut out).unwrap();
            out
        };
        for frame in [0, 3] {
            let one = render(1, 4, frame);
            assert_eq!(one, render(3, 1, frame), "frame {frame}");
            assert_eq!(one, render(2, 7, frame), "frame {frame}");
        }
        assert_ne!(render(1, 4, 0), render(1, 4, 3));
    }

    /// With `method = "expmap"` the library assembles frames from the map: one by one, in
    /// any order, on any number of threads, the same bytes, close to the direct frame.
    #[test]
    fn frames_from_a_map_through_the_library() {
        let text = r#"
            [video]
            width = 48
            height = 27
            frames = 240
            [render]
            supersample = 2
            method = "expmap"
            [[keyframe]]
            frame = 0
            center = ["-0.7436438870371587", "0.1318259042053119"]
            width = 0.01
            [[keyframe]]
            frame = 239
            center = ["-0.7436438870371587", "0.1318259042053119"]
            width = 0.0025
            rotation = 30.0
        "#;
        let scene: Scene = text.parse().unwrap();
        let renderer = |threads| {
            let options = RenderOptions {
                threads: Some(threads),
                ..RenderOptions::default()
            };
            Renderer::new(&scene, options).unwrap()
        };
        let (one, three) = (renderer(1), renderer(3));
        assert!(one.maps().is_some_and(|m| m.assembles(100)));
        let mut a = vec![0; one.frame_bytes()];
        let mut b = a.clone();
        for frame in [100, 101, 50, 238] {
            one.render_frame(frame, &mut a).unwrap();
            three.render_frame(frame, &mut b).unwrap();
            assert_eq!(a, b, "frame {frame}");
        }
        // Against the frame computed directly with 6x6 samples, the map's frame is as close
        // as the direct frame with the scene's 2x2 (to within 10%).
        let direct = |supersample: &str| {
            let scene: Scene = text
                .replace("method = \"expmap\"", "")
                .replace("supersample = 2", supersample)
                .parse()
                .unwrap();
            let renderer = Renderer::new(&scene, RenderOptions::default()).unwrap();
            let mut pixels = vec![0; renderer.frame_bytes()];
            renderer.render_frame(238, &mut pixels).unwrap();
            pixels
        };
        let (d, reference) = (direct("supersample = 2"), direct("supersample = 6"));
        assert_ne!(a, d, "the map's frame is its own");
        let diff = |x: &[u8]| {
            x.iter().zip(&reference).map(|(&p, &q)| f64::from(p.abs_diff(q))).sum::<f64>()
                / x.len() as f64
        };
        assert!(diff(&a) <= 1.1 * diff(&d), "map {}, direct {}", diff(&a), diff(&d));
    }

    /// A map frame's counts are over the map samples its pixels averaged: at least the
    /// frame's own samples, interior ones among them, never more interior than in all.
    #[test]
    fn a_map_frame_counts_the_map_samples_it_averaged() {
        let text = r#"
            [video]
            width = 48
            height = 27
            frames = 240
            [render]
            supersample = 2
            method = "expmap"
            max_iterations = 200
            [[keyframe]]
            frame = 0
            center = ["-0.2", "0.0"]
            width = 2.0
            [[keyframe]]
            frame = 239
            center = ["-0.2", "0.0"]
            width = 0.5
        "#;
        let scene: Scene = text.parse().unwrap();
        let renderer = Renderer::new(&scene, RenderOptions::default()).unwrap();
        assert!(renderer.maps().is_some_and(|m| m.assembles(120)));
        let jobs = renderer.jobs([120]);
        let mut stats = None;
        renderer
            .render_jobs(
                &jobs,
                &AtomicBool::new(false),
                &mut |_, _| {},
                &mut |_| {},
                &mut |frame| {
                    stats = Some(frame.stats);
                    Ok(())
                },
            )
            .unwrap();
        let stats = stats.unwrap();
        assert!(stats.samples >= 96 * 54, "{stats:?}");
        assert!(stats.interior > 0 && stats.interior < stats.samples, "{stats:?}");
        let mean = stats.escape_mean();
        assert!(mean > 1.0 && mean < 200.0, "{mean} {stats:?}");
        assert!(stats.escape_max < 200, "{stats:?}");
    }

    #[test]
    fn bad_options_and_buffers_are_refused() {
        let scene: Scene = SCENE.parse().unwrap();
        let bad = |options: RenderOptions| Renderer::new(&scene, options).unwrap_err().to_string();
        let size = bad(RenderOptions {
            size: Some((8, 18)),
            ..RenderOptions::default()
        });
        assert!(size.contains("frame width 8 is invalid"), "{size}");
        let frames = bad(RenderOptions {
            frames: Some(2..9),
            ..RenderOptions::default()
        });
        assert!(frames.contains("within 0..4"), "{frames}");
        let threads = bad(RenderOptions {
            threads: Some(0),
            ..RenderOptions::default()
        });
        assert!(threads.contains("threads 0"), "{threads}");

        let renderer = Renderer::new(
            &scene,
            RenderOptions {
                frames: Some(0..2),
                ..RenderOptions::default()
            },
        )
        .unwrap();
        let mut small = vec![0; 10];
        assert!(renderer.render_frame(0, &mut small).is_err());
        let mut out = vec![0; renderer.frame_bytes()];
        let outside = renderer.render_frame(3, &mut out).unwrap_err().to_string();
        assert!(outside.contains("frame 3 is invalid"), "{outside}");
    }
}
