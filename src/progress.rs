//! What a person watching a render sees: the only module that touches indicatif.
//!
//! On a terminal: a bar of frames (with ETA, frames/s and G iterations/s) and a bar of the
//! current frame's bands. When stderr is not a terminal (a log file under nohup or a batch
//! scheduler), bars would fill the log with control codes, so plain lines are written instead,
//! at most one every few seconds. `--quiet` shows nothing.
//!
//! The ETA is weighted by work, not by frame count: in a zoom the deep frames at the end can
//! take a hundred times longer than the first ones, so "frames left times seconds per frame"
//! would promise a finish hours too early. [`WorkEstimate`] predicts each frame's cost up
//! front (samples times its iteration budget) and corrects the prediction with the measured
//! thread-seconds of finished frames ([`RenderedFrame::cpu_seconds`]).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::render::pipeline::{BandProgress, RenderedFrame};
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

/// Remaining-time estimate of a run, weighted by each frame's expected work.
///
/// Each frame's cost is predicted as `samples * (max_iterations + 64)` work units (the budget
/// bounds the iterations of its slowest samples; the constant stands for the per-sample
/// overhead of coloring). As frames finish, the measured thread-seconds per predicted unit is
/// tracked as an exponentially weighted average over recent frames (neighbouring frames of a
/// zoom cost about alike, so recent frames predict the next ones best), and the throughput in
/// thread-seconds per wall second is measured over the whole run. The ETA is the predicted
/// thread-seconds of the frames left divided by that throughput.
#[derive(Debug, Clone)]
pub struct WorkEstimate {
    costs: Vec<f64>,
    next: usize,
    done_units: f64,
    total_units: f64,
    seconds_per_unit: Option<f64>,
    cpu_done: f64,
}

impl WorkEstimate {
    /// Weight of the newest frame in the running seconds-per-unit average.
    const SMOOTHING: f64 = 0.3;

    /// The predicted cost of a frame of `samples` samples with budget `max_iterations`.
    pub fn frame_cost(samples: u64, max_iterations: u32) -> f64 {
        samples as f64 * (f64::from(max_iterations) + 64.0)
    }

    /// An estimate for frames with these predicted costs, in the order they will finish.
    pub fn new(costs: Vec<f64>) -> Self {
        let total_units = costs.iter().sum();
        WorkEstimate {
            costs,
            next: 0,
            done_units: 0.0,
            total_units,
            seconds_per_unit: None,
            cpu_done: 0.0,
        }
    }

    /// The next frame finished, taking `cpu_seconds` thread-seconds.
    pub fn frame_done(&mut self, cpu_seconds: f64) {
        let cost = self.costs.get(self.next).copied().unwrap_or(0.0).max(1e-9);
        self.next += 1;
        self.done_units += cost;
        self.cpu_done += cpu_seconds.max(0.0);
        let measured = cpu_seconds.max(0.0) / cost;
        self.seconds_per_unit = Some(match self.seconds_per_unit {
            None => measured,
            Some(old) => old + Self::SMOOTHING * (measured - old),
        });
    }

    /// Share of the predicted work done, in `[0, 1]`.
    pub fn fraction_done(&self) -> f64 {
        if self.total_units <= 0.0 {
            1.0
        } else {
            (self.done_units / self.total_units).clamp(0.0, 1.0)
        }
    }

    /// Predicted wall time left, `elapsed` after the start; `None` before the first frame.
    pub fn eta(&self, elapsed: Duration) -> Option<Duration> {
        let per_unit = self.seconds_per_unit?;
        let throughput = self.cpu_done / elapsed.as_secs_f64().max(1e-9);
        if throughput <= 0.0 {
            return None;
        }
        let left_units = (self.total_units - self.done_units).max(0.0);
        let seconds = left_units * per_unit / throughput;
        seconds
            .is_finite()
            .then(|| Duration::from_secs_f64(seconds.min(1e9)))
    }
}

/// `h:mm:ss`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
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
    work: WorkEstimate,
    stats: RenderStats,
    last_line: Option<Instant>,
    /// When the last orbit line was printed, and the share it showed (permille).
    orbit_line: std::cell::Cell<Option<(Instant, u64)>>,
}

