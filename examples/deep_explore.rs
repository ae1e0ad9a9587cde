//! Exploration scripts for deep zooms: how the test locations of `tests/deep_accuracy.rs` were
//! found and how the samples it once got wrong were diagnosed. They assert nothing; they print
//! what they find (to stderr). Run one by name:
//!
//! ```text
//! cargo run --release --example deep_explore -- SCRIPT
//! ```
//!
//! - `explore_minibrots`: from six starting points near the Misiurewicz point `M(24,2)` of
//!   Seahorse Valley (1e-10, 1e-11, 1e-49 and 1e-50 away), finds the period of the atom domain,
//!   runs Newton's method for the minibrot nucleus of that period and prints the period, the
//!   size of Newton's last step, the nucleus's distance from the start and the minibrot's size
//!   estimate.
//! - `trace_sample`: traces sample (20, 11) of a 24-sample-wide frame 1e-50 wide, turned 30
//!   degrees: plain `f64` perturbation (rebasing, no BLA) against direct fixed-point iteration,
//!   printing each tenfold growth of the relative error and the step where either escapes.
//! - `scan_sensitivity`: for frames 10 and 7 of the spiral cases (1e-20, 1e-50, 1e-100) and the
//!   minibrot cases (periods 313, 765 and 2058) of `tests/deep_accuracy.rs`, prints the 12 most
//!   ill-conditioned samples of the 24x16 frame: the largest `|dz/dc| spacing / |z|` along the
//!   orbit, and its value at the end.
//! - `diagnose_misses`: for the samples `tests/deep_accuracy.rs` once got wrong (spiral 1e-20
//!   and 1e-50, minibrots p313 and p765), prints how far the test's point is from the
//!   renderer's, the direct counts of both and of points 1e-14 to 1e-2 spacings away (the
//!   conditioning), and the error of `f64` perturbation against direct iteration as it grows.
//!
//! Each takes from seconds to minutes in a release build. The locations and the direct
//! fixed-point oracle come from the integration tests' harness, `tests/common/mod.rs`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{FRAC, direct, misiurewicz, offset, offset_text, parse_c, size_log10, width_text};
use zoomgen::deep::{Cx, DeltaGrid, Fixed, FixedC, FloatExp, ReferenceOrbit, locate};
use zoomgen::kernel::{ESCAPE_RADIUS_SQ, SampleGrid};
use zoomgen::path::ZoomPath;

/// The scripts, by name.
const SCRIPTS: [(&str, fn()); 4] = [
    ("explore_minibrots", explore_minibrots),
    ("trace_sample", trace_sample),
    ("scan_sensitivity", scan_sensitivity),
    ("diagnose_misses", diagnose_misses),
];

fn main() {
    let name = std::env::args().nth(1);
    match SCRIPTS.iter().find(|(n, _)| Some(*n) == name.as_deref()) {
        Some((_, script)) => script(),
        None => {
            let names: Vec<_> = SCRIPTS.iter().map(|(n, _)| *n).collect();
            eprintln!(
                "usage: cargo run --release --example deep_explore -- SCRIPT\n\
                 scripts: {}",
                names.join(", ")
            );
            std::process::exit(2);
        }
    }
}

/// The period of the atom domain of `c` (last new minimum of |z_n| before escape or `max`).
fn atom_period(c: &FixedC, max: u32) -> u32 {
    let mut z = FixedC::zero(c.frac());
    let mut best = f64::INFINITY;
    let mut p = 1;
    for n in 1..=max {
        z = z.sqr_add(c);
        let l = z.to_fe().norm().log2_abs();
        if l < best {
            best = l;
            p = n;
        }
        if z.norm_sqr_f64() > 65536.0 {
            break;
        }
    }
    p
}

