//! The exponential map: each doubling of a zoom computed once, the frames assembled from it.
//!
//! Within a keyframe segment every frame is the same picture about one fixed point `P`, scaled
//! and turned (see [`crate::path`]: `c - P = q w` for a constant `q`). In log-polar
//! coordinates about `P` a zoom is a shift along the radius and a rotation a shift along the
//! angle, so one map of the plane around `P` serves every frame of the segment. The map is cut
//! into *octaves*, one per halving of the radius: octave `j` is a grid of `angles` samples
//! around times `rings` rings, ring `k` at radius `R exp(-(j + (k + 0.5) / rings) ln 2)` and
//! angle column `m` at `2 pi (m + 0.5) / angles`, computed by the same kernels (plain `f64` or
//! perturbation against the segment's reference orbit, whose point is where the map is
//! centered) through [`crate::kernel::PolarRings`].
//!
//! **Density.** `angles = 2 pi rho W s d` (rounded up to a multiple of 8), with `rho` the
//! largest distance of a frame corner from `P` in frame widths, `W` the frame width in pixels,
//! `s` the supersampling and `d` = [`DENSITY`]: at every frame's farthest corner the map's
//! samples are `1 / d` as far apart as the frame's own, and closer in they are denser. `rings = angles ln 2 / (2 pi)`
//! keeps the cells square. An octave the frames only need as the inner part of their picture
//! (deeper than every frame's corner by `l` octaves or more) is computed at *level* `l`: `2^l`
//! times fewer samples along each axis.
//!
//! **Assembly.** Octaves are *shaded* once they are held ([`crate::color::Shade`]: what a
//! sample's color owes to the sample alone, such as the transferred count or the distance
//! estimate's logarithm). A [`MapKernel`] then colors each pixel of a frame from the map
//! samples in the pixel's footprint (the square it covers in log-polar coordinates about
//! `P`), at the level that puts at least `s` of them across it, averaged in linear light; the
//! per-frame part of the coloring (palette cycle, the light turned with the frame, the
//! distance in the frame's pixels) is applied to each map sample. No color or count is ever
//! interpolated across the set's boundary. Octaves reach down to [`INNER_REACH`] frame samples
//! from `P`; pixels closer than that read the innermost rings. `--data` reads, for each of the
//! frame's own sample points, the nearest map sample.
//!
//! **Fallback.** Frames past the last keyframe, pans (equal widths), segments whose fixed
//! point lies more than [`MAX_OFFSET`] widths from the frame center, and segments whose map
//! would not save at least half the samples ([`MAP_PAYS`]: few frames per doubling) are
//! rendered directly.

pub mod kernel;
pub mod strip;

use std::collections::BTreeMap;
use std::f64::consts::{LN_2, TAU};

use num_complex::Complex64;

use crate::deep::{Cx, F64_ABOVE_LOG2, FloatExp};
use crate::path::{View, ZoomPath};
use crate::scene::Scene;

pub use kernel::MapKernel;
pub use strip::{Strip, StripStore};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use crate::color::{Coloring, Look};
use crate::error::Result;
use crate::kernel::Kernel;

/// Octaves reach down to this many frame sample spacings from the fixed point: a sample
/// closer than that is off by at most this much.
pub const INNER_REACH: f64 = 0.5;

/// Segments whose fixed point lies farther than this many frame widths from the frame center
/// are rendered directly (the map would spend most of its samples outside the frame).
pub const MAX_OFFSET: f64 = 1.0;

/// Map samples per frame sample along each axis at the frames' farthest corners.
///
/// A pixel averages every map sample of its footprint, `s^2` or more of them at this
/// density: against frames computed directly with 8x8 samples, the map's frames differed by
/// 0.94x (worst frame 0.91x) what direct frames with the scene's own samples do on the shallow
/// zoom of `tests/expmap.rs`, 0.91x (0.89x) on the deep one (2026-12-08). (Taking each frame
/// sample's nearest map sample instead needed 1.5 for 1.06x and 1.07x: see
/// docs/PERFORMANCE.md.)
pub const DENSITY: f64 = 1.0;

