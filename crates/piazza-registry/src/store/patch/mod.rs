//! PATCH: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7396) and strategic merge patch
//! ([`strategic`]), applied to the current object in the request's version inside the
//! guaranteed-update loop, so a patch is re-applied to the fresh state when it loses a race.
//!
//! Strategic merge patch reads each field's patch strategy and merge key from the served
//! version's JSON schema ([`schema_meta`]), the same schema the OpenAPI documents publish.

pub mod schema_meta;
pub mod strategic;
pub mod strategic_error;
#[cfg(test)]
mod strategic_model;

use piazza_codec::{FieldValidation, Format};
use piazza_core::{ApiError, FieldError, FieldErrors, FieldPath, GroupKind, Object, StatusReason, UserInfo};
use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::Store;
use crate::version::VersionCodec;
use schema_meta::PatchSchema;
use strategic_error::{SmpError, SmpErrorKind, go_v};

/// The most operations one JSON Patch may hold, as upstream.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// The media types of PATCH bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
}

impl PatchType {
    /// The media types accepted for PATCH.
    pub const SUPPORTED: &'static [&'static str] = &[
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ];

    /// Parses a PATCH `Content-Type` (parameters ignored); anything else is a 415.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, ApiError> {
        let raw = content_type.unwrap_or("");
        let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            _ => Err(ApiError::unsupported_media_type(Self::SUPPORTED)),
        }
    }
}

enum ParsedPatch {
    Json(json_patch::Patch),
    Merge(serde_json::Value),
    Strategic(serde_json::Value),
}

fn parse_patch(patch_type: PatchType, body: &[u8]) -> Result<ParsedPatch, ApiError> {
    match patch_type {
        PatchType::Json => {
            let ops: Vec<serde_json::Value> = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if ops.len() > MAX_JSON_PATCH_OPERATIONS {
                return Err(ApiError::request_entity_too_large_message(format!(
                    "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
                    ops.len()
                )));
            }
            let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops))
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            Ok(ParsedPatch::Json(patch))
        }
        PatchType::Merge => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !value.is_object() {
                return Err(ApiError::bad_request(
                    "error decoding patch: a merge patch must be a JSON object",
                ));
            }
            Ok(ParsedPatch::Merge(value))
        }
        PatchType::Strategic => parse_strategic(body).map(ParsedPatch::Strategic),
    }
}

/// Decodes an SMP body into a JSON object (`null` is an empty patch), with the messages of
/// upstream's JSON decoder.
fn parse_strategic(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(go_json_error(&e, body)))?;
    match value {
        serde_json::Value::Object(_) => Ok(value),
        serde_json::Value::Null => Ok(serde_json::Value::Object(serde_json::Map::new())),
        other => Err(ApiError::bad_request(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(&other)
        ))),
    }
}

/// The JSON type name Go's decoder uses in its messages.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Go's `encoding/json` message for a syntax error: truncated input is `unexpected end of
/// JSON input`, anything else names the offending character.
fn go_json_error(err: &serde_json::Error, body: &[u8]) -> String {
    if err.is_eof() {
        return "unexpected end of JSON input".to_owned();
    }
    let offset =
        body.split(|b| *b == b'\n').take(err.line().saturating_sub(1)).map(|l| l.len() + 1).sum::<usize>()
            + err.column().saturating_sub(1);
    match body.get(offset) {
        Some(c) if c.is_ascii_graphic() => {
            format!("invalid character '{}' looking for beginning of value", *c as char)
        }
        _ => err.to_string(),
    }
}

/// An SMP engine error as the API answers it: malformed directives are 400, lists of lists
/// 422 as upstream. Upstream answers the remaining errors (missing merge key, unknown
/// `$patch`, mixed list element types) with a bare error, i.e. a 500; they are the client's
/// fault, so Piazza answers them as 400 with upstream's message.
fn smp_api_error(err: SmpError) -> ApiError {
    match err.kind {
        SmpErrorKind::BadRequest | SmpErrorKind::Other => ApiError::bad_request(err.message),
        SmpErrorKind::Unprocessable => ApiError::new(
            422,
            StatusReason::Invalid,
            "the server rejected our request due to an error in our request",
        ),
    }
}

/// A patched document that does not decode as the kind is 422 `Invalid` on field `patch`,
/// as upstream reports SMP results its converter rejects.
fn invalid_patch_result(err: ApiError, patch: &serde_json::Value) -> ApiError {
    if err.code != 400 {
        return err;
    }
    let detail = err.message.strip_prefix("error decoding request body: ").unwrap_or(&err.message).to_owned();
    let mut errors = FieldErrors::new();
    errors.push(FieldError::invalid(FieldPath::new("patch"), go_v(patch), detail));
    ApiError::invalid(&GroupKind::new("", ""), "", &errors)
}

