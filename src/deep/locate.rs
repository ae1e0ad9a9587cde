//! Finding deep points with Newton's method: minibrot nuclei and Misiurewicz points.
//!
//! Used to make test locations and example scenes with structure at any depth. The function
//! value is computed in fixed point and the derivative `dz/dc` in [`FloatExp`]: the Newton
//! correction `f / f'` then has 53 correct bits, so every step gains about 50 bits until the
//! precision is reached.

use super::num::fixed::FixedC;
use super::num::floatexp::{Cx, FloatExp};

fn div(a: Cx<FloatExp>, b: Cx<FloatExp>) -> Cx<FloatExp> {
    let inv = b.norm_sqr().recip();
    let conj = Cx {
        re: b.re,
        im: -b.im,
    };
    a.mul(conj).scale(inv)
}

/// Orbit value and derivative `dz/dc` after `n` steps from `z_0 = 0`.
fn orbit_with_derivative(c: &FixedC, n: u32) -> Vec<(FixedC, Cx<FloatExp>)> {
    let mut out = Vec::with_capacity(n as usize + 1);
    let mut z = FixedC::zero(c.frac());
    let mut dz = Cx::<FloatExp>::zero();
    out.push((z.clone(), dz));
    for _ in 0..n {
        let zf = z.to_fe();
        dz = Cx {
            re: zf.re.double(),
            im: zf.im.double(),
        }
        .mul(dz)
        .add(Cx::from_f64(1.0, 0.0));
        z = z.sqr_add(c);
        out.push((z.clone(), dz));
    }
    out
}

/// Newton's method towards a root of `z_{pre + period}(c) - z_pre(c)` (`pre = 0`: the nucleus
/// of a minibrot of that period; `pre > 0`: a Misiurewicz point). Returns the point and the
/// size of the last correction (`log2`), or `None` if it diverged (|c| > 4).
pub fn newton(start: &FixedC, pre: u32, period: u32, steps: usize) -> Option<(FixedC, f64)> {
    let mut c = start.clone();
    let target = -(64.0 * c.frac() as f64) + 4.0;
    let mut last = 0.0;
    for _ in 0..steps {
        let orbit = orbit_with_derivative(&c, pre + period);
        let (zn, dn) = &orbit[(pre + period) as usize];
        let (zk, dk) = &orbit[pre as usize];
        let f = zn.sub(zk).to_fe();
        let df = dn.sub(*dk);
        let delta = div(f, df);
        if !delta.is_finite() {
            return None;
        }
        c = c.sub(&FixedC::from_fe(delta, c.frac()));
        let (x, y) = c.to_f64();
        if x * x + y * y > 16.0 {
            return None;
        }
        last = delta.norm().log2_abs();
        if last < target {
            break;
        }
    }
    Some((c, last))
}

/// Decimal text of a fixed-point number with `digits` digits after the point.
pub fn to_decimal(x: &super::num::fixed::Fixed, digits: usize) -> String {
    // Repeatedly multiply the fraction by 10^k and take the integer limb.
    let frac = x.frac();
    let mut v = if x.is_negative() { x.neg() } else { x.clone() };
    let int = v.to_f64().trunc();
    let int_fixed = super::num::fixed::Fixed::from_f64(int, frac);
    v = v.sub(&int_fixed);
    let mut out = String::new();
    if x.is_negative() {
        out.push('-');
    }
    out += &format!("{}.", int as u64);
    let ten = super::num::fixed::Fixed::from_f64(10.0, frac);
    for _ in 0..digits {
        v = v.mul(&ten);
        let d = v.to_f64().trunc().clamp(0.0, 9.0);
        out.push(char::from(b'0' + d as u8));
        v = v.sub(&super::num::fixed::Fixed::from_f64(d, frac));
    }
    out
}
