//! Graceful deletion and finalizers: what a DELETE does to an object that is not simply
//! removed, and the reaper that removes gracefully deleted objects when their grace period
//! ends.
//!
//! # What a DELETE does
//!
//! The decision ([`Store::plan_delete`]) follows upstream's `rest.BeforeDelete` and the
//! generic store's `Delete` / `updateForGracefulDeletionAndFinalizers`:
//!
//! 1. A kind whose [`Strategy::default_grace_period_seconds`] is `Some` deletes gracefully
//!    when the effective grace period is above 0: `deletionTimestamp` becomes now plus the
//!    grace period (rounded up to the next whole second, so the object never goes early),
//!    `deletionGracePeriodSeconds` the grace period, the generation is bumped, and the
//!    object stays. A second DELETE may shorten the grace period (the deadline moves by the
//!    difference) but never lengthen it; one that does not shorten it changes nothing.
//! 2. The garbage collector's finalizers are updated from `propagationPolicy` /
//!    `orphanDependents` ([`crate::object_meta::deletion_finalizers`], see
//!    [`GarbageCollectionPolicy`] for why Piazza adds them although it has no collector).
//! 3. An object left with finalizers is marked deleting (`deletionTimestamp` set, grace 0)
//!    and stays until an update removes its last finalizer; that update then removes it.
//! 4. Otherwise the object is removed at once, with a compare-and-swap on the revision read.
//!
//! One deliberate difference: upstream writes the marked object before removing it when a
//! graceful kind's grace period is shortened to 0; Piazza removes it directly, so watchers
//! see one DELETED instead of MODIFIED + DELETED.
//!
//! # The reaper
//!
//! Every store of a graceful kind runs one background task, unless it was built
//! [`without_reaper`](crate::store::StoreBuilder::without_reaper) because another store over
//! the same keys runs it (a status store, a second group sharing the storage). It lists the
//! objects that carry a `deletionTimestamp`, then watches the kind from the list's revision,
//! so it learns of deletions made before a restart and by other replicas sharing the
//! storage. It sleeps until the earliest deadline, then finishes the deletion as a DELETE
//! with `gracePeriodSeconds=0` would: an object without finalizers is removed with a
//! compare-and-swap delete (so when several replicas race, exactly one removes it and the
//! others see a conflict or NotFound and stop); one with finalizers gets a grace period of
//! 0 and waits for them. The task holds only a weak reference to its store and ends when the
//! store is dropped.
//!
//! [`GarbageCollectionPolicy`]: crate::strategy::GarbageCollectionPolicy
//! [`Strategy::default_grace_period_seconds`]: crate::strategy::Strategy::default_grace_period_seconds

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use piazza_codec::protobuf::peek;
use piazza_core::field::FieldErrorType;
use piazza_core::meta::DeleteOptions;
use piazza_core::{ApiError, FieldError, FieldErrors, FieldPath, GroupKind, Object};
use piazza_storage::{EventType, KeyValue, ListOptions, ReadRevision, StorageError, WatchStream};
use serde::Deserialize;

use super::Store;
use crate::object_meta::{self, PROPAGATION_BACKGROUND, PROPAGATION_FOREGROUND, PROPAGATION_ORPHAN};
use crate::version::VersionCodec;

/// How long the reaper waits before retrying after a storage error.
const RETRY: Duration = Duration::from_secs(1);
/// How often an idle reaper checks that its store still exists.
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// How many compare-and-swap races one reap may lose before it is retried later.
const MAX_REAP_ATTEMPTS: usize = 16;

// === DeleteOptions ===

