//! Reference orbits: `Z_{n+1} = Z_n^2 + C` in fixed point, stored as `f64` parts.
//!
//! The orbit is iterated at the precision of the deepest frame that uses it and then rounded to
//! `f64` parts: perturbation only needs `Z_n` to `f64` precision. The real and the imaginary
//! parts lie in two arrays (not in pairs), so that the SIMD lockstep loop of [`super::lanes`]
//! gathers both parts of `Z_{m_i}` with one index vector. The arrays hold `2 Z_n` (exact, and
//! `Z_n` is exactly half of it), which is what the step uses: `2 Z_m + δz`, and `2 z = 2 Z_m +
//! 2 δz` for the derivative, one operation each ([`super::lanes::step`]). The next 53 bits of
//! each entry are kept beside them for the double-double pass of ill-conditioned samples
//! ([`super::dd`]). Beside each entry the orbit also keeps the *chunk limit* of [`super::bounds::chunk_limits`],
//! which lets the lockstep loop take 8 steps without testing them: 40 bytes per iteration in
//! all. `Z_n`
//! values whose both parts lie below `2^-960` (close to a nucleus of a deep minibrot) lose their
//! relative precision in an `f64`; they are kept exactly, as [`FloatExp`] pairs, in a short
//! side list that kernels with extended-exponent deltas consult.

use super::num::dd::{DdCx, DdExp};
use super::num::fixed::{Fixed, FixedC};
use super::num::floatexp::{Cx, FloatExp, Real};
use crate::kernel::ESCAPE_RADIUS_SQ;

/// `|x|` below which an `f64` orbit value is looked up in the exact side list.
pub const TINY: f64 = 1e-289;

/// One reference orbit.
#[derive(Debug, Clone)]
pub struct ReferenceOrbit {
    /// The reference point `C`.
    center: FixedC,
    /// Twice the real parts of `Z_0 = 0, Z_1 = C, ...` up to the iteration budget or the
    /// first `|Z_n| > R` (doubling and halving are exact).
    re: Vec<f64>,
    /// Twice their imaginary parts (as long as `re`).
    im: Vec<f64>,
    /// Exact values of the entries whose parts are both below [`TINY`], by index.
    tiny: Vec<(u32, Cx<FloatExp>)>,
    /// The next 53 bits of every entry (`Z_n - z[n]`), for double-double perturbation
    /// ([`super::dd`]); 0 for the tiny entries, whose next bits are in `tiny_lo`.
    lo: Vec<[f64; 2]>,
    /// The next 53 bits of the tiny entries, in the order of `tiny`.
    tiny_lo: Vec<Cx<FloatExp>>,
    /// [`super::bounds::chunk_limits`] of the entries (as long as `re`).
    chunk: Vec<f64>,
    /// Whether the orbit ended by escaping (rather than by reaching its budget).
    escaped: bool,
    /// The budget it was computed for.
    max_iterations: u32,
}

impl ReferenceOrbit {
    /// Iterates `C` for up to `max_iterations` steps at `C`'s precision. `progress` gets the
    /// fraction done now and then; returning `false` from `cancel` is not supported (orbits are
    /// short next to the frames that use them).
    pub fn compute(
        center: &FixedC,
        max_iterations: u32,
        progress: &mut dyn FnMut(f64),
    ) -> ReferenceOrbit {
        let mut re = Vec::with_capacity(max_iterations as usize + 1);
        let mut im = Vec::with_capacity(max_iterations as usize + 1);
        let mut tiny = Vec::new();
        let mut lo = Vec::with_capacity(max_iterations as usize + 1);
        let mut tiny_lo = Vec::new();
        let frac = center.frac();
        let mut cur = FixedC::zero(frac);
        re.push(0.0);
        im.push(0.0);
        lo.push([0.0, 0.0]);
        let mut escaped = false;
        for n in 1..=max_iterations {
            cur = cur.sqr_add(center);
            let fe = cur.to_fe();
            let (x, y) = (fe.re.to_f64(), fe.im.to_f64());
            let rest = Cx {
                re: cur.re.sub(&Fixed::from_fe(fe.re, frac)).to_fe(),
                im: cur.im.sub(&Fixed::from_fe(fe.im, frac)).to_fe(),
            };
            if x.abs() < TINY && y.abs() < TINY {
                tiny.push((n, fe));
                tiny_lo.push(rest);
                lo.push([0.0, 0.0]);
            } else {
                lo.push([rest.re.to_f64(), rest.im.to_f64()]);
            }
            re.push(x);
            im.push(y);
            if x * x + y * y > ESCAPE_RADIUS_SQ {
                escaped = true;
                break;
            }
            if n % 4096 == 0 {
                progress(f64::from(n) / f64::from(max_iterations));
            }
        }
        progress(1.0);
        let chunk = super::bounds::chunk_limits(&re, &im);
        for v in re.iter_mut().chain(im.iter_mut()) {
            *v = v.double();
        }
        ReferenceOrbit {
            center: center.clone(),
            re,
            im,
            tiny,
            lo,
            tiny_lo,
            chunk,
            escaped,
            max_iterations,
        }
    }

