//! Several perturbation samples in flight, with `f64` deltas in lockstep.
//!
//! One perturbation step `δz -> (2 Z_m + δz) δz + δc` is a chain of dependent operations, like a
//! plain step. As in [`crate::kernel::interleaved`], the engine here keeps [`LANES`] samples in
//! flight in plain `[f64; LANES]` arrays (which the compiler keeps in vector registers: two
//! `f64` per SSE2 register on baseline x86-64) and advances all of them in every step, so that
//! their chains overlap. Each lane has its own reference index `m` (rebasing and BLA steps make
//! them differ), so `Z_m` is gathered per lane; the arithmetic after that is lane-wise.
//!
//! Every lane also carries the derivative `e = s dz/dc` (`e -> 2 z e + s`, `s` the spacing) for
//! the conditioning test at the sample's end ([`Conditioning`], [`super::perturb`]).
//!
//! # The step in fused multiply-adds
//!
//! The step ([`step`], [`derivative_step`], [`norm_sqr`]) uses fused multiply-adds
//! ([`Real::mul_add`]: one rounding for `a b + c`): `t = 2 Z_m + δz` (the orbit stores `2 Z_m`),
//! then `δz_r -> -t_i δz_i + (t_r δz_r + δc_r)` and `δz_i -> t_i δz_r + (t_r δz_i + δc_i)`; the
//! derivative with `a = 2 z = 2 δz + 2 Z_m` (one operation, exact twice the rounded `z`) the
//! same way; and `|x|^2 = x_r x_r + (x_i x_i)` with one fused operation. An untested step is
//! then 12 vector operations in the SIMD loops (`fnmadd` for the negative terms), 29 with
//! separate multiplications and additions. The plain kernels avoid FMA because it changes the
//! bits against their scalar reference; here every path (the SIMD lockstep loops of
//! [`crate::arch::x86::delta`], the portable loop below, [`handle`], and the one-sample loop
//! [`super::perturb::iterate`]) does the same fused operations in the same order through these
//! functions, so they agree to the bit on every finite value. (A NaN's sign may differ: `-t_i`
//! flips it in portable code, `fnmadd` does not. No result depends on it: a NaN delta ends
//! the sample as a glitch and a NaN derivative makes it ill-conditioned.) `f64::mul_add` in
//! portable code (compiled without the FMA target feature) is a call to the library `fma`
//! (which uses the FMA instruction where the CPU has one, and is exact but slow in software
//! where it has none): correct, but the portable lockstep loop is slower for it than with
//! separate operations. It only runs on CPUs without AVX2 and FMA, where no SIMD loop exists
//! (and in tests and benchmarks that ask for it). Where a SIMD loop exists, [`handle`] runs
//! compiled with FMA ([`DeltaLockstep::with_fma`]), so its steps do not call the library either.
//!
//! The lockstep loop does plain perturbation steps only. Everything else happens per sample in
//! [`handle`], one sample at a time, in the frame's delta type `T` (`f64` or [`FloatExp`]):
//! the start of a sample, escape, the end of the budget, rebasing, BLA steps and, for
//! `FloatExp` frames, the stretches where the delta is too small for `f64`. A lane is flagged
//! out of the lockstep loop when, before a step,
//!
//! - `|z|^2 > R^2` or `|z|^2` is NaN (escape, or a non-finite delta: see the glitch criterion in
//!   [`super::perturb`]),
//! - `|z|^2 < |δz|^2` (rebase),
//! - for `FloatExp` frames, `|δz|^2 < 2^-1000` ([`MIN_F64_NORM`]),
//!
//! or when it reaches its limit: the last orbit entry, its iteration budget, or (for `FloatExp`
//! frames) an orbit entry with `|Z_m| < 2^-400` ([`SMALL_Z_NORM`]). [`handle`] then takes the
//! sample over, does what the scalar loop ([`super::perturb::iterate`]) would do (rebase, BLA
//! steps while one applies, `T` steps while the delta is small), and hands it back to the lockstep
//! loop after at least one step, at a reference index where no BLA step applies; a finished sample
//! is reported and its lane refilled with the next sample of the row.
//!
//! # Untested chunks
//!
//! Most of a lane's life its delta is tiny next to `Z_m`, and then none of those tests can fire.
//! The SIMD loops use that: before each group of [`CHUNK`] steps they compare every lane's
//! `|δz|` (and `|δc|`) with a per-entry limit of the orbit ([`chunk_limits`]) that proves no test
//! would fire in the next 8 steps, and if every active lane is within it they take the 8 steps
//! without testing (gathering `Z_{m+k}` at fixed offsets). The steps are the same operations,
//! so the bits, the step counts and the flags are those of the tested loop; only the work of the
//! tests (two norms, two or three comparisons and a branch: about a quarter of a step's
//! operations) is saved. Where a lane is not within the limit, the next 8 steps are tested.
//! `f64` frames only: for `FloatExp` frames the test `|δz|^2 >= 2^-1000` would need a bound
//! from below as well.
//!
//! # `FloatExp` frames in `f64`
//!
//! In a frame below `2^-960` the deltas start far below the `f64` range, but most of them grow
//! (each step multiplies by `|2 Z_m|`, and BLA skips the tiny stretch) to sizes an `f64` holds.
//! From `|δz| >= 2^-500` on, a lane iterates in `f64` with `δc` rounded to `f64` (flushed to 0
//! when below `2^-1000`: next to `|δz| >= 2^-500` it is below the rounding of the sum anyway).
//! A step can shrink the delta by at most a factor `1.5 |Z_m|`: rebasing keeps `|z| >= |δz|`,
//! so `|2 Z_m + δz| = |Z_m + z| >= 1.5 |Z_m|`. With `|Z_m| >= 2^-400` (entries below that are
//! done in `FloatExp`) the result stays above `2^-900`, in the normal `f64` range with `δc`
//! negligible, and the next step's check hands the lane back to `FloatExp` below `2^-500`.
//!
//! # Cost of BLA here
//!
//! BLA is tried where the scalar loop tries it right after a sample starts and after each
//! rebase, and at the reference indices the sample visits inside [`handle`]; the lockstep loop
//! does not try it. A BLA step needs `|δz|` below `2^-53 |2 Z_m|`; once a delta has outgrown
//! that, it rarely falls back below before the next rebase, so few steps are lost (the benchmark
//! reports steps done).