/// Validates a DELETE's options as upstream's `ValidateDeleteOptions`: a 422
/// `DeleteOptions.meta.k8s.io "" is invalid: …` for `orphanDependents` together with
/// `propagationPolicy`, an unknown policy, or a `dryRun` value other than `All`.
pub fn validate_delete_options(options: &DeleteOptions) -> Result<(), ApiError> {
    let mut errs = FieldErrors::new();
    let policy_path = FieldPath::new("propagationPolicy");
    if let Some(policy) = options.propagation_policy.as_deref() {
        if options.orphan_dependents.is_some() {
            errs.push(FieldError::invalid(
                policy_path.clone(),
                policy,
                "orphanDependents and deletionPropagation cannot be both set",
            ));
        }
        if ![PROPAGATION_FOREGROUND, PROPAGATION_BACKGROUND, PROPAGATION_ORPHAN].contains(&policy) {
            errs.push(FieldError::not_supported(
                policy_path,
                policy,
                &[PROPAGATION_FOREGROUND, PROPAGATION_BACKGROUND, PROPAGATION_ORPHAN, "nil"],
            ));
        }
    }
    let dry_run = options.dry_run.as_deref().unwrap_or_default();
    if dry_run.iter().any(|d| d != "All") {
        // Upstream prints the whole list with Go's `%#v`.
        errs.push(FieldError {
            error_type: FieldErrorType::NotSupported,
            field: FieldPath::new("dryRun"),
            value: None,
            detail: format!("{}: supported values: \"All\"", object_meta::go_string_slice(dry_run)),
        });
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&GroupKind::new("meta.k8s.io", "DeleteOptions"), "", &errs))
    }
}

/// The grace period a client asked for; negative values count as 1 second, as upstream.
fn requested_grace(options: &DeleteOptions) -> Option<i64> {
    options.grace_period_seconds.map(|g| if g < 0 { 1 } else { g })
}

// === the decision ===

/// What a DELETE does to one object.
#[derive(Debug)]
pub(super) enum DeletePlan<H> {
    /// Remove it now.
    Now,
    /// A graceful deletion with a grace period at most the requested one is already
    /// pending: nothing changes.
    AlreadyPending,
    /// Write this state (deletion fields and finalizers set) and keep the object.
    Mark(H),
}

/// Whether an update that leaves `new` in place of `old` removes the object instead
/// (upstream's `ShouldDeleteDuringUpdate`): no finalizers remain, and `old` was being
/// deleted with no grace period left.
pub(super) fn should_delete_during_update<H: Object>(new: &H, old: &H) -> bool {
    let new = new.metadata();
    let old = old.metadata();
    new.finalizers.as_ref().is_none_or(Vec::is_empty)
        && old.deletion_timestamp.is_some()
        && old.deletion_grace_period_seconds.unwrap_or(0) == 0
}

/// `now` plus `seconds`, rounded up to a whole second.
fn deadline_after(now: jiff::Timestamp, seconds: i64) -> Time {
    let base = now.as_second() + i64::from(now.subsec_nanosecond() > 0);
    Time(jiff::Timestamp::from_second(base.saturating_add(seconds)).unwrap_or(now))
}

/// Moves a pending graceful deletion to a shorter grace period, as upstream: the deadline
/// moves back by the difference.
fn shorten(meta: &mut piazza_core::meta::ObjectMeta, current: i64, to: i64) {
    if let Some(ts) = &meta.deletion_timestamp {
        let moved = ts.0.as_second().saturating_sub(current).saturating_add(to);
        meta.deletion_timestamp = Some(Time(jiff::Timestamp::from_second(moved).unwrap_or(ts.0)));
    }
    meta.deletion_grace_period_seconds = Some(to);
}

