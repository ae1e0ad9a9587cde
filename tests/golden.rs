//! Golden frames: checksums of small frames of every example scene, under every kernel.
//!
//! `tests/golden/frames.tsv` holds, for `RENDER_VERSION` (its first line), the FNV-1a 64 hash of
//! the decoded RGB pixels of a few frames of each scene in `scenes/`, and of the scenes in
//! `tests/golden/scenes/` (the example scenes as they were before `[color]` had distance
//! estimation, lighting and boundary shading: an old scene keeps its look), rendered at 64x36
//! by the built binary: plain frames and deep ones (perturbation with `f64` deltas and with
//! extended exponents), every coloring the scenes use. Every kernel this CPU can run must give
//! exactly those pixels. Each row also holds the FNV-1a 64 hash of the scene file's text. A
//! change of pixels is therefore either intended, with `RENDER_VERSION` bumped (or the scene
//! file changed) and the table written again in the same commit, or caught here.
//!
//! To write the table after an intended change: bump `RENDER_VERSION` (unless only scene files
//! changed), then run `ZOOMGEN_BLESS=1 cargo test --release --test golden`. Blessing refuses
//! to replace the checksums of a scene file's text under the table's own `RENDER_VERSION`, so
//! pixels cannot change under an old version.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use common::{available_kernels, fnv1a64, zoomgen};

/// The frame size of every golden frame.
const SIZE: &str = "64x36";

/// The frames checked, per scene: the ends of each scene, points between its keyframes and, for
/// the deep scene, one frame in each number regime (plain `f64`, perturbation with `f64` deltas,
/// perturbation with extended-exponent deltas below about 1e-290).
const CASES: &[(&str, &[u64])] = &[
    ("seahorse", &[0, 450, 899]),
    ("double-spiral", &[0, 300, 599]),
    ("elephants", &[0, 300, 500, 719]),
    ("deep-spiral", &[0, 60, 400, 1200, 1780, 1799]),
    ("classic-seahorse", &[0, 450, 899]),
    ("classic-double-spiral", &[0, 300, 599]),
    ("classic-elephants", &[0, 300, 500, 719]),
    ("classic-deep-spiral", &[0, 60, 400, 1200, 1780, 1799]),
];

/// The file of scene `name`: `scenes/NAME.toml`, or `tests/golden/scenes/NAME.toml`.
fn scene_path(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = root.join(format!("scenes/{name}.toml"));
    if example.exists() {
        example
    } else {
        root.join(format!("tests/golden/scenes/{name}.toml"))
    }
}

/// FNV-1a 64 of a scene file's text (line ends as written).
fn scene_hash(name: &str) -> u64 {
    fnv1a64(&fs::read(scene_path(name)).unwrap())
}

fn table_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/frames.tsv")
}

/// `RENDER_VERSION` as the renderer writes it into a frame's PNG text.
fn render_version_of(png: &Path) -> u32 {
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(png).unwrap()));
    let reader = decoder.read_info().unwrap();
    let text = reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .find(|chunk| chunk.keyword == "zoomgen.render_version")
        .unwrap_or_else(|| panic!("{}: no zoomgen.render_version", png.display()));
    text.text.parse().unwrap()
}

/// Renders `frame` of `scene` with `kernel`; the pixel checksum and the frame's render version.
fn render(scene: &str, frame: u64, kernel: &str, dir: &Path) -> (u64, u32) {
    render_with(scene, frame, kernel, dir, &[])
}

/// [`render`] with more arguments.
fn render_with(scene: &str, frame: u64, kernel: &str, dir: &Path, args: &[&str]) -> (u64, u32) {
    let out = dir.join(format!("{scene}-{frame}-{kernel}-{}", args.len()));
    let result = zoomgen()
        .env("ZOOMGEN_KERNEL", kernel)
        .args(args)
        .arg(scene_path(scene))
        .args([
            "--size",
            SIZE,
            "--quiet",
            "--frames",
            &frame.to_string(),
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{scene} frame {frame} with {kernel}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let png = out.join(format!("frame_{frame:05}.png"));
    let pixels = image::open(&png).unwrap().to_rgb8();
    (fnv1a64(pixels.as_raw()), render_version_of(&png))
}

/// One golden frame: scene name, frame, the scene file's hash, the pixels' hash.
type Row = (String, u64, u64, u64);

struct Table {
    version: u32,
    rows: Vec<Row>,
}

fn read_table() -> Option<Table> {
    let text = fs::read_to_string(table_path()).ok()?;
    let mut lines = text.lines();
    let version = lines
        .next()?
        .strip_prefix("# render_version ")?
        .parse()
        .ok()?;
    let rows = lines
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<_> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "bad golden row: {l}");
            assert_eq!(f[2], SIZE, "golden row of another size: {l}");
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                u64::from_str_radix(f[3], 16).unwrap(),
                u64::from_str_radix(f[4], 16).unwrap(),
            )
        })
        .collect();
    Some(Table { version, rows })
}