/// A segment is assembled from its map only where the map's octaves hold at most this share
/// of the samples its frames would (the rest of a map frame's cost, looking its samples up and
/// coloring them, is about what coloring costs a direct frame).
pub const MAP_PAYS: f64 = 0.5;

/// The smallest number of angles of an octave at any level.
const MIN_ANGLES: u32 = 16;

/// The map of one keyframe segment.
#[derive(Debug, Clone)]
pub struct SegmentMap {
    /// Index of the keyframe that starts the segment.
    pub segment: usize,
    /// The deeper keyframe, whose center is the reference point of deep octaves.
    pub key: usize,
    /// The fixed point `P` in `f64`.
    pub center: Complex64,
    /// `P` minus the reference point (the deeper keyframe's center).
    pub offset: Cx<FloatExp>,
    /// `(c - P) / w`, the same for every frame of the segment.
    pub q: Complex64,
    /// Largest distance of a frame corner from `P`, in frame widths.
    pub rho: f64,
    /// `ln` of the outer radius of octave 0.
    pub ln_top: f64,
    /// Angles of an octave at level 0.
    pub angles: u32,
    /// Rings of an octave at level 0.
    pub rings: u32,
}

impl SegmentMap {
    /// The map of segment `segment` (keyframes `segment` and `segment + 1`) for frames of
    /// `width` x `height` pixels with `supersample`^2 samples each, or `None` when the segment
    /// is rendered directly (a pan, or a fixed point too far from the frame).
    pub fn new(
        scene: &Scene,
        path: &ZoomPath,
        segment: usize,
        (width, height, supersample): (u32, u32, u32),
    ) -> Option<SegmentMap> {
        let (a, b) = (segment, segment + 1);
        if b >= scene.keyframes.len() {
            return None;
        }
        let (ln_a, ln_b) = (path.key_ln_width(a), path.key_ln_width(b));
        if ln_a == ln_b {
            return None;
        }
        let (q, key, offset) = crate::deep::fixed_point(scene, a, b).ok()?;
        if q.norm().is_nan() || q.norm() > MAX_OFFSET {
            return None;
        }
        let aspect = f64::from(height) / f64::from(width);
        let rho = q.norm() + 0.5 * (1.0 + aspect * aspect).sqrt();
        let samples_x = f64::from(width * supersample);
        let angles = ((TAU * rho * samples_x * DENSITY / 8.0).ceil() as u32 * 8).max(MIN_ANGLES);
        let rings = (f64::from(angles) * LN_2 / TAU).ceil() as u32;
        let k = &scene.keyframes[key];
        let reference = Complex64::new(k.center[0].to_f64(), k.center[1].to_f64());
        let center = reference + Complex64::new(offset.re.to_f64(), offset.im.to_f64());
        Some(SegmentMap {
            segment,
            key,
            center,
            offset,
            q,
            rho,
            ln_top: ln_a.max(ln_b) + rho.ln(),
            angles,
            rings,
        })
    }

    /// The octave coordinate of a radius `exp(ln_r)`: octave `floor(y)`, at `y - floor(y)` of
    /// its way from its outer to its inner ring.
    #[inline]
    pub fn octave_of(&self, ln_r: f64) -> f64 {
        (self.ln_top - ln_r) / LN_2
    }

    /// The octaves a frame of `view` reads, `samples_x` samples across: from the one holding
    /// its farthest corner to the one holding [`INNER_REACH`] samples from `P`.
    pub fn octaves(&self, view: &View, samples_x: u32) -> std::ops::RangeInclusive<u32> {
        let first = self.octave_of(view.ln_width + self.rho.ln()).floor().max(0.0);
        let ln_spacing = view.ln_width - f64::from(samples_x).ln();
        let last = self.octave_of(ln_spacing + INNER_REACH.ln()).floor().max(first);
        first as u32..=last as u32
    }