/// The patch schema of a served version, generated once per process (schemas are static).
fn patch_schema<H: Object>(codec: &dyn VersionCodec<H>) -> Arc<PatchSchema> {
    type Key = (TypeId, String, String);
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<PatchSchema>>>> = OnceLock::new();
    let type_meta = codec.type_meta();
    let key = (TypeId::of::<H>(), type_meta.api_version, type_meta.kind);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return found;
    }
    let schema = Arc::new(PatchSchema::generate(|g| codec.schema(g)));
    if let Ok(mut c) = cache.lock() {
        c.insert(key, schema.clone());
    }
    schema
}

/// Applies a strategic merge patch `body` to `doc` for a type that declares no patch
/// metadata (every list replaces, every map merges), e.g. the `Scale` subresource.
pub fn apply_strategic_untyped(doc: serde_json::Value, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let patch = parse_strategic(body)?;
    strategic::apply(doc, patch, &strategic::NoPatchMeta).map_err(smp_api_error)
}

impl<H: Object> Store<H> {
    /// Patches an object in `version`. Returns the result and any field warnings.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        namespace: Option<&str>,
        name: &str,
        version: &str,
        patch_type: PatchType,
        body: &[u8],
        validation: FieldValidation,
        user: &UserInfo,
        dry_run: bool,
    ) -> Result<(H, Vec<String>), ApiError> {
        let codec = self.version(version)?.clone();
        let patch = parse_patch(patch_type, body)?;
        let schema = match &patch {
            ParsedPatch::Strategic(_) => Some(patch_schema(codec.as_ref())),
            _ => None,
        };
        let warnings = Mutex::new(Vec::new());
        let result = self
            .guaranteed_update(namespace, name, user, dry_run, |old| {
                let current = codec.encode(old, Format::Json)?;
                let mut doc: serde_json::Value =
                    serde_json::from_slice(&current).map_err(ApiError::internal)?;
                match &patch {
                    ParsedPatch::Json(p) => json_patch::patch(&mut doc, p).map_err(|e| {
                        ApiError::new(
                            422,
                            piazza_core::StatusReason::Invalid,
                            format!("the server rejected our request due to an error in our request: {e}"),
                        )
                    })?,
                    ParsedPatch::Merge(p) => json_patch::merge(&mut doc, p),
                    ParsedPatch::Strategic(p) => {
                        let meta = schema.as_deref().map(PatchSchema::meta);
                        let meta: &dyn strategic::PatchMeta = match &meta {
                            Some(m) => m,
                            None => &strategic::NoPatchMeta,
                        };
                        doc = strategic::apply(doc, p.clone(), meta).map_err(smp_api_error)?;
                    }
                }
                let patched = serde_json::to_vec(&doc).map_err(ApiError::internal)?;
                let decoded = codec.decode(&patched, Format::Json, validation);
                let (object, found) = match (&patch, decoded) {
                    (ParsedPatch::Strategic(p), Err(e)) => return Err(invalid_patch_result(e, p)),
                    (_, decoded) => decoded?,
                };
                if let Ok(mut w) = warnings.lock() {
                    *w = found;
                }
                let old_rv = old.metadata().resource_version.clone();
                let expected = if object.metadata().resource_version != old_rv {
                    self.parse_object_rv(&object, name)?
                } else {
                    None
                };
                Ok((object, expected))
            })
            .await?;
        Ok((result, warnings.into_inner().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type(Some("application/merge-patch+json")).unwrap(),
            PatchType::Merge
        );
        assert_eq!(
            PatchType::from_content_type(Some("application/json-patch+json; charset=utf-8")).unwrap(),
            PatchType::Json
        );
        assert_eq!(
            PatchType::from_content_type(Some("Application/Strategic-Merge-Patch+JSON")).unwrap(),
            PatchType::Strategic
        );
        assert_eq!(PatchType::from_content_type(Some("application/apply-patch+yaml")).unwrap_err().code, 415);
        assert_eq!(PatchType::from_content_type(None).unwrap_err().code, 415);
    }

    #[test]
    fn hostile_patches() {
        assert_eq!(parse_patch(PatchType::Json, b"{").err().unwrap().code, 400);
        assert_eq!(parse_patch(PatchType::Json, b"[{\"op\":\"explode\"}]").err().unwrap().code, 400);
        assert_eq!(parse_patch(PatchType::Merge, b"[1]").err().unwrap().code, 400);
        let many = format!(
            "[{}]",
            vec![r#"{"op":"test","path":"/a","value":1}"#; MAX_JSON_PATCH_OPERATIONS + 1].join(",")
        );
        assert_eq!(parse_patch(PatchType::Json, many.as_bytes()).err().unwrap().code, 413);
        let ok = format!(
            "[{}]",
            vec![r#"{"op":"test","path":"/a","value":1}"#; MAX_JSON_PATCH_OPERATIONS].join(",")
        );
        assert!(parse_patch(PatchType::Json, ok.as_bytes()).is_ok());
    }
}
