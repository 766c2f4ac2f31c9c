//! Mapping storage errors to the API errors clients see.

use piazza_core::{ApiError, GroupResource};
use piazza_storage::StorageError;

/// Maps a storage error on object `name` of `resource` to its API error.
pub fn api_error(err: StorageError, resource: &GroupResource, name: &str) -> ApiError {
    match err {
        StorageError::NotFound { .. } => ApiError::not_found(resource, name),
        StorageError::AlreadyExists { .. } => ApiError::already_exists(resource, name),
        StorageError::Conflict { .. } => ApiError::optimistic_lock_conflict(resource, name),
        StorageError::Compacted { .. } => {
            ApiError::expired("The resourceVersion for the provided list is too old.")
        }
        StorageError::TooLargeResourceVersion { requested, current } => {
            ApiError::resource_version_too_large(requested, current)
        }
        StorageError::InvalidContinue { reason } => {
            ApiError::bad_request(format!("invalid continue token: {reason}"))
        }
        other => ApiError::internal(other),
    }
}
