//! Writes: each is one durable redb transaction that takes the next revision. Plain blocking
//! functions; the store calls them one at a time, under its writer lock, on the blocking pool.

use bytes::Bytes;
use redb::{Database, Durability, WriteTransaction};

use super::schema::{
    CHANGES, DbResult, KV, META, META_CURRENT, META_LAST_COMMIT_MS, TIMES, Version, meta_get, now_ms,
    version_at,
};
use crate::error::StorageError;
use crate::types::{Event, EventType, KeyValue, Revision};

/// What a write did.
pub(crate) struct Written {
    /// What the caller gets back.
    pub(crate) kv: KeyValue,
    /// The event to publish, if a revision was committed.
    pub(crate) event: Option<Event>,
}

/// Creates `key`.
pub(crate) fn create(db: &Database, key: &str, value: Bytes) -> Result<Written, StorageError> {
    let txn = begin(db)?;
    if live_version(&txn, key)?.is_some() {
        return Err(StorageError::AlreadyExists { key: key.to_owned() });
    }
    let rev = append(&txn, key, None, Some(&value))?;
    commit(txn)?;
    let kv = KeyValue { key: key.to_owned(), value, create_revision: rev, mod_revision: rev };
    Ok(Written { event: Some(Event { event_type: EventType::Added, kv: kv.clone(), prev: None }), kv })
}

/// Replaces the value of `key` if its mod revision is `expected`.
pub(crate) fn update(
    db: &Database,
    key: &str,
    expected: Revision,
    value: Bytes,
) -> Result<Written, StorageError> {
    let txn = begin(db)?;
    let prev = live_version(&txn, key)?.ok_or_else(|| StorageError::NotFound { key: key.to_owned() })?;
    if prev.mod_revision != expected {
        return Err(StorageError::Conflict { key: key.to_owned(), current_revision: prev.mod_revision });
    }
    if prev.value == value {
        // Nothing to write: the transaction is dropped, which aborts it.
        return Ok(Written { kv: prev, event: None });
    }
    let rev = append(&txn, key, Some(prev.create_revision), Some(&value))?;
    commit(txn)?;
    let kv = KeyValue { mod_revision: rev, value, ..prev.clone() };
    Ok(Written {
        event: Some(Event { event_type: EventType::Modified, kv: kv.clone(), prev: Some(prev) }),
        kv,
    })
}

/// Deletes `key`, if given only when its mod revision is `expected`.
pub(crate) fn delete(db: &Database, key: &str, expected: Option<Revision>) -> Result<Written, StorageError> {
    let txn = begin(db)?;
    let prev = live_version(&txn, key)?.ok_or_else(|| StorageError::NotFound { key: key.to_owned() })?;
    if let Some(expected) = expected
        && prev.mod_revision != expected
    {
        return Err(StorageError::Conflict { key: key.to_owned(), current_revision: prev.mod_revision });
    }
    let rev = append(&txn, key, Some(prev.create_revision), None)?;
    commit(txn)?;
    let kv = KeyValue { mod_revision: rev, ..prev.clone() };
    Ok(Written {
        event: Some(Event { event_type: EventType::Deleted, kv: kv.clone(), prev: Some(prev) }),
        kv,
    })
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
