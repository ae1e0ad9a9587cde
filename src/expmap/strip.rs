//! Octaves of a map as data: rendered on every core, held while frames read them, cached on
//! disk so that a stopped run picks them up again.
//!
//! An octave's rings are cut into bands of rings that workers take from a lock-free queue,
//! as a frame's rows are; each band goes to the kernel in one call. A cached octave is one
//! file named by a hash of everything that determines its samples (the scene's data hash,
//! the segment, octave, level, size and budget), written to a temporary name and renamed, so
//! a file under its final name is whole and belongs to this scene; a file that does not
//! read back whole is rendered again.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam::queue::ArrayQueue;

use super::{Octave, SegmentMap};
use crate::color::{Look, Relief, Shade};
use crate::error::{Error, Result};
use crate::kernel::{Escape, Kernel, PolarRings, SampleGrid, Slope, unit_circle};

/// Rings per band handed to a worker.
pub const BAND_RINGS: u32 = 2;

/// The first bytes of a cached octave.
const MAGIC: &[u8; 8] = b"ZGOCTV01";

/// Side of the square tiles an octave's samples are stored in.
const TILE: usize = 8;

/// One octave's samples, in tiles of `TILE` x `TILE` (rings x angles), all of them or every
/// `2^scale`-th ring and angle: as rendered (escapes and slopes, what the cache holds and
/// `--data` reads), and as [`Shade`]s once [`Strip::shaded`] (what frames are colored from).
///
/// A frame's consecutive samples fall on neighbouring map samples in any direction (along the
/// rings, or across them where the frame's rows run radially); tiles keep those in a few cache
/// lines and pages, where rows of rings put every step across a ring a whole ring apart.
/// Measured on 480x270 frames: with rows of rings, three quarters of the assembly's time was
/// the two loads of each sample.
#[derive(Debug, Clone)]
pub struct Strip {
    /// Its layout.
    pub octave: Octave,
    /// Escapes, tiled (padded to whole tiles).
    escapes: Vec<Escape>,
    /// As many slopes, or none when the coloring does not read them.
    slopes: Vec<Slope>,
    /// As many shades, once shaded (escapes and slopes may then be let go).
    shades: Vec<Shade>,
    /// As many reliefs where the look reads them, or none.
    reliefs: Vec<Relief>,
    /// Tiles across the angles.
    tiles_x: usize,
    /// This copy holds rings and angles `k 2^scale` of the octave.
    scale: u32,
    /// Iterations spent on it.
    pub iterations: u64,
}

impl Strip {
    /// The strip of `octave` from its samples ring after ring (`slopes` empty or as long as
    /// `escapes`).
    pub fn from_rings(octave: Octave, escapes: &[Escape], slopes: &[Slope], iterations: u64) -> Strip {
        let (angles, rings) = (octave.angles as usize, octave.rings as usize);
        let tiles_x = angles.div_ceil(TILE);
        let len = tiles_x * rings.div_ceil(TILE) * TILE * TILE;
        let mut strip = Strip {
            octave,
            escapes: vec![Escape::INTERIOR; len],
            slopes: vec![Slope::NONE; if slopes.is_empty() { 0 } else { len }],
            shades: Vec::new(),
            reliefs: Vec::new(),
            tiles_x,
            scale: 0,
            iterations,
        };
        for ring in 0..rings {
            for column in 0..angles {
                let at = strip.index(ring, column);
                strip.escapes[at] = escapes[ring * angles + column];
                if let Some(s) = slopes.get(ring * angles + column) {
                    strip.slopes[at] = *s;
                }
            }
        }
        strip
    }

    /// Every `2^scale`-th ring and angle of this one (which holds all of them): the copy a
    /// frame that reads the octave at level `scale` or coarser needs (see [`Strip::index_at`]).
    pub fn decimated(&self, scale: u32) -> Strip {
        debug_assert_eq!(self.scale, 0);
        if scale == 0 {
            return self.clone();
        }
        let (rings, angles) = (self.octave.rings as usize, self.octave.angles as usize);
        let (copy_rings, copy_angles) = (rings.div_ceil(1 << scale), angles.div_ceil(1 << scale));
        let tiles_x = copy_angles.div_ceil(TILE);
        let len = tiles_x * copy_rings.div_ceil(TILE) * TILE * TILE;
        let sized = |present: bool| if present { len } else { 0 };
        let mut copy = Strip {
            octave: self.octave,
            escapes: vec![Escape::INTERIOR; sized(!self.escapes.is_empty())],
            slopes: vec![Slope::NONE; sized(!self.slopes.is_empty())],
            shades: vec![Shade::INTERIOR; sized(!self.shades.is_empty())],
            reliefs: vec![Relief::NONE; sized(!self.reliefs.is_empty())],
            tiles_x,
            scale,
            iterations: self.iterations,
        };
        for ring in 0..copy_rings {
            for column in 0..copy_angles {
                let from = self.index(ring << scale, column << scale);
                let to = copy.index(ring, column);
                if !self.escapes.is_empty() {
                    copy.escapes[to] = self.escapes[from];
                }
                if !self.slopes.is_empty() {
                    copy.slopes[to] = self.slopes[from];
                }
                if !self.shades.is_empty() {
                    copy.shades[to] = self.shades[from];
                }
                if !self.reliefs.is_empty() {
                    copy.reliefs[to] = self.reliefs[from];
                }
            }
        }
        copy
    }

