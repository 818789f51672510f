//! Progress of a replay, for a progress bar or periodic log lines: T0's
//! alerts against the input's size, then T2's runs against the work found
//! at its start.

/// Where a replay stands. `Copy`: handed to the caller's callback often.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub alerts: u64,
    pub failed: u64,
    pub accepted: u64,
    /// `T0`, `T2` or `T3`.
    pub stage: &'static str,
    /// Bytes of the input read so far (compressed, for .tar.gz).
    pub bytes_read: u64,
    /// Bytes of the input in all; 0 when unknown (alerts in memory).
    pub bytes_total: u64,
    /// Alerts in the input, when known before reading (no gzip).
    pub alerts_total: Option<u64>,
    /// T2: unit runs done.
    pub t2_done: u64,
    /// T2: unit runs to do, as counted when T2 started (tied units may
    /// add a few as their dependencies finish).
    pub t2_total: u64,
}

impl Progress {
    /// A run's counts so far, at `stage` (sizes and T2 figures left 0).
    pub(crate) fn of(summary: &super::RunSummary, stage: &'static str) -> Progress {
        Progress {
            alerts: summary.alerts,
            failed: summary.failed,
            accepted: summary.accepted.values().sum(),
            stage,
            ..Default::default()
        }
    }

    /// The part of the current stage done, in [0, 1], if it can be told.
    pub fn fraction(&self) -> Option<f64> {
        match self.stage {
            "T0" => match (self.alerts_total, self.bytes_total) {
                (Some(n), _) if n > 0 => Some(self.alerts as f64 / n as f64),
                (_, b) if b > 0 => Some(self.bytes_read as f64 / b as f64),
                _ => None,
            },
            "T2" if self.t2_total > 0 => Some(self.t2_done as f64 / self.t2_total as f64),
            _ => None,
        }
        .map(|f| f.clamp(0.0, 1.0))
    }

    /// The alerts in the input: exact when counted before reading,
    /// otherwise estimated from the bytes read so far (`None` before any).
    pub fn alerts_expected(&self) -> Option<(u64, bool)> {
        if let Some(n) = self.alerts_total {
            return Some((n, true));
        }
        (self.bytes_read > 0 && self.bytes_total > 0).then(|| {
            let est = self.alerts as f64 * self.bytes_total as f64 / self.bytes_read as f64;
            (est.round() as u64, false)
        })
    }

    /// Seconds left at the rate of `elapsed` so far, once a little is done.
    pub fn eta_seconds(&self, elapsed: f64) -> Option<f64> {
        let f = self.fraction()?;
        (f > 0.001).then(|| elapsed * (1.0 - f) / f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_exact_when_counted_and_estimated_from_bytes_otherwise() {
        let mut p = Progress {
            stage: "T0",
            alerts: 250,
            bytes_read: 1_000,
            bytes_total: 4_000,
            ..Default::default()
        };
        assert_eq!(p.alerts_expected(), Some((1_000, false)));
        assert_eq!(p.fraction(), Some(0.25));
        assert_eq!(p.eta_seconds(10.0), Some(30.0));
        p.alerts_total = Some(500);
        assert_eq!(p.alerts_expected(), Some((500, true)));
        assert_eq!(p.fraction(), Some(0.5));
        let t2 = Progress {
            stage: "T2",
            t2_done: 30,
            t2_total: 120,
            ..Default::default()
        };
        assert_eq!(t2.fraction(), Some(0.25));
        assert_eq!(
            Progress::default().fraction(),
            None,
            "nothing known, nothing claimed"
        );
    }
}
