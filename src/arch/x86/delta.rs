//! The perturbation loops on x86-64: the lockstep delta loop of `crate::deep::lanes` on AVX-512
//! or AVX2 + FMA ([`DeltaLockstep::run`]), the plain double-double steps of the second pass
//! ([`DeltaLockstep::dd_plain`]), FMA for the one-sample loops between them
//! ([`DeltaLockstep::with_fma`]), and a measuring probe for the deep bench.
//!
//! The thresholds these loops share with their portable twins come from `crate::deep::bounds`,
//! a leaf, so this layer imports nothing of the deep-zoom engine that calls it.

use crate::arch::Work;
#[cfg(all(target_arch = "x86_64", not(miri)))]
use crate::arch::x86::escape::Avx512;

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

/// The lockstep loop of [`crate::deep::lanes`] on AVX-512 (one vector of 8 lanes) or AVX2 with
/// FMA (two vectors of 4), with the reference orbit values `Z_{m+s}` gathered per lane by
/// index, one index vector for the real and the imaginary parts (the orbit keeps them in two
/// arrays).
///
/// Unlike the plain kernels ([`super::escape`]), these loops use fused multiply-adds: every implementation of
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
    isa: imp::DeltaIsa,
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    fma: imp::Fma,
}

impl DeltaLockstep {
    /// The best implementation this CPU has (AVX-512F, then AVX2), or `None`; both need FMA.
    pub fn detect() -> Option<Self> {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            let fma = imp::Fma::detect()?;
            Avx512::detect()
                .map(imp::DeltaIsa::Avx512)
                .or_else(|| imp::Avx2Fma::detect().map(imp::DeltaIsa::Avx2))
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
            let fma = imp::Fma::detect()?;
            imp::Avx2Fma::detect().map(|t| DeltaLockstep {
                isa: imp::DeltaIsa::Avx2(t),
                fma,
            })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            None
        }
    }

    /// The instruction set: `avx512` or `avx2`.
    pub fn name(self) -> &'static str {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            match self.isa {
                imp::DeltaIsa::Avx512(_) => "avx512",
                imp::DeltaIsa::Avx2(_) => "avx2",
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
    /// [`crate::deep::lanes::handle`] and the double-double pass of [`crate::deep::num::dd`], which
    /// run between the lockstep loops.
    #[inline]
    pub fn with_fma<W: Work>(self, work: W) -> W::Output {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // SAFETY: `self.fma` exists only where `Fma::detect` found FMA (and AVX, which it
            // implies) on this CPU, all that `with_fma`'s target features require.
            unsafe { imp::with_fma(self.fma, work) }
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
    /// [`crate::deep::bounds::chunk_limits`] against `limits[m + s]` (and `bound` leaves room),
    /// the next [`crate::deep::bounds::CHUNK`] steps are taken without the flag tests, which
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
                    imp::DeltaIsa::Avx512(t) => imp::delta_avx512(
                        t,
                        lanes,
                        (re, im, limits),
                        bound,
                        extended,
                        min_norm,
                    ),
                    imp::DeltaIsa::Avx2(t) => {
                        imp::delta_avx2(t, lanes, (re, im, limits), bound, extended, min_norm)
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
    #[cfg(any(test, feature = "internals"))]
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
                imp::DeltaIsa::Avx512(t) => {
                    Some(unsafe { imp::gather_probe_avx512(t, (re, im), starts, steps) })
                }
                imp::DeltaIsa::Avx2(_) => None,
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            unreachable!("a DeltaLockstep cannot be constructed on this target")
        }
    }
}

/// Eight samples of the double-double second pass ([`crate::deep::num::dd`]) in plain steps, as
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
            matches!(self.isa, imp::DeltaIsa::Avx512(_))
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            false
        }
    }

    /// Plain double-double steps of every lane of `lanes` in lockstep, each the operations of
    /// the one-sample step of [`crate::deep::num::dd`] (`Walk::plain_step`) in the same order, so the
    /// same bits: rebasing where `m` is the orbit's last entry or `|z| < |δz|`, and stopping
    /// before the first step at which some active lane would not take a plain step (it escapes,
    /// reaches the budget, or would leave plain pairs: `|δz|^2` below `2^-1000`, `|Z_m|^2`
    /// below [`crate::deep::bounds::SMALL_Z_NORM`], or a level-1 BLA step applies). Returns the
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
                imp::DeltaIsa::Avx512(t) => {
                    Some(unsafe { imp::dd_plain_avx512(t, lanes, orbit) })
                }
                imp::DeltaIsa::Avx2(_) => None,
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            None
        }
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod imp {
    use std::arch::x86_64::*;

    use super::DeltaLanes;
    use crate::arch::Work;
    use crate::arch::x86::escape::Avx512;
    use crate::deep::bounds::{CHUNK as CHUNK_LEN, MIN_F64_NORM, SMALL_Z_NORM};
    use crate::kernel::sample::ESCAPE_RADIUS_SQ;

    /// Proof that the CPU has FMA (and AVX): only [`Fma::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Fma(());

    impl Fma {
        pub(super) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma")).then_some(Fma(()))
        }
    }

    /// `f()` compiled with FMA; see [`super::DeltaLockstep::with_fma`].
    #[target_feature(enable = "avx,fma")]
    pub(super) fn with_fma<W: Work>(_token: Fma, work: W) -> W::Output {
        work.call()
    }

    /// Proof that the CPU has AVX2 and FMA: only [`Avx2Fma::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx2Fma(());

    impl Avx2Fma {
        pub(super) fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Avx2Fma(()))
        }
    }

    /// Which instruction set a [`super::DeltaLockstep`] uses (the token proves the CPU has it).
    #[derive(Debug, Clone, Copy)]
    pub(super) enum DeltaIsa {
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
    pub(super) unsafe fn delta_avx512(
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
        const CHUNK: u32 = CHUNK_LEN as u32;
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
    #[cfg(any(test, feature = "internals"))]
    pub(super) unsafe fn gather_probe_avx512(
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
    /// `crate::deep::num::dd`'s `Dd::add`, `Dd::mul`, `Dd::double`, `Dd::neg`, `two_sum` and
    /// `two_prod` (`a b - p` as `fmsub`, the same as `fma(a, b, -p)`), lane by lane, and
    /// `x x + y y` as a multiplication, a multiplication and an addition (not fused) as there.
    ///
    /// # Safety
    ///
    /// `orbit.twice_im`, `orbit.leave_r2` are as long as `orbit.twice_re` (`len > 0`),
    /// `orbit.lo` twice as long, and every `lanes.m[i]` lies in `0..len`. (Every step keeps it
    /// there: a lane at `len - 1` is rebased to 0 before its step, whether active or not.)
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dd_plain_avx512(
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
            let min_norm = _mm512_set1_pd(MIN_F64_NORM);
            let small_z = _mm512_set1_pd(SMALL_Z_NORM);
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
    pub(super) unsafe fn delta_avx2(
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
        const CHUNK: u32 = CHUNK_LEN as u32;
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

#[cfg(test)]
mod tests {
    /// The deep bench's probe reads what it says: `re[m] im[m]` summed over every lane's walk
    /// (small integers, so the sum is exact in any order), and refuses a walk past the end.
    #[test]
    fn gather_probe_sums_each_lanes_walk() {
        let Some(simd) = super::DeltaLockstep::detect().filter(|s| s.name() == "avx512") else {
            return crate::arch::skip_test_without("avx512");
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
