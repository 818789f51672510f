//! Local catalogues with an indexed cone search (DecentFilter's Gaia veto,
//! later T2CatalogMatch).
//!
//! # File format
//! Plain CSV, UTF-8. Lines starting with `#` are comments. The first other
//! line is the header; it must name `ra` and `dec` (ICRS, degrees, any case);
//! every other column is numeric (empty, `nan` or `null` read as missing).
//! Example (Gaia, with the catsHTM column names AMPEL's DecentFilter reads):
//! ```text
//! ra,dec,Mag_G,PMRA,ErrPMRA,PMDec,ErrPMDec,Plx,ErrPlx,ExcessNoiseSig
//! 150.00010,2.2000,17.3,12.1,0.3,-4.0,0.3,1.2,0.4,0.0
//! ```
//!
//! # Index
//! Sources are binned into declination zones of [`ZONE_DEG`] and sorted by
//! RA within each zone (the "zones" algorithm of Gray et al. 2006). A cone
//! search visits the zones its radius touches and binary-searches the RA
//! window in each, then checks exact separations: O(log n + k) per query.

use crate::astro::angular_separation_deg;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Height of a declination zone in degrees.
pub const ZONE_DEG: f64 = 0.05;

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("catalogue {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("catalogue {path}, line {line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// An in-memory catalogue with its zone index.
#[derive(Debug)]
pub struct Catalog {
    pub name: String,
    columns: Vec<String>,
    column_index: HashMap<String, usize>,
    /// Row-major values of all rows; `ra`/`dec` are columns 0 and 1.
    values: Vec<f64>,
    /// zone number -> row numbers sorted by RA.
    zones: HashMap<i64, Vec<u32>>,
}

/// A source found by a cone search.
#[derive(Debug, Clone, Copy)]
pub struct Match<'a> {
    pub dist_arcsec: f64,
    row: &'a [f64],
    catalog: &'a Catalog,
}

impl Match<'_> {
    /// A column's value; NaN when missing in the file or not a column.
    pub fn get(&self, column: &str) -> f64 {
        self.catalog
            .column_index
            .get(column)
            .map_or(f64::NAN, |&i| self.row[i])
    }
}

impl Catalog {
    pub fn load(name: &str, path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(name, path, &text)
    }

