//! x86-64 SIMD kernels: the lane engine of [`super::interleaved`] on AVX2 (4 lanes per vector)
//! and AVX-512 (8 lanes per vector), four vectors in flight.
//!
//! Why these are separate kernels chosen at run time: one binary runs on many CPUs, so the
//! instructions cannot be enabled for the whole crate. Each kernel struct holds a token that
//! can only be made by `Avx2::detect` / `Avx512::detect`, which ask the CPU
//! (`is_x86_feature_detected!`); the row function is compiled with `#[target_feature]` and the
//! engine, all `#[inline(always)]`, is compiled inside it, so the intrinsics become single
//! instructions in the hot loop. Holding the token is the proof that makes calling that
//! function sound. [`super::select`] picks the best kernel the CPU has, or the one that
//! `ZOOMGEN_KERNEL` names.
//!
//! Why four vectors: a step is a dependency chain of about a dozen cycles (multiply, add, add)
//! while its instructions take a few cycles of issue, so one vector leaves the units idle most of
//! the time; four independent vectors (32 lanes with AVX-512) fill the gaps, and still fit the
//! register file (x, y, x^2, y^2, cx, cy, saved x per vector).
//!
//! Why no FMA although the CPU has it: `x*x - y*y` fused rounds once instead of twice, which
//! changes the last bit of `z` and, over thousands of steps, the escape counts. Separate
//! `mul`/`add`/`sub` instructions give exactly the scalar reference's bits, so every kernel draws
//! the same image. The perturbation lockstep loops at the end of this file ([`DeltaLockstep`])
//! do use FMA: there every implementation of the step, portable ones included, uses the same
//! fused operations (`crate::deep::lanes::step`), so they agree to the bit.
//!
//! The other loops that run per sample also live here, for the same reason: the perturbation
//! lockstep loop of [`crate::deep::lanes`] ([`DeltaLockstep`]), and the coloring and counting of
//! rows with one sample per pixel ([`DirectColor`], used by [`crate::color`] and
//! [`crate::render`]), each with the portable loop it must match bit for bit beside its user.
//!
//! All `unsafe` code of the crate's kernels is in this file. On other architectures, and under
//! Miri (which cannot run these intrinsics), the constructors return `None`.

// The crate denies `unsafe_code`; the intrinsics below are the one place that needs it.
#![allow(unsafe_code)]

use std::ops::Range;

use super::{Escape, Kernel, KernelOptions, SampleGrid};

#[cfg(all(target_arch = "x86_64", not(miri)))]
use x86::{Avx2, Avx512};

/// The AVX2 kernel (4 lanes per vector, 4 vectors).
#[derive(Debug, Clone, Copy)]
pub struct Avx2Kernel {
    options: KernelOptions,
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    token: Avx2,
}

/// The AVX-512 kernel (8 lanes per vector, 4 vectors).
#[derive(Debug, Clone, Copy)]
pub struct Avx512Kernel {
    options: KernelOptions,
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    token: Avx512,
}

impl Avx2Kernel {
    /// The kernel, if this CPU has AVX2 (`None` otherwise, and on other architectures).
    pub fn new(options: KernelOptions) -> Option<Self> {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            Avx2::detect().map(|token| Avx2Kernel { options, token })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = options;
            None
        }
    }

    pub fn options(&self) -> KernelOptions {
        self.options
    }
}

impl Avx512Kernel {
    /// The kernel, if this CPU has AVX-512F (`None` otherwise, and on other architectures).
    pub fn new(options: KernelOptions) -> Option<Self> {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            Avx512::detect().map(|token| Avx512Kernel { options, token })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = options;
            None
        }
    }

    pub fn options(&self) -> KernelOptions {
        self.options
    }
}

/// Vectors in flight in both SIMD kernels.
#[cfg(all(target_arch = "x86_64", not(miri)))]
const VECTORS: usize = 4;

impl Kernel for Avx2Kernel {
    fn name(&self) -> &'static str {
        "avx2"
    }

    fn escape_row(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: `self.token` exists only where `Avx2::detect` found AVX2 (and AVX, which
            // it implies) and POPCNT on this CPU, which is all that `avx2_row`'s target
            // features require.
            unsafe { x86::avx2_row(self.token, self.options, grid, sy, max_iterations, out) }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, sy, max_iterations, out);
            unreachable!("an Avx2Kernel cannot be constructed on this target")
        }
    }

    fn escape_rows(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: as in `escape_row`: the token proves the CPU has what `avx2_rows` needs.
            unsafe { x86::avx2_rows(self.token, self.options, grid, rows, max_iterations, out) }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, rows, max_iterations, out);
            unreachable!("an Avx2Kernel cannot be constructed on this target")
        }
    }
}

