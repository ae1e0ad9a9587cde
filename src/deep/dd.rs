//! Double-double perturbation with an extended exponent: the second pass for ill-conditioned
//! samples.
//!
//! A sample whose escape count `f64` deltas cannot determine (see
//! [`super::perturb::ILL_CONDITIONED_TOLERANCE`]) is iterated again here: the same perturbation
//! `δz -> (2 Z_m + δz) δz + δc` with rebasing, in numbers of about 104 bits (an unevaluated
//! sum `hi + lo` of two `f64`, Dekker's "double-length" numbers: plain pairs while `|δz| >=
//! 2^-500`, [`DdExp`] with a shared `i64` exponent below that, for deltas far below the `f64`
//! range), against the reference orbit's values to the same precision
//! ([`ReferenceOrbit::z_dd`]), with a BLA table of tolerance `2^-104` ([`super::dd_bla`], the
//! rule of [`super::bla`]) for the long stretches where `|δz|` is tiny. In the benchmark's
//! 1080p frame at 1e-100 this second pass cost about 0.1 ms per sample (before the vector loop
//! below), against about 1 ms for a direct iteration at 448 bits. Samples still ill-conditioned
//! at this precision go on to direct fixed-point iteration.
//!
//! The plain steps are most of the pass, and each is some 300 dependent `f64` operations. Where
//! the CPU has AVX-512, [`iterate_many`] runs them for eight samples at once in a vector loop
//! ([`crate::arch::x86::delta::DeltaLockstep::dd_plain`], the same operations lane by lane, so the
//! same bits), handing a sample back to the one-sample code whenever its next step is not a
//! plain one; elsewhere four samples take turns.
//!
//! The numbers themselves, and the sources of their arithmetic, are in [`super::num::dd`].

use super::num::dd::{Dd, DdCx, DdExp};
use super::num::floatexp::{Cx, FloatExp};
use super::dd_bla::DdBlaTable;
use super::orbit::ReferenceOrbit;
use crate::arch::x86::delta::{DdLanes, DdOrbit, DeltaLockstep};
use crate::kernel::{ESCAPE_RADIUS_SQ, Escape, Slope};

/// Outcome of [`iterate`]: the escape, and whether the sample is ill-conditioned even at this
/// precision (then only a direct iteration gives its count).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdResult {
    pub escape: Escape,
    /// The escape's slope ([`Slope::NONE`] for interior samples).
    pub slope: Slope,
    pub ill_conditioned: bool,
}

/// `|δz|^2` below which [`iterate`] steps in [`DdExp`] (`|δz| < 2^-500`).
const PLAIN_MIN_NORM: f64 = super::bounds::MIN_F64_NORM;

/// A sample of [`iterate`] between its stretches: delta, derivative `e = s dz/dc`, reference
/// index and iteration count.
#[derive(Debug, Clone, Copy)]
struct DdState {
    dz: DdCx,
    e: Cx<FloatExp>,
    m: usize,
    n: u32,
}

/// A sample in plain double-double steps (see [`iterate`]).
#[derive(Debug, Clone, Copy)]
struct DdPlain {
    dr: Dd,
    di: Dd,
    er: f64,
    ei: f64,
    m: usize,
    n: u32,
}

impl DdPlain {
    #[inline(always)]
    fn of(st: DdState) -> DdPlain {
        DdPlain {
            dr: Dd::of(st.dz.re),
            di: Dd::of(st.dz.im),
            er: st.e.re.to_f64(),
            ei: st.e.im.to_f64(),
            m: st.m,
            n: st.n,
        }
    }

    #[inline(always)]
    fn state(self) -> DdState {
        DdState {
            dz: DdCx {
                re: self.dr.to_ddexp(),
                im: self.di.to_ddexp(),
            },
            e: Cx::from_f64(self.er, self.ei),
            m: self.m,
            n: self.n,
        }
    }
}

/// Where the [`DdExp`] stretch of a sample ended.
enum Stretch {
    Done(DdResult),
    Plain(DdPlain),
}

