//! Several samples in flight: the lane engine shared by the interleaved and the SIMD kernels.
//!
//! One step of `z -> z^2 + c` is a chain of dependent operations (`x*y`, doubling, adding `cy`;
//! `x*x - y*y`, adding `cx`): about a dozen cycles of latency for a handful of instructions. A
//! one-sample loop waits on that chain, so the CPU sits mostly idle. The engine here keeps
//! `V` independent vectors of `Simd::LANES` samples each (the *lanes*) and advances all of them
//! in every step, so that the out-of-order core overlaps their chains: with 2 to 4 vectors the
//! multiply and add units are busy nearly every cycle.
//!
//! Neighbouring samples escape at very different counts (tens of steps next to thousands near
//! the boundary). Waiting for the slowest lane of a vector would waste most of the work, so a
//! lane whose sample has finished (escaped, reached `max_iterations`, or was found periodic) is
//! *refilled* with the next sample of the row. The lanes run `CHUNK` (8) steps with no escape
//! test at all, and are tested once at the end of the chunk: an orbit past the escape radius
//! only grows, so a sample that escaped anywhere in the chunk fails that test. Its lane is
//! refilled at once, and the sample is *replayed* later, in a batch of such samples, from its
//! `z` at the chunk's start with a test at every step, which finds the step where
//! [`super::scalar`] stops it and `|z|^2` there, bit for bit. (Testing every step cost two of
//! the step's nine vector operations, and stopping the loop at every escape about a hundred
//! cycles, on frames where a lane finishes every few steps.) With periodicity detection each
//! step also compares `x` with the saved `x`, under one mask per vector; a lane where they met
//! is replayed at the chunk's end for an exact repeat of the saved `z` (rare). Each lane counts
//! its own steps from a shared step counter `k` (`n = k - start`), so the hot loop keeps no
//! per-lane counters; a chunk ends early at the earliest budget end (`start + max_iterations`)
//! of a live lane and at the earliest periodicity save, where the lanes due save their `z` under
//! a mask. Finished lanes are reported, refilled and their smooth fractions queued (the
//! logarithms are computed in batches) before the next chunk.
//!
//! A stop to refill costs far more than a step (the lanes' bookkeeping is in memory, and which
//! vectors have finished lanes is a mispredicted branch), and with 32 lanes one of them finishes
//! every couple of chunks on seahorse-valley frames. So with 32 lanes in flight (AVX-512), lanes
//! that escape *wait*, idle, with their checkpoint kept, until a quarter of the lanes have
//! escaped (`WAIT_SHARE`), or a budget's end or a lane meeting its saved `x` calls for a stop
//! anyway; then all of them are refilled in one stop. The idle lane-steps cost less than the
//! stops they save: a 1080p seahorse frame ran 3.5-4% faster. (With 16 lanes, AVX2, it made no
//! difference; with the portable kernel's 8 it was slower.)
//!
//! Most samples of a typical frame escape within a few steps, and each would cost the hot loop
//! a stop. So new samples first get a *head start* (`Queue::head_start`): a vector group of
//! them is iterated in lockstep, without stops, until all have escaped or `HEAD_START` steps
//! are done, each lane noting the step at which it escaped. Only the samples still running go
//! to the lanes, with their `z` and step count. On ffmpeg's default zoom (1080p, about 20 steps
//! per sample) this took a frame from 46 to 33 ms on one core. Where no sample escapes in a
//! head start (samples that run hundreds of steps), the next few groups skip it
//! (`HEAD_START_SKIP`): its test at every step would only cost there.
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
//! per array or three arrays measured slower on x86-64.) `crate::arch::x86::escape` implements `Simd`
//! with AVX2 and AVX-512 intrinsics.

use std::array;
use std::ops::Range;

use crate::arch::{Portable, Simd};
use super::{
    ESCAPE_RADIUS_SQ, Escape, Kernel, KernelOptions, PERIODICITY_FIRST_SAVE, SampleGrid,
    Slope,
    scalar::{escape_point_with, slope_point_with},
};

/// Most lanes the engine keeps in flight (4 vectors of 8 `f64`).
pub(crate) const MAX_LANES: usize = 32;


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

    fn escape_rows(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        escape_rows_lanes::<Portable, PORTABLE_VECTORS>(
            Portable,
            self.options,
            grid,
            rows,
            grid.samples_x,
            max_iterations,
            out,
            None,
        )
    }

    fn slope_rows(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> u64 {
        escape_rows_lanes::<Portable, PORTABLE_VECTORS>(
            Portable,
            self.options,
            grid,
            rows,
            grid.samples_x,
            max_iterations,
            out,
            Some(slopes),
        )
    }
}

/// Queue of samples waiting for a lane: capacity, and the length up to which it is filled.
/// (A fill stops at `QUEUE_FILL` or more; one head start adds up to `MAX_LANES`, and the
/// sentinels take one more vector.)
const QUEUE_CAP: usize = QUEUE_FILL + MAX_LANES + 8;
const QUEUE_FILL: usize = 64;

/// Samples that need iterating (not proved interior by the cardioid/bulb test), generated a
/// vector at a time and packed, so that a refill takes the next ones with one expand per vector.
/// Past `tail` lie sentinels (`c = 0`, index `-1`) once the rows are exhausted: a lane refilled
/// from there is empty.
struct Queue {
    cx: [f64; QUEUE_CAP],
    cy: [f64; QUEUE_CAP],
    /// Index of the sample in the output, as `f64` (exact: below 2^53).
    idx: [f64; QUEUE_CAP],
    /// `z` after the head start, and the steps it took (the same for every queued sample of
    /// one fill, but kept per sample so that a refill can mix fills).
    x0: [f64; QUEUE_CAP],
    y0: [f64; QUEUE_CAP],
    n0: [f64; QUEUE_CAP],
    /// `e` after the head start (with slopes only).
    ex0: [f64; QUEUE_CAP],
    ey0: [f64; QUEUE_CAP],
    head: usize,
    tail: usize,
    /// Next sample to generate: row (absolute), column, and output index of the row's start.
    row: u32,
    col: u32,
    base: usize,
    row_end: u32,
    row_len: u32,
    done: bool,
    /// Iterations of the samples finished by the head start (exact integers in `f64`).
    spent: f64,
    /// Vector groups still to be queued without a head start (see [`HEAD_START_SKIP`]).
    skip_head_start: u32,
}

impl Queue {
    fn new(rows: Range<u32>, row_len: u32) -> Self {
        Queue {
            cx: [0.0; QUEUE_CAP],
            cy: [0.0; QUEUE_CAP],
            idx: [-1.0; QUEUE_CAP],
            x0: [0.0; QUEUE_CAP],
            y0: [0.0; QUEUE_CAP],
            n0: [0.0; QUEUE_CAP],
            ex0: [0.0; QUEUE_CAP],
            ey0: [0.0; QUEUE_CAP],
            head: 0,
            tail: 0,
            row: rows.start,
            col: 0,
            base: 0,
            row_end: rows.end,
            row_len,
            done: rows.is_empty() || row_len == 0,
            spent: 0.0,
            skip_head_start: 0,
        }
    }

    #[inline(always)]
    fn avail(&self) -> usize {
        self.tail - self.head
    }

