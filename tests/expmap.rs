//! `--method expmap` as users run it: frames assembled from an exponential map are as faithful
//! as direct frames, and they are the same bytes whatever the threads, bands, shards, frame
//! ranges or interruptions.
//!
//! Faithfulness is measured against what a user would accept from direct rendering: each frame is
//! compared with a reference rendered directly with 8x8 samples per pixel, by the mean absolute
//! difference of its channels (levels of 255), and the map's frames may differ from it by at
//! most 1.1 times what the direct frames with the scene's own supersampling differ, on average
//! over the frames and in the worst frame.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Rng, zoomgen_process};

/// A shallow zoom with rotation: 60 frames per doubling, two doublings.
const SHALLOW: &str = r##"
[video]
width = 160
height = 90
frames = 121
[render]
supersample = 2
max_iterations = 2000
[color]
by = "distance"
boundary = 1.0
light = 0.6
[[keyframe]]
frame = 0
center = ["-0.7436438870371587", "0.1318259042053119"]
width = 0.01
[[keyframe]]
frame = 120
center = ["-0.7436438870371587", "0.1318259042053119"]
width = 0.0025
rotation = 40.0
"##;

/// A Misiurewicz point of `scenes/deep-spiral.toml` at 1e-20 (perturbation), 30 frames per
/// doubling, with rotation.
fn deep_scene() -> String {
    let spiral =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/deep-spiral.toml"))
            .unwrap();
    let center = spiral
        .lines()
        .rfind(|l| l.starts_with("center"))
        .unwrap()
        .to_string();
    format!(
        r##"
[video]
width = 120
height = 68
frames = 101
[render]
supersample = 2
max_iterations = 3000
[color]
by = "distance"
boundary = 1.0
light = 0.6
[[keyframe]]
frame = 0
{center}
width = "1e-20"
[[keyframe]]
frame = 100
{center}
width = "1e-21"
rotation = -30.0
"##
    )
}

fn write_scene(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

/// Runs zoomgen on `scene` into `out` with `args`; its stderr.
fn render(scene: &Path, out: &Path, args: &[&str]) -> String {
    let result = zoomgen_process()
        .env_remove("ZOOMGEN_KERNEL")
        .arg(scene)
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(result.status.success(), "{args:?}: {stderr}");
    stderr
}

fn pixels(dir: &Path, frame: u64) -> Vec<u8> {
    image::open(dir.join(format!("frame_{frame:05}.png")))
        .unwrap()
        .to_rgb8()
        .into_raw()
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x.abs_diff(y)))
        .sum::<f64>()
        / a.len() as f64
}

/// Renders `text` directly, from its map, and with 8x8 samples for `frames`; asserts the
/// map's frames are within 1.1x of the direct frames' difference to the reference.
fn assert_as_faithful(text: &str, frames: &[u64]) {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "s.toml", text);
    let (direct, map, reference) = (
        dir.path().join("direct"),
        dir.path().join("map"),
        dir.path().join("reference"),
    );
    render(&scene, &direct, &["-q"]);
    let said = render(&scene, &map, &["--method", "expmap"]);
    let total = text
        .lines()
        .find_map(|l| l.strip_prefix("frames = "))
        .unwrap();
    // Every frame but the last keyframe's (which holds the view: rendered directly).
    let expected = format!(
        "expmap: {} of {total} frames assembled",
        total.parse::<u64>().unwrap() - 1
    );
    assert!(said.contains(&expected), "{said}");
    for &frame in frames {
        let range = format!("{frame}..{}", frame + 1);
        render(
            &scene,
            &reference,
            &["-q", "--set", "render.supersample=8", "--frames", &range],
        );
    }
    let (mut sum_direct, mut sum_map, mut worst_direct, mut worst_map) = (0.0, 0.0, 0f64, 0f64);
    let mut table = String::new();
    for &frame in frames {
        let want = pixels(&reference, frame);
        let d = mean_abs_diff(&pixels(&direct, frame), &want);
        let m = mean_abs_diff(&pixels(&map, frame), &want);
        table += &format!("frame {frame}: direct {d:.2}, map {m:.2}\n");
        assert!(
            d > 0.5,
            "frame {frame}: direct and reference agree ({d}): no detail to test"
        );
        (sum_direct, sum_map) = (sum_direct + d, sum_map + m);
        (worst_direct, worst_map) = (worst_direct.max(d), worst_map.max(m));
    }
    eprintln!(
        "{table}mean ratio {:.3}, worst-frame ratio {:.3}",
        sum_map / sum_direct,
        worst_map / worst_direct
    );
    assert!(sum_map <= 1.1 * sum_direct, "on average:\n{table}");
    assert!(
        worst_map <= 1.1 * worst_direct,
        "in the worst frame:\n{table}"
    );
}

#[test]
fn map_frames_are_as_faithful_as_direct_frames_on_a_shallow_zoom() {
    assert_as_faithful(SHALLOW, &[0, 13, 27, 40, 54, 67, 81, 94, 108, 119]);
}

