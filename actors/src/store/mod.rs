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
