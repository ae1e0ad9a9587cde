//! Overnight renders: resume after kill -9, clean stops on SIGINT/SIGTERM, failed writes,
//! scene changes, shards (with GNU parallel), the render log, --set and --data.
//!
//! The scenes are tiny; the tests that need a render in progress use scenes long enough to be
//! interrupted and stop them early, so each test takes a few seconds at most.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zoomgen::output::metadata::{FrameState, Manifest, read_frame_state};

mod common;
use common::{Rng, bin, zoomgen_process};

/// 12 frames, 48x27, enough work per frame that a kill lands mid-run.
const SCENE: &str = r##"
title = "overnight"
[video]
width = 48
height = 27
fps = 12
frames = 12
[render]
max_iterations = 400
supersample = 2
[[keyframe]]
frame = 0
center = ["-0.75", "0.0"]
width = 3.5
[[keyframe]]
frame = 11
center = ["-0.7436438870371587", "0.1318259042053120"]
width = "0.001"
max_iterations = 3000
"##;

/// Many heavy frames: a render that is still going when a test signals it.
const LONG: &str = r##"
[video]
width = 160
height = 90
frames = 400
[render]
max_iterations = 20000
[[keyframe]]
frame = 0
center = ["-0.7436438870371587", "0.1318259042053120"]
width = "0.01"
[[keyframe]]
frame = 399
center = ["-0.7436438870371587", "0.1318259042053120"]
width = "1e-9"
"##;

fn scene(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

/// Every regular file in `dir` by name, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            (name, fs::read(e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

fn frames(dir: &Path) -> Vec<(String, Vec<u8>)> {
    files(dir)
        .into_iter()
        .filter(|(n, _)| n.starts_with("frame_"))
        .collect()
}

fn temporaries(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.ends_with(".tmp") || n.starts_with('.'))
        .collect()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{:?} failed: {stderr}", out.status);
    stderr
}

#[test]
fn kill_9_at_random_moments_then_resume_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // Bigger frames than the other tests: a run long enough for kills to land mid-frame.
    let text = SCENE
        .replace("width = 48", "width = 160")
        .replace("height = 27", "height = 90");
    let scene = scene(dir.path(), "s.toml", &text);
    let reference = dir.path().join("reference");
    let start = Instant::now();
    run_ok(
        zoomgen_process()
            .arg(&scene)
            .arg("-o")
            .arg(&reference)
            .arg("-q"),
    );
    let full = start.elapsed().as_secs_f64();

    let out = dir.path().join("killed");
    // Random but repeatable kill moments (0.11, 0.71, 1.11, 0.29 and 0.62 of a full render).
    let mut rng = Rng::new(0x5eed_2024);
    let mut interrupted = 0;
    for _ in 0..5 {
        let mut child = zoomgen_process()
            .arg(&scene)
            .args(["-q", "-j", "2", "-o"])
            .arg(&out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs_f64(rng.next_f64() * full * 1.2));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() {
            interrupted += 1;
        }
        // Whatever is under a final name is a whole frame of this scene.
        if out.is_dir() {
            for (name, _) in frames(&out) {
                let state = read_frame_state(&out.join(&name)).unwrap();
                assert!(
                    matches!(state, FrameState::Complete(Some(_))),
                    "{name}: {state:?}"
                );
            }
        }
    }
    assert!(
        interrupted > 0,
        "no run was interrupted; the scene renders too fast"
    );
    run_ok(zoomgen_process().arg(&scene).arg("-o").arg(&out));
    assert_eq!(frames(&out), frames(&reference));
    assert_eq!(temporaries(&out), Vec::<String>::new());
}