/// Minibrot nuclei found from six points near the Misiurewicz point (module doc).
fn explore_minibrots() {
    let m = misiurewicz(FRAC);
    for (depth, a, b) in [
        (10.0, 0.3, -0.2),
        (10.0, 0.05, 0.4),
        (11.0, 0.17, 0.11),
        (50.0, 0.3, -0.2),
        (50.0, 0.05, 0.4),
        (49.0, 0.17, 0.11),
    ] {
        let c0 = offset(&m, -depth, a, b);
        let p = atom_period(&c0, 400_000);
        match locate::newton(&c0, 0, p, 200) {
            Some((n, last)) => {
                let d = n.sub(&c0).to_fe().norm().log2_abs() / std::f64::consts::LOG2_10;
                eprintln!(
                    "start 1e-{depth} ({a}, {b}): period {p}, converged 2^{last:.0}, |nucleus - start| 1e{d:.1}, size 1e{:.1}",
                    size_log10(&n, p)
                );
            }
            None => eprintln!("start 1e-{depth} ({a}, {b}): period {p}: diverged"),
        }
    }
}

/// Traces one failing sample: perturbation (f64, rebasing, no BLA) against direct iteration.
fn trace_sample() {
    let m = misiurewicz(FRAC);
    // Frame 10 of depth_1e50-like case is simpler: reference = frame center.
    let depth = 50.0;
    let frac = 6;
    let center = offset(&m, -depth, 0.17, 0.11).with_frac(frac);
    let w = 24.0;
    let step = 10f64.powf(-depth) / w;
    for (sx, sy) in [(20u32, 11u32)] {
        let (u, v) = (f64::from(sx) + 0.5 - 12.0, f64::from(sy) + 0.5 - 8.0);
        let (sn, co) = 30f64.to_radians().sin_cos();
        let (dcr, dci) = (step * (u * co + v * sn), step * (u * sn - v * co));
        let c = center.add(&FixedC::from_fe(Cx::from_f64(dcr, dci), frac));
        // reference orbit
        let mut zref = vec![[0.0f64; 2]];
        let mut z = FixedC::zero(frac);
        for _ in 0..3000 {
            z = z.sqr_add(&center);
            let (x, y) = z.to_f64();
            zref.push([x, y]);
            if x * x + y * y > 65536.0 {
                break;
            }
        }
        let last = zref.len() - 1;
        let mut zd = FixedC::zero(frac);
        let (mut dr, mut di, mut mm) = (0.0f64, 0.0f64, 0usize);
        let mut rebases = 0;
        let mut worst = 0.0f64;
        for n in 0..3000 {
            let (x, y) = zd.to_f64();
            let (pr, pi) = (zref[mm][0] + dr, zref[mm][1] + di);
            let err =
                ((pr - x).powi(2) + (pi - y).powi(2)).sqrt() / (x * x + y * y).sqrt().max(1e-300);
            if err > worst * 10.0 && err > 1e-14 {
                eprintln!(
                    "n {n}: rel err {err:.3e}, |z| {:.3e}, m {mm}, rebases {rebases}",
                    (x * x + y * y).sqrt()
                );
                worst = err;
            }
            if x * x + y * y > 65536.0 || pr * pr + pi * pi > 65536.0 {
                eprintln!(
                    "sample ({sx},{sy}): direct escape test {} pert {} at n {n}, ref len {last}",
                    x * x + y * y > 65536.0,
                    pr * pr + pi * pi > 65536.0
                );
                break;
            }
            if mm == last || pr * pr + pi * pi < dr * dr + di * di {
                dr = pr;
                di = pi;
                mm = 0;
                rebases += 1;
            }
            let (tr, ti) = (2.0 * zref[mm][0] + dr, 2.0 * zref[mm][1] + di);
            let nr = tr * dr - ti * di + dcr;
            let ni = tr * di + ti * dr + dci;
            dr = nr;
            di = ni;
            mm += 1;
            zd = zd.sqr_add(&c);
        }
    }
}

