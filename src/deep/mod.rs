//! Deep zoom: exact frames far below the `f64` range (widths of `1e-300`, `1e-1000`, beyond).
//!
//! Plain `f64` kernels fail near a width of `1e-13`: neighbouring samples round to the same
//! point. Below that, a frame is rendered by *perturbation*: one reference orbit `Z_n` of a point
//! `C` is computed in arbitrary precision ([`num::fixed`], our own fixed-point numbers on `u64`
//! limbs), and every sample `c = C + δc` iterates only its difference `δz` in hardware floats
//! ([`perturb`]), with Zhuoran's rebasing instead of glitch detection and the bilinear
//! approximation (BLA, [`bla`]) to skip many iterations at once.
//!
//! Sources:
//! - K. I. Martin, "Superfractalthing maths" (2013): perturbation of a high-precision reference.
//! - Zhuoran, "Another solution to perturbation glitches", fractalforums.org (2021): rebasing
//!   and the bilinear approximation.
//! - Claude Heiland-Allen, "Deep zoom theory and practice (again)", mathr.co.uk (2022): BLA
//!   tables, merging rule and validity radii, the choice of number types by depth.
//! - T. J. Dekker, "A floating-point technique for extending the available precision", Numer.
//!   Math. 18 (1971); D. E. Knuth, TAOCP vol. 2, 4.2.2; Y. Hida, X. S. Li, D. H. Bailey,
//!   "Library for double-double and quad-double arithmetic" (2008): double-double arithmetic of
//!   the second pass for ill-conditioned samples ([`dd`]).
//!
//! # Number types, chosen per frame
//!
//! With `s` the sample spacing (`width / samples_x`) and `c` the frame center:
//! - `s > 2^-42 max(|c|, 1)` (about 2,000 `f64` steps of the center per sample): the existing
//!   `f64` kernels are exact enough; [`DeepRenderer::kernel_for`] returns `None`.
//! - `2^-960 <= s` (down to about `1e-289`): perturbation with `f64` deltas and BLA
//!   coefficients.
//! - `s < 2^-960`: perturbation with [`FloatExp`] (f64 mantissa, i64 exponent) deltas and
//!   coefficients.
//!
//! # Reference orbits
//!
//! Inside a segment between keyframes `A` and `B` the center is
//! `c = cD + (cS - cD) g` where `D` is the deeper keyframe, `S` the other one and
//! `g = (w - wD) / (wS - wD) = rD expm1(ln w - ln wD) / (1 - rD)`, `rD = wD / wS`, with `g` a
//! [`FloatExp`] (it underflows `f64`). The reference point of every frame of the segment is the
//! deeper keyframe's center `cD`, parsed from the scene's decimal text: one orbit for the whole
//! segment (frames past the last keyframe use the last keyframe's), computed once at the
//! precision of the deepest frame that uses it and for the largest iteration budget. A frame
//! whose offset `|c - cD|` exceeds 1,000 widths (a pan between equal widths, or keyframes far
//! apart) gets an orbit of its own at its exact center. Orbits are stored as `f64` pairs plus
//! the next 53 bits of each entry for the double-double pass and the entry's chunk limit for
//! the lockstep loop (40 bytes per iteration, [`orbit`]); BLA tables are built per frame (their radii depend on the
//! frame's largest `|δc|`) and freed with the frame's kernel.
//!
//! # Glitches
//!
//! With rebasing there is no reference-dependent glitch (Pauldelbrot's `|Z + δz| << |Z|` cannot
//! persist: the sample is rebased as soon as `|Z_m + δz| < |δz|`). The criterion that remains,
//! exactly: a sample is a glitch when, before some step `n`, `|z_n|^2 = |Z_m + δz|^2` has not
//! exceeded `R^2` and `|δz|^2` is not finite (NaN). An infinite `δz` makes `|z_n|^2` infinite,
//! which is an escape at `n`, not a glitch. A glitch sample is drawn as interior and counted in
//! [`DeepRenderer::glitches`]; `deep::perturb::tests::glitches_are_counted` forces glitches (NaN
//! frame offset) to check the counting. Samples whose count `f64` deltas cannot determine
//! (ill-conditioned: a point `1e-12` spacings away escapes tens of iterations earlier or later)
//! are found from their derivative `dz/dc` and iterated again with more precision
//! ([`perturb`], "Ill-conditioned samples"): exact, counted in [`DeepRenderer::exact_samples`],
//! not glitches. The accuracy tests (`tests/deep_accuracy.rs`, `docs/DEEP.md`) compare samples
//! with direct fixed-point iteration.
//!
//! # Exact points
//!
//! Every deep frame has an exact geometry ([`exact`], [`FrameGeometry`]): its center and width
//! in fixed point (a keyframe's decimal text at a keyframe's frame, otherwise the path's values
//! converted exactly), its spacing `width / samples_x`, and the `f64` cos and sin of its
//! rotation. The first pass's `f64`/[`FloatExp`] deltas are rounded from it; the second pass and
//! the fixed-point fallback iterate its exact points, and `--data` writes it in the OpenEXR
//! header (`src/output/exr.rs`), so a checker computes the same points from the header.
//!
//! Rows are computed by the lane engine ([`lanes`]): several samples in flight with `f64`
//! deltas, also in `FloatExp` frames once a delta reaches `2^-500`.

