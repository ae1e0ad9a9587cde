//! Where frames go: numbered PNG files written so that a final name always means a whole frame.
//!
//! Each frame is encoded into a hidden temporary file in the output folder
//! (`.frame_00042.png.<pid>.tmp`), flushed to disk, and renamed to `frame_00042.png`. A rename
//! within one folder is atomic, so a frame under its final name is always complete, whatever
//! kills the process; a later run removes the temporary files a killed run left behind and
//! skips frames that already exist.
//!
//! Encoding runs on its own threads behind a bounded channel, so frame N is compressed while
//! frame N + 1 renders; the channel's bound keeps memory in check when the disk is slow.
//!
//! Every PNG carries the text chunks of [`crate::output::metadata::png_text`] (the scene hash among
//! them), which is what lets a rerun trust a file it finds. With `--data`, the frame's escape
//! data goes beside it as `frame_00042.exr` ([`super::exr`]), written the same way and before
//! the PNG, so a PNG under its final name means both files are complete.
//!
//! A failed write (a full disk, a file size limit) is reported naming the frame's final file;
//! the temporary file is removed, so nothing cut short ever carries a final name.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam::channel;

use crate::error::{Error, Result};
use super::FrameSink;
use crate::render::pipeline::RenderedFrame;

/// PNG compression level: time against bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PngCompression {
    /// The png crate's lightest deflate and the `Up` filter: for frames that cost little to
    /// compute (assembled from an exponential map), where encoding sets the pace.
    Fastest,
    /// Fast encoding with good compression (the default: rendering, not disk, should set the
    /// pace).
    #[default]
    Fast,
    /// The png crate's balanced level.
    Default,
    /// Smallest files, slowest.
    Best,
}

impl PngCompression {
    fn to_png(self) -> png::Compression {
        match self {
            PngCompression::Fastest => png::Compression::Fastest,
            PngCompression::Fast => png::Compression::Fast,
            PngCompression::Default => png::Compression::Balanced,
            PngCompression::Best => png::Compression::High,
        }
    }

    /// The row filter used with this level. `fast` uses Paeth on every row instead of the png
    /// crate's adaptive choice (which tries every filter on every row): on 1080p frames it
    /// encodes in 70-75% of the time and gives 2-3% smaller files (`cargo bench --bench
    /// throughput -- png`, docs/PERFORMANCE.md). The slower levels keep the adaptive choice.
    pub fn filter(self) -> png::Filter {
        match self {
            PngCompression::Fastest => png::Filter::Up,
            PngCompression::Fast => png::Filter::Paeth,
            PngCompression::Default | PngCompression::Best => png::Filter::Adaptive,
        }
    }
}

/// The output folder and how frames in it are named.
#[derive(Debug, Clone)]
pub struct FrameFolder {
    dir: PathBuf,
    digits: usize,
}

impl FrameFolder {
    /// Frames of a scene with `total_frames` frames, in `dir`: `frame_` and the number with at
    /// least 5 digits (more when the scene has more than 99,999 frames).
    pub fn new(dir: impl Into<PathBuf>, total_frames: u64) -> Self {
        let digits = total_frames
            .saturating_sub(1)
            .max(1)
            .to_string()
            .len()
            .max(5);
        FrameFolder {
            dir: dir.into(),
            digits,
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Digits in frame numbers.
    #[cfg(any(test, feature = "internals"))]
    pub fn digits(&self) -> usize {
        self.digits
    }

    /// The final name of frame `frame`.
    pub fn frame_path(&self, frame: u64) -> PathBuf {
        self.dir
            .join(format!("frame_{:0width$}.png", frame, width = self.digits))
    }

    /// The ffmpeg input pattern for the frames, e.g. `frames/seahorse/frame_%05d.png`.
    pub fn ffmpeg_pattern(&self) -> PathBuf {
        self.dir.join(format!("frame_%0{}d.png", self.digits))
    }

    /// The final name of frame `frame`'s escape data (`--data`).
    pub fn data_path(&self, frame: u64) -> PathBuf {
        self.dir
            .join(format!("frame_{:0width$}.exr", frame, width = self.digits))
    }

    fn temp_path(&self, frame: u64, extension: &str) -> PathBuf {
        self.dir.join(format!(
            ".frame_{:0width$}.{extension}.{}.tmp",
            frame,
            std::process::id(),
            width = self.digits
        ))
    }

    /// Creates the folder (and its parents) if needed.
    pub fn create(&self) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| {
            Error::Usage(format!(
                "cannot create output folder {}: {e}",
                self.dir.display()
            ))
        })
    }

