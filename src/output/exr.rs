//! `--data`: a frame's raw escape data as OpenEXR, in the layout Kalles Fraktaler and zoomasm
//! read, so the coloring can be redone (or animated) without iterating again.
//!
//! **Channels** (sorted by name, as OpenEXR requires), one sample per pixel (`--data` needs
//! supersample 1):
//! - `N`, 32-bit unsigned: the escape count, the first `n` with `|z_n| > R` for
//!   `z_0 = 0, z_{n+1} = z_n^2 + c`; `0xFFFFFFFF` ([`Escape::INTERIOR_N`]) for pixels that never
//!   escaped within the frame's iteration budget;
//! - `NF`, 32-bit float: the smooth fractional part, `1 - log2(ln|z_N| / ln R)`, in `[0, 1)`
//!   (0 for interior pixels). The continuous escape count is `N + NF`;
//! - `DE`, 32-bit float: the distance estimate in pixels, `2 |z_N| ln|z_N| / (|dz_N/dc| s)`
//!   with `s` the pixel spacing (infinite for interior pixels);
//! - `DEX`, `DEY`, 32-bit float: the unit vector of `z_N / dz_N/dc` (the direction in which
//!   the distance to the set grows) in image axes, x right and y down (0 for interior pixels);
//! - `T`, 32-bit float: `arg(z_N) / 2 pi` in `[0, 1)` (0 for interior pixels).
//!
//! In the file the channels are in name order: `DE`, `DEX`, `DEY`, `N`, `NF`, `T`.
//!
//! **Header attributes** (besides the required ones): `zoomgen.escapeRadius` (double, R =
//! [`ESCAPE_RADIUS`] = 256), `zoomgen.frame`, `zoomgen.centerRe`, `zoomgen.centerIm`,
//! `zoomgen.width`, `zoomgen.pixelSpacing`, `zoomgen.rotationCos`, `zoomgen.rotationSin`,
//! `zoomgen.log10Width` (decimal text), `zoomgen.rotation` (degrees), `zoomgen.maxIterations`,
//! `zoomgen.sceneHash`, `zoomgen.dataHash` (the hash of what determines the data, not the
//! colors: [`crate::output::metadata::data_hash`]) and `zoomgen.mapping` ([`MAPPING`]), the
//! pixel-to-plane mapping: pixel
//! `(x, y)`, `y` downwards, of a `W` x `H` image is the point
//!
//! ```text
//! center + pixelSpacing ((u cos + v sin) + i (u sin - v cos)),
//! u = x + 0.5 - W/2,  v = y + 0.5 - H/2,  cos = rotationCos,  sin = rotationSin,
//! ```
//!
//! that is `center + (width / W) ((x + 0.5 - W/2) - i (y + 0.5 - H/2))` turned by the rotation
//! about the center. The values are decimal text with the digits that matter:
//! - deep frames ([`crate::deep`], [`FrameGeometry`]): the renderer's exact fixed-point values,
//!   cut 30 digits below the pixel spacing (within `1e-30` spacings of the points iterated
//!   where it counts, see docs/DEEP.md); at a keyframe's frame, `centerRe`, `centerIm` and
//!   `width` are the keyframe's text from the scene, which the renderer read to `2^-128`
//!   spacings;
//! - plain `f64` frames: the exact decimal expansions of the `f64` values used;
//! - `rotationCos`, `rotationSin`: the exact expansions of the `f64` values used (`1` and `0`
//!   for rotation 0).
//!
//! The file is a minimal single-part scanline OpenEXR (version 2, no compression, one scanline
//! per chunk, increasing line order, with its line offset table), written here in about a
//! hundred lines instead of pulling in an EXR library for writing.

use std::io::Write;

use crate::deep::FrameGeometry;
use crate::deep::exact::{exact_f64, rotation_cos_sin};
use crate::kernel::{ESCAPE_RADIUS, Escape, Slope};
use crate::path::View;

/// One frame's samples, one per pixel, row-major.
#[derive(Debug, Clone, Copy)]
pub struct FrameSamples<'a> {
    pub escapes: &'a [Escape],
    /// The same samples' slopes.
    pub slopes: &'a [Slope],
    /// The image's x axis as a unit vector in the plane (see [`crate::color::FrameColor`]).
    pub x_axis: [f64; 2],
}

