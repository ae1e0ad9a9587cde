//! `--recolor`: the frames of a folder colored again from the data `--data` wrote beside them,
//! without iterating: a new look for a finished render in seconds.
//!
//! A frame's data (`N`, `NF`, `DE`, `DEX`, `DEY`, `T`, one sample per pixel) determines the
//! frame up to its colors. Data is used only when its file carries the scene's data hash
//! ([`crate::output::metadata::data_hash`]: the size, supersampling, every keyframe's geometry
//! and budget, the render version); every frame's data is checked before anything is written,
//! and data of other geometry is refused. Each sample's slope is rebuilt from the data:
//! `z_N` at angle `2 pi T` (its size does not matter: the estimate fixes `|e_N|`), `e_N` with
//! the direction `(DEX, DEY)` and the length that gives the distance `DE`. So a recolored
//! frame is the frame a render with the new colors gives, exactly where colors follow the
//! count, and within the `f32` rounding of `DE` and its direction elsewhere.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{Output, Plan, Summary};
use crate::color::{Coloring, Look, swap_axes};
use crate::deep::{Fixed, FixedC, FrameGeometry, GUARD_BITS, is_plain};
use crate::error::{Error, Result};
use crate::kernel::{Escape, SampleRow, Slope};
use crate::output::exr::{self, FrameData};
use crate::output::metadata::Manifest;
use crate::render::pipeline::RenderedFrame;
use crate::render::{FrameJob, RenderStats};

/// `|z_N|` of the rebuilt slopes (any value past the escape radius gives the same estimate).
const Z_NORM: f64 = 1024.0;

impl Plan {
    /// Colors the frames of the plan again from their data (see the module docs).
    pub fn recolor(&self, cancel: &AtomicBool) -> Result<Summary> {
        let started = Instant::now();
        if self.output != Output::Folder {
            return Err(Error::Usage(
                "--recolor writes the frames into their folder: it cannot be combined with \
                 --pipe or --video"
                    .into(),
            ));
        }
        if self.supersample != 1 {
            return Err(Error::Usage(format!(
                "--recolor colors one sample per pixel, as --data wrote it, but the scene has \
                 supersample = {}: add --set render.supersample=1 or --preview, as for the \
                 render",
                self.supersample
            )));
        }
        // Every frame's data is checked before anything is written.
        for &frame in &self.frame_list {
            self.read_data(frame)?;
        }
        self.folder.create()?;
        Manifest::new(&self.scene, self.width, self.height, self.supersample)
            .write(self.folder.dir(), true)?;
        let look = Look::new(&self.scene.color, &self.scene.video);
        let mut rendered = 0;
        for &frame in &self.frame_list {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let data = self.read_data(frame)?;
            let colored = self.color_frame(&look, frame, &data);
            self.folder
                .write_frame(&colored, self.compression, &self.scene_hash, None)?;
            rendered += 1;
        }
        let cancelled = rendered < self.frame_list.len() as u64;
        Ok(Summary {
            rendered,
            skipped: 0,
            elapsed: started.elapsed(),
            iterations: 0,
            stale_temporaries: 0,
            cancelled,
            glitches: 0,
            video: None,
            missing: self.frame_list.len() as u64 - rendered,
        })
    }

    /// The data of `frame`, refused unless it is this scene's geometry.
    fn read_data(&self, frame: u64) -> Result<FrameData> {
        let path = self.folder.data_path(frame);
        let bytes = fs::read(&path).map_err(|e| {
            Error::Usage(format!(
                "{}: {e}: --recolor needs the data of every frame it colors (render them with \
                 --data first)",
                path.display()
            ))
        })?;
        let data = exr::decode(&bytes).map_err(|problem| Error::BadFrame {
            path: path.clone(),
            problem: format!("is not zoomgen data: {problem}"),
        })?;
        let found = data.strings.get("zoomgen.dataHash").map(String::as_str);
        let frame_text = frame.to_string();
        if found != Some(self.data_hash.as_str())
            || data.strings.get("zoomgen.frame") != Some(&frame_text)
            || (data.width, data.height) != (self.width, self.height)
        {
            return Err(Error::Usage(format!(
                "{} holds the data of another frame or geometry (data hash {}, this scene's \
                 frame {frame} has {}): only the colors may change for --recolor; render again \
                 with --data",
                path.display(),
                found.unwrap_or("none"),
                self.data_hash
            )));
        }
        Ok(data)
    }

