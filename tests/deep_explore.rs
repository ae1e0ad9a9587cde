//! Finding minibrot test locations (ignored; run by hand):
//! `cargo test --release --test deep_explore -- --ignored --nocapture`.

use zoomgen::deep::{Cx, Fixed, FixedC, FloatExp, locate};

const FRAC: usize = 58;

fn misiurewicz() -> FixedC {
    let start = FixedC {
        re: Fixed::parse("-0.74329189085243019", FRAC).unwrap(),
        im: Fixed::parse("0.13124055230879761", FRAC).unwrap(),
    };
    locate::newton(&start, 24, 2, 200).unwrap().0
}

fn near(c: &FixedC, depth: f64, a: f64, b: f64) -> FixedC {
    let scale = FloatExp::exp(-depth * std::f64::consts::LN_10);
    c.add(&FixedC {
        re: Fixed::from_fe(scale * FloatExp::from_f64(a), c.frac()),
        im: Fixed::from_fe(scale * FloatExp::from_f64(b), c.frac()),
    })
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

/// log10 of the minibrot size estimate at nucleus `c` of period `p`.
fn size_log10(c: &FixedC, p: u32) -> f64 {
    let mut z = FixedC::zero(c.frac());
    let mut l = Cx::<FloatExp>::from_f64(1.0, 0.0);
    let mut b = Cx::<FloatExp>::from_f64(1.0, 0.0);
    for _ in 1..p {
        z = z.sqr_add(c);
        let zf = z.to_fe();
        l = Cx {
            re: zf.re.double(),
            im: zf.im.double(),
        }
        .mul(l);
        let inv = l.norm_sqr().recip();
        b = b.add(Cx {
            re: l.re * inv,
            im: -(l.im * inv),
        });
    }
    let s = b.mul(l).mul(l);
    -s.norm().log2_abs() / std::f64::consts::LOG2_10
}

#[test]
#[ignore]
fn explore_minibrots() {
    let m = misiurewicz();
    for (depth, a, b) in [
        (10.0, 0.3, -0.2),
        (10.0, 0.05, 0.4),
        (11.0, 0.17, 0.11),
        (50.0, 0.3, -0.2),
        (50.0, 0.05, 0.4),
        (49.0, 0.17, 0.11),
    ] {
        let c0 = near(&m, depth, a, b);
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
#[test]
#[ignore]
fn trace_sample() {
    let m = misiurewicz();
    // Frame 10 of depth_1e50-like case is simpler: reference = frame center.
    let depth = 50.0;
    let frac = 6;
    let center = near(&m, depth, 0.17, 0.11).with_frac(frac);
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