    pub fn parse(name: &str, path: &Path, text: &str) -> Result<Catalog, CatalogError> {
        let perr = |line: usize, reason: String| CatalogError::Parse {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let (hline, header) = lines
            .next()
            .ok_or_else(|| perr(1, "no header line".into()))?;
        let file_cols: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
        let find = |want: &str| file_cols.iter().position(|c| c.eq_ignore_ascii_case(want));
        let ra = find("ra").ok_or_else(|| perr(hline, "header has no `ra` column".into()))?;
        let dec = find("dec").ok_or_else(|| perr(hline, "header has no `dec` column".into()))?;
        // Internal order: ra, dec, then the other columns in file order.
        let mut order = vec![ra, dec];
        order.extend((0..file_cols.len()).filter(|i| *i != ra && *i != dec));
        let columns: Vec<String> = order.iter().map(|&i| file_cols[i].clone()).collect();
        let mut values = Vec::new();
        let mut fields = vec![0.0; file_cols.len()];
        for (ln, line) in lines {
            let mut n = 0;
            for (i, cell) in line.split(',').enumerate() {
                let slot = fields
                    .get_mut(i)
                    .ok_or_else(|| perr(ln, format!("more than {} fields", file_cols.len())))?;
                let cell = cell.trim();
                *slot = if cell.is_empty()
                    || cell.eq_ignore_ascii_case("nan")
                    || cell.eq_ignore_ascii_case("null")
                {
                    f64::NAN
                } else {
                    cell.parse().map_err(|_| {
                        perr(
                            ln,
                            format!("column {}: {cell:?} is not a number", file_cols[i]),
                        )
                    })?
                };
                n = i + 1;
            }
            if n != file_cols.len() {
                return Err(perr(
                    ln,
                    format!("{n} fields, header has {}", file_cols.len()),
                ));
            }
            let (r, d) = (fields[ra], fields[dec]);
            if !(0.0..=360.0).contains(&r) || !(-90.0..=90.0).contains(&d) {
                return Err(perr(ln, format!("position ({r}, {d}) outside the sky")));
            }
            values.extend(order.iter().map(|&i| fields[i]));
        }
        let width = columns.len();
        let nrows = values.len() / width;
        let mut zones: HashMap<i64, Vec<u32>> = HashMap::new();
        for row in 0..nrows {
            zones
                .entry(zone(values[row * width + 1]))
                .or_default()
                .push(row as u32);
        }
        for rows in zones.values_mut() {
            rows.sort_by(|a, b| {
                values[*a as usize * width].total_cmp(&values[*b as usize * width])
            });
        }
        Ok(Catalog {
            name: name.to_string(),
            column_index: columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), i))
                .collect(),
            columns,
            values,
            zones,
        })
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// All sources within `radius_arcsec` of (ra, dec), nearest first.
    pub fn cone_search(&self, ra: f64, dec: f64, radius_arcsec: f64) -> Vec<Match<'_>> {
        let width = self.columns.len();
        let r = radius_arcsec / 3600.0;
        let mut out = Vec::new();
        if r.is_nan() || r <= 0.0 || !ra.is_finite() || !dec.is_finite() {
            return out;
        }
        let top = dec + r;
        let bottom = dec - r;
        // RA half-width of the cone at its widest declination.
        let widest = top.abs().max(bottom.abs());
        let alpha = if widest >= 89.9 {
            360.0
        } else {
            (r / widest.to_radians().cos()) * 1.0001 + 1e-9
        };
        let windows: Vec<(f64, f64)> = if alpha >= 180.0 {
            vec![(0.0, 360.0)]
        } else {
            let (lo, hi) = (ra - alpha, ra + alpha);
            if lo < 0.0 {
                vec![(lo + 360.0, 360.0), (0.0, hi)]
            } else if hi > 360.0 {
                vec![(lo, 360.0), (0.0, hi - 360.0)]
            } else {
                vec![(lo, hi)]
            }
        };
        for z in zone(bottom.max(-90.0))..=zone(top.min(90.0)) {
            let Some(rows) = self.zones.get(&z) else {
                continue;
            };
            for &(lo, hi) in &windows {
                let start = rows.partition_point(|&i| self.values[i as usize * width] < lo);
                for &i in &rows[start..] {
                    let row = &self.values[i as usize * width..(i as usize + 1) * width];
                    if row[0] > hi {
                        break;
                    }
                    let d = angular_separation_deg(ra, dec, row[0], row[1]) * 3600.0;
                    if d <= radius_arcsec {
                        out.push(Match {
                            dist_arcsec: d,
                            row,
                            catalog: self,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| a.dist_arcsec.total_cmp(&b.dist_arcsec));
        out
    }
}

fn zone(dec: f64) -> i64 {
    ((dec + 90.0) / ZONE_DEG).floor() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(text: &str) -> Catalog {
        Catalog::parse("T", Path::new("t.csv"), text).unwrap()
    }

    #[test]
    fn finds_what_brute_force_finds() {
        // A deterministic scatter of sources, including around RA 0/360 and the pole.
        let mut text = String::from("ra,dec,mag\n");
        let mut x: u64 = 12345;
        let mut pts = Vec::new();
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ra = (x >> 11) as f64 / (1u64 << 53) as f64 * 360.0;
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let dec = ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0;
            let dec = if pts.len() % 2 == 0 {
                dec
            } else {
                89.0 + dec / 2.0
            };
            text.push_str(&format!("{ra},{dec},1\n"));
            pts.push((ra, dec));
        }
        let c = cat(&text);
        for (qra, qdec, rad) in [
            (0.01, 0.2, 600.0),
            (359.99, -0.3, 900.0),
            (120.0, 89.6, 3600.0),
            (200.0, 0.0, 30.0),
        ] {
            let mut want: Vec<f64> = pts
                .iter()
                .map(|&(r, d)| angular_separation_deg(qra, qdec, r, d) * 3600.0)
                .filter(|&d| d <= rad)
                .collect();
            want.sort_by(f64::total_cmp);
            let got: Vec<f64> = c
                .cone_search(qra, qdec, rad)
                .iter()
                .map(|m| m.dist_arcsec)
                .collect();
            assert_eq!(got, want, "query {qra} {qdec} {rad}");
        }
    }

    #[test]
    fn columns_and_missing_values() {
        let c = cat("# comment\nDEC,RA,Plx\n10,20,\n");
        let m = c.cone_search(20.0, 10.0, 1.0);
        assert_eq!(m.len(), 1);
        assert!(m[0].get("Plx").is_nan());
        assert!(m[0].get("nope").is_nan());
    }

    #[test]
    fn errors_name_the_line() {
        let e = Catalog::parse("T", Path::new("g.csv"), "ra,dec\n1,2\n1,x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "catalogue g.csv, line 3: column dec: \"x\" is not a number"
        );
        assert!(Catalog::parse("T", Path::new("g.csv"), "ra,x\n").is_err());
        assert!(Catalog::parse("T", Path::new("g.csv"), "ra,dec\n1,95\n").is_err());
    }
}
