//! Compaction: on demand, and in the background the way kube-apiserver does it.
//!
//! etcd's compaction is cluster-wide, so several servers sharing one etcd must not each
//! compact on their own clock. kube-apiserver's compactor (`storage/etcd3/compact.go`)
//! coordinates through one key, `compact_rev_key`, whose *version* is a logical clock: every
//! interval each server tries `if version(compact_rev_key) == the version it last saw then put`.
//! Only one server per interval wins, and it compacts to the revision it observed at the end of
//! the previous interval, so at least one interval of history always survives. The others just
//! learn the new version. Piazza uses the same key and algorithm, so Piazza replicas (and even
//! a kube-apiserver on the same etcd) take turns.

use std::time::Duration;

use etcd_client::{Compare, CompareOp, Txn, TxnOp, TxnOpResponse};
use piazza_storage::{Revision, StorageError};
use tokio::sync::watch;

use crate::bounds;
use crate::client::{Conn, header_revision};
use crate::error::EtcdError;

/// The key whose version coordinates compaction between servers (kube-apiserver's name).
pub(crate) const COMPACT_REV_KEY: &str = "compact_rev_key";

/// Compacts etcd's history at and below `revision` (see
/// [`piazza_storage::Storage::compact`]). Compacting to or below the compacted revision does
/// nothing.
pub(crate) async fn compact(conn: &Conn, revision: Revision) -> Result<(), StorageError> {
    match conn.compact(revision).await {
        Ok(()) | Err(EtcdError::Compacted) => Ok(()),
        Err(EtcdError::FutureRevision) => Err(bounds::too_large(conn, revision).await),
        Err(e) => Err(e.into_storage(format!("compacting etcd to revision {revision}"))),
    }
}

/// The background compactor: one round every `interval` until the store is dropped.
pub(crate) async fn run(conn: Conn, interval: Duration, mut shutdown: watch::Receiver<()>) {
    let mut state = Round { seen_version: 0, target: 0 };
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        match round(&conn, state).await {
            Ok(next) => state = next,
            Err(error) => tracing::warn!(%error, "background etcd compaction failed"),
        }
    }
}

/// What one server knows between rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Round {
    /// The version of [`COMPACT_REV_KEY`] this server last saw.
    pub(crate) seen_version: i64,
    /// The revision observed last round: what the next winning round compacts to.
    pub(crate) target: Revision,
}

/// One round: claim the interval, and if won, compact to the previous round's revision.
pub(crate) async fn round(conn: &Conn, state: Round) -> Result<Round, StorageError> {
    let claim = Txn::new()
        .when([Compare::version(COMPACT_REV_KEY, CompareOp::Equal, state.seen_version)])
        .and_then([TxnOp::put(COMPACT_REV_KEY, state.target.to_string(), None)])
        .or_else([TxnOp::get(COMPACT_REV_KEY, None)]);
    let response = conn.txn(claim).await.map_err(|e| e.into_storage("claiming a compaction round"))?;
    let observed = header_revision(response.header()).unwrap_or(state.target);
    if !response.succeeded() {
        // Another server won this round; follow its clock.
        let version = match response.op_responses().into_iter().next() {
            Some(TxnOpResponse::Get(get)) => get.kvs().first().map_or(0, |kv| kv.version()),
            _ => 0,
        };
        return Ok(Round { seen_version: version, target: observed });
    }
    if state.target > 0 {
        compact(conn, state.target).await?;
        tracing::debug!(revision = state.target, "compacted etcd");
    }
    Ok(Round { seen_version: state.seen_version + 1, target: observed })
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::EtcdServer;

    async fn conn(server: &EtcdServer) -> Conn {
        let client = etcd_client::Client::connect([server.endpoint()], None).await.unwrap();
        Conn::new(&client, Duration::from_secs(10), "/registry".to_owned())
    }

    #[tokio::test]
    async fn replicas_take_turns_and_keep_one_round_of_history() {
        let server = EtcdServer::start();
        let (a, b) = (conn(&server).await, conn(&server).await);
        let fresh = Round { seen_version: 0, target: 0 };

        // Round 1: A claims it; there is nothing to compact yet.
        let a1 = round(&a, fresh).await.unwrap();
        assert_eq!(a1.seen_version, 1);
        assert!(a.probe(1).await.is_ok(), "the first round compacts nothing");
        // B, a round behind, loses and follows A's clock.
        let b1 = round(&b, fresh).await.unwrap();
        assert_eq!(b1.seen_version, 1);

        // Round 2: B is first; it compacts to what it observed in round 1.
        let b2 = round(&b, b1).await.unwrap();
        assert_eq!(b2.seen_version, 2);
        assert!(matches!(b.probe(crate::keys::to_etcd(b1.target - 1)).await, Err(EtcdError::Compacted)));
        assert!(b.probe(crate::keys::to_etcd(b1.target)).await.is_ok());
        // A loses round 2 and compacts nothing.
        let a2 = round(&a, a1).await.unwrap();
        assert_eq!(a2.seen_version, 2);
        assert!(a2.target > b1.target);
    }

    #[tokio::test]
    async fn compacting_twice_or_backwards_does_nothing() {
        let server = EtcdServer::start();
        let c = conn(&server).await;
        let now = c.current_revision().await.unwrap();
        compact(&c, now).await.unwrap();
        compact(&c, now).await.unwrap();
        compact(&c, 1).await.unwrap();
        let err = compact(&c, now + 10).await.unwrap_err();
        assert!(
            matches!(err, StorageError::TooLargeResourceVersion { current, .. } if current == now),
            "{err:?}"
        );
    }
}