/// What one plain step did.
enum PlainStep {
    Stepped,
    Done(DdResult),
    /// The sample goes on in [`DdExp`] (or with a BLA step) from [`DdPlain::state`].
    Leave,
}

/// What the second pass reads for every sample: the orbit, the table, the frame's budget and
/// spacing, and the conditioning test `ill(sample, e, norm, n)` at a sample's end.
struct Walk<'a, F> {
    orbit: &'a ReferenceOrbit,
    table: &'a DdBlaTable,
    last: usize,
    max_iterations: u32,
    spacing: FloatExp,
    s_plain: f64,
    ill: F,
}

impl<'a, F: Fn(usize, Cx<FloatExp>, f64, u32) -> bool> Walk<'a, F> {
    #[inline(always)]
    fn new(
        orbit: &'a ReferenceOrbit,
        table: &'a DdBlaTable,
        max_iterations: u32,
        spacing: FloatExp,
        ill: F,
    ) -> Self {
        Walk {
            orbit,
            table,
            last: orbit.len() - 1,
            max_iterations,
            spacing,
            s_plain: Dd::of(DdExp::from_fe(spacing)).hi,
            ill,
        }
    }

    #[inline(always)]
    fn done(&self, sample: usize, escape: Escape, [z, e]: [Cx<FloatExp>; 2], norm: f64, n: u32) -> DdResult {
        let slope = if escape.is_interior() {
            Slope::NONE
        } else {
            Slope::at_escape(z.to_f64_pair(), e.to_f64_pair())
        };
        DdResult {
            escape,
            slope,
            ill_conditioned: (self.ill)(sample, e, norm, n),
        }
    }

    /// `|Z_m|^2` in `f64`.
    #[inline(always)]
    fn zn(&self, m: usize) -> f64 {
        let [x, y] = self.orbit.z_f64(m);
        x * x + y * y
    }

    /// The sample from `st` in [`DdExp`] steps and BLA steps, until it is done or may step in
    /// plain pairs; `check` whether it may before its first step (not right after it left them).
    #[inline(always)]
    fn extended(&self, sample: usize, dc: DdCx, st: DdState, mut check: bool) -> Stretch {
        let DdState {
            mut dz,
            mut e,
            mut m,
            mut n,
        } = st;
        let (orbit, table, spacing) = (self.orbit, self.table, self.spacing);
        loop {
            if check
                && m != 0
                && !dz
                    .to_fe()
                    .norm_sqr()
                    .abs_lt(FloatExp::from_f64(PLAIN_MIN_NORM))
                && self.zn(m) >= super::bounds::SMALL_Z_NORM
            {
                return Stretch::Plain(DdPlain::of(DdState { dz, e, m, n }));
            }
            check = true;
            let zr = orbit.z_dd(m);
            let z = zr.add(dz);
            let (x, y) = (z.re.to_f64(), z.im.to_f64());
            let norm = x * x + y * y;
            if norm > ESCAPE_RADIUS_SQ || n >= self.max_iterations {
                let escape = if norm > ESCAPE_RADIUS_SQ {
                    Escape::escaped(n, norm)
                } else {
                    Escape::INTERIOR
                };
                return Stretch::Done(self.done(sample, escape, [Cx::from_f64(x, y), e], norm, n));
            }
            let zf = z.to_fe();
            let mut zr = zr;
            if m == self.last || zf.norm_sqr().abs_lt(dz.to_fe().norm_sqr()) {
                dz = z;
                m = 0;
                zr = DdCx::ZERO;
            }
            // (`|δz|^2` only where a step could start.)
            if m & 1 == 1
                && let Some((b, len)) =
                    table.step_at(m, dz.to_fe().norm_sqr(), self.max_iterations - n)
            {
                dz = b.a.mul(dz).add(b.b.mul(dc));
                let (a, bb) = (b.a.to_fe(), b.b.to_fe());
                e = a.mul(e).add(bb.scale(spacing));
                m += len as usize;
                n += len;
                continue;
            }
            let p = zf.mul(e);
            e = Cx {
                re: p.re.double() + spacing,
                im: p.im.double(),
            };
            dz = zr.double().add(dz).mul(dz).add(dc);
            m += 1;
            n += 1;
        }
    }

