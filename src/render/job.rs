//! One frame's job: its view and where its samples lie, the unit the pipeline schedules.

use crate::color::{Cycle, FrameColor};
use crate::kernel::SampleGrid;
use crate::path::View;

/// What one frame needs to be rendered: its view and where its samples lie.
#[derive(Debug, Clone)]
pub struct FrameJob {
    /// The frame's view (frame number, center, width, rotation, iteration budget).
    pub view: View,
    /// The frame's sample positions.
    pub grid: SampleGrid,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Samples per pixel along each axis.
    pub supersample: u32,
    /// A deep frame's exact geometry, for its PNG text and the header of its escape data; `None`
    /// for plain `f64` frames (and for jobs built without it).
    pub exact: Option<std::sync::Arc<crate::deep::FrameGeometry>>,
    /// The frame's place on the palette and its axes, for the coloring (the view's own cycle
    /// and offset unless the renderer's look sets them: see [`crate::color::Look`]).
    pub color: FrameColor,
}

impl FrameJob {
    /// The job for `view` at `width` x `height` pixels with `supersample`^2 samples per pixel.
    pub fn new(view: View, width: u32, height: u32, supersample: u32) -> Self {
        let grid = SampleGrid::new(
            view.center,
            view.width(),
            view.rotation_deg,
            width,
            height,
            supersample,
        );
        // 8-bit pixels, not dithered, unless the renderer's look says otherwise.
        let color = FrameColor {
            cycle: Cycle::new(view.palette_cycle, view.palette_offset),
            x_axis: grid.x_axis(),
            frame: view.frame,
            depth: crate::scene::BitDepth::Eight,
            dither: false,
        };
        FrameJob {
            view,
            grid,
            width,
            height,
            supersample,
            exact: None,
            color,
        }
    }

    /// Bytes of one RGB row (3 or 6 per pixel, as `color.depth` says).
    pub fn row_bytes(&self) -> usize {
        self.width as usize * self.color.pixel_bytes()
    }
}
