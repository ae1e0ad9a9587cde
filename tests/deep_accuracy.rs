//! Deep zoom accuracy: perturbation + BLA against direct fixed-point iteration of the same points.
//!
//! Locations are made, not copied: Newton's method (in `zoomgen::deep::locate`) finds the
//! Misiurewicz point `M_{24,2}` in Seahorse Valley (about `-0.74329189085 + 0.13124055231i`,
//! preperiod 24, period 2) to 3,700 bits. Near a Misiurewicz point the set looks alike at every
//! scale (spirals of filaments), so a frame centered a fraction of a width away from it has
//! structure at any depth. A second location is a minibrot nucleus found next to it.
//!
//! Each case renders a 24x16 frame through `DeepRenderer` (as the pipeline will) and iterates
//! 64 of its samples directly in fixed point at 128 bits beyond the sample spacing. Target:
//! >= 99.9% equal escape counts (so with 64 samples, all of them), the rest within 1.

use std::path::PathBuf;

use zoomgen::deep::{DeepRenderer, Fixed, FixedC, FloatExp, locate};
use zoomgen::kernel::{ESCAPE_RADIUS_SQ, Escape, SampleGrid};
use zoomgen::path::ZoomPath;
use zoomgen::scene::{ColorSettings, Decimal, Keyframe, RenderSettings, Rgb8, Scene, Video};

const FRAC: usize = 58; // 3,712 bits: enough for 1e-1000 frames plus guard bits.

fn misiurewicz() -> FixedC {
    let start = FixedC {
        re: Fixed::parse("-0.74329189085243019", FRAC).unwrap(),
        im: Fixed::parse("0.13124055230879761", FRAC).unwrap(),
    };
    let (c, last) = locate::newton(&start, 24, 2, 200).expect("Newton converges");
    assert!(last < -3000.0, "Newton stopped at 2^{last}");
    c
}

/// Decimal text of `c + (a + b i) * 10^-depth`.
fn near(c: &FixedC, depth: u32, a: f64, b: f64) -> [String; 2] {
    let scale = FloatExp::exp(-f64::from(depth) * std::f64::consts::LN_10);
    let re =
        c.re.add(&Fixed::from_fe(scale * FloatExp::from_f64(a), FRAC));
    let im =
        c.im.add(&Fixed::from_fe(scale * FloatExp::from_f64(b), FRAC));
    let digits = depth as usize + 40;
    [
        locate::to_decimal(&re, digits),
        locate::to_decimal(&im, digits),
    ]
}

fn scene(keys: &[(u64, [String; 2], String, f64, u32)]) -> Scene {
    Scene {
        source: PathBuf::from("deep-test.toml"),
        title: None,
        video: Video {
            width: 24,
            height: 16,
            fps: 30,
            frames: keys.last().unwrap().0 + 1,
        },
        render: RenderSettings {
            max_iterations: zoomgen::scene::IterationBudget::Fixed(1000),
            supersample: 1,
        },
        color: ColorSettings {
            palette: vec![Rgb8([0, 0, 0]), Rgb8([255, 255, 255])],
            cycle: 64.0,
            offset: 0.0,
            interior: Rgb8([0, 0, 0]),
        },
        keyframes: keys
            .iter()
            .map(|(frame, [re, im], width, rotation, iters)| Keyframe {
                frame: *frame,
                center: [Decimal::parse(re).unwrap(), Decimal::parse(im).unwrap()],
                width: Decimal::parse(width).unwrap(),
                rotation: *rotation,
                max_iterations: *iters,
            })
            .collect(),
    }
}

