//! Discovery (legacy and aggregated), `/version` and OpenAPI over real HTTPS, in the shapes
//! kube-aggregator, kubectl and client-go expect.

use serde_json::{Value, json};

use crate::http_common::*;

/// `discovery.StorageVersionHash(group, "v1beta1", "Pizza")`: base64 of the first 8 bytes of
/// sha256("restaurant.programming-kubernetes.info/v1beta1/Pizza"), computed independently.
const PIZZA_HASH: &str = "hnmnkdGnNrg=";
/// The same for `v1alpha1/Topping`.
const TOPPING_HASH: &str = "Sc5we4fOrgk=";
/// What aggregated discovery is asked for by kubectl and client-go.
const AGGREGATED_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const ALL_VERBS: [&str; 8] =
    ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

fn sorted_verbs(resource: &Value) -> Vec<String> {
    let mut verbs: Vec<String> =
        resource["verbs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    verbs.sort();
    verbs
}

fn group_versions() -> Value {
    json!([
        { "groupVersion": format!("{GROUP}/v1beta1"), "version": "v1beta1" },
        { "groupVersion": format!("{GROUP}/v1alpha1"), "version": "v1alpha1" },
    ])
}

#[tokio::test]
async fn legacy_api_root_is_empty() {
    let server = start().await;
    let api = server.admin_client().get("/api").await;
    assert_eq!(api.header("content-type"), "application/json");
    let api = api.expect_json(200);
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!([]));
}

#[tokio::test]
async fn api_group_list_prefers_v1beta1() {
    let server = start().await;
    let apis = server.admin_client().get("/apis").await;
    assert_eq!(apis.header("content-type"), "application/json");
    let apis = apis.expect_json(200);
    assert_eq!(apis["kind"], "APIGroupList");
    assert_eq!(apis["apiVersion"], "v1");
    let groups = apis["groups"].as_array().unwrap();
    let group = groups.iter().find(|g| g["name"] == GROUP).unwrap_or_else(|| panic!("{GROUP} in {apis}"));
    assert_eq!(group["versions"], group_versions());
    assert_eq!(
        group["preferredVersion"],
        json!({ "groupVersion": format!("{GROUP}/v1beta1"), "version": "v1beta1" })
    );
}

#[tokio::test]
async fn api_group() {
    let server = start().await;
    let group = server.admin_client().get(&format!("/apis/{GROUP}")).await.expect_json(200);
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(group["apiVersion"], "v1");
    assert_eq!(group["name"], GROUP);
    assert_eq!(group["versions"], group_versions());
    assert_eq!(group["preferredVersion"]["version"], "v1beta1");
}

#[tokio::test]
async fn api_resource_lists() {
    let server = start().await;
    let admin = server.admin_client();

    let beta = admin.get(&format!("/apis/{GROUP}/v1beta1")).await.expect_json(200);
    assert_eq!(beta["kind"], "APIResourceList");
    assert_eq!(beta["apiVersion"], "v1");
    assert_eq!(beta["groupVersion"], format!("{GROUP}/v1beta1"));
    let resources = beta["resources"].as_array().unwrap();
    // Topping is not served in v1beta1; the pizzas' subresources follow pizzas.
    let names: Vec<&str> = resources.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["pizzas", "pizzas/bake", "pizzas/oven", "pizzas/scale", "pizzas/status"], "{beta}");
    let pizzas = &resources[0];
    assert_eq!(pizzas["name"], "pizzas");
    assert_eq!(pizzas["singularName"], "pizza");
    assert_eq!(pizzas["namespaced"], true);
    assert_eq!(pizzas["kind"], "Pizza");
    assert_eq!(sorted_verbs(pizzas), ALL_VERBS);
    assert_eq!(pizzas["shortNames"], json!(["pz"]));
    assert_eq!(pizzas["categories"], json!(["all"]));
    assert_eq!(pizzas["storageVersionHash"], PIZZA_HASH);

    let alpha = admin.get(&format!("/apis/{GROUP}/v1alpha1")).await.expect_json(200);
    assert_eq!(alpha["groupVersion"], format!("{GROUP}/v1alpha1"));
    let resources = alpha["resources"].as_array().unwrap();
    let find = |name: &str| {
        resources.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("{name} in {alpha}"))
    };
    let pizzas = find("pizzas");
    assert_eq!(pizzas["kind"], "Pizza");
    assert_eq!(pizzas["namespaced"], true);
    // Both versions are stored as v1beta1, so the hash is the same in both.
    assert_eq!(pizzas["storageVersionHash"], PIZZA_HASH);
    let toppings = find("toppings");
    assert_eq!(toppings["kind"], "Topping");
    assert_eq!(toppings["singularName"], "topping");
    assert_eq!(toppings["namespaced"], false);
    assert_eq!(sorted_verbs(toppings), ALL_VERBS);
    assert_eq!(toppings["storageVersionHash"], TOPPING_HASH);
    assert!(toppings.get("shortNames").is_none_or(Value::is_null), "{toppings}");
}

