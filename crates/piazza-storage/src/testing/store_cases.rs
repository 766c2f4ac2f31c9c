//! Create, get, update, delete and compact: ported from `store_tests.go` (`RunTestCreate`,
//! `RunTestCreateWithKeyExist`, `RunTestGet`, `RunTestUnconditionalDelete`,
//! `RunTestConditionalDelete`, `RunTestGuaranteedUpdate*`, the compaction parts of `RunTestList`).

use std::sync::Arc;

use super::support::{b, current, put, remove, set};
use crate::Storage;
use crate::error::StorageError;
use crate::types::ReadRevision;

/// A created key reads back with create and mod revision equal to the current revision.
pub async fn create_then_get(store: Arc<dyn Storage>) {
    let before = current(&*store).await;
    let created = put(&*store, "/pods/test-ns/foo", "v1").await;
    assert_eq!(created.key, "/pods/test-ns/foo");
    assert_eq!(created.value, b("v1"));
    assert!(created.mod_revision > before, "a create takes a new revision");
    assert_eq!(created.create_revision, created.mod_revision);
    assert_eq!(current(&*store).await, created.mod_revision);
    let got = store.get("/pods/test-ns/foo", ReadRevision::Latest).await.unwrap();
    assert_eq!(got, created);
}

/// Creating an existing key is `AlreadyExists` and changes nothing.
pub async fn create_existing_key_fails(store: Arc<dyn Storage>) {
    let created = put(&*store, "/pods/test-ns/foo", "v1").await;
    let err = store.create("/pods/test-ns/foo", b("v2")).await.unwrap_err();
    assert!(matches!(&err, StorageError::AlreadyExists { key } if key == "/pods/test-ns/foo"), "{err:?}");
    assert_eq!(store.get("/pods/test-ns/foo", ReadRevision::Latest).await.unwrap(), created);
    assert_eq!(current(&*store).await, created.mod_revision, "a failed create takes no revision");
}

/// Getting a key that never existed is `NotFound`, whatever the read revision.
pub async fn get_missing_key_is_not_found(store: Arc<dyn Storage>) {
    put(&*store, "/pods/test-ns/other", "v").await;
    let rev = current(&*store).await;
    for revision in [ReadRevision::Latest, ReadRevision::NotOlderThan(0), ReadRevision::Exact(rev)] {
        let err = store.get("/pods/test-ns/missing", revision).await.unwrap_err();
        assert!(matches!(&err, StorageError::NotFound { key } if key == "/pods/test-ns/missing"), "{err:?}");
    }
}

/// `RunTestGet`: Latest, NotOlderThan (0, old, current, too high) and Exact (each version,
/// before the first write, too high).
pub async fn get_at_each_read_revision(store: Arc<dyn Storage>) {
    let before = current(&*store).await;
    let created = put(&*store, "/pods/test-ns/foo", "v1").await;
    let updated = set(&*store, "/pods/test-ns/foo", "v2").await;
    let other = put(&*store, "/pods/test-ns/bar", "x").await;
    let key = "/pods/test-ns/foo";

    assert_eq!(store.get(key, ReadRevision::Latest).await.unwrap(), updated);
    // Any state is allowed for "0", including one from before the key existed.
    match store.get(key, ReadRevision::NotOlderThan(0)).await {
        Ok(kv) => assert!(kv == created || kv == updated, "{kv:?}"),
        Err(e) => assert!(e.is_not_found(), "{e:?}"),
    }
    let got = store.get(key, ReadRevision::NotOlderThan(created.mod_revision)).await.unwrap();
    assert!(got == created || got == updated, "{got:?}");
    assert_eq!(store.get(key, ReadRevision::NotOlderThan(updated.mod_revision)).await.unwrap(), updated);
    assert_eq!(store.get(key, ReadRevision::NotOlderThan(other.mod_revision)).await.unwrap(), updated);

    assert_eq!(store.get(key, ReadRevision::Exact(created.mod_revision)).await.unwrap(), created);
    assert_eq!(store.get(key, ReadRevision::Exact(updated.mod_revision)).await.unwrap(), updated);
    assert_eq!(store.get(key, ReadRevision::Exact(other.mod_revision)).await.unwrap(), updated);
    assert!(store.get(key, ReadRevision::Exact(before)).await.unwrap_err().is_not_found());

    let too_high = other.mod_revision + 1000;
    for revision in [ReadRevision::NotOlderThan(too_high), ReadRevision::Exact(too_high)] {
        match store.get(key, revision).await.unwrap_err() {
            StorageError::TooLargeResourceVersion { requested, current } => {
                assert_eq!(requested, too_high);
                assert!(current >= other.mod_revision && current < too_high);
            }
            e => panic!("expected TooLargeResourceVersion, got {e:?}"),
        }
    }
}

