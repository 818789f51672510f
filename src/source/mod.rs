//! Alert sources on disk: a single Avro file, a directory (recursive), or a
//! `.tar` / `.tar.gz` archive of alert files, read as a stream.
//!
//! Archives are never loaded whole: tar members are read one at a time from
//! the (gzip) stream, so memory stays at one alert whatever the archive size.
//! Sources only deliver bytes; decoding is [`crate::decode`]'s job, so a
//! corrupt alert is reported by the decoder with the [`Origin`] given here.

mod size;

pub use size::{measure, InputSize};

use bytes::Bytes;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use thiserror::Error;

/// Largest single alert accepted from an archive member or file (ZTF
/// alerts are ~100 kB; this guards memory against a corrupt size field).
pub const MAX_ALERT_BYTES: u64 = 64 * 1024 * 1024;

/// Where a message came from: a file, and the member inside an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub path: PathBuf,
    pub member: Option<String>,
    /// Where the member's bytes start in the (uncompressed) tar, so that
    /// a bad record can be cut out and looked at (`dd skip=...`).
    pub offset: Option<u64>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.member, self.offset) {
            (Some(m), Some(o)) => {
                write!(f, "{} [member {m} at tar offset {o}]", self.path.display())
            }
            (Some(m), None) => write!(f, "{} [member {m}]", self.path.display()),
            _ => write!(f, "{}", self.path.display()),
        }
    }
}

/// One undecoded message with its origin.
#[derive(Debug, Clone)]
pub struct RawAlert {
    pub origin: Origin,
    pub bytes: Bytes,
    /// When the message entered the stream (Kafka timestamp, ms since the
    /// epoch); `None` for files. Latency metrics start here.
    pub timestamp_ms: Option<i64>,
}

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{origin}: {source}")]
    Io {
        origin: Origin,
        source: std::io::Error,
    },
    #[error("{origin}: {size} bytes exceeds the {MAX_ALERT_BYTES}-byte limit for one alert")]
    TooLarge { origin: Origin, size: u64 },
    #[error("{0}: no such file or directory")]
    NotFound(PathBuf),
    /// A stream message that carries no alert (e.g. an empty Kafka payload).
    #[error("{origin}: {reason}")]
    Message { origin: Origin, reason: String },
}

impl SourceError {
    /// The file (and member) the error is about, when there is one.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            SourceError::Io { origin, .. }
            | SourceError::TooLarge { origin, .. }
            | SourceError::Message { origin, .. } => Some(origin),
            SourceError::NotFound(_) => None,
        }
    }
}

/// Walks `paths` in order and calls `f` for every message or error; `f`
/// returns `ControlFlow::Break(())` to stop early. Directories are walked
/// recursively in name order, taking `*.avro`, `*.tar`, `*.tar.gz` and
/// `*.tgz` files; a path given explicitly is read whatever its name.
pub fn for_each_alert<P: AsRef<Path>>(
    paths: &[P],
    f: impl FnMut(Result<RawAlert, SourceError>) -> ControlFlow<()>,
) {
    for_each_alert_counted(paths, &AtomicU64::new(0), f)
}

/// [`for_each_alert`], adding to `read` the bytes taken from the files
/// (compressed bytes for a .tar.gz), so that progress can be told against
/// [`measure`]'s total.
pub fn for_each_alert_counted<P: AsRef<Path>>(
    paths: &[P],
    read: &AtomicU64,
    mut f: impl FnMut(Result<RawAlert, SourceError>) -> ControlFlow<()>,
) {
    for p in paths {
        if visit(p.as_ref(), true, read, &mut f).is_break() {
            return;
        }
    }
}