#[tokio::test]
async fn aggregated_discovery_v2() {
    let server = start().await;
    let response = server.admin_client().get_with("/apis", &[("accept", AGGREGATED_ACCEPT)]).await;
    response.expect(200);
    assert_eq!(
        response.header("content-type"),
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert!(response.header("vary").contains("Accept"), "{:?}", response.headers);
    let list = response.json();
    assert_eq!(list["kind"], "APIGroupDiscoveryList");
    assert_eq!(list["apiVersion"], "apidiscovery.k8s.io/v2");
    let items = list["items"].as_array().unwrap();
    let group =
        items.iter().find(|g| g["metadata"]["name"] == GROUP).unwrap_or_else(|| panic!("{GROUP} in {list}"));
    let versions = group["versions"].as_array().unwrap();
    let names: Vec<&str> = versions.iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(names, ["v1beta1", "v1alpha1"], "preferred version first");
    for version in versions {
        assert_eq!(version["freshness"], "Current");
    }

    let beta = versions[0]["resources"].as_array().unwrap();
    assert_eq!(beta.len(), 1);
    let pizzas = &beta[0];
    assert_eq!(pizzas["resource"], "pizzas");
    assert_eq!(pizzas["responseKind"], json!({ "group": GROUP, "version": "v1beta1", "kind": "Pizza" }));
    assert_eq!(pizzas["scope"], "Namespaced");
    assert_eq!(pizzas["singularResource"], "pizza");
    assert_eq!(sorted_verbs(pizzas), ALL_VERBS);
    assert_eq!(pizzas["shortNames"], json!(["pz"]));
    assert_eq!(pizzas["categories"], json!(["all"]));

    let alpha = versions[1]["resources"].as_array().unwrap();
    let toppings = alpha.iter().find(|r| r["resource"] == "toppings").expect("toppings in v1alpha1");
    assert_eq!(toppings["responseKind"], json!({ "group": GROUP, "version": "v1alpha1", "kind": "Topping" }));
    assert_eq!(toppings["scope"], "Cluster");
    let alpha_pizzas = alpha.iter().find(|r| r["resource"] == "pizzas").expect("pizzas in v1alpha1");
    assert_eq!(alpha_pizzas["responseKind"]["version"], "v1alpha1");

    // /api with the same Accept: an empty aggregated list.
    let core = server.admin_client().get_with("/api", &[("accept", AGGREGATED_ACCEPT)]).await;
    assert_eq!(
        core.header("content-type"),
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    let core = core.expect_json(200);
    assert_eq!(core["kind"], "APIGroupDiscoveryList");
    assert_eq!(core["items"], json!([]));

    // Without the aggregated media type: the legacy list.
    let legacy =
        server.admin_client().get_with("/apis", &[("accept", "application/json")]).await.expect_json(200);
    assert_eq!(legacy["kind"], "APIGroupList");
}

#[tokio::test]
async fn version() {
    let server = start().await;
    let version = server.admin_client().get("/version").await.expect_json(200);
    let git_version = version["gitVersion"].as_str().unwrap();
    assert!(git_version.starts_with('v'), "{version}");
    assert!(version["major"].as_str().is_some_and(|m| !m.is_empty()), "{version}");
    assert!(version["minor"].as_str().is_some(), "{version}");
    assert!(version["platform"].as_str().is_some_and(|p| p.contains('/')), "{version}");
}

/// Follows a local `$ref` (`#/definitions/X` or `#/components/schemas/X`) in `doc`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {reference}"));
            let target = doc.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}"));
            resolve(doc, target)
        }
        None => match schema.get("allOf").and_then(Value::as_array) {
            Some(all) if all.len() == 1 => resolve(doc, &all[0]),
            _ => schema,
        },
    }
}

/// The schema at `path` (property names) below `root`, following `$ref`s and `items`.
fn schema_at<'a>(doc: &'a Value, root: &'a Value, path: &[&str]) -> &'a Value {
    let mut current = resolve(doc, root);
    for step in path {
        current = if *step == "[]" {
            resolve(doc, &current["items"])
        } else {
            let property =
                current["properties"].get(*step).unwrap_or_else(|| panic!("no property {step} in {current}"));
            resolve(doc, property)
        };
    }
    current
}

/// The description at `path`, which may sit on the property (next to a `$ref`) or on the
/// referenced schema.
fn description_at(doc: &Value, root: &Value, path: &[&str]) -> String {
    let (last, parent) = path.split_last().unwrap();
    let parent = schema_at(doc, root, parent);
    let property = &parent["properties"][*last];
    property["description"]
        .as_str()
        .or_else(|| resolve(doc, property)["description"].as_str())
        .unwrap_or_else(|| panic!("no description at {path:?}: {property}"))
        .to_owned()
}

