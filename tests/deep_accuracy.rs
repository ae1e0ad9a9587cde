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

mod common;
use common::{
    FRAC, Minibrot, Rng, direct, minibrot, misiurewicz, near, offset_text, parse_c, width_text,
};

use zoomgen::deep::{DeepRenderer, Fixed, FixedC};
use zoomgen::kernel::{Escape, SampleGrid};
use zoomgen::path::ZoomPath;
use zoomgen::scene::Scene;

fn scene(keys: &[(u64, [String; 2], String, f64, u32)]) -> Scene {
    scene_sized(keys, 24, 16)
}

fn scene_sized(keys: &[(u64, [String; 2], String, f64, u32)], width: u32, height: u32) -> Scene {
    let mut text = format!(
        "[video]\nwidth = {width}\nheight = {height}\nfps = 30\nframes = {}\n\
         [render]\nmax_iterations = 1000\nsupersample = 1\n\
         [color]\npalette = [\"#000000\", \"#ffffff\"]\ncycle = 64.0\n",
        keys.last().unwrap().0 + 1
    );
    for (frame, [re, im], width, rotation, iterations) in keys {
        text += &format!(
            "[[keyframe]]\nframe = {frame}\ncenter = [\"{re}\", \"{im}\"]\nwidth = \"{width}\"\n\
             rotation = {rotation:?}\nmax_iterations = {iterations}\n"
        );
    }
    text.parse().unwrap()
}

struct Outcome {
    checked: usize,
    equal: usize,
    off_by_one: usize,
    worse: usize,
    /// Samples interior in the direct iteration (all of them must be interior in the kernel).
    interior_direct: usize,
    /// Samples interior in both.
    interior_both: usize,
    distinct_counts: usize,
    glitches: u64,
    /// Samples the kernel iterated directly (ill-conditioned).
    exact: u64,
    /// The frame's center, as the mapping uses it.
    center: FixedC,
}

