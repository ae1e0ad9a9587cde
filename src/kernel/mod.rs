//! Escape time: how many steps of `z -> z^2 + c` a point survives.
//!
//! Everything that computes escape counts sits behind [`Kernel`], which fills one row of samples
//! at a time from a [`SampleGrid`]. The grid, not a list of points, is the interface so that a
//! kernel can compute coordinates itself: a SIMD kernel generates them in registers, and a
//! perturbation kernel needs each sample's offset from a reference point rather than the point.
//!
//! Conventions, shared by every kernel so that they agree bit for bit:
//! - `z_0 = 0`, `z_{n+1} = z_n^2 + c`; a sample escapes at `N`, the first `n` with
//!   `|z_n| > R` where `R` = [`ESCAPE_RADIUS`], provided `N <= max_iterations`. Points that do
//!   not escape within `max_iterations` steps are interior ([`Escape::INTERIOR`]).
//! - The smooth (continuous) count is `N + NF`, with `NF = 1 - log2(ln|z_N| / ln R)` in `[0, 1)`
//!   (the normalized iteration count of Linas Vepstas, "Renormalizing the Mandelbrot Escape",
//!   and of Kalles Fraktaler's `N`/`NF` files). It is continuous across the bands where `N`
//!   steps, so colors do not flicker as a zoom goes on.
//! - One step is computed as `x2 = x*x; y2 = y*y; (x2 + y2 > R^2)?; y = (x*y + x*y) + cy;
//!   x = (x2 - y2) + cx` with no fused multiply-add, so any kernel that keeps this operation
//!   order gets identical counts on any CPU.
//! - Optional periodicity detection ([`KernelOptions::periodicity`]): after each step the new
//!   `z_n` is compared, bit for bit in both components, with a saved `z`; the saved `z` starts as
//!   `z_0 = 0` and is replaced by `z_n` whenever `n` is a power of two from
//!   [`PERIODICITY_FIRST_SAVE`] on. Equality means the orbit has entered an exact cycle of
//!   floating-point values (the step is a deterministic function of the bits of `z`), all of
//!   whose members already passed the escape test, so the point can never escape: it is interior,
//!   and the iterations counted are the `n` steps actually done. This is R. P. Brent's cycle
//!   finder ("An improved Monte Carlo factorization algorithm", BIT 20 (1980), 176-184): with
//!   saves at powers of two, a cycle of length `p` entered at step `m` is found by step
//!   `2^j + p` for the first save `2^j >= max(m, p)`, at the cost of one comparison per step and
//!   no stored history. Since the test is exact, it never changes an [`Escape`], only the work
//!   spent on interior points. By default ([`KernelOptions::adaptive`]) the lane kernels switch
//!   it off for bands where it costs more than it saves (near the boundary, where few interior
//!   orbits settle into an exact cycle within the budget) and keep it where it pays.
//!
//! Kernels: [`ScalarKernel`] (the reference, one sample at a time), [`InterleavedKernel`]
//! (portable, several samples in flight), [`Avx2Kernel`] and [`Avx512Kernel`] (x86-64 SIMD,
//! constructed only where the CPU has the feature). [`select_kernel`] picks the best one at run
//! time or the one that `ZOOMGEN_KERNEL` names.

#[cfg(test)]
pub(crate) mod check;
pub mod interleaved;
pub mod sample;
pub mod scalar;
pub mod select;
pub mod simd;

use num_complex::Complex64;

pub use interleaved::InterleavedKernel;
pub use sample::{ESCAPE_RADIUS, ESCAPE_RADIUS_SQ, Escape, SampleRow, Slope, log2_f32};
// (PolarRings, UnitCircle and unit_circle are defined below.)
pub use scalar::ScalarKernelWith;
pub use select::select_kernel;

// For the tests and benches.
#[cfg(any(test, feature = "internals"))]
pub use sample::smooth_fraction;
#[cfg(any(test, feature = "internals"))]
pub use scalar::ScalarKernel;
#[cfg(any(test, feature = "internals"))]
pub use select::{
    KERNEL_ENV, KERNEL_NAMES, available_kernels, kernel_by_name, kernel_by_name_with,
    select_kernel_with,
};
pub use simd::{Avx2Kernel, Avx512Kernel};


