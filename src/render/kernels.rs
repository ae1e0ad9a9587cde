//! Which kernel renders each frame: one plain `f64` kernel for the frames it is exact for, and
//! perturbation against reference orbits ([`crate::deep`]) for deeper ones.
//!
//! The instruction set of both follows the one choice of [`crate::kernel::select`]
//! (`ZOOMGEN_KERNEL` included).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::job::FrameJob;
use super::FrameKernel;
use super::pipeline::KernelSource;
use std::sync::atomic::AtomicU64;

use crate::deep::{DeepRenderer, FrameGeometry};
use crate::expmap::{Octave, SegmentMap};
use crate::error::{Error, Result};
use crate::kernel::{Kernel, select_kernel};
use crate::path::ZoomPath;
use crate::scene::Scene;

/// The kernels of a run: one plain kernel, and perturbation for deep frames.
pub struct FrameKernels {
    plain: Arc<dyn Kernel>,
    deep: Option<DeepRenderer>,
    /// The name of the kernel each frame got, for the render log.
    names: Mutex<HashMap<u64, &'static str>>,
}

impl FrameKernels {
    /// The kernels for `frames` of `scene` at `width` x `height` pixels with `supersample`^2
    /// samples each: the plain kernel that [`select_kernel`] chooses, and the reference orbits of
    /// the deep frames among `frames` (computed here, reporting progress from 0 to 1).
    pub fn new(
        scene: &Scene,
        path: &ZoomPath,
        frames: &[u64],
        (width, height, supersample): (u32, u32, u32),
        keep_deep: bool,
        progress: &mut dyn FnMut(f64),
    ) -> Result<FrameKernels> {
        let plain = Arc::from(select_kernel()?);
        let deep = DeepRenderer::new(scene, path, frames, width, height, supersample, progress)
            .map_err(Error::DeepZoom)?;
        Ok(FrameKernels {
            plain,
            deep: (keep_deep || deep.orbit_count() > 0).then_some(deep),
            names: Mutex::new(HashMap::new()),
        })
    }

    /// The kernel of `octave` of `map` (an exponential map's rings): the plain kernel, or
    /// perturbation about the segment's reference point for a deep octave, its orbit serving
    /// `orbit_needs` (see [`DeepRenderer::ring_kernel`]).
    pub fn ring_kernel(
        &self,
        map: &SegmentMap,
        octave: &Octave,
        orbit_needs: (f64, u32),
        counters: [Arc<AtomicU64>; 2],
    ) -> Result<Arc<dyn Kernel>> {
        if !octave.deep {
            return Ok(self.plain.clone());
        }
        let deep = self.deep.as_ref().ok_or_else(|| {
            Error::DeepZoom("a deep octave needs the deep renderer".into())
        })?;
        deep.ring_kernel(
            map.key,
            map.offset,
            &crate::expmap::strip::grid(map, octave),
            octave.ln_spacing,
            orbit_needs,
            counters,
        )
        .map_err(Error::DeepZoom)
    }

    /// Records that `frame` was rendered by the kernel called `name`.
    pub fn note(&self, frame: u64, name: &'static str) {
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(frame, name);
    }

    /// The name of the kernel that rendered `frame` (`None` before it was chosen).
    pub fn name_of(&self, frame: u64) -> Option<&'static str> {
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&frame)
            .copied()
    }

    /// Untrusted samples of deep frame `frame` (0 for `f64` frames).
    pub fn glitches(&self, frame: u64) -> u64 {
        self.deep.as_ref().map_or(0, |d| d.glitches(frame))
    }

    /// Ill-conditioned samples of deep frame `frame` iterated again in higher precision (0 for
    /// `f64` frames).
    pub fn exact_samples(&self, frame: u64) -> u64 {
        self.deep.as_ref().map_or(0, |d| d.exact_samples(frame))
    }

    /// The exact geometry of a deep frame (`None` for `f64` frames).
    pub fn geometry(&self, job: &FrameJob) -> Option<FrameGeometry> {
        self.deep.as_ref()?.geometry(&job.view, job.grid.samples_x)
    }

    /// The reference orbits' count and memory in bytes, when there are deep frames.
    pub fn orbits(&self) -> Option<(usize, usize)> {
        self.deep
            .as_ref()
            .map(|d| (d.orbit_count(), d.orbit_memory_bytes()))
    }
}

impl std::fmt::Debug for FrameKernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameKernels")
            .field("plain", &self.plain.name())
            .field("deep", &self.deep)
            .finish()
    }
}

impl KernelSource for FrameKernels {
    fn kernel_for(&self, job: &FrameJob) -> FrameKernel {
        let kernel = self
            .deep
            .as_ref()
            .and_then(|deep| deep.kernel_for(&job.view, &job.grid))
            .unwrap_or_else(|| self.plain.clone());
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.view.frame, kernel.name());
        FrameKernel::Samples(kernel)
    }
}
