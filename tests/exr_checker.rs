//! The escape data of deep frames as an outside checker sees it: render a small deep scene with
//! `zoomgen SCENE --data` (the built binary, as a user runs it), read each `frame_NNNNN.exr` by
//! hand (uncompressed scanlines), compute every checked pixel's point from the header's decimal
//! text and the documented mapping (`src/output/exr.rs`), iterate it directly in fixed point, and
//! compare with the `N` channel: at least 99.9% equal, the rest within 1. Keyframe frames must
//! carry the scene's decimal text in their header.
//!
//! The scene zooms into the Misiurewicz point `M(24,2)` of Seahorse Valley (found here with
//! Newton's method, `zoomgen::deep::locate`), with keyframes at widths `1e-20`, `1e-100` and
//! `1e-300`, turned; frames between keyframes are checked too. A second scene goes to `1e-1000`.
//! Third, places of other kinds: near `i` and `-2` down to `1e-300`, and just outside the cusp.
//!
//! Iterating the ill-conditioned samples at the first pass's floating-point points instead of
//! the exact mapping points (the renderer before the exact geometry) fails here at once: frame
//! 0, pixel (34, 1), direct 1292, data 1392.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

mod common;
use common::{direct, misiurewicz, near, zoomgen};
use zoomgen::deep::{Fixed, FixedC};
use zoomgen::kernel::Escape;

const W: u32 = 64;
const H: u32 = 36;

/// A keyframe of the deep scenes: frame, depth (width `1e-depth`), rotation in degrees,
/// iteration budget, center as decimal text.
type Key = (u64, u32, f64, u32, [String; 2]);

/// A scene of `frames` frames at `W` x `H` through `keys`.
fn deep_scene(frames: u64, keys: &[Key]) -> String {
    let mut scene = format!(
        "[video]\nwidth = {W}\nheight = {H}\nfps = 30\nframes = {frames}\n\
         [render]\nmax_iterations = 1000\nsupersample = 1\n\
         [color]\npalette = [\"#000000\", \"#ffffff\"]\ncycle = 64.0\n"
    );
    for (frame, depth, rotation, iterations, [re, im]) in keys {
        scene += &format!(
            "[[keyframe]]\nframe = {frame}\ncenter = [\"{re}\", \"{im}\"]\nwidth = \"1e-{depth}\"\n\
             rotation = {rotation:?}\nmax_iterations = {iterations}\n"
        );
    }
    scene
}

/// Renders `scene` with `zoomgen SCENE --data -q -o OUT` (the built binary) into a new
/// temporary folder; returns the folder (kept alive by the caller) and `OUT`.
fn render_with_data(scene: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scene.toml");
    fs::write(&path, scene).unwrap();
    let out = dir.path().join("out");
    zoomgen()
        .arg(&path)
        .args(["--data", "-q", "-o"])
        .arg(&out)
        .assert()
        .success();
    (dir, out)
}

/// A keyframe's frame carries the scene's decimal text in its header.
fn assert_keyframe_header(data: &Data, (frame, depth, _, _, [re, im]): &Key) {
    assert_eq!(&data.header["zoomgen.centerRe"], re, "frame {frame}");
    assert_eq!(&data.header["zoomgen.centerIm"], im, "frame {frame}");
    assert_eq!(data.header["zoomgen.width"], format!("1e-{depth}"));
}

/// One frame's escape data: header strings and the `N` channel.
struct Data {
    header: HashMap<String, String>,
    n: Vec<u32>,
}