/// Encodes `samples` (`width * height`) as OpenEXR into `out`.
pub fn encode_escapes(
    samples: FrameSamples<'_>,
    width: u32,
    height: u32,
    view: &View,
    exact: Option<&FrameGeometry>,
    [scene_hash, data_hash]: [&str; 2],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let escapes = samples.escapes;
    if escapes.len() != width as usize * height as usize
        || samples.slopes.len() != escapes.len()
        || width == 0
        || height == 0
    {
        return Err(std::io::Error::other(format!(
            "escape data has {} samples, expected {width}x{height}",
            escapes.len()
        )));
    }
    let mut header = Vec::new();
    header.extend_from_slice(&[0x76, 0x2f, 0x31, 0x01]);
    header.extend_from_slice(&2u32.to_le_bytes());
    // Channels: name, pixel type (0 UINT, 2 FLOAT), pLinear + 3 reserved bytes, x/y sampling.
    let mut chlist = Vec::new();
    for (name, kind) in CHANNELS {
        chlist.extend_from_slice(name.as_bytes());
        chlist.push(0);
        chlist.extend_from_slice(&kind.to_le_bytes());
        chlist.extend_from_slice(&[0, 0, 0, 0]);
        chlist.extend_from_slice(&1i32.to_le_bytes());
        chlist.extend_from_slice(&1i32.to_le_bytes());
    }
    chlist.push(0);
    attribute(&mut header, "channels", "chlist", &chlist);
    attribute(&mut header, "compression", "compression", &[0]);
    let mut window = Vec::new();
    for v in [0i32, 0, width as i32 - 1, height as i32 - 1] {
        window.extend_from_slice(&v.to_le_bytes());
    }
    attribute(&mut header, "dataWindow", "box2i", &window);
    attribute(&mut header, "displayWindow", "box2i", &window);
    attribute(&mut header, "lineOrder", "lineOrder", &[0]);
    attribute(
        &mut header,
        "pixelAspectRatio",
        "float",
        &1f32.to_le_bytes(),
    );
    let mut center = Vec::new();
    center.extend_from_slice(&0f32.to_le_bytes());
    center.extend_from_slice(&0f32.to_le_bytes());
    attribute(&mut header, "screenWindowCenter", "v2f", &center);
    attribute(
        &mut header,
        "screenWindowWidth",
        "float",
        &1f32.to_le_bytes(),
    );
    attribute(
        &mut header,
        "zoomgen.escapeRadius",
        "double",
        &ESCAPE_RADIUS.to_le_bytes(),
    );
    let geometry = match exact {
        Some(g) => g.header(width),
        None => {
            // Plain `f64` frames: the exact decimal values of the `f64`s used.
            let (cos, sin) = rotation_cos_sin(view.rotation_deg);
            vec![
                ("zoomgen.centerRe", exact_f64(view.center.re)),
                ("zoomgen.centerIm", exact_f64(view.center.im)),
                ("zoomgen.width", exact_f64(view.width())),
                (
                    "zoomgen.pixelSpacing",
                    exact_f64(view.width() / f64::from(width)),
                ),
                ("zoomgen.rotationCos", exact_f64(cos)),
                ("zoomgen.rotationSin", exact_f64(sin)),
            ]
        }
    };
    let mut strings = vec![("zoomgen.frame", view.frame.to_string())];
    strings.extend(geometry);
    strings.extend([
        ("zoomgen.log10Width", format!("{:?}", view.log10_width())),
        ("zoomgen.rotation", format!("{:?}", view.rotation_deg)),
        ("zoomgen.maxIterations", view.max_iterations.to_string()),
        ("zoomgen.sceneHash", scene_hash.to_string()),
        ("zoomgen.dataHash", data_hash.to_string()),
        ("zoomgen.mapping", MAPPING.to_string()),
    ]);
    for (name, value) in &strings {
        attribute(&mut header, name, "string", value.as_bytes());
    }
    header.push(0);

    let w = width as usize;
    let line_bytes = w * 4 * CHANNELS.len();
    let chunk_bytes = (8 + line_bytes) as u64;
    let table_start = header.len() as u64;
    let first_chunk = table_start + 8 * u64::from(height);
    out.write_all(&header)?;
    let mut table = Vec::with_capacity(height as usize * 8);
    for y in 0..u64::from(height) {
        table.extend_from_slice(&(first_chunk + y * chunk_bytes).to_le_bytes());
    }
    out.write_all(&table)?;
    let mut line = Vec::with_capacity(8 + line_bytes);
    let mut derived = vec![[0f32; 4]; w];
    for (y, (row, slopes)) in escapes
        .chunks_exact(w)
        .zip(samples.slopes.chunks_exact(w))
        .enumerate()
    {
        line.clear();
        line.extend_from_slice(&(y as i32).to_le_bytes());
        line.extend_from_slice(&(line_bytes as i32).to_le_bytes());
        // DE, DEX, DEY and T of each pixel.
        for ((d, e), s) in derived.iter_mut().zip(row).zip(slopes) {
            *d = if e.is_interior() {
                [f32::INFINITY, 0.0, 0.0, 0.0]
            } else {
                let [ix, iy] = crate::color::swap_axes(s.direction(), samples.x_axis);
                [s.distance() as f32, ix as f32, iy as f32, s.angle() as f32]
            };
        }
        for c in 0..3 {
            for d in &derived {
                line.extend_from_slice(&d[c].to_le_bytes());
            }
        }
        for e in row {
            line.extend_from_slice(&e.n.to_le_bytes());
        }
        for e in row {
            line.extend_from_slice(&e.nf.to_le_bytes());
        }
        for d in &derived {
            line.extend_from_slice(&d[3].to_le_bytes());
        }
        out.write_all(&line)?;
    }
    Ok(())
}