    /// The layout of octave `octave` at level `level`.
    pub fn octave(&self, octave: u32, level: u32) -> Octave {
        let angles = self.angles.div_ceil(1 << level).max(MIN_ANGLES);
        let rings = self.rings.div_ceil(1 << level).max(1);
        let ln_top = self.ln_top - f64::from(octave) * LN_2;
        // The derivative's scale: the angular spacing of the innermost ring.
        let ln_spacing = ln_top - LN_2 + (TAU / f64::from(angles)).ln();
        let scale = self.center.norm().max(1.0).log2();
        Octave {
            octave,
            level,
            angles,
            rings,
            ln_top,
            ln_step: LN_2 / f64::from(rings),
            ln_spacing,
            deep: ln_spacing / LN_2 - scale <= F64_ABOVE_LOG2,
        }
    }
}

/// The level of `octave` of `map` when the farthest corner of the frames that read it is at
/// octave coordinate `corner`: level `l` keeps [`DENSITY`] where the octave lies `l` or more
/// octaves inside every reader's farthest corner (see the module docs).
fn level_of(map: &SegmentMap, octave: u32, corner: f64) -> u32 {
    let finest = (map.angles / MIN_ANGLES).max(1).ilog2();
    (f64::from(octave) - corner)
        .floor()
        .clamp(0.0, f64::from(finest)) as u32
}

/// The layout of one octave at one level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Octave {
    /// Octave number (0: the outermost of the segment).
    pub octave: u32,
    /// Samples are `2^level` times sparser than at level 0 along each axis.
    pub level: u32,
    /// Samples around each ring.
    pub angles: u32,
    /// Rings.
    pub rings: u32,
    /// `ln` of the outer edge's radius.
    pub ln_top: f64,
    /// `ln` of one ring's radius over the next one's.
    pub ln_step: f64,
    /// `ln` of the spacing that scales the octave's derivatives.
    pub ln_spacing: f64,
    /// Rendered by perturbation (`f64` would not resolve the innermost ring's spacing).
    pub deep: bool,
}

/// What one octave of a segment's map must serve.
#[derive(Debug, Clone)]
pub struct OctaveNeed {
    /// Index of the segment's map in [`MapPlan::maps`].
    pub map: usize,
    /// The layout, at the level the frames allow.
    pub octave: Octave,
    /// The largest iteration budget of the frames that read it.
    pub max_iterations: u32,
    /// Position (in [`MapPlan::frames`]) of the last frame that reads it.
    pub last_frame: usize,
}

/// How one frame is made.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameMethod {
    /// Computed sample by sample.
    Direct,
    /// Assembled from octaves `octaves` of map `map`.
    Map {
        /// Index into [`MapPlan::maps`].
        map: usize,
        /// The octaves it reads.
        octaves: std::ops::RangeInclusive<u32>,
        /// The octave coordinate of its farthest corner (which sets the level it reads each
        /// octave at: [`level_of`]).
        corner: f64,
    },
}

/// The exponential maps of a run: which frames come from which octaves.
#[derive(Debug, Clone)]
pub struct MapPlan {
    /// One per segment that is rendered from a map.
    pub maps: Vec<Arc<SegmentMap>>,
    /// Every frame of the run, in order, and how it is made.
    pub frames: Vec<(u64, FrameMethod)>,
    /// Every octave some frame reads, keyed by (map, octave), in rendering order.
    pub octaves: BTreeMap<(usize, u32), OctaveNeed>,
}

