//! Archive backends of the runtime, and opening one from an address:
//! `sqlite:PATH` (embedded, from the core) or `mongodb://...` (here).

mod mongo;

pub use mongo::MongoArchive;

use ampel::store::{open_embedded, Archive, StoreError};

/// Opens the archive at `address`.
pub fn open_archive(address: &str) -> Result<Box<dyn Archive>, StoreError> {
    if address.starts_with("mongodb://") || address.starts_with("mongodb+srv://") {
        Ok(Box::new(MongoArchive::connect(address, None)?))
    } else {
        Ok(Box::new(open_embedded(address)?))
    }
}

/// Opens the archive at `address` for reading (viewers): an embedded file
/// must exist and is opened read-only; `bogus:thing` is an error, not a
/// file of that name.
pub fn open_archive_read_only(address: &str) -> Result<Box<dyn Archive>, StoreError> {
    if address.starts_with("mongodb://") || address.starts_with("mongodb+srv://") {
        return Ok(Box::new(MongoArchive::connect(address, None)?));
    }
    let path = match address.split_once(':') {
        None => address,
        Some(("sqlite", p)) => p,
        Some(_) => return Err(StoreError::BadAddress(address.to_string())),
    };
    Ok(Box::new(ampel::store::SqliteArchive::open_read_only(path)?))
}
