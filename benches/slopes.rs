//! What the derivative costs: each kernel rendering the same frame with escapes only
//! ([`Kernel::escape_rows`]) and with slopes ([`Kernel::slope_rows`], the derivative carried
//! for distance estimation and lighting), alternating, in bands of 4 rows on one thread as the
//! pipeline hands them; and the coloring of the same samples by count and by distance.
//!
//! ```text
//! cargo bench --bench slopes              # 5 alternating pairs per row of the table
//! cargo bench --bench slopes -- --reps 9
//! cargo bench --bench slopes -- --kernels avx2,avx512 --plain-only
//! ```
//!
//! Prints a Markdown table: median seconds per frame without and with slopes, and the median
//! of the per-pair ratios (this machine's speed drifts; a ratio of two runs seconds apart is
//! steadier than a ratio of medians).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use num_complex::Complex64;
use zoomgen::color::{Coloring, Cycle, FrameColor, Look};
use zoomgen::deep::{
    BLA_EPS, Cx, DeltaGrid, Fixed, FixedC, FloatExp, PerturbKernel, ReferenceOrbit, locate,
};
use zoomgen::kernel::{Escape, Kernel, SampleGrid, SampleRow, Slope};
use zoomgen::scene::{BitDepth, ColorBy, ColorSettings, Fps, Video};

/// Rows per kernel call, as the pipeline's default band.
const BAND: u32 = 4;

