//! Error responses over real HTTPS: each one a `metav1.Status` with the code, reason,
//! message and details upstream kube-apiserver would send for the same request.

use piazza_testing::{Bytes, HttpVersion, Method};
use serde_json::json;

use crate::http_common::*;

/// The generic 404 of go-restful and the discovery handlers (`NewGenericServerResponse`).
const NOT_FOUND: &str = "the server could not find the requested resource";
/// The generic 405 (`NewGenericServerResponse` for `http.StatusMethodNotAllowed`).
const METHOD_NOT_ALLOWED: &str = "the server does not allow this method on the requested resource";
/// `MaxRequestBodyBytes` default.
const LIMIT: usize = 3 * 1024 * 1024;

#[tokio::test]
async fn unknown_group_version_resource_and_path_are_404() {
    let server = start().await;
    let admin = server.admin_client();
    for path in [
        "/apis/nope.example.com".to_owned(),
        "/apis/nope.example.com/v1".to_owned(),
        "/apis/nope.example.com/v1/namespaces/default/things".to_owned(),
        format!("/apis/{GROUP}/v9"),
        format!("/apis/{GROUP}/v9/namespaces/default/pizzas"),
        format!("/apis/{GROUP}/v1beta1/namespaces/default/calzones"),
        format!("/apis/{GROUP}/v1beta1/calzones"),
        // Topping is served only in v1alpha1.
        format!("/apis/{GROUP}/v1beta1/toppings"),
    ] {
        let status = admin.get(&path).await.expect_status(404, "NotFound");
        assert_eq!(status["message"], NOT_FOUND, "{path}");
    }
    // Outside the API paths upstream's generic server answers with Go's plain
    // `http.NotFoundHandler`; only the code is pinned there.
    for path in ["/api/v1/namespaces/default/pods", "/no/such/path"] {
        assert_eq!(admin.get(path).await.status, 404, "{path}");
    }
}

#[tokio::test]
async fn cluster_scoped_topping_has_no_namespaced_routes() {
    let server = start().await;
    let admin = server.admin_client();
    let ns_toppings = format!("/apis/{GROUP}/v1alpha1/namespaces/default/toppings");
    let status = admin.get(&ns_toppings).await.expect_status(404, "NotFound");
    assert_eq!(status["message"], NOT_FOUND);
    let status = admin.get(&format!("{ns_toppings}/salami")).await.expect_status(404, "NotFound");
    assert_eq!(status["message"], NOT_FOUND);
    let status = admin.post(&ns_toppings, &topping_obj("salami", 1.0)).await.expect_status(404, "NotFound");
    assert_eq!(status["message"], NOT_FOUND);
    // ... and nothing was created through it.
    admin.get(&topping("salami")).await.expect_status(404, "NotFound");
    // A namespaced Pizza has no cluster-scoped item route either.
    let status =
        admin.get(&format!("/apis/{GROUP}/v1beta1/pizzas/margherita")).await.expect_status(404, "NotFound");
    assert_eq!(status["message"], NOT_FOUND);
}

#[tokio::test]
async fn get_missing_pizza_is_404_with_details() {
    let server = start().await;
    let status = server.admin_client().get(&pizza("default", "x")).await.expect_status(404, "NotFound");
    assert_eq!(status["message"], format!("pizzas.{GROUP} \"x\" not found"));
    assert_eq!(status["details"], json!({ "name": "x", "group": GROUP, "kind": "pizzas" }));
    // Cluster-scoped: same shape.
    let status = server.admin_client().get(&topping("x")).await.expect_status(404, "NotFound");
    assert_eq!(status["message"], format!("toppings.{GROUP} \"x\" not found"));
    assert_eq!(status["details"], json!({ "name": "x", "group": GROUP, "kind": "toppings" }));
}

