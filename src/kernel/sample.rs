//! The per-sample record every kernel writes and the coloring reads.
//!
//! A leaf of the crate: the kernels, the SIMD layer in [`crate::arch`], the deep-zoom loops and
//! the coloring all speak of samples in these terms, so it imports nothing of theirs. A sample's
//! record is its escape ([`Escape`]: the count `N` and the smooth fraction `NF`); the coloring
//! reads rows of records as a [`SampleRow`], whose fields are parallel slices. Data a coloring
//! may need beyond the escape (a derivative for distance estimation) becomes one more slice
//! there, filled only when asked for, so the plain path moves no byte more than the escape.

/// Bailout radius `R`. Large, so that the smooth count is close to continuous.
pub const ESCAPE_RADIUS: f64 = 256.0;
/// `R^2`, what `|z|^2` is compared with.
pub const ESCAPE_RADIUS_SQ: f64 = ESCAPE_RADIUS * ESCAPE_RADIUS;

/// The escape of one sample: the count `n` and the smooth fraction `nf`.
///
/// `#[repr(C)]`: the SIMD coloring ([`crate::arch::x86::color::DirectColor`]) reads eight of them as one vector.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct Escape {
    /// First `n` with `|z_n| > R`, or [`Escape::INTERIOR_N`].
    pub n: u32,
    /// Smooth fraction in `[0, 1)`; 0 for interior points.
    pub nf: f32,
}

impl Escape {
    /// `n` of a point that did not escape (the value Kalles Fraktaler uses too).
    pub const INTERIOR_N: u32 = u32::MAX;
    /// A point that did not escape.
    pub const INTERIOR: Escape = Escape {
        n: Self::INTERIOR_N,
        nf: 0.0,
    };

    /// Whether the point stayed bounded for the whole iteration budget.
    #[inline]
    pub fn is_interior(self) -> bool {
        self.n == Self::INTERIOR_N
    }

    /// The escape of a point whose `|z_n|^2` first exceeded `R^2` at step `n`.
    ///
    /// `NF = 1 - log2(ln|z| / ln R)`; with `R = 2^8` that is `5 - log2(log2(|z|^2))`. Both
    /// logarithms use [`log2_f32`] (see [`smooth_fraction`]): glibc's `log` and `log2` cost a
    /// fifth of a shallow frame's time, and plain arithmetic gives the same bits on every CPU
    /// and in every kernel.
    #[inline]
    pub fn escaped(n: u32, norm_sqr: f64) -> Escape {
        Escape {
            n,
            nf: smooth_fraction(norm_sqr),
        }
    }

    /// The continuous count `n + nf` (infinite for interior points).
    #[inline]
    pub fn smooth(self) -> f64 {
        if self.is_interior() {
            f64::INFINITY
        } else {
            f64::from(self.n) + f64::from(self.nf)
        }
    }
}

/// `NF` of a sample whose `|z_N|^2` is `norm_sqr` (> `R^2`): see [`Escape::escaped`].
///
/// `NF = 5 - log2(L)` with `L = log2 |z|^2` in `(16, 32]`, computed as `0 - log2(L / 32)` (a
/// result in `[-1, 0]` keeps more of `f32`'s bits than one near 5). `L` is the exponent of
/// `|z|^2`, exact, plus the `log2` of its mantissa rounded to `f32`. `NF` is stored as `f32`
/// and colors are 8-bit, so both logarithms are done in `f32` ([`log2_f32`]): the result is
/// within `3e-7` of the exact fraction, and vector kernels do the `f32` work at twice the lanes
/// and a third of the division cost of `f64`.
///
/// Branch-free, so that a loop over many samples vectorizes.
#[inline]
pub fn smooth_fraction(norm_sqr: f64) -> f32 {
    const _: () = assert!(ESCAPE_RADIUS == 256.0, "NF below assumes R = 2^8");
    let bits = norm_sqr.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let mantissa = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000) as f32;
    let log_norm = exponent as f32 + log2_f32(mantissa);
    let nf = 0.0 - log2_f32(log_norm * (1.0 / 32.0));
    // Just below 1 in f32, so that `n + nf` never reaches the next count.
    nf.clamp(0.0, 1.0 - f32::EPSILON / 2.0)
}

/// `log2(x)` for positive finite normal `x`, to within about `2e-7 max(|log2 x|, 1)`, with
/// plain `f32` arithmetic.
///
/// `x = m 2^e` with `m` in `[sqrt(1/2), sqrt(2))`, and `ln m = 2 atanh(s)` with
/// `s = (m - 1) / (m + 1)`, `|s| < 0.172`, summed to the `s^9` term (the next one is below
/// `3e-9`). No fused multiply-add and no libm, so the result is the same on every machine and
/// in every kernel.
#[inline]
pub fn log2_f32(x: f32) -> f32 {
    debug_assert!(x > 0.0 && x.is_normal());
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Fold [sqrt 2, 2) onto [sqrt(1/2), 1): selects, not branches, so loops vectorize.
    let high = m > std::f32::consts::SQRT_2;
    let m = if high { m * 0.5 } else { m };
    let exponent = exponent + i32::from(high);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    exponent as f32 + (2.0 * s * series) * std::f32::consts::LOG2_E
}

