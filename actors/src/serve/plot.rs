//! A light curve as SVG, drawn with plotters: magnitude (bright up)
//! against MJD, one colour per band, detections as circles with error
//! bars, upper limits as downward triangles, dashed lines at the first
//! detection and at the latest alert.
//!
//! Each detection is exactly one `<circle>` and each upper limit one
//! `<polygon>` (the legend is text only), so a test can count them.

use ampel::survey::lightcurve::{LightPoint, MJD_OFFSET};
use plotters::prelude::*;

pub const WIDTH: u32 = 820;
pub const HEIGHT: u32 = 420;

/// Band colours (ZTF g/r/i; Rubin ugrizy); `None` for a band we do not
/// know (such points are not drawn: a band name is archive text).
fn colour(band: &str) -> Option<RGBColor> {
    Some(match band {
        "u" => RGBColor(102, 51, 153),
        "g" => RGBColor(32, 150, 60),
        "r" => RGBColor(210, 40, 40),
        "i" => RGBColor(230, 150, 20),
        "z" => RGBColor(120, 70, 30),
        "y" => RGBColor(60, 60, 60),
        _ => return None,
    })
}

/// The bands in plotting order.
const BANDS: [&str; 6] = ["u", "g", "r", "i", "z", "y"];

/// The SVG document of `points`; `latest_jd` marks the latest alert.
pub fn light_curve_svg(points: &[LightPoint], latest_jd: Option<f64>) -> Result<String, String> {
    let drawn: Vec<&LightPoint> = points
        .iter()
        .filter(|p| colour(&p.band).is_some())
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        if drawn.is_empty() {
            root.draw(&Text::new(
                "no datapoints to plot",
                (WIDTH as i32 / 2 - 80, HEIGHT as i32 / 2),
                ("sans-serif", 16).into_font(),
            ))
            .map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())?;
            drop(root);
            return Ok(svg);
        }
        let (x0, x1) = span(drawn.iter().map(|p| p.jd - MJD_OFFSET), 0.02);
        let (m0, m1) = span(
            drawn.iter().flat_map(|p| {
                let e = p.mag_err.unwrap_or(0.0);
                [p.mag - e, p.mag + e]
            }),
            0.2,
        );
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, m1..m0)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("MJD")
            .y_desc("magnitude (AB)")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| e.to_string())?;
        let first_det = drawn
            .iter()
            .filter(|p| !p.upper_limit)
            .map(|p| p.jd)
            .reduce(f64::min);
        let label_at = |row: f64| m0 + (m1 - m0) * row;
        for (jd, label, c, row) in [
            (first_det, "first detection", RGBColor(90, 90, 200), 0.0),
            (latest_jd, "latest alert", RGBColor(0, 0, 0), 0.06),
        ] {
            let Some(jd) = jd else { continue };
            let x = jd - MJD_OFFSET;
            chart
                .draw_series(DashedLineSeries::new(
                    [(x, m1), (x, m0)],
                    4,
                    3,
                    c.stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(Text::new(
                    label.to_string(),
                    (x, label_at(row)),
                    ("sans-serif", 12).into_font().color(&c),
                )))
                .map_err(|e| e.to_string())?;
        }
        for band in BANDS {
            let c = colour(band).expect("known band");
            let of_band = || drawn.iter().filter(move |p| p.band == band);
            chart
                .draw_series(
                    of_band()
                        .filter(|p| !p.upper_limit && p.mag_err.is_some())
                        .map(|p| {
                            let e = p.mag_err.unwrap_or(0.0);
                            PathElement::new(
                                vec![
                                    (p.jd - MJD_OFFSET, p.mag - e),
                                    (p.jd - MJD_OFFSET, p.mag + e),
                                ],
                                c.stroke_width(1),
                            )
                        }),
                )
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(
                    of_band()
                        .filter(|p| !p.upper_limit)
                        .map(|p| Circle::new((p.jd - MJD_OFFSET, p.mag), 4, c.filled())),
                )
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(of_band().filter(|p| p.upper_limit).map(|p| {
                    EmptyElement::at((p.jd - MJD_OFFSET, p.mag))
                        + Polygon::new(vec![(-5, -4), (5, -4), (0, 5)], c.mix(0.45).filled())
                }))
                .map_err(|e| e.to_string())?;
        }
        // The legend: text in each band's colour, for the bands present.
        let mut x = 70;
        for band in BANDS.iter().filter(|b| drawn.iter().any(|p| p.band == **b)) {
            let c = colour(band).expect("known band");
            root.draw(&Text::new(
                band.to_string(),
                (x, 14),
                ("sans-serif", 14).into_font().color(&c),
            ))
            .map_err(|e| e.to_string())?;
            x += 22;
        }
        root.draw(&Text::new(
            "● detection   ▼ upper limit",
            (x + 10, 14),
            ("sans-serif", 12).into_font().color(&BLACK),
        ))
        .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The range of `values`, padded on both sides by 5% of it, at least by
/// `min_pad` (a single value, or points close together, still get room).
fn span(values: impl Iterator<Item = f64>, min_pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = ((hi - lo) * 0.05).max(min_pad);
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(id: i64, jd: f64, band: &str, mag: f64, ul: bool) -> LightPoint {
        LightPoint {
            id,
            jd,
            band: band.into(),
            mag,
            mag_err: (!ul).then_some(0.1),
            upper_limit: ul,
        }
    }

    #[test]
    fn one_circle_per_detection_and_one_polygon_per_upper_limit() {
        let pts = vec![
            pt(1, 2460000.5, "g", 19.0, false),
            pt(2, 2460001.5, "r", 18.5, false),
            pt(-3, 2459999.5, "r", 20.1, true),
            pt(4, 2460002.5, "x<script>", 18.0, false),
        ];
        let svg = light_curve_svg(&pts, Some(2460001.5)).unwrap();
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert_eq!(svg.matches("<polygon").count(), 1);
        assert!(!svg.contains("<script"), "an unknown band is not drawn");
    }
}