    /// Moves what is left to the front and generates samples until the queue holds at least
    /// `QUEUE_FILL` or the rows are done (then writes the sentinels).
    ///
    /// New samples get a *head start* here (see [`Queue::head_start`]): those that escape
    /// within the first few steps are finished on the spot, and only the others are queued, with
    /// their `z` and step count, for the hot loop.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn fill<S: Simd, const V: usize, const P: bool, const D: bool>(
        &mut self,
        s: S,
        grid: &SampleGrid,
        max_steps: u32,
        pending: &mut Pending,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) {
        let n = S::LANES;
        let left = self.avail();
        for field in [
            &mut self.cx,
            &mut self.cy,
            &mut self.idx,
            &mut self.x0,
            &mut self.y0,
            &mut self.n0,
            &mut self.ex0,
            &mut self.ey0,
        ] {
            field.copy_within(self.head..self.tail, 0);
        }
        self.head = 0;
        self.tail = left;
        let iota = s.iota();
        // The arithmetic of `SampleGrid::point`, lane by lane.
        let half_width = s.splat(0.5 * f64::from(grid.samples_x));
        let (half, quarter, one, sixteenth) =
            (s.splat(0.5), s.splat(0.25), s.splat(1.0), s.splat(0.0625));
        let (center_re, center_im) = (s.splat(grid.center.re), s.splat(grid.center.im));
        let (step_re, step_im) = (s.splat(grid.step_x.re), s.splat(grid.step_x.im));
        let none = s.mask_andn(s.all_set(), s.all_set());
        while !self.done && self.tail < QUEUE_FILL {
            // `V` vectors of new samples (fewer at the end of the rows: the rest stay empty).
            let mut re = [s.splat(0.0); V];
            let mut im = [s.splat(0.0); V];
            let mut idx = [s.splat(-1.0); V];
            let mut take = [none; V];
            for g in 0..V {
                if self.done {
                    break;
                }
                if let Some(p) = &grid.polar {
                    // The arithmetic of `SampleGrid::point` on rings.
                    let r = s.splat(p.radius(self.row));
                    let at = self.col as usize;
                    re[g] = s.add(center_re, s.mul(r, s.load(&p.units.re[at..])));
                    im[g] = s.add(center_im, s.mul(r, s.load(&p.units.im[at..])));
                } else {
                    let v = grid.v(self.row);
                    let (dy_re, dy_im) =
                        (s.splat(grid.step_y.re * v), s.splat(grid.step_y.im * v));
                    let col = s.add(s.splat(f64::from(self.col)), iota);
                    let u = s.sub(s.add(col, half), half_width);
                    re[g] = s.add(center_re, s.add(s.mul(step_re, u), dy_re));
                    im[g] = s.add(center_im, s.add(s.mul(step_im, u), dy_im));
                }
                let in_row = s.gt(s.splat(f64::from(self.row_len - self.col)), iota);
                // `in_cardioid_or_bulb`, both tests on every lane.
                let y2 = s.mul(im[g], im[g]);
                let xq = s.sub(re[g], quarter);
                let q = s.add(s.mul(xq, xq), y2);
                let cardioid = s.le(s.mul(q, s.add(q, xq)), s.mul(quarter, y2));
                let xb = s.add(re[g], one);
                let bulb = s.le(s.add(s.mul(xb, xb), y2), sixteenth);
                take[g] = s.mask_andn(s.mask_andn(in_row, cardioid), bulb);
                idx[g] = s.add(s.splat((self.base + self.col as usize) as f64), iota);
                self.col += n as u32;
                if self.col >= self.row_len {
                    self.col = 0;
                    self.base += self.row_len as usize;
                    self.row += 1;
                    self.done = self.row == self.row_end;
                }
            }
            if self.skip_head_start > 0 {
                // From z_0 = 0: the hot loop tests it for everything the head start would.
                self.skip_head_start -= 1;
                let zero = s.splat(0.0);
                for g in 0..V {
                    let values = [re[g], im[g], idx[g], zero, zero, zero, zero];
                    self.enqueue::<S, D>(s, take[g], values, zero);
                }
            } else if !self.head_start::<S, V, P, D>(
                s,
                [&re, &im, &idx],
                take,
                (max_steps, grid.spacing()),
                pending,
                (out, slopes),
            ) {
                // (Only where samples went on to the lanes without any escaping here.)
                self.skip_head_start = HEAD_START_SKIP;
            }
        }
        if self.done {
            let t = self.tail;
            for (field, value) in [
                (&mut self.cx, 0.0),
                (&mut self.cy, 0.0),
                (&mut self.idx, -1.0),
                (&mut self.x0, 0.0),
                (&mut self.y0, 0.0),
                (&mut self.n0, 0.0),
                (&mut self.ex0, 0.0),
                (&mut self.ey0, 0.0),
            ] {
                s.store(s.splat(value), &mut field[t..]);
            }
        }
    }

    /// Iterates the samples `take` of `V` new vectors together for their first few steps, with
    /// no refills: every lane runs until all have escaped or `HEAD_START` steps are done, and
    /// each lane records the step at which it escaped and its `|z|^2` there (a lane that has
    /// escaped goes on computing values nobody reads). Escaped samples go to `pending`; the
    /// others are queued with their `z` and step count, and the hot loop goes on from there.
    ///
    /// Why: where most samples escape within a few steps (the outer parts of a frame), the hot
    /// loop would stop for a refill nearly every step, and a stop costs more than a few wasted
    /// lane-steps. The operations are the hot loop's, so the counts and `|z|^2` are its bits.
    /// With periodicity detection the hot loop compares `z` with the saved `z_0 = 0` from the
    /// first step; a lane whose `x` reaches 0 here (the samples on the imaginary axis, and
    /// exact cycles through 0) is handed to the reference loop, which decides it exactly.
    ///
    /// Returns whether it paid: some sample escaped in it, or none is left for the lanes (all
    /// decided by the cardioid/bulb test, the budget or an escape). Where it did not pay,
    /// the next groups skip it.
    #[inline(always)]
    fn head_start<S: Simd, const V: usize, const P: bool, const D: bool>(
        &mut self,
        s: S,
        [re, im, idx]: [&[S::F; V]; 3],
        take: [S::M; V],
        (max_steps, spacing): (u32, f64),
        pending: &mut Pending,
        (out, slopes): (&mut [Escape], &mut [Slope]),
    ) -> bool {
        let steps = HEAD_START.min(max_steps);
        let (zero, r2) = (s.splat(0.0), s.splat(ESCAPE_RADIUS_SQ));
        let none = s.mask_andn(s.all_set(), s.all_set());
        let sp = s.splat(spacing);
        // The derivative's step 1 from e_0 = 0 and z_0 = 0, as the hot loop computes it.
        let (mut ex, mut ey) = ([zero; V], [zero; V]);
        if D {
            for g in 0..V {
                slope_advance(s, [zero, zero], [&mut ex[g], &mut ey[g]], sp);
            }
        }
        let mut slope_escaped = [[zero; 4]; V];
        // Step 1 from z_0 = 0, as the hot loop computes it: (0 - 0) + cx, (0 + 0) + cy.
        let mut x: [S::F; V] = array::from_fn(|g| s.add(zero, re[g]));
        let mut y: [S::F; V] = array::from_fn(|g| s.add(zero, im[g]));
        let mut x2: [S::F; V] = array::from_fn(|g| s.mul(x[g], x[g]));
        let mut y2: [S::F; V] = array::from_fn(|g| s.mul(y[g], y[g]));
        let mut alive = take;
        let mut at_zero = [none; V];
        let mut n_escaped = [zero; V];
        let mut norm_escaped = [r2; V];
        let mut step = 1;
        loop {
            let k = s.splat(f64::from(step));
            let mut any = none;
            for g in 0..V {
                let norm = s.add(x2[g], y2[g]);
                if D {
                    let escaped = s.mask_and(alive[g], s.gt(norm, r2));
                    let now = [x[g], y[g], ex[g], ey[g]];
                    for (kept, v) in slope_escaped[g].iter_mut().zip(now) {
                        *kept = s.select(escaped, v, *kept);
                    }
                }
                let record = [&mut n_escaped[g], &mut norm_escaped[g]];
                record_escapes(s, &mut alive[g], norm, k, record);
                if P {
                    at_zero[g] = s.mask_or(at_zero[g], s.mask_and(alive[g], s.eq(x[g], zero)));
                }
                any = s.mask_or(any, alive[g]);
            }
            if step == steps || s.bits(any) == 0 {
                break;
            }
            for g in 0..V {
                if D {
                    slope_advance(s, [x[g], y[g]], [&mut ex[g], &mut ey[g]], sp);
                }
                let z = [&mut x[g], &mut y[g], &mut x2[g], &mut y2[g]];
                advance(s, z, re[g], im[g]);
            }
            step += 1;
        }
        let n0 = s.splat(f64::from(steps));
        let mut any_escaped = false;
        let queued_from = self.tail;
        for g in 0..V {
            let mut escaped = s.mask_andn(take[g], alive[g]);
            let mut alive = alive[g];
            if P && s.bits(at_zero[g]) != 0 {
                // Rare: decided by the reference loop, sample by sample.
                escaped = s.mask_andn(escaped, at_zero[g]);
                alive = s.mask_andn(alive, at_zero[g]);
                let mut lanes = [[0.0; 8]; 3];
                s.store(re[g], &mut lanes[0]);
                s.store(im[g], &mut lanes[1]);
                s.store(idx[g], &mut lanes[2]);
                let mut bits = s.bits(at_zero[g]);
                while bits != 0 {
                    let l = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let options = KernelOptions::fixed(true);
                    let (cx, cy, at) = (lanes[0][l], lanes[1][l], lanes[2][l] as usize);
                    if D {
                        let (escape, slope, spent) =
                            slope_point_with(cx, cy, max_steps, options, spacing);
                        (out[at], slopes[at]) = (escape, slope);
                        self.spent += spent as f64;
                    } else {
                        let (escape, spent) = escape_point_with(cx, cy, max_steps, options);
                        out[at] = escape;
                        self.spent += spent as f64;
                    }
                }
            }
            if s.bits(escaped) != 0 {
                any_escaped = true;
                let spent = s.select(escaped, n_escaped[g], zero);
                let mut lanes = [0.0; 8];
                s.store(spent, &mut lanes);
                self.spent += lanes[..S::LANES].iter().sum::<f64>();
                let (n, norm, slope) = (n_escaped[g], norm_escaped[g], slope_escaped[g]);
                pending.push::<S, D>(s, escaped, idx[g], n, norm, slope, out, slopes);
            }
            let survivors = s.bits(alive).count_ones() as usize;
            if survivors == 0 {
                continue;
            }
            if steps == max_steps {
                // Used up the budget: interior (already in `out`).
                self.spent += (survivors as u64 * u64::from(max_steps)) as f64;
                continue;
            }
            let values = [re[g], im[g], idx[g], x[g], y[g], ex[g], ey[g]];
            self.enqueue::<S, D>(s, alive, values, n0);
        }
        any_escaped || self.tail == queued_from
    }

    /// Queues the lanes `m` of one vector: `c`, output index, `z` and (with slopes) `e`
    /// (`[cx, cy, idx, x0, y0, ex0, ey0]`), after `n0` steps (the same for all of them).
    #[inline(always)]
    fn enqueue<S: Simd, const D: bool>(&mut self, s: S, m: S::M, values: [S::F; 7], n0: S::F) {
        let t = self.tail;
        let [cx, cy, idx, x0, y0, ex0, ey0] = values;
        if D {
            s.store(s.compress(m, ex0), &mut self.ex0[t..]);
            s.store(s.compress(m, ey0), &mut self.ey0[t..]);
        }
        s.store(s.compress(m, cx), &mut self.cx[t..]);
        s.store(s.compress(m, cy), &mut self.cy[t..]);
        s.store(s.compress(m, idx), &mut self.idx[t..]);
        s.store(s.compress(m, x0), &mut self.x0[t..]);
        s.store(s.compress(m, y0), &mut self.y0[t..]);
        s.store(n0, &mut self.n0[t..]);
        self.tail += s.bits(m).count_ones() as usize;
    }
}