use super::bla::BlaTable;
use super::num::floatexp::{Cx, FloatExp, Real};
use super::orbit::ReferenceOrbit;
use super::bounds::{MIN_F64_NORM, SMALL_Z_NORM};
use crate::arch::x86::delta::{DeltaLanes, DeltaLockstep};
use crate::kernel::{ESCAPE_RADIUS_SQ, Escape, Slope};

/// Samples in flight.
pub const LANES: usize = 8;

/// Orbit indices whose `|Z_m|^2 < SMALL_Z_NORM`, sorted (for `FloatExp` frames).
pub fn small_entries(orbit: &ReferenceOrbit) -> Vec<u32> {
    (1..orbit.len())
        .filter(|&i| {
            let [x, y] = orbit.z_f64(i);
            x * x + y * y < SMALL_Z_NORM
        })
        .map(|i| i as u32)
        .collect()
}

/// `|z|^2` as every perturbation path computes it: `re re + im im` with one fused
/// multiply-add, `re.mul_add(re, im im)` (see [`Real::mul_add`]).
#[inline]
pub fn norm_sqr<T: Real>(z: Cx<T>) -> T {
    z.re.mul_add(z.re, z.im * z.im)
}

/// The perturbation step `δz -> (2 Z_m + δz) δz + δc`, operation for operation as the SIMD
/// lockstep loops of [`crate::arch::x86::delta`] do it: `t = 2 Z_m + δz` (`2 Z_m` is exact, so
/// this is one rounding, as their addition of the orbit's `2 Z_m`), then each part of
/// `t δz + δc` with two fused multiply-adds, `δc` added first; the negative term is a fused
/// multiply-add of `-t_i` (their `fnmadd`).
#[inline]
pub fn step<T: Real>(zm: Cx<T>, dz: Cx<T>, dc: Cx<T>) -> Cx<T> {
    let tr = zm.re.double() + dz.re;
    let ti = zm.im.double() + dz.im;
    Cx {
        re: (-ti).mul_add(dz.im, tr.mul_add(dz.re, dc.re)),
        im: ti.mul_add(dz.re, tr.mul_add(dz.im, dc.im)),
    }
}

/// The derivative step `e -> 2 z e + s` (`z = Z_m + δz` before the step, `s` the spacing), with
/// fused multiply-adds as in [`step`]: `a = 2 z` as `2 δz + 2 Z_m` (one rounding, so exactly
/// twice the rounded `Z_m + δz` wherever that is not below the normal range),
/// `e_r -> a_r e_r + (-a_i e_i + s)`, `e_i -> a_r e_i + a_i e_r`.
#[inline]
pub fn derivative_step<T: Real>(zm: Cx<T>, dz: Cx<T>, e: Cx<T>, s: T) -> Cx<T> {
    let two = T::from_f64(2.0);
    let ar = dz.re.mul_add(two, zm.re.double());
    let ai = dz.im.mul_add(two, zm.im.double());
    Cx {
        re: ar.mul_add(e.re, (-ai).mul_add(e.im, s)),
        im: ar.mul_add(e.im, ai * e.re),
    }
}

/// What [`handle`] did with a sample.
#[derive(Debug, Clone, Copy)]
pub enum Handled {
    /// Finished: escape, its slope, iterations done, glitch, ill-conditioned (see
    /// [`Conditioning`]).
    Done(Escape, Slope, u32, bool, bool),
    /// Back to the lockstep loop: `f64` delta, `f64` derivative `e`, reference index, iteration
    /// count.
    Lockstep([f64; 2], [f64; 2], usize, u32),
}

