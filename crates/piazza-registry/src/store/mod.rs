//! [`Store<H>`]: the generic registry for one kind whose hub (internal) type is `H`.
//!
//! It owns the kind's served versions, its strategy and admission plugins, and a handle
//! to storage. Typed methods (`get`, `list`, `create`, `update`, `delete`, `watch`) work
//! on the hub type; [`crate::rest`] erases them behind the interface the server routes to.

mod bookmarks;
mod builder;
mod encoded;
mod encoded_cache;
mod frame_cache;
mod graceful;
mod memo_tags;
mod patch;
mod read;
mod watch;
mod write;

use std::sync::Arc;

use bytes::Bytes;
use piazza_codec::protobuf::decode_envelope;
use piazza_codec::protobuf::envelope::is_protobuf;
use piazza_codec::{FieldValidation, Format, TypeMeta, decode_object};
use piazza_core::{ApiError, Object};
use piazza_storage::{KeyValue, Storage};

pub use bookmarks::BOOKMARK_INTERVAL;
pub use builder::{BuildError, StorageLayout, StoreBuilder};
pub(crate) use encoded::{list_meta, list_metadata, protobuf_list};
pub(crate) use frame_cache::{FrameKey, FrameView, WatchCaches};
pub use graceful::validate_delete_options;
pub use patch::{PatchType, apply_strategic_untyped, schema_meta::add_builtin_patch_extensions};
pub use read::ListPage;
pub use watch::{HubWatchEvent, HubWatchStream};
pub use write::{DeleteOutcome, DeleteState};

use crate::admission::Admission;
use crate::descriptor::ResourceDescriptor;
use crate::keys::KeyLayout;
use crate::storage_errors::api_error;
use crate::strategy::Strategy;
use crate::version::VersionCodec;

/// The registry of one kind.
pub struct Store<H> {
    descriptor: ResourceDescriptor,
    versions: Vec<Arc<dyn VersionCodec<H>>>,
    /// Every codec that may appear in storage: the served versions, then any versions
    /// registered only for reading or storing (cohabitation, old storage versions).
    codecs: Vec<Arc<dyn VersionCodec<H>>>,
    storage_codec: Arc<dyn VersionCodec<H>>,
    /// The encoding objects are written in (`--storage-media-type`).
    storage_format: Format,
    storage: Arc<dyn Storage>,
    strategy: Arc<dyn Strategy<H>>,
    admission: Vec<Arc<dyn Admission<H>>>,
    keys: KeyLayout,
    bookmark_interval: std::time::Duration,
    table: Arc<dyn crate::table::TableColumns<H>>,
    /// The fields lists and watches may be selected on, beyond the defaults.
    selectable: Arc<crate::selectable::SelectableFields<H>>,
    watch_caches: Arc<WatchCaches<H>>,
    /// Removes gracefully deleted objects when their grace period ends.
    graceful: graceful::Reaper<H>,
    /// Whether [`Store::graceful`] runs (see [`StoreBuilder::without_reaper`]).
    runs_reaper: bool,
    /// The JSON of stored objects per served version, for reads.
    encoded: encoded_cache::EncodedCache,
    /// The tags of the encodings kept with the storage cache's items, for lists.
    memo_tags: memo_tags::MemoTags,
}

impl<H: Object> Store<H> {
    /// Starts building a store on `storage`.
    pub fn builder(storage: Arc<dyn Storage>) -> StoreBuilder<H> {
        StoreBuilder::new(storage)
    }

    /// The kind's descriptor.
    pub fn descriptor(&self) -> &ResourceDescriptor {
        &self.descriptor
    }

    /// The codec of a served version, or a 404 for an unserved one.
    pub fn version(&self, version: &str) -> Result<&Arc<dyn VersionCodec<H>>, ApiError> {
        self.versions.iter().find(|v| v.version() == version).ok_or_else(|| {
            ApiError::new(
                404,
                piazza_core::StatusReason::NotFound,
                "the server could not find the requested resource",
            )
        })
    }

