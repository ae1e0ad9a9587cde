//! The vector vocabulary of the lane engine: [`Simd`], a vector of `f64` lanes with the few
//! operations the engine needs, and [`Portable`], its implementation in plain arrays.
//!
//! The engine (`crate::kernel::interleaved`) is written once against this trait; the x86-64
//! implementations are in [`super::x86::escape`]. The trait's methods are safe: an
//! implementation whose operations need a CPU feature makes sure, through how its values can be
//! constructed, that the feature is there.

use std::array;

use crate::kernel::sample::{ESCAPE_RADIUS_SQ, smooth_fraction};

/// A vector of `f64` lanes and the few operations the engine needs.
///
/// The methods are safe: an implementation whose operations need a CPU feature must make sure
/// (through how its values can be constructed) that the feature is there.
pub(crate) trait Simd: Copy {
    /// Lanes per vector.
    const LANES: usize;
    /// A vector of `LANES` `f64`.
    type F: Copy;
    /// The result of a lane-wise comparison.
    type M: Copy;

    fn splat(self, v: f64) -> Self::F;
    /// Loads `src[..LANES]`.
    fn load(self, src: &[f64]) -> Self::F;
    /// Stores into `dst[..LANES]`.
    fn store(self, v: Self::F, dst: &mut [f64]);
    fn add(self, a: Self::F, b: Self::F) -> Self::F;
    fn sub(self, a: Self::F, b: Self::F) -> Self::F;
    fn mul(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b + c` rounded once (fused multiply-add; `f64::mul_add` lane by lane).
    fn mul_add(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// `a * b - c` rounded once (`f64::mul_add(a, b, -c)` lane by lane).
    fn mul_sub(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// Lane-wise minimum (no NaN inputs).
    fn min(self, a: Self::F, b: Self::F) -> Self::F;
    /// Smallest lane (no NaN inputs).
    fn hmin(self, a: Self::F) -> f64;
    /// `a > b` (false where either is NaN, like the scalar `>`).
    fn gt(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a == b` (false where either is NaN).
    fn eq(self, a: Self::F, b: Self::F) -> Self::M;
    /// The mask with every lane set.
    fn all_set(self) -> Self::M;
    /// `m && !(a == b)` lane-wise (the negation of [`Simd::eq`]).
    fn and_ne(self, m: Self::M, a: Self::F, b: Self::F) -> Self::M;
    /// Whether every lane of `m` is set.
    fn all(self, m: Self::M) -> bool;
    /// Bit `i` set where lane `i` of `m` is set.
    fn bits(self, m: Self::M) -> u32;
    /// Lane-wise `if m { t } else { f }`.
    fn select(self, m: Self::M, t: Self::F, f: Self::F) -> Self::F;
    /// `a <= b` (false where either is NaN, like the scalar `<=`).
    fn le(self, a: Self::F, b: Self::F) -> Self::M;
    fn mask_and(self, a: Self::M, b: Self::M) -> Self::M;
    fn mask_or(self, a: Self::M, b: Self::M) -> Self::M;
    /// `a && !b` lane-wise.
    fn mask_andn(self, a: Self::M, b: Self::M) -> Self::M;

    /// Stores the lanes of `v` where `m` is set into `dst[..LANES]`; the others keep their value.
    #[inline(always)]
    fn store_where(self, m: Self::M, v: Self::F, dst: &mut [f64]) {
        let old = self.load(dst);
        self.store(self.select(m, v, old), dst);
    }

    /// `0, 1, ..., LANES - 1`.
    #[inline(always)]
    fn iota(self) -> Self::F {
        self.load(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    }

    /// The lanes of `v` where `m` is set, packed into the lowest lanes in order (the other
    /// lanes are unspecified).
    #[inline(always)]
    fn compress(self, m: Self::M, v: Self::F) -> Self::F {
        let mut lanes = [0.0; 8];
        let mut packed = [0.0; 8];
        self.store(v, &mut lanes);
        let (mut bits, mut j) = (self.bits(m), 0);
        while bits != 0 {
            packed[j] = lanes[bits.trailing_zeros() as usize];
            bits &= bits - 1;
            j += 1;
        }
        self.load(&packed)
    }

    /// `src`, with the lanes where `m` is set replaced by the lowest lanes of `v` in order.
    #[inline(always)]
    fn expand(self, src: Self::F, m: Self::M, v: Self::F) -> Self::F {
        let mut lanes = [0.0; 8];
        let mut from = [0.0; 8];
        self.store(src, &mut lanes);
        self.store(v, &mut from);
        let (mut bits, mut j) = (self.bits(m), 0);
        while bits != 0 {
            lanes[bits.trailing_zeros() as usize] = from[j];
            bits &= bits - 1;
            j += 1;
        }
        self.load(&lanes)
    }

    /// `dst[i] = src[i] as u32` for integers `src[i]` in `0..2^32` (anything else gives an
    /// unspecified value), for slices whose length is a multiple of `LANES`.
    #[inline(always)]
    fn to_u32s(self, src: &[f64], dst: &mut [u32]) {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v as u32;
        }
    }

    /// `nf[i] = smooth_fraction(norm[i].max(R^2))`, bit for bit, for slices whose length is a
    /// multiple of `LANES`.
    #[inline(always)]
    fn smooth_fractions(self, norm: &[f64], nf: &mut [f32]) {
        for (nf, &norm) in nf.iter_mut().zip(norm) {
            *nf = smooth_fraction(norm.max(ESCAPE_RADIUS_SQ));
        }
    }
}

/// Plain arrays of two `f64`: portable, safe, vectorized by the compiler where it can.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Portable;

/// Lanes per [`Portable`] vector.
const PORTABLE_LANES: usize = 2;

impl Simd for Portable {
    const LANES: usize = PORTABLE_LANES;
    type F = [f64; PORTABLE_LANES];
    type M = [bool; PORTABLE_LANES];