/// The first step count at which periodicity detection saves `z` (then every power of two
/// after it); until then the saved value is `z_0 = 0`.
///
/// Why not 1: each save is a branch that a lane takes on its own schedule, which interrupts the
/// SIMD kernels' hot loop for all lanes (measured on seahorse-valley rows: saving from step 1 cost
/// 35% of the AVX-512 rate, from 256 about 10%). Orbits of interior points near the boundary
/// take hundreds of steps to settle into an exact cycle anyway, so detection rarely comes later
/// for it; points deep in a bulb still stop after about `256 + p` steps instead of running the
/// whole budget.
pub const PERIODICITY_FIRST_SAVE: u64 = 256;

/// Settings shared by all kernels; none of them changes an [`Escape`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelOptions {
    /// Detect orbits that entered an exact cycle and stop iterating them (see the module docs).
    /// Changes only the iteration counts that kernels return, never the escapes.
    pub periodicity: bool,
    /// With `periodicity`: let the lane kernels (interleaved, AVX2, AVX-512) switch detection
    /// off for bands where it costs more than it saves (see `interleaved::adaptive`). The
    /// iteration counts then depend on the order in which a thread renders bands; the escapes
    /// do not. The scalar reference ignores it.
    pub adaptive: bool,
}

impl KernelOptions {
    /// Periodicity detection always on, or always off (the same work in every kernel: what the
    /// tests compare with the reference).
    pub const fn fixed(periodicity: bool) -> Self {
        KernelOptions {
            periodicity,
            adaptive: false,
        }
    }
}

impl Default for KernelOptions {
    /// Periodicity detection, switched off by the lane kernels where it does not pay.
    fn default() -> Self {
        KernelOptions {
            periodicity: true,
            adaptive: true,
        }
    }
}

/// Where the samples of a frame lie in the complex plane.
///
/// Sample `(sx, sy)` of a `samples_x` by `samples_y` grid (the image size times the
/// supersampling factor) lies at `center + step_x * u + step_y * v` with
/// `u = sx + 0.5 - samples_x / 2` and `v = sy + 0.5 - samples_y / 2`: every coordinate comes
/// from whole-image indices, so a pixel does not depend on how the frame is cut into bands.
/// `step_x` is one sample to the right, `step_y` one sample down (`-i * step_x`): the rotation
/// turns both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleGrid {
    pub center: Complex64,
    pub step_x: Complex64,
    pub step_y: Complex64,
    pub samples_x: u32,
    pub samples_y: u32,
    /// `Some` for the rings of an exponential map ([`PolarRings`]), where `step_x` only sets
    /// the spacing that scales the derivative.
    pub polar: Option<PolarRings>,
}

/// The layout of an exponential map's grid: sample row `sy` is a ring about `center` of
/// radius `exp(ln_top - (sy + 0.5) ln_step)`, and sample column `sx` lies at the angle
/// `2 pi (sx + 0.5) / samples_x` on it (cosine and sine from [`unit_circle`], the same bits for
/// every kernel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolarRings {
    /// Natural log of the radius of the ring `sy = -0.5` (the grid's outer edge).
    pub ln_top: f64,
    /// Natural log of the ratio of one ring's radius to the next one's.
    pub ln_step: f64,
    /// The angles' unit vectors (`samples_x` of them).
    pub units: &'static UnitCircle,
}

impl PolarRings {
    /// Radius of ring `sy`.
    #[inline]
    pub fn radius(&self, sy: u32) -> f64 {
        (self.ln_top - (f64::from(sy) + 0.5) * self.ln_step).exp()
    }
}

/// `n` unit vectors at the angles `2 pi (k + 0.5) / n`, as two arrays padded with 8 zeros so
/// that vector loads past the last one stay in bounds.
#[derive(Debug, PartialEq)]
pub struct UnitCircle {
    /// `cos`, then 8 zeros.
    pub re: Box<[f64]>,
    /// `sin`, then 8 zeros.
    pub im: Box<[f64]>,
}

