//! A cutout as an 8-bit greyscale PNG, scaled linearly between its zscale
//! limits, drawn with north-up FITS order (row 0 at the bottom), as
//! astronomers look at stamps (`imshow(origin="lower")`).

use super::fits::Image;
use super::zscale::zscale;
use thiserror::Error;

#[derive(Debug, Error)]
#[error("PNG encoding: {0}")]
pub struct PngError(String);

/// The image's PNG bytes. Non-finite pixels are drawn black; an image
/// without a finite pixel is all black.
pub fn to_png(img: &Image) -> Result<Vec<u8>, PngError> {
    let (lo, hi) = zscale(&img.pixels).unwrap_or((0.0, 1.0));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut grey = Vec::with_capacity(img.width * img.height);
    for row in (0..img.height).rev() {
        for v in &img.pixels[row * img.width..(row + 1) * img.width] {
            let g = if v.is_finite() {
                ((v - lo) / span * 255.0).round().clamp(0.0, 255.0) as u8
            } else {
                0
            };
            grey.push(g);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| PngError(e.to_string()))?;
        w.write_image_data(&grey)
            .map_err(|e| PngError(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bottom_fits_row_is_the_last_png_row() {
        // 2x2: bottom row dark (0, 0), top row bright (10, 10).
        let img = Image {
            width: 2,
            height: 2,
            pixels: vec![0.0, 0.0, 10.0, 10.0],
        };
        let png_bytes = to_png(&img).unwrap();
        let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        r.next_frame(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[255, 255, 0, 0]);
    }
}
