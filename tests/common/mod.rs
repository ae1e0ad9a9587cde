//! The one harness of the integration tests: launching the built binary, the kernels this CPU
//! runs, a checksum, a seeded random generator, the direct fixed-point oracle of deep zooms, and
//! the deep-zoom locations several tests share.
//!
//! Each test crate uses a different subset of these (`mod common;`). `examples/deep_explore.rs`
//! includes this file too (`#[path = "../tests/common/mod.rs"]`) and gets all of it but the
//! launch helpers: cargo tells only integration tests where the binary is.
#![allow(dead_code)]

use zoomgen::deep::{Cx, Fixed, FixedC, FloatExp, locate};
use zoomgen::kernel::{ESCAPE_RADIUS_SQ, Escape};

// ---------------------------------------------------------------------------------------------
// The binary.

/// Path of the built `zoomgen` binary. Cargo sets `CARGO_BIN_EXE_zoomgen` when it builds an
/// integration test (`cfg(test)`), not an example: the launch helpers exist in tests only.
#[cfg(test)]
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_zoomgen")
}

/// The built `zoomgen` binary, ready to take arguments and assert on its outcome.
#[cfg(test)]
pub fn zoomgen() -> assert_cmd::Command {
    assert_cmd::Command::new(bin())
}

/// The built `zoomgen` binary as a plain [`std::process::Command`], for tests that spawn a
/// child and signal or kill it, or that read its output as it runs.
#[cfg(test)]
pub fn zoomgen_process() -> std::process::Command {
    std::process::Command::new(bin())
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

// ---------------------------------------------------------------------------------------------
// Checksum and random numbers.

/// FNV-1a, 64 bits: a checksum that is the same on every platform and in every release.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A small seeded generator: Marsaglia's xorshift64 (shifts 13, 7, 17), so random choices are
/// repeatable. `tests/deep_accuracy.rs` picks its samples with it and `docs/DEEP.md` records the
/// outcomes, so the sequence must not change.
///
/// The state is the seed, unmixed: a seed with few bits set gives a small first value.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose first [`Rng::next_u64`] is one xorshift step from `seed` (not 0: zero
    /// stays zero).
    pub fn new(seed: u64) -> Rng {
        assert_ne!(seed, 0, "xorshift64 needs a nonzero seed");
        Rng(seed)
    }

    /// The next state, all 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A uniform `f64` in `[0, 1)` (the top 53 bits of [`Rng::next_u64`]).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------------------
// Deep zooms: the direct oracle and the locations.

/// Fraction limbs of the deep-zoom locations: 3,712 bits, enough for 1e-1000 frames plus guard
/// bits.
pub const FRAC: usize = 58;

/// Direct iteration of `z -> z^2 + c` from 0 in fixed point (the precision of `c`): the true
/// escape of `c`, with the first `n <= max_iterations` where `|z_n|^2 > ESCAPE_RADIUS_SQ` and
/// its smooth fraction ([`Escape::escaped`]), or [`Escape::INTERIOR`] (`n` is then
/// [`Escape::INTERIOR_N`], `u32::MAX`).
pub fn direct(c: &FixedC, max_iterations: u32) -> Escape {
    let mut z = FixedC::zero(c.frac());
    for n in 0..=max_iterations {
        let norm = z.norm_sqr_f64();
        if norm > ESCAPE_RADIUS_SQ {
            return Escape::escaped(n, norm);
        }
        if n == max_iterations {
            break;
        }
        z = z.sqr_add(c);
    }
    Escape::INTERIOR
}

/// The point whose decimal text is `text` (re, im), to `frac` limbs.
pub fn parse_c(text: &[String; 2], frac: usize) -> FixedC {
    FixedC {
        re: Fixed::parse(&text[0], frac).unwrap(),
        im: Fixed::parse(&text[1], frac).unwrap(),
    }
}

/// Decimal text of `10^lg` (7 significant digits), as a scene's width.
pub fn width_text(lg: f64) -> String {
    let e = lg.floor();
    format!("{:.6}e{}", 10f64.powf(lg - e), e as i64)
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

/// `c + (a + b i) 10^lg`, at the precision of `c`.
pub fn offset(c: &FixedC, lg: f64, a: f64, b: f64) -> FixedC {
    let scale = FloatExp::exp(lg * std::f64::consts::LN_10);
    let frac = c.frac();
    c.add(&FixedC {
        re: Fixed::from_fe(scale * FloatExp::from_f64(a), frac),
        im: Fixed::from_fe(scale * FloatExp::from_f64(b), frac),
    })
}

/// Decimal text of `c + (a + b i) 10^lg`, `-lg + 40` digits.
pub fn offset_text(c: &FixedC, lg: f64, a: f64, b: f64) -> [String; 2] {
    let p = offset(c, lg, a, b);
    let digits = (-lg) as usize + 40;
    [
        locate::to_decimal(&p.re, digits),
        locate::to_decimal(&p.im, digits),
    ]
}

/// Decimal text of `c + (a + b i) 10^-depth`.
pub fn near(c: &FixedC, depth: u32, a: f64, b: f64) -> [String; 2] {
    offset_text(c, -f64::from(depth), a, b)
}

/// log10 of the size estimate of the minibrot with nucleus `c` and period `period`
/// (Heiland-Allen): `1 / |beta lambda^2|`, `lambda = prod 2 z_k`, `beta = sum 1 / lambda_k`.
pub fn size_log10(c: &FixedC, period: u32) -> f64 {
    let mut z = FixedC::zero(c.frac());
    let mut l = Cx::<FloatExp>::from_f64(1.0, 0.0);
    let mut beta = Cx::<FloatExp>::from_f64(1.0, 0.0);
    for _ in 1..period {
        z = z.sqr_add(c);
        let zf = z.to_fe();
        l = Cx {
            re: zf.re.double(),
            im: zf.im.double(),
        }
        .mul(l);
        let inv = l.norm_sqr().recip();
        beta = beta.add(Cx {
            re: l.re * inv,
            im: -(l.im * inv),
        });
    }
    -beta.mul(l).mul(l).norm().log2_abs() / std::f64::consts::LOG2_10
}

/// A minibrot found from the spiral around the Misiurewicz point [`misiurewicz`].
#[derive(Debug, Clone)]
pub struct Minibrot {
    pub nucleus: FixedC,
    pub period: u32,
    /// log10 of the size estimate ([`size_log10`]).
    pub size: f64,
}

/// The nucleus of period `period` that Newton's method finds from `M + (a + b i) 10^-start`
/// (`M` the Misiurewicz point, `period` the atom domain's period there), to enough bits for
/// frames 100 times smaller than the minibrot; asserts that Newton converged to the last limbs.
pub fn minibrot(start: f64, a: f64, b: f64, period: u32) -> Minibrot {
    let m = misiurewicz(FRAC);
    // Enough bits for frames 100x below the minibrot's size, plus guard bits.
    let frac = (((2.0 * start + 4.0) * std::f64::consts::LOG2_10 + 192.0) / 64.0).ceil() as usize;
    let m = m.with_frac(frac.min(FRAC));
    let c0 = offset(&m, -start, a, b);
    let (nucleus, last) = locate::newton(&c0, 0, period, 300).expect("Newton converges");
    assert!(
        last < -(64.0 * m.frac() as f64) + 8.0,
        "Newton stopped at 2^{last}"
    );
    let size = size_log10(&nucleus, period);
    Minibrot {
        nucleus,
        period,
        size,
    }
}
