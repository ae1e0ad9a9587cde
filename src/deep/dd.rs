//! Double-double perturbation with an extended exponent: the second pass for ill-conditioned
//! samples.
//!
//! A sample whose escape count `f64` deltas cannot determine (see
//! [`super::perturb::ILL_CONDITIONED_TOLERANCE`]) is iterated again here: the same perturbation
//! `δz -> (2 Z_m + δz) δz + δc` with rebasing, in numbers of about 104 bits (an unevaluated
//! sum `hi + lo` of two `f64`, Dekker's "double-length" numbers: plain pairs while `|δz| >=
//! 2^-500`, [`DdExp`] with a shared `i64` exponent below that, for deltas far below the `f64`
//! range), against the reference orbit's values to the same precision
//! ([`ReferenceOrbit::z_dd`]), with a BLA table of tolerance `2^-104` ([`DdBlaTable`], the
//! rule of [`super::bla`]) for the long stretches where `|δz|` is tiny. In the benchmark's
//! 1080p frame at 1e-100 this second pass costs about 0.1 ms per sample, against about 1 ms for
//! a direct iteration at 448 bits. Samples still ill-conditioned at this precision go on to
//! direct fixed-point iteration.
//!
//! Sources: T. J. Dekker, "A floating-point technique for extending the available precision",
//! Numer. Math. 18 (1971): double-length numbers (the exact product of two `f64` here is one
//! fused multiply-add, `a b - p`, rather than his splitting);
//! D. E. Knuth, TAOCP vol. 2, 4.2.2: the exact sum of two `f64` (two-sum); Y. Hida, X. S. Li,
//! D. H. Bailey, "Library for double-double and quad-double arithmetic" (2000/2008): how these
//! combine into double-double addition and multiplication.

use super::fixed::Fixed;
use super::floatexp::{Cx, FloatExp};
use super::orbit::ReferenceOrbit;
use crate::kernel::{ESCAPE_RADIUS_SQ, Escape};

/// Exponent of zero.
const ZERO_EXP: i64 = i64::MIN / 4;

/// `2^k` for `-1022 <= k <= 1023`.
#[inline]
fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `a + b` exactly, as `(s, err)` (Knuth's two-sum).
#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `a + b` exactly for `|a| >= |b|`.
#[inline]
fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `a * b` exactly, as `(p, err)`: the error of the rounded product is `a b - p`, which one
/// fused multiply-add gives exactly (unless it falls below the normal range). Dekker's
/// splitting product gives the same without FMA in 17 operations; this is 2 where the CPU
/// has FMA ([`iterate`] runs compiled with it where [`crate::kernel::simd::DeltaLockstep`]
/// exists; elsewhere `mul_add` is the library `fma`, slower but the same value).
#[inline]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// `(hi + lo) 2^e` with `1 <= |hi| < 2` and `|lo| <= ulp(hi) / 2`, or zero (`hi = lo = 0`,
/// `e = ZERO_EXP`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdExp {
    hi: f64,
    lo: f64,
    e: i64,
}

#[allow(clippy::should_implement_trait)]
impl DdExp {
    pub const ZERO: DdExp = DdExp {
        hi: 0.0,
        lo: 0.0,
        e: ZERO_EXP,
    };

    /// `(hi + lo) 2^e` normalized; `hi + lo` need not be normalized as a pair (`|lo|` may be up
    /// to about `|hi|`), both finite.
    #[inline]
    fn new(hi: f64, lo: f64, e: i64) -> DdExp {
        let (hi, lo) = quick_two_sum_any(hi, lo);
        if hi == 0.0 {
            return DdExp::ZERO;
        }
        let be = ((hi.to_bits() >> 52) & 0x7ff) as i64;
        if be == 0 || be == 0x7ff {
            // Subnormal or not finite: go through a scaled copy (rare).
            if be == 0x7ff {
                return DdExp { hi, lo, e };
            }
            let s = pow2(600);
            return DdExp::new(hi * s, lo * s, e - 600);
        }
        let k = be - 1023;
        let s = pow2(-k);
        DdExp {
            hi: hi * s,
            lo: lo * s,
            e: e.saturating_add(k),
        }
    }

