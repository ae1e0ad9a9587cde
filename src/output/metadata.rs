//! What makes resuming safe: a stable hash of everything that changes pixels, written into
//! every PNG and into a small manifest in the output folder.
//!
//! A rerun skips a frame only when its file is complete and carries the same scene hash as the
//! scene being rendered now. When the scene changed in a way that changes pixels, the hash
//! differs and zoomgen refuses to touch the folder (exit code 2, before rendering): a folder
//! never holds frames of two scenes. Changes that do not touch pixels (the title, `fps`,
//! `frames`) keep the hash, so they never invalidate finished frames.
//!
//! **What the hash covers**: [`RENDER_VERSION`], the frame size after `--size`/`--preview`, the
//! supersampling factor, the palette, cycle, offset and interior color, and every keyframe's
//! frame number, center and width (as the decimal text of the scene file), rotation and
//! iteration budget. The frame count is *not* covered: the path depends only on the keyframes,
//! and frames past the last keyframe hold its view, so a longer or shorter scene leaves the
//! pixels of every existing frame as they were. The hash is FNV-1a 64 over a canonical text
//! (implemented here, so it never depends on Rust's randomized hasher or a crate's version).
//!
//! **Per-frame text chunks** (`tEXt`, readable with `exiftool` or `pngcheck -t`):
//! `Software` (zoomgen and its version), `zoomgen.scene_hash`, `zoomgen.render_version`,
//! `zoomgen.frame`, `zoomgen.center` and `zoomgen.width` (deep frames: the renderer's exact
//! values as decimal text, the same as the `--data` header's, see [`super::exr`]; plain `f64`
//! frames: the `f64` view, formatted with `{:e}`), `zoomgen.path` (the keyframe segment and the
//! fraction along it), `zoomgen.log10_width` (exact even where the width underflows `f64`),
//! `zoomgen.rotation` and `zoomgen.max_iterations`.

use std::fs;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::path::View;
use crate::scene::{BitDepth, ColorSettings, Keyframe, Method, RenderSettings, Rgb8, Scene, Video};

/// The rendering-relevant version: bump it whenever a kernel, the coloring or the sampling
/// changes pixels, so frames of an older zoomgen are never mixed with new ones.
/// 2: deep frames iterate their ill-conditioned samples again at the exact mapping points.
/// 3: the smooth fraction is computed in `f32` (a few pixels change by one level), and the
///    perturbation step of deep frames uses fused multiply-adds (other roundings).
/// 4: 8-bit frames are dithered (colors change by at most one level).
pub const RENDER_VERSION: u32 = 4;

/// The manifest's file name in the output folder.
pub const MANIFEST_NAME: &str = "zoomgen-manifest.toml";

