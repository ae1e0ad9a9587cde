//! The scalar reference kernel: one sample at a time, the plainest correct code.
//!
//! Every faster kernel is tested against this one. It applies the interior shortcut
//! ([`super::in_cardioid_or_bulb`]) and otherwise iterates exactly as the module docs of
//! [`super`] describe.

use super::{
    ESCAPE_RADIUS_SQ, Escape, Kernel, KernelOptions, PERIODICITY_FIRST_SAVE, SampleGrid,
    in_cardioid_or_bulb,
    sample::{Slope, slope_step},
};

/// The reference kernel, without periodicity detection (see [`ScalarKernelWith`] for that).
#[derive(Debug, Default, Clone, Copy)]
#[cfg(any(test, feature = "internals"))]
pub struct ScalarKernel;

/// The reference kernel with [`KernelOptions`] (periodicity detection on or off).
#[derive(Debug, Default, Clone, Copy)]
pub struct ScalarKernelWith {
    pub options: KernelOptions,
}

/// Escape of the single point `(cx, cy)`, and the iterations spent on it (no periodicity
/// detection).
#[inline]
#[cfg(any(test, feature = "internals"))]
pub fn escape_point(cx: f64, cy: f64, max_iterations: u32) -> (Escape, u64) {
    let (escape, _, spent) = iterate::<false, false>(cx, cy, max_iterations, 0.0);
    (escape, spent)
}

/// Escape of the single point `(cx, cy)` and the iterations spent on it, with `options`.
///
/// The escape is the same whatever the options; with periodicity detection, an orbit that comes
/// back exactly to a saved value stops early, counting the steps done so far.
#[inline]
pub fn escape_point_with(
    cx: f64,
    cy: f64,
    max_iterations: u32,
    options: KernelOptions,
) -> (Escape, u64) {
    let (escape, _, spent) = if options.periodicity {
        iterate::<true, false>(cx, cy, max_iterations, 0.0)
    } else {
        iterate::<false, false>(cx, cy, max_iterations, 0.0)
    };
    (escape, spent)
}

/// [`escape_point_with`], with the sample's [`Slope`] (`spacing`: the sample spacing `s`).
#[inline]
pub fn slope_point_with(
    cx: f64,
    cy: f64,
    max_iterations: u32,
    options: KernelOptions,
    spacing: f64,
) -> (Escape, Slope, u64) {
    if options.periodicity {
        iterate::<true, true>(cx, cy, max_iterations, spacing)
    } else {
        iterate::<false, true>(cx, cy, max_iterations, spacing)
    }
}

/// The reference iteration; with `SLOPE`, `e = s dz/dc` too ([`slope_step`] before each step
/// of `z`, from the same `z_n`).
#[inline(always)]
fn iterate<const PERIODICITY: bool, const SLOPE: bool>(
    cx: f64,
    cy: f64,
    max_iterations: u32,
    spacing: f64,
) -> (Escape, Slope, u64) {
    if in_cardioid_or_bulb(cx, cy) {
        return (Escape::INTERIOR, Slope::NONE, 0);
    }
    let (mut x, mut y) = (0.0f64, 0.0f64);
    let (mut ex, mut ey) = (0.0f64, 0.0f64);
    // Brent's cycle finder: the saved z (bit patterns) and the step count of the next save.
    let (mut saved_x, mut saved_y) = (0u64, 0u64);
    let mut next_save = PERIODICITY_FIRST_SAVE;
    let mut n = 0u32;
    loop {
        let x2 = x * x;
        let y2 = y * y;
        let norm = x2 + y2;
        if norm > ESCAPE_RADIUS_SQ {
            let slope = if SLOPE {
                Slope::at_escape([x, y], [ex, ey])
            } else {
                Slope::NONE
            };
            return (Escape::escaped(n, norm), slope, u64::from(n));
        }
        if n == max_iterations {
            return (Escape::INTERIOR, Slope::NONE, u64::from(n));
        }
        if SLOPE {
            (ex, ey) = slope_step(x, y, ex, ey, spacing);
        }
        let xy = x * y;
        y = (xy + xy) + cy;
        x = (x2 - y2) + cx;
        n += 1;
        if PERIODICITY {
            if x.to_bits() == saved_x && y.to_bits() == saved_y {
                // z_n repeats an earlier value whose whole cycle passed the escape test.
                return (Escape::INTERIOR, Slope::NONE, u64::from(n));
            }
            if u64::from(n) == next_save {
                (saved_x, saved_y) = (x.to_bits(), y.to_bits());
                next_save *= 2;
            }
        }
    }
}