/// Reads a single-part scanline OpenEXR without compression, as `src/output/exr.rs` documents it.
fn read_exr(path: &Path) -> Data {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..4], &[0x76, 0x2f, 0x31, 0x01], "magic");
    let mut at = 8;
    let cstr = |at: &mut usize| {
        let end = *at + bytes[*at..].iter().position(|&b| b == 0).unwrap();
        let s = String::from_utf8(bytes[*at..end].to_vec()).unwrap();
        *at = end + 1;
        s
    };
    let mut header = HashMap::new();
    let (mut width, mut height) = (0usize, 0usize);
    loop {
        let name = cstr(&mut at);
        if name.is_empty() {
            break;
        }
        let kind = cstr(&mut at);
        let size = i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 4;
        let value = &bytes[at..at + size];
        at += size;
        match kind.as_str() {
            "string" => {
                header.insert(name, String::from_utf8(value.to_vec()).unwrap());
            }
            "compression" => assert_eq!(value, &[0], "uncompressed"),
            "box2i" if name == "dataWindow" => {
                let v: Vec<i32> = value
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                width = (v[2] - v[0] + 1) as usize;
                height = (v[3] - v[1] + 1) as usize;
            }
            _ => {}
        }
    }
    let table: Vec<usize> = (0..height)
        .map(|y| u64::from_le_bytes(bytes[at + 8 * y..at + 8 * y + 8].try_into().unwrap()) as usize)
        .collect();
    let mut n = Vec::with_capacity(width * height);
    for (y, &offset) in table.iter().enumerate() {
        let line_y = i32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap());
        let count = i32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap());
        assert_eq!((line_y as usize, count as usize), (y, width * 24));
        // Channels in name order: DE, DEX, DEY (f32), N (u32), NF, T (f32).
        let n_at = offset + 8 + 3 * width * 4;
        let line = &bytes[n_at..n_at + width * 4];
        n.extend(
            line.chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap())),
        );
    }
    assert_eq!((width, height), (W as usize, H as usize));
    Data { header, n }
}

/// Checks one frame's data against direct iteration of every `step`-th pixel; returns
/// (checked, equal).
fn check_frame(data: &Data, frame: u64, step: usize) -> (usize, usize) {
    let h = &data.header;
    let text = |k: &str| {
        h.get(k)
            .unwrap_or_else(|| panic!("frame {frame}: no {k}"))
            .clone()
    };
    let max_iterations: u32 = text("zoomgen.maxIterations").parse().unwrap();
    let width_text = text("zoomgen.width");
    // log2 of the pixel spacing, from the width's decimal exponent.
    let lg = {
        let (m, e) = width_text
            .split_once(['e', 'E'])
            .unwrap_or((&width_text, "0"));
        m.parse::<f64>().unwrap().log10() + e.parse::<f64>().unwrap()
    };
    let spacing_log2 = (lg - f64::from(W).log10()) * std::f64::consts::LOG2_10;
    // 128 bits below the pixel spacing.
    let frac = ((-spacing_log2 + 128.0) / 64.0).ceil() as usize;
    let p = |k: &str| {
        Fixed::parse(&text(k), frac).unwrap_or_else(|| panic!("frame {frame}: {k} unreadable"))
    };
    let center = FixedC {
        re: p("zoomgen.centerRe"),
        im: p("zoomgen.centerIm"),
    };
    let spacing = p("zoomgen.width").div_u64(u64::from(W));
    // pixelSpacing is width / W to the digits written.
    let written = p("zoomgen.pixelSpacing").sub(&spacing).to_fe();
    assert!(
        written.is_zero() || written.log2_abs() < spacing_log2 - 90.0,
        "frame {frame}: pixelSpacing is not width / W"
    );
    let (cos, sin) = (p("zoomgen.rotationCos"), p("zoomgen.rotationSin"));
    let (mut checked, mut equal) = (0, 0);
    for i in (0..(W * H) as usize).step_by(step) {
        let (x, y) = (i as u32 % W, i as u32 / W);
        let u = Fixed::from_f64(f64::from(x) + 0.5 - 0.5 * f64::from(W), frac);
        let v = Fixed::from_f64(f64::from(y) + 0.5 - 0.5 * f64::from(H), frac);
        // center + spacing ((u cos + v sin) + i (u sin - v cos))
        let du = u.mul(&cos).add(&v.mul(&sin));
        let dv = u.mul(&sin).sub(&v.mul(&cos));
        let c = center.add(&FixedC {
            re: spacing.mul(&du),
            im: spacing.mul(&dv),
        });
        // The escape count only: the data's `NF` is not checked here.
        let want = direct(&c, max_iterations).n;
        let got = data.n[i];
        checked += 1;
        if want == got {
            equal += 1;
        } else {
            let interior = want == Escape::INTERIOR_N || got == Escape::INTERIOR_N;
            assert!(
                !interior && want.abs_diff(got) == 1,
                "frame {frame} pixel ({x}, {y}): direct {want}, data {got}"
            );
        }
    }
    (checked, equal)
}