/// One step `z -> z^2 + c` of a vector of lanes, with the reference's operations in its
/// order: `x^2` and `y^2` come in (squared at the end of the last step, where the escape test
/// needs them too) and go out for the new `z`. Every loop of the engine steps with this, so
/// that all of them compute the reference's bits.
#[inline(always)]
fn advance<S: Simd>(s: S, [x, y, x2, y2]: [&mut S::F; 4], cx: S::F, cy: S::F) {
    let xy = s.mul(*x, *y);
    *y = s.add(s.add(xy, xy), cy);
    *x = s.add(s.sub(*x2, *y2), cx);
    *x2 = s.mul(*x, *x);
    *y2 = s.mul(*y, *y);
}

/// One step `e -> 2 z e + s` of the scaled derivative of a vector of lanes, from `z` before
/// the step: [`crate::kernel::sample::slope_step`]'s operations in its order.
#[inline(always)]
fn slope_advance<S: Simd>(s: S, [x, y]: [S::F; 2], [ex, ey]: [&mut S::F; 2], spacing: S::F) {
    let a = s.mul_sub(x, *ex, s.mul(y, *ey));
    let b = s.mul_add(x, *ey, s.mul(y, *ex));
    *ex = s.mul_add(s.splat(2.0), a, spacing);
    *ey = s.add(b, b);
}

/// The escape test of a lockstep loop that records, per lane, the step `at` where a lane of
/// `alive` first has `|z|^2 = norm > R^2` and that `norm`; such lanes leave `alive`.
#[inline(always)]
fn record_escapes<S: Simd>(
    s: S,
    alive: &mut S::M,
    norm: S::F,
    at: S::F,
    [n_escaped, norm_escaped]: [&mut S::F; 2],
) {
    let escaped = s.mask_and(*alive, s.gt(norm, s.splat(ESCAPE_RADIUS_SQ)));
    *n_escaped = s.select(escaped, at, *n_escaped);
    *norm_escaped = s.select(escaped, norm, *norm_escaped);
    *alive = s.mask_andn(*alive, escaped);
}

/// Steps of the head start (at most; fewer when every lane has escaped sooner).
pub(crate) const HEAD_START: u32 = 32;

/// Vector groups queued without a head start after one in which no sample escaped: where
/// samples run hundreds of steps (near the boundary, deep in a zoom), the head start's test at
/// every step only costs (about 3% of a seahorse-valley frame). Every such run of groups is
/// followed by one with a head start, which looks again.
const HEAD_START_SKIP: u32 = 7;

/// Per-lane state that the hot loop keeps in memory (the rest lives in registers while it runs
/// and is stored here only when the lanes are packed). An empty lane has `z = c = 0` (it never
/// escapes), a saved `x` of NaN (it never matches), index `-1` and no deadline or save.
struct Lanes {
    x: [f64; MAX_LANES],
    y: [f64; MAX_LANES],
    cx: [f64; MAX_LANES],
    cy: [f64; MAX_LANES],
    /// Saved `z` of the periodicity check.
    sx: [f64; MAX_LANES],
    sy: [f64; MAX_LANES],
    /// Value of `k` at the lane's next save (`+inf` for none).
    save_at: [f64; MAX_LANES],
    /// Value of `k` when the lane's sample started.
    start: [f64; MAX_LANES],
    /// Value of `k` at which the sample has used up `max_iterations` (`+inf` for none).
    deadline: [f64; MAX_LANES],
    /// Output index of the lane's sample (`-1` for none).
    idx: [f64; MAX_LANES],
    /// `e = s dz/dc` (with slopes only).
    ex: [f64; MAX_LANES],
    ey: [f64; MAX_LANES],
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
            start: [0.0; MAX_LANES],
            deadline: [f64::INFINITY; MAX_LANES],
            idx: [-1.0; MAX_LANES],
            ex: [0.0; MAX_LANES],
            ey: [0.0; MAX_LANES],
        }
    }

    fn move_lane(&mut self, from: usize, to: usize) {
        let fields = [
            &mut self.x,
            &mut self.y,
            &mut self.cx,
            &mut self.cy,
            &mut self.sx,
            &mut self.sy,
            &mut self.save_at,
            &mut self.start,
            &mut self.deadline,
            &mut self.idx,
            &mut self.ex,
            &mut self.ey,
        ];
        let empty = [
            0.0,
            0.0,
            0.0,
            0.0,
            f64::NAN,
            f64::NAN,
            f64::INFINITY,
            0.0,
            f64::INFINITY,
            -1.0,
            0.0,
            0.0,
        ];
        for (field, empty) in fields.into_iter().zip(empty) {
            field[to] = field[from];
            field[from] = empty;
        }
    }
}

/// Escaped samples whose smooth fraction is still to be computed (the logarithms are computed
/// in batches, with [`Simd::smooth_fractions`]).
struct Pending {
    idx: [f64; PENDING_CAP],
    n: [f64; PENDING_CAP],
    norm: [f64; PENDING_CAP],
    /// `z_N` and `e_N` (with slopes only).
    slope: [[f64; PENDING_CAP]; 4],
    nf: [f32; PENDING_CAP],
    len: usize,
}

const PENDING: usize = 64;
const PENDING_CAP: usize = PENDING + MAX_LANES;

impl Pending {
    fn new() -> Self {
        Pending {
            idx: [0.0; PENDING_CAP],
            n: [0.0; PENDING_CAP],
            norm: [ESCAPE_RADIUS_SQ; PENDING_CAP],
            slope: [[0.0; PENDING_CAP]; 4],
            nf: [0.0; PENDING_CAP],
            len: 0,
        }
    }

