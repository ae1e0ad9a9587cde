//! Videos made by a real ffmpeg, checked with ffprobe: from the numbered PNGs, from
//! `--pipe raw` and `--pipe png`, and from `--video`; and what happens when ffmpeg is missing
//! or dies. CI installs ffmpeg (`apt-get install -y ffmpeg`).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::{bin, zoomgen_process};

const SCENE: &str = r##"
[video]
width = 32
height = 18
fps = 12
frames = 7
[render]
max_iterations = 300
[[keyframe]]
frame = 0
center = ["-0.75", "0.0"]
width = 3.5
[[keyframe]]
frame = 6
center = ["-0.7436438870371587", "0.1318259042053120"]
width = "0.01"
"##;

fn scene(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("v.toml");
    fs::write(&path, SCENE).unwrap();
    path
}

/// (frames, width, height, frame rate) of a video's first stream, counted by decoding.
fn probe(video: &Path) -> (u64, u32, u32, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args([
            "-show_entries",
            "stream=nb_read_frames,width,height,r_frame_rate",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(video)
        .output()
        .expect("ffprobe is needed for this test (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .to_string()
    };
    (
        get("nb_read_frames").parse().unwrap(),
        get("width").parse().unwrap(),
        get("height").parse().unwrap(),
        get("r_frame_rate"),
    )
}

/// The ffmpeg command zoomgen printed on stderr for making the video.
fn printed_command(stderr: &str) -> &str {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("ffmpeg "))
        .unwrap_or_else(|| panic!("no ffmpeg command in {stderr}"))
}

/// Runs `command` in `dir` through `shell`, as a user pasting it would, and asserts success.
fn run_in_shell(shell: &str, dir: &Path, command: &str) {
    let status = Command::new(shell)
        .current_dir(dir)
        .arg("-c")
        .arg(format!("{command} -loglevel error"))
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn numbered_pngs_make_a_video_with_the_printed_command() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path());
    let out = zoomgen_process()
        .current_dir(dir.path())
        .arg(&scene)
        .args(["-o", "frames"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    let command = printed_command(&stderr);
    run_in_shell("sh", dir.path(), command);
    assert_eq!(probe(&dir.path().join("v.mp4")), (7, 32, 18, "12/1".into()));
}

/// The printed command is quoted for the shell: an odd frame size (padding filter with
/// parentheses) into a folder whose name has a space and a quote still makes the video, run
/// through bash exactly as printed, with `--frames` starting past 0 and NTSC's 29.97 frames
/// per second passed to ffmpeg exactly.
#[test]
fn the_printed_command_survives_bash_with_odd_sizes_and_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path());
    let out = zoomgen_process()
        .current_dir(dir.path())
        .arg(&scene)
        .args([
            "--size",
            "33x19",
            "--frames",
            "2..",
            "--set",
            "video.fps=29.97",
            "-o",
            "my frames/it's here",
        ])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    let command = printed_command(&stderr);
    assert!(
        command.contains("'pad=ceil(iw/2)*2:ceil(ih/2)*2'"),
        "{command}"
    );
    assert!(command.contains("-framerate 30000/1001 "), "{command}");
    run_in_shell("bash", dir.path(), command);
    assert_eq!(
        probe(&dir.path().join("v.mp4")),
        (5, 34, 20, "30000/1001".into())
    );
}

