//! Bilinear approximation (BLA): skipping many perturbation steps at once.
//!
//! Following Zhuoran ("Another solution to perturbation glitches", fractalforums.org, 2021) and
//! Claude Heiland-Allen ("Deep zoom theory and practice (again)", mathr.co.uk, 2022): while
//! `|δz|` is small, one step `δz -> 2 Z_m δz + δz^2 + δc` is, to relative precision `ε`, the
//! bilinear map `δz -> A δz + B δc` with `A = 2 Z_m`, `B = 1`, valid for `|δz| < R = ε |A|`
//! (then `|δz^2| < ε |2 Z_m δz|`). Two consecutive maps `x` (from `m`) and `y` merge into one:
//!
//! ```text
//! A = A_y A_x,   B = A_y B_x + B_y,   R = min(R_x, max(0, (R_y - |B_x| |c|) / |A_x|))
//! ```
//!
//! where `|c|` bounds `|δc|` over the frame (so the table is built per frame). Level `k` of the
//! table holds the merges of `2^k` steps starting at `m = 1 + j 2^k`; a pixel at reference index
//! `m` tries the longest level whose start is `m` and whose radius admits its `|δz|`. Single steps
//! (level 0) are not stored: the perturbation step itself is as cheap. Index 0 has no table entry
//! (`Z_0 = 0` makes the step purely non-linear). Entries whose coefficients overflow the number
//! type get radius 0 and are never used.

use super::num::floatexp::{Cx, FloatExp, Real};
use super::orbit::ReferenceOrbit;

/// One bilinear step: `δz -> a δz + b δc` for `|δz|^2 < r2`.
#[derive(Debug, Clone, Copy)]
pub struct Bla<T> {
    pub a: Cx<T>,
    pub b: Cx<T>,
    pub r2: T,
}

/// The per-frame BLA table of one reference orbit.
#[derive(Debug, Clone)]
pub struct BlaTable<T> {
    /// `levels[k - 1][j]`: the step of `2^k` iterations from `m = 1 + j 2^k`.
    levels: Vec<Vec<Bla<T>>>,
}

/// Working entry in extended precision.
#[derive(Clone, Copy)]
struct Entry {
    a: Cx<FloatExp>,
    b: Cx<FloatExp>,
    r: FloatExp,
}

/// The longest step of a table of levels (`levels[k - 1][j]`: the step of `2^k` iterations
/// from reference index `m = 1 + j 2^k`) that applies at `m` with `budget` iterations left, as
/// [`BlaTable::step_at`] describes, `holds` saying whether a step's radius holds the delta.
/// Shared by [`BlaTable`] and the second pass's double-double table.
#[inline]
pub(crate) fn longest_step<B>(
    levels: &[Vec<B>],
    m: usize,
    budget: u32,
    holds: impl Fn(&B) -> bool,
) -> Option<(&B, u32)> {
    if m & 1 == 0 {
        return None;
    }
    let kmax = (m - 1).trailing_zeros().min(levels.len() as u32);
    (1..=kmax).rev().find_map(|k| {
        let b = levels[k as usize - 1].get((m - 1) >> k)?;
        let len = 1u32 << k;
        (holds(b) && budget >= len).then_some((b, len))
    })
}

impl<T: Real> BlaTable<T> {
    /// Builds the table for `orbit` and a frame whose `|δc| <= max_dc`, with tolerance `eps`.
    pub fn build(orbit: &ReferenceOrbit, max_dc: FloatExp, eps: f64) -> BlaTable<T> {
        let len = orbit.len();
        // Single steps from m = 1 ..= len - 2 (landing at most on the last entry).
        let singles: Vec<Entry> = (1..len.saturating_sub(1))
            .map(|m| {
                let z: Cx<FloatExp> = orbit.z_at::<FloatExp>(m);
                let a = Cx {
                    re: z.re.double(),
                    im: z.im.double(),
                };
                Entry {
                    a,
                    b: Cx::from_f64(1.0, 0.0),
                    r: a.norm() * FloatExp::from_f64(eps),
                }
            })
            .collect();
        let mut levels = Vec::new();
        let mut prev = singles;
        while prev.len() >= 2 {
            let next: Vec<Entry> = prev
                .chunks_exact(2)
                .map(|pair| {
                    let (x, y) = (pair[0], pair[1]);
                    let a = y.a.mul(x.a);
                    let b = y.a.mul(x.b).add(y.b);
                    let ax = x.a.norm();
                    let r_y = y.r - x.b.norm() * max_dc;
                    let r = if ax.is_zero() || r_y.mantissa() <= 0.0 {
                        FloatExp::ZERO
                    } else {
                        let ry = r_y * ax.recip();
                        if ry.abs_lt(x.r) { ry } else { x.r }
                    };
                    Entry { a, b, r }
                })
                .collect();
            levels.push(
                next.iter()
                    .map(|e| {
                        let a = Cx::<T>::from_fe(e.a);
                        let b = Cx::<T>::from_fe(e.b);
                        let r2 = T::from_fe(e.r * e.r);
                        let ok = a.is_finite() && b.is_finite() && r2.is_finite();
                        Bla {
                            a,
                            b,
                            r2: if ok { r2 } else { T::zero() },
                        }
                    })
                    .collect(),
            );
            prev = next;
        }
        BlaTable { levels }
    }

    /// A table with no entries (BLA off).
    pub fn empty() -> BlaTable<T> {
        BlaTable { levels: Vec::new() }
    }

    /// Number of levels (the longest step is `2^levels` iterations).
    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// The longest step that applies at reference index `m` (the steps of level `k` start at
    /// `m = 1 + j 2^k`) to a delta with `|δz|^2 = dn`, with `budget` iterations left: the
    /// highest level `k <= trailing_zeros(m - 1)` whose step is stored, whose radius holds `dn`
    /// and whose `2^k` iterations fit the budget, and that `2^k`. `None` at even `m`.
    #[inline]
    pub fn step_at(&self, m: usize, dn: T, budget: u32) -> Option<(&Bla<T>, u32)> {
        longest_step(&self.levels, m, budget, |b| dn.lt(b.r2))
    }

    /// Bytes held by the table.
    #[cfg(any(test, feature = "internals"))]
    pub fn memory_bytes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| l.capacity() * std::mem::size_of::<Bla<T>>())
            .sum()
    }
}