fn gvk_of(schema: &Value) -> Value {
    schema["x-kubernetes-group-version-kind"].clone()
}

fn check_pizza_schemas(doc: &Value, defs: &Value) {
    let find = |version: &str, kind: &str| -> &Value {
        defs.as_object()
            .unwrap()
            .values()
            .find(|s| gvk_of(s) == json!([{ "group": GROUP, "version": version, "kind": kind }]))
            .unwrap_or_else(|| panic!("no {version}/{kind} definition with x-kubernetes-group-version-kind"))
    };
    let beta = find("v1beta1", "Pizza");
    let alpha = find("v1alpha1", "Pizza");
    let topping = find("v1alpha1", "Topping");
    for kind in [beta, alpha, topping] {
        let props = &resolve(doc, kind)["properties"];
        for field in ["apiVersion", "kind", "metadata", "spec"] {
            assert!(props.get(field).is_some(), "{field} in {kind}");
        }
    }
    // Descriptions come from the Rust doc comments.
    assert_eq!(
        description_at(doc, beta, &["spec", "toppings"]),
        "Toppings with the number of portions of each."
    );
    assert_eq!(
        description_at(doc, beta, &["spec", "toppings", "[]", "quantity"]),
        "How many portions; 0 is defaulted to 1."
    );
    assert_eq!(
        description_at(doc, alpha, &["spec", "toppings"]),
        "Names of Topping objects. Repeat a name for more than one portion."
    );
    assert_eq!(schema_at(doc, alpha, &["spec", "toppings", "[]"])["type"], "string");
    assert_eq!(description_at(doc, beta, &["status", "cost"]), "The cost of the whole pizza.");
    assert_eq!(
        description_at(doc, topping, &["spec", "cost"]),
        "The cost of one portion of this topping, in dollars."
    );
}

#[tokio::test]
async fn openapi_v2() {
    let server = start().await;
    let response = server.admin_client().get("/openapi/v2").await;
    assert_eq!(response.header("content-type"), "application/json");
    let doc = response.expect_json(200);
    assert_eq!(doc["swagger"], "2.0");
    check_pizza_schemas(&doc, &doc["definitions"]);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key(&format!("/apis/{GROUP}/v1beta1/namespaces/{{namespace}}/pizzas/{{name}}")));
    assert!(paths.contains_key(&format!("/apis/{GROUP}/v1alpha1/toppings/{{name}}")));
    assert!(!paths.contains_key(&format!("/apis/{GROUP}/v1alpha1/namespaces/{{namespace}}/toppings")));
}

#[tokio::test]
async fn openapi_v3_index_and_group_version_documents() {
    let server = start().await;
    let admin = server.admin_client();
    let index = admin.get("/openapi/v3").await.expect_json(200);
    let paths = index["paths"].as_object().unwrap();
    for version in ["v1beta1", "v1alpha1"] {
        let key = format!("apis/{GROUP}/{version}");
        let url = paths
            .get(&key)
            .and_then(|p| p["serverRelativeURL"].as_str())
            .unwrap_or_else(|| panic!("{key} in {index}"));
        assert!(url.starts_with(&format!("/openapi/v3/{key}?hash=")), "{url}");
        let response = admin.get(url).await;
        let doc = response.expect_json(200);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
        let schemas = &doc["components"]["schemas"];
        let kinds: Vec<Value> =
            schemas.as_object().unwrap().values().map(gvk_of).filter(|g| !g.is_null()).collect();
        assert!(
            kinds.contains(&json!([{ "group": GROUP, "version": version, "kind": "Pizza" }])),
            "{version}: {kinds:?}"
        );
        // The same document without the hash.
        let plain = admin.get(&format!("/openapi/v3/{key}")).await.expect_json(200);
        assert_eq!(plain, doc);
    }
    // Both versions' documents together carry all three kinds with their doc comments.
    let beta = admin.get(&format!("/openapi/v3/apis/{GROUP}/v1beta1")).await.expect_json(200);
    let alpha = admin.get(&format!("/openapi/v3/apis/{GROUP}/v1alpha1")).await.expect_json(200);
    let mut merged = beta.clone();
    let schemas = merged["components"]["schemas"].as_object_mut().unwrap();
    for (name, schema) in alpha["components"]["schemas"].as_object().unwrap() {
        schemas.insert(name.clone(), schema.clone());
    }
    let defs = merged["components"]["schemas"].clone();
    check_pizza_schemas(&merged, &defs);
    admin.get(&format!("/openapi/v3/apis/{GROUP}/v9")).await.expect_status(404, "NotFound");
}
