//! The edges of etcd's history: the errors for reads below the compacted revision or above the
//! current one, with the revisions the trait's errors carry.
//!
//! etcd 3.4 does not report its compacted revision on a read that hits it, nor anywhere else
//! cheap. A watch does: a watch that starts below the compacted revision is cancelled with
//! `compact_revision` set. So only on that (rare) error path, the store opens such a watch to
//! learn the number.

use etcd_client::WatchOptions;
use piazza_storage::{Revision, StorageError};

use crate::client::Conn;
use crate::error::EtcdError;
use crate::keys::{from_etcd, to_etcd};

/// Maps a failed read at `requested` into the trait's error: `Compacted`,
/// `TooLargeResourceVersion`, or `Internal` with `context`.
pub(crate) async fn read_error(
    conn: &Conn,
    error: EtcdError,
    requested: Revision,
    context: impl Into<String>,
) -> StorageError {
    match error {
        EtcdError::Compacted => compacted(conn, requested).await,
        EtcdError::FutureRevision => too_large(conn, requested).await,
        other => other.into_storage(context),
    }
}

/// [`StorageError::Compacted`] for a read at `requested`, which etcd refused as compacted.
pub(crate) async fn compacted(conn: &Conn, requested: Revision) -> StorageError {
    // If the number cannot be had, the next revision is a true lower bound.
    let compacted = compacted_revision(conn, requested).await.unwrap_or(requested + 1);
    StorageError::Compacted { requested, compacted }
}

/// [`StorageError::TooLargeResourceVersion`] for a read at `requested`.
pub(crate) async fn too_large(conn: &Conn, requested: Revision) -> StorageError {
    match conn.current_revision().await {
        Ok(current) => StorageError::TooLargeResourceVersion { requested, current },
        Err(e) => e,
    }
}

/// etcd's compacted revision, known to be above `below`: a watch from `below` is cancelled
/// with it. `None` if etcd does not say so within the request timeout.
pub(crate) async fn compacted_revision(conn: &Conn, below: Revision) -> Option<Revision> {
    let options = WatchOptions::new().with_start_revision(to_etcd(below.max(1)));
    let learn = async {
        let mut stream = conn.watch(b"\0".to_vec(), options).await.ok()?;
        while let Ok(Some(response)) = stream.message().await {
            if response.compact_revision() > 0 {
                return Some(from_etcd(response.compact_revision()));
            }
            if response.canceled() || !response.events().is_empty() {
                return None;
            }
        }
        None
    };
    tokio::time::timeout(conn.timeout(), learn).await.ok().flatten()
}
