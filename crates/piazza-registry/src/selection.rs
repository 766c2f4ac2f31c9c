//! Label and field selection of lists and watches. Selectors are parsed once per request;
//! stored objects are matched on their metadata without decoding the whole object.

use std::collections::BTreeMap;

use piazza_core::ApiError;
use piazza_core::meta::ObjectMeta;
use piazza_core::selector::{FieldSelector, LabelSelector};
use piazza_storage::{KeyValue, Predicate};
use serde::Deserialize;

use crate::params::ListParams;

/// The fields every kind can be selected on.
pub const DEFAULT_SELECTABLE_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// A request's label and field selectors.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    label: LabelSelector,
    field: FieldSelector,
}

#[derive(Deserialize)]
struct MetadataOnly {
    #[serde(default)]
    metadata: SelectableMeta,
}

#[derive(Default, Deserialize)]
struct SelectableMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

impl Selection {
    /// Parses the selectors of `params`; `None` when there are none. Malformed selectors
    /// and unsupported fields are a 400.
    pub fn from_params(params: &ListParams) -> Result<Option<Self>, ApiError> {
        let label = LabelSelector::parse(params.label_selector.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let field = FieldSelector::parse(params.field_selector.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        field.check_supported(DEFAULT_SELECTABLE_FIELDS).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if label.is_empty() && field.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self { label, field }))
    }

    fn matches_parts(
        &self,
        name: Option<&str>,
        namespace: Option<&str>,
        labels: Option<&BTreeMap<String, String>>,
    ) -> bool {
        let empty = BTreeMap::new();
        self.label.matches(labels.unwrap_or(&empty))
            && self.field.matches(|f| match f {
                "metadata.name" => name.map(str::to_owned),
                "metadata.namespace" => namespace.map(str::to_owned),
                _ => None,
            })
    }

    /// True if an object's metadata matches.
    pub fn matches_meta(&self, meta: &ObjectMeta) -> bool {
        self.matches_parts(meta.name.as_deref(), meta.namespace.as_deref(), meta.labels.as_ref())
    }

    /// True if a stored object matches (decodes only its metadata; corrupt data never matches).
    pub fn matches_stored(&self, kv: &KeyValue) -> bool {
        match serde_json::from_slice::<MetadataOnly>(&kv.value) {
            Ok(m) => self.matches_parts(
                m.metadata.name.as_deref(),
                m.metadata.namespace.as_deref(),
                m.metadata.labels.as_ref(),
            ),
            Err(_) => false,
        }
    }

    /// A storage predicate for filtered lists.
    pub fn predicate(self) -> Predicate {
        std::sync::Arc::new(move |kv: &KeyValue| self.matches_stored(kv))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn kv(json: &str) -> KeyValue {
        KeyValue {
            key: "/k".into(),
            value: Bytes::from(json.to_owned()),
            create_revision: 1,
            mod_revision: 1,
        }
    }

    #[test]
    fn stored_objects_match_on_metadata() {
        let params = ListParams {
            label_selector: Some("size=large".into()),
            field_selector: Some("metadata.name!=b".into()),
            ..Default::default()
        };
        let s = Selection::from_params(&params).unwrap().unwrap();
        assert!(s.matches_stored(&kv(r#"{"metadata":{"name":"a","labels":{"size":"large"}}}"#)));
        assert!(!s.matches_stored(&kv(r#"{"metadata":{"name":"b","labels":{"size":"large"}}}"#)));
        assert!(!s.matches_stored(&kv(r#"{"metadata":{"name":"a"}}"#)));
        assert!(!s.matches_stored(&kv("garbage")));
    }

    #[test]
    fn bad_selectors_are_400() {
        for (label, field) in [("!!!", ""), ("", "spec.color=red"), ("", "nonsense")] {
            let params = ListParams {
                label_selector: Some(label.into()).filter(|s: &String| !s.is_empty()),
                field_selector: Some(field.into()).filter(|s: &String| !s.is_empty()),
                ..Default::default()
            };
            assert_eq!(Selection::from_params(&params).unwrap_err().code, 400, "{label} {field}");
        }
        assert!(Selection::from_params(&ListParams::default()).unwrap().is_none());
    }
}