    /// All served versions, preferred first.
    pub fn versions(&self) -> &[Arc<dyn VersionCodec<H>>] {
        &self.versions
    }

    /// The printable columns of this kind.
    pub fn table_columns(&self) -> &dyn crate::table::TableColumns<H> {
        self.table.as_ref()
    }

    /// The printable columns, shared (for watches).
    pub fn shared_table_columns(&self) -> Arc<dyn crate::table::TableColumns<H>> {
        Arc::clone(&self.table)
    }

    /// The storage backend.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    fn storage_codec(&self) -> &Arc<dyn VersionCodec<H>> {
        &self.storage_codec
    }

    /// Encodes an object in the storage version and media type, without its
    /// resourceVersion.
    fn encode_for_storage(&self, object: &H) -> Result<Bytes, ApiError> {
        let mut object = object.clone();
        object.metadata_mut().resource_version = None;
        Ok(Bytes::from(self.storage_codec().encode_owned(object, self.storage_format)?))
    }

    /// The media type objects are written in.
    pub fn storage_format(&self) -> Format {
        self.storage_format
    }

    /// Decodes a stored object, whatever version it was written in, and sets its
    /// resourceVersion from the storage revision.
    fn decode_stored(&self, kv: &KeyValue) -> Result<H, ApiError> {
        decode_stored(&self.codecs, kv)
    }

    /// The watch caches shared by every watcher of this store (see [`frame_cache`]).
    pub(crate) fn watch_caches(&self) -> Arc<WatchCaches<H>> {
        Arc::clone(&self.watch_caches)
    }

    fn storage_error(&self, err: piazza_storage::StorageError, name: &str) -> ApiError {
        api_error(err, &self.descriptor.group_resource(), name)
    }

    /// The namespace argument to use for keys: `None` for cluster-scoped kinds.
    fn scoped<'a>(&self, namespace: Option<&'a str>) -> Option<&'a str> {
        if self.descriptor.namespaced() { namespace } else { None }
    }
}

/// Decodes a stored object with whichever known version (by full `apiVersion`) and media
/// type (protobuf, JSON or YAML, told apart by their first bytes) it was written in, so
/// that objects stay readable after `--storage-media-type` or the storage version
/// changes, and sets its resourceVersion from the storage revision.
fn decode_stored<H: Object>(codecs: &[Arc<dyn VersionCodec<H>>], kv: &KeyValue) -> Result<H, ApiError> {
    let corrupt = |e: &dyn std::fmt::Display| {
        ApiError::internal(format!("stored object at {} is corrupt: {e}", kv.key))
    };
    let codec_for = |version: &str| {
        codecs.iter().find(|c| c.is_api_version(version)).ok_or_else(|| {
            ApiError::internal(format!("stored object at {} has unserved version {version:?}", kv.key))
        })
    };
    let mut object = if is_protobuf(&kv.value) {
        let unknown = decode_envelope(&kv.value).map_err(|e| corrupt(&e.message))?;
        codec_for(&unknown.type_meta.api_version)?.decode_stored_message(&unknown.raw.0)?
    } else if let Some(codec) = codecs.iter().find(|c| written_in(c.json_prefix(), &kv.value)) {
        // The common JSON case: written by this server, type metadata first; one parse.
        codec.decode_stored(&kv.value)?
    } else {
        let format = if kv.value.trim_ascii_start().starts_with(b"{") { Format::Json } else { Format::Yaml };
        let (type_meta, _): (TypeMeta, _) =
            decode_object(&kv.value, format).map_err(|e| corrupt(&e.message))?;
        codec_for(&type_meta.api_version)?.decode(&kv.value, format, FieldValidation::Ignore)?.0
    };
    object.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
    Ok(object)
}

/// True if `stored` starts with a codec's JSON `prefix` (its apiVersion and kind), followed
/// by the next field or the end of the object.
fn written_in(prefix: &[u8], stored: &[u8]) -> bool {
    !prefix.is_empty() && stored.starts_with(prefix) && matches!(stored.get(prefix.len()), Some(b',' | b'}'))
}
