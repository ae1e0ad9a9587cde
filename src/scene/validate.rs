//! Validation: the serde mirror turned into a [`Scene`] whose fields are all in range, with
//! messages of the form `file:line: key = value is invalid (expected ...)`.

use std::ops::{Range, RangeInclusive};
use std::path::Path;

use toml::Spanned;

use super::file::PaletteText;
use super::palettes::{NAMED_PALETTES, named_palette};
use super::*;
use crate::error::SceneError;


pub(super) const DIMENSION: RangeInclusive<i128> =
    *FRAME_SIDE.start() as i128..=*FRAME_SIDE.end() as i128;
pub(super) const SUPERSAMPLE: RangeInclusive<i128> =
    *SUPERSAMPLE_RANGE.start() as i128..=*SUPERSAMPLE_RANGE.end() as i128;
pub(super) const ITERATIONS: RangeInclusive<i128> = 1..=u32::MAX as i128;
pub(super) const FRAMES: RangeInclusive<i128> = 1..=u64::MAX as i128;
/// The deepest keyframe width, in decades: the reference orbit's arithmetic grows faster than
/// the digits (a 64x36 frame of 1,000 iterations took 1.45 s at 1e-100000, and more than 100 s
/// at 1e-1000000, on a 2-vCPU EPYC, 2026-12-08), so a width past this would not finish.
pub(super) const DEEPEST_DECADES: f64 = 1_000_000.0;
pub(super) const COLOR_FORMAT: &str = "a color written \"#rrggbb\"";

pub(super) struct Validator<'s> {
    pub(super) src: &'s Source,
}

