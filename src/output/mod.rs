//! Where finished frames go: every output is a [`FrameSink`] that takes the frames of a run in
//! order and is finished once at the end.
//!
//! Sinks: numbered PNG files in a folder, with OpenEXR escape data beside them for `--data`
//! ([`png::PngWriter`], [`exr`]); a stream on stdout for `--pipe` ([`stream::PipeSink`]); a
//! video encoded by a started ffmpeg for `--video` ([`stream::VideoSink`]). [`metadata`] is what
//! makes a folder safe to resume: the scene hash, the PNG text, the manifest. A new output
//! format is a new sink; the run hands frames to whichever sinks the plan chose.

pub mod exr;
pub mod metadata;
pub mod png;
pub mod stream;

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Result;
use crate::render::pipeline::RenderedFrame;

/// An output of a run: takes the finished frames in order, then is finished once.
pub trait FrameSink {
    /// Takes the next frame (frames arrive in the order of their numbers). An error stops the
    /// run.
    fn accept(&mut self, frame: Arc<RenderedFrame>) -> Result<()>;

    /// Ends the output after the last frame. `complete` is false when the run stopped early or
    /// failed: the sink then keeps only what is whole (frames written so far stay; a video is
    /// abandoned). Returns the file the sink made, if it makes one (a video).
    fn finish(self: Box<Self>, complete: bool) -> Result<Option<PathBuf>>;
}
