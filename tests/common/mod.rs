//! Locations shared by the deep-zoom tests (`deep_accuracy`, `exr_checker`, `deep_explore`).
//!
//! Each test crate uses a different subset of these.
#![allow(dead_code)]

use zoomgen::deep::{Fixed, FixedC, FloatExp, locate};

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