impl Kernel for Avx512Kernel {
    fn name(&self) -> &'static str {
        "avx512"
    }

    fn escape_row(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: `self.token` exists only where `Avx512::detect` found AVX-512F and POPCNT
            // on this CPU, which is all that `avx512_row`'s target features require.
            unsafe { x86::avx512_row(self.token, self.options, grid, sy, max_iterations, out) }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, sy, max_iterations, out);
            unreachable!("an Avx512Kernel cannot be constructed on this target")
        }
    }

    fn escape_rows(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: as in `escape_row`: the token proves the CPU has what `avx512_rows` needs.
            unsafe { x86::avx512_rows(self.token, self.options, grid, rows, max_iterations, out) }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, rows, max_iterations, out);
            unreachable!("an Avx512Kernel cannot be constructed on this target")
        }
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::VECTORS;
    use crate::kernel::interleaved::{Simd, escape_row_lanes, escape_rows_lanes};
    use crate::kernel::{ESCAPE_RADIUS_SQ, Escape, KernelOptions, SampleGrid};

    /// Proof that the CPU has AVX2 (and POPCNT, which every AVX2 CPU has: the engine counts
    /// mask bits often): only [`Avx2::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx2(());

    /// Proof that the CPU has AVX-512F (and POPCNT): only [`Avx512::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx512(());

    impl Avx2 {
        pub(super) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt"))
                .then_some(Avx2(()))
        }
    }

    impl Avx512 {
        pub(super) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("popcnt"))
                .then_some(Avx512(()))
        }
    }

    #[target_feature(enable = "avx2,popcnt")]
    pub(super) fn avx2_row(
        token: Avx2,
        options: KernelOptions,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        escape_row_lanes::<Avx2, VECTORS>(token, options, grid, sy, max_iterations, out)
    }

    #[target_feature(enable = "avx2,popcnt")]
    pub(super) fn avx2_rows(
        token: Avx2,
        options: KernelOptions,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        let row_len = grid.samples_x;
        escape_rows_lanes::<Avx2, VECTORS>(token, options, grid, rows, row_len, max_iterations, out)
    }

    #[target_feature(enable = "avx512f,popcnt")]
    pub(super) fn avx512_rows(
        token: Avx512,
        options: KernelOptions,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        let row_len = grid.samples_x;
        escape_rows_lanes::<Avx512, VECTORS>(
            token,
            options,
            grid,
            rows,
            row_len,
            max_iterations,
            out,
        )
    }

    #[target_feature(enable = "avx512f,popcnt")]
    pub(super) fn avx512_row(
        token: Avx512,
        options: KernelOptions,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        escape_row_lanes::<Avx512, VECTORS>(token, options, grid, sy, max_iterations, out)
    }

    // In the two `Simd` implementations below, every `unsafe` block calls intrinsics that need
    // only the CPU feature whose token `self` is (AVX2 implies AVX); a token exists only when
    // `detect` found that feature. Loads and stores go through slices of exactly `LANES`
    // elements (bounds checked by the slicing), and the unaligned intrinsics need no alignment.

    impl Simd for Avx2 {
        const LANES: usize = 4;
        type F = __m256d;
        type M = __m256d;

        #[inline(always)]
        fn splat(self, v: f64) -> __m256d {
            // SAFETY: AVX is present (see above).
            unsafe { _mm256_set1_pd(v) }
        }
        #[inline(always)]
        fn load(self, src: &[f64]) -> __m256d {
            let src = &src[..4];
            // SAFETY: AVX is present; `src` holds 4 f64, all read; loadu needs no alignment.
            unsafe { _mm256_loadu_pd(src.as_ptr()) }
        }
        #[inline(always)]
        fn store(self, v: __m256d, dst: &mut [f64]) {
            let dst = &mut dst[..4];
            // SAFETY: AVX is present; `dst` holds 4 f64, all written; no alignment needed.
            unsafe { _mm256_storeu_pd(dst.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn add(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_add_pd(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_sub_pd(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_mul_pd(a, b) }
        }
        #[inline(always)]
        fn min(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_min_pd(a, b) }
        }
        #[inline(always)]
        fn hmin(self, a: __m256d) -> f64 {
            // SAFETY: AVX is present.
            unsafe {
                let m = _mm_min_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd::<1>(a));
                _mm_cvtsd_f64(_mm_min_sd(m, _mm_unpackhi_pd(m, m)))
            }
        }
        #[inline(always)]
        fn gt(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_cmp_pd::<_CMP_GT_OQ>(a, b) }
        }
        #[inline(always)]
        fn eq(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_cmp_pd::<_CMP_EQ_OQ>(a, b) }
        }
        #[inline(always)]
        fn all_set(self) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_castsi256_pd(_mm256_set1_epi64x(-1)) }
        }
        #[inline(always)]
        fn and_ne(self, m: __m256d, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_and_pd(m, _mm256_cmp_pd::<_CMP_NEQ_UQ>(a, b)) }
        }
        #[inline(always)]
        fn all(self, m: __m256d) -> bool {
            // SAFETY: AVX is present. Mask lanes are all ones or all zeros, so the sign bits
            // stand for the lanes.
            unsafe { _mm256_movemask_pd(m) == 0b1111 }
        }
        #[inline(always)]
        fn bits(self, m: __m256d) -> u32 {
            // SAFETY: AVX is present.
            unsafe { _mm256_movemask_pd(m) as u32 }
        }
        #[inline(always)]
        fn select(self, m: __m256d, t: __m256d, f: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_blendv_pd(f, t, m) }
        }
        #[inline(always)]
        fn le(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_cmp_pd::<_CMP_LE_OQ>(a, b) }
        }
        #[inline(always)]
        fn mask_and(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_and_pd(a, b) }
        }
        #[inline(always)]
        fn mask_or(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_or_pd(a, b) }
        }
        #[inline(always)]
        fn mask_andn(self, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_andnot_pd(b, a) }
        }
    }

    impl Avx512 {
        /// `f64::max(a, b)` lane-wise for non-NaN `b`: `b` where `a` is NaN, like `f64::max`.
        #[inline(always)]
        fn max(self, a: __m512d, b: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present. `vmaxpd` returns its second operand when either is
            // NaN, so `max(a, b)` with `b` not NaN is `b` for NaN `a`, as `f64::max` is.
            unsafe { _mm512_max_pd(a, b) }
        }

        /// [`crate::kernel::log2_f32`] in 16 lanes, operation for operation.
        #[inline(always)]
        fn log2_f32(self, x: __m512) -> __m512 {
            // SAFETY: AVX-512F is present.
            unsafe {
                let bits = _mm512_castps_si512(x);
                let exponent = _mm512_sub_epi32(
                    _mm512_and_si512(_mm512_srli_epi32::<23>(bits), _mm512_set1_epi32(0xff)),
                    _mm512_set1_epi32(127),
                );
                let m = _mm512_castsi512_ps(_mm512_or_si512(
                    _mm512_and_si512(bits, _mm512_set1_epi32(0x007f_ffff)),
                    _mm512_set1_epi32(0x3f80_0000),
                ));
                let high =
                    _mm512_cmp_ps_mask::<_CMP_GT_OQ>(m, _mm512_set1_ps(std::f32::consts::SQRT_2));
                let m = _mm512_mask_mul_ps(m, high, m, _mm512_set1_ps(0.5));
                let exponent =
                    _mm512_mask_add_epi32(exponent, high, exponent, _mm512_set1_epi32(1));
                let one = _mm512_set1_ps(1.0);
                let s = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
                let s2 = _mm512_mul_ps(s, s);
                let t = _mm512_mul_ps(s2, _mm512_set1_ps(1.0 / 9.0));
                let t = _mm512_mul_ps(s2, _mm512_add_ps(_mm512_set1_ps(1.0 / 7.0), t));
                let t = _mm512_mul_ps(s2, _mm512_add_ps(_mm512_set1_ps(0.2), t));
                let t = _mm512_mul_ps(s2, _mm512_add_ps(_mm512_set1_ps(1.0 / 3.0), t));
                let series = _mm512_add_ps(one, t);
                let two_s = _mm512_mul_ps(_mm512_set1_ps(2.0), s);
                let r = _mm512_mul_ps(
                    _mm512_mul_ps(two_s, series),
                    _mm512_set1_ps(std::f32::consts::LOG2_E),
                );
                // The exponent is in [-127, 128]: the conversion is exact.
                _mm512_add_ps(_mm512_cvtepi32_ps(exponent), r)
            }
        }

        /// The exponent (as `i32`) and the mantissa (in `[1, 2)`, rounded to `f32`) of eight
        /// positive `f64`, as [`crate::kernel::smooth_fraction`] splits `|z|^2`.
        #[inline(always)]
        fn split_f64(self, x: __m512d) -> (__m256i, __m256) {
            // SAFETY: AVX-512F is present.
            unsafe {
                let bits = _mm512_castpd_si512(x);
                let biased =
                    _mm512_and_si512(_mm512_srli_epi64::<52>(bits), _mm512_set1_epi64(0x7ff));
                let exponent =
                    _mm256_sub_epi32(_mm512_cvtepi64_epi32(biased), _mm256_set1_epi32(1023));
                let m = _mm512_castsi512_pd(_mm512_or_si512(
                    _mm512_and_si512(bits, _mm512_set1_epi64(0x000f_ffff_ffff_ffff)),
                    _mm512_set1_epi64(0x3ff0_0000_0000_0000),
                ));
                // `as f32` rounds to nearest even, the default rounding mode.
                (exponent, _mm512_cvtpd_ps(m))
            }
        }
    }

    impl Simd for Avx512 {
        const LANES: usize = 8;
        type F = __m512d;
        type M = __mmask8;

        #[inline(always)]
        fn splat(self, v: f64) -> __m512d {
            // SAFETY: AVX-512F is present (see above).
            unsafe { _mm512_set1_pd(v) }
        }
        #[inline(always)]
        fn load(self, src: &[f64]) -> __m512d {
            let src = &src[..8];
            // SAFETY: AVX-512F is present; `src` holds 8 f64, all read; no alignment needed.
            unsafe { _mm512_loadu_pd(src.as_ptr()) }
        }
        #[inline(always)]
        fn store(self, v: __m512d, dst: &mut [f64]) {
            let dst = &mut dst[..8];
            // SAFETY: AVX-512F is present; `dst` holds 8 f64, all written; no alignment needed.
            unsafe { _mm512_storeu_pd(dst.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn add(self, a: __m512d, b: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_add_pd(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m512d, b: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_sub_pd(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m512d, b: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_mul_pd(a, b) }
        }
        #[inline(always)]
        fn min(self, a: __m512d, b: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_min_pd(a, b) }
        }
        #[inline(always)]
        fn hmin(self, a: __m512d) -> f64 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_reduce_min_pd(a) }
        }
        #[inline(always)]
        fn gt(self, a: __m512d, b: __m512d) -> __mmask8 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_cmp_pd_mask::<_CMP_GT_OQ>(a, b) }
        }
        #[inline(always)]
        fn eq(self, a: __m512d, b: __m512d) -> __mmask8 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(a, b) }
        }
        #[inline(always)]
        fn all_set(self) -> __mmask8 {
            0xff
        }
        #[inline(always)]
        fn and_ne(self, m: __mmask8, a: __m512d, b: __m512d) -> __mmask8 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_mask_cmp_pd_mask::<_CMP_NEQ_UQ>(m, a, b) }
        }
        #[inline(always)]
        fn all(self, m: __mmask8) -> bool {
            m == 0xff
        }
        #[inline(always)]
        fn bits(self, m: __mmask8) -> u32 {
            u32::from(m)
        }
        #[inline(always)]
        fn select(self, m: __mmask8, t: __m512d, f: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_mask_blend_pd(m, f, t) }
        }
        #[inline(always)]
        fn le(self, a: __m512d, b: __m512d) -> __mmask8 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_cmp_pd_mask::<_CMP_LE_OQ>(a, b) }
        }
        #[inline(always)]
        fn mask_and(self, a: __mmask8, b: __mmask8) -> __mmask8 {
            a & b
        }
        #[inline(always)]
        fn mask_or(self, a: __mmask8, b: __mmask8) -> __mmask8 {
            a | b
        }
        #[inline(always)]
        fn mask_andn(self, a: __mmask8, b: __mmask8) -> __mmask8 {
            a & !b
        }
        #[inline(always)]
        fn store_where(self, m: __mmask8, v: __m512d, dst: &mut [f64]) {
            let dst = &mut dst[..8];
            // SAFETY: AVX-512F is present; `dst` holds 8 f64 (only lanes `m` are written); no
            // alignment needed.
            unsafe { _mm512_mask_storeu_pd(dst.as_mut_ptr(), m, v) }
        }
        #[inline(always)]
        fn iota(self) -> __m512d {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_set_pd(7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0) }
        }
        #[inline(always)]
        fn compress(self, m: __mmask8, v: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_maskz_compress_pd(m, v) }
        }
        #[inline(always)]
        fn expand(self, src: __m512d, m: __mmask8, v: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_mask_expand_pd(src, m, v) }
        }
        #[inline(always)]
        fn to_u32s(self, src: &[f64], dst: &mut [u32]) {
            assert_eq!(src.len(), dst.len());
            for (src, dst) in src.chunks_exact(8).zip(dst.chunks_exact_mut(8)) {
                // SAFETY: AVX-512F is present (it implies AVX); `dst` holds 8 u32, all written.
                unsafe {
                    let v = _mm512_cvttpd_epu32(self.load(src));
                    _mm256_storeu_si256(dst.as_mut_ptr().cast(), v);
                }
            }
        }
        /// [`crate::kernel::smooth_fraction`] sixteen lanes at a time (a lone last group of
        /// eight fills the other half with a copy of itself): the same operations in the same
        /// order (no FMA), so the same bits.
        #[inline(always)]
        fn smooth_fractions(self, norm: &[f64], nf: &mut [f32]) {
            assert_eq!(norm.len(), nf.len());
            assert_eq!(norm.len() % 8, 0);
            let r2 = self.splat(ESCAPE_RADIUS_SQ);
            for (norm, nf) in norm.chunks(16).zip(nf.chunks_mut(16)) {
                let low = self.max(self.load(norm), r2);
                let high = self.max(self.load(&norm[norm.len() - 8..]), r2);
                let (e_low, m_low) = self.split_f64(low);
                let (e_high, m_high) = self.split_f64(high);
                // SAFETY: AVX-512F is present (it implies AVX); `nf` holds 8 or 16 f32, and
                // as many are written.
                unsafe {
                    let exponent = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(e_low), e_high);
                    let m = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                        _mm512_castpd256_pd512(_mm256_castps_pd(m_low)),
                        _mm256_castps_pd(m_high),
                    ));
                    let log_norm = _mm512_add_ps(_mm512_cvtepi32_ps(exponent), self.log2_f32(m));
                    let scaled = _mm512_mul_ps(log_norm, _mm512_set1_ps(1.0 / 32.0));
                    let v = _mm512_sub_ps(_mm512_setzero_ps(), self.log2_f32(scaled));
                    // `f32::clamp`: below the low end -> low end, above the high end -> high
                    // end, compared like the scalar code (ordered, NaN kept).
                    let lo = _mm512_setzero_ps();
                    let hi = _mm512_set1_ps(1.0 - f32::EPSILON / 2.0);
                    let v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, lo), lo);
                    let v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, hi), hi);
                    if nf.len() == 16 {
                        _mm512_storeu_ps(nf.as_mut_ptr(), v);
                    } else {
                        _mm256_storeu_ps(nf.as_mut_ptr(), _mm512_castps512_ps256(v));
                    }
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{Avx512, Simd};
        use crate::kernel::interleaved::check::XorShift;
        use crate::kernel::{ESCAPE_RADIUS_SQ, smooth_fraction};

        #[test]
        fn avx512_smooth_fractions_are_the_scalar_ones() {
            let Some(s) = Avx512::detect() else {
                eprintln!("note: no AVX-512F, skipping");
                return;
            };
            let mut rng = XorShift(0x0dd_f00d);
            let mut norm: Vec<f64> = (0..40_000)
                .map(|i| match i % 4 {
                    // Anywhere a norm can be: (R^2, (R^2 + |c|)^2], and far beyond.
                    0 => ESCAPE_RADIUS_SQ * (1.0 + rng.unit() * 65_536.0),
                    1 => ESCAPE_RADIUS_SQ * (1.0 + rng.unit() * 1e-9),
                    2 => f64::from_bits(rng.next() >> 2 | 0x4000_0000_0000_0000),
                    _ => ESCAPE_RADIUS_SQ * 2f64.powi((rng.next() % 200) as i32),
                })
                .collect();
            // Mantissas at the fold (sqrt 2), at 1 and just below 2; below R^2 (clamped).
            for e in [16, 17, 20, 31, 32, 33, 64, 500] {
                let p = 2f64.powi(e);
                for m in [std::f64::consts::SQRT_2, 1.0, 2.0 - 1e-16, 1.5] {
                    let v = m * p;
                    norm.extend([
                        v,
                        f64::from_bits(v.to_bits() + 1),
                        f64::from_bits(v.to_bits() - 1),
                    ]);
                }
            }
            norm.extend([
                0.0,
                1.0,
                ESCAPE_RADIUS_SQ,
                ESCAPE_RADIUS_SQ * ESCAPE_RADIUS_SQ,
            ]);
            norm.resize(norm.len().next_multiple_of(8), ESCAPE_RADIUS_SQ);
            let mut nf = vec![0.0f32; norm.len()];
            s.smooth_fractions(&norm, &mut nf);
            for (&x, &got) in norm.iter().zip(&nf) {
                let want = smooth_fraction(x.max(ESCAPE_RADIUS_SQ));
                assert_eq!(got.to_bits(), want.to_bits(), "norm {x:e}: {got} != {want}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::kernel::interleaved::check;

    #[test]
    fn avx2_matches_reference() {
        check::matches_reference("avx2");
    }

    #[test]
    fn avx512_matches_reference() {
        check::matches_reference("avx512");
    }

    #[test]
    fn avx2_rows_match_reference() {
        check::rows_match_reference("avx2");
    }

    #[test]
    fn avx512_rows_match_reference() {
        check::rows_match_reference("avx512");
    }

    #[test]
    fn avx2_cycles_and_saves_match_reference() {
        check::cycles_and_saves_match_reference("avx2");
    }

    #[test]
    fn avx512_cycles_and_saves_match_reference() {
        check::cycles_and_saves_match_reference("avx512");
    }

    #[test]
    fn avx2_chunk_edges_match_reference() {
        check::chunk_edges_match_reference("avx2");
    }

    #[test]
    fn avx512_chunk_edges_match_reference() {
        check::chunk_edges_match_reference("avx512");
    }

    /// The deep bench's probe reads what it says: `re[m] im[m]` summed over every lane's walk
    /// (small integers, so the sum is exact in any order), and refuses a walk past the end.
    #[test]
    fn gather_probe_sums_each_lanes_walk() {
        let Some(simd) = super::DeltaLockstep::detect().filter(|s| s.name() == "avx512") else {
            eprintln!("note: no AVX-512 delta loop, skipping");
            return;
        };
        let re: Vec<f64> = (0..200).map(|i| f64::from(i % 13)).collect();
        let im: Vec<f64> = (0..200).map(|i| f64::from(i % 7) - 3.0).collect();
        let starts: [[usize; 8]; 4] =
            std::array::from_fn(|v| std::array::from_fn(|i| (v * 37 + i * 11) % 150));
        let steps = 50;
        let expected: f64 = starts
            .iter()
            .flatten()
            .flat_map(|&m| m..m + steps as usize)
            .map(|k| re[k] * im[k])
            .sum();
        assert_eq!(
            simd.gather_probe((&re, &im), &starts, steps),
            Some(expected)
        );
        let mut far = starts;
        far[3][7] = 151;
        assert_eq!(simd.gather_probe((&re, &im), &far, steps), None);
    }
}

/// The state of the perturbation lockstep loop of [`crate::deep::lanes`]: eight lanes of `f64`
/// deltas `δz`, their `δc`, their reference indices `m`, the active lanes (bit `i`), and the
/// derivatives `e = s dz/dc` (`s`: the sample spacing, `es`: its `f64` value, 0 when below the
/// `f64` range) that the deep kernel uses to find ill-conditioned samples.
#[derive(Debug)]
pub struct DeltaLanes<'a> {
    pub dzr: &'a mut [f64; 8],
    pub dzi: &'a mut [f64; 8],
    pub dcr: &'a [f64; 8],
    pub dci: &'a [f64; 8],
    pub er: &'a mut [f64; 8],
    pub ei: &'a mut [f64; 8],
    pub es: f64,
    pub m: &'a [usize; 8],
    pub active: u32,
}

/// Work for [`DeltaLockstep::with_fma`]: a closure, or a type whose `call` is
/// `#[inline(always)]` (a large closure body is not always inlined into `with_fma`, and then
/// it is compiled without FMA).
pub trait FmaWork {
    type Output;
    fn call(self) -> Self::Output;
}

impl<R, F: FnOnce() -> R> FmaWork for F {
    type Output = R;
    #[inline(always)]
    fn call(self) -> R {
        self()
    }
}

/// The lockstep loop of [`crate::deep::lanes`] on AVX-512 (one vector of 8 lanes) or AVX2 with
/// FMA (two vectors of 4), with the reference orbit values `Z_{m+s}` gathered per lane by
/// index, one index vector for the real and the imaginary parts (the orbit keeps them in two
/// arrays).
///
/// Unlike the plain kernels above, these loops use fused multiply-adds: every implementation of
/// the perturbation step (these loops, the portable lockstep loop, and the one-sample loops
/// [`crate::deep::lanes::handle`] and [`crate::deep::perturb::iterate`] through
/// [`crate::deep::lanes::step`]) does the same fused operations in the same order, so they give
/// the same bits, and an untested step needs 12 vector operations instead of 29. The orbit
/// arrays hold `2 Z` ([`crate::deep::ReferenceOrbit::twice_re`]): `t = 2 Z + δz` and the
/// derivative's `2 z = 2 δz + 2 Z` are one operation each, and a tested step's `z = Z + δz` is
/// `0.5 (2 Z) + δz`, one fused operation with the same bits.
#[derive(Debug, Clone, Copy)]
pub struct DeltaLockstep {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    isa: x86_delta::DeltaIsa,
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    fma: x86_delta::Fma,
}

impl DeltaLockstep {
    /// The best implementation this CPU has (AVX-512F, then AVX2), or `None`; both need FMA.
    pub fn detect() -> Option<Self> {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            let fma = x86_delta::Fma::detect()?;
            Avx512::detect()
                .map(x86_delta::DeltaIsa::Avx512)
                .or_else(|| x86_delta::Avx2Fma::detect().map(x86_delta::DeltaIsa::Avx2))
                .map(|isa| DeltaLockstep { isa, fma })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            None
        }
    }

    /// The AVX2 implementation, if this CPU has AVX2 and FMA (for tests on AVX-512 machines).
    pub fn avx2() -> Option<Self> {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            let fma = x86_delta::Fma::detect()?;
            x86_delta::Avx2Fma::detect().map(|t| DeltaLockstep {
                isa: x86_delta::DeltaIsa::Avx2(t),
                fma,
            })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            None
        }
    }

    pub fn name(self) -> &'static str {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            match self.isa {
                x86_delta::DeltaIsa::Avx512(_) => "avx512",
                x86_delta::DeltaIsa::Avx2(_) => "avx2",
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            unreachable!("a DeltaLockstep cannot be constructed on this target")
        }
    }

    /// `f()`, compiled with the FMA instructions enabled: `f64::mul_add` in the code that `f`
    /// inlines (`#[inline(always)]` functions) is then one instruction instead of a call to the
    /// library `fma`. The results are the same either way (a fused multiply-add rounds once,
    /// in hardware or in software); only the speed differs. For the one-sample loops of
    /// [`crate::deep::lanes::handle`] and the double-double pass of [`crate::deep::dd`], which
    /// run between the lockstep loops.
    #[inline]
    pub fn with_fma<W: FmaWork>(self, work: W) -> W::Output {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: `self.fma` exists only where `Fma::detect` found FMA (and AVX, which it
            // implies) on this CPU, all that `with_fma`'s target features require.
            unsafe { x86_delta::with_fma(self.fma, work) }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            work.call()
        }
    }

    /// Up to `bound` lockstep steps of [`crate::deep::lanes::step`] and
    /// [`crate::deep::lanes::derivative_step`] (with `s = es`) in every lane, from `s = 0` on,
    /// with `Z_{m+s} = (re[m + s], im[m + s])`; returns the steps done, the active lanes
    /// flagged (bit `i`) before the next one: `!(|z|^2 <= R^2)`, `|z|^2 < |δz|^2`, and with
    /// `extended`, `|δz|^2 < min_norm`, where `z = Z_{m+s} + δz` and both norms are
    /// [`crate::deep::lanes::norm_sqr`], and how many of the steps were taken untested in
    /// chunks. Without `extended`, whenever every active lane passes the test of
    /// [`crate::deep::lanes::chunk_limits`] against `limits[m + s]` (and `bound` leaves room),
    /// the next [`crate::deep::lanes::CHUNK`] steps are taken without the flag tests, which
    /// that test proves would not fire: the results are those of testing every step. `None`
    /// (nothing done) when some lane's `m + bound` exceeds the orbit's length or `re`, `im`
    /// and `limits` differ in length.
    pub fn run(
        self,
        lanes: &mut DeltaLanes<'_>,
        (re, im, limits): (&[f64], &[f64], &[f64]),
        bound: u32,
        extended: bool,
        min_norm: f64,
    ) -> Option<(u32, u32, u32)> {
        let fits = re.len() == im.len()
            && limits.len() == re.len()
            && lanes
                .m
                .iter()
                .all(|&m| m.checked_add(bound as usize).is_some_and(|e| e <= re.len()));
        if !fits {
            return None;
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: the token in `self.isa` exists only where `detect` found the features the
            // function is compiled for; the check above is the bound the function requires.
            Some(unsafe {
                match self.isa {
                    x86_delta::DeltaIsa::Avx512(t) => x86_delta::delta_avx512(
                        t,
                        lanes,
                        (re, im, limits),
                        bound,
                        extended,
                        min_norm,
                    ),
                    x86_delta::DeltaIsa::Avx2(t) => {
                        x86_delta::delta_avx2(t, lanes, (re, im, limits), bound, extended, min_norm)
                    }
                }
            })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (extended, min_norm);
            unreachable!("a DeltaLockstep cannot be constructed on this target")
        }
    }
}

