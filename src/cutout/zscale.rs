//! IRAF's zscale display limits, as astropy's `ZScaleInterval` computes
//! them (the scaling astronomers expect of a cutout): a line fitted to the
//! sorted sample of pixels with iterative rejection, its slope divided by
//! the contrast, around the median.

/// astropy's defaults.
const N_SAMPLES: usize = 1000;
const CONTRAST: f64 = 0.25;
const MAX_REJECT: f64 = 0.5;
const MIN_NPIXELS: usize = 5;
const KREJ: f64 = 2.5;
const MAX_ITERATIONS: usize = 5;

/// The (vmin, vmax) display limits of the finite pixels; `None` when no
/// pixel is finite.
pub fn zscale(pixels: &[f64]) -> Option<(f64, f64)> {
    let finite: Vec<f64> = pixels.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    let stride = ((finite.len() as f64 / N_SAMPLES as f64) as usize).max(1);
    let mut samples: Vec<f64> = finite
        .iter()
        .step_by(stride)
        .take(N_SAMPLES)
        .copied()
        .collect();
    samples.sort_by(f64::total_cmp);
    let npix = samples.len();
    let (mut vmin, mut vmax) = (samples[0], samples[npix - 1]);
    let minpix = MIN_NPIXELS.max((npix as f64 * MAX_REJECT) as usize);
    let ngrow = ((npix as f64 * 0.01) as usize).max(1);
    let mut bad = vec![false; npix];
    let mut ngood = npix;
    let mut last_ngood = npix + 1;
    let mut fit = (0.0, 0.0);
    for _ in 0..MAX_ITERATIONS {
        if ngood >= last_ngood || ngood < minpix {
            break;
        }
        fit = line_fit(&samples, &bad);
        let flat: Vec<f64> = (0..npix)
            .map(|i| samples[i] - (fit.0 * i as f64 + fit.1))
            .collect();
        let threshold = KREJ * std_good(&flat, &bad);
        for (b, f) in bad.iter_mut().zip(&flat) {
            if *f < -threshold || *f > threshold {
                *b = true;
            }
        }
        bad = grow(&bad, ngrow);
        last_ngood = ngood;
        ngood = bad.iter().filter(|b| !**b).count();
    }
    if ngood >= minpix {
        let slope = fit.0 / CONTRAST;
        let center = (npix - 1) / 2;
        let median = median(&samples);
        vmin = vmin.max(median - (center as f64 - 1.0) * slope);
        vmax = vmax.min(median + (npix - center) as f64 * slope);
    }
    Some((vmin, vmax))
}

/// Least squares line (slope, intercept) through the good samples against
/// their index, as `numpy.polyfit(x, y, 1, w=good)`.
fn line_fit(y: &[f64], bad: &[bool]) -> (f64, f64) {
    let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, (&v, &b)) in y.iter().zip(bad).enumerate() {
        if !b {
            let x = i as f64;
            n += 1.0;
            sx += x;
            sy += v;
            sxx += x * x;
            sxy += x * v;
        }
    }
    let d = n * sxx - sx * sx;
    if d == 0.0 {
        return (0.0, if n > 0.0 { sy / n } else { 0.0 });
    }
    let slope = (n * sxy - sx * sy) / d;
    (slope, (sy - slope * sx) / n)
}

/// Population standard deviation of the good values (numpy's `std`).
fn std_good(v: &[f64], bad: &[bool]) -> f64 {
    let good: Vec<f64> = v
        .iter()
        .zip(bad)
        .filter(|(_, b)| !**b)
        .map(|(x, _)| *x)
        .collect();
    let n = good.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let mean = good.iter().sum::<f64>() / n;
    (good.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Rejected samples grown by their neighbours: `numpy.convolve(bad,
/// ones(k), mode="same")`, whose window at i covers i - k/2 ..= i + (k-1)/2.
fn grow(bad: &[bool], k: usize) -> Vec<bool> {
    let n = bad.len() as isize;
    let (lo, hi) = ((k / 2) as isize, ((k - 1) / 2) as isize);
    (0..n)
        .map(|i| ((i - lo).max(0)..=(i + hi).min(n - 1)).any(|j| bad[j as usize]))
        .collect()
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ramp_keeps_its_range_and_a_hot_pixel_is_clipped() {
        // 0..100 and one hot pixel: the limits follow the ramp, not the
        // outlier (astropy: ZScaleInterval().get_limits gives 0.0, 99.0
        // for the ramp alone).
        let mut v: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(zscale(&v), Some((0.0, 99.0)));
        v.push(1e6);
        let (lo, hi) = zscale(&v).unwrap();
        assert!(lo >= 0.0 && hi < 1e6, "{lo} {hi}");
    }

    #[test]
    fn no_finite_pixel_has_no_limits() {
        assert_eq!(zscale(&[f64::NAN, f64::INFINITY]), None);
    }
}
