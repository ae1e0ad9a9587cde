//! The command line as a user runs it: tiny scenes rendered by the built binary.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

mod common;
use common::zoomgen;

const TINY: &str = r##"
title = "tiny"
[video]
width = 64
height = 36
fps = 24
frames = 3
[render]
max_iterations = 200
supersample = 2
[color]
palette = ["#000764", "#206bcb", "#edffff", "#ffaa00", "#000200"]
cycle = 32.0
[[keyframe]]
frame = 0
center = ["-0.75", "0.0"]
width = 3.5
[[keyframe]]
frame = 2
center = ["-0.7436438870371587", "0.1318259042053120"]
width = "0.01"
max_iterations = 600
"##;

fn write_scene(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn decode(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

#[test]
fn a_tiny_scene_renders_three_frames_and_a_rerun_skips_them() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let out = dir.path().join("out");
    zoomgen()
        .arg(&scene)
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("rendered 3 frames (0 skipped)"))
        .stderr(predicate::str::contains(format!(
            "ffmpeg -framerate 24 -i {}",
            out.join("frame_%05d.png").display()
        )));
    let frames: Vec<_> = (0..3)
        .map(|n| decode(&out.join(format!("frame_{n:05}.png"))))
        .collect();
    for f in &frames {
        assert_eq!(f.dimensions(), (64, 36));
    }
    assert_ne!(frames[0], frames[1]);
    assert_ne!(frames[1], frames[2]);
    let mut names: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "frame_00000.png",
            "frame_00001.png",
            "frame_00002.png",
            "render-log.jsonl",
            "zoomgen-manifest.toml"
        ],
        "the frames, the log and the manifest; no temporary files"
    );

    let before = fs::metadata(out.join("frame_00001.png"))
        .unwrap()
        .modified()
        .unwrap();
    zoomgen()
        .arg(&scene)
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("rendered 0 frames (3 skipped)"));
    let after = fs::metadata(out.join("frame_00001.png"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "a skipped frame is not rewritten");

    // A missing frame is filled in; --overwrite renders everything again, identically.
    fs::remove_file(out.join("frame_00001.png")).unwrap();
    zoomgen()
        .arg(&scene)
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("rendered 1 frame (2 skipped)"));
    assert_eq!(decode(&out.join("frame_00001.png")), frames[1]);
    zoomgen()
        .arg(&scene)
        .arg("-o")
        .arg(&out)
        .arg("--overwrite")
        .assert()
        .success()
        .stderr(predicate::str::contains("rendered 3 frames (0 skipped)"));
    assert_eq!(decode(&out.join("frame_00002.png")), frames[2]);
}

#[test]
fn the_default_output_folder_is_named_after_the_scene() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "little-zoom.toml", TINY);
    zoomgen()
        .current_dir(dir.path())
        .arg(&scene)
        .args(["--frames", "1", "-q"])
        .assert()
        .success()
        .stderr("");
    assert!(
        dir.path()
            .join("frames/little-zoom/frame_00001.png")
            .is_file()
    );
    assert!(
        !dir.path()
            .join("frames/little-zoom/frame_00000.png")
            .exists()
    );
}

#[test]
fn same_bytes_for_any_thread_count_band_height_and_scheduler() {
    // By the count, and with the distance estimate, lighting and boundary shading (dithered).
    let look = TINY.replace(
        "cycle = 32.0",
        "cycle = 6.0\nby = \"distance\"\nboundary = 1.0\nlight = 0.6",
    );
    assert_ne!(look, TINY);
    for text in [TINY, &look] {
        same_bytes_for_any_thread_count_band_height_and_scheduler_in(text);
    }
}