#[tokio::test]
async fn duplicate_create_is_409_already_exists() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let status = admin
        .post(&pizzas("default"), &pizza_obj("margherita", &[("tomato", 1)]))
        .await
        .expect_status(409, "AlreadyExists");
    assert_eq!(status["message"], format!("pizzas.{GROUP} \"margherita\" already exists"));
    assert_eq!(status["details"], json!({ "name": "margherita", "group": GROUP, "kind": "pizzas" }));
    // The same name in another namespace is a different object.
    create_pizza(&admin, "other", "margherita", &[("tomato", 1)]).await;
}

#[tokio::test]
async fn put_with_stale_resource_version_is_409_conflict() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let mut newer = created.clone();
    newer["spec"]["toppings"] = json!([{ "name": "tomato", "quantity": 2 }]);
    let updated = admin.put(&pizza("default", "margherita"), &newer).await.expect_json(200);
    assert!(rv(&updated) > rv(&created));

    let mut stale = created.clone();
    stale["spec"]["toppings"] = json!([{ "name": "salami", "quantity": 1 }]);
    let status = admin.put(&pizza("default", "margherita"), &stale).await.expect_status(409, "Conflict");
    assert_eq!(
        status["message"],
        format!(
            "Operation cannot be fulfilled on pizzas.{GROUP} \"margherita\": the object has been modified; please apply your changes to the latest version and try again"
        )
    );
    assert_eq!(status["details"], json!({ "name": "margherita", "group": GROUP, "kind": "pizzas" }));
    // The stale write changed nothing.
    let current = admin.get(&pizza("default", "margherita")).await.expect_json(200);
    assert_eq!(current["spec"], updated["spec"]);
    assert_eq!(rv(&current), rv(&updated));
}

#[tokio::test]
async fn invalid_pizza_is_422_with_causes() {
    let server = start().await;
    let admin = server.admin_client();
    let body = pizza_obj("bad", &[("salami", -1), ("tomato", 1), ("salami", 2)]);
    let status = admin.post(&pizzas("default"), &body).await.expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        format!(
            "Pizza.{GROUP} \"bad\" is invalid: [spec.toppings[0].quantity: Invalid value: -1: must be greater than 0, spec.toppings[2].name: Duplicate value: \"salami\"]"
        )
    );
    assert_eq!(
        status["details"],
        json!({
            "name": "bad",
            "group": GROUP,
            "kind": "Pizza",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: -1: must be greater than 0",
                    "field": "spec.toppings[0].quantity",
                },
                {
                    "reason": "FieldValueDuplicate",
                    "message": "Duplicate value: \"salami\"",
                    "field": "spec.toppings[2].name",
                },
            ],
        })
    );
    admin.get(&pizza("default", "bad")).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn single_field_error_is_not_bracketed_and_floats_print_like_go() {
    let server = start().await;
    let admin = server.admin_client();
    // One error is not bracketed (field.ErrorList.ToAggregate), and the bad value is
    // printed with Go's %v: the float64 -1 prints as "-1".
    let status = admin.post(&toppings(), &topping_obj("negative", -1.0)).await.expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        format!(
            "Topping.{GROUP} \"negative\" is invalid: spec.cost: Invalid value: -1: must be a non-negative number"
        )
    );
    assert_eq!(status["details"]["causes"][0]["message"], "Invalid value: -1: must be a non-negative number");
}

