//! Frames as a stream, in order: `--pipe raw|png` on stdout, or `--video` into an ffmpeg that
//! zoomgen starts itself.
//!
//! The pipeline hands finished frames to its sink in frame order (they finish out of order),
//! so a stream only has to write each frame as it comes. Writing blocks when the reader is
//! slow, and the pipeline's bounded window then stops the workers: memory stays bounded.
//!
//! `--video`: ffmpeg is found on `PATH` before any rendering starts (a missing ffmpeg is bad
//! input, exit code 2). It reads raw `rgb24` on its stdin and writes to a temporary name beside
//! the video (`.NAME.<pid>.tmp.EXT`, so ffmpeg still picks the container from the extension),
//! which is renamed to the final name only when ffmpeg exits successfully. ffmpeg runs in its
//! own process group, so a Ctrl-C at the terminal reaches zoomgen only, which then stops
//! cleanly (killing ffmpeg and removing the temporary video). If ffmpeg dies, the error gives
//! its exit status and the last lines of its stderr, not a bare "broken pipe".

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::FrameSink;
use super::png::{FrameFolder, PngCompression, encode_png_tagged};
use crate::error::{Error, Result};
use crate::scene::{BitDepth, Fps};
use crate::render::pipeline::RenderedFrame;

/// The format of `--pipe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeFormat {
    /// Raw `rgb24` (`width * height * 3` bytes per frame), or `rgb48le` for 16-bit frames
    /// (twice that), no headers.
    Raw,
    /// One whole PNG after the other (ffmpeg's `-f image2pipe`).
    Png,
}

/// ffmpeg's default encoding arguments for `--video` (replaced by `--ffmpeg-args`).
pub const DEFAULT_VIDEO_ARGS: &str = "-c:v libx264 -pix_fmt yuv420p -crf 18";

/// ffmpeg's name of the raw pixel format zoomgen writes at `depth`.
pub fn raw_pixel_format(depth: BitDepth) -> &'static str {
    match depth {
        BitDepth::Eight => "rgb24",
        BitDepth::Sixteen => "rgb48le",
    }
}

/// A frame's pixels as raw video: `rgb24` as they are, 16-bit channels turned little-endian
/// (`rgb48le`; frames hold them big-endian, as PNG does).
pub fn raw_pixels(pixels: &[u8], depth: BitDepth) -> std::borrow::Cow<'_, [u8]> {
    match depth {
        BitDepth::Eight => std::borrow::Cow::Borrowed(pixels),
        BitDepth::Sixteen => std::borrow::Cow::Owned(
            pixels
                .chunks_exact(2)
                .flat_map(|c| [c[1], c[0]])
                .collect(),
        ),
    }
}

/// The ffmpeg command that reads a `--pipe` stream of this size, rate and depth.
pub fn pipe_command(
    format: PipeFormat,
    (width, height, depth): (u32, u32, BitDepth),
    fps: Fps,
    out: &str,
) -> String {
    let size = format!("{width}x{height}");
    let fps = fps.to_string();
    let mut words: Vec<&str> = vec!["ffmpeg"];
    match format {
        PipeFormat::Raw => {
            let pix_fmt = raw_pixel_format(depth);
            words.extend(["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", &size, "-r", &fps]);
        }
        PipeFormat::Png => words.extend(["-f", "image2pipe", "-c:v", "png", "-r", &fps]),
    }
    words.extend(["-i", "-"]);
    if width % 2 == 1 || height % 2 == 1 {
        words.extend(["-vf", PAD_TO_EVEN]);
    }
    words.extend(DEFAULT_VIDEO_ARGS.split(' '));
    words.push(out);
    shell_command(&words)
}

/// `word` as a POSIX shell reads it back as one word: unchanged when it holds only characters
/// no shell treats specially, else in single quotes (a `'` inside becomes `'\''`).
pub fn shell_quote(word: &str) -> std::borrow::Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-+=:,./@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.into()
    } else {
        format!("'{}'", word.replace('\'', "'\\''")).into()
    }
}

