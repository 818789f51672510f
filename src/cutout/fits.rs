//! The primary image of a FITS file, read by hand: cutouts are small
//! single-image files (ZTF: 63x63 float32, gzipped; Rubin: 30x30 float32
//! with uncertainty and PSF extensions, which are not read).

use thiserror::Error;

/// FITS headers and data come in blocks of 2,880 bytes.
const BLOCK: usize = 2880;
/// A header card is 80 ASCII characters.
const CARD: usize = 80;
/// Cutouts are small; a larger image is not a stamp (and would cost memory).
const MAX_PIXELS: usize = 4096 * 4096;

#[derive(Debug, Error, PartialEq)]
pub enum FitsError {
    #[error("not a FITS file (no SIMPLE card at the start)")]
    NotFits,
    #[error("FITS header has no END card")]
    NoEnd,
    #[error("FITS header card {card} missing or not a number")]
    MissingCard { card: &'static str },
    #[error("FITS primary HDU has NAXIS = {0}; an image has 2")]
    NotAnImage(i64),
    #[error("FITS BITPIX {0} is not one of 8, 16, 32, 64, -32, -64")]
    Bitpix(i64),
    #[error("FITS image of {width}x{height} pixels is not a cutout")]
    TooLarge { width: usize, height: usize },
    #[error("FITS data truncated: {need} bytes of pixels, {have} present")]
    Truncated { need: usize, have: usize },
    #[error("gzip: {0}")]
    Gzip(String),
}

/// A 2-d image, rows from the bottom (FITS order), pixels as f64 with
/// BSCALE/BZERO applied; blank or non-finite pixels are NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f64>,
}

impl Image {
    /// Reads the primary image of a FITS file, gunzipping it first when it
    /// is gzipped (ZTF ships its stamps so).
    pub fn from_fits(bytes: &[u8]) -> Result<Image, FitsError> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            use std::io::Read;
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .take((MAX_PIXELS * 8 + 64 * BLOCK) as u64)
                .read_to_end(&mut raw)
                .map_err(|e| FitsError::Gzip(e.to_string()))?;
            return Self::from_plain(&raw);
        }
        Self::from_plain(bytes)
    }

    fn from_plain(bytes: &[u8]) -> Result<Image, FitsError> {
        if !bytes.starts_with(b"SIMPLE  =") {
            return Err(FitsError::NotFits);
        }
        let header = Header::parse(bytes)?;
        let naxis = header.int("NAXIS")?;
        if naxis != 2 {
            return Err(FitsError::NotAnImage(naxis));
        }
        let bitpix = header.int("BITPIX")?;
        let width = header.int("NAXIS1")?.max(0) as usize;
        let height = header.int("NAXIS2")?.max(0) as usize;
        if width.saturating_mul(height) > MAX_PIXELS {
            return Err(FitsError::TooLarge { width, height });
        }
        let size = match bitpix {
            8 => 1,
            16 => 2,
            32 | -32 => 4,
            64 | -64 => 8,
            b => return Err(FitsError::Bitpix(b)),
        };
        let scale = header.float("BSCALE").unwrap_or(1.0);
        let zero = header.float("BZERO").unwrap_or(0.0);
        let blank = header.int("BLANK").ok();
        let data = &bytes[header.data_start.min(bytes.len())..];
        let need = width * height * size;
        if data.len() < need {
            return Err(FitsError::Truncated {
                need,
                have: data.len(),
            });
        }
        let pixels = data[..need]
            .chunks_exact(size)
            .map(|b| {
                let (v, raw) = pixel(bitpix, b);
                match raw {
                    Some(r) if Some(r) == blank => f64::NAN,
                    _ if v.is_finite() => zero + scale * v,
                    _ => f64::NAN,
                }
            })
            .collect();
        Ok(Image {
            width,
            height,
            pixels,
        })
    }
}

