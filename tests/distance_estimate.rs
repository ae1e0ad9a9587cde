//! The distance estimate against an independent reference: direct iteration of `z` in fixed
//! point (the precision of the point) and of `dz/dc` in extended-exponent floats, at plain
//! depths with every kernel this CPU runs, and at 1e-100 and 1e-300 through the deep renderer.
//!
//! The reference's estimate in samples is `2 |z_N| ln|z_N| / (|dz_N/dc| s)`; the renderer's is
//! `Slope::distance` of what the kernel returned. Target: within `1e-3` relative, or within
//! `1e-3` samples where the estimate is below one sample (there `f64` itself cannot do
//! better), on every sample whose escape count both agree on (at least 97% of the escaped samples).

mod common;
use common::{FRAC, misiurewicz, near, parse_c, width_text};

use num_complex::Complex64;
use zoomgen::deep::{Cx, DeepRenderer, Fixed, FixedC, FloatExp};
use zoomgen::kernel::select::kernel_by_name;
use zoomgen::kernel::{ESCAPE_RADIUS_SQ, Escape, SampleGrid, Slope};
use zoomgen::path::ZoomPath;
use zoomgen::scene::Scene;

/// Direct iteration of `c` from 0: the escape count and the distance estimate in units of
/// `spacing`, or `None` for a point that does not escape within `max_iterations`.
fn direct(c: &FixedC, max_iterations: u32, spacing: FloatExp) -> Option<(u32, f64)> {
    let mut z = FixedC::zero(c.frac());
    let mut dz = Cx::<FloatExp>::zero();
    for n in 0..=max_iterations {
        let norm = z.norm_sqr_f64();
        if norm > ESCAPE_RADIUS_SQ {
            // 2 |z| ln|z| = |z| ln|z|^2; |dz| s from extended floats (dz alone passes 1e300).
            let scaled = (dz.norm_sqr() * spacing * spacing).to_f64().sqrt();
            return Some((n, norm.sqrt() * norm.ln() / scaled));
        }
        if n == max_iterations {
            return None;
        }
        // dz -> 2 z dz + 1, from z before the step.
        let p = z.to_fe().mul(dz);
        dz = Cx {
            re: p.re.double() + FloatExp::from_f64(1.0),
            im: p.im.double(),
        };
        z = z.sqr_add(c);
    }
    None
}

#[derive(Default, Debug)]
struct Outcome {
    checked: usize,
    /// Samples that escape in the reference.
    escaped: usize,
    compared: usize,
    below_one: usize,
    worst_relative: f64,
    worst_absolute: f64,
}

impl Outcome {
    fn add(&mut self, got: (Escape, Slope), want: Option<(u32, f64)>, what: &str) {
        self.checked += 1;
        let (escape, slope) = got;
        let Some((n, de)) = want else {
            return;
        };
        self.escaped += 1;
        if escape.n != n {
            return;
        }
        self.compared += 1;
        let ours = slope.distance();
        let error = (ours - de).abs();
        if de < 1.0 {
            self.below_one += 1;
            self.worst_absolute = self.worst_absolute.max(error);
            assert!(
                error <= 1e-3,
                "{what}: estimate {ours} against {de} (n = {n})"
            );
        } else {
            self.worst_relative = self.worst_relative.max(error / de);
            assert!(
                error <= 1e-3 * de,
                "{what}: estimate {ours} against {de} (n = {n})"
            );
        }
    }

    fn assert_enough(&self, what: &str) {
        eprintln!("{what}: {self:?}");
        assert!(
            self.compared * 100 >= self.escaped * 97,
            "{what}: only {} of {} escaped samples compared",
            self.compared,
            self.escaped
        );
        assert!(self.compared >= 50, "{what}: {self:?}");
    }
}

/// A plain frame `w` x `h` at `center`, `width`, with every kernel: each sample against the
/// direct iteration of its `f64` point.
fn plain_case(center: Complex64, width: f64, rotation: f64, max_iterations: u32) {
    let (w, h) = (40, 24);
    let grid = SampleGrid::new(center, width, rotation, w, h, 1);
    let spacing = FloatExp::from_f64(grid.spacing());
    let want: Vec<Option<(u32, f64)>> = (0..w * h)
        .map(|i| {
            let p = grid.point(i % w, i / w);
            let c = FixedC {
                re: Fixed::from_f64(p.re, 3),
                im: Fixed::from_f64(p.im, 3),
            };
            direct(&c, max_iterations, spacing)
        })
        .collect();
    let mut kernels = 0;
    for name in ["scalar", "interleaved", "avx2", "avx512"] {
        let Ok(kernel) = kernel_by_name(name) else {
            continue;
        };
        kernels += 1;
        let len = (w * h) as usize;
        let mut escapes = vec![Escape::INTERIOR; len];
        let mut slopes = vec![Slope::NONE; len];
        kernel.slope_rows(&grid, 0..h, max_iterations, &mut escapes, &mut slopes);
        let what = format!("{name} at {center} width {width:e}");
        let mut o = Outcome::default();
        for i in 0..len {
            o.add(
                (escapes[i], slopes[i]),
                want[i],
                &format!("{what}, sample {i}"),
            );
        }
        o.assert_enough(&what);
    }
    assert!(
        kernels >= 2,
        "the scalar and interleaved kernels always exist"
    );
}

