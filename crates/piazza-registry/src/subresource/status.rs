//! The `status` subresource: GET, PUT and PATCH of an object through a store whose strategy
//! keeps the stored spec, as upstream's `StatusREST` (a copy of the main store with a status
//! update strategy).
//!
//! The author builds a second [`Store`](crate::Store) of the kind on the same storage, with a
//! [`Strategy`](crate::Strategy) whose `prepare_for_update` restores the old spec and calls
//! [`keep_metadata_for_status`]; the main store's strategy restores the old status instead.

use std::sync::Arc;

use async_trait::async_trait;
use piazza_codec::Format;
use piazza_core::ApiError;
use piazza_core::meta::ObjectMeta;

use super::{Subresource, SubresourceReply};
use crate::rest::{Encoded, RestContext, RestResource};
use crate::store::PatchType;

/// The verbs of a status subresource.
pub const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// `<resource>/<name>/status`, served by a store built with a status strategy.
pub struct StatusSubresource {
    store: Arc<dyn RestResource>,
}

impl StatusSubresource {
    /// Serves status through `store`, which must be built with a strategy that keeps the
    /// stored spec on update.
    pub fn new(store: Arc<dyn RestResource>) -> Arc<Self> {
        Arc::new(Self { store })
    }
}

#[async_trait]
impl Subresource for StatusSubresource {
    fn name(&self) -> &'static str {
        "status"
    }

    fn verbs(&self) -> &'static [&'static str] {
        STATUS_VERBS
    }

    fn formats(&self) -> piazza_codec::Formats {
        self.store.formats()
    }

    async fn get(&self, ctx: &RestContext) -> Result<SubresourceReply, ApiError> {
        self.store.get(ctx).await.map(SubresourceReply::Object)
    }

    async fn update(&self, ctx: &RestContext, body: &[u8], format: Format) -> Result<Encoded, ApiError> {
        self.store.update(ctx, body, format).await
    }

    async fn patch(
        &self,
        ctx: &RestContext,
        body: &[u8],
        patch_type: PatchType,
    ) -> Result<Encoded, ApiError> {
        self.store.patch(ctx, body, patch_type).await
    }
}

/// What a status update may change in `metadata`: only labels and annotations, as upstream's
/// status strategies; everything else is restored from `old`.
pub fn keep_metadata_for_status(new: &mut ObjectMeta, old: &ObjectMeta) {
    let labels = new.labels.take();
    let annotations = new.annotations.take();
    let resource_version = new.resource_version.take();
    *new = old.clone();
    new.labels = labels;
    new.annotations = annotations;
    new.resource_version = resource_version;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_updates_keep_metadata_but_labels_and_annotations() {
        let old = ObjectMeta {
            name: Some("a".into()),
            uid: Some("u1".into()),
            finalizers: Some(vec!["keep".into()]),
            labels: Some([("x".to_owned(), "1".to_owned())].into()),
            generation: Some(3),
            ..Default::default()
        };
        let mut new = ObjectMeta {
            name: Some("a".into()),
            uid: Some("u2".into()),
            finalizers: None,
            labels: Some([("x".to_owned(), "2".to_owned())].into()),
            annotations: Some([("note".to_owned(), "y".to_owned())].into()),
            generation: Some(9),
            resource_version: Some("7".into()),
            ..Default::default()
        };
        keep_metadata_for_status(&mut new, &old);
        assert_eq!(new.uid.as_deref(), Some("u1"));
        assert_eq!(new.finalizers, Some(vec!["keep".to_owned()]));
        assert_eq!(new.generation, Some(3));
        assert_eq!(new.labels.unwrap()["x"], "2");
        assert_eq!(new.annotations.unwrap()["note"], "y");
        assert_eq!(new.resource_version.as_deref(), Some("7"));
    }
}