/// One frame of a two-keyframe case of `tests/deep_accuracy.rs`: keyframe `a` (`10^lg_a` wide)
/// at frame 0, `b` at frame 10, frame `frame` traced at samples `samples`.
#[allow(clippy::too_many_arguments)]
fn diagnose(
    label: &str,
    a: &[String; 2],
    lg_a: f64,
    b: &[String; 2],
    lg_b: f64,
    rotation: f64,
    iterations: u32,
    frame: u64,
    samples: &[(u32, u32)],
) {
    use zoomgen::scene::{Decimal, Keyframe};
    let key = |frame, c: &[String; 2], lg, rot| Keyframe {
        frame,
        center: [
            Decimal::parse(&c[0]).unwrap(),
            Decimal::parse(&c[1]).unwrap(),
        ],
        width: Decimal::parse(&width_text(lg)).unwrap(),
        rotation: rot,
        max_iterations: iterations,
        palette_offset: 0.0,
        palette_cycle: 64.0,
    };
    let path = ZoomPath::from_keyframes(&[key(0, a, lg_a, 0.0), key(10, b, lg_b, rotation)]);
    let view = path.view(frame);
    let (w, h) = (24u32, 16u32);
    let grid = SampleGrid::new(view.center, view.width(), view.rotation_deg, w, h, 1);
    let spacing_log2 = (view.ln_width - f64::from(w).ln()) / std::f64::consts::LN_2;
    let spacing = (spacing_log2 * std::f64::consts::LN_2).exp();
    let rfrac = Fixed::frac_for_bits((-spacing_log2).ceil() as u64 + 64);
    let tfrac = ((-spacing_log2 + 128.0) / 64.0).ceil() as usize;
    // Reference: keyframe b's center (the deeper one); frame offset as DeepRenderer::plan.
    let cref = parse_c(b, rfrac);
    let offset = if frame == 10 {
        Cx::zero()
    } else {
        let (ln_a, ln_b) = (path.key_ln_width(0), path.key_ln_width(1));
        let r_d = FloatExp::exp(ln_b - ln_a);
        let g = r_d * FloatExp::from_f64((view.ln_width - ln_b).exp_m1() / -(ln_b - ln_a).exp_m1());
        parse_c(a, rfrac).sub(&cref).to_fe().scale(g)
    };
    let delta = DeltaGrid::new(offset, view.ln_width, view.rotation_deg, w);
    let orbit = ReferenceOrbit::compute(&cref, iterations, &mut |_| {});
    let zref: Vec<[f64; 2]> = (0..orbit.len()).map(|n| orbit.z_f64(n)).collect();
    let last = zref.len() - 1;
    eprintln!(
        "== {label} frame {frame}: 1e{:.2} wide, spacing 2^{spacing_log2:.1}, reference len {last} (escaped {})",
        view.log10_width(),
        orbit.escaped()
    );
    // The test's exact frame center (as tests/deep_accuracy.rs computes it).
    let exact = {
        let (ca, cb) = (parse_c(a, tfrac), parse_c(b, tfrac));
        if frame == 10 {
            cb
        } else {
            let (ln_a, ln_b) = (path.key_ln_width(0), path.key_ln_width(1));
            let f = (-(view.ln_width - ln_a).exp_m1()) / (-(ln_b - ln_a).exp_m1());
            let d = cb.sub(&ca);
            let t = Fixed::from_f64(f, tfrac);
            ca.add(&FixedC {
                re: d.re.mul(&t),
                im: d.im.mul(&t),
            })
        }
    };
    let step = FloatExp::exp(view.ln_width) * FloatExp::from_f64(1.0 / f64::from(w));
    let (s, co) = view.rotation_deg.to_radians().sin_cos();
    if samples.is_empty() {
        let mut rows = Vec::new();
        for sy in 0..h {
            for sx in 0..w {
                let (u, v) = (grid.u(sx), grid.v(sy));
                let dc = delta.delta(u, v);
                let c = parse_c(b, tfrac).add(&FixedC::from_fe(dc, tfrac));
                let (n, s_end, s_max) = sensitivity(&c, iterations, spacing);
                rows.push((s_max, s_end, n, sx, sy));
            }
        }
        rows.sort_by(|p, q| q.0.total_cmp(&p.0));
        for r in rows.iter().take(12) {
            eprintln!(
                "   ({},{}) n {}: max |D| spacing / |z| 1e{:.1}, at the end 1e{:.1}",
                r.3,
                r.4,
                r.2,
                r.0.log10(),
                r.1.log10()
            );
        }
        return;
    }
    for &(sx, sy) in samples {
        let (u, v) = (grid.u(sx), grid.v(sy));
        let dc = delta.delta(u, v);
        let (dcr, dci) = dc.to_f64();
        let c_render = parse_c(b, tfrac).add(&FixedC::from_fe(dc, tfrac));
        let (du, dv) = (u * co + v * s, u * s - v * co);
        let c_test = exact.add(&FixedC::from_fe(
            Cx {
                re: step * FloatExp::from_f64(du),
                im: step * FloatExp::from_f64(dv),
            },
            tfrac,
        ));
        let apart = c_test.sub(&c_render).to_fe().norm().log2_abs() - spacing_log2;
        eprintln!(
            "-- sample ({sx},{sy}): test point - render point = 2^{apart:.1} spacings; direct count (test point) {}, (render point) {}",
            direct(&c_test, iterations).n,
            direct(&c_render, iterations).n
        );
        // Conditioning: direct counts of points eps spacings away.
        for eps_log10 in [-14.0, -12.0, -10.0, -8.0, -6.0, -4.0, -2.0] {
            let e = 10f64.powf(eps_log10) * spacing;
            let counts: Vec<u32> = (0..4)
                .map(|k| {
                    let t = f64::from(k) * std::f64::consts::FRAC_PI_2 + 0.3;
                    let p = c_render.add(&FixedC::from_fe(
                        Cx::from_f64(e * t.cos(), e * t.sin()),
                        tfrac,
                    ));
                    direct(&p, iterations).n
                })
                .collect();
            eprintln!("   counts 1e{eps_log10} spacings away: {counts:?}");
        }
        // Perturbation (f64, rebasing, no BLA) against direct iteration with dz/dc.
        let mut zd = FixedC::zero(tfrac);
        let mut der = (0.0f64, 0.0f64);
        let (mut dr, mut di, mut m) = (0.0f64, 0.0f64, 0usize);
        let mut rebases = 0;
        let mut ends = 0;
        let mut reported = -16.0f64;
        let mut first_end = None;
        for n in 0..iterations {
            let (x, y) = zd.to_f64();
            let (pr, pi) = (zref[m][0] + dr, zref[m][1] + di);
            let err = ((pr - x).powi(2) + (pi - y).powi(2)).sqrt();
            let dnorm = (der.0 * der.0 + der.1 * der.1).sqrt();
            // The error seen as a shift of c, in spacings.
            let shift = (err / (dnorm * spacing)).log10();
            if shift > reported + 1.0 || (n % 200 == 0 && n > 0) {
                eprintln!(
                    "   n {n}: err 1e{:.1}, |z| {:.2e}, |dz/dc| spacing {:.2e}, shift 1e{shift:.1} spacings, m {m} (rebases {rebases}, reference ends {ends})",
                    err.log10(),
                    (x * x + y * y).sqrt(),
                    dnorm * spacing
                );
                if shift > reported + 1.0 {
                    reported = shift.floor();
                }
            }
            let escaped_d = x * x + y * y > ESCAPE_RADIUS_SQ;
            let escaped_p = pr * pr + pi * pi > ESCAPE_RADIUS_SQ;
            if escaped_d || escaped_p {
                eprintln!("   escape at n {n}: direct {escaped_d}, perturbation {escaped_p}");
                break;
            }
            if m == last || pr * pr + pi * pi < dr * dr + di * di {
                if m == last {
                    ends += 1;
                    if first_end.is_none() {
                        first_end = Some(n);
                        eprintln!(
                            "   n {n}: reference ends; |z| {:.2e}, |dz/dc| spacing {:.2e}",
                            (x * x + y * y).sqrt(),
                            dnorm * spacing
                        );
                    }
                }
                dr = pr;
                di = pi;
                m = 0;
                rebases += 1;
            }
            let (tr, ti) = (2.0 * zref[m][0] + dr, 2.0 * zref[m][1] + di);
            let nr = tr * dr - ti * di + dcr;
            let ni = tr * di + ti * dr + dci;
            dr = nr;
            di = ni;
            m += 1;
            der = (
                2.0 * (x * der.0 - y * der.1) + 1.0,
                2.0 * (x * der.1 + y * der.0),
            );
            zd = zd.sqr_add(&c_render);
        }
    }
}

