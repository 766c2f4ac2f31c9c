//! Reads against one redb snapshot: get, list and watch history. Plain blocking functions; the
//! store runs them on the blocking pool.

use std::ops::Bound;

use bytes::Bytes;
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable};

use super::schema::{
    CHANGES, DbResult, KV, KvKey, KvValue, META, META_COMPACTED, META_CURRENT, Version, meta_get, version_at,
};
use crate::error::StorageError;
use crate::scope::in_watch_scope;
use crate::types::{Event, EventType, KeyValue, ListOptions, ListResult, ReadRevision, Revision};

/// The current and compacted revisions of one snapshot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    /// The latest committed revision.
    pub(crate) current: Revision,
    /// History at or below this is gone.
    pub(crate) compacted: Revision,
}

/// Opens a read transaction.
pub(crate) fn begin(db: &Database) -> Result<ReadTransaction, StorageError> {
    db.begin_read().ctx("starting a read transaction")
}

/// The current and compacted revisions as of `txn`.
pub(crate) fn bounds(txn: &ReadTransaction) -> Result<Bounds, StorageError> {
    let meta = txn.open_table(META).ctx("opening meta")?;
    Ok(Bounds { current: meta_get(&meta, META_CURRENT)?, compacted: meta_get(&meta, META_COMPACTED)? })
}

/// The revision a read with `requested` is served at, or why it cannot be served.
pub(crate) fn resolve(requested: ReadRevision, b: Bounds) -> Result<Revision, StorageError> {
    match requested {
        ReadRevision::Latest => Ok(b.current),
        ReadRevision::NotOlderThan(r) if r > b.current => {
            Err(StorageError::TooLargeResourceVersion { requested: r, current: b.current })
        }
        ReadRevision::NotOlderThan(_) => Ok(b.current),
        ReadRevision::Exact(r) if r > b.current => {
            Err(StorageError::TooLargeResourceVersion { requested: r, current: b.current })
        }
        ReadRevision::Exact(r) if r < b.compacted => {
            Err(StorageError::Compacted { requested: r, compacted: b.compacted })
        }
        ReadRevision::Exact(r) => Ok(r),
    }
}

/// Reads one key.
pub(crate) fn get(db: &Database, key: &str, revision: ReadRevision) -> Result<KeyValue, StorageError> {
    let txn = begin(db)?;
    let at = resolve(revision, bounds(&txn)?)?;
    let kv = txn.open_table(KV).ctx("opening kv")?;
    version_at(&kv, key, at)?
        .and_then(|v| v.into_key_value(key))
        .ok_or_else(|| StorageError::NotFound { key: key.to_owned() })
}

/// Lists the keys under `prefix` (see [`crate::Storage::list`]).
pub(crate) fn list(db: &Database, prefix: &str, options: &ListOptions) -> Result<ListResult, StorageError> {
    let txn = begin(db)?;
    let at = resolve(options.revision, bounds(&txn)?)?;
    let kv = txn.open_table(KV).ctx("opening kv")?;

    let start = match options.start_after.as_deref() {
        Some(after) if after >= prefix => Bound::Excluded((after, u64::MAX)),
        _ => Bound::Included((prefix, 0u64)),
    };
    let range = kv.range::<(&str, u64)>((start, Bound::Unbounded)).ctx("scanning kv")?;

    let mut page = Page::new(options);
    // The key being scanned, and its newest version at or below `at` so far.
    let mut current: Option<(String, Option<Version>)> = None;
    for entry in range {
        let (k, v) = entry.ctx("scanning kv")?;
        let (key, revision) = k.value();
        if !key.starts_with(prefix) {
            break;
        }
        if current.as_ref().is_none_or(|(k, _)| k != key) {
            if let Some((done, best)) = current.take()
                && page.offer(done, best)
            {
                return Ok(page.finish(at));
            }
            current = Some((key.to_owned(), None));
        }
        if revision <= at
            && let Some((_, best)) = current.as_mut()
        {
            let (create_revision, value) = v.value();
            // Copy bytes only while the page still takes items: counting needs liveness alone.
            let value = value.map(|b| if page.full() { Bytes::new() } else { Bytes::copy_from_slice(b) });
            *best = Some(Version { revision, create_revision, value });
        }
    }
    if let Some((done, best)) = current.take() {
        page.offer(done, best);
    }
    Ok(page.finish(at))
}

/// The state of one list page as keys stream past.
struct Page<'o> {
    options: &'o ListOptions,
    items: Vec<KeyValue>,
    limit: Option<usize>,
    more: bool,
    remaining: u64,
}

impl<'o> Page<'o> {
    fn new(options: &'o ListOptions) -> Self {
        let limit = options.limit.filter(|&l| l > 0);
        Page { options, items: Vec::new(), limit, more: false, remaining: 0 }
    }

    fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.items.len() >= l)
    }

    /// Takes the version of `key` at the list revision; returns true when the scan can stop.
    fn offer(&mut self, key: String, version: Option<Version>) -> bool {
        let Some(item) = version.and_then(|v| v.into_key_value_owned(key)) else {
            return false; // absent at this revision, or a tombstone
        };
        if self.full() {
            self.more = true;
            self.remaining += 1;
            // With a predicate there is no remaining count to give, so one key is enough.
            return self.options.predicate.is_some();
        }
        if self.options.predicate.as_ref().is_none_or(|p| p(&item)) {
            self.items.push(item);
        }
        false
    }

    fn finish(self, revision: Revision) -> ListResult {
        let remaining = (self.more && self.options.predicate.is_none()).then_some(self.remaining);
        ListResult { items: self.items, revision, more: self.more, remaining }
    }
}

/// The events in scope of `prefix` with revisions in `(after, upto]`, in order.
///
/// [`StorageError::Compacted`] if `after` is below the compacted revision: some of the events
/// after it are gone.
pub(crate) fn history(
    db: &Database,
    prefix: &str,
    after: Revision,
    upto: Revision,
) -> Result<Vec<Event>, StorageError> {
    let txn = begin(db)?;
    let b = bounds(&txn)?;
    if after < b.compacted {
        return Err(StorageError::Compacted { requested: after, compacted: b.compacted });
    }
    let upto = upto.min(b.current);
    if upto <= after {
        return Ok(Vec::new());
    }
    let changes = txn.open_table(CHANGES).ctx("opening changes")?;
    let kv = txn.open_table(KV).ctx("opening kv")?;
    let mut events = Vec::new();
    for entry in changes.range(after + 1..=upto).ctx("scanning changes")? {
        let (rev, key) = entry.ctx("scanning changes")?;
        let key = key.value();
        if in_watch_scope(prefix, key) {
            events.push(event_at(&kv, key, rev.value())?);
        }
    }
    Ok(events)
}

/// Rebuilds the event that revision `rev` wrote to `key`.
fn event_at(
    kv: &impl ReadableTable<KvKey, KvValue>,
    key: &str,
    rev: Revision,
) -> Result<Event, StorageError> {
    let missing =
        || StorageError::internal("rebuilding a watch event", format!("no version of {key:?} at {rev}"));
    let this = version_at(kv, key, rev)?.filter(|v| v.revision == rev).ok_or_else(missing)?;
    // Compaction keeps the newest live version at or below the compacted revision, so the
    // version before any retained event is still here whenever it was live.
    let prev = match rev.checked_sub(1) {
        Some(before) => version_at(kv, key, before)?.and_then(|v| v.into_key_value(key)),
        None => None,
    };
    match this.value {
        Some(value) => Ok(Event {
            event_type: if prev.is_some() { EventType::Modified } else { EventType::Added },
            kv: KeyValue {
                key: key.to_owned(),
                value,
                create_revision: this.create_revision,
                mod_revision: rev,
            },
            prev,
        }),
        None => {
            let last = prev.ok_or_else(|| {
                StorageError::internal(
                    "rebuilding a watch event",
                    format!("delete of {key:?} at {rev} has no prior value"),
                )
            })?;
            Ok(Event {
                event_type: EventType::Deleted,
                kv: KeyValue { mod_revision: rev, ..last.clone() },
                prev: Some(last),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(current: Revision, compacted: Revision) -> Bounds {
        Bounds { current, compacted }
    }

    #[test]
    fn latest_and_not_older_than_serve_the_current_revision() {
        assert_eq!(resolve(ReadRevision::Latest, b(9, 4)).unwrap(), 9);
        assert_eq!(resolve(ReadRevision::NotOlderThan(0), b(9, 4)).unwrap(), 9);
        assert_eq!(resolve(ReadRevision::NotOlderThan(2), b(9, 4)).unwrap(), 9);
        assert_eq!(resolve(ReadRevision::NotOlderThan(9), b(9, 4)).unwrap(), 9);
        assert!(
            resolve(ReadRevision::NotOlderThan(10), b(9, 4)).unwrap_err().is_too_large_resource_version()
        );
    }

    #[test]
    fn exact_is_bounded_by_compaction_and_the_current_revision() {
        assert_eq!(resolve(ReadRevision::Exact(4), b(9, 4)).unwrap(), 4);
        assert_eq!(resolve(ReadRevision::Exact(9), b(9, 4)).unwrap(), 9);
        assert!(resolve(ReadRevision::Exact(3), b(9, 4)).unwrap_err().is_compacted());
        assert!(resolve(ReadRevision::Exact(10), b(9, 4)).unwrap_err().is_too_large_resource_version());
        assert_eq!(resolve(ReadRevision::Exact(0), b(0, 0)).unwrap(), 0);
    }
}