    /// The value of a [`FloatExp`] (exact).
    pub fn from_fe(x: FloatExp) -> DdExp {
        if x.is_zero() {
            return DdExp::ZERO;
        }
        DdExp::new(x.mantissa(), 0.0, x.exponent())
    }

    /// `hi + lo` of two [`FloatExp`] (`|lo|` below `ulp(hi)` or so).
    pub fn from_fe_pair(hi: FloatExp, lo: FloatExp) -> DdExp {
        if hi.is_zero() {
            return DdExp::from_fe(lo);
        }
        if lo.is_zero() {
            return DdExp::from_fe(hi);
        }
        let d = lo.exponent() - hi.exponent();
        let l = if d < -1000 {
            0.0
        } else {
            lo.mantissa() * pow2(d.min(0))
        };
        DdExp::new(hi.mantissa(), l, hi.exponent())
    }

    /// `hi + lo` of two `f64` (`|lo|` below `ulp(hi)` or so).
    pub fn from_f64_pair(hi: f64, lo: f64) -> DdExp {
        DdExp::from_fe_pair(FloatExp::from_f64(hi), FloatExp::from_f64(lo))
    }

    #[inline]
    pub fn is_zero(self) -> bool {
        self.hi == 0.0
    }

    /// The leading part as a [`FloatExp`].
    #[inline]
    pub fn to_fe(self) -> FloatExp {
        FloatExp::new(self.hi, self.e)
    }

    /// The value rounded to `f64` (0 below the `f64` range, infinite above).
    #[inline]
    pub fn to_f64(self) -> f64 {
        self.to_fe().to_f64()
    }

    #[inline]
    pub fn neg(self) -> DdExp {
        DdExp {
            hi: -self.hi,
            lo: -self.lo,
            e: self.e,
        }
    }

    #[inline]
    pub fn double(self) -> DdExp {
        if self.is_zero() {
            return self;
        }
        DdExp {
            e: self.e + 1,
            ..self
        }
    }

    #[inline]
    pub fn add(self, b: DdExp) -> DdExp {
        let (x, y) = if self.e >= b.e { (self, b) } else { (b, self) };
        if y.is_zero() {
            return x;
        }
        let d = x.e - y.e;
        if d > 120 {
            return x;
        }
        let s = pow2(-d);
        let (yh, yl) = (y.hi * s, y.lo * s);
        // Double-double addition (Hida, Li, Bailey: the accurate "ieee add").
        let (s1, s2) = two_sum(x.hi, yh);
        let (t1, t2) = two_sum(x.lo, yl);
        let s2 = s2 + t1;
        let (s1, s2) = quick_two_sum_any(s1, s2);
        let s2 = s2 + t2;
        DdExp::new(s1, s2, x.e)
    }

    #[inline]
    pub fn sub(self, b: DdExp) -> DdExp {
        self.add(b.neg())
    }

    #[inline]
    pub fn mul(self, b: DdExp) -> DdExp {
        if self.is_zero() || b.is_zero() {
            return DdExp::ZERO;
        }
        let (p, err) = two_prod(self.hi, b.hi);
        let err = err + (self.hi * b.lo + self.lo * b.hi);
        DdExp::new(p, err, self.e + b.e)
    }
}

/// `a + b` as a normalized pair for any `a`, `b` (two-sum; the result's `hi` carries the sum).
#[inline]
fn quick_two_sum_any(a: f64, b: f64) -> (f64, f64) {
    if a.abs() >= b.abs() {
        quick_two_sum(a, b)
    } else {
        quick_two_sum(b, a)
    }
}

/// A complex [`DdExp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdCx {
    pub re: DdExp,
    pub im: DdExp,
}

#[allow(clippy::should_implement_trait)]
impl DdCx {
    pub const ZERO: DdCx = DdCx {
        re: DdExp::ZERO,
        im: DdExp::ZERO,
    };

    #[inline]
    pub fn add(self, b: DdCx) -> DdCx {
        DdCx {
            re: self.re.add(b.re),
            im: self.im.add(b.im),
        }
    }

    #[inline]
    pub fn mul(self, b: DdCx) -> DdCx {
        DdCx {
            re: self.re.mul(b.re).sub(self.im.mul(b.im)),
            im: self.re.mul(b.im).add(self.im.mul(b.re)),
        }
    }