#[tokio::test]
async fn body_namespace_must_match_url_namespace() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let mut body = pizza_obj("margherita", &[("tomato", 1)]);
    body["metadata"]["namespace"] = json!("other");
    let status = admin.post(&pizzas("default"), &body).await.expect_status(400, "BadRequest");
    assert_eq!(
        status["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    // Same rule on update.
    create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let status = admin.put(&pizza("default", "margherita"), &body).await.expect_status(400, "BadRequest");
    assert_eq!(
        status["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
}

#[tokio::test]
async fn put_name_must_match_url_name() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    let status = admin
        .put(&pizza("default", "a"), &pizza_obj("b", &[("tomato", 1)]))
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(status["message"], "the name of the object (b) does not match the name on the URL (a)");
}

#[tokio::test]
async fn malformed_json_body_is_400() {
    let server = start().await;
    let admin = server.admin_client();
    for body in [&b"{\"metadata\": "[..], b"not json at all", b"[1, 2, 3]"] {
        let response = admin
            .request(Method::POST, &pizzas("default"), &[("content-type", "application/json")], body.to_vec())
            .await;
        response.expect_status(400, "BadRequest");
    }
}

#[tokio::test]
async fn unknown_topping_is_403_from_admission() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let status = admin
        .post(&pizzas("default"), &pizza_obj("hawaii", &[("tomato", 1), ("pineapple", 1)]))
        .await
        .expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        format!("pizzas.{GROUP} \"hawaii\" is forbidden: unknown topping: pineapple")
    );
    assert_eq!(status["details"], json!({ "name": "hawaii", "group": GROUP, "kind": "pizzas" }));
    admin.get(&pizza("default", "hawaii")).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn unsupported_method_on_a_route_is_405() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    // POST on an item path: go-restful has GET, PUT, PATCH and DELETE there, not POST.
    let status = admin
        .post(&pizza("default", "margherita"), &pizza_obj("margherita", &[("salami", 1)]))
        .await
        .expect_status(405, "MethodNotAllowed");
    assert_eq!(status["message"], METHOD_NOT_ALLOWED);
    let status = admin
        .post(&pizza("default", "quattro"), &pizza_obj("quattro", &[("salami", 1)]))
        .await
        .expect_status(405, "MethodNotAllowed");
    assert_eq!(status["message"], METHOD_NOT_ALLOWED);
    admin.get(&pizza("default", "quattro")).await.expect_status(404, "NotFound");
    // PUT and PATCH on a collection path: only GET, POST and DELETE are routed there.
    let status = admin
        .put(&pizzas("default"), &pizza_obj("margherita", &[("salami", 1)]))
        .await
        .expect_status(405, "MethodNotAllowed");
    assert_eq!(status["message"], METHOD_NOT_ALLOWED);
    let status = admin.patch(&pizzas("default"), &json!({})).await.expect_status(405, "MethodNotAllowed");
    assert_eq!(status["message"], METHOD_NOT_ALLOWED);
    // Nothing changed.
    let current = admin.get(&pizza("default", "margherita")).await.expect_json(200);
    assert_eq!(current["spec"]["toppings"], json!([{ "name": "tomato", "quantity": 1 }]));
}

#[tokio::test]
async fn unacceptable_accept_is_406() {
    let server = start().await;
    let admin = server.admin_client();
    for path in [pizzas("default"), toppings()] {
        let response = admin.get_with(&path, &[("accept", "text/html")]).await;
        let status = response.expect_status(406, "NotAcceptable");
        let message = status["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "only the following media types are accepted: application/json, application/yaml"
            ),
            "{message}"
        );
    }
}

#[tokio::test]
async fn unsupported_content_type_is_415() {
    let server = start().await;
    let admin = server.admin_client();
    let body = serde_json::to_vec(&topping_obj("salami", 1.0)).unwrap();
    let response =
        admin.request(Method::POST, &toppings(), &[("content-type", "text/plain")], body.clone()).await;
    let status = response.expect_status(415, "UnsupportedMediaType");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
        ),
        "{message}"
    );
    admin.get(&topping("salami")).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn apply_patch_is_415() {
    let server = start().await;
    let admin = server.admin_client();
    admin.post(&toppings(), &topping_obj("salami", 1.0)).await.expect(201);
    // Server-side apply is not served; JSON, merge and strategic merge patches are.
    let status = admin
        .patch_as(&topping("salami"), &json!({ "spec": { "cost": 2.0 } }), "application/apply-patch+yaml")
        .await
        .expect_status(415, "UnsupportedMediaType");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json"
        ),
        "{message}"
    );
    let current = admin.get(&topping("salami")).await.expect_json(200);
    assert_eq!(current["spec"]["cost"], 1.0);
}

fn too_large_message() -> String {
    format!("Request entity too large: limit is {LIMIT}")
}