/// The words of a command line, each quoted for a POSIX shell, joined by spaces.
pub fn shell_command<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The ffmpeg filter that pads odd sides to even ones (yuv420p needs even sides).
pub const PAD_TO_EVEN: &str = "pad=ceil(iw/2)*2:ceil(ih/2)*2";

/// Finds `program` on `PATH`.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Lines of ffmpeg's stderr kept for error messages.
const STDERR_LINES: usize = 12;

/// A running ffmpeg fed raw frames.
#[derive(Debug)]
pub struct FfmpegVideo {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<()>>,
    tail: Arc<Mutex<Vec<String>>>,
    temp: PathBuf,
    target: PathBuf,
    command: String,
}

impl FfmpegVideo {
    /// Starts `ffmpeg` encoding raw frames of this size and rate into `target`, with `args`
    /// (the encoding arguments placed between the input and the output).
    pub fn start(
        ffmpeg: &Path,
        target: &Path,
        (width, height, depth): (u32, u32, BitDepth),
        fps: Fps,
        args: &[String],
    ) -> Result<FfmpegVideo> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "video.mp4".into());
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) => (s.to_string(), format!(".{e}")),
            None => (name.clone(), String::new()),
        };
        remove_stale_video_temporaries(target, &stem, &ext);
        let temp = target.with_file_name(format!(".{stem}.{}.tmp{ext}", std::process::id()));
        let mut command = Command::new(ffmpeg);
        command
            .args(["-hide_banner", "-loglevel", "error", "-nostats", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", raw_pixel_format(depth)])
            .args(["-s", &format!("{width}x{height}"), "-r", &fps.to_string()])
            .args(["-i", "-"])
            .args(args)
            .arg(&temp)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        let size = format!("{width}x{height}");
        let rate = fps.to_string();
        let target_text = target.display().to_string();
        let mut words: Vec<&str> = vec![
            "ffmpeg", "-f", "rawvideo", "-pix_fmt", raw_pixel_format(depth), "-s", &size, "-r",
            &rate, "-i", "-",
        ];
        words.extend(args.iter().map(String::as_str));
        words.push(&target_text);
        let shown = shell_command(&words);
        let mut child = command
            .spawn()
            .map_err(|e| Error::Ffmpeg(format!("cannot start {}: {e}", ffmpeg.display())))?;
        let tail = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().map(|mut err| {
            let tail = tail.clone();
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    text.extend_from_slice(&buf[..n]);
                    let s = String::from_utf8_lossy(&text).into_owned();
                    let lines: Vec<String> = s.lines().map(str::to_string).collect();
                    let keep = lines.len().saturating_sub(STDERR_LINES);
                    *tail.lock().unwrap_or_else(|p| p.into_inner()) = lines[keep..].to_vec();
                    if text.len() > 64 * 1024 {
                        text.drain(..text.len() - 16 * 1024);
                    }
                }
            })
        });
        Ok(FfmpegVideo {
            stdin: child.stdin.take(),
            child,
            stderr,
            tail,
            temp,
            target: target.to_path_buf(),
            command: shown,
        })
    }

    /// The command as a person would type it.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Sends one frame's RGB bytes. If ffmpeg is gone, the error says how it ended.
    pub fn write(&mut self, pixels: &[u8]) -> Result<()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(Error::Ffmpeg("ffmpeg input already closed".into()));
        };
        if stdin.write_all(pixels).is_ok() {
            return Ok(());
        }
        self.stdin.take();
        let status = self.child.wait();
        Err(self.failure(status.ok()))
    }

    /// Closes ffmpeg's input, waits for it, and puts the video under its final name.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.stdin.take();
        let status = self.child.wait().ok();
        if let Some(t) = self.stderr.take() {
            let _ = t.join();
        }
        if status.is_some_and(|s| s.success()) {
            std::fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
            Ok(self.target.clone())
        } else {
            let _ = std::fs::remove_file(&self.temp);
            Err(self.failure(status))
        }
    }

    /// Stops ffmpeg and removes the unfinished video (a cancelled or failed run).
    pub fn abort(mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(t) = self.stderr.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.temp);
    }

    fn failure(&mut self, status: Option<std::process::ExitStatus>) -> Error {
        if let Some(t) = self.stderr.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.temp);
        let how = match status {
            Some(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                (Some(code), _) => format!("exited with status {code}"),
                (None, Some(sig)) => format!("was killed by signal {sig}"),
                _ => format!("ended ({s})"),
            },
            None => "ended (status unknown)".into(),
        };
        let tail = self.tail.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut text = format!("ffmpeg {how} while encoding {}", self.target.display());
        if tail.is_empty() {
            text += " (it printed nothing on stderr)";
        } else {
            text += "; its last lines:\n";
            text += &tail
                .iter()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n");
        }
        text += &format!("\ncommand: {}", self.command);
        Error::Ffmpeg(text)
    }
}