    #[inline]
    pub fn double(self) -> DdCx {
        DdCx {
            re: self.re.double(),
            im: self.im.double(),
        }
    }

    /// The leading parts as a [`FloatExp`] complex.
    #[inline]
    pub fn to_fe(self) -> Cx<FloatExp> {
        Cx {
            re: self.re.to_fe(),
            im: self.im.to_fe(),
        }
    }
}

/// Outcome of [`iterate`]: the escape, and whether the sample is ill-conditioned even at this
/// precision (then only a direct iteration gives its count).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdResult {
    pub escape: Escape,
    pub ill_conditioned: bool,
}

/// A double-double `hi + lo` in the `f64` range (no exponent): [`iterate`]'s numbers while
/// `|δz| >= 2^-500` and `|Z_m| >= 2^-400`, the common case, at a quarter of [`DdExp`]'s cost.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dd {
    hi: f64,
    lo: f64,
}

impl Dd {
    #[inline]
    fn add(self, b: Dd) -> Dd {
        let (s1, s2) = two_sum(self.hi, b.hi);
        let (t1, t2) = two_sum(self.lo, b.lo);
        let (s1, s2) = quick_two_sum_any(s1, s2 + t1);
        let (hi, lo) = quick_two_sum_any(s1, s2 + t2);
        Dd { hi, lo }
    }

    #[inline]
    fn mul(self, b: Dd) -> Dd {
        let (p, err) = two_prod(self.hi, b.hi);
        let (hi, lo) = quick_two_sum_any(p, err + (self.hi * b.lo + self.lo * b.hi));
        Dd { hi, lo }
    }

    #[inline]
    fn double(self) -> Dd {
        Dd {
            hi: self.hi + self.hi,
            lo: self.lo + self.lo,
        }
    }

    /// `x` as a `Dd` (0 when below `2^-1000`; `x` must be below `2^1000`).
    #[inline]
    fn of(x: DdExp) -> Dd {
        if x.is_zero() || x.e < -1000 {
            return Dd { hi: 0.0, lo: 0.0 };
        }
        let s = pow2(x.e);
        Dd {
            hi: x.hi * s,
            lo: x.lo * s,
        }
    }

    #[inline]
    fn to_ddexp(self) -> DdExp {
        DdExp::new(self.hi, self.lo, 0)
    }
}

/// `|δz|^2` below which [`iterate`] steps in [`DdExp`] (`|δz| < 2^-500`).
const PLAIN_MIN_NORM: f64 = super::lanes::MIN_F64_NORM;

