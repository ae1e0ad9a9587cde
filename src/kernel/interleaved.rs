//! Several samples in flight: the lane engine shared by the interleaved and the SIMD kernels.
//!
//! One step of `z -> z^2 + c` is a chain of dependent operations (`x*y`, doubling, adding `cy`;
//! `x*x - y*y`, adding `cx`): about a dozen cycles of latency for a handful of instructions. A
//! one-sample loop waits on that chain, so the CPU sits mostly idle. The engine here keeps
//! `V` independent vectors of [`Simd::LANES`] samples each (the *lanes*) and advances all of them
//! in every step, so that the out-of-order core overlaps their chains: with 2 to 4 vectors the
//! multiply and add units are busy nearly every cycle.
//!
//! Neighbouring samples escape at very different counts (tens of steps next to thousands near
//! the boundary). Waiting for the slowest lane of a vector would waste most of the work, so a
//! lane whose sample has finished (escaped, reached `max_iterations`, or was found periodic) is
//! *refilled* at once with the next sample of the row. Every step checks all lanes for escape
//! (and, with periodicity detection, for a repeat of the saved `z`), folded into one chain of
//! masks and one branch, so each sample stops at exactly the step where [`super::scalar`] stops
//! it; checking only every few steps would need a roll-back to keep the counts exact, and the
//! check is cheap next to the step. Each lane counts its own steps from a shared step counter
//! `k` (`n = k - start`), so the hot loop keeps no per-lane counters: it leaves only when some
//! lane has something to report or when `k` reaches the earliest budget end
//! (`start + max_iterations`) of a live lane, and it stops briefly (without leaving) at the
//! earliest periodicity save, where the lanes due save their `z` under a mask. Finished lanes are
//! reported, refilled and their smooth fractions queued (the logarithms are computed in batches)
//! before the hot loop resumes.
//!
//! When the row has no samples left, the lanes still running are packed into fewer vectors, so
//! the last slow samples of a row do not drag empty vectors along.
//!
//! The arithmetic is the reference's, operation for operation, with no fused multiply-add (Rust
//! never contracts `a * b + c`, and the SIMD implementations use separate multiply and add
//! instructions): every lane computes the same bits as the scalar kernel, so counts and smooth
//! fractions are identical, not merely close.
//!
//! [`InterleavedKernel`] runs the engine on plain `[f64; 2]` arrays, four of them (eight lanes),
//! which the compiler keeps in registers and maps to whatever vector unit the target has (SSE2
//! on baseline x86-64, NEON on aarch64); it needs no `unsafe` and runs everywhere. (Four lanes
//! per array or three arrays measured slower on x86-64.) [`super::simd`] implements [`Simd`]
//! with AVX2 and AVX-512 intrinsics.

use std::array;

use super::{
    ESCAPE_RADIUS_SQ, Escape, Kernel, KernelOptions, PERIODICITY_FIRST_SAVE, SampleGrid,
    in_cardioid_or_bulb, scalar::escape_point_with, smooth_fraction,
};

/// Most lanes the engine keeps in flight (4 vectors of 8 `f64`).
pub(crate) const MAX_LANES: usize = 32;

/// A vector of `f64` lanes and the few operations the engine needs.
///
/// The methods are safe: an implementation whose operations need a CPU feature must make sure
/// (through how its values can be constructed) that the feature is there.
pub(crate) trait Simd: Copy {
    /// Lanes per vector.
    const LANES: usize;
    /// A vector of `LANES` `f64`.
    type F: Copy;
    /// The result of a lane-wise comparison.
    type M: Copy;

