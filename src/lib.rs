//! zoomgen renders Mandelbrot zoom videos from a scene file.
//!
//! The crate is laid out as the pipeline a frame goes through:
//!
//! ```text
//! scene (TOML -> Scene) -> path (frame -> View) -> kernel (samples -> escape counts; deep past
//!   f64 precision) -> render (bands, frames in flight, the Renderer) -> color (samples -> sRGB)
//!   -> output (PNG files, pipes, video, escape data) ; run (plan, resume, report)
//! ```
//!
//! Below the concepts sits `arch`, the only module with `unsafe` code: the intrinsics of the
//! SIMD kernels, the perturbation loops and the row coloring, behind safe wrappers. Beside the
//! pipeline: `progress` (bars and log lines), `shard` (`--shard` for Slurm and Kubernetes),
//! `signals` (clean stops), [`error`].
//!
//! The public API is small on purpose: load a [`Scene`], build a [`Renderer`], render frames
//! into buffers. The command line's driver is [`run`]. Everything else is internal (the
//! `internals` feature shows it to the benches and tests).
//!
//! ```
//! use zoomgen::{RenderOptions, Renderer, Scene};
//!
//! // From the whole set into a Misiurewicz point of Seahorse Valley, 10 frames.
//! let scene: Scene = r#"
//!     [video]
//!     width = 64
//!     height = 36
//!     frames = 10
//!     [render]
//!     max_iterations = "auto"
//!     [[keyframe]]
//!     frame = 0
//!     center = ["-0.75", "0.0"]
//!     width = 3.5
//!     [[keyframe]]
//!     frame = 9
//!     center = ["-0.74329189085243020293162432597251", "0.13124055230879760477084590658148"]
//!     width = "1e-20"
//! "#
//! .parse()?;
//! let renderer = Renderer::new(&scene, RenderOptions::default())?;
//! let mut pixels = vec![0u8; renderer.frame_bytes()];
//! // Past f64 precision: perturbation against a reference orbit, chosen inside.
//! renderer.render_frame(9, &mut pixels)?;
//! let first = &pixels[..3];
//! assert!(pixels.chunks(3).any(|pixel| pixel != first), "filaments, not one color");
//! # Ok::<(), zoomgen::Error>(())
//! ```
#![warn(missing_docs)]

/// Declares modules that are internal to the crate, and public (hidden from the docs) with the
/// `internals` feature, for the benches and the tests that reach below the API.
macro_rules! internal_modules {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(feature = "internals")]
            #[doc(hidden)]
            #[allow(missing_docs)]
            pub mod $name;
            #[cfg(not(feature = "internals"))]
            mod $name;
        )*
    };
}

internal_modules!(
    arch, color, deep, expmap, kernel, output, path, progress, render, scene, shard, signals,
);

pub mod error;
pub mod run;
#[cfg(test)]
mod testing;

pub use error::{Error, Result, SceneError};
pub use render::{RenderOptions, Renderer};
pub use scene::{Fps, Scene};