/// A frame's data read back from a file [`encode_escapes`] wrote.
#[derive(Debug, Clone)]
pub struct FrameData {
    pub width: u32,
    pub height: u32,
    /// The string attributes of the header (`zoomgen.frame`, `zoomgen.dataHash`, ...).
    pub strings: std::collections::BTreeMap<String, String>,
    /// Row-major, one per pixel.
    pub escapes: Vec<Escape>,
    /// `DE`, `DEX`, `DEY` and `T` of each pixel.
    pub derived: Vec<[f32; 4]>,
}

/// Reads a file [`encode_escapes`] wrote (this layout only: uncompressed scanlines, one per
/// chunk, the channels of [`CHANNELS`]); an error says what is wrong.
pub fn decode(bytes: &[u8]) -> Result<FrameData, String> {
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
        let end = at.checked_add(n).filter(|&e| e <= bytes.len());
        let end = end.ok_or("the file ends early")?;
        let s = &bytes[*at..end];
        *at = end;
        Ok(s)
    };
    let name = |at: &mut usize| -> Result<String, String> {
        let rest = bytes.get(*at..).unwrap_or_default();
        let len = rest.iter().position(|&b| b == 0).ok_or("an unterminated name")?;
        let s = String::from_utf8_lossy(&rest[..len]).into_owned();
        *at += len + 1;
        Ok(s)
    };
    let i32_at = |s: &[u8], k: usize| i32::from_le_bytes([s[k], s[k + 1], s[k + 2], s[k + 3]]);
    if take(&mut at, 8)? != [0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0] {
        return Err("not a single-part scanline OpenEXR file".into());
    }
    let (mut width, mut height, mut channels) = (0i64, 0i64, Vec::new());
    let mut strings = std::collections::BTreeMap::new();
    loop {
        let attr = name(&mut at)?;
        if attr.is_empty() {
            break;
        }
        let kind = name(&mut at)?;
        let size = i32_at(take(&mut at, 4)?, 0);
        let value = take(&mut at, usize::try_from(size).map_err(|_| "a negative size")?)?;
        match (attr.as_str(), kind.as_str()) {
            ("compression", _) if value != [0] => return Err("compressed data".into()),
            ("dataWindow", "box2i") if value.len() == 16 => {
                width = i64::from(i32_at(value, 8)) - i64::from(i32_at(value, 0)) + 1;
                height = i64::from(i32_at(value, 12)) - i64::from(i32_at(value, 4)) + 1;
            }
            ("channels", "chlist") => {
                let mut k = 0;
                while k < value.len() && value[k] != 0 {
                    let len = value[k..].iter().position(|&b| b == 0).unwrap_or(0);
                    let end = k + len + 1 + 16;
                    if end > value.len() {
                        return Err("a bad channel list".into());
                    }
                    let kind = i32_at(value, k + len + 1);
                    channels.push((String::from_utf8_lossy(&value[k..k + len]).into_owned(), kind));
                    k = end;
                }
            }
            (_, "string") => {
                strings.insert(attr, String::from_utf8_lossy(value).into_owned());
            }
            _ => {}
        }
    }
    let want: Vec<(String, i32)> = CHANNELS.iter().map(|&(n, k)| (n.to_string(), k)).collect();
    if channels != want {
        return Err(format!("channels {channels:?}, expected {want:?}"));
    }
    if !(1..=i64::from(u16::MAX)).contains(&width) || !(1..=i64::from(u16::MAX)).contains(&height)
    {
        return Err(format!("a {width}x{height} data window"));
    }
    let (w, h) = (width as usize, height as usize);
    let table = take(&mut at, 8 * h)?.to_vec();
    let line_bytes = w * 4 * CHANNELS.len();
    let mut escapes = Vec::with_capacity(w * h);
    let mut derived = vec![[0f32; 4]; w * h];
    let f32_at = |s: &[u8], k: usize| f32::from_le_bytes([s[k], s[k + 1], s[k + 2], s[k + 3]]);
    for y in 0..h {
        let offset = u64::from_le_bytes(table[8 * y..8 * y + 8].try_into().unwrap_or_default());
        let mut at = usize::try_from(offset).map_err(|_| "a bad line offset")?;
        let head = take(&mut at, 8)?;
        if i64::from(i32_at(head, 0)) != y as i64 || i32_at(head, 4) as usize != line_bytes {
            return Err(format!("scanline {y} is not where its offset says"));
        }
        let line = take(&mut at, line_bytes)?;
        let column = |c: usize, x: usize| 4 * (c * w + x);
        for x in 0..w {
            let d = &mut derived[y * w + x];
            for (k, c) in [(0, 0), (1, 1), (2, 2), (3, 5)] {
                d[k] = f32_at(line, column(c, x));
            }
            let n = u32::from_le_bytes(line[column(3, x)..column(3, x) + 4].try_into().unwrap_or_default());
            escapes.push(Escape {
                n,
                nf: f32_at(line, column(4, x)),
            });
        }
    }
    Ok(FrameData {
        width: width as u32,
        height: height as u32,
        strings,
        escapes,
        derived,
    })
}

