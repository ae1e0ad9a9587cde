//! `FloatExp`: an `f64` mantissa with a separate 64-bit binary exponent.
//!
//! Deltas and BLA coefficients of frames deeper than about `1e-290` do not fit the exponent range
//! of an `f64` (pixel offsets of `1e-1000`, derivatives of `1e1000`). A `FloatExp` keeps the 53-bit
//! precision of an `f64` and moves the exponent into an `i64`, so its range is practically
//! unbounded (`2^(±4.6e18)`). Arithmetic is a few `f64` operations plus exponent bookkeeping:
//! roughly 5 to 10 times slower than plain `f64`, which is why the renderer uses it only for frames
//! that need it (see [`super`]).
//!
//! The value is `m * 2^e` with `1 <= |m| < 2`, or `m = 0` with `e = ZERO_EXP`. Non-finite
//! mantissas (from an overflowing `f64` conversion) are kept as they are so that `is_finite`
//! reports them.

use std::ops::{Add, Mul, Neg, Sub};

/// Exponent of zero: so low that aligning to any other value drops the zero.
const ZERO_EXP: i64 = i64::MIN / 4;

/// A real number as `f64` mantissa and `i64` exponent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloatExp {
    m: f64,
    e: i64,
}

/// `2^k` as an `f64` for `-1022 <= k <= 1023`.
#[inline]
fn pow2(k: i64) -> f64 {
    debug_assert!((-1022..=1023).contains(&k));
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `x * 2^k` for any `k`, with underflow to 0 and overflow to infinity.
#[inline]
pub fn ldexp(x: f64, k: i64) -> f64 {
    if (-1022..=1023).contains(&k) {
        x * pow2(k)
    } else if k > 1023 {
        if k > 2046 {
            x * f64::INFINITY
        } else {
            x * pow2(1023) * pow2(k - 1023)
        }
    } else if k < -2098 {
        x * 0.0
    } else {
        // k in [-2098, -1023): two steps; only the second can round (to a subnormal or 0).
        let rest = k + 1022;
        if rest < -1022 {
            x * pow2(-1022) * 0.0
        } else {
            x * pow2(-1022) * pow2(rest)
        }
    }
}

impl FloatExp {
    /// Zero.
    pub const ZERO: FloatExp = FloatExp {
        m: 0.0,
        e: ZERO_EXP,
    };
    /// One.
    pub const ONE: FloatExp = FloatExp { m: 1.0, e: 0 };

    /// `m * 2^e`, normalized. (Not recursive, so that it inlines into the arithmetic: as a
    /// call it was a fifth of a `FloatExp` frame's profile.)
    #[inline]
    pub fn new(m: f64, e: i64) -> FloatExp {
        if m == 0.0 {
            return FloatExp::ZERO;
        }
        // A subnormal mantissa is scaled into the normal range first (exact).
        let (m, e) = if m.abs() < f64::MIN_POSITIVE {
            (m * pow2(64), e - 64)
        } else {
            (m, e)
        };
        let bits = m.to_bits();
        let be = ((bits >> 52) & 0x7ff) as i64;
        if be == 0x7ff {
            return FloatExp { m, e };
        }
        let mant = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1023u64 << 52));
        FloatExp {
            m: mant,
            e: e.saturating_add(be - 1023),
        }
    }

    /// The `FloatExp` of an `f64` (exact).
    #[inline]
    pub fn from_f64(x: f64) -> FloatExp {
        FloatExp::new(x, 0)
    }

    /// `exp(x)` for any `x` (never underflows): `x / ln 2` split into integer and fraction.
    pub fn exp(x: f64) -> FloatExp {
        let y = x / std::f64::consts::LN_2;
        let k = y.floor();
        // e^x = 2^k * e^(x - k ln 2); the remainder is computed from x directly for accuracy.
        let rest = x - k * std::f64::consts::LN_2;
        FloatExp::new(rest.exp(), k as i64)
    }

    /// The nearest `f64` (0 on underflow, infinite on overflow).
    #[inline]
    pub fn to_f64(self) -> f64 {
        ldexp(self.m, self.e)
    }

    /// Mantissa in `[1, 2)` (or 0, or non-finite).
    #[inline]
    pub fn mantissa(self) -> f64 {
        self.m
    }

    /// Binary exponent (`ZERO_EXP`, a huge negative number, for zero).
    #[inline]
    pub fn exponent(self) -> i64 {
        self.e
    }

    #[inline]
    pub fn is_zero(self) -> bool {
        self.m == 0.0
    }

    #[inline]
    pub fn is_finite(self) -> bool {
        self.m.is_finite()
    }

    #[inline]
    #[cfg(any(test, feature = "internals"))]
    pub fn abs(self) -> FloatExp {
        FloatExp {
            m: self.m.abs(),
            e: self.e,
        }
    }

    /// `2 * self`.
    #[inline]
    pub fn double(self) -> FloatExp {
        if self.m == 0.0 {
            self
        } else {
            FloatExp {
                m: self.m,
                e: self.e + 1,
            }
        }
    }

    /// `self * 2^k`.
    #[inline]
    #[cfg(any(test, feature = "internals"))]
    pub fn mul_pow2(self, k: i64) -> FloatExp {
        if self.m == 0.0 {
            self
        } else {
            FloatExp {
                m: self.m,
                e: self.e + k,
            }
        }
    }

    /// `1 / self`.
    #[inline]
    pub fn recip(self) -> FloatExp {
        FloatExp::new(1.0 / self.m, -self.e)
    }

    #[inline]
    pub fn sqrt(self) -> FloatExp {
        if self.m == 0.0 {
            return self;
        }
        if self.e % 2 == 0 {
            FloatExp::new(self.m.sqrt(), self.e / 2)
        } else {
            FloatExp::new((2.0 * self.m).sqrt(), (self.e - 1).div_euclid(2))
        }
    }

    /// `log2 |self|` (negative infinity for 0).
    pub fn log2_abs(self) -> f64 {
        if self.m == 0.0 {
            f64::NEG_INFINITY
        } else {
            self.m.abs().log2() + self.e as f64
        }
    }

    /// `|self| < |other|`.
    #[inline]
    pub fn abs_lt(self, other: FloatExp) -> bool {
        let (a, b) = (self.m.abs(), other.m.abs());
        if b == 0.0 {
            return false;
        }
        if a == 0.0 {
            return true;
        }
        self.e < other.e || (self.e == other.e && a < b)
    }
}