/// FNV-1a, 64 bits: small, stable across platforms and versions.
#[derive(Debug, Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Adds bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// The canonical text that [`scene_hash`] hashes (one `key=value` per line).
///
/// Every field of the scene is named below, without `..`: a new field does not compile until
/// it is decided here whether it changes pixels (hashed) or not (bound to `_`, with the reason).
pub fn canonical_render_text(scene: &Scene, width: u32, height: u32, supersample: u32) -> String {
    let Scene {
        // Names outputs and messages; the pixels do not depend on where the file lies.
        source: _,
        title: _,
        video:
            Video {
                // The frame size is hashed as rendered (`width`, `height` after `--size` and
                // `--preview`), not as the file gives it.
                width: _,
                height: _,
                // Neither changes existing pixels: frames past the last keyframe hold its view.
                // (With palette cycling the rate moves the colors: hashed below then.)
                fps,
                frames: _,
                bit_depth,
                dither,
            },
        render:
            RenderSettings {
                // Resolved into every keyframe's `max_iterations`, which is hashed.
                max_iterations: _,
                // Hashed as rendered (the `supersample` argument, after `--preview`).
                supersample: _,
                method,
            },
        color:
            ColorSettings {
                palette,
                cycle,
                offset,
                interior,
                by,
                transfer,
                boundary,
                boundary_color,
                light,
                light_angle,
                light_elevation,
                cycles_per_second,
            },
        keyframes,
    } = scene;
    let mut text = format!(
        "render_version={RENDER_VERSION}\nsize={width}x{height}\nsupersample={supersample}\n"
    );
    let hex = |c: &Rgb8| format!("#{:02x}{:02x}{:02x}", c.0[0], c.0[1], c.0[2]);
    let palette: Vec<String> = palette.iter().map(hex).collect();
    text += &format!("palette={}\n", palette.join(","));
    // `{:?}` of an f64 is its shortest round-trip text: equal values, equal text.
    text += &format!("cycle={cycle:?}\noffset={offset:?}\n");
    text += &format!("interior={}\n", hex(interior));
    // Settings added later are hashed only where they differ from their defaults, so that the
    // scenes written before them keep their hashes (and their output folders).
    let default = ColorSettings::default();
    if *by != default.by {
        text += &format!("by={by:?}\n");
    }
    if *transfer != default.transfer {
        text += &format!("transfer={transfer:?}\n");
    }
    if *boundary != default.boundary || *boundary_color != default.boundary_color {
        text += &format!("boundary={boundary:?} {}\n", hex(boundary_color));
    }
    if *light != default.light {
        text += &format!("light={light:?} angle {light_angle:?} elevation {light_elevation:?}\n");
    }
    if *cycles_per_second != default.cycles_per_second {
        text += &format!("cycles_per_second={cycles_per_second:?} fps {}\n", fps.human());
    }
    if *bit_depth != BitDepth::Eight {
        text += &format!("bit_depth={}\n", bit_depth.bits());
    }
    if !dither {
        text += "dither=false\n";
    }
    if *method != Method::Direct {
        text += &format!("method={}\n", method.name());
    }
    for (i, key) in keyframes.iter().enumerate() {
        let Keyframe {
            frame,
            center,
            width,
            rotation,
            max_iterations,
            palette_offset,
            palette_cycle,
        } = key;
        text += &format!(
            "keyframe[{i}]=frame {frame} center {} {} width {} rotation {rotation:?} \
             max_iterations {max_iterations}\n",
            center[0].text(),
            center[1].text(),
            width.text(),
        );
        if palette_offset != offset || palette_cycle != cycle {
            text += &format!(
                "keyframe[{i}].palette=offset {palette_offset:?} cycle {palette_cycle:?}\n"
            );
        }
    }
    text
}

/// The scene hash: 16 hexadecimal digits of FNV-1a 64 over [`canonical_render_text`].
pub fn scene_hash(scene: &Scene, width: u32, height: u32, supersample: u32) -> String {
    let mut h = Fnv64::default();
    h.write(canonical_render_text(scene, width, height, supersample).as_bytes());
    format!("{:016x}", h.finish())
}

/// The hash of what determines a frame's data (`--data`: escapes and slopes), not its colors:
/// the render version, the frame size, supersampling and every keyframe's geometry and
/// iteration budget. `--recolor` colors frames from data only under the same data hash.
pub fn data_hash(scene: &Scene, width: u32, height: u32, supersample: u32) -> String {
    let mut text = format!(
        "render_version={RENDER_VERSION}\nsize={width}x{height}\nsupersample={supersample}\n"
    );
    // Frames from a map hold its nearest samples, not their own.
    if scene.render.method != Method::Direct {
        text += &format!("method={}\n", scene.render.method.name());
    }
    for (i, key) in scene.keyframes.iter().enumerate() {
        let Keyframe {
            frame,
            center,
            width,
            rotation,
            max_iterations,
            // Colors only.
            palette_offset: _,
            palette_cycle: _,
        } = key;
        text += &format!(
            "keyframe[{i}]=frame {frame} center {} {} width {} rotation {rotation:?} \
             max_iterations {max_iterations}\n",
            center[0].text(),
            center[1].text(),
            width.text(),
        );
    }
    let mut h = Fnv64::default();
    h.write(text.as_bytes());
    format!("{:016x}", h.finish())
}