    /// One plain double-double step of the sample in `p` (`dc`: its `δc` as plain pairs).
    #[inline(always)]
    fn plain_step(&self, sample: usize, dc: &[Dd; 2], p: &mut DdPlain) -> PlainStep {
        let DdPlain {
            mut dr,
            mut di,
            er,
            ei,
            mut m,
            n,
        } = *p;
        let [x0, y0] = self.orbit.z_f64(m);
        let [x1, y1] = self.orbit.z_lo()[m];
        let (zr, zi) = (Dd { hi: x0, lo: x1 }, Dd { hi: y0, lo: y1 });
        let (xr, xi) = (zr.add(dr), zi.add(di));
        let norm = xr.hi * xr.hi + xi.hi * xi.hi;
        if norm > ESCAPE_RADIUS_SQ || n >= self.max_iterations {
            let escape = if norm > ESCAPE_RADIUS_SQ {
                Escape::escaped(n, norm)
            } else {
                Escape::INTERIOR
            };
            let z = Cx::from_f64(xr.hi, xi.hi);
            return PlainStep::Done(self.done(sample, escape, [z, Cx::from_f64(er, ei)], norm, n));
        }
        let dnorm = dr.hi * dr.hi + di.hi * di.hi;
        let (mut zr, mut zi) = (zr, zi);
        if m == self.last || norm < dnorm {
            (dr, di) = (xr, xi);
            m = 0;
            zr = Dd { hi: 0.0, lo: 0.0 };
            zi = zr;
        } else if dnorm < PLAIN_MIN_NORM
            || self.zn(m) < super::bounds::SMALL_Z_NORM
            || (self.table.leave_r2.get(m).is_some_and(|&r2| dnorm < r2)
                && self.max_iterations - n >= 2)
        {
            // DdExp steps, or a BLA step (there).
            p.dr = dr;
            p.di = di;
            p.m = m;
            return PlainStep::Leave;
        }
        // e -> 2 z e + s, δz -> (2 Z + δz) δz + δc.
        let (pr, pi) = (xr.hi * er - xi.hi * ei, xr.hi * ei + xi.hi * er);
        let (tr, ti) = (zr.double().add(dr), zi.double().add(di));
        *p = DdPlain {
            dr: tr.mul(dr).add(ti.mul(di).neg()).add(dc[0]),
            di: tr.mul(di).add(ti.mul(dr)).add(dc[1]),
            er: (pr + pr) + self.s_plain,
            ei: pi + pi,
            m: m + 1,
            n: n + 1,
        };
        PlainStep::Stepped
    }
}

/// Iterates the sample `δc` (relative to the orbit's reference point) in double-double:
/// perturbation steps with rebasing (Zhuoran) and the BLA steps of `table`, in plain pairs while
/// `|δz| >= 2^-500` and `|Z_m| >= 2^-400` (so that neither `δc`, below `2^-950` in frames that
/// need it flushed to 0, nor the rounding of `δz^2` matters at 104 bits), in [`DdExp`]
/// otherwise (and for the BLA steps). `spacing`: the
/// frame's sample spacing; `ill(e, norm, n)`: the conditioning test at the end, with
/// `e = spacing dz/dc`. The one-sample form of [`iterate_many`] (which the kernel uses), and
/// the reference its tests compare with. Inlined into its callers, so that one may compile it
/// with FMA ([`crate::arch::x86::delta::DeltaLockstep::with_fma`]).
#[inline(always)]
#[cfg(any(test, feature = "internals"))]
pub fn iterate(
    orbit: &ReferenceOrbit,
    table: &DdBlaTable,
    dc: DdCx,
    max_iterations: u32,
    spacing: FloatExp,
    ill: impl Fn(Cx<FloatExp>, f64, u32) -> bool,
) -> DdResult {
    let walk = Walk::new(orbit, table, max_iterations, spacing, |_, e, norm, n| {
        ill(e, norm, n)
    });
    let dc_plain = [Dd::of(dc.re), Dd::of(dc.im)];
    let mut stretch = walk.extended(0, dc, DdState::START, true);
    loop {
        match stretch {
            Stretch::Done(r) => return r,
            Stretch::Plain(mut p) => {
                loop {
                    match walk.plain_step(0, &dc_plain, &mut p) {
                        PlainStep::Stepped => {}
                        PlainStep::Done(r) => return r,
                        PlainStep::Leave => break,
                    }
                }
                stretch = walk.extended(0, dc, p.state(), false);
            }
        }
    }
}

