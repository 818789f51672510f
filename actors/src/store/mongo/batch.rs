//! How a batch of [`WriteOp`]s reaches the server: its statements
//! ([`Statements`]) go as one `update` (or `insert`) command per
//! collection — one round trip per collection per batch, where one per op
//! made a 172-alert replay 2,058 requests — split only at the server's
//! limits. Updates are ordered (two ops on one document apply in order;
//! the server stops at the first failure), inserts unordered (each is its
//! own document). With transactions the whole batch is one, retried whole
//! on transient conflicts; without, a statement refused by a concurrent
//! upsert (duplicate key) is sent again from where the server stopped.

use super::errors::{
    backoff, is_duplicate_key, TRANSIENT_TRANSACTION_ERROR, TXN_MAX_ATTEMPTS, TXN_RETRY_LIMIT,
    UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
use super::statements::{Statements, Stmt};
use super::sync::MongoSync;
use ampel::store::*;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{Error, ErrorKind, WriteError, WriteFailure};
use mongodb::sync::ClientSession;

/// Statements per command at most (the server's maxWriteBatchSize is
/// 100,000) and command bytes at most (its document limit is 16 MiB).
const MAX_STATEMENTS: usize = 10_000;
const MAX_BYTES: usize = 8 << 20;

impl MongoSync {
    /// The batch in one transaction, retried whole while the server labels
    /// the failure `TransientTransactionError` (a write conflict with a
    /// concurrent writer, a primary stepping down) or a concurrent upsert
    /// won a key, and its commit retried while labelled
    /// `UnknownTransactionCommitResult`: the driver's own `and_run`
    /// pattern, bounded by [`TXN_RETRY_LIMIT`] with back-off.
    pub(super) fn write_in_transaction(&self, ops: &[WriteOp]) -> mongodb::error::Result<()> {
        let statements = Statements::of(ops);
        let mut session = self.client.start_session().run()?;
        let started = std::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let may_retry =
                |attempt: u32| attempt < TXN_MAX_ATTEMPTS && started.elapsed() < TXN_RETRY_LIMIT;
            match self.try_transaction(&mut session, &statements) {
                Ok(()) => return Ok(()),
                Err(e)
                    if (e.contains_label(TRANSIENT_TRANSACTION_ERROR) || is_duplicate_key(&e))
                        && may_retry(attempt) =>
                {
                    std::thread::sleep(backoff(attempt));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn try_transaction(
        &self,
        session: &mut ClientSession,
        statements: &Statements,
    ) -> mongodb::error::Result<()> {
        session.start_transaction().run()?;
        for (collection, stmts) in &statements.by_collection {
            if let Err(f) = self.send_all(collection, stmts, Some(&mut *session)) {
                let _ = session.abort_transaction().run();
                return Err(f.error);
            }
        }
        let mut tries = 0;
        loop {
            tries += 1;
            match session.commit_transaction().run() {
                Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && tries < 5 => {
                    std::thread::sleep(backoff(tries));
                }
                r => return r,
            }
        }
    }

    /// Without a transaction: each statement atomic on its own, in order
    /// per collection. A statement that lost a concurrent upsert's race
    /// (duplicate key) is sent again, with the rest after it.
    pub(super) fn write_op_by_op(&self, ops: &[WriteOp]) -> mongodb::error::Result<()> {
        let statements = Statements::of(ops);
        for (collection, stmts) in &statements.by_collection {
            let mut from = 0;
            let mut attempt = 0;
            loop {
                match self.send_all(collection, &stmts[from..], None) {
                    Ok(()) => break,
                    Err(Failed { done, error }) if is_duplicate_key(&error) && attempt < 5 => {
                        attempt += 1;
                        from += done;
                        std::thread::sleep(backoff(attempt));
                    }
                    Err(Failed { error, .. }) => return Err(error),
                }
            }
        }
        Ok(())
    }

    /// One collection's statements, in as few commands as the limits
    /// allow; runs of updates and of inserts keep their order.
    fn send_all(
        &self,
        collection: &str,
        stmts: &[Stmt],
        mut session: Option<&mut ClientSession>,
    ) -> Result<(), Failed> {
        let mut done = 0;
        for (insert, chunk) in chunks(stmts) {
            let n = chunk.len();
            self.send(collection, chunk, session.as_deref_mut(), insert)
                .map_err(|(at, error)| Failed {
                    done: done + at,
                    error,
                })?;
            done += n;
        }
        Ok(())
    }

    /// One command; on failure, how many statements before the failing
    /// one the server applied.
    fn send(
        &self,
        collection: &str,
        chunk: Vec<Document>,
        session: Option<&mut ClientSession>,
        insert: bool,
    ) -> Result<(), (usize, Error)> {
        let command = if insert {
            doc! {"insert": collection, "documents": chunk, "ordered": false}
        } else {
            doc! {"update": collection, "updates": chunk, "ordered": true}
        };
        let action = self.db.run_command(command);
        let reply = match session {
            Some(s) => action.session(s).run(),
            None => action.run(),
        }
        .map_err(|e| (0, e))?;
        check_reply(&reply)
    }
}

/// The statements as commands' arrays: a new command where updates turn
/// to inserts or back, or at the limits.
fn chunks(stmts: &[Stmt]) -> Vec<(bool, Vec<Document>)> {
    let mut out: Vec<(bool, Vec<Document>)> = Vec::new();
    let mut bytes = 0;
    for stmt in stmts {
        let insert = stmt.is_insert();
        let d = stmt.clone().into_doc();
        let size = encoded_len(&d);
        let fits = out.last().is_some_and(|(kind, c)| {
            *kind == insert && c.len() < MAX_STATEMENTS && bytes + size <= MAX_BYTES
        });
        if !fits {
            out.push((insert, Vec::new()));
            bytes = 0;
        }
        bytes += size;
        out.last_mut().expect("a chunk").1.push(d);
    }
    out
}

/// A document's BSON size, without keeping the bytes.
fn encoded_len(d: &Document) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = d.to_writer(&mut c);
    c.0
}

/// The server's verdict inside an `ok: 1` reply: the first write error
/// (with the index of its statement), or a write concern error.
fn check_reply(reply: &Document) -> Result<(), (usize, Error)> {
    if let Ok(errors) = reply.get_array("writeErrors") {
        if let Some(Bson::Document(w)) = errors.first() {
            let index = w.get_i32("index").unwrap_or(0).max(0) as usize;
            let error: WriteError =
                mongodb::bson::from_document(w.clone()).map_err(|e| (index, Error::from(e)))?;
            return Err((
                index,
                Error::from(ErrorKind::Write(WriteFailure::WriteError(error))),
            ));
        }
    }
    if let Ok(w) = reply.get_document("writeConcernError") {
        let error: mongodb::error::WriteConcernError =
            mongodb::bson::from_document(w.clone()).map_err(|e| (0, Error::from(e)))?;
        return Err((
            0,
            Error::from(ErrorKind::Write(WriteFailure::WriteConcernError(error))),
        ));
    }
    Ok(())
}

/// A collection's statements that failed: `done` of them were applied.
struct Failed {
    done: usize,
    error: Error,
}
