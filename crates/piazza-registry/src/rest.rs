//! The erased REST interface the server routes to: [`RestResource`], implemented for every
//! [`Store<H>`]. Requests arrive as bytes in a negotiated format; answers leave encoded in
//! the requested version and format.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use piazza_codec::protobuf::meta::{PartialObjectMetadata, PartialObjectMetadataList};
use piazza_codec::watch::{WatchEventType, json_event_frame};
use piazza_codec::{Format, MetaVersion, Target, TypeMeta, decode_object, encode_status, encode_value};
use piazza_core::error::success_status;
use piazza_core::meta::{DeleteOptions, ListMeta, ObjectMeta, StatusDetails};
use piazza_core::{ApiError, Object, UserInfo};
use rand::Rng;

use crate::descriptor::ResourceDescriptor;
use crate::params::{OptionsKind, Query};
use crate::store::{
    DeleteState, FrameKey, FrameView, HubWatchEvent, PatchType, Store, list_meta, protobuf_list,
};
use crate::table::{
    IncludeObject, TableColumns, build_table, partial_object_metadata, partial_object_metadata_list,
    set_meta_version,
};
use crate::version::VersionCodec;

/// The shortest server-chosen watch timeout, as upstream (`--min-request-timeout`).
pub const MIN_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// Everything about a resource request except its body.
#[derive(Clone, Debug)]
pub struct RestContext {
    /// The served version named in the URL.
    pub version: String,
    /// The namespace in the URL, if any.
    pub namespace: Option<String>,
    /// The object name in the URL, if any.
    pub name: Option<String>,
    /// The negotiated response format.
    pub format: Format,
    /// The negotiated response shape (the object, a Table, or metadata only), for reads.
    pub target: Target,
    /// Who is asking.
    pub user: UserInfo,
    /// The query parameters.
    pub query: Query,
}

/// An encoded response body.
#[derive(Debug)]
pub struct Encoded {
    /// The HTTP status.
    pub status: u16,
    /// The body (shared bytes: a GET answers with the cached encoding itself, uncopied).
    pub body: Bytes,
    /// Its format.
    pub format: Format,
    /// Its shape.
    pub target: Target,
    /// Warnings for the client (`Warning: 299` headers), e.g. unknown fields.
    pub warnings: Vec<String>,
}

/// A stream of encoded watch frames; it ends after a terminal ERROR or the timeout.
pub type EncodedWatch = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// A served resource, erased over its types.
#[async_trait]
pub trait RestResource: Send + Sync + 'static {
    /// Names, scope, versions and verbs.
    fn descriptor(&self) -> &ResourceDescriptor;
    /// The formats requests and answers may use: protobuf only when every served
    /// version has a protobuf message.
    fn formats(&self) -> piazza_codec::Formats;
    /// The JSON schema of a served version (for OpenAPI).
    fn schema(&self, version: &str, generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema>;
    /// The subresources served under `<name>/<subresource>` (none by default; see
    /// [`crate::subresource::WithSubresources`]).
    fn subresources(&self) -> &[Arc<dyn crate::subresource::Subresource>] {
        &[]
    }
    /// GET on an object.
    async fn get(&self, ctx: &RestContext) -> Result<Encoded, ApiError>;
    /// GET on a collection.
    async fn list(&self, ctx: &RestContext) -> Result<Encoded, ApiError>;
    /// GET on a collection with `watch=true`.
    async fn watch(&self, ctx: &RestContext) -> Result<EncodedWatch, ApiError>;
    /// POST on a collection.
    async fn create(&self, ctx: &RestContext, body: &[u8], body_format: Format) -> Result<Encoded, ApiError>;
    /// PUT on an object.
    async fn update(&self, ctx: &RestContext, body: &[u8], body_format: Format) -> Result<Encoded, ApiError>;
    /// PATCH on an object.
    async fn patch(&self, ctx: &RestContext, body: &[u8], patch_type: PatchType)
    -> Result<Encoded, ApiError>;
    /// DELETE on an object.
    async fn delete(&self, ctx: &RestContext, body: &[u8], body_format: Format) -> Result<Encoded, ApiError>;
    /// DELETE on a collection.
    async fn delete_collection(
        &self,
        ctx: &RestContext,
        body: &[u8],
        body_format: Format,
    ) -> Result<Encoded, ApiError>;
}