    /// This strip with the [`Shade`]s (and, where `look` reads them, [`Relief`]s) of its
    /// samples, keeping the escapes and slopes only when `keep_samples` (`--data` reads them).
    pub fn shaded(mut self, look: &Look, keep_samples: bool) -> Strip {
        let shade = |i: usize, e: Escape| {
            look.shade(e, self.slopes.get(i).copied().unwrap_or(Slope::NONE))
        };
        let samples = self.escapes.iter().enumerate();
        // (Reliefs only where the look reads them: a count look's would be an octave-sized
        // array of nothing.)
        (self.shades, self.reliefs) = if look.reads_relief() {
            samples.map(|(i, &e)| shade(i, e)).unzip()
        } else {
            (samples.map(|(i, &e)| shade(i, e).0).collect(), Vec::new())
        };
        if !keep_samples {
            self.escapes = Vec::new();
            self.slopes = Vec::new();
        }
        self
    }

    /// The scale of this copy (0: every sample).
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Where the octave's sample nearest to ring `ring`, angle column `column` among those of
    /// level `level` (every `2^level`-th ring and angle; `level >= scale`) is stored.
    ///
    /// Rounding to the nearest kept ring and angle (angles wrap around): a frame reads the same
    /// samples at a level whatever copy holds them, so its pixels do not depend on which
    /// frames were in flight with it.
    #[inline]
    pub fn index_at(&self, ring: u32, column: u32, level: u32) -> usize {
        debug_assert!(level >= self.scale);
        let half = (1u32 << level) >> 1;
        let last_ring = (self.octave.rings - 1) >> level;
        let ring = ((ring + half) >> level).min(last_ring);
        let mut column = (column + half) >> level;
        if column << level >= self.octave.angles {
            column = 0;
        }
        let shift = level - self.scale;
        self.index((ring << shift) as usize, (column << shift) as usize)
    }

    /// Where sample `(ring, column)` of level `level` (ring `ring 2^level` and angle column
    /// `column 2^level` of the octave, both inside it; `level >= scale`) is stored.
    #[inline]
    pub fn index_of_level(&self, ring: u32, column: u32, level: u32) -> usize {
        debug_assert!(level >= self.scale);
        let shift = level - self.scale;
        debug_assert!(ring << level < self.octave.rings && column << level < self.octave.angles);
        self.index((ring << shift) as usize, (column << shift) as usize)
    }

    /// Where the sample of ring `ring` and angle column `column` of this copy is stored.
    #[inline]
    fn index(&self, ring: usize, column: usize) -> usize {
        ((ring / TILE) * self.tiles_x + column / TILE) * TILE * TILE
            + (ring % TILE) * TILE
            + column % TILE
    }

    /// The escape stored at `index`.
    #[inline]
    pub fn escape(&self, index: usize) -> Escape {
        self.escapes[index]
    }

    /// The slope stored at `index` ([`Slope::NONE`] when the strip has none).
    #[inline]
    pub fn slope(&self, index: usize) -> Slope {
        self.slopes.get(index).copied().unwrap_or(Slope::NONE)
    }

    /// The shades, indexed as [`Strip::index_at`] says (empty until [`Strip::shaded`]).
    #[inline]
    pub fn shades(&self) -> &[Shade] {
        &self.shades
    }

    /// The reliefs, indexed as the shades (empty where the look reads none).
    #[inline]
    pub fn reliefs(&self) -> &[Relief] {
        &self.reliefs
    }

    /// Bytes of sample data held.
    pub fn bytes(&self) -> usize {
        self.escapes.len() * size_of::<Escape>()
            + self.slopes.len() * size_of::<Slope>()
            + self.shades.len() * size_of::<Shade>()
            + self.reliefs.len() * size_of::<Relief>()
    }

