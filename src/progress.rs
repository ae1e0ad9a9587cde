//! What a person watching a render sees: the only module that touches indicatif.
//!
//! On a terminal: a bar of frames (with ETA, frames/s and G iterations/s) and a bar of the
//! current frame's bands. When stderr is not a terminal (a log file under nohup or a batch
//! scheduler), bars would fill the log with control codes, so plain lines are written instead,
//! at most one every few seconds. `--quiet` shows nothing.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::{BandProgress, RenderedFrame};
use crate::render::RenderStats;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// indicatif bars on stderr.
    Bars,
    /// Plain log lines on stderr.
    #[default]
    Lines,
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// Bars on a terminal, lines otherwise, nothing when `quiet`.
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            ProgressMode::Quiet
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines
        }
    }
}

/// Seconds between log lines in [`ProgressMode::Lines`].
const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Progress of one run.
#[derive(Debug)]
pub struct Progress {
    mode: ProgressMode,
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    started: Instant,
    total: u64,
    done: u64,
    stats: RenderStats,
    last_line: Option<Instant>,
    orbit_line: std::cell::Cell<Option<Instant>>,
}

impl Progress {
    /// Progress of a run of `total` frames with `bands_per_frame` bands each.
    pub fn new(mode: ProgressMode, total: u64, bands_per_frame: u64) -> Self {
        let bars = (mode == ProgressMode::Bars).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let frames = multi.add(ProgressBar::new(total));
            frames.set_style(
                ProgressStyle::with_template(
                    "{spinner} frames {pos}/{len} [{bar:40}] {percent}% {elapsed_precise} ETA {eta_precise} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            let bands = multi.add(ProgressBar::new(bands_per_frame));
            bands.set_style(
                ProgressStyle::with_template("  {prefix} [{bar:40}] {pos}/{len}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            frames.enable_steady_tick(Duration::from_millis(200));
            (multi, frames, bands)
        });
        Progress {
            mode,
            bars,
            started: Instant::now(),
            total,
            done: 0,
            stats: RenderStats::default(),
            last_line: None,
            orbit_line: std::cell::Cell::new(None),
        }
    }

    /// Prints a message above the bars (or as a line), unless quiet.
    pub fn message(&self, text: &str) {
        match (&self.bars, self.mode) {
            (_, ProgressMode::Quiet) => {}
            (Some((multi, _, _)), _) => {
                let _ = multi.println(text);
            }
            (None, _) => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    /// Reference orbits are being computed: `fraction` of the work is done.
    pub fn orbit(&self, fraction: f64) {
        let permille = (fraction.clamp(0.0, 1.0) * 1000.0) as u64;
        match &self.bars {
            Some((_, _, bar)) => {
                bar.set_prefix("reference orbit");
                bar.set_length(1000);
                bar.set_position(permille);
            }
            None if self.mode == ProgressMode::Lines => {
                let mut last = self.orbit_line.get();
                if last.is_none_or(|t: Instant| t.elapsed() >= LINE_INTERVAL) || permille == 1000 {
                    last = Some(Instant::now());
                    self.orbit_line.set(last);
                    let _ = writeln!(
                        std::io::stderr(),
                        "reference orbit: {:.1}% computed",
                        permille as f64 / 10.0
                    );
                }
            }
            None => {}
        }
    }

    /// A band finished.
    pub fn band(&self, progress: BandProgress, frame_number: u64) {
        if let Some((_, _, bands)) = &self.bars {
            bands.set_prefix(format!("frame {frame_number} bands"));
            bands.set_length(progress.bands_per_frame as u64);
            bands.set_position(progress.bands_done as u64);
        }
    }

    /// A frame finished.
    pub fn frame(&mut self, frame: &RenderedFrame) {
        self.done += 1;
        self.stats.add(&frame.stats);
        let rate = self.giga_iterations_per_second();
        let elapsed = self.started.elapsed().as_secs_f64();
        match &self.bars {
            Some((_, frames, _)) => {
                frames.set_position(self.done);
                frames.set_message(format!(
                    "{:.2} frames/s {:.2} G it/s",
                    self.done as f64 / elapsed.max(1e-9),
                    rate
                ));
            }
            None if self.mode == ProgressMode::Lines => {
                let due = self.last_line.is_none_or(|t| t.elapsed() >= LINE_INTERVAL);
                if due || self.done == self.total {
                    self.last_line = Some(Instant::now());
                    let remaining = self.total - self.done;
                    let eta = elapsed / self.done as f64 * remaining as f64;
                    let _ = writeln!(
                        std::io::stderr(),
                        "frame {} done: {}/{} frames, {:.1} s elapsed, ETA {:.0} s, {:.2} G it/s",
                        frame.job.view.frame,
                        self.done,
                        self.total,
                        elapsed,
                        eta,
                        rate
                    );
                }
            }
            None => {}
        }
    }

    /// Counts over the frames rendered so far.
    pub fn stats(&self) -> RenderStats {
        self.stats
    }

    /// Frames rendered so far.
    pub fn frames_done(&self) -> u64 {
        self.done
    }

    /// Seconds since the run started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Billions of iterations per second so far.
    pub fn giga_iterations_per_second(&self) -> f64 {
        self.stats.iterations as f64 / self.started.elapsed().as_secs_f64().max(1e-9) / 1e9
    }

    /// Removes the bars.
    pub fn finish(&self) {
        if let Some((multi, frames, bands)) = &self.bars {
            bands.finish_and_clear();
            frames.finish_and_clear();
            let _ = multi.clear();
        }
    }
}