fn required_name(ctx: &RestContext) -> Result<&str, ApiError> {
    ctx.name.as_deref().ok_or_else(|| ApiError::bad_request("name is required"))
}

/// The DeleteOptions of a DELETE: from the body when there is one, otherwise from the
/// query (`gracePeriodSeconds`, `propagationPolicy`, `orphanDependents`, `dryRun`), as
/// upstream's handler decodes them. Validation happens in [`Store::delete`].
fn decode_delete_options(body: &[u8], format: Format, query: &Query) -> Result<DeleteOptions, ApiError> {
    if format == Format::Protobuf && !body.is_empty() {
        let (options, _): (DeleteOptions, _) = piazza_codec::protobuf::decode_object(body)?;
        return Ok(options);
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        let (options, _): (DeleteOptions, _) = decode_object(body, format)?;
        return Ok(options);
    }
    let grace_period_seconds = query
        .get("gracePeriodSeconds")
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid value for gracePeriodSeconds: {v:?}")))
        })
        .transpose()?;
    let orphan_dependents = query
        .get("orphanDependents")
        .filter(|v| !v.is_empty())
        .map(|v| match v {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            other => Err(ApiError::bad_request(format!("invalid value for orphanDependents: {other:?}"))),
        })
        .transpose()?;
    let dry_run: Vec<String> = query.all("dryRun").filter(|v| !v.is_empty()).map(str::to_owned).collect();
    Ok(DeleteOptions {
        grace_period_seconds,
        orphan_dependents,
        propagation_policy: query.get("propagationPolicy").filter(|v| !v.is_empty()).map(str::to_owned),
        dry_run: (!dry_run.is_empty()).then_some(dry_run),
        ..DeleteOptions::default()
    })
}

/// The HTTP status of a DELETE, as upstream's handler: 202 Accepted when the object was not
/// removed and the client asked for `orphanDependents: false`, otherwise 200 (also for a
/// graceful or finalizer-blocked deletion, whose answer is the object itself).
fn delete_status_code(deleted: bool, options: &DeleteOptions) -> u16 {
    if !deleted && options.orphan_dependents == Some(false) { 202 } else { 200 }
}

impl<H: Object> Store<H> {
    fn encode_one(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        object: &H,
        status: u16,
        format: Format,
    ) -> Result<Encoded, ApiError> {
        Ok(Encoded {
            status,
            body: codec.encode(object, format)?.into(),
            format,
            target: Target::Object,
            warnings: Vec::new(),
        })
    }

    fn encode_list(
        &self,
        codec: &Arc<dyn VersionCodec<H>>,
        items: &[H],
        metadata: &ListMeta,
        format: Format,
    ) -> Result<Encoded, ApiError> {
        let type_meta = codec.type_meta();
        if format == Format::Protobuf {
            let body = protobuf_list(&type_meta.api_version, &type_meta.kind, metadata, |raw| {
                for item in items {
                    piazza_codec::protobuf::wire::put_bytes(raw, 2, &codec.encode_message(item.clone())?);
                }
                Ok(())
            })?;
            return Ok(Encoded {
                status: 200,
                body: body.into(),
                format,
                target: Target::Object,
                warnings: Vec::new(),
            });
        }
        let mut json = Vec::with_capacity(256 + items.len() * 512);
        json.extend_from_slice(b"{\"apiVersion\":");
        json.extend_from_slice(&serde_json::to_vec(&type_meta.api_version).map_err(ApiError::internal)?);
        json.extend_from_slice(b",\"kind\":");
        json.extend_from_slice(
            &serde_json::to_vec(&format!("{}List", type_meta.kind)).map_err(ApiError::internal)?,
        );
        json.extend_from_slice(b",\"metadata\":");
        json.extend_from_slice(&serde_json::to_vec(metadata).map_err(ApiError::internal)?);
        json.extend_from_slice(b",\"items\":[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            json.extend_from_slice(&codec.encode(item, Format::Json)?);
        }
        json.extend_from_slice(b"]}");
        let body = match format {
            Format::Yaml => piazza_codec::object::json_to_yaml(&json)?,
            _ => json,
        };
        Ok(Encoded { status: 200, body: body.into(), format, target: Target::Object, warnings: Vec::new() })
    }

