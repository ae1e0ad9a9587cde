//! Deep-zoom timings (plain main, `harness = false`): `cargo bench --bench deep`.
//!
//! Prints: plain f64 iterations/s (ScalarKernel), the rate of the AVX-512 delta loop's orbit
//! gathers alone (the floor of any step that gathers `Z_m` per lane), perturbation
//! iterations/s without BLA (f64 and FloatExp deltas), a whole frame at 1e-100 with BLA on one
//! thread, and reference-orbit times. Set `DEEP_BENCH_FULL=1` for the 1920x1080 frame at
//! 1e-100 with 100,000 iterations.
//! Kernels get bands of 4 rows per call, as the pipeline hands them by default (before session
//! 7 they got one row per call, which starves the second pass's vector loop of samples).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use zoomgen::deep::{
    BLA_EPS, Cx, DeltaGrid, Fixed, FixedC, FloatExp, PerturbKernel, ReferenceOrbit, locate,
};
use zoomgen::kernel::{Escape, Kernel, SampleGrid, ScalarKernel};

const FRAC: usize = 58;

fn misiurewicz() -> FixedC {
    let start = FixedC {
        re: Fixed::parse("-0.74329189085243019", FRAC).unwrap(),
        im: Fixed::parse("0.13124055230879761", FRAC).unwrap(),
    };
    locate::newton(&start, 24, 2, 200).unwrap().0
}

fn near(m: &FixedC, depth: u32, frac: usize) -> FixedC {
    let scale = FloatExp::exp(-f64::from(depth) * std::f64::consts::LN_10);
    let off = Cx {
        re: scale * FloatExp::from_f64(0.17),
        im: scale * FloatExp::from_f64(0.11),
    };
    m.with_frac(frac).add(&FixedC::from_fe(off, frac))
}

/// The colleague's one-sample-at-a-time path of a perturbation kernel, as a [`Kernel`].
struct OneByOne<'a, T: zoomgen::deep::num::floatexp::Real>(&'a PerturbKernel<T>);

impl<T: zoomgen::deep::num::floatexp::Real> Kernel for OneByOne<'_, T> {
    fn name(&self) -> &'static str {
        "one-by-one"
    }
    fn escape_row(&self, grid: &SampleGrid, sy: u32, max: u32, out: &mut [Escape]) -> u64 {
        self.0.escape_row_scalar(grid, sy, max, out)
    }
    /// (Not one by one: the kernel's own; the bench times escapes only.)
    fn slope_rows(
        &self,
        grid: &SampleGrid,
        rows: std::ops::Range<u32>,
        max: u32,
        out: &mut [Escape],
        slopes: &mut [zoomgen::kernel::Slope],
    ) -> u64 {
        self.0.slope_rows(grid, rows, max, out, slopes)
    }
}

/// Rows per kernel call: the band height the pipeline hands its workers by default.
const BAND: u32 = 4;

/// Renders `w` x `h` samples with `kernel` on this thread, [`BAND`] rows per call as the
/// pipeline does; returns (seconds, iterations, interior samples).
fn frame(kernel: &dyn Kernel, grid: &SampleGrid, max: u32) -> (f64, u64, u64) {
    let width = grid.samples_x as usize;
    let mut rows = vec![Escape::INTERIOR; width * BAND as usize];
    let t = Instant::now();
    let mut its = 0;
    let mut interior = 0;
    let mut sy = 0;
    while sy < grid.samples_y {
        let band = BAND.min(grid.samples_y - sy);
        let out = &mut rows[..width * band as usize];
        its += kernel.escape_rows(grid, sy..sy + band, max, out);
        interior += out.iter().filter(|e| e.is_interior()).count() as u64;
        sy += band;
    }
    (t.elapsed().as_secs_f64(), its, interior)
}

