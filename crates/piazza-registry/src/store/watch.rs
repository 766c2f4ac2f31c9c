//! Watch: initial state (when asked for), then every change after a revision, as hub
//! objects. A storage error (e.g. a compacted revision) becomes a terminal ERROR event.
//!
//! Storage progress markers ([`Event::progress`]), and storage events the selection drops,
//! become [`Step::Progress`]: they never reach the client as events of their own, but move
//! the revision the next periodic BOOKMARK carries (only for watches that allow bookmarks;
//! see the `bookmarks` module).

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt, future, stream};
use piazza_core::{ApiError, Object};
use piazza_storage::{Event, EventType, ListOptions, ReadRevision, StorageError};

use super::Store;
use super::frame_cache::{DecodedState, WatchCaches};
use crate::params::{ListParams, ResourceVersionMatch, list_options_invalid, parse_resource_version};
use crate::selectable::SelectableFields;
use crate::selection::Selection;

/// One watch event in the hub type. Objects are shared: every watcher of a store gets the
/// same decoded object for the same stored state, without a copy per watcher.
#[derive(Debug)]
pub enum HubWatchEvent<H> {
    /// Created, or part of the initial state.
    Added(Arc<H>),
    /// Changed.
    Modified(Arc<H>),
    /// Deleted; the object's last state with the deletion resourceVersion.
    Deleted(Arc<H>),
    /// A progress marker; `initial_events_end` marks the end of `sendInitialEvents`.
    Bookmark {
        /// The revision reached.
        resource_version: u64,
        /// True for the `k8s.io/initial-events-end` bookmark.
        initial_events_end: bool,
    },
    /// A terminal error; the stream ends after it.
    Error(ApiError),
}

/// A stream of hub watch events.
pub type HubWatchStream<H> = Pin<Box<dyn Stream<Item = HubWatchEvent<H>> + Send>>;

/// What the storage watch yields, as the registry's watch sees it before bookmarks are added.
#[derive(Debug)]
pub(super) enum Step<H> {
    /// An event for the client.
    Event(HubWatchEvent<H>),
    /// Every event for the client at or below this revision has been yielded: from a storage
    /// progress marker, or an event the selection dropped.
    Progress(u64),
}

/// A stream of [`Step`]s.
pub(super) type StepStream<H> = Pin<Box<dyn Stream<Item = Step<H>> + Send>>;

fn too_old(requested: u64, compacted: u64) -> ApiError {
    ApiError::expired(format!("too old resource version: {requested} ({compacted})"))
}