/// One pixel row's samples as the coloring step reads them: `supersample` consecutive sample
/// rows, one record per sample, each field a slice of the same length.
#[derive(Debug, Clone, Copy)]
pub struct SampleRow<'a> {
    /// Every sample's escape.
    pub escape: &'a [Escape],
    /// Every sample's [`Slope`], when the coloring asked for them (empty otherwise).
    pub slope: &'a [Slope],
}

/// Counts over a run of samples: the statistics a band keeps (its SIMD loop is
/// `crate::arch::x86::color::DirectColor::count`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EscapeCounts {
    /// Samples with [`Escape::INTERIOR_N`].
    pub interior: u64,
    /// Sum of the other samples' counts.
    pub sum: u64,
    /// Largest of the other samples' counts (0 when none).
    pub max: u32,
}

/// Where an escaped sample's orbit ended, for distance estimation and slope lighting: `z_N`
/// and `e_N = s dz_N/dc` (`s` the sample spacing, `dz_0 = 0`, `dz_{n+1} = 2 z_n dz_n + 1`),
/// both rounded to `f32`. Interior samples keep [`Slope::NONE`].
///
/// The derivative is carried scaled by the spacing (`e_{n+1} = 2 z_n e_n + s`, see
/// [`slope_step`]) so that it stays within `f64` at every depth: `|e_N|` is about
/// `|z_N| ln|z_N|` over the distance to the set in samples, whatever the zoom. From the pair
/// come the distance estimate in samples ([`Slope::distance`]), the direction away from the set
/// ([`Slope::direction`]) and the final angle ([`Slope::angle`]); they are computed by the
/// coloring, not by the kernels, so every kernel only has to agree on `z_N` and `e_N`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[repr(C)]
pub struct Slope {
    /// `z_N`.
    pub z: [f32; 2],
    /// `e_N = s dz_N/dc`.
    pub e: [f32; 2],
}

impl Slope {
    /// The record of a sample that did not escape.
    pub const NONE: Slope = Slope {
        z: [0.0; 2],
        e: [0.0; 2],
    };

    /// The record of `z_N` and `e_N`.
    #[inline]
    pub fn at_escape(z: [f64; 2], e: [f64; 2]) -> Slope {
        Slope {
            z: [z[0] as f32, z[1] as f32],
            e: [e[0] as f32, e[1] as f32],
        }
    }

    /// The distance estimate in samples, `2 |z_N| ln|z_N| / |e_N|`: about the distance from
    /// the sample to the nearest point of the set (within a factor of 4, Koebe). Infinite for
    /// a zero derivative (interior samples have [`Slope::NONE`]), 0 for an infinite one.
    #[inline]
    pub fn distance(self) -> f64 {
        let (zx, zy) = (f64::from(self.z[0]), f64::from(self.z[1]));
        let (ex, ey) = (f64::from(self.e[0]), f64::from(self.e[1]));
        let z_norm = zx * zx + zy * zy;
        let e_norm = ex * ex + ey * ey;
        // 2 |z| ln|z| = |z| ln|z|^2.
        (z_norm / e_norm).sqrt() * z_norm.ln()
    }

    /// The unit vector of `z_N / e_N` in the plane's axes: the direction in which the
    /// distance to the set grows (the gradient of the potential), `[0, 0]` where undefined.
    #[inline]
    pub fn direction(self) -> [f64; 2] {
        let (zx, zy) = (f64::from(self.z[0]), f64::from(self.z[1]));
        let (ex, ey) = (f64::from(self.e[0]), f64::from(self.e[1]));
        // z / e = z conj(e) / |e|^2: the direction of z conj(e).
        let (ux, uy) = (zx * ex + zy * ey, zy * ex - zx * ey);
        let len = (ux * ux + uy * uy).sqrt();
        if len > 0.0 && len.is_finite() {
            [ux / len, uy / len]
        } else {
            [0.0, 0.0]
        }
    }

    /// `arg(z_N) / 2 pi` in `[0, 1)`.
    #[inline]
    pub fn angle(self) -> f64 {
        let t = f64::from(self.z[1]).atan2(f64::from(self.z[0])) / std::f64::consts::TAU;
        let t = if t < 0.0 { t + 1.0 } else { t };
        if t >= 1.0 { 0.0 } else { t }
    }
}

/// One step of the scaled derivative, `e -> 2 z e + s` with `z = x + iy` the value before the
/// step, in the order every plain kernel uses, with fused multiply-adds (one rounding each):
/// `a = fma(x, ex, -(y ey))`, `b = fma(x, ey, y ex)`, then `(fma(2, a, s), b + b)`.
///
/// Fused, unlike the step of `z` (whose bits every kernel must share with plain arithmetic):
/// the derivative only feeds the coloring, FMA is exactly rounded on every CPU (in hardware, or
/// in the library's `fma` where a CPU lacks it), and it takes the derivative from 9 vector
/// operations per step to 6.
#[inline(always)]
pub fn slope_step(x: f64, y: f64, ex: f64, ey: f64, s: f64) -> (f64, f64) {
    let a = x.mul_add(ex, -(y * ey));
    let b = x.mul_add(ey, y * ex);
    (2.0f64.mul_add(a, s), b + b)
}