impl<H: Object> Store<H> {
    /// Decides what a DELETE with `options` does to `object` at `now`. See the module docs.
    pub(super) fn plan_delete(
        &self,
        object: &H,
        options: &DeleteOptions,
        now: jiff::Timestamp,
    ) -> DeletePlan<H> {
        let requested = requested_grace(options);
        let mut marked = object.clone();
        let meta = marked.metadata_mut();
        if meta.deletion_grace_period_seconds.is_some_and(|g| g < 0) {
            meta.deletion_grace_period_seconds = Some(1);
        }
        let mut graceful = false;
        if let Some(default) = self.strategy.default_grace_period_seconds() {
            match (meta.deletion_timestamp.is_some(), meta.deletion_grace_period_seconds.unwrap_or(0)) {
                // Already deleting without a grace period (finalizers pending): not graceful.
                (true, 0) => {}
                (true, current) => match requested {
                    Some(shorter) if shorter < current => {
                        shorten(meta, current, shorter);
                        graceful = true;
                    }
                    _ => return DeletePlan::AlreadyPending,
                },
                (false, _) => {
                    let grace = requested.unwrap_or(if default < 0 { 1 } else { default });
                    if grace > 0 {
                        meta.deletion_timestamp = Some(deadline_after(now, grace));
                        meta.deletion_grace_period_seconds = Some(grace);
                        if let Some(generation) = meta.generation.filter(|g| *g > 0) {
                            meta.generation = Some(generation + 1);
                        }
                        graceful = true;
                    }
                }
            }
        }
        let policy = self.strategy.garbage_collection_policy();
        if let Some(finalizers) = object_meta::deletion_finalizers(meta, options, policy) {
            meta.finalizers = Some(finalizers);
        }
        let has_finalizers = meta.finalizers.as_ref().is_some_and(|f| !f.is_empty());
        let grace_left = meta.deletion_grace_period_seconds.unwrap_or(0);
        if graceful && grace_left > 0 {
            return DeletePlan::Mark(marked);
        }
        if !has_finalizers {
            return DeletePlan::Now;
        }
        if !graceful {
            let now = Time(jiff::Timestamp::from_second(now.as_second()).unwrap_or(now));
            object_meta::mark_as_deleting(meta, &now);
        }
        DeletePlan::Mark(marked)
    }

    /// Starts this store's reaper if the kind deletes gracefully, the store runs one and a
    /// tokio runtime is available; cheap when it already runs.
    pub(super) fn ensure_reaper(&self) {
        if self.runs_reaper && self.strategy.default_grace_period_seconds().is_some() {
            self.graceful.start();
        }
    }

    /// Tells the reaper about an object this store just marked for deletion, so it does
    /// not wait for the watch to deliver the change.
    pub(super) fn schedule_reap(&self, key: &str, object: &H) {
        if !self.runs_reaper {
            return; // the store that reaps these keys learns of it from its watch
        }
        let meta = object.metadata();
        let has_finalizers = meta.finalizers.as_ref().is_some_and(|f| !f.is_empty());
        if let Some(deadline) =
            due_at(meta.deletion_timestamp.as_ref(), meta.deletion_grace_period_seconds, has_finalizers)
        {
            self.graceful.schedule.insert(key.to_owned(), deadline);
        }
    }

    /// Finishes the graceful deletion of the object at `key` if its deadline has passed.
    /// Returns when to look again, if ever.
    async fn reap(&self, key: &str) -> Option<i64> {
        let retry_at = || now_seconds() + RETRY.as_secs() as i64;
        for _ in 0..MAX_REAP_ATTEMPTS {
            let current = match self.storage.get(key, ReadRevision::Latest).await {
                Ok(kv) => kv,
                Err(StorageError::NotFound { .. }) => return None,
                Err(e) => {
                    tracing::warn!(key, error = %e, "graceful deletion: reading the object failed");
                    return Some(retry_at());
                }
            };
            let object = match self.decode_stored(&current) {
                Ok(object) => object,
                Err(e) => {
                    tracing::warn!(key, error = %e, "graceful deletion: the stored object does not decode");
                    return None;
                }
            };
            let meta = object.metadata();
            let deletion = meta.deletion_timestamp.as_ref()?;
            let grace = meta.deletion_grace_period_seconds.unwrap_or(0);
            let has_finalizers = meta.finalizers.as_ref().is_some_and(|f| !f.is_empty());
            if grace > 0 && deletion.0.as_second() > now_seconds() {
                return Some(deletion.0.as_second());
            }
            let written = if has_finalizers {
                if grace <= 0 {
                    return None; // waiting for its finalizers
                }
                let mut marked = object.clone();
                shorten(marked.metadata_mut(), grace, 0);
                match self.encode_for_storage(&marked) {
                    Ok(bytes) => self.storage.update(key, current.mod_revision, bytes).await.map(drop),
                    Err(e) => {
                        tracing::warn!(key, error = %e, "graceful deletion: encoding failed");
                        return None;
                    }
                }
            } else {
                self.storage.delete(key, Some(current.mod_revision)).await.map(drop)
            };
            match written {
                Ok(()) | Err(StorageError::NotFound { .. }) => return None,
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => {
                    tracing::warn!(key, error = %e, "graceful deletion: the write failed");
                    return Some(retry_at());
                }
            }
        }
        Some(retry_at())
    }
}