    /// Queues the lanes `m` of one vector.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn push<S: Simd, const D: bool>(
        &mut self,
        s: S,
        m: S::M,
        idx: S::F,
        n: S::F,
        norm: S::F,
        slope: [S::F; 4],
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) {
        let l = self.len;
        s.store(s.compress(m, idx), &mut self.idx[l..]);
        s.store(s.compress(m, n), &mut self.n[l..]);
        s.store(s.compress(m, norm), &mut self.norm[l..]);
        if D {
            for (field, v) in self.slope.iter_mut().zip(slope) {
                s.store(s.compress(m, v), &mut field[l..]);
            }
        }
        self.len += s.bits(m).count_ones() as usize;
        if self.len >= PENDING {
            self.flush::<S, D>(s, out, slopes);
        }
    }

    #[inline(always)]
    fn flush<S: Simd, const D: bool>(&mut self, s: S, out: &mut [Escape], slopes: &mut [Slope]) {
        if D {
            let [zx, zy, ex, ey] = &self.slope;
            for i in 0..self.len {
                slopes[self.idx[i] as usize] = Slope::at_escape([zx[i], zy[i]], [ex[i], ey[i]]);
            }
        }
        let len = self.len.next_multiple_of(S::LANES);
        s.smooth_fractions(&self.norm[..len], &mut self.nf[..len]);
        if out.len() <= u32::MAX as usize {
            // Indices and counts converted a vector at a time, then the scattered stores.
            let (mut idx, mut n) = ([0u32; PENDING_CAP], [0u32; PENDING_CAP]);
            s.to_u32s(&self.idx[..len], &mut idx[..len]);
            s.to_u32s(&self.n[..len], &mut n[..len]);
            for i in 0..self.len {
                out[idx[i] as usize] = Escape {
                    n: n[i],
                    nf: self.nf[i],
                };
            }
        } else {
            for i in 0..self.len {
                out[self.idx[i] as usize] = Escape {
                    n: self.n[i] as u32,
                    nf: self.nf[i],
                };
            }
        }
        self.len = 0;
    }
}

/// Steps of a chunk (fewer where a lane's budget ends or it saves its `z` for periodicity
/// detection sooner).
///
/// Testing every lane for escape at every step costs two of the step's nine vector operations,
/// and stopping the loop whenever one of 32 lanes escapes costs some hundred cycles: on
/// seahorse frames, where samples run a few hundred steps, a lane finishes every 5 to 20
/// steps. So the lanes run `CHUNK` steps untested, and are tested once at the end. An orbit
/// past the escape radius only grows (to infinity, then NaN), so a lane that escaped anywhere
/// in the chunk fails the test at its end. (Once `|z| > R = 256` and `|c| <= |z|`, which holds
/// from the escape on: `|z^2 + c| >= |z| (|z| - 1) > 255 |z|`.) Such a sample is refilled at
/// once and *replayed*: from `z` at the chunk's start, with the same operations and a test at
/// every step, to find the step at which it escaped and `|z|^2` there, bit for bit what the
/// reference computes. Replays are collected and run a few vectors at a time. With
/// periodicity detection, lanes whose `x` met the saved `x` in the chunk are replayed at its
/// end by [`periodic_lanes`].
pub(crate) const CHUNK: u64 = 8;

/// Lanes that escape wait, idle, until this share of the lanes (one in `WAIT_SHARE`) has
/// escaped, or a stop is due anyway.
const WAIT_SHARE: usize = 4;
/// Lanes wait for company only with at least this many lanes in flight (AVX-512's 32).
const WAIT_LANES: usize = 32;

/// Replays run once this many samples have collected (and at the end of the rows).
const REPLAY_BATCH: usize = MAX_LANES;

/// Samples that escaped within a chunk, with what it takes to replay them: `z` at the chunk's
/// start, `c`, the output index and the steps done before the chunk.
struct Replay {
    /// x, y, cx, cy, idx, steps, and with slopes ex, ey.
    fields: [[f64; REPLAY_CAP]; 8],
    len: usize,
}

const REPLAY_CAP: usize = REPLAY_BATCH + MAX_LANES + 8;

impl Replay {
    fn new() -> Self {
        Replay {
            fields: [[0.0; REPLAY_CAP]; 8],
            len: 0,
        }
    }

    /// Queues the lanes `m` of one vector.
    #[inline(always)]
    fn push<S: Simd, const D: bool>(&mut self, s: S, m: S::M, values: [S::F; 8]) {
        let l = self.len;
        let used = if D { 8 } else { 6 };
        for (field, v) in self.fields.iter_mut().zip(values).take(used) {
            s.store(s.compress(m, v), &mut field[l..]);
        }
        self.len += s.bits(m).count_ones() as usize;
    }

    /// Replays every queued sample, `V` vectors at a time in lockstep, into `pending`; returns
    /// their iterations. Each sample escapes within `CHUNK` steps of its start here.
    #[inline(always)]
    fn run<S: Simd, const V: usize, const D: bool>(
        &mut self,
        s: S,
        spacing: f64,
        pending: &mut Pending,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> f64 {
        let sp = s.splat(spacing);
        let n = S::LANES;
        let (zero, r2) = (s.splat(0.0), s.splat(ESCAPE_RADIUS_SQ));
        let none = s.mask_andn(s.all_set(), s.all_set());
        let iota = s.iota();
        let mut total = zero;
        let mut from = 0;
        while from < self.len {
            let mut x = [zero; V];
            let mut y = [zero; V];
            let mut cx = [zero; V];
            let mut cy = [zero; V];
            let mut ex = [zero; V];
            let mut ey = [zero; V];
            let mut valid = [none; V];
            for g in 0..V {
                let at = from + g * n;
                let left = self.len.saturating_sub(at).min(n);
                valid[g] = s.gt(s.splat(left as f64), iota);
                if left > 0 {
                    x[g] = s.load(&self.fields[0][at..]);
                    y[g] = s.load(&self.fields[1][at..]);
                    cx[g] = s.load(&self.fields[2][at..]);
                    cy[g] = s.load(&self.fields[3][at..]);
                    if D {
                        ex[g] = s.load(&self.fields[6][at..]);
                        ey[g] = s.load(&self.fields[7][at..]);
                    }
                }
            }
            let mut x2: [S::F; V] = array::from_fn(|g| s.mul(x[g], x[g]));
            let mut y2: [S::F; V] = array::from_fn(|g| s.mul(y[g], y[g]));
            let mut alive = valid;
            let mut n_escaped = [zero; V];
            let mut norm_escaped = [r2; V];
            let mut slope_escaped = [[zero; 4]; V];
            let mut step = 0.0;
            loop {
                step += 1.0;
                let j = s.splat(step);
                let mut any = none;
                for g in 0..V {
                    if D {
                        slope_advance(s, [x[g], y[g]], [&mut ex[g], &mut ey[g]], sp);
                    }
                    advance(
                        s,
                        [&mut x[g], &mut y[g], &mut x2[g], &mut y2[g]],
                        cx[g],
                        cy[g],
                    );
                    let norm = s.add(x2[g], y2[g]);
                    if D {
                        let escaped = s.mask_and(alive[g], s.gt(norm, r2));
                        for (kept, v) in slope_escaped[g].iter_mut().zip([x[g], y[g], ex[g], ey[g]]) {
                            *kept = s.select(escaped, v, *kept);
                        }
                    }
                    let record = [&mut n_escaped[g], &mut norm_escaped[g]];
                    record_escapes(s, &mut alive[g], norm, j, record);
                    any = s.mask_or(any, alive[g]);
                }
                if s.bits(any) == 0 {
                    break;
                }
                assert!(step < CHUNK as f64, "a replayed sample did not escape");
            }
            for g in 0..V {
                let at = from + g * n;
                if at >= self.len {
                    break;
                }
                let idx = s.load(&self.fields[4][at..]);
                let steps = s.add(s.load(&self.fields[5][at..]), n_escaped[g]);
                total = s.add(total, s.select(valid[g], steps, zero));
                let slope = slope_escaped[g];
                pending.push::<S, D>(s, valid[g], idx, steps, norm_escaped[g], slope, out, slopes);
            }
            from += V * n;
        }
        self.len = 0;
        let mut lanes = [0.0; 8];
        s.store(total, &mut lanes);
        lanes[..n].iter().sum()
    }
}

/// Work above this (samples times `max_iterations`) goes to the reference loop, so that the step
/// counter stays an exact integer in an `f64` (about 10^15 steps: far beyond any real band).
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
    let row_len = out.len() as u32;
    escape_rows_lanes::<S, V>(s, options, grid, sy..sy + 1, row_len, max_iterations, out, None)
}

