//! Writes: each takes the next revision inside a durable redb transaction. Plain blocking
//! functions; the group committer ([`super::group`]) applies a batch of them, in order, in one
//! transaction and commits once.
//!
//! Each write checks its precondition (absent key, expected mod revision) before it changes
//! anything, so a write whose precondition fails leaves the transaction as it was and the
//! other writes of its batch are unaffected.

use bytes::Bytes;
use redb::{Database, Durability, WriteTransaction};

use super::schema::{
    CHANGES, DbResult, KV, META, META_CURRENT, META_LAST_COMMIT_MS, TIMES, Version, meta_get, now_ms,
    version_at,
};
use crate::error::StorageError;
use crate::types::{Event, EventType, KeyValue, Revision};

/// One write, as queued for a group commit.
#[derive(Debug)]
pub(crate) enum Op {
    /// Create `key`.
    Create { key: String, value: Bytes },
    /// Replace `key` if its mod revision is `expected`.
    Update { key: String, expected: Revision, value: Bytes },
    /// Delete `key`, if given only when its mod revision is `expected`.
    Delete { key: String, expected: Option<Revision> },
}

/// What a write did.
#[derive(Debug)]
pub(crate) struct Written {
    /// What the caller gets back.
    pub(crate) kv: KeyValue,
    /// The event to publish, if a revision was written.
    pub(crate) event: Option<Event>,
}

/// A write's own answer: `Err` is its refusal (not found, already exists, conflict), which
/// changed nothing.
pub(crate) type Outcome = Result<Written, StorageError>;

/// Applies `ops` in order in one transaction and commits it durably (one fsync) if any of them
/// wrote. Returns each write's outcome, in order. `Err` means the transaction failed: nothing
/// was written and no outcome stands.
pub(crate) fn apply_batch(db: &Database, ops: Vec<Op>) -> Result<Vec<Outcome>, StorageError> {
    let txn = begin(db)?;
    let outcomes = ops.into_iter().map(|op| apply(&txn, op)).collect::<Result<Vec<_>, _>>()?;
    if outcomes.iter().any(|o| o.as_ref().is_ok_and(|w| w.event.is_some())) {
        commit(txn)?;
    }
    // Otherwise nothing was written: dropping the transaction aborts it.
    Ok(outcomes)
}

/// Applies one write inside `txn`. The outer `Err` is a failure of the transaction itself.
fn apply(txn: &WriteTransaction, op: Op) -> Result<Outcome, StorageError> {
    match op {
        Op::Create { key, value } => create(txn, key, value),
        Op::Update { key, expected, value } => update(txn, key, expected, value),
        Op::Delete { key, expected } => delete(txn, key, expected),
    }
}

/// Creates `key`.
fn create(txn: &WriteTransaction, key: String, value: Bytes) -> Result<Outcome, StorageError> {
    if live_version(txn, &key)?.is_some() {
        return Ok(Err(StorageError::AlreadyExists { key }));
    }
    let rev = append(txn, &key, None, Some(&value))?;
    let kv = KeyValue { key, value, create_revision: rev, mod_revision: rev };
    Ok(Ok(Written { event: Some(Event { event_type: EventType::Added, kv: kv.clone(), prev: None }), kv }))
}

/// Replaces the value of `key` if its mod revision is `expected`.
fn update(
    txn: &WriteTransaction,
    key: String,
    expected: Revision,
    value: Bytes,
) -> Result<Outcome, StorageError> {
    let prev = match checked_version(txn, key, Some(expected))? {
        Ok(prev) => prev,
        Err(refused) => return Ok(Err(refused)),
    };
    if prev.value == value {
        // Nothing to write.
        return Ok(Ok(Written { kv: prev, event: None }));
    }
    let rev = append(txn, &prev.key, Some(prev.create_revision), Some(&value))?;
    let kv = KeyValue { mod_revision: rev, value, ..prev.clone() };
    Ok(Ok(Written {
        event: Some(Event { event_type: EventType::Modified, kv: kv.clone(), prev: Some(prev) }),
        kv,
    }))
}

/// Deletes `key`, if given only when its mod revision is `expected`.
fn delete(txn: &WriteTransaction, key: String, expected: Option<Revision>) -> Result<Outcome, StorageError> {
    let prev = match checked_version(txn, key, expected)? {
        Ok(prev) => prev,
        Err(refused) => return Ok(Err(refused)),
    };
    let rev = append(txn, &prev.key, Some(prev.create_revision), None)?;
    let kv = KeyValue { mod_revision: rev, ..prev.clone() };
    Ok(Ok(Written {
        event: Some(Event { event_type: EventType::Deleted, kv: kv.clone(), prev: Some(prev) }),
        kv,
    }))
}

/// The live version of `key`, if it exists and (when given) its mod revision is `expected`;
/// the inner `Err` is the refusal otherwise.
fn checked_version(
    txn: &WriteTransaction,
    key: String,
    expected: Option<Revision>,
) -> Result<Result<KeyValue, StorageError>, StorageError> {
    let Some(prev) = live_version(txn, &key)? else {
        return Ok(Err(StorageError::NotFound { key }));
    };
    match expected {
        Some(expected) if prev.mod_revision != expected => {
            Ok(Err(StorageError::Conflict { key, current_revision: prev.mod_revision }))
        }
        _ => Ok(Ok(prev)),
    }
}

/// A write transaction that is durable (fsynced) once committed.
pub(crate) fn begin(db: &Database) -> Result<WriteTransaction, StorageError> {
    let mut txn = db.begin_write().ctx("starting a write transaction")?;
    txn.set_durability(Durability::Immediate).ctx("setting durability")?;
    Ok(txn)
}

/// Commits durably.
pub(crate) fn commit(txn: WriteTransaction) -> Result<(), StorageError> {
    txn.commit().ctx("committing")
}

/// The live (non-tombstone) latest version of `key`.
fn live_version(txn: &WriteTransaction, key: &str) -> Result<Option<KeyValue>, StorageError> {
    let kv = txn.open_table(KV).ctx("opening kv")?;
    Ok(version_at(&kv, key, u64::MAX)?.and_then(|v: Version| v.into_key_value(key)))
}

/// Writes the next revision of `key`: `value` (or a tombstone), created at `create_revision`
/// (`None`: created by this write). Returns the new revision.
fn append(
    txn: &WriteTransaction,
    key: &str,
    create_revision: Option<Revision>,
    value: Option<&[u8]>,
) -> Result<Revision, StorageError> {
    let mut meta = txn.open_table(META).ctx("opening meta")?;
    let rev = meta_get(&meta, META_CURRENT)? + 1;
    // Commit times never go backwards, even if the wall clock does.
    let at = now_ms().max(meta_get(&meta, META_LAST_COMMIT_MS)?);
    meta.insert(META_CURRENT, rev).ctx("writing meta")?;
    meta.insert(META_LAST_COMMIT_MS, at).ctx("writing meta")?;
    txn.open_table(KV)
        .ctx("opening kv")?
        .insert((key, rev), (create_revision.unwrap_or(rev), value))
        .ctx("writing kv")?;
    txn.open_table(CHANGES).ctx("opening changes")?.insert(rev, key).ctx("writing changes")?;
    txn.open_table(TIMES).ctx("opening times")?.insert(rev, at).ctx("writing times")?;
    Ok(rev)
}