    fn splat(self, v: f64) -> Self::F;
    /// Loads `src[..LANES]`.
    fn load(self, src: &[f64]) -> Self::F;
    /// Stores into `dst[..LANES]`.
    fn store(self, v: Self::F, dst: &mut [f64]);
    fn add(self, a: Self::F, b: Self::F) -> Self::F;
    fn sub(self, a: Self::F, b: Self::F) -> Self::F;
    fn mul(self, a: Self::F, b: Self::F) -> Self::F;
    /// Lane-wise minimum (no NaN inputs).
    fn min(self, a: Self::F, b: Self::F) -> Self::F;
    /// Smallest lane (no NaN inputs).
    fn hmin(self, a: Self::F) -> f64;
    /// `a > b` (false where either is NaN, like the scalar `>`).
    fn gt(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a == b` (false where either is NaN). Equal bit patterns compare equal unless NaN, so
    /// this finds every exact repeat (and a few more, `-0 == +0`, that the caller rejects).
    fn eq(self, a: Self::F, b: Self::F) -> Self::M;
    /// The mask with every lane set.
    fn all_set(self) -> Self::M;
    /// `m && !(a > b)` lane-wise (true where either is NaN, the negation of [`Simd::gt`]).
    fn and_not_gt(self, m: Self::M, a: Self::F, b: Self::F) -> Self::M;
    /// `m && !(a == b)` lane-wise (the negation of [`Simd::eq`]).
    fn and_ne(self, m: Self::M, a: Self::F, b: Self::F) -> Self::M;
    /// Whether every lane of `m` is set.
    fn all(self, m: Self::M) -> bool;
    /// Bit `i` set where lane `i` of `m` is set.
    fn bits(self, m: Self::M) -> u32;
    /// Lane-wise `if m { t } else { f }`.
    fn select(self, m: Self::M, t: Self::F, f: Self::F) -> Self::F;
}

/// Plain arrays of two `f64`: portable, safe, vectorized by the compiler where it can.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Portable;

/// Lanes per [`Portable`] vector.
const PORTABLE_LANES: usize = 2;

impl Simd for Portable {
    const LANES: usize = PORTABLE_LANES;
    type F = [f64; PORTABLE_LANES];
    type M = [bool; PORTABLE_LANES];

    #[inline(always)]
    fn splat(self, v: f64) -> Self::F {
        [v; PORTABLE_LANES]
    }
    #[inline(always)]
    fn load(self, src: &[f64]) -> Self::F {
        array::from_fn(|i| src[i])
    }
    #[inline(always)]
    fn store(self, v: Self::F, dst: &mut [f64]) {
        dst[..PORTABLE_LANES].copy_from_slice(&v);
    }
    #[inline(always)]
    fn add(self, a: Self::F, b: Self::F) -> Self::F {
        array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    fn sub(self, a: Self::F, b: Self::F) -> Self::F {
        array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    fn mul(self, a: Self::F, b: Self::F) -> Self::F {
        array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    fn min(self, a: Self::F, b: Self::F) -> Self::F {
        array::from_fn(|i| a[i].min(b[i]))
    }
    #[inline(always)]
    fn hmin(self, a: Self::F) -> f64 {
        a.iter().fold(f64::INFINITY, |m, &v| m.min(v))
    }
    #[inline(always)]
    fn gt(self, a: Self::F, b: Self::F) -> Self::M {
        array::from_fn(|i| a[i] > b[i])
    }
    #[inline(always)]
    fn eq(self, a: Self::F, b: Self::F) -> Self::M {
        array::from_fn(|i| a[i] == b[i])
    }
    #[inline(always)]
    fn all_set(self) -> Self::M {
        [true; PORTABLE_LANES]
    }
    #[inline(always)]
    // `!(a > b)` on purpose: true for NaN, the exact negation of `gt`.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn and_not_gt(self, m: Self::M, a: Self::F, b: Self::F) -> Self::M {
        array::from_fn(|i| m[i] & !(a[i] > b[i]))
    }
    #[inline(always)]
    fn and_ne(self, m: Self::M, a: Self::F, b: Self::F) -> Self::M {
        array::from_fn(|i| m[i] & (a[i] != b[i]))
    }
    #[inline(always)]
    fn all(self, m: Self::M) -> bool {
        m.iter().fold(true, |all, &v| all & v)
    }
    #[inline(always)]
    fn bits(self, m: Self::M) -> u32 {
        (0..PORTABLE_LANES).fold(0, |b, i| b | u32::from(m[i]) << i)
    }
    #[inline(always)]
    fn select(self, m: Self::M, t: Self::F, f: Self::F) -> Self::F {
        array::from_fn(|i| if m[i] { t[i] } else { f[i] })
    }
}

/// Vectors of [`Portable`] lanes that [`InterleavedKernel`] keeps in flight.
const PORTABLE_VECTORS: usize = 4;

/// The portable kernel: several samples in flight in plain arrays.
#[derive(Debug, Default, Clone, Copy)]
pub struct InterleavedKernel {
    pub options: KernelOptions,
}

impl InterleavedKernel {
    pub fn new(options: KernelOptions) -> Self {
        InterleavedKernel { options }
    }
}

impl Kernel for InterleavedKernel {
    fn name(&self) -> &'static str {
        "interleaved"
    }

    fn escape_row(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        escape_row_lanes::<Portable, PORTABLE_VECTORS>(
            Portable,
            self.options,
            grid,
            sy,
            max_iterations,
            out,
        )
    }
}

/// Marks a lane without a sample.
const NO_PIXEL: u32 = u32::MAX;

/// Per-lane state, in memory between runs of the hot loop. A lane without a sample has
/// `z = c = 0` (it never escapes) and a saved `z` of NaN bits (it never matches), so the hot
/// loop needs no mask of live lanes.
struct Lanes {
    x: [f64; MAX_LANES],
    y: [f64; MAX_LANES],
    cx: [f64; MAX_LANES],
    cy: [f64; MAX_LANES],
    /// Saved `z` of the periodicity check.
    sx: [f64; MAX_LANES],
    sy: [f64; MAX_LANES],
    /// Value of `k` at the lane's next save (`+inf` for no sample).
    save_at: [f64; MAX_LANES],
    /// Value of `k` when the lane's sample started (as `f64` for the vector save update).
    start_f: [f64; MAX_LANES],
    start: [u64; MAX_LANES],
    /// Value of `k` at which the sample has used up `max_iterations` (`u64::MAX` for none).
    deadline: [u64; MAX_LANES],
    pixel: [u32; MAX_LANES],
}

impl Lanes {
    fn new() -> Self {
        Lanes {
            x: [0.0; MAX_LANES],
            y: [0.0; MAX_LANES],
            cx: [0.0; MAX_LANES],
            cy: [0.0; MAX_LANES],
            sx: [f64::NAN; MAX_LANES],
            sy: [f64::NAN; MAX_LANES],
            save_at: [f64::INFINITY; MAX_LANES],
            start_f: [0.0; MAX_LANES],
            start: [0; MAX_LANES],
            deadline: [u64::MAX; MAX_LANES],
            pixel: [NO_PIXEL; MAX_LANES],
        }
    }

    fn clear(&mut self, lane: usize) {
        self.x[lane] = 0.0;
        self.y[lane] = 0.0;
        self.cx[lane] = 0.0;
        self.cy[lane] = 0.0;
        self.sx[lane] = f64::NAN;
        self.sy[lane] = f64::NAN;
        self.save_at[lane] = f64::INFINITY;
        self.deadline[lane] = u64::MAX;
        self.pixel[lane] = NO_PIXEL;
    }

    fn move_lane(&mut self, from: usize, to: usize) {
        self.x[to] = self.x[from];
        self.y[to] = self.y[from];
        self.cx[to] = self.cx[from];
        self.cy[to] = self.cy[from];
        self.sx[to] = self.sx[from];
        self.sy[to] = self.sy[from];
        self.save_at[to] = self.save_at[from];
        self.start_f[to] = self.start_f[from];
        self.start[to] = self.start[from];
        self.deadline[to] = self.deadline[from];
        self.pixel[to] = self.pixel[from];
        self.clear(from);
    }
}

/// Why and where the hot loop stopped.
struct Exit {
    k: u64,
    save_k: u64,
    /// Lanes whose new `z` escaped (bit `lane`).
    escaped: u32,
    /// Lanes whose new `x` equals the saved `x` (periodic if both parts have the same bits).
    same_x: u32,
}

/// Rows longer than this times `max_iterations` go to the reference loop, so that the step
/// counter stays an exact integer in an `f64` (about 10^15 steps: far beyond any real row).
const MAX_ROW_WORK: u128 = 1 << 50;

/// Fills `out` like [`Kernel::escape_row`], with `V` vectors of `S` lanes.
///
/// `#[inline(always)]` so that it is compiled inside the caller: the SIMD kernels call it from
/// a function with `#[target_feature]`, which lets their intrinsics inline into the hot loop.
#[inline(always)]
pub(crate) fn escape_row_lanes<S: Simd, const V: usize>(
    s: S,
    options: KernelOptions,
    grid: &SampleGrid,
    sy: u32,
    max_iterations: u32,
    out: &mut [Escape],
) -> u64 {
    if options.periodicity {
        run::<S, V, true>(s, grid, sy, max_iterations, out)
    } else {
        run::<S, V, false>(s, grid, sy, max_iterations, out)
    }
}

#[inline(always)]
fn run<S: Simd, const V: usize, const P: bool>(
    s: S,
    grid: &SampleGrid,
    sy: u32,
    max_iterations: u32,
    out: &mut [Escape],
) -> u64 {
    const { assert!(V >= 1 && V * S::LANES <= MAX_LANES && S::LANES <= 8) };
    if max_iterations == 0 {
        // Nothing is iterated: every sample is interior after 0 steps, as in the reference.
        out.fill(Escape::INTERIOR);
        return 0;
    }
    if out.len() as u128 * u128::from(max_iterations) >= MAX_ROW_WORK {
        let options = KernelOptions { periodicity: P };
        let mut total = 0;
        for (sx, slot) in (0u32..).zip(out.iter_mut()) {
            let c = grid.point(sx, sy);
            let (escape, spent) = escape_point_with(c.re, c.im, max_iterations, options);
            *slot = escape;
            total += spent;
        }
        return total;
    }
    let max = u64::from(max_iterations);
    let lanes = V * S::LANES;
    let mut st = Lanes::new();
    let mut next = 0usize; // next sample of the row to start
    let mut k = 0u64; // steps done by the engine (every live lane took each of them)
    let mut budget_k = u64::MAX; // smallest deadline of a live lane
    let mut save_k = u64::MAX; // smallest save_at of a live lane, or smaller
    let mut live = 0usize;
    let mut vectors = V;
    let mut total = 0u64;
    let mut pending = Pending::new();

    // Starts the next sample that needs iterating in `lane`; false when the row is done.
    let refill = |st: &mut Lanes,
                  lane: usize,
                  k: u64,
                  next: &mut usize,
                  budget_k: &mut u64,
                  save_k: &mut u64,
                  out: &mut [Escape]| {
        while *next < out.len() {
            let sx = *next;
            *next += 1;
            let c = grid.point(sx as u32, sy);
            if in_cardioid_or_bulb(c.re, c.im) {
                out[sx] = Escape::INTERIOR;
                continue;
            }
            st.x[lane] = 0.0;
            st.y[lane] = 0.0;
            st.cx[lane] = c.re;
            st.cy[lane] = c.im;
            st.sx[lane] = 0.0;
            st.sy[lane] = 0.0;
            st.start[lane] = k;
            st.start_f[lane] = k as f64;
            st.deadline[lane] = k + max;
            st.pixel[lane] = sx as u32;
            *budget_k = (*budget_k).min(k + max);
            if P {
                st.save_at[lane] = (k + PERIODICITY_FIRST_SAVE) as f64;
                *save_k = (*save_k).min(k + PERIODICITY_FIRST_SAVE);
            }
            return true;
        }
        false
    };

    for lane in 0..lanes {
        if refill(&mut st, lane, k, &mut next, &mut budget_k, &mut save_k, out) {
            live += 1;
        }
    }

    while live > 0 {
        let exit = match vectors {
            1 => hot_loop::<S, 1, P>(s, &mut st, k, budget_k, save_k),
            2 if V > 2 => hot_loop::<S, 2, P>(s, &mut st, k, budget_k, save_k),
            3 if V > 3 => hot_loop::<S, 3, P>(s, &mut st, k, budget_k, save_k),
            _ => hot_loop::<S, V, P>(s, &mut st, k, budget_k, save_k),
        };
        k = exit.k;
        save_k = exit.save_k;
        let mut freed = 0u32;
        // Whether a freed lane had the smallest deadline (then `budget_k` must be found again).
        let mut oldest_freed = false;

        // Lanes that escaped or came back to their saved z.
        let mut report = exit.escaped | exit.same_x;
        while report != 0 {
            let lane = report.trailing_zeros() as usize;
            report &= report - 1;
            let (x, y) = (st.x[lane], st.y[lane]);
            let n = k - st.start[lane];
            let escape = if P
                && exit.same_x >> lane & 1 != 0
                && x.to_bits() == st.sx[lane].to_bits()
                && y.to_bits() == st.sy[lane].to_bits()
            {
                Escape::INTERIOR
            } else {
                let norm = x * x + y * y;
                if norm > ESCAPE_RADIUS_SQ {
                    // The smooth fraction (two logarithms) is computed in batches, off the
                    // path between two runs of the hot loop.
                    pending.push(st.pixel[lane], n as u32, norm, out);
                    Escape {
                        n: n as u32,
                        nf: 0.0,
                    }
                } else {
                    continue; // equal x but other bits: not a cycle
                }
            };
            out[st.pixel[lane] as usize] = escape;
            total += n;
            freed |= 1 << lane;
            oldest_freed |= st.deadline[lane] == budget_k;
            st.clear(lane);
        }

        // Saves that the hot loop left to us because it stopped at the same step.
        if P && k == save_k {
            let kf = k as f64;
            let mut smallest = f64::INFINITY;
            for lane in 0..lanes {
                if st.save_at[lane] == kf {
                    st.sx[lane] = st.x[lane];
                    st.sy[lane] = st.y[lane];
                    st.save_at[lane] = 2.0 * st.save_at[lane] - st.start_f[lane];
                }
                smallest = smallest.min(st.save_at[lane]);
            }
            save_k = to_step(smallest);
        }

        // Lanes that used up their budget without escaping.
        if k == budget_k {
            for lane in 0..lanes {
                if st.deadline[lane] == k {
                    out[st.pixel[lane] as usize] = Escape::INTERIOR;
                    total += max;
                    freed |= 1 << lane;
                    oldest_freed = true;
                    st.clear(lane);
                }
            }
        }

        if freed != 0 {
            live -= freed.count_ones() as usize;
            let mut f = freed;
            while f != 0 {
                let lane = f.trailing_zeros() as usize;
                f &= f - 1;
                if refill(&mut st, lane, k, &mut next, &mut budget_k, &mut save_k, out) {
                    live += 1;
                }
            }
            if oldest_freed {
                budget_k = st.deadline[..lanes]
                    .iter()
                    .copied()
                    .min()
                    .unwrap_or(u64::MAX);
            }
            if next == out.len() && live > 0 && live <= S::LANES * (vectors - 1) {
                // No samples left to start: pack the live lanes into fewer vectors.
                let mut to = 0;
                for from in 0..lanes {
                    if st.pixel[from] != NO_PIXEL {
                        if from != to {
                            st.move_lane(from, to);
                        }
                        to += 1;
                    }
                }
                vectors = live.div_ceil(S::LANES);
            }
        }
    }
    pending.flush(out);
    total
}

/// Escaped samples whose smooth fraction is still to be computed.
struct Pending {
    pixel: [u32; PENDING],
    n: [u32; PENDING],
    norm: [f64; PENDING],
    len: usize,
}

const PENDING: usize = 64;

impl Pending {
    fn new() -> Self {
        Pending {
            pixel: [0; PENDING],
            n: [0; PENDING],
            norm: [0.0; PENDING],
            len: 0,
        }
    }

    #[inline(always)]
    fn push(&mut self, pixel: u32, n: u32, norm: f64, out: &mut [Escape]) {
        if self.len == PENDING {
            self.flush(out);
        }
        self.pixel[self.len] = pixel;
        self.n[self.len] = n;
        self.norm[self.len] = norm;
        self.len += 1;
    }

    #[inline(never)]
    fn flush(&mut self, out: &mut [Escape]) {
        // All fractions first, over the whole fixed-size array (unused slots hold harmless
        // values): a loop the compiler vectorizes. Then the scattered stores.
        let mut nf = [0.0f32; PENDING];
        for (nf, &norm) in nf.iter_mut().zip(&self.norm) {
            *nf = smooth_fraction(norm.max(ESCAPE_RADIUS_SQ));
        }
        for i in 0..self.len {
            out[self.pixel[i] as usize] = Escape {
                n: self.n[i],
                nf: nf[i],
            };
        }
        self.len = 0;
    }
}

/// An `f64` step count (or `+inf`) as `u64` (`u64::MAX` for `+inf`).
#[inline(always)]
fn to_step(v: f64) -> u64 {
    if v.is_finite() { v as u64 } else { u64::MAX }
}

/// Steps all lanes of the first `W` vectors until one reports (escape, or same `x` as its saved
/// value) or `k` reaches `budget_k`; saves due before then happen here.
///
/// Invariant on entry and exit: each live lane holds `z_n` (`n = k - start`) that has passed
/// the escape test, the periodicity comparison and its save, and `n < max_iterations`; except
/// that on exit the lanes named in [`Exit`] have not been tested further, and at
/// `k == exit.save_k` the saves of this step have not been done if the loop stopped on a report.
#[inline(always)]
fn hot_loop<S: Simd, const W: usize, const P: bool>(
    s: S,
    st: &mut Lanes,
    mut k: u64,
    budget_k: u64,
    mut save_k: u64,
) -> Exit {
    let n = S::LANES;
    let mut x: [S::F; W] = array::from_fn(|i| s.load(&st.x[i * n..]));
    let mut y: [S::F; W] = array::from_fn(|i| s.load(&st.y[i * n..]));
    let cx: [S::F; W] = array::from_fn(|i| s.load(&st.cx[i * n..]));
    let cy: [S::F; W] = array::from_fn(|i| s.load(&st.cy[i * n..]));
    let mut sx: [S::F; W] = array::from_fn(|i| s.load(&st.sx[i * n..]));
    let mut x2: [S::F; W] = array::from_fn(|i| s.mul(x[i], x[i]));
    let mut y2: [S::F; W] = array::from_fn(|i| s.mul(y[i], y[i]));
    let r2 = s.splat(ESCAPE_RADIUS_SQ);
    let mut stop_k = budget_k.min(save_k);
    let (mut escaped, mut same_x) = (0u32, 0u32);
    loop {
        for i in 0..W {
            let xy = s.mul(x[i], y[i]);
            y[i] = s.add(s.add(xy, xy), cy[i]);
            x[i] = s.add(s.sub(x2[i], y2[i]), cx[i]);
        }
        k += 1;
        // One chain of masks, "no lane escaped and no lane repeats its saved x", instead of
        // or-ing a mask per vector: and-ing is free in AVX-512 compares (they take a mask), and
        // all the lanes of all vectors fold into one test.
        let mut quiet = s.all_set();
        for i in 0..W {
            x2[i] = s.mul(x[i], x[i]);
            y2[i] = s.mul(y[i], y[i]);
            quiet = s.and_not_gt(quiet, s.add(x2[i], y2[i]), r2);
            if P {
                quiet = s.and_ne(quiet, x[i], sx[i]);
            }
        }
        if !s.all(quiet) {
            for i in 0..W {
                escaped |= s.bits(s.gt(s.add(x2[i], y2[i]), r2)) << (i * n);
                if P {
                    same_x |= s.bits(s.eq(x[i], sx[i])) << (i * n);
                }
            }
            break;
        }
        if k == stop_k {
            if P && k == save_k {
                // Brent: lanes at a power-of-two step save their z.
                let kv = s.splat(k as f64);
                let mut smallest = s.splat(f64::INFINITY);
                for i in 0..W {
                    let at = s.load(&st.save_at[i * n..]);
                    let due = s.eq(kv, at);
                    sx[i] = s.select(due, x[i], sx[i]);
                    let saved_y = s.select(due, y[i], s.load(&st.sy[i * n..]));
                    s.store(saved_y, &mut st.sy[i * n..]);
                    let start = s.load(&st.start_f[i * n..]);
                    let at = s.select(due, s.sub(s.add(at, at), start), at);
                    s.store(at, &mut st.save_at[i * n..]);
                    smallest = s.min(smallest, at);
                }
                save_k = to_step(s.hmin(smallest));
            }
            if k == budget_k {
                break;
            }
            stop_k = budget_k.min(save_k);
        }
    }
    for i in 0..W {
        s.store(x[i], &mut st.x[i * n..]);
        s.store(y[i], &mut st.y[i * n..]);
        if P {
            s.store(sx[i], &mut st.sx[i * n..]);
        }
    }
    Exit {
        k,
        save_k,
        escaped,
        same_x,
    }
}

/// Checks shared by the tests of every kernel: seeded random views compared with the reference.
#[cfg(test)]
pub(crate) mod check {
    use num_complex::Complex64;

    use super::super::scalar::escape_point;
    use super::super::select::kernel_by_name_with;
    use super::super::{Escape, Kernel, KernelOptions, SampleGrid, ScalarKernelWith};

    /// A small xorshift generator: reproducible views without a dependency.
    pub(crate) struct XorShift(pub u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// Uniform in `[0, 1)`.
        pub(crate) fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    /// One row of one view.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Case {
        pub grid: SampleGrid,
        pub sy: u32,
        pub max_iterations: u32,
    }

    /// Seeded random rows: centers near the boundary of the set (or inside bulbs, for
    /// `interior_heavy`), widths from 4 down to 1e-12, any rotation, supersampling, row lengths
    /// that are not multiples of the lane counts, budgets from 1 to 5000.
    pub(crate) fn cases(seed: u64, count: usize, interior_heavy: bool) -> Vec<Case> {
        let mut rng = XorShift(seed);
        let lengths: &[u32] = if cfg!(miri) {
            &[1, 3, 7, 17]
        } else {
            &[1, 3, 7, 17, 100, 1000]
        };
        let budgets: &[u32] = &[1, 2, 3, 10, 64, 100, 257, 1000, 5000];
        // Points inside bulbs that the cardioid/bulb shortcut does not cover.
        let bulbs = [
            Complex64::new(-0.1226, 0.7449),
            Complex64::new(-1.3107, 0.0),
            Complex64::new(0.2822, 0.5301),
            Complex64::new(-0.5043, 0.5627),
            Complex64::new(-1.7549, 0.0),
        ];
        (0..count)
            .map(|_| {
                let (center, width) = if interior_heavy {
                    (rng.pick(&bulbs), 0.01 * 10f64.powf(-3.0 * rng.unit()))
                } else {
                    // A point that takes a while to escape lies near the boundary.
                    let center = loop {
                        let c = Complex64::new(-2.0 + 2.5 * rng.unit(), -1.2 + 2.4 * rng.unit());
                        let (e, _) = escape_point(c.re, c.im, 1000);
                        if e.n >= 20 && !e.is_interior() {
                            break c;
                        }
                    };
                    (center, 4.0 * 10f64.powf(-12.0 * rng.unit()))
                };
                let len = rng.pick(lengths);
                let ss = 1 + (rng.next() % 3) as u32;
                let mut max_iterations = rng.pick(budgets);
                // Keep debug-build test time small: cap the work of one row.
                while u64::from(len * ss) * u64::from(max_iterations) > 400_000 {
                    max_iterations /= 4;
                }
                if cfg!(miri) {
                    max_iterations = max_iterations.min(100);
                }
                let height = 1 + (rng.next() % 50) as u32;
                let rotation = 360.0 * rng.unit();
                let grid = SampleGrid::new(center, width, rotation, len, height, ss);
                let sy = (rng.next() % u64::from(grid.samples_y)) as u32;
                Case {
                    grid,
                    sy,
                    max_iterations,
                }
            })
            .collect()
    }

    /// The escapes of one row and the iterations the kernel reported.
    pub(crate) fn row(kernel: &dyn Kernel, case: &Case) -> (Vec<Escape>, u64) {
        let mut out = vec![Escape { n: 7, nf: 0.5 }; case.grid.samples_x as usize];
        let spent = kernel.escape_row(&case.grid, case.sy, case.max_iterations, &mut out);
        (out, spent)
    }

    /// Asserts that two rows agree bit for bit.
    pub(crate) fn assert_same(a: &[Escape], b: &[Escape], what: &str) {
        assert_eq!(a.len(), b.len());
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            assert!(
                p.n == q.n && p.nf.to_bits() == q.nf.to_bits(),
                "{what}: sample {i}: {p:?} != {q:?}"
            );
        }
    }

    /// Compares the kernel called `name` with the reference on many random rows, with and
    /// without periodicity detection; skips (with a note) when this CPU lacks the kernel.
    pub(crate) fn matches_reference(name: &str) {
        let count = if cfg!(miri) { 4 } else { 60 };
        for periodicity in [false, true] {
            let options = KernelOptions { periodicity };
            let kernel = match kernel_by_name_with(name, options) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("note: skipping kernel {name}: {e}");
                    return;
                }
            };
            let reference = ScalarKernelWith { options };
            for (seed, heavy) in [
                (0x9e37_79b9_7f4a_7c15, false),
                (0x0123_4567_89ab_cdef, true),
            ] {
                for (i, case) in cases(seed, count, heavy).iter().enumerate() {
                    let (want, want_spent) = row(&reference, case);
                    let (got, spent) = row(kernel.as_ref(), case);
                    let what = format!("{name}, periodicity {periodicity}, case {i}: {case:?}");
                    assert_same(&got, &want, &what);
                    assert_eq!(spent, want_spent, "{what}: iterations");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use num_complex::Complex64;

    use super::check::{self, Case, assert_same, cases, row};
    use super::*;
    use crate::kernel::ScalarKernelWith;

    #[test]
    fn interleaved_matches_reference() {
        check::matches_reference("interleaved");
    }

    #[test]
    fn periodicity_changes_work_not_escapes() {
        let on = ScalarKernelWith {
            options: KernelOptions { periodicity: true },
        };
        let off = ScalarKernelWith {
            options: KernelOptions { periodicity: false },
        };
        let count = if cfg!(miri) { 3 } else { 40 };
        let (mut spent_on, mut spent_off) = (0, 0);
        for (seed, heavy) in [(7, false), (11, true)] {
            let (mut heavy_on, mut heavy_off) = (0, 0);
            for mut case in cases(seed, count, heavy) {
                if heavy {
                    // Budgets well past the first save, on short rows.
                    case.max_iterations = if cfg!(miri) { 800 } else { 4000 };
                    case.grid.samples_x = case.grid.samples_x.min(if cfg!(miri) { 2 } else { 17 });
                }
                let (a, n_on) = row(&on, &case);
                let (b, n_off) = row(&off, &case);
                assert_same(&a, &b, &format!("{case:?}"));
                assert!(n_on <= n_off);
                heavy_on += n_on;
                heavy_off += n_off;
            }
            if heavy {
                assert!(heavy_on * 2 < heavy_off, "{heavy_on} vs {heavy_off}");
            }
            spent_on += heavy_on;
            spent_off += heavy_off;
        }
        assert!(spent_on < spent_off);
    }

    #[test]
    fn periodic_point_stops_early() {
        // c = i: 0, i, -1+i, -i, -1+i, ... exactly, so the check finds the cycle at once.
        let (e, spent) = escape_point_with(0.0, 1.0, 777, KernelOptions { periodicity: true });
        assert!(e.is_interior());
        assert!(spent <= PERIODICITY_FIRST_SAVE + 4, "{spent}");
        let grid = SampleGrid::new(Complex64::new(0.0, 1.0), 1e-300, 0.0, 5, 1, 1);
        for periodicity in [false, true] {
            let options = KernelOptions { periodicity };
            let case = Case {
                grid,
                sy: 0,
                max_iterations: 777,
            };
            let (want, want_spent) = row(&ScalarKernelWith { options }, &case);
            let (got, spent) = row(&InterleavedKernel::new(options), &case);
            assert_same(&got, &want, "c = i");
            assert_eq!(spent, want_spent);
        }
    }

    #[test]
    fn zero_budget_and_empty_rows() {
        let grid = SampleGrid::new(Complex64::new(-0.75, 0.1), 0.01, 0.0, 9, 1, 1);
        let kernel = InterleavedKernel::default();
        let mut out = vec![Escape { n: 1, nf: 0.5 }; 9];
        assert_eq!(kernel.escape_row(&grid, 0, 0, &mut out), 0);
        assert!(out.iter().all(|e| e.is_interior()));
        assert_eq!(kernel.escape_row(&grid, 0, 100, &mut []), 0);
    }
}