impl DeltaLockstep {
    /// A measuring probe for the deep bench, not used in rendering: the orbit loads of the
    /// AVX-512 lockstep loop alone. Four vectors of 8 lanes, each lane walking the orbit from
    /// its own start as the loop's lanes do, gather `re[m]` and `im[m]` every step and add their
    /// product into an accumulator (one fused multiply-add per gather pair, so the gathers are
    /// all there is to wait for). Its rate in lane-steps per second bounds any delta step that
    /// gathers its `Z_m` per lane. Returns the sum of the products (so the work is kept), or
    /// `None` without the AVX-512 loop, or when some `start + steps` exceeds the orbit.
    #[doc(hidden)]
    pub fn gather_probe(
        self,
        (re, im): (&[f64], &[f64]),
        starts: &[[usize; 8]; 4],
        steps: u32,
    ) -> Option<f64> {
        let fits = re.len() == im.len()
            && starts
                .iter()
                .flatten()
                .all(|&m| m.checked_add(steps as usize).is_some_and(|e| e <= re.len()));
        if !fits {
            return None;
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            match self.isa {
                // SAFETY: the token proves AVX-512F; the check above is the function's bound.
                x86_delta::DeltaIsa::Avx512(t) => {
                    Some(unsafe { x86_delta::gather_probe_avx512(t, (re, im), starts, steps) })
                }
                x86_delta::DeltaIsa::Avx2(_) => None,
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            unreachable!("a DeltaLockstep cannot be constructed on this target")
        }
    }
}

/// Eight samples of the double-double second pass ([`crate::deep::dd`]) in plain steps, as
/// [`DeltaLockstep::dd_plain`] advances them: `δz` as double-double pairs (`hi + lo`), the
/// derivative `e`, `δc`, reference indices `m`, iteration counts `n`, and the active lanes
/// (bit `i`). Inactive lanes are stepped too (their results unused), so their `m` must lie in
/// the orbit as well (0 will do).
#[derive(Debug, Clone, Copy, Default)]
pub struct DdLanes {
    pub dr_hi: [f64; 8],
    pub dr_lo: [f64; 8],
    pub di_hi: [f64; 8],
    pub di_lo: [f64; 8],
    pub er: [f64; 8],
    pub ei: [f64; 8],
    pub dcr_hi: [f64; 8],
    pub dcr_lo: [f64; 8],
    pub dci_hi: [f64; 8],
    pub dci_lo: [f64; 8],
    pub m: [i64; 8],
    pub n: [i64; 8],
    pub active: u32,
}

/// What [`DeltaLockstep::dd_plain`] reads of the orbit and the frame, per orbit entry `m`:
/// `2 Z_m` ([`crate::deep::ReferenceOrbit::twice_re`], `twice_im`), the next 53 bits of `Z_m`
/// as `[re, im]` pairs (flattened), and the `|δz|^2` below which a level-1 BLA step applies at
/// `m` (`-inf` where none does); then the budget and the derivative's increment `s`.
#[derive(Debug, Clone, Copy)]
pub struct DdOrbit<'a> {
    pub twice_re: &'a [f64],
    pub twice_im: &'a [f64],
    pub lo: &'a [f64],
    pub leave_r2: &'a [f64],
    pub max_iterations: u32,
    pub s_plain: f64,
}

