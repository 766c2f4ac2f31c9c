//! Writes: create, update (a guaranteed-update loop with admission inside it), delete
//! (immediate, graceful, or pending finalizers; see [`super::graceful`]).

use piazza_core::meta::{DeleteOptions, Preconditions};
use piazza_core::{
    ApiError, FieldError, FieldErrors, FieldPath, GroupResource, Object, StatusReason, UserInfo,
};
use piazza_storage::{KeyValue, ReadRevision, StorageError};

use super::Store;
use super::graceful::{DeletePlan, should_delete_during_update, validate_delete_options};
use crate::admission::{Attributes, Operation};
use crate::object_meta;

/// How many times a write retries after losing a compare-and-swap race.
const MAX_CONFLICT_RETRIES: usize = 32;

/// A read of whatever state the watch cache holds (`resourceVersion="0"` semantics).
const CACHED: ReadRevision = ReadRevision::NotOlderThan(0);

/// Where the guaranteed-update loop reads first: the cached copy, except for a dry run,
/// whose answer is never checked by a compare-and-swap and so must come from current state.
fn first_read(dry_run: bool) -> ReadRevision {
    if dry_run { ReadRevision::Latest } else { CACHED }
}

/// What a delete did.
#[derive(Debug)]
pub struct DeleteOutcome<H> {
    /// [`DeleteState::Deleted`]: the object's last state, with the deletion
    /// resourceVersion. [`DeleteState::Deleting`]: the object as it now is (deletion
    /// fields and finalizers set). [`DeleteState::AlreadyDeleting`]: the object unchanged.
    /// With dry run: what would have been.
    pub object: H,
    /// Whether the object is gone or stays.
    pub state: DeleteState,
}

impl<H> DeleteOutcome<H> {
    /// True when the object was removed from storage (upstream's `wasDeleted`).
    pub fn deleted(&self) -> bool {
        self.state == DeleteState::Deleted
    }
}

/// Whether a delete removed the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeleteState {
    /// Removed from storage.
    Deleted,
    /// Kept and marked for deletion: a grace period is running, or finalizers are pending.
    Deleting,
    /// Kept unchanged: a graceful deletion with a grace period no longer than the one asked
    /// for was already pending.
    AlreadyDeleting,
}

/// How many times a create whose name comes from `generateName` is attempted when the
/// generated name is taken (upstream: enough for a million names per prefix with a 0.1 %
/// chance of any collision surfacing).
pub const MAX_NAME_GENERATION_ATTEMPTS: u32 = 8;

impl<H: Object> Store<H> {
    fn attributes(
        &self,
        operation: Operation,
        namespace: Option<&str>,
        name: &str,
        user: &UserInfo,
    ) -> Attributes {
        Attributes {
            operation,
            resource: self.descriptor.group_resource(),
            namespace: self.scoped(namespace).unwrap_or_default().to_owned(),
            name: name.to_owned(),
            user: user.clone(),
        }
    }

    fn invalid(&self, name: &str, errs: &FieldErrors) -> ApiError {
        ApiError::invalid(&self.descriptor.group_kind(), name, errs)
    }