/// Direct iteration with `D = dz/dc`: (count, |D_N| spacing / |z_N|, max_n |D_n| spacing / |z_n|).
fn sensitivity(c: &FixedC, max: u32, spacing: f64) -> (u32, f64, f64) {
    let mut z = FixedC::zero(c.frac());
    let mut d = (0.0f64, 0.0f64);
    let mut s_max = 0.0f64;
    for n in 0..=max {
        let (x, y) = z.to_f64();
        let r = (x * x + y * y).sqrt();
        let s = (d.0 * d.0 + d.1 * d.1).sqrt() * spacing / r;
        if n > 0 {
            s_max = s_max.max(s);
        }
        if r * r > ESCAPE_RADIUS_SQ || n == max {
            return (if n == max { u32::MAX } else { n }, s, s_max);
        }
        d = (2.0 * (x * d.0 - y * d.1) + 1.0, 2.0 * (x * d.1 + y * d.0));
        z = z.sqr_add(c);
    }
    unreachable!()
}

/// The most ill-conditioned samples of the `tests/deep_accuracy.rs` frames (module doc).
fn scan_sensitivity() {
    let m = misiurewicz(FRAC);
    let spiral = |depth: f64| {
        (
            offset_text(&m, -(depth - 5.0), 0.21, -0.13),
            offset_text(&m, -depth, 0.17, 0.11),
        )
    };
    for (depth, rot, it) in [(20.0, 0.0, 2000), (50.0, 30.0, 3000), (100.0, 0.0, 4000)] {
        let (a, b) = spiral(depth);
        for frame in [10, 7] {
            diagnose(
                &format!("spiral 1e-{depth}"),
                &a,
                5.0 - depth,
                &b,
                -depth,
                rot,
                it,
                frame,
                &[],
            );
        }
    }
    for (start, period, widen, rot) in [
        (11.0, 313u32, 0.7, 0.0),
        (25.0, 765, 0.7, 10.0),
        (50.0, 2058, 2.0, 0.0),
    ] {
        let mb = common::minibrot(
            start,
            if period == 2058 { 0.3 } else { 0.17 },
            if period == 2058 { -0.2 } else { 0.11 },
            period,
        );
        let (nucleus, lg_b) = (mb.nucleus, mb.size + widen);
        let b = offset_text(&nucleus, lg_b, 0.0, 0.0);
        let a = offset_text(&nucleus, lg_b + 5.0, 0.11, -0.23);
        for frame in [10, 7] {
            diagnose(
                &format!("minibrot p{period}"),
                &a,
                lg_b + 5.0,
                &b,
                lg_b,
                rot,
                5 * period + 2000,
                frame,
                &[],
            );
        }
    }
}

