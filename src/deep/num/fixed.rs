//! `Fixed`: a signed fixed-point number on `u64` limbs, for reference orbits.
//!
//! A reference orbit needs only `z -> z^2 + c` at one fixed precision, with `|z| <= 2^63`, so a
//! fixed-point number (sign and magnitude, one integer limb above `frac` fraction limbs) is all
//! it takes: additions are a carry chain, squaring is a truncated schoolbook product. At 3,400
//! bits (a width of `1e-1000`) this is faster than the pure-Rust arbitrary-precision floats we
//! measured (see `docs/DEEP.md`) and needs no C toolchain.
//!
//! Truncation (not rounding) is used throughout; every operation errs by at most a few units of
//! the last limb, `2^(-64 frac)`, and the precision is chosen 64+ bits finer than the pixels.

use super::floatexp::{Cx, FloatExp};

/// A signed fixed-point number: `(-1)^neg * sum(limbs[i] * 2^(64 (i - frac)))`.
///
/// `limbs` has `frac + 1` entries, little-endian; the last is the integer part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    neg: bool,
    limbs: Vec<u64>,
}

impl Fixed {
    /// Zero with `frac` fraction limbs.
    pub fn zero(frac: usize) -> Fixed {
        Fixed {
            neg: false,
            limbs: vec![0; frac + 1],
        }
    }

    /// Fraction limbs.
    pub fn frac(&self) -> usize {
        self.limbs.len() - 1
    }

