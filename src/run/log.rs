//! The render log: one JSON line per rendered frame in `render-log.jsonl`, and the warning for
//! a budget that looks too low.
//!
//! Each rendered frame appends one JSON line to `render-log.jsonl` in the
//! output folder: `frame`, `seconds` (wall time since the previous frame was handed out),
//! `cpu_seconds` (thread-seconds spent on its bands), `iterations`, `mean_escape`,
//! `max_escape`, `interior_share`, `max_iterations`, `kernel`, `glitches` (samples of a
//! deep frame whose perturbation result could not be trusted: drawn as interior) and
//! `exact_samples` (samples of a deep frame found ill-conditioned and iterated again in higher
//! precision: exact, not glitches; see docs/DEEP.md). A frame rendered again after an
//! interruption appears again. A warning is printed once when a frame suggests that
//! max_iterations is too low; see [`budget_looks_low`].

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::render::pipeline::RenderedFrame;

/// The per-frame log's file name in the output folder.
pub const RENDER_LOG_NAME: &str = "render-log.jsonl";

/// Whether a frame suggests that its iteration budget is too low: its escaped samples need a
/// good share of the budget (mean escape count at least 10% of max_iterations), some come
/// within 10% of it, and more than 5% of all samples reach it. A low budget shows up exactly
/// so: the boundary's slow points are painted as interior. Views that merely contain the
/// set's interior (the whole set, a minibrot) have most escapes far below the budget, and do
/// not warn.
pub fn budget_looks_low(frame: &RenderedFrame) -> bool {
    let budget = f64::from(frame.job.view.max_iterations);
    let s = &frame.stats;
    f64::from(s.escape_max) >= 0.9 * budget
        && s.interior_share() > 0.05
        && s.escape_mean() >= 0.1 * budget
}

pub(super) fn budget_warning(frame: &RenderedFrame) -> String {
    let s = &frame.stats;
    format!(
        "warning: max_iterations may be too low: in frame {}, {:.1}% of the samples reached the \
         budget of {} iterations, and escaped samples needed {:.0} on average (up to {}); raise \
         max_iterations (e.g. --set render.max_iterations=N or per keyframe) if the set looks \
         blotchy (this warning is shown once)",
        frame.job.view.frame,
        s.interior_share() * 100.0,
        frame.job.view.max_iterations,
        s.escape_mean(),
        s.escape_max
    )
}

/// `render-log.jsonl`: one JSON object per rendered frame, appended as frames finish.
#[derive(Debug)]
pub(super) struct RenderLog {
    path: PathBuf,
    file: std::fs::File,
}

impl RenderLog {
    pub(super) fn open(dir: &Path) -> Result<RenderLog> {
        let path = dir.join(RENDER_LOG_NAME);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(RenderLog { path, file })
    }

    pub(super) fn frame(
        &mut self,
        frame: &RenderedFrame,
        seconds: f64,
        kernel: &str,
        glitches: u64,
        exact_samples: u64,
    ) -> Result<()> {
        let s = &frame.stats;
        let line = format!(
            "{{\"frame\":{},\"seconds\":{},\"cpu_seconds\":{},\"iterations\":{},\
             \"mean_escape\":{},\"max_escape\":{},\"interior_share\":{},\"max_iterations\":{},\
             \"kernel\":\"{}\",\"glitches\":{},\"exact_samples\":{}}}\n",
            frame.job.view.frame,
            json_number(seconds),
            json_number(frame.cpu_seconds),
            s.iterations,
            json_number(s.escape_mean()),
            s.escape_max,
            json_number(s.interior_share()),
            frame.job.view.max_iterations,
            kernel.escape_default(),
            glitches,
            exact_samples
        );
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// A finite number as JSON (JSON has no NaN or infinity).
fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x:?}")
    } else {
        "null".into()
    }
}

/// A warning for a frame that shows nothing: every pixel the same color (a view entirely inside
/// the set, or so far outside it that the palette does not change); `None` for other frames.
pub(super) fn blank_frame_warning(frame: &RenderedFrame) -> Option<String> {
    let bytes = frame.job.color.pixel_bytes();
    let first = frame.pixels.get(..bytes)?;
    if !frame.pixels.chunks_exact(bytes).all(|pixel| pixel == first) {
        return None;
    }
    let why = if frame.stats.interior_share() >= 1.0 {
        "entirely inside the set (every sample reached the iteration budget)"
    } else {
        "a single color"
    };
    Some(format!(
        "warning: frame {} is {why}: check the keyframes' centers and widths (this warning is \
         shown once)",
        frame.job.view.frame
    ))
}
