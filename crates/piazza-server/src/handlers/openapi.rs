//! OpenAPI documents built once at start-up from the served types' JSON schemas:
//! `/openapi/v2` (Swagger 2.0, every group) and `/openapi/v3` (an index) with one document
//! per group/version at `/openapi/v3/apis/<group>/<version>`.
//!
//! Schemas come from `schemars` on the author's Rust types, so field docs are the types'
//! doc comments. Each kind's top-level schema carries `x-kubernetes-group-version-kind`.
//! Fields carry the `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` their types
//! declare (and upstream's for `ObjectMeta`), which the server's strategic merge patch reads
//! from the same schema, and PATCH operations list the strategic merge patch media type, so
//! `kubectl apply` computes strategic merge patches for Piazza kinds.

use std::collections::BTreeMap;

use piazza_core::Scope;
use piazza_registry::{PatchType, RestResource};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::api_set::ApiSet;

const V3_REF: &str = "#/components/schemas/";
const V2_REF: &str = "#/definitions/";

/// Precomputed OpenAPI documents.
#[derive(Clone, Debug, Default)]
pub struct OpenApiDocs {
    /// `/openapi/v2`.
    pub v2: Vec<u8>,
    /// `/openapi/v3`.
    pub v3_index: Vec<u8>,
    /// `/openapi/v3/apis/<group>/<version>`, keyed by `apis/<group>/<version>`.
    pub v3: BTreeMap<String, Vec<u8>>,
}

/// `io.k8s`-style reversed group: `restaurant.programming-kubernetes.info` → `info.programming-kubernetes.restaurant`.
fn reversed_group(group: &str) -> String {
    group.split('.').rev().collect::<Vec<_>>().join(".")
}

/// The definition name of an author type in a group/version.
fn definition_name(group: &str, version: &str, type_name: &str) -> String {
    format!("{}.{version}.{type_name}", reversed_group(group))
}

/// Rewrites `$ref`s to author types so they carry the group/version prefix.
fn prefix_refs(value: &mut Value, prefix_of: &dyn Fn(&str) -> String) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix(V3_REF)
            {
                *r = format!("{V3_REF}{}", prefix_of(name));
            }
            for v in map.values_mut() {
                prefix_refs(v, prefix_of);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| prefix_refs(v, prefix_of)),
        _ => {}
    }
}

/// The schemas of one resource in one version: (top-level name, all definitions).
fn resource_schemas(resource: &dyn RestResource, version: &str) -> Option<(String, Map<String, Value>)> {
    let d = resource.descriptor();
    let mut generator = SchemaSettings::openapi3().into_generator();
    let root = resource.schema(version, &mut generator)?;
    let mut root = root.to_value();
    let mut defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    piazza_registry::store::add_builtin_patch_extensions(&mut defs);
    let rename = |name: &str| {
        if name.starts_with("io.k8s.") { name.to_owned() } else { definition_name(d.group, version, name) }
    };
    let top_name = definition_name(d.group, version, d.kind);
    // The root is a $ref to the type's own definition; take that definition as the kind.
    let root_def = match root.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix(V3_REF)) {
        Some(name) => defs.remove(name).unwrap_or(Value::Null),
        None => std::mem::take(&mut root),
    };
    let mut out = Map::new();
    for (name, mut schema) in defs {
        prefix_refs(&mut schema, &rename);
        out.insert(rename(&name), schema);
    }
    let mut kind_schema = root_def;
    prefix_refs(&mut kind_schema, &rename);
    if let Value::Object(map) = &mut kind_schema {
        let props = map.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(props) = props {
            props.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}));
            props.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}));
        }
        map.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{ "group": d.group, "version": version, "kind": d.kind }]),
        );
    }
    out.insert(top_name.clone(), kind_schema);
    Some((top_name, out))
}

fn operation(
    action: &str,
    d: &piazza_registry::ResourceDescriptor,
    version: &str,
    schema_ref: &str,
    body: bool,
) -> Value {
    let mut op = json!({
        "operationId": format!("{action}{}{}", version, d.kind),
        "tags": [format!("{}_{version}", d.group)],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": { "group": d.group, "version": version, "kind": d.kind },
        "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": schema_ref } } } } },
    });
    let mut params = vec![json!({"name": "pretty", "in": "query", "schema": {"type": "string"}})];
    if body {
        params.push(json!({"name": "dryRun", "in": "query", "schema": {"type": "string"}}));
        params.push(json!({"name": "fieldManager", "in": "query", "schema": {"type": "string"}}));
        params.push(json!({"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}));
        op["requestBody"] = if action == "patch" {
            json!({ "content": {
                "application/json-patch+json": { "schema": { "type": "object" } },
                "application/merge-patch+json": { "schema": { "type": "object" } },
                "application/strategic-merge-patch+json": { "schema": { "type": "object" } },
            }, "required": true })
        } else {
            json!({ "content": { "application/json": { "schema": { "$ref": schema_ref } } }, "required": true })
        };
    }
    op["parameters"] = Value::Array(params);
    op
}

fn paths_for(resource: &dyn RestResource, version: &str, schema_ref: &str, paths: &mut Map<String, Value>) {
    let d = resource.descriptor();
    let base = format!("/apis/{}/{version}", d.group);
    let (collection, item) = match d.scope {
        Scope::Namespaced => (
            format!("{base}/namespaces/{{namespace}}/{}", d.plural),
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", d.plural),
        ),
        Scope::Cluster => (format!("{base}/{}", d.plural), format!("{base}/{}/{{name}}", d.plural)),
    };
    paths.insert(
        collection,
        json!({
            "get": operation("list", d, version, schema_ref, false),
            "post": operation("post", d, version, schema_ref, true),
            "delete": operation("deletecollection", d, version, schema_ref, false),
        }),
    );
    paths.insert(
        item,
        json!({
            "get": operation("get", d, version, schema_ref, false),
            "put": operation("put", d, version, schema_ref, true),
            "patch": operation("patch", d, version, schema_ref, true),
            "delete": operation("delete", d, version, schema_ref, false),
        }),
    );
    if d.scope == Scope::Namespaced {
        paths.insert(
            format!("{base}/{}", d.plural),
            json!({ "get": operation("list", d, version, schema_ref, false) }),
        );
    }
}

/// Converts an OpenAPI 3 schema fragment into Swagger 2.0 form.
fn to_v2(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("nullable");
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix(V3_REF)
            {
                *r = format!("{V2_REF}{name}");
            }
            map.values_mut().for_each(to_v2);
        }
        Value::Array(items) => items.iter_mut().for_each(to_v2),
        _ => {}
    }
}