    /// Frame `frame` colored by `look` from `data`.
    fn color_frame(&self, look: &Look, frame: u64, data: &FrameData) -> RenderedFrame {
        let view = self.path.view(frame);
        let mut job = FrameJob::new(view, self.width, self.height, 1);
        job.color = look.frame_color(&job.view, &job.grid);
        job.exact = exact_geometry(&job, data).map(Arc::new);
        let w = self.width as usize;
        let row_bytes = job.row_bytes();
        let mut pixels = vec![0u8; row_bytes * self.height as usize];
        let mut slopes = vec![Slope::NONE; w];
        for (y, (out, (escapes, derived))) in pixels
            .chunks_exact_mut(row_bytes)
            .zip(
                data.escapes
                    .chunks_exact(w)
                    .zip(data.derived.chunks_exact(w)),
            )
            .enumerate()
        {
            for ((slope, e), d) in slopes.iter_mut().zip(escapes).zip(derived) {
                *slope = rebuilt_slope(*e, *d, job.color.x_axis);
            }
            let row = SampleRow {
                escape: escapes,
                slope: if look.reads_slopes() { &slopes } else { &[] },
            };
            look.color_row(&job.color, y as u32, row, 1, out);
        }
        RenderedFrame {
            job,
            pixels,
            escapes: None,
            slopes: None,
            stats: RenderStats::default(),
            cpu_seconds: 0.0,
        }
    }
}

/// The slope whose distance estimate, direction and angle are `[DE, DEX, DEY, T]` (see the
/// module docs); `x_axis` turns image axes into the plane's.
fn rebuilt_slope(escape: Escape, [de, dex, dey, t]: [f32; 4], x_axis: [f64; 2]) -> Slope {
    if escape.is_interior() || de.is_nan() {
        return Slope::NONE;
    }
    let [ux, uy] = swap_axes([f64::from(dex), f64::from(dey)], x_axis);
    let (sin, cos) = (std::f64::consts::TAU * f64::from(t)).sin_cos();
    let length = Z_NORM * (Z_NORM * Z_NORM).ln() / f64::from(de);
    // z conj(e) points along u: e = |e| conj(u) z / |z|.
    let (ex, ey) = (ux * cos + uy * sin, ux * sin - uy * cos);
    Slope::at_escape([Z_NORM * cos, Z_NORM * sin], [length * ex, length * ey])
}

/// A deep frame's exact geometry from the decimal text of its data's header (what its PNG text
/// reports); `None` for plain `f64` frames, as in a render.
fn exact_geometry(job: &FrameJob, data: &FrameData) -> Option<FrameGeometry> {
    let view = &job.view;
    if is_plain(view, job.width) {
        return None;
    }
    let spacing_log2 = (view.ln_width - f64::from(job.width).ln()) / std::f64::consts::LN_2;
    let frac = Fixed::frac_for_bits((-spacing_log2).ceil().max(0.0) as u64 + GUARD_BITS + 128);
    let text = |key: &str| data.strings.get(key).and_then(|t| Fixed::parse(t, frac));
    let center = FixedC {
        re: text("zoomgen.centerRe")?,
        im: text("zoomgen.centerIm")?,
    };
    let width = text("zoomgen.width")?;
    Some(FrameGeometry::new(
        center,
        width,
        job.width,
        view.rotation_deg,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rebuilt slope gives back the distance, direction (in image axes) and angle it was
    /// built from, turned or not.
    #[test]
    fn rebuilt_slopes_give_back_their_data() {
        let e = Escape { n: 10, nf: 0.5 };
        for x_axis in [[1.0, 0.0], [0.6, 0.8], [0.0, -1.0]] {
            for (de, dir, t) in [
                (3.5f32, [0.6f32, 0.8f32], 0.1f32),
                (0.01, [-1.0, 0.0], 0.75),
            ] {
                let s = rebuilt_slope(e, [de, dir[0], dir[1], t], x_axis);
                assert!((s.distance() - f64::from(de)).abs() < 1e-5 * f64::from(de));
                let [ix, iy] = swap_axes(s.direction(), x_axis);
                assert!((ix - f64::from(dir[0])).abs() < 1e-6, "{x_axis:?}: {ix}");
                assert!((iy - f64::from(dir[1])).abs() < 1e-6, "{x_axis:?}: {iy}");
                assert!((s.angle() - f64::from(t)).abs() < 1e-6);
            }
        }
        let interior = rebuilt_slope(Escape::INTERIOR, [f32::INFINITY, 0.0, 0.0, 0.0], [1.0, 0.0]);
        assert_eq!(interior, Slope::NONE);
    }
}