pub mod bla;
pub mod bounds;
pub mod dd;
pub mod dd_bla;
pub mod exact;
pub mod lanes;
#[cfg(any(test, feature = "internals"))]
pub mod locate;
pub mod num;
pub mod orbit;
pub mod perturb;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use crate::kernel::{Kernel, SampleGrid};
use crate::path::{View, ZoomPath};
use crate::scene::Scene;

pub use exact::FrameGeometry;
pub use num::fixed::{Fixed, FixedC};
pub use num::floatexp::FloatExp;
pub use num::floatexp::Cx;
pub use orbit::ReferenceOrbit;
pub use perturb::{DeltaGrid, PerturbKernel};

/// BLA tolerance `ε` (relative error allowed per skipped step).
pub const BLA_EPS: f64 = 1.0 / (1u64 << 53) as f64;

/// `log2` of the sample spacing below which deltas need [`FloatExp`].
pub const FLOATEXP_BELOW_LOG2: f64 = -960.0;

/// `log2` of (spacing / max(|c|, 1)) above which plain `f64` kernels are used.
pub const F64_ABOVE_LOG2: f64 = -42.0;

/// Extra bits of the reference orbit beyond the sample spacing.
pub const GUARD_BITS: u64 = 64;

/// Whether the frame of `view`, `samples_x` samples across, is rendered by the plain `f64`
/// kernels: its sample spacing is above `2^F64_ABOVE_LOG2` times the center's size (see the
/// module docs); otherwise by perturbation.
pub fn is_plain(view: &View, samples_x: u32) -> bool {
    let spacing_log2 = (view.ln_width - f64::from(samples_x).ln()) / std::f64::consts::LN_2;
    let scale = view.center.norm().max(1.0);
    spacing_log2 - scale.log2() > F64_ABOVE_LOG2 && view.center.norm().is_finite()
}