#[test]
fn deep_escape_data_matches_direct_iteration_of_the_header_points() {
    let m = misiurewicz(24);
    // Keyframes: 1e-20 (frame 0), 1e-100 (frame 4, turned 30 degrees), 1e-300 (frame 8, 100).
    let keys: [Key; 3] = [
        (0, 20, 0.0, 2000, near(&m, 20, 0.17, 0.11)),
        (4, 100, 30.0, 4000, near(&m, 100, -0.21, 0.13)),
        (8, 300, 100.0, 13000, near(&m, 300, 0.17, -0.11)),
    ];
    let (_dir, out) = render_with_data(&deep_scene(9, &keys));
    // Keyframe frames: the scene's text in the header.
    for key in &keys {
        assert_keyframe_header(&read_exr(&out.join(format!("frame_{:05}.exr", key.0))), key);
    }
    let frame4 = read_exr(&out.join("frame_00004.exr"));
    assert_eq!(
        frame4.header["zoomgen.rotationCos"],
        zoomgen::deep::exact::exact_f64(30f64.to_radians().cos())
    );
    assert_eq!(
        read_exr(&out.join("frame_00000.exr")).header["zoomgen.rotationSin"],
        "0"
    );
    // Every pixel of frames 0 to 4 (1e-20 to 1e-100), every 2nd or 3rd of the deeper ones.
    let steps = [1, 1, 1, 1, 1, 2, 2, 3, 3];
    let (checked, equal) = check_frames("1e-20 to 1e-300 scene", &out, &steps, false);
    assert!(
        equal * 1000 >= checked * 999,
        "only {equal} of {checked} equal"
    );
}

/// The same check at 1e-1000 (FloatExp deltas; the width is far below the `f64` range, so
/// only the header's text can give it): keyframes at 1e-995 and 1e-1000 (turned 45 degrees) and
/// the frame between them, every 37th pixel.
#[test]
fn escape_data_at_1e1000_matches_direct_iteration() {
    let m = misiurewicz(58);
    let keys: [Key; 2] = [
        (0, 995, 0.0, 40000, near(&m, 995, 0.21, -0.13)),
        (2, 1000, 45.0, 40000, near(&m, 1000, 0.17, 0.11)),
    ];
    let (_dir, out) = render_with_data(&deep_scene(3, &keys));
    for key in &keys {
        assert_keyframe_header(&read_exr(&out.join(format!("frame_{:05}.exr", key.0))), key);
    }
    let (checked, equal) = check_frames("1e-1000 scene", &out, &[37; 3], false);
    assert!(
        equal * 1000 >= checked * 999 || checked - equal <= 1,
        "only {equal} of {checked} equal"
    );
}

/// Checks frame `f` of `out` against direct iteration at every `steps[f]`-th pixel, for every
/// `f < steps.len()`; returns (checked, equal). Where `structured`, asserts that each frame has
/// at least 8 distinct escape counts (so the check compares more than one value).
fn check_frames(name: &str, out: &Path, steps: &[usize], structured: bool) -> (usize, usize) {
    let (mut checked, mut equal) = (0, 0);
    for (frame, &step) in (0u64..).zip(steps) {
        let data = read_exr(&out.join(format!("frame_{frame:05}.exr")));
        let (c, e) = check_frame(&data, frame, step);
        let mut counts = data.n.clone();
        counts.sort_unstable();
        counts.dedup();
        eprintln!(
            "{name}, frame {frame}: {e} of {c} equal, {} distinct counts",
            counts.len()
        );
        if structured {
            assert!(counts.len() >= 8, "{name}, frame {frame}: a flat frame");
        }
        checked += c;
        equal += e;
    }
    (checked, equal)
}