#[test]
fn plain_frames_match_direct_iteration() {
    plain_case(Complex64::new(-0.75, 0.0), 3.5, 0.0, 500);
    plain_case(Complex64::new(-0.7436, 0.1318), 2e-4, 30.0, 3000);
    plain_case(Complex64::new(0.285_01, 0.011_03), 1e-6, 0.0, 6000);
}

/// Frame 10 of a two-keyframe zoom to `10^-depth` near the Misiurewicz point `M(24,2)` (as in
/// `tests/deep_accuracy.rs`), through the deep renderer, 24x16: every sample against the direct
/// iteration of its point of the documented mapping, in fixed point.
fn deep_case(depth: u32, max_iterations: u32) {
    let m = misiurewicz(FRAC);
    let a = near(&m, depth - 5, 0.21, -0.13);
    let b = near(&m, depth, 0.17, 0.11);
    let d = -f64::from(depth);
    let (w, h) = (24u32, 16u32);
    let rotation = 20.0;
    let mut text = format!(
        "[video]\nwidth = {w}\nheight = {h}\nfps = 30\nframes = 11\n\
         [render]\nsupersample = 1\n"
    );
    for (frame, [re, im], width, rot) in [
        (0, a, width_text(d + 5.0), 0.0),
        (10, b.clone(), width_text(d), rotation),
    ] {
        text += &format!(
            "[[keyframe]]\nframe = {frame}\ncenter = [\"{re}\", \"{im}\"]\nwidth = \"{width}\"\n\
             rotation = {rot:?}\nmax_iterations = {max_iterations}\n"
        );
    }
    let scene: Scene = text.parse().unwrap();
    let path = ZoomPath::new(&scene);
    let frame = 10;
    let deep = DeepRenderer::new(&scene, &path, &[frame], w, h, 1, &mut |_| {}).unwrap();
    let view = path.view(frame);
    let grid = SampleGrid::new(view.center, view.width(), view.rotation_deg, w, h, 1);
    let kernel = deep.kernel_for(&view, &grid).expect("a deep kernel");
    let len = (w * h) as usize;
    let mut escapes = vec![Escape::INTERIOR; len];
    let mut slopes = vec![Slope::NONE; len];
    kernel.slope_rows(&grid, 0..h, view.max_iterations, &mut escapes, &mut slopes);

    // The mapping: c = center + s ((u cos + v sin) + i (u sin - v cos)), in fixed point.
    let spacing_log2 = (view.ln_width - f64::from(w).ln()) / std::f64::consts::LN_2;
    let frac = ((-spacing_log2 + 128.0) / 64.0).ceil() as usize;
    let key = &scene.keyframes()[1];
    let center = parse_c(
        &[
            key.center[0].text().to_string(),
            key.center[1].text().to_string(),
        ],
        frac,
    );
    let width = Fixed::parse(key.width.text(), frac).unwrap();
    let step = width.div_u64(u64::from(w));
    let spacing = step.to_fe();
    let (sin, cos) = view.rotation_deg.to_radians().sin_cos();
    let fx = |x: f64| Fixed::from_f64(x, frac);
    let (cos_x, sin_x) = (fx(cos), fx(sin));
    let what = format!("1e-{depth}");
    let mut o = Outcome::default();
    for i in 0..len {
        let (sx, sy) = (i as u32 % w, i as u32 / w);
        let u = fx(f64::from(sx) + 0.5 - 0.5 * f64::from(w));
        let v = fx(f64::from(sy) + 0.5 - 0.5 * f64::from(h));
        let du = u.mul(&cos_x).add(&v.mul(&sin_x));
        let dv = u.mul(&sin_x).sub(&v.mul(&cos_x));
        let c = center.add(&FixedC {
            re: step.mul(&du),
            im: step.mul(&dv),
        });
        let want = direct(&c, view.max_iterations, spacing);
        o.add(
            (escapes[i], slopes[i]),
            want,
            &format!("{what}, sample ({sx}, {sy})"),
        );
    }
    o.assert_enough(&what);
}

#[test]
fn deep_1e100_matches_direct_iteration() {
    deep_case(100, 5000);
}

#[test]
fn deep_1e300_matches_direct_iteration() {
    deep_case(300, 14000);
}