    /// Fraction limbs needed for `bits` bits after the point.
    pub fn frac_for_bits(bits: u64) -> usize {
        (bits.div_ceil(64) as usize).max(1)
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn is_zero(&self) -> bool {
        self.limbs.iter().all(|&l| l == 0)
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn is_negative(&self) -> bool {
        self.neg && !self.is_zero()
    }

    /// The same number with `frac` fraction limbs (truncating or extending).
    pub fn with_frac(&self, frac: usize) -> Fixed {
        let old = self.frac();
        let mut limbs = vec![0; frac + 1];
        for (i, slot) in limbs.iter_mut().enumerate() {
            let j = i as isize - frac as isize + old as isize;
            if j >= 0 && (j as usize) < self.limbs.len() {
                *slot = self.limbs[j as usize];
            }
        }
        Fixed {
            neg: self.neg,
            limbs,
        }
    }

    /// Exact value of an `f64` (bits below the precision are truncated).
    pub fn from_f64(x: f64, frac: usize) -> Fixed {
        Fixed::from_fe(FloatExp::from_f64(x), frac)
    }

    /// Value of a [`FloatExp`] (bits below the precision are truncated; must be < 2^63).
    pub fn from_fe(x: FloatExp, frac: usize) -> Fixed {
        let mut out = Fixed::zero(frac);
        if x.is_zero() {
            return out;
        }
        out.neg = x.mantissa() < 0.0;
        // |x| = M * 2^(e - 52) with the 53-bit integer M.
        let mant = (x.mantissa().abs() * (1u64 << 52) as f64) as u64;
        // Bit position of M's lowest bit in the limb array.
        let shift = x.exponent() - 52 + 64 * frac as i64;
        assert!(x.exponent() < 63, "fixed-point value out of range");
        for bit in 0..53 {
            if mant >> bit & 1 == 1 {
                let pos = shift + bit;
                if pos >= 0 {
                    let pos = pos as usize;
                    out.limbs[pos / 64] |= 1 << (pos % 64);
                }
            }
        }
        out
    }

    /// Parses decimal text (`-1.25e-3`, as [`crate::scene::Decimal`] normalizes it).
    pub fn parse(text: &str, frac: usize) -> Option<Fixed> {
        let (neg, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let digits: String = int_part.chars().chain(frac_part.chars()).collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = digits.trim_start_matches('0');
        let scale = exponent - frac_part.len() as i64; // value = digits * 10^scale
        let mut out = Fixed::zero(frac);
        if digits.is_empty() {
            return Some(out);
        }
        // Numbers far below the precision are zero; far above 2^63 are rejected.
        let log10 = digits.len() as i64 + scale;
        if (log10 as f64) < -((64 * frac) as f64) * std::f64::consts::LOG10_2 - 2.0 {
            return Some(out);
        }
        if log10 > 18 {
            return None;
        }
        // Big integer (little-endian u64 limbs) of the digits, times 2^(64 frac).
        let mut big: Vec<u64> = vec![0; frac];
        let mut value: Vec<u64> = Vec::new();
        for chunk in digits.as_bytes().chunks(19) {
            let mut part = 0u64;
            for &b in chunk {
                part = part * 10 + u64::from(b - b'0');
            }
            mul_small_add(&mut value, 10u64.pow(chunk.len() as u32), part);
        }
        big.extend(value);
        if scale >= 0 {
            for _ in 0..scale {
                mul_small_add(&mut big, 10, 0);
            }
        } else {
            let mut left = -scale;
            while left > 0 {
                let k = left.min(19);
                div_small(&mut big, 10u64.pow(k as u32));
                left -= k;
            }
        }
        for (slot, &l) in out.limbs.iter_mut().zip(&big) {
            *slot = l;
        }
        if big.len() > frac + 1 && big[frac + 1..].iter().any(|&l| l != 0) {
            return None;
        }
        out.neg = neg;
        Some(out)
    }

    /// The value as a [`FloatExp`] (53 leading bits, truncated).
    pub fn to_fe(&self) -> FloatExp {
        let Some(h) = self.limbs.iter().rposition(|&l| l != 0) else {
            return FloatExp::ZERO;
        };
        let hi = self.limbs[h] as f64 * 18446744073709551616.0;
        let lo = if h > 0 { self.limbs[h - 1] as f64 } else { 0.0 };
        let m = if self.neg { -(hi + lo) } else { hi + lo };
        FloatExp::new(m, 64 * (h as i64 - 1 - self.frac() as i64))
    }

    pub fn to_f64(&self) -> f64 {
        self.to_fe().to_f64()
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn neg(&self) -> Fixed {
        Fixed {
            neg: !self.neg,
            limbs: self.limbs.clone(),
        }
    }

    /// `self + b` (same precision).
    pub fn add(&self, b: &Fixed) -> Fixed {
        let mut out = self.clone();
        out.add_assign(b, false);
        out
    }

    /// `self - b` (same precision).
    pub fn sub(&self, b: &Fixed) -> Fixed {
        let mut out = self.clone();
        out.add_assign(b, true);
        out
    }

    /// `self += ±b`.
    pub fn add_assign(&mut self, b: &Fixed, negate_b: bool) {
        debug_assert_eq!(self.limbs.len(), b.limbs.len());
        let bneg = b.neg ^ negate_b;
        if self.neg == bneg {
            add_mag(&mut self.limbs, &b.limbs);
        } else if cmp_mag(&self.limbs, &b.limbs) != std::cmp::Ordering::Less {
            sub_mag(&mut self.limbs, &b.limbs);
        } else {
            let mut t = b.limbs.clone();
            sub_mag(&mut t, &self.limbs);
            self.limbs = t;
            self.neg = bneg;
        }
    }

    /// `self * b`, truncated to the precision.
    pub fn mul(&self, b: &Fixed) -> Fixed {
        let mut out = Fixed::zero(self.frac());
        mul_mag(&self.limbs, &b.limbs, &mut out.limbs);
        out.neg = self.neg ^ b.neg;
        out
    }

    /// `self^2`, truncated.
    pub fn sqr(&self) -> Fixed {
        let mut out = Fixed::zero(self.frac());
        sqr_mag(&self.limbs, &mut out.limbs);
        out
    }

    /// `self * 2`.
    #[cfg(any(test, feature = "internals"))]
    pub fn double(&self) -> Fixed {
        self.add(self)
    }

    /// `self / d`, truncated to the precision (`d > 0`).
    pub fn div_u64(&self, d: u64) -> Fixed {
        assert!(d > 0, "division by zero");
        let mut out = self.clone();
        div_small(&mut out.limbs, d);
        out
    }

    /// Decimal text of the value, `-1.25e-3` style (as [`Fixed::parse`] reads it), exact up to
    /// `frac_digits` digits after the decimal point: the digits beyond are cut off (truncation,
    /// an error below `10^-frac_digits`). With `frac_digits >= 64 frac` the text is the exact
    /// value (a binary fraction has a finite decimal expansion). Trailing zeros are dropped.
    pub fn to_decimal(&self, frac_digits: usize) -> String {
        let int = self.limbs[self.frac()];
        let mut digits: Vec<u8> = int.to_string().into_bytes();
        let int_len = digits.len();
        let mut fraction: Vec<u64> = self.limbs[..self.frac()].to_vec();
        let mut produced = 0;
        while produced < frac_digits && fraction.iter().any(|&l| l != 0) {
            // The next 19 digits: the carry out of fraction * 10^19.
            let mut carry = 0u128;
            for l in fraction.iter_mut() {
                let t = u128::from(*l) * 10_000_000_000_000_000_000u128 + carry;
                *l = t as u64;
                carry = t >> 64;
            }
            let chunk = format!("{:019}", carry as u64);
            let take = (frac_digits - produced).min(19);
            digits.extend_from_slice(&chunk.as_bytes()[..take]);
            produced += take;
        }
        let Some(first) = digits.iter().position(|&d| d != b'0') else {
            return "0".to_string();
        };
        let last = digits.iter().rposition(|&d| d != b'0').unwrap_or(first);
        let exponent = int_len as i64 - 1 - first as i64;
        let mut text = String::new();
        if self.neg {
            text.push('-');
        }
        text.push(digits[first] as char);
        if last > first {
            text.push('.');
            text.extend(digits[first + 1..=last].iter().map(|&d| d as char));
        }
        text + &format!("e{exponent}")
    }
}

/// `a = a * m + add` on a growable little-endian big integer.
fn mul_small_add(a: &mut Vec<u64>, m: u64, add: u64) {
    let mut carry = add as u128;
    for l in a.iter_mut() {
        let t = (*l as u128) * (m as u128) + carry;
        *l = t as u64;
        carry = t >> 64;
    }
    if carry != 0 {
        a.push(carry as u64);
    }
}

/// `a = a / d` (truncating).
fn div_small(a: &mut [u64], d: u64) {
    let mut rem = 0u128;
    for l in a.iter_mut().rev() {
        let cur = (rem << 64) | *l as u128;
        *l = (cur / d as u128) as u64;
        rem = cur % d as u128;
    }
}

fn cmp_mag(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x.cmp(y);
        }
    }
    std::cmp::Ordering::Equal
}

fn add_mag(a: &mut [u64], b: &[u64]) {
    let mut carry = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (s1, c1) = x.overflowing_add(y);
        let (s2, c2) = s1.overflowing_add(carry as u64);
        *x = s2;
        carry = c1 || c2;
    }
}

/// `a -= b` with `|a| >= |b|`.
fn sub_mag(a: &mut [u64], b: &[u64]) {
    let mut borrow = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (s1, c1) = x.overflowing_sub(y);
        let (s2, c2) = s1.overflowing_sub(borrow as u64);
        *x = s2;
        borrow = c1 || c2;
    }
}