    #[inline(always)]
    fn splat(self, v: f64) -> Self::F {
        [v; PORTABLE_LANES]
    }
    #[inline(always)]
    fn load(self, src: &[f64]) -> Self::F {
        array::from_fn(|i| src[i])
    }
    #[inline(always)]
    fn store(self, v: Self::F, dst: &mut [f64]) {
        dst[..PORTABLE_LANES].copy_from_slice(&v);
    }
    #[inline(always)]
    fn add(self, a: Self::F, b: Self::F) -> Self::F {
        array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    fn sub(self, a: Self::F, b: Self::F) -> Self::F {
        array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    fn mul(self, a: Self::F, b: Self::F) -> Self::F {
        array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    fn mul_add(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F {
        array::from_fn(|i| a[i].mul_add(b[i], c[i]))
    }
    #[inline(always)]
    fn mul_sub(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F {
        array::from_fn(|i| a[i].mul_add(b[i], -c[i]))
    }
    #[inline(always)]
    fn min(self, a: Self::F, b: Self::F) -> Self::F {
        array::from_fn(|i| a[i].min(b[i]))
    }
    #[inline(always)]
    fn hmin(self, a: Self::F) -> f64 {
        a.iter().fold(f64::INFINITY, |m, &v| m.min(v))
    }
    #[inline(always)]
    fn gt(self, a: Self::F, b: Self::F) -> Self::M {
        array::from_fn(|i| a[i] > b[i])
    }
    #[inline(always)]
    fn eq(self, a: Self::F, b: Self::F) -> Self::M {
        array::from_fn(|i| a[i] == b[i])
    }
    #[inline(always)]
    fn all_set(self) -> Self::M {
        [true; PORTABLE_LANES]
    }
    #[inline(always)]
    fn and_ne(self, m: Self::M, a: Self::F, b: Self::F) -> Self::M {
        array::from_fn(|i| m[i] & (a[i] != b[i]))
    }
    #[inline(always)]
    fn all(self, m: Self::M) -> bool {
        m.iter().fold(true, |all, &v| all & v)
    }
    #[inline(always)]
    fn bits(self, m: Self::M) -> u32 {
        (0..PORTABLE_LANES).fold(0, |b, i| b | u32::from(m[i]) << i)
    }
    #[inline(always)]
    fn select(self, m: Self::M, t: Self::F, f: Self::F) -> Self::F {
        array::from_fn(|i| if m[i] { t[i] } else { f[i] })
    }
    #[inline(always)]
    fn le(self, a: Self::F, b: Self::F) -> Self::M {
        array::from_fn(|i| a[i] <= b[i])
    }
    #[inline(always)]
    fn mask_and(self, a: Self::M, b: Self::M) -> Self::M {
        array::from_fn(|i| a[i] & b[i])
    }
    #[inline(always)]
    fn mask_or(self, a: Self::M, b: Self::M) -> Self::M {
        array::from_fn(|i| a[i] | b[i])
    }
    #[inline(always)]
    fn mask_andn(self, a: Self::M, b: Self::M) -> Self::M {
        array::from_fn(|i| a[i] & !b[i])
    }
}
