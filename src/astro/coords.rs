//! ICRS -> Galactic with the rotation astropy uses, so that DecentFilter's
//! latitude cut agrees with `SkyCoord(ra, dec).galactic.b` to well below a
//! milliarcsecond.
//!
//! astropy goes ICRS -> FK5(J2000) (the frame bias of USNO Circular 179) -> Galactic
//! (the IAU 1958 pole as astropy re-expresses it in FK5 J2000: alpha
//! 192.8594812065348, delta 27.12825118085622, l of the north celestial pole
//! 122.9319185680026). Both rotations
//! are constant, so their product is precomputed once.

use std::sync::OnceLock;

type M3 = [[f64; 3]; 3];

fn mul(a: &M3, b: &M3) -> M3 {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// Rotation about axis `axis` (0=x,1=y,2=z) by `angle` radians, in the
/// passive (coordinate-frame) convention of astropy's `rotation_matrix`.
fn rot(angle: f64, axis: usize) -> M3 {
    let (s, c) = angle.sin_cos();
    let (i, j) = match axis {
        0 => (1, 2),
        1 => (2, 0),
        _ => (0, 1),
    };
    let mut m = [[0.0; 3]; 3];
    m[axis][axis] = 1.0;
    m[i][i] = c;
    m[j][j] = c;
    m[i][j] = s;
    m[j][i] = -s;
    m
}

fn matrix() -> &'static M3 {
    static M: OnceLock<M3> = OnceLock::new();
    M.get_or_init(|| {
        let mas = std::f64::consts::PI / (180.0 * 3600.0 * 1000.0);
        // ICRS -> FK5 J2000: the frame-bias "B matrix" of USNO Circular 179,
        // as astropy's `_icrs_to_fk5_matrix` builds it.
        let eta0 = -19.9 * mas;
        let xi0 = 9.1 * mas;
        let da0 = -22.9 * mas;
        let rb = mul(&mul(&rot(-eta0, 0), &rot(xi0, 1)), &rot(da0, 2));
        // FK5 J2000 -> Galactic: astropy's Galactic frame definition.
        let ra_gp = 192.859_481_206_534_8_f64.to_radians();
        let dec_gp = 27.128_251_180_856_22_f64.to_radians();
        let l_ncp = 122.931_918_568_002_6_f64.to_radians();
        let fk5_gal = mul(
            &mul(
                &rot(std::f64::consts::PI - l_ncp, 2),
                &rot(std::f64::consts::FRAC_PI_2 - dec_gp, 1),
            ),
            &rot(ra_gp, 2),
        );
        mul(&fk5_gal, &rb)
    })
}

/// (l, b) in degrees for ICRS (ra, dec) in degrees.
pub fn icrs_to_galactic(ra_deg: f64, dec_deg: f64) -> (f64, f64) {
    let (ra, dec) = (ra_deg.to_radians(), dec_deg.to_radians());
    let v = [dec.cos() * ra.cos(), dec.cos() * ra.sin(), dec.sin()];
    let m = matrix();
    let g: Vec<f64> = (0..3)
        .map(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
        .collect();
    let l = g[1].atan2(g[0]).to_degrees().rem_euclid(360.0);
    let b = g[2].atan2(g[0].hypot(g[1])).to_degrees();
    (l, b)
}

/// Great-circle distance in degrees (Vincenty form, stable at all angles).
pub fn angular_separation_deg(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (l1, b1, l2, b2) = (
        ra1.to_radians(),
        dec1.to_radians(),
        ra2.to_radians(),
        dec2.to_radians(),
    );
    let dl = l2 - l1;
    let (sdl, cdl) = dl.sin_cos();
    let (sb1, cb1) = b1.sin_cos();
    let (sb2, cb2) = b2.sin_cos();
    let num1 = cb2 * sdl;
    let num2 = cb1 * sb2 - sb1 * cb2 * cdl;
    let den = sb1 * sb2 + cb1 * cb2 * cdl;
    num1.hypot(num2).atan2(den).to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galactic_centre_and_pole() {
        // Sgr A* region: the galactic centre is at ICRS (266.40499, -28.93617).
        let (l, b) = icrs_to_galactic(266.40499, -28.93617);
        assert!(
            (l.rem_euclid(360.0) - 359.9443).abs() < 1e-3 || l < 1e-3,
            "l={l}"
        );
        assert!(b.abs() < 0.05, "b={b}");
        // North galactic pole (ICRS 192.85948, 27.12825 is FK5; close enough to 1e-4 deg).
        let (_, b) = icrs_to_galactic(192.85948, 27.12825);
        assert!((b - 90.0).abs() < 1e-3, "b={b}");
    }

    #[test]
    fn separations() {
        assert!((angular_separation_deg(0.0, 0.0, 1.0, 0.0) - 1.0).abs() < 1e-12);
        assert!((angular_separation_deg(10.0, 89.0, 190.0, 89.0) - 2.0).abs() < 1e-9);
        assert!(angular_separation_deg(5.0, -30.0, 5.0, -30.0).abs() < 1e-12);
    }
}