/// Starts a long render and waits until it has written a frame.
fn start_long(dir: &Path, out: &Path) -> std::process::Child {
    let scene = scene(dir, "long.toml", LONG);
    let child = zoomgen_process()
        .arg(&scene)
        .args(["-j", "2", "-o"])
        .arg(out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !out.join("frame_00000.png").exists() {
        assert!(Instant::now() < deadline, "the render did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sigint_and_sigterm_stop_cleanly_with_their_exit_codes() {
    for (name, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let child = start_long(dir.path(), &out);
        signal(&child, name);
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "SIG{name}: {stderr}");
        assert!(
            stderr.contains(&format!("stopped by SIG{name}")),
            "{stderr}"
        );
        assert!(
            stderr.contains("rerun the same command to resume"),
            "{stderr}"
        );
        assert_eq!(temporaries(&out), Vec::<String>::new());
        let done = frames(&out).len();
        assert!((1..400).contains(&done), "{done} frames");
        for (n, _) in frames(&out) {
            image::open(out.join(&n)).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
    }
}

#[test]
fn a_second_sigint_stops_at_once_without_a_partial_frame() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let child = start_long(dir.path(), &out);
    signal(&child, "INT");
    signal(&child, "INT");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    for (n, _) in frames(&out) {
        image::open(out.join(&n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    }
    // A rerun cleans up whatever temporary file the abrupt stop left.
    let scene = dir.path().join("long.toml");
    let stderr = run_ok(
        zoomgen_process()
            .arg(&scene)
            .args(["--frames", "0..2", "-o"])
            .arg(&out),
    );
    // "rendered N frames (M skipped)", or "1 frame": the rerun finished.
    assert!(stderr.contains(" skipped) in "), "{stderr}");
    assert_eq!(temporaries(&out), Vec::<String>::new());
}

#[test]
fn a_failed_write_names_the_file_exits_1_and_the_next_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let text = SCENE
        .replace("width = 48", "width = 320")
        .replace("height = 27", "height = 180")
        .replace("supersample = 2", "supersample = 1");
    let scene = scene(dir.path(), "s.toml", &text);
    let out = dir.path().join("out");
    // 8 blocks (4 or 8 KiB): room for the manifest and log, not for a frame.
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 8; exec '{}' '{}' -o '{}' --frames 0..3",
            bin(),
            scene.display(),
            out.display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("frame_0000"), "{stderr}");
    assert!(stderr.contains(".png: File too large"), "{stderr}");
    assert!(
        frames(&out).is_empty(),
        "no truncated frame under a final name"
    );
    assert_eq!(temporaries(&out), Vec::<String>::new());
    let stderr = run_ok(
        zoomgen_process()
            .arg(&scene)
            .args(["--frames", "0..3", "-o"])
            .arg(&out),
    );
    assert!(stderr.contains("rendered 3 frames"), "{stderr}");
}

#[test]
fn a_changed_scene_is_refused_and_harmless_changes_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path(), "s.toml", SCENE);
    let out = dir.path().join("out");
    run_ok(
        zoomgen_process()
            .arg(&scene)
            .args(["--frames", "0..4", "-q", "-o"])
            .arg(&out),
    );
    let before = frames(&out);
    let hash = Manifest::read_hash(&out).unwrap().unwrap();

    // Pixels change: refused before anything is written.
    for set in [
        "render.supersample=1",
        "color.cycle=10.0",
        "keyframe[1].width=\"0.002\"",
        "video.width=50",
    ] {
        let output = zoomgen_process()
            .arg(&scene)
            .args(["--set", set, "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{set}: {stderr}");
        assert!(stderr.contains("belongs to a different render"), "{stderr}");
        assert!(stderr.contains("--overwrite"), "{stderr}");
        assert_eq!(frames(&out), before, "{set} touched the folder");
    }
    // A different --size is a different render too.
    let output = zoomgen_process()
        .arg(&scene)
        .args(["--size", "64x36", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));

    // Title, fps and frame count do not change pixels: the frames are kept.
    let stderr = run_ok(
        zoomgen_process()
            .arg(&scene)
            .args(["--set", "title=\"renamed\"", "--set", "video.fps=60"])
            .args(["--set", "video.frames=20", "--frames", "0..4", "-o"])
            .arg(&out),
    );
    assert!(stderr.contains("rendered 0 frames (4 skipped)"), "{stderr}");

    // --overwrite renders again and leaves no frame of the old scene behind.
    run_ok(
        zoomgen_process()
            .arg(&scene)
            .args([
                "--set",
                "color.cycle=10.0",
                "--frames",
                "0..2",
                "--overwrite",
                "-q",
                "-o",
            ])
            .arg(&out),
    );
    let new_hash = Manifest::read_hash(&out).unwrap().unwrap();
    assert_ne!(new_hash, hash);
    let left = frames(&out);
    assert_eq!(left.len(), 2, "old frames 2 and 3 were removed");
    for (name, _) in left {
        assert_eq!(
            read_frame_state(&out.join(&name)).unwrap(),
            FrameState::Complete(Some(new_hash.clone()))
        );
    }
}

#[test]
fn a_damaged_frame_is_rendered_again() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path(), "s.toml", SCENE);
    let out = dir.path().join("out");
    run_ok(
        zoomgen_process()
            .arg(&scene)
            .args(["--frames", "0..3", "-q", "-o"])
            .arg(&out),
    );
    let good = fs::read(out.join("frame_00001.png")).unwrap();
    fs::write(out.join("frame_00001.png"), &good[..good.len() / 2]).unwrap();
    let stderr = run_ok(
        zoomgen_process()
            .arg(&scene)
            .args(["--frames", "0..3", "-o"])
            .arg(&out),
    );
    assert!(stderr.contains("rendered 1 frame (2 skipped)"), "{stderr}");
    assert_eq!(fs::read(out.join("frame_00001.png")).unwrap(), good);
}