impl DeltaLockstep {
    /// Whether [`DeltaLockstep::dd_plain`] runs here (AVX-512F).
    pub fn has_dd_plain(self) -> bool {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            matches!(self.isa, x86_delta::DeltaIsa::Avx512(_))
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            false
        }
    }

    /// Plain double-double steps of every lane of `lanes` in lockstep, each the operations of
    /// the one-sample step of [`crate::deep::dd`] (`Walk::plain_step`) in the same order, so the
    /// same bits: rebasing where `m` is the orbit's last entry or `|z| < |δz|`, and stopping
    /// before the first step at which some active lane would not take a plain step (it escapes,
    /// reaches the budget, or would leave plain pairs: `|δz|^2` below `2^-1000`, `|Z_m|^2`
    /// below [`crate::deep::lanes::SMALL_Z_NORM`], or a level-1 BLA step applies). Returns the
    /// steps taken and those lanes (bit `i`); the lanes are left before that step. `None`
    /// (nothing done) where the CPU has no AVX-512F, the orbit's arrays differ in length, a
    /// lane's `m` lies outside the orbit, or no lane is active.
    pub fn dd_plain(self, lanes: &mut DdLanes, orbit: DdOrbit<'_>) -> Option<(u32, u32)> {
        let len = orbit.twice_re.len();
        let fits = len > 0
            && orbit.twice_im.len() == len
            && orbit.leave_r2.len() == len
            && orbit.lo.len() == 2 * len
            && lanes.m.iter().all(|&m| m >= 0 && (m as usize) < len)
            && lanes.active & 0xff != 0;
        if !fits {
            return None;
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            match self.isa {
                // SAFETY: the token exists only where `detect` found AVX-512F; the checks above
                // are what the function requires.
                x86_delta::DeltaIsa::Avx512(t) => {
                    Some(unsafe { x86_delta::dd_plain_avx512(t, lanes, orbit) })
                }
                x86_delta::DeltaIsa::Avx2(_) => None,
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            None
        }
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86_delta {
    use std::arch::x86_64::*;

    use super::DeltaLanes;
    use super::x86::Avx512;
    use crate::kernel::ESCAPE_RADIUS_SQ;

    /// Proof that the CPU has FMA (and AVX): only [`Fma::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(in crate::kernel) struct Fma(());

    impl Fma {
        pub(in crate::kernel) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma")).then_some(Fma(()))
        }
    }

    /// `f()` compiled with FMA; see [`super::DeltaLockstep::with_fma`].
    #[target_feature(enable = "avx,fma")]
    pub(in crate::kernel) fn with_fma<W: super::FmaWork>(_token: Fma, work: W) -> W::Output {
        work.call()
    }

    /// Proof that the CPU has AVX2 and FMA: only [`Avx2Fma::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(in crate::kernel) struct Avx2Fma(());

    impl Avx2Fma {
        pub(in crate::kernel) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Avx2Fma(()))
        }
    }

    /// Which instruction set a [`super::DeltaLockstep`] uses (the token proves the CPU has it).
    #[derive(Debug, Clone, Copy)]
    pub(in crate::kernel) enum DeltaIsa {
        Avx512(Avx512),
        Avx2(Avx2Fma),
    }

    /// `m[i]` for the lanes, as gather indices.
    #[inline(always)]
    fn first_indices(m: &[usize; 8]) -> [i64; 8] {
        std::array::from_fn(|i| m[i] as i64)
    }

    /// The AVX-512 lockstep loop. The operations are those of `crate::deep::lanes::step`,
    /// `derivative_step` and `norm_sqr`, in the same order: `(Z + Z) + δz` there is the orbit's
    /// `2 Z` plus `δz` here (the same bits, `2 Z` being exact), `(-a).mul_add(b, c)` is
    /// `fnmadd(a, b, c)`.
    /// A chunk's steps are the same operations without the flag tests (see
    /// [`super::DeltaLockstep::run`]).
    ///
    /// # Safety
    ///
    /// `re.len() == im.len() == limits.len()` and every `lanes.m[i] + bound <= re.len()` (the
    /// gathers read `re[m[i] + s]`, `im[m[i] + s]` and `limits[m[i] + s]` for `s < bound`).
    #[target_feature(enable = "avx512f")]
    pub(in crate::kernel) unsafe fn delta_avx512(
        _token: Avx512,
        lanes: &mut DeltaLanes<'_>,
        (re, im, limits): (&[f64], &[f64], &[f64]),
        bound: u32,
        extended: bool,
        min_norm: f64,
    ) -> (u32, u32, u32) {
        let (re, im, limits) = (re.as_ptr(), im.as_ptr(), limits.as_ptr());
        let first = first_indices(lanes.m);
        let active = lanes.active as __mmask8;
        const CHUNK: u32 = crate::deep::lanes::CHUNK as u32;
        // SAFETY: AVX-512F is present (the token). Loads and stores go through arrays of 8
        // `f64`/`i64`. The gathers read `re[m[i] + s]`, `im[m[i] + s]` and `limits[m[i] + s]`
        // with `m[i] + s < re.len() == im.len() == limits.len()` by the caller's guarantee
        // (a chunk's steps `s + k`, `k < CHUNK`, only where `s + CHUNK <= bound`).
        unsafe {
            let mut dzr = _mm512_loadu_pd(lanes.dzr.as_ptr());
            let mut dzi = _mm512_loadu_pd(lanes.dzi.as_ptr());
            let dcr = _mm512_loadu_pd(lanes.dcr.as_ptr());
            let dci = _mm512_loadu_pd(lanes.dci.as_ptr());
            let mut er = _mm512_loadu_pd(lanes.er.as_ptr());
            let mut ei = _mm512_loadu_pd(lanes.ei.as_ptr());
            let es = _mm512_set1_pd(lanes.es);
            let mut idx = _mm512_loadu_si512(first.as_ptr().cast());
            let one = _mm512_set1_epi64(1);
            let chunk = _mm512_set1_epi64(i64::from(CHUNK));
            let two = _mm512_set1_pd(2.0);
            let r2 = _mm512_set1_pd(ESCAPE_RADIUS_SQ);
            let min_norm = _mm512_set1_pd(min_norm);
            // The `δc` part of the chunk test, `9 (|δc_r| + |δc_i|)`.
            let dc_part = _mm512_mul_pd(
                _mm512_set1_pd(9.0),
                _mm512_add_pd(_mm512_abs_pd(dcr), _mm512_abs_pd(dci)),
            );
            let mut s = 0u32;
            let mut flags = 0u32;
            let mut chunked = 0u32;
            // Tested steps to take before the next chunk test.
            let mut tested = 0u32;
            let half = _mm512_set1_pd(0.5);
            // One step of every lane from `2 Z = (zr2, zi2)`.
            macro_rules! advance {
                ($zr2:expr, $zi2:expr) => {{
                    let (zr2, zi2) = ($zr2, $zi2);
                    let tr = _mm512_add_pd(zr2, dzr);
                    let ti = _mm512_add_pd(zi2, dzi);
                    let nr = _mm512_fnmadd_pd(ti, dzi, _mm512_fmadd_pd(tr, dzr, dcr));
                    let ni = _mm512_fmadd_pd(ti, dzr, _mm512_fmadd_pd(tr, dzi, dci));
                    let ar = _mm512_fmadd_pd(dzr, two, zr2);
                    let ai = _mm512_fmadd_pd(dzi, two, zi2);
                    let ner = _mm512_fmadd_pd(ar, er, _mm512_fnmadd_pd(ai, ei, es));
                    ei = _mm512_fmadd_pd(ar, ei, _mm512_mul_pd(ai, er));
                    er = ner;
                    dzr = nr;
                    dzi = ni;
                }};
            }
            while s < bound {
                if tested == 0 && !extended && bound - s >= CHUNK {
                    let limit = _mm512_i64gather_pd::<8>(idx, limits);
                    let size = _mm512_add_pd(
                        _mm512_add_pd(_mm512_abs_pd(dzr), _mm512_abs_pd(dzi)),
                        dc_part,
                    );
                    let fits = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(size, limit);
                    if fits & active == active {
                        for k in 0..CHUNK as usize {
                            let zr2 = _mm512_i64gather_pd::<8>(idx, re.add(k));
                            let zi2 = _mm512_i64gather_pd::<8>(idx, im.add(k));
                            advance!(zr2, zi2);
                        }
                        idx = _mm512_add_epi64(idx, chunk);
                        s += CHUNK;
                        chunked += CHUNK;
                        continue;
                    }
                    tested = CHUNK;
                }
                tested = tested.saturating_sub(1);
                let zr2 = _mm512_i64gather_pd::<8>(idx, re);
                let zi2 = _mm512_i64gather_pd::<8>(idx, im);
                let xr = _mm512_fmadd_pd(half, zr2, dzr);
                let xi = _mm512_fmadd_pd(half, zi2, dzi);
                let norm = _mm512_fmadd_pd(xr, xr, _mm512_mul_pd(xi, xi));
                let dn = _mm512_fmadd_pd(dzr, dzr, _mm512_mul_pd(dzi, dzi));
                let mut g = _mm512_cmp_pd_mask::<_CMP_NLE_UQ>(norm, r2)
                    | _mm512_cmp_pd_mask::<_CMP_LT_OQ>(norm, dn);
                if extended {
                    g |= _mm512_cmp_pd_mask::<_CMP_LT_OQ>(dn, min_norm);
                }
                g &= active;
                if g != 0 {
                    flags = u32::from(g);
                    break;
                }
                advance!(zr2, zi2);
                idx = _mm512_add_epi64(idx, one);
                s += 1;
            }
            _mm512_storeu_pd(lanes.dzr.as_mut_ptr(), dzr);
            _mm512_storeu_pd(lanes.dzi.as_mut_ptr(), dzi);
            _mm512_storeu_pd(lanes.er.as_mut_ptr(), er);
            _mm512_storeu_pd(lanes.ei.as_mut_ptr(), ei);
            (s, flags, chunked)
        }
    }

    /// The loop of [`super::DeltaLockstep::gather_probe`].
    ///
    /// # Safety
    ///
    /// `re.len() == im.len()` and every `starts[v][i] + steps <= re.len()`.
    #[target_feature(enable = "avx512f")]
    pub(in crate::kernel) unsafe fn gather_probe_avx512(
        _token: Avx512,
        (re, im): (&[f64], &[f64]),
        starts: &[[usize; 8]; 4],
        steps: u32,
    ) -> f64 {
        let (re, im) = (re.as_ptr(), im.as_ptr());
        // SAFETY: AVX-512F is present (the token). The gathers read `re[m]` and `im[m]` for
        // `m = starts[v][i] + s`, `s < steps`, below `re.len() == im.len()` by the caller's
        // guarantee; the index loads read arrays of 8 `i64`.
        unsafe {
            let mut idx = starts.map(|m| _mm512_loadu_si512(first_indices(&m).as_ptr().cast()));
            let mut acc = [_mm512_setzero_pd(); 4];
            let one = _mm512_set1_epi64(1);
            for _ in 0..steps {
                for v in 0..4 {
                    let zr = _mm512_i64gather_pd::<8>(idx[v], re);
                    let zi = _mm512_i64gather_pd::<8>(idx[v], im);
                    acc[v] = _mm512_fmadd_pd(zr, zi, acc[v]);
                    idx[v] = _mm512_add_epi64(idx[v], one);
                }
            }
            let sum = _mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3]));
            _mm512_reduce_add_pd(sum)
        }
    }

    /// The AVX-512 loop of [`super::DeltaLockstep::dd_plain`]: the operations of
    /// `crate::deep::dd`'s `Dd::add`, `Dd::mul`, `Dd::double`, `Dd::neg`, `two_sum` and
    /// `two_prod` (`a b - p` as `fmsub`, the same as `fma(a, b, -p)`), lane by lane, and
    /// `x x + y y` as a multiplication, a multiplication and an addition (not fused) as there.
    ///
    /// # Safety
    ///
    /// `orbit.twice_im`, `orbit.leave_r2` are as long as `orbit.twice_re` (`len > 0`),
    /// `orbit.lo` twice as long, and every `lanes.m[i]` lies in `0..len`. (Every step keeps it
    /// there: a lane at `len - 1` is rebased to 0 before its step, whether active or not.)
    #[target_feature(enable = "avx512f")]
    pub(in crate::kernel) unsafe fn dd_plain_avx512(
        _token: Avx512,
        lanes: &mut super::DdLanes,
        orbit: super::DdOrbit<'_>,
    ) -> (u32, u32) {
        let last = orbit.twice_re.len() as i64 - 1;
        let (re2, im2, lo, leave) = (
            orbit.twice_re.as_ptr(),
            orbit.twice_im.as_ptr(),
            orbit.lo.as_ptr(),
            orbit.leave_r2.as_ptr(),
        );
        let active = lanes.active as __mmask8;
        // SAFETY: AVX-512F is present (the token). Loads and stores go through arrays of 8
        // `f64`/`i64`. The gathers read `twice_re[m]`, `twice_im[m]`, `leave_r2[m]`, `lo[2 m]`
        // and `lo[2 m + 1]` with `0 <= m <= last` (the caller's guarantee on entry; each step
        // sets `m` to 0 where it is `last` and adds 1 to the others).
        unsafe {
            let ld = |a: &[f64; 8]| _mm512_loadu_pd(a.as_ptr());
            let mut dr = (ld(&lanes.dr_hi), ld(&lanes.dr_lo));
            let mut di = (ld(&lanes.di_hi), ld(&lanes.di_lo));
            let mut er = ld(&lanes.er);
            let mut ei = ld(&lanes.ei);
            let dcr = (ld(&lanes.dcr_hi), ld(&lanes.dcr_lo));
            let dci = (ld(&lanes.dci_hi), ld(&lanes.dci_lo));
            let mut m = _mm512_loadu_si512(lanes.m.as_ptr().cast());
            let mut n = _mm512_loadu_si512(lanes.n.as_ptr().cast());
            let one = _mm512_set1_epi64(1);
            let last = _mm512_set1_epi64(last);
            let max = _mm512_set1_epi64(i64::from(orbit.max_iterations));
            let two = _mm512_set1_epi64(2);
            let izero = _mm512_setzero_si512();
            let zero = _mm512_setzero_pd();
            let half = _mm512_set1_pd(0.5);
            let r2 = _mm512_set1_pd(ESCAPE_RADIUS_SQ);
            let min_norm = _mm512_set1_pd(crate::deep::lanes::MIN_F64_NORM);
            let small_z = _mm512_set1_pd(crate::deep::lanes::SMALL_Z_NORM);
            let s_plain = _mm512_set1_pd(orbit.s_plain);
            let sign = _mm512_set1_epi64(i64::MIN);
            macro_rules! two_sum {
                ($a:expr, $b:expr) => {{
                    let (a, b) = ($a, $b);
                    let s = _mm512_add_pd(a, b);
                    let bb = _mm512_sub_pd(s, a);
                    let err =
                        _mm512_add_pd(_mm512_sub_pd(a, _mm512_sub_pd(s, bb)), _mm512_sub_pd(b, bb));
                    (s, err)
                }};
            }
            macro_rules! dd_add {
                ($a:expr, $b:expr) => {{
                    let (a, b) = ($a, $b);
                    let (s1, s2) = two_sum!(a.0, b.0);
                    let (t1, t2) = two_sum!(a.1, b.1);
                    let (s1, s2) = two_sum!(s1, _mm512_add_pd(s2, t1));
                    two_sum!(s1, _mm512_add_pd(s2, t2))
                }};
            }
            macro_rules! dd_mul {
                ($a:expr, $b:expr) => {{
                    let (a, b) = ($a, $b);
                    let p = _mm512_mul_pd(a.0, b.0);
                    let err = _mm512_fmsub_pd(a.0, b.0, p);
                    let cross = _mm512_add_pd(_mm512_mul_pd(a.0, b.1), _mm512_mul_pd(a.1, b.0));
                    two_sum!(p, _mm512_add_pd(err, cross))
                }};
            }
            let neg =
                |v: __m512d| _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(v), sign));
            let mut s = 0u32;
            let flags = loop {
                let zr_hi = _mm512_mul_pd(half, _mm512_i64gather_pd::<8>(m, re2));
                let zi_hi = _mm512_mul_pd(half, _mm512_i64gather_pd::<8>(m, im2));
                let m2 = _mm512_add_epi64(m, m);
                let zr = (zr_hi, _mm512_i64gather_pd::<8>(m2, lo));
                let zi = (zi_hi, _mm512_i64gather_pd::<8>(m2, lo.add(1)));
                let xr = dd_add!(zr, dr);
                let xi = dd_add!(zi, di);
                let norm = _mm512_add_pd(_mm512_mul_pd(xr.0, xr.0), _mm512_mul_pd(xi.0, xi.0));
                let done =
                    _mm512_cmp_pd_mask::<_CMP_GT_OQ>(norm, r2) | _mm512_cmpge_epi64_mask(n, max);
                let dnorm = _mm512_add_pd(_mm512_mul_pd(dr.0, dr.0), _mm512_mul_pd(di.0, di.0));
                let rebase = _mm512_cmpeq_epi64_mask(m, last)
                    | _mm512_cmp_pd_mask::<_CMP_LT_OQ>(norm, dnorm);
                let zn = _mm512_add_pd(_mm512_mul_pd(zr_hi, zr_hi), _mm512_mul_pd(zi_hi, zi_hi));
                let bla_r2 = _mm512_i64gather_pd::<8>(m, leave);
                let bla = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(dnorm, bla_r2)
                    & _mm512_cmpge_epi64_mask(_mm512_sub_epi64(max, n), two);
                let leaves = !rebase
                    & (_mm512_cmp_pd_mask::<_CMP_LT_OQ>(dnorm, min_norm)
                        | _mm512_cmp_pd_mask::<_CMP_LT_OQ>(zn, small_z)
                        | bla);
                let flags = (done | leaves) & active;
                if flags != 0 {
                    break flags;
                }
                // Rebase: δz := z, m := 0, Z := 0.
                dr = (
                    _mm512_mask_blend_pd(rebase, dr.0, xr.0),
                    _mm512_mask_blend_pd(rebase, dr.1, xr.1),
                );
                di = (
                    _mm512_mask_blend_pd(rebase, di.0, xi.0),
                    _mm512_mask_blend_pd(rebase, di.1, xi.1),
                );
                m = _mm512_mask_blend_epi64(rebase, m, izero);
                let zr = (
                    _mm512_mask_blend_pd(rebase, zr.0, zero),
                    _mm512_mask_blend_pd(rebase, zr.1, zero),
                );
                let zi = (
                    _mm512_mask_blend_pd(rebase, zi.0, zero),
                    _mm512_mask_blend_pd(rebase, zi.1, zero),
                );
                // e -> 2 z e + s, δz -> (2 Z + δz) δz + δc.
                let pr = _mm512_sub_pd(_mm512_mul_pd(xr.0, er), _mm512_mul_pd(xi.0, ei));
                let pi = _mm512_add_pd(_mm512_mul_pd(xr.0, ei), _mm512_mul_pd(xi.0, er));
                let double =
                    |a: (__m512d, __m512d)| (_mm512_add_pd(a.0, a.0), _mm512_add_pd(a.1, a.1));
                let tr = dd_add!(double(zr), dr);
                let ti = dd_add!(double(zi), di);
                let ti_di = dd_mul!(ti, di);
                let nr = dd_add!(dd_add!(dd_mul!(tr, dr), (neg(ti_di.0), neg(ti_di.1))), dcr);
                let ni = dd_add!(dd_add!(dd_mul!(tr, di), dd_mul!(ti, dr)), dci);
                dr = nr;
                di = ni;
                er = _mm512_add_pd(_mm512_add_pd(pr, pr), s_plain);
                ei = _mm512_add_pd(pi, pi);
                m = _mm512_add_epi64(m, one);
                n = _mm512_add_epi64(n, one);
                s += 1;
            };
            let st = |v: __m512d, a: &mut [f64; 8]| _mm512_storeu_pd(a.as_mut_ptr(), v);
            st(dr.0, &mut lanes.dr_hi);
            st(dr.1, &mut lanes.dr_lo);
            st(di.0, &mut lanes.di_hi);
            st(di.1, &mut lanes.di_lo);
            st(er, &mut lanes.er);
            st(ei, &mut lanes.ei);
            _mm512_storeu_si512(lanes.m.as_mut_ptr().cast(), m);
            _mm512_storeu_si512(lanes.n.as_mut_ptr().cast(), n);
            (s, u32::from(flags))
        }
    }

    /// The AVX2 lockstep loop: lanes 0..4 and 4..8 in two vectors, the operations of
    /// [`delta_avx512`].
    ///
    /// # Safety
    ///
    /// As for [`delta_avx512`].
    #[target_feature(enable = "avx2,fma")]
    pub(in crate::kernel) unsafe fn delta_avx2(
        _token: Avx2Fma,
        lanes: &mut DeltaLanes<'_>,
        (re, im, limits): (&[f64], &[f64], &[f64]),
        bound: u32,
        extended: bool,
        min_norm: f64,
    ) -> (u32, u32, u32) {
        let (re, im, limits) = (re.as_ptr(), im.as_ptr(), limits.as_ptr());
        let first = first_indices(lanes.m);
        let active = lanes.active;
        const CHUNK: u32 = crate::deep::lanes::CHUNK as u32;
        // SAFETY: AVX2, AVX and FMA are present (the token). Loads and stores go through
        // arrays of 8 `f64`/`i64`, 4 at a time at offsets 0 and 4. The gathers read
        // `re[m[i] + s]`, `im[m[i] + s]` and `limits[m[i] + s]` with
        // `m[i] + s < re.len() == im.len() == limits.len()` by the caller's guarantee (a
        // chunk's steps `s + k`, `k < CHUNK`, only where `s + CHUNK <= bound`).
        unsafe {
            let p = |a: &[f64; 8], h: usize| _mm256_loadu_pd(a.as_ptr().add(4 * h));
            let mut dzr = [p(lanes.dzr, 0), p(lanes.dzr, 1)];
            let mut dzi = [p(lanes.dzi, 0), p(lanes.dzi, 1)];
            let dcr = [p(lanes.dcr, 0), p(lanes.dcr, 1)];
            let dci = [p(lanes.dci, 0), p(lanes.dci, 1)];
            let mut er = [p(lanes.er, 0), p(lanes.er, 1)];
            let mut ei = [p(lanes.ei, 0), p(lanes.ei, 1)];
            let es = _mm256_set1_pd(lanes.es);
            let mut idx = [
                _mm256_loadu_si256(first.as_ptr().cast()),
                _mm256_loadu_si256(first.as_ptr().add(4).cast()),
            ];
            let one = _mm256_set1_epi64x(1);
            let chunk = _mm256_set1_epi64x(i64::from(CHUNK));
            let two = _mm256_set1_pd(2.0);
            let zero = _mm256_setzero_pd();
            let r2 = _mm256_set1_pd(ESCAPE_RADIUS_SQ);
            let min_norm = _mm256_set1_pd(min_norm);
            let abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
            let abs = |v: __m256d| _mm256_and_pd(v, abs_mask);
            // The `δc` part of the chunk test, `9 (|δc_r| + |δc_i|)`.
            let nine = _mm256_set1_pd(9.0);
            let dc_part =
                [0, 1].map(|h| _mm256_mul_pd(nine, _mm256_add_pd(abs(dcr[h]), abs(dci[h]))));
            let mut s = 0u32;
            let mut flags = 0u32;
            let mut chunked = 0u32;
            // Tested steps to take before the next chunk test.
            let mut tested = 0u32;
            let half = _mm256_set1_pd(0.5);
            // One step of the lanes of vector `h` from `2 Z = (zr2, zi2)`.
            macro_rules! advance {
                ($h:expr, $zr2:expr, $zi2:expr) => {{
                    let (h, zr2, zi2) = ($h, $zr2, $zi2);
                    let (dr, di) = (dzr[h], dzi[h]);
                    let tr = _mm256_add_pd(zr2, dr);
                    let ti = _mm256_add_pd(zi2, di);
                    dzr[h] = _mm256_fnmadd_pd(ti, di, _mm256_fmadd_pd(tr, dr, dcr[h]));
                    dzi[h] = _mm256_fmadd_pd(ti, dr, _mm256_fmadd_pd(tr, di, dci[h]));
                    let (a, b) = (er[h], ei[h]);
                    let ar = _mm256_fmadd_pd(dr, two, zr2);
                    let ai = _mm256_fmadd_pd(di, two, zi2);
                    er[h] = _mm256_fmadd_pd(ar, a, _mm256_fnmadd_pd(ai, b, es));
                    ei[h] = _mm256_fmadd_pd(ar, b, _mm256_mul_pd(ai, a));
                }};
            }
            while s < bound {
                if tested == 0 && !extended && bound - s >= CHUNK {
                    let mut fits = 0u32;
                    for h in 0..2 {
                        let limit = _mm256_i64gather_pd::<8>(limits, idx[h]);
                        let size =
                            _mm256_add_pd(_mm256_add_pd(abs(dzr[h]), abs(dzi[h])), dc_part[h]);
                        let f = _mm256_cmp_pd::<_CMP_LE_OQ>(size, limit);
                        fits |= (_mm256_movemask_pd(f) as u32) << (4 * h);
                    }
                    if fits & active == active {
                        for k in 0..CHUNK as usize {
                            for (h, &i) in idx.iter().enumerate() {
                                let zr = _mm256_i64gather_pd::<8>(re.add(k), i);
                                let zi = _mm256_i64gather_pd::<8>(im.add(k), i);
                                advance!(h, zr, zi);
                            }
                        }
                        idx = [
                            _mm256_add_epi64(idx[0], chunk),
                            _mm256_add_epi64(idx[1], chunk),
                        ];
                        s += CHUNK;
                        chunked += CHUNK;
                        continue;
                    }
                    tested = CHUNK;
                }
                tested = tested.saturating_sub(1);
                let mut g = 0u32;
                let mut z = [(zero, zero); 2];
                for h in 0..2 {
                    let zr = _mm256_i64gather_pd::<8>(re, idx[h]);
                    let zi = _mm256_i64gather_pd::<8>(im, idx[h]);
                    z[h] = (zr, zi);
                    let (dr, di) = (dzr[h], dzi[h]);
                    let xr = _mm256_fmadd_pd(half, zr, dr);
                    let xi = _mm256_fmadd_pd(half, zi, di);
                    let norm = _mm256_fmadd_pd(xr, xr, _mm256_mul_pd(xi, xi));
                    let dn = _mm256_fmadd_pd(dr, dr, _mm256_mul_pd(di, di));
                    let mut f = _mm256_or_pd(
                        _mm256_cmp_pd::<_CMP_NLE_UQ>(norm, r2),
                        _mm256_cmp_pd::<_CMP_LT_OQ>(norm, dn),
                    );
                    if extended {
                        f = _mm256_or_pd(f, _mm256_cmp_pd::<_CMP_LT_OQ>(dn, min_norm));
                    }
                    g |= (_mm256_movemask_pd(f) as u32) << (4 * h);
                }
                g &= active;
                if g != 0 {
                    flags = g;
                    break;
                }
                for (h, (zr, zi)) in z.into_iter().enumerate() {
                    advance!(h, zr, zi);
                }
                idx = [_mm256_add_epi64(idx[0], one), _mm256_add_epi64(idx[1], one)];
                s += 1;
            }
            for h in 0..2 {
                _mm256_storeu_pd(lanes.dzr.as_mut_ptr().add(4 * h), dzr[h]);
                _mm256_storeu_pd(lanes.dzi.as_mut_ptr().add(4 * h), dzi[h]);
                _mm256_storeu_pd(lanes.er.as_mut_ptr().add(4 * h), er[h]);
                _mm256_storeu_pd(lanes.ei.as_mut_ptr().add(4 * h), ei[h]);
            }
            (s, flags, chunked)
        }
    }
}