/// Seconds to render `grid` with `kernel`, with or without slopes.
fn frame(kernel: &dyn Kernel, grid: &SampleGrid, max: u32, slopes: bool) -> f64 {
    let width = grid.samples_x as usize;
    let mut escapes = vec![Escape::INTERIOR; width * BAND as usize];
    let mut slope = vec![Slope::NONE; width * BAND as usize];
    let t = Instant::now();
    let mut sy = 0;
    while sy < grid.samples_y {
        let band = BAND.min(grid.samples_y - sy);
        let n = width * band as usize;
        if slopes {
            kernel.slope_rows(grid, sy..sy + band, max, &mut escapes[..n], &mut slope[..n]);
        } else {
            kernel.escape_rows(grid, sy..sy + band, max, &mut escapes[..n]);
        }
        sy += band;
    }
    t.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// `reps` alternating pairs of `a` and `b`: medians of each and of the ratios `b / a`.
fn pairs(reps: usize, mut a: impl FnMut() -> f64, mut b: impl FnMut() -> f64) -> (f64, f64, f64) {
    let (mut ta, mut tb, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let x = a();
        let y = b();
        ta.push(x);
        tb.push(y);
        ratio.push(y / x);
    }
    (median(ta), median(tb), median(ratio))
}

fn row(what: &str, (a, b, r): (f64, f64, f64)) {
    println!(
        "| {what} | {:.1} ms | {:.1} ms | {r:.2}x |",
        a * 1e3,
        b * 1e3
    );
}

fn main() {
    let arg = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let reps = arg("--reps").and_then(|r| r.parse().ok()).unwrap_or(5);
    let kernels = arg("--kernels").unwrap_or("scalar,interleaved,avx2,avx512".into());
    let plain_only = std::env::args().any(|a| a == "--plain-only");
    println!("| frame, kernel | escapes only | with slopes | ratio (median of pairs) |");
    println!("|---|---|---|---|");

    // Plain f64: a 960x540 seahorse-valley frame at 1e-6 (counts in the thousands) and the
    // whole set (most samples escape within a few steps).
    let views = [
        (
            "seahorse 1e-6",
            Complex64::new(-0.743_643_887_037_158_7, 0.131_825_904_205_312),
            1e-6,
            4000,
        ),
        ("whole set", Complex64::new(-0.75, 0.0), 3.5, 500),
    ];
    for (name, center, width, max) in views {
        let grid = SampleGrid::new(center, width, 0.0, 960, 540, 1);
        for kernel_name in kernels.split(',') {
            let Ok(kernel) = zoomgen::kernel::select::kernel_by_name(kernel_name) else {
                continue;
            };
            let k = kernel.as_ref();
            let r = pairs(
                reps,
                || frame(k, &grid, max, false),
                || frame(k, &grid, max, true),
            );
            row(&format!("{name}, {kernel_name}"), r);
        }
    }

    if plain_only {
        return;
    }
    // Deep: 480x270 at 1e-100 and 1e-1000 near the Misiurewicz point M(24,2), with BLA.
    let start = FixedC {
        re: Fixed::parse("-0.74329189085243019", 60).unwrap(),
        im: Fixed::parse("0.13124055230879761", 60).unwrap(),
    };
    let m = locate::newton(&start, 24, 2, 200).unwrap().0;
    for depth in [100u32, 1000] {
        let frac = Fixed::frac_for_bits((f64::from(depth) * 3.33) as u64 + 80);
        let scale = FloatExp::exp(-f64::from(depth) * std::f64::consts::LN_10);
        let off = Cx {
            re: scale * FloatExp::from_f64(0.17),
            im: scale * FloatExp::from_f64(0.11),
        };
        let c = m.with_frac(frac).add(&FixedC::from_fe(off, frac));
        let max = 100_000;
        let orbit = Arc::new(ReferenceOrbit::compute(&c, max, &mut |_| {}));
        let ln_w = -f64::from(depth) * std::f64::consts::LN_10;
        let (w, h) = (480, 270);
        let dg = DeltaGrid::new(Cx::zero(), ln_w, 0.0, w);
        let grid = SampleGrid::new(Complex64::new(0.0, 0.0), 1.0, 0.0, w, h, 1);
        let glitches = Arc::new(AtomicU64::new(0));
        let kernel: Box<dyn Kernel> = if depth == 100 {
            Box::new(PerturbKernel::<f64>::new(
                orbit, dg, w, h, BLA_EPS, glitches,
            ))
        } else {
            Box::new(PerturbKernel::<FloatExp>::new(
                orbit, dg, w, h, BLA_EPS, glitches,
            ))
        };
        let k = kernel.as_ref();
        let r = pairs(
            reps,
            || frame(k, &grid, max, false),
            || frame(k, &grid, max, true),
        );
        row(&format!("1e-{depth} (BLA), {}", k.name()), r);
    }

    // The coloring of one 960x540 frame's samples (2x2 per pixel): by count (the palette's
    // path) and by distance with lighting and boundary shading.
    let grid = SampleGrid::new(views[0].1, views[0].2, 0.0, 1920, 1080, 1);
    let kernel = zoomgen::kernel::select_kernel().unwrap();
    let len = (grid.samples_x * grid.samples_y) as usize;
    let (mut escapes, mut slopes) = (vec![Escape::INTERIOR; len], vec![Slope::NONE; len]);
    kernel.slope_rows(&grid, 0..grid.samples_y, 4000, &mut escapes, &mut slopes);
    let video = Video {
        width: 960,
        height: 540,
        fps: Fps::whole(30),
        frames: 1,
        bit_depth: BitDepth::Eight,
        dither: true,
    };
    let count = Look::new(&ColorSettings::default(), &video);
    let distance = Look::new(
        &ColorSettings {
            by: ColorBy::Distance,
            boundary: 1.0,
            light: 0.6,
            ..ColorSettings::default()
        },
        &video,
    );
    let fc = FrameColor {
        cycle: Cycle::new(8.0, 0.5),
        x_axis: [1.0, 0.0],
        frame: 0,
        depth: BitDepth::Eight,
        dither: true,
    };
    let color = |look: &Look| {
        let mut out = vec![0u8; 960 * 3];
        let row_len = 1920 * 2;
        let t = Instant::now();
        for r in 0..540 {
            let at = r * row_len..(r + 1) * row_len;
            let samples = SampleRow {
                escape: &escapes[at.clone()],
                slope: if look.reads_slopes() {
                    &slopes[at]
                } else {
                    &[]
                },
            };
            look.color_row(&fc, r as u32, samples, 2, &mut out);
        }
        t.elapsed().as_secs_f64()
    };
    row(
        "coloring 960x540 (2x2), by count -> by distance with light and boundary",
        pairs(reps, || color(&count), || color(&distance)),
    );
}
