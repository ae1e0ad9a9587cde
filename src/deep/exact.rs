//! Exact frame geometry: the points a deep frame's samples stand for, in fixed point.
//!
//! The mapping (`src/output/exr.rs`) puts sample `(sx, sy)` of a frame `samples_x` samples across at
//!
//! ```text
//! c = center + s ((u cos θ + v sin θ) + i (u sin θ - v cos θ)),
//! u = sx + 0.5 - samples_x / 2,  v = sy + 0.5 - samples_y / 2,  s = width / samples_x,
//! ```
//!
//! that is `center + s (u - i v)` turned by `θ` about the center. [`FrameGeometry`] holds
//! `center`, `width` and `s` as [`Fixed`] numbers and `cos θ`, `sin θ` as the `f64` values
//! the renderer uses (exactly 1 and 0 for `θ = 0`), and [`FrameGeometry::point`] evaluates
//! the formula in fixed point, so the only error is the truncation of the last limb
//! (`2^-128` spacings and below). At a keyframe's frame, `center` and `width` are the
//! keyframe's decimal text read at that precision; between keyframes they are the values the
//! path computes (the deeper keyframe's center plus the [`super::FloatExp`] offset, and
//! `exp(ln width)`), converted exactly. The second pass and the fixed-point fallback of
//! [`super::perturb::PerturbKernel`] iterate these points, and `--data` writes the values as
//! decimal text in the OpenEXR header ([`FrameGeometry::header`]), so that anyone can compute
//! the same points from the header alone.

use super::num::fixed::{Fixed, FixedC};

/// Fraction limbs of `f64` values written exactly (an `f64` has no bit below `2^-1074`).
const F64_FRAC: usize = 17;

/// Digits written past the sample spacing's leading digit (errors below `1e-30` spacings).
pub const HEADER_EXTRA_DIGITS: usize = 30;

/// The exact geometry of one deep frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameGeometry {
    /// The frame center.
    pub center: FixedC,
    /// The frame width in the complex plane.
    pub width: Fixed,
    /// The sample spacing `width / samples_x` (truncated at the last limb).
    pub spacing: Fixed,
    /// Samples across.
    pub samples_x: u32,
    /// `cos θ` and `sin θ`, as the renderer computes them from the rotation in degrees.
    pub cos: f64,
    pub sin: f64,
    /// At a keyframe's frame, its decimal text `[center re, center im, width]`: the values the
    /// renderer read (`center` and `width` are this text at the fixed-point precision).
    pub key_text: Option<[String; 3]>,
}

/// `cos θ` and `sin θ` of a rotation in degrees, as every deep kernel computes them.
pub fn rotation_cos_sin(rotation_deg: f64) -> (f64, f64) {
    let (sin, cos) = rotation_deg.to_radians().sin_cos();
    (cos, sin)
}

impl FrameGeometry {
    /// The geometry of a frame `width` wide centered at `center` (both at the same precision),
    /// `samples_x` samples across, turned by `rotation_deg`.
    pub fn new(
        center: FixedC,
        width: Fixed,
        samples_x: u32,
        rotation_deg: f64,
        key_text: Option<[String; 3]>,
    ) -> FrameGeometry {
        let width = width.with_frac(center.frac());
        let spacing = width.div_u64(u64::from(samples_x.max(1)));
        let (cos, sin) = rotation_cos_sin(rotation_deg);
        FrameGeometry {
            center,
            width,
            spacing,
            samples_x,
            cos,
            sin,
            key_text,
        }
    }

    /// Fraction limbs of the values.
    pub fn frac(&self) -> usize {
        self.center.frac()
    }

    /// The point of the sample at offsets `(u, v)` (in samples, `v` downwards; half-integers)
    /// from the center, evaluated in fixed point.
    pub fn point(&self, u: f64, v: f64) -> FixedC {
        let f = self.frac();
        let (u, v) = (Fixed::from_f64(u, f), Fixed::from_f64(v, f));
        let (c, s) = (Fixed::from_f64(self.cos, f), Fixed::from_f64(self.sin, f));
        let du = u.mul(&c).add(&v.mul(&s));
        let dv = u.mul(&s).sub(&v.mul(&c));
        self.center.add(&FixedC {
            re: self.spacing.mul(&du),
            im: self.spacing.mul(&dv),
        })
    }

    /// Digits after the decimal point that put the text's error below `1e-30` spacings.
    pub fn header_digits(&self) -> usize {
        let log10 = self.spacing.to_fe().log2_abs() * std::f64::consts::LOG10_2;
        (-log10).ceil().max(0.0) as usize + HEADER_EXTRA_DIGITS
    }

