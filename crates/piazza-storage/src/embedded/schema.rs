//! The embedded store's on-disk layout, and the small helpers every reader and writer shares.
//!
//! Tables:
//!
//! | table      | key                 | value                                   |
//! |------------|---------------------|-----------------------------------------|
//! | `kv`       | `(key, revision)`   | `(create_revision, Some(value) \| None)` (`None` = tombstone) |
//! | `changes`  | `revision`          | `key` written at that revision          |
//! | `times`    | `revision`          | commit time, Unix milliseconds          |
//! | `meta`     | name                | `u64` (see the `META_*` names)          |
//!
//! `kv` holds every version still in the history window, so the state at revision `r` is, for each
//! key, its newest version at or below `r`. `changes` orders history for watches. `times` lets
//! compaction find the revision at the edge of the time window.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redb::{ReadableTable, TableDefinition};

use crate::error::StorageError;
use crate::types::{KeyValue, Revision};

/// A `kv` key: `(key, revision)`.
pub(crate) type KvKey = (&'static str, u64);
/// A `kv` value: `(create_revision, value)`, with `None` for a tombstone.
pub(crate) type KvValue = (u64, Option<&'static [u8]>);

/// Every version of every key: `(key, revision) -> (create_revision, value or tombstone)`.
pub(crate) const KV: TableDefinition<KvKey, KvValue> = TableDefinition::new("kv");
/// Which key each revision wrote.
pub(crate) const CHANGES: TableDefinition<u64, &str> = TableDefinition::new("changes");
/// When each revision was committed (Unix ms, never decreasing).
pub(crate) const TIMES: TableDefinition<u64, u64> = TableDefinition::new("times");
/// Store-wide counters.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// `meta`: the latest committed revision.
pub(crate) const META_CURRENT: &str = "current_revision";
/// `meta`: history at or below this revision is gone.
pub(crate) const META_COMPACTED: &str = "compacted_revision";
/// `meta`: the commit time of the latest revision (keeps `times` monotonic).
pub(crate) const META_LAST_COMMIT_MS: &str = "last_commit_ms";
/// `meta`: the layout version.
pub(crate) const META_SCHEMA: &str = "schema_version";
/// The layout this code writes.
pub(crate) const SCHEMA_VERSION: u64 = 1;

/// The name of the database file inside the store's directory.
pub(crate) const DB_FILE: &str = "piazza.redb";

/// One stored version of a key.
#[derive(Clone, Debug)]
pub(crate) struct Version {
    /// The revision that wrote it.
    pub(crate) revision: Revision,
    /// The revision that created this incarnation of the key.
    pub(crate) create_revision: Revision,
    /// The bytes, or `None` for a tombstone.
    pub(crate) value: Option<Bytes>,
}

impl Version {
    /// As a [`KeyValue`], if it is not a tombstone.
    pub(crate) fn into_key_value(self, key: &str) -> Option<KeyValue> {
        self.into_key_value_owned(key.to_owned())
    }

    /// As a [`KeyValue`] that takes ownership of `key`, if it is not a tombstone.
    pub(crate) fn into_key_value_owned(self, key: String) -> Option<KeyValue> {
        let value = self.value?;
        Some(KeyValue { key, value, create_revision: self.create_revision, mod_revision: self.revision })
    }
}

/// Wraps a redb failure as [`StorageError::Internal`].
pub(crate) fn db_err(context: &'static str) -> impl FnOnce(redb::Error) -> StorageError {
    move |e| StorageError::internal(context, e)
}

/// Shorthand for converting any redb error type into [`StorageError::Internal`].
pub(crate) trait DbResult<T> {
    /// Maps the error, naming what was being done.
    fn ctx(self, context: &'static str) -> Result<T, StorageError>;
}

impl<T, E: Into<redb::Error>> DbResult<T> for Result<T, E> {
    fn ctx(self, context: &'static str) -> Result<T, StorageError> {
        self.map_err(|e| db_err(context)(e.into()))
    }
}

/// Reads a `meta` counter (0 if unset).
pub(crate) fn meta_get(
    table: &impl ReadableTable<&'static str, u64>,
    name: &str,
) -> Result<u64, StorageError> {
    Ok(table.get(name).ctx("reading meta")?.map(|g| g.value()).unwrap_or(0))
}

/// The newest version of `key` at or below `at`, if any (tombstones included).
pub(crate) fn version_at(
    table: &impl ReadableTable<KvKey, KvValue>,
    key: &str,
    at: Revision,
) -> Result<Option<Version>, StorageError> {
    let mut range = table.range((key, 0u64)..=(key, at)).ctx("reading key history")?;
    match range.next_back() {
        None => Ok(None),
        Some(entry) => {
            let (k, v) = entry.ctx("reading key history")?;
            let (_, revision) = k.value();
            let (create_revision, value) = v.value();
            Ok(Some(Version { revision, create_revision, value: value.map(Bytes::copy_from_slice) }))
        }
    }
}

/// The wall clock in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
