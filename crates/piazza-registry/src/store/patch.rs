//! PATCH: JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7396), applied to the current
//! object in the request's version inside the guaranteed-update loop, so a patch is
//! re-applied to the fresh state when it loses a race.

use piazza_codec::{FieldValidation, Format};
use piazza_core::{ApiError, Object, UserInfo};
use std::sync::Mutex;

use super::Store;

/// The most operations one JSON Patch may hold, as upstream.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// The media types of PATCH bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
}

impl PatchType {
    /// The media types accepted for PATCH.
    pub const SUPPORTED: &'static [&'static str] =
        &["application/json-patch+json", "application/merge-patch+json"];

    /// Parses a PATCH `Content-Type` (parameters ignored); anything else is a 415.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, ApiError> {
        let raw = content_type.unwrap_or("");
        let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            _ => Err(ApiError::unsupported_media_type(Self::SUPPORTED)),
        }
    }
}

enum ParsedPatch {
    Json(json_patch::Patch),
    Merge(serde_json::Value),
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
    }
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
                }
                let patched = serde_json::to_vec(&doc).map_err(ApiError::internal)?;
                let (object, found) = codec.decode(&patched, Format::Json, validation)?;
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
            PatchType::from_content_type(Some("application/strategic-merge-patch+json")).unwrap_err().code,
            415
        );
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
