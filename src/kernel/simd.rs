//! x86-64 SIMD kernels: the lane engine of [`super::interleaved`] on AVX2 (4 lanes per vector)
//! and AVX-512 (8 lanes per vector), four vectors in flight.
//!
//! Why these are separate kernels chosen at run time: one binary runs on many CPUs, so the
//! instructions cannot be enabled for the whole crate. Each kernel struct holds a token that
//! can only be made by [`Avx2::detect`] / [`Avx512::detect`], which ask the CPU
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
//! the same image.
//!
//! All `unsafe` code of the crate's kernels is in this file. On other architectures, and under
//! Miri (which cannot run these intrinsics), the constructors return `None`.

// The crate denies `unsafe_code`; the intrinsics below are the one place that needs it.
#![allow(unsafe_code)]

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
            // it implies) on this CPU, which is all that `avx2_row`'s target features require.
            unsafe { x86::avx2_row(self.token, self.options, grid, sy, max_iterations, out) }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, sy, max_iterations, out);
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
            // SAFETY: `self.token` exists only where `Avx512::detect` found AVX-512F on this
            // CPU, which is all that `avx512_row`'s target features require.
            unsafe { x86::avx512_row(self.token, self.options, grid, sy, max_iterations, out) }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, sy, max_iterations, out);
            unreachable!("an Avx512Kernel cannot be constructed on this target")
        }
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86 {
    use std::arch::x86_64::*;

    use super::VECTORS;
    use crate::kernel::interleaved::{Simd, escape_row_lanes};
    use crate::kernel::{Escape, KernelOptions, SampleGrid};

    /// Proof that the CPU has AVX2: only [`Avx2::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx2(());

    /// Proof that the CPU has AVX-512F: only [`Avx512::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx512(());

    impl Avx2 {
        pub(super) fn detect() -> Option<Self> {
            is_x86_feature_detected!("avx2").then_some(Avx2(()))
        }
    }

    impl Avx512 {
        pub(super) fn detect() -> Option<Self> {
            is_x86_feature_detected!("avx512f").then_some(Avx512(()))
        }
    }

    #[target_feature(enable = "avx2")]
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

    #[target_feature(enable = "avx512f")]
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
        fn and_not_gt(self, m: __m256d, a: __m256d, b: __m256d) -> __m256d {
            // SAFETY: AVX is present.
            unsafe { _mm256_and_pd(m, _mm256_cmp_pd::<_CMP_NGT_UQ>(a, b)) }
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
        fn and_not_gt(self, m: __mmask8, a: __m512d, b: __m512d) -> __mmask8 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_mask_cmp_pd_mask::<_CMP_NGT_UQ>(m, a, b) }
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
}