/// The text chunks written into a frame's PNG.
pub fn png_text(
    view: &View,
    exact: Option<&crate::deep::FrameGeometry>,
    hash: &str,
) -> Vec<(&'static str, String)> {
    let (center, width) = match exact {
        Some(geometry) => {
            let [re, im, width] = geometry.view_text();
            (format!("{re} {im}"), width)
        }
        None => (
            format!("{:e} {:e}", view.center.re, view.center.im),
            format!("{:e}", view.width()),
        ),
    };
    vec![
        ("Software", format!("zoomgen {}", env!("CARGO_PKG_VERSION"))),
        ("zoomgen.scene_hash", hash.to_string()),
        ("zoomgen.render_version", RENDER_VERSION.to_string()),
        ("zoomgen.frame", view.frame.to_string()),
        ("zoomgen.center", center),
        ("zoomgen.width", width),
        ("zoomgen.log10_width", format!("{:?}", view.log10_width())),
        (
            "zoomgen.path",
            format!(
                "segment {} center_fraction {:?}",
                view.segment, view.center_fraction
            ),
        ),
        ("zoomgen.rotation", format!("{:?}", view.rotation_deg)),
        ("zoomgen.max_iterations", view.max_iterations.to_string()),
    ]
}

/// What a frame file on disk says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameState {
    /// No file under the final name.
    Missing,
    /// A whole PNG (it ends with `IEND`) with this scene hash (`None`: no zoomgen hash).
    Complete(Option<String>),
    /// The file is cut short or not a PNG (damaged outside zoomgen): render it again.
    Damaged,
}

/// The PNG trailer: the `IEND` chunk (length 0, type, CRC).
const IEND: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];

/// Reads the state of the PNG at `path` from its text chunks and trailer, without decoding
/// any pixels.
pub fn read_frame_state(path: &Path) -> Result<FrameState> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FrameState::Missing),
        Err(e) => return Err(Error::io(path, e)),
    };
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len < IEND.len() as u64 {
        return Ok(FrameState::Damaged);
    }
    let mut tail = [0u8; 12];
    file.seek(SeekFrom::End(-12))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(|e| Error::io(path, e))?;
    if tail != IEND {
        return Ok(FrameState::Damaged);
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let decoder = png::Decoder::new(BufReader::new(file));
    let Ok(reader) = decoder.read_info() else {
        return Ok(FrameState::Damaged);
    };
    let hash = reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == "zoomgen.scene_hash")
        .map(|t| t.text.clone());
    Ok(FrameState::Complete(hash))
}

/// The output folder's manifest: which scene the frames in it belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// [`scene_hash`] of the scene.
    pub scene_hash: String,
    /// The text written to disk.
    pub text: String,
}

impl Manifest {
    /// The manifest of a run.
    pub fn new(scene: &Scene, width: u32, height: u32, supersample: u32) -> Manifest {
        let scene_hash = scene_hash(scene, width, height, supersample);
        let text = format!(
            "# Written by zoomgen: the frames in this folder were rendered from this scene.\n\
             # A run whose scene_hash differs refuses to write here (use --overwrite or another --out).\n\
             zoomgen = \"{}\"\n\
             render_version = {RENDER_VERSION}\n\
             scene_hash = \"{scene_hash}\"\n\
             width = {width}\n\
             height = {height}\n\
             supersample = {supersample}\n",
            env!("CARGO_PKG_VERSION"),
        );
        Manifest { scene_hash, text }
    }

