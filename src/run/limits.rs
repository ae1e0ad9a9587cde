//! Memory limits: a run plans the memory its frames in flight need and refuses, before
//! anything is written, one that does not fit (`ZOOMGEN_MEMORY_LIMIT`, else the available
//! memory).

use crate::error::{Error, Result};
use crate::output::png::{ENCODER_QUEUE, encoder_threads};
use crate::render::pipeline::ParallelSettings;

/// Refuses frames that would not fit in memory, saying what they would need.
pub(super) fn check_memory(
    (width, height, depth): (u32, u32, crate::scene::BitDepth),
    supersample: u32,
    parallel: &ParallelSettings,
) -> Result<()> {
    let frame = u64::from(width) * u64::from(height) * 3 * depth.bytes() as u64;
    // Frames being assembled and waiting to be encoded, plus each worker's band and samples.
    let in_flight =
        (parallel.frames_in_flight + ENCODER_QUEUE + encoder_threads(parallel.threads)) as u64;
    let band = u64::from(width)
        * u64::from(supersample * supersample)
        * 8
        * u64::from(parallel.band_height);
    let need = frame * in_flight + band * parallel.threads as u64;
    let Some((limit, source)) = memory_limit() else {
        return Ok(());
    };
    if need > limit {
        return Err(Error::Usage(format!(
            "a {width}x{height} frame is too large to render here: it needs {} of memory \
             ({in_flight} frames in flight), but only {} is available ({source}); \
             lower --size or video.width/video.height",
            human_bytes(need),
            human_bytes(limit)
        )));
    }
    Ok(())
}

/// The memory zoomgen may use: `ZOOMGEN_MEMORY_LIMIT` (bytes, or with a K/M/G suffix), else
/// the system's available memory.
fn memory_limit() -> Option<(u64, &'static str)> {
    if let Ok(text) = std::env::var("ZOOMGEN_MEMORY_LIMIT") {
        let text = text.trim();
        let (digits, scale) = match text.chars().last() {
            Some('K' | 'k') => (&text[..text.len() - 1], 1u64 << 10),
            Some('M' | 'm') => (&text[..text.len() - 1], 1 << 20),
            Some('G' | 'g') => (&text[..text.len() - 1], 1 << 30),
            _ => (text, 1),
        };
        if let Ok(v) = digits.parse::<u64>() {
            return Some((v.saturating_mul(scale), "ZOOMGEN_MEMORY_LIMIT"));
        }
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib * 1024, "MemAvailable in /proc/meminfo"))
}

pub(super) fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}