/// The channels in file order: name and pixel type (0 UINT, 2 FLOAT).
const CHANNELS: [(&str, i32); 6] = [
    ("DE", 2),
    ("DEX", 2),
    ("DEY", 2),
    ("N", 0),
    ("NF", 2),
    ("T", 2),
];

/// The `zoomgen.mapping` header text.
pub const MAPPING: &str = "pixel (x, y), y down, is the point \
     centerRe + i centerIm + pixelSpacing * ((u cos + v sin) + i (u sin - v cos)) with \
     u = x + 0.5 - W/2, v = y + 0.5 - H/2, cos = rotationCos, sin = rotationSin \
     (that is center + (width / W) * (u - i v) turned by rotation degrees counter-clockwise \
     about center); the values are exact decimal text (deep frames: within 1e-30 pixel \
     spacings of the values iterated; a keyframe's frame: its scene text); \
     z0 = 0, N = first n with |z_n| > escapeRadius, N = 0xFFFFFFFF never escaped, \
     NF = 1 - log2(ln|z_N| / ln escapeRadius), DE = 2 |z_N| ln|z_N| / (|dz_N/dc| pixelSpacing), \
     (DEX, DEY) = the unit vector of z_N / (dz_N/dc) in image axes (x right, y down), \
     T = arg(z_N) / 2 pi in [0, 1)";

fn attribute(header: &mut Vec<u8>, name: &str, kind: &str, value: &[u8]) {
    header.extend_from_slice(name.as_bytes());
    header.push(0);
    header.extend_from_slice(kind.as_bytes());
    header.push(0);
    header.extend_from_slice(&(value.len() as i32).to_le_bytes());
    header.extend_from_slice(value);
}
