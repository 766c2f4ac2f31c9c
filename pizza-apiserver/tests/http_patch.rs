//! Strategic merge patch (`application/strategic-merge-patch+json`) over real HTTPS: the
//! merge strategies the sample types declare, the directives, the errors upstream answers
//! with, and the OpenAPI extensions that make clients choose it.
//!
//! Run with `cargo test -p pizza-apiserver --all-features --test integration http_patch::`.

use piazza_testing::{Bytes, Method, TestClient};
use serde_json::{Value, json};

use crate::http_common::*;

const SMP: &str = "application/strategic-merge-patch+json";

async fn smp(client: &TestClient, path: &str, patch: &Value) -> piazza_testing::TestResponse {
    client.patch_as(path, patch, SMP).await
}

async fn smp_raw(client: &TestClient, path: &str, body: &str) -> piazza_testing::TestResponse {
    client.request(Method::PATCH, path, &[("content-type", SMP)], Bytes::from(body.to_owned())).await
}

async fn server_with_pizza(toppings: &[(&str, i64)]) -> (piazza_testing::TestServer, TestClient, Value) {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_pizza(&admin, "default", "p", toppings).await;
    (server, admin, created)
}

#[tokio::test]
async fn toppings_merge_by_name() {
    let (_server, admin, created) = server_with_pizza(&[("salami", 1), ("mozzarella", 1)]).await;
    let patch = json!({
        "metadata": { "labels": { "size": "large" } },
        "spec": { "toppings": [{ "name": "mozzarella", "quantity": 3 }, { "name": "tomato", "quantity": 2 }] }
    });
    let out = smp(&admin, &pizza("default", "p"), &patch).await.expect_json(200);
    assert_eq!(
        out["spec"]["toppings"],
        json!([{"name": "salami", "quantity": 1}, {"name": "mozzarella", "quantity": 3}, {"name": "tomato", "quantity": 2}]),
        "{out:#}"
    );
    assert_eq!(out["metadata"]["labels"], json!({"size": "large"}));
    assert_eq!(out["metadata"]["generation"], 2);
    assert!(rv(&out) > rv(&created));
    // The same patch as a JSON merge patch replaces the whole list.
    let merge = json!({ "spec": { "toppings": [{ "name": "tomato", "quantity": 1 }] } });
    let out =
        admin.patch_as(&pizza("default", "p"), &merge, "application/merge-patch+json").await.expect_json(200);
    assert_eq!(out["spec"]["toppings"], json!([{"name": "tomato", "quantity": 1}]));
}

#[tokio::test]
async fn delete_directive_and_set_element_order() {
    let (_server, admin, _) = server_with_pizza(&[("salami", 1), ("mozzarella", 1), ("tomato", 1)]).await;
    let patch = json!({ "spec": {
        "$setElementOrder/toppings": [{ "name": "tomato" }, { "name": "salami" }],
        "toppings": [{ "name": "tomato", "quantity": 4 }, { "name": "mozzarella", "$patch": "delete" }]
    }});
    let out = smp(&admin, &pizza("default", "p"), &patch).await.expect_json(200);
    assert_eq!(
        out["spec"]["toppings"],
        json!([{"name": "tomato", "quantity": 4}, {"name": "salami", "quantity": 1}])
    );
    // `$patch: replace` in the list replaces it.
    let patch =
        json!({ "spec": { "toppings": [{ "$patch": "replace" }, { "name": "mozzarella", "quantity": 1 }] } });
    let out = smp(&admin, &pizza("default", "p"), &patch).await.expect_json(200);
    assert_eq!(out["spec"]["toppings"], json!([{"name": "mozzarella", "quantity": 1}]));
}

#[tokio::test]
async fn v1alpha1_toppings_merge_as_a_set() {
    let (_server, admin, _) = server_with_pizza(&[("salami", 1), ("mozzarella", 1)]).await;
    let path = format!("{}/p", alpha_pizzas("default"));
    let out = smp(&admin, &path, &json!({ "spec": { "toppings": ["tomato"] } })).await.expect_json(200);
    assert_eq!(out["spec"]["toppings"], json!(["tomato", "salami", "mozzarella"]), "{out:#}");
    let patch = json!({ "spec": { "$deleteFromPrimitiveList/toppings": ["salami"] } });
    let out = smp(&admin, &path, &patch).await.expect_json(200);
    assert_eq!(out["spec"]["toppings"], json!(["tomato", "mozzarella"]));
    let beta = admin.get(&pizza("default", "p")).await.expect_json(200);
    assert_eq!(
        beta["spec"]["toppings"],
        json!([{"name": "tomato", "quantity": 1}, {"name": "mozzarella", "quantity": 1}])
    );
}

