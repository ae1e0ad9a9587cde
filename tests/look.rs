//! The look of the example scenes at depth, as a user sees it: no grey mush.
//!
//! Coloring by the iteration count alone turns the deep frames of `scenes/seahorse.toml` to
//! noise: where counts climb by hundreds across a pixel, one sample per pixel gives random
//! palette colors and many samples average them to grey, so the two differ by about 50 levels
//! of 255 and the frame shimmers in a video. The scene's distance-estimate look must keep one
//! sample per pixel within 12 levels (mean over all channels) of 8x8 samples, and the 8x8 frame
//! must not be flat (a luminance standard deviation of at least 35 levels).

mod common;

use std::path::Path;

use common::zoomgen;

/// Renders `frame` of the seahorse scene at 480x270 with `supersample`^2 samples per pixel;
/// its RGB pixels.
fn render(frame: u64, supersample: u32, dir: &Path) -> Vec<u8> {
    let out = dir.join(format!("{frame}-{supersample}"));
    let scene = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/seahorse.toml");
    // The look is what is tested here, not the kernel (every kernel gives the same pixels:
    // tests/golden.rs): the fastest kernel renders, also when the tests force the scalar one.
    let result = zoomgen()
        .env_remove("ZOOMGEN_KERNEL")
        .arg(&scene)
        .args([
            "--size",
            "480x270",
            "--quiet",
            "--frames",
            &frame.to_string(),
        ])
        .args(["--set", &format!("render.supersample={supersample}"), "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let png = out.join(format!("frame_{frame:05}.png"));
    image::open(png).unwrap().to_rgb8().into_raw()
}

fn luminance_std(rgb: &[u8]) -> f64 {
    let lum: Vec<f64> = rgb
        .chunks_exact(3)
        .map(|p| 0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2]))
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    (lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64).sqrt()
}

#[test]
fn deep_seahorse_frames_keep_their_detail_at_any_sampling() {
    let dir = tempfile::tempdir().unwrap();
    for frame in [600, 850] {
        let one = render(frame, 1, dir.path());
        let many = render(frame, 8, dir.path());
        let diff = one
            .iter()
            .zip(&many)
            .map(|(&a, &b)| f64::from(a.abs_diff(b)))
            .sum::<f64>()
            / one.len() as f64;
        let std = luminance_std(&many);
        eprintln!("frame {frame}: 1 against 8x8 samples {diff:.2} levels, luminance std {std:.2}");
        assert!(
            diff <= 12.0,
            "frame {frame}: 1 and 8x8 samples differ by {diff:.2} levels"
        );
        assert!(std >= 35.0, "frame {frame}: flat, luminance std {std:.2}");
    }
}
