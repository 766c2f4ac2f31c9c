//! Watch: initial state (when asked for), then every change after a revision, as hub
//! objects. A storage error (e.g. a compacted revision) becomes a terminal ERROR event.

use std::pin::Pin;

use futures::{Stream, StreamExt, future, stream};
use piazza_core::{ApiError, Object};
use piazza_storage::{EventType, ListOptions, ReadRevision, StorageError};

use super::Store;
use crate::params::{ListParams, ResourceVersionMatch, parse_resource_version};

/// One watch event in the hub type.
#[derive(Debug)]
pub enum HubWatchEvent<H> {
    /// Created, or part of the initial state.
    Added(H),
    /// Changed.
    Modified(H),
    /// Deleted; the object's last state with the deletion resourceVersion.
    Deleted(H),
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
                return Err(ApiError::invalid(
                    &self.descriptor.group_kind(),
                    "",
                    &[piazza_core::FieldError::forbidden(
                        piazza_core::FieldPath::new("resourceVersionMatch"),
                        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                    )]
                    .into_iter()
                    .collect(),
                ));
            }
            if send && !params.allow_watch_bookmarks {
                return Err(ApiError::invalid(
                    &self.descriptor.group_kind(),
                    "",
                    &[piazza_core::FieldError::forbidden(
                        piazza_core::FieldPath::new("allowWatchBookmarks"),
                        "sendInitialEvents requires setting allowWatchBookmarks to true",
                    )]
                    .into_iter()
                    .collect(),
                ));
            }
        }
        let send_initial = params.send_initial_events.unwrap_or(legacy_initial);
        let (initial, start_after, end_bookmark) = if send_initial {
            let revision = match rv {
                None | Some(0) => ReadRevision::Latest,
                Some(rv) => ReadRevision::NotOlderThan(rv),
            };
            let result = self
                .storage
                .list(&prefix, ListOptions { revision, ..ListOptions::default() })
                .await
                .map_err(|e| self.storage_error(e, ""))?;
            let items = result
                .items
                .iter()
                .map(|kv| self.decode_stored(kv).map(HubWatchEvent::Added))
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
        let live = live
            .map(move |item| match item {
                Ok(event) => match super::decode_stored(&codecs, &event.kv) {
                    Ok(object) => match event.event_type {
                        EventType::Added => HubWatchEvent::Added(object),
                        EventType::Modified => HubWatchEvent::Modified(object),
                        EventType::Deleted => HubWatchEvent::Deleted(object),
                    },
                    Err(e) => HubWatchEvent::Error(e),
                },
                Err(StorageError::Compacted { requested, compacted }) => {
                    HubWatchEvent::Error(too_old(requested, compacted))
                }
                Err(e) => HubWatchEvent::Error(ApiError::internal(e)),
            })
            .scan(false, |ended, event| {
                if *ended {
                    return future::ready(None);
                }
                *ended = matches!(event, HubWatchEvent::Error(_));
                future::ready(Some(event))
            });
        Ok(Box::pin(stream::iter(initial).chain(stream::iter(end_bookmark)).chain(live)))
    }
}