/// Samples in flight in [`iterate_many`].
pub const IN_FLIGHT: usize = 4;

/// [`iterate`] for every sample of `dcs`, several at a time. With `simd` able to
/// ([`DeltaLockstep::has_dd_plain`]: AVX-512), eight samples take their plain steps in lockstep
/// in one vector loop ([`DeltaLockstep::dd_plain`]) until one of them would do something else;
/// elsewhere [`IN_FLIGHT`] samples take turns step by step, so that the processor overlaps the
/// long dependent chains of one sample's double-double arithmetic with the others'. Either way
/// each sample's operations are those of [`iterate`], so the results are the same.
/// `ill(i, e, norm, n)`: the conditioning test of sample `i`.
#[inline(always)]
pub fn iterate_many(
    orbit: &ReferenceOrbit,
    table: &DdBlaTable,
    dcs: &[DdCx],
    max_iterations: u32,
    spacing: FloatExp,
    ill: impl Fn(usize, Cx<FloatExp>, f64, u32) -> bool,
    simd: Option<DeltaLockstep>,
) -> Vec<DdResult> {
    let walk = Walk::new(orbit, table, max_iterations, spacing, ill);
    let plain: Vec<[Dd; 2]> = dcs.iter().map(|d| [Dd::of(d.re), Dd::of(d.im)]).collect();
    let mut results = vec![
        DdResult {
            escape: Escape::INTERIOR,
            slope: Slope::NONE,
            ill_conditioned: false,
        };
        dcs.len()
    ];
    let mut next = 0;
    // The next sample that reaches plain steps (finishing those that end before).
    let mut take = |results: &mut Vec<DdResult>| {
        while next < dcs.len() {
            let i = next;
            next += 1;
            match walk.extended(i, dcs[i], DdState::START, true) {
                Stretch::Done(r) => results[i] = r,
                Stretch::Plain(p) => return Some((i, p)),
            }
        }
        None
    };
    let simd = simd.filter(|s| s.has_dd_plain());
    let width = if simd.is_some() { 8 } else { IN_FLIGHT };
    let mut lanes: [Option<(usize, DdPlain)>; 8] = [None; 8];
    for lane in &mut lanes[..width] {
        *lane = take(&mut results);
    }
    // One plain step of the sample in `lane`, or what replaces it (the end of the sample and
    // the next one in its place, or its stretch outside plain steps).
    let mut advance = |lane: &mut Option<(usize, DdPlain)>, results: &mut Vec<DdResult>| {
        let Some((i, p)) = lane else { return };
        let i = *i;
        match walk.plain_step(i, &plain[i], p) {
            PlainStep::Stepped => {}
            PlainStep::Done(r) => {
                results[i] = r;
                *lane = take(results);
            }
            PlainStep::Leave => match walk.extended(i, dcs[i], p.state(), false) {
                Stretch::Done(r) => {
                    results[i] = r;
                    *lane = take(results);
                }
                Stretch::Plain(q) => *p = q,
            },
        }
    };
    match simd {
        Some(simd) => {
            let lo = orbit.z_lo().as_flattened();
            let view = DdOrbit {
                twice_re: orbit.twice_re(),
                twice_im: orbit.twice_im(),
                lo,
                leave_r2: &table.leave_r2,
                max_iterations,
                s_plain: walk.s_plain,
            };
            // The lanes' states live in `v` while the vector loop runs them; a lane goes back
            // to its `DdPlain` only when the loop leaves its next step to `advance`.
            let mut v = DdLanes::default();
            for (l, lane) in lanes.iter().enumerate() {
                put_lane(&mut v, l, lane, &plain);
            }
            while v.active != 0 {
                // The lanes whose next step the vector loop leaves to `advance` (all of them
                // where it cannot run).
                let flags = simd.dd_plain(&mut v, view).map_or(v.active, |(_, f)| f);
                for (l, lane) in lanes.iter_mut().enumerate() {
                    if flags & (1 << l) != 0 {
                        if let Some((_, p)) = lane {
                            take_lane(&v, l, p);
                        }
                        advance(lane, &mut results);
                        put_lane(&mut v, l, lane, &plain);
                    }
                }
            }
        }
        None => {
            while lanes.iter().any(Option::is_some) {
                for lane in &mut lanes[..IN_FLIGHT] {
                    advance(lane, &mut results);
                }
            }
        }
    }
    results
}

