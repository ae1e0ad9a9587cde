//! zoomgen renders Mandelbrot zoom videos from a scene file.
//!
//! The crate is laid out as the pipeline a frame goes through:
//!
//! ```text
//! scene (TOML -> Scene) -> path (frame -> View) -> kernel (samples -> escape counts)
//!   -> bands (who renders which rows) -> color (counts -> sRGB) -> pipeline (frames in flight)
//!   -> output (PNG files) ; progress (bars and log lines) ; run (plan, render, report)
//! ```
//!
//! Beside the pipeline: `deep` (perturbation kernels for frames past `f64` precision),
//! `metadata` (the scene hash, PNG text chunks, the folder manifest that makes resuming safe),
//! `stream` (`--pipe` and `--video`: frames into ffmpeg), `exr` (`--data` escape counts),
//! `shard` (`--shard` for Slurm and Kubernetes), `signals` (clean stops), `error`.
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