#[tokio::test]
async fn body_over_3_mib_with_content_length_is_413() {
    let server = start().await;
    for client in [server.admin_client(), server.admin_client().http2()] {
        let mut object = topping_obj("huge", 1.0);
        object["metadata"]["annotations"] = json!({ "big": "x".repeat(LIMIT + 16) });
        let response = client.post(&toppings(), &object).await;
        let status = response.expect_status(413, "RequestEntityTooLarge");
        assert_eq!(status["message"], too_large_message(), "{:?}", client.version());
    }
    server.admin_client().get(&topping("huge")).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn streamed_body_over_3_mib_without_content_length_is_413() {
    let server = start().await;
    for version in [HttpVersion::Http1, HttpVersion::Http2] {
        let client = server.admin_client().with_version(version);
        // A JSON object that keeps growing: 4 MiB in 64 KiB chunks, no Content-Length, so
        // HTTP/1.1 sends it chunked and HTTP/2 as plain DATA frames.
        let mut chunks =
            vec![Bytes::from_static(b"{\"metadata\":{\"name\":\"huge\",\"annotations\":{\"big\":\"")];
        chunks.extend((0..64).map(|_| Bytes::from(vec![b'x'; 64 * 1024])));
        chunks.push(Bytes::from_static(b"\"}}}"));
        let response = client
            .request_chunked(Method::POST, &toppings(), &[("content-type", "application/json")], chunks)
            .await;
        let status = response.expect_status(413, "RequestEntityTooLarge");
        assert_eq!(status["message"], too_large_message(), "{version:?}");
    }
    server.admin_client().get(&topping("huge")).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn no_client_certificate_is_401() {
    let server = start().await;
    let anonymous = server.anonymous_client();
    for path in
        ["/apis".to_owned(), format!("/apis/{GROUP}/v1beta1"), pizzas("default"), "/version".to_owned()]
    {
        let status = anonymous.get(&path).await.expect_status(401, "Unauthorized");
        assert_eq!(status["message"], "Unauthorized", "{path}");
    }
    let status =
        anonymous.post(&toppings(), &topping_obj("salami", 1.0)).await.expect_status(401, "Unauthorized");
    assert_eq!(status["message"], "Unauthorized");
    server.admin_client().get(&topping("salami")).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn certificate_from_a_foreign_ca_is_401() {
    let server = start().await;
    // Even a certificate claiming system:masters is worthless when no trusted CA signed it.
    let foreign = server.foreign_client("admin", &["system:masters"]);
    for path in ["/apis".to_owned(), pizzas("default")] {
        let status = foreign.get(&path).await.expect_status(401, "Unauthorized");
        assert_eq!(status["message"], "Unauthorized", "{path}");
    }
    foreign.http2().get(&toppings()).await.expect_status(401, "Unauthorized");
}

#[tokio::test]
async fn valid_certificate_outside_system_masters_is_403() {
    let server = start().await;
    let bob = server.client_for("bob", &["pizza-eaters"]);
    let status = bob.get(&pizzas("default")).await.expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        format!(
            "pizzas.{GROUP} is forbidden: User \"bob\" cannot list resource \"pizzas\" in API group \"{GROUP}\" in the namespace \"default\""
        )
    );
    assert_eq!(status["details"], json!({ "group": GROUP, "kind": "pizzas" }));

    let status = bob.get(&pizza("default", "margherita")).await.expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        format!(
            "pizzas.{GROUP} \"margherita\" is forbidden: User \"bob\" cannot get resource \"pizzas\" in API group \"{GROUP}\" in the namespace \"default\""
        )
    );
    assert_eq!(status["details"], json!({ "name": "margherita", "group": GROUP, "kind": "pizzas" }));

    let status = bob.post(&toppings(), &topping_obj("salami", 1.0)).await.expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        format!(
            "toppings.{GROUP} is forbidden: User \"bob\" cannot create resource \"toppings\" in API group \"{GROUP}\" at the cluster scope"
        )
    );
    let status = bob.get(&format!("{}?watch=true", pizzas("default"))).await.expect_status(403, "Forbidden");
    assert_eq!(
        status["message"],
        format!(
            "pizzas.{GROUP} is forbidden: User \"bob\" cannot watch resource \"pizzas\" in API group \"{GROUP}\" in the namespace \"default\""
        )
    );
    let status = bob.get("/apis").await.expect_status(403, "Forbidden");
    assert_eq!(status["message"], "forbidden: User \"bob\" cannot get path \"/apis\"");
    // The 403 is about authorization only: an admin sees that nothing was created.
    server.admin_client().get(&topping("salami")).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn health_endpoints_need_no_certificate() {
    let server = start().await;
    let anonymous = server.anonymous_client();
    for path in ["/healthz", "/livez", "/readyz", "/readyz/ping", "/livez/ping", "/healthz/ping"] {
        let response = anonymous.get(path).await;
        response.expect(200);
        assert_eq!(response.text(), "ok", "{path}");
    }
    // A certificate that does not verify is a failed authentication even on a health path
    // (upstream's `unionauth.NewFailOnError` in front of the anonymous authenticator):
    // presented credentials are never downgraded to anonymous.
    let foreign = server.foreign_client("prober", &[]);
    foreign.get("/healthz").await.expect_status(401, "Unauthorized");
}

#[tokio::test]
async fn an_unsupported_dry_run_value_is_422_naming_the_options_kind() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = admin
        .post(&format!("{}?dryRun=Bogus", pizzas("dry")), &pizza_obj("p", &[("salami", 1)]))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        created["message"],
        r#"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Bogus"}: supported values: "All""#
    );
    assert_eq!(created["details"]["kind"], "CreateOptions");
    assert_eq!(created["details"]["group"], "meta.k8s.io");
    assert_eq!(created["details"]["causes"][0]["field"], "dryRun");
    admin.get(&pizza("dry", "p")).await.expect(404);
    create_pizza(&admin, "dry", "p", &[("salami", 1)]).await;
    let deleted =
        admin.delete(&format!("{}?dryRun=Some", pizza("dry", "p"))).await.expect_status(422, "Invalid");
    assert!(deleted["message"].as_str().unwrap().starts_with(r#"DeleteOptions.meta.k8s.io "" is invalid"#));
    admin.get(&pizza("dry", "p")).await.expect(200);
}

#[tokio::test]
async fn type_metadata_that_does_not_match_the_endpoint_is_a_400_and_creates_nothing() {
    let (_server, admin) = start_with_toppings().await;
    let path = pizzas("default");
    let body = |api_version: serde_json::Value, kind: serde_json::Value| {
        json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": { "name": "typed" },
            "spec": { "toppings": [{ "name": "tomato", "quantity": 1 }] },
        })
    };
    let cases = [
        (
            body(json!(format!("{GROUP}/v1alpha1")), json!("Pizza")),
            format!(
                "the API version in the data ({GROUP}/v1alpha1) does not match the expected API version ({GROUP}/v1beta1)"
            ),
        ),
        (
            body(json!(format!("{GROUP}/v1beta1")), json!("Topping")),
            "the kind in the data (Topping) does not match the expected kind (Pizza)".to_owned(),
        ),
        (body(json!(1), json!("Pizza")), "invalid type: integer `1`, expected a string".to_owned()),
        (
            body(json!(format!("{GROUP}/v1beta1")), json!(null)),
            "invalid type: null, expected a string".to_owned(),
        ),
    ];
    for (object, expected) in cases {
        let status = admin.post(&path, &object).await.expect_status(400, "BadRequest");
        let message = status["message"].as_str().unwrap();
        assert!(message.contains(&expected), "{message:?} should contain {expected:?}");
    }
    admin.get(&pizza("default", "typed")).await.expect_status(404, "NotFound");
    // Absent type metadata is taken from the endpoint.
    let untyped = json!({ "metadata": { "name": "typed" }, "spec": { "toppings": [] } });
    let created = admin.post(&path, &untyped).await.expect_json(201);
    assert_eq!(
        (created["apiVersion"].as_str(), created["kind"].as_str()),
        (Some(&*format!("{GROUP}/v1beta1")), Some("Pizza"))
    );
}