/// Lane `l` of `v` from `lane` (`plain`: the samples' `δc` as pairs); inactive, at `m = 0`,
/// where `lane` is empty.
fn put_lane(v: &mut DdLanes, l: usize, lane: &Option<(usize, DdPlain)>, plain: &[[Dd; 2]]) {
    let Some((i, p)) = lane else {
        v.active &= !(1 << l);
        v.m[l] = 0;
        return;
    };
    let [dcr, dci] = plain[*i];
    (v.dr_hi[l], v.dr_lo[l], v.di_hi[l], v.di_lo[l]) = (p.dr.hi, p.dr.lo, p.di.hi, p.di.lo);
    (v.er[l], v.ei[l]) = (p.er, p.ei);
    (v.dcr_hi[l], v.dcr_lo[l], v.dci_hi[l], v.dci_lo[l]) = (dcr.hi, dcr.lo, dci.hi, dci.lo);
    (v.m[l], v.n[l]) = (p.m as i64, i64::from(p.n));
    v.active |= 1 << l;
}

/// The state of lane `l` of `v` into `p`.
fn take_lane(v: &DdLanes, l: usize, p: &mut DdPlain) {
    p.dr = Dd {
        hi: v.dr_hi[l],
        lo: v.dr_lo[l],
    };
    p.di = Dd {
        hi: v.di_hi[l],
        lo: v.di_lo[l],
    };
    (p.er, p.ei) = (v.er[l], v.ei[l]);
    (p.m, p.n) = (v.m[l] as usize, v.n[l] as u32);
}

impl DdState {
    const START: DdState = DdState {
        dz: DdCx::ZERO,
        e: Cx {
            re: FloatExp::ZERO,
            im: FloatExp::ZERO,
        },
        m: 0,
        n: 0,
    };
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::FixedC;
    use crate::deep::num::dd::of_fixed;
    use crate::deep::num::fixed::Fixed;

    fn dd(x: &Fixed) -> DdExp {
        of_fixed(x)
    }