#[test]
fn shards_run_with_gnu_parallel_give_the_same_bytes_as_one_render() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path(), "s.toml", SCENE);
    let reference = dir.path().join("reference");
    run_ok(
        zoomgen_process()
            .arg(&scene)
            .arg("-q")
            .arg("-o")
            .arg(&reference),
    );
    let out = dir.path().join("sharded");
    let status = Command::new("parallel")
        .args(["--halt", "now,fail=1", bin()])
        .arg(&scene)
        .args(["-q", "-j", "1", "--shard", "{}/3", "-o"])
        .arg(&out)
        .args([":::", "0", "1", "2"])
        .status()
        .expect("GNU parallel is needed for this test (apt-get install parallel)");
    assert!(status.success());
    assert_eq!(frames(&out), frames(&reference));
    assert_eq!(
        Manifest::read_hash(&out).unwrap(),
        Manifest::read_hash(&reference).unwrap()
    );
    assert_eq!(temporaries(&out), Vec::<String>::new());
}

#[test]
fn shard_auto_reads_slurm_and_kubernetes_variables() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path(), "s.toml", SCENE);
    let out = dir.path().join("slurm");
    // Array --array=1-4: task 3 is shard 2 of 4, frames 2, 6, 10.
    run_ok(
        zoomgen_process()
            .env("SLURM_ARRAY_TASK_ID", "3")
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .env("SLURM_ARRAY_TASK_COUNT", "4")
            .env_remove("JOB_COMPLETION_INDEX")
            .arg(&scene)
            .args(["--shard", "auto", "-q", "-o"])
            .arg(&out),
    );
    let names: Vec<_> = frames(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["frame_00002.png", "frame_00006.png", "frame_00010.png"]
    );

    let out = dir.path().join("k8s");
    run_ok(
        zoomgen_process()
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env("JOB_COMPLETION_INDEX", "4")
            .arg(&scene)
            .args(["--shard", "auto", "--shard-count", "5", "-q", "-o"])
            .arg(&out),
    );
    let names: Vec<_> = frames(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["frame_00004.png", "frame_00009.png"]);

    for (env, args, message) in [
        (
            &[][..],
            &["--shard", "auto"][..],
            "neither SLURM_ARRAY_TASK_ID",
        ),
        (
            &[("JOB_COMPLETION_INDEX", "1")],
            &["--shard", "auto"],
            "--shard-count",
        ),
        (&[], &["--shard", "3/3"], "--shard 3/3 is invalid"),
        (
            &[],
            &["--shard", "0/2", "--pipe", "raw"],
            "cannot be combined",
        ),
    ] {
        let mut cmd = zoomgen_process();
        cmd.env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("JOB_COMPLETION_INDEX");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let never = dir.path().join("never");
        let output = cmd
            .arg(&scene)
            .args(args)
            .arg("-o")
            .arg(&never)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!never.exists());
    }
}