    /// The center's real and imaginary parts and the width as decimal text: the keyframe's
    /// text at a keyframe's frame, otherwise the exact values cut after
    /// [`FrameGeometry::header_digits`] digits.
    pub fn view_text(&self) -> [String; 3] {
        match &self.key_text {
            Some(t) => t.clone(),
            None => {
                let digits = self.header_digits();
                [
                    self.center.re.to_decimal(digits),
                    self.center.im.to_decimal(digits),
                    self.width.to_decimal(digits),
                ]
            }
        }
    }

    /// The header values of `--data` for an image `pixels_x` pixels across: `centerRe`,
    /// `centerIm`, `width` (the keyframe's text at a keyframe's frame, otherwise the exact
    /// value cut after [`FrameGeometry::header_digits`] digits), `pixelSpacing`
    /// (`width / pixels_x`, cut the same way), `rotationCos`, `rotationSin` (exact).
    pub fn header(&self, pixels_x: u32) -> Vec<(&'static str, String)> {
        let digits = self.header_digits();
        let [re, im, width] = self.view_text();
        let pixel = self.width.div_u64(u64::from(pixels_x.max(1)));
        vec![
            ("zoomgen.centerRe", re),
            ("zoomgen.centerIm", im),
            ("zoomgen.width", width),
            ("zoomgen.pixelSpacing", pixel.to_decimal(digits)),
            ("zoomgen.rotationCos", exact_f64(self.cos)),
            ("zoomgen.rotationSin", exact_f64(self.sin)),
        ]
    }
}

/// The exact decimal expansion of an `f64` (`0.1` is `1.000000000000000055511151231257827021181583404541015625e-1`);
/// values of `2^62` and above, and non-finite ones, as Rust's shortest `{:e}` text.
pub fn exact_f64(x: f64) -> String {
    if !x.is_finite() || x.abs() >= (1u64 << 62) as f64 {
        return format!("{x:e}");
    }
    Fixed::from_f64(x, F64_FRAC).to_decimal(64 * F64_FRAC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_f64_text() {
        assert_eq!(
            exact_f64(0.1),
            "1.000000000000000055511151231257827021181583404541015625e-1"
        );
        assert_eq!(exact_f64(1.0), "1e0");
        assert_eq!(exact_f64(0.0), "0");
        assert_eq!(exact_f64(-2.5), "-2.5e0");
        for x in [1e-300, 5e-324, -0.7436438870371587, 1e18, 123.456] {
            let t = exact_f64(x);
            assert_eq!(t.parse::<f64>().unwrap(), x, "{t}");
        }
        assert_eq!(exact_f64(1e30), "1e30");
    }

    /// The point of a sample is the mapping formula: rotation 0 gives `center + s (u - i v)`
    /// exactly, and a turned frame agrees with `f64` arithmetic to its rounding.
    #[test]
    fn points_follow_the_mapping() {
        let f = 8;
        let center = FixedC {
            re: Fixed::parse("-1.25", f).unwrap(),
            im: Fixed::parse("0.5", f).unwrap(),
        };
        let g = FrameGeometry::new(
            center.clone(),
            Fixed::parse("1e-100", f).unwrap(),
            64,
            0.0,
            None,
        );
        assert_eq!((g.cos, g.sin), (1.0, 0.0));
        let p = g.point(-31.5, 17.5);
        let s = &g.spacing;
        let want_re = center.re.add(&s.mul(&Fixed::from_f64(-31.5, f)));
        let want_im = center.im.sub(&s.mul(&Fixed::from_f64(17.5, f)));
        assert_eq!(p.re, want_re);
        assert_eq!(p.im, want_im);
        let g = FrameGeometry::new(center.clone(), Fixed::from_f64(0.64, f), 64, 30.0, None);
        let p = g.point(3.5, -2.5).sub(&center).to_f64();
        let (c, sn) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let want = (0.01 * (3.5 * c - 2.5 * sn), 0.01 * (3.5 * sn + 2.5 * c));
        assert!(
            (p.0 - want.0).abs() < 1e-16 && (p.1 - want.1).abs() < 1e-16,
            "{p:?}"
        );
        // Spacing: width / samples_x, to the last limb.
        let back = g
            .spacing
            .mul(&Fixed::from_f64(64.0, f))
            .sub(&g.width)
            .to_fe();
        assert!(back.is_zero() || back.log2_abs() < -64.0 * f as f64 + 8.0);
    }
}