/// Fills `out` with sample rows `rows`, `row_len` samples each, like [`Kernel::escape_rows`]:
/// every sample of every row goes through one stream of lanes. With `slopes`, like
/// [`Kernel::slope_rows`]: the lanes carry the derivative too.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn escape_rows_lanes<S: Simd, const V: usize>(
    s: S,
    options: KernelOptions,
    grid: &SampleGrid,
    rows: Range<u32>,
    row_len: u32,
    max_iterations: u32,
    out: &mut [Escape],
    slopes: Option<&mut [Slope]>,
) -> u64 {
    if let Some(slopes) = &slopes {
        assert_eq!(slopes.len(), out.len(), "slope_rows: slope size");
    }
    assert_eq!(
        out.len(),
        rows.len() * row_len as usize,
        "escape_rows: output size"
    );
    let adaptive = options.periodicity && options.adaptive;
    let periodicity = if adaptive {
        adaptive::periodicity_now()
    } else {
        options.periodicity
    };
    let stats = match (periodicity, slopes) {
        (true, None) => run::<S, V, true, false>(s, grid, rows, row_len, max_iterations, out, &mut []),
        (false, None) => run::<S, V, false, false>(s, grid, rows, row_len, max_iterations, out, &mut []),
        (true, Some(sl)) => run::<S, V, true, true>(s, grid, rows, row_len, max_iterations, out, sl),
        (false, Some(sl)) => run::<S, V, false, true>(s, grid, rows, row_len, max_iterations, out, sl),
    };
    if adaptive {
        adaptive::record(periodicity, &stats, max_iterations);
    }
    stats.spent
}

/// The per-thread choice behind [`KernelOptions::adaptive`]: periodicity detection where it
/// pays, not where it does not.
///
/// Detection costs every iteration a comparison and the hot loop a stop at each save (about
/// 15-18% of the AVX-512 rate on seahorse-valley rows); it saves `max_iterations - n` for each
/// sample it stops at step `n`. Only samples that would otherwise use up the whole budget can
/// be stopped, and near the boundary few of them settle into an exact cycle in time (on the
/// seahorse scene's frames detection saves 7% of the iterations, although half of the work goes
/// to samples that use up the budget); deep in a bulb it saves several times its cost. Each
/// thread keeps its own estimate (workers render neighbouring bands, so the last band predicts
/// the next one):
///
/// - the *efficiency*, from the last band rendered with detection: the share of the work of
///   samples that never escaped (what detection saved plus the budgets used up) that detection
///   saved;
/// - the next band runs with detection when the efficiency times the share of the last band's
///   work done by such samples is at least [`adaptive::MIN_SAVED`], and in any case after
///   [`adaptive::PROBE_AFTER`] bands without it (to measure the efficiency again).
///
/// Either way the escapes are the same (detection only ever stops orbits that never escape),
/// so images do not depend on this; only the iteration counts reported do.
mod adaptive {
    use std::cell::Cell;

    use super::RunStats;

    /// Detection runs while it is expected to save at least this share of the iterations.
    pub const MIN_SAVED: f64 = 0.1;
    /// Bands without detection after which one band runs with it.
    pub const PROBE_AFTER: u32 = 16;

    thread_local! {
        /// Whether the next band runs with detection.
        static NEXT: Cell<bool> = const { Cell::new(true) };
        /// The efficiency measured last (see the module docs; optimistic at first).
        static EFFICIENCY: Cell<f64> = const { Cell::new(1.0) };
        /// Bands in a row without detection.
        static OFF_RUN: Cell<u32> = const { Cell::new(0) };
    }

    /// Whether the next call runs with periodicity detection.
    pub fn periodicity_now() -> bool {
        NEXT.with(Cell::get)
    }

    /// Takes a call's outcome into account.
    pub fn record(periodicity: bool, stats: &RunStats, max_iterations: u32) {
        let budget_work = stats.budget_reached as f64 * f64::from(max_iterations);
        let saved = stats.cycles_saved as f64;
        // The work of the band without detection, and the part of it that detection can
        // shorten (samples that never escape).
        let work = stats.spent as f64 + saved;
        let bounded = budget_work + saved;
        let efficiency = if periodicity && bounded > 0.0 {
            let e = saved / bounded;
            EFFICIENCY.with(|c| c.set(e));
            e
        } else {
            EFFICIENCY.with(Cell::get)
        };
        let off_run = if periodicity {
            0
        } else {
            OFF_RUN.with(Cell::get) + 1
        };
        let next = work > 0.0 && efficiency * bounded >= MIN_SAVED * work || off_run >= PROBE_AFTER;
        OFF_RUN.with(|c| c.set(if next { 0 } else { off_run }));
        NEXT.with(|c| c.set(next));
    }

    /// Back to the first band's state (for tests).
    #[cfg(test)]
    pub fn reset() {
        NEXT.with(|c| c.set(true));
        EFFICIENCY.with(|c| c.set(1.0));
        OFF_RUN.with(|c| c.set(0));
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn band(periodicity: bool, spent: u64, saved: u64, budget_reached: u64) -> bool {
            let stats = RunStats {
                spent,
                cycles_saved: saved,
                budget_reached,
            };
            record(periodicity, &stats, 1000);
            periodicity_now()
        }

        #[test]
        fn detection_follows_what_it_saves() {
            reset();
            assert!(periodicity_now(), "on at first");
            // Saved 5% of the work with half of it in used-up budgets: off.
            assert!(!band(true, 1_000_000, 50_000, 500));
            // Without it, the same kind of band stays off...
            assert!(!band(false, 1_000_000, 0, 500));
            // ...until a band where samples that never escape do nearly all the work:
            // efficiency 50/(50+500) = 9% times a share of 0.95 is below 10%, still off...
            assert!(!band(false, 1_000_000, 0, 950));
            // ...but a band with detection saving most budgets sets a high efficiency.
            reset();
            assert!(band(true, 1_000_000, 900_000, 100));
            // Then a band without interior samples turns it off, and a band whose work is
            // mostly used-up budgets turns it back on.
            assert!(!band(true, 1_000_000, 0, 0));
            assert!(band(false, 1_000_000, 0, 900));
            // Bands with nothing to save: off, with a probe after PROBE_AFTER bands.
            reset();
            assert!(!band(true, 1_000_000, 0, 0));
            for _ in 1..PROBE_AFTER {
                assert!(!band(false, 1_000_000, 0, 0));
            }
            assert!(band(false, 1_000_000, 0, 0), "probe");
        }
    }
}

/// What the hot loop shares with its caller.
struct Engine<'a> {
    grid: &'a SampleGrid,
    out: &'a mut [Escape],
    /// The slopes' output (empty without slopes).
    slopes: &'a mut [Slope],
    /// The sample spacing, the derivative's scale.
    spacing: f64,
    queue: Queue,
    pending: Pending,
    lanes: Lanes,
    max: f64,
    max_steps: u64,
    max_iterations: u32,
    /// Steps done by the engine (every live lane took each of them).
    k: u64,
    /// At most the smallest deadline of a live lane (a stop there recomputes it).
    budget_k: u64,
    /// At most the smallest `save_at` of a live lane.
    save_k: u64,
    /// Lanes with a sample.
    live: usize,
    /// Iterations that periodicity detection saved: `max_iterations - n` summed over the
    /// samples it stopped at step `n`.
    cycles_saved: f64,
    /// Samples in lanes that used up the whole budget.
    budget_reached: u64,
    /// `z` of every lane at the start of the current chunk (what replays start from); for a
    /// lane that waits (see [`WAIT_SHARE`]), at the start of the chunk in which it escaped.
    check_x: [f64; MAX_LANES],
    check_y: [f64; MAX_LANES],
    /// `e` at the same step (with slopes only).
    check_ex: [f64; MAX_LANES],
    check_ey: [f64; MAX_LANES],
    /// `k` at the start of that chunk (stored only for lanes that wait, see [`WAIT_SHARE`]).
    check_k: [f64; MAX_LANES],
    /// Samples that escaped in a chunk, waiting to be replayed.
    replay: Replay,
    /// Iterations of the samples that escaped or were found periodic in the lanes (exact
    /// integers in `f64`; those that used up their budget are counted by `budget_reached`).
    replayed: f64,
}

/// What one call of the lane engine did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunStats {
    /// Iterations computed.
    pub spent: u64,
    /// See [`Engine::cycles_saved`].
    pub cycles_saved: u64,
    /// See [`Engine::budget_reached`].
    pub budget_reached: u64,
}