fn same_bytes_for_any_thread_count_band_height_and_scheduler_in(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", text);
    let render = |name: &str, args: &[&str]| {
        let out = dir.path().join(name);
        zoomgen()
            .arg(&scene)
            .arg("-o")
            .arg(&out)
            .args(args)
            .arg("-q")
            .assert()
            .success();
        (0..3)
            .map(|n| fs::read(out.join(format!("frame_{n:05}.png"))).unwrap())
            .collect::<Vec<_>>()
    };
    let reference = render("ref", &["-j", "1", "--band-height", "36"]);
    for (name, args) in [
        ("j2", &["-j", "2"][..]),
        ("j3b1", &["-j", "3", "--band-height", "1"]),
        ("j8b5", &["-j", "8", "--band-height", "5"]),
        ("static", &["-j", "3", "--scheduler", "static"]),
        ("mutex", &["-j", "3", "--scheduler", "mutex"]),
        (
            "cas",
            &[
                "-j",
                "3",
                "--scheduler",
                "lockfree-cas",
                "--band-height",
                "2",
            ],
        ),
    ] {
        assert!(render(name, args) == reference, "{name} differs");
    }
}

#[test]
fn frames_size_and_preview_options() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let out = dir.path().join("sized");
    zoomgen()
        .arg(&scene)
        .args(["--frames", "1..3", "--size", "40x20", "-q", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert!(!out.join("frame_00000.png").exists());
    assert_eq!(decode(&out.join("frame_00002.png")).dimensions(), (40, 20));
    // A preview is a quarter of each side, but its longer side is at least 480 pixels (or the
    // whole frame, when that is smaller), keeping the aspect.
    for (size, expected) in [
        ("2560x1280", (640, 320)),
        ("640x360", (480, 270)),
        ("256x128", (256, 128)),
    ] {
        let preview = dir.path().join(format!("preview-{size}"));
        zoomgen()
            .arg(&scene)
            .args(["--preview", "--frames", "0", "--size", size, "-q", "-o"])
            .arg(&preview)
            .assert()
            .success();
        assert_eq!(
            decode(&preview.join("frame_00000.png")).dimensions(),
            expected,
            "--preview --size {size}"
        );
    }
    // Open ranges run to the end of the scene, or from its start.
    let open = dir.path().join("open");
    zoomgen()
        .arg(&scene)
        .args(["--frames", "1..", "-q", "-o"])
        .arg(&open)
        .assert()
        .success();
    assert!(!open.join("frame_00000.png").exists());
    assert!(open.join("frame_00001.png").exists() && open.join("frame_00002.png").exists());
    let head = dir.path().join("head");
    zoomgen()
        .arg(&scene)
        .args(["--frames", "..1", "-q", "-o"])
        .arg(&head)
        .assert()
        .success();
    assert!(head.join("frame_00000.png").exists() && !head.join("frame_00001.png").exists());
}

#[test]
fn check_prints_the_plan_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let out = dir.path().join("never");
    zoomgen()
        .arg(&scene)
        .arg("--check")
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("frames:         3 of 3"))
        .stdout(predicate::str::contains("deepest width:  0.01\n"))
        .stdout(predicate::str::contains("max iterations: 200..=600"));
    assert!(!out.exists());
}

/// `--check` gives the refusal a render would give when the output folder holds another
/// scene's frames (exit 2), and writes nothing; with `--overwrite` it passes.
#[test]
fn check_refuses_a_folder_of_another_scene() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let out = dir.path().join("out");
    zoomgen()
        .arg(&scene)
        .args(["--frames", "0", "-q", "-o"])
        .arg(&out)
        .assert()
        .success();
    let before = fs::read_dir(&out).unwrap().count();
    let other = write_scene(
        dir.path(),
        "other.toml",
        &TINY.replace("cycle = 32.0", "cycle = 20.0"),
    );
    zoomgen()
        .arg(&other)
        .arg("--check")
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("belongs to a different render"));
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        before,
        "nothing written"
    );
    zoomgen()
        .arg(&other)
        .args(["--check", "--overwrite", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert!(
        out.join("frame_00000.png").exists(),
        "--check removes nothing"
    );
}

/// `--pipe` refuses to write binary frames to a terminal (run under `script`, which gives the
/// command a terminal), with a hint; into a pipe it streams as before.
#[test]
fn pipe_refuses_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let log = dir.path().join("typescript");
    let command = format!(
        "'{}' '{}' --pipe raw --frames 0",
        common::bin(),
        scene.display()
    );
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command])
        .arg(&log)
        .output()
        .expect("script (util-linux) gives the command a terminal");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("stdout, which is a terminal"), "{shown}");
    zoomgen()
        .arg(&scene)
        .args(["--pipe", "raw", "--frames", "0", "-q"])
        .assert()
        .success()
        .stdout(predicate::function(|b: &[u8]| b.len() == 64 * 36 * 3));
}

