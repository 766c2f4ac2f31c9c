//! Writes: create, update (a guaranteed-update loop with admission inside it), delete
//! (immediate, graceful, or pending finalizers; see [`super::graceful`]).

use piazza_core::meta::{DeleteOptions, Preconditions};
use piazza_core::{ApiError, FieldError, FieldErrors, FieldPath, GroupResource, Object, UserInfo};
use piazza_storage::{ReadRevision, StorageError};

use super::Store;
use super::graceful::{DeletePlan, should_delete_during_update, validate_delete_options};
use crate::admission::{Attributes, Operation};
use crate::object_meta;

/// How many times a write retries after losing a compare-and-swap race.
const MAX_CONFLICT_RETRIES: usize = 32;

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
    /// nothing is written.
    pub async fn create(
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
                if let Ok(existing) = self.storage.get(&key, ReadRevision::Latest).await {
                    if self.decode_stored(&existing).is_ok_and(|o| o.metadata().deletion_timestamp.is_some())
                    {
                        err.message = format!("object is being deleted: {}", err.message);
                    }
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
        for _ in 0..MAX_CONFLICT_RETRIES {
            let current = self
                .storage
                .get(&key, ReadRevision::Latest)
                .await
                .map_err(|e| self.storage_error(e, name))?;
            let old = self.decode_stored(&current)?;
            let (mut candidate, expected_rv) = transform(&old)?;
            if expected_rv.is_some_and(|rv| rv != current.mod_revision) {
                return Err(ApiError::optimistic_lock_conflict(&self.descriptor.group_resource(), name));
            }
            self.reconcile_namespace(&mut candidate, namespace)?;
            candidate.metadata_mut().name = Some(name.to_owned());
            let changed = self.spec_changed(&candidate, &old)?;
            let mut errs =
                object_meta::prepare_update_meta(candidate.metadata_mut(), old.metadata(), changed);
            self.strategy.prepare_for_update(&mut candidate, &old);
            self.run_admission(&attributes, &mut candidate, Some(&old)).await?;
            errs.extend(self.strategy.validate_update(&candidate, &old));
            if !errs.is_empty() {
                return Err(self.invalid(name, &errs));
            }
            self.run_validating_admission(&attributes, &candidate, Some(&old)).await?;
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
                    Err(StorageError::Conflict { .. }) if expected_rv.is_none() => continue,
                    // Someone else removed it first (racing updates that both cleared the
                    // finalizers): the object is gone either way, as upstream tolerates.
                    Err(StorageError::NotFound { .. }) => return Ok(candidate),
                    Err(e) => return Err(self.storage_error(e, name)),
                }
            }
            let bytes = self.encode_for_storage(&candidate)?;
            match self.storage.update(&key, current.mod_revision, bytes).await {
                Ok(kv) => {
                    candidate.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
                    return Ok(candidate);
                }
                Err(StorageError::Conflict { .. }) if expected_rv.is_none() => continue,
                Err(e) => return Err(self.storage_error(e, name)),
            }
        }
        Err(ApiError::optimistic_lock_conflict(&self.descriptor.group_resource(), name))
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
