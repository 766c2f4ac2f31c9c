//! Patch metadata read from a served version's JSON schema: the
//! `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` extensions an author
//! declares on a field (`#[schemars(extend("x-kubernetes-patch-strategy" = "merge"))]`).
//! The same schema feeds the OpenAPI documents, so clients (kubectl apply) and the server
//! agree on how lists merge.
//!
//! `ObjectMeta` comes from k8s-openapi without these extensions; [`add_builtin_patch_extensions`]
//! adds upstream's (`finalizers` merge, `ownerReferences` merge on `uid`).

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::strategic::{FieldPatch, PatchMeta};

/// The extension naming a field's patch strategy.
pub const PATCH_STRATEGY: &str = "x-kubernetes-patch-strategy";
/// The extension naming the merge key of a list of maps.
pub const PATCH_MERGE_KEY: &str = "x-kubernetes-patch-merge-key";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Adds the patch extensions upstream declares on `ObjectMeta`'s lists to that definition,
/// if `defs` holds it.
pub fn add_builtin_patch_extensions(defs: &mut Map<String, Value>) {
    let Some(props) =
        defs.get_mut(OBJECT_META).and_then(|d| d.get_mut("properties")).and_then(Value::as_object_mut)
    else {
        return;
    };
    let extensions = [
        ("finalizers", json!({"x-kubernetes-list-type": "set", PATCH_STRATEGY: "merge"})),
        (
            "ownerReferences",
            json!({"x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map",
                   PATCH_MERGE_KEY: "uid", PATCH_STRATEGY: "merge"}),
        ),
    ];
    for (field, ext) in extensions {
        if let (Some(Value::Object(schema)), Value::Object(ext)) = (props.get_mut(field), ext) {
            schema.extend(ext);
        }
    }
}

/// A version's schema definitions (OpenAPI 3 naming) and the name of its root type.
#[derive(Clone, Debug)]
pub struct PatchSchema {
    defs: Map<String, Value>,
    root: Value,
}

impl PatchSchema {
    /// Builds the schema of one served version with `schema`, the version's schema function.
    pub fn generate(schema: impl FnOnce(&mut schemars::SchemaGenerator) -> schemars::Schema) -> Self {
        let mut generator = SchemaSettings::openapi3().into_generator();
        let root = schema(&mut generator).to_value();
        let mut defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
        add_builtin_patch_extensions(&mut defs);
        Self { defs, root }
    }

    /// The lookup for the version's top-level object.
    pub fn meta(&self) -> SchemaMeta<'_> {
        SchemaMeta { defs: &self.defs, node: Some(resolve(&self.defs, &self.root)) }
    }
}

/// [`PatchMeta`] over a JSON schema node.
#[derive(Clone, Copy, Debug)]
pub struct SchemaMeta<'a> {
    defs: &'a Map<String, Value>,
    node: Option<&'a Value>,
}

impl<'a> SchemaMeta<'a> {
    /// A lookup over `node`, resolving `$ref`s in `defs`.
    #[cfg(test)]
    pub fn new(defs: &'a Map<String, Value>, node: &'a Value) -> Self {
        Self { defs, node: Some(resolve(defs, node)) }
    }
}

/// Follows `$ref`, single-element `allOf` and nullable `anyOf`/`oneOf` wrappers to the schema proper.
fn resolve<'a>(defs: &'a Map<String, Value>, mut node: &'a Value) -> &'a Value {
    for _ in 0..32 {
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            match r.rsplit('/').next().and_then(|name| defs.get(name)) {
                Some(def) => node = def,
                None => return node,
            }
            continue;
        }
        let wrapped = ["allOf", "anyOf", "oneOf"].iter().find_map(|k| {
            node.get(*k)?.as_array()?.iter().find(|s| s.get("type").and_then(Value::as_str) != Some("null"))
        });
        match wrapped {
            Some(inner) if node.get("properties").is_none() => node = inner,
            _ => return node,
        }
    }
    node
}

fn extension<'a>(defs: &'a Map<String, Value>, node: &'a Value, name: &str) -> String {
    let read = |n: &Value| n.get(name).and_then(Value::as_str).map(str::to_owned);
    read(node).or_else(|| read(resolve(defs, node))).unwrap_or_default()
}

impl PatchMeta for SchemaMeta<'_> {
    fn field(&self, key: &str) -> (FieldPatch, Box<dyn PatchMeta + '_>) {
        let defs = self.defs;
        let property = self.node.and_then(|n| {
            n.get("properties")
                .and_then(|p| p.get(key))
                .or_else(|| n.get("additionalProperties").filter(|a| a.is_object()))
        });
        let Some(property) = property else {
            return (FieldPatch::default(), Box::new(SchemaMeta { defs, node: None }));
        };
        let field = FieldPatch {
            strategy: extension(defs, property, PATCH_STRATEGY),
            merge_key: extension(defs, property, PATCH_MERGE_KEY),
        };
        let mut value = resolve(defs, property);
        if let Some(items) = value.get("items") {
            value = resolve(defs, items);
        }
        (field, Box::new(SchemaMeta { defs, node: Some(value) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Thing {
        metadata: ObjectMeta,
        spec: Spec,
    }

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Spec {
        #[schemars(extend("x-kubernetes-patch-merge-key" = "name", "x-kubernetes-patch-strategy" = "merge"))]
        parts: Vec<Part>,
        #[schemars(extend("x-kubernetes-patch-strategy" = "merge"))]
        tags: Vec<String>,
        plain: Vec<String>,
        optional: Option<Part>,
    }

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Part {
        name: String,
        #[schemars(extend("x-kubernetes-patch-strategy" = "retainKeys"))]
        inner: std::collections::BTreeMap<String, String>,
    }

    fn schema() -> PatchSchema {
        PatchSchema::generate(|g| g.subschema_for::<Thing>())
    }

    #[test]
    fn reads_declared_extensions_through_refs() {
        let schema = schema();
        let meta = schema.meta();
        let (spec, spec_meta) = meta.field("spec");
        assert_eq!(spec, FieldPatch::default());
        let (parts, part_meta) = spec_meta.field("parts");
        assert_eq!(parts, FieldPatch { strategy: "merge".into(), merge_key: "name".into() });
        assert_eq!(
            part_meta.field("inner").0.strategy,
            "retainKeys",
            "list elements resolve to the item type"
        );
        assert_eq!(
            spec_meta.field("tags").0,
            FieldPatch { strategy: "merge".into(), merge_key: String::new() }
        );
        assert_eq!(spec_meta.field("plain").0, FieldPatch::default());
        let (_, optional) = spec_meta.field("optional");
        assert_eq!(optional.field("inner").0.strategy, "retainKeys", "Option<T> resolves to T");
        assert_eq!(spec_meta.field("unknown").0, FieldPatch::default());
    }

    #[test]
    fn object_meta_gets_upstream_list_strategies() {
        let schema = schema();
        let root = schema.meta();
        let (_, metadata) = root.field("metadata");
        assert_eq!(
            metadata.field("finalizers").0,
            FieldPatch { strategy: "merge".into(), merge_key: String::new() }
        );
        assert_eq!(
            metadata.field("ownerReferences").0,
            FieldPatch { strategy: "merge".into(), merge_key: "uid".into() }
        );
        assert_eq!(metadata.field("labels").0, FieldPatch::default());
        let (_, labels) = metadata.field("labels");
        assert_eq!(labels.field("any").0, FieldPatch::default(), "map values have no strategy");
    }
}
