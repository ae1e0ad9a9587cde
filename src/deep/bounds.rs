//! Thresholds shared by every implementation of the perturbation step: the portable loops of
//! this module's siblings and the SIMD loops of `crate::arch::x86::delta` must switch number
//! types and take untested chunks at exactly the same points to give the same bits. A leaf, so
//! that both sides import it without a circle.

/// `|δz|^2` below which a `FloatExp` frame's lane leaves `f64` (`|δz| < 2^-500`).
pub const MIN_F64_NORM: f64 = 9.332636185032189e-302; // 2^-1000

/// `|Z_m|^2` below which a `FloatExp` frame's lane steps in `FloatExp` (`|Z_m| < 2^-400`).
pub const SMALL_Z_NORM: f64 = 1.499_696_813_895_631e-241; // 2^-800

/// Steps the lockstep loop takes untested when a chunk's certificate holds (see
/// `lanes::chunk_limits`).
pub const CHUNK: usize = 8;
