//! Compaction: dropping history at or below a revision while keeping the state at that revision.
//!
//! For every key written in the compacted range, all versions at or below the target are removed
//! except the newest one, which stays if it is live (it is the key's state at the target, and the
//! `prev` of the key's next event) and goes if it is a tombstone. The `changes` and `times` rows
//! of the range go too. Large ranges are compacted in batches, one transaction each, so writers
//! are never held up for long.

use std::collections::BTreeSet;
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable};

use super::read;
use super::schema::{CHANGES, DbResult, KV, META, META_COMPACTED, TIMES, meta_get, now_ms};
use super::write;
use crate::error::StorageError;
use crate::types::Revision;

/// Revisions compacted per transaction.
const BATCH: Revision = 4096;

/// Compacts history at or below `target` (see [`crate::Storage::compact`]).
pub(crate) fn compact(db: &Database, target: Revision) -> Result<(), StorageError> {
    let b = read::bounds(&read::begin(db)?)?;
    if target > b.current {
        return Err(StorageError::TooLargeResourceVersion { requested: target, current: b.current });
    }
    while compact_batch(db, target)? {}
    Ok(())
}

/// Compacts the next batch towards `target`; returns whether there is more to do.
fn compact_batch(db: &Database, target: Revision) -> Result<bool, StorageError> {
    let txn = write::begin(db)?;
    let compacted = meta_get(&txn.open_table(META).ctx("opening meta")?, META_COMPACTED)?;
    if target <= compacted {
        return Ok(false);
    }
    let end = target.min(compacted.saturating_add(BATCH));

    let keys: BTreeSet<String> = {
        let changes = txn.open_table(CHANGES).ctx("opening changes")?;
        let mut keys = BTreeSet::new();
        for entry in changes.range(compacted + 1..=end).ctx("scanning changes")? {
            keys.insert(entry.ctx("scanning changes")?.1.value().to_owned());
        }
        keys
    };
    {
        let mut kv = txn.open_table(KV).ctx("opening kv")?;
        for key in &keys {
            let mut doomed: Vec<Revision> = Vec::new();
            let mut newest_is_live = false;
            for entry in kv.range((key.as_str(), 0u64)..=(key.as_str(), end)).ctx("scanning kv")? {
                let (k, v) = entry.ctx("scanning kv")?;
                doomed.push(k.value().1);
                newest_is_live = v.value().1.is_some();
            }
            if newest_is_live {
                doomed.pop();
            }
            for rev in doomed {
                kv.remove((key.as_str(), rev)).ctx("compacting kv")?;
            }
        }
    }
    let range = compacted + 1..=end;
    txn.open_table(CHANGES)
        .ctx("opening changes")?
        .retain_in(range.clone(), |_, _| false)
        .ctx("compacting changes")?;
    txn.open_table(TIMES).ctx("opening times")?.retain_in(range, |_, _| false).ctx("compacting times")?;
    txn.open_table(META).ctx("opening meta")?.insert(META_COMPACTED, end).ctx("writing meta")?;
    write::commit(txn)?;
    Ok(end < target)
}

/// The revision the retention policy allows compacting to: everything committed longer than
/// `window` ago, and everything beyond the newest `max_revisions` revisions.
pub(crate) fn policy_target(
    db: &Database,
    window: Duration,
    max_revisions: u64,
) -> Result<Revision, StorageError> {
    let txn = db.begin_read().ctx("starting a read transaction")?;
    let b = read::bounds(&txn)?;
    let by_count = b.current.saturating_sub(max_revisions);
    let cutoff = now_ms().saturating_sub(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
    let mut by_time = b.compacted;
    let times = txn.open_table(TIMES).ctx("opening times")?;
    for entry in times.range(b.compacted + 1..=b.current).ctx("scanning times")? {
        let (rev, at) = entry.ctx("scanning times")?;
        if at.value() > cutoff {
            break;
        }
        by_time = rev.value();
    }
    Ok(by_time.max(by_count).min(b.current))
}
