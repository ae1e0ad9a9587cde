//! The plain escape-time kernels' vectors on x86-64: [`Simd`] for AVX2 (4 lanes) and AVX-512
//! (8 lanes), and the entry points that compile the lane engine for each.
//!
//! Why a token and an entry point: one binary runs on many CPUs, so the instructions cannot be
//! enabled for the whole crate. [`Avx2`] / [`Avx512`] can only be made by `detect`, which asks
//! the CPU (`is_x86_feature_detected!`); `run` enters a function compiled with
//! `#[target_feature]`, inside which the engine of `crate::kernel::interleaved` (all
//! `#[inline(always)]`) and these intrinsics are compiled as one loop. Holding the token is the
//! proof that makes entering it sound.
//!
//! Why no FMA in the step of `z` although the CPU has it: `x*x - y*y` fused rounds once instead
//! of twice, which changes the last bit of `z` and, over thousands of steps, the escape counts.
//! Separate `mul`/`add`/`sub` instructions give exactly the scalar reference's bits. The
//! derivative's step is defined with fused operations (in the reference too,
//! `crate::kernel::sample::slope_step`), so [`Simd::mul_add`] is one instruction here: the AVX2
//! token requires FMA (every AVX2 CPU zoomgen has met has it), AVX-512F includes it.
//!
//! On other architectures, and under Miri (which cannot run these intrinsics), the tokens do not
//! exist.

#[cfg(all(target_arch = "x86_64", not(miri)))]
pub(crate) use imp::{Avx2, Avx512};

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod imp {
    use std::arch::x86_64::*;

    use crate::arch::{Simd, Work};
    use crate::kernel::sample::ESCAPE_RADIUS_SQ;

    /// Proof that the CPU has AVX2, FMA and POPCNT (the engine counts mask bits often; the
    /// derivative's step is fused): only [`Avx2::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Avx2(());

    /// Proof that the CPU has AVX-512F (and POPCNT): only [`Avx512::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Avx512(());

    impl Avx2 {
        pub(crate) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("popcnt"))
            .then_some(Avx2(()))
        }
    }

    impl Avx512 {
        pub(crate) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("popcnt"))
                .then_some(Avx512(()))
        }
    }

    /// `work`, compiled with AVX2 and POPCNT enabled: the engine, all `#[inline(always)]`, is
    /// compiled inside, so the intrinsics of [`Simd`] become single instructions in its loop.
    #[target_feature(enable = "avx2,fma,popcnt")]
    fn with_avx2<W: Work>(_token: Avx2, work: W) -> W::Output {
        work.call()
    }

    /// `work`, compiled with AVX-512F and POPCNT enabled (see [`with_avx2`]).
    #[target_feature(enable = "avx512f,popcnt")]
    fn with_avx512<W: Work>(_token: Avx512, work: W) -> W::Output {
        work.call()
    }

    impl Avx2 {
        /// Runs `work` compiled for AVX2.
        #[inline]
        pub(crate) fn run<W: Work>(self, work: W) -> W::Output {
            // SAFETY: `self` exists only where `detect` found AVX2 (and AVX, which it implies)
            // and POPCNT on this CPU, all that `with_avx2`'s target features require.
            unsafe { with_avx2(self, work) }
        }
    }

    impl Avx512 {
        /// Runs `work` compiled for AVX-512F.
        #[inline]
        pub(crate) fn run<W: Work>(self, work: W) -> W::Output {
            // SAFETY: `self` exists only where `detect` found AVX-512F and POPCNT on this CPU,
            // all that `with_avx512`'s target features require.
            unsafe { with_avx512(self, work) }
        }
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
        fn mul_add(self, a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            // SAFETY: FMA is present (the token requires it).
            unsafe { _mm256_fmadd_pd(a, b, c) }
        }
        #[inline(always)]
        fn mul_sub(self, a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            // SAFETY: FMA is present (the token requires it).
            unsafe { _mm256_fmsub_pd(a, b, c) }
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
        fn mul_add(self, a: __m512d, b: __m512d, c: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present (its FMA instructions are part of it).
            unsafe { _mm512_fmadd_pd(a, b, c) }
        }
        #[inline(always)]
        fn mul_sub(self, a: __m512d, b: __m512d, c: __m512d) -> __m512d {
            // SAFETY: AVX-512F is present (its FMA instructions are part of it).
            unsafe { _mm512_fmsub_pd(a, b, c) }
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
        use crate::testing::XorShift;
        use crate::kernel::sample::{ESCAPE_RADIUS_SQ, smooth_fraction};

        #[test]
        fn avx512_smooth_fractions_are_the_scalar_ones() {
            let Some(s) = Avx512::detect() else {
                return crate::arch::skip_test_without("avx512");
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
