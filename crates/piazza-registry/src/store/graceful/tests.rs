//! Graceful deletion and finalizers at the registry level, on the embedded store: the
//! decision of each DELETE, the update that clears the last finalizer, preconditions, dry
//! run, validation messages, and the reaper (including a restart: a second store over the
//! same storage finishes what the first started).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use piazza_core::meta::{ObjectMeta, Preconditions};
use piazza_core::{Resource, Scope, UserInfo, impl_object};
use piazza_storage::Storage;
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::*;
use crate::params::ListParams;
use crate::store::{DeleteState, HubWatchEvent, HubWatchStream};
use crate::strategy::{GarbageCollectionPolicy, Strategy};

const NS: &str = "default";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Widget {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    size: i64,
}

impl_object!(Widget);

impl Resource for Widget {
    const GROUP: &'static str = "test.piazza.dev";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Widget";
    const PLURAL: &'static str = "widgets";
    const SINGULAR: &'static str = "widget";
    const SCOPE: Scope = Scope::Namespaced;
}

/// A strategy with a configurable default grace period and GC policy.
struct Rules {
    grace: Option<i64>,
    gc: GarbageCollectionPolicy,
}

impl Strategy<Widget> for Rules {
    fn default_grace_period_seconds(&self) -> Option<i64> {
        self.grace
    }
    fn garbage_collection_policy(&self) -> GarbageCollectionPolicy {
        self.gc
    }
}

struct Env {
    storage: Arc<dyn Storage>,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    Env { storage, _dir: dir }
}

fn store_with(
    storage: &Arc<dyn Storage>,
    grace: Option<i64>,
    gc: GarbageCollectionPolicy,
) -> Arc<Store<Widget>> {
    Store::<Widget>::builder(Arc::clone(storage))
        .storage_version::<Widget>()
        .strategy(Rules { grace, gc })
        .build()
        .unwrap()
}

fn graceful(storage: &Arc<dyn Storage>) -> Arc<Store<Widget>> {
    store_with(storage, Some(0), GarbageCollectionPolicy::default())
}

fn user() -> UserInfo {
    UserInfo { name: "admin".into(), groups: vec!["system:masters".into()], ..Default::default() }
}

fn widget(name: &str, finalizers: &[&str]) -> Widget {
    let mut w = Widget { size: 1, ..Default::default() };
    w.metadata.name = Some(name.into());
    if !finalizers.is_empty() {
        w.metadata.finalizers = Some(finalizers.iter().map(|f| (*f).to_owned()).collect());
    }
    w
}

fn grace(seconds: i64) -> DeleteOptions {
    DeleteOptions { grace_period_seconds: Some(seconds), ..Default::default() }
}

fn rv(w: &Widget) -> u64 {
    w.metadata.resource_version.as_deref().unwrap().parse().unwrap()
}

async fn create(store: &Store<Widget>, w: Widget) -> Widget {
    store.create(Some(NS), w, &user(), false).await.unwrap()
}

async fn get(store: &Store<Widget>, name: &str) -> Result<Widget, ApiError> {
    store.get(Some(NS), name, ReadRevision::Latest).await
}

async fn watch_from(store: &Store<Widget>, from: u64) -> HubWatchStream<Widget> {
    let params = ListParams { resource_version: Some(from.to_string()), ..Default::default() };
    store.watch(Some(NS), &params).await.unwrap()
}

/// The next change event, as (type, object).
async fn next_change(events: &mut HubWatchStream<Widget>, within: Duration) -> (&'static str, Widget) {
    loop {
        let event = tokio::time::timeout(within, events.next())
            .await
            .expect("a watch event in time")
            .expect("the watch goes on");
        match event {
            HubWatchEvent::Added(o) => return ("ADDED", std::sync::Arc::unwrap_or_clone(o)),
            HubWatchEvent::Modified(o) => return ("MODIFIED", std::sync::Arc::unwrap_or_clone(o)),
            HubWatchEvent::Deleted(o) => return ("DELETED", std::sync::Arc::unwrap_or_clone(o)),
            HubWatchEvent::Bookmark { .. } => {}
            HubWatchEvent::Error(e) => panic!("watch error: {e}"),
        }
    }
}

