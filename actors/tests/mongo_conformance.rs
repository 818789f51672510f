//! The archive conformance suite (tests/conformance) against MongoDB, when
//! AMPEL_TEST_MONGO_URI names a server (e.g. mongodb://127.0.0.1:27017).
//! Each check gets its own database, dropped afterwards. Without the
//! variable the suite is skipped, and says so on the terminal even though
//! cargo captures test output.

#[path = "../../tests/conformance/mod.rs"]
mod conformance;

use ampel_actors::store::MongoArchive;
use std::io::Write;

#[test]
fn mongo_archive_conforms() {
    let Ok(uri) = std::env::var("AMPEL_TEST_MONGO_URI") else {
        // Written to the stderr handle directly: not captured by libtest.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: MongoDB archive conformance suite: AMPEL_TEST_MONGO_URI is not set \
             (no MongoDB server). Only the embedded archive was checked. ***\n"
        );
        return;
    };
    let mut n = 0;
    let mut made = Vec::new();
    conformance::run_all(&mut || {
        n += 1;
        let name = format!("ampel_conformance_{}_{n}", std::process::id());
        made.push(name.clone());
        Box::new(MongoArchive::connect(&uri, Some(&name)).unwrap_or_else(|e| panic!("{e}")))
    });
    let shared = format!("ampel_concurrent_{}", std::process::id());
    conformance::concurrent_writers(&|| {
        Box::new(MongoArchive::connect(&uri, Some(&shared)).unwrap_or_else(|e| panic!("{e}")))
    });
    made.push(shared);
    for name in made {
        MongoArchive::connect(&uri, Some(&name))
            .unwrap()
            .drop_database()
            .unwrap();
    }
}