/// The test for ill-conditioned samples (see [`super::perturb::ILL_CONDITIONED_TOLERANCE`]).
#[derive(Debug, Clone, Copy)]
pub struct Conditioning {
    /// `1 / s^2`, `s` the sample spacing.
    pub inv_spacing_sq: FloatExp,
    /// `1 / s` as an `f64` where it is a normal number, else 0 (no quick path).
    pub inv_spacing: f64,
    /// Relative rounding of one step of the number type (`2^-53` for `f64`).
    pub precision: f64,
    /// The largest error of `z` at the end allowed, relative to `max(|z|, 1)`.
    pub tolerance: f64,
}

impl Conditioning {
    /// Whether a sample that ended after `n` iterations (escaped, or at the budget) with
    /// `|z|^2 = norm`, derivative `e = s dz/dc` and offset `δc` from the reference is
    /// ill-conditioned: `σ |e| >= tolerance max(|z|, 1)` (or `e` not finite), where
    /// `σ = precision max(|δc| / s, 1) sqrt(n)` estimates in spacings how far from the sample the
    /// point lies whose orbit was followed.
    ///
    /// For `f64` deltas the test is first estimated in `f64`; where that estimate is finite and
    /// clear by a factor of 2 either way, it is the answer (the [`FloatExp`] computation differs
    /// from it by a few roundings, far less than that factor), otherwise the test is done in
    /// [`FloatExp`]. Either way the answer is the [`FloatExp`] test's.
    #[inline]
    pub fn ill<T: Real>(&self, e: Cx<T>, norm: f64, dc: Cx<T>, n: u32) -> bool {
        self.ill_quick(e, norm, dc, n)
            .unwrap_or_else(|| self.ill_exact(e, norm, dc, n))
    }

    /// The `f64` estimate of [`Conditioning::ill`], where it is clear.
    #[inline]
    fn ill_quick<T: Real>(&self, e: Cx<T>, norm: f64, dc: Cx<T>, n: u32) -> Option<bool> {
        if T::EXTENDED || self.inv_spacing == 0.0 {
            return None;
        }
        let p2 = self.precision * self.precision * f64::from(n.max(1));
        let rhs = self.tolerance * self.tolerance * norm.max(1.0);
        let (er, ei) = (e.re.to_f64(), e.im.to_f64());
        let (ur, ui) = (
            dc.re.to_f64() * self.inv_spacing,
            dc.im.to_f64() * self.inv_spacing,
        );
        let lhs = (er * er + ei * ei) * (ur * ur + ui * ui).max(1.0) * p2;
        if !(lhs.is_finite() && rhs.is_normal()) {
            None
        } else if lhs < 0.5 * rhs {
            Some(false)
        } else if lhs > 2.0 * rhs {
            Some(true)
        } else {
            None
        }
    }

    /// [`Conditioning::ill`] in [`FloatExp`].
    #[inline(never)]
    fn ill_exact<T: Real>(&self, e: Cx<T>, norm: f64, dc: Cx<T>, n: u32) -> bool {
        let en = e.to_fe().norm_sqr();
        let r2 = dc.to_fe().norm_sqr() * self.inv_spacing_sq;
        let r2 = if r2.abs_lt(FloatExp::ONE) {
            FloatExp::ONE
        } else {
            r2
        };
        let p2 = self.precision * self.precision * f64::from(n.max(1));
        let lhs = en * r2 * FloatExp::from_f64(p2);
        let rhs = FloatExp::from_f64(self.tolerance * self.tolerance * norm.max(1.0));
        !lhs.is_finite() || !lhs.abs_lt(rhs)
    }
}

/// The frame data the engine reads.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a, T: Real> {
    pub orbit: &'a ReferenceOrbit,
    pub table: &'a BlaTable<T>,
    /// [`small_entries`] for `FloatExp` frames, empty for `f64` frames.
    pub small: &'a [u32],
    pub max_iterations: u32,
    /// The SIMD lockstep loop to use (`None`: the portable one; same results either way).
    pub simd: Option<DeltaLockstep>,
    /// The sample spacing `s` (`e = s dz/dc` grows by `s` per step).
    pub spacing: T,
    /// The test for ill-conditioned samples at their end.
    pub conditioning: Conditioning,
}

impl<T: Real> Frame<'_, T> {
    /// Steps lane state `(m, n)` may do in lockstep before it must be handled.
    #[inline]
    fn limit(&self, m: usize, n: u32) -> u32 {
        let last = self.orbit.len() - 1;
        let mut lim = (last - m).min((self.max_iterations - n) as usize);
        if T::EXTENDED {
            let i = self.small.partition_point(|&s| (s as usize) < m);
            if let Some(&s) = self.small.get(i) {
                lim = lim.min(s as usize - m);
            }
        }
        lim.min(u32::MAX as usize) as u32
    }

    #[inline]
    fn is_small(&self, m: usize) -> bool {
        T::EXTENDED && self.small.binary_search(&(m as u32)).is_ok()
    }
}