impl<H: Object> Store<H> {
    /// Watches a collection. See the module docs for the semantics of `resourceVersion`
    /// and `sendInitialEvents`.
    pub async fn watch(
        &self,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<HubWatchStream<H>, ApiError> {
        let prefix = self.keys.collection(self.scoped(namespace));
        let rv = params.resource_version.as_deref().map(parse_resource_version).transpose()?;
        let legacy_initial = matches!(rv, None | Some(0));
        if let Some(send) = params.send_initial_events {
            if params.resource_version_match != Some(ResourceVersionMatch::NotOlderThan) {
                return Err(list_options_invalid(piazza_core::FieldError::forbidden(
                    piazza_core::FieldPath::new("resourceVersionMatch"),
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                )));
            }
            if send && !params.allow_watch_bookmarks {
                return Err(list_options_invalid(piazza_core::FieldError::forbidden(
                    piazza_core::FieldPath::new("allowWatchBookmarks"),
                    "sendInitialEvents requires setting allowWatchBookmarks to true",
                )));
            }
        }
        let selection = self.selection(params)?;
        let send_initial = params.send_initial_events.unwrap_or(legacy_initial);
        let (initial, start_after, end_bookmark) = if send_initial {
            let revision = match rv {
                None | Some(0) => ReadRevision::Latest,
                Some(rv) => ReadRevision::NotOlderThan(rv),
            };
            let result = self
                .storage
                .list(
                    &prefix,
                    ListOptions {
                        revision,
                        predicate: selection.clone().map(|s| self.selection_predicate(s)),
                        ..ListOptions::default()
                    },
                )
                .await
                .map_err(|e| self.storage_error(e, ""))?;
            let items = result
                .items
                .iter()
                .map(|kv| self.decode_stored(kv).map(|o| HubWatchEvent::Added(Arc::new(o))))
                .collect::<Result<Vec<_>, _>>()?;
            let bookmark = (params.send_initial_events == Some(true)).then_some(HubWatchEvent::Bookmark {
                resource_version: result.revision,
                initial_events_end: true,
            });
            (items, result.revision, bookmark)
        } else {
            let after = match rv {
                Some(rv) if rv > 0 => rv,
                _ => self.storage.current_revision().await.map_err(|e| self.storage_error(e, ""))?,
            };
            (Vec::new(), after, None)
        };
        let live = match self.storage.watch(&prefix, start_after).await {
            Ok(live) => live,
            Err(StorageError::Compacted { requested, compacted }) => {
                return Ok(Box::pin(stream::iter([HubWatchEvent::Error(too_old(requested, compacted))])));
            }
            Err(e) => return Err(self.storage_error(e, "")),
        };
        let codecs = self.codecs.clone();
        let caches = self.watch_caches();
        let fields = Arc::clone(&self.selectable);
        let live = live
            .map(move |item| match item {
                Ok(event) => translate(&codecs, &caches, &fields, selection.as_ref(), event),
                Err(StorageError::Compacted { requested, compacted }) => {
                    Step::Event(HubWatchEvent::Error(too_old(requested, compacted)))
                }
                Err(e) => Step::Event(HubWatchEvent::Error(ApiError::internal(e))),
            })
            .scan(false, |ended, step| {
                if *ended {
                    return future::ready(None);
                }
                *ended = matches!(step, Step::Event(HubWatchEvent::Error(_)));
                future::ready(Some(step))
            });
        let steps: StepStream<H> =
            Box::pin(stream::iter(initial.into_iter().chain(end_bookmark).map(Step::Event)).chain(live));
        if params.allow_watch_bookmarks {
            return Ok(super::bookmarks::with_bookmarks(steps, start_after, self.bookmark_interval));
        }
        Ok(Box::pin(steps.filter_map(|step| {
            future::ready(match step {
                Step::Event(event) => Some(event),
                Step::Progress(_) => None,
            })
        })))
    }
}

/// Turns a storage event into what a watcher with `selection` sees: objects entering the
/// selection are ADDED, objects leaving it are DELETED with their last matching state
/// (at the event's resourceVersion), and events outside it, like storage progress markers,
/// only report progress.
fn translate<H: Object>(
    codecs: &[std::sync::Arc<dyn crate::version::VersionCodec<H>>],
    caches: &WatchCaches<H>,
    fields: &SelectableFields<H>,
    selection: Option<&Selection>,
    event: Event,
) -> Step<H> {
    let revision = event.revision();
    match translate_change(codecs, caches, fields, selection, event) {
        Some(event) => Step::Event(event),
        None => Step::Progress(revision),
    }
}

/// [`translate`]: `None` if the watcher does not see the event (or it is a progress marker).
fn translate_change<H: Object>(
    codecs: &[std::sync::Arc<dyn crate::version::VersionCodec<H>>],
    caches: &WatchCaches<H>,
    fields: &SelectableFields<H>,
    selection: Option<&Selection>,
    event: Event,
) -> Option<HubWatchEvent<H>> {
    if event.is_progress() {
        return None;
    }
    // Every watcher of the store sees the same storage events: decode each state once.
    let decode = |kv: &piazza_storage::KeyValue, revision: u64, state: DecodedState| {
        caches.decoded((revision, state), &kv.key, || {
            let mut object = super::decode_stored(codecs, kv)?;
            if state == DecodedState::PreviousAt {
                object.metadata_mut().resource_version = Some(revision.to_string());
            }
            Ok::<_, ApiError>((std::sync::Arc::new(object), kv.value.len()))
        })
    };
    let object = match decode(&event.kv, event.kv.mod_revision, DecodedState::Current) {
        Ok(object) => object,
        Err(e) => return Some(HubWatchEvent::Error(e)),
    };
    let Some(selection) = selection else {
        return match event.event_type {
            EventType::Added => Some(HubWatchEvent::Added(object)),
            EventType::Modified => Some(HubWatchEvent::Modified(object)),
            EventType::Deleted => Some(HubWatchEvent::Deleted(object)),
            EventType::Progress => None,
        };
    };
    let now = event.event_type != EventType::Deleted && selection.matches_object(&*object, fields);
    let before = match (&event.event_type, &event.prev) {
        (EventType::Added | EventType::Progress, _) | (_, None) => false,
        (EventType::Deleted, Some(_)) => selection.matches_object(&*object, fields),
        // Metadata of stored JSON is read alone; declared fields and protobuf or YAML need
        // the previous state decoded (shared with the DELETED below).
        (EventType::Modified, Some(prev)) => match selection.matches_stored(prev) {
            Some(matched) if !selection.needs_object() => matched,
            _ => decode(prev, event.kv.mod_revision, DecodedState::PreviousAt)
                .is_ok_and(|prev| selection.matches_object(&*prev, fields)),
        },
    };
    match (before, now) {
        (false, true) => Some(HubWatchEvent::Added(object)),
        (true, true) => Some(HubWatchEvent::Modified(object)),
        (true, false) if event.event_type == EventType::Deleted => Some(HubWatchEvent::Deleted(object)),
        (true, false) => {
            // Left the selection: DELETED with the last state that matched.
            let prev = event.prev.as_ref()?;
            let last = match decode(prev, event.kv.mod_revision, DecodedState::PreviousAt) {
                Ok(o) => o,
                Err(e) => return Some(HubWatchEvent::Error(e)),
            };
            Some(HubWatchEvent::Deleted(last))
        }
        (false, false) => None,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use piazza_core::meta::ObjectMeta;
    use piazza_core::{Resource, Scope, impl_object};
    use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
    use piazza_storage::{KeyValue, Storage};
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    pub(crate) struct Gadget {
        #[serde(default)]
        metadata: ObjectMeta,
        #[serde(default)]
        size: i64,
    }

    impl_object!(Gadget);

    impl Resource for Gadget {
        const GROUP: &'static str = "test.piazza.dev";
        const VERSION: &'static str = "v1";
        const KIND: &'static str = "Gadget";
        const PLURAL: &'static str = "gadgets";
        const SINGULAR: &'static str = "gadget";
        const SCOPE: Scope = Scope::Namespaced;
    }

    fn kv(revision: u64, size: i64, label: Option<&str>) -> KeyValue {
        let labels = label.map(|l| serde_json::json!({ "size": l }));
        let json = serde_json::json!({
            "apiVersion": "test.piazza.dev/v1", "kind": "Gadget",
            "metadata": { "name": "g", "namespace": "ns", "labels": labels },
            "size": size,
        });
        KeyValue {
            key: "/registry/test.piazza.dev/gadgets/ns/g".into(),
            value: Bytes::from(serde_json::to_vec(&json).unwrap()),
            create_revision: 3,
            mod_revision: revision,
        }
    }

    /// One storage event seen by watchers with and without a selection, through the shared
    /// decode cache, in both orders: the watcher the object left gets its previous state at
    /// the event's revision, the other the new state.
    #[test]
    fn shared_decoding_keeps_states_apart() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let store = Store::<Gadget>::builder(storage).storage_version::<Gadget>().build().unwrap();
        let caches = store.watch_caches();
        assert!(Arc::ptr_eq(&caches, &store.watch_caches()));
        let params = ListParams { label_selector: Some("size=large".into()), ..Default::default() };
        let selection = Selection::from_params(&params).unwrap().unwrap();
        let event = || Event {
            event_type: EventType::Modified,
            kv: kv(5, 2, None),
            prev: Some(kv(4, 1, Some("large"))),
        };
        for selection_first in [true, false] {
            let mut seen = Vec::new();
            let order: [Option<&Selection>; 2] =
                if selection_first { [Some(&selection), None] } else { [None, Some(&selection)] };
            for sel in order {
                seen.push((
                    sel.is_some(),
                    translate_change(&store.codecs, &caches, &store.selectable, sel, event()),
                ));
            }
            for (selected, got) in seen {
                match got {
                    Some(HubWatchEvent::Deleted(o)) if selected => {
                        assert_eq!((o.size, o.metadata.resource_version.as_deref()), (1, Some("5")));
                    }
                    Some(HubWatchEvent::Modified(o)) if !selected => {
                        assert_eq!((o.size, o.metadata.resource_version.as_deref()), (2, Some("5")));
                    }
                    other => panic!("selected={selected}: {other:?}"),
                }
            }
        }
    }

    /// A watch selecting on a declared field: an object entering the selection is ADDED,
    /// changing inside it MODIFIED, and leaving it DELETED with its last matching state.
    #[test]
    fn declared_fields_move_objects_in_and_out() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let store = Store::<Gadget>::builder(storage)
            .storage_version::<Gadget>()
            .selectable_field("size", |g: &Gadget| g.size)
            .build()
            .unwrap();
        let caches = store.watch_caches();
        let params = ListParams { field_selector: Some("size!=1".into()), ..Default::default() };
        let selection = store.selection(&params).unwrap().unwrap();
        let see = |revision: u64, size: i64, prev: i64| {
            let event = Event {
                event_type: EventType::Modified,
                kv: kv(revision, size, None),
                prev: Some(kv(revision - 1, prev, None)),
            };
            translate_change(&store.codecs, &caches, &store.selectable, Some(&selection), event)
        };
        assert!(matches!(see(5, 2, 1), Some(HubWatchEvent::Added(o)) if o.size == 2));
        assert!(matches!(see(6, 3, 2), Some(HubWatchEvent::Modified(o)) if o.size == 3));
        match see(7, 1, 3) {
            Some(HubWatchEvent::Deleted(o)) => {
                assert_eq!((o.size, o.metadata.resource_version.as_deref()), (3, Some("7")));
            }
            other => panic!("{other:?}"),
        }
        assert!(see(8, 1, 1).is_none());
        let err = store
            .selection(&ListParams { field_selector: Some("colour=red".into()), ..Default::default() })
            .unwrap_err();
        assert_eq!(err.message, "field label not supported: colour");
    }
}