/// Coloring of rows with one sample per pixel on AVX-512 (F and DQ), eight pixels at a time:
/// the palette bin of each sample computed with the same operations as the portable loop in
/// [`crate::color`], the colors gathered from its table of packed `r | g << 8 | b << 16`
/// entries, and three bytes per pixel stored. The portable loop spends about 30 instructions
/// per pixel (most of them on the saturating `f64 -> u64` conversion, which x86-64 lacks
/// before AVX-512DQ); this is 14% of a shallow 1080p frame (docs/PERFORMANCE.md).
#[derive(Debug, Clone, Copy)]
pub struct DirectColor {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    token: x86_color::Avx512Dq,
}

/// What [`DirectColor::color_row`] needs from a palette.
#[derive(Debug, Clone, Copy)]
pub struct DirectPalette<'a> {
    /// Packed 8-bit sRGB colors; the length is a power of two, the bins' count.
    pub table: &'a [u32],
    /// Packed color of interior samples.
    pub interior: u32,
    /// `1 / cycle`.
    pub inv_cycle: f64,
    /// Palette offset in cycles.
    pub offset: f64,
}

impl DirectColor {
    /// The AVX-512 coloring, if this CPU has AVX-512F and AVX-512DQ.
    pub fn detect() -> Option<Self> {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            x86_color::Avx512Dq::detect().map(|token| DirectColor { token })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            None
        }
    }

    /// Colors the first `8 * (samples.len() / 8)` pixels of a row into `out` (3 bytes per
    /// pixel) and returns how many it colored; the caller colors the rest. Each pixel gets
    /// `table[((n + nf) * inv_cycle + offset) * table.len()) as u64 % table.len()]`, or the
    /// interior color for [`Escape::INTERIOR_N`].
    ///
    /// # Panics
    ///
    /// If `table.len()` is not a power of two or `out` is shorter than `3 * samples.len()`.
    pub fn color_row(
        self,
        palette: &DirectPalette<'_>,
        samples: &[Escape],
        out: &mut [u8],
    ) -> usize {
        assert!(
            palette.table.len().is_power_of_two(),
            "a power-of-two table"
        );
        assert!(out.len() >= 3 * samples.len(), "room for every pixel");
        let done = samples.len() / 8 * 8;
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: the token exists only where `detect` found AVX-512F and AVX-512DQ (AVX2
            // comes with them); the asserts above are what the function requires.
            unsafe { x86_color::color_row(self.token, palette, &samples[..done], out) };
        }
        done
    }

    /// The statistics [`crate::render::RenderStats`] keeps of the first
    /// `8 * (samples.len() / 8)` samples (returned as the first value): how many are interior,
    /// and the sum and the largest of the escaped samples' counts.
    pub fn count(self, samples: &[Escape]) -> (usize, EscapeCounts) {
        let done = samples.len() / 8 * 8;
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: the token exists only where `detect` found AVX-512F and AVX-512DQ (AVX2
            // comes with them); the slice's length is a multiple of 8, as required.
            (done, unsafe {
                x86_color::count(self.token, &samples[..done])
            })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            (done, EscapeCounts::default())
        }
    }
}