// === the reaper ===

/// When an object with these deletion fields is due for the reaper, in Unix seconds:
/// at its deadline while a grace period is pending; at once when it is marked deleting
/// with no grace period and no finalizers (left over by an interrupted deletion); never
/// while it only waits for finalizers.
fn due_at(deletion: Option<&Time>, grace: Option<i64>, has_finalizers: bool) -> Option<i64> {
    let deletion = deletion?;
    match grace.unwrap_or(0) {
        g if g > 0 => Some(deletion.0.as_second()),
        _ if !has_finalizers => Some(i64::MIN),
        _ => None,
    }
}

fn now_seconds() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The deletion fields of a stored object, read without decoding the whole object. The
/// stored encoding is JSON (see `Store::encode_for_storage`).
#[derive(Deserialize)]
struct StoredDeletion {
    #[serde(default)]
    metadata: StoredDeletionMeta,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredDeletionMeta {
    deletion_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    finalizers: Option<Vec<String>>,
}

/// When a stored object is due for the reaper, if ever (see [`due_at`]): JSON is searched
/// for a deletion timestamp, and protobuf walked for one, before the object is decoded; YAML
/// is decoded.
fn stored_object_due_at<H: Object>(codecs: &[Arc<dyn VersionCodec<H>>], kv: &KeyValue) -> Option<i64> {
    if kv.value.trim_ascii_start().starts_with(b"{") {
        return stored_due_at(&kv.value);
    }
    // Not protobuf (YAML) counts as "may have": it is decoded below.
    if !peek::may_have_deletion_timestamp(&kv.value) {
        return None;
    }
    let object = super::decode_stored(codecs, kv).ok()?;
    let meta = object.metadata();
    let has_finalizers = meta.finalizers.as_ref().is_some_and(|f| !f.is_empty());
    due_at(meta.deletion_timestamp.as_ref(), meta.deletion_grace_period_seconds, has_finalizers)
}

/// When a stored JSON object is due for the reaper, if ever (see [`due_at`]).
fn stored_due_at(value: &[u8]) -> Option<i64> {
    const FIELD: &[u8] = b"\"deletionTimestamp\"";
    if !value.windows(FIELD.len()).any(|w| w == FIELD) {
        return None;
    }
    let stored: StoredDeletion = serde_json::from_slice(value).ok()?;
    let meta = stored.metadata;
    let has_finalizers = meta.finalizers.as_ref().is_some_and(|f| !f.is_empty());
    due_at(meta.deletion_timestamp.as_ref(), meta.deletion_grace_period_seconds, has_finalizers)
}

/// The keys waiting for the reaper, by deadline.
#[derive(Default)]
struct Schedule {
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
}

#[derive(Default)]
struct Queue {
    by_deadline: BTreeSet<(i64, String)>,
    by_key: HashMap<String, i64>,
}

impl Schedule {
    /// Schedules `key` at `deadline`, unless it already is at an earlier one (which then
    /// finds the object not yet due and schedules it again).
    fn insert(&self, key: String, deadline: i64) {
        let Ok(mut queue) = self.queue.lock() else { return };
        match queue.by_key.get(&key) {
            Some(existing) if *existing <= deadline => return,
            Some(existing) => {
                let existing = *existing;
                queue.by_deadline.remove(&(existing, key.clone()));
            }
            None => {}
        }
        queue.by_deadline.insert((deadline, key.clone()));
        queue.by_key.insert(key, deadline);
        drop(queue);
        self.wake.notify_one();
    }

