//! Avro Object Container File parsing, by hand: header, codec, blocks.
//!
//! Written here rather than taken from a crate so that the writer schema is
//! handed out as raw bytes (for the cache) before anything parses it, so that
//! every failure names its byte offset, and so that nothing allocates in
//! proportion to a length field before that many bytes are actually present.

use super::AvroError;
use bytes::Bytes;
use std::io::Read;

pub const OCF_MAGIC: &[u8; 4] = b"Obj\x01";

/// Block compression of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Null,
    Deflate,
    Snappy,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Codec::Null => "null",
            Codec::Deflate => "deflate",
            Codec::Snappy => "snappy",
        }
    }
}

/// A parsed container: header fields plus its (decompressed) blocks.
#[derive(Debug)]
pub struct OcfFile {
    pub schema: Bytes,
    pub codec: Codec,
    /// Per block: object count and the decompressed data holding them.
    pub blocks: Vec<(usize, Bytes)>,
}

/// Upper bound for one decompressed block; alert blocks are ~100 kB.
const MAX_BLOCK_BYTES: usize = 512 * 1024 * 1024;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn long(&mut self, what: &'static str) -> Result<i64, AvroError> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or(AvroError::Truncated {
                what,
                offset: self.pos,
            })?;
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err(self.invalid(what, "varint longer than 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err(self.invalid(what, "varint longer than 10 bytes"))
    }

    fn len(&mut self, what: &'static str) -> Result<usize, AvroError> {
        let at = self.pos;
        let n = self.long(what)?;
        usize::try_from(n).map_err(|_| AvroError::Invalid {
            what,
            offset: at,
            reason: format!("negative length {n}"),
        })
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], AvroError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(AvroError::Truncated {
                what,
                offset: self.pos,
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn invalid(&self, what: &'static str, reason: &str) -> AvroError {
        AvroError::Invalid {
            what,
            offset: self.pos,
            reason: reason.to_string(),
        }
    }
}

impl OcfFile {
    /// Parses a whole container held in memory (one Kafka message, one file).
    pub fn parse(bytes: &Bytes) -> Result<OcfFile, AvroError> {
        if bytes.len() < 4 || &bytes[..4] != OCF_MAGIC {
            return Err(AvroError::UnknownFraming(
                bytes.iter().take(4).copied().collect(),
            ));
        }
        let mut c = Cursor { buf: bytes, pos: 4 };
        let mut schema = None;
        let mut codec = Codec::Null;
        loop {
            let at = c.pos;
            let mut count = c.long("header map block count")?;
            if count == 0 {
                break;
            }
            if count < 0 {
                count = count.checked_neg().ok_or(AvroError::Invalid {
                    what: "header map block count",
                    offset: at,
                    reason: "overflow".into(),
                })?;
                c.long("header map block size")?;
            }
            for _ in 0..count {
                let klen = c.len("header key length")?;
                let key = c.take(klen, "header key")?;
                let vlen = c.len("header value length")?;
                let vstart = c.pos;
                let value = c.take(vlen, "header value")?;
                match key {
                    b"avro.schema" => schema = Some(bytes.slice(vstart..vstart + vlen)),
                    b"avro.codec" => {
                        codec = match value {
                            b"null" | b"" => Codec::Null,
                            b"deflate" => Codec::Deflate,
                            b"snappy" => Codec::Snappy,
                            other => {
                                return Err(AvroError::UnsupportedCodec(
                                    String::from_utf8_lossy(other).into_owned(),
                                ))
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let schema = schema.ok_or(AvroError::MissingSchema)?;
        let sync: [u8; 16] = c.take(16, "sync marker")?.try_into().expect("16 bytes");

        let mut blocks = Vec::with_capacity(1);
        while c.pos < bytes.len() {
            let index = blocks.len();
            let at = c.pos;
            let count = c.len("block object count")?;
            let size = c.len("block size")?;
            let start = c.pos;
            c.take(size, "block data")?;
            if c.take(16, "block sync marker")? != sync {
                return Err(AvroError::SyncMismatch { block: index });
            }
            if count == 0 && size == 0 {
                continue;
            }
            let data = decompress(codec, bytes.slice(start..start + size), index)?;
            // Avro allows zero-byte datums, but an alert record never is one:
            // more objects than bytes is a corrupt count, refused before any
            // decoder loops over it.
            if count > data.len() {
                return Err(AvroError::Invalid {
                    what: "block object count",
                    offset: at,
                    reason: format!("{count} objects in {} bytes", data.len()),
                });
            }
            blocks.push((count, data));
        }
        Ok(OcfFile {
            schema,
            codec,
            blocks,
        })
    }
}

fn decompress(codec: Codec, data: Bytes, block: usize) -> Result<Bytes, AvroError> {
    let fail = |reason: String| AvroError::Decompress {
        codec: codec.name(),
        block,
        reason,
    };
    match codec {
        Codec::Null => Ok(data),
        Codec::Deflate => {
            let mut out = Vec::with_capacity(data.len() * 2);
            flate2::read::DeflateDecoder::new(&data[..])
                .take(MAX_BLOCK_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| fail(e.to_string()))?;
            if out.len() > MAX_BLOCK_BYTES {
                return Err(fail(format!("inflates beyond {MAX_BLOCK_BYTES} bytes")));
            }
            Ok(out.into())
        }
        Codec::Snappy => {
            // Avro's snappy blocks: raw snappy, then a big-endian CRC32 of the
            // uncompressed bytes.
            if data.len() < 4 {
                return Err(fail("shorter than its CRC".into()));
            }
            let (payload, crc) = data.split_at(data.len() - 4);
            let n = snap::raw::decompress_len(payload).map_err(|e| fail(e.to_string()))?;
            if n > MAX_BLOCK_BYTES {
                return Err(fail(format!("claims {n} bytes uncompressed")));
            }
            let out = snap::raw::Decoder::new()
                .decompress_vec(payload)
                .map_err(|e| fail(e.to_string()))?;
            let want = u32::from_be_bytes(crc.try_into().expect("4 bytes"));
            if crc32fast::hash(&out) != want {
                return Err(fail("CRC32 mismatch".into()));
            }
            Ok(out.into())
        }
    }
}