#[test]
fn pipe_raw_and_png_feed_ffmpeg_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path());
    for (format, input) in [
        ("raw", "-f rawvideo -pix_fmt rgb24 -s 32x18 -r 12 -i -"),
        ("png", "-f image2pipe -c:v png -r 12 -i -"),
    ] {
        let video = dir.path().join(format!("{format}.mp4"));
        let pipeline = format!(
            "'{}' '{}' --pipe {format} -j 3 --band-height 1 2>'{}' | ffmpeg -loglevel error -y {input} -c:v libx264 -pix_fmt yuv420p '{}'",
            bin(),
            scene.display(),
            dir.path().join("stderr.txt").display(),
            video.display()
        );
        let status = Command::new("bash")
            .args(["-o", "pipefail", "-c", &pipeline])
            .status()
            .unwrap();
        let messages = fs::read_to_string(dir.path().join("stderr.txt")).unwrap();
        assert!(status.success(), "{pipeline}: {messages}");
        assert!(
            messages.contains("ffmpeg "),
            "the matching command is printed: {messages}"
        );
        assert_eq!(probe(&video), (7, 32, 18, "12/1".into()), "{format}");
        assert!(
            !dir.path().join("frames").exists(),
            "--pipe writes no files"
        );
    }
    // Raw bytes are the frames, in order: the same pixels as the PNG files.
    let raw = zoomgen_process()
        .arg(&scene)
        .args(["--pipe", "raw", "-q"])
        .output()
        .unwrap();
    assert!(raw.status.success());
    assert_eq!(raw.stdout.len(), 7 * 32 * 18 * 3);
    let frames = dir.path().join("pngs");
    let status = zoomgen_process()
        .arg(&scene)
        .args(["-q", "-o"])
        .arg(&frames)
        .status()
        .unwrap();
    assert!(status.success());
    for n in 0..7 {
        let img = image::open(frames.join(format!("frame_{n:05}.png")))
            .unwrap()
            .to_rgb8();
        let size = 32 * 18 * 3;
        assert!(
            img.as_raw()[..] == raw.stdout[n * size..(n + 1) * size],
            "frame {n}"
        );
    }
}

#[test]
fn video_runs_ffmpeg_itself_and_resumes_from_frames_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path());
    let video = dir.path().join("zoom.mp4");
    let frames = dir.path().join("frames");
    // Half the frames first, then the whole video: frames on disk are reused.
    let status = zoomgen_process()
        .arg(&scene)
        .args(["--frames", "0..3", "-q", "-o"])
        .arg(&frames)
        .status()
        .unwrap();
    assert!(status.success());
    let out = zoomgen_process()
        .arg(&scene)
        .arg("-o")
        .arg(&frames)
        .arg("--video")
        .arg(&video)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("rendered 4 frames (3 skipped)"), "{stderr}");
    assert!(stderr.contains("video written to"), "{stderr}");
    assert_eq!(probe(&video), (7, 32, 18, "12/1".into()));

    // Odd sizes are padded for yuv420p.
    let odd = dir.path().join("odd.mp4");
    let out = zoomgen_process()
        .arg(&scene)
        .args([
            "--size",
            "33x19",
            "--set",
            "video.fps=\"24000/1001\"",
            "-q",
            "-o",
        ])
        .arg(dir.path().join("odd"))
        .arg("--video")
        .arg(&odd)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(probe(&odd), (7, 34, 20, "24000/1001".into()));

    // --ffmpeg-args replaces the defaults.
    let mkv = dir.path().join("lossless.mkv");
    let out = zoomgen_process()
        .arg(&scene)
        .args(["--size", "32x18", "-q", "-o"])
        .arg(dir.path().join("ffv1"))
        .arg("--video")
        .arg(&mkv)
        .args(["--ffmpeg-args", "-c:v ffv1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(probe(&mkv).0, 7);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp.mp4") || n.ends_with(".tmp.mkv"))
        .collect();
    assert!(names.is_empty(), "temporary videos left: {names:?}");
}

#[test]
fn a_missing_ffmpeg_is_refused_before_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path());
    let empty = dir.path().join("empty-bin");
    fs::create_dir(&empty).unwrap();
    let out = zoomgen_process()
        .env("PATH", &empty)
        .arg(&scene)
        .arg("-o")
        .arg(dir.path().join("never"))
        .arg("--video")
        .arg(dir.path().join("v.mp4"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("--video needs ffmpeg"),
        "{}",
        stderr_of(&out)
    );
    assert!(!dir.path().join("never").exists());
}

#[test]
fn a_dying_ffmpeg_is_reported_with_its_status_and_last_lines() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene(dir.path());
    let video = dir.path().join("v.mp4");
    let out = zoomgen_process()
        .arg(&scene)
        .arg("-o")
        .arg(dir.path().join("frames"))
        .arg("--video")
        .arg(&video)
        .args(["--ffmpeg-args", "-c:v no-such-encoder"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ffmpeg exited with status"), "{stderr}");
    assert!(stderr.contains("no-such-encoder"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
    assert!(!video.exists());
}