/// A reader that adds what it reads to a counter.
struct Counted<'a, R> {
    inner: R,
    read: &'a AtomicU64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn visit(
    path: &Path,
    explicit: bool,
    read: &AtomicU64,
    f: &mut impl FnMut(Result<RawAlert, SourceError>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let origin = || Origin {
        path: path.to_path_buf(),
        member: None,
        offset: None,
    };
    let io_err = |source| SourceError::Io {
        origin: origin(),
        source,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return f(Err(SourceError::NotFound(path.to_path_buf())))
        }
        Err(source) => return f(Err(io_err(source))),
    };
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(source) => return f(Err(io_err(source))),
        };
        entries.sort();
        for e in entries {
            visit(&e, false, read, f)?;
        }
        return ControlFlow::Continue(());
    }
    if !selected(path, explicit) {
        return ControlFlow::Continue(());
    }
    let file = match File::open(path) {
        Ok(file) => file,
        Err(source) => return f(Err(io_err(source))),
    };
    let file = Counted { inner: file, read };
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let head = match peek(&mut reader, SNIFF) {
        Ok(h) => h,
        Err(source) => return f(Err(io_err(source))),
    };
    match sniff(&head) {
        Kind::Gzip => read_tar(path, flate2::bufread::MultiGzDecoder::new(reader), f),
        Kind::Tar => read_tar(path, reader, f),
        Kind::Message => read_message(path, meta.len(), reader, f),
    }
}

/// What a file holds, from its first [`SNIFF`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gzip,
    Tar,
    Message,
}

/// Bytes [`sniff`] needs: a tar header's "ustar" ends at 262.
const SNIFF: usize = 262;

/// Gzip magic, or a tar header ("ustar" at 257), else one message.
fn sniff(head: &[u8]) -> Kind {
    if head.starts_with(&[0x1f, 0x8b]) {
        Kind::Gzip
    } else if head.len() >= SNIFF && &head[257..SNIFF] == b"ustar" {
        Kind::Tar
    } else {
        Kind::Message
    }
}

/// A file that is one message.
fn read_message<R: Read>(
    path: &Path,
    len: u64,
    mut reader: R,
    f: &mut impl FnMut(Result<RawAlert, SourceError>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let origin = || Origin {
        path: path.to_path_buf(),
        member: None,
        offset: None,
    };
    if len > MAX_ALERT_BYTES {
        return f(Err(SourceError::TooLarge {
            origin: origin(),
            size: len,
        }));
    }
    let mut buf = Vec::with_capacity(len as usize);
    match reader.read_to_end(&mut buf) {
        Ok(_) => f(Ok(RawAlert {
            origin: origin(),
            bytes: buf.into(),
            timestamp_ms: None,
        })),
        Err(source) => f(Err(SourceError::Io {
            origin: origin(),
            source,
        })),
    }
}

/// Whether a file is read: given explicitly, or found in a directory
/// with an alert or archive name.
fn selected(path: &Path, explicit: bool) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let is_archive = name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz");
    explicit || is_archive || name.ends_with(".avro")
}

/// Whether a tar member is an alert: an `.avro` file, not macOS's `._`
/// resource-fork companion.
fn alert_member(member: &str) -> bool {
    let base = member.rsplit('/').next().unwrap_or("");
    member.to_lowercase().ends_with(".avro") && !base.starts_with("._")
}

fn peek<R: Read>(reader: &mut BufReader<R>, n: usize) -> std::io::Result<Vec<u8>> {
    use std::io::BufRead;
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(n)].to_vec())
}

fn read_tar<R: Read>(
    path: &Path,
    reader: R,
    f: &mut impl FnMut(Result<RawAlert, SourceError>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let whole_err = |source| SourceError::Io {
        origin: Origin {
            path: path.to_path_buf(),
            member: None,
            offset: None,
        },
        source,
    };
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(source) => return f(Err(whole_err(source))),
    };
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(source) => {
                // The stream is broken (truncated or corrupt): nothing after
                // this point can be located, so report and leave the archive.
                return f(Err(whole_err(source)));
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let member = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| String::from_utf8_lossy(&entry.path_bytes()).into_owned());
        if !alert_member(&member) {
            continue;
        }
        let origin = Origin {
            path: path.to_path_buf(),
            member: Some(member),
            offset: Some(entry.raw_file_position()),
        };
        let size = entry.size();
        if size > MAX_ALERT_BYTES {
            f(Err(SourceError::TooLarge { origin, size }))?;
            continue;
        }
        let mut buf = Vec::with_capacity(size as usize);
        match entry.read_to_end(&mut buf) {
            Ok(_) => f(Ok(RawAlert {
                origin,
                bytes: buf.into(),
                timestamp_ms: None,
            }))?,
            Err(source) => return f(Err(SourceError::Io { origin, source })),
        }
    }
    ControlFlow::Continue(())
}