impl MapPlan {
    /// The plan for `frames` (in order) of `scene` at `size` = (width, height, supersample).
    pub fn new(scene: &Scene, path: &ZoomPath, frames: &[u64], size: (u32, u32, u32)) -> MapPlan {
        let samples_x = size.0 * size.2;
        let mut by_segment: BTreeMap<usize, Option<usize>> = BTreeMap::new();
        let mut maps = Vec::new();
        // What an octave holds depends on every frame of the scene that reads it, not only
        // on the frames of this run: a resumed run, a shard or a range of frames computes
        // the same octaves, and so the same frames, as one whole render.
        // Per (map, octave): the largest budget, the deepest frame corner (octave coordinate).
        let mut reads: BTreeMap<(usize, u32), (u32, f64)> = BTreeMap::new();
        let mut method = |view: &View| -> FrameMethod {
            let map = *by_segment.entry(view.segment).or_insert_with(|| {
                SegmentMap::new(scene, path, view.segment, size).map(|m| {
                    maps.push(Arc::new(m));
                    maps.len() - 1
                })
            });
            let Some(map) = map else {
                return FrameMethod::Direct;
            };
            let octaves = maps[map].octaves(view, samples_x);
            let corner = maps[map].octave_of(view.ln_width + maps[map].rho.ln());
            for octave in octaves.clone() {
                let read = reads.entry((map, octave)).or_insert((0, f64::NEG_INFINITY));
                *read = (read.0.max(view.max_iterations), read.1.max(corner));
            }
            FrameMethod::Map {
                map,
                octaves,
                corner,
            }
        };
        let every: Vec<FrameMethod> = (0..scene.video.frames)
            .map(|frame| method(&path.view(frame)))
            .collect();
        let mut map_frames: BTreeMap<usize, u64> = BTreeMap::new();
        for m in &every {
            if let FrameMethod::Map { map, .. } = m {
                *map_frames.entry(*map).or_default() += 1;
            }
        }
        // A map pays where its octaves hold fewer samples than its frames would.
        let frame_samples = f64::from(samples_x) * f64::from(size.1 * size.2);
        let pays: Vec<bool> = (0..maps.len())
            .map(|map| {
                let octaves: f64 = reads
                    .range((map, 0)..=(map, u32::MAX))
                    .map(|(&(_, octave), &(_, corner))| {
                        let o = maps[map].octave(octave, level_of(&maps[map], octave, corner));
                        f64::from(o.angles) * f64::from(o.rings)
                    })
                    .sum();
                let direct = map_frames.get(&map).copied().unwrap_or(0) as f64 * frame_samples;
                octaves <= MAP_PAYS * direct
            })
            .collect();
        let plan_frames: Vec<(u64, FrameMethod)> = frames
            .iter()
            .map(|&f| match &every[f as usize] {
                FrameMethod::Map { map, .. } if !pays[*map] => (f, FrameMethod::Direct),
                m => (f, m.clone()),
            })
            .collect();
        let mut octaves: BTreeMap<(usize, u32), OctaveNeed> = BTreeMap::new();
        for (position, (_, m)) in plan_frames.iter().enumerate() {
            let FrameMethod::Map {
                map, octaves: read, ..
            } = m
            else {
                continue;
            };
            for octave in read.clone() {
                let (max_iterations, corner) = reads[&(*map, octave)];
                let need = octaves.entry((*map, octave)).or_insert_with(|| {
                    let m = &maps[*map];
                    OctaveNeed {
                        map: *map,
                        octave: m.octave(octave, level_of(m, octave, corner)),
                        max_iterations,
                        last_frame: position,
                    }
                });
                need.last_frame = position;
            }
        }
        MapPlan {
            maps,
            frames: plan_frames,
            octaves,
        }
    }

    /// The maps that frames are assembled from (a map that does not pay is not used).
    pub fn maps_used(&self) -> usize {
        let mut used: Vec<usize> = self.octaves.keys().map(|&(m, _)| m).collect();
        used.dedup();
        used.len()
    }

    /// Samples of every octave, and of the map frames computed directly, per sample of the
    /// direct frames: the share of the work the map leaves (below 1 where it pays).
    pub fn sample_ratio(&self, samples_per_frame: u64) -> f64 {
        let map_frames = self
            .frames
            .iter()
            .filter(|(_, m)| matches!(m, FrameMethod::Map { .. }))
            .count() as f64;
        if map_frames == 0.0 {
            return 1.0;
        }
        let strips: f64 = self
            .octaves
            .values()
            .map(|n| f64::from(n.octave.angles) * f64::from(n.octave.rings))
            .sum();
        strips / (map_frames * samples_per_frame as f64)
    }
}