/// Waits until `name` is gone, failing after `within`.
async fn gone_within(store: &Store<Widget>, name: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match get(store, name).await {
            Err(e) if e.code == 404 => return,
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("{name} still there after {within:?}: {other:?}"),
        }
    }
}

// === graceful deletion ===

#[tokio::test]
async fn a_grace_period_keeps_the_object_then_the_reaper_removes_it() {
    let env = env();
    let store = graceful(&env.storage);
    let created = create(&store, widget("w", &[])).await;
    let mut events = watch_from(&store, rv(&created)).await;

    let before = jiff::Timestamp::now();
    let outcome = store.delete(Some(NS), "w", &grace(2), &user(), false).await.unwrap();
    assert_eq!(outcome.state, DeleteState::Deleting);
    assert!(!outcome.deleted());
    let meta = &outcome.object.metadata;
    assert_eq!(meta.deletion_grace_period_seconds, Some(2));
    let deadline = meta.deletion_timestamp.as_ref().unwrap().0;
    assert!(deadline.as_second() >= before.as_second() + 2, "never earlier than asked: {deadline}");
    assert!(deadline.as_second() <= before.as_second() + 3, "{deadline}");
    assert_eq!(meta.generation, Some(2), "the first deletion bumps the generation");
    // Still visible, with the deletion fields.
    let visible = get(&store, "w").await.unwrap();
    assert_eq!(visible.metadata.deletion_timestamp, outcome.object.metadata.deletion_timestamp);

    let (kind, modified) = next_change(&mut events, Duration::from_secs(5)).await;
    assert_eq!(kind, "MODIFIED");
    assert!(modified.metadata.deletion_timestamp.is_some());
    let (kind, deleted) = next_change(&mut events, Duration::from_secs(10)).await;
    assert_eq!(kind, "DELETED");
    assert!(jiff::Timestamp::now().as_second() >= deadline.as_second(), "not removed before its deadline");
    assert!(rv(&deleted) > rv(&modified));
    gone_within(&store, "w", Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_store_without_a_reaper_leaves_reaping_to_the_store_that_runs_one() {
    let env = env();
    let quiet = Store::<Widget>::builder(Arc::clone(&env.storage))
        .storage_version::<Widget>()
        .strategy(Rules { grace: Some(0), gc: GarbageCollectionPolicy::default() })
        .without_reaper()
        .build()
        .unwrap();
    create(&quiet, widget("w", &[])).await;
    let marked = quiet.delete(Some(NS), "w", &grace(1), &user(), false).await.unwrap();
    assert_eq!(marked.state, DeleteState::Deleting);
    // Nothing reaps it: past its deadline it is still there.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let still = get(&quiet, "w").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());
    assert!(quiet.graceful.schedule.next().is_none(), "a store without a reaper schedules nothing");

    // A store over the same keys that runs a reaper finds it when it starts, and removes it.
    let reaping = graceful(&env.storage);
    gone_within(&reaping, "w", Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_second_delete_may_shorten_the_grace_period_but_not_lengthen_it() {
    let env = env();
    let store = graceful(&env.storage);
    create(&store, widget("w", &[])).await;
    let first = store.delete(Some(NS), "w", &grace(300), &user(), false).await.unwrap().object;
    let first_deadline = first.metadata.deletion_timestamp.clone().unwrap().0.as_second();

    // Longer, equal or unspecified: nothing changes.
    for options in [grace(600), grace(300), DeleteOptions::default()] {
        let again = store.delete(Some(NS), "w", &options, &user(), false).await.unwrap();
        assert_eq!(again.state, DeleteState::AlreadyDeleting);
        assert_eq!(rv(&again.object), rv(&first), "{options:?} wrote something");
    }

    // Shorter: the deadline moves back by the difference.
    let shorter = store.delete(Some(NS), "w", &grace(100), &user(), false).await.unwrap();
    assert_eq!(shorter.state, DeleteState::Deleting);
    assert_eq!(shorter.object.metadata.deletion_grace_period_seconds, Some(100));
    let deadline = shorter.object.metadata.deletion_timestamp.unwrap().0.as_second();
    assert_eq!(deadline, first_deadline - 200);
    assert_eq!(shorter.object.metadata.generation, Some(2), "only the first deletion bumps the generation");

    // Shortened to 0: gone at once.
    let now = store.delete(Some(NS), "w", &grace(0), &user(), false).await.unwrap();
    assert_eq!(now.state, DeleteState::Deleted);
    gone_within(&store, "w", Duration::ZERO).await;
}

#[tokio::test]
async fn zero_negative_and_default_grace_periods() {
    let env = env();
    let store = graceful(&env.storage);
    create(&store, widget("zero", &[])).await;
    let outcome = store.delete(Some(NS), "zero", &grace(0), &user(), false).await.unwrap();
    assert_eq!(outcome.state, DeleteState::Deleted);
    // The sample's default of 0 keeps plain deletes immediate.
    create(&store, widget("plain", &[])).await;
    assert!(
        store.delete(Some(NS), "plain", &DeleteOptions::default(), &user(), false).await.unwrap().deleted()
    );
    // Negative counts as 1 second, as upstream.
    create(&store, widget("neg", &[])).await;
    let outcome = store.delete(Some(NS), "neg", &grace(-5), &user(), false).await.unwrap();
    assert_eq!(outcome.object.metadata.deletion_grace_period_seconds, Some(1));
    gone_within(&store, "neg", Duration::from_secs(5)).await;

    // A kind's own default applies when the client names none.
    let defaulted = store_with(&env.storage, Some(30), GarbageCollectionPolicy::default());
    create(&defaulted, widget("d", &[])).await;
    let outcome = defaulted.delete(Some(NS), "d", &DeleteOptions::default(), &user(), false).await.unwrap();
    assert_eq!(outcome.object.metadata.deletion_grace_period_seconds, Some(30));
}

#[tokio::test]
async fn a_kind_without_graceful_deletion_ignores_the_grace_period() {
    let env = env();
    let store = store_with(&env.storage, None, GarbageCollectionPolicy::default());
    create(&store, widget("w", &[])).await;
    let outcome = store.delete(Some(NS), "w", &grace(60), &user(), false).await.unwrap();
    assert_eq!(outcome.state, DeleteState::Deleted);
    gone_within(&store, "w", Duration::ZERO).await;
}

// === finalizers ===

#[tokio::test]
async fn finalizers_block_removal_until_an_update_clears_the_last_one() {
    let env = env();
    let store = store_with(&env.storage, None, GarbageCollectionPolicy::default());
    let created = create(&store, widget("f", &["example.com/a", "example.com/b"])).await;
    let mut events = watch_from(&store, rv(&created)).await;

    let outcome = store.delete(Some(NS), "f", &grace(30), &user(), false).await.unwrap();
    assert_eq!(outcome.state, DeleteState::Deleting);
    let marked = outcome.object;
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(0));
    assert_eq!(marked.metadata.generation, Some(2));
    let (kind, _) = next_change(&mut events, Duration::from_secs(5)).await;
    assert_eq!(kind, "MODIFIED");

    // A second DELETE changes nothing and answers the object.
    let again = store.delete(Some(NS), "f", &DeleteOptions::default(), &user(), false).await.unwrap();
    assert_eq!(again.state, DeleteState::Deleting);
    assert_eq!(rv(&again.object), rv(&marked));

    // Adding a finalizer while deleting is forbidden.
    let mut more = marked.clone();
    more.metadata.finalizers =
        Some(vec!["example.com/a".into(), "example.com/b".into(), "example.com/c".into()]);
    let err = store.update(Some(NS), "f", more, &user(), false).await.unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Widget.test.piazza.dev \"f\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/c\"}"
    );

    // Removing one of two: an ordinary update.
    let mut fewer = get(&store, "f").await.unwrap();
    fewer.metadata.finalizers = Some(vec!["example.com/b".into()]);
    let kept = store.update(Some(NS), "f", fewer, &user(), false).await.unwrap();
    assert_eq!(kept.metadata.deletion_timestamp, marked.metadata.deletion_timestamp, "immutable");
    let (kind, _) = next_change(&mut events, Duration::from_secs(5)).await;
    assert_eq!(kind, "MODIFIED");

    // Removing the last one removes the object; the answer is the final state.
    let mut last = kept.clone();
    last.metadata.finalizers = None;
    let removed = store.update(Some(NS), "f", last, &user(), false).await.unwrap();
    assert!(removed.metadata.finalizers.is_none());
    assert!(rv(&removed) > rv(&kept), "the answer carries the deletion's resourceVersion");
    gone_within(&store, "f", Duration::ZERO).await;
    let (kind, deleted) = next_change(&mut events, Duration::from_secs(5)).await;
    assert_eq!(kind, "DELETED");
    assert_eq!(rv(&deleted), rv(&removed));
}

#[tokio::test]
async fn deletion_fields_are_immutable_from_clients() {
    let env = env();
    let store = graceful(&env.storage);
    let created = create(&store, widget("i", &[])).await;

    // Setting them on an object that is not being deleted.
    let mut set = created.clone();
    set.metadata.deletion_timestamp = Some(Time("2030-01-02T03:04:05Z".parse().unwrap()));
    set.metadata.deletion_grace_period_seconds = Some(5);
    let err = store.update(Some(NS), "i", set, &user(), false).await.unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Widget.test.piazza.dev \"i\" is invalid: [metadata.deletionTimestamp: Invalid value: 2030-01-02 03:04:05 +0000 UTC: field is immutable, metadata.deletionGracePeriodSeconds: Invalid value: 5: field is immutable]"
    );

    // Changing or dropping them on one that is: the timestamp is kept, the grace period
    // may be omitted but not changed.
    let marked = store.delete(Some(NS), "i", &grace(300), &user(), false).await.unwrap().object;
    let mut moved = marked.clone();
    moved.metadata.deletion_timestamp = None;
    moved.metadata.deletion_grace_period_seconds = None;
    moved.size = 2;
    let updated = store.update(Some(NS), "i", moved, &user(), false).await.unwrap();
    assert_eq!(updated.metadata.deletion_timestamp, marked.metadata.deletion_timestamp);
    assert_eq!(updated.metadata.deletion_grace_period_seconds, Some(300));
    let mut shortened = updated.clone();
    shortened.metadata.deletion_grace_period_seconds = Some(1);
    let err = store.update(Some(NS), "i", shortened, &user(), false).await.unwrap_err();
    assert!(
        err.message.ends_with("metadata.deletionGracePeriodSeconds: Invalid value: 1: field is immutable"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_graceful_deletion_with_finalizers_waits_for_both() {
    let env = env();
    let store = graceful(&env.storage);
    create(&store, widget("gf", &["example.com/a"])).await;
    let marked = store.delete(Some(NS), "gf", &grace(1), &user(), false).await.unwrap().object;
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(1));
    let deadline = marked.metadata.deletion_timestamp.clone().unwrap().0.as_second();

    // After the grace period the reaper only ends it: grace 0, as a DELETE with
    // gracePeriodSeconds=0 would, and the object waits for its finalizer.
    let waited = loop {
        let current = get(&store, "gf").await.unwrap();
        if current.metadata.deletion_grace_period_seconds == Some(0) {
            break current;
        }
        assert!(
            jiff::Timestamp::now().as_second() < deadline + 10,
            "the reaper never ended the grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(waited.metadata.deletion_timestamp.unwrap().0.as_second(), deadline - 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(get(&store, "gf").await.is_ok(), "removed although a finalizer is pending");

    let mut cleared = get(&store, "gf").await.unwrap();
    cleared.metadata.finalizers = Some(Vec::new());
    store.update(Some(NS), "gf", cleared, &user(), false).await.unwrap();
    gone_within(&store, "gf", Duration::ZERO).await;
}

#[tokio::test]
async fn creating_over_an_object_being_deleted_says_so() {
    let env = env();
    let store = graceful(&env.storage);
    create(&store, widget("c", &["example.com/a"])).await;
    store.delete(Some(NS), "c", &DeleteOptions::default(), &user(), false).await.unwrap();
    let err = store.create(Some(NS), widget("c", &[]), &user(), false).await.unwrap_err();
    assert_eq!(err.code, 409);
    assert_eq!(err.message, "object is being deleted: widgets.test.piazza.dev \"c\" already exists");
}

// === propagation policy ===

#[tokio::test]
async fn propagation_policies_manage_the_garbage_collector_finalizers() {
    let env = env();
    let store = store_with(&env.storage, None, GarbageCollectionPolicy::default());
    let policy = |p: &str| DeleteOptions { propagation_policy: Some(p.into()), ..Default::default() };

    create(&store, widget("bg", &[])).await;
    assert!(store.delete(Some(NS), "bg", &policy("Background"), &user(), false).await.unwrap().deleted());

    create(&store, widget("orphan", &[])).await;
    let o = store.delete(Some(NS), "orphan", &policy("Orphan"), &user(), false).await.unwrap();
    assert_eq!(o.state, DeleteState::Deleting);
    assert_eq!(o.object.metadata.finalizers, Some(vec!["orphan".to_owned()]));

    create(&store, widget("fg", &["example.com/keep"])).await;
    let f = store.delete(Some(NS), "fg", &policy("Foreground"), &user(), false).await.unwrap();
    assert_eq!(
        f.object.metadata.finalizers,
        Some(vec!["example.com/keep".to_owned(), "foregroundDeletion".to_owned()])
    );

    let legacy = DeleteOptions { orphan_dependents: Some(true), ..Default::default() };
    create(&store, widget("legacy", &[])).await;
    let l = store.delete(Some(NS), "legacy", &legacy, &user(), false).await.unwrap();
    assert_eq!(l.object.metadata.finalizers, Some(vec!["orphan".to_owned()]));

    // A kind that cannot have dependents validates the policy and ignores it.
    let unsupported = store_with(&env.storage, None, GarbageCollectionPolicy::Unsupported);
    create(&unsupported, widget("u", &[])).await;
    assert!(unsupported.delete(Some(NS), "u", &policy("Orphan"), &user(), false).await.unwrap().deleted());

    // A kind that orphans by default.
    let orphaning = store_with(&env.storage, None, GarbageCollectionPolicy::OrphanDependents);
    create(&orphaning, widget("od", &[])).await;
    let od = orphaning.delete(Some(NS), "od", &DeleteOptions::default(), &user(), false).await.unwrap();
    assert_eq!(od.object.metadata.finalizers, Some(vec!["orphan".to_owned()]));
}

#[test]
fn delete_options_are_validated_with_upstream_messages() {
    let both = DeleteOptions {
        orphan_dependents: Some(false),
        propagation_policy: Some("Foreground".into()),
        ..Default::default()
    };
    let err = validate_delete_options(&both).unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Foreground\": orphanDependents and deletionPropagation cannot be both set"
    );
    let unknown = DeleteOptions { propagation_policy: Some("Sideways".into()), ..Default::default() };
    assert_eq!(
        validate_delete_options(&unknown).unwrap_err().message,
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
    );
    let dry = DeleteOptions { dry_run: Some(vec!["All".into(), "Some".into()]), ..Default::default() };
    assert_eq!(
        validate_delete_options(&dry).unwrap_err().message,
        "DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"All\", \"Some\"}: supported values: \"All\""
    );
    for ok in ["Orphan", "Background", "Foreground"] {
        let options = DeleteOptions { propagation_policy: Some(ok.into()), ..Default::default() };
        assert!(validate_delete_options(&options).is_ok());
    }
    assert!(
        validate_delete_options(&DeleteOptions { orphan_dependents: Some(true), ..Default::default() })
            .is_ok()
    );
}

#[tokio::test]
async fn invalid_options_change_nothing() {
    let env = env();
    let store = graceful(&env.storage);
    let created = create(&store, widget("v", &[])).await;
    let options = DeleteOptions { propagation_policy: Some("Bogus".into()), ..grace(5) };
    assert_eq!(store.delete(Some(NS), "v", &options, &user(), false).await.unwrap_err().code, 422);
    assert_eq!(rv(&get(&store, "v").await.unwrap()), rv(&created));
}

// === preconditions ===

#[tokio::test]
async fn preconditions_hold_for_graceful_and_finalizer_deletes() {
    let env = env();
    let store = graceful(&env.storage);
    for (name, finalizers, options) in
        [("g", &[][..], grace(30)), ("f", &["example.com/a"][..], DeleteOptions::default())]
    {
        let created = create(&store, widget(name, finalizers)).await;
        let uid = created.metadata.uid.clone().unwrap();
        let wrong_uid = DeleteOptions {
            preconditions: Some(Preconditions { uid: Some("nope".into()), ..Default::default() }),
            ..options.clone()
        };
        let err = store.delete(Some(NS), name, &wrong_uid, &user(), false).await.unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            format!(
                "Operation cannot be fulfilled on Widget.test.piazza.dev \"{name}\": the UID in the precondition (nope) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
            )
        );
        let wrong_rv = DeleteOptions {
            preconditions: Some(Preconditions { resource_version: Some("1".into()), ..Default::default() }),
            ..options.clone()
        };
        let err = store.delete(Some(NS), name, &wrong_rv, &user(), false).await.unwrap_err();
        assert_eq!(
            err.message,
            format!(
                "Operation cannot be fulfilled on Widget.test.piazza.dev \"{name}\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({}). The object might have been modified",
                rv(&created)
            )
        );
        assert_eq!(rv(&get(&store, name).await.unwrap()), rv(&created), "a failed precondition wrote");
        let right = DeleteOptions {
            preconditions: Some(Preconditions {
                uid: Some(uid),
                resource_version: Some(rv(&created).to_string()),
            }),
            ..options
        };
        let outcome = store.delete(Some(NS), name, &right, &user(), false).await.unwrap();
        assert_eq!(outcome.state, DeleteState::Deleting);
    }
}

// === dry run ===

#[tokio::test]
async fn dry_run_deletes_and_updates_change_nothing() {
    let env = env();
    let store = graceful(&env.storage);
    let created = create(&store, widget("d", &["example.com/a"])).await;
    let mut events = watch_from(&store, rv(&created)).await;

    let outcome = store.delete(Some(NS), "d", &DeleteOptions::default(), &user(), true).await.unwrap();
    assert_eq!(outcome.state, DeleteState::Deleting);
    assert!(outcome.object.metadata.deletion_timestamp.is_some(), "the answer shows what would be");
    let graceful = store.delete(Some(NS), "d", &grace(30), &user(), true).await.unwrap();
    assert_eq!(graceful.object.metadata.deletion_grace_period_seconds, Some(30));
    let stored = get(&store, "d").await.unwrap();
    assert_eq!(rv(&stored), rv(&created));
    assert!(stored.metadata.deletion_timestamp.is_none());

    // Really mark it, then dry-run the update that clears the finalizer.
    let marked = store.delete(Some(NS), "d", &DeleteOptions::default(), &user(), false).await.unwrap().object;
    let (kind, _) = next_change(&mut events, Duration::from_secs(5)).await;
    assert_eq!(kind, "MODIFIED");
    let mut cleared = marked.clone();
    cleared.metadata.finalizers = None;
    let answer = store.update(Some(NS), "d", cleared, &user(), true).await.unwrap();
    assert!(answer.metadata.finalizers.is_none());
    assert_eq!(rv(&get(&store, "d").await.unwrap()), rv(&marked), "a dry-run update removed the object");
    // Nothing else reached the watch.
    assert!(tokio::time::timeout(Duration::from_millis(300), events.next()).await.is_err());
}

// === the reaper ===

#[tokio::test]
async fn a_pending_graceful_deletion_survives_a_restart() {
    let env = env();
    let first = graceful(&env.storage);
    create(&first, widget("r", &[])).await;
    let marked = first.delete(Some(NS), "r", &grace(1), &user(), false).await.unwrap().object;
    let deadline = marked.metadata.deletion_timestamp.unwrap().0.as_second();
    drop(first); // the "server" stops before the deadline; its reaper with it

    while jiff::Timestamp::now().as_second() <= deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let raw = env.storage.get("/registry/test.piazza.dev/widgets/default/r", ReadRevision::Latest).await;
    assert!(raw.is_ok(), "nobody should have removed it while no store ran");

    // A new store over the same storage finds it at start-up and removes it.
    let second = graceful(&env.storage);
    gone_within(&second, "r", Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_race_to_reap_and_exactly_one_removes() {
    let env = env();
    let a = graceful(&env.storage);
    let b = graceful(&env.storage);
    let c = graceful(&env.storage);
    let mut names = Vec::new();
    for i in 0..5 {
        let name = format!("x{i}");
        create(&a, widget(&name, &[])).await;
        names.push(name);
    }
    let start = env.storage.current_revision().await.unwrap();
    let mut events = watch_from(&a, start).await;
    for name in &names {
        b.delete(Some(NS), name, &grace(1), &user(), false).await.unwrap();
    }
    let mut deleted = Vec::new();
    while deleted.len() < names.len() {
        match next_change(&mut events, Duration::from_secs(10)).await {
            ("DELETED", o) => deleted.push(o.metadata.name.unwrap()),
            ("MODIFIED", _) => {}
            other => panic!("{other:?}"),
        }
    }
    deleted.sort();
    assert_eq!(deleted, names, "each object is removed exactly once");
    assert!(tokio::time::timeout(Duration::from_millis(500), events.next()).await.is_err());
    drop((a, b, c));
}

// === pieces ===

#[test]
fn schedule_orders_by_deadline_and_keeps_the_earliest() {
    let schedule = Schedule::default();
    schedule.insert("b".into(), 20);
    schedule.insert("a".into(), 10);
    schedule.insert("b".into(), 30); // later: ignored
    schedule.insert("c".into(), 15);
    schedule.insert("c".into(), 5); // earlier: replaces
    assert_eq!(schedule.next(), Some(5));
    assert_eq!(schedule.take_due(12), vec!["c".to_owned(), "a".to_owned()]);
    assert_eq!(schedule.take_due(12), Vec::<String>::new());
    assert_eq!(schedule.next(), Some(20));
    assert_eq!(schedule.take_due(i64::MAX), vec!["b".to_owned()]);
    assert_eq!(schedule.next(), None);
}

#[test]
fn stored_objects_say_when_they_are_due() {
    assert_eq!(stored_due_at(br#"{"metadata":{"name":"x"}}"#), None);
    let pending =
        br#"{"metadata":{"deletionTimestamp":"2030-01-01T00:00:10Z","deletionGracePeriodSeconds":5}}"#;
    assert_eq!(stored_due_at(pending), Some(1_893_456_010));
    let blocked =
        br#"{"metadata":{"deletionTimestamp":"2030-01-01T00:00:10Z","deletionGracePeriodSeconds":0,"finalizers":["a"]}}"#;
    assert_eq!(stored_due_at(blocked), None);
    let leftover =
        br#"{"metadata":{"deletionTimestamp":"2030-01-01T00:00:10Z","deletionGracePeriodSeconds":0}}"#;
    assert_eq!(stored_due_at(leftover), Some(i64::MIN));
    assert_eq!(stored_due_at(br#"{"deletionTimestamp" garbage"#), None);
}