/// `--pipe`: frames on stdout, raw `rgb24` or a PNG stream.
#[derive(Debug)]
pub struct PipeSink {
    format: PipeFormat,
    out: std::io::Stdout,
    compression: PngCompression,
    scene_hash: String,
}

impl PipeSink {
    /// Frames on stdout in `format`; PNGs are tagged with `scene_hash`.
    pub fn new(format: PipeFormat, compression: PngCompression, scene_hash: String) -> Self {
        PipeSink {
            format,
            out: std::io::stdout(),
            compression,
            scene_hash,
        }
    }
}

impl FrameSink for PipeSink {
    fn accept(&mut self, frame: Arc<RenderedFrame>) -> Result<()> {
        let mut lock = self.out.lock();
        let result = match self.format {
            PipeFormat::Raw => lock.write_all(&raw_pixels(&frame.pixels, frame.job.color.depth)),
            PipeFormat::Png => {
                encode_png_tagged(&frame, self.compression, &self.scene_hash, &mut lock)
            }
        };
        result.and_then(|()| lock.flush()).map_err(Error::Stdout)
    }

    fn finish(self: Box<Self>, _complete: bool) -> Result<Option<PathBuf>> {
        Ok(None)
    }
}

/// `--video`: frames into a started ffmpeg, with the frames a resumed run finds in the folder
/// read back and sent in their turn.
#[derive(Debug)]
pub struct VideoSink {
    video: Option<FfmpegVideo>,
    /// Frames already in the folder that the video needs, in order.
    reuse: VecDeque<u64>,
    folder: FrameFolder,
    size: (u32, u32),
    depth: BitDepth,
}

impl VideoSink {
    /// Feeds `video`; `reuse` are frames of the run found done in `folder` (`size` pixels
    /// and depth).
    pub fn new(
        video: FfmpegVideo,
        reuse: Vec<u64>,
        folder: FrameFolder,
        size: (u32, u32, BitDepth),
    ) -> Self {
        VideoSink {
            video: Some(video),
            reuse: reuse.into(),
            folder,
            size: (size.0, size.1),
            depth: size.2,
        }
    }

    /// Sends the reused frames numbered below `before` (all of them for `None`).
    fn send_reused(&mut self, before: Option<u64>) -> Result<()> {
        while self.reuse.front().is_some_and(|&f| before.is_none_or(|b| f < b)) {
            let f = self.reuse.pop_front().unwrap_or_default();
            let pixels = self.read_frame(f)?;
            if let Some(video) = &mut self.video {
                video.write(&pixels)?;
            }
        }
        Ok(())
    }