/// The fixed point `P` of the zoom between keyframes `a` and `b` of `scene` (of different
/// widths), the point the picture expands from (see [`crate::path`]). Returns `(q, d, P - cD)`:
/// `q = (cA - cB) / (wA - wB)` is the frame center's offset from `P` in widths (`c - P = q w`
/// for every frame of the segment), `d` the deeper keyframe (whose center is the segment's
/// reference point) and `P - cD = -q wD` in [`FloatExp`]. The centers' difference is taken from
/// their decimal text in fixed point, so `q` is exact to `f64` at any depth.
pub fn fixed_point(scene: &Scene, a: usize, b: usize) -> Result<(num_complex::Complex64, usize, Cx<FloatExp>), String> {
    let (ka, kb) = (&scene.keyframes[a], &scene.keyframes[b]);
    let (ln_a, ln_b) = (ka.width.ln_abs(), kb.width.ln_abs());
    let ln_min = ln_a.min(ln_b);
    let bits = (-ln_min / std::f64::consts::LN_2).ceil().max(0.0) as u64 + 128;
    let frac = Fixed::frac_for_bits(bits);
    let parse = |t: &str| {
        Fixed::parse(t, frac).ok_or_else(|| format!("keyframe center {t} out of range"))
    };
    let center = |k: &crate::scene::Keyframe| -> Result<FixedC, String> {
        Ok(FixedC {
            re: parse(k.center[0].text())?,
            im: parse(k.center[1].text())?,
        })
    };
    let diff = center(ka)?.sub(&center(kb)?).to_fe();
    // wA - wB = wS (1 - wD / wS) with the sign of the step from A to B.
    let (ln_s, ln_d, d) = if ln_b < ln_a { (ln_a, ln_b, b) } else { (ln_b, ln_a, a) };
    let span = FloatExp::exp(ln_s) * FloatExp::from_f64(-(ln_d - ln_s).exp_m1());
    let sign = if ln_b < ln_a { 1.0 } else { -1.0 };
    let inv = span.recip();
    let q = num_complex::Complex64::new(
        sign * (diff.re * inv).to_f64(),
        sign * (diff.im * inv).to_f64(),
    );
    // P - cD = -q wD.
    let w_d = FloatExp::exp(ln_d);
    let offset = Cx {
        re: w_d * FloatExp::from_f64(-q.re),
        im: w_d * FloatExp::from_f64(-q.im),
    };
    Ok((q, d, offset))
}

/// Which reference orbit a frame uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrbitKey {
    /// The center of keyframe `i`.
    Keyframe(usize),
    /// The exact center of one frame.
    Frame(u64),
}

/// What a perturbation frame needs.
#[derive(Debug, Clone)]
struct FramePlan {
    key: OrbitKey,
    /// The reference point, at `frac` limbs.
    center: FixedC,
    /// The reference point at `-log2 spacing + 128` bits, for direct iterations of
    /// ill-conditioned samples (`center` is its truncation).
    exact: FixedC,
    frac: usize,
    /// The frame's exact center, width and spacing (at `exact`'s precision).
    geometry: FrameGeometry,
    extended: bool,
}

/// Deep-zoom kernels for the frames of one run.
pub struct DeepRenderer {
    path: ZoomPath,
    /// Keyframe centers as decimal text.
    centers: Vec<[String; 2]>,
    /// Keyframe widths as decimal text.
    widths: Vec<String>,
    /// Keyframe frame numbers.
    key_frames: Vec<u64>,
    orbits: Mutex<HashMap<OrbitKey, Arc<ReferenceOrbit>>>,
    glitches: Mutex<HashMap<u64, Arc<AtomicU64>>>,
    exact_samples: Mutex<HashMap<u64, Arc<AtomicU64>>>,
    samples_x: u32,
}

impl std::fmt::Debug for DeepRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepRenderer")
            .field("keyframes", &self.centers.len())
            .field("orbits", &self.orbit_count())
            .field("orbit_memory_bytes", &self.orbit_memory_bytes())
            .finish()
    }
}

