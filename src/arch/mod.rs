//! Every CPU-specific instruction of the crate, behind safe wrappers; its `x86` half is the one
//! module that may use `unsafe`.
//!
//! The concepts (plain kernels, deep zoom, coloring) sit above this layer and reach the
//! intrinsics only through it: [`simd::Simd`], the lane engine's vector vocabulary with its
//! portable implementation, and in [`x86`] the AVX2/AVX-512 vectors, the perturbation lockstep
//! loops and the row coloring. This layer depends only on leaf modules (the per-sample record of
//! `kernel::sample` and the thresholds of `deep::bounds`), so no import runs back up into it.
//! Which instruction set is used is decided in one place, `kernel::select`.
//!
//! Every `unsafe` block carries a `// SAFETY:` comment; each rests on a token type that only a
//! CPU feature check can make.

pub mod simd;
pub mod x86;

pub(crate) use simd::{Portable, Simd};

/// Work to run inside a function compiled with extra CPU features: a closure, or a type whose
/// `call` is `#[inline(always)]` (a large closure body is not always inlined into the entry
/// point, and is then compiled without the features).
pub trait Work {
    /// What the work returns.
    type Output;
    /// Does the work.
    fn call(self) -> Self::Output;
}

impl<R, F: FnOnce() -> R> Work for F {
    type Output = R;
    #[inline(always)]
    fn call(self) -> R {
        self()
    }
}

/// The environment variable naming the instruction sets a test machine must have
/// (comma-separated: `avx2`, `avx512`); CI sets it from what the CPU reports.
#[cfg(test)]
pub(crate) const REQUIRE_ISA_ENV: &str = "ZOOMGEN_REQUIRE_ISA";

/// For a test of code that needs `isa` (`avx2`, `avx512`), on a CPU without it: fails the test
/// when [`REQUIRE_ISA_ENV`] names `isa` (the machine was meant to have it), else notes the skip.
#[cfg(test)]
pub(crate) fn skip_test_without(isa: &str) {
    let required = std::env::var(REQUIRE_ISA_ENV).unwrap_or_default();
    assert!(
        !required.split(',').any(|r| r.trim() == isa),
        "{REQUIRE_ISA_ENV} names {isa}, but this CPU lacks it"
    );
    eprintln!("note: this CPU lacks {isa}; skipped");
}