/// Direct iteration of `c` in fixed point.
fn direct(c: &FixedC, max_iterations: u32) -> Escape {
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

struct Outcome {
    equal: usize,
    off_by_one: usize,
    worse: usize,
    distinct_counts: usize,
    glitches: u64,
}

/// Renders `frame` of `scene` and checks 64 samples; `exact_center` is the frame's center.
fn check(scene: &Scene, frame: u64, exact_center: impl Fn(usize) -> FixedC) -> Outcome {
    let path = ZoomPath::new(scene);
    let (w, h) = (scene.video.width, scene.video.height);
    let deep = DeepRenderer::new(scene, &path, &[frame], w, h, 1, &mut |_| {}).unwrap();
    let view = path.view(frame);
    let grid = SampleGrid::new(view.center, view.width(), view.rotation_deg, w, h, 1);
    let kernel = deep
        .kernel_for(&view, &grid)
        .expect("a deep frame gets a kernel");
    let mut rows = vec![vec![Escape::INTERIOR; w as usize]; h as usize];
    for (sy, row) in rows.iter_mut().enumerate() {
        kernel.escape_row(&grid, sy as u32, view.max_iterations, row);
    }
    let mut counts: Vec<u32> = rows.iter().flatten().map(|e| e.n).collect();
    counts.sort_unstable();
    eprintln!(
        "frame {frame}: counts {}..={}",
        counts[0],
        counts[counts.len() - 1]
    );
    counts.dedup();
    // Sample spacing and the fixed-point precision of the direct check.
    let spacing_log2 = (view.ln_width - f64::from(w).ln()) / std::f64::consts::LN_2;
    let frac = ((-spacing_log2 + 128.0) / 64.0).ceil() as usize;
    let center = exact_center(frac);
    let step = FloatExp::exp(view.ln_width) * FloatExp::from_f64(1.0 / f64::from(w));
    let (s, co) = view.rotation_deg.to_radians().sin_cos();
    let mut out = Outcome {
        equal: 0,
        off_by_one: 0,
        worse: 0,
        distinct_counts: counts.len(),
        glitches: 0,
    };
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ frame;
    for _ in 0..64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let (sx, sy) = (
            (state % u64::from(w)) as u32,
            ((state >> 32) % u64::from(h)) as u32,
        );
        let (u, v) = (grid.u(sx), grid.v(sy));
        // offset = step * e^{i rot} * (u - i v)
        let (du, dv) = (u * co + v * s, u * s - v * co);
        let offset = zoomgen::deep::Cx {
            re: step * FloatExp::from_f64(du),
            im: step * FloatExp::from_f64(dv),
        };
        let c = center.add(&FixedC::from_fe(offset, frac));
        let want = direct(&c, view.max_iterations);
        let got = rows[sy as usize][sx as usize];
        if want.n == got.n {
            out.equal += 1;
        } else if !want.is_interior() && !got.is_interior() && want.n.abs_diff(got.n) == 1 {
            out.off_by_one += 1;
        } else {
            out.worse += 1;
            eprintln!(
                "sample ({sx}, {sy}): direct {:?}, perturbation {:?}",
                want, got
            );
        }
    }
    out.glitches = deep.glitches(frame);
    out
}

fn parse_c(text: &[String; 2], frac: usize) -> FixedC {
    FixedC {
        re: Fixed::parse(&text[0], frac).unwrap(),
        im: Fixed::parse(&text[1], frac).unwrap(),
    }
}

fn run_depth(m: &FixedC, depth: u32, iterations: u32, rotation: f64) {
    // Two keyframes: from 10^(5 - depth) near the point to 10^-depth, centers a fraction of a
    // width away from the Misiurewicz point (so the reference is not the special point).
    let a = near(m, depth - 5, 0.21, -0.13);
    let b = near(m, depth, 0.17, 0.11);
    let sc = scene(&[
        (0, a.clone(), format!("1e-{}", depth - 5), 0.0, iterations),
        (10, b.clone(), format!("1e-{depth}"), rotation, iterations),
    ]);
    let path = ZoomPath::new(&sc);
    for frame in [10u64, 7] {
        let view = path.view(frame);
        let exact = |frac: usize| {
            let (ca, cb) = (parse_c(&a, frac), parse_c(&b, frac));
            if frame == 10 {
                return cb;
            }
            // c = cA + (cB - cA) (wA - w) / (wA - wB), the ratio from logs in f64.
            let (ln_a, ln_b) = (path.key_ln_width(0), path.key_ln_width(1));
            let f = (-(view.ln_width - ln_a).exp_m1()) / (-(ln_b - ln_a).exp_m1());
            let d = cb.sub(&ca);
            let t = Fixed::from_f64(f, frac);
            ca.add(&FixedC {
                re: d.re.mul(&t),
                im: d.im.mul(&t),
            })
        };
        let o = check(&sc, frame, exact);
        eprintln!(
            "depth 1e-{depth} frame {frame} (width 1e{:.2}): {} equal, {} off by one, {} worse; {} distinct counts; {} glitches",
            view.log10_width(),
            o.equal,
            o.off_by_one,
            o.worse,
            o.distinct_counts,
            o.glitches
        );
        assert_eq!(o.worse, 0, "depth 1e-{depth} frame {frame}");
        assert!(
            o.equal >= 63,
            "depth 1e-{depth} frame {frame}: only {} of 64 equal",
            o.equal
        );
        assert!(
            o.distinct_counts >= 8,
            "depth 1e-{depth}: too little structure ({} counts)",
            o.distinct_counts
        );
        assert_eq!(o.glitches, 0);
    }
}

#[test]
fn depth_1e20() {
    run_depth(&misiurewicz(), 20, 2000, 0.0);
}

#[test]
fn depth_1e50() {
    run_depth(&misiurewicz(), 50, 3000, 30.0);
}

#[test]
fn depth_1e100() {
    run_depth(&misiurewicz(), 100, 4000, 0.0);
}

#[test]
fn depth_1e280_f64_deltas() {
    run_depth(&misiurewicz(), 280, 12000, 0.0);
}

#[test]
fn depth_1e300() {
    run_depth(&misiurewicz(), 300, 13000, 200.0);
}

#[test]
fn depth_1e1000() {
    run_depth(&misiurewicz(), 1000, 40000, 0.0);
}