    /// Samples stored (padding included).
    fn len(octave: &Octave) -> usize {
        (octave.angles as usize).div_ceil(TILE) * (octave.rings as usize).div_ceil(TILE) * TILE * TILE
    }
}

/// The grid of `octave` of `map`: its rings about the fixed point.
pub fn grid(map: &SegmentMap, octave: &Octave) -> SampleGrid {
    let rings = PolarRings {
        ln_top: octave.ln_top,
        ln_step: octave.ln_step,
        units: unit_circle(octave.angles),
    };
    SampleGrid::rings(
        map.center,
        rings,
        octave.angles,
        octave.rings,
        octave.ln_spacing.exp(),
    )
}

/// Renders `octave` of `map` with `kernel` (built for [`grid`]) on `threads` workers, with
/// slopes when `with_slopes`. `None` when `cancel` was set before every band was done.
pub fn render(
    map: &SegmentMap,
    octave: &Octave,
    kernel: &dyn Kernel,
    (max_iterations, with_slopes): (u32, bool),
    threads: usize,
    cancel: &AtomicBool,
) -> Option<Strip> {
    let grid = grid(map, octave);
    let angles = octave.angles as usize;
    let len = angles * octave.rings as usize;
    let mut escapes = vec![Escape::INTERIOR; len];
    let mut slopes = if with_slopes {
        vec![Slope::NONE; len]
    } else {
        Vec::new()
    };
    let band = BAND_RINGS as usize * angles;
    let bands = octave.rings.div_ceil(BAND_RINGS) as usize;
    let iterations = AtomicU64::new(0);
    let complete = {
        let queue = ArrayQueue::new(bands.max(1));
        let mut slope_chunks = slopes.chunks_mut(band);
        for (b, chunk) in escapes.chunks_mut(band).enumerate() {
            let slope = slope_chunks.next().unwrap_or_default();
            // (The queue holds exactly `bands` entries.)
            let _ = queue.push((b as u32, chunk, slope));
        }
        std::thread::scope(|scope| {
            for _ in 0..threads.max(1) {
                scope.spawn(|| {
                    while !cancel.load(Ordering::Relaxed)
                        && let Some((b, out, slope)) = queue.pop()
                    {
                        let start = b * BAND_RINGS;
                        let rows = start..(start + BAND_RINGS).min(octave.rings);
                        let spent = if with_slopes {
                            kernel.slope_rows(&grid, rows, max_iterations, out, slope)
                        } else {
                            kernel.escape_rows(&grid, rows, max_iterations, out)
                        };
                        iterations.fetch_add(spent, Ordering::Relaxed);
                    }
                });
            }
        });
        queue.is_empty()
    };
    if !complete {
        return None;
    }
    Some(Strip::from_rings(
        *octave,
        &escapes,
        &slopes,
        iterations.into_inner(),
    ))
}

/// Whether process `pid` runs on this machine (where `/proc` does not tell, it is taken to
/// run, and its files are left alone).
fn process_is_running(pid: &str) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid).exists()
}

/// The octaves of a run: in memory while frames read them, and on disk in the cache folder.
#[derive(Debug)]
pub struct StripStore {
    /// The cache folder, when octaves are kept on disk.
    dir: Option<PathBuf>,
    /// What the octaves' samples depend on beyond their layout (the scene's data hash).
    tag: String,
    held: Mutex<HashMap<(usize, u32), Arc<Strip>>>,
    /// The most bytes held at once.
    peak: std::sync::atomic::AtomicUsize,
}

impl StripStore {
    /// A store whose octaves depend on `tag`, cached in `dir` when given. Temporary files
    /// that processes no longer running left in `dir` (killed while writing) are removed.
    pub fn new(dir: Option<PathBuf>, tag: String) -> StripStore {
        if let Some(entries) = dir.as_deref().and_then(|d| fs::read_dir(d).ok()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let pid = name.rsplit_once(".tmp-").map(|(_, pid)| pid.to_string());
                if name.starts_with('.')
                    && let Some(pid) = pid
                    && !process_is_running(&pid)
                {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        StripStore {
            dir,
            tag,
            held: Mutex::new(HashMap::new()),
            peak: Default::default(),
        }
    }

    /// The octave `key` = (map, octave), when held.
    pub fn get(&self, key: (usize, u32)) -> Option<Arc<Strip>> {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
    }

    /// Holds `strip` as octave `key`.
    pub fn hold(&self, key: (usize, u32), strip: Arc<Strip>) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.insert(key, strip);
        let bytes = held.values().map(|s| s.bytes()).sum();
        self.peak.fetch_max(bytes, Ordering::Relaxed);
    }

    /// Lets go of octave `key` (and of its cache file, `file`, when given).
    pub fn release(&self, key: (usize, u32), file: Option<&Path>) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        if let Some(file) = file {
            let _ = fs::remove_file(file);
        }
    }