/// A deleted key is `NotFound` now but readable at an exact revision from before the delete.
pub async fn get_exact_sees_deleted_key(store: Arc<dyn Storage>) {
    let created = put(&*store, "/pods/test-ns/foo", "v1").await;
    let deleted = remove(&*store, "/pods/test-ns/foo").await;
    assert!(store.get("/pods/test-ns/foo", ReadRevision::Latest).await.unwrap_err().is_not_found());
    let exact = ReadRevision::Exact(created.mod_revision);
    assert_eq!(store.get("/pods/test-ns/foo", exact).await.unwrap(), created);
    let at_delete = ReadRevision::Exact(deleted.mod_revision);
    assert!(store.get("/pods/test-ns/foo", at_delete).await.unwrap_err().is_not_found());
}

/// After a compaction, exact reads below the compacted revision fail with `Compacted`; reads at
/// or above it, and NotOlderThan reads of any revision, still work.
pub async fn get_compacted_revision_fails(store: Arc<dyn Storage>) {
    let v1 = put(&*store, "/pods/test-ns/foo", "v1").await;
    let v2 = set(&*store, "/pods/test-ns/foo", "v2").await;
    let v3 = set(&*store, "/pods/test-ns/foo", "v3").await;
    store.compact(v2.mod_revision).await.unwrap();

    match store.get("/pods/test-ns/foo", ReadRevision::Exact(v1.mod_revision)).await.unwrap_err() {
        StorageError::Compacted { requested, compacted } => {
            assert_eq!(requested, v1.mod_revision);
            assert_eq!(compacted, v2.mod_revision);
        }
        e => panic!("expected Compacted, got {e:?}"),
    }
    assert_eq!(store.get("/pods/test-ns/foo", ReadRevision::Exact(v2.mod_revision)).await.unwrap(), v2);
    assert_eq!(store.get("/pods/test-ns/foo", ReadRevision::Latest).await.unwrap(), v3);
    let old = ReadRevision::NotOlderThan(v1.mod_revision);
    assert_eq!(store.get("/pods/test-ns/foo", old).await.unwrap(), v3);
}

/// Compacting to the current revision keeps every live key's latest version and drops deleted
/// keys.
pub async fn compact_keeps_latest_live_versions(store: Arc<dyn Storage>) {
    put(&*store, "/pods/ns/a", "a1").await;
    put(&*store, "/pods/ns/b", "b1").await;
    let a2 = set(&*store, "/pods/ns/a", "a2").await;
    remove(&*store, "/pods/ns/b").await;
    let c = put(&*store, "/pods/ns/c", "c1").await;
    let rev = current(&*store).await;
    store.compact(rev).await.unwrap();

    assert_eq!(store.get("/pods/ns/a", ReadRevision::Latest).await.unwrap(), a2);
    assert_eq!(store.get("/pods/ns/a", ReadRevision::Exact(rev)).await.unwrap(), a2);
    assert!(store.get("/pods/ns/b", ReadRevision::Exact(rev)).await.unwrap_err().is_not_found());
    assert!(store.get("/pods/ns/a", ReadRevision::Exact(rev - 1)).await.unwrap_err().is_compacted());
    let listed = store.list("/pods/ns/", Default::default()).await.unwrap();
    assert_eq!(listed.items, vec![a2.clone(), c]);

    // The store goes on after compaction.
    let a3 = store.update("/pods/ns/a", a2.mod_revision, b("a3")).await.unwrap();
    assert_eq!(a3.create_revision, a2.create_revision);
    assert!(a3.mod_revision > rev);
}

/// Compaction to a future revision is refused; to an already compacted one it does nothing.
pub async fn compact_bounds(store: Arc<dyn Storage>) {
    put(&*store, "/pods/ns/a", "a1").await;
    let a2 = set(&*store, "/pods/ns/a", "a2").await;
    let rev = current(&*store).await;
    assert!(store.compact(rev + 100).await.unwrap_err().is_too_large_resource_version());
    store.compact(rev).await.unwrap();
    store.compact(rev).await.unwrap();
    store.compact(rev - 1).await.unwrap();
    assert_eq!(store.get("/pods/ns/a", ReadRevision::Latest).await.unwrap(), a2);
}

/// `update` is a compare-and-swap on the mod revision.
pub async fn update_is_compare_and_swap(store: Arc<dyn Storage>) {
    let created = put(&*store, "/pods/test-ns/foo", "v1").await;
    let stale = created.mod_revision;
    let updated = store.update("/pods/test-ns/foo", stale, b("v2")).await.unwrap();
    assert_eq!(updated.value, b("v2"));
    assert_eq!(updated.create_revision, created.create_revision);
    assert!(updated.mod_revision > created.mod_revision);
    assert_eq!(current(&*store).await, updated.mod_revision);

    match store.update("/pods/test-ns/foo", stale, b("v3")).await.unwrap_err() {
        StorageError::Conflict { key, current_revision } => {
            assert_eq!(key, "/pods/test-ns/foo");
            assert_eq!(current_revision, updated.mod_revision);
        }
        e => panic!("expected Conflict, got {e:?}"),
    }
    assert_eq!(store.get("/pods/test-ns/foo", ReadRevision::Latest).await.unwrap(), updated);
}

