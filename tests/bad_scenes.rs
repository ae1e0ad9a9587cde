//! Every file in `tests/fixtures/bad/` is a scene with one mistake. The command line must reject
//! each with exit code 2 and a message `file:line: ...` naming the key, before writing anything,
//! both when only checking (`--check`) and when asked to render (`-o`).

use std::path::Path;

use assert_cmd::Command;
use predicates::str::contains;
use zoomgen::scene::Scene;

mod common;

const FIXTURES: &str = "tests/fixtures/bad";

/// (fixture stem, line of the mistake when it has one, text the message must contain).
const CASES: &[(&str, Option<usize>, &str)] = &[
    ("syntax_error", Some(10), "invalid TOML"),
    (
        "duplicate_key",
        Some(7),
        "invalid TOML: duplicate key `width`",
    ),
    (
        "unknown_key",
        Some(5),
        "unknown key `wdith` in [video] (expected one of width, height, fps, frames, seconds, bit_depth, dither)",
    ),
    (
        "unknown_key_top_level",
        Some(2),
        "unknown key `titel` at the top level",
    ),
    (
        "unknown_key_in_keyframe",
        Some(29),
        "unknown key `zoom` in keyframe[1]",
    ),
    (
        "unknown_table",
        Some(10),
        "unknown key `audio` at the top level",
    ),
    ("missing_video_width", Some(4), "missing key video.width"),
    ("missing_video_height", Some(4), "missing key video.height"),
    (
        "missing_frames_and_seconds",
        Some(4),
        "missing key video.frames or video.seconds",
    ),
    (
        "missing_keyframe_frame",
        Some(25),
        "missing key keyframe[1].frame",
    ),
    (
        "missing_keyframe_center",
        Some(20),
        "missing key keyframe[0].center",
    ),
    (
        "missing_keyframe_width",
        Some(20),
        "missing key keyframe[0].width",
    ),
    (
        "missing_keyframe",
        None,
        "missing key keyframe (expected at least one [[keyframe]] table)",
    ),
    (
        "keyframe_empty",
        Some(2),
        "keyframe is empty (expected at least one [[keyframe]] table)",
    ),
    (
        "width_too_small",
        Some(5),
        "video.width = 8 is invalid (expected 16 to 16384)",
    ),
    (
        "height_too_large",
        Some(6),
        "video.height = 20000 is invalid (expected 16 to 16384)",
    ),
    (
        "video_width_not_integer",
        Some(5),
        "video.width = 320.5 is invalid (expected an integer)",
    ),
    (
        "fps_zero",
        Some(7),
        "video.fps = 0 is invalid (expected 1 to 240, or a video rate such as 29.97, 23.976 or \"30000/1001\")",
    ),
    (
        "fps_too_high",
        Some(7),
        "video.fps = 1000 is invalid (expected 1 to 240, or a video rate such as 29.97, 23.976 or \"30000/1001\")",
    ),
    (
        "frames_zero",
        Some(8),
        "video.frames = 0 is invalid (expected >= 1)",
    ),
    (
        "seconds_negative",
        Some(8),
        "video.seconds = -3.0 is invalid (expected > 0)",
    ),
    (
        "frames_and_seconds",
        Some(9),
        "video.frames and video.seconds are both set (expected exactly one of them)",
    ),
    (
        "supersample_too_large",
        Some(12),
        "render.supersample = 16 is invalid (expected 1 to 8)",
    ),
    (
        "max_iterations_zero",
        Some(11),
        "render.max_iterations = 0 is invalid (expected an integer from 1 to 4294967295, or \"auto\")",
    ),
    (
        "keyframe_max_iterations_zero",
        Some(24),
        "keyframe[0].max_iterations = 0 is invalid (expected an integer from 1 to 4294967295, or \"auto\")",
    ),
    (
        "palette_one_stop",
        Some(15),
        "color.palette = [\"#000764\"] is invalid (expected at least 2 colors)",
    ),
    (
        "palette_bad_color",
        Some(15),
        "color.palette[1] = \"#206bc\" is invalid (expected a color written \"#rrggbb\")",
    ),
    (
        "palette_color_without_hash",
        Some(15),
        "color.palette[2] = \"edffff\" is invalid (expected a color written \"#rrggbb\")",
    ),
    (
        "interior_bad_color",
        Some(18),
        "color.interior = \"black\" is invalid (expected a color written \"#rrggbb\")",
    ),
    (
        "cycle_zero",
        Some(16),
        "color.cycle = 0 is invalid (expected > 0)",
    ),
    (
        "cycle_nan",
        Some(16),
        "color.cycle = nan is invalid (expected a finite number)",
    ),
    (
        "offset_out_of_range",
        Some(17),
        "color.offset = 1.0 is invalid (expected >= 0 and < 1)",
    ),
    (
        "width_negative",
        Some(28),
        "keyframe[1].width = -1 is invalid (expected > 0)",
    ),
    (
        "width_zero",
        Some(23),
        "keyframe[0].width = \"0.000\" is invalid (expected > 0)",
    ),
    (
        "width_too_deep",
        Some(28),
        "keyframe[1].width = \"1e-100000000\" is invalid (expected at least 1e-1000000, the \
         deepest zoomgen supports: see docs/DEEP.md)",
    ),
    (
        "width_nan",
        Some(23),
        "keyframe[0].width = nan is invalid (expected a finite decimal number",
    ),
    (
        "center_unparseable",
        Some(22),
        "keyframe[0].center[1] = \"0.0i\" is invalid (expected a finite decimal number",
    ),
    (
        "center_one_value",
        Some(22),
        "keyframe[0].center = [\"-0.75\"] is invalid (expected [re, im], an array of exactly 2",
    ),
    (
        "center_not_array",
        Some(22),
        "keyframe[0].center = \"-0.75, 0.0\" is invalid (expected [re, im]",
    ),
    (
        "rotation_infinite",
        Some(24),
        "keyframe[0].rotation = inf is invalid (expected a finite number)",
    ),
    (
        "first_keyframe_not_zero",
        Some(21),
        "keyframe[0].frame = 10 is invalid (expected 0: the first keyframe must be at frame 0)",
    ),
    (
        "keyframe_out_of_order",
        Some(26),
        "keyframe[1].frame = 0 is invalid (expected greater than keyframe[0].frame = 0)",
    ),
    (
        "keyframe_past_last_frame",
        Some(26),
        "keyframe[1].frame = 90 is invalid (expected < 90, the scene has 90 frames)",
    ),
    ("not_utf8", Some(2), "not valid UTF-8"),
];