/// One big-endian pixel: its value, and for integer types its raw integer
/// (compared with BLANK).
fn pixel(bitpix: i64, b: &[u8]) -> (f64, Option<i64>) {
    match bitpix {
        8 => (b[0] as f64, Some(b[0] as i64)),
        16 => {
            let v = i16::from_be_bytes([b[0], b[1]]);
            (v as f64, Some(v as i64))
        }
        32 => {
            let v = i32::from_be_bytes(b.try_into().expect("4 bytes"));
            (v as f64, Some(v as i64))
        }
        64 => {
            let v = i64::from_be_bytes(b.try_into().expect("8 bytes"));
            (v as f64, Some(v))
        }
        -32 => (
            f32::from_be_bytes(b.try_into().expect("4 bytes")) as f64,
            None,
        ),
        _ => (f64::from_be_bytes(b.try_into().expect("8 bytes")), None),
    }
}

/// The primary header's keyword values, and where its data starts.
struct Header<'a> {
    cards: Vec<(&'a str, &'a str)>,
    data_start: usize,
}

impl<'a> Header<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Header<'a>, FitsError> {
        let mut cards = Vec::new();
        for (i, card) in bytes.chunks_exact(CARD).enumerate() {
            // Cards are ASCII; one that is not cannot hold a keyword we read.
            let Ok(text) = std::str::from_utf8(card) else {
                continue;
            };
            let key = text[..8].trim_end();
            if key == "END" {
                let end = (i + 1) * CARD;
                return Ok(Header {
                    cards,
                    data_start: end.div_ceil(BLOCK) * BLOCK,
                });
            }
            if &text[8..10] == "= " {
                let value = text[10..].split('/').next().unwrap_or("").trim();
                cards.push((key, value));
            }
        }
        Err(FitsError::NoEnd)
    }

    fn value(&self, key: &'static str) -> Option<&'a str> {
        self.cards.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn int(&self, key: &'static str) -> Result<i64, FitsError> {
        self.value(key)
            .and_then(|v| v.parse().ok())
            .ok_or(FitsError::MissingCard { card: key })
    }

    fn float(&self, key: &'static str) -> Result<f64, FitsError> {
        self.value(key)
            .and_then(|v| v.replace('D', "E").parse().ok())
            .ok_or(FitsError::MissingCard { card: key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FITS file of `w`x`h` float32 pixels `0, 1, 2, ...`.
    pub(crate) fn fits_f32(w: usize, h: usize) -> Vec<u8> {
        let mut head = String::new();
        for (k, v) in [
            ("SIMPLE", "T"),
            ("BITPIX", "-32"),
            ("NAXIS", "2"),
            ("NAXIS1", &w.to_string()),
            ("NAXIS2", &h.to_string()),
        ] {
            head.push_str(&format!("{k:<8}= {v:>20}{:50}", ""));
        }
        head.push_str(&format!("{:<80}", "END"));
        let mut b = head.into_bytes();
        b.resize(BLOCK, b' ');
        for i in 0..w * h {
            b.extend_from_slice(&(i as f32).to_be_bytes());
        }
        b.resize(b.len().div_ceil(BLOCK) * BLOCK, 0);
        b
    }

    #[test]
    fn reads_a_float_image_in_fits_order() {
        let img = Image::from_fits(&fits_f32(3, 2)).unwrap();
        assert_eq!((img.width, img.height), (3, 2));
        assert_eq!(img.pixels, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn a_truncated_file_says_how_much_is_missing() {
        let mut b = fits_f32(10, 10);
        b.truncate(BLOCK + 40);
        assert_eq!(
            Image::from_fits(&b),
            Err(FitsError::Truncated {
                need: 400,
                have: 40
            })
        );
    }

    #[test]
    fn non_fits_bytes_are_refused() {
        assert_eq!(Image::from_fits(b"hello"), Err(FitsError::NotFits));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"not fits").unwrap();
        assert_eq!(
            Image::from_fits(&gz.finish().unwrap()),
            Err(FitsError::NotFits)
        );
    }
}