    /// The error of `DdExp` arithmetic against fixed point at 640 bits, relative to the
    /// result: below 2^-100 for sums, differences and products of random numbers of any sign
    /// and exponents from 2^-700 to 2^2.
    #[test]
    fn dd_arithmetic_matches_fixed_point() {
        let frac = 12;
        let mut rng = crate::testing::XorShift(0x2545_f491_4f6c_dd1du64);
        let mut next = || rng.next();
        let to_fixed = |d: DdExp| {
            Fixed::from_fe(FloatExp::new(d.hi, d.e), frac)
                .add(&Fixed::from_fe(FloatExp::new(d.lo, d.e), frac))
        };
        for round in 0..2000 {
            let mut num = || {
                let m = 1.0 + (next() >> 12) as f64 / (1u64 << 52) as f64;
                let e = 2 - (next() % 700) as i64;
                let sign = if next() & 1 == 0 { 1.0 } else { -1.0 };
                let hi = FloatExp::new(sign * m, e);
                let lo = FloatExp::new((next() >> 12) as f64 / (1u64 << 52) as f64 - 0.5, e - 53);
                let f = Fixed::from_fe(hi, frac).add(&Fixed::from_fe(lo, frac));
                (dd(&f), f)
            };
            let ((a, fa), (b, fb)) = (num(), num());
            for (got, want) in [
                (a.add(b), fa.add(&fb)),
                (a.sub(b), fa.sub(&fb)),
                (a.mul(b), fa.mul(&fb)),
            ] {
                let err = to_fixed(got).sub(&want).to_fe();
                let size = want.to_fe();
                if size.is_zero() || size.log2_abs() < -640.0 + 120.0 {
                    continue;
                }
                assert!(
                    err.is_zero() || err.log2_abs() - size.log2_abs() < -100.0,
                    "round {round}: error 2^{} of 2^{}",
                    err.log2_abs(),
                    size.log2_abs()
                );
            }
        }
    }

    /// Several samples in flight give each sample's [`iterate`] result, in the turn-taking loop
    /// and in the AVX-512 lockstep loop: escapes at different counts, samples that end at the
    /// budget, rebases, BLA steps and `DdExp` stretches (deltas from `1e-300` up), and a
    /// conditioning test that reads `e`.
    #[test]
    fn iterate_many_matches_iterate() {
        let frac = 8;
        let c = FixedC {
            re: Fixed::parse("-0.743291890852430196", frac).unwrap(),
            im: Fixed::parse("0.131240552308797611", frac).unwrap(),
        };
        let orbit = ReferenceOrbit::compute(&c, 3000, &mut |_| {});
        let dcs: Vec<DdCx> = (0..97)
            .map(|k| {
                let scale = if k % 10 == 9 {
                    1e-300
                } else {
                    10f64.powf(-4.0 - 0.5 * f64::from(k))
                };
                let (a, b) = (f64::from(k) * 0.61, f64::from(k) * 1.37);
                DdCx {
                    re: DdExp::from_fe(FloatExp::from_f64(scale * a.cos())),
                    im: DdExp::from_fe(FloatExp::from_f64(scale * b.sin())),
                }
            })
            .collect();
        let table = DdBlaTable::build(&orbit, FloatExp::from_f64(1e-12));
        let spacing = FloatExp::from_f64(1e-14);
        // A test that depends on every bit of `e` and `|z|^2`, so that any difference shows.
        let ill = |e: Cx<FloatExp>, norm: f64, n: u32| {
            let bits = e.re.to_f64().to_bits() ^ e.im.to_f64().to_bits().rotate_left(7);
            (bits ^ norm.to_bits() ^ u64::from(n)).count_ones() % 2 == 1
        };
        let (mut escaped, mut flagged, mut results) = (0, 0, 0);
        // The turn-taking loop, and the AVX-512 lockstep loop where the CPU has it.
        let simd = DeltaLockstep::detect().filter(|s| s.has_dd_plain());
        if simd.is_none() {
            crate::arch::skip_test_without("avx512");
        }
        for (max, simd) in [400, 3000].into_iter().flat_map(|m| [(m, None), (m, simd)]) {
            let many = iterate_many(
                &orbit,
                &table,
                &dcs,
                max,
                spacing,
                |_, e, norm, n| ill(e, norm, n),
                simd,
            );
            for (k, dc) in dcs.iter().enumerate() {
                let one = iterate(&orbit, &table, *dc, max, spacing, ill);
                assert_eq!(many[k].escape.n, one.escape.n, "sample {k}, max {max}");
                assert_eq!(
                    many[k].escape.nf.to_bits(),
                    one.escape.nf.to_bits(),
                    "sample {k}, max {max}"
                );
                assert_eq!(many[k].ill_conditioned, one.ill_conditioned, "sample {k}");
                escaped += usize::from(!one.escape.is_interior());
                flagged += usize::from(one.ill_conditioned);
                results += 1;
            }
        }
        // Both kinds of ends and both test outcomes occur.
        assert!(escaped > 0 && escaped < results, "{escaped} of {results}");
        assert!(flagged > 0 && flagged < results, "{flagged} of {results}");
    }