/// Renders `keys` (`frames` frames) with `--data`, checks every `step`-th pixel of every frame
/// ([`check_frames`]) and asserts the 99.9% rule.
fn check_scene(name: &str, frames: u64, keys: &[Key], step: usize, structured: bool) {
    let (_dir, out) = render_with_data(&deep_scene(frames, keys));
    let steps = vec![step; frames as usize];
    let (checked, equal) = check_frames(name, &out, &steps, structured);
    assert!(
        equal * 1000 >= checked * 999,
        "{name}: only {equal} of {checked} equal"
    );
}

/// Other places than Seahorse Valley: the Misiurewicz points `i` (the tip of a dendrite
/// branch) and `-2` (the tip of the real axis, where the reference orbit sits on the
/// repelling fixed point 2 and never escapes), each from 1e-30 to 1e-300; and a sample
/// orbit of 31,417 steps just outside the cusp at `0.25`, where the orbit crawls past the
/// parabolic point and a wrong delta would have tens of thousands of steps to show.
#[test]
fn escape_data_at_other_locations_matches_direct_iteration() {
    let point = |re: &str, im: &str| FixedC {
        re: Fixed::parse(re, 24).unwrap(),
        im: Fixed::parse(im, 24).unwrap(),
    };
    let i = point("0", "1");
    check_scene(
        "near i",
        5,
        &[
            (0, 30, 0.0, 3000, near(&i, 30, 0.3, 0.2)),
            (2, 100, 20.0, 6000, near(&i, 100, -0.3, 0.1)),
            (4, 300, 0.0, 15000, near(&i, 300, 0.2, 0.25)),
        ],
        3,
        true,
    );
    let tip = point("-2", "0");
    check_scene(
        "near -2",
        5,
        &[
            (0, 30, 0.0, 3000, near(&tip, 30, 0.4, 0.2)),
            (2, 100, 0.0, 5000, near(&tip, 100, 0.3, 0.0)),
            (4, 300, 45.0, 10000, near(&tip, 300, 0.1, 0.3)),
        ],
        3,
        true,
    );
    let cusp = point("0.25000001", "0");
    check_scene(
        "outside the cusp",
        1,
        &[(0, 20, 0.0, 100_000, near(&cusp, 20, 0.3, 0.4))],
        11,
        false,
    );
}

/// Plain `f64` frames write the exact decimal expansions of the `f64` values they use.
#[test]
fn shallow_headers_are_exact_f64_expansions() {
    let scene = format!(
        "[video]\nwidth = {W}\nheight = {H}\nfps = 30\nframes = 1\n\
         [render]\nmax_iterations = 200\nsupersample = 1\n\
         [color]\npalette = [\"#000000\", \"#ffffff\"]\ncycle = 64.0\n\
         [[keyframe]]\nframe = 0\ncenter = [\"-0.75\", \"0.1\"]\nwidth = 3.5\nrotation = 30.0\n"
    );
    let (_dir, out) = render_with_data(&scene);
    let data = read_exr(&out.join("frame_00000.exr"));
    let h = &data.header;
    assert_eq!(h["zoomgen.centerRe"], "-7.5e-1");
    // 0.1 as the f64 the kernel uses.
    assert_eq!(
        h["zoomgen.centerIm"],
        "1.000000000000000055511151231257827021181583404541015625e-1"
    );
    assert_eq!(h["zoomgen.width"], "3.5e0");
    let cos = &h["zoomgen.rotationCos"];
    assert_eq!(cos.parse::<f64>().unwrap(), 30f64.to_radians().cos());
    assert!(cos.len() > 40, "{cos}");
}
