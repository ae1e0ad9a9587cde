//! The BLA table of the double-double second pass: the bilinear steps of the `f64` table
//! ([`super::bla`]), with the tighter tolerance `2^-104` that double-double deltas need.

use super::num::dd::{DdCx, DdExp};
use super::num::floatexp::FloatExp;
use super::orbit::ReferenceOrbit;

/// BLA tolerance of the double-double pass: `2^-104`, its rounding.
pub const DD_BLA_EPS: f64 = 1.0 / (1u128 << 104) as f64;

/// One bilinear step in double-double: `δz -> a δz + b δc` for `|δz|^2 < r2`.
#[derive(Debug, Clone, Copy)]
pub(super) struct DdBla {
    pub(super) a: DdCx,
    pub(super) b: DdCx,
    r2: FloatExp,
}

/// The BLA table of [`super::bla`] with double-double coefficients and tolerance
/// [`DD_BLA_EPS`] (same levels, merging rule and radii), for the double-double pass: while
/// `|δz| < 2^-104 |2 Z_m|` (most of a deep sample's orbit), steps of `2^k` iterations at once.
#[derive(Debug, Clone, Default)]
pub struct DdBlaTable {
    levels: Vec<Vec<DdBla>>,
    /// Per orbit entry `m`: the `|δz|^2` below which a level-1 step applies at `m` (its `r2`
    /// as `f64`), `-inf` where none does (even `m`, `m = 1`, no level): the test that makes a
    /// plain step leave for a BLA step, one load in `Walk::plain_step` and in the SIMD loop.
    pub(super) leave_r2: Vec<f64>,
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
        let mut levels: Vec<Vec<DdBla>> = Vec::new();
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
        let leave_r2 = (0..len)
            .map(|m| {
                let entry = if m & 1 == 1 && m > 1 {
                    levels.first().and_then(|l| l.get((m - 1) >> 1))
                } else {
                    None
                };
                entry.map_or(f64::NEG_INFINITY, |b| b.r2.to_f64())
            })
            .collect();
        DdBlaTable { levels, leave_r2 }
    }

    /// The longest step at `m` for `|δz|^2 = dn` within `budget`, and its length (see
    /// [`super::bla::longest_step`]).
    #[inline]
    pub(super) fn step_at(&self, m: usize, dn: FloatExp, budget: u32) -> Option<(&DdBla, u32)> {
        super::bla::longest_step(&self.levels, m, budget, |b| dn.abs_lt(b.r2))
    }

    /// Bytes held by the table.
    #[cfg(any(test, feature = "internals"))]
    pub fn memory_bytes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| l.capacity() * std::mem::size_of::<DdBla>())
            .sum::<usize>()
            + self.leave_r2.capacity() * 8
    }
}
