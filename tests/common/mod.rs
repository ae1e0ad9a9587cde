//! The one harness of the integration tests: launching the built binary, the kernels this CPU
//! runs, a checksum, a seeded random generator, and the deep-zoom locations several tests share.
//!
//! Each test crate uses a different subset of these.
#![allow(dead_code)]

use zoomgen::deep::{Fixed, FixedC, FloatExp, locate};

/// The built `zoomgen` binary, ready to take arguments.
pub fn zoomgen() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("zoomgen").unwrap()
}

/// The kernels this CPU runs, slowest first. When `ZOOMGEN_REQUIRE_ISA` names instruction sets
/// (`avx2`, `avx512`, comma-separated; CI sets it from what the CPU reports), a kernel missing
/// from the list fails the test instead of being left out.
pub fn available_kernels() -> Vec<&'static str> {
    let kernels = zoomgen::kernel::available_kernels();
    if let Ok(required) = std::env::var("ZOOMGEN_REQUIRE_ISA") {
        for isa in required.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            assert!(
                kernels.contains(&isa),
                "ZOOMGEN_REQUIRE_ISA names {isa}, but this machine runs only {kernels:?}"
            );
        }
    }
    kernels
}

/// FNV-1a, 64 bits: a checksum that is the same on every platform and in every release.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The Misiurewicz point `M(24,2)` of Seahorse Valley (about `-0.74329189085 +
/// 0.13124055231i`), found with Newton's method to `frac` limbs; asserts that Newton
/// converged to the last limb.
pub fn misiurewicz(frac: usize) -> FixedC {
    let start = FixedC {
        re: Fixed::parse("-0.74329189085243019", frac).unwrap(),
        im: Fixed::parse("0.13124055230879761", frac).unwrap(),
    };
    let (c, last) = locate::newton(&start, 24, 2, 200).expect("Newton converges");
    assert!(
        last < -(64.0 * frac as f64) + 64.0,
        "Newton stopped at 2^{last}"
    );
    c
}

/// Decimal text of `c + (a + b i) 10^lg`, `-lg + 40` digits.
pub fn offset_text(c: &FixedC, lg: f64, a: f64, b: f64) -> [String; 2] {
    let scale = FloatExp::exp(lg * std::f64::consts::LN_10);
    let frac = c.frac();
    let re =
        c.re.add(&Fixed::from_fe(scale * FloatExp::from_f64(a), frac));
    let im =
        c.im.add(&Fixed::from_fe(scale * FloatExp::from_f64(b), frac));
    let digits = (-lg) as usize + 40;
    [
        locate::to_decimal(&re, digits),
        locate::to_decimal(&im, digits),
    ]
}

/// Decimal text of `c + (a + b i) 10^-depth`.
pub fn near(c: &FixedC, depth: u32, a: f64, b: f64) -> [String; 2] {
    offset_text(c, -f64::from(depth), a, b)
}