/// Counts over a run of samples (see [`DirectColor::count`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EscapeCounts {
    /// Samples with [`Escape::INTERIOR_N`].
    pub interior: u64,
    /// Sum of the other samples' counts.
    pub sum: u64,
    /// Largest of the other samples' counts (0 when none).
    pub max: u32,
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86_color {
    use std::arch::x86_64::*;

    use super::{DirectPalette, EscapeCounts};
    use crate::kernel::Escape;

    /// Proof that the CPU has AVX-512F, AVX-512DQ and AVX2.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx512Dq(());

    impl Avx512Dq {
        pub(super) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("avx2"))
            .then_some(Avx512Dq(()))
        }
    }

    // `Escape` is `#[repr(C)]` { n: u32, nf: f32 }: eight of them are one 64-byte vector whose
    // 64-bit lanes hold `n` in the low half and the bits of `nf` in the high half.
    const _: () = assert!(std::mem::size_of::<Escape>() == 8);

    /// # Safety
    ///
    /// `samples.len()` is a multiple of 8, `out.len() >= 3 * samples.len()`, and
    /// `palette.table.len()` is a power of two.
    #[target_feature(enable = "avx512f,avx512dq,avx2")]
    pub(super) unsafe fn color_row(
        _token: Avx512Dq,
        palette: &DirectPalette<'_>,
        samples: &[Escape],
        out: &mut [u8],
    ) {
        let bins = palette.table.len();
        // SAFETY: AVX-512F/DQ and AVX2 are present (the token). Each iteration reads 8
        // samples (64 bytes) at `samples[i..i + 8]`, in bounds since `samples.len()` is a
        // multiple of 8; the gather reads `table[bin]` with `bin < bins = table.len()` (masked
        // with `bins - 1`); the stores write `out[3 i..3 i + 24]`, in bounds since
        // `out.len() >= 3 * samples.len()`.
        unsafe {
            let inv_cycle = _mm512_set1_pd(palette.inv_cycle);
            let offset = _mm512_set1_pd(palette.offset);
            let steps = _mm512_set1_pd(bins as f64);
            let zero = _mm512_setzero_pd();
            let mask = _mm512_set1_epi64(bins as i64 - 1);
            let interior = _mm256_set1_epi32(palette.interior as i32);
            let interior_n = _mm256_set1_epi32(Escape::INTERIOR_N as i32);
            // Per 128-bit lane: the 3 color bytes of each of its 4 pixels, then 4 unused.
            let pack = _mm256_setr_epi8(
                0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, //
                0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
            );
            // Joins the two lanes' 12 bytes into 24 consecutive ones.
            let join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
            let table = palette.table.as_ptr().cast::<i32>();
            let src = samples.as_ptr().cast::<__m512i>();
            let dst = out.as_mut_ptr();
            for block in 0..samples.len() / 8 {
                let v = _mm512_loadu_si512(src.add(block));
                let n = _mm512_cvtepi64_epi32(v);
                let nf = _mm256_castsi256_ps(_mm512_cvtepi64_epi32(_mm512_srli_epi64::<32>(v)));
                // As the portable loop: f64::from(n) + f64::from(nf), times 1/cycle, plus the
                // offset, times the bins; both conversions are exact.
                let smooth = _mm512_add_pd(_mm512_cvtepu32_pd(n), _mm512_cvtps_pd(nf));
                let position = _mm512_add_pd(_mm512_mul_pd(smooth, inv_cycle), offset);
                let scaled = _mm512_mul_pd(position, steps);
                // `as u64` saturates: NaN and negatives give 0 (`vmaxpd` returns its second
                // operand when the first is NaN), values from 2^64 on give u64::MAX, which is
                // what `vcvttpd2uqq` returns for them.
                let whole = _mm512_cvttpd_epu64(_mm512_max_pd(scaled, zero));
                let bin = _mm512_and_si512(whole, mask);
                let color = _mm512_i64gather_epi32::<4>(bin, table);
                let is_interior = _mm256_cmpeq_epi32(n, interior_n);
                let color = _mm256_blendv_epi8(color, interior, is_interior);
                let bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(color, pack), join);
                let at = dst.add(24 * block);
                _mm_storeu_si128(at.cast(), _mm256_castsi256_si128(bytes));
                _mm_storel_epi64(at.add(16).cast(), _mm256_extracti128_si256::<1>(bytes));
            }
        }
    }

    /// # Safety
    ///
    /// `samples.len()` is a multiple of 8.
    #[target_feature(enable = "avx512f,avx512dq,avx2")]
    pub(super) unsafe fn count(_token: Avx512Dq, samples: &[Escape]) -> EscapeCounts {
        // SAFETY: AVX-512F/DQ and AVX2 are present (the token). Each iteration reads the 8
        // samples (64 bytes) at `samples[8 b..8 b + 8]`, in bounds since the length is a
        // multiple of 8.
        unsafe {
            let src = samples.as_ptr().cast::<__m512i>();
            let interior_n = _mm256_set1_epi32(Escape::INTERIOR_N as i32);
            let mut sum = _mm512_setzero_si512();
            let mut max = _mm256_setzero_si256();
            let mut interior = 0u64;
            for block in 0..samples.len() / 8 {
                let n = _mm512_cvtepi64_epi32(_mm512_loadu_si512(src.add(block)));
                let inside = _mm256_cmpeq_epi32(n, interior_n);
                interior += u64::from(_mm256_movemask_ps(_mm256_castsi256_ps(inside)).count_ones());
                let escaped = _mm256_andnot_si256(inside, n);
                sum = _mm512_add_epi64(sum, _mm512_cvtepu32_epi64(escaped));
                max = _mm256_max_epu32(max, escaped);
            }
            let mut lanes = [0u32; 8];
            _mm256_storeu_si256(lanes.as_mut_ptr().cast(), max);
            EscapeCounts {
                interior,
                sum: _mm512_reduce_add_epi64(sum) as u64,
                max: lanes.into_iter().max().unwrap_or(0),
            }
        }
    }
}