fn main() {
    let m = misiurewicz();
    // 1. Plain f64: a seahorse-valley frame at 1e-6, scalar, portable interleaved and the
    //    kernel `select_kernel` picks (AVX-512 on this machine).
    let grid = SampleGrid::new(
        num_complex::Complex64::new(-0.7436438870371587, 0.131825904205312),
        1e-6,
        0.0,
        240,
        135,
        1,
    );
    let best = zoomgen::kernel::select_kernel().expect("a kernel");
    let interleaved = zoomgen::kernel::InterleavedKernel::default();
    let kernels: [(&str, &dyn Kernel); 3] = [
        ("scalar", &ScalarKernel),
        ("interleaved", &interleaved),
        (best.name(), best.as_ref()),
    ];
    let mut plain_rates = Vec::new();
    for (name, k) in kernels {
        let (s, its, _) = frame(k, &grid, 20_000);
        let rate = its as f64 / s;
        plain_rates.push((name, rate));
        println!(
            "plain {name} kernel: {:.1} M iterations/s ({its} iterations, {s:.2} s)",
            rate / 1e6
        );
    }
    let ratios = |rate: f64| {
        plain_rates
            .iter()
            .map(|(n, r)| format!("{:.2}x {n}", r / rate))
            .collect::<Vec<_>>()
            .join(", ")
    };

    // 2. The orbit loads alone: how fast any delta step that gathers `Z_m` per lane can go.
    if let Some(simd) = zoomgen::arch::x86::delta::DeltaLockstep::detect() {
        let len = 100_001;
        let re: Vec<f64> = (0..len).map(|i| (i as f64 * 0.37).sin()).collect();
        let im: Vec<f64> = (0..len).map(|i| (i as f64 * 0.61).cos()).collect();
        let steps = 20_000u32;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % (len - steps as usize) as u64) as usize
        };
        let starts: [[usize; 8]; 4] = std::array::from_fn(|_| std::array::from_fn(|_| next()));
        let mut rates = Vec::new();
        let mut kept = 0.0;
        for _ in 0..15 {
            let t = Instant::now();
            if let Some(sum) = simd.gather_probe((&re, &im), &starts, steps) {
                rates.push(32.0 * f64::from(steps) / t.elapsed().as_secs_f64());
                kept += sum;
            }
        }
        if !rates.is_empty() {
            rates.sort_by(f64::total_cmp);
            let rate = rates[rates.len() / 2];
            println!(
                "orbit gathers alone (2 per 8 lanes and step, 4 vectors in flight, one multiply-add): {:.1} M lane-steps/s (cost per step: {}) [{kept:.0}]",
                rate / 1e6,
                ratios(rate)
            );
        }
    }

    for (depth, label) in [(100u32, "f64 deltas"), (1000, "FloatExp deltas")] {
        let frac = Fixed::frac_for_bits((f64::from(depth) * 3.33) as u64 + 80);
        let c = near(&m, depth, frac);
        let max = 100_000;
        let t = Instant::now();
        let orbit = Arc::new(ReferenceOrbit::compute(&c, max, &mut |_| {}));
        let orbit_s = t.elapsed().as_secs_f64();
        println!(
            "1e-{depth}: reference orbit {} iterations at {} bits: {orbit_s:.2} s ({:.2} us/iteration), {} bytes",
            orbit.len() - 1,
            64 * frac,
            orbit_s * 1e6 / (orbit.len() - 1) as f64,
            orbit.memory_bytes()
        );
        let ln_w = -f64::from(depth) * std::f64::consts::LN_10;
        let no_bla = if depth == 100 {
            (160u32, 90u32)
        } else {
            (64, 36)
        };
        for (w, h, eps, name) in [
            (no_bla.0, no_bla.1, 0.0, "no BLA"),
            (480, 270, BLA_EPS, "BLA"),
        ] {
            let dg = DeltaGrid::new(Cx::zero(), ln_w, 0.0, w);
            let g = SampleGrid::new(num_complex::Complex64::new(0.0, 0.0), 1.0, 0.0, w, h, 1);
            let glitches = Arc::new(AtomicU64::new(0));
            let t = Instant::now();
            let (s, its, interior) = if depth == 100 {
                let k = PerturbKernel::<f64>::new(orbit.clone(), dg, w, h, eps, glitches.clone());
                let build = t.elapsed().as_secs_f64();
                let (s1, its1, _) = frame(&OneByOne(&k), &g, max);
                println!(
                    "   one sample at a time (before): {s1:.3} s, {:.1} M iterations/s",
                    its1 as f64 / s1 / 1e6
                );
                let kp = PerturbKernel::<f64>::new(orbit.clone(), dg, w, h, eps, glitches.clone())
                    .portable_lanes();
                let (s0, its0, _) = frame(&kp, &g, max);
                let r = frame(&k, &g, max);
                println!(
                    "   portable lanes (before): {s0:.3} s, {:.1} M iterations/s (cost per iteration: {}); {} lanes below",
                    its0 as f64 / s0 / 1e6,
                    ratios(its0 as f64 / s0),
                    k.lanes_name()
                );
                println!(
                    "   table build {build:.3} s, {} bytes, steps {} ({:.1}% in untested chunks), ill-conditioned samples iterated again over the three runs {} ({} of them in fixed point)",
                    k.table_bytes(),
                    k.steps(),
                    100.0 * k.chunked_steps() as f64 / k.steps().max(1) as f64,
                    k.exact_samples(),
                    k.fixed_samples()
                );
                r
            } else {
                let k =
                    PerturbKernel::<FloatExp>::new(orbit.clone(), dg, w, h, eps, glitches.clone());
                let build = t.elapsed().as_secs_f64();
                let (s1, its1, _) = frame(&OneByOne(&k), &g, max);
                println!(
                    "   one sample at a time, FloatExp throughout (before): {s1:.3} s, {:.1} M iterations/s",
                    its1 as f64 / s1 / 1e6
                );
                let kp =
                    PerturbKernel::<FloatExp>::new(orbit.clone(), dg, w, h, eps, glitches.clone())
                        .portable_lanes();
                let (s0, its0, _) = frame(&kp, &g, max);
                let r = frame(&k, &g, max);
                println!(
                    "   portable lanes (before): {s0:.3} s, {:.1} M iterations/s (cost per iteration: {}); {} lanes below",
                    its0 as f64 / s0 / 1e6,
                    ratios(its0 as f64 / s0),
                    k.lanes_name()
                );
                println!(
                    "   table build {build:.3} s, {} bytes, steps {} ({:.1}% in untested chunks), ill-conditioned samples iterated again over the three runs {} ({} of them in fixed point)",
                    k.table_bytes(),
                    k.steps(),
                    100.0 * k.chunked_steps() as f64 / k.steps().max(1) as f64,
                    k.exact_samples(),
                    k.fixed_samples()
                );
                r
            };
            println!(
                "1e-{depth} {label}, {name}: {w}x{h} in {s:.3} s, {:.1} M iterations/s (cost per iteration: {}), {:.2} us/sample, interior {interior}",
                its as f64 / s / 1e6,
                ratios(its as f64 / s),
                s * 1e6 / f64::from(w * h)
            );
        }
    }
    if std::env::var("DEEP_BENCH_FULL").is_ok() {
        let depth = 100;
        let frac = Fixed::frac_for_bits((f64::from(depth) * 3.33) as u64 + 80);
        let c = near(&m, depth, frac);
        let max = 100_000;
        let t = Instant::now();
        let orbit = Arc::new(ReferenceOrbit::compute(&c, max, &mut |_| {}));
        let dg = DeltaGrid::new(
            Cx::zero(),
            -f64::from(depth) * std::f64::consts::LN_10,
            0.0,
            1920,
        );
        let k =
            PerturbKernel::<f64>::new(orbit, dg, 1920, 1080, BLA_EPS, Arc::new(AtomicU64::new(0)));
        let g = SampleGrid::new(
            num_complex::Complex64::new(0.0, 0.0),
            1.0,
            0.0,
            1920,
            1080,
            1,
        );
        let (s, its, interior) = frame(&k, &g, max);
        println!(
            "1920x1080 at 1e-100, 100000 max iterations, one thread: {s:.2} s render + {:.2} s orbit and table; {its} iterations, interior {interior}, {} ill-conditioned samples iterated again ({} of them in fixed point)",
            t.elapsed().as_secs_f64() - s,
            k.exact_samples(),
            k.fixed_samples()
        );
    }
}