#[inline(always)]
fn run<S: Simd, const V: usize, const P: bool, const D: bool>(
    s: S,
    grid: &SampleGrid,
    rows: Range<u32>,
    row_len: u32,
    max_iterations: u32,
    out: &mut [Escape],
    slopes: &mut [Slope],
) -> RunStats {
    // At most 4 vectors: packing below runs `stream` with 1, 2, 3 or `V` vectors, so with
    // more, a count between 4 and `V` would have no instance that takes the last lanes.
    const { assert!(V >= 1 && V <= 4 && V * S::LANES <= MAX_LANES && S::LANES <= 8) };
    // Every sample starts as interior: what the cardioid/bulb test or the budget decides.
    out.fill(Escape::INTERIOR);
    slopes.fill(Slope::NONE);
    let spacing = grid.spacing();
    if max_iterations == 0 || out.is_empty() {
        // Nothing is iterated: every sample is interior after 0 steps, as in the reference.
        return RunStats::default();
    }
    if out.len() as u128 * u128::from(max_iterations) >= MAX_ROW_WORK {
        let options = KernelOptions::fixed(P);
        let mut total = 0;
        for (i, slot) in out.iter_mut().enumerate() {
            let (sx, sy) = ((i % row_len as usize) as u32, rows.start + (i / row_len as usize) as u32);
            let c = grid.point(sx, sy);
            if D {
                let (escape, slope, spent) =
                    slope_point_with(c.re, c.im, max_iterations, options, spacing);
                (*slot, slopes[i]) = (escape, slope);
                total += spent;
            } else {
                let (escape, spent) = escape_point_with(c.re, c.im, max_iterations, options);
                *slot = escape;
                total += spent;
            }
        }
        return RunStats {
            spent: total,
            ..RunStats::default()
        };
    }
    let mut e = Engine {
        grid,
        out,
        slopes,
        spacing,
        queue: Queue::new(rows, row_len),
        pending: Pending::new(),
        lanes: Lanes::new(),
        max: f64::from(max_iterations),
        max_steps: u64::from(max_iterations),
        max_iterations,
        k: 0,
        budget_k: u64::MAX,
        save_k: u64::MAX,
        live: 0,
        cycles_saved: 0.0,
        budget_reached: 0,
        check_x: [0.0; MAX_LANES],
        check_y: [0.0; MAX_LANES],
        check_ex: [0.0; MAX_LANES],
        check_ey: [0.0; MAX_LANES],
        check_k: [0.0; MAX_LANES],
        replay: Replay::new(),
        replayed: 0.0,
    };
    let mut vectors = V;
    loop {
        match vectors {
            1 => stream::<S, 1, P, D>(s, &mut e),
            2 if V > 2 => stream::<S, 2, P, D>(s, &mut e),
            3 if V > 3 => stream::<S, 3, P, D>(s, &mut e),
            _ => stream::<S, V, P, D>(s, &mut e),
        }
        if e.live == 0 {
            break;
        }
        // No samples left to start: pack the live lanes into fewer vectors, so that the last
        // slow samples do not drag empty vectors along.
        let mut to = 0;
        for from in 0..vectors * S::LANES {
            if e.lanes.idx[from] >= 0.0 {
                if from != to {
                    e.lanes.move_lane(from, to);
                }
                to += 1;
            }
        }
        vectors = e.live.div_ceil(S::LANES);
    }
    e.replayed += e.replay.run::<S, V, D>(s, e.spacing, &mut e.pending, e.out, e.slopes);
    e.pending.flush::<S, D>(s, e.out, e.slopes);
    RunStats {
        // Samples that used up their budget in the lanes did `max_iterations` each.
        spent: e.budget_reached * u64::from(max_iterations)
            + e.queue.spent as u64
            + e.replayed as u64,
        cycles_saved: e.cycles_saved as u64,
        budget_reached: e.budget_reached,
    }
}

/// An `f64` step count (or `+inf`) as `u64` (`u64::MAX` for `+inf`).
#[inline(always)]
fn to_step(v: f64) -> u64 {
    if v.is_finite() { v as u64 } else { u64::MAX }
}