    /// The AVX-512 loop of the second pass ([`DeltaLockstep::dd_plain`]) gives the one-sample
    /// plain step's bits (both halves of `δz`, the derivative, `m`, `n`) after every run, and
    /// stops exactly where that step would not be a plain step: seeded random lane states at
    /// random orbit entries, deltas from `2^-520` to `2^-2` (some below the plain range), some
    /// lanes inactive, near the budget, or at the orbit's last entry.
    #[test]
    fn dd_plain_matches_plain_steps() {
        let Some(simd) = DeltaLockstep::detect().filter(|s| s.has_dd_plain()) else {
            crate::arch::skip_test_without("avx512");
            return;
        };
        // An orbit that escapes (its last entry ends every lane there) and one that does not
        // (inside the period-3 bulb: lanes at its last entry are rebased).
        for (re, im, bounded) in [
            ("-0.743291890852430196", "0.131240552308797611", false),
            ("-0.1226", "0.7449", true),
        ] {
            let c = FixedC {
                re: Fixed::parse(re, 8).unwrap(),
                im: Fixed::parse(im, 8).unwrap(),
            };
            let orbit = ReferenceOrbit::compute(&c, 3000, &mut |_| {});
            assert_eq!(orbit.escaped(), !bounded);
            dd_plain_case(simd, &orbit, bounded);
        }
    }

