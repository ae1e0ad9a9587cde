//! The perturbation kernel: every sample iterates its difference from the reference orbit.
//!
//! With `z_n = Z_m + δz` (reference index `m`, which rebasing can make differ from `n`) and
//! `c = C + δc`:
//!
//! ```text
//! δz -> 2 Z_m δz + δz^2 + δc = (2 Z_m + δz) δz + δc,   m -> m + 1
//! ```
//!
//! Rebasing (Zhuoran, "Another solution to perturbation glitches", fractalforums.org, 2021): when
//! `|Z_m + δz| < |δz|`, or when the reference orbit has no next entry, set `δz := Z_m + δz` and
//! `m := 0`. The delta then never becomes large next to the full value it stands for, which is
//! what makes classic perturbation glitch (Pauldelbrot's criterion `|Z + δz| << |Z|`), so no
//! glitch detection or secondary references are needed. Skipping uses the bilinear
//! approximation of [`super::bla`].
//!
//! Escape is tested on `z_n = Z_m + δz` in `f64` exactly as the other kernels do: `N` is the
//! first `n` with `|z_n|^2 > R^2`, and the smooth fraction comes from that `|z_n|^2`. A BLA step
//! never jumps over an escape: it is only valid while `|δz|` is a tiny fraction of `|Z_m|` and
//! the reference has not escaped.
//!
//! # Ill-conditioned samples
//!
//! Every sample also carries `e = s dz/dc` (`s`: the sample spacing; `e -> 2 z e + s` per step,
//! `e -> A e + B s` per BLA step). `f64` perturbation follows the orbit of a point about
//! `σ = 2^-53 max(|δc| / s, 1) sqrt(n)` spacings away from the sample; a sample whose
//! `σ |e_N| >= 10^-3 max(|z_N|, 1)` at its end is *ill-conditioned*
//! ([`ILL_CONDITIONED_TOLERANCE`]): its count is not determined at that precision (the misses of
//! `tests/deep_accuracy.rs` before this test existed were all such samples: `|e_N| / |z_N|` of
//! `1e14` to `1e25`, counts that change by tens to hundreds of iterations between points `1e-12`
//! spacings apart; docs/DEEP.md). [`PerturbKernel::recompute`] iterates it again at the exact
//! point of the mapping ([`FrameGeometry::point`]), in double-double perturbation with a
//! double-double BLA table ([`super::dd`]; the same test with `2^-104` in `σ`), and where that
//! is still ill-conditioned, directly in fixed point at `-log2 s + 128` bits. About 0.5% of the samples of deep frames take the second
//! pass; fixed point is rare (7 of 2,073,600 samples in the 1080p benchmark frame). The result
//! is exact, so such samples are not glitches; [`super::DeepRenderer::exact_samples`] counts
//! them.
//!
//! A sample counts as a glitch (untrustworthy, reported, never silently drawn) when its delta
//! stops being finite; with rebasing and the number type chosen per frame this is not expected
//! to happen, and the tests check that it does not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::bla::BlaTable;
use super::dd;
use super::dd_bla::DdBlaTable;
use super::num::dd::{DdCx, of_fixed};
use super::exact::FrameGeometry;
use super::num::fixed::{Fixed, FixedC};
use super::num::floatexp::{Cx, FloatExp, Real};
use super::lanes;
use super::orbit::ReferenceOrbit;
use crate::arch::Work;
use crate::arch::x86::delta::DeltaLockstep;
use crate::kernel::{ESCAPE_RADIUS_SQ, Escape, Kernel, SampleGrid, Slope};

/// Where a frame's samples lie relative to its reference point, in extended precision.
///
/// The sample at offsets `(u, v)` (in samples, `v` downwards) from the frame center lies at
/// `frame center + s (u cos θ + v sin θ) + i s (u sin θ - v cos θ)`, `s` the spacing and `θ`
/// the rotation; the two real factors are formed in `f64` (exact up to one rounding each) and
/// multiplied by `s` in [`FloatExp`]. That is the first pass's point, within about `2^-53`
/// relative of the exact one; the second pass ([`PerturbKernel::recompute`]) iterates the exact
/// point of the frame's [`FrameGeometry`] instead.
#[derive(Debug, Clone, Copy)]
pub struct DeltaGrid {
    /// `frame center - reference point`.
    pub offset: Cx<FloatExp>,
    /// The sample spacing `s`.
    pub step: FloatExp,
    /// `cos θ`, `sin θ`.
    pub cos: f64,
    pub sin: f64,
    /// `Some` for the rings of an exponential map: sample `(u, v)` then lies at
    /// `exp(ln_top - (v + rows / 2) ln_step)` times the unit vector of angle column
    /// `u - 0.5 + angles / 2` from the frame center, as in [`crate::kernel::PolarRings`]
    /// (`step` is then only the scale of the derivative).
    pub rings: Option<DeltaRings>,
}

/// The rings of a [`DeltaGrid`]: [`crate::kernel::PolarRings`] and the grid's size.
#[derive(Debug, Clone, Copy)]
pub struct DeltaRings {
    pub rings: crate::kernel::PolarRings,
    /// Half the number of angles and of rings.
    pub half_x: f64,
    pub half_y: f64,
}

