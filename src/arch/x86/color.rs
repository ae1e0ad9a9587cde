//! Coloring and counting rows of samples on AVX-512, for frames with one sample per pixel.
//!
//! The portable loops these must match bit for bit sit beside their users (the palette and the
//! band's statistics); the tests there compare the two.

use crate::kernel::sample::{Escape, EscapeCounts};

/// Coloring of rows with one sample per pixel on AVX-512 (F and DQ), eight pixels at a time:
/// the palette bin of each sample computed with the same operations as the portable loop in
/// [`crate::color`], the colors gathered from its table of packed `r | g << 8 | b << 16`
/// entries, and three bytes per pixel stored. The portable loop spends about 30 instructions
/// per pixel (most of them on the saturating `f64 -> u64` conversion, which x86-64 lacks
/// before AVX-512DQ); this is 14% of a shallow 1080p frame (docs/PERFORMANCE.md).
#[derive(Debug, Clone, Copy)]
pub struct DirectColor {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    token: imp::Avx512Dq,
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
            imp::Avx512Dq::detect().map(|token| DirectColor { token })
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
            unsafe { imp::color_row(self.token, palette, &samples[..done], out) };
        }
        done
    }

    /// The statistics `RenderStats` (the render module) keeps of the first
    /// `8 * (samples.len() / 8)` samples (returned as the first value): how many are interior,
    /// and the sum and the largest of the escaped samples' counts.
    pub fn count(self, samples: &[Escape]) -> (usize, EscapeCounts) {
        let done = samples.len() / 8 * 8;
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: the token exists only where `detect` found AVX-512F and AVX-512DQ (AVX2
            // comes with them); the slice's length is a multiple of 8, as required.
            (done, unsafe {
                imp::count(self.token, &samples[..done])
            })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            (done, EscapeCounts::default())
        }
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod imp {
    use std::arch::x86_64::*;

    use super::{DirectPalette, EscapeCounts};
    use crate::kernel::sample::Escape;

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