/// Updating a key that does not exist, or no longer exists, is `NotFound`.
pub async fn update_missing_key_is_not_found(store: Arc<dyn Storage>) {
    assert!(store.update("/pods/test-ns/none", 1, b("v")).await.unwrap_err().is_not_found());
    let created = put(&*store, "/pods/test-ns/foo", "v1").await;
    remove(&*store, "/pods/test-ns/foo").await;
    let err = store.update("/pods/test-ns/foo", created.mod_revision, b("v2")).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

/// An update with byte-identical data writes nothing and does not bump the revision.
pub async fn identical_update_writes_nothing(store: Arc<dyn Storage>) {
    let created = put(&*store, "/pods/test-ns/foo", "same").await;
    let rev = current(&*store).await;
    let again = store.update("/pods/test-ns/foo", created.mod_revision, b("same")).await.unwrap();
    assert_eq!(again, created);
    assert_eq!(current(&*store).await, rev, "an identical update must not take a revision");
    // A conflicting identical update is still a conflict.
    let err = store.update("/pods/test-ns/foo", created.mod_revision + 1, b("same")).await.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
}

/// `RunTestUnconditionalDelete`: delete returns the last value with the deletion revision.
pub async fn delete_returns_deletion_revision(store: Arc<dyn Storage>) {
    let created = put(&*store, "/pods/test-ns/foo", "v1").await;
    let deleted = store.delete("/pods/test-ns/foo", None).await.unwrap();
    assert_eq!(deleted.key, created.key);
    assert_eq!(deleted.value, created.value);
    assert_eq!(deleted.create_revision, created.create_revision);
    assert!(deleted.mod_revision > created.mod_revision, "delete returns the deletion revision");
    assert_eq!(current(&*store).await, deleted.mod_revision);
    assert!(store.get("/pods/test-ns/foo", ReadRevision::Latest).await.unwrap_err().is_not_found());
    assert!(store.delete("/pods/test-ns/foo", None).await.unwrap_err().is_not_found());
    assert!(store.delete("/pods/test-ns/never", None).await.unwrap_err().is_not_found());
}

/// `RunTestConditionalDelete`: a stale precondition is `Conflict` and leaves the key.
pub async fn delete_with_precondition(store: Arc<dyn Storage>) {
    let created = put(&*store, "/pods/test-ns/foo", "v1").await;
    let updated = set(&*store, "/pods/test-ns/foo", "v2").await;
    match store.delete("/pods/test-ns/foo", Some(created.mod_revision)).await.unwrap_err() {
        StorageError::Conflict { current_revision, .. } => assert_eq!(current_revision, updated.mod_revision),
        e => panic!("expected Conflict, got {e:?}"),
    }
    assert_eq!(store.get("/pods/test-ns/foo", ReadRevision::Latest).await.unwrap(), updated);
    let deleted = store.delete("/pods/test-ns/foo", Some(updated.mod_revision)).await.unwrap();
    assert_eq!(deleted.value, b("v2"));
    assert!(deleted.mod_revision > updated.mod_revision);
}

/// A key deleted and created again gets a new create revision.
pub async fn recreate_after_delete(store: Arc<dyn Storage>) {
    let first = put(&*store, "/pods/test-ns/foo", "v1").await;
    let deleted = remove(&*store, "/pods/test-ns/foo").await;
    let second = put(&*store, "/pods/test-ns/foo", "v2").await;
    assert!(second.create_revision > deleted.mod_revision);
    assert_eq!(second.create_revision, second.mod_revision);
    assert_ne!(second.create_revision, first.create_revision);
}

/// Every write takes a new, higher revision, across keys and operations.
pub async fn revisions_strictly_increase(store: Arc<dyn Storage>) {
    let mut last = current(&*store).await;
    for i in 0..5 {
        let key = format!("/pods/ns/k{i}");
        for rev in [
            put(&*store, &key, "a").await.mod_revision,
            set(&*store, &key, "b").await.mod_revision,
            remove(&*store, &key).await.mod_revision,
        ] {
            assert!(rev > last, "revision {rev} after {last}");
            last = rev;
        }
    }
    assert_eq!(current(&*store).await, last);
}

/// A fresh store is healthy.
pub async fn check_health_is_ok(store: Arc<dyn Storage>) {
    store.check_health().await.unwrap();
    put(&*store, "/pods/ns/a", "a").await;
    store.check_health().await.unwrap();
}