impl DeltaGrid {
    /// The grid of a frame `width = exp(ln_width)` wide, turned by `rotation_deg`, with
    /// `samples_x` samples across, centered `offset` away from the reference.
    #[cfg(any(test, feature = "internals"))]
    pub fn new(
        offset: Cx<FloatExp>,
        ln_width: f64,
        rotation_deg: f64,
        samples_x: u32,
    ) -> DeltaGrid {
        let step = FloatExp::exp(ln_width) * FloatExp::from_f64(1.0 / f64::from(samples_x));
        let (sin, cos) = rotation_deg.to_radians().sin_cos();
        DeltaGrid {
            offset,
            step,
            cos,
            sin,
            rings: None,
        }
    }

    /// The grid of `rows` rings of `angles` samples (see [`crate::kernel::PolarRings`]) about
    /// a point `offset` away from the reference, its derivatives scaled by `spacing`.
    pub fn rings(
        offset: Cx<FloatExp>,
        rings: crate::kernel::PolarRings,
        angles: u32,
        rows: u32,
        spacing: FloatExp,
    ) -> DeltaGrid {
        DeltaGrid {
            offset,
            step: spacing,
            cos: 1.0,
            sin: 0.0,
            rings: Some(DeltaRings {
                rings,
                half_x: 0.5 * f64::from(angles),
                half_y: 0.5 * f64::from(rows),
            }),
        }
    }

    /// The grid of a frame with exact geometry `g` around the reference point `reference`
    /// (same precision): offset and spacing are the exact values rounded to [`FloatExp`].
    pub fn from_geometry(g: &super::FrameGeometry, reference: &FixedC) -> DeltaGrid {
        DeltaGrid {
            offset: g.center.sub(&reference.with_frac(g.frac())).to_fe(),
            step: g.spacing.to_fe(),
            cos: g.cos,
            sin: g.sin,
            rings: None,
        }
    }

    /// The sample at offsets `(u, v)` (in samples) minus the frame center.
    #[inline]
    pub fn sample_offset(&self, u: f64, v: f64) -> Cx<FloatExp> {
        if let Some(r) = &self.rings {
            let radius = FloatExp::exp(r.rings.ln_top - (v + r.half_y) * r.rings.ln_step);
            let sx = (u - 0.5 + r.half_x) as usize;
            let units = r.rings.units;
            return Cx {
                re: radius * FloatExp::from_f64(units.re[sx]),
                im: radius * FloatExp::from_f64(units.im[sx]),
            };
        }
        let (du, dv) = (u * self.cos + v * self.sin, u * self.sin - v * self.cos);
        Cx {
            re: self.step * FloatExp::from_f64(du),
            im: self.step * FloatExp::from_f64(dv),
        }
    }

    /// `δc` of the sample at offsets `(u, v)` (in samples) from the frame center.
    #[inline]
    pub fn delta(&self, u: f64, v: f64) -> Cx<FloatExp> {
        self.offset.add(self.sample_offset(u, v))
    }

    /// An upper bound of `|δc|` over a `samples_x` x `samples_y` grid.
    pub fn max_delta(&self, samples_x: u32, samples_y: u32) -> FloatExp {
        let (hx, hy) = (0.5 * f64::from(samples_x), 0.5 * f64::from(samples_y));
        // (1 + 1e-15: the factors of `sample_offset` are rounded in f64.)
        if let Some(r) = &self.rings {
            return self.offset.norm() + FloatExp::exp(r.rings.ln_top) * FloatExp::from_f64(1.0 + 1e-15);
        }
        let corner = (hx * hx + hy * hy).sqrt() * (1.0 + 1e-15);
        self.offset.norm() + self.step * FloatExp::from_f64(corner)
    }
}

/// Fraction limbs of direct iterations for the frame of `grid`: `-log2 spacing + 128` bits.
fn exact_frac(grid: &DeltaGrid) -> usize {
    let bits = (-grid.step.log2_abs()).ceil().max(0.0) as u64 + 128;
    Fixed::frac_for_bits(bits)
}

/// Outcome of one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg(any(test, feature = "internals"))]
pub struct SampleResult {
    pub escape: Escape,
    /// The escape's slope ([`Slope::NONE`] for interior samples).
    pub slope: Slope,
    /// Iterations represented (`n` at the end), comparable to other kernels' counts.
    pub iterations: u64,
    /// Perturbation steps plus BLA steps actually computed.
    pub steps: u64,
    pub glitch: bool,
    /// The sample ended ill-conditioned ([`lanes::Conditioning`]): its count needs more
    /// precision ([`PerturbKernel::recompute`]).
    pub ill_conditioned: bool,
}