/// Runs the first `W` vectors of lanes until no lane is live, or until no sample is left to
/// start and the live lanes fit in `W - 1` vectors.
///
/// Invariant between chunks: each live lane holds `z_n` (`n = k - start`) that has passed the
/// escape test, the periodicity comparison and its save, and `n < max_iterations`; except the
/// lanes that wait (escaped in an earlier chunk, see [`WAIT_SHARE`]), whose orbit only grows
/// while their checkpoint and its step (`check_k`) wait for the stop that replays them. A chunk
/// computes up to [`CHUNK`] steps in every lane untested and then tests the lanes once (see
/// [`CHUNK`]); it ends early at a step where a lane saves or reaches its budget. Finished lanes
/// are reported (escapes through [`Replay`] into [`Pending`]) and refilled from the [`Queue`]
/// on the spot (with 32 lanes, once enough have escaped), with the state of the other lanes
/// staying in registers.
#[inline(always)]
fn stream<S: Simd, const W: usize, const P: bool, const D: bool>(s: S, e: &mut Engine<'_>) {
    let n = S::LANES;
    let st = &mut e.lanes;
    let zero = s.splat(0.0);
    let sp = s.splat(e.spacing);
    let mut ex: [S::F; W] = array::from_fn(|i| if D { s.load(&st.ex[i * n..]) } else { zero });
    let mut ey: [S::F; W] = array::from_fn(|i| if D { s.load(&st.ey[i * n..]) } else { zero });
    let mut x: [S::F; W] = array::from_fn(|i| s.load(&st.x[i * n..]));
    let mut y: [S::F; W] = array::from_fn(|i| s.load(&st.y[i * n..]));
    let mut cx: [S::F; W] = array::from_fn(|i| s.load(&st.cx[i * n..]));
    let mut cy: [S::F; W] = array::from_fn(|i| s.load(&st.cy[i * n..]));
    let mut sx: [S::F; W] = array::from_fn(|i| s.load(&st.sx[i * n..]));
    let mut x2: [S::F; W] = array::from_fn(|i| s.mul(x[i], x[i]));
    let mut y2: [S::F; W] = array::from_fn(|i| s.mul(y[i], y[i]));
    let r2 = s.splat(ESCAPE_RADIUS_SQ);
    let none = s.mask_andn(s.all_set(), s.all_set());
    let mut k = e.k;
    // Per vector: lanes that escaped in an earlier chunk and wait, their checkpoint kept, for
    // company (see `WAIT_SHARE`): at most `wait_for - 1` of them.
    let mut waiting = [none; W];
    let mut any_waiting = false;
    let wait_for = if W * n >= WAIT_LANES {
        (W * n / WAIT_SHARE) as u32
    } else {
        1
    };

    // Starts the next queued samples in the lanes `m` of vector `i` (empty lanes where the
    // queue has run out); the caller has filled the queue.
    macro_rules! refill {
        ($i:expr, $m:expr, $kv:expr) => {{
            let (i, m, kv) = ($i, $m, $kv);
            let q = &mut e.queue;
            let h = q.head;
            let wanted = s.bits(m).count_ones() as usize;
            let took = wanted.min(q.tail - h);
            cx[i] = s.expand(cx[i], m, s.load(&q.cx[h..]));
            cy[i] = s.expand(cy[i], m, s.load(&q.cy[h..]));
            let idx = s.expand(s.load(&st.idx[i * n..]), m, s.load(&q.idx[h..]));
            // The samples come with their head start: `z_n0` after `n0` steps.
            x[i] = s.expand(x[i], m, s.load(&q.x0[h..]));
            y[i] = s.expand(y[i], m, s.load(&q.y0[h..]));
            let started = s.sub(kv, s.load(&q.n0[h..]));
            q.head = h + took;
            s.store(idx, &mut st.idx[i * n..]);
            x2[i] = s.select(m, s.mul(x[i], x[i]), x2[i]);
            y2[i] = s.select(m, s.mul(y[i], y[i]), y2[i]);
            if D {
                // With their head start's e.
                ex[i] = s.expand(ex[i], m, s.load(&q.ex0[h..]));
                ey[i] = s.expand(ey[i], m, s.load(&q.ey0[h..]));
            }
            let empty = s.gt(zero, idx);
            let inf = s.splat(f64::INFINITY);
            let start = s.expand(s.load(&st.start[i * n..]), m, started);
            s.store(start, &mut st.start[i * n..]);
            let deadline = s.select(empty, inf, s.add(start, s.splat(e.max)));
            let old = s.load(&st.deadline[i * n..]);
            s.store(s.select(m, deadline, old), &mut st.deadline[i * n..]);
            if P {
                let first = s.splat(PERIODICITY_FIRST_SAVE as f64);
                sx[i] = s.select(m, s.select(empty, s.splat(f64::NAN), zero), sx[i]);
                let old = s.load(&st.sy[i * n..]);
                s.store(s.select(m, zero, old), &mut st.sy[i * n..]);
                let at = s.select(empty, inf, s.add(start, first));
                let old = s.load(&st.save_at[i * n..]);
                s.store(s.select(m, at, old), &mut st.save_at[i * n..]);
            }
            e.live += took;
            if took > 0 {
                // A head start is at most `HEAD_START` steps, less than the first save and
                // than the budget of a queued sample: these bounds are not past any lane's.
                let head = u64::from(HEAD_START);
                e.budget_k = e.budget_k.min(k + e.max_steps - head.min(e.max_steps - 1));
                if P {
                    e.save_k = e.save_k.min(k + PERIODICITY_FIRST_SAVE - head);
                }
            }
        }};
    }

    // Lanes left empty (at the start of the rows) take samples.
    if e.queue.avail() < W * n && !e.queue.done {
        e.queue
            .fill::<S, W, P, D>(s, e.grid, e.max_iterations, &mut e.pending, e.out, e.slopes);
    }
    if e.queue.avail() > 0 {
        let kv = s.splat(k as f64);
        for i in 0..W {
            let m = s.gt(zero, s.load(&st.idx[i * n..]));
            if s.bits(m) != 0 {
                refill!(i, m, kv);
            }
        }
    }

    while e.live > 0 && (!e.queue.done || e.queue.avail() > 0 || e.live > n * (W - 1)) {
        let stop_k = e.budget_k.min(e.save_k);
        // A chunk of steps with no test at all, then one test (see `CHUNK`). A chunk never
        // passes a budget's end or a periodicity save. `k0` is the step of its checkpoint.
        let k0 = k;
        let steps = CHUNK.min(stop_k - k);
        for i in 0..W {
            if wait_for > 1 {
                let keep = s.mask_andn(s.all_set(), waiting[i]);
                s.store_where(keep, x[i], &mut e.check_x[i * n..]);
                s.store_where(keep, y[i], &mut e.check_y[i * n..]);
                if D {
                    s.store_where(keep, ex[i], &mut e.check_ex[i * n..]);
                    s.store_where(keep, ey[i], &mut e.check_ey[i * n..]);
                }
            } else {
                s.store(x[i], &mut e.check_x[i * n..]);
                s.store(y[i], &mut e.check_y[i * n..]);
                if D {
                    s.store(ex[i], &mut e.check_ex[i * n..]);
                    s.store(ey[i], &mut e.check_ey[i * n..]);
                }
            }
        }
        // With periodicity detection, per vector: lanes whose x never equalled the saved x in
        // this chunk (one masked compare per step; a chain per vector, one compare long).
        let mut apart = [s.all_set(); W];
        macro_rules! step {
            () => {
                for i in 0..W {
                    if D {
                        slope_advance(s, [x[i], y[i]], [&mut ex[i], &mut ey[i]], sp);
                    }
                    advance(
                        s,
                        [&mut x[i], &mut y[i], &mut x2[i], &mut y2[i]],
                        cx[i],
                        cy[i],
                    );
                    if P {
                        apart[i] = s.and_ne(apart[i], x[i], sx[i]);
                    }
                }
            };
        }
        // Blocks of constant step counts, unrolled with no step counter to test: with a loop
        // of a variable count the compiler kept the lanes on the stack instead of in registers.
        // (Chunks are short where a lane's budget ends or it saves its z.)
        const { assert!(CHUNK == 8) };
        if steps == CHUNK {
            for _ in 0..CHUNK {
                step!();
            }
        } else {
            if steps & 4 != 0 {
                for _ in 0..4 {
                    step!();
                }
            }
            if steps & 2 != 0 {
                for _ in 0..2 {
                    step!();
                }
            }
            if steps & 1 != 0 {
                step!();
            }
        }
        k += steps;
        // An escaped orbit only grows (to infinity, then NaN): `<=` is false for both.
        let mut quiet = s.all_set();
        for i in 0..W {
            quiet = s.mask_and(quiet, s.mask_or(s.le(s.add(x2[i], y2[i]), r2), waiting[i]));
            if P {
                quiet = s.mask_and(quiet, apart[i]);
            }
        }
        let kv = s.splat(k as f64);
        if e.queue.avail() < W * n && !e.queue.done {
            e.queue
                .fill::<S, W, P, D>(s, e.grid, e.max_iterations, &mut e.pending, e.out, e.slopes);
        }
        // Waiting lanes cannot wait past a budget's end: they would pass for interior there.
        let due = k == e.budget_k;
        let mut stop = !s.all(quiet) || (any_waiting && due);
        if stop && wait_for > 1 && !due {
            let mut count = 0;
            let mut met = false;
            for i in 0..W {
                let escaped = s.mask_andn(s.all_set(), s.le(s.add(x2[i], y2[i]), r2));
                count += s.bits(escaped).count_ones();
                if P {
                    met |= s.bits(s.mask_or(apart[i], escaped)) != s.bits(s.all_set());
                }
            }
            if !met && count < wait_for {
                stop = false;
                any_waiting = true;
                let k0v = s.splat(k0 as f64);
                for i in 0..W {
                    let escaped = s.mask_andn(s.all_set(), s.le(s.add(x2[i], y2[i]), r2));
                    let new = s.mask_andn(escaped, waiting[i]);
                    s.store_where(new, k0v, &mut e.check_k[i * n..]);
                    waiting[i] = escaped;
                }
            }
        }
        if stop {
            // Lanes that escaped in the chunk (replayed later from the checkpoint, see
            // `Replay`) or whose x met the saved x (checked here): report and refill.
            let k0v = s.splat(k0 as f64);
            for i in 0..W {
                let escaped = s.mask_andn(s.all_set(), s.le(s.add(x2[i], y2[i]), r2));
                let mut finished = escaped;
                if P {
                    let met = s.mask_andn(s.mask_andn(s.all_set(), apart[i]), escaped);
                    if s.bits(met) != 0 {
                        // Rare: replayed here, lane by lane, for an exact repeat of the saved z.
                        let (cycle, done, saved) = periodic_lanes(
                            s,
                            st,
                            [&e.check_x, &e.check_y],
                            e.max,
                            i,
                            met,
                            [cx[i], cy[i], sx[i]],
                            (k0, steps),
                        );
                        e.replayed += done;
                        e.cycles_saved += saved;
                        finished = s.mask_or(finished, cycle);
                    }
                }
                if s.bits(finished) == 0 {
                    continue;
                }
                e.live -= s.bits(finished).count_ones() as usize;
                if s.bits(escaped) != 0 {
                    let idx = s.load(&st.idx[i * n..]);
                    let start = s.load(&st.start[i * n..]);
                    let from_k = if wait_for > 1 {
                        s.select(waiting[i], s.load(&e.check_k[i * n..]), k0v)
                    } else {
                        k0v
                    };
                    let (check_ex, check_ey) = if D {
                        (s.load(&e.check_ex[i * n..]), s.load(&e.check_ey[i * n..]))
                    } else {
                        (zero, zero)
                    };
                    e.replay.push::<S, D>(
                        s,
                        escaped,
                        [
                            s.load(&e.check_x[i * n..]),
                            s.load(&e.check_y[i * n..]),
                            cx[i],
                            cy[i],
                            idx,
                            s.sub(from_k, start),
                            check_ex,
                            check_ey,
                        ],
                    );
                }
                refill!(i, finished, kv);
            }
            waiting = [none; W];
            any_waiting = false;
            if e.replay.len >= REPLAY_BATCH {
                e.replayed +=
                    e.replay
                        .run::<S, W, D>(s, e.spacing, &mut e.pending, e.out, e.slopes);
            }
        }
        if P && k == e.save_k {
            // Brent: lanes at a power-of-two step save their z. (Lanes that wait save theirs too,
            // harmlessly: the refill that ends their wait resets the saved z and the next save.)
            let mut smallest = s.splat(f64::INFINITY);
            for i in 0..W {
                let at = s.load(&st.save_at[i * n..]);
                let due = s.eq(kv, at);
                sx[i] = s.select(due, x[i], sx[i]);
                let saved_y = s.select(due, y[i], s.load(&st.sy[i * n..]));
                s.store(saved_y, &mut st.sy[i * n..]);
                let start = s.load(&st.start[i * n..]);
                let at = s.select(due, s.sub(s.add(at, at), start), at);
                s.store(at, &mut st.save_at[i * n..]);
                smallest = s.min(smallest, at);
            }
            e.save_k = to_step(s.hmin(smallest));
        }
        if k == e.budget_k {
            // Lanes that used up their budget without escaping: interior (already in `out`).
            for i in 0..W {
                let due = s.eq(kv, s.load(&st.deadline[i * n..]));
                if s.bits(due) != 0 {
                    e.live -= s.bits(due).count_ones() as usize;
                    e.budget_reached += u64::from(s.bits(due).count_ones());
                    refill!(i, due, kv);
                }
            }
            let mut smallest = s.splat(f64::INFINITY);
            for i in 0..W {
                smallest = s.min(smallest, s.load(&st.deadline[i * n..]));
            }
            e.budget_k = to_step(s.hmin(smallest));
        }
    }
    // Lanes wait only while the live lanes cannot be packed (a stop that finishes them comes
    // before `live` can fall below that), so none are left waiting here.
    assert!(!any_waiting, "lanes left waiting");
    for i in 0..W {
        s.store(x[i], &mut st.x[i * n..]);
        s.store(y[i], &mut st.y[i * n..]);
        s.store(cx[i], &mut st.cx[i * n..]);
        s.store(cy[i], &mut st.cy[i * n..]);
        s.store(sx[i], &mut st.sx[i * n..]);
        if D {
            s.store(ex[i], &mut st.ex[i * n..]);
            s.store(ey[i], &mut st.ey[i * n..]);
        }
    }
    e.k = k;
}