/// `δc` as the lockstep loop uses it: `f64`, flushed to 0 below `2^-1000` (see module docs).
#[inline]
pub fn dc_f64<T: Real>(dc: Cx<T>) -> [f64; 2] {
    let flush = |x: T| {
        let v = x.to_f64();
        if v.abs() < 9.332636185032189e-302 {
            0.0
        } else {
            v
        }
    };
    [flush(dc.re), flush(dc.im)]
}

/// Takes sample `δc` over at state `(δz, e, m, n)`: the scalar loop of
/// [`super::perturb::iterate`], until the sample is done or may go back to lockstep (after at
/// least one step, at `m != 0`, where no BLA step applies, and for `FloatExp` frames with
/// `|δz|^2 >= MIN_F64_NORM` and `|Z_m|^2 >= SMALL_Z_NORM`). `steps` counts the steps done.
///
/// Where the frame has a SIMD lockstep loop, this runs compiled with FMA
/// ([`DeltaLockstep::with_fma`]; same results, fewer calls).
#[inline(never)]
pub fn handle<T: Real>(
    frame: &Frame<'_, T>,
    dc: Cx<T>,
    dz: Cx<T>,
    e: Cx<T>,
    m: usize,
    n: u32,
    steps: &mut u64,
) -> Handled {
    match frame.simd {
        Some(simd) => simd.with_fma(|| handle_steps(frame, dc, dz, e, m, n, steps)),
        None => handle_steps(frame, dc, dz, e, m, n, steps),
    }
}

/// The body of [`handle`].
#[inline(always)]
fn handle_steps<T: Real>(
    frame: &Frame<'_, T>,
    dc: Cx<T>,
    mut dz: Cx<T>,
    mut e: Cx<T>,
    mut m: usize,
    mut n: u32,
    steps: &mut u64,
) -> Handled {
    let orbit = frame.orbit;
    let table = frame.table;
    let max_iterations = frame.max_iterations;
    let last = orbit.len() - 1;
    let mut stepped = false;
    loop {
        let zr = orbit.z_at::<T>(m);
        let z = zr.add(dz);
        let (x, y) = z.to_f64();
        let norm = norm_sqr(Cx::<f64>::new(x, y));
        if norm > ESCAPE_RADIUS_SQ {
            let ill = frame.conditioning.ill(e, norm, dc, n);
            let slope = Slope::at_escape([x, y], [e.re.to_f64(), e.im.to_f64()]);
            return Handled::Done(Escape::escaped(n, norm), slope, n, false, ill);
        }
        if n >= max_iterations {
            let ill = frame.conditioning.ill(e, norm, dc, n);
            return Handled::Done(Escape::INTERIOR, Slope::NONE, n, false, ill);
        }
        let mut dn = norm_sqr(dz);
        if !dn.is_finite() {
            return Handled::Done(Escape::INTERIOR, Slope::NONE, n, true, false);
        }
        let mut zr = zr;
        let zn = if T::EXTENDED {
            norm_sqr(z)
        } else {
            T::from_f64(norm)
        };
        if m == last || zn.lt(dn) {
            dz = z;
            dn = zn;
            m = 0;
            zr = Cx::zero();
        }
        if let Some((b, len)) = table.step_at(m, dn, max_iterations - n) {
            dz = b.a.mul(dz).add(b.b.mul(dc));
            e = b.a.mul(e).add(b.b.scale(frame.spacing));
            m += len as usize;
            n += len;
            *steps += 1;
            stepped = true;
            continue;
        }
        if stepped && m != 0 {
            let ef = [e.re.to_f64(), e.im.to_f64()];
            if !T::EXTENDED {
                return Handled::Lockstep([dz.re.to_f64(), dz.im.to_f64()], ef, m, n);
            }
            let d = dc_f64(dz);
            if d[0] * d[0] + d[1] * d[1] >= MIN_F64_NORM && !frame.is_small(m) {
                return Handled::Lockstep(d, ef, m, n);
            }
        }
        // e -> 2 z e + s, with z = Z_m + δz before the step (as the lockstep loops do it).
        e = derivative_step(zr, dz, e, frame.spacing);
        dz = step(zr, dz, dc);
        m += 1;
        n += 1;
        *steps += 1;
        stepped = true;
    }
}

/// Totals of one row.
#[derive(Debug, Default, Clone)]
pub struct RowStats {
    /// Iterations represented (sum of the samples' final `n`).
    pub iterations: u64,
    /// Perturbation and BLA steps done.
    pub steps: u64,
    /// Of those, lockstep steps taken untested in chunks ([`chunk_limits`]).
    pub chunked_steps: u64,
    pub glitches: u64,
    /// Samples (indices into the row) that ended ill-conditioned, in the order they ended.
    pub ill_conditioned: Vec<usize>,
}

/// The lane state of the lockstep loop.
struct Lanes<T: Real> {
    dzr: [f64; LANES],
    dzi: [f64; LANES],
    dcr: [f64; LANES],
    dci: [f64; LANES],
    er: [f64; LANES],
    ei: [f64; LANES],
    m: [usize; LANES],
    n: [u32; LANES],
    lim: [u32; LANES],
    active: [bool; LANES],
    idx: [usize; LANES],
    dc: [Cx<T>; LANES],
}