fn fixture(stem: &str) -> String {
    format!("{FIXTURES}/{stem}.toml")
}

/// `file:line: ` when the mistake has a line, else `file: `.
fn location(file: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{file}:{line}: "),
        None => format!("{file}: "),
    }
}

/// The built binary, run in the crate root: the fixtures' paths, and so the messages, are
/// relative to it.
fn zoomgen() -> Command {
    let mut cmd = common::zoomgen();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

#[test]
fn every_fixture_is_in_the_table() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURES);
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    stems.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(stem, _, _)| stem.to_string()).collect();
    listed.sort();
    assert_eq!(stems, listed);
}

/// The library reports each mistake at the right place (runs without the binary).
#[test]
fn fixtures_fail_to_load() {
    for &(stem, line, expected) in CASES {
        let file = fixture(stem);
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&file);
        let err = match Scene::load(&path) {
            Ok(_) => panic!("{file} should not load"),
            Err(err) => err,
        };
        assert_eq!(err.line, line, "{file}: {err}");
        assert!(
            err.message.contains(expected),
            "{file}: {err}\n  should contain: {expected}"
        );
    }
}

#[test]
fn check_rejects_bad_scenes() {
    for &(stem, line, expected) in CASES {
        let file = fixture(stem);
        zoomgen()
            .arg(&file)
            .arg("--check")
            .assert()
            .code(2)
            .stderr(contains(location(&file, line)))
            .stderr(contains(expected));
    }
}

#[test]
fn render_rejects_bad_scenes_before_writing() {
    for &(stem, line, expected) in CASES {
        let file = fixture(stem);
        let tmp = tempfile::tempdir().expect("temporary folder");
        let out = tmp.path().join("out");
        zoomgen()
            .arg(&file)
            .arg("-o")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(contains(location(&file, line)))
            .stderr(contains(expected));
        assert!(!out.exists(), "{file}: {} was created", out.display());
    }
}

#[test]
fn missing_scene_file() {
    let file = fixture("no_such_scene");
    zoomgen()
        .arg(&file)
        .arg("--check")
        .assert()
        .code(2)
        .stderr(contains(format!("{file}: cannot read scene file: ")));

    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = tmp.path().join("out");
    zoomgen()
        .arg(&file)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains(format!("{file}: cannot read scene file: ")));
    assert!(!out.exists(), "{} was created", out.display());
}
