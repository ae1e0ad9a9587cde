//! Kernel throughput in iterations per second (criterion's "elem/s").
//!
//! `cargo bench --bench kernel` (about a minute and a half on one core). Each group runs every kernel this
//! CPU has on the same rows; the throughput is the number of iterations the reference kernel
//! counts for those rows (measured once, before timing), so the rates compare useful work:
//!
//! - `interior`: a row of points inside the period-3 bulb (not covered by the cardioid/bulb
//!   shortcut), periodicity detection off, so every point runs its whole budget: the raw rate.
//! - `seahorse`: 64 rows spread over a 1920x1080 frame in seahorse valley (width 1e-5, 3000
//!   iterations), where neighbouring pixels escape at very different counts; with periodicity
//!   detection always on, and without.
//! - `seahorse-auto`: the same rows with the default options (detection switched off by the
//!   lane kernels where it does not pay, `KernelOptions::adaptive`). Their iteration counts
//!   depend on what each thread rendered before, so the throughput here is the `seahorse`
//!   group's (the reference with detection on): the rates of the two groups compare time.
//! - `full`, `full-auto`, `full-noperiod`: 64 rows of the whole set (20,000 iterations), where
//!   detection saves most of the work: with it always on, adaptive, and off.
//! - `seahorse-bands`: the same view as `render_band` hands it to a kernel: 16 bands of 4
//!   consecutive rows, one `escape_rows` call per band (periodicity detection on).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use num_complex::Complex64;
use zoomgen::kernel::{
    Avx2Kernel, Avx512Kernel, Escape, InterleavedKernel, Kernel, KernelOptions, SampleGrid,
    ScalarKernelWith,
};

/// Rows of one view to benchmark.
struct Rows {
    grid: SampleGrid,
    /// First rows of the bands (one row each unless `band > 1`).
    rows: Vec<u32>,
    max_iterations: u32,
    /// Rows per call: 1 calls `escape_row`, more call `escape_rows` on that many rows.
    band: u32,
}

impl Rows {
    fn run(&self, kernel: &dyn Kernel, out: &mut [Escape]) -> u64 {
        self.rows
            .iter()
            .map(|&sy| {
                if self.band == 1 {
                    kernel.escape_row(&self.grid, sy, self.max_iterations, out)
                } else {
                    let rows = sy..sy + self.band;
                    kernel.escape_rows(&self.grid, rows, self.max_iterations, out)
                }
            })
            .sum()
    }
}

fn kernels(options: KernelOptions) -> Vec<Box<dyn Kernel>> {
    let mut list: Vec<Box<dyn Kernel>> = vec![
        Box::new(ScalarKernelWith { options }),
        Box::new(InterleavedKernel::new(options)),
    ];
    match Avx2Kernel::new(options) {
        Some(k) => list.push(Box::new(k)),
        None => eprintln!("note: no AVX2 on this CPU, skipping avx2"),
    }
    match Avx512Kernel::new(options) {
        Some(k) => list.push(Box::new(k)),
        None => eprintln!("note: no AVX-512F on this CPU, skipping avx512"),
    }
    list
}

/// A group of short measurements whose throughput is `iterations` per run.
fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    iterations: u64,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(iterations));
    group
}

fn bench_rows(c: &mut Criterion, group_name: &str, rows: &Rows, options: KernelOptions) {
    let mut out = vec![Escape::INTERIOR; (rows.grid.samples_x * rows.band) as usize];
    // The work to do, as the reference counts it; every kernel must count the same.
    let iterations = rows.run(&ScalarKernelWith { options }, &mut out);
    let mut group = group(c, group_name, iterations);
    for kernel in kernels(options) {
        assert_eq!(
            rows.run(kernel.as_ref(), &mut out),
            iterations,
            "{}",
            kernel.name()
        );
        group.bench_function(kernel.name(), |b| {
            b.iter(|| black_box(rows.run(kernel.as_ref(), black_box(&mut out))))
        });
    }
    group.finish();
}

/// The lane kernels with the default (adaptive) options: escapes checked against the
/// reference, throughput counted as the reference with periodicity detection on counts it.
fn bench_adaptive(c: &mut Criterion, group_name: &str, rows: &Rows) {
    let mut want = vec![Escape::INTERIOR; (rows.grid.samples_x * rows.band) as usize];
    let mut out = want.clone();
    let options = KernelOptions::fixed(true);
    let iterations = rows.run(&ScalarKernelWith { options }, &mut want);
    let mut group = group(c, group_name, iterations);
    for kernel in kernels(KernelOptions::default()) {
        if kernel.name() == "scalar" {
            continue; // the reference: no adaptive choice
        }
        // The last row of each set is in `out` after a run: it must be the reference's.
        rows.run(kernel.as_ref(), &mut out);
        assert!(out == want, "{}: escapes differ", kernel.name());
        group.bench_function(kernel.name(), |b| {
            b.iter(|| black_box(rows.run(kernel.as_ref(), black_box(&mut out))))
        });
    }
    group.finish();
}

fn interior(c: &mut Criterion) {
    // 512 points of a tiny patch inside the period-3 bulb, 4000 steps each.
    let grid = SampleGrid::new(Complex64::new(-0.1226, 0.7449), 1e-3, 0.0, 512, 1, 1);
    let rows = Rows {
        grid,
        rows: vec![0],
        max_iterations: 4000,
        band: 1,
    };
    let mut out = vec![Escape::INTERIOR; 512];
    rows.run(&ScalarKernelWith::default(), &mut out);
    assert!(
        out.iter().all(|e| e.is_interior()),
        "the interior row escapes"
    );
    bench_rows(c, "interior", &rows, KernelOptions::fixed(false));
}

fn seahorse(c: &mut Criterion) {
    let center = Complex64::new(-0.743_643_887_037_158_7, 0.131_825_904_205_311_97);
    let grid = SampleGrid::new(center, 1e-5, 0.0, 1920, 1080, 1);
    let rows = Rows {
        grid,
        rows: (0..64).map(|i| 8 + i * 17).collect(),
        max_iterations: 3000,
        band: 1,
    };
    periodicity_groups(c, "seahorse", &rows);
    let bands = Rows {
        grid,
        rows: (0..16).map(|i| 8 + i * 68).collect(),
        max_iterations: 3000,
        band: 4,
    };
    periodicity_groups(c, "seahorse-bands", &bands);
}

/// The whole set, where many samples are interior outside the cardioid and the period-2 bulb
/// (which the shortcut covers): periodicity detection saves most of their budgets, and the
/// adaptive choice must keep it.
fn full_set(c: &mut Criterion) {
    let grid = SampleGrid::new(Complex64::new(-0.75, 0.0), 3.5, 0.0, 1920, 1080, 1);
    let rows = Rows {
        grid,
        rows: (0..64).map(|i| 8 + i * 17).collect(),
        max_iterations: 20_000,
        band: 1,
    };
    periodicity_groups(c, "full", &rows);
}

/// Groups `name` (periodicity detection always on), `name-auto` (adaptive, the default) and
/// `name-noperiod` (off) on the same rows.
fn periodicity_groups(c: &mut Criterion, name: &str, rows: &Rows) {
    bench_rows(c, name, rows, KernelOptions::fixed(true));
    bench_adaptive(c, &format!("{name}-auto"), rows);
    bench_rows(
        c,
        &format!("{name}-noperiod"),
        rows,
        KernelOptions::fixed(false),
    );
}

criterion_group!(benches, interior, seahorse, full_set);
criterion_main!(benches);