#[tokio::test]
async fn metadata_finalizers_merge_and_dry_run_writes_nothing() {
    let (_server, admin, created) = server_with_pizza(&[("salami", 1)]).await;
    let path = pizza("default", "p");
    let out = smp(&admin, &path, &json!({ "metadata": { "finalizers": ["a.io/x"] } })).await.expect_json(200);
    assert_eq!(out["metadata"]["finalizers"], json!(["a.io/x"]));
    let out = smp(&admin, &path, &json!({ "metadata": { "finalizers": ["b.io/y"] } })).await.expect_json(200);
    assert_eq!(out["metadata"]["finalizers"], json!(["b.io/y", "a.io/x"]), "merged, not replaced");
    let before = admin.get(&path).await.expect_json(200);
    let dry = smp(&admin, &format!("{path}?dryRun=All"), &json!({ "metadata": { "labels": { "x": "y" } } }))
        .await
        .expect_json(200);
    assert_eq!(dry["metadata"]["labels"], json!({"x": "y"}));
    let after = admin.get(&path).await.expect_json(200);
    assert_eq!(rv(&after), rv(&before), "dry run must not write");
    assert!(rv(&after) > rv(&created));
    let patch = json!({ "metadata": { "$deleteFromPrimitiveList/finalizers": ["a.io/x", "b.io/y"] } });
    let out = smp(&admin, &path, &patch).await.expect_json(200);
    let left = out["metadata"].get("finalizers").and_then(Value::as_array).map_or(0, Vec::len);
    assert_eq!(left, 0, "{out:#}");
}

#[tokio::test]
async fn malformed_bodies_are_400_with_go_decoder_messages() {
    let (_server, admin, created) = server_with_pizza(&[("salami", 1)]).await;
    let path = pizza("default", "p");
    for (body, message) in [
        ("{", "unexpected end of JSON input"),
        ("{\"spec\": }", "invalid character '}' looking for beginning of value"),
        ("[1]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        ("\"x\"", "json: cannot unmarshal string into Go value of type map[string]interface {}"),
    ] {
        let status = smp_raw(&admin, &path, body).await.expect_status(400, "BadRequest");
        assert_eq!(status["message"], message, "{body}");
    }
    let current = admin.get(&path).await.expect_json(200);
    assert_eq!(rv(&current), rv(&created), "a rejected patch must not write");
}

#[tokio::test]
async fn hostile_directives_are_rejected_with_upstream_messages() {
    let (_server, admin, created) = server_with_pizza(&[("salami", 1)]).await;
    let path = pizza("default", "p");
    let cases = [
        (
            json!({ "spec": { "toppings": [{ "quantity": 2 }] } }),
            400,
            "BadRequest",
            "map: map[quantity:2] does not contain declared merge key: name",
        ),
        (
            json!({ "spec": { "$patch": "explode" } }),
            400,
            "BadRequest",
            "unknown patch type: explode in map: map[$patch:explode]",
        ),
        (
            json!({ "spec": { "toppings": [{ "name": "salami", "$patch": "merge" }] } }),
            400,
            "BadRequest",
            "merging lists cannot yet be specified in the patch",
        ),
        (
            json!({ "spec": { "$setElementOrder/toppings": "salami" } }),
            400,
            "BadRequest",
            "expected a []interface {}, but received a string",
        ),
        (json!({ "spec": { "$retainKeys": 1 } }), 400, "BadRequest", "invalid patch format of retainKeys"),
        (
            json!({ "metadata": { "$deleteFromPrimitiveListfinalizers": ["x"] } }),
            400,
            "BadRequest",
            "invalid patch format of primitive list",
        ),
        (
            json!({ "spec": { "toppings": [["salami"]] } }),
            400,
            "BadRequest",
            "list element types are not identical: [[map[name:salami quantity:1]] [[salami]]]",
        ),
        (
            json!({ "metadata": { "$setElementOrder/finalizers": [["x"]], "finalizers": [["x"]] } }),
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        ),
    ];
    for (patch, code, reason, message) in cases {
        let status = smp(&admin, &path, &patch).await.expect_status(code, reason);
        assert_eq!(status["message"], message, "{patch}");
    }
    let current = admin.get(&path).await.expect_json(200);
    assert_eq!(rv(&current), rv(&created), "rejected patches must not write");
}