/// The maps of a run and the octaves held: what a renderer needs to assemble its frames.
#[derive(Debug)]
pub struct Maps {
    plan: MapPlan,
    store: StripStore,
    /// Position of each frame in `plan.frames`.
    position: HashMap<u64, usize>,
    /// Octaves carry slopes (the coloring or `--data` reads them).
    with_slopes: bool,
    /// The coloring, which shades the octaves once they are held.
    look: Arc<Look>,
    /// Held octaves keep their escapes and slopes (`--data` reads them).
    keep_samples: bool,
    /// Per map: the finest spacing (`ln`) and largest budget of its deep octaves, which the
    /// reference orbit must serve.
    orbit_needs: Vec<(f64, u32)>,
    samples_x: u32,
    /// Untrusted and recomputed samples of deep octaves.
    glitches: Arc<AtomicU64>,
    exact_samples: Arc<AtomicU64>,
}

/// Where the octaves of a run are cached: a folder, and a tag naming what their samples
/// depend on (the scene's data hash), part of every file name.
#[derive(Debug, Clone)]
pub struct Cache {
    /// The folder.
    pub dir: PathBuf,
    /// The tag.
    pub tag: String,
}

/// Builds the kernel of an octave: the plain kernel or perturbation about the map's
/// reference, serving `orbit_needs`.
pub type OctaveKernel<'a> = dyn Fn(&SegmentMap, &Octave, (f64, u32), [Arc<AtomicU64>; 2]) -> Result<Arc<dyn Kernel>> + 'a;

impl Maps {
    /// The maps of `frames` (in order) of `scene` at `size`, caching octaves in `cache`,
    /// colored by `look`; held octaves keep their samples when `keep_samples` (`--data`).
    pub fn new(
        scene: &Scene,
        path: &ZoomPath,
        frames: &[u64],
        size: (u32, u32, u32),
        cache: Option<Cache>,
        (look, keep_samples): (&Look, bool),
    ) -> Maps {
        let with_slopes = look.reads_slopes() || keep_samples;
        let plan = MapPlan::new(scene, path, frames, size);
        let mut orbit_needs = vec![(f64::INFINITY, 0); plan.maps.len()];
        for need in plan.octaves.values().filter(|n| n.octave.deep) {
            let o = &mut orbit_needs[need.map];
            *o = (o.0.min(need.octave.ln_spacing), o.1.max(need.max_iterations));
        }
        let (dir, tag) = cache.map_or((None, String::new()), |c| (Some(c.dir), c.tag));
        Maps {
            position: plan
                .frames
                .iter()
                .enumerate()
                .map(|(i, (f, _))| (*f, i))
                .collect(),
            plan,
            store: StripStore::new(dir, tag),
            with_slopes,
            look: Arc::new(look.clone()),
            keep_samples,
            orbit_needs,
            samples_x: size.0 * size.2,
            glitches: Arc::default(),
            exact_samples: Arc::default(),
        }
    }

    /// The plan.
    pub fn plan(&self) -> &MapPlan {
        &self.plan
    }

    /// The frames of the plan that a map renders.
    pub fn map_frames(&self) -> usize {
        self.plan
            .frames
            .iter()
            .filter(|(_, m)| *m != FrameMethod::Direct)
            .count()
    }

    /// The map `frame` reads, its first octave and the level it reads each octave at,
    /// relative to the octave's own (none for a direct frame).
    fn levels(&self, frame: u64) -> Option<(usize, u32, Vec<u32>)> {
        let position = *self.position.get(&frame)?;
        match &self.plan.frames[position].1 {
            FrameMethod::Direct => None,
            FrameMethod::Map {
                map,
                octaves,
                corner,
            } => {
                let m = &self.plan.maps[*map];
                let levels = octaves
                    .clone()
                    .map(|o| {
                        let own = self.plan.octaves[&(*map, o)].octave.level;
                        level_of(m, o, *corner).saturating_sub(own)
                    })
                    .collect();
                Some((*map, *octaves.start(), levels))
            }
        }
    }

    /// Whether `frame` is assembled from a map.
    pub fn assembles(&self, frame: u64) -> bool {
        self.levels(frame).is_some()
    }

    /// Whether every octave `frame` reads is held, finely enough (true for direct frames).
    pub fn ready(&self, frame: u64) -> bool {
        self.levels(frame).is_none_or(|(map, first, levels)| {
            levels.iter().zip(first..).all(|(&level, o)| {
                self.store
                    .get((map, o))
                    .is_some_and(|s| s.scale() <= level)
            })
        })
    }