/// The [`UnitCircle`] of `n` angles, computed once per `n` for the life of the process (an
/// exponential map uses a handful of sizes; keeping them lets [`SampleGrid`] stay `Copy`).
pub fn unit_circle(n: u32) -> &'static UnitCircle {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CIRCLES: OnceLock<Mutex<HashMap<u32, &'static UnitCircle>>> = OnceLock::new();
    let mut circles = CIRCLES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    circles.entry(n).or_insert_with(|| {
        let angle = |k: u32| std::f64::consts::TAU * (f64::from(k) + 0.5) / f64::from(n);
        let padded = |f: fn(f64) -> f64| -> Box<[f64]> {
            (0..n)
                .map(|k| f(angle(k)))
                .chain(std::iter::repeat_n(0.0, 8))
                .collect()
        };
        Box::leak(Box::new(UnitCircle {
            re: padded(f64::cos),
            im: padded(f64::sin),
        }))
    })
}

impl SampleGrid {
    /// The grid of a `width` x `height` image with `supersample`^2 samples per pixel, showing a
    /// picture `plane_width` wide turned by `rotation_deg` about `center`.
    pub fn new(
        center: Complex64,
        plane_width: f64,
        rotation_deg: f64,
        width: u32,
        height: u32,
        supersample: u32,
    ) -> Self {
        let samples_x = width * supersample;
        let samples_y = height * supersample;
        let step = plane_width / f64::from(samples_x);
        let turn = Complex64::from_polar(1.0, rotation_deg.to_radians());
        let step_x = turn * step;
        let step_y = step_x * Complex64::new(0.0, -1.0);
        SampleGrid {
            center,
            step_x,
            step_y,
            samples_x,
            samples_y,
            polar: None,
        }
    }

    /// The grid of `rows` rings of `angles` samples each about `center` (see [`PolarRings`]),
    /// with `spacing` the scale of its [`sample::Slope`]s.
    pub fn rings(center: Complex64, rings: PolarRings, angles: u32, rows: u32, spacing: f64) -> Self {
        debug_assert_eq!(rings.units.re.len(), angles as usize + 8);
        SampleGrid {
            center,
            step_x: Complex64::new(spacing, 0.0),
            step_y: Complex64::new(0.0, -spacing),
            samples_x: angles,
            samples_y: rows,
            polar: Some(rings),
        }
    }

    /// Horizontal offset `u` of sample column `sx` from the center, in samples.
    #[inline]
    pub fn u(&self, sx: u32) -> f64 {
        f64::from(sx) + 0.5 - 0.5 * f64::from(self.samples_x)
    }

    /// Vertical offset `v` of sample row `sy` from the center, in samples (downwards).
    #[inline]
    pub fn v(&self, sy: u32) -> f64 {
        f64::from(sy) + 0.5 - 0.5 * f64::from(self.samples_y)
    }

    /// The sample spacing `s = |step_x|`, the scale of [`sample::Slope`]'s derivative; every
    /// kernel uses exactly this value.
    #[inline]
    pub fn spacing(&self) -> f64 {
        self.step_x.norm()
    }

    /// The image's x axis (one sample to the right) as a unit vector in the plane.
    #[inline]
    pub fn x_axis(&self) -> [f64; 2] {
        let step = self.spacing();
        [self.step_x.re / step, self.step_x.im / step]
    }

    /// The point of sample `(sx, sy)`; every kernel uses exactly this arithmetic.
    #[inline]
    pub fn point(&self, sx: u32, sy: u32) -> Complex64 {
        if let Some(p) = &self.polar {
            let r = p.radius(sy);
            let (cos, sin) = (p.units.re[sx as usize], p.units.im[sx as usize]);
            return Complex64::new(self.center.re + r * cos, self.center.im + r * sin);
        }
        let (u, v) = (self.u(sx), self.v(sy));
        let re = self.center.re + (self.step_x.re * u + self.step_y.re * v);
        let im = self.center.im + (self.step_x.im * u + self.step_y.im * v);
        Complex64::new(re, im)
    }
}

/// Computes escape counts for rows of samples.
///
/// Implementations must give the same [`Escape`] for the same sample as [`ScalarKernel`], the
/// reference. A kernel may hold per-frame data (a reference orbit), which is why it is an object
/// rather than a function.
pub trait Kernel: Send + Sync {
    /// Short name for logs and benchmarks (`scalar`, `avx2`, ...).
    fn name(&self) -> &'static str;