/// Iterates the sample `δc` (relative to the orbit's reference point) in double-double:
/// perturbation steps with rebasing (Zhuoran) and the BLA steps of `table`, in plain pairs while
/// `|δz| >= 2^-500` and `|Z_m| >= 2^-400` (so that neither `δc`, below `2^-950` in frames that
/// need it flushed to 0, nor the rounding of `δz^2` matters at 104 bits), in [`DdExp`]
/// otherwise (and for the BLA steps). `spacing`: the
/// frame's sample spacing; `ill(e, norm, n)`: the conditioning test at the end, with
/// `e = spacing dz/dc`. Inlined into its callers, so that one may compile it with FMA
/// ([`crate::kernel::simd::DeltaLockstep::with_fma`]).
#[inline(always)]
pub fn iterate(
    orbit: &ReferenceOrbit,
    table: &DdBlaTable,
    dc: DdCx,
    max_iterations: u32,
    spacing: FloatExp,
    ill: impl Fn(Cx<FloatExp>, f64, u32) -> bool,
) -> DdResult {
    let last = orbit.len() - 1;
    let levels = table.levels.len() as u32;
    let los = orbit.z_lo();
    let zs = |m: usize| orbit.z_f64(m);
    let dc_plain = [Dd::of(dc.re), Dd::of(dc.im)];
    let s_plain = Dd::of(DdExp::from_fe(spacing)).hi;
    let mut dz = DdCx::ZERO;
    let mut e = Cx::<FloatExp>::zero();
    let mut m = 0usize;
    let mut n = 0u32;
    let done = |escape, e, norm, n| DdResult {
        escape,
        ill_conditioned: ill(e, norm, n),
    };
    loop {
        // Plain double-double steps while they are exact enough (see above).
        let zn = |m: usize| {
            let [x, y] = zs(m);
            x * x + y * y
        };
        let dn = dz.to_fe().norm_sqr();
        if m != 0
            && !dn.abs_lt(FloatExp::from_f64(PLAIN_MIN_NORM))
            && zn(m) >= super::lanes::SMALL_Z_NORM
        {
            let (mut dr, mut di) = (Dd::of(dz.re), Dd::of(dz.im));
            let (mut er, mut ei) = (e.re.to_f64(), e.im.to_f64());
            loop {
                let [x0, y0] = zs(m);
                let [x1, y1] = los[m];
                let (zr, zi) = (Dd { hi: x0, lo: x1 }, Dd { hi: y0, lo: y1 });
                let (xr, xi) = (zr.add(dr), zi.add(di));
                let norm = xr.hi * xr.hi + xi.hi * xi.hi;
                if norm > ESCAPE_RADIUS_SQ || n >= max_iterations {
                    let escape = if norm > ESCAPE_RADIUS_SQ {
                        Escape::escaped(n, norm)
                    } else {
                        Escape::INTERIOR
                    };
                    let e = Cx::from_f64(er, ei);
                    return done(escape, e, norm, n);
                }
                let dnorm = dr.hi * dr.hi + di.hi * di.hi;
                let (mut zr, mut zi) = (zr, zi);
                if m == last || norm < dnorm {
                    (dr, di) = (xr, xi);
                    m = 0;
                    zr = Dd { hi: 0.0, lo: 0.0 };
                    zi = zr;
                } else if dnorm < PLAIN_MIN_NORM
                    || zn(m) < super::lanes::SMALL_Z_NORM
                    || (m & 1 == 1
                        && levels > 0
                        && m > 1
                        && table
                            .get(1, m)
                            .is_some_and(|b| dnorm < b.r2.to_f64() && max_iterations - n >= 2))
                {
                    // DdExp steps, or a BLA step (there).
                    break;
                }
                // e -> 2 z e + s, δz -> (2 Z + δz) δz + δc.
                let (pr, pi) = (xr.hi * er - xi.hi * ei, xr.hi * ei + xi.hi * er);
                er = (pr + pr) + s_plain;
                ei = pi + pi;
                let (tr, ti) = (zr.double().add(dr), zi.double().add(di));
                let nr = tr.mul(dr).add(ti.mul(di).neg()).add(dc_plain[0]);
                let ni = tr.mul(di).add(ti.mul(dr)).add(dc_plain[1]);
                (dr, di) = (nr, ni);
                m += 1;
                n += 1;
            }
            dz = DdCx {
                re: dr.to_ddexp(),
                im: di.to_ddexp(),
            };
            e = Cx::from_f64(er, ei);
        }
        let zr = orbit.z_dd(m);
        let z = zr.add(dz);
        let (x, y) = (z.re.to_f64(), z.im.to_f64());
        let norm = x * x + y * y;
        if norm > ESCAPE_RADIUS_SQ || n >= max_iterations {
            let escape = if norm > ESCAPE_RADIUS_SQ {
                Escape::escaped(n, norm)
            } else {
                Escape::INTERIOR
            };
            return done(escape, e, norm, n);
        }
        let zf = z.to_fe();
        let mut zr = zr;
        if m == last || zf.norm_sqr().abs_lt(dz.to_fe().norm_sqr()) {
            dz = z;
            m = 0;
            zr = DdCx::ZERO;
        }
        if m & 1 == 1 && levels > 0 {
            let dn = dz.to_fe().norm_sqr();
            let mut k = ((m - 1).trailing_zeros()).min(levels);
            let mut jumped = false;
            while k >= 1 {
                if let Some(b) = table.get(k, m) {
                    let len = 1u32 << k;
                    if dn.abs_lt(b.r2) && max_iterations - n >= len {
                        dz = b.a.mul(dz).add(b.b.mul(dc));
                        let (a, bb) = (b.a.to_fe(), b.b.to_fe());
                        e = a.mul(e).add(bb.scale(spacing));
                        m += len as usize;
                        n += len;
                        jumped = true;
                        break;
                    }
                }
                k -= 1;
            }
            if jumped {
                continue;
            }
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

impl Dd {
    #[inline]
    fn neg(self) -> Dd {
        Dd {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
}

/// BLA tolerance of the double-double pass: `2^-104`, its rounding.
pub const DD_BLA_EPS: f64 = 1.0 / (1u128 << 104) as f64;

/// One bilinear step in double-double: `δz -> a δz + b δc` for `|δz|^2 < r2`.
#[derive(Debug, Clone, Copy)]
struct DdBla {
    a: DdCx,
    b: DdCx,
    r2: FloatExp,
}

/// The BLA table of [`super::bla`] with double-double coefficients and tolerance
/// [`DD_BLA_EPS`] (same levels, merging rule and radii), for the double-double pass: while
/// `|δz| < 2^-104 |2 Z_m|` (most of a deep sample's orbit), steps of `2^k` iterations at once.
#[derive(Debug, Clone, Default)]
pub struct DdBlaTable {
    levels: Vec<Vec<DdBla>>,
}

impl DdBlaTable {
    /// The table for `orbit` and a frame whose `|δc| <= max_dc`.
    pub fn build(orbit: &ReferenceOrbit, max_dc: FloatExp) -> DdBlaTable {
        let len = orbit.len();
        let one = DdCx {
            re: DdExp::from_fe(FloatExp::ONE),
            im: DdExp::ZERO,
        };
        let eps = FloatExp::from_f64(DD_BLA_EPS);
        let mut prev: Vec<(DdCx, DdCx, FloatExp)> = (1..len.saturating_sub(1))
            .map(|m| {
                let a = orbit.z_dd(m).double();
                (a, one, a.to_fe().norm_sqr().sqrt() * eps)
            })
            .collect();
        let mut levels = Vec::new();
        while prev.len() >= 2 {
            let next: Vec<(DdCx, DdCx, FloatExp)> = prev
                .chunks_exact(2)
                .map(|pair| {
                    let ((ax, bx, rx), (ay, by, ry)) = (pair[0], pair[1]);
                    let a = ay.mul(ax);
                    let b = ay.mul(bx).add(by);
                    let nax = ax.to_fe().norm_sqr().sqrt();
                    let r_y = ry - bx.to_fe().norm_sqr().sqrt() * max_dc;
                    let r = if nax.is_zero() || r_y.mantissa() <= 0.0 {
                        FloatExp::ZERO
                    } else {
                        let r = r_y * nax.recip();
                        if r.abs_lt(rx) { r } else { rx }
                    };
                    (a, b, r)
                })
                .collect();
            levels.push(
                next.iter()
                    .map(|&(a, b, r)| {
                        let ok = a.to_fe().is_finite() && b.to_fe().is_finite() && r.is_finite();
                        DdBla {
                            a,
                            b,
                            r2: if ok { r * r } else { FloatExp::ZERO },
                        }
                    })
                    .collect(),
            );
            prev = next;
        }
        DdBlaTable { levels }
    }

    /// The step of `2^k` iterations from reference index `m` (`k >= 1`), if stored.
    #[inline]
    fn get(&self, k: u32, m: usize) -> Option<&DdBla> {
        self.levels.get(k as usize - 1)?.get((m - 1) >> k)
    }

    /// Bytes held by the table.
    pub fn memory_bytes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| l.capacity() * std::mem::size_of::<DdBla>())
            .sum()
    }
}

/// The [`DdExp`] of a fixed-point number (its leading 53 bits and the next 53).
pub fn of_fixed(x: &Fixed) -> DdExp {
    let hi = x.to_fe();
    let lo = x.sub(&Fixed::from_fe(hi, x.frac())).to_fe();
    DdExp::from_fe_pair(hi, lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::FixedC;

    fn dd(x: &Fixed) -> DdExp {
        of_fixed(x)
    }

    /// The error of `DdExp` arithmetic against fixed point at 640 bits, relative to the
    /// result: below 2^-100 for sums, differences and products of random numbers of any sign
    /// and exponents from 2^-700 to 2^2.
    #[test]
    fn dd_arithmetic_matches_fixed_point() {
        let frac = 12;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
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