    /// Removes the cached octaves of this store's tag (and the cache folder, once empty).
    pub fn clear(&self) {
        let Some(dir) = &self.dir else {
            return;
        };
        let suffix = format!("-{}.octave", self.tag);
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().ends_with(&suffix) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        // (Only when empty: other scenes' octaves or live temporaries stay.)
        let _ = fs::remove_dir(dir);
    }

    /// The most bytes of sample data held at once so far.
    pub fn peak_bytes(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Where octave `octave` of `map` is cached for `max_iterations`, with or without slopes
    /// (`None` without a cache folder).
    pub fn file(
        &self,
        map: &SegmentMap,
        octave: &Octave,
        max_iterations: u32,
        with_slopes: bool,
    ) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!(
            "segment{:03}-octave{:04}-level{}-{}x{}-max{}-{}-{}.octave",
            map.segment,
            octave.octave,
            octave.level,
            octave.angles,
            octave.rings,
            max_iterations,
            if with_slopes { "slopes" } else { "escapes" },
            self.tag
        )))
    }

    /// The octave cached in `file`, when it is there and reads back whole with `octave`'s
    /// layout.
    pub fn load(file: &Path, octave: &Octave, with_slopes: bool) -> Option<Strip> {
        let mut bytes = Vec::new();
        fs::File::open(file).ok()?.read_to_end(&mut bytes).ok()?;
        let len = Strip::len(octave);
        let slope_len = if with_slopes { len } else { 0 };
        let want = MAGIC.len() + 8 + len * 8 + slope_len * 16;
        if bytes.len() != want || &bytes[..8] != MAGIC {
            return None;
        }
        let iterations = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
        // Whole records at a time (chunks of known size: no bounds checks per field).
        let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let (escape_bytes, slope_bytes) = bytes[16..].split_at(8 * len);
        let escapes = escape_bytes
            .chunks_exact(8)
            .map(|b| Escape {
                n: word(&b[..4]),
                nf: f32::from_bits(word(&b[4..])),
            })
            .collect();
        let slopes = slope_bytes
            .chunks_exact(16)
            .map(|b| {
                let f = |i: usize| f32::from_bits(word(&b[4 * i..4 * i + 4]));
                Slope {
                    z: [f(0), f(1)],
                    e: [f(2), f(3)],
                }
            })
            .collect();
        Some(Strip {
            octave: *octave,
            escapes,
            slopes,
            shades: Vec::new(),
            reliefs: Vec::new(),
            tiles_x: (octave.angles as usize).div_ceil(TILE),
            scale: 0,
            iterations,
        })
    }

    /// Writes `strip` to `file`: to a temporary name first, then renamed, so the final name
    /// only ever holds a whole octave.
    pub fn save(file: &Path, strip: &Strip) -> Result<()> {
        debug_assert_eq!(strip.scale, 0, "only whole octaves are cached");
        debug_assert!(!strip.escapes.is_empty(), "octaves are cached before they are shaded");
        let io = |e: std::io::Error| Error::Io {
            path: file.to_path_buf(),
            source: e,
        };
        if let Some(dir) = file.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let name = file
            .file_name()
            .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
        let temporary = file.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(&temporary)?);
            out.write_all(MAGIC)?;
            out.write_all(&strip.iterations.to_le_bytes())?;
            // Records encoded a block at a time, the writer's own copy per field being what
            // made writing cost as much as reading.
            let mut block = Vec::with_capacity(1 << 16);
            for chunk in strip.escapes.chunks(4096) {
                block.clear();
                for e in chunk {
                    block.extend_from_slice(&e.n.to_le_bytes());
                    block.extend_from_slice(&e.nf.to_le_bytes());
                }
                out.write_all(&block)?;
            }
            for chunk in strip.slopes.chunks(4096) {
                block.clear();
                for s in chunk {
                    for v in [s.z[0], s.z[1], s.e[0], s.e[1]] {
                        block.extend_from_slice(&v.to_le_bytes());
                    }
                }
                out.write_all(&block)?;
            }
            out.into_inner()
                .map_err(std::io::IntoInnerError::into_error)?
                .sync_data()?;
            fs::rename(&temporary, file)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&temporary);
            return Err(io(e));
        }
        Ok(())
    }
}
