//! Write transactions, and the gate that a process's handles on one file
//! take turns at.

use super::backend;
use crate::store::StoreError;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::sync::{Mutex, MutexGuard};

/// A write transaction taking the write lock at once, so that its reads
/// and writes see no other connection's commit in between (claims by
/// several processes stay atomic).
///
/// Handles of one process on one file (see
/// [`crate::store::Archive::another`]) first take their shared gate: a
/// writer waiting for another thread's commit is woken when it ends, where
/// SQLite's busy handler would poll in sleeps of up to 100 ms. Other
/// processes still meet at SQLite's lock.
pub(super) fn immediate<'c>(
    conn: &'c mut Connection,
    gate: &'c Mutex<()>,
    path: &str,
) -> Result<Gated<'c>, StoreError> {
    let guard = gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend(path))?;
    Ok(Gated { tx, _guard: guard })
}

/// A write transaction holding its gate: the fields drop in order, so the
/// transaction ends (rolled back, unless committed) before the gate opens.
pub(super) struct Gated<'c> {
    tx: Transaction<'c>,
    _guard: MutexGuard<'c, ()>,
}

impl<'c> Gated<'c> {
    pub(super) fn commit(self) -> rusqlite::Result<()> {
        self.tx.commit()
    }
}

impl<'c> std::ops::Deref for Gated<'c> {
    type Target = Transaction<'c>;
    fn deref(&self) -> &Transaction<'c> {
        &self.tx
    }
}
