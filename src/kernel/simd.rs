//! The x86-64 SIMD kernels: the lane engine of [`super::interleaved`] on AVX2 (4 lanes per
//! vector) and AVX-512 (8 lanes per vector), four vectors in flight.
//!
//! The vectors and the entry points compiled for each instruction set are in
//! `crate::arch::x86::escape`; here are the safe [`Kernel`]s around them. [`super::select`]
//! picks the best kernel the CPU has, or the one that `ZOOMGEN_KERNEL` names.
//!
//! Why four vectors: a step is a dependency chain of about a dozen cycles (multiply, add, add)
//! while its instructions take a few cycles of issue, so one vector leaves the units idle most of
//! the time; four independent vectors (32 lanes with AVX-512) fill the gaps, and still fit the
//! register file (x, y, x^2, y^2, cx, cy, saved x per vector).

use std::ops::Range;

#[cfg(all(target_arch = "x86_64", not(miri)))]
use super::interleaved::{escape_row_lanes, escape_rows_lanes};
use super::{Escape, Kernel, KernelOptions, SampleGrid, Slope};
#[cfg(all(target_arch = "x86_64", not(miri)))]
use crate::arch::x86::escape::{Avx2, Avx512};
#[cfg(all(target_arch = "x86_64", not(miri)))]
use crate::arch::{Simd, Work};

/// The AVX2 kernel (4 lanes per vector, 4 vectors).
#[derive(Debug, Clone, Copy)]
pub struct Avx2Kernel {
    options: KernelOptions,
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    token: Avx2,
}

/// The AVX-512 kernel (8 lanes per vector, 4 vectors).
#[derive(Debug, Clone, Copy)]
pub struct Avx512Kernel {
    options: KernelOptions,
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    token: Avx512,
}

impl Avx2Kernel {
    /// The kernel, if this CPU has AVX2 (`None` otherwise, and on other architectures).
    pub fn new(options: KernelOptions) -> Option<Self> {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            Avx2::detect().map(|token| Avx2Kernel { options, token })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = options;
            None
        }
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn options(&self) -> KernelOptions {
        self.options
    }
}

impl Avx512Kernel {
    /// The kernel, if this CPU has AVX-512F (`None` otherwise, and on other architectures).
    pub fn new(options: KernelOptions) -> Option<Self> {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            Avx512::detect().map(|token| Avx512Kernel { options, token })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = options;
            None
        }
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn options(&self) -> KernelOptions {
        self.options
    }
}

/// Vectors in flight in both SIMD kernels.
#[cfg(all(target_arch = "x86_64", not(miri)))]
const VECTORS: usize = 4;

/// Vectors in flight with slopes (each lane's derivative takes two more registers).
#[cfg(all(target_arch = "x86_64", not(miri)))]
const SLOPE_VECTORS: usize = 2;

impl Kernel for Avx2Kernel {
    fn name(&self) -> &'static str {
        "avx2"
    }

    fn escape_row(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            self.token.run(Row { token: self.token, options: self.options, grid, sy, max_iterations, out })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, sy, max_iterations, out);
            unreachable!("an Avx2Kernel cannot be constructed on this target")
        }
    }

    fn escape_rows(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            self.token.run(Rows { token: self.token, options: self.options, grid, rows, max_iterations, out, slopes: None })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, rows, max_iterations, out);
            unreachable!("an Avx2Kernel cannot be constructed on this target")
        }
    }

    fn slope_rows(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            self.token.run(Rows { token: self.token, options: self.options, grid, rows, max_iterations, out, slopes: Some(slopes) })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, rows, max_iterations, out, slopes);
            unreachable!("an Avx2Kernel cannot be constructed on this target")
        }
    }
}

impl Kernel for Avx512Kernel {
    fn name(&self) -> &'static str {
        "avx512"
    }

    fn escape_row(
        &self,
        grid: &SampleGrid,
        sy: u32,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            self.token.run(Row { token: self.token, options: self.options, grid, sy, max_iterations, out })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, sy, max_iterations, out);
            unreachable!("an Avx512Kernel cannot be constructed on this target")
        }
    }

    fn escape_rows(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            self.token.run(Rows { token: self.token, options: self.options, grid, rows, max_iterations, out, slopes: None })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, rows, max_iterations, out);
            unreachable!("an Avx512Kernel cannot be constructed on this target")
        }
    }

    fn slope_rows(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        max_iterations: u32,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> u64 {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            self.token.run(Rows { token: self.token, options: self.options, grid, rows, max_iterations, out, slopes: Some(slopes) })
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        {
            let _ = (grid, rows, max_iterations, out, slopes);
            unreachable!("an Avx512Kernel cannot be constructed on this target")
        }
    }
}
#[cfg(all(target_arch = "x86_64", not(miri)))]
/// One sample row of the lane engine, as work to compile for an instruction set.
struct Row<'a, S> {
    token: S,
    options: KernelOptions,
    grid: &'a SampleGrid,
    sy: u32,
    max_iterations: u32,
    out: &'a mut [Escape],
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
impl<S: Simd> Work for Row<'_, S> {
    type Output = u64;
    #[inline(always)]
    fn call(self) -> u64 {
        escape_row_lanes::<S, VECTORS>(
            self.token,
            self.options,
            self.grid,
            self.sy,
            self.max_iterations,
            self.out,
        )
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
/// Sample rows of the lane engine, streamed through one set of lanes, as work to compile for an
/// instruction set.
struct Rows<'a, S> {
    token: S,
    options: KernelOptions,
    grid: &'a SampleGrid,
    rows: Range<u32>,
    max_iterations: u32,
    out: &'a mut [Escape],
    slopes: Option<&'a mut [Slope]>,
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
impl<S: Simd> Work for Rows<'_, S> {
    type Output = u64;
    #[inline(always)]
    fn call(self) -> u64 {
        let row_len = self.grid.samples_x;
        if self.slopes.is_some() {
            return escape_rows_lanes::<S, SLOPE_VECTORS>(
                self.token,
                self.options,
                self.grid,
                self.rows,
                row_len,
                self.max_iterations,
                self.out,
                self.slopes,
            );
        }
        escape_rows_lanes::<S, VECTORS>(
            self.token,
            self.options,
            self.grid,
            self.rows,
            row_len,
            self.max_iterations,
            self.out,
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::kernel::check;

    #[test]
    fn avx2_matches_reference() {
        check::matches_reference("avx2");
    }

    #[test]
    fn avx512_matches_reference() {
        check::matches_reference("avx512");
    }

    #[test]
    fn avx2_rows_match_reference() {
        check::rows_match_reference("avx2");
    }

    #[test]
    fn avx512_rows_match_reference() {
        check::rows_match_reference("avx512");
    }

    #[test]
    fn avx2_slopes_match_reference() {
        check::slopes_match_reference("avx2");
    }

    #[test]
    fn avx512_slopes_match_reference() {
        check::slopes_match_reference("avx512");
    }

    #[test]
    fn avx2_cycles_and_saves_match_reference() {
        check::cycles_and_saves_match_reference("avx2");
    }

    #[test]
    fn avx512_cycles_and_saves_match_reference() {
        check::cycles_and_saves_match_reference("avx512");
    }

    #[test]
    fn avx2_chunk_edges_match_reference() {
        check::chunk_edges_match_reference("avx2");
    }

    #[test]
    fn avx512_chunk_edges_match_reference() {
        check::chunk_edges_match_reference("avx512");
    }
}