#[test]
fn map_frames_are_as_faithful_as_direct_frames_on_a_deep_zoom() {
    assert_as_faithful(&deep_scene(), &[0, 11, 22, 33, 44, 55, 66, 77, 88, 99]);
}

/// The frames and the names of the other files in `dir`'s cache folder.
fn frames(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("frame_"))
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn cache_files(dir: &Path) -> Vec<String> {
    let cache = dir.join("expmap-cache");
    if !cache.is_dir() {
        return Vec::new();
    }
    let mut v: Vec<String> = fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn map_frames_are_the_same_for_any_threads_bands_shards_ranges_and_interruptions() {
    let dir = tempfile::tempdir().unwrap();
    let text = SHALLOW
        .replace("width = 160", "width = 96")
        .replace("height = 90", "height = 54");
    let scene = write_scene(dir.path(), "s.toml", &text);
    let map = ["--method", "expmap", "-q"];
    let whole = dir.path().join("whole");
    let start = Instant::now();
    render(&scene, &whole, &[&map[..], &["-j", "2"]].concat());
    let full = start.elapsed().as_secs_f64();
    let reference = frames(&whole);
    assert_eq!(reference.len(), 121);
    assert_eq!(
        cache_files(&whole),
        Vec::<String>::new(),
        "a finished run leaves no octaves"
    );
    // The map's frames differ from direct ones (it is used), but not by much.
    let direct = dir.path().join("direct");
    render(&scene, &direct, &["-q", "--frames", "30..31"]);
    let d = mean_abs_diff(&pixels(&direct, 30), &pixels(&whole, 30));
    assert!(d > 0.0 && d < 10.0, "{d}");

    let one = dir.path().join("one");
    render(
        &scene,
        &one,
        &[&map[..], &["-j", "1", "--band-height", "1"]].concat(),
    );
    assert_eq!(frames(&one), reference, "one thread, bands of one row");

    let shards = dir.path().join("shards");
    for shard in ["0/2", "1/2"] {
        render(&scene, &shards, &[&map[..], &["--shard", shard]].concat());
    }
    assert_eq!(frames(&shards), reference, "two shards");

    let range = dir.path().join("range");
    render(
        &scene,
        &range,
        &[&map[..], &["--frames", "70..90"]].concat(),
    );
    let want: Vec<_> = reference[70..90].to_vec();
    assert_eq!(frames(&range), want, "a range of frames");

    // Killed at random moments, then resumed: the same bytes, and the octaves cached by the
    // killed runs are picked up.
    let killed = dir.path().join("killed");
    let mut rng = Rng::new(0xe79a_2026);
    let mut interrupted = 0;
    for _ in 0..4 {
        let mut child = Command::new(common::bin())
            .env_remove("ZOOMGEN_KERNEL")
            .arg(&scene)
            .args(map)
            .arg("-o")
            .arg(&killed)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs_f64((0.2 + 0.6 * rng.next_f64()) * full));
        child.kill().unwrap();
        if !child.wait().unwrap().success() {
            interrupted += 1;
        }
    }
    assert!(interrupted > 0, "no run was interrupted");
    render(&scene, &killed, &map);
    assert_eq!(frames(&killed), reference, "resumed after kill -9");
    assert_eq!(cache_files(&killed), Vec::<String>::new());
}

#[test]
fn octaves_are_cached_while_a_run_goes_on_and_overwrite_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let scene = write_scene(dir.path(), "s.toml", SHALLOW);
    let out = dir.path().join("out");
    // A run stopped after its first frames: the octaves the next frames read stay cached.
    let mut child = Command::new(common::bin())
        .arg(&scene)
        .args(["--method", "expmap", "-q", "-o"])
        .arg(&out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while frames_done(&out) < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let cached = cache_files(&out);
    let whole: Vec<_> = cached.iter().filter(|n| !n.starts_with('.')).collect();
    assert!(!whole.is_empty(), "no octave cached");
    assert!(
        whole.iter().all(|n| n.ends_with(".octave")),
        "only whole octaves under final names: {cached:?}"
    );
    // A resumed run uses them (and removes a killed run's temporary files).
    let said = render(&scene, &out, &["--method", "expmap"]);
    assert!(
        said.contains("read from the cache") && !said.contains(" 0 read from the cache"),
        "{said}"
    );
    assert_eq!(cache_files(&out), Vec::<String>::new());
    // Killed again, then rendered from scratch: --overwrite drops what was cached.
    let mut child = Command::new(common::bin())
        .arg(&scene)
        .args([
            "--method",
            "expmap",
            "-q",
            "--overwrite",
            "--frames",
            "0..60",
            "-o",
        ])
        .arg(&out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while cache_files(&out).iter().all(|n| n.starts_with('.')) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!cache_files(&out).is_empty());
    let said = render(
        &scene,
        &out,
        &["--method", "expmap", "--overwrite", "--frames", "0..5"],
    );
    assert!(said.contains(" 0 read from the cache"), "{said}");
    assert_eq!(cache_files(&out), Vec::<String>::new());
}

fn frames_done(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("frame_"))
        })
        .count()
    })
}
