//! Double-double numbers with an extended exponent ([`DdExp`], [`DdCx`]): about 106 bits of
//! mantissa and an `i64` exponent, for the samples so ill-conditioned that `f64` deltas cannot
//! determine their escape (the second pass of [`crate::deep::dd`]).
//!
//! Sources: T. J. Dekker, "A floating-point technique for extending the available precision",
//! Numer. Math. 18 (1971): double-length numbers (the exact product of two `f64` here is one
//! fused multiply-add, `a b - p`, rather than his splitting); D. E. Knuth, TAOCP vol. 2, 4.2.2:
//! the exact sum of two `f64` (two-sum); Y. Hida, X. S. Li, D. H. Bailey, "Library for
//! double-double and quad-double arithmetic" (2000/2008): how these combine into double-double
//! addition and multiplication.

use super::fixed::Fixed;
use super::floatexp::{Cx, FloatExp};

/// Exponent of zero.
const ZERO_EXP: i64 = i64::MIN / 4;

/// `2^k` for `-1022 <= k <= 1023`.
#[inline]
pub(crate) fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `a + b` exactly, as `(s, err)` (Knuth's two-sum). Also where the shorter "quick" two-sum
/// (for `|a| >= |b|`) would do: both give the exact error of the rounded sum, so the same
/// values (up to the sign of a zero error, which changes no count or norm), and choosing the
/// operands' order by magnitude is a branch that the processor mispredicts (measured: the BLA
/// benchmark frame 2-3% slower that way).
#[inline]
pub(crate) fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `a * b` exactly, as `(p, err)`: the error of the rounded product is `a b - p`, which one
/// fused multiply-add gives exactly (unless it falls below the normal range). Dekker's
/// splitting product gives the same without FMA in 17 operations; this is 2 where the CPU
/// has FMA ([`iterate`] runs compiled with it where [`crate::arch::x86::delta::DeltaLockstep`]
/// exists; elsewhere `mul_add` is the library `fma`, slower but the same value).
#[inline]
pub(crate) fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// `(hi + lo) 2^e` with `1 <= |hi| < 2` and `|lo| <= ulp(hi) / 2`, or zero (`hi = lo = 0`,
/// `e = ZERO_EXP`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdExp {
    pub(crate) hi: f64,
    pub(crate) lo: f64,
    pub(crate) e: i64,
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
    pub(crate) fn new(hi: f64, lo: f64, e: i64) -> DdExp {
        let (hi, lo) = two_sum(hi, lo);
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
        let (s1, s2) = two_sum(s1, s2);
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

/// A double-double `hi + lo` in the `f64` range (no exponent): the numbers of the second pass (`crate::deep::dd::iterate`) while
/// `|δz| >= 2^-500` and `|Z_m| >= 2^-400`, the common case, at a quarter of [`DdExp`]'s cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dd {
    pub(crate) hi: f64,
    pub(crate) lo: f64,
}

impl Dd {
    #[inline]
    pub(crate) fn add(self, b: Dd) -> Dd {
        let (s1, s2) = two_sum(self.hi, b.hi);
        let (t1, t2) = two_sum(self.lo, b.lo);
        let (s1, s2) = two_sum(s1, s2 + t1);
        let (hi, lo) = two_sum(s1, s2 + t2);
        Dd { hi, lo }
    }

    #[inline]
    pub(crate) fn mul(self, b: Dd) -> Dd {
        let (p, err) = two_prod(self.hi, b.hi);
        let (hi, lo) = two_sum(p, err + (self.hi * b.lo + self.lo * b.hi));
        Dd { hi, lo }
    }

    #[inline]
    pub(crate) fn double(self) -> Dd {
        Dd {
            hi: self.hi + self.hi,
            lo: self.lo + self.lo,
        }
    }

    /// `x` as a `Dd` (0 when below `2^-1000`; `x` must be below `2^1000`).
    #[inline]
    pub(crate) fn of(x: DdExp) -> Dd {
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
    pub(crate) fn to_ddexp(self) -> DdExp {
        DdExp::new(self.hi, self.lo, 0)
    }

    #[inline]
    pub(crate) fn neg(self) -> Dd {
        Dd {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
}

/// The [`DdExp`] of a fixed-point number (its leading 53 bits and the next 53).
pub fn of_fixed(x: &Fixed) -> DdExp {
    let hi = x.to_fe();
    let lo = x.sub(&Fixed::from_fe(hi, x.frac())).to_fe();
    DdExp::from_fe_pair(hi, lo)
}