fn reference_row(
    grid: &SampleGrid,
    sy: u32,
    max_iterations: u32,
    out: &mut [Escape],
    options: KernelOptions,
) -> u64 {
    let mut iterations = 0;
    for (sx, slot) in (0u32..).zip(out.iter_mut()) {
        let c = grid.point(sx, sy);
        let (escape, spent) = escape_point_with(c.re, c.im, max_iterations, options);
        *slot = escape;
        iterations += spent;
    }
    iterations
}

/// The reference for [`Kernel::slope_rows`].
pub(crate) fn reference_slope_rows(
    grid: &SampleGrid,
    rows: std::ops::Range<u32>,
    max_iterations: u32,
    out: &mut [Escape],
    slopes: &mut [Slope],
    options: KernelOptions,
) -> u64 {
    let width = grid.samples_x as usize;
    assert_eq!(out.len(), rows.len() * width, "slope_rows: output size");
    assert_eq!(slopes.len(), out.len(), "slope_rows: slope size");
    let spacing = grid.spacing();
    let mut iterations = 0;
    for (i, (slot, slope)) in out.iter_mut().zip(slopes.iter_mut()).enumerate() {
        let (sx, sy) = ((i % width) as u32, rows.start + (i / width) as u32);
        let c = grid.point(sx, sy);
        let (escape, s, spent) = slope_point_with(c.re, c.im, max_iterations, options, spacing);
        (*slot, *slope) = (escape, s);
        iterations += spent;
    }
    iterations
}

#[cfg(any(test, feature = "internals"))]
impl Kernel for ScalarKernel {
    fn name(&self) -> &'static str {
        "scalar"
    }

    fn escape_row(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        reference_row(grid, sy, max_iterations, out, KernelOptions::fixed(false))
    }

    fn slope_rows(
        &self,
        grid: &SampleGrid,
        rows: std::ops::Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> u64 {
        let options = KernelOptions::fixed(false);
        reference_slope_rows(grid, rows, max_iterations, out, slopes, options)
    }
}