impl<T: Real> Lanes<T> {
    /// No lane active.
    fn empty() -> Self {
        Lanes {
            dzr: [0.0; LANES],
            dzi: [0.0; LANES],
            dcr: [0.0; LANES],
            dci: [0.0; LANES],
            er: [0.0; LANES],
            ei: [0.0; LANES],
            m: [0; LANES],
            n: [0; LANES],
            lim: [u32::MAX; LANES],
            active: [false; LANES],
            idx: [0; LANES],
            dc: [Cx::zero(); LANES],
        }
    }
}

/// A row being computed: lanes, the next sample, totals.
struct Row<'a, 'f, T: Real, D: Fn(usize) -> Cx<T>> {
    frame: &'a Frame<'f, T>,
    delta: D,
    out: &'a mut [Escape],
    /// Empty where the slopes are not wanted.
    slopes: &'a mut [Slope],
    next: usize,
    stats: RowStats,
    lanes: Lanes<T>,
}

impl<T: Real, D: Fn(usize) -> Cx<T>> Row<'_, '_, T, D> {
    /// Puts `h` (the outcome of [`handle`] for lane `i`, `None` for a free lane) in place,
    /// refilling the lane while samples finish inside [`handle`].
    fn settle(&mut self, i: usize, mut h: Option<Handled>) {
        let lanes = &mut self.lanes;
        loop {
            match h {
                Some(Handled::Lockstep([r, im], [er, ei], m, n)) => {
                    lanes.dzr[i] = r;
                    lanes.dzi[i] = im;
                    lanes.er[i] = er;
                    lanes.ei[i] = ei;
                    lanes.m[i] = m;
                    lanes.n[i] = n;
                    lanes.lim[i] = self.frame.limit(m, n);
                    lanes.active[i] = true;
                    return;
                }
                Some(Handled::Done(e, slope, n, glitch, ill)) => {
                    self.out[lanes.idx[i]] = e;
                    if !self.slopes.is_empty() {
                        self.slopes[lanes.idx[i]] = slope;
                    }
                    self.stats.iterations += u64::from(n);
                    self.stats.glitches += u64::from(glitch);
                    if ill {
                        self.stats.ill_conditioned.push(lanes.idx[i]);
                    }
                }
                None => {}
            }
            if self.next == self.out.len() {
                lanes.active[i] = false;
                lanes.dzr[i] = 0.0;
                lanes.dzi[i] = 0.0;
                lanes.dcr[i] = 0.0;
                lanes.dci[i] = 0.0;
                lanes.er[i] = 0.0;
                lanes.ei[i] = 0.0;
                lanes.m[i] = 0;
                lanes.lim[i] = u32::MAX;
                return;
            }
            let s = self.next;
            self.next += 1;
            let dc = (self.delta)(s);
            let [r, im] = dc_f64(dc);
            lanes.idx[i] = s;
            lanes.dc[i] = dc;
            lanes.dcr[i] = r;
            lanes.dci[i] = im;
            h = Some(handle(
                self.frame,
                dc,
                Cx::zero(),
                Cx::zero(),
                0,
                0,
                &mut self.stats.steps,
            ));
        }
    }
}

/// Fills `out[i]` with the escape of the sample whose `δc` is `delta(i)`, [`LANES`] at a time,
/// and `slopes[i]` with its [`Slope`] unless `slopes` is empty.
pub fn run_row<T: Real>(
    frame: &Frame<'_, T>,
    delta: impl Fn(usize) -> Cx<T>,
    out: &mut [Escape],
    slopes: &mut [Slope],
) -> RowStats {
    let mut row = Row {
        frame,
        delta,
        out,
        slopes,
        next: 0,
        stats: RowStats::default(),
        lanes: Lanes::empty(),
    };
    for i in 0..LANES {
        row.settle(i, None);
    }
    let z = (
        frame.orbit.twice_re(),
        frame.orbit.twice_im(),
        frame.orbit.chunk_limits(),
    );
    loop {
        let mut bound = u32::MAX;
        let mut any = false;
        for i in 0..LANES {
            if row.lanes.active[i] {
                any = true;
                bound = bound.min(row.lanes.lim[i]);
            }
        }
        if !any {
            break;
        }
        let es = dc_f64(Cx {
            re: frame.spacing,
            im: T::zero(),
        })[0];
        let (done, flags, chunked) = lockstep::<T>(&mut row.lanes, z, bound, es, frame.simd);
        row.stats.chunked_steps +=
            u64::from(chunked) * row.lanes.active.iter().filter(|&&a| a).count() as u64;
        for i in 0..LANES {
            if !row.lanes.active[i] {
                continue;
            }
            let lanes = &mut row.lanes;
            lanes.m[i] += done as usize;
            lanes.n[i] += done;
            lanes.lim[i] -= done;
            row.stats.steps += u64::from(done);
            if flags & (1 << i) != 0 || lanes.lim[i] == 0 {
                let dz = Cx {
                    re: T::from_f64(lanes.dzr[i]),
                    im: T::from_f64(lanes.dzi[i]),
                };
                let e = Cx {
                    re: T::from_f64(lanes.er[i]),
                    im: T::from_f64(lanes.ei[i]),
                };
                let h = handle(
                    frame,
                    lanes.dc[i],
                    dz,
                    e,
                    lanes.m[i],
                    lanes.n[i],
                    &mut row.stats.steps,
                );
                row.settle(i, Some(h));
            }
        }
    }
    row.stats
}

