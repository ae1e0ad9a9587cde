//! The zoom path: keyframes in, the view of any frame out.
//!
//! A zoom feels steady when the picture shrinks by the same factor every frame, so the path
//! interpolates `ln(width)` over frame numbers with a monotone cubic (PCHIP, Fritsch and Carlson,
//! "Monotone Piecewise Cubic Interpolation", SIAM J. Numer. Anal. 17, 1980, with the
//! Fritsch-Butland weighted harmonic mean at inner keyframes and the three-point end slopes used
//! by SciPy's `PchipInterpolator`). Two keyframes give a straight line (constant zoom speed);
//! inner keyframes change the speed smoothly, and the width never overshoots a keyframe.
//!
//! Within a segment the center moves as a zoom about one fixed point of the plane:
//! `c(w) = cA + (cB - cA) (wA - w) / (wA - wB)`. Every point of the picture then moves radially
//! away from that fixed point, which is what a camera zooming into a spot looks like; a linear
//! pan of the center instead makes the target drift across the screen and rush in at the end.
//! The ratio is computed from log-widths (`w / wA = exp(ln w - ln wA)`), so it stays exact for
//! widths far below the `f64` range.
//!
//! A view is a pure function of (scene, frame): no state is carried from frame to frame.

use num_complex::Complex64;

use crate::scene::{Keyframe, Scene};

/// Everything that describes one frame's picture of the plane.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Frame number in the scene's numbering.
    pub frame: u64,
    /// Center of the picture (f64; see `segment` and `center_fraction` for exact centers).
    pub center: Complex64,
    /// Natural log of the width of the picture in the complex plane.
    pub ln_width: f64,
    /// Rotation in degrees, counter-clockwise.
    pub rotation_deg: f64,
    /// Iteration budget for this frame.
    pub max_iterations: u32,
    /// Index of the keyframe that starts this frame's segment.
    pub segment: usize,
    /// Palette shift in cycles (before cycling over time, see [`crate::color`]).
    pub palette_offset: f64,
    /// Palette cycle.
    pub palette_cycle: f64,
    /// Where the center lies between the segment's keyframe centers:
    /// `center = cA + (cB - cA) * center_fraction`. Lets a deep-zoom kernel recompute the center
    /// from the keyframes' decimal text in any precision.
    pub center_fraction: f64,
}

impl View {
    /// Width of the picture in the complex plane (0 when it is below the `f64` range).
    pub fn width(&self) -> f64 {
        self.ln_width.exp()
    }

    /// Base-10 log of the width: `-11.0` for a width of `1e-11`.
    pub fn log10_width(&self) -> f64 {
        self.ln_width / std::f64::consts::LN_10
    }
}

/// The keyframes of a scene prepared for interpolation.
#[derive(Debug, Clone)]
pub struct ZoomPath {
    keys: Vec<Key>,
}

#[derive(Debug, Clone)]
struct Key {
    frame: f64,
    ln_width: f64,
    /// PCHIP slope of `ln_width` per frame at this keyframe.
    slope: f64,
    center: Complex64,
    rotation: f64,
    max_iterations: f64,
    palette_offset: f64,
    palette_cycle: f64,
}

impl ZoomPath {
    /// Prepares the path of a validated scene.
    pub fn new(scene: &Scene) -> Self {
        Self::from_keyframes(&scene.keyframes)
    }

    /// Prepares a path from keyframes (at least one, frames strictly increasing).
    pub fn from_keyframes(keyframes: &[Keyframe]) -> Self {
        assert!(!keyframes.is_empty(), "a path needs at least one keyframe");
        let frames: Vec<f64> = keyframes.iter().map(|k| k.frame as f64).collect();
        let ln_widths: Vec<f64> = keyframes.iter().map(|k| k.width.ln_abs()).collect();
        let slopes = pchip_slopes(&frames, &ln_widths);
        let keys = keyframes
            .iter()
            .zip(slopes)
            .zip(frames.iter().zip(&ln_widths))
            .map(|((k, slope), (&frame, &ln_width))| Key {
                frame,
                ln_width,
                slope,
                center: Complex64::new(k.center[0].to_f64(), k.center[1].to_f64()),
                rotation: k.rotation,
                max_iterations: f64::from(k.max_iterations),
                palette_offset: k.palette_offset,
                palette_cycle: k.palette_cycle,
            })
            .collect();
        ZoomPath { keys }
    }