/// The lanes `m` of vector `i` whose `x` equalled the saved `x` at some step of the chunk that
/// started at step `k0` and ran `steps` steps, replayed one at a time from the checkpoint with
/// the reference's test: those that came back exactly to the saved `z` (both bit patterns) are
/// periodic, and finish at that step. Returns them as a mask, with their iterations and what
/// detection saved on them. The others (equal `x` only) go on.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
#[cold]
fn periodic_lanes<S: Simd>(
    s: S,
    st: &Lanes,
    [check_x, check_y]: [&[f64; MAX_LANES]; 2],
    max: f64,
    i: usize,
    m: S::M,
    [cx, cy, sx]: [S::F; 3],
    (k0, steps): (u64, u64),
) -> (S::M, f64, f64) {
    let n = S::LANES;
    let mut lanes = [[0.0; 8]; 3];
    for (lane, v) in lanes.iter_mut().zip([cx, cy, sx]) {
        s.store(v, lane);
    }
    let mut found = [0.0; 8];
    let (mut iterations, mut saved) = (0.0, 0.0);
    let mut bits = s.bits(m);
    while bits != 0 {
        let l = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let at = i * n + l;
        let (cx, cy) = (lanes[0][l], lanes[1][l]);
        let (saved_x, saved_y) = (lanes[2][l].to_bits(), st.sy[at].to_bits());
        let (mut x, mut y) = (check_x[at], check_y[at]);
        for j in 1..=steps {
            let (x2, y2) = (x * x, y * y);
            let xy = x * y;
            y = (xy + xy) + cy;
            x = (x2 - y2) + cx;
            if x.to_bits() == saved_x && y.to_bits() == saved_y {
                let done = (k0 + j) as f64 - st.start[at];
                iterations += done;
                saved += max - done;
                found[l] = 1.0;
                break;
            }
        }
    }
    (s.gt(s.load(&found), s.splat(0.0)), iterations, saved)
}

#[cfg(test)]
mod tests {
    use num_complex::Complex64;

    use crate::kernel::check::{self, Case, assert_same, cases, row};
    use super::*;
    use crate::kernel::ScalarKernelWith;

    #[test]
    fn interleaved_matches_reference() {
        check::matches_reference("interleaved");
    }

    #[test]
    fn interleaved_rows_match_reference() {
        check::rows_match_reference("interleaved");
    }

    #[test]
    fn interleaved_slopes_match_reference() {
        check::slopes_match_reference("interleaved");
    }

    #[test]
    fn interleaved_cycles_and_saves_match_reference() {
        check::cycles_and_saves_match_reference("interleaved");
    }

    #[test]
    fn interleaved_chunk_edges_match_reference() {
        check::chunk_edges_match_reference("interleaved");
    }

    #[test]
    fn default_rows_loop_over_rows() {
        // The trait's default `escape_rows` (the scalar kernel's) is the reference row by row.
        let grid = SampleGrid::new(Complex64::new(-0.75, 0.1), 0.3, 10.0, 11, 4, 1);
        let kernel = ScalarKernelWith::default();
        let (all, spent) = check::rows(&kernel, &grid, 1..4, 500);
        let mut want_spent = 0;
        for (sy, chunk) in (1..4).zip(all.chunks_exact(11)) {
            let case = Case {
                grid,
                sy,
                max_iterations: 500,
            };
            let (want, n) = row(&kernel, &case);
            assert_same(chunk, &want, "default escape_rows");
            want_spent += n;
        }
        assert_eq!(spent, want_spent);
        let lanes = InterleavedKernel::default();
        assert_eq!(check::rows(&lanes, &grid, 2..2, 500), (Vec::new(), 0));
        let (got, _) = check::rows(&lanes, &grid, 0..4, 0);
        assert!(got.iter().all(|e| e.is_interior()));
    }

    #[test]
    fn periodicity_changes_work_not_escapes() {
        let on = ScalarKernelWith {
            options: KernelOptions::fixed(true),
        };
        let off = ScalarKernelWith {
            options: KernelOptions::fixed(false),
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

    /// Budgets below, at and above the head start's length, for every kernel this CPU has, on
    /// rows through the imaginary axis: there `x_1 = 0`, which the periodicity check compares
    /// with the saved `z_0 = 0`, and the head start hands such samples to the reference loop.
    /// (An orbit that comes back to exactly 0, the case that hand-over exists for, is only
    /// known at `c = 0` and `c = -1`, which the cardioid/bulb test takes first.)
    #[test]
    fn head_start_matches_reference_on_the_imaginary_axis_and_at_its_end() {
        let budgets = [1, 5, HEAD_START - 1, HEAD_START, HEAD_START + 1, 300, 1000];
        for name in crate::kernel::select::KERNEL_NAMES {
            for periodicity in [false, true] {
                let options = KernelOptions::fixed(periodicity);
                let Ok(kernel) = crate::kernel::select::kernel_by_name_with(name, options) else {
                    continue;
                };
                for (im, width) in [(1.0, 0.5), (0.65, 0.1), (-0.8, 0.3), (1.1, 2.0)] {
                    // 33 columns: the middle one lies exactly on re = 0.
                    let grid = SampleGrid::new(Complex64::new(0.0, im), width, 0.0, 33, 5, 1);
                    assert_eq!(grid.point(16, 2).re.to_bits(), 0, "a sample at re = +0");
                    for &max_iterations in &budgets {
                        let (got, spent) =
                            check::rows(kernel.as_ref(), &grid, 0..5, max_iterations);
                        let (want, want_spent) =
                            check::rows(&ScalarKernelWith { options }, &grid, 0..5, max_iterations);
                        let what = format!(
                            "{name}, periodicity {periodicity}, im {im}, max {max_iterations}"
                        );
                        assert_same(&got, &want, &what);
                        assert_eq!(spent, want_spent, "{what}: iterations");
                    }
                }
            }
        }
    }

    #[test]
    fn periodic_point_stops_early() {
        // c = i: 0, i, -1+i, -i, -1+i, ... exactly, so the check finds the cycle at once.
        let (e, spent) = escape_point_with(0.0, 1.0, 777, KernelOptions::fixed(true));
        assert!(e.is_interior());
        assert!(spent <= PERIODICITY_FIRST_SAVE + 4, "{spent}");
        let grid = SampleGrid::new(Complex64::new(0.0, 1.0), 1e-300, 0.0, 5, 1, 1);
        for periodicity in [false, true] {
            let options = KernelOptions::fixed(periodicity);
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

    /// With the default options the lane kernels switch periodicity detection off and on as
    /// they go (`adaptive`), and the escapes stay the reference's.
    #[test]
    fn adaptive_periodicity_keeps_the_escapes() {
        let reference = ScalarKernelWith {
            options: KernelOptions::fixed(true),
        };
        let count = if cfg!(miri) { 3 } else { 40 };
        for name in crate::kernel::select::KERNEL_NAMES {
            if name == "scalar" {
                continue;
            }
            let Ok(kernel) =
                crate::kernel::select::kernel_by_name_with(name, KernelOptions::default())
            else {
                continue;
            };
            adaptive::reset();
            let (mut seen_off, mut seen_on) = (false, false);
            for (seed, heavy) in [(7, false), (11, true), (13, false)] {
                for mut case in cases(seed, count, heavy) {
                    if heavy {
                        case.max_iterations = if cfg!(miri) { 800 } else { 4000 };
                    }
                    seen_on |= adaptive::periodicity_now();
                    seen_off |= !adaptive::periodicity_now();
                    let (got, _) = row(kernel.as_ref(), &case);
                    let (want, _) = row(&reference, &case);
                    assert_same(&got, &want, &format!("{name}, adaptive: {case:?}"));
                }
            }
            assert!(
                seen_on && seen_off,
                "{name}: detection was switched both ways"
            );
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
