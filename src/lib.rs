//! zoomgen renders Mandelbrot zoom videos from a scene file.
//!
//! The crate is laid out as the pipeline a frame goes through:
//!
//! ```text
//! scene (TOML -> Scene) -> path (frame -> View) -> kernel (samples -> escape counts)
//!   -> bands (who renders which rows) -> color (counts -> sRGB) -> pipeline (frames in flight)
//!   -> output (PNG files, frame streams) ; progress (bars and log lines)
//! ```
pub mod bands;
pub mod color;
pub mod deep;
pub mod error;
pub mod exr;
pub mod kernel;
pub mod metadata;
pub mod output;
pub mod path;
pub mod pipeline;
pub mod progress;
pub mod render;
pub mod run;
pub mod scene;
pub mod shard;
pub mod signals;
pub mod stream;
