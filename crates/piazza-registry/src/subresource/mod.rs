//! Subresources: `<resource>/<name>/<subresource>` endpoints such as `status`, `scale`, an
//! action (`POST …/bake`) or a streaming, connect-style read (`GET …/log?follow=true`).
//!
//! An API author implements [`Subresource`] for each one (or uses [`status::StatusSubresource`]
//! and [`scale::ScaleSubresource`]) and attaches them to a resource with [`WithSubresources`];
//! the server routes `…/<name>/<subresource>` requests to them, answers 404 for unregistered
//! subresources (as upstream, which has no route for them) and 405 for verbs the subresource
//! does not serve, and lists them in discovery. The counterpart of upstream's per-subresource
//! `rest.Storage` entries (`pods/status`, `deployments/scale`, `pods/log`).

pub mod scale;
pub mod status;

use std::sync::Arc;

use async_trait::async_trait;
use piazza_codec::Format;
use piazza_core::{ApiError, GroupVersionKind};

use crate::descriptor::ResourceDescriptor;
use crate::rest::{Encoded, EncodedWatch, RestContext, RestResource};
use crate::store::PatchType;

/// The answer of a subresource GET: an encoded object, or a stream of bytes (connect-style
/// subresources such as logs) with its content type.
pub enum SubresourceReply {
    /// An encoded object.
    Object(Encoded),
    /// A body streamed as it is produced, e.g. `text/plain` log lines.
    Stream {
        /// The `Content-Type` of the stream.
        content_type: String,
        /// The chunks; the response ends when the stream does.
        body: EncodedWatch,
    },
}

impl std::fmt::Debug for SubresourceReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Object(encoded) => f.debug_tuple("Object").field(encoded).finish(),
            Self::Stream { content_type, .. } => {
                f.debug_struct("Stream").field("content_type", content_type).finish()
            }
        }
    }
}

/// One subresource of a resource, erased over its types. Every verb defaults to 405, so an
/// implementation provides only the verbs it lists in [`Subresource::verbs`].
#[async_trait]
pub trait Subresource: Send + Sync + 'static {
    /// The path segment, e.g. `status`.
    fn name(&self) -> &'static str;
    /// The verbs served, as discovery lists them (`get`, `update`, `patch`, `create`).
    fn verbs(&self) -> &'static [&'static str];
    /// The formats its bodies may use (JSON and YAML unless it says otherwise).
    fn formats(&self) -> piazza_codec::Formats {
        piazza_codec::Formats::JSON_YAML
    }
    /// The kind the subresource answers with, when it is not the parent's kind (e.g.
    /// `autoscaling/v1` `Scale`). Discovery lists it.
    fn response_kind(&self) -> Option<GroupVersionKind> {
        None
    }
    /// GET `…/<name>/<subresource>`.
    async fn get(&self, _ctx: &RestContext) -> Result<SubresourceReply, ApiError> {
        Err(ApiError::method_not_allowed())
    }
    /// PUT `…/<name>/<subresource>`.
    async fn update(&self, _ctx: &RestContext, _body: &[u8], _format: Format) -> Result<Encoded, ApiError> {
        Err(ApiError::method_not_allowed())
    }
    /// PATCH `…/<name>/<subresource>`.
    async fn patch(
        &self,
        _ctx: &RestContext,
        _body: &[u8],
        _patch_type: PatchType,
    ) -> Result<Encoded, ApiError> {
        Err(ApiError::method_not_allowed())
    }
    /// POST `…/<name>/<subresource>` (an action).
    async fn create(&self, _ctx: &RestContext, _body: &[u8], _format: Format) -> Result<Encoded, ApiError> {
        Err(ApiError::method_not_allowed())
    }
}

/// Finds a subresource of `resource` by name.
pub fn find<'a>(resource: &'a dyn RestResource, name: &str) -> Option<&'a Arc<dyn Subresource>> {
    resource.subresources().iter().find(|s| s.name() == name)
}

/// A resource together with its subresources: every resource verb goes to `inner`.
pub struct WithSubresources {
    inner: Arc<dyn RestResource>,
    subresources: Vec<Arc<dyn Subresource>>,
}

impl WithSubresources {
    /// Attaches `subresources` to `inner`.
    ///
    /// # Panics
    ///
    /// When two subresources share a name: a declaration error, found at start-up.
    pub fn new(inner: Arc<dyn RestResource>, subresources: Vec<Arc<dyn Subresource>>) -> Arc<Self> {
        let mut names: Vec<&str> = subresources.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "{}: duplicate subresource names", inner.descriptor().plural);
        Arc::new(Self { inner, subresources })
    }
}