/// Iterates one sample with delta type `T`; `spacing` and `conditioning` as in
/// [`lanes::Frame`].
#[inline(never)]
#[cfg(any(test, feature = "internals"))]
pub fn iterate<T: Real>(
    orbit: &ReferenceOrbit,
    table: &BlaTable<T>,
    dc: Cx<T>,
    max_iterations: u32,
    spacing: T,
    conditioning: &lanes::Conditioning,
) -> SampleResult {
    let last = orbit.len() - 1;
    let mut dz = Cx::<T>::zero();
    let mut e = Cx::<T>::zero();
    let mut m = 0usize;
    let mut n = 0u32;
    let mut steps = 0u64;
    let done = |escape, slope, n: u32, steps, glitch, ill| SampleResult {
        escape,
        slope,
        iterations: u64::from(n),
        steps,
        glitch,
        ill_conditioned: ill,
    };
    loop {
        let zr = orbit.z_at::<T>(m);
        let z = zr.add(dz);
        let (x, y) = z.to_f64();
        let norm = lanes::norm_sqr(Cx::<f64>::new(x, y));
        if norm > ESCAPE_RADIUS_SQ {
            let ill = conditioning.ill(e, norm, dc, n);
            let slope = Slope::at_escape([x, y], e.to_f64_pair());
            return done(Escape::escaped(n, norm), slope, n, steps, false, ill);
        }
        if n >= max_iterations {
            let ill = conditioning.ill(e, norm, dc, n);
            return done(Escape::INTERIOR, Slope::NONE, n, steps, false, ill);
        }
        let mut dn = lanes::norm_sqr(dz);
        if !dn.is_finite() {
            return done(Escape::INTERIOR, Slope::NONE, n, steps, true, false);
        }
        let mut zr = zr;
        // |z|^2 is `norm` for f64 deltas; FloatExp needs its own (norm may underflow).
        let zn = if T::EXTENDED {
            lanes::norm_sqr(z)
        } else {
            T::from_f64(norm)
        };
        if m == last || zn.lt(dn) {
            dz = z;
            dn = zn;
            m = 0;
            zr = Cx::zero();
        }
        if let Some((b, len)) = table.step_at(m, dn, max_iterations - n) {
            dz = b.a.mul(dz).add(b.b.mul(dc));
            e = b.a.mul(e).add(b.b.scale(spacing));
            m += len as usize;
            n += len;
            steps += 1;
            continue;
        }
        e = lanes::derivative_step(zr, dz, e, spacing);
        dz = lanes::step(zr, dz, dc);
        m += 1;
        n += 1;
        steps += 1;
    }
}

/// The arguments of [`dd::iterate_many`], as work for [`DeltaLockstep::with_fma`].
struct DdManyPass<'a, F> {
    orbit: &'a ReferenceOrbit,
    table: &'a DdBlaTable,
    dcs: &'a [DdCx],
    max_iterations: u32,
    spacing: FloatExp,
    ill: F,
    simd: Option<DeltaLockstep>,
}

impl<F: Fn(usize, Cx<FloatExp>, f64, u32) -> bool> Work for DdManyPass<'_, F> {
    type Output = Vec<dd::DdResult>;
    #[inline(always)]
    fn call(self) -> Vec<dd::DdResult> {
        dd::iterate_many(
            self.orbit,
            self.table,
            self.dcs,
            self.max_iterations,
            self.spacing,
            self.ill,
            self.simd,
        )
    }
}

/// The error of `z` at a sample's end, relative to `max(|z|, 1)`, above which the sample is
/// iterated again with more precision.
///
/// Perturbation follows the orbit of a point some `σ` spacings away from the sample: each step
/// rounds `δz` relatively by about `ε` (`2^-53` for `f64`), and as long as `δz ≈ δc dz/dc` that
/// is a shift of `c` by `ε |δc|`; over `n` steps the shifts add up like a random walk. So
/// `σ ≈ ε max(|δc| / s, 1) sqrt(n)` (`s`: the spacing); measured for the samples of
/// `tests/deep_accuracy.rs` (24 samples across, `|δc| <= 15 s`, `n ≈ 2,000`): `1e-13.5` to
/// `1e-12.8` spacings (`cargo run --release --example deep_explore -- diagnose_misses`), against `5e-14` from the
/// formula. A shift of `c` by `σ` spacings moves `z_n` by about `σ |e_n|` (`e = s dz/dc`), so
/// with `σ |e_N| < 1e-3 max(|z_N|, 1)` the escape count holds unless `|z_N|` lies that close
/// to the escape radius (then it is off by one). Samples above that are ill-conditioned: their
/// counts change by tens to hundreds of iterations between points `1e-12` spacings apart
/// (docs/DEEP.md), so `f64` deltas cannot give them; [`PerturbKernel::recompute`] does.
pub const ILL_CONDITIONED_TOLERANCE: f64 = 1e-3;

/// Relative rounding of one perturbation step in `f64` (and in [`FloatExp`]).
pub const F64_PRECISION: f64 = 1.0 / (1u64 << 53) as f64;

/// Relative rounding of one step in [`super::num::dd::DdExp`] (about 104 bits).
pub const DD_PRECISION: f64 = F64_PRECISION * F64_PRECISION * 4.0;