fn write_table(version: u32, rows: &[Row]) {
    let mut text = format!(
        "# render_version {version}\n\
         # scene\tframe\tsize\tfnv1a64 of the scene file\tfnv1a64 of the decoded RGB pixels\n"
    );
    for (scene, frame, file, hash) in rows {
        writeln!(text, "{scene}\t{frame}\t{SIZE}\t{file:016x}\t{hash:016x}").unwrap();
    }
    fs::create_dir_all(table_path().parent().unwrap()).unwrap();
    fs::write(table_path(), text).unwrap();
}

#[test]
fn every_kernel_renders_the_golden_frames() {
    let kernels = available_kernels();
    let dir = tempfile::tempdir().unwrap();
    let jobs: Vec<(&str, u64)> = CASES
        .iter()
        .flat_map(|(scene, frames)| frames.iter().map(move |&f| (*scene, f)))
        .collect();

    // Each kernel renders every frame; all kernels must agree before the table is consulted.
    let mut rendered = Vec::new();
    let mut version = None;
    for &(scene, frame) in &jobs {
        let mut first: Option<(u64, &str)> = None;
        for kernel in &kernels {
            let (hash, v) = render(scene, frame, kernel, dir.path());
            assert_eq!(*version.get_or_insert(v), v);
            match first {
                None => first = Some((hash, kernel)),
                Some((h, k)) => assert_eq!(
                    hash, h,
                    "{scene} frame {frame}: kernel {kernel} gives other pixels than {k}"
                ),
            }
        }
        rendered.push((
            scene.to_string(),
            frame,
            scene_hash(scene),
            first.unwrap().0,
        ));
    }
    let version = version.unwrap();

    let table = read_table();
    if std::env::var_os("ZOOMGEN_BLESS").is_some() {
        if let Some(t) = &table
            && t.version == version
        {
            // Under one version, a frame of one scene text keeps its pixels.
            for want in &t.rows {
                let same_scene = |got: &&Row| (&got.0, got.1, got.2) == (&want.0, want.1, want.2);
                if let Some(got) = rendered.iter().find(same_scene) {
                    assert_eq!(
                        got.3, want.3,
                        "{} frame {}: the pixels changed under render_version {version}: \
                         bump RENDER_VERSION first",
                        want.0, want.1
                    );
                }
            }
        }
        write_table(version, &rendered);
        return;
    }
    let table = table.unwrap_or_else(|| {
        panic!(
            "{} is missing or unreadable: ZOOMGEN_BLESS=1 writes it",
            table_path().display()
        )
    });
    assert_eq!(
        table.version, version,
        "RENDER_VERSION moved: write the table again (ZOOMGEN_BLESS=1 cargo test --release --test golden)"
    );
    let mut changed = String::new();
    for (want, got) in table.rows.iter().zip(&rendered) {
        assert_eq!(
            (&want.0, want.1),
            (&got.0, got.1),
            "the table's rows changed order"
        );
        assert_eq!(
            want.2, got.2,
            "{}: the scene file changed: write the table again (ZOOMGEN_BLESS=1)",
            got.0
        );
        if want.3 != got.3 {
            writeln!(
                changed,
                "{} frame {}: {:016x}, table {:016x}",
                got.0, got.1, got.3, want.3
            )
            .unwrap();
        }
    }
    assert_eq!(
        table.rows.len(),
        rendered.len(),
        "the table covers other frames"
    );
    assert!(
        changed.is_empty(),
        "pixels changed without a new RENDER_VERSION:\n{changed}\
         if intended, bump RENDER_VERSION and run ZOOMGEN_BLESS=1 cargo test --release --test golden"
    );
}

/// An old scene keeps its look: without dithering, the example scenes as they were give exactly
/// the pixels render_version 3 gave them (`tests/golden/undithered-v3.tsv`); dithering moves
/// channels by at most one level (tested in `tests/cli.rs`).
#[test]
fn old_scenes_without_dithering_keep_their_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/undithered-v3.tsv");
    let text = fs::read_to_string(path).unwrap();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let (scene, frame) = (f[0], f[1].parse().unwrap());
        let want = u64::from_str_radix(f[3], 16).unwrap();
        let args = ["--set", "video.dither=false"];
        let (got, _) = render_with(scene, frame, available_kernels()[0], dir.path(), &args);
        assert_eq!(got, want, "{scene} frame {frame}");
        checked += 1;
    }
    assert_eq!(checked, 16);
}