#[test]
fn the_render_log_has_one_line_per_frame_and_warns_about_low_budgets() {
    let dir = tempfile::tempdir().unwrap();
    // A budget far too low for this depth: most of the picture hits it.
    let text = SCENE.replace("max_iterations = 3000", "max_iterations = 60");
    let scene = scene(dir.path(), "s.toml", &text);
    let out = dir.path().join("out");
    let stderr = run_ok(zoomgen_process().arg(&scene).arg("-o").arg(&out));
    assert_eq!(
        stderr.matches("max_iterations may be too low").count(),
        1,
        "{stderr}"
    );
    let log = fs::read_to_string(out.join("render-log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), 12);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["frame"], i as u64);
        for key in ["seconds", "cpu_seconds", "mean_escape", "interior_share"] {
            assert!(l[key].as_f64().is_some_and(|v| v >= 0.0), "{key} in {l}");
        }
        assert!(l["iterations"].as_u64().is_some_and(|v| v > 0));
        assert!(l["max_escape"].as_u64().is_some());
        assert!(l["kernel"].as_str().is_some_and(|k| !k.is_empty()));
        assert_eq!(l["glitches"], 0);
        assert_eq!(l["exact_samples"], 0);
    }
    // A scene with enough iterations does not warn.
    let scene = self::scene(dir.path(), "ok.toml", SCENE);
    let stderr = run_ok(
        zoomgen_process()
            .arg(&scene)
            .args(["--frames", "0..3", "-o"])
            .arg(dir.path().join("ok")),
    );
    assert!(!stderr.contains("too low"), "{stderr}");
    assert!(stderr.contains("G iterations/s"), "{stderr}");
}

#[test]
fn set_overrides_a_scene_value_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path(), "s.toml", SCENE);
    let out = dir.path().join("out");
    run_ok(
        zoomgen_process()
            .arg(&scene)
            .args(["--set", "video.width=40", "--set", "video.height=20"])
            .args(["--frames", "1", "-q", "-o"])
            .arg(&out),
    );
    let img = image::open(out.join("frame_00001.png")).unwrap();
    assert_eq!((img.width(), img.height()), (40, 20));
    let output = zoomgen_process()
        .arg(&scene)
        .args(["--set", "video.width=-3", "-o"])
        .arg(dir.path().join("never"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("video.width"));
}