    /// The reference point.
    pub fn center(&self) -> &FixedC {
        &self.center
    }

    /// Stored entries `Z_0 ..`.
    pub fn len(&self) -> usize {
        self.re.len()
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn is_empty(&self) -> bool {
        self.re.is_empty()
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn escaped(&self) -> bool {
        self.escaped
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn max_iterations(&self) -> u32 {
        self.max_iterations
    }

    /// Fraction limbs of the reference point (its precision).
    pub fn frac(&self) -> usize {
        self.center.frac()
    }

    /// Whether this orbit serves a frame needing `frac` limbs and `max_iterations` steps.
    pub fn serves(&self, frac: usize, max_iterations: u32) -> bool {
        self.frac() >= frac && (self.escaped || self.max_iterations >= max_iterations)
    }

    /// The real parts of `2 Z_n` as `f64` (exactly twice those of [`ReferenceOrbit::z_f64`]).
    #[inline]
    pub fn twice_re(&self) -> &[f64] {
        &self.re
    }

    /// The imaginary parts of `2 Z_n` as `f64` (as long as [`ReferenceOrbit::twice_re`]).
    #[inline]
    pub fn twice_im(&self) -> &[f64] {
        &self.im
    }

    /// The chunk limits of the entries ([`super::bounds::chunk_limits`]; as long as
    /// [`ReferenceOrbit::twice_re`]).
    #[inline]
    pub fn chunk_limits(&self) -> &[f64] {
        &self.chunk
    }

    /// `Z_n` as `f64` parts.
    #[inline]
    pub fn z_f64(&self, n: usize) -> [f64; 2] {
        [0.5 * self.re[n], 0.5 * self.im[n]]
    }

    /// `Z_n` as a complex of `T`, exact also for tiny entries when `T` is [`FloatExp`].
    #[inline]
    pub fn z_at<T: Real>(&self, n: usize) -> Cx<T> {
        let [x, y] = self.z_f64(n);
        if T::EXTENDED
            && x.abs() < TINY
            && y.abs() < TINY
            && !self.tiny.is_empty()
            && let Ok(i) = self.tiny.binary_search_by_key(&(n as u32), |e| e.0)
        {
            return Cx::from_fe(self.tiny[i].1);
        }
        Cx::from_f64(x, y)
    }

    /// The next 53 bits of `Z_n` beyond [`ReferenceOrbit::z_f64`] (0 for the entries below
    /// [`TINY`], whose exact values [`ReferenceOrbit::z_dd`] gives).
    #[inline]
    pub fn z_lo(&self) -> &[[f64; 2]] {
        &self.lo
    }

    /// `Z_n` to about 106 bits, for [`super::dd`].
    pub fn z_dd(&self, n: usize) -> DdCx {
        let [x, y] = self.z_f64(n);
        if x.abs() < TINY
            && y.abs() < TINY
            && let Ok(i) = self.tiny.binary_search_by_key(&(n as u32), |e| e.0)
        {
            let (hi, lo) = (self.tiny[i].1, self.tiny_lo[i]);
            return DdCx {
                re: DdExp::from_fe_pair(hi.re, lo.re),
                im: DdExp::from_fe_pair(hi.im, lo.im),
            };
        }
        let [a, b] = self.lo[n];
        DdCx {
            re: DdExp::from_f64_pair(x, a),
            im: DdExp::from_f64_pair(y, b),
        }
    }

    /// Bytes held by this orbit (entries, side lists, reference point).
    pub fn memory_bytes(&self) -> usize {
        self.re.capacity() * 8
            + self.im.capacity() * 8
            + self.chunk.capacity() * 8
            + self.lo.capacity() * 16
            + self.tiny_lo.capacity() * std::mem::size_of::<Cx<FloatExp>>()
            + self.tiny.capacity() * std::mem::size_of::<(u32, Cx<FloatExp>)>()
            + 2 * 8 * (self.center.frac() + 1)
    }
}