    /// Removes temporary files left by a run that was killed. Returns how many were removed.
    #[cfg(any(test, feature = "internals"))]
    pub fn remove_stale_temporaries(&self) -> Result<usize> {
        self.remove_stale_temporaries_of(&|_| true)
    }

    /// Removes the temporary files left by a killed run whose frame `owned` accepts (`None`:
    /// the manifest's): with shards sharing a folder, each removes only its own frames'
    /// leftovers, never a file another shard is writing right now.
    pub fn remove_stale_temporaries_of(
        &self,
        owned: &dyn Fn(Option<u64>) -> bool,
    ) -> Result<usize> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = name.starts_with(".frame_")
                || name.starts_with(&format!(".{}.", crate::output::metadata::MANIFEST_NAME));
            let frame = name
                .strip_prefix(".frame_")
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u64>().ok());
            if ours && name.ends_with(".tmp") && owned(frame) {
                fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Whether frame `frame` exists under its final name.
    #[cfg(any(test, feature = "internals"))]
    pub fn has_frame(&self, frame: u64) -> bool {
        self.frame_path(frame).is_file()
    }

    /// Encodes `frame` as PNG (and, with `data_hash`, its data as OpenEXR, first, tagged with
    /// that hash) and puts each file in place atomically.
    pub fn write_frame(
        &self,
        frame: &RenderedFrame,
        compression: PngCompression,
        scene_hash: &str,
        data_hash: Option<&str>,
    ) -> Result<()> {
        let number = frame.job.view.frame;
        if let Some(data_hash) = data_hash {
            let (Some(escapes), Some(slopes)) = (frame.escapes.as_deref(), frame.slopes.as_deref())
            else {
                return Err(Error::NoEscapeData(number));
            };
            let samples = crate::output::exr::FrameSamples {
                escapes,
                slopes,
                x_axis: frame.job.color.x_axis,
            };
            self.place(number, "exr", &self.data_path(number), &mut |out| {
                crate::output::exr::encode_escapes(
                    samples,
                    frame.job.width,
                    frame.job.height,
                    &frame.job.view,
                    frame.job.exact.as_deref(),
                    [scene_hash, data_hash],
                    out,
                )
            })?;
        }
        self.place(number, "png", &self.frame_path(number), &mut |out| {
            encode_png_tagged(frame, compression, scene_hash, out)
        })
    }

    /// Writes a file through a temporary name, syncs it and renames it to `target`.
    fn place(
        &self,
        number: u64,
        extension: &str,
        target: &Path,
        encode: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let temp = self.temp_path(number, extension);
        let result = write_temp(&temp, encode)
            .and_then(|()| fs::rename(&temp, target))
            .map_err(|e| Error::io(target, e));
        if result.is_err() {
            // Best effort: the error that matters is the one being returned.
            let _ = fs::remove_file(&temp);
        }
        result
    }
}

fn write_temp(
    temp: &Path,
    encode: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let file = fs::File::create(temp)?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    encode(&mut writer)?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_data()
}

/// Writes `frame` as an RGB PNG with zoomgen's text metadata and an empty scene hash
/// (for benchmarks and streams; files in an output folder use [`encode_png_tagged`]).
#[cfg(any(test, feature = "internals"))]
pub fn encode_png(
    frame: &RenderedFrame,
    compression: PngCompression,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    encode_png_tagged(frame, compression, "", out)
}