/// A frame that shows nothing (one color) is warned about once, naming the frame; a frame
/// with structure is not.
#[test]
fn a_blank_frame_is_warned_about_once() {
    let dir = tempfile::tempdir().unwrap();
    // Frames 1 and 2 look into the main cardioid: entirely interior (warned at the first).
    let inside = TINY
        .replace(
            "center = [\"-0.7436438870371587\", \"0.1318259042053120\"]",
            "center = [\"-0.2\", \"0.0\"]",
        )
        .replace("width = \"0.01\"", "width = \"0.001\"");
    let scene = write_scene(dir.path(), "inside.toml", &inside);
    let result = zoomgen()
        .arg(&scene)
        .arg("-o")
        .arg(dir.path().join("inside"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert_eq!(stderr.matches("warning: frame ").count(), 1, "{stderr}");
    assert!(
        stderr.contains("warning: frame 1 is entirely inside the set"),
        "{stderr}"
    );
    // The tiny scene's frames all show the set's boundary: no warning.
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let result = zoomgen()
        .arg(&scene)
        .arg("-o")
        .arg(dir.path().join("tiny"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!stderr.contains("warning: frame"), "{stderr}");
}

/// In a batch log, the reference orbit's end is reported once (it was printed twice).
#[test]
fn the_orbit_is_reported_done_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deep");
    let scene = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/deep-spiral.toml");
    let result = zoomgen()
        .arg(&scene)
        .args(["--frames", "1799", "--size", "32x18", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("reference orbit: 100.0% computed").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn bad_command_line_values_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let out = dir.path().join("never");
    for (args, message) in [
        (&["--frames", "3"][..], "--frames 3 is invalid"),
        (
            &["--frames", "2..1"],
            "--frames 2..1 is invalid (the range is empty)",
        ),
        (&["--frames", "x"], "--frames x is invalid"),
        (
            &["--size", "10x10"],
            "--size 10x10 is invalid (expected each side in 16..=16384)",
        ),
        (&["--size", "big"], "--size big is invalid"),
        (&["--threads", "0"], "--threads 0 is invalid"),
        (&["--band-height", "0"], "--band-height 0 is invalid"),
        (&["--scheduler", "fastest"], "invalid value 'fastest'"),
    ] {
        zoomgen()
            .arg(&scene)
            .arg("-o")
            .arg(&out)
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
        assert!(!out.exists(), "{args:?} wrote something");
    }
}

#[test]
fn a_frame_too_large_for_memory_is_refused_with_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let out = dir.path().join("never");
    zoomgen()
        .env("ZOOMGEN_MEMORY_LIMIT", "1M")
        .arg(&scene)
        .args(["--size", "4000x3000", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a 4000x3000 frame is too large"))
        .stderr(predicate::str::contains("MiB of memory"));
    assert!(!out.exists());
}

#[test]
fn an_output_folder_that_cannot_be_created_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let blocker = dir.path().join("file");
    fs::write(&blocker, b"not a folder").unwrap();
    zoomgen()
        .arg(&scene)
        .arg("-o")
        .arg(blocker.join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot create output folder"))
        .stderr(predicate::str::contains(
            blocker.join("out").display().to_string(),
        ));
}

#[test]
fn every_scene_in_the_scenes_folder_is_valid() {
    let scenes = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes");
    let mut count = 0;
    for entry in fs::read_dir(&scenes).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            count += 1;
            zoomgen()
                .arg(&path)
                .arg("--check")
                .assert()
                .success()
                .stdout(predicate::str::contains("frames:"));
        }
    }
    assert!(
        count >= 3,
        "expected at least three example scenes, found {count}"
    );
}

/// Deep frames log, per frame, the samples they iterated again in higher precision
/// (ill-conditioned, exact) apart from glitches (untrusted); shallow frames log 0 of each.
#[test]
fn deep_frames_log_their_exact_samples() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deep");
    let scene_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/deep-spiral.toml");
    let render = |frame: &str| {
        zoomgen()
            .arg(&scene_path)
            .args(["--frames", frame, "--size", "160x90", "-q", "-o"])
            .arg(&out)
            .assert()
            .success();
    };
    render("0");
    render("900");
    let log = fs::read_to_string(out.join("render-log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    let (shallow, deep) = (&lines[0], &lines[1]);
    assert_eq!(shallow["frame"], 0);
    assert_eq!(shallow["exact_samples"], 0, "{log}");
    assert_eq!(deep["frame"], 900);
    assert!(
        deep["kernel"]
            .as_str()
            .is_some_and(|k| k.starts_with("perturb")),
        "{log}"
    );
    assert_eq!(deep["glitches"], 0, "{log}");
    // About 0.5% of a deep frame's samples are ill-conditioned (docs/DEEP.md).
    let exact = deep["exact_samples"].as_u64().unwrap();
    assert!(exact > 0 && exact < 160 * 90 / 20, "{log}");

    // The PNG text names the exact view: at the last keyframe (1e-300) the scene's own text,
    // elsewhere the deep frame's exact center to well below a pixel (here 1e-150 wide).
    let text = |frame: &str| -> HashMap<String, String> {
        let file = fs::File::open(out.join(frame)).unwrap();
        let reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .unwrap();
        reader
            .info()
            .uncompressed_latin1_text
            .iter()
            .map(|t| (t.keyword.clone(), t.text.clone()))
            .collect()
    };
    let middle = text("frame_00900.png");
    let (re, im) = middle["zoomgen.center"].split_once(' ').unwrap();
    for part in [re, im] {
        let digits = part.chars().filter(char::is_ascii_digit).count();
        assert!(digits > 150, "{part}: {digits} digits");
    }
    render("1799");
    let last = text("frame_01799.png");
    let scene = fs::read_to_string(&scene_path).unwrap();
    let (re, im) = last["zoomgen.center"].split_once(' ').unwrap();
    assert!(
        scene.contains(&format!("[\"{re}\", \"{im}\"]")),
        "{re} {im}"
    );
    assert_eq!(last["zoomgen.width"], "1e-300");
}

/// `--bit-depth 16` writes 16-bit PNGs and streams `rgb48le`; 8-bit frames are dithered (at
/// most one level from the undithered ones) unless `video.dither = false`; bad depths are
/// refused.
#[test]
fn sixteen_bit_frames_and_dithered_eight_bit_frames() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "tiny.toml", TINY);
    let render = |name: &str, args: &[&str]| {
        let out = dir.path().join(name);
        let result = zoomgen()
            .arg(&scene)
            .args(["-q", "--frames", "1", "-o"])
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        image::open(out.join("frame_00001.png")).unwrap()
    };
    let deep = render("16", &["--bit-depth", "16"]);
    assert_eq!(deep.color(), image::ColorType::Rgb16);
    let deep = deep.to_rgb16().into_raw();
    let dithered = render("8", &[]).to_rgb8().into_raw();
    let plain = render("plain", &["--set", "video.dither=false"])
        .to_rgb8()
        .into_raw();
    assert_eq!(deep.len(), dithered.len());
    let mut moved = 0;
    for ((&d, &p), &v16) in dithered.iter().zip(&plain).zip(&deep) {
        let exact = f64::from(v16) / 257.0;
        assert!(d.abs_diff(p) <= 1, "dithered {d}, plain {p}");
        assert!(
            (f64::from(d) - exact).abs() < 1.0,
            "dithered {d}, 16-bit {exact}"
        );
        assert!(
            (f64::from(p) - exact).abs() <= 0.5 + 1e-9,
            "plain {p}, 16-bit {exact}"
        );
        moved += usize::from(d != p);
    }
    assert!(moved > 100, "dithering changed only {moved} channels");

    // The raw stream: rgb48le, the PNG's values.
    let result = zoomgen()
        .arg(&scene)
        .args(["--frames", "1", "--bit-depth", "16", "--pipe", "raw", "-o"])
        .arg(dir.path().join("pipe"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("-pix_fmt rgb48le -s 64x36"), "{stderr}");
    let raw: Vec<u16> = result
        .stdout
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(raw, deep);

    for (args, message) in [
        (
            ["--set", "video.bit_depth=12"],
            "video.bit_depth = 12 is invalid (expected 8 or 16)",
        ),
        (["--bit-depth", "12"], "invalid value '12' for '--bit-depth"),
    ] {
        let result = zoomgen()
            .arg(&scene)
            .args(args)
            .arg("-o")
            .arg(dir.path().join("never"))
            .output()
            .unwrap();
        assert_eq!(result.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(message), "{stderr}");
        assert!(!dir.path().join("never").exists());
    }
}

/// `--recolor` colors the frames of a folder from their `--data` files with the scene's new
/// colors, as a render with those colors would, and refuses data of other geometry, missing
/// data and supersampled scenes before writing anything.
#[test]
fn recolor_colors_frames_from_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let one = TINY.replace("supersample = 2", "supersample = 1");
    let count = write_scene(dir.path(), "count.toml", &one);
    let looks = one.replace(
        "cycle = 32.0",
        "cycle = 6.0\npalette = \"fire\"\nby = \"distance\"\nboundary = 1.0\nlight = 0.6",
    );
    let looks = looks.replacen(
        "palette = [\"#000764\", \"#206bcb\", \"#edffff\", \"#ffaa00\", \"#000200\"]\n",
        "",
        1,
    );
    let look = write_scene(dir.path(), "look.toml", &looks);
    let (folder, direct) = (dir.path().join("frames"), dir.path().join("direct"));
    let run = |scene: &Path, out: &Path, args: &[&str]| {
        zoomgen()
            .arg(scene)
            .arg("-o")
            .arg(out)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&count, &folder, &["-q", "--data"]).status.success());
    assert!(run(&look, &direct, &["-q"]).status.success());
    let pixels = |out: &Path, n: u64| decode(&out.join(format!("frame_{n:05}.png"))).into_raw();
    let before: Vec<Vec<u8>> = (0..3).map(|n| pixels(&folder, n)).collect();

    let result = run(&look, &folder, &["--recolor"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("recolored 3 frames"), "{stderr}");
    for n in 0..3 {
        let (got, want) = (pixels(&folder, n), pixels(&direct, n));
        assert_ne!(got, before[n as usize], "frame {n} kept its old colors");
        let close = got
            .iter()
            .zip(&want)
            .filter(|(a, b)| a.abs_diff(**b) <= 1)
            .count();
        let same = got.iter().zip(&want).filter(|(a, b)| a == b).count();
        assert_eq!(close, want.len(), "frame {n}: more than one level off");
        assert!(
            same * 100 >= want.len() * 99,
            "frame {n}: {same} of {} equal",
            want.len()
        );
    }
    // The folder now holds the new scene's frames: a render of it skips them all.
    let result = run(&look, &folder, &[]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("rendered 0 frames (3 skipped)"), "{stderr}");

    // Refusals: exit 2, nothing written.
    let recolored: Vec<Vec<u8>> = (0..3).map(|n| pixels(&folder, n)).collect();
    let moved = write_scene(
        dir.path(),
        "moved.toml",
        &looks.replace("width = \"0.01\"", "width = \"0.02\""),
    );
    fs::remove_file(folder.join("frame_00002.exr")).unwrap();
    let supersampled = write_scene(
        dir.path(),
        "ss.toml",
        &looks.replace("supersample = 1", "supersample = 2"),
    );
    for (scene, args, message) in [
        (
            &moved,
            &["--recolor", "--frames", "0..2"][..],
            "holds the data of another frame or geometry",
        ),
        (&look, &["--recolor"][..], "frame_00002.exr"),
        (
            &supersampled,
            &["--recolor"][..],
            "--recolor colors one sample per pixel",
        ),
    ] {
        let result = run(scene, &folder, args);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
        for n in 0..3 {
            assert_eq!(
                pixels(&folder, n),
                recolored[n as usize],
                "frame {n} was written"
            );
        }
    }
}