fn info() -> Value {
    json!({ "title": "Piazza", "version": env!("CARGO_PKG_VERSION") })
}

/// Builds every document.
pub fn build(apis: &ApiSet) -> OpenApiDocs {
    let mut docs = OpenApiDocs::default();
    let mut v2_defs = Map::new();
    let mut v2_paths = Map::new();
    let mut index = Map::new();
    for group in apis.groups() {
        for version in &group.versions {
            let mut defs = Map::new();
            let mut paths = Map::new();
            for resource in apis.resources_in(&group.name, version) {
                if let Some((top, schemas)) = resource_schemas(resource.as_ref(), version) {
                    defs.extend(schemas);
                    paths_for(resource.as_ref(), version, &format!("{V3_REF}{top}"), &mut paths);
                }
            }
            let doc = json!({ "openapi": "3.0.0", "info": info(), "paths": paths, "components": { "schemas": defs } });
            let bytes = serde_json::to_vec(&doc).unwrap_or_default();
            let key = format!("apis/{}/{version}", group.name);
            let hash = hex(&Sha256::digest(&bytes));
            index.insert(
                key.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}") }),
            );
            docs.v3.insert(key, bytes);
            let mut v2_part = json!({ "paths": paths, "defs": defs });
            to_v2(&mut v2_part);
            if let Value::Object(mut part) = v2_part {
                if let Some(Value::Object(p)) = part.remove("paths") {
                    for (path, mut ops) in p {
                        if let Value::Object(ops) = &mut ops {
                            for op in ops.values_mut() {
                                v2_operation(op);
                            }
                        }
                        v2_paths.insert(path, ops);
                    }
                }
                if let Some(Value::Object(d)) = part.remove("defs") {
                    v2_defs.extend(d);
                }
            }
        }
    }
    docs.v3_index = serde_json::to_vec(&json!({ "paths": index })).unwrap_or_default();
    docs.v2 = serde_json::to_vec(
        &json!({ "swagger": "2.0", "info": info(), "paths": v2_paths, "definitions": v2_defs }),
    )
    .unwrap_or_default();
    docs
}

/// Reshapes an operation's body and responses from OpenAPI 3 to Swagger 2.0.
fn v2_operation(op: &mut Value) {
    let Value::Object(map) = op else { return };
    let schema = map
        .get("responses")
        .and_then(|r| r.pointer("/200/content/application~1json/schema"))
        .cloned()
        .unwrap_or(Value::Null);
    map.insert("responses".into(), json!({ "200": { "description": "OK", "schema": schema } }));
    map.insert("produces".into(), json!(["application/json", "application/yaml"]));
    let consumes = match map.get("x-kubernetes-action").and_then(Value::as_str) {
        Some("patch") => json!(PatchType::SUPPORTED),
        _ => json!(["application/json", "application/yaml"]),
    };
    map.insert("consumes".into(), consumes);
    let mut params: Vec<Value> = map
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut p| {
            if let Value::Object(m) = &mut p {
                m.remove("schema");
                m.insert("type".into(), json!("string"));
                m.insert("uniqueItems".into(), json!(true));
            }
            p
        })
        .collect();
    if let Some(body) = map.remove("requestBody") {
        let schema = body
            .pointer("/content/application~1json/schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"}));
        params.push(json!({ "name": "body", "in": "body", "required": true, "schema": schema }));
    }
    map.insert("parameters".into(), Value::Array(params));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kubernetes_convention() {
        assert_eq!(
            reversed_group("restaurant.programming-kubernetes.info"),
            "info.programming-kubernetes.restaurant"
        );
        assert_eq!(definition_name("a.b", "v1", "Pizza"), "b.a.v1.Pizza");
    }

    #[test]
    fn v2_patch_operations_consume_the_patch_media_types() {
        let mut op = json!({"x-kubernetes-action": "patch", "requestBody": {}});
        v2_operation(&mut op);
        assert_eq!(
            op["consumes"],
            json!([
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json"
            ])
        );
        let mut op = json!({"x-kubernetes-action": "put"});
        v2_operation(&mut op);
        assert_eq!(op["consumes"], json!(["application/json", "application/yaml"]));
    }

    #[test]
    fn v2_conversion_drops_nullable_and_moves_refs() {
        let mut v = json!({"nullable": true, "items": {"$ref": "#/components/schemas/X"}});
        to_v2(&mut v);
        assert_eq!(v, json!({"items": {"$ref": "#/definitions/X"}}));
    }
}