/// Writes `frame` as an RGB PNG (8 or 16 bits per channel, as rendered) with zoomgen's text
/// metadata, `scene_hash` among them.
pub fn encode_png_tagged(
    frame: &RenderedFrame,
    compression: PngCompression,
    scene_hash: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let job = &frame.job;
    let mut encoder = png::Encoder::new(out, job.width, job.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(match job.color.depth {
        crate::scene::BitDepth::Eight => png::BitDepth::Eight,
        crate::scene::BitDepth::Sixteen => png::BitDepth::Sixteen,
    });
    encoder.set_compression(compression.to_png());
    encoder.set_filter(compression.filter());
    let text = crate::output::metadata::png_text(&job.view, job.exact.as_deref(), scene_hash);
    for (key, value) in text {
        encoder
            .add_text_chunk(key.to_string(), value)
            .map_err(std::io::Error::other)?;
    }
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(&frame.pixels)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

/// Writes frames on background threads; `submit` blocks while `capacity` frames are queued.
#[derive(Debug)]
pub struct PngWriter {
    sender: Option<channel::Sender<Arc<RenderedFrame>>>,
    threads: Vec<JoinHandle<()>>,
    failure: Arc<Mutex<Option<Error>>>,
}

/// Encoder threads for a run with `workers` render threads: one per eight workers. A fast PNG
/// of a 1080p frame takes about 13 ms and a seahorse frame about 180 ms of one core
/// (docs/PERFORMANCE.md), so one encoder keeps up with about ten workers.
pub fn encoder_threads(workers: usize) -> usize {
    workers.div_ceil(8).max(1)
}

/// Frames that may wait in front of the encoder threads.
pub const ENCODER_QUEUE: usize = 2;

impl PngWriter {
    /// Starts `threads` encoder threads writing PNGs without a scene hash into `folder`.
    #[cfg(any(test, feature = "internals"))]
    pub fn start(
        folder: FrameFolder,
        compression: PngCompression,
        threads: usize,
        capacity: usize,
    ) -> Self {
        PngWriter::start_tagged(folder, compression, String::new(), None, threads, capacity)
    }

    /// Starts `threads` encoder threads writing into `folder`: PNGs tagged with `scene_hash`,
    /// and with `data_hash` each frame's data as OpenEXR beside it, tagged with that hash.
    pub fn start_tagged(
        folder: FrameFolder,
        compression: PngCompression,
        scene_hash: String,
        data_hash: Option<String>,
        threads: usize,
        capacity: usize,
    ) -> Self {
        let (sender, receiver) = channel::bounded::<Arc<RenderedFrame>>(capacity.max(1));
        let failure = Arc::new(Mutex::new(None));
        let threads = (0..threads.max(1))
            .map(|_| {
                let (receiver, failure, folder, hash, data) = (
                    receiver.clone(),
                    failure.clone(),
                    folder.clone(),
                    scene_hash.clone(),
                    data_hash.clone(),
                );
                std::thread::spawn(move || {
                    for frame in receiver {
                        let data = data.as_deref();
                        if let Err(e) = folder.write_frame(&frame, compression, &hash, data) {
                            let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
                            slot.get_or_insert(e);
                            return;
                        }
                    }
                })
            })
            .collect();
        PngWriter {
            sender: Some(sender),
            threads,
            failure,
        }
    }

    fn take_failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Queues a frame for writing; returns the first write error seen so far, if any.
    pub fn submit(&self, frame: Arc<RenderedFrame>) -> Result<()> {
        if let Some(e) = self.take_failure() {
            return Err(e);
        }
        let Some(sender) = &self.sender else {
            return Err(Error::WriterStopped("already finished"));
        };
        if sender.send(frame).is_err() {
            // Every encoder thread stopped: one of them failed.
            return Err(self
                .take_failure()
                .unwrap_or(Error::WriterStopped("stopped")));
        }
        Ok(())
    }

    /// Waits for queued frames to be written; returns the first error, if any.
    pub fn finish(mut self) -> Result<()> {
        self.sender.take();
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                return Err(Error::Panicked {
                    thread: "PNG encoder",
                    message: None,
                });
            }
        }
        match self.take_failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl FrameSink for PngWriter {
    fn accept(&mut self, frame: Arc<RenderedFrame>) -> Result<()> {
        self.submit(frame)
    }

    /// Waits for the queued frames whether or not the run completed: finished frames are kept.
    fn finish(self: Box<Self>, _complete: bool) -> Result<Option<PathBuf>> {
        PngWriter::finish(*self).map(|()| None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_names_have_at_least_five_digits() {
        let f = FrameFolder::new("out", 900);
        assert_eq!(f.frame_path(7), Path::new("out/frame_00007.png"));
        assert_eq!(f.ffmpeg_pattern(), Path::new("out/frame_%05d.png"));
        let f = FrameFolder::new("out", 100_000);
        assert_eq!(f.frame_path(7), Path::new("out/frame_00007.png"));
        let f = FrameFolder::new("out", 100_001);
        assert_eq!(f.frame_path(7), Path::new("out/frame_000007.png"));
        assert_eq!(f.ffmpeg_pattern(), Path::new("out/frame_%06d.png"));
    }

    #[test]
    fn stale_temporaries_are_removed_and_frames_kept() {
        let dir = tempfile::tempdir().unwrap();
        let folder = FrameFolder::new(dir.path(), 10);
        fs::write(dir.path().join(".frame_00001.png.999.tmp"), b"half").unwrap();
        fs::write(dir.path().join("frame_00000.png"), b"keep").unwrap();
        assert_eq!(folder.remove_stale_temporaries().unwrap(), 1);
        assert!(folder.has_frame(0));
        assert!(!dir.path().join(".frame_00001.png.999.tmp").exists());
    }
}