#[test]
fn data_writes_openexr_escape_counts_that_match_the_renderer() {
    use exr::prelude::*;
    use zoomgen::kernel::Escape;
    use zoomgen::{RenderOptions, Renderer, Scene};

    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path(), "s.toml", SCENE);
    let out = dir.path().join("out");
    let args = [
        "--set",
        "render.supersample=1",
        "--frames",
        "0..2",
        "--data",
        "-q",
    ];
    run_ok(zoomgen_process().arg(&scene).args(args).arg("-o").arg(&out));

    let renderer = Renderer::new(
        &Scene::load(&scene).unwrap(),
        RenderOptions {
            supersample: Some(1),
            frames: Some(0..2),
            threads: Some(2),
            ..RenderOptions::default()
        },
    )
    .unwrap();
    let expected: Vec<_> = [0, 1]
        .iter()
        .map(|&f| renderer.render_escapes(f).unwrap())
        .collect();
    for (frame, (escapes, slopes)) in [0, 1].into_iter().zip(&expected) {
        let path = out.join(format!("frame_{frame:05}.exr"));
        let image = read_all_flat_layers_from_file(&path).unwrap();
        let layer = &image.layer_data[0];
        assert_eq!(layer.size, Vec2(48, 27));
        let channels = &layer.channel_data.list;
        let names: Vec<String> = channels.iter().map(|c| c.name.to_string()).collect();
        assert_eq!(names, ["DE", "DEX", "DEY", "N", "NF", "T"]);
        let f32s = |i: usize| match &channels[i].sample_data {
            FlatSamples::F32(v) => v.clone(),
            _ => panic!("{} is not f32", names[i]),
        };
        let (de, dex, dey, nf, t) = (f32s(0), f32s(1), f32s(2), f32s(4), f32s(5));
        let FlatSamples::U32(n) = &channels[3].sample_data else {
            panic!("N is not u32")
        };
        assert_eq!(n.len(), escapes.len());
        assert!(n.contains(&Escape::INTERIOR_N), "some interior");
        assert!(n.iter().any(|&v| v != Escape::INTERIOR_N), "some escaped");
        for (i, e) in escapes.iter().enumerate() {
            assert_eq!(n[i], e.n, "N of pixel {i}");
            assert_eq!(nf[i].to_bits(), e.nf.to_bits(), "NF of pixel {i}");
            if e.is_interior() {
                assert_eq!(
                    (de[i], dex[i], dey[i], t[i]),
                    (f32::INFINITY, 0.0, 0.0, 0.0)
                );
                continue;
            }
            // One sample per pixel: the estimate in samples is in pixels; the scene is not
            // turned at frames 0 and 1, so image x is the plane's x and image y its -y.
            let s = slopes[i];
            assert_eq!(de[i], s.distance() as f32, "DE of pixel {i}");
            let [ux, uy] = s.direction();
            assert!((f64::from(dex[i]) - ux).abs() < 1e-6, "DEX of pixel {i}");
            assert!((f64::from(dey[i]) + uy).abs() < 1e-6, "DEY of pixel {i}");
            let len = f64::from(dex[i]).hypot(f64::from(dey[i]));
            assert!((len - 1.0).abs() < 1e-5, "|(DEX, DEY)| of pixel {i}: {len}");
            assert!((0.0..1.0).contains(&t[i]), "T of pixel {i}");
            let angle = f64::from(s.z[1])
                .atan2(f64::from(s.z[0]))
                .rem_euclid(std::f64::consts::TAU);
            assert!((f64::from(t[i]) * std::f64::consts::TAU - angle).abs() < 1e-5);
            assert!(
                de[i] > 0.0 && de[i].is_finite(),
                "DE of pixel {i}: {}",
                de[i]
            );
        }
        let radius = image.layer_data[0]
            .attributes
            .other
            .get(&Text::from("zoomgen.escapeRadius"));
        assert!(
            matches!(radius, Some(AttributeValue::F64(r)) if *r == 256.0),
            "{radius:?}"
        );
    }

    // Resume needs both files: a missing .exr renders its frame again.
    fs::remove_file(out.join("frame_00001.exr")).unwrap();
    let stderr = run_ok(
        zoomgen_process()
            .arg(&scene)
            .args(&args[..5])
            .arg("-o")
            .arg(&out),
    );
    assert!(stderr.contains("rendered 1 frame (1 skipped)"), "{stderr}");
    assert!(out.join("frame_00001.exr").is_file());

    // Supersampled frames have no one-sample-per-pixel data.
    let output = zoomgen_process()
        .arg(&scene)
        .args(["--data", "-o"])
        .arg(dir.path().join("never"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--data needs one sample per pixel"));
    assert!(!dir.path().join("never").exists());
}
