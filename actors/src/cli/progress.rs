//! How a replay's progress is shown: a bar on a terminal, a line every
//! few seconds in logs (Kubernetes, CI, a file), or nothing.

use ampel::run::Progress;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, lines otherwise.
    Auto,
    /// A bar (redrawn in place).
    Bar,
    /// A line every `--progress-interval` seconds, and one per stage end.
    Lines,
    /// Nothing.
    Never,
}

/// Shows progress in the chosen way.
pub struct ProgressView {
    bar: Option<ProgressBar>,
    lines: Option<Duration>,
    started: Instant,
    stage_started: Instant,
    last_line: Instant,
    last: Option<Progress>,
}

impl ProgressView {
    pub fn new(mode: ProgressMode, interval_s: f64) -> ProgressView {
        let terminal = std::io::stderr().is_terminal();
        let bar =
            matches!(mode, ProgressMode::Bar) || (matches!(mode, ProgressMode::Auto) && terminal);
        let lines = matches!(mode, ProgressMode::Lines)
            || (matches!(mode, ProgressMode::Auto) && !terminal);
        let now = Instant::now();
        ProgressView {
            bar: bar.then(|| {
                let b = ProgressBar::new(1000);
                b.set_style(
                    ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {msg}")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                b.enable_steady_tick(Duration::from_millis(200));
                b
            }),
            lines: lines.then(|| Duration::from_secs_f64(interval_s.max(0.05))),
            started: now,
            stage_started: now,
            last_line: now,
            last: None,
        }
    }

    /// Takes a report from the replay.
    pub fn report(&mut self, p: Progress) {
        let now = Instant::now();
        if let Some(prev) = self.last.filter(|l| l.stage != p.stage) {
            // A stage ended: its last state, as a line.
            if self.lines.is_some() {
                eprintln!("progress: {} (done)", self.describe(&prev, now));
            }
            self.stage_started = now;
        }
        self.last = Some(p);
        if p.stage == "T3" {
            // T3 units print their own lines; a bar redrawn under them
            // would garble them, and T3 has no count to show.
            if let Some(b) = self.bar.take() {
                b.finish_and_clear();
            }
        }
        if let Some(b) = &self.bar {
            b.set_position(p.fraction().map_or(0, |f| (f * 1000.0) as u64));
            b.set_message(self.describe(&p, now));
        }
        if let Some(every) = self.lines {
            if now.duration_since(self.last_line) >= every {
                self.last_line = now;
                eprintln!("progress: {}", self.describe(&p, now));
            }
        }
    }

    /// The bar is cleared; in lines, the last stage's end is said.
    pub fn finish(self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if let (Some(_), Some(p)) = (self.lines, self.last) {
            eprintln!("progress: {} (done)", self.describe(&p, Instant::now()));
        }
    }

    /// `T0 1,234 of 17,200 alerts (7%), 2,345 alerts/s, 6 s left, 10
    /// accepted, 0 failed` or `T2 120 of 480 runs (25%), ...`.
    fn describe(&self, p: &Progress, now: Instant) -> String {
        let stage_s = now.duration_since(self.stage_started).as_secs_f64();
        let eta = p
            .eta_seconds(stage_s)
            .map(|s| format!(", {} left", duration(s)))
            .unwrap_or_default();
        let pct = p
            .fraction()
            .map(|f| format!(" ({:.0}%)", f * 100.0))
            .unwrap_or_default();
        match p.stage {
            "T0" => {
                let total = match p.alerts_expected() {
                    Some((n, true)) => format!(" of {}", thousands(n)),
                    Some((n, false)) => format!(" of ~{}", thousands(n)),
                    None => String::new(),
                };
                let rate = p.alerts as f64 / stage_s.max(1e-3);
                format!(
                    "T0 {}{total} alerts{pct}, {} alerts/s{eta}, {} accepted, {} failed",
                    thousands(p.alerts),
                    thousands(rate as u64),
                    thousands(p.accepted),
                    thousands(p.failed)
                )
            }
            "T2" => {
                let rate = p.t2_done as f64 / stage_s.max(1e-3);
                format!(
                    "T2 {} of {} runs{pct}, {} runs/s{eta}",
                    thousands(p.t2_done),
                    thousands(p.t2_total),
                    thousands(rate as u64)
                )
            }
            stage => format!(
                "{stage} after {} alerts, {} s in all",
                thousands(p.alerts),
                self.started.elapsed().as_secs()
            ),
        }
    }
}

/// `12,345`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `42 s`, `3 min 05 s`, `2 h 07 min`.
fn duration(s: f64) -> String {
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(duration(42.4), "42 s");
        assert_eq!(duration(185.0), "3 min 05 s");
        assert_eq!(duration(7_620.0), "2 h 07 min");
    }
}