impl Add for FloatExp {
    type Output = FloatExp;
    #[inline]
    fn add(self, b: FloatExp) -> FloatExp {
        let (hi, lo) = if self.e >= b.e { (self, b) } else { (b, self) };
        let d = hi.e - lo.e;
        if d > 110 {
            return hi;
        }
        FloatExp::new(hi.m + lo.m * pow2(-d), hi.e)
    }
}

impl Sub for FloatExp {
    type Output = FloatExp;
    #[inline]
    fn sub(self, b: FloatExp) -> FloatExp {
        self + (-b)
    }
}

impl Neg for FloatExp {
    type Output = FloatExp;
    #[inline]
    fn neg(self) -> FloatExp {
        FloatExp {
            m: -self.m,
            e: self.e,
        }
    }
}

impl Mul for FloatExp {
    type Output = FloatExp;
    #[inline]
    fn mul(self, b: FloatExp) -> FloatExp {
        FloatExp::new(self.m * b.m, self.e + b.e)
    }
}

/// The real type of perturbation deltas and BLA coefficients: `f64` or [`FloatExp`].
pub trait Real:
    Copy
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
{
    const NAME: &'static str;
    /// Whether this type has an extended exponent.
    const EXTENDED: bool;
    fn zero() -> Self;
    fn from_f64(x: f64) -> Self;
    fn from_fe(x: FloatExp) -> Self;
    fn to_f64(self) -> f64;
    fn to_fe(self) -> FloatExp;
    fn double(self) -> Self;
    fn is_finite(self) -> bool;
    /// `self < other` for non-negative values.
    fn lt(self, other: Self) -> bool;
    /// `self * a + b`: for `f64` fused, rounded once (`f64::mul_add`), as the perturbation
    /// step of `crate::deep::lanes` does it; for `FloatExp` its own product and sum.
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    const EXTENDED: bool = false;
    #[inline]
    fn zero() -> f64 {
        0.0
    }
    #[inline]
    fn from_f64(x: f64) -> f64 {
        x
    }
    #[inline]
    fn from_fe(x: FloatExp) -> f64 {
        x.to_f64()
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn to_fe(self) -> FloatExp {
        FloatExp::from_f64(self)
    }
    #[inline]
    fn double(self) -> f64 {
        self + self
    }
    #[inline]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    #[inline]
    fn lt(self, other: f64) -> bool {
        self < other
    }
    #[inline]
    fn mul_add(self, a: f64, b: f64) -> f64 {
        f64::mul_add(self, a, b)
    }
}

impl Real for FloatExp {
    const NAME: &'static str = "floatexp";
    const EXTENDED: bool = true;
    #[inline]
    fn zero() -> FloatExp {
        FloatExp::ZERO
    }
    #[inline]
    fn from_f64(x: f64) -> FloatExp {
        FloatExp::from_f64(x)
    }
    #[inline]
    fn from_fe(x: FloatExp) -> FloatExp {
        x
    }
    #[inline]
    fn to_f64(self) -> f64 {
        FloatExp::to_f64(self)
    }
    #[inline]
    fn to_fe(self) -> FloatExp {
        self
    }
    #[inline]
    fn double(self) -> FloatExp {
        FloatExp::double(self)
    }
    #[inline]
    fn is_finite(self) -> bool {
        FloatExp::is_finite(self)
    }
    #[inline]
    fn lt(self, other: FloatExp) -> bool {
        self.abs_lt(other)
    }
    #[inline]
    fn mul_add(self, a: FloatExp, b: FloatExp) -> FloatExp {
        self * a + b
    }
}

/// A complex number over a [`Real`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cx<T> {
    pub re: T,
    pub im: T,
}