/// Truncated product of two fixed-point magnitudes with `n = frac + 1` limbs each: the product's
/// limbs `frac ..= 2 frac` (the columns below `frac - 1` are skipped; they change the result by
/// less than `n` units of the last place, and their carries are bounded the same way).
fn mul_mag(a: &[u64], b: &[u64], out: &mut [u64]) {
    let n = a.len();
    let frac = n - 1;
    // Column sums from column `lo = frac - 1` up to `2 frac`, with a 3-limb accumulator.
    let lo = frac.saturating_sub(1);
    let mut acc_lo: u128 = 0; // running column value (low 128 bits)
    let mut acc_hi: u64 = 0; // overflow of the column accumulator
    for col in lo..=2 * frac {
        let i_min = col.saturating_sub(frac);
        let i_max = col.min(frac);
        for i in i_min..=i_max {
            let p = (a[i] as u128) * (b[col - i] as u128);
            let (s, c) = acc_lo.overflowing_add(p);
            acc_lo = s;
            acc_hi += c as u64;
        }
        if col >= frac {
            out[col - frac] = acc_lo as u64;
        }
        acc_lo = (acc_lo >> 64) | ((acc_hi as u128) << 64);
        acc_hi = 0;
    }
}

/// Truncated square (see [`mul_mag`]): cross products are computed once and doubled.
fn sqr_mag(a: &[u64], out: &mut [u64]) {
    let n = a.len();
    let frac = n - 1;
    let lo = frac.saturating_sub(1);
    let mut acc_lo: u128 = 0;
    let mut acc_hi: u64 = 0;
    for col in lo..=2 * frac {
        let i_min = col.saturating_sub(frac);
        let i_max = col.min(frac);
        // Pairs i < j with i + j = col, doubled; plus the square term when col is even.
        let mut cross_lo: u128 = 0;
        let mut cross_hi: u64 = 0;
        let mut i = i_min;
        while i < col - i && i <= i_max {
            let p = (a[i] as u128) * (a[col - i] as u128);
            let (s, c) = cross_lo.overflowing_add(p);
            cross_lo = s;
            cross_hi += c as u64;
            i += 1;
        }
        // Double the cross sum (a 129+ bit value) into the accumulator.
        let top = cross_lo >> 127;
        let dbl = cross_lo << 1;
        let (s, c) = acc_lo.overflowing_add(dbl);
        acc_lo = s;
        acc_hi += c as u64 + 2 * cross_hi + top as u64;
        if col % 2 == 0 && col / 2 >= i_min && col / 2 <= i_max {
            let h = col / 2;
            let p = (a[h] as u128) * (a[h] as u128);
            let (s, c) = acc_lo.overflowing_add(p);
            acc_lo = s;
            acc_hi += c as u64;
        }
        if col >= frac {
            out[col - frac] = acc_lo as u64;
        }
        acc_lo = (acc_lo >> 64) | ((acc_hi as u128) << 64);
        acc_hi = 0;
    }
}