/// A frame's perturbation kernel.
pub struct PerturbKernel<T: Real> {
    orbit: Arc<ReferenceOrbit>,
    table: BlaTable<T>,
    grid: DeltaGrid,
    glitches: Arc<AtomicU64>,
    steps: AtomicU64,
    chunked_steps: AtomicU64,
    /// The reference point at the precision of direct iterations (`-log2 spacing + 128` bits).
    exact_reference: FixedC,
    /// [`ILL_CONDITIONED_TOLERANCE`] (other values in tests).
    tolerance: f64,
    /// Samples iterated again (ill-conditioned ones), in [`super::dd`] or directly.
    exact_samples: Arc<AtomicU64>,
    /// The frame's exact geometry: the points the second pass iterates
    /// ([`PerturbKernel::exact_point`]).
    geometry: Option<Arc<FrameGeometry>>,
    /// Of those, samples iterated directly in fixed point.
    fixed_samples: AtomicU64,
    /// `|δc|` bound of the frame, and the double-double BLA table, built for the first
    /// ill-conditioned sample.
    max_dc: FloatExp,
    dd_table: OnceLock<DdBlaTable>,
    /// Orbit indices stepped in `FloatExp` even when the delta fits `f64` (`FloatExp` frames).
    small: Vec<u32>,
    /// The SIMD lockstep loop of [`lanes`], where the CPU has one.
    simd: Option<DeltaLockstep>,
}

impl<T: Real> std::fmt::Debug for PerturbKernel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerturbKernel")
            .field("numbers", &T::NAME)
            .field("orbit_len", &self.orbit.len())
            .field("bla_levels", &self.table.levels())
            .finish()
    }
}

impl<T: Real> PerturbKernel<T> {
    /// A kernel for the frame `grid` describes, with BLA tolerance `eps` (0 disables BLA).
    pub fn new(
        orbit: Arc<ReferenceOrbit>,
        grid: DeltaGrid,
        samples_x: u32,
        samples_y: u32,
        eps: f64,
        glitches: Arc<AtomicU64>,
    ) -> Self {
        let table = if eps > 0.0 {
            BlaTable::build(&orbit, grid.max_delta(samples_x, samples_y), eps)
        } else {
            BlaTable::empty()
        };
        let small = if T::EXTENDED {
            lanes::small_entries(&orbit)
        } else {
            Vec::new()
        };
        let frac = exact_frac(&grid).max(orbit.frac());
        let exact_reference = orbit.center().with_frac(frac);
        PerturbKernel {
            orbit,
            table,
            grid,
            glitches,
            steps: AtomicU64::new(0),
            chunked_steps: AtomicU64::new(0),
            exact_reference,
            tolerance: ILL_CONDITIONED_TOLERANCE,
            exact_samples: Arc::default(),
            geometry: None,
            fixed_samples: AtomicU64::new(0),
            max_dc: grid.max_delta(samples_x, samples_y),
            dd_table: OnceLock::new(),
            small,
            simd: crate::kernel::select::delta_lockstep(),
        }
    }

    /// This kernel with the reference point given more exactly than the orbit's (`reference`
    /// must be the same point: the orbit's center is a truncation of it), and a counter of the
    /// samples iterated directly.
    pub fn with_exact_reference(mut self, reference: FixedC, counter: Arc<AtomicU64>) -> Self {
        let frac = exact_frac(&self.grid).max(reference.frac());
        self.exact_reference = reference.with_frac(frac);
        self.exact_samples = counter;
        self
    }

    /// This kernel with the frame's exact geometry: ill-conditioned samples are iterated at
    /// the exact points of the mapping ([`FrameGeometry::point`]), not at the reference point
    /// plus the [`FloatExp`] offsets of the first pass.
    pub fn with_geometry(mut self, geometry: Arc<FrameGeometry>) -> Self {
        self.geometry = Some(geometry);
        self
    }

    /// This kernel with another tolerance for ill-conditioned samples (0: every sample is
    /// iterated again, and every one of those directly; for tests).
    #[cfg(any(test, feature = "internals"))]
    pub fn with_tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Samples iterated again (ill-conditioned) so far, in double-double or directly.
    #[cfg(any(test, feature = "internals"))]
    pub fn exact_samples(&self) -> u64 {
        self.exact_samples.load(Ordering::Relaxed)
    }

    /// Of [`PerturbKernel::exact_samples`], those iterated directly in fixed point.
    #[cfg(any(test, feature = "internals"))]
    pub fn fixed_samples(&self) -> u64 {
        self.fixed_samples.load(Ordering::Relaxed)
    }

    /// The test for ill-conditioned samples at relative rounding `precision`.
    fn conditioning(&self, precision: f64) -> lanes::Conditioning {
        let inv_spacing = self.grid.step.recip().to_f64();
        lanes::Conditioning {
            inv_spacing_sq: (self.grid.step * self.grid.step).recip(),
            inv_spacing: if inv_spacing.is_normal() {
                inv_spacing
            } else {
                0.0
            },
            precision,
            tolerance: self.tolerance,
        }
    }