#[tokio::test]
async fn a_patch_producing_an_invalid_object_is_422() {
    let (_server, admin, created) = server_with_pizza(&[("salami", 1)]).await;
    let path = pizza("default", "p");
    // Does not decode as a Pizza: 422 on field `patch`, as upstream's converter errors.
    let status =
        smp(&admin, &path, &json!({ "spec": { "toppings": "salami" } })).await.expect_status(422, "Invalid");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with(" \"\" is invalid: patch: Invalid value: \"map[spec:map[toppings:salami]]\": "),
        "{message}"
    );
    assert_eq!(status["details"]["causes"][0]["field"], "patch", "{status}");
    assert_eq!(status["details"]["causes"][0]["reason"], "FieldValueInvalid", "{status}");
    // Decodes, but fails the kind's validation.
    let status =
        smp(&admin, &path, &json!({ "spec": { "toppings": [{ "name": "salami", "quantity": -1 }] } }))
            .await
            .expect_status(422, "Invalid");
    assert!(status["message"].as_str().unwrap().contains("spec.toppings[0].quantity"), "{status}");
    // Fails admission.
    let status =
        smp(&admin, &path, &json!({ "spec": { "toppings": [{ "name": "pineapple", "quantity": 1 }] } }))
            .await
            .expect_status(403, "Forbidden");
    assert!(status["message"].as_str().unwrap().contains("pineapple"), "{status}");
    let current = admin.get(&path).await.expect_json(200);
    assert_eq!(rv(&current), rv(&created), "rejected patches must not write");
}

#[tokio::test]
async fn strict_field_validation_rejects_unknown_fields_as_invalid_patch() {
    let (_server, admin, created) = server_with_pizza(&[("salami", 1)]).await;
    let path = format!("{}?fieldValidation=Strict", pizza("default", "p"));
    let status = smp(&admin, &path, &json!({ "spec": { "extra": 1 } })).await.expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        " \"\" is invalid: patch: Invalid value: \"map[spec:map[extra:1]]\": strict decoding error: unknown field \"spec.extra\"",
        "{status}"
    );
    let current = admin.get(&pizza("default", "p")).await.expect_json(200);
    assert_eq!(rv(&current), rv(&created));
}

#[tokio::test]
async fn unknown_patch_types_are_415_listing_strategic_merge_patch() {
    let (_server, admin, _) = server_with_pizza(&[("salami", 1)]).await;
    let status = admin
        .patch_as(&pizza("default", "p"), &json!({}), "application/apply-patch+yaml")
        .await
        .expect_status(415, "UnsupportedMediaType");
    assert_eq!(
        status["message"],
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"
    );
}

#[tokio::test]
async fn body_over_3_mib_is_413() {
    let (_server, admin, _) = server_with_pizza(&[("salami", 1)]).await;
    let big = json!({ "metadata": { "annotations": { "big": "x".repeat(3 * 1024 * 1024 + 16) } } });
    smp(&admin, &pizza("default", "p"), &big).await.expect_status(413, "RequestEntityTooLarge");
}

#[tokio::test]
async fn openapi_declares_patch_strategies_and_the_media_type() {
    let server = start().await;
    let admin = server.admin_client();
    let doc = admin.get(&format!("/openapi/v3/apis/{GROUP}/v1beta1")).await.expect_json(200);
    let schemas = &doc["components"]["schemas"];
    let spec = &schemas["info.programming-kubernetes.restaurant.v1beta1.PizzaSpec"]["properties"]["toppings"];
    assert_eq!(spec["x-kubernetes-patch-merge-key"], "name", "{spec:#}");
    assert_eq!(spec["x-kubernetes-patch-strategy"], "merge", "{spec:#}");
    let meta = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"];
    assert_eq!(meta["finalizers"]["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(meta["ownerReferences"]["x-kubernetes-patch-merge-key"], "uid");
    let patch_op =
        &doc["paths"][format!("/apis/{GROUP}/v1beta1/namespaces/{{namespace}}/pizzas/{{name}}")]["patch"];
    assert!(patch_op["requestBody"]["content"].get(SMP).is_some(), "{patch_op:#}");

    let alpha = admin.get(&format!("/openapi/v3/apis/{GROUP}/v1alpha1")).await.expect_json(200);
    let toppings = &alpha["components"]["schemas"]["info.programming-kubernetes.restaurant.v1alpha1.PizzaSpec"]
        ["properties"]["toppings"];
    assert_eq!(toppings["x-kubernetes-patch-strategy"], "merge", "{toppings:#}");
    assert_eq!(toppings.get("x-kubernetes-patch-merge-key"), None);

    let v2 = admin.get("/openapi/v2").await.expect_json(200);
    let spec = &v2["definitions"]["info.programming-kubernetes.restaurant.v1beta1.PizzaSpec"]["properties"]["toppings"];
    assert_eq!(spec["x-kubernetes-patch-merge-key"], "name", "{spec:#}");
    let patch_op =
        &v2["paths"][format!("/apis/{GROUP}/v1beta1/namespaces/{{namespace}}/pizzas/{{name}}")]["patch"];
    assert!(patch_op["consumes"].as_array().unwrap().contains(&json!(SMP)), "{patch_op:#}");
}