    /// Fills `out[i]` with the escape of sample `(i, sy)` of `grid`, for `i` in `0..out.len()`.
    ///
    /// Returns the number of iterations performed (a work measure for statistics: shortcuts
    /// that prove a point interior without iterating count as zero).
    fn escape_row(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64;

    /// Fills `out` with the escapes of sample rows `rows` of `grid`, row after row (`out[r * W +
    /// i]` is sample `(i, rows.start + r)`, `W = grid.samples_x`); `out.len()` must be
    /// `rows.len() * W`. Returns the iterations performed, like [`Kernel::escape_row`].
    ///
    /// The default calls [`Kernel::escape_row`] once per row. The lane kernels override it to
    /// stream all samples of the rows through one set of lanes, so that the few slow samples at
    /// the end of a row overlap with the next row's instead of running alone.
    fn escape_rows(
        &self,
        grid: &SampleGrid,
        rows: std::ops::Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        let width = grid.samples_x as usize;
        assert_eq!(out.len(), rows.len() * width, "escape_rows: output size");
        if width == 0 {
            return 0;
        }
        rows.zip(out.chunks_exact_mut(width))
            .map(|(sy, row)| self.escape_row(grid, sy, max_iterations, row))
            .sum()
    }

    /// [`Kernel::escape_rows`], and `slopes[i]` the [`Slope`] of sample `i` (the same layout;
    /// [`Slope::NONE`] for samples that do not escape): what distance estimation and slope
    /// lighting color from. The escapes are the same bits as [`Kernel::escape_rows`] gives, and
    /// the slopes the same bits as the scalar reference's, in every kernel; carrying the
    /// derivative costs only the frames that ask for it.
    fn slope_rows(
        &self,
        grid: &SampleGrid,
        rows: std::ops::Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> u64;
}

/// Whether `c` lies in the main cardioid or the period-2 bulb, where no point ever escapes.
///
/// The classic closed-form tests: `q = (x - 1/4)^2 + y^2`, inside the cardioid when
/// `q (q + (x - 1/4)) <= y^2 / 4`; inside the bulb when `(x + 1)^2 + y^2 <= 1/16`. Points exactly
/// on the boundary do not escape either, so the answer never differs from iterating.
#[inline]
pub fn in_cardioid_or_bulb(re: f64, im: f64) -> bool {
    let y2 = im * im;
    let xq = re - 0.25;
    let q = xq * xq + y2;
    if q * (q + xq) <= 0.25 * y2 {
        return true;
    }
    let xb = re + 1.0;
    xb * xb + y2 <= 0.0625
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_f32_matches_the_library_log2() {
        let mut x = 1e-37_f32;
        while x < 1e37 {
            for k in [1.0, 1.1, 1.41, 1.42, 1.7, 1.99] {
                let v = x * k;
                let exact = f64::from(v).log2();
                let err = (f64::from(log2_f32(v)) - exact).abs();
                assert!(
                    err < 2e-7 * exact.abs().max(1.0),
                    "log2({v:e}): error {err:e}"
                );
            }
            x *= 7.3;
        }
        assert_eq!(log2_f32(1.0), 0.0);
        assert_eq!(log2_f32(1024.0), 10.0);
    }

    #[test]
    fn smooth_fraction_follows_its_definition() {
        // Across (R^2, R^4], where the fraction runs from 1 to 0, and beyond (clamped).
        let mut norm = ESCAPE_RADIUS_SQ * (1.0 + 1e-9);
        while norm < 1e25 {
            let e = Escape::escaped(3, norm);
            let exact = 1.0 - (0.5 * f64::ln(norm) / ESCAPE_RADIUS.ln()).log2();
            let err = (f64::from(e.nf) - exact.clamp(0.0, 1.0)).abs();
            assert!(err < 3e-7, "{norm}: error {err:e}");
            assert!(e.nf >= 0.0 && e.nf < 1.0);
            norm *= 1.013;
        }
        // Just above R^2 the fraction is (just below) 1; at R^4 it is 0.
        assert!(Escape::escaped(1, ESCAPE_RADIUS_SQ * (1.0 + 1e-12)).nf > 0.999_99);
        assert_eq!(
            Escape::escaped(1, ESCAPE_RADIUS_SQ * ESCAPE_RADIUS_SQ).nf,
            0.0
        );
    }
}