    /// The sample at offsets `(u, v)` from the frame center, at `-log2 spacing + 128` bits:
    /// the exact point of the frame's geometry ([`FrameGeometry::point`]); without one (kernels
    /// built by hand in tests), reference point + frame offset + sample offset added in fixed
    /// point.
    fn exact_point(&self, u: f64, v: f64) -> FixedC {
        let frac = self.exact_reference.frac();
        if let Some(g) = &self.geometry {
            return g.point(u, v).with_frac(frac);
        }
        self.exact_reference
            .add(&FixedC::from_fe(self.grid.offset, frac))
            .add(&FixedC::from_fe(self.grid.sample_offset(u, v), frac))
    }

    /// An ill-conditioned sample again: perturbation in double-double ([`super::dd`]) from the
    /// exact offset of the sample's point to the orbit's reference point, and where that is
    /// still ill-conditioned, direct fixed-point iteration of the point
    /// ([`PerturbKernel::exact_escape`]).
    #[cfg(any(test, feature = "internals"))]
    pub fn recompute(&self, u: f64, v: f64, max_iterations: u32) -> (Escape, Slope) {
        self.recompute_many(&[(u, v)], max_iterations)[0]
    }

    /// [`PerturbKernel::recompute`] for the samples at offsets `(u, v)` of `points`, their
    /// double-double passes several at a time ([`dd::iterate_many`]; the same results).
    pub fn recompute_many(
        &self,
        points: &[(f64, f64)],
        max_iterations: u32,
    ) -> Vec<(Escape, Slope)> {
        self.exact_samples
            .fetch_add(points.len() as u64, Ordering::Relaxed);
        self.recompute_dd(points, max_iterations)
            .iter()
            .zip(points)
            .map(|(r, &(u, v))| {
                if !r.ill_conditioned {
                    return (r.escape, r.slope);
                }
                self.fixed_samples.fetch_add(1, Ordering::Relaxed);
                self.exact_escape(u, v, max_iterations)
            })
            .collect()
    }

    /// The double-double passes of [`PerturbKernel::recompute_many`].
    fn recompute_dd(&self, points: &[(f64, f64)], max_iterations: u32) -> Vec<dd::DdResult> {
        if points.is_empty() {
            // (Most bands: and then the double-double BLA table is not built.)
            return Vec::new();
        }
        let dcs: Vec<DdCx> = points
            .iter()
            .map(|&(u, v)| {
                let c = self.exact_point(u, v);
                let d = c.sub(&self.orbit.center().with_frac(c.frac()));
                DdCx {
                    re: of_fixed(&d.re),
                    im: of_fixed(&d.im),
                }
            })
            .collect();
        let dc_fe: Vec<Cx<FloatExp>> = dcs.iter().map(|d| d.to_fe()).collect();
        let cond = self.conditioning(DD_PRECISION);
        let table = self
            .dd_table
            .get_or_init(|| DdBlaTable::build(&self.orbit, self.max_dc));
        let pass = DdManyPass {
            orbit: &self.orbit,
            table,
            dcs: &dcs,
            max_iterations,
            spacing: self.grid.step,
            ill: |i: usize, e, norm, n| cond.ill(e, norm, dc_fe[i], n),
            simd: self.simd,
        };
        // Compiled with FMA where the CPU has it (same results; `two_prod` is one instruction).
        match self.simd {
            Some(simd) => simd.with_fma(pass),
            None => pass.call(),
        }
    }

    /// Direct fixed-point iteration of the sample at offsets `(u, v)` from the frame center:
    /// reference point + frame offset + sample offset, all added in fixed point at
    /// `-log2 spacing + 128` bits (the point the perturbation follows). The derivative
    /// `e = s dz/dc` of its [`Slope`] is iterated beside it in [`FloatExp`], from `z` rounded
    /// to `f64` (the derivative's own error stays relative: `2^-53` per step).
    pub fn exact_escape(&self, u: f64, v: f64, max_iterations: u32) -> (Escape, Slope) {
        let c = self.exact_point(u, v);
        let frac = c.frac();
        let mut z = FixedC::zero(frac);
        let mut e = Cx::<FloatExp>::zero();
        let spacing = self.grid.step;
        for n in 0..=max_iterations {
            let norm = z.norm_sqr_f64();
            let (x, y) = z.to_f64();
            if norm > ESCAPE_RADIUS_SQ {
                return (Escape::escaped(n, norm), Slope::at_escape([x, y], e.to_f64_pair()));
            }
            if n == max_iterations {
                break;
            }
            let p = Cx::<FloatExp>::from_f64(x, y).mul(e);
            e = Cx {
                re: p.re.double() + spacing,
                im: p.im.double(),
            };
            z = z.sqr_add(&c);
        }
        (Escape::INTERIOR, Slope::NONE)
    }

    /// This kernel with the portable lockstep loop of [`lanes`] instead of the SIMD one (same
    /// results; for comparisons in tests and benchmarks).
    #[cfg(any(test, feature = "internals"))]
    pub fn portable_lanes(mut self) -> Self {
        self.simd = None;
        self
    }