impl Progress {
    /// Progress of a run of frames with these predicted costs (see [`WorkEstimate`]), in the
    /// order they finish, with `bands_per_frame` bands each.
    pub fn new(mode: ProgressMode, costs: Vec<f64>, bands_per_frame: u64) -> Self {
        let total = costs.len() as u64;
        let bars = (mode == ProgressMode::Bars).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            // No frames bar while only reference orbits are computed (a "0/0" bar says nothing).
            let frames = if total == 0 {
                ProgressBar::hidden()
            } else {
                multi.add(ProgressBar::new(total))
            };
            frames.set_style(
                ProgressStyle::with_template(
                    "{spinner} frames {pos}/{len} [{bar:40}] {elapsed_precise} {msg}",
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
            work: WorkEstimate::new(costs),
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
                // A line every few seconds, and one at the end; never the same share twice.
                let last = self.orbit_line.get();
                let due = match last {
                    None => true,
                    Some((_, shown)) if shown == permille => false,
                    Some((t, _)) => t.elapsed() >= LINE_INTERVAL || permille == 1000,
                };
                if due {
                    self.orbit_line.set(Some((Instant::now(), permille)));
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
        self.work.frame_done(frame.cpu_seconds);
        let rate = self.giga_iterations_per_second();
        let elapsed = self.started.elapsed();
        let eta = match self.work.eta(elapsed) {
            Some(d) if self.done < self.total => format_duration(d),
            Some(_) => format_duration(Duration::ZERO),
            None => "?".into(),
        };
        let work = self.work.fraction_done() * 100.0;
        match &self.bars {
            Some((_, frames, _)) => {
                frames.set_position(self.done);
                frames.set_message(format!(
                    "{work:.1}% of the work, ETA {eta}, {:.2} frames/s, {rate:.2} G it/s",
                    self.done as f64 / elapsed.as_secs_f64().max(1e-9),
                ));
            }
            None if self.mode == ProgressMode::Lines => {
                let due = self.last_line.is_none_or(|t| t.elapsed() >= LINE_INTERVAL);
                if due || self.done == self.total {
                    self.last_line = Some(Instant::now());
                    let _ = writeln!(
                        std::io::stderr(),
                        "frame {} done: {}/{} frames, {work:.1}% of the work, {:.1} s elapsed, \
                         ETA {eta}, {rate:.2} G it/s",
                        frame.job.view.frame,
                        self.done,
                        self.total,
                        elapsed.as_secs_f64(),
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
    #[cfg(any(test, feature = "internals"))]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The progress of reference orbits alone has no frames bar (it showed "frames 0/0").
    #[test]
    fn orbit_progress_shows_no_frames_bar() {
        let orbit = Progress::new(ProgressMode::Bars, Vec::new(), 0);
        let (_, frames, _) = orbit.bars.as_ref().unwrap();
        assert!(frames.is_hidden());
        let run = Progress::new(ProgressMode::Bars, vec![1.0, 2.0], 4);
        let (_, frames, _) = run.bars.as_ref().unwrap();
        assert_eq!(frames.length(), Some(2));
    }

    #[test]
    fn the_eta_weighs_frames_by_their_work() {
        // Two cheap frames done in 1 s each; the two left are ten times the work.
        let mut w = WorkEstimate::new(vec![1.0, 1.0, 10.0, 10.0]);
        w.frame_done(1.0);
        w.frame_done(1.0);
        let eta = w.eta(Duration::from_secs(2)).unwrap().as_secs_f64();
        assert!((eta - 20.0).abs() < 1e-6, "{eta}");
        assert!((w.fraction_done() - 2.0 / 22.0).abs() < 1e-9);
        // Measured time corrects the prediction: the third frame took 30 s, not 10.
        w.frame_done(30.0);
        let eta = w.eta(Duration::from_secs(32)).unwrap().as_secs_f64();
        assert!(eta > 10.0, "{eta}");
        assert_eq!(format_duration(Duration::from_secs(3725)), "1:02:05");
    }
}