impl DeepRenderer {
    /// Prepares reference orbits for every frame in `frames` that needs perturbation (the rest
    /// use plain `f64` kernels). `progress(done_fraction)` is called while orbits are computed.
    pub fn new(
        scene: &Scene,
        path: &ZoomPath,
        frames: &[u64],
        width: u32,
        _height: u32,
        supersample: u32,
        progress: &mut dyn FnMut(f64),
    ) -> Result<DeepRenderer, String> {
        let centers = scene
            .keyframes
            .iter()
            .map(|k| {
                [
                    k.center[0].text().to_string(),
                    k.center[1].text().to_string(),
                ]
            })
            .collect();
        let renderer = DeepRenderer {
            path: path.clone(),
            centers,
            widths: scene
                .keyframes
                .iter()
                .map(|k| k.width.text().to_string())
                .collect(),
            key_frames: scene.keyframes.iter().map(|k| k.frame).collect(),
            orbits: Mutex::new(HashMap::new()),
            glitches: Mutex::new(HashMap::new()),
            exact_samples: Mutex::new(HashMap::new()),
            samples_x: width * supersample,
        };
        // What each orbit must serve: the finest precision and the largest budget.
        let mut needs: HashMap<OrbitKey, (FixedC, u32)> = HashMap::new();
        for &frame in frames {
            let view = path.view(frame);
            if let Some(plan) = renderer.plan(&view, renderer.samples_x)? {
                let entry = needs.entry(plan.key).or_insert((plan.center.clone(), 0));
                if plan.frac > entry.0.frac() {
                    entry.0 = plan.center;
                }
                entry.1 = entry.1.max(view.max_iterations);
            }
        }
        let cost = |c: &FixedC, it: u32| (c.frac() as f64 + 1.0).powi(2) * f64::from(it);
        let total: f64 = needs
            .values()
            .map(|(c, it)| cost(c, *it))
            .sum::<f64>()
            .max(1.0);
        let mut done = 0.0;
        let mut keys: Vec<_> = needs.into_iter().collect();
        keys.sort_by_key(|(k, _)| match k {
            OrbitKey::Keyframe(i) => (0, *i as u64),
            OrbitKey::Frame(f) => (1, *f),
        });
        for (key, (center, iterations)) in keys {
            let share = cost(&center, iterations) / total;
            let orbit =
                ReferenceOrbit::compute(&center, iterations, &mut |f| progress(done + share * f));
            done += share;
            renderer
                .orbits
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, Arc::new(orbit));
        }
        progress(1.0);
        Ok(renderer)
    }

    /// The kernel for one frame, or `None` when plain `f64` is exact enough for it.
    ///
    /// A frame whose orbit was not prepared by [`DeepRenderer::new`] gets it computed here.
    pub fn kernel_for(&self, view: &View, grid: &SampleGrid) -> Option<Arc<dyn Kernel>> {
        let plan = match self.plan(view, grid.samples_x) {
            Ok(p) => p?,
            // Unparsable centers were rejected by `new`; fall back to f64 rather than panic.
            Err(_) => return None,
        };
        let orbit = self.orbit(&plan, view.max_iterations);
        let delta = DeltaGrid::from_geometry(&plan.geometry, &plan.exact);
        let geometry = Arc::new(plan.geometry);
        let glitches = self
            .glitches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(view.frame)
            .or_default()
            .clone();
        let exact = self
            .exact_samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(view.frame)
            .or_default()
            .clone();
        let (sx, sy) = (grid.samples_x, grid.samples_y);
        Some(if plan.extended {
            Arc::new(
                PerturbKernel::<FloatExp>::new(orbit, delta, sx, sy, BLA_EPS, glitches)
                    .with_exact_reference(plan.exact, exact)
                    .with_geometry(geometry),
            )
        } else {
            Arc::new(
                PerturbKernel::<f64>::new(orbit, delta, sx, sy, BLA_EPS, glitches)
                    .with_exact_reference(plan.exact, exact)
                    .with_geometry(geometry),
            )
        })
    }

    /// The exact geometry of `view` for a frame `samples_x` samples across, or `None` when
    /// plain `f64` renders it (see [`FrameGeometry`]).
    pub fn geometry(&self, view: &View, samples_x: u32) -> Option<FrameGeometry> {
        self.plan(view, samples_x).ok()?.map(|p| p.geometry)
    }

    /// Samples of `frame` iterated again with more precision because `f64` perturbation could not determine their
    /// escape count (ill-conditioned; see [`perturb::ILL_CONDITIONED_TOLERANCE`]). Exact, not
    /// glitches.
    pub fn exact_samples(&self, frame: u64) -> u64 {
        self.exact_samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&frame)
            .map_or(0, |g| g.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Samples of `frame` whose result cannot be trusted (so far; 0 for `f64` frames).
    pub fn glitches(&self, frame: u64) -> u64 {
        self.glitches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&frame)
            .map_or(0, |g| g.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Bytes held by reference orbits.
    pub fn orbit_memory_bytes(&self) -> usize {
        self.orbits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|o| o.memory_bytes())
            .sum()
    }

    /// Number of reference orbits held.
    pub fn orbit_count(&self) -> usize {
        self.orbits.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The orbit for `plan`, computing (or recomputing, finer or longer) it when needed.
    fn orbit(&self, plan: &FramePlan, max_iterations: u32) -> Arc<ReferenceOrbit> {
        self.orbit_of(plan.key, &plan.center, max_iterations)
    }

    /// The orbit `key` of the point `center` (at its precision), computed (or recomputed,
    /// finer or longer) when the one held does not serve `max_iterations` at that precision.
    fn orbit_of(&self, key: OrbitKey, center: &FixedC, max_iterations: u32) -> Arc<ReferenceOrbit> {
        if let Some(o) = self
            .orbits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && o.serves(center.frac(), max_iterations)
        {
            return o.clone();
        }
        let orbit = Arc::new(ReferenceOrbit::compute(center, max_iterations, &mut |_| {}));
        self.orbits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, orbit.clone());
        orbit
    }

    /// The perturbation kernel of an exponential map's rings (`grid`, from
    /// [`SampleGrid::rings`]) about a point `offset` away from the center of keyframe `key`,
    /// whose orbit serves it: the rings' derivatives are scaled by `exp(ln_spacing)`, and the
    /// orbit is computed for `orbit_needs` (the finest spacing's `ln` and the largest budget of
    /// all the rings that will use it, so that it is computed once). Glitches and samples
    /// iterated again are counted in `counters`.
    pub fn ring_kernel(
        &self,
        key: usize,
        offset: Cx<FloatExp>,
        grid: &SampleGrid,
        ln_spacing: f64,
        orbit_needs: (f64, u32),
        counters: [Arc<AtomicU64>; 2],
    ) -> Result<Arc<dyn Kernel>, String> {
        let rings = grid.polar.ok_or("a ring kernel needs rings")?;
        let bits = |ln: f64| (-ln / std::f64::consts::LN_2).ceil().max(0.0) as u64 + GUARD_BITS;
        let frac = Fixed::frac_for_bits(bits(ln_spacing.min(orbit_needs.0)));
        let hi = Fixed::frac_for_bits(bits(ln_spacing) - GUARD_BITS + 128).max(frac);
        let exact = self.parse_center(key, hi)?;
        let orbit = self.orbit_of(OrbitKey::Keyframe(key), &exact.with_frac(frac), orbit_needs.1);
        let delta = DeltaGrid::rings(
            offset,
            rings,
            grid.samples_x,
            grid.samples_y,
            FloatExp::exp(ln_spacing),
        );
        let (sx, sy) = (grid.samples_x, grid.samples_y);
        let [glitches, exact_samples] = counters;
        Ok(
            if ln_spacing / std::f64::consts::LN_2 < FLOATEXP_BELOW_LOG2 {
                Arc::new(
                    PerturbKernel::<FloatExp>::new(orbit, delta, sx, sy, BLA_EPS, glitches)
                        .with_exact_reference(exact, exact_samples),
                )
            } else {
                Arc::new(
                    PerturbKernel::<f64>::new(orbit, delta, sx, sy, BLA_EPS, glitches)
                        .with_exact_reference(exact, exact_samples),
                )
            },
        )
    }

    fn parse_center(&self, key: usize, frac: usize) -> Result<FixedC, String> {
        let [re, im] = &self.centers[key];
        let p = |t: &str| {
            Fixed::parse(t, frac)
                .ok_or_else(|| format!("keyframe center {t} out of range for deep zoom"))
        };
        Ok(FixedC {
            re: p(re)?,
            im: p(im)?,
        })
    }

    /// How `view` is rendered: `None` for plain `f64`.
    fn plan(&self, view: &View, samples_x: u32) -> Result<Option<FramePlan>, String> {
        if is_plain(view, samples_x) {
            return Ok(None);
        }
        let spacing_log2 = (view.ln_width - f64::from(samples_x).ln()) / std::f64::consts::LN_2;
        let bits = (-spacing_log2).ceil().max(0.0) as u64 + GUARD_BITS;
        let frac = Fixed::frac_for_bits(bits);
        // Direct iterations: 128 bits below the spacing (`PerturbKernel::exact_escape`).
        let hi = Fixed::frac_for_bits(bits - GUARD_BITS + 128).max(frac);
        let extended = spacing_log2 < FLOATEXP_BELOW_LOG2;
        let (a, b) = self.path.segment_keys(view);
        let ln_w = view.ln_width;
        // A keyframe's frame (or one past the last keyframe, which holds its view): its text.
        let last = self.key_frames.len() - 1;
        let key = if view.frame >= self.key_frames[last] {
            Some(last)
        } else {
            self.key_frames.iter().position(|&f| f == view.frame)
        };
        let geometry = |center: FixedC| -> Result<FrameGeometry, String> {
            let (width, text) = match key {
                Some(k) => {
                    let w = Fixed::parse(&self.widths[k], hi).ok_or_else(|| {
                        format!(
                            "keyframe width {} out of range for deep zoom",
                            self.widths[k]
                        )
                    })?;
                    let [re, im] = self.centers[k].clone();
                    (w, Some([re, im, self.widths[k].clone()]))
                }
                None => (Fixed::from_fe(FloatExp::exp(ln_w), hi), None),
            };
            Ok(FrameGeometry::new(
                center,
                width,
                samples_x,
                view.rotation_deg,
                text,
            ))
        };
        if a == b {
            let exact = self.parse_center(a, hi)?;
            return Ok(Some(FramePlan {
                key: OrbitKey::Keyframe(a),
                center: exact.with_frac(frac),
                geometry: geometry(exact.clone())?,
                exact,
                frac,
                extended,
            }));
        }
        let (ln_a, ln_b) = (self.path.key_ln_width(a), self.path.key_ln_width(b));
        let frame_plan = |exact: FixedC| -> Result<Option<FramePlan>, String> {
            Ok(Some(FramePlan {
                key: OrbitKey::Frame(view.frame),
                center: exact.with_frac(frac),
                geometry: geometry(exact.clone())?,
                exact,
                frac,
                extended,
            }))
        };
        if ln_a == ln_b {
            // A pan: the center moves linearly in the frame number; an orbit per frame.
            let c = match key {
                Some(k) => self.parse_center(k, hi)?,
                None => {
                    let (ca, cb) = (self.parse_center(a, hi)?, self.parse_center(b, hi)?);
                    let t = Fixed::from_f64(view.center_fraction, hi);
                    let d = cb.sub(&ca);
                    ca.add(&FixedC {
                        re: d.re.mul(&t),
                        im: d.im.mul(&t),
                    })
                }
            };
            return frame_plan(c);
        }
        let (d, s, ln_d, ln_s) = if ln_b < ln_a {
            (b, a, ln_b, ln_a)
        } else {
            (a, b, ln_a, ln_b)
        };
        let (cd, cs) = (self.parse_center(d, hi)?, self.parse_center(s, hi)?);
        // The frame's center: a keyframe's text, or cD + (cS - cD) g with
        // g = (w - wD) / (wS - wD) = rD expm1(ln w - ln wD) / (1 - rD), rD = wD / wS < 1.
        let center = match key {
            Some(k) => self.parse_center(k, hi)?,
            None => {
                let r_d = FloatExp::exp(ln_d - ln_s);
                let g = r_d * FloatExp::from_f64((ln_w - ln_d).exp_m1() / -(ln_d - ln_s).exp_m1());
                let diff = cs.sub(&cd).to_fe();
                cd.add(&FixedC::from_fe(diff.scale(g), hi))
            }
        };
        let offset = center.sub(&cd).to_fe();
        let far = offset.norm().log2_abs() - ln_w / std::f64::consts::LN_2 > 1000f64.log2();
        if far {
            return frame_plan(center);
        }
        Ok(Some(FramePlan {
            key: OrbitKey::Keyframe(d),
            center: cd.with_frac(frac),
            geometry: geometry(center)?,
            exact: cd,
            frac,
            extended,
        }))
    }
}
