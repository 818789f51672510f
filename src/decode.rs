//! The decoder entry point: one message (an OCF file or a Confluent frame)
//! in, shaped alerts out. This is the single place where a writer schema is
//! matched to a survey.

use crate::alert::{Alert, RawDatum};
use crate::avro::{
    split_confluent, AvroError, Cached, OcfFile, SchemaCache, SchemaRegistry, WriterSchema,
    OCF_MAGIC,
};
use crate::survey::{lsst, ztf};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_avro_fast::de::DeserializerState;
use std::io::BufRead;
use std::sync::Arc;

/// What a survey decoder derived from a writer schema.
enum Layout {
    Ztf(Box<ztf::ZtfLayout>),
    Lsst(lsst::LsstLayout),
}

impl Layout {
    fn build(schema: Arc<WriterSchema>) -> Result<Layout, AvroError> {
        let name = schema.name.as_str();
        if name == "ztf.alert" {
            Ok(Layout::Ztf(Box::new(ztf::ZtfLayout::build(&schema)?)))
        } else if name.starts_with("lsst.") && name.ends_with(".alert") {
            Ok(Layout::Lsst(lsst::LsstLayout::build(&schema)?))
        } else {
            Err(AvroError::UnknownSchemaName {
                name: name.to_string(),
            })
        }
    }
}

/// Decodes and shapes alert messages. Cheap to share between threads: the
/// schema cache is behind a read-mostly lock.
#[derive(Default)]
pub struct AlertDecoder {
    cache: SchemaCache<Layout>,
    registry: Option<SchemaRegistry>,
    raw: KeepRaw,
}

/// Which alerts keep their raw datum ([`RawDatum`]).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum KeepRaw {
    /// None: hot paths that never look at cutouts.
    #[default]
    Never,
    /// Those whose packet carries stamps: what T0 reads the datum for.
    WithStamps,
    /// Every alert (`ampel produce` re-sends the datum).
    Always,
}

impl AlertDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Enables Confluent-framed messages, with schemas from `registry`.
    pub fn with_registry(mut self, registry: SchemaRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    pub fn keep_raw(mut self, keep: bool) -> Self {
        self.raw = if keep {
            KeepRaw::Always
        } else {
            KeepRaw::Never
        };
        self
    }

    /// Keeps the raw datum only of packets that carry stamps: what T0
    /// reads it for ([`Alert::cutouts`](crate::alert::Alert::cutouts)).
    /// A packet without stamps is then not decoded a second time to find
    /// three nulls (4.4% of T0's thread in an accept-all replay).
    pub fn keep_stamps(mut self, keep: bool) -> Self {
        self.raw = if keep {
            KeepRaw::WithStamps
        } else {
            KeepRaw::Never
        };
        self
    }

    /// Distinct writer schemas parsed so far.
    pub fn schemas_parsed(&self) -> usize {
        self.cache.len()
    }

    /// Decodes one message into its alerts (one per record; ZTF and Rubin
    /// send one record per message).
    pub fn decode(&self, bytes: Bytes) -> Result<Vec<Alert>, AvroError> {
        if bytes.starts_with(OCF_MAGIC) {
            let ocf = OcfFile::parse(&bytes)?;
            let cached = self.cache.get_or_insert(&ocf.schema, Layout::build)?;
            let mut out = Vec::with_capacity(1);
            for (count, data) in &ocf.blocks {
                let mut pos = 0;
                for _ in 0..*count {
                    let index = out.len();
                    let (alert, used) = self.decode_datum(&cached, data.slice(pos..), index)?;
                    pos += used;
                    out.push(alert);
                }
                if pos != data.len() {
                    return Err(AvroError::TrailingBytes {
                        index: out.len().saturating_sub(1),
                        trailing: data.len() - pos,
                    });
                }
            }
            Ok(out)
        } else if bytes.first() == Some(&crate::avro::CONFLUENT_MAGIC) && self.registry.is_some() {
            let (id, datum) = split_confluent(&bytes)?;
            let raw = self.registry.as_ref().expect("checked").get(id)?;
            let cached = self.cache.get_or_insert(raw, Layout::build)?;
            let len = datum.len();
            let (alert, used) = self.decode_datum(&cached, datum, 0)?;
            if used != len {
                return Err(AvroError::TrailingBytes {
                    index: 0,
                    trailing: len - used,
                });
            }
            Ok(vec![alert])
        } else {
            Err(AvroError::UnknownFraming(
                bytes.iter().take(4).copied().collect(),
            ))
        }
    }

    fn decode_datum(
        &self,
        cached: &Cached<Layout>,
        data: Bytes,
        index: usize,
    ) -> Result<(Alert, usize), AvroError> {
        let schema = &cached.schema;
        let (mut alert, used, stamps) = match &cached.layout {
            Layout::Ztf(l) => {
                let (rec, used) = datum::<ztf::ZtfRecord>(&data, schema, index)?;
                let stamps = rec.has_stamps();
                (l.shape(rec, index)?, used, stamps)
            }
            Layout::Lsst(l) => {
                let (rec, used) = datum::<lsst::LsstRecord>(&data, schema, index)?;
                let stamps = rec.has_stamps();
                (l.shape(rec, index)?, used, stamps)
            }
        };
        let keep = match self.raw {
            KeepRaw::Never => false,
            KeepRaw::WithStamps => stamps,
            KeepRaw::Always => true,
        };
        if keep {
            alert.raw = Some(RawDatum {
                datum: data.slice(..used),
                schema: schema.clone(),
            });
        }
        Ok((alert, used))
    }
}

/// Decodes one datum at the start of `data`; returns it and the bytes used.
fn datum<T: DeserializeOwned>(
    data: &[u8],
    schema: &WriterSchema,
    index: usize,
) -> Result<(T, usize), AvroError> {
    let mut state = DeserializerState::from_slice(data, &schema.avro);
    let value = T::deserialize(state.deserializer()).map_err(|e| AvroError::Datum {
        index,
        reason: e.to_string(),
    })?;
    let mut rest = state.into_reader();
    let remaining = rest.fill_buf().map(|r| r.len()).unwrap_or(0);
    Ok((value, data.len() - remaining))
}
