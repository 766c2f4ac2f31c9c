//! The `scale` subresource: a kind's replica count read and written as an `autoscaling/v1`
//! `Scale`, as upstream's `ScaleREST` and the CRD scale subresource. `spec.replicas` maps to
//! a field of the object through [`ScaleAccess`]; writes go through the main store's update
//! path, so its strategy, admission and validation apply.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec, ScaleStatus};
use piazza_codec::{Format, Target, decode_object, encode_value};
use piazza_core::meta::ObjectMeta;
use piazza_core::{ApiError, FieldError, FieldErrors, FieldPath, GroupKind, GroupVersionKind, Object};

use super::{Subresource, SubresourceReply, UpdateTarget, required_name, update_object};
use crate::Store;
use crate::rest::{Encoded, RestContext};
use crate::store::PatchType;

/// The verbs of a scale subresource.
pub const SCALE_VERBS: &[&str] = &["get", "patch", "update"];

/// Where a kind keeps what `Scale` shows.
pub trait ScaleAccess<H>: Send + Sync + 'static {
    /// The desired replicas (`Scale.spec.replicas`).
    fn spec_replicas(&self, object: &H) -> i32;
    /// Sets the desired replicas.
    fn set_spec_replicas(&self, object: &mut H, replicas: i32);
    /// The observed replicas (`Scale.status.replicas`).
    fn status_replicas(&self, object: &H) -> i32;
    /// The label selector of what is scaled, in string form (`Scale.status.selector`).
    fn selector(&self, _object: &H) -> Option<String> {
        None
    }
}

/// `<resource>/<name>/scale` of the store's kind.
pub struct ScaleSubresource<H> {
    store: Arc<Store<H>>,
    access: Box<dyn ScaleAccess<H>>,
}

impl<H: Object> ScaleSubresource<H> {
    /// Serves `store`'s objects as `Scale`s, reading and writing replicas through `access`.
    pub fn new(store: Arc<Store<H>>, access: impl ScaleAccess<H>) -> Arc<Self> {
        Arc::new(Self { store, access: Box::new(access) })
    }

    /// The `Scale` view of an object (name, namespace, uid, resourceVersion and creation
    /// time from its metadata, as upstream).
    pub fn scale_of(&self, object: &H) -> Scale {
        let meta = object.metadata();
        Scale {
            metadata: ObjectMeta {
                name: meta.name.clone(),
                namespace: meta.namespace.clone(),
                uid: meta.uid.clone(),
                resource_version: meta.resource_version.clone(),
                creation_timestamp: meta.creation_timestamp.clone(),
                ..Default::default()
            },
            spec: Some(ScaleSpec { replicas: Some(self.access.spec_replicas(object)) }),
            status: Some(ScaleStatus {
                replicas: self.access.status_replicas(object),
                selector: self.access.selector(object),
            }),
        }
    }

    fn encode(&self, object: &H, format: Format) -> Result<Encoded, ApiError> {
        let scale = self.scale_of(object);
        let body = match format {
            Format::Protobuf => piazza_codec::protobuf::encode_object(&scale, &scale_type()),
            other => encode_value(&scale, other)?,
        };
        Ok(Encoded { status: 200, body: body.into(), format, target: Target::Object, warnings: Vec::new() })
    }

    /// Writes the replicas a `Scale` asks for, with its resourceVersion as a precondition.
    async fn apply(&self, ctx: &RestContext, scale: &Scale) -> Result<Encoded, ApiError> {
        let name = required_name(ctx)?;
        let replicas = validate_scale(scale, name)?;
        let target = UpdateTarget {
            precondition: scale.metadata.resource_version.as_deref(),
            ..UpdateTarget::of(ctx)?
        };
        let updated = update_object(&self.store, target, |object| {
            self.access.set_spec_replicas(object, replicas);
            Ok(())
        })
        .await?;
        self.encode(&updated, ctx.format)
    }
}

/// `autoscaling/v1` `Scale`.
fn scale_type() -> piazza_codec::TypeMeta {
    piazza_codec::TypeMeta { api_version: "autoscaling/v1".to_owned(), kind: "Scale".to_owned() }
}

/// Checks a `Scale` written by a client, as upstream's `ValidateScale`, and returns its
/// replicas: 422 for negative replicas, 400 for a name that is not the URL's.
pub fn validate_scale(scale: &Scale, name: &str) -> Result<i32, ApiError> {
    if let Some(body) = scale.metadata.name.as_deref().filter(|n| !n.is_empty() && *n != name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body}) does not match the name on the URL ({name})"
        )));
    }
    let replicas = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    if replicas < 0 {
        let errs: FieldErrors = [FieldError::invalid(
            FieldPath::new("spec").child("replicas"),
            replicas,
            "must be greater than or equal to 0",
        )]
        .into_iter()
        .collect();
        return Err(ApiError::invalid(&GroupKind::new("autoscaling", "Scale"), name, &errs));
    }
    Ok(replicas)
}