    fn dd_plain_case(simd: DeltaLockstep, orbit: &ReferenceOrbit, bounded: bool) {
        // (With |δc| <= 1e-40 the level-1 steps have radii near 2^-105: the tiny deltas below
        // meet them at odd entries, and those lanes leave for a BLA step.)
        let table = DdBlaTable::build(orbit, FloatExp::from_f64(1e-40));
        let bla = table.leave_r2.iter().filter(|&&r| r > 0.0).count();
        assert!(bla > orbit.len() / 8, "{bla} of {}", orbit.len());
        let max = 2800;
        let walk = Walk::new(
            orbit,
            &table,
            max,
            FloatExp::from_f64(1e-14),
            |_, _, _, _| false,
        );
        let view = DdOrbit {
            twice_re: orbit.twice_re(),
            twice_im: orbit.twice_im(),
            lo: orbit.z_lo().as_flattened(),
            leave_r2: &table.leave_r2,
            max_iterations: max,
            s_plain: walk.s_plain,
        };
        let mut rng = crate::testing::XorShift(0x2545_f491_4f6c_dd1d_u64);
        let mut next = move || rng.next();
        let unit = move |r: u64| (r >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
        let (mut steps, mut flagged, mut rounds, mut rebased, mut at_end) =
            (0u64, 0u32, 0u32, 0u32, 0u32);
        for _ in 0..3000 {
            let mut v = DdLanes::default();
            let mut lanes: [Option<(DdPlain, [Dd; 2])>; 8] = [None; 8];
            for (l, lane) in lanes.iter_mut().enumerate() {
                if next() % 8 == 0 {
                    continue;
                }
                // Mostly above the level-1 BLA radii (about 2^-104 |2 Z|), sometimes below
                // them or below the plain range.
                let size = match next() % 8 {
                    0 => 2f64.powi(-2 - (next() % 519) as i32),
                    _ => 2f64.powi(-2 - (next() % 90) as i32),
                };
                let dd = |x: f64, r: u64| Dd {
                    hi: x,
                    lo: x * 2f64.powi(-60) * unit(r),
                };
                let p = DdPlain {
                    dr: dd(size * unit(next()), next()),
                    di: dd(size * unit(next()), next()),
                    er: 1e3 * unit(next()),
                    ei: 1e3 * unit(next()),
                    m: match next() % 32 {
                        0 => orbit.len() - 1,
                        _ => 1 + (next() as usize) % (orbit.len() - 1),
                    },
                    n: match next() % 16 {
                        0 => max - (next() % 3) as u32,
                        _ => (next() % 2000) as u32,
                    },
                };
                let dc = [
                    dd(size * 1e-3 * unit(next()), next()),
                    dd(size * 1e-3 * unit(next()), next()),
                ];
                put_lane(&mut v, l, &Some((0, p)), &[dc]);
                *lane = Some((p, dc));
            }
            let Some((done, flags)) = simd.dd_plain(&mut v, view) else {
                assert_eq!(v.active, 0);
                continue;
            };
            rounds += 1;
            steps += u64::from(done);
            for (l, lane) in lanes.iter_mut().enumerate() {
                let Some((p, dc)) = lane else { continue };
                for k in 0..done {
                    at_end += u32::from(p.m == orbit.len() - 1);
                    let stepped = matches!(walk.plain_step(0, dc, p), PlainStep::Stepped);
                    rebased += u32::from(p.m == 1);
                    assert!(stepped, "lane {l} step {k} of {done}");
                }
                let bits = |x: f64| x.to_bits();
                assert_eq!(
                    [bits(p.dr.hi), bits(p.dr.lo), bits(p.di.hi), bits(p.di.lo)],
                    [
                        bits(v.dr_hi[l]),
                        bits(v.dr_lo[l]),
                        bits(v.di_hi[l]),
                        bits(v.di_lo[l])
                    ],
                    "lane {l} after {done} steps"
                );
                assert_eq!([bits(p.er), bits(p.ei)], [bits(v.er[l]), bits(v.ei[l])]);
                assert_eq!((p.m as i64, i64::from(p.n)), (v.m[l], v.n[l]));
                let stepped = matches!(walk.plain_step(0, dc, p), PlainStep::Stepped);
                assert_eq!(stepped, flags & (1 << l) == 0, "lane {l}, flags {flags:b}");
                flagged += u32::from(!stepped);
            }
        }
        // Long runs, every kind of stop, and rebases (at the last entry of a bounded orbit,
        // and where |z| < |δz|) occur.
        assert!(
            rounds > 2000 && steps > 20_000 && flagged >= rounds && rebased > 100,
            "{rounds} {steps} {flagged} {rebased}"
        );
        assert!(!bounded || at_end > 10, "{at_end}");
    }

    /// Perturbation in `DdExp` gives the direct fixed-point count of a point near the
    /// Misiurewicz point of the accuracy tests, 1e-30 from the reference.
    #[test]
    fn dd_perturbation_matches_direct_iteration() {
        let frac = 4;
        let c = FixedC {
            re: Fixed::parse("-0.743291890852430196", frac).unwrap(),
            im: Fixed::parse("0.131240552308797611", frac).unwrap(),
        };
        let orbit = ReferenceOrbit::compute(&c, 3000, &mut |_| {});
        for k in 0..8 {
            let d = Cx {
                re: FloatExp::from_f64(1e-30 * (f64::from(k) - 3.5)),
                im: FloatExp::from_f64(0.7e-30 * f64::from(k % 3)),
            };
            let p = c.add(&FixedC::from_fe(d, frac));
            let mut z = FixedC::zero(frac);
            let mut want = Escape::INTERIOR;
            for n in 0..=3000 {
                let norm = z.norm_sqr_f64();
                if norm > ESCAPE_RADIUS_SQ {
                    want = Escape::escaped(n, norm);
                    break;
                }
                z = z.sqr_add(&p);
            }
            let dc = DdCx {
                re: DdExp::from_fe(d.re),
                im: DdExp::from_fe(d.im),
            };
            let table = DdBlaTable::build(&orbit, FloatExp::from_f64(4e-30));
            let got = iterate(
                &orbit,
                &table,
                dc,
                3000,
                FloatExp::from_f64(1e-31),
                |_, _, _| false,
            );
            assert_eq!(got.escape.n, want.n, "sample {k}");
        }
    }
}
