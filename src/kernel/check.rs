//! Checks shared by the tests of every kernel: seeded random views compared with the scalar
//! reference, row by row and in bands, with and without periodicity detection.

use num_complex::Complex64;

use super::scalar::{escape_point, reference_slope_rows};
use super::select::kernel_by_name_with;
use super::{Escape, Kernel, KernelOptions, SampleGrid, ScalarKernelWith, Slope};
use super::interleaved::{CHUNK, HEAD_START};
use crate::testing::XorShift;


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

/// Views of exponential-map rings ([`super::PolarRings`]): rings about points near the
/// boundary and in a bulb, angle counts that are not multiples of the lane counts.
pub(crate) fn ring_views() -> Vec<(SampleGrid, u32)> {
    let centers = [
        Complex64::new(-0.743_643_887_037_158_7, 0.131_825_904_205_311_97),
        Complex64::new(-0.101_096_363_845_622, 0.956_286_510_809_142),
        Complex64::new(-0.22, 0.7449),
    ];
    let mut views = Vec::new();
    for (i, center) in centers.into_iter().enumerate() {
        for (angles, rows, ln_top) in [(13u32, 5u32, -2.0), (37, 9, -6.0), (100, 4, -12.0)] {
            let rings = super::PolarRings {
                ln_top,
                ln_step: std::f64::consts::LN_2 / f64::from(rows),
                units: super::unit_circle(angles),
            };
            let spacing = (ln_top - 1.0).exp();
            let max = [300, 1500, 800][i];
            views.push((SampleGrid::rings(center, rings, angles, rows, spacing), max));
        }
    }
    views
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

/// Escapes of sample rows `rows` in one [`Kernel::escape_rows`] call.
pub(crate) fn rows(
    kernel: &dyn Kernel,
    grid: &SampleGrid,
    rows: std::ops::Range<u32>,
    max_iterations: u32,
) -> (Vec<Escape>, u64) {
    let mut out = vec![Escape { n: 7, nf: 0.5 }; rows.len() * grid.samples_x as usize];
    let spent = kernel.escape_rows(grid, rows, max_iterations, &mut out);
    (out, spent)
}

/// The kernel called `name` with `options`, or `None` (with a note) where this CPU lacks it.
pub(crate) fn kernel_or_skip(name: &str, options: KernelOptions) -> Option<Box<dyn Kernel>> {
    match kernel_by_name_with(name, options) {
        Ok(k) => Some(k),
        Err(_) => {
            crate::arch::skip_test_without(name);
            None
        }
    }
}

/// The reference's escapes of sample rows `rows`, one row at a time, and its iterations.
pub(crate) fn reference_rows(
    options: KernelOptions,
    grid: &SampleGrid,
    rows: std::ops::Range<u32>,
    max_iterations: u32,
) -> (Vec<Escape>, u64) {
    let reference = ScalarKernelWith { options };
    let (mut want, mut spent) = (Vec::new(), 0);
    for sy in rows {
        let case = Case {
            grid: *grid,
            sy,
            max_iterations,
        };
        let (r, n) = row(&reference, &case);
        want.extend(r);
        spent += n;
    }
    (want, spent)
}

/// Compares [`Kernel::escape_rows`] of the kernel called `name` with the reference's rows,
/// one at a time: random views cut into bands of 1 to 6 sample rows (row lengths that are
/// not multiples of the lane counts), and views whose rows end inside a bulb, so that the
/// last samples of each row run long.
pub(crate) fn rows_match_reference(name: &str) {
    let count = if cfg!(miri) { 3 } else { 40 };
    for periodicity in [false, true] {
        let options = KernelOptions::fixed(periodicity);
        let Some(kernel) = kernel_or_skip(name, options) else {
            return;
        };
        let mut rng = XorShift(0x5151_7e57 ^ u64::from(periodicity));
        let mut views: Vec<(SampleGrid, u32)> = Vec::new();
        for heavy in [false, true] {
            for case in cases(rng.next(), count, heavy) {
                views.push((case.grid, case.max_iterations.min(2000)));
            }
        }
        views.extend(ring_views());
        // Rows whose right ends lie inside the period-3 bulb (not a shortcut region):
        // slowly converging interior points at the end of every row.
        for (len, max) in [(5, 3000), (13, 1500), (37, 800), (100, 300)] {
            // The bulb's left edge is near -0.217: the right ends of the rows lie just
            // inside it, where orbits converge slowly.
            let width = 0.04;
            let center = Complex64::new(-0.22, 0.7449);
            let ss = 1 + len % 2;
            views.push((SampleGrid::new(center, width, 0.0, len, 7, ss), max));
        }
        for (v, (grid, max)) in views.iter().enumerate() {
            let band = 1 + (rng.next() % 6) as u32;
            let mut start = 0;
            while start < grid.samples_y {
                let end = (start + band).min(grid.samples_y);
                let (got, spent) = rows(kernel.as_ref(), grid, start..end, *max);
                let (want, want_spent) = reference_rows(options, grid, start..end, *max);
                let what = format!(
                    "{name}, periodicity {periodicity}, view {v} ({grid:?}, max {max}), \
                     rows {start}..{end}"
                );
                assert_same(&got, &want, &what);
                assert_eq!(spent, want_spent, "{what}: iterations");
                start = end;
                if cfg!(miri) {
                    break;
                }
            }
        }
    }
}

/// Compares the kernel called `name` with the reference where chunks and budgets meet:
/// every budget from the head start's end to three chunks past it, on rows whose samples
/// escape at every count in that range (so some escape at a chunk's last step, at its
/// first, and at the step where the budget ends), without periodicity detection.
pub(crate) fn chunk_edges_match_reference(name: &str) {
    let options = KernelOptions::fixed(false);
    let Some(kernel) = kernel_or_skip(name, options) else {
        return;
    };
    let reference = ScalarKernelWith { options };
    let first = HEAD_START - 1;
    let last = HEAD_START + 3 * CHUNK as u32 + 1;
    // A row through the boundary near the tip of the seahorse valley: counts climb from a
    // few steps to thousands along it.
    let grid = SampleGrid::new(Complex64::new(-0.7436, 0.1318), 0.02, 0.0, 301, 9, 1);
    for max_iterations in (first..=last).chain([1000]) {
        for sy in 0..grid.samples_y {
            let case = Case {
                grid,
                sy,
                max_iterations,
            };
            let (want, want_spent) = row(&reference, &case);
            if max_iterations == last && sy == 0 {
                let counts =
                    |lo: u32, hi: u32| want.iter().filter(|e| (lo..hi).contains(&e.n)).count();
                assert!(
                    counts(HEAD_START + 1, last) > 20,
                    "few samples escape in the chunks"
                );
            }
            let (got, spent) = row(kernel.as_ref(), &case);
            let what = format!("{name}, chunk edges, max {max_iterations}, row {sy}");
            assert_same(&got, &want, &what);
            assert_eq!(spent, want_spent, "{what}: iterations");
        }
    }
}

/// Compares the kernel called `name` with the reference, with and without periodicity
/// detection, on views centred on exact cycles (`c = -2`, `c = +-i`, with one sample on
/// them) and in bulbs, with budgets just past the head start and around the periodicity
/// saves at 256, 512 and 1024 steps, where chunks end early and exact repeats are replayed.
/// Whole bands and single rows; escapes and iteration counts.
pub(crate) fn cycles_and_saves_match_reference(name: &str) {
    let centers = [
        Complex64::new(-2.0, 0.0),
        Complex64::new(0.0, 1.0),
        Complex64::new(0.0, -1.0),
        Complex64::new(-0.1226, 0.7449),
        Complex64::new(-1.3107, 0.0),
        Complex64::new(-0.5043, 0.5627),
        Complex64::new(-1.7549, 0.0),
        Complex64::new(-0.7436, 0.1318),
        Complex64::new(-1.25, 0.0),
    ];
    let mut rng = XorShift(0x00c7_c1e5_a7e5);
    let count = if cfg!(miri) { 2 } else { 120 };
    for _ in 0..count {
        let center = rng.pick(&centers);
        let width = 4.0 * 10f64.powf(-(rng.unit() * 14.0));
        let rotation = if rng.next().is_multiple_of(2) {
            0.0
        } else {
            360.0 * rng.unit()
        };
        // Odd lengths and heights put one sample exactly on the center.
        let len = 1 + 2 * (rng.next() % 45) as u32;
        let height = 1 + 2 * (rng.next() % 4) as u32;
        let max = match rng.next() % 5 {
            0 => 30 + (rng.next() % 40) as u32,
            1 => 250 + (rng.next() % 25) as u32,
            2 => 505 + (rng.next() % 25) as u32,
            3 => 1020 + (rng.next() % 20) as u32,
            _ => 1 + (rng.next() % 3000) as u32,
        };
        let grid = SampleGrid::new(center, width, rotation, len, height, 1);
        for periodicity in [false, true] {
            let options = KernelOptions::fixed(periodicity);
            let Some(kernel) = kernel_or_skip(name, options) else {
                return;
            };
            let (want, want_spent) = reference_rows(options, &grid, 0..height, max);
            let what = format!(
                "{name}, periodicity {periodicity}, center {center}, width {width:e}, \
                 rotation {rotation}, {len}x{height}, max {max}"
            );
            let (got, spent) = rows(kernel.as_ref(), &grid, 0..height, max);
            assert_same(&got, &want, &what);
            assert_eq!(spent, want_spent, "{what}: iterations");
            let sy = (rng.next() % u64::from(height)) as u32;
            let case = Case {
                grid,
                sy,
                max_iterations: max,
            };
            let (got, _) = row(kernel.as_ref(), &case);
            let start = (sy * len) as usize;
            assert_same(&got, &want[start..start + len as usize], &what);
        }
    }
}

/// Compares the kernel called `name` with the reference on many random rows, with and
/// without periodicity detection; skips (with a note) when this CPU lacks the kernel.
pub(crate) fn matches_reference(name: &str) {
    let count = if cfg!(miri) { 4 } else { 60 };
    for periodicity in [false, true] {
        let options = KernelOptions::fixed(periodicity);
        let Some(kernel) = kernel_or_skip(name, options) else {
            return;
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

/// Asserts that two rows of slopes agree bit for bit.
pub(crate) fn assert_same_slopes(a: &[Slope], b: &[Slope], what: &str) {
    assert_eq!(a.len(), b.len());
    let bits = |s: &Slope| [s.z[0], s.z[1], s.e[0], s.e[1]].map(f32::to_bits);
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(bits(p) == bits(q), "{what}: sample {i}: {p:?} != {q:?}");
    }
}

/// Compares [`Kernel::slope_rows`] of the kernel called `name` with the reference's, in bands
/// of 1 to 6 sample rows, with and without periodicity detection: the escapes and iterations
/// are [`Kernel::escape_rows`]'s, and the slopes the reference's, bit for bit. Views: random
/// rows near the boundary and in bulbs, and the chunk-edge row (every budget from the head
/// start's end to three chunks past it: samples that escape at every step of a chunk).
pub(crate) fn slopes_match_reference(name: &str) {
    let count = if cfg!(miri) { 3 } else { 30 };
    for periodicity in [false, true] {
        let options = KernelOptions::fixed(periodicity);
        let Some(kernel) = kernel_or_skip(name, options) else {
            return;
        };
        let mut rng = XorShift(0x0051_0be5 ^ u64::from(periodicity));
        let mut views: Vec<(SampleGrid, u32)> = Vec::new();
        for heavy in [false, true] {
            for case in cases(rng.next(), count, heavy) {
                views.push((case.grid, case.max_iterations.min(2000)));
            }
        }
        views.extend(ring_views());
        let edge = SampleGrid::new(Complex64::new(-0.7436, 0.1318), 0.02, 30.0, 101, 5, 1);
        let budgets = HEAD_START - 1..=HEAD_START + 3 * CHUNK as u32 + 1;
        views.extend(budgets.step_by(3).map(|max| (edge, max)));
        let mut escaped = 0;
        for (v, (grid, max)) in views.iter().enumerate() {
            let band = 1 + (rng.next() % 6) as u32;
            let mut start = 0;
            while start < grid.samples_y {
                let end = (start + band).min(grid.samples_y);
                let len = (end - start) as usize * grid.samples_x as usize;
                let mut got = vec![Escape { n: 7, nf: 0.5 }; len];
                let mut got_slopes = vec![Slope::at_escape([1.0; 2], [1.0; 2]); len];
                let spent = kernel.slope_rows(grid, start..end, *max, &mut got, &mut got_slopes);
                let mut want = vec![Escape::INTERIOR; len];
                let mut want_slopes = vec![Slope::NONE; len];
                let want_spent = reference_slope_rows(
                    grid,
                    start..end,
                    *max,
                    &mut want,
                    &mut want_slopes,
                    options,
                );
                let what = format!(
                    "{name}, slopes, periodicity {periodicity}, view {v} ({grid:?}, max {max}), \
                     rows {start}..{end}"
                );
                assert_same(&got, &want, &what);
                assert_same_slopes(&got_slopes, &want_slopes, &what);
                assert_eq!(spent, want_spent, "{what}: iterations");
                let (plain, _) = rows(kernel.as_ref(), grid, start..end, *max);
                assert_same(&plain, &got, &format!("{what}: escape_rows"));
                escaped += want.iter().filter(|e| !e.is_interior()).count();
                start = end;
                if cfg!(miri) {
                    break;
                }
            }
        }
        assert!(escaped > 1000, "{name}: only {escaped} escaped samples compared");
    }
}
