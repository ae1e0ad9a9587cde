//! One band of one frame: samples from the kernel, colored into RGB rows.
//!
//! This is the unit of work the pipeline hands to a worker. A band reads only whole-image
//! coordinates (through [`SampleGrid`]), so its pixels do not depend on where the band starts
//! or how tall it is.

use std::ops::Range;

use std::sync::Arc;

use crate::color::Coloring;
use crate::expmap::MapKernel;
use crate::kernel::sample::EscapeCounts;
use crate::kernel::{Escape, Kernel, SampleRow, Slope};
use super::job::FrameJob;

/// What renders a frame's bands.
#[derive(Clone)]
pub enum FrameKernel {
    /// A kernel's samples, colored by the run's coloring.
    Samples(Arc<dyn Kernel>),
    /// Pixels assembled from an exponential map and colored from its shades (or, when the
    /// samples are kept for `--data`, the map's samples colored as a kernel's).
    Map(Arc<MapKernel>),
}

impl std::fmt::Debug for FrameKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameKernel::Samples(kernel) => write!(f, "Samples({})", kernel.name()),
            FrameKernel::Map(_) => write!(f, "Map"),
        }
    }
}

/// Counts gathered while rendering, summed over bands and frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderStats {
    /// Iterations computed (shortcuts that prove a point interior count as zero).
    pub iterations: u64,
    /// Samples rendered.
    pub samples: u64,
    /// Samples that did not escape within the budget.
    pub interior: u64,
    /// Sum of escape counts over escaped samples.
    pub escape_sum: u64,
    /// Largest escape count of an escaped sample.
    pub escape_max: u32,
}

impl RenderStats {
    /// Adds another set of counts to this one.
    pub fn add(&mut self, other: &RenderStats) {
        self.iterations += other.iterations;
        self.samples += other.samples;
        self.interior += other.interior;
        self.escape_sum += other.escape_sum;
        self.escape_max = self.escape_max.max(other.escape_max);
    }

    /// Mean escape count of escaped samples (0 when none escaped).
    pub fn escape_mean(&self) -> f64 {
        let escaped = self.samples - self.interior;
        if escaped == 0 {
            0.0
        } else {
            self.escape_sum as f64 / escaped as f64
        }
    }

    /// Share of samples that reached the iteration budget, in `[0, 1]`.
    pub fn interior_share(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.interior as f64 / self.samples as f64
        }
    }

    /// Counts a row of samples: with [`crate::arch::x86::color::DirectColor::count`] where the CPU
    /// has it, the rest (or all) with the portable loop.
    fn count(&mut self, samples: &[Escape]) {
        let (done, simd) = match crate::kernel::select::direct_color() {
            Some(direct) => direct.count(samples),
            None => (0, EscapeCounts::default()),
        };
        let rest = count_portable(&samples[done..]);
        self.samples += samples.len() as u64;
        self.interior += simd.interior + rest.interior;
        self.escape_sum += simd.sum + rest.sum;
        self.escape_max = self.escape_max.max(simd.max).max(rest.max);
    }
}

/// [`RenderStats::count`]'s portable loop, the definition
/// [`crate::arch::x86::color::DirectColor::count`] follows.
fn count_portable(samples: &[Escape]) -> EscapeCounts {
    // Without branches: interior and escaped samples alternate unpredictably.
    let (mut interior, mut sum, mut max) = (0u64, 0u64, 0u32);
    for e in samples {
        let inside = e.is_interior();
        let n = if inside { 0 } else { e.n };
        interior += u64::from(inside);
        sum += u64::from(n);
        max = max.max(n);
    }
    EscapeCounts { interior, sum, max }
}

/// A band's samples, kept by a worker from one band to the next (only sized per band: the
/// kernel writes every slot).
#[derive(Debug, Default)]
pub struct BandScratch {
    escapes: Vec<Escape>,
    slopes: Vec<Slope>,
}