    /// The lockstep loop's implementation: `"portable"`, `"avx2"` or `"avx512"`.
    #[cfg(any(test, feature = "internals"))]
    pub fn lanes_name(&self) -> &'static str {
        self.simd.map_or("portable", DeltaLockstep::name)
    }

    /// One sample at offsets `(u, v)` (in samples) from the frame center, by perturbation only
    /// (an ill-conditioned result is flagged, not recomputed).
    #[cfg(any(test, feature = "internals"))]
    pub fn sample(&self, u: f64, v: f64, max_iterations: u32) -> SampleResult {
        let dc = Cx::<T>::from_fe(self.grid.delta(u, v));
        iterate(
            &self.orbit,
            &self.table,
            dc,
            max_iterations,
            T::from_fe(self.grid.step),
            &self.conditioning(F64_PRECISION),
        )
    }

    /// One row the way the colleague's first kernel did it: one sample at a time through
    /// [`iterate`] (BLA tried at every level start). For comparisons in tests and benchmarks;
    /// returns the iterations represented.
    #[cfg(any(test, feature = "internals"))]
    pub fn escape_row_scalar(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        let v = grid.v(sy);
        let mut iterations = 0;
        for (sx, slot) in (0u32..).zip(out.iter_mut()) {
            let r = self.sample(grid.u(sx), v, max_iterations);
            *slot = if r.ill_conditioned {
                self.recompute(grid.u(sx), v, max_iterations).0
            } else {
                r.escape
            };
            iterations += r.iterations;
        }
        iterations
    }

    /// Samples with an untrustworthy result so far.
    #[cfg(any(test, feature = "internals"))]
    pub fn glitches(&self) -> u64 {
        self.glitches.load(Ordering::Relaxed)
    }

    /// Perturbation plus BLA steps computed so far (the real work).
    #[cfg(any(test, feature = "internals"))]
    pub fn steps(&self) -> u64 {
        self.steps.load(Ordering::Relaxed)
    }

    /// Of [`PerturbKernel::steps`], the lockstep steps taken untested in chunks
    /// ([`super::bounds::chunk_limits`]).
    #[cfg(any(test, feature = "internals"))]
    pub fn chunked_steps(&self) -> u64 {
        self.chunked_steps.load(Ordering::Relaxed)
    }

    /// Bytes of the BLA tables (the double-double one once built).
    #[cfg(any(test, feature = "internals"))]
    pub fn table_bytes(&self) -> usize {
        self.table.memory_bytes() + self.dd_table.get().map_or(0, DdBlaTable::memory_bytes)
    }
}

impl<T: Real> Kernel for PerturbKernel<T> {
    fn name(&self) -> &'static str {
        if T::EXTENDED {
            "perturb-floatexp"
        } else {
            "perturb-f64"
        }
    }

    fn escape_row(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        self.escape_rows(grid, sy..sy + 1, max_iterations, out)
    }

    /// The rows' first passes one after another, then the second pass of all their
    /// ill-conditioned samples together ([`PerturbKernel::recompute_many`]), so that more of
    /// them are in flight at once.
    fn escape_rows(
        &self,
        grid: &SampleGrid,
        rows: std::ops::Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        self.rows(grid, rows, max_iterations, out, &mut [])
    }

    fn slope_rows(
        &self,
        grid: &SampleGrid,
        rows: std::ops::Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> u64 {
        assert_eq!(slopes.len(), out.len(), "slope_rows: slope size");
        self.rows(grid, rows, max_iterations, out, slopes)
    }
}