    fn delete_status(&self, object: &H, format: Format) -> Result<Encoded, ApiError> {
        let meta = object.metadata();
        let status = success_status(Some(StatusDetails {
            name: meta.name.clone(),
            group: Some(self.descriptor().group.to_owned()),
            kind: Some(self.descriptor().plural.to_owned()),
            uid: meta.uid.clone(),
            ..Default::default()
        }));
        Ok(Encoded {
            status: 200,
            body: encode_status(&status, format)?.into(),
            format,
            target: Target::Object,
            warnings: Vec::new(),
        })
    }
}

/// Encodes a `meta.k8s.io` view in the negotiated format (JSON or YAML).
fn encode_view(mut value: serde_json::Value, format: Format, target: Target) -> Result<Encoded, ApiError> {
    set_meta_version(&mut value, target);
    Ok(Encoded {
        status: 200,
        body: encode_value(&value, format)?.into(),
        format,
        target,
        warnings: Vec::new(),
    })
}

/// The envelope type of a `meta.k8s.io` view in `target`'s version.
fn view_type_meta(target: Target, kind: &str) -> TypeMeta {
    let version = target.meta_version().unwrap_or_default();
    TypeMeta { api_version: version.api_version().to_owned(), kind: kind.to_owned() }
}

/// `PartialObjectMetadata` as a complete protobuf body.
fn protobuf_partial_metadata(meta: &ObjectMeta, target: Target) -> Vec<u8> {
    let view = PartialObjectMetadata { metadata: meta.clone() };
    piazza_codec::protobuf::encode_object(&view, &view_type_meta(target, "PartialObjectMetadata"))
}

/// `PartialObjectMetadataList` as a complete protobuf body.
fn protobuf_partial_metadata_list(metas: &[&ObjectMeta], metadata: ListMeta, target: Target) -> Vec<u8> {
    let items = metas.iter().map(|m| PartialObjectMetadata { metadata: (*m).clone() }).collect();
    let view = PartialObjectMetadataList { metadata, items };
    piazza_codec::protobuf::encode_object(&view, &view_type_meta(target, "PartialObjectMetadataList"))
}

/// One watch event frame in `format`: a JSON line, or a length-prefixed protobuf
/// `WatchEvent`.
fn event_frame(format: Format, event_type: WatchEventType, body: &[u8]) -> Bytes {
    Bytes::from(match format {
        Format::Protobuf => piazza_codec::protobuf::watch::event_frame(event_type, body),
        _ => json_event_frame(event_type, body),
    })
}

fn view_response(body: Vec<u8>, format: Format, target: Target) -> Encoded {
    Encoded { status: 200, body: body.into(), format, target, warnings: Vec::new() }
}

/// An object as a JSON value in the codec's version (for `includeObject=Object`).
fn object_value<H: 'static>(
    codec: &Arc<dyn VersionCodec<H>>,
    object: &H,
) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(&codec.encode(object, Format::Json)?).map_err(ApiError::internal)
}

/// How a watch renders each event's object: as itself, as a one-row Table (headers on the
/// first only, as upstream), or as PartialObjectMetadata.
struct WatchView<H> {
    target: Target,
    format: Format,
    include: IncludeObject,
    table: Arc<dyn TableColumns<H>>,
    headers_sent: std::sync::atomic::AtomicBool,
}