/// Up to `bound` lockstep steps; returns the steps done, the lanes flagged (bit `i`) before
/// the next one, and the steps taken untested in chunks (only the SIMD loops take chunks; see
/// [`DeltaLockstep::run`]). `es`: the spacing added to the derivative `e` per step (`f64`, 0
/// below `2^-1000`). `z`: the orbit's real and imaginary parts and chunk limits. Runs on
/// `simd` where given, with the same results.
#[inline(never)]
fn lockstep<T: Real>(
    lanes: &mut Lanes<T>,
    z: (&[f64], &[f64], &[f64]),
    bound: u32,
    es: f64,
    simd: Option<DeltaLockstep>,
) -> (u32, u32, u32) {
    if let Some(simd) = simd {
        let mut active = 0u32;
        for (i, &a) in lanes.active.iter().enumerate() {
            active |= u32::from(a) << i;
        }
        let mut d = DeltaLanes {
            dzr: &mut lanes.dzr,
            dzi: &mut lanes.dzi,
            dcr: &lanes.dcr,
            dci: &lanes.dci,
            er: &mut lanes.er,
            ei: &mut lanes.ei,
            es,
            m: &lanes.m,
            active,
        };
        if let Some(r) = simd.run(&mut d, z, bound, T::EXTENDED, MIN_F64_NORM) {
            return r;
        }
    }
    let (done, flags) = lockstep_portable(lanes, (z.0, z.1), bound, es);
    (done, flags, 0)
}