impl<T: Real> PerturbKernel<T> {
    /// [`Kernel::escape_rows`], and [`Kernel::slope_rows`] unless `slopes` is empty. (Every
    /// sample's derivative is carried anyway, for the conditioning test: storing it is all the
    /// slopes cost here.)
    fn rows(
        &self,
        grid: &SampleGrid,
        rows: std::ops::Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> u64 {
        let width = grid.samples_x as usize;
        assert_eq!(out.len(), rows.len() * width, "escape_rows: output size");
        if width == 0 {
            return 0;
        }
        let frame = lanes::Frame {
            orbit: &self.orbit,
            table: &self.table,
            small: &self.small,
            max_iterations,
            simd: self.simd,
            spacing: T::from_fe(self.grid.step),
            conditioning: self.conditioning(F64_PRECISION),
        };
        let mut iterations = 0;
        // The ill-conditioned samples: their places in `out` and their offsets `(u, v)`.
        let (mut places, mut points) = (Vec::new(), Vec::new());
        let with_slopes = !slopes.is_empty();
        for (r, (sy, row)) in rows.zip(out.chunks_exact_mut(width)).enumerate() {
            let v = grid.v(sy);
            let row_slopes = if with_slopes {
                &mut slopes[r * width..(r + 1) * width]
            } else {
                &mut []
            };
            let stats = lanes::run_row(
                &frame,
                |i| Cx::<T>::from_fe(self.grid.delta(grid.u(i as u32), v)),
                row,
                row_slopes,
            );
            for &i in &stats.ill_conditioned {
                places.push(r * width + i);
                points.push((grid.u(i as u32), v));
            }
            iterations += stats.iterations;
            self.steps.fetch_add(stats.steps, Ordering::Relaxed);
            self.chunked_steps
                .fetch_add(stats.chunked_steps, Ordering::Relaxed);
            if stats.glitches > 0 {
                self.glitches.fetch_add(stats.glitches, Ordering::Relaxed);
            }
        }
        for (i, (e, slope)) in places
            .into_iter()
            .zip(self.recompute_many(&points, max_iterations))
        {
            out[i] = e;
            if with_slopes {
                slopes[i] = slope;
            }
        }
        iterations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::{Fixed, FixedC};

    fn orbit() -> Arc<ReferenceOrbit> {
        let c = FixedC {
            re: Fixed::parse("-0.743291890852430196", 4).unwrap(),
            im: Fixed::parse("0.131240552308797611", 4).unwrap(),
        };
        Arc::new(ReferenceOrbit::compute(&c, 3000, &mut |_| {}))
    }

    /// The glitch criterion (a delta that is NaN while `|z|` has not escaped) is counted: a
    /// deliberately broken frame (NaN offset) makes every sample a glitch, and no sample of a
    /// sound frame is one.
    #[test]
    fn glitches_are_counted() {
        let grid = SampleGrid::new(num_complex::Complex64::new(0.0, 0.0), 1.0, 0.0, 20, 2, 1);
        for (nan, extended) in [(true, false), (true, true), (false, false), (false, true)] {
            let offset = if nan {
                Cx::from_f64(f64::NAN, 0.0)
            } else {
                Cx::zero()
            };
            let delta = DeltaGrid::new(offset, -30.0 * std::f64::consts::LN_10, 0.0, 20);
            let glitches = Arc::new(AtomicU64::new(0));
            let mut row = vec![Escape::INTERIOR; 20];
            if extended {
                let k = PerturbKernel::<FloatExp>::new(orbit(), delta, 20, 2, 1e-16, glitches);
                k.escape_row(&grid, 0, 3000, &mut row);
                assert_eq!(k.glitches(), if nan { 20 } else { 0 });
            } else {
                let k = PerturbKernel::<f64>::new(orbit(), delta, 20, 2, 1e-16, glitches);
                k.escape_row(&grid, 0, 3000, &mut row);
                assert_eq!(k.glitches(), if nan { 20 } else { 0 });
            }
        }
    }

    /// The double-double pass gives the direct fixed-point counts, for an `f64` frame (1e-30)
    /// and a `FloatExp` frame (1e-300, where it starts in `DdExp` and goes on in plain
    /// double-double), offset from the reference and turned, near the Misiurewicz point
    /// `M(24,2)` (so that the samples' counts differ).
    #[test]
    fn double_double_pass_matches_direct_iteration() {
        let frac = 20;
        let start = FixedC {
            re: Fixed::parse("-0.74329189085243019", frac).unwrap(),
            im: Fixed::parse("0.13124055230879761", frac).unwrap(),
        };
        let (m, _) = crate::deep::locate::newton(&start, 24, 2, 100).unwrap();
        for (depth, max, extended) in [(30.0, 3000, false), (300.0, 13000, true)] {
            let ln_w = -depth * std::f64::consts::LN_10;
            let near = FixedC::from_fe(
                Cx {
                    re: FloatExp::exp(ln_w) * FloatExp::from_f64(0.17),
                    im: FloatExp::exp(ln_w) * FloatExp::from_f64(0.11),
                },
                frac,
            );
            let orbit = Arc::new(ReferenceOrbit::compute(&m.add(&near), max, &mut |_| {}));
            let off = FloatExp::exp(ln_w) * FloatExp::from_f64(0.3);
            let delta = DeltaGrid::new(Cx { re: off, im: off }, ln_w, 33.0, 24);
            let check = |rec: &dyn Fn(f64, f64) -> (dd::DdResult, Escape)| {
                let (mut ill, mut counts) = (0, Vec::new());
                for k in 0..24 {
                    let (u, v) = (f64::from(k) - 11.5, f64::from(k % 5) - 2.5);
                    let (r, want) = rec(u, v);
                    ill += u32::from(r.ill_conditioned);
                    counts.push(want.n);
                    if !r.ill_conditioned {
                        assert_eq!(r.escape.n, want.n, "1e-{depth} sample {k}");
                    }
                }
                counts.sort_unstable();
                counts.dedup();
                assert!(ill <= 2, "{ill} ill-conditioned");
                assert!(counts.len() > 8, "{} counts", counts.len());
            };
            if extended {
                let k = PerturbKernel::<FloatExp>::new(orbit, delta, 24, 8, 1e-16, Arc::default());
                check(&|u, v| (k.recompute_dd(&[(u, v)], max)[0], k.exact_escape(u, v, max).0));
            } else {
                let k = PerturbKernel::<f64>::new(orbit, delta, 24, 8, 1e-16, Arc::default());
                check(&|u, v| (k.recompute_dd(&[(u, v)], max)[0], k.exact_escape(u, v, max).0));
            }
        }
    }

    /// The lane engine and the one-sample loop agree on an `f64` frame.
    #[test]
    fn lanes_match_one_by_one() {
        let n = 64;
        let grid = SampleGrid::new(num_complex::Complex64::new(0.0, 0.0), 1.0, 0.0, n, 4, 1);
        let delta = DeltaGrid::new(Cx::zero(), -30.0 * std::f64::consts::LN_10, 0.0, n);
        let k = PerturbKernel::<f64>::new(orbit(), delta, n, 4, 0.0, Arc::default());
        let (mut a, mut b) = (
            vec![Escape::INTERIOR; n as usize],
            vec![Escape::INTERIOR; n as usize],
        );
        for sy in 0..4 {
            let ia = k.escape_row(&grid, sy, 3000, &mut a);
            let ib = k.escape_row_scalar(&grid, sy, 3000, &mut b);
            // Without BLA both do the same operations in the same order.
            assert_eq!(a, b);
            assert_eq!(ia, ib);
        }
    }

    /// The SIMD lockstep loop and the portable one give the same rows, with and without BLA,
    /// for `f64` and `FloatExp` frames.
    #[test]
    fn simd_lanes_match_portable_lanes() {
        let n = 64;
        let grid = SampleGrid::new(num_complex::Complex64::new(0.0, 0.0), 1.0, 0.0, n, 4, 1);
        for (depth, eps) in [(30.0, 0.0), (30.0, 1e-16), (400.0, 1e-16)] {
            let delta = DeltaGrid::new(Cx::zero(), -depth * std::f64::consts::LN_10, 0.0, n);
            let (mut a, mut b) = (
                vec![Escape::INTERIOR; n as usize],
                vec![Escape::INTERIOR; n as usize],
            );
            for sy in 0..4 {
                let (ia, ib) = if depth > 300.0 {
                    let k = || {
                        PerturbKernel::<FloatExp>::new(orbit(), delta, n, 4, eps, Arc::default())
                    };
                    let (s, p) = (k(), k().portable_lanes());
                    (
                        s.escape_row(&grid, sy, 3000, &mut a),
                        p.escape_row(&grid, sy, 3000, &mut b),
                    )
                } else {
                    let k = || PerturbKernel::<f64>::new(orbit(), delta, n, 4, eps, Arc::default());
                    let (s, p) = (k(), k().portable_lanes());
                    (
                        s.escape_row(&grid, sy, 3000, &mut a),
                        p.escape_row(&grid, sy, 3000, &mut b),
                    )
                };
                assert_eq!(a, b);
                assert_eq!(ia, ib);
            }
        }
    }

    /// Slopes: the SIMD lockstep loop, the portable one and (where no sample is
    /// ill-conditioned and BLA is off) the one-sample loop give the same bits, and
    /// [`Kernel::slope_rows`] gives the escapes of [`Kernel::escape_rows`]; `f64` and
    /// `FloatExp` frames, with and without BLA.
    #[test]
    fn slopes_are_the_same_in_every_path() {
        let (n, h) = (64u32, 4u32);
        let grid = SampleGrid::new(num_complex::Complex64::new(0.0, 0.0), 1.0, 0.0, n, h, 1);
        let len = (n * h) as usize;
        let mut escaped = 0;
        for (depth, eps) in [(30.0, 0.0), (30.0, 1e-16), (400.0, 1e-16)] {
            let delta = DeltaGrid::new(Cx::zero(), -depth * std::f64::consts::LN_10, 0.0, n);
            let run = |k: &dyn Kernel| {
                let (mut e, mut s) = (vec![Escape::INTERIOR; len], vec![Slope::NONE; len]);
                k.slope_rows(&grid, 0..h, 3000, &mut e, &mut s);
                let mut plain = vec![Escape::INTERIOR; len];
                k.escape_rows(&grid, 0..h, 3000, &mut plain);
                assert_eq!(plain, e, "1e-{depth}, eps {eps}: escape_rows");
                (e, s)
            };
            let bits = |s: &[Slope]| -> Vec<[u32; 4]> {
                s.iter().map(|s| [s.z[0], s.z[1], s.e[0], s.e[1]].map(f32::to_bits)).collect()
            };
            let ((ea, sa), (eb, sb)) = if depth > 300.0 {
                let k = || PerturbKernel::<FloatExp>::new(orbit(), delta, n, h, eps, Arc::default());
                (run(&k()), run(&k().portable_lanes()))
            } else {
                let k = || PerturbKernel::<f64>::new(orbit(), delta, n, h, eps, Arc::default());
                if eps == 0.0 {
                    let one = k();
                    let (e, s) = run(&one);
                    for i in 0..len {
                        let (u, v) = (grid.u(i as u32 % n), grid.v(i as u32 / n));
                        let r = one.sample(u, v, 3000);
                        if !r.ill_conditioned {
                            assert_eq!((r.escape, bits(&[r.slope])), (e[i], bits(&[s[i]])));
                        }
                    }
                }
                (run(&k()), run(&k().portable_lanes()))
            };
            assert_eq!(ea, eb, "1e-{depth}, eps {eps}");
            assert_eq!(bits(&sa), bits(&sb), "1e-{depth}, eps {eps}");
            for (e, s) in ea.iter().zip(&sa) {
                assert_eq!(e.is_interior(), *s == Slope::NONE, "{e:?} {s:?}");
            }
            escaped += ea.iter().filter(|e| !e.is_interior()).count();
        }
        assert!(escaped > 300, "{escaped} escaped samples");
    }
}
