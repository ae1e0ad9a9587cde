//! The number types of deep zoom: [`fixed`] (arbitrary-precision fixed point, for reference
//! orbits and exact points), [`floatexp`] (an `f64` mantissa with a wide exponent, for deltas
//! below `f64`'s range) and [`dd`] (double-double with a wide exponent, for the second pass).
//! Each is a leaf of plain arithmetic; the engine in `crate::deep` builds on them.

pub mod dd;
pub mod fixed;
pub mod floatexp;