    /// Reads the `scene_hash` of the manifest in `dir`, if there is one.
    pub fn read_hash(dir: &Path) -> Result<Option<String>> {
        let path = dir.join(MANIFEST_NAME);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let table: toml::Table = text.parse().map_err(|e| {
            Error::Usage(format!(
                "{} is not a zoomgen manifest ({e}); use another --out",
                path.display()
            ))
        })?;
        match table.get("scene_hash").and_then(|v| v.as_str()) {
            Some(h) => Ok(Some(h.to_string())),
            None => Err(Error::Usage(format!(
                "{} has no scene_hash; use another --out",
                path.display()
            ))),
        }
    }

    /// Puts the manifest into `dir` without ever exposing a half-written file, and without a
    /// race between shards sharing the folder: the content goes to a temporary file that is
    /// then hard-linked to the final name (which fails if another process was first; an
    /// identical manifest is then accepted). `replace` (for `--overwrite`) renames over any
    /// existing manifest instead.
    pub fn write(&self, dir: &Path, replace: bool) -> Result<()> {
        let path = dir.join(MANIFEST_NAME);
        let temp = dir.join(format!(".{MANIFEST_NAME}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temp)?;
            std::io::Write::write_all(&mut file, self.text.as_bytes())?;
            file.sync_data()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&temp);
            return Err(Error::io(&path, e));
        }
        let placed = if replace {
            fs::rename(&temp, &path)
        } else {
            let linked = fs::hard_link(&temp, &path);
            let _ = fs::remove_file(&temp);
            linked
        };
        match placed {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match Manifest::read_hash(dir)? {
                    Some(h) if h == self.scene_hash => Ok(()),
                    other => Err(mismatch(&path, other.as_deref(), &self.scene_hash)),
                }
            }
            Err(e) => {
                let _ = fs::remove_file(&temp);
                Err(Error::io(&path, e))
            }
        }
    }
}

/// The refusal for a folder (or file) that belongs to another scene.
pub fn mismatch(path: &Path, found: Option<&str>, expected: &str) -> Error {
    let found = match found {
        Some(h) => format!("scene hash {h}"),
        None => "no zoomgen scene hash".to_string(),
    };
    Error::Usage(format!(
        "{} belongs to a different render ({found}; this scene's is {expected}): the scene was \
         changed in a way that changes pixels (size, supersampling, colors or keyframes), and \
         frames of two scenes are never mixed; use --overwrite to render everything again, or \
         another --out",
        path.display()
    ))
}

/// Path of the manifest in `dir`.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(extra: &str) -> Scene {
        let text = format!(
            "title = \"t\"\n[video]\nwidth = 32\nheight = 18\nfps = 24\nframes = 4\n{extra}\n\
             [[keyframe]]\nframe = 0\ncenter = [\"-0.75\", \"0\"]\nwidth = 3.5\n\
             [[keyframe]]\nframe = 3\ncenter = [\"-0.74\", \"0.1\"]\nwidth = 0.1\n"
        );
        Scene::from_toml_str(&text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        let hash = |s: &str| {
            let mut h = Fnv64::default();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_eq!(hash(""), 0xcbf29ce484222325);
        assert_eq!(hash("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(hash("foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn the_hash_follows_pixels_not_titles_or_frame_counts() {
        let base = scene_hash(&scene(""), 32, 18, 1);
        let mut other = scene("");
        other.title = Some("another title".into());
        other.video.fps = crate::scene::Fps::whole(60);
        other.video.frames = 400;
        assert_eq!(scene_hash(&other, 32, 18, 1), base);
        assert_ne!(scene_hash(&scene(""), 32, 18, 2), base);
        assert_ne!(scene_hash(&scene(""), 34, 18, 1), base);
        assert_ne!(scene_hash(&scene("[color]\ncycle = 10.0"), 32, 18, 1), base);
        let mut moved = scene("");
        moved.keyframes[1].rotation = 5.0;
        assert_ne!(scene_hash(&moved, 32, 18, 1), base);
    }
}
