//! x86-64 intrinsics: the plain kernels' vectors ([`escape`]), the perturbation loops
//! ([`delta`]) and the row coloring ([`color`]).
//!
//! Each file keeps its intrinsics in an inner module compiled only on x86-64 (and not under
//! Miri, which cannot run them); the safe types around them exist everywhere, and their
//! constructors return `None` where the CPU or the target lacks the instructions.

// The crate denies `unsafe_code`; the intrinsics below are the one place that needs it (CI
// checks that this is the only `allow`).
#![allow(unsafe_code)]

pub mod color;
pub mod delta;
pub mod escape;
