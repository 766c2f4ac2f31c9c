//! Label and field selection of lists and watches. Selectors are parsed once per request;
//! stored objects are matched on their metadata without decoding the whole object, unless
//! the selector names an author-declared field ([`SelectableFields`]).

use std::collections::BTreeMap;

use piazza_core::meta::ObjectMeta;
use piazza_core::selector::{FieldSelector, LabelSelector};
use piazza_core::{ApiError, Object};
use piazza_storage::{KeyValue, Predicate};
use serde::Deserialize;

use crate::params::ListParams;
use crate::selectable::SelectableFields;

/// The fields every kind can be selected on.
pub const DEFAULT_SELECTABLE_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// A request's label and field selectors.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    label: LabelSelector,
    field: FieldSelector,
    /// True when a field requirement names an author-declared field, so matching needs
    /// the decoded object.
    needs_object: bool,
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
    /// Parses the selectors of `params` for a kind selectable on the default fields only;
    /// `None` when there are none. Malformed selectors and unsupported fields are a 400.
    pub fn from_params(params: &ListParams) -> Result<Option<Self>, ApiError> {
        Self::from_params_with(params, DEFAULT_SELECTABLE_FIELDS)
    }

    /// [`from_params`](Self::from_params) for a kind selectable on `supported` fields
    /// (the defaults included).
    pub fn from_params_with(params: &ListParams, supported: &[&str]) -> Result<Option<Self>, ApiError> {
        let label = LabelSelector::parse(params.label_selector.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let field = FieldSelector::parse(params.field_selector.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        field.check_supported(supported).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if label.is_empty() && field.is_empty() {
            return Ok(None);
        }
        let needs_object = field.fields().any(|f| !DEFAULT_SELECTABLE_FIELDS.contains(&f));
        Ok(Some(Self { label, field, needs_object }))
    }

    /// True when matching needs the decoded object, not just its metadata.
    pub fn needs_object(&self) -> bool {
        self.needs_object
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

    /// True if a decoded object matches, on its metadata and its declared `fields`.
    pub fn matches_object<H: Object>(&self, object: &H, fields: &SelectableFields<H>) -> bool {
        let meta = object.metadata();
        let empty = BTreeMap::new();
        self.label.matches(meta.labels.as_ref().unwrap_or(&empty))
            && self.field.matches(|f| match f {
                "metadata.name" => meta.name.clone(),
                "metadata.namespace" => meta.namespace.clone(),
                _ => fields.value(f, object),
            })
    }

    /// Whether a stored JSON object matches, decoding only its metadata (corrupt JSON never
    /// matches); `None` when the bytes are not JSON (protobuf or YAML), which callers then
    /// decode in full.
    pub fn matches_stored(&self, kv: &KeyValue) -> Option<bool> {
        if !kv.value.trim_ascii_start().starts_with(b"{") {
            return None;
        }
        Some(match serde_json::from_slice::<MetadataOnly>(&kv.value) {
            Ok(m) => self.matches_parts(
                m.metadata.name.as_deref(),
                m.metadata.namespace.as_deref(),
                m.metadata.labels.as_ref(),
            ),
            Err(_) => false,
        })
    }

    /// A storage predicate that matches on the metadata of stored JSON alone when the
    /// selector names only metadata, and otherwise (a declared field, or bytes that are not
    /// JSON) decodes stored objects with `decode`. Objects that do not decode never match.
    pub fn predicate_decoding<H: Object>(
        self,
        decode: impl Fn(&KeyValue) -> Result<H, ApiError> + Send + Sync + 'static,
        fields: std::sync::Arc<SelectableFields<H>>,
    ) -> Predicate {
        std::sync::Arc::new(move |kv: &KeyValue| {
            if !self.needs_object
                && let Some(matched) = self.matches_stored(kv)
            {
                return matched;
            }
            decode(kv).is_ok_and(|o| self.matches_object(&o, &fields))
        })
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
        assert_eq!(
            s.matches_stored(&kv(r#"{"metadata":{"name":"a","labels":{"size":"large"}}}"#)),
            Some(true)
        );
        assert_eq!(
            s.matches_stored(&kv(r#"{"metadata":{"name":"b","labels":{"size":"large"}}}"#)),
            Some(false)
        );
        assert_eq!(s.matches_stored(&kv(r#"{"metadata":{"name":"a"}}"#)), Some(false));
        assert_eq!(s.matches_stored(&kv("{garbage")), Some(false));
        // not JSON: the caller decodes
        assert_eq!(s.matches_stored(&kv("k8s\u{0}...")), None);
        assert_eq!(s.matches_stored(&kv("metadata:\n  name: a\n")), None);
    }

    /// A selector on a declared field decodes stored objects; one on metadata only does not.
    #[test]
    fn declared_fields_match_decoded_objects() {
        #[derive(Clone, Debug, Default, Deserialize)]
        struct Thing {
            metadata: ObjectMeta,
            #[serde(default)]
            slices: i64,
        }
        piazza_core::impl_object!(Thing);
        let mut fields = SelectableFields::<Thing>::default();
        fields.add("spec.slices", |t: &Thing| t.slices);
        let fields = std::sync::Arc::new(fields);
        let select = |selector: &str| {
            let params = ListParams { field_selector: Some(selector.into()), ..Default::default() };
            Selection::from_params_with(&params, &fields.paths())
        };
        let decode = |kv: &KeyValue| {
            serde_json::from_slice::<Thing>(&kv.value).map_err(|e| ApiError::internal(e.to_string()))
        };
        let eight = kv(r#"{"metadata":{"name":"a"},"slices":8}"#);
        let twelve = kv(r#"{"metadata":{"name":"b"},"slices":12}"#);

        let s = select("spec.slices=12,metadata.name=b").unwrap().unwrap();
        assert!(s.needs_object());
        let predicate = s.predicate_decoding(decode, std::sync::Arc::clone(&fields));
        assert!(predicate(&twelve) && !predicate(&eight) && !predicate(&kv("garbage")));
        let s = select("spec.slices!=12").unwrap().unwrap();
        assert!(s.matches_object(&decode(&eight).unwrap(), &fields));
        assert!(!s.matches_object(&decode(&twelve).unwrap(), &fields));

        // Metadata only: the fast path, which never calls the decoder.
        let s = select("metadata.name==a").unwrap().unwrap();
        assert!(!s.needs_object());
        let predicate = s.clone().predicate_decoding(
            |_: &KeyValue| -> Result<Thing, ApiError> { panic!("decoded") },
            fields.clone(),
        );
        assert!(predicate(&eight) && !predicate(&twelve));

        // Metadata only, but the stored bytes are not JSON (protobuf): decoded in full.
        let enveloped = |json: &str| kv(&format!("k8s\u{0}{json}"));
        let unwrap = |kv: &KeyValue| {
            let json = kv.value.strip_prefix(b"k8s\0").ok_or_else(|| ApiError::internal("no magic"))?;
            serde_json::from_slice::<Thing>(json).map_err(|e| ApiError::internal(e.to_string()))
        };
        let predicate = s.predicate_decoding(unwrap, fields.clone());
        assert!(predicate(&enveloped(r#"{"metadata":{"name":"a"}}"#)));
        assert!(!predicate(&enveloped(r#"{"metadata":{"name":"b"}}"#)));
        assert!(!predicate(&enveloped("garbage")));

        let err = select("spec.cheese=yes").unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (400, "field label not supported: spec.cheese"));
        assert_eq!(
            Selection::from_params(&ListParams {
                field_selector: Some("spec.slices=1".into()),
                ..Default::default()
            })
            .unwrap_err()
            .code,
            400
        );
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