    /// Makes every octave `frame` reads held, finely enough: read from the cache, or rendered
    /// with `kernel_of` on `threads` workers (and cached). `on_octave(octave, from_cache)` is
    /// told of each. `Ok(false)` when `cancel` stopped it.
    ///
    /// With a cache, an octave is held at one level finer than the frame reads it (every
    /// `2^level`-th ring and angle: a quarter of the samples per level), and read again from
    /// the cache when later frames read it more finely; without one, it is held whole.
    pub fn prepare(
        &self,
        frame: u64,
        kernel_of: &OctaveKernel<'_>,
        threads: usize,
        cancel: &AtomicBool,
        on_octave: &mut dyn FnMut(&Octave, bool),
    ) -> Result<bool> {
        let Some((map, first, levels)) = self.levels(frame) else {
            return Ok(true);
        };
        for (level, octave) in levels.into_iter().zip(first..) {
            let key = (map, octave);
            if self.store.get(key).is_some_and(|s| s.scale() <= level) {
                continue;
            }
            let need = &self.plan.octaves[&key];
            let m = &self.plan.maps[map];
            let file = self
                .store
                .file(m, &need.octave, need.max_iterations, self.with_slopes);
            let keep = if file.is_some() {
                level.saturating_sub(1)
            } else {
                0
            };
            if let Some(strip) = file
                .as_deref()
                .and_then(|f| StripStore::load(f, &need.octave, self.with_slopes))
            {
                on_octave(&need.octave, true);
                self.store.hold(key, Arc::new(self.held(strip, keep)));
                continue;
            }
            let counters = [self.glitches.clone(), self.exact_samples.clone()];
            let kernel = kernel_of(m, &need.octave, self.orbit_needs[map], counters)?;
            let Some(strip) = strip::render(
                m,
                &need.octave,
                kernel.as_ref(),
                (need.max_iterations, self.with_slopes),
                threads,
                cancel,
            ) else {
                return Ok(false);
            };
            if let Some(file) = &file {
                StripStore::save(file, &strip)?;
            }
            on_octave(&need.octave, false);
            self.store.hold(key, Arc::new(self.held(strip, keep)));
        }
        Ok(true)
    }

    /// What is held of a whole octave read at level `keep` or coarser: every `2^keep`-th
    /// sample, shaded.
    fn held(&self, strip: Strip, keep: u32) -> Strip {
        let strip = if keep == 0 { strip } else { strip.decimated(keep) };
        strip.shaded(&self.look, self.keep_samples)
    }

    /// Lets go of the octaves that no frame after `frame` reads (and of their cache files).
    pub fn release_through(&self, frame: u64) {
        let Some(&position) = self.position.get(&frame) else {
            return;
        };
        for (&key, need) in &self.plan.octaves {
            if need.last_frame <= position && self.store.get(key).is_some() {
                let m = &self.plan.maps[key.0];
                let file = self
                    .store
                    .file(m, &need.octave, need.max_iterations, self.with_slopes);
                self.store.release(key, file.as_deref());
            }
        }
    }

    /// Removes every octave of this scene from the cache folder, also those no frame of this
    /// run read (cached by an interrupted run for frames since written): for the end of a run
    /// that wrote all its frames, when no other process may be reading them.
    pub fn clear_cache(&self) {
        self.store.clear();
    }

