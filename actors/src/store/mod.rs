//! Archive backends of the runtime, and opening one from an address:
//! `sqlite:PATH` (embedded, from the core) or `mongodb://...` (here).

mod mongo;

pub use mongo::MongoArchive;

use ampel::store::{open_embedded, Archive, StoreError};

/// Opens the archive at `address`: `mongodb://...`, `sqlite:PATH`, a bare
/// path or `:memory:`; any other `scheme:` is an error, not a file of that
/// name.
pub fn open_archive(address: &str) -> Result<Box<dyn Archive>, StoreError> {
    if is_mongo(address) {
        Ok(Box::new(MongoArchive::connect(address, None)?))
    } else {
        Ok(Box::new(open_embedded(embedded_path(address)?)?))
    }
}

/// Opens the archive at `address` for reading (viewers, inspection): an
/// embedded file must exist and is opened read-only.
pub fn open_archive_read_only(address: &str) -> Result<Box<dyn Archive>, StoreError> {
    if is_mongo(address) {
        return Ok(Box::new(MongoArchive::connect(address, None)?));
    }
    Ok(Box::new(ampel::store::SqliteArchive::open_read_only(
        embedded_path(address)?,
    )?))
}

/// Whether `address` names a MongoDB server.
pub fn is_mongo(address: &str) -> bool {
    address.starts_with("mongodb://") || address.starts_with("mongodb+srv://")
}

/// The file of an embedded archive address; an address with another URL
/// scheme (`bogus:thing`, `redis://...`) is refused.
pub fn embedded_path(address: &str) -> Result<&str, StoreError> {
    if address == ":memory:" {
        return Ok(address);
    }
    match address.split_once(':') {
        Some(("sqlite", path)) => Ok(path),
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            Err(StoreError::BadAddress(address.to_string()))
        }
        _ => Ok(address),
    }
}