/// Renders `frame` of `scene` and checks `samples` samples (all of them when `samples` is at
/// least the frame's sample count) against direct iteration of the points of the documented
/// mapping (`src/output/exr.rs`): `center + s ((u cos + v sin) + i (u sin - v cos))`, `s = width / W`,
/// evaluated in fixed point. At a keyframe's frame, `center` and `width` are the keyframe's
/// decimal text (and the renderer's exact geometry must be that text); between keyframes, the
/// renderer's exact geometry ([`DeepRenderer::geometry`], what `--data` writes in the header).
fn check(scene: &Scene, frame: u64, samples: usize) -> Outcome {
    let path = ZoomPath::new(scene);
    let (w, h) = scene.size();
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
    let geometry = deep
        .geometry(&view, w)
        .expect("a deep frame has an exact geometry");
    let (center, width) = match scene.keyframes().iter().find(|k| k.frame == frame) {
        Some(k) => {
            let text = [
                k.center[0].text().to_string(),
                k.center[1].text().to_string(),
            ];
            let f = geometry.frac();
            assert_eq!(geometry.center, parse_c(&text, f), "frame {frame}: center");
            let width = Fixed::parse(k.width.text(), f).unwrap();
            assert_eq!(geometry.width, width, "frame {frame}: width");
            (
                parse_c(&text, frac),
                Fixed::parse(k.width.text(), frac).unwrap(),
            )
        }
        None => (
            geometry.center.with_frac(frac),
            geometry.width.with_frac(frac),
        ),
    };
    let step = width.div_u64(u64::from(w));
    let (s, co) = view.rotation_deg.to_radians().sin_cos();
    let fx = |x: f64| Fixed::from_f64(x, frac);
    let (cos_x, sin_x) = (fx(co), fx(s));
    let mut out = Outcome {
        checked: 0,
        interior_direct: 0,
        interior_both: 0,
        equal: 0,
        off_by_one: 0,
        worse: 0,
        distinct_counts: counts.len(),
        glitches: 0,
        exact: deep.exact_samples(frame),
        center: center.clone(),
    };
    // The sampled pixels (and so docs/DEEP.md's table) depend on this exact sequence.
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15u64 ^ frame);
    let all = samples >= (w * h) as usize;
    for k in 0..samples.min((w * h) as usize) {
        let state = rng.next_u64();
        let (sx, sy) = if all {
            (k as u32 % w, k as u32 / w)
        } else {
            (
                (state % u64::from(w)) as u32,
                ((state >> 32) % u64::from(h)) as u32,
            )
        };
        // u, v: the pixel's offsets from the center, x + 0.5 - W/2 and y + 0.5 - H/2.
        let u = fx(f64::from(sx) + 0.5 - 0.5 * f64::from(w));
        let v = fx(f64::from(sy) + 0.5 - 0.5 * f64::from(h));
        // c = center + s ((u cos + v sin) + i (u sin - v cos)), all in fixed point.
        let du = u.mul(&cos_x).add(&v.mul(&sin_x));
        let dv = u.mul(&sin_x).sub(&v.mul(&cos_x));
        let c = center.add(&FixedC {
            re: step.mul(&du),
            im: step.mul(&dv),
        });
        let want = direct(&c, view.max_iterations);
        let got = rows[sy as usize][sx as usize];
        out.checked += 1;
        out.interior_direct += usize::from(want.is_interior());
        out.interior_both += usize::from(want.is_interior() && got.is_interior());
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

/// Prints a frame's `RESULT` line (the table in docs/DEEP.md: `head`, then the counts, then
/// `tail`) and asserts the target: no sample more than one iteration off, at least 99.9% equal
/// (or all but one), the same samples interior in both.
fn report_and_assert(what: &str, head: &str, tail: &str, o: &Outcome) {
    eprintln!(
        "RESULT | {head} | {} | {} | {} | {}/{} | {} | {} | {} | {tail}",
        o.checked,
        o.equal,
        o.off_by_one,
        o.interior_both,
        o.interior_direct,
        o.distinct_counts,
        o.glitches,
        o.exact,
    );
    assert_eq!(o.worse, 0, "{what}");
    assert_eq!(o.interior_both, o.interior_direct, "{what}");
    assert!(
        o.equal * 1000 >= o.checked * 999 || o.checked - o.equal <= 1,
        "{what}: only {} of {} equal",
        o.equal,
        o.checked
    );
}

/// Checks frames 10 (the deeper keyframe, reference at its center) and 7 (between keyframes,
/// reference off-center) of a two-keyframe scene: `a` at `10^ln_a` wide, `b` at `10^lg_b`.
#[allow(clippy::too_many_arguments)]
fn run_case(
    kind: &str,
    a: [String; 2],
    lg_a: f64,
    b: [String; 2],
    lg_b: f64,
    rotation: f64,
    iterations: u32,
    samples: usize,
    min_distinct: usize,
) -> Vec<Outcome> {
    let sc = scene(&[
        (0, a.clone(), width_text(lg_a), 0.0, iterations),
        (10, b.clone(), width_text(lg_b), rotation, iterations),
    ]);
    let path = ZoomPath::new(&sc);
    let mut outcomes = Vec::new();
    for frame in [10u64, 7] {
        let view = path.view(frame);
        let o = check(&sc, frame, samples);
        // The reference (keyframe b's center) seen from the frame, in widths.
        let off = {
            let d = o.center.sub(&parse_c(&b, o.center.frac())).to_fe().norm();
            d.log2_abs() / std::f64::consts::LOG2_10 - view.log10_width()
        };
        report_and_assert(
            &format!("{kind} 1e{lg_b} frame {frame}"),
            &format!("{kind} | 1e{:.1} | {iterations}", view.log10_width()),
            &format!("1e{off:.1} widths"),
            &o,
        );
        // Frame 7 may lie in a flat region (the Julia case puts it 400 widths away).
        assert!(
            frame == 7 || o.distinct_counts >= min_distinct,
            "{kind} 1e{lg_b}: too little structure ({} counts)",
            o.distinct_counts
        );
        assert_eq!(o.glitches, 0);
        outcomes.push(o);
    }
    outcomes
}

fn run_depth(m: &FixedC, depth: u32, iterations: u32, rotation: f64, samples: usize) {
    // Two keyframes: from 10^(5 - depth) near the point to 10^-depth, centers a fraction of a
    // width away from the Misiurewicz point (so the reference is not the special point).
    let a = near(m, depth - 5, 0.21, -0.13);
    let b = near(m, depth, 0.17, 0.11);
    let d = -f64::from(depth);
    run_case(
        "Misiurewicz spiral",
        a,
        d + 5.0,
        b,
        d,
        rotation,
        iterations,
        samples,
        8,
    );
}

/// A wider frame (samples up to ~200 spacings from the reference, where `f64` deltas follow a
/// point farther from the sample than in the 24-sample frames): frame 10 of the 1e-50 spiral
/// case at `w` x `h`, `samples` random samples.
fn run_wide(
    m: &FixedC,
    depth: u32,
    iterations: u32,
    rotation: f64,
    w: u32,
    h: u32,
    samples: usize,
) {
    let a = near(m, depth - 5, 0.21, -0.13);
    let b = near(m, depth, 0.17, 0.11);
    let d = -f64::from(depth);
    let sc = scene_sized(
        &[
            (0, a, width_text(d + 5.0), 0.0, iterations),
            (10, b.clone(), width_text(d), rotation, iterations),
        ],
        w,
        h,
    );
    let o = check(&sc, 10, samples);
    report_and_assert(
        &format!("{w}x{h} 1e-{depth}"),
        &format!("Misiurewicz spiral {w}x{h} | 1e{d:.1} | {iterations}"),
        "1e-inf widths",
        &o,
    );
    assert_eq!(o.glitches, 0);
}

/// The minibrot itself: frame 10 is centered on the nucleus (the reference orbit comes back to
/// about 0 every `period` steps: every sample rebases there), `10^widen` size estimates wide, with
/// interior samples; frame 7 (30 times wider) sees it from an off-center reference.
fn run_minibrot(mb: &Minibrot, widen: f64, rotation: f64, samples: usize) {
    let lg_b = mb.size + widen;
    let b = offset_text(&mb.nucleus, lg_b, 0.0, 0.0);
    let a = offset_text(&mb.nucleus, lg_b + 5.0, 0.11, -0.23);
    let iterations = 5 * mb.period + 2000;
    let out = run_case(
        &format!("minibrot p{}", mb.period),
        a,
        lg_b + 5.0,
        b,
        lg_b,
        rotation,
        iterations,
        samples,
        1,
    );
    assert!(
        out[0].interior_direct + out[1].interior_direct > 0,
        "no interior samples near the minibrot"
    );
}

/// The embedded Julia set around the minibrot, halfway in depth between the spiral where it was
/// found and the minibrot; keyframe a lies 400 widths away, so frame 7's reference is about 400
/// of its widths off.
fn run_julia(mb: &Minibrot, start: f64, rotation: f64, samples: usize) {
    let lg_b = 0.5 * (mb.size - start);
    let b = offset_text(&mb.nucleus, lg_b, 0.13, 0.07);
    let a = offset_text(&mb.nucleus, lg_b + 4.0, 400.0, -250.0);
    let iterations = 5 * mb.period + 2000;
    run_case(
        &format!("embedded Julia p{}", mb.period),
        a,
        lg_b + 4.0,
        b,
        lg_b,
        rotation,
        iterations,
        samples,
        8,
    );
}

const ALL: usize = 10_000;
const WIDEN: f64 = 2.0;

#[test]
fn depth_1e20() {
    run_depth(&misiurewicz(FRAC), 20, 2000, 0.0, 64);
}

/// Every sample of the 1e-20 frames. Two samples of frame 7 are ill-conditioned (their counts
/// change by ~100 iterations between points 1e-12 spacings apart): the kernel iterates them
/// directly. See docs/DEEP.md.
#[test]
fn depth_1e20_every_sample() {
    run_depth(&misiurewicz(FRAC), 20, 2000, 0.0, ALL);
}

#[test]
fn depth_1e50() {
    run_depth(&misiurewicz(FRAC), 50, 3000, 30.0, 64);
}

/// Every sample of the 1e-50 frames (two ill-conditioned ones in frame 10).
#[test]
fn depth_1e50_every_sample() {
    run_depth(&misiurewicz(FRAC), 50, 3000, 30.0, ALL);
}

/// 2,000 samples of a 400x225 frame at 1e-50 (30 degrees).
#[test]
fn depth_1e50_wide_frame() {
    run_wide(&misiurewicz(FRAC), 50, 3000, 30.0, 400, 225, 2000);
}

#[test]
fn depth_1e100() {
    run_depth(&misiurewicz(FRAC), 100, 4000, 0.0, ALL);
}

#[test]
fn depth_1e280_f64_deltas() {
    run_depth(&misiurewicz(FRAC), 280, 12000, 0.0, 96);
}

#[test]
fn depth_1e300() {
    run_depth(&misiurewicz(FRAC), 300, 13000, 200.0, 96);
}

#[test]
fn depth_1e1000() {
    run_depth(&misiurewicz(FRAC), 1000, 40000, 0.0, 32);
}

/// Every sample (two ill-conditioned ones in the minibrot frame).
#[test]
fn minibrot_1e22_and_julia() {
    let mb = minibrot(11.0, 0.17, 0.11, 313);
    run_minibrot(&mb, 0.7, 0.0, ALL);
    run_julia(&mb, 11.0, 45.0, ALL);
}

/// Every sample (one ill-conditioned one in the wider frame).
#[test]
fn minibrot_1e50_and_julia() {
    let mb = minibrot(25.0, 0.17, 0.11, 765);
    run_minibrot(&mb, 0.7, 10.0, ALL);
    run_julia(&mb, 25.0, 0.0, ALL);
}

#[test]
fn minibrot_1e112_and_julia() {
    let mb = minibrot(50.0, 0.3, -0.2, 2058);
    run_minibrot(&mb, WIDEN, 0.0, 192);
    run_julia(&mb, 50.0, 0.0, 192);
}

#[test]
fn minibrot_1e304_and_julia() {
    let mb = minibrot(150.0, 0.17, 0.11, 4861);
    run_minibrot(&mb, WIDEN, 300.0, 48);
    run_julia(&mb, 150.0, 0.0, 48);
}

#[test]
fn minibrot_1e1000_and_julia() {
    let mb = minibrot(500.0, 0.17, 0.11, 16107);
    run_minibrot(&mb, WIDEN, 0.0, 12);
    run_julia(&mb, 500.0, 0.0, 12);
}

/// 320x180 frames of the spiral at the other depths (samples up to 180 spacings from the
/// reference; turned).
#[test]
fn wide_frames_other_depths() {
    let m = misiurewicz(FRAC);
    run_wide(&m, 20, 2000, 10.0, 320, 180, 1000);
    run_wide(&m, 100, 4000, 70.0, 320, 180, 1000);
    run_wide(&m, 300, 13000, 0.0, 320, 180, 200);
    run_wide(&m, 1000, 40000, 45.0, 320, 180, 30);
}

/// One frame (10, or 7 between the keyframes) of a two-keyframe 320x180 scene, `samples`
/// random samples, with the checks of `run_case`.
#[allow(clippy::too_many_arguments)]
fn run_wide_case(
    kind: &str,
    a: &[String; 2],
    lg_a: f64,
    b: &[String; 2],
    lg_b: f64,
    rotation: f64,
    iterations: u32,
    frame: u64,
    samples: usize,
) -> Outcome {
    let sc = scene_sized(
        &[
            (0, a.clone(), width_text(lg_a), 0.0, iterations),
            (10, b.clone(), width_text(lg_b), rotation, iterations),
        ],
        320,
        180,
    );
    let path = ZoomPath::new(&sc);
    let view = path.view(frame);
    let o = check(&sc, frame, samples);
    report_and_assert(
        &format!("{kind} frame {frame}"),
        &format!(
            "{kind} 320x180 | 1e{:.1} | {iterations}",
            view.log10_width()
        ),
        &format!("frame {frame}"),
        &o,
    );
    assert_eq!(o.glitches, 0);
    o
}

/// 320x180 frames around the p313 and p765 minibrots: the minibrot (frames 10 and 7) and its
/// embedded Julia set (frame 10, and frame 7 with the reference 400 widths away).
#[test]
fn wide_frames_minibrots() {
    for (start, period) in [(11.0, 313u32), (25.0, 765)] {
        let mb = minibrot(start, 0.17, 0.11, period);
        let it = 5 * mb.period + 2000;
        let kind = format!("p{period}");
        let lg_j = 0.5 * (mb.size - start);
        let b = offset_text(&mb.nucleus, lg_j, 0.13, 0.07);
        let a = offset_text(&mb.nucleus, lg_j + 4.0, 400.0, -250.0);
        for frame in [10, 7] {
            run_wide_case(&kind, &a, lg_j + 4.0, &b, lg_j, 20.0, it, frame, 500);
        }
        let lg_m = mb.size + 0.7;
        let b = offset_text(&mb.nucleus, lg_m, 0.0, 0.0);
        let a = offset_text(&mb.nucleus, lg_m + 5.0, 0.11, -0.23);
        for frame in [10, 7] {
            run_wide_case(&kind, &a, lg_m + 5.0, &b, lg_m, 0.0, it, frame, 500);
        }
    }
}