/// Applies a JSON or merge patch to a `Scale` document.
pub fn patch_scale(current: &Scale, patch_type: PatchType, body: &[u8]) -> Result<Scale, ApiError> {
    let mut doc = serde_json::to_value(current).map_err(ApiError::internal)?;
    let decode_error = |e: serde_json::Error| ApiError::bad_request(format!("error decoding patch: {e}"));
    match patch_type {
        PatchType::Json => {
            let patch: json_patch::Patch = serde_json::from_slice(body).map_err(decode_error)?;
            json_patch::patch(&mut doc, &patch).map_err(|e| {
                ApiError::new(
                    422,
                    piazza_core::StatusReason::Invalid,
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
        }
        PatchType::Merge => {
            let patch: serde_json::Value = serde_json::from_slice(body).map_err(decode_error)?;
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "error decoding patch: a merge patch must be a JSON object",
                ));
            }
            json_patch::merge(&mut doc, &patch);
        }
        PatchType::Strategic => doc = crate::store::apply_strategic_untyped(doc, body)?,
    }
    serde_json::from_value(doc)
        .map_err(|e| ApiError::bad_request(format!("error decoding patched Scale: {e}")))
}

#[async_trait]
impl<H: Object> Subresource for ScaleSubresource<H> {
    fn name(&self) -> &'static str {
        "scale"
    }

    fn verbs(&self) -> &'static [&'static str] {
        SCALE_VERBS
    }

    fn response_kind(&self) -> Option<GroupVersionKind> {
        Some(GroupVersionKind::new("autoscaling", "v1", "Scale"))
    }

    /// `autoscaling/v1` Scale has a protobuf message, as upstream.
    fn formats(&self) -> piazza_codec::Formats {
        piazza_codec::Formats::ALL
    }

    async fn get(&self, ctx: &RestContext) -> Result<SubresourceReply, ApiError> {
        let object = self
            .store
            .get(ctx.namespace.as_deref(), required_name(ctx)?, piazza_storage::ReadRevision::Latest)
            .await?;
        self.encode(&object, ctx.format).map(SubresourceReply::Object)
    }

    async fn update(&self, ctx: &RestContext, body: &[u8], format: Format) -> Result<Encoded, ApiError> {
        let (scale, type_meta): (Scale, _) = match format {
            Format::Protobuf => piazza_codec::protobuf::decode_object(body)?,
            other => decode_object(body, other)?,
        };
        if !type_meta.kind.is_empty()
            && (type_meta.kind != "Scale" || type_meta.api_version != "autoscaling/v1")
        {
            return Err(ApiError::bad_request(format!(
                "expected autoscaling/v1 Scale, got {} {}",
                type_meta.api_version, type_meta.kind
            )));
        }
        self.apply(ctx, &scale).await
    }

    async fn patch(
        &self,
        ctx: &RestContext,
        body: &[u8],
        patch_type: PatchType,
    ) -> Result<Encoded, ApiError> {
        let name = required_name(ctx)?;
        let current =
            self.store.get(ctx.namespace.as_deref(), name, piazza_storage::ReadRevision::Latest).await?;
        let before = self.scale_of(&current);
        let mut patched = patch_scale(&before, patch_type, body)?;
        // A patch that leaves the resourceVersion alone is not a precondition.
        if patched.metadata.resource_version == before.metadata.resource_version {
            patched.metadata.resource_version = None;
        }
        self.apply(ctx, &patched).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale(name: &str, replicas: i32) -> Scale {
        Scale {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: Some(ScaleSpec { replicas: Some(replicas) }),
            status: None,
        }
    }

    #[test]
    fn negative_replicas_are_invalid() {
        let err = validate_scale(&scale("a", -1), "a").unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "Scale.autoscaling \"a\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(validate_scale(&scale("a", 3), "a").unwrap(), 3);
        assert_eq!(validate_scale(&scale("b", 3), "a").unwrap_err().code, 400);
    }

    #[test]
    fn patches_apply_to_the_scale_document() {
        let merged = patch_scale(&scale("a", 1), PatchType::Merge, br#"{"spec":{"replicas":12}}"#).unwrap();
        assert_eq!(merged.spec.unwrap().replicas, Some(12));
        let json = patch_scale(
            &scale("a", 1),
            PatchType::Json,
            br#"[{"op":"replace","path":"/spec/replicas","value":5}]"#,
        )
        .unwrap();
        assert_eq!(json.spec.unwrap().replicas, Some(5));
        assert_eq!(patch_scale(&scale("a", 1), PatchType::Merge, b"[1]").unwrap_err().code, 400);
        assert_eq!(
            patch_scale(&scale("a", 1), PatchType::Json, br#"[{"op":"remove","path":"/nope"}]"#)
                .unwrap_err()
                .code,
            422
        );
    }
}
