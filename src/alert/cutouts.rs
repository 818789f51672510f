//! Image cutouts, decoded on demand from the raw datum.
//!
//! Cutouts are ~94% of a ZTF packet and no filter or T2 unit on the hot path
//! reads them, so the typed alert decoders skip them. A decoder built with
//! `keep_raw(true)` keeps each alert's datum; [`Alert::cutouts`] then
//! decodes just the three stamps.

use super::{Alert, Survey};
use crate::avro::AvroError;
use serde::Deserialize;

/// The science, template and difference stamps, as shipped (ZTF: gzipped
/// FITS; LSST: FITS).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cutouts {
    pub science: Option<Vec<u8>>,
    pub template: Option<Vec<u8>>,
    pub difference: Option<Vec<u8>>,
}

#[derive(Deserialize)]
struct ZtfStamp {
    #[serde(rename = "stampData", with = "avro_bytes")]
    stamp_data: Vec<u8>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct ZtfCutouts {
    #[serde(default)]
    cutoutScience: Option<ZtfStamp>,
    #[serde(default)]
    cutoutTemplate: Option<ZtfStamp>,
    #[serde(default)]
    cutoutDifference: Option<ZtfStamp>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct LsstCutouts {
    #[serde(default, with = "avro_bytes::option")]
    cutoutScience: Option<Vec<u8>>,
    #[serde(default, with = "avro_bytes::option")]
    cutoutTemplate: Option<Vec<u8>>,
    #[serde(default, with = "avro_bytes::option")]
    cutoutDifference: Option<Vec<u8>>,
}

/// Avro `bytes` into `Vec<u8>` without serde treating it as a sequence.
mod avro_bytes {
    use serde::de::{Deserializer, Error, Visitor};
    use std::fmt;

    struct BytesVisitor;
    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("bytes")
        }
        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(BytesVisitor)
    }

    pub mod option {
        use super::BytesVisitor;
        use serde::de::{Deserializer, Visitor};
        use std::fmt;

        struct OptVisitor;
        impl<'de> Visitor<'de> for OptVisitor {
            type Value = Option<Vec<u8>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("null or bytes")
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_byte_buf(BytesVisitor).map(Some)
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            d.deserialize_option(OptVisitor)
        }
    }
}

impl Alert {
    /// Decodes the cutouts from the raw datum; `Ok(None)` when the decoder
    /// did not keep it (see `AlertDecoder::keep_raw`).
    pub fn cutouts(&self) -> Result<Option<Cutouts>, AvroError> {
        let Some(raw) = &self.raw else {
            return Ok(None);
        };
        let err = |e: serde_avro_fast::de::DeError| AvroError::Datum {
            index: 0,
            reason: e.to_string(),
        };
        let c = match self.survey {
            Survey::Ztf => {
                let z: ZtfCutouts =
                    serde_avro_fast::from_datum_slice(&raw.datum, &raw.schema.avro).map_err(err)?;
                Cutouts {
                    science: z.cutoutScience.map(|s| s.stamp_data),
                    template: z.cutoutTemplate.map(|s| s.stamp_data),
                    difference: z.cutoutDifference.map(|s| s.stamp_data),
                }
            }
            Survey::Lsst => {
                let l: LsstCutouts =
                    serde_avro_fast::from_datum_slice(&raw.datum, &raw.schema.avro).map_err(err)?;
                Cutouts {
                    science: l.cutoutScience,
                    template: l.cutoutTemplate,
                    difference: l.cutoutDifference,
                }
            }
        };
        Ok(Some(c))
    }
}