// `add`/`mul` by value on a `Copy` type, named like the operators on purpose.
#[allow(clippy::should_implement_trait)]
impl<T: Real> Cx<T> {
    #[inline]
    pub fn new(re: T, im: T) -> Self {
        Cx { re, im }
    }
    #[inline]
    pub fn zero() -> Self {
        Cx {
            re: T::zero(),
            im: T::zero(),
        }
    }
    #[inline]
    pub fn from_f64(re: f64, im: f64) -> Self {
        Cx {
            re: T::from_f64(re),
            im: T::from_f64(im),
        }
    }
    /// Both parts as `f64` (rounded; out of range: 0 or infinite).
    #[inline]
    pub fn to_f64_pair(self) -> [f64; 2] {
        [self.re.to_f64(), self.im.to_f64()]
    }
    #[inline]
    pub fn from_fe(z: Cx<FloatExp>) -> Self {
        Cx {
            re: T::from_fe(z.re),
            im: T::from_fe(z.im),
        }
    }
    #[inline]
    pub fn to_fe(self) -> Cx<FloatExp> {
        Cx {
            re: self.re.to_fe(),
            im: self.im.to_fe(),
        }
    }
    #[inline]
    pub fn to_f64(self) -> (f64, f64) {
        (self.re.to_f64(), self.im.to_f64())
    }
    #[inline]
    pub fn add(self, b: Self) -> Self {
        Cx {
            re: self.re + b.re,
            im: self.im + b.im,
        }
    }
    #[inline]
    #[cfg(any(test, feature = "internals"))]
    pub fn sub(self, b: Self) -> Self {
        Cx {
            re: self.re - b.re,
            im: self.im - b.im,
        }
    }
    #[inline]
    pub fn mul(self, b: Self) -> Self {
        Cx {
            re: self.re * b.re - self.im * b.im,
            im: self.re * b.im + self.im * b.re,
        }
    }
    #[inline]
    pub fn scale(self, k: T) -> Self {
        Cx {
            re: self.re * k,
            im: self.im * k,
        }
    }
    #[inline]
    pub fn norm_sqr(self) -> T {
        self.re * self.re + self.im * self.im
    }
    #[inline]
    pub fn is_finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
}

impl Cx<FloatExp> {
    /// `|z|` as a `FloatExp`.
    pub fn norm(self) -> FloatExp {
        self.norm_sqr().sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_arithmetic() {
        for x in [
            1.0,
            -3.5,
            1e-300,
            7e300,
            0.1,
            -2.2250738585072014e-308,
            5e-324,
        ] {
            assert_eq!(FloatExp::from_f64(x).to_f64(), x, "{x}");
        }
        let a = FloatExp::from_f64(1e-200);
        let b = a * a * a; // 1e-600
        assert!((b.log2_abs() / std::f64::consts::LOG2_10 + 600.0).abs() < 1e-9);
        assert_eq!(b.to_f64(), 0.0);
        let c = b * FloatExp::from_f64(1e300) * FloatExp::from_f64(1e300);
        assert!((c.to_f64() - 1.0).abs() < 1e-14);
        let s = FloatExp::from_f64(3.0) + FloatExp::from_f64(-1.25);
        assert_eq!(s.to_f64(), 1.75);
        assert_eq!(
            (FloatExp::from_f64(2.0) - FloatExp::from_f64(2.0)).to_f64(),
            0.0
        );
        assert!(FloatExp::from_f64(1e-300).abs_lt(FloatExp::from_f64(-2e-300)));
        assert!(FloatExp::ZERO.abs_lt(b));
        let e = FloatExp::exp(-2302.585092994046); // 1e-1000
        assert!((e.log2_abs() / std::f64::consts::LOG2_10 + 1000.0).abs() < 1e-9);
        assert!((FloatExp::from_f64(2.0).sqrt().to_f64() - 2f64.sqrt()).abs() < 1e-15);
        assert!((FloatExp::from_f64(8.0).sqrt().to_f64() - 8f64.sqrt()).abs() < 1e-15);
        assert_eq!(ldexp(1.0, -1074), 5e-324);
        assert_eq!(ldexp(1.5, -1060), 1.5 * 2f64.powi(-1060));
        assert_eq!(ldexp(1.0, 1024), f64::INFINITY);
    }
}
