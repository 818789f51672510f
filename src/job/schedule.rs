//! T3 schedules: `every N seconds|minutes|hours|days` or a 5-field cron
//! expression (`*/10 * * * *`: minute hour day-of-month month day-of-week,
//! with `*`, `*/n`, `a-b`, `a,b,c`). Parsed and validated at load; the live
//! runtime fires them (step 3); a replay runs T3 once after T2 drains.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Every { seconds: u64 },
    Cron(Box<Cron>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    /// Allowed values per field (minute, hour, day, month, weekday).
    pub fields: [Vec<u32>; 5],
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every { seconds } => write!(f, "every {seconds} s"),
            Schedule::Cron(c) => write!(f, "cron {:?}", c.fields),
        }
    }
}

impl Schedule {
    /// The first firing strictly after `ts` (Unix seconds, UTC). `every`
    /// schedules count from `ts`; cron ones fire at whole minutes.
    pub fn next_after(&self, ts: f64) -> f64 {
        match self {
            Schedule::Every { seconds } => ts + *seconds as f64,
            Schedule::Cron(c) => c.next_after(ts),
        }
    }
}

impl Cron {
    fn next_after(&self, ts: f64) -> f64 {
        let [minute, hour, mday, month, wday] = &self.fields;
        // Standard cron: when both day fields are restricted, either matches.
        let (mday_all, wday_all) = (mday.len() == 31, wday.len() == 7);
        let mut m = (ts / 60.0).floor() as i64 + 1;
        // At most a bit over four years of minutes (Feb 29 schedules).
        for _ in 0..(4 * 366 * 24 * 60 + 1) {
            let days = m.div_euclid(1440);
            let (min, hr) = (
                (m.rem_euclid(1440) % 60) as u32,
                (m.rem_euclid(1440) / 60) as u32,
            );
            let (_, mo, d) = civil_from_days(days);
            let wd = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
            let day_ok = match (mday_all, wday_all) {
                (false, false) => mday.contains(&d) || wday.contains(&wd),
                _ => mday.contains(&d) && wday.contains(&wd),
            };
            if month.contains(&mo) && day_ok && hour.contains(&hr) && minute.contains(&min) {
                return m as f64 * 60.0;
            }
            // Skip whole days or hours that cannot match.
            if !(month.contains(&mo) && day_ok) {
                m = (days + 1) * 1440;
            } else if !hour.contains(&hr) {
                m = (m / 60 + 1) * 60;
            } else {
                m += 1;
            }
        }
        f64::INFINITY
    }
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl std::str::FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Some(rest) = t.strip_prefix("every ") {
            let mut parts = rest.split_whitespace();
            let (n, unit) = match (parts.next(), parts.next(), parts.next()) {
                (Some(n), Some(u), None) => (
                    n.parse::<u64>()
                        .map_err(|_| format!("{n:?} is not a whole number"))?,
                    u,
                ),
                (Some(u), None, None) => (1, u),
                _ => {
                    return Err(format!(
                        "expected `every N minutes` (or seconds, hours, days), got {s:?}"
                    ))
                }
            };
            let mult = match unit.trim_end_matches('s') {
                "second" | "sec" => 1,
                "minute" | "min" => 60,
                "hour" => 3600,
                "day" => 86400,
                _ => {
                    return Err(format!(
                        "unknown unit {unit:?} in {s:?} (seconds, minutes, hours, days)"
                    ))
                }
            };
            if n == 0 {
                return Err(format!("{s:?}: the interval must be positive"));
            }
            return Ok(Schedule::Every { seconds: n * mult });
        }
        let f: Vec<&str> = t.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "{s:?} is neither `every N minutes` nor a 5-field cron expression (minute hour day month weekday)"
            ));
        }
        let ranges = [
            (0, 59, "minute"),
            (0, 23, "hour"),
            (1, 31, "day of month"),
            (1, 12, "month"),
            (0, 6, "day of week"),
        ];
        let mut fields: [Vec<u32>; 5] = Default::default();
        for (i, (field, (lo, hi, name))) in f.iter().zip(ranges).enumerate() {
            fields[i] = cron_field(field, lo, hi)
                .map_err(|e| format!("{s:?}: {name} field {field:?}: {e}"))?;
        }
        Ok(Schedule::Cron(Box::new(Cron { fields })))
    }
}

fn cron_field(f: &str, lo: u32, hi: u32) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in f.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().map_err(|_| format!("bad step {s:?}"))?),
            None => (part, 1),
        };
        if step == 0 {
            return Err("step 0".into());
        }
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                a.parse().map_err(|_| format!("bad number {a:?}"))?,
                b.parse().map_err(|_| format!("bad number {b:?}"))?,
            )
        } else {
            let v: u32 = range.parse().map_err(|_| format!("bad number {range:?}"))?;
            (v, if part.contains('/') { hi } else { v })
        };
        if a < lo || b > hi || a > b {
            return Err(format!("{a}-{b} outside {lo}-{hi}"));
        }
        out.extend((a..=b).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_firings() {
        let every: Schedule = "every 10 minutes".parse().unwrap();
        assert_eq!(every.next_after(1000.0), 1600.0);
        // 2026-11-21 10:07:30 UTC is 1795255650.
        let t = 1_795_255_650.0;
        assert_eq!(civil_from_days(1_795_255_650 / 86400), (2026, 11, 21));
        let c: Schedule = "*/15 * * * *".parse().unwrap();
        assert_eq!(c.next_after(t), 1_795_255_200.0 + 900.0); // 10:15
        let c: Schedule = "30 3 * * *".parse().unwrap();
        assert_eq!(c.next_after(t), 1_795_219_200.0 + 86_400.0 + 12_600.0); // next day 03:30
                                                                            // Sundays at 00:00 (2026-11-22 is a Sunday).
        let c: Schedule = "0 0 * * 0".parse().unwrap();
        assert_eq!(
            c.next_after(t),
            (1_795_255_650 / 86400 + 1) as f64 * 86400.0
        );
    }

    #[test]
    fn parses_intervals_and_cron() {
        assert_eq!(
            "every 10 minutes".parse(),
            Ok(Schedule::Every { seconds: 600 })
        );
        assert_eq!("every hour".parse(), Ok(Schedule::Every { seconds: 3600 }));
        assert_eq!(
            "every 2 days".parse(),
            Ok(Schedule::Every { seconds: 172800 })
        );
        let Ok(Schedule::Cron(c)) = "*/15 3,4 * 1-3 0".parse::<Schedule>() else {
            panic!()
        };
        assert_eq!(c.fields[0], [0, 15, 30, 45]);
        assert_eq!(c.fields[1], [3, 4]);
        assert_eq!(c.fields[3], [1, 2, 3]);
        assert_eq!(c.fields[4], [0]);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (s, msg) in [
            ("every 0 minutes", "positive"),
            ("every 5 fortnights", "unknown unit"),
            ("* * *", "5-field cron"),
            ("61 * * * *", "minute field"),
            ("*/0 * * * *", "step 0"),
        ] {
            let e = s.parse::<Schedule>().unwrap_err();
            assert!(e.contains(msg), "{s}: {e}");
        }
    }
}