impl<H: Object> WatchView<H> {
    fn new(ctx: &RestContext, table: Arc<dyn TableColumns<H>>) -> Result<Self, ApiError> {
        if matches!(ctx.target, Target::PartialObjectMetadataList(_)) {
            return Err(ApiError::not_acceptable(&[piazza_codec::JSON]));
        }
        let include = IncludeObject::parse(ctx.query.get("includeObject"))?;
        Ok(Self {
            target: ctx.target,
            format: ctx.format,
            include,
            table,
            headers_sent: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn encode(&self, codec: &Arc<dyn VersionCodec<H>>, object: &H) -> Result<Vec<u8>, ApiError> {
        match self.target {
            Target::Object | Target::PartialObjectMetadataList(_) => codec.encode(object, self.format),
            Target::PartialObjectMetadata(_) if self.format == Format::Protobuf => {
                Ok(protobuf_partial_metadata(object.metadata(), self.target))
            }
            Target::PartialObjectMetadata(_) => {
                let mut view = partial_object_metadata(object.metadata());
                set_meta_version(&mut view, self.target);
                serde_json::to_vec(&view).map_err(ApiError::internal)
            }
            Target::Table(_) => {
                let first = !self.headers_sent.swap(true, std::sync::atomic::Ordering::Relaxed);
                let list_meta = serde_json::json!({ "resourceVersion": object.metadata().resource_version });
                let mut table =
                    build_table(self.table.as_ref(), &[object], list_meta, self.include, first, &|o| {
                        object_value(codec, o)
                    })?;
                set_meta_version(&mut table, self.target);
                serde_json::to_vec(&table).map_err(ApiError::internal)
            }
        }
    }
}

/// A watch ERROR frame for `err`.
fn error_frame(err: &ApiError, format: Format) -> Bytes {
    event_frame(format, WatchEventType::Error, &encode_status(&err.to_status(), format).unwrap_or_default())
}

fn watch_timeout(requested: Option<u64>) -> Duration {
    match requested {
        Some(seconds) if seconds > 0 => Duration::from_secs(seconds),
        _ => {
            let extra = rand::rng().random_range(0..MIN_WATCH_TIMEOUT.as_secs());
            MIN_WATCH_TIMEOUT + Duration::from_secs(extra)
        }
    }
}

/// A bookmark's object: an empty object of the watched version with only a
/// resourceVersion (and the `k8s.io/initial-events-end` annotation when it ends the initial
/// events), in `format`.
fn bookmark_body<H: 'static>(
    codec: &Arc<dyn VersionCodec<H>>,
    resource_version: u64,
    initial_events_end: bool,
    format: Format,
) -> Result<Vec<u8>, ApiError> {
    let annotations = initial_events_end.then(|| {
        std::collections::BTreeMap::from([("k8s.io/initial-events-end".to_owned(), "true".to_owned())])
    });
    let metadata = ObjectMeta {
        resource_version: Some(resource_version.to_string()),
        annotations,
        ..ObjectMeta::default()
    };
    if format == Format::Protobuf {
        return codec.encode_metadata_only(metadata);
    }
    let type_meta = codec.type_meta();
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": type_meta.api_version,
        "kind": type_meta.kind,
        "metadata": metadata,
    }))
    .map_err(ApiError::internal)
}

#[async_trait]
impl<H: Object> RestResource for Store<H> {
    fn descriptor(&self) -> &ResourceDescriptor {
        Store::descriptor(self)
    }

    fn formats(&self) -> piazza_codec::Formats {
        piazza_codec::Formats { protobuf: self.versions().iter().all(|v| v.protobuf()) }
    }

    fn schema(&self, version: &str, generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        self.versions().iter().find(|v| v.version() == version).map(|v| v.schema(generator))
    }

    async fn get(&self, ctx: &RestContext) -> Result<Encoded, ApiError> {
        let codec = self.version(&ctx.version)?;
        let params = ctx.query.list_params()?;
        if ctx.target == Target::Object {
            return self.get_encoded(codec, ctx, required_name(ctx)?, params.get_revision()?).await;
        }
        let object = self.get(ctx.namespace.as_deref(), required_name(ctx)?, params.get_revision()?).await?;
        match ctx.target {
            Target::Object => self.encode_one(codec, &object, 200, ctx.format),
            Target::PartialObjectMetadata(_) if ctx.format == Format::Protobuf => Ok(view_response(
                protobuf_partial_metadata(object.metadata(), ctx.target),
                ctx.format,
                ctx.target,
            )),
            Target::PartialObjectMetadata(_) => {
                encode_view(partial_object_metadata(object.metadata()), ctx.format, ctx.target)
            }
            Target::Table(_) => {
                let include = IncludeObject::parse(ctx.query.get("includeObject"))?;
                let list_meta = serde_json::json!({ "resourceVersion": object.metadata().resource_version });
                let table = build_table(self.table_columns(), &[&object], list_meta, include, true, &|o| {
                    object_value(codec, o)
                })?;
                encode_view(table, ctx.format, ctx.target)
            }
            Target::PartialObjectMetadataList(_) => {
                Err(ApiError::not_acceptable(&[piazza_codec::JSON, piazza_codec::YAML]))
            }
        }
    }