    /// The view of frame `frame`. Frames past the last keyframe hold its view.
    pub fn view(&self, frame: u64) -> View {
        let x = frame as f64;
        let last = self.keys.len() - 1;
        // The segment [keys[i], keys[i + 1]] that holds `frame`, or the last keyframe.
        let i = self
            .keys
            .partition_point(|k| k.frame <= x)
            .saturating_sub(1);
        if i >= last {
            let k = &self.keys[last];
            return View {
                frame,
                center: k.center,
                ln_width: k.ln_width,
                rotation_deg: k.rotation,
                max_iterations: k.max_iterations.round() as u32,
                segment: last,
                center_fraction: 0.0,
                palette_offset: k.palette_offset,
                palette_cycle: k.palette_cycle,
            };
        }
        let (a, b) = (&self.keys[i], &self.keys[i + 1]);
        let h = b.frame - a.frame;
        let t = (x - a.frame) / h;
        let ln_width = if t == 0.0 {
            a.ln_width
        } else {
            hermite(t, h, a.ln_width, a.slope, b.ln_width, b.slope)
        };
        // Progress along the segment measured in log-width, for rotation and iterations; the
        // center's fixed-point fraction. Both fall back to frame-linear when the width is equal.
        let (log_progress, center_fraction) = if a.ln_width == b.ln_width {
            (t, t)
        } else {
            let log_progress = (a.ln_width - ln_width) / (a.ln_width - b.ln_width);
            // (wA - w) / (wA - wB) = (1 - w/wA) / (1 - wB/wA), with the ratios from logs.
            let fraction =
                (-(ln_width - a.ln_width).exp_m1()) / (-(b.ln_width - a.ln_width).exp_m1());
            (log_progress, fraction)
        };
        let center = if center_fraction == 0.0 {
            a.center
        } else if center_fraction == 1.0 {
            b.center
        } else {
            a.center + (b.center - a.center) * center_fraction
        };
        let lerp = |p: f64, q: f64| p + (q - p) * log_progress;
        View {
            frame,
            center,
            ln_width,
            rotation_deg: lerp(a.rotation, b.rotation),
            max_iterations: lerp(a.max_iterations, b.max_iterations).round().max(1.0) as u32,
            segment: i,
            center_fraction,
            palette_offset: lerp(a.palette_offset, b.palette_offset),
            palette_cycle: lerp(a.palette_cycle, b.palette_cycle),
        }
    }
}

impl ZoomPath {
    /// Keyframe indices `(a, b)` of the segment that holds `view`: `b = a + 1` inside the path,
    /// `a == b` for frames at or past the last keyframe. For deep-zoom kernels, which recompute
    /// the center from the keyframes' decimal text.
    pub fn segment_keys(&self, view: &View) -> (usize, usize) {
        let last = self.keys.len() - 1;
        if view.segment >= last {
            (last, last)
        } else {
            (view.segment, view.segment + 1)
        }
    }

    /// `ln(width)` of keyframe `i`, as the path uses it.
    pub fn key_ln_width(&self, i: usize) -> f64 {
        self.keys[i].ln_width
    }