    /// Checks the body's namespace against the URL's, filling it in when empty.
    fn reconcile_namespace(&self, object: &mut H, namespace: Option<&str>) -> Result<(), ApiError> {
        let meta = object.metadata_mut();
        if !self.descriptor.namespaced() {
            meta.namespace = None;
            return Ok(());
        }
        match (meta.namespace.as_deref(), namespace) {
            (None | Some(""), Some(ns)) => meta.namespace = Some(ns.to_owned()),
            (Some(body), Some(url)) if body != url => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
        Ok(())
    }

    async fn run_admission(
        &self,
        attributes: &Attributes,
        object: &mut H,
        old: Option<&H>,
    ) -> Result<(), ApiError> {
        for plugin in &self.admission {
            plugin.admit(attributes, object, old).await?;
        }
        Ok(())
    }

    async fn run_validating_admission(
        &self,
        attributes: &Attributes,
        object: &H,
        old: Option<&H>,
    ) -> Result<(), ApiError> {
        for plugin in &self.admission {
            plugin.validate(attributes, object, old).await?;
        }
        Ok(())
    }

    /// Creates an object in `namespace`. With `dry_run` the whole pipeline runs and
    /// nothing is written. A name generated from `generateName` that is already taken is
    /// generated again, the whole create retried, up to `MAX_NAME_GENERATION_ATTEMPTS`
    /// attempts in all, as upstream.
    pub async fn create(
        &self,
        namespace: Option<&str>,
        object: H,
        user: &UserInfo,
        dry_run: bool,
    ) -> Result<H, ApiError> {
        if !object_meta::needs_name_generation(object.metadata()) {
            return self.create_once(namespace, object, user, dry_run).await;
        }
        let mut attempt = 1;
        loop {
            match self.create_once(namespace, object.clone(), user, dry_run).await {
                Err(e)
                    if e.reason == StatusReason::AlreadyExists && attempt < MAX_NAME_GENERATION_ATTEMPTS =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn create_once(
        &self,
        namespace: Option<&str>,
        mut object: H,
        user: &UserInfo,
        dry_run: bool,
    ) -> Result<H, ApiError> {
        self.reconcile_namespace(&mut object, namespace)?;
        if object.metadata().resource_version.as_deref().is_some_and(|rv| !rv.is_empty()) {
            return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
        }
        object_meta::generate_name(object.metadata_mut());
        object_meta::prepare_create_meta(object.metadata_mut());
        self.strategy.prepare_for_create(&mut object);
        let name = object.metadata().name.clone().unwrap_or_default();
        let attributes = self.attributes(Operation::Create, namespace, &name, user);
        self.run_admission(&attributes, &mut object, None).await?;
        let mut errs = object_meta::validate_create_meta(object.metadata(), self.descriptor.namespaced());
        errs.extend(self.strategy.validate(&object));
        if !errs.is_empty() {
            return Err(self.invalid(&name, &errs));
        }
        self.run_validating_admission(&attributes, &object, None).await?;
        let key = self.keys.object(self.scoped(object.metadata().namespace.as_deref()), &name);
        if dry_run {
            return match self.storage.get(&key, ReadRevision::Latest).await {
                Ok(_) => Err(ApiError::already_exists(&self.descriptor.group_resource(), &name)),
                Err(StorageError::NotFound { .. }) => Ok(object),
                Err(e) => Err(self.storage_error(e, &name)),
            };
        }
        let bytes = self.encode_for_storage(&object)?;
        let kv = match self.storage.create(&key, bytes).await {
            Ok(kv) => kv,
            Err(e @ StorageError::AlreadyExists { .. }) => {
                let mut err = self.storage_error(e, &name);
                // As upstream: say so when the name is taken by an object being deleted.
                if let Ok(existing) = self.storage.get(&key, ReadRevision::Latest).await
                    && self.decode_stored(&existing).is_ok_and(|o| o.metadata().deletion_timestamp.is_some())
                {
                    err.message = format!("object is being deleted: {}", err.message);
                }
                return Err(err);
            }
            Err(e) => return Err(self.storage_error(e, &name)),
        };
        object.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
        Ok(object)
    }

    /// True if the two objects differ outside `metadata` and `status`.
    fn spec_changed(&self, new: &H, old: &H) -> Result<bool, ApiError> {
        let strip = |object: &H| -> Result<serde_json::Value, ApiError> {
            let mut value = self.storage_codec().to_json_value(object)?;
            if let Some(map) = value.as_object_mut() {
                map.remove("metadata");
                map.remove("status");
            }
            Ok(value)
        };
        Ok(strip(new)? != strip(old)?)
    }

    /// Replaces an object. A resourceVersion in the body makes it a compare-and-swap that
    /// fails with 409 when stale; without one the update retries on conflicts. Admission
    /// and validation run inside the loop, on the state actually being replaced.
    pub async fn update(
        &self,
        namespace: Option<&str>,
        name: &str,
        mut object: H,
        user: &UserInfo,
        dry_run: bool,
    ) -> Result<H, ApiError> {
        self.reconcile_namespace(&mut object, namespace)?;
        match object.metadata().name.as_deref() {
            None | Some("") => object.metadata_mut().name = Some(name.to_owned()),
            Some(body) if body != name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body}) does not match the name on the URL ({name})"
                )));
            }
            _ => {}
        }
        let expected_rv = self.parse_object_rv(&object, name)?;
        self.guaranteed_update(namespace, name, user, dry_run, |_old| Ok((object.clone(), expected_rv))).await
    }

    /// The resourceVersion an object carries, as a precondition.
    pub(super) fn parse_object_rv(&self, object: &H, name: &str) -> Result<Option<u64>, ApiError> {
        match object.metadata().resource_version.as_deref() {
            None | Some("") => Ok(None),
            Some(rv) => rv.parse::<u64>().map(Some).map_err(|_| {
                self.invalid(
                    name,
                    &[FieldError::invalid(
                        FieldPath::new("metadata").child("resourceVersion"),
                        rv,
                        "must be a valid resource version",
                    )]
                    .into_iter()
                    .collect(),
                )
            }),
        }
    }

    /// The guaranteed-update loop: read the current object, let `transform` produce the
    /// replacement (and an optional resourceVersion precondition), run the write pipeline
    /// on it, and compare-and-swap. Losing the race retries, unless the caller named a
    /// resourceVersion, which is then a 409.
    ///
    /// As upstream's `GuaranteedUpdate` with a cached object, the first attempt starts from
    /// the watch cache's copy ([`first_read`]: no storage round trip) and lets the
    /// compare-and-swap catch a stale copy. Whatever a stale copy makes fail (not found, a
    /// precondition, admission, validation, a lost race) is retried once from a consistent
    /// read, and only an answer from current state is returned.
    ///
    /// An update that removes the last finalizer of an object being deleted with no grace
    /// period left removes the object instead (upstream's `ShouldDeleteDuringUpdate`), with
    /// a compare-and-swap delete on the revision read; the answer is the updated object
    /// with the deletion's resourceVersion. No intermediate state is written, so watchers
    /// see DELETED (carrying the last stored state), as upstream.
    pub(super) async fn guaranteed_update<F>(
        &self,
        namespace: Option<&str>,
        name: &str,
        user: &UserInfo,
        dry_run: bool,
        transform: F,
    ) -> Result<H, ApiError>
    where
        F: Fn(&H) -> Result<(H, Option<u64>), ApiError> + Send + Sync,
    {
        let key = self.keys.object(self.scoped(namespace), name);
        let attributes = self.attributes(Operation::Update, namespace, name, user);
        self.ensure_reaper();
        let mut revision = first_read(dry_run);
        for _ in 0..MAX_CONFLICT_RETRIES {
            let fresh = revision == ReadRevision::Latest;
            // Anything but the compare-and-swap below fails only from current state.
            let stale = |e: ApiError| if fresh { Err(e) } else { Ok(()) };
            revision = ReadRevision::Latest;
            let current = match self.storage.get(&key, if fresh { revision } else { CACHED }).await {
                Ok(current) => current,
                Err(e) => match stale(self.storage_error(e, name)) {
                    Ok(()) => continue,
                    Err(e) => return Err(e),
                },
            };
            let prepared = self.prepare_update(&attributes, namespace, name, &current, &transform).await;
            let (candidate, old, expected_rv) = match prepared {
                Ok(prepared) => prepared,
                Err(e) => match stale(e) {
                    Ok(()) => continue,
                    Err(e) => return Err(e),
                },
            };
            let mut candidate = candidate;
            if dry_run {
                candidate.metadata_mut().resource_version = Some(current.mod_revision.to_string());
                return Ok(candidate);
            }
            if should_delete_during_update(&candidate, &old) {
                match self.storage.delete(&key, Some(current.mod_revision)).await {
                    Ok(kv) => {
                        candidate.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
                        return Ok(candidate);
                    }
                    Err(StorageError::Conflict { .. }) if expected_rv.is_none() || !fresh => continue,
                    // Someone else removed it first (racing updates that both cleared the
                    // finalizers): the object is gone either way, as upstream tolerates.
                    Err(StorageError::NotFound { .. }) if fresh => return Ok(candidate),
                    Err(StorageError::NotFound { .. }) => continue,
                    Err(e) => return Err(self.storage_error(e, name)),
                }
            }
            let bytes = self.encode_for_storage(&candidate)?;
            match self.storage.update(&key, current.mod_revision, bytes).await {
                Ok(kv) => {
                    candidate.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
                    return Ok(candidate);
                }
                Err(StorageError::Conflict { .. } | StorageError::NotFound { .. }) if !fresh => continue,
                Err(StorageError::Conflict { .. }) if expected_rv.is_none() => continue,
                Err(e) => return Err(self.storage_error(e, name)),
            }
        }
        Err(ApiError::optimistic_lock_conflict(&self.descriptor.group_resource(), name))
    }

    /// One attempt's write pipeline on `current`: `transform`, its resourceVersion
    /// precondition, metadata rules, admission and validation. Returns the candidate, the
    /// decoded current object and the precondition.
    async fn prepare_update<F>(
        &self,
        attributes: &Attributes,
        namespace: Option<&str>,
        name: &str,
        current: &KeyValue,
        transform: &F,
    ) -> Result<(H, H, Option<u64>), ApiError>
    where
        F: Fn(&H) -> Result<(H, Option<u64>), ApiError> + Send + Sync,
    {
        let old = self.decode_stored(current)?;
        let (mut candidate, expected_rv) = transform(&old)?;
        if expected_rv.is_some_and(|rv| rv != current.mod_revision) {
            return Err(ApiError::optimistic_lock_conflict(&self.descriptor.group_resource(), name));
        }
        self.reconcile_namespace(&mut candidate, namespace)?;
        candidate.metadata_mut().name = Some(name.to_owned());
        let changed = self.spec_changed(&candidate, &old)?;
        let mut errs = object_meta::prepare_update_meta(candidate.metadata_mut(), old.metadata(), changed);
        self.strategy.prepare_for_update(&mut candidate, &old);
        self.run_admission(attributes, &mut candidate, Some(&old)).await?;
        errs.extend(self.strategy.validate_update(&candidate, &old));
        if !errs.is_empty() {
            return Err(self.invalid(name, &errs));
        }
        self.run_validating_admission(attributes, &candidate, Some(&old)).await?;
        Ok((candidate, old, expected_rv))
    }

    /// Deletes an object, honouring uid and resourceVersion preconditions, graceful
    /// deletion ([`Strategy::default_grace_period_seconds`]) and finalizers: the object is
    /// removed at once, or marked for deletion (`deletionTimestamp` set) and kept until its
    /// grace period ends or its last finalizer is removed. Options are validated first
    /// (422, as upstream's `ValidateDeleteOptions`). With `dry_run` everything runs and
    /// nothing is written.
    ///
    /// [`Strategy::default_grace_period_seconds`]: crate::Strategy::default_grace_period_seconds
    pub async fn delete(
        &self,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
        user: &UserInfo,
        dry_run: bool,
    ) -> Result<DeleteOutcome<H>, ApiError> {
        validate_delete_options(options)?;
        self.ensure_reaper();
        let key = self.keys.object(self.scoped(namespace), name);
        let attributes = self.attributes(Operation::Delete, namespace, name, user);
        for attempt in 0..MAX_CONFLICT_RETRIES {
            let current = self
                .storage
                .get(&key, ReadRevision::Latest)
                .await
                .map_err(|e| self.storage_error(e, name))?;
            let old = self.decode_stored(&current)?;
            if let Some(preconditions) = &options.preconditions {
                self.check_preconditions(preconditions, &old, name, attempt == 0)?;
            }
            self.run_validating_admission(&attributes, &old, Some(&old)).await?;
            match self.plan_delete(&old, options, jiff::Timestamp::now()) {
                DeletePlan::AlreadyPending => {
                    return Ok(DeleteOutcome { object: old, state: DeleteState::AlreadyDeleting });
                }
                DeletePlan::Now if dry_run => {
                    return Ok(DeleteOutcome { object: old, state: DeleteState::Deleted });
                }
                DeletePlan::Now => match self.storage.delete(&key, Some(current.mod_revision)).await {
                    Ok(kv) => {
                        let mut object = old;
                        object.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
                        return Ok(DeleteOutcome { object, state: DeleteState::Deleted });
                    }
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(e) => return Err(self.storage_error(e, name)),
                },
                DeletePlan::Mark(mut marked) => {
                    if dry_run {
                        marked.metadata_mut().resource_version = Some(current.mod_revision.to_string());
                        return Ok(DeleteOutcome { object: marked, state: DeleteState::Deleting });
                    }
                    let bytes = self.encode_for_storage(&marked)?;
                    match self.storage.update(&key, current.mod_revision, bytes).await {
                        Ok(kv) => {
                            marked.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
                            self.schedule_reap(&key, &marked);
                            return Ok(DeleteOutcome { object: marked, state: DeleteState::Deleting });
                        }
                        Err(StorageError::Conflict { .. }) => continue,
                        Err(e) => return Err(self.storage_error(e, name)),
                    }
                }
            }
        }
        Err(ApiError::optimistic_lock_conflict(&self.descriptor.group_resource(), name))
    }

    /// Checks a delete's preconditions against the current object: a 409 with upstream's
    /// messages, those of `rest.BeforeDelete` on the first read (`early`) and those of the
    /// storage layer after a lost race.
    fn check_preconditions(
        &self,
        preconditions: &Preconditions,
        current: &H,
        name: &str,
        early: bool,
    ) -> Result<(), ApiError> {
        let meta = current.metadata();
        // Upstream's early check names the kind where the resource usually goes.
        let resource = if early {
            GroupResource::new(self.descriptor.group, self.descriptor.kind)
        } else {
            self.descriptor.group_resource()
        };
        if let Some(uid) = preconditions.uid.as_deref() {
            let actual = meta.uid.as_deref().unwrap_or_default();
            if uid != actual {
                let reason = if early {
                    format!(
                        "the UID in the precondition ({uid}) does not match the UID in record ({actual}). The object might have been deleted and then recreated"
                    )
                } else {
                    format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}")
                };
                return Err(ApiError::conflict(&resource, name, &reason));
            }
        }
        if let Some(rv) = preconditions.resource_version.as_deref() {
            let actual = meta.resource_version.as_deref().unwrap_or_default();
            if rv != actual {
                let reason = if early {
                    format!(
                        "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({actual}). The object might have been modified"
                    )
                } else {
                    format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                    )
                };
                return Err(ApiError::conflict(&resource, name, &reason));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The guaranteed-update loop over a watch cache that lags: the stale first read is only a
    //! suggestion, and every answer comes from current state.

    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
    use piazza_storage::{ListOptions, ListResult, Revision, Storage, WatchStream};

    use super::super::watch::tests::Gadget;
    use super::*;

    /// A backend whose cached reads (`NotOlderThan(0)`) answer from a frozen snapshot, like a
    /// watch cache that has not seen the latest writes; it counts consistent reads.
    struct Lagging {
        inner: Arc<dyn Storage>,
        frozen: Mutex<HashMap<String, KeyValue>>,
        latest_reads: AtomicUsize,
    }

    impl Lagging {
        /// Freezes the cached view at the backend's current state of `key`.
        async fn freeze(&self, key: &str) {
            let current = self.inner.get(key, ReadRevision::Latest).await.ok();
            let mut frozen = self.frozen.lock().unwrap();
            match current {
                Some(kv) => frozen.insert(key.to_owned(), kv),
                None => frozen.remove(key),
            };
        }
    }

    #[async_trait::async_trait]
    impl Storage for Lagging {
        async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
            self.inner.create(key, value).await
        }
        async fn get(&self, key: &str, revision: ReadRevision) -> Result<KeyValue, StorageError> {
            if revision == CACHED {
                let frozen = self.frozen.lock().unwrap();
                return frozen
                    .get(key)
                    .cloned()
                    .ok_or_else(|| StorageError::NotFound { key: key.to_owned() });
            }
            if revision == ReadRevision::Latest {
                self.latest_reads.fetch_add(1, Ordering::SeqCst);
            }
            self.inner.get(key, revision).await
        }
        async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult, StorageError> {
            self.inner.list(prefix, options).await
        }
        async fn update(
            &self,
            key: &str,
            expected: Revision,
            value: Bytes,
        ) -> Result<KeyValue, StorageError> {
            self.inner.update(key, expected, value).await
        }
        async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StorageError> {
            self.inner.delete(key, expected).await
        }
        async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StorageError> {
            self.inner.watch(prefix, after).await
        }
        async fn current_revision(&self) -> Result<Revision, StorageError> {
            self.inner.current_revision().await
        }
        async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
            self.inner.compact(revision).await
        }
        async fn check_health(&self) -> Result<(), StorageError> {
            self.inner.check_health().await
        }
    }

    struct Env {
        lagging: Arc<Lagging>,
        store: Arc<Store<Gadget>>,
        _dir: tempfile::TempDir,
    }

    const KEY: &str = "/registry/test.piazza.dev/gadgets/default/g";

    fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let lagging = Arc::new(Lagging {
            inner,
            frozen: Mutex::new(HashMap::new()),
            latest_reads: AtomicUsize::new(0),
        });
        let storage: Arc<dyn Storage> = lagging.clone();
        let store = Store::<Gadget>::builder(storage).storage_version::<Gadget>().build().unwrap();
        Env { lagging, store, _dir: dir }
    }

    fn gadget(name: &str, size: i64, rv: Option<&str>) -> Gadget {
        let meta = serde_json::json!({ "name": name, "resourceVersion": rv });
        serde_json::from_value(serde_json::json!({ "metadata": meta, "size": size })).unwrap()
    }

    fn size(g: &Gadget) -> i64 {
        serde_json::to_value(g).unwrap()["size"].as_i64().unwrap()
    }

    fn rv(g: &Gadget) -> String {
        g.metadata().resource_version.clone().unwrap()
    }

    async fn create(env: &Env) -> Gadget {
        env.store.create(Some("default"), gadget("g", 1, None), &UserInfo::default(), false).await.unwrap()
    }

    async fn put(env: &Env, size: i64, rv: Option<&str>) -> Result<Gadget, ApiError> {
        env.store.update(Some("default"), "g", gadget("g", size, rv), &UserInfo::default(), false).await
    }

    fn generated(prefix: &str) -> Gadget {
        serde_json::from_value(serde_json::json!({ "metadata": { "generateName": prefix }, "size": 1 }))
            .unwrap()
    }

    #[tokio::test]
    async fn a_taken_generated_name_is_generated_again() {
        let env = env();
        let user = UserInfo::default();
        env.store.create(Some("default"), gadget("gen-aaaaa", 1, None), &user, false).await.unwrap();
        crate::object_meta::test_suffixes::script(&["aaaaa", "bbbbb"]);
        let created = env.store.create(Some("default"), generated("gen-"), &user, false).await.unwrap();
        assert_eq!(created.metadata().name.as_deref(), Some("gen-bbbbb"));

        // Eight collisions in a row: the conflict is reported.
        crate::object_meta::test_suffixes::script(&["bbbbb"; 8]);
        let err = env.store.create(Some("default"), generated("gen-"), &user, false).await.unwrap_err();
        assert_eq!((err.code, err.reason), (409, StatusReason::AlreadyExists));
        // A name the client chose is never regenerated.
        let err =
            env.store.create(Some("default"), gadget("gen-bbbbb", 1, None), &user, false).await.unwrap_err();
        assert_eq!(err.code, 409);
    }

    #[tokio::test]
    async fn exists_reads_at_the_revision_asked_and_reports_other_errors() {
        let env = env();
        assert!(!env.store.exists(Some("default"), "g", CACHED).await.unwrap());
        create(&env).await;
        // The cache has not seen it yet; the latest state has.
        assert!(!env.store.exists(Some("default"), "g", CACHED).await.unwrap());
        assert!(env.store.exists(Some("default"), "g", ReadRevision::Latest).await.unwrap());
        env.lagging.freeze(KEY).await;
        assert!(env.store.exists(Some("default"), "g", CACHED).await.unwrap());
        let err =
            env.store.exists(Some("default"), "g", ReadRevision::NotOlderThan(1 << 40)).await.unwrap_err();
        assert_eq!(err.code, 504, "a revision from the future is an error, not a missing object: {err:?}");
    }

    #[tokio::test]
    async fn a_fresh_cache_costs_no_consistent_read() {
        let env = env();
        let created = create(&env).await;
        assert_eq!(env.store.keys.object(Some("default"), "g"), KEY);
        env.lagging.freeze(KEY).await;
        let updated = put(&env, 2, Some(&rv(&created))).await.unwrap();
        assert_eq!(size(&updated), 2);
        assert_eq!(env.lagging.latest_reads.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_stale_copy_is_retried_from_current_state() {
        let env = env();
        let created = create(&env).await;
        env.lagging.freeze(KEY).await;
        let second = put(&env, 2, None).await.unwrap();
        // The cache still holds the first version: the body's (current) resourceVersion must
        // not be refused because of it, and the unconditional update must land on top.
        let third = put(&env, 3, Some(&rv(&second))).await.unwrap();
        assert!(rv(&third).parse::<u64>().unwrap() > rv(&second).parse::<u64>().unwrap());
        let fourth = put(&env, 4, None).await.unwrap();
        assert_eq!(size(&fourth), 4);
        let stored = env.store.get(Some("default"), "g", ReadRevision::Latest).await.unwrap();
        assert_eq!((size(&stored), rv(&stored)), (4, rv(&fourth)));
        // A resourceVersion that really is stale is still a 409.
        let err = put(&env, 5, Some(&rv(&created))).await.unwrap_err();
        assert_eq!(err.code, 409);
    }

    #[tokio::test]
    async fn an_object_the_cache_has_not_seen_is_found_by_the_retry() {
        let env = env();
        create(&env).await;
        // The cache has no copy at all: the first read is a 404 that must not be reported.
        let updated = put(&env, 2, None).await.unwrap();
        assert_eq!(size(&updated), 2);
        assert!(env.lagging.latest_reads.load(Ordering::SeqCst) >= 1);
        // While a missing object is still a 404.
        let missing = gadget("missing", 1, None);
        let err = env
            .store
            .update(Some("default"), "missing", missing, &UserInfo::default(), false)
            .await
            .unwrap_err();
        assert_eq!(err.code, 404);
    }

    #[test]
    fn only_a_dry_run_starts_from_a_consistent_read() {
        assert_eq!(first_read(true), ReadRevision::Latest);
        assert_eq!(first_read(false), CACHED);
    }
}
