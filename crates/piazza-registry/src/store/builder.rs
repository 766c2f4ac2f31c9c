//! Building a [`Store`]: versions, strategy, admission and key prefix, checked at start-up.

use std::fmt::Display;
use std::sync::Arc;

use piazza_codec::Format;
use piazza_core::{GroupVersionKind, Object, Resource};
use piazza_storage::Storage;

use super::Store;
use crate::admission::Admission;
use crate::descriptor::{ALL_VERBS, ResourceDescriptor, VersionDescriptor};
use crate::keys::KeyLayout;
use crate::strategy::Strategy;
use crate::version::{TypedVersion, VersionCodec};

/// Where and how a server's stores keep objects: the key prefix (`--etcd-prefix`) and the
/// media type (`--storage-media-type`), shared by every store of a server.
#[derive(Clone, Debug)]
pub struct StorageLayout {
    /// The prefix of every storage key (`/registry`).
    pub key_prefix: String,
    /// The media type objects are written in (see [`StoreBuilder::storage_media_type`]).
    pub media_type: Format,
}

impl Default for StorageLayout {
    fn default() -> Self {
        Self { key_prefix: "/registry".to_owned(), media_type: Format::Protobuf }
    }
}

/// A mistake in a store's declaration, found at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No version was registered.
    #[error("resource has no served versions")]
    NoVersions,
    /// Versions disagree on group, kind, plural or scope.
    #[error("version {version} of {kind} disagrees with the first version on {what}")]
    Inconsistent {
        /// The kind.
        kind: &'static str,
        /// The offending version.
        version: &'static str,
        /// Which property differs.
        what: &'static str,
    },
    /// The same version was registered twice.
    #[error("version {0} registered twice")]
    DuplicateVersion(&'static str),
    /// A selectable field was declared twice, or is one of the built-in ones.
    #[error("selectable field {0} declared twice")]
    DuplicateSelectableField(&'static str),
}

struct Names {
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    scope: piazza_core::Scope,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
}

/// Builder for [`Store`].
pub struct StoreBuilder<H> {
    storage: Arc<dyn Storage>,
    names: Option<Names>,
    versions: Vec<Arc<dyn VersionCodec<H>>>,
    storage_version: Option<usize>,
    extra_codecs: Vec<Arc<dyn VersionCodec<H>>>,
    stored_as: Option<Arc<dyn VersionCodec<H>>>,
    shared_storage: Option<(&'static str, &'static str)>,
    strategy: Arc<dyn Strategy<H>>,
    admission: Vec<Arc<dyn Admission<H>>>,
    key_prefix: String,
    storage_media_type: Option<Format>,
    bookmark_interval: std::time::Duration,
    runs_reaper: bool,
    table: Arc<dyn crate::table::TableColumns<H>>,
    selectable: crate::selectable::SelectableFields<H>,
    error: Option<BuildError>,
}

impl<H: Object> StoreBuilder<H> {
    pub(super) fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            names: None,
            versions: Vec::new(),
            storage_version: None,
            extra_codecs: Vec::new(),
            stored_as: None,
            shared_storage: None,
            strategy: Arc::new(()),
            admission: Vec::new(),
            key_prefix: "/registry".to_owned(),
            storage_media_type: None,
            bookmark_interval: super::BOOKMARK_INTERVAL,
            runs_reaper: true,
            table: Arc::new(()),
            selectable: Default::default(),
            error: None,
        }
    }

    /// Serves version `V`. The first version registered is the preferred one.
    pub fn version<V>(mut self) -> Self
    where
        V: Resource + TryFrom<H>,
        H: TryFrom<V>,
        <V as TryFrom<H>>::Error: Display,
        <H as TryFrom<V>>::Error: Display,
    {
        let check = |what: &'static str, same: bool| {
            (!same).then_some(BuildError::Inconsistent { kind: V::KIND, version: V::VERSION, what })
        };
        match &self.names {
            None => {
                self.names = Some(Names {
                    group: V::GROUP,
                    kind: V::KIND,
                    plural: V::PLURAL,
                    singular: V::SINGULAR,
                    scope: V::SCOPE,
                    short_names: V::SHORT_NAMES,
                    categories: V::CATEGORIES,
                })
            }
            Some(n) => {
                let err = check("group", n.group == V::GROUP)
                    .or_else(|| check("kind", n.kind == V::KIND))
                    .or_else(|| check("plural", n.plural == V::PLURAL))
                    .or_else(|| check("scope", n.scope == V::SCOPE));
                if err.is_some() && self.error.is_none() {
                    self.error = err;
                }
            }
        }
        if self.versions.iter().any(|v| v.version() == V::VERSION) && self.error.is_none() {
            self.error = Some(BuildError::DuplicateVersion(V::VERSION));
        }
        self.versions.push(Arc::new(TypedVersion::<V>::new()));
        self
    }

    /// Serves version `V` and stores objects in it.
    pub fn storage_version<V>(self) -> Self
    where
        V: Resource + TryFrom<H>,
        H: TryFrom<V>,
        <V as TryFrom<H>>::Error: Display,
        <H as TryFrom<V>>::Error: Display,
    {
        let mut this = self.version::<V>();
        this.storage_version = Some(this.versions.len() - 1);
        this
    }

    /// Reads objects stored as `V` without serving `V` (an old storage version, or another
    /// group's version of the same data).
    pub fn decodes<V>(mut self) -> Self
    where
        V: Resource + TryFrom<H>,
        H: TryFrom<V>,
        <V as TryFrom<H>>::Error: Display,
        <H as TryFrom<V>>::Error: Display,
    {
        self.extra_codecs.push(Arc::new(TypedVersion::<V>::new()));
        self
    }

    /// Stores objects as `V`, which need not be served here. With
    /// [`shares_storage_with`](Self::shares_storage_with) this is how a second group serves
    /// the same stored objects (cohabitation): both stores write the same storage version
    /// under the same keys.
    pub fn stored_as<V>(mut self) -> Self
    where
        V: Resource + TryFrom<H>,
        H: TryFrom<V>,
        <V as TryFrom<H>>::Error: Display,
        <H as TryFrom<V>>::Error: Display,
    {
        let codec: Arc<dyn VersionCodec<H>> = Arc::new(TypedVersion::<V>::new());
        self.extra_codecs.push(Arc::clone(&codec));
        self.stored_as = Some(codec);
        self
    }

    /// Keeps objects under another resource's keys (`/<prefix>/<group>/<resource>/…`)
    /// instead of this one's, so two served resources share storage.
    pub fn shares_storage_with(mut self, group: &'static str, resource: &'static str) -> Self {
        self.shared_storage = Some((group, resource));
        self
    }

    /// Sets the validation and write-preparation strategy.
    pub fn strategy(mut self, strategy: impl Strategy<H>) -> Self {
        self.strategy = Arc::new(strategy);
        self
    }

    /// Adds an admission plugin; plugins run in the order added.
    pub fn admission(mut self, plugin: impl Admission<H>) -> Self
    where
        H: Send + Sync,
    {
        self.admission.push(Arc::new(plugin));
        self
    }

    /// The columns `kubectl get` shows (server-side printing), between Name and Age.
    pub fn table_columns(mut self, columns: impl crate::table::TableColumns<H>) -> Self {
        self.table = Arc::new(columns);
        self
    }

    /// Lets lists and watches select on `path` (e.g. `status.phase`), whose value `read`
    /// returns from the hub object (see [`FieldValue`](crate::selectable::FieldValue)), as
    /// well as on `metadata.name` and `metadata.namespace`.
    pub fn selectable_field<V: crate::selectable::FieldValue>(
        mut self,
        path: &'static str,
        read: impl Fn(&H) -> V + Send + Sync + 'static,
    ) -> Self {
        if !self.selectable.add(path, read) && self.error.is_none() {
            self.error = Some(BuildError::DuplicateSelectableField(path));
        }
        self
    }

    /// How often watches that allow bookmarks get one (default one minute).
    pub fn bookmark_interval(mut self, interval: std::time::Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Runs no graceful-deletion reaper for this store, because another store over the same
    /// keys runs one: the main resource of a status store, or the store this one
    /// [`shares_storage_with`](Self::shares_storage_with). A reaper watches every object under
    /// its keys and finishes any deletion that falls due, whichever store marked it, so one
    /// per key space is enough; each more one decodes every write again and races the first
    /// to the same deletes.
    pub fn without_reaper(mut self) -> Self {
        self.runs_reaper = false;
        self
    }

    /// Sets the storage key prefix (default `/registry`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Sets the media type objects are written in (`--storage-media-type`). The default,
    /// as upstream's for built-in kinds, is protobuf when the storage version has a
    /// protobuf message and JSON otherwise; asking for protobuf for a kind without one
    /// also stores JSON, as upstream does for CustomResources. Objects written in any of
    /// the three stay readable whatever this is set to.
    pub fn storage_media_type(mut self, format: Format) -> Self {
        self.storage_media_type = Some(format);
        self
    }

    /// Sets the key prefix and storage media type from a server's [`StorageLayout`].
    pub fn layout(self, layout: &StorageLayout) -> Self {
        self.key_prefix(layout.key_prefix.clone()).storage_media_type(layout.media_type)
    }

    /// Checks the declaration and builds the store.
    pub fn build(self) -> Result<Arc<Store<H>>, BuildError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let names = self.names.ok_or(BuildError::NoVersions)?;
        let storage_index = match (&self.stored_as, self.storage_version) {
            (Some(_), _) => None,
            (None, index) => Some(index.unwrap_or(0)),
        };
        let storage_codec = match (&self.stored_as, storage_index) {
            (Some(codec), _) => Arc::clone(codec),
            (None, Some(i)) => Arc::clone(&self.versions[i]),
            (None, None) => return Err(BuildError::NoVersions),
        };
        let storage_format = match self.storage_media_type.unwrap_or(Format::Protobuf) {
            Format::Protobuf if !storage_codec.protobuf() => Format::Json,
            format => format,
        };
        let storage_type = storage_codec.type_meta();
        let (storage_group, storage_version) =
            storage_type.api_version.rsplit_once('/').unwrap_or(("", storage_type.api_version.as_str()));
        let descriptor = ResourceDescriptor {
            group: names.group,
            kind: names.kind,
            plural: names.plural,
            singular: names.singular,
            scope: names.scope,
            short_names: names.short_names,
            categories: names.categories,
            versions: self
                .versions
                .iter()
                .enumerate()
                .map(|(i, v)| VersionDescriptor { name: v.version(), storage: Some(i) == storage_index })
                .collect(),
            verbs: ALL_VERBS,
            storage_gvk: GroupVersionKind::new(storage_group, storage_version, storage_type.kind.clone()),
        };
        let (key_group, key_resource) = self.shared_storage.unwrap_or((names.group, names.plural));
        let keys = KeyLayout::new(&self.key_prefix, key_group, key_resource, descriptor.namespaced());
        let mut codecs = self.versions.clone();
        codecs.extend(self.extra_codecs);
        let memo_tags = super::memo_tags::MemoTags::new(self.versions.iter().map(|v| v.version()).collect());
        let store = Arc::new_cyclic(|me| Store {
            descriptor,
            versions: self.versions,
            codecs,
            storage_codec,
            storage_format,
            storage: self.storage,
            strategy: self.strategy,
            admission: self.admission,
            keys,
            bookmark_interval: self.bookmark_interval,
            runs_reaper: self.runs_reaper,
            table: self.table,
            selectable: Arc::new(self.selectable),
            watch_caches: Arc::default(),
            graceful: super::graceful::Reaper::new(me.clone()),
            encoded: Default::default(),
            memo_tags,
        });
        store.ensure_reaper();
        Ok(store)
    }
}