impl Kernel for ScalarKernelWith {
    fn name(&self) -> &'static str {
        "scalar"
    }

    fn escape_row(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        reference_row(grid, sy, max_iterations, out, self.options)
    }

    fn slope_rows(
        &self,
        grid: &SampleGrid,
        rows: std::ops::Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> u64 {
        reference_slope_rows(grid, rows, max_iterations, out, slopes, self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct iteration with complex numbers, no shortcuts: an independent check.
    fn naive_count(cx: f64, cy: f64, max: u32) -> Option<u32> {
        let c = num_complex::Complex64::new(cx, cy);
        let mut z = num_complex::Complex64::new(0.0, 0.0);
        for n in 0..=max {
            if z.norm_sqr() > ESCAPE_RADIUS_SQ {
                return Some(n);
            }
            z = z * z + c;
        }
        None
    }

    #[test]
    fn points_in_the_cardioid_and_bulb_never_escape() {
        for (x, y) in [
            (0.0, 0.0),
            (-0.5, 0.3),
            (0.2, 0.0),
            (-1.0, 0.0),
            (-1.1, 0.1),
            (0.25, 0.0),
        ] {
            assert!(in_cardioid_or_bulb(x, y), "({x}, {y})");
            let (e, spent) = escape_point(x, y, 10_000);
            assert!(e.is_interior());
            assert_eq!(spent, 0);
            assert_eq!(naive_count(x, y, 10_000), None);
        }
    }

    #[test]
    fn shortcut_regions_are_inside_the_set() {
        // Points just outside the regions are not claimed; points inside really are bounded.
        assert!(!in_cardioid_or_bulb(0.26, 0.0));
        assert!(!in_cardioid_or_bulb(-1.26, 0.0));
        assert!(!in_cardioid_or_bulb(-0.75, 0.1));
        let mut rng = crate::testing::XorShift(0x2545_f491_4f6c_dd1du64);
        for _ in 0..2000 {
            let state = rng.next();
            let x = -2.0 + 2.5 * ((state >> 11) as f64 / (1u64 << 53) as f64);
            let y = 1.25 * ((state & 0xffff) as f64 / 65536.0);
            if in_cardioid_or_bulb(x, y) {
                assert_eq!(naive_count(x, y, 5000), None, "({x}, {y}) claimed interior");
            }
        }
    }

    #[test]
    fn known_escape_counts() {
        // c = 1: z = 0, 1, 2, 5, 26, 677 -> |z_5| > 256.
        assert_eq!(escape_point(1.0, 0.0, 100).0.n, 5);
        // c = 2: z = 0, 2, 6, 38, 1446.
        assert_eq!(escape_point(2.0, 0.0, 100).0.n, 4);
        // c = 300: |z_1| = 300 > 256.
        assert_eq!(escape_point(300.0, 0.0, 100).0.n, 1);
        // c = -2 is in the set (z = 0, -2, 2, 2, ...).
        assert!(escape_point(-2.0, 0.0, 1000).0.is_interior());
        // c = i is in the set (z cycles 0, i, -1+i, -i, -1+i, ...), and not in a shortcut region.
        assert!(!in_cardioid_or_bulb(0.0, 1.0));
        let (e, spent) = escape_point(0.0, 1.0, 777);
        assert!(e.is_interior());
        assert_eq!(spent, 777);
        // A budget too small: c = 1 escapes at 5, so with 4 steps it is still interior.
        assert!(escape_point(1.0, 0.0, 4).0.is_interior());
        assert_eq!(escape_point(1.0, 0.0, 5).0.n, 5);
    }

    #[test]
    fn counts_match_naive_iteration() {
        for i in 0..200 {
            let x = -2.1 + 2.7 * (i as f64 / 199.0);
            for j in 0..50 {
                let y = 1.3 * (j as f64 / 49.0);
                let (e, _) = escape_point(x, y, 300);
                match naive_count(x, y, 300) {
                    Some(n) => assert_eq!(e.n, n, "({x}, {y})"),
                    None => assert!(e.is_interior(), "({x}, {y})"),
                }
            }
        }
    }

    #[test]
    fn smooth_count_is_continuous_across_steps() {
        // Walk along the real axis from c = 0.3 outwards: N falls step by step, but N + NF
        // changes only a little between close points.
        let mut last = escape_point(0.3, 0.0, 10_000).0.smooth();
        for k in 1..2000 {
            let x = 0.3 + k as f64 * 1e-3;
            let s = escape_point(x, 0.0, 10_000).0.smooth();
            assert!(s <= last + 1e-9, "smooth count grows at {x}");
            assert!(last - s < 0.5, "jump of {} at {x}", last - s);
            last = s;
        }
    }

    #[test]
    fn grid_maps_pixels_from_whole_image_coordinates() {
        let grid = SampleGrid::new(num_complex::Complex64::new(-0.5, 0.0), 4.0, 0.0, 4, 2, 1);
        // Pixel (0, 0) is at the top-left: x + 0.5 - W/2 = -1.5 pixels, 1 pixel = 1.0.
        let p = grid.point(0, 0);
        assert!(
            (p.re - (-2.0)).abs() < 1e-15 && (p.im - 0.5).abs() < 1e-15,
            "{p}"
        );
        let p = grid.point(3, 1);
        assert!(
            (p.re - 1.0).abs() < 1e-15 && (p.im + 0.5).abs() < 1e-15,
            "{p}"
        );
        // A 90-degree turn maps "right" to "up".
        let turned = SampleGrid::new(num_complex::Complex64::new(0.0, 0.0), 4.0, 90.0, 4, 4, 1);
        let p = turned.point(3, 1); // u = 1.5, v = -0.5
        assert!(
            (p.re + 0.5).abs() < 1e-12 && (p.im - 1.5).abs() < 1e-12,
            "{p}"
        );
        // Supersampling spreads samples evenly inside each pixel.
        let ss = SampleGrid::new(num_complex::Complex64::new(0.0, 0.0), 4.0, 0.0, 4, 2, 2);
        let a = ss.point(0, 0);
        assert!(
            (a.re - (-1.75)).abs() < 1e-15 && (a.im - 0.75).abs() < 1e-15,
            "{a}"
        );
    }
}