impl Validator<'_> {
    /// `path = value is invalid (expected ...)`, at the value's line.
    fn invalid(&self, path: &str, span: &Range<usize>, expected: &str) -> SceneError {
        let message = format!(
            "{path} = {} is invalid (expected {expected})",
            self.src.shown(span)
        );
        self.src.error(Some(span.clone()), message)
    }

    fn int_in(
        &self,
        path: &str,
        value: &Spanned<Int>,
        range: RangeInclusive<i128>,
    ) -> Result<i128, SceneError> {
        let v = value.get_ref().0;
        if range.contains(&v) {
            return Ok(v);
        }
        let expected = if *range.end() >= u64::MAX as i128 {
            format!(">= {}", range.start())
        } else {
            format!("{} to {}", range.start(), range.end())
        };
        Err(self.invalid(path, &value.span(), &expected))
    }

    /// A frame rate from 1 to 240 frames per second: an integer, a fraction written as text
    /// (`"30000/1001"`), or a float that is an integer or one of video's 1000/1001 rates
    /// (`23.976`, `29.97`, `47.952`, `59.94`, `119.88`, `239.76`), taken exactly.
    fn fps(&self, value: &Spanned<RateText>) -> Result<Fps, SceneError> {
        let rate = match value.get_ref() {
            RateText::Int(n) => u32::try_from(*n).ok().map(Fps::whole),
            RateText::Float(x) if x.fract() == 0.0 && (1.0..=240.0).contains(x) => {
                Some(Fps::whole(*x as u32))
            }
            RateText::Float(x) => [24u32, 30, 48, 60, 120, 240]
                .into_iter()
                .find(|&base| (x - f64::from(base) * 1000.0 / 1001.0).abs() < 0.005)
                .and_then(|base| Fps::ratio(base * 1000, 1001)),
            RateText::Text(text) => text.split_once('/').and_then(|(n, d)| {
                Fps::ratio(n.trim().parse().ok()?, d.trim().parse().ok()?)
            }),
        };
        match rate {
            Some(fps) if (1.0..=240.0).contains(&fps.per_second()) => Ok(fps),
            _ => Err(self.invalid(
                "video.fps",
                &value.span(),
                "1 to 240, or a video rate such as 29.97, 23.976 or \"30000/1001\"",
            )),
        }
    }

    fn budget(&self, path: &str, value: &Spanned<Budget>) -> Result<IterationBudget, SceneError> {
        let expected = "an integer from 1 to 4294967295, or \"auto\"";
        match value.get_ref() {
            Budget::Count(n) if ITERATIONS.contains(n) => Ok(IterationBudget::Fixed(*n as u32)),
            Budget::Text(text) if text == "auto" => Ok(IterationBudget::Auto),
            _ => Err(self.invalid(path, &value.span(), expected)),
        }
    }

    fn finite(&self, path: &str, value: &Spanned<Float>) -> Result<f64, SceneError> {
        let v = value.get_ref().0;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.invalid(path, &value.span(), "a finite number"))
        }
    }

    /// A finite number in `lo..=hi`.
    fn finite_in(
        &self,
        path: &str,
        value: &Spanned<Float>,
        lo: f64,
        hi: f64,
    ) -> Result<f64, SceneError> {
        let v = self.finite(path, value)?;
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.invalid(path, &value.span(), &format!(">= {lo} and <= {hi}")))
        }
    }

    /// One of the names of `names`.
    fn name_in<T: Copy>(
        &self,
        path: &str,
        value: &Spanned<String>,
        names: &[(&str, T)],
    ) -> Result<T, SceneError> {
        match names.iter().find(|(n, _)| n == value.get_ref()) {
            Some(&(_, v)) => Ok(v),
            None => {
                let list: Vec<String> = names.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                Err(self.invalid(path, &value.span(), &format!("one of {}", list.join(", "))))
            }
        }
    }

    fn color(&self, path: &str, value: &Spanned<String>) -> Result<Rgb8, SceneError> {
        Rgb8::parse(value.get_ref()).ok_or_else(|| self.invalid(path, &value.span(), COLOR_FORMAT))
    }

    fn decimal(&self, path: &str, value: &Spanned<NumberText>) -> Result<Decimal, SceneError> {
        let span = value.span();
        let parsed = match value.get_ref() {
            NumberText::Text(text) => Decimal::parse(text),
            NumberText::Int(v) => self
                .src
                .raw(&span)
                .and_then(number_source)
                .or_else(|| Decimal::parse(&v.to_string())),
            NumberText::Float => self.src.raw(&span).and_then(number_source),
        };
        parsed.ok_or_else(|| {
            self.invalid(
                path,
                &span,
                "a finite decimal number such as \"-0.75\" or \"1.5e-3\"",
            )
        })
    }

    pub(super) fn scene(&self, file: SceneFile, source: &Path) -> Result<Scene, SceneError> {
        let title = file.title.map(Spanned::into_inner);
        let video = self.video(&file.video)?;
        let render = self.render(file.render.as_ref())?;
        let color = self.color_settings(file.color.as_ref())?;

        let keyframes_span = file.keyframe.span();
        let keyframe_files = file.keyframe.into_inner();
        if keyframe_files.is_empty() {
            return Err(self.src.error(
                Some(keyframes_span),
                "keyframe is empty (expected at least one [[keyframe]] table)".to_string(),
            ));
        }
        let mut keyframes: Vec<Keyframe> = Vec::with_capacity(keyframe_files.len());
        for (i, kf) in keyframe_files.iter().enumerate() {
            let keyframe =
                self.keyframe(i, kf.get_ref(), (&video, &render, &color), keyframes.last())?;
            keyframes.push(keyframe);
        }

        Ok(Scene {
            source: source.to_path_buf(),
            title,
            video,
            render,
            color,
            keyframes,
        })
    }

    fn video(&self, file: &Spanned<VideoFile>) -> Result<Video, SceneError> {
        let v = file.get_ref();
        let width = self.int_in("video.width", &v.width, DIMENSION)?;
        let height = self.int_in("video.height", &v.height, DIMENSION)?;
        let fps = match &v.fps {
            Some(fps) => self.fps(fps)?,
            None => Fps::whole(30),
        };
        let frames = match (&v.frames, &v.seconds) {
            (Some(frames), None) => self.int_in("video.frames", frames, FRAMES)? as u64,
            (None, Some(seconds)) => {
                let s = self.finite("video.seconds", seconds)?;
                if s <= 0.0 {
                    return Err(self.invalid("video.seconds", &seconds.span(), "> 0"));
                }
                // Saturating: an absurd length is caught by whoever renders it, not by a panic.
                ((s * fps.per_second()).round() as u64).max(1)
            }
            (Some(frames), Some(seconds)) => {
                let later = if seconds.span().start > frames.span().start {
                    seconds.span()
                } else {
                    frames.span()
                };
                return Err(self.src.error(
                    Some(later),
                    "video.frames and video.seconds are both set (expected exactly one of them)"
                        .to_string(),
                ));
            }
            (None, None) => {
                return Err(self.src.error(
                    Some(file.span()),
                    "missing key video.frames or video.seconds (expected exactly one of them)"
                        .to_string(),
                ));
            }
        };
        let bit_depth = match &v.bit_depth {
            None => BitDepth::Eight,
            Some(bits) => match bits.get_ref().0 {
                8 => BitDepth::Eight,
                16 => BitDepth::Sixteen,
                _ => return Err(self.invalid("video.bit_depth", &bits.span(), "8 or 16")),
            },
        };
        let dither = v.dither.as_ref().is_none_or(|d| *d.get_ref());
        Ok(Video {
            width: width as u32,
            height: height as u32,
            fps,
            frames,
            bit_depth,
            dither,
        })
    }

    fn render(&self, file: Option<&Spanned<RenderFile>>) -> Result<RenderSettings, SceneError> {
        let mut render = RenderSettings {
            max_iterations: IterationBudget::Fixed(1000),
            supersample: 1,
            method: Method::Direct,
        };
        let Some(file) = file.map(Spanned::get_ref) else {
            return Ok(render);
        };
        if let Some(it) = &file.max_iterations {
            render.max_iterations = self.budget("render.max_iterations", it)?;
        }
        if let Some(ss) = &file.supersample {
            render.supersample = self.int_in("render.supersample", ss, SUPERSAMPLE)? as u32;
        }
        if let Some(method) = &file.method {
            render.method = self.name_in("render.method", method, &Method::NAMES)?;
        }
        Ok(render)
    }

    fn color_settings(
        &self,
        file: Option<&Spanned<ColorFile>>,
    ) -> Result<ColorSettings, SceneError> {
        let mut color = ColorSettings::default();
        let Some(file) = file.map(Spanned::get_ref) else {
            return Ok(color);
        };
        if let Some(palette) = &file.palette {
            color.palette = match palette.get_ref() {
                PaletteText::Name(name) => match named_palette(name) {
                    Some(stops) => stops.to_vec(),
                    None => {
                        let names: Vec<String> =
                            NAMED_PALETTES.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                        let expected = format!(
                            "one of {} or an array of \"#rrggbb\" colors",
                            names.join(", ")
                        );
                        return Err(self.invalid("color.palette", &palette.span(), &expected));
                    }
                },
                PaletteText::Stops(stops) => {
                    let stops = stops
                        .iter()
                        .enumerate()
                        .map(|(i, stop)| self.color(&format!("color.palette[{i}]"), stop))
                        .collect::<Result<Vec<_>, _>>()?;
                    if stops.len() < 2 {
                        let span = palette.span();
                        return Err(self.invalid("color.palette", &span, "at least 2 colors"));
                    }
                    stops
                }
            };
        }
        if let Some(by) = &file.by {
            color.by = self.name_in("color.by", by, &ColorBy::NAMES)?;
        }
        if let Some(transfer) = &file.transfer {
            color.transfer = self.name_in("color.transfer", transfer, &Transfer::NAMES)?;
        }
        // The default cycle follows what it counts: 64 counts, or fewer units of a slower
        // transfer, or 6 doublings of the distance.
        color.cycle = match (color.by, color.transfer) {
            (ColorBy::Distance, _) => 6.0,
            (ColorBy::Count, Transfer::Linear) => 64.0,
            (ColorBy::Count, Transfer::Sqrt) => 4.0,
            (ColorBy::Count, Transfer::Cbrt) => 2.0,
            (ColorBy::Count, Transfer::Log) => 1.0,
        };
        if let Some(cycle) = &file.cycle {
            color.cycle = self.finite("color.cycle", cycle)?;
            if color.cycle <= 0.0 {
                return Err(self.invalid("color.cycle", &cycle.span(), "> 0"));
            }
        }
        if let Some(boundary) = &file.boundary {
            color.boundary = self.finite_in("color.boundary", boundary, 0.0, 1000.0)?;
        }
        if let Some(c) = &file.boundary_color {
            color.boundary_color = self.color("color.boundary_color", c)?;
        }
        if let Some(light) = &file.light {
            color.light = self.finite_in("color.light", light, 0.0, 1.0)?;
        }
        if let Some(angle) = &file.light_angle {
            color.light_angle = self.finite("color.light_angle", angle)?;
        }
        if let Some(elevation) = &file.light_elevation {
            color.light_elevation =
                self.finite_in("color.light_elevation", elevation, 0.0, 90.0)?;
        }
        if let Some(speed) = &file.cycles_per_second {
            color.cycles_per_second = self.finite("color.cycles_per_second", speed)?;
        }
        if let Some(offset) = &file.offset {
            color.offset = self.finite("color.offset", offset)?;
            if !(0.0..1.0).contains(&color.offset) {
                return Err(self.invalid("color.offset", &offset.span(), ">= 0 and < 1"));
            }
        }
        if let Some(interior) = &file.interior {
            color.interior = self.color("color.interior", interior)?;
        }
        Ok(color)
    }

    fn keyframe(
        &self,
        i: usize,
        kf: &KeyframeFile,
        (video, render, color): (&Video, &RenderSettings, &ColorSettings),
        previous: Option<&Keyframe>,
    ) -> Result<Keyframe, SceneError> {
        let key = |name: &str| format!("keyframe[{i}].{name}");

        let frame_span = kf.frame.span();
        let frame = kf.frame.get_ref().0;
        if frame < 0 {
            return Err(self.invalid(&key("frame"), &frame_span, ">= 0"));
        }
        match previous {
            None if frame != 0 => {
                return Err(self.invalid(
                    &key("frame"),
                    &frame_span,
                    "0: the first keyframe must be at frame 0",
                ));
            }
            Some(prev) if frame <= i128::from(prev.frame) => {
                return Err(self.invalid(
                    &key("frame"),
                    &frame_span,
                    &format!(
                        "greater than keyframe[{}].frame = {}",
                        i.saturating_sub(1),
                        prev.frame
                    ),
                ));
            }
            _ => {}
        }
        if frame >= i128::from(video.frames) {
            return Err(self.invalid(
                &key("frame"),
                &frame_span,
                &format!(
                    "< {}, the scene has {} frame{}",
                    video.frames,
                    video.frames,
                    if video.frames == 1 { "" } else { "s" }
                ),
            ));
        }

        let center_items = kf.center.get_ref();
        if center_items.len() != 2 {
            return Err(self.invalid(
                &key("center"),
                &kf.center.span(),
                "[re, im], an array of exactly 2 numbers or decimal strings",
            ));
        }
        let re = self.decimal(&key("center[0]"), &center_items[0])?;
        let im = self.decimal(&key("center[1]"), &center_items[1])?;

        let width = self.decimal(&key("width"), &kf.width)?;
        if !width.is_positive() {
            return Err(self.invalid(&key("width"), &kf.width.span(), "> 0"));
        }
        if width.log10_abs() < -DEEPEST_DECADES {
            return Err(self.invalid(
                &key("width"),
                &kf.width.span(),
                "at least 1e-1000000, the deepest zoomgen supports: see docs/DEEP.md",
            ));
        }

        let rotation = match &kf.rotation {
            Some(r) => self.finite(&key("rotation"), r)?,
            None => 0.0,
        };
        let budget = match &kf.max_iterations {
            Some(it) => self.budget(&key("max_iterations"), it)?,
            None => render.max_iterations,
        };
        let max_iterations = budget.at(width.log10_abs());
        let palette_offset = match &kf.palette_offset {
            Some(o) => self.finite(&key("palette_offset"), o)?,
            None => color.offset,
        };
        let palette_cycle = match &kf.palette_cycle {
            Some(c) => {
                let cycle = self.finite(&key("palette_cycle"), c)?;
                if cycle <= 0.0 {
                    return Err(self.invalid(&key("palette_cycle"), &c.span(), "> 0"));
                }
                cycle
            }
            None => color.cycle,
        };

        Ok(Keyframe {
            frame: frame as u64,
            center: [re, im],
            width,
            rotation,
            max_iterations,
            palette_offset,
            palette_cycle,
        })
    }
}

/// The decimal value of a TOML number's source text: `_` removed, a leading `+` dropped.
/// `None` for `nan`, `inf` and hexadecimal, octal or binary integers.
pub(super) fn number_source(raw: &str) -> Option<Decimal> {
    let cleaned: String = raw.trim().chars().filter(|&c| c != '_').collect();
    Decimal::parse(&cleaned)
}