    async fn list(&self, ctx: &RestContext) -> Result<Encoded, ApiError> {
        let codec = self.version(&ctx.version)?;
        let params = ctx.query.list_params()?;
        if ctx.target == Target::Object {
            return self.list_encoded(codec, ctx, &params).await;
        }
        let page = Store::list(self, ctx.namespace.as_deref(), &params).await?;
        let metadata = crate::store::list_metadata(&page);
        match ctx.target {
            Target::Object => self.encode_list(codec, &page.items, &list_meta(&page), ctx.format),
            Target::PartialObjectMetadataList(_) if ctx.format == Format::Protobuf => {
                let metas: Vec<_> = page.items.iter().map(Object::metadata).collect();
                let body = protobuf_partial_metadata_list(&metas, list_meta(&page), ctx.target);
                Ok(view_response(body, ctx.format, ctx.target))
            }
            Target::PartialObjectMetadataList(_) => {
                let metas: Vec<_> = page.items.iter().map(Object::metadata).collect();
                encode_view(partial_object_metadata_list(&metas, metadata), ctx.format, ctx.target)
            }
            Target::Table(_) => {
                let include = IncludeObject::parse(ctx.query.get("includeObject"))?;
                let objects: Vec<&H> = page.items.iter().collect();
                let table = build_table(self.table_columns(), &objects, metadata, include, true, &|o| {
                    object_value(codec, o)
                })?;
                encode_view(table, ctx.format, ctx.target)
            }
            Target::PartialObjectMetadata(_) => {
                Err(ApiError::not_acceptable(&[piazza_codec::JSON, piazza_codec::YAML]))
            }
        }
    }

    async fn watch(&self, ctx: &RestContext) -> Result<EncodedWatch, ApiError> {
        let codec = Arc::clone(self.version(&ctx.version)?);
        let params = ctx.query.list_params()?;
        let timeout = watch_timeout(params.timeout_seconds);
        let events = Store::watch(self, ctx.namespace.as_deref(), &params).await?;
        let view = WatchView::new(ctx, self.shared_table_columns())?;
        // Object and metadata frames are the same for every watcher of the store in this
        // version: encode each once. Table frames differ (headers on the first only).
        let shared = match ctx.target {
            Target::Object => Some((self.watch_caches(), FrameView::Object)),
            Target::PartialObjectMetadata(MetaVersion::V1) => {
                Some((self.watch_caches(), FrameView::Metadata))
            }
            Target::PartialObjectMetadata(_) | Target::Table(_) | Target::PartialObjectMetadataList(_) => {
                None
            }
        };
        let version = codec.version();
        let format = ctx.format;
        let frames = events.map(move |event| {
            let object_frame = |event_type: WatchEventType, object: &H| -> Bytes {
                let encode = || match view.encode(&codec, object) {
                    Ok(body) => Ok(event_frame(format, event_type, &body)),
                    Err(e) => Err(error_frame(&e, format)),
                };
                let meta = object.metadata();
                let revision = meta.resource_version.as_deref().and_then(|rv| rv.parse::<u64>().ok());
                match (&shared, meta.name.as_deref(), revision) {
                    (Some((caches, view)), Some(name), Some(resource_version)) if !name.is_empty() => {
                        let key = FrameKey {
                            resource_version,
                            event_type: event_type.as_str(),
                            version,
                            view: *view,
                            format,
                        };
                        caches.frame(key, meta.namespace.as_deref(), name, encode)
                    }
                    _ => encode().unwrap_or_else(|e| e),
                }
            };
            let frame = match event {
                HubWatchEvent::Added(o) => return object_frame(WatchEventType::Added, &o),
                HubWatchEvent::Modified(o) => return object_frame(WatchEventType::Modified, &o),
                HubWatchEvent::Deleted(o) => return object_frame(WatchEventType::Deleted, &o),
                HubWatchEvent::Bookmark { resource_version, initial_events_end } => {
                    bookmark_body(&codec, resource_version, initial_events_end, format)
                        .map(|b| (WatchEventType::Bookmark, b))
                }
                HubWatchEvent::Error(e) => return error_frame(&e, format),
            };
            match frame {
                Ok((event_type, body)) => event_frame(format, event_type, &body),
                Err(e) => error_frame(&e, format),
            }
        });
        Ok(Box::pin(crate::stop_when::stop_when(frames, tokio::time::sleep(timeout))))
    }