/// The samples `tests/deep_accuracy.rs` once got wrong, traced (module doc).
fn diagnose_misses() {
    let m = misiurewicz(FRAC);
    let spiral = |depth: f64| {
        (
            offset_text(&m, -(depth - 5.0), 0.21, -0.13),
            offset_text(&m, -depth, 0.17, 0.11),
        )
    };
    let (a, b) = spiral(20.0);
    diagnose(
        "spiral 1e-20",
        &a,
        -15.0,
        &b,
        -20.0,
        0.0,
        2000,
        7,
        &[(19, 3), (16, 7)],
    );
    let (a, b) = spiral(50.0);
    diagnose(
        "spiral 1e-50",
        &a,
        -45.0,
        &b,
        -50.0,
        30.0,
        3000,
        10,
        &[(19, 1), (20, 11)],
    );
    for (start, period, widen, rot, frame, samples) in [
        (11.0, 313u32, 0.7, 0.0, 10u64, vec![(2u32, 0u32), (21, 1)]),
        (25.0, 765, 0.7, 10.0, 7, vec![(7, 0)]),
    ] {
        let mb = common::minibrot(start, 0.17, 0.11, period);
        let (nucleus, lg_b) = (mb.nucleus, mb.size + widen);
        let b = offset_text(&nucleus, lg_b, 0.0, 0.0);
        let a = offset_text(&nucleus, lg_b + 5.0, 0.11, -0.23);
        diagnose(
            &format!("minibrot p{period}"),
            &a,
            lg_b + 5.0,
            &b,
            lg_b,
            rot,
            5 * period + 2000,
            frame,
            &samples,
        );
    }
}
