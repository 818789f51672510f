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