#[async_trait]
impl RestResource for WithSubresources {
    fn descriptor(&self) -> &ResourceDescriptor {
        self.inner.descriptor()
    }
    fn formats(&self) -> piazza_codec::Formats {
        self.inner.formats()
    }
    fn schema(&self, version: &str, generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        self.inner.schema(version, generator)
    }
    fn subresources(&self) -> &[Arc<dyn Subresource>] {
        &self.subresources
    }
    async fn get(&self, ctx: &RestContext) -> Result<Encoded, ApiError> {
        self.inner.get(ctx).await
    }
    async fn list(&self, ctx: &RestContext) -> Result<Encoded, ApiError> {
        self.inner.list(ctx).await
    }
    async fn watch(&self, ctx: &RestContext) -> Result<EncodedWatch, ApiError> {
        self.inner.watch(ctx).await
    }
    async fn create(&self, ctx: &RestContext, body: &[u8], format: Format) -> Result<Encoded, ApiError> {
        self.inner.create(ctx, body, format).await
    }
    async fn update(&self, ctx: &RestContext, body: &[u8], format: Format) -> Result<Encoded, ApiError> {
        self.inner.update(ctx, body, format).await
    }
    async fn patch(
        &self,
        ctx: &RestContext,
        body: &[u8],
        patch_type: PatchType,
    ) -> Result<Encoded, ApiError> {
        self.inner.patch(ctx, body, patch_type).await
    }
    async fn delete(&self, ctx: &RestContext, body: &[u8], format: Format) -> Result<Encoded, ApiError> {
        self.inner.delete(ctx, body, format).await
    }
    async fn delete_collection(
        &self,
        ctx: &RestContext,
        body: &[u8],
        format: Format,
    ) -> Result<Encoded, ApiError> {
        self.inner.delete_collection(ctx, body, format).await
    }
}

/// The name in the URL, which every subresource request has.
pub fn required_name(ctx: &RestContext) -> Result<&str, ApiError> {
    ctx.name.as_deref().ok_or_else(|| ApiError::bad_request("name is required"))
}

/// How often [`update_object`] re-reads and retries after losing a race.
const MAX_RETRIES: usize = 16;

/// Where and how [`update_object`] writes.
#[derive(Clone, Copy, Debug)]
pub struct UpdateTarget<'a> {
    /// The namespace, for namespaced kinds.
    pub namespace: Option<&'a str>,
    /// The object name.
    pub name: &'a str,
    /// Who writes (for admission).
    pub user: &'a piazza_core::UserInfo,
    /// Run everything but write nothing.
    pub dry_run: bool,
    /// A resourceVersion the object must still have (409 otherwise); `None` retries on races.
    pub precondition: Option<&'a str>,
}

impl<'a> UpdateTarget<'a> {
    /// The object a subresource request names, with its `dryRun`, and no precondition.
    pub fn of(ctx: &'a RestContext) -> Result<Self, ApiError> {
        Ok(Self {
            namespace: ctx.namespace.as_deref(),
            name: required_name(ctx)?,
            user: &ctx.user,
            dry_run: ctx.query.write_params(crate::params::OptionsKind::Update)?.dry_run,
            precondition: None,
        })
    }
}

/// A read-modify-write of one object through the store's full update path (strategy,
/// admission, validation): read the latest state, let `change` edit it, and write it back
/// conditionally on the revision read. Losing the race retries, unless the target names a
/// precondition resourceVersion, which is then a 409, as upstream's `GuaranteedUpdate`.
/// `change` may refuse with its own error (e.g. a 409 for an action already done).
pub async fn update_object<H, F>(
    store: &crate::Store<H>,
    target: UpdateTarget<'_>,
    change: F,
) -> Result<H, ApiError>
where
    H: piazza_core::Object,
    F: Fn(&mut H) -> Result<(), ApiError> + Send + Sync,
{
    let precondition = target.precondition.filter(|rv| !rv.is_empty());
    let mut last = None;
    for _ in 0..MAX_RETRIES {
        let mut object =
            store.get(target.namespace, target.name, piazza_storage::ReadRevision::Latest).await?;
        if let Some(rv) = precondition {
            object.metadata_mut().resource_version = Some(rv.to_owned());
        }
        change(&mut object)?;
        match store.update(target.namespace, target.name, object, target.user, target.dry_run).await {
            Err(e) if e.code == 409 && precondition.is_none() => last = Some(e),
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| ApiError::internal("update retries exhausted")))
}