    async fn create(&self, ctx: &RestContext, body: &[u8], body_format: Format) -> Result<Encoded, ApiError> {
        let codec = self.version(&ctx.version)?;
        let write = ctx.query.write_params(OptionsKind::Create)?;
        let (object, warnings) = codec.decode(body, body_format, write.field_validation)?;
        let created = self.create(ctx.namespace.as_deref(), object, &ctx.user, write.dry_run).await?;
        let mut encoded = self.encode_one(codec, &created, 201, ctx.format)?;
        encoded.warnings = warnings;
        Ok(encoded)
    }

    async fn update(&self, ctx: &RestContext, body: &[u8], body_format: Format) -> Result<Encoded, ApiError> {
        let codec = self.version(&ctx.version)?;
        let write = ctx.query.write_params(OptionsKind::Update)?;
        let (object, warnings) = codec.decode(body, body_format, write.field_validation)?;
        let updated = Store::update(
            self,
            ctx.namespace.as_deref(),
            required_name(ctx)?,
            object,
            &ctx.user,
            write.dry_run,
        )
        .await?;
        let mut encoded = self.encode_one(codec, &updated, 200, ctx.format)?;
        encoded.warnings = warnings;
        Ok(encoded)
    }

    async fn patch(
        &self,
        ctx: &RestContext,
        body: &[u8],
        patch_type: PatchType,
    ) -> Result<Encoded, ApiError> {
        let codec = self.version(&ctx.version)?;
        let write = ctx.query.write_params(OptionsKind::Patch)?;
        let (patched, warnings) = Store::patch(
            self,
            ctx.namespace.as_deref(),
            required_name(ctx)?,
            &ctx.version,
            patch_type,
            body,
            write.field_validation,
            &ctx.user,
            write.dry_run,
        )
        .await?;
        let mut encoded = self.encode_one(codec, &patched, 200, ctx.format)?;
        encoded.warnings = warnings;
        Ok(encoded)
    }

    async fn delete(&self, ctx: &RestContext, body: &[u8], body_format: Format) -> Result<Encoded, ApiError> {
        let codec = self.version(&ctx.version)?;
        let write = ctx.query.write_params(OptionsKind::Delete)?;
        let options = decode_delete_options(body, body_format, &ctx.query)?;
        let dry_run = write.dry_run || options.dry_run.iter().flatten().any(|d| d == "All");
        let outcome =
            Store::delete(self, ctx.namespace.as_deref(), required_name(ctx)?, &options, &ctx.user, dry_run)
                .await?;
        let status = delete_status_code(outcome.deleted(), &options);
        // Removed, or already pending: a Status, as upstream's `finalizeDelete`. Kept and
        // marked: the object, so that clients see `deletionTimestamp` and the finalizers.
        let mut encoded = match outcome.state {
            DeleteState::Deleting => self.encode_one(codec, &outcome.object, status, ctx.format)?,
            _ => self.delete_status(&outcome.object, ctx.format)?,
        };
        encoded.status = status;
        Ok(encoded)
    }

    async fn delete_collection(
        &self,
        ctx: &RestContext,
        body: &[u8],
        body_format: Format,
    ) -> Result<Encoded, ApiError> {
        let codec = self.version(&ctx.version)?;
        let write = ctx.query.write_params(OptionsKind::Delete)?;
        let options = decode_delete_options(body, body_format, &ctx.query)?;
        crate::store::validate_delete_options(&options)?;
        let dry_run = write.dry_run || options.dry_run.iter().flatten().any(|d| d == "All");
        let mut params = ctx.query.list_params()?;
        params.limit = None;
        params.continue_token = None;
        let page = Store::list(self, ctx.namespace.as_deref(), &params).await?;
        let mut deleted = Vec::with_capacity(page.items.len());
        for item in page.items {
            let meta = item.metadata();
            let name = meta.name.clone().unwrap_or_default();
            let namespace = meta.namespace.clone();
            // Each object gets the request's options (grace period, propagation policy,
            // preconditions), as upstream.
            match Store::delete(self, namespace.as_deref(), &name, &options, &ctx.user, dry_run).await {
                Ok(outcome) => deleted.push(outcome.object),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let metadata =
            ListMeta { resource_version: Some(page.resource_version.to_string()), ..ListMeta::default() };
        self.encode_list(codec, &deleted, &metadata, ctx.format)
    }
}