/// A complex fixed-point number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedC {
    pub re: Fixed,
    pub im: Fixed,
}

impl FixedC {
    pub fn zero(frac: usize) -> FixedC {
        FixedC {
            re: Fixed::zero(frac),
            im: Fixed::zero(frac),
        }
    }

    pub fn frac(&self) -> usize {
        self.re.frac()
    }

    pub fn with_frac(&self, frac: usize) -> FixedC {
        FixedC {
            re: self.re.with_frac(frac),
            im: self.im.with_frac(frac),
        }
    }

    pub fn from_fe(z: Cx<FloatExp>, frac: usize) -> FixedC {
        FixedC {
            re: Fixed::from_fe(z.re, frac),
            im: Fixed::from_fe(z.im, frac),
        }
    }

    pub fn to_fe(&self) -> Cx<FloatExp> {
        Cx {
            re: self.re.to_fe(),
            im: self.im.to_fe(),
        }
    }

    pub fn to_f64(&self) -> (f64, f64) {
        (self.re.to_f64(), self.im.to_f64())
    }

    pub fn add(&self, b: &FixedC) -> FixedC {
        FixedC {
            re: self.re.add(&b.re),
            im: self.im.add(&b.im),
        }
    }

    pub fn sub(&self, b: &FixedC) -> FixedC {
        FixedC {
            re: self.re.sub(&b.re),
            im: self.im.sub(&b.im),
        }
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn mul(&self, b: &FixedC) -> FixedC {
        let re = self.re.mul(&b.re).sub(&self.im.mul(&b.im));
        let im = self.re.mul(&b.im).add(&self.im.mul(&b.re));
        FixedC { re, im }
    }

    /// `z^2 + c` with three squarings: `x^2 - y^2` and `2xy = (x + y)^2 - x^2 - y^2`.
    pub fn sqr_add(&self, c: &FixedC) -> FixedC {
        let x2 = self.re.sqr();
        let y2 = self.im.sqr();
        let s = self.re.add(&self.im).sqr();
        let mut re = x2.sub(&y2);
        re.add_assign(&c.re, false);
        let mut im = s.sub(&x2);
        im.add_assign(&y2, true);
        im.add_assign(&c.im, false);
        FixedC { re, im }
    }

    /// `|z|^2` as an `f64` (from the leading bits; exact enough for escape tests).
    pub fn norm_sqr_f64(&self) -> f64 {
        let (x, y) = self.to_f64();
        x * x + y * y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_convert() {
        let x = Fixed::parse("-0.743643887037158704752191506114774", 4).unwrap();
        assert!((x.to_f64() + 0.7436438870371587).abs() < 1e-16);
        assert!(x.is_negative());
        assert_eq!(Fixed::parse("1.5e2", 2).unwrap().to_f64(), 150.0);
        assert_eq!(Fixed::parse("3", 2).unwrap().to_f64(), 3.0);
        let tiny = Fixed::parse("1e-500", 30).unwrap();
        assert!((tiny.to_fe().log2_abs() / std::f64::consts::LOG2_10 + 500.0).abs() < 1e-9);
        assert!(Fixed::parse("1e-5000", 30).unwrap().is_zero());
        assert!(Fixed::parse("1e30", 3).is_none());
        let q = Fixed::from_f64(0.1, 3);
        assert_eq!(q.to_f64(), 0.1);
        assert_eq!(Fixed::from_f64(-1.75, 1).to_f64(), -1.75);
    }

    /// `to_decimal` gives the exact value: its text parses back to the same bits, at shallow
    /// and deep scales, for both signs; cut short, it errs by less than its last digit.
    #[test]
    fn decimal_text_round_trips() {
        assert_eq!(Fixed::zero(3).to_decimal(100), "0");
        assert_eq!(Fixed::from_f64(1.5, 2).to_decimal(100), "1.5e0");
        assert_eq!(Fixed::from_f64(-0.1, 1).to_decimal(5), "-1e-1");
        assert_eq!(
            Fixed::from_f64(0.1, 17).to_decimal(2000),
            "1.000000000000000055511151231257827021181583404541015625e-1"
        );
        assert_eq!(Fixed::from_f64(1234.0, 1).to_decimal(5), "1.234e3");
        for (text, frac) in [
            ("-0.743643887037158704752191506114774", 4),
            ("1e-100", 8),
            ("-1.2345678901234567890123456789e-1000", 60),
            ("3.25", 1),
        ] {
            let x = Fixed::parse(text, frac).unwrap();
            let exact = x.to_decimal(64 * frac);
            assert_eq!(Fixed::parse(&exact, frac).unwrap(), x, "{text}: {exact}");
            // Cut at 40 digits past the value's leading digit: 1e-40 relative at most.
            let lead = -x.to_fe().log2_abs() * std::f64::consts::LOG10_2;
            let short = x.to_decimal(lead.ceil() as usize + 40);
            let d = Fixed::parse(&short, frac).unwrap().sub(&x).to_fe();
            assert!(
                d.is_zero() || d.log2_abs() < x.to_fe().log2_abs() - 120.0,
                "{text}: {short}"
            );
        }
        let third = Fixed::parse("1", 3).unwrap().div_u64(3);
        assert!(
            third
                .to_decimal(30)
                .starts_with("3.33333333333333333333333333")
        );
    }

    #[test]
    fn products_match_f64_and_identities() {
        let mut rng = crate::testing::XorShift(0x1234_5678_9abc_def1u64);
        let mut rnd = || rng.unit() * 8.0 - 4.0;
        for _ in 0..500 {
            let (a, b) = (rnd(), rnd());
            let (fa, fb) = (Fixed::from_f64(a, 3), Fixed::from_f64(b, 3));
            let p = fa.mul(&fb).to_f64();
            assert!(
                (p - a * b).abs() <= 1e-15 * (a * b).abs().max(1e-300),
                "{a} * {b}: {p}"
            );
            let s = fa.sqr().to_f64();
            assert!((s - a * a).abs() <= 1e-15 * a * a, "{a}^2: {s}");
            assert_eq!(fa.sqr(), fa.mul(&fa.neg()).neg());
            let d = fa.sub(&fb).to_f64();
            assert!((d - (a - b)).abs() <= 1e-15 * 8.0);
        }
        // (1/3)^2 at high precision: 1/9 to ~ 60 * 64 bits.
        let third = Fixed::parse("0.333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333", 12).unwrap();
        let ninth = Fixed::parse("0.111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111", 12).unwrap();
        let diff = third.sqr().sub(&ninth).to_fe();
        assert!(diff.log2_abs() < -64.0 * 12.0 + 8.0, "{}", diff.log2_abs());
        let diff = third.mul(&third).sub(&ninth).to_fe();
        assert!(diff.log2_abs() < -64.0 * 12.0 + 8.0, "{}", diff.log2_abs());
    }
}
