//! The one error type every storage backend returns.

use crate::types::Revision;

/// An error from a [`Storage`](crate::Storage) operation.
///
/// The variants map one-to-one onto the Kubernetes storage errors that the server turns into a
/// `metav1.Status` at its single error boundary (404, 409, 410 `Expired`, 504
/// `ResourceVersionTooLarge`, 400, 500).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The key does not exist (at the revision that was read).
    #[error("key {key:?} not found")]
    NotFound {
        /// The key that was looked up.
        key: String,
    },

    /// A create found the key already present.
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key that was to be created.
        key: String,
    },

    /// A compare-and-swap precondition failed: the key's mod revision is not the expected one.
    #[error("conflict on key {key:?}: its current mod revision is {current_revision}")]
    Conflict {
        /// The key whose precondition failed.
        key: String,
        /// The key's mod revision at the time of the failed write.
        current_revision: Revision,
    },

    /// The requested revision is older than the oldest revision the store still keeps.
    #[error("revision {requested} has been compacted (compacted revision is {compacted})")]
    Compacted {
        /// The revision that was asked for.
        requested: Revision,
        /// The store's compacted revision: history at or below it is gone.
        compacted: Revision,
    },

    /// The requested revision is newer than the store's current revision.
    #[error("revision {requested} is newer than the current revision {current}")]
    TooLargeResourceVersion {
        /// The revision that was asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },

    /// A continue token could not be decoded or was not made for this list.
    #[error("continue token is not valid: {reason}")]
    InvalidContinue {
        /// Why the token was refused.
        reason: String,
    },

    /// The backend failed (I/O, corruption, a task that panicked, ...).
    #[error("storage backend failure: {context}")]
    Internal {
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// What the backend was doing when it failed.
        context: String,
    },
}

// === impl StorageError ===

impl StorageError {
    /// Wraps a backend failure, with a note saying what was being done.
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StorageError::Internal { source: source.into(), context: context.into() }
    }

    /// Whether this is [`StorageError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound { .. })
    }

    /// Whether this is [`StorageError::AlreadyExists`].
    pub fn is_already_exists(&self) -> bool {
        matches!(self, StorageError::AlreadyExists { .. })
    }

    /// Whether this is [`StorageError::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, StorageError::Conflict { .. })
    }

    /// Whether this is [`StorageError::Compacted`].
    pub fn is_compacted(&self) -> bool {
        matches!(self, StorageError::Compacted { .. })
    }

    /// Whether this is [`StorageError::TooLargeResourceVersion`].
    pub fn is_too_large_resource_version(&self) -> bool {
        matches!(self, StorageError::TooLargeResourceVersion { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_key_and_revisions() {
        let e = StorageError::Conflict { key: "a/b".into(), current_revision: 7 };
        assert_eq!(e.to_string(), "conflict on key \"a/b\": its current mod revision is 7");
        let e = StorageError::Compacted { requested: 3, compacted: 10 };
        assert_eq!(e.to_string(), "revision 3 has been compacted (compacted revision is 10)");
        let e = StorageError::TooLargeResourceVersion { requested: 30, current: 10 };
        assert_eq!(e.to_string(), "revision 30 is newer than the current revision 10");
    }

    #[test]
    fn internal_keeps_its_source() {
        let io = std::io::Error::other("disk on fire");
        let e = StorageError::internal("committing", io);
        assert_eq!(e.to_string(), "storage backend failure: committing");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
    }

    #[test]
    fn predicates_match_their_variant() {
        assert!(StorageError::NotFound { key: "k".into() }.is_not_found());
        assert!(StorageError::AlreadyExists { key: "k".into() }.is_already_exists());
        assert!(StorageError::Compacted { requested: 1, compacted: 2 }.is_compacted());
        assert!(!StorageError::Compacted { requested: 1, compacted: 2 }.is_not_found());
    }
}