    /// The raw pixels of frame `frame` as written in the folder (`rgb24` or `rgb48le`).
    fn read_frame(&self, frame: u64) -> Result<Vec<u8>> {
        let path = self.folder.frame_path(frame);
        let image = image::open(&path).map_err(|e| Error::BadFrame {
            path: path.clone(),
            problem: format!("cannot be read: {e}"),
        })?;
        let (dimensions, raw) = match self.depth {
            BitDepth::Eight => {
                let image = image.to_rgb8();
                (image.dimensions(), image.into_raw())
            }
            BitDepth::Sixteen => {
                let image = image.to_rgb16();
                let raw = image.as_raw().iter().flat_map(|v| v.to_le_bytes()).collect();
                (image.dimensions(), raw)
            }
        };
        if dimensions != self.size {
            return Err(Error::BadFrame {
                problem: format!(
                    "is {}x{}, expected {}x{}",
                    dimensions.0, dimensions.1, self.size.0, self.size.1
                ),
                path,
            });
        }
        Ok(raw)
    }
}

impl Drop for VideoSink {
    /// A video never finished (the run failed before its sinks were finished) is abandoned:
    /// ffmpeg is stopped and its temporary file removed.
    fn drop(&mut self) {
        if let Some(video) = self.video.take() {
            video.abort();
        }
    }
}

impl FrameSink for VideoSink {
    fn accept(&mut self, frame: Arc<RenderedFrame>) -> Result<()> {
        self.send_reused(Some(frame.job.view.frame))?;
        match &mut self.video {
            Some(video) => video.write(&raw_pixels(&frame.pixels, frame.job.color.depth)),
            None => Err(Error::Ffmpeg("ffmpeg input already closed".into())),
        }
    }

    /// Complete: sends the remaining reused frames and puts the video under its name.
    /// Otherwise stops ffmpeg and removes the unfinished video.
    fn finish(mut self: Box<Self>, complete: bool) -> Result<Option<PathBuf>> {
        if complete && let Err(e) = self.send_reused(None) {
            if let Some(video) = self.video.take() {
                video.abort();
            }
            return Err(e);
        }
        match self.video.take() {
            Some(video) if complete => video.finish().map(Some),
            Some(video) => {
                video.abort();
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

/// Removes `.NAME.<pid>.tmp.EXT` files left beside `target` by runs that were stopped at once
/// (a second Ctrl-C) and are no longer alive. Best effort: a file that cannot be removed is
/// left alone, and a live process's file (another shard writing its own video) is never touched.
fn remove_stale_video_temporaries(target: &Path, stem: &str, ext: &str) {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{stem}.");
    let suffix = format!(".tmp{ext}");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(&suffix))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        if pid != std::process::id() && !alive {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod stale_tests {
    use super::*;

    #[test]
    fn stale_video_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("zoom.mp4");
        // A pid far above any default pid_max belongs to no process.
        let dead = dir.path().join(".zoom.999999999.tmp.mp4");
        let mine = dir
            .path()
            .join(format!(".zoom.{}.tmp.mp4", std::process::id()));
        let other = dir.path().join(".other.999999999.tmp.mp4");
        for f in [&dead, &mine, &other] {
            std::fs::write(f, b"x").unwrap();
        }
        remove_stale_video_temporaries(&target, "zoom", ".mp4");
        assert!(!dead.exists());
        assert!(mine.exists());
        assert!(other.exists());
    }
}

#[cfg(test)]
mod quote_tests {
    use super::*;

    /// Plain words stay as they are; anything a shell would read otherwise is single-quoted.
    #[test]
    fn words_are_quoted_only_where_a_shell_needs_it() {
        assert_eq!(shell_quote("frames/seahorse/frame_%05d.png"), "frames/seahorse/frame_%05d.png");
        assert_eq!(shell_quote("30000/1001"), "30000/1001");
        assert_eq!(shell_quote(PAD_TO_EVEN), "'pad=ceil(iw/2)*2:ceil(ih/2)*2'");
        assert_eq!(shell_quote("my frames"), "'my frames'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("a^b"), "'a^b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_command(&["ffmpeg", "-i", "a b.png"]), "ffmpeg -i 'a b.png'");
    }
}