/// [`lockstep`] in portable code.
fn lockstep_portable<T: Real>(
    lanes: &mut Lanes<T>,
    (re, im): (&[f64], &[f64]),
    bound: u32,
    es: f64,
) -> (u32, u32) {
    let mut dzr = lanes.dzr;
    let mut dzi = lanes.dzi;
    let mut er = lanes.er;
    let mut ei = lanes.ei;
    let (dcr, dci) = (lanes.dcr, lanes.dci);
    let m = lanes.m;
    let active = lanes.active;
    let mut s = 0u32;
    let mut flags = 0u32;
    while s < bound {
        let mut zr = [0.0; LANES];
        let mut zi = [0.0; LANES];
        for i in 0..LANES {
            zr[i] = 0.5 * re[m[i] + s as usize];
            zi[i] = 0.5 * im[m[i] + s as usize];
        }
        let mut f = [false; LANES];
        let mut nr = [0.0; LANES];
        let mut ni = [0.0; LANES];
        let mut ner = [0.0; LANES];
        let mut nei = [0.0; LANES];
        for i in 0..LANES {
            let zm = Cx::new(zr[i], zi[i]);
            let dz = Cx::new(dzr[i], dzi[i]);
            let x = zm.add(dz);
            let norm = norm_sqr(x);
            let dn = norm_sqr(dz);
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let mut g = !(norm <= ESCAPE_RADIUS_SQ) | (norm < dn);
            if T::EXTENDED {
                g |= dn < MIN_F64_NORM;
            }
            f[i] = g & active[i];
            let d = step(zm, dz, Cx::new(dcr[i], dci[i]));
            let e = derivative_step(zm, dz, Cx::new(er[i], ei[i]), es);
            (nr[i], ni[i]) = (d.re, d.im);
            (ner[i], nei[i]) = (e.re, e.im);
        }
        let mut bits = 0u32;
        for (i, &g) in f.iter().enumerate() {
            bits |= u32::from(g) << i;
        }
        if bits != 0 {
            flags = bits;
            break;
        }
        dzr = nr;
        dzi = ni;
        er = ner;
        ei = nei;
        s += 1;
    }
    lanes.dzr = dzr;
    lanes.dzi = dzi;
    lanes.er = er;
    lanes.ei = ei;
    (s, flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::{Fixed, FixedC, FloatExp};
    use crate::deep::bounds::{CHUNK, chunk_limits};
    use crate::testing::XorShift;

    fn lanes<T: Real>(rng: &mut XorShift, len: usize) -> Lanes<T> {
        let mut l = Lanes::<T>::empty();
        for i in 0..LANES {
            // Deltas from 2^-1010 to 2^-1 (some below MIN_F64_NORM), a few rebases and escapes.
            let scale = 2f64.powi(-((rng.next() % 1010) as i32) - 1);
            l.dzr[i] = rng.signed() * scale;
            l.dzi[i] = rng.signed() * scale;
            l.dcr[i] = rng.signed() * scale * 1e-3;
            l.dci[i] = rng.signed() * scale * 1e-3;
            // Derivatives from 2^-600 to 2^399 (some overflow within the bound).
            let e = 2f64.powi(399 - (rng.next() % 1000) as i32);
            l.er[i] = rng.signed() * e;
            l.ei[i] = rng.signed() * e;
            l.m[i] = 1 + (rng.next() as usize) % (len - 400);
            l.active[i] = !rng.next().is_multiple_of(8);
        }
        l
    }


    /// The `f64` estimate of the conditioning test, where it answers, gives the [`FloatExp`]
    /// test's answer: seeded random derivatives, offsets, norms and step counts over the whole
    /// `f64` range (overflowing ones included), and cases within 1% of the threshold, where the
    /// estimate must leave the answer to the exact test.
    #[test]
    fn conditioning_estimate_agrees() {
        let mut rng = XorShift(0x0dd_ba11_5eed_f00d);
        let spacing = 1e-103;
        let c = Conditioning {
            inv_spacing_sq: (FloatExp::from_f64(spacing) * FloatExp::from_f64(spacing)).recip(),
            inv_spacing: 1.0 / spacing,
            precision: 2f64.powi(-53),
            tolerance: 1e-3,
        };
        let (mut quick, mut near, mut left) = (0, 0, 0);
        for k in 0..200_000 {
            let norm = 65536.0 * (1.0 + 255.0 * rng.signed().abs());
            let n = (rng.next() % 100_000) as u32;
            let dc_size = spacing * 2f64.powi((rng.next() % 24) as i32 - 4);
            let dc = Cx::new(dc_size * rng.signed(), dc_size * rng.signed());
            let (er, ei) = if k % 4 == 0 {
                // Near the threshold: |e|^2 at (1 + 0.01 u) times the value that meets it.
                let r2 = ((dc.re / spacing).powi(2) + (dc.im / spacing).powi(2)).max(1.0);
                let p2 = c.precision * c.precision * f64::from(n.max(1));
                let en = c.tolerance * c.tolerance * norm / (r2 * p2) * (1.0 + 0.01 * rng.signed());
                near += 1;
                (en.sqrt() * 0.6, en.sqrt() * 0.8)
            } else {
                let size = 2f64.powi((rng.next() % 1200) as i32 - 600);
                (size * rng.signed(), size * rng.signed())
            };
            let e = Cx::new(er, ei);
            let exact = c.ill_exact(e, norm, dc, n);
            match c.ill_quick(e, norm, dc, n) {
                Some(answer) => {
                    assert_eq!(answer, exact, "{e:?} {norm} {dc:?} {n}");
                    assert!(k % 4 != 0, "an estimate within 1% of the threshold");
                    quick += 1;
                }
                None => left += u32::from(k % 4 == 0),
            }
            assert_eq!(c.ill(e, norm, dc, n), exact);
        }
        // The estimate answers the random cases (but those whose |e|^2 overflows an `f64`,
        // about 7% of them) and leaves every case near the threshold to the exact test.
        assert!(quick > 130_000 && left == near, "{quick} {left} {near}");
    }

    /// A lane that passes the chunk test ([`chunk_limits`]) is not flagged before any of its
    /// next [`CHUNK`] steps: seeded random windows of `Z` (sizes from `10^-3` to past 200, some
    /// zero), deltas and `δc` at up to the limit, in random directions, stepped with [`step`]
    /// and tested as the lockstep loops test.
    #[test]
    fn chunk_limits_hold() {
        let mut rng = XorShift(0x5eed_c0de_1234_5678);
        let mut chunks = 0;
        for _ in 0..20_000 {
            let n = CHUNK + 4;
            let (mut re, mut im) = (vec![0.0; n], vec![0.0; n]);
            for j in 0..n {
                let size = match rng.next() % 16 {
                    0 => 0.0,
                    1 => 150.0 + 100.0 * rng.signed().abs(),
                    _ => 10f64.powf(-3.0 + 5.0 * rng.signed().abs()).min(100.0),
                };
                let angle = std::f64::consts::PI * rng.signed();
                (re[j], im[j]) = (size * angle.cos(), size * angle.sin());
            }
            let limits = chunk_limits(&re, &im);
            assert_eq!(limits.len(), n);
            for (m, &limit) in limits.iter().enumerate() {
                assert!(limit >= 0.0 && limit.is_finite(), "{limit}");
                if m + CHUNK > n {
                    assert_eq!(limit, 0.0);
                }
                if limit == 0.0 {
                    continue;
                }
                chunks += 1;
                // Split the limit between |δz| and 9 |δc| at random, all of it used.
                let share = rng.signed().abs();
                let (a, b) = (
                    rng.signed() * std::f64::consts::PI,
                    rng.signed() * std::f64::consts::PI,
                );
                let dz_size = limit * share / (a.cos().abs() + a.sin().abs());
                let dc_size = limit * (1.0 - share) / 9.0 / (b.cos().abs() + b.sin().abs());
                let mut dz = Cx::new(dz_size * a.cos(), dz_size * a.sin());
                let dc = Cx::new(dc_size * b.cos(), dc_size * b.sin());
                let size = (dz.re.abs() + dz.im.abs()) + 9.0 * (dc.re.abs() + dc.im.abs());
                if size > limit {
                    continue;
                }
                for k in 0..CHUNK {
                    let zm = Cx::new(re[m + k], im[m + k]);
                    let x = zm.add(dz);
                    let (norm, dn) = (norm_sqr(x), norm_sqr(dz));
                    assert!(
                        norm <= ESCAPE_RADIUS_SQ && norm >= dn,
                        "m {m} k {k}: {norm} {dn}"
                    );
                    dz = step(zm, dz, dc);
                }
            }
        }
        assert!(chunks > 10_000, "{chunks}");
    }

    /// The SIMD lockstep loops give the portable loop's bits, steps and flags, on seeded random
    /// lane states, for `f64` and `FloatExp` frames; the SIMD loops take untested chunks where
    /// [`chunk_limits`] allows (the portable loop never does), so this also checks that no
    /// chunk skips a flag.
    #[test]
    fn simd_lockstep_matches_portable() {
        let c = FixedC {
            re: Fixed::parse("-0.743291890852430196", 4).unwrap(),
            im: Fixed::parse("0.131240552308797611", 4).unwrap(),
        };
        let orbit = ReferenceOrbit::compute(&c, 3000, &mut |_| {});
        let z = (orbit.twice_re(), orbit.twice_im());
        let zl = (orbit.twice_re(), orbit.twice_im(), orbit.chunk_limits());
        let impls: Vec<DeltaLockstep> = [DeltaLockstep::detect(), DeltaLockstep::avx2()]
            .into_iter()
            .flatten()
            .collect();
        if DeltaLockstep::avx2().is_none() {
            crate::arch::skip_test_without("avx2");
        }
        if !impls.iter().any(|s| s.name() == "avx512") {
            crate::arch::skip_test_without("avx512");
        }
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut flagged = 0;
        let mut stepped = 0;
        // Steps taken in chunks, per implementation.
        let mut chunked = vec![0u32; impls.len()];
        for round in 0..2000 {
            let extended = round % 2 == 1;
            let bound = (rng.next() % 300) as u32;
            let es = if extended { 0.0 } else { 1e-30 };
            for (which, &simd) in impls.iter().enumerate() {
                let (a, b, ra, rb);
                if extended {
                    let mut la = lanes::<FloatExp>(&mut XorShift(round + 1), orbit.len());
                    let mut lb = lanes::<FloatExp>(&mut XorShift(round + 1), orbit.len());
                    ra = lockstep_portable(&mut la, z, bound, es);
                    rb = lockstep(&mut lb, zl, bound, es, Some(simd));
                    (a, b) = (
                        (la.dzr, la.dzi, la.er, la.ei),
                        (lb.dzr, lb.dzi, lb.er, lb.ei),
                    );
                } else {
                    let mut la = lanes::<f64>(&mut XorShift(round + 1), orbit.len());
                    let mut lb = lanes::<f64>(&mut XorShift(round + 1), orbit.len());
                    ra = lockstep_portable(&mut la, z, bound, es);
                    rb = lockstep(&mut lb, zl, bound, es, Some(simd));
                    (a, b) = (
                        (la.dzr, la.dzi, la.er, la.ei),
                        (lb.dzr, lb.dzi, lb.er, lb.ei),
                    );
                }
                assert_eq!(ra, (rb.0, rb.1), "round {round}, {}", simd.name());
                chunked[which] += rb.2;
                // NaN lanes compare equal whatever their sign and payload: the negative
                // multiply-adds flip the sign of a NaN in portable code and not in the SIMD
                // loops, and nothing downstream reads a NaN's bits (a NaN delta ends the sample
                // as a glitch, a NaN derivative makes it ill-conditioned).
                let bits = |v: [f64; LANES]| {
                    v.map(|x| {
                        if x.is_nan() {
                            f64::NAN.to_bits()
                        } else {
                            x.to_bits()
                        }
                    })
                };
                assert_eq!(bits(a.0), bits(b.0), "round {round}, {}", simd.name());
                assert_eq!(bits(a.1), bits(b.1), "round {round}, {}", simd.name());
                assert_eq!(bits(a.2), bits(b.2), "round {round}, {}", simd.name());
                assert_eq!(bits(a.3), bits(b.3), "round {round}, {}", simd.name());
                flagged += u32::from(ra.1 != 0);
                stepped += ra.0;
            }
        }
        if !impls.is_empty() {
            // The random states exercise both the steps and the flags.
            assert!(flagged > 100 && stepped > 10_000, "{flagged} {stepped}");
            // Every implementation took chunks, and they did not cover all its steps.
            for (c, simd) in chunked.iter().zip(&impls) {
                let per_impl = stepped / impls.len() as u32;
                assert!(
                    *c > 1_000 && *c < per_impl,
                    "{}: {c} {per_impl}",
                    simd.name()
                );
            }
        }
    }
}
