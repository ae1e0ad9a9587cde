//! Thresholds shared by every implementation of the perturbation step: the portable loops of
//! this module's siblings and the SIMD loops of `crate::arch::x86::delta` must switch number
//! types and take untested chunks at exactly the same points to give the same bits; the chunk
//! limits of an orbit ([`chunk_limits`]) are computed once with the orbit. A leaf, so that both
//! sides (and the orbit) import it without a circle.

/// `|δz|^2` below which a `FloatExp` frame's lane leaves `f64` (`|δz| < 2^-500`).
pub const MIN_F64_NORM: f64 = 9.332636185032189e-302; // 2^-1000

/// `|Z_m|^2` below which a `FloatExp` frame's lane steps in `FloatExp` (`|Z_m| < 2^-400`).
pub const SMALL_Z_NORM: f64 = 1.499_696_813_895_631e-241; // 2^-800

/// Steps the lockstep loop takes untested when a chunk's certificate holds (see
/// [`chunk_limits`]).
pub const CHUNK: usize = 8;

/// Relative size `|δz| / |Z|` below which a chunk's steps need no test.
const CHUNK_RATIO: f64 = 0.25;

/// `|Z|` above which no chunk starts: a lane within [`CHUNK_RATIO`] of such an entry could
/// reach the escape radius inside the chunk (`(1 + 1/4) 200 < 256`).
const CHUNK_MAX_Z: f64 = 200.0;

/// The *chunk limit* `L_m` of every orbit entry: a lane at reference index `m` whose
/// `(|δz_r| + |δz_i|) + 9 (|δc_r| + |δc_i|) <= L_m` is not flagged before any of its next
/// [`CHUNK`] steps (no escape, no rebase, finite), so the lockstep loop may take those steps
/// without testing them (the state after them is tested by what comes next). The steps are the
/// same operations either way, so the results are the bits of the tested loop.
///
/// Why: with `r = 1/4`, while `|δz_k| <= r |Z_{m+k}|` a step gives
/// `|δz_{k+1}| <= (2 |Z_{m+k}| + |δz_k|) |δz_k| + |δc| <= a_k |δz_k| + |δc|` with
/// `a_k = max(2 |Z_{m+k}| (1 + r/2), 1)` (a relative `10^-12` more in `a_k` covers the
/// rounding of the step's few operations, and the 9th `|δc|` that of the `δc` term), so
/// `|δz_k| <= P_k (|δz_0| + k |δc|)` with `P_k = a_0 ... a_{k-1}`. `L_m` is the least
/// `r |Z_{m+k}| / P_k` over `k < 8` (rounded down with margin), so every `|δz_k|` stays below
/// `r |Z_{m+k}|`: then `|z| >= (1 - r) |Z| >= 3 |δz|` (no rebase: `|z|^2 < |δz|^2` is false
/// with room for the rounding of both norms) and `|z| <= (1 + r) |Z| <= 250` (no escape, as
/// `|Z| <= 200` there). `|x_r| + |x_i| >= |x|` makes the test conservative, and a NaN fails it.
/// `L_m = 0` (never chunk) where some `Z_{m+k}` is 0 (as `Z_0`), above 200, or past the
/// orbit's end.
pub fn chunk_limits(re: &[f64], im: &[f64]) -> Vec<f64> {
    // `hypot` is within about an ulp of `|Z|` (no underflow for tiny entries); the margins
    // below cover it.
    let size: Vec<f64> = re.iter().zip(im).map(|(x, y)| x.hypot(*y)).collect();
    (0..size.len())
        .map(|m| {
            let Some(window) = size.get(m..m + CHUNK) else {
                return 0.0;
            };
            let mut limit = f64::INFINITY;
            let mut product = 1.0;
            for &z in window {
                if !(z > 0.0 && z <= CHUNK_MAX_Z) {
                    return 0.0;
                }
                limit = limit.min(CHUNK_RATIO * z * (1.0 - 1e-12) / product);
                product *= (2.0 * z * (1.0 + 0.5 * CHUNK_RATIO) * (1.0 + 1e-12)).max(1.0);
            }
            limit * (1.0 - 1e-9)
        })
        .collect()
}
