//! What an etcd call can fail with, sorted into the cases the store treats differently.

use std::time::Duration;

use piazza_storage::StorageError;

/// etcd's message for a read or watch below the compacted revision (`mvcc.ErrCompacted`).
const COMPACTED: &str = "required revision has been compacted";
/// etcd's message for a read at a revision it has not reached (`mvcc.ErrFutureRev`).
const FUTURE_REVISION: &str = "required revision is a future revision";

/// A failed etcd call.
#[derive(Debug)]
pub(crate) enum EtcdError {
    /// The revision asked for has been compacted.
    Compacted,
    /// The revision asked for is newer than etcd's current one.
    FutureRevision,
    /// No answer within the deadline.
    Timeout(Duration),
    /// Anything else: transport, no leader, permission, ...
    Other(etcd_client::Error),
}

// === impl EtcdError ===

impl std::fmt::Display for EtcdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EtcdError::Compacted => f.write_str(COMPACTED),
            EtcdError::FutureRevision => f.write_str(FUTURE_REVISION),
            EtcdError::Timeout(after) => write!(f, "etcd did not answer within {after:?}"),
            EtcdError::Other(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EtcdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EtcdError::Other(e) => e.source(),
            _ => None,
        }
    }
}

impl EtcdError {
    /// Sorts an etcd-client error.
    pub(crate) fn classify(error: etcd_client::Error) -> Self {
        match &error {
            etcd_client::Error::GRpcStatus(status) => match by_message(status.message()) {
                Some(known) => known,
                None => EtcdError::Other(error),
            },
            _ => EtcdError::Other(error),
        }
    }

    /// As a [`StorageError::Internal`] saying what was being done. Callers that give
    /// `Compacted` or `FutureRevision` a meaning handle those first.
    pub(crate) fn into_storage(self, context: impl Into<String>) -> StorageError {
        match self {
            EtcdError::Compacted => StorageError::internal(context, COMPACTED),
            EtcdError::FutureRevision => StorageError::internal(context, FUTURE_REVISION),
            EtcdError::Timeout(after) => {
                StorageError::internal(context, format!("etcd did not answer within {after:?}"))
            }
            EtcdError::Other(e) => StorageError::internal(context, e),
        }
    }
}

/// The revision errors, recognised by etcd's messages (as clientv3's `rpctypes` does).
fn by_message(message: &str) -> Option<EtcdError> {
    if message.contains(COMPACTED) {
        Some(EtcdError::Compacted)
    } else if message.contains(FUTURE_REVISION) {
        Some(EtcdError::FutureRevision)
    } else {
        None
    }
}

/// An answer etcd should never give (a missing header, a transaction response of the wrong
/// shape, a key that is not UTF-8).
pub(crate) fn unexpected(context: &str, what: impl Into<String>) -> StorageError {
    StorageError::internal(context.to_owned(), what.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_etcd_messages() {
        let compacted = by_message("etcdserver: mvcc: required revision has been compacted");
        assert!(matches!(compacted, Some(EtcdError::Compacted)));
        let future = by_message("etcdserver: mvcc: required revision is a future revision");
        assert!(matches!(future, Some(EtcdError::FutureRevision)));
        assert!(by_message("etcdserver: no leader").is_none());
        let other = EtcdError::classify(etcd_client::Error::WatchError(COMPACTED.to_owned()));
        assert!(matches!(other, EtcdError::Other(_)), "only gRPC statuses carry etcd's errors");
    }

    #[test]
    fn internal_errors_keep_the_context() {
        let e = EtcdError::Timeout(Duration::from_secs(2)).into_storage("reading /a");
        assert_eq!(e.to_string(), "storage backend failure: reading /a");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("etcd did not answer within 2s"));
    }
}