    /// The kernel that assembles `frame` (`view`, from the path) from held octaves, or `None`
    /// for a direct frame (or one whose octaves are not all held).
    pub fn kernel(&self, view: &View) -> Option<MapKernel> {
        let (map, first, levels) = self.levels(view.frame)?;
        let strips = levels
            .iter()
            .zip(first..)
            .map(|(&level, o)| {
                self.store
                    .get((map, o))
                    .filter(|s| s.scale() <= level)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(MapKernel::new(
            self.plan.maps[map].clone(),
            self.look.clone(),
            view,
            self.samples_x,
            first,
            strips,
            levels,
        ))
    }

    /// Samples of the deep octaves rendered so far whose result cannot be trusted, and those
    /// iterated again with more precision (see [`crate::deep`]).
    pub fn glitches(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.glitches.load(Relaxed), self.exact_samples.load(Relaxed))
    }

    /// The most bytes of octave data held at once so far.
    pub fn peak_bytes(&self) -> usize {
        self.store.peak_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zoom from 3.0 to 1e-6 (21.5 doublings) in `frames` frames, 50 more holding the end.
    fn scene(frames: u64) -> Scene {
        format!(
            r#"
            [video]
            width = 64
            height = 36
            frames = {}
            [render]
            supersample = 2
            [[keyframe]]
            frame = 0
            center = ["-0.75", "0.1"]
            width = 3.0
            [[keyframe]]
            frame = {}
            center = ["-0.743643887037158704752191506114774", "0.131825904205311970493132056385139"]
            width = 1e-6
            "#,
            frames + 50,
            frames - 1
        )
        .parse()
        .unwrap()
    }

    /// Every frame's sample points are where the map says: `c - P = q w` through the segment.
    #[test]
    fn frames_zoom_about_the_fixed_point() {
        let scene = scene(100);
        let path = ZoomPath::new(&scene);
        let map = SegmentMap::new(&scene, &path, 0, (64, 36, 2)).unwrap();
        for frame in [0, 1, 37, 99] {
            let view = path.view(frame);
            let predicted = map.center + map.q * view.width();
            let err = (predicted - view.center).norm() / view.width();
            assert!(err < 1e-9, "frame {frame}: off by {err:e} widths");
        }
        // (Within the rounding of the angles to a multiple of 8 and of the rings.)
        let ratio = f64::from(map.angles) / f64::from(map.rings);
        assert!((ratio / (TAU / LN_2) - 1.0).abs() < 0.03, "square cells: {ratio}");
    }

    /// Octaves: frames read a window that moves inward with the zoom, frames past the last
    /// keyframe are direct, and octaves deep inside every reader's corner are sparser.
    #[test]
    fn octaves_follow_the_zoom() {
        let scene = scene(900);
        let path = ZoomPath::new(&scene);
        let frames: Vec<u64> = (0..950).collect();
        let plan = MapPlan::new(&scene, &path, &frames, (64, 36, 2));
        assert_eq!(plan.maps_used(), 1);
        assert_eq!(plan.frames[920].1, FrameMethod::Direct);
        let FrameMethod::Map { octaves: first, .. } = &plan.frames[0].1 else {
            panic!("frame 0 is a map frame");
        };
        let FrameMethod::Map { octaves: last, .. } = &plan.frames[898].1 else {
            panic!("frame 898 is a map frame");
        };
        assert_eq!(*first.start(), 0);
        assert!((21..=23).contains(&(last.start() - first.start())), "{first:?} {last:?}");
        let deepest = plan.octaves.values().last().unwrap();
        // (Level 4 is the coarsest of 480 angles: 30, and no fewer than 16.)
        assert_eq!(deepest.octave.level, 4, "{deepest:?}");
        assert!(plan.octaves.values().filter(|n| n.octave.level == 0).count() >= 22);
        // 899 frames of 128x72 samples against the octaves: 42 frames per doubling.
        let ratio = plan.sample_ratio(128 * 72);
        assert!(ratio < 0.2, "{ratio}");
        // A range of frames reads the same octaves as the whole render does.
        let part = MapPlan::new(&scene, &path, &[400, 401, 402], (64, 36, 2));
        for (key, need) in &part.octaves {
            assert_eq!(need.octave, plan.octaves[key].octave);
            assert_eq!(need.max_iterations, plan.octaves[key].max_iterations);
        }
    }

    /// At 4.6 frames per doubling the octaves would hold more samples than the frames: the
    /// segment is rendered directly.
    #[test]
    fn a_map_that_does_not_pay_is_not_used() {
        let scene = scene(100);
        let path = ZoomPath::new(&scene);
        let frames: Vec<u64> = (0..150).collect();
        let plan = MapPlan::new(&scene, &path, &frames, (64, 36, 2));
        assert_eq!(plan.maps_used(), 0);
        assert!(plan.frames.iter().all(|(_, m)| *m == FrameMethod::Direct));
    }
}