    /// Number of keyframes.
    #[cfg(any(test, feature = "internals"))]
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

/// Cubic Hermite interpolation on one interval of length `h` at `t` in [0, 1].
fn hermite(t: f64, h: f64, y0: f64, d0: f64, y1: f64, d1: f64) -> f64 {
    let t2 = t * t;
    let t3 = t2 * t;
    let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
    let h10 = t3 - 2.0 * t2 + t;
    let h01 = -2.0 * t3 + 3.0 * t2;
    let h11 = t3 - t2;
    h00 * y0 + h10 * h * d0 + h01 * y1 + h11 * h * d1
}

/// PCHIP slopes at each knot (Fritsch-Carlson with Fritsch-Butland weights).
fn pchip_slopes(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len();
    if n == 1 {
        return vec![0.0];
    }
    let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let delta: Vec<f64> = (0..n - 1).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
    if n == 2 {
        return vec![delta[0], delta[0]];
    }
    let mut d = vec![0.0; n];
    for k in 1..n - 1 {
        let (d0, d1) = (delta[k - 1], delta[k]);
        if d0 == 0.0 || d1 == 0.0 || d0.signum() != d1.signum() {
            d[k] = 0.0;
        } else {
            let w1 = 2.0 * h[k] + h[k - 1];
            let w2 = h[k] + 2.0 * h[k - 1];
            d[k] = (w1 + w2) / (w1 / d0 + w2 / d1);
        }
    }
    d[0] = end_slope(h[0], h[1], delta[0], delta[1]);
    d[n - 1] = end_slope(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
    d
}

/// Three-point end slope, clamped so the end interval stays monotone.
fn end_slope(h0: f64, h1: f64, delta0: f64, delta1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * delta0 - h0 * delta1) / (h0 + h1);
    if d.signum() != delta0.signum() || delta0 == 0.0 {
        0.0
    } else if delta0.signum() != delta1.signum() && d.abs() > 3.0 * delta0.abs() {
        3.0 * delta0
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::Decimal;

    fn key(frame: u64, re: &str, im: &str, width: &str, rotation: f64, iters: u32) -> Keyframe {
        Keyframe {
            frame,
            center: [Decimal::parse(re).unwrap(), Decimal::parse(im).unwrap()],
            width: Decimal::parse(width).unwrap(),
            rotation,
            max_iterations: iters,
            palette_offset: 0.0,
            palette_cycle: 64.0,
        }
    }

    fn two_keys() -> ZoomPath {
        ZoomPath::from_keyframes(&[
            key(0, "-0.75", "0.0", "3.5", 0.0, 500),
            key(
                100,
                "-0.7436438870371587",
                "0.1318259042053120",
                "1e-11",
                90.0,
                12000,
            ),
        ])
    }

    fn three_keys() -> ZoomPath {
        ZoomPath::from_keyframes(&[
            key(0, "-0.5", "0", "4", 0.0, 100),
            key(30, "-0.75", "0.1", "0.01", 0.0, 1000),
            key(120, "-0.7453", "0.1127", "1e-6", 180.0, 5000),
        ])
    }

    #[test]
    fn keyframes_are_hit_exactly() {
        let path = three_keys();
        let v = path.view(0);
        assert_eq!(v.center, Complex64::new(-0.5, 0.0));
        assert_eq!(v.ln_width, 4f64.ln());
        assert_eq!(v.max_iterations, 100);
        let v = path.view(30);
        assert_eq!(v.center, Complex64::new(-0.75, 0.1));
        assert!((v.width() - 0.01).abs() < 1e-15);
        assert_eq!(v.max_iterations, 1000);
        assert_eq!(v.rotation_deg, 0.0);
        let v = path.view(120);
        assert_eq!(v.center, Complex64::new(-0.7453, 0.1127));
        assert!((v.log10_width() + 6.0).abs() < 1e-12);
        assert_eq!(v.rotation_deg, 180.0);
        assert_eq!(v.max_iterations, 5000);
    }

    #[test]
    fn two_keyframes_zoom_at_constant_speed() {
        let path = two_keys();
        let step = path.view(1).ln_width - path.view(0).ln_width;
        assert!(step < 0.0);
        for f in 1..=100 {
            let s = path.view(f).ln_width - path.view(f - 1).ln_width;
            assert!((s - step).abs() < 1e-12, "frame {f}: step {s} vs {step}");
        }
    }

    #[test]
    fn width_is_monotone_between_keyframes() {
        let path = three_keys();
        for f in 1..=120 {
            assert!(
                path.view(f).ln_width <= path.view(f - 1).ln_width,
                "width grows at frame {f}"
            );
        }
        // Inner keyframe: the zoom speed changes, but without a jump.
        let before = path.view(30).ln_width - path.view(29).ln_width;
        let after = path.view(31).ln_width - path.view(30).ln_width;
        assert!((before - after).abs() < 0.05 * before.abs().max(after.abs()));
    }

    #[test]
    fn a_width_increase_is_monotone_too() {
        let path = ZoomPath::from_keyframes(&[
            key(0, "0", "0", "1e-3", 0.0, 100),
            key(10, "0", "0", "1", 0.0, 100),
            key(20, "0", "0", "2", 0.0, 100),
        ]);
        for f in 1..=20 {
            assert!(path.view(f).ln_width >= path.view(f - 1).ln_width);
        }
    }

    #[test]
    fn the_fixed_point_stays_put_on_screen() {
        // The fixed point p satisfies p = cA + (cB - cA) wA / (wA - wB); its screen position
        // (p - c(w)) / w must be the same at every frame of the segment.
        let path = ZoomPath::from_keyframes(&[
            key(0, "-0.5", "0.25", "2", 0.0, 100),
            key(50, "-0.7", "0.05", "0.02", 0.0, 100),
        ]);
        let (ca, cb) = (Complex64::new(-0.5, 0.25), Complex64::new(-0.7, 0.05));
        let (wa, wb) = (2.0, 0.02);
        let p = ca + (cb - ca) * (wa / (wa - wb));
        let screen = |f: u64| {
            let v = path.view(f);
            (p - v.center) / v.width()
        };
        let s0 = screen(0);
        for f in 1..=50 {
            let s = screen(f);
            assert!((s - s0).norm() < 1e-9, "frame {f}: {s} vs {s0}");
        }
    }

    #[test]
    fn frames_past_the_last_keyframe_hold_its_view() {
        let path = two_keys();
        let last = path.view(100);
        for f in [101, 500, 10_000] {
            let v = path.view(f);
            assert_eq!(v.center, last.center);
            assert_eq!(v.ln_width, last.ln_width);
            assert_eq!(v.rotation_deg, last.rotation_deg);
            assert_eq!(v.max_iterations, last.max_iterations);
        }
    }

    #[test]
    fn equal_widths_pan_linearly() {
        let path = ZoomPath::from_keyframes(&[
            key(0, "0", "0", "1", 0.0, 100),
            key(10, "1", "0", "1", 0.0, 200),
        ]);
        let v = path.view(5);
        assert!((v.center.re - 0.5).abs() < 1e-15);
        assert_eq!(v.max_iterations, 150);
    }

    #[test]
    fn rotation_and_iterations_follow_log_width() {
        let path = two_keys();
        let v = path.view(50); // halfway in log-width on a two-keyframe path
        assert!((v.rotation_deg - 45.0).abs() < 1e-9);
        assert_eq!(v.max_iterations, 6250);
    }

    #[test]
    fn widths_beyond_f64_range_interpolate() {
        let path = ZoomPath::from_keyframes(&[
            key(0, "0", "0", "1", 0.0, 100),
            key(100, "0", "0", "1e-600", 0.0, 100),
        ]);
        assert!((path.view(50).log10_width() + 300.0).abs() < 1e-9);
        assert!((path.view(100).log10_width() + 600.0).abs() < 1e-9);
    }
}
