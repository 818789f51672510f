//! How MongoDB errors become [`StoreError`]s: transient or permanent from
//! the driver's error labels, kinds and server codes, never message text;
//! and the retry bounds of a batch's transaction.

use ampel::store::StoreError;

/// The address without credentials, for messages.
pub(super) fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &uri[..s], &uri[at + 1..]),
        _ => uri.to_string(),
    }
}

pub(super) const TRANSIENT_TRANSACTION_ERROR: &str = "TransientTransactionError";
pub(super) const UNKNOWN_TRANSACTION_COMMIT_RESULT: &str = "UnknownTransactionCommitResult";
/// How long, and how often, a batch's transaction is retried on a transient
/// conflict before the error goes up (still marked transient). Longer than
/// the server's transaction lifetime (`transactionLifetimeLimitSeconds`,
/// 60 s on mongod and SecantusDB): a writer killed with SIGKILL inside a
/// transaction leaves it open, holding its documents, until the server
/// aborts it; its replacement, redelivered the same alerts, conflicts on
/// them until then (30 s gave up first: exit 5 in a kill test).
pub(super) const TXN_RETRY_LIMIT: std::time::Duration = std::time::Duration::from_secs(90);
pub(super) const TXN_MAX_ATTEMPTS: u32 = 400;

/// 5 ms doubling to 500 ms, with jitter so conflicting writers spread out.
pub(super) fn backoff(attempt: u32) -> std::time::Duration {
    let base = 5u64.saturating_mul(1 << attempt.min(7)).min(500);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    std::time::Duration::from_millis(base / 2 + nanos % (base / 2 + 1))
}

/// Server error codes after which the same operation may succeed: write
/// conflicts, lock and step-down states, network and shutdown codes
/// (the set the drivers' retryable-error specifications name).
const TRANSIENT_CODES: &[i32] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    112,   // WriteConflict
    189,   // PrimarySteppedDown
    262,   // ExceededTimeLimit
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
    24,    // LockTimeout
];

/// Whether a driver error is worth retrying, from its labels, kind and
/// server code only.
pub(super) fn is_transient(e: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    if e.contains_label(TRANSIENT_TRANSACTION_ERROR)
        || e.contains_label("RetryableWriteError")
        || e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
    {
        return true;
    }
    match &*e.kind {
        ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::ServerSelection { .. } => true,
        ErrorKind::Command(c) => TRANSIENT_CODES.contains(&c.code),
        ErrorKind::Write(mongodb::error::WriteFailure::WriteConcernError(w)) => {
            TRANSIENT_CODES.contains(&w.code)
        }
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => {
            TRANSIENT_CODES.contains(&w.code)
        }
        _ => false,
    }
}

pub(super) fn backend_error(location: &str, e: mongodb::error::Error) -> StoreError {
    StoreError::Backend {
        location: location.to_string(),
        transient: is_transient(&e),
        reason: e.to_string(),
    }
}

/// Standalone servers refuse transactions (IllegalOperation, code 20).
pub(super) fn no_transactions(e: &mongodb::error::Error) -> bool {
    matches!(*e.kind, mongodb::error::ErrorKind::Command(ref c) if c.code == 20)
}

/// A unique index refused an insert (code 11000): a concurrent upsert of
/// the same key won.
pub(super) fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*e.kind {
        ErrorKind::Command(c) => c.code == 11000,
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        _ => false,
    }
}