/// Renders pixel rows `rows` of `job` into `out` (RGB bytes, `rows.len()` rows).
///
/// All sample rows of the band go to the kernel in one [`Kernel::escape_rows`] call (or
/// [`Kernel::slope_rows`], where the coloring reads slopes), so that a lane kernel streams them
/// through one set of lanes (the slow samples at the end of one row overlap with the next row's
/// work); then each pixel row goes through the coloring step. When `data` is given, every
/// sample's [`Escape`] and [`Slope`] are appended to it too (row by row, sample rows in order;
/// the kernel then carries the derivative whatever the coloring reads).
pub fn render_band(
    job: &FrameJob,
    kernel: &FrameKernel,
    coloring: &dyn Coloring,
    rows: Range<u32>,
    scratch: &mut BandScratch,
    out: &mut [u8],
    data: Option<(&mut Vec<Escape>, &mut Vec<Slope>)>,
) -> RenderStats {
    match kernel {
        FrameKernel::Map(map) if data.is_none() => {
            // Counted over the map samples the pixels averaged.
            let (samples, counts) =
                map.color_rows(&job.grid, &job.color, job.supersample, rows, out);
            RenderStats {
                iterations: 0,
                samples,
                interior: counts.interior,
                escape_sum: counts.sum,
                escape_max: counts.max,
            }
        }
        FrameKernel::Map(map) => {
            render_samples(job, map.as_ref(), coloring, rows, scratch, out, data)
        }
        FrameKernel::Samples(kernel) => {
            render_samples(job, kernel.as_ref(), coloring, rows, scratch, out, data)
        }
    }
}

/// [`render_band`] with a kernel's samples.
fn render_samples(
    job: &FrameJob,
    kernel: &dyn Kernel,
    coloring: &dyn Coloring,
    rows: Range<u32>,
    scratch: &mut BandScratch,
    out: &mut [u8],
    mut data: Option<(&mut Vec<Escape>, &mut Vec<Slope>)>,
) -> RenderStats {
    let ss = job.supersample;
    let samples_x = job.grid.samples_x as usize;
    let pixel_row_samples = samples_x * ss as usize;
    let sample_rows = rows.start * ss..rows.end * ss;
    let rows_start = rows.start;
    let len = sample_rows.len() * samples_x;
    scratch.escapes.resize(len, Escape::INTERIOR);
    let max = job.view.max_iterations;
    let with_slopes = coloring.reads_slopes() || data.is_some();
    let iterations = if with_slopes {
        scratch.slopes.resize(len, Slope::NONE);
        let (escapes, slopes) = (&mut scratch.escapes, &mut scratch.slopes);
        kernel.slope_rows(&job.grid, sample_rows, max, escapes, slopes)
    } else {
        scratch.slopes.clear();
        kernel.escape_rows(&job.grid, sample_rows, max, &mut scratch.escapes)
    };
    let mut stats = RenderStats {
        iterations,
        ..RenderStats::default()
    };
    if pixel_row_samples == 0 {
        return stats;
    }
    for (r, row_out) in out
        .chunks_exact_mut(job.row_bytes())
        .enumerate()
        .take(len / pixel_row_samples)
    {
        let at = r * pixel_row_samples..(r + 1) * pixel_row_samples;
        let samples = &scratch.escapes[at.clone()];
        stats.count(samples);
        let slope = if with_slopes { &scratch.slopes[at] } else { &[] };
        if let Some((escapes, slopes)) = data.as_mut() {
            escapes.extend_from_slice(samples);
            slopes.extend_from_slice(slope);
        }
        let row = SampleRow {
            escape: samples,
            slope,
        };
        coloring.color_row(&job.color, rows_start + r as u32, row, ss as usize, row_out);
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86::color::DirectColor;

    /// The SIMD counts equal the portable loop's on rows of every length, with interior
    /// samples, the largest counts, and sums past `u32::MAX`.
    #[test]
    fn simd_counts_match_the_portable_loop() {
        let Some(direct) = DirectColor::detect() else {
            crate::arch::skip_test_without("avx512");
            return;
        };
        let mut rng = crate::testing::XorShift(0x9e37_79b9_7f4a_7c15u64);
        let mut next = move || rng.next();
        for len in [0usize, 1, 7, 8, 9, 63, 1920, 5000] {
            let samples: Vec<Escape> = (0..len)
                .map(|_| match next() % 4 {
                    0 => Escape::INTERIOR,
                    1 => Escape::escaped(u32::MAX - 1 - (next() % 5) as u32, 1e6),
                    _ => Escape::escaped((next() % 100_000) as u32, 1e6),
                })
                .collect();
            let (done, simd) = direct.count(&samples);
            assert_eq!(done, len / 8 * 8);
            let rest = count_portable(&samples[done..]);
            let want = count_portable(&samples);
            let got = EscapeCounts {
                interior: simd.interior + rest.interior,
                sum: simd.sum + rest.sum,
                max: simd.max.max(rest.max),
            };
            assert_eq!(got, want, "{len} samples");
            if len >= 1920 {
                assert!(want.sum > u64::from(u32::MAX) && want.interior > 0);
            }
        }
    }
}
