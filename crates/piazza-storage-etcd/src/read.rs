//! Reads: get and list, at the latest, a minimum or an exact revision.
//!
//! - `Latest` is a linearizable range (etcd's default), served at its header revision.
//! - `NotOlderThan(r)` is the same read, refused with `TooLargeResourceVersion` if the header
//!   revision is below `r`.
//! - `Exact(r)` is a range at revision `r`; etcd's compacted and future-revision errors become
//!   `Compacted` and `TooLargeResourceVersion`.
//!
//! A list reads in batches at one fixed revision (the first batch's), so a predicate that
//! rejects most keys never produces an empty page while matches remain, and no response is
//! unbounded. Without a predicate the page is a single range with `limit` keys, and etcd's
//! `count` of the rest of the range gives the exact `remaining`.

use etcd_client::{GetOptions, GetResponse};
use piazza_storage::{KeyValue, ListOptions, ListResult, ReadRevision, Revision, StorageError};

use crate::bounds;
use crate::client::{Conn, header_revision};
use crate::error::unexpected;
use crate::keys::{convert, from_etcd, key_after, prefix_end, range_start, to_etcd};

/// The most keys one range request asks for.
const MAX_BATCH: usize = 1000;

/// Reads one key (see [`piazza_storage::Storage::get`]).
pub(crate) async fn get(conn: &Conn, key: &str, revision: ReadRevision) -> Result<KeyValue, StorageError> {
    let mut response = range(conn, key.as_bytes().to_vec(), None, revision, 0, key).await?.0;
    match response.take_kvs().into_iter().next() {
        Some(kv) => convert(kv),
        None => Err(StorageError::NotFound { key: key.to_owned() }),
    }
}

/// Lists the keys under `prefix` (see [`piazza_storage::Storage::list`]).
pub(crate) async fn list(
    conn: &Conn,
    prefix: &str,
    options: &ListOptions,
) -> Result<ListResult, StorageError> {
    let end = prefix_end(prefix.as_bytes());
    let mut start = match options.start_after.as_deref() {
        Some(after) if after >= prefix => key_after(after.as_bytes()),
        _ => range_start(prefix.as_bytes().to_vec()),
    };
    let limit = options.limit.filter(|&l| l > 0);
    let mut revision = options.revision;
    let mut items = Vec::new();
    let mut batch = limit.unwrap_or(MAX_BATCH).min(MAX_BATCH);
    loop {
        let want = match (&options.predicate, limit) {
            (None, Some(limit)) => (limit - items.len()).min(MAX_BATCH),
            _ => batch,
        };
        let (mut response, at) = range(conn, start.clone(), Some(&end), revision, want, prefix).await?;
        // Every later batch reads the snapshot of the first.
        revision = ReadRevision::Exact(at);
        let (more, count) = (response.more(), from_etcd(response.count()));
        let kvs = response.take_kvs();
        let fetched = kvs.len() as u64;
        let last_key = kvs.last().map(|kv| kv.key().to_vec());
        for (i, kv) in kvs.into_iter().enumerate() {
            if limit.is_some_and(|l| items.len() >= l) {
                // Keys follow the page: this one and perhaps more.
                return Ok(page(items, at, count - i as u64, options));
            }
            let kv = convert(kv)?;
            if options.predicate.as_ref().is_none_or(|p| p(&kv)) {
                items.push(kv);
            }
        }
        if !more {
            return Ok(ListResult { items, revision: at, more: false, remaining: None });
        }
        if limit.is_some_and(|l| items.len() >= l) {
            return Ok(page(items, at, count - fetched, options));
        }
        match last_key {
            Some(last) => start = key_after(&last),
            None => return Err(unexpected("listing from etcd", "a range said `more` but returned no keys")),
        }
        batch = (batch * 2).min(MAX_BATCH);
    }
}

/// A full page followed by `remaining` more keys (counted only without a predicate).
fn page(items: Vec<KeyValue>, revision: Revision, remaining: u64, options: &ListOptions) -> ListResult {
    let remaining = options.predicate.is_none().then_some(remaining);
    ListResult { items, revision, more: true, remaining }
}

/// One range request `[start, end)` (or the single key `start`) at `revision`, with at most
/// `limit` keys (0: all). Returns the response and the revision it was served at.
async fn range(
    conn: &Conn,
    start: Vec<u8>,
    end: Option<&[u8]>,
    revision: ReadRevision,
    limit: usize,
    what: &str,
) -> Result<(GetResponse, Revision), StorageError> {
    let context = || format!("reading {what:?} from etcd");
    let exact = match revision {
        // Revision 0 never names a state; the empty state before the first write is 1.
        ReadRevision::Exact(r) => Some(r.max(1)),
        ReadRevision::Latest | ReadRevision::NotOlderThan(_) => None,
    };
    let mut options = GetOptions::new().with_revision(exact.map_or(0, to_etcd));
    if let Some(end) = end {
        options = options.with_range(end.to_vec());
    }
    if limit > 0 {
        options = options.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
    }
    let response = match conn.range(start, options).await {
        Ok(response) => response,
        Err(e) => {
            let requested = match revision {
                ReadRevision::Exact(r) | ReadRevision::NotOlderThan(r) => r,
                ReadRevision::Latest => 0,
            };
            return Err(bounds::read_error(conn, e, requested, context()).await);
        }
    };
    let served = header_revision(response.header()).ok_or_else(|| unexpected(&context(), "no header"))?;
    match revision {
        ReadRevision::Exact(_) => Ok((response, exact.unwrap_or(served))),
        ReadRevision::NotOlderThan(r) if r > served => {
            Err(StorageError::TooLargeResourceVersion { requested: r, current: served })
        }
        ReadRevision::Latest | ReadRevision::NotOlderThan(_) => Ok((response, served)),
    }
}