    /// The earliest deadline, if any.
    fn next(&self) -> Option<i64> {
        self.queue.lock().ok()?.by_deadline.first().map(|(d, _)| *d)
    }

    /// Removes and returns the keys due at `now`.
    fn take_due(&self, now: i64) -> Vec<String> {
        let Ok(mut queue) = self.queue.lock() else { return Vec::new() };
        let mut due = Vec::new();
        while let Some((deadline, _)) = queue.by_deadline.first() {
            if *deadline > now {
                break;
            }
            if let Some((_, key)) = queue.by_deadline.pop_first() {
                queue.by_key.remove(&key);
                due.push(key);
            }
        }
        due
    }
}

/// A store's reaper: its schedule and, once started, its task.
pub(super) struct Reaper<H> {
    store: Weak<Store<H>>,
    schedule: Arc<Schedule>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl<H: Object> Reaper<H> {
    /// A reaper for the store `store` points to (made with `Arc::new_cyclic`).
    pub(super) fn new(store: Weak<Store<H>>) -> Self {
        Self { store, schedule: Arc::default(), task: Mutex::new(None) }
    }

    /// Spawns the task on the current tokio runtime, once; without a runtime it stays idle
    /// until a later call from inside one.
    fn start(&self) {
        let Ok(mut task) = self.task.lock() else { return };
        if task.is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let handle = runtime.spawn(run(self.store.clone(), Arc::clone(&self.schedule)));
        *task = Some(handle.abort_handle());
    }
}

impl<H> Drop for Reaper<H> {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// The reaper's task: list, then follow the watch, reaping what falls due; list again when
/// the watch ends. Returns when the store is gone.
async fn run<H: Object>(store: Weak<Store<H>>, schedule: Arc<Schedule>) {
    loop {
        let events = match resync(&store, &schedule).await {
            Ok(Some(events)) => events,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "graceful deletion: listing deleting objects failed");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if !follow(&store, &schedule, events).await {
            return;
        }
    }
}

/// Schedules every stored object that carries a deletion deadline and starts a watch after
/// the list's revision. `None` when the store is gone.
async fn resync<H: Object>(
    store: &Weak<Store<H>>,
    schedule: &Schedule,
) -> Result<Option<WatchStream>, StorageError> {
    let Some(store) = store.upgrade() else { return Ok(None) };
    let prefix = store.keys.collection(None);
    let codecs = store.codecs.clone();
    let options = ListOptions {
        predicate: Some(Arc::new(move |kv: &KeyValue| stored_object_due_at(&codecs, kv).is_some())),
        ..ListOptions::default()
    };
    let listed = store.storage.list(&prefix, options).await?;
    for kv in &listed.items {
        if let Some(deadline) = stored_object_due_at(&store.codecs, kv) {
            schedule.insert(kv.key.clone(), deadline);
        }
    }
    Ok(Some(store.storage.watch(&prefix, listed.revision).await?))
}

/// Follows the watch and reaps what falls due. `true` when the watch ended (list again),
/// `false` when the store is gone.
async fn follow<H: Object>(store: &Weak<Store<H>>, schedule: &Schedule, mut events: WatchStream) -> bool {
    loop {
        let wait = match schedule.next() {
            Some(deadline) => {
                let ms =
                    deadline.saturating_mul(1000).saturating_sub(jiff::Timestamp::now().as_millisecond());
                Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(IDLE_CHECK)
            }
            None => IDLE_CHECK,
        };
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => {
                    if matches!(event.event_type, EventType::Added | EventType::Modified)
                        && let Some(store) = store.upgrade()
                        && let Some(deadline) = stored_object_due_at(&store.codecs, &event.kv) {
                            schedule.insert(event.kv.key, deadline);
                        }
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "graceful deletion: the watch ended; listing again");
                    return true;
                }
                None => return true,
            },
            () = tokio::time::sleep(wait) => {
                let Some(store) = store.upgrade() else { return false };
                for key in schedule.take_due(now_seconds()) {
                    if let Some(again) = store.reap(&key).await {
                        schedule.insert(key, again);
                    }
                }
            }
            () = schedule.wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests;
