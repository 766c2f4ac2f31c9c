//! CRUD, system fields, formats, versions and lists over real HTTPS, against the
//! semantics of upstream's generic registry (`registry/generic/registry/store.go`) and
//! storage tests (`storage/testing/store_tests.go`).

use piazza_testing::Method;
use serde_json::{Value, json};

use crate::http_common::*;

/// Upstream's RFC 1123 subdomain message (`validation.IsDNS1123Subdomain`).
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn is_rfc3339_seconds(s: &str) -> bool {
    // metav1.Time: "2006-01-02T15:04:05Z", always UTC, whole seconds.
    let b = s.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && b.iter().enumerate().all(|(i, c)| [4, 7, 10, 13, 16, 19].contains(&i) || c.is_ascii_digit())
}

#[tokio::test]
async fn create_sets_system_fields_and_defaults() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_pizza(&admin, "default", "margherita", &[("tomato", 0), ("mozzarella", 2)]).await;
    assert_eq!(created["apiVersion"], format!("{GROUP}/v1beta1"));
    assert_eq!(created["kind"], "Pizza");
    let meta = &created["metadata"];
    assert_eq!(meta["name"], "margherita");
    assert_eq!(meta["namespace"], "default", "the namespace comes from the URL");
    let uid = meta["uid"].as_str().expect("uid is set");
    assert_eq!(uid.len(), 36, "a UUID: {uid}");
    assert!(is_rfc3339_seconds(meta["creationTimestamp"].as_str().expect("creationTimestamp")), "{meta}");
    assert!(rv(&created) > 0);
    assert_eq!(meta["generation"], 1);
    // Defaulting: quantity 0 → 1.
    assert_eq!(
        created["spec"]["toppings"],
        json!([{ "name": "tomato", "quantity": 1 }, { "name": "mozzarella", "quantity": 2 }])
    );
    // GET returns what was stored.
    let got = admin.get(&pizza("default", "margherita")).await.expect_json(200);
    assert_eq!(got, created);
    // Empty toppings default to salami, mozzarella and tomato.
    let plain = create_pizza(&admin, "default", "plain", &[]).await;
    let names: Vec<&str> =
        plain["spec"]["toppings"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["salami", "mozzarella", "tomato"]);
    // Clients cannot choose the uid or the generation.
    let mut forged = pizza_obj("forged", &[("tomato", 1)]);
    forged["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
    forged["metadata"]["generation"] = json!(42);
    let forged = admin.post(&pizzas("default"), &forged).await.expect_json(201);
    assert_ne!(forged["metadata"]["uid"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(forged["metadata"]["generation"], 1);
}

#[tokio::test]
async fn generation_bumps_on_spec_changes_only() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;

    let mut labelled = created.clone();
    labelled["metadata"]["labels"] = json!({ "size": "large" });
    let labelled = admin.put(&pizza("default", "margherita"), &labelled).await.expect_json(200);
    assert_eq!(labelled["metadata"]["generation"], 1, "a metadata-only update keeps the generation");
    assert!(rv(&labelled) > rv(&created));
    assert_eq!(labelled["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(labelled["metadata"]["creationTimestamp"], created["metadata"]["creationTimestamp"]);

    let mut respec = labelled.clone();
    respec["spec"]["toppings"] =
        json!([{ "name": "tomato", "quantity": 1 }, { "name": "salami", "quantity": 1 }]);
    let respec = admin.put(&pizza("default", "margherita"), &respec).await.expect_json(200);
    assert_eq!(respec["metadata"]["generation"], 2, "a spec change bumps the generation");
    assert_eq!(respec["metadata"]["labels"], json!({ "size": "large" }));

    let patched = admin
        .patch(
            &pizza("default", "margherita"),
            &json!({ "metadata": { "annotations": { "note": "extra crispy" } } }),
        )
        .await
        .expect_json(200);
    assert_eq!(patched["metadata"]["generation"], 2);
    let patched = admin
        .patch(
            &pizza("default", "margherita"),
            &json!({ "spec": { "toppings": [{ "name": "salami", "quantity": 3 }] } }),
        )
        .await
        .expect_json(200);
    assert_eq!(patched["metadata"]["generation"], 3);
}

#[tokio::test]
async fn json_patch_and_merge_patch() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_pizza(&admin, "default", "margherita", &[("tomato", 1), ("salami", 1)]).await;
    let patched = admin
        .patch_as(
            &pizza("default", "margherita"),
            &json!([
                { "op": "test", "path": "/spec/toppings/0/name", "value": "tomato" },
                { "op": "replace", "path": "/spec/toppings/0/quantity", "value": 5 },
                { "op": "remove", "path": "/spec/toppings/1" },
            ]),
            "application/json-patch+json",
        )
        .await
        .expect_json(200);
    assert_eq!(patched["spec"]["toppings"], json!([{ "name": "tomato", "quantity": 5 }]));
    assert_eq!(patched["metadata"]["generation"], 2);
    assert!(rv(&patched) > rv(&created));
    let merged = admin
        .patch(&pizza("default", "margherita"), &json!({ "metadata": { "labels": { "crust": "thin" } } }))
        .await
        .expect_json(200);
    assert_eq!(merged["metadata"]["labels"], json!({ "crust": "thin" }));
    assert_eq!(merged["spec"], patched["spec"]);
    // A patch is still subject to admission: an unknown topping is refused.
    admin
        .patch(
            &pizza("default", "margherita"),
            &json!({ "spec": { "toppings": [{ "name": "pineapple", "quantity": 1 }] } }),
        )
        .await
        .expect_status(403, "Forbidden");
    // And to validation.
    admin
        .patch(
            &pizza("default", "margherita"),
            &json!({ "spec": { "toppings": [{ "name": "tomato", "quantity": -2 }] } }),
        )
        .await
        .expect_status(422, "Invalid");
    // Patching a missing object is a 404.
    admin.patch(&pizza("default", "nope"), &json!({})).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn identical_put_does_not_bump_resource_version() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let again = admin.put(&pizza("default", "margherita"), &created).await.expect_json(200);
    assert_eq!(rv(&again), rv(&created), "an update that changes nothing writes nothing");
    assert_eq!(again, created);
    // Without a resourceVersion in the body (an unconditional update) too.
    let mut unconditional = created.clone();
    unconditional["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    let again = admin.put(&pizza("default", "margherita"), &unconditional).await.expect_json(200);
    assert_eq!(rv(&again), rv(&created));
    let list = admin.get(&pizzas("default")).await.expect_json(200);
    assert_eq!(rv(&list), rv(&created), "no write happened anywhere");
}

#[tokio::test]
async fn generate_name_produces_a_name() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let mut body = pizza_obj("", &[("tomato", 1)]);
    body["metadata"] = json!({ "generateName": "pizza-" });
    let first = admin.post(&pizzas("default"), &body).await.expect_json(201);
    let second = admin.post(&pizzas("default"), &body).await.expect_json(201);
    for created in [&first, &second] {
        let name = created["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("pizza-") && name.len() == "pizza-".len() + 5, "{name}");
        assert!(
            name["pizza-".len()..].bytes().all(|c| b"bcdfghjklmnpqrstvwxz2456789".contains(&c)),
            "{name}"
        );
        assert_eq!(created["metadata"]["generateName"], "pizza-");
        admin.get(&pizza("default", name)).await.expect(200);
    }
    assert_ne!(first["metadata"]["name"], second["metadata"]["name"]);
    // Neither name nor generateName: 422 naming metadata.name.
    let status = admin
        .post(&pizzas("default"), &json!({ "metadata": {}, "spec": { "toppings": [] } }))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        format!(
            "Pizza.{GROUP} \"\" is invalid: metadata.name: Required value: name or generateName is required"
        )
    );
}

#[tokio::test]
async fn invalid_names_are_422_with_the_rfc1123_message() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    for name in ["Foo", "-pizza", "pizza_1", "a..b"] {
        let status = admin
            .post(&pizzas("default"), &pizza_obj(name, &[("tomato", 1)]))
            .await
            .expect_status(422, "Invalid");
        assert_eq!(
            status["message"],
            format!(
                "Pizza.{GROUP} \"{name}\" is invalid: metadata.name: Invalid value: \"{name}\": {SUBDOMAIN_MSG}"
            )
        );
        assert_eq!(
            status["details"]["causes"],
            json!([{
                "reason": "FieldValueInvalid",
                "message": format!("Invalid value: \"{name}\": {SUBDOMAIN_MSG}"),
                "field": "metadata.name",
            }])
        );
    }
}

#[tokio::test]
async fn yaml_in_and_out() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let yaml = format!(
        "apiVersion: {GROUP}/v1beta1\nkind: Pizza\nmetadata:\n  name: margherita\nspec:\n  toppings:\n  - name: tomato\n    quantity: 2\n  - name: mozzarella\n"
    );
    let created =
        admin.request(Method::POST, &pizzas("default"), &[("content-type", "application/yaml")], yaml).await;
    assert_eq!(created.header("content-type"), "application/json");
    let created = created.expect_json(201);
    assert_eq!(
        created["spec"]["toppings"],
        json!([{ "name": "tomato", "quantity": 2 }, { "name": "mozzarella", "quantity": 1 }])
    );

    let got = admin.get_with(&pizza("default", "margherita"), &[("accept", "application/yaml")]).await;
    got.expect(200);
    assert_eq!(got.header("content-type"), "application/yaml");
    assert_eq!(got.yaml(), created, "the YAML document is the same object");

    let list = admin.get_with(&pizzas("default"), &[("accept", "application/yaml")]).await;
    list.expect(200);
    assert_eq!(list.header("content-type"), "application/yaml");
    let list = list.yaml();
    assert_eq!(list["kind"], "PizzaList");
    assert_eq!(list["items"][0]["metadata"]["name"], "margherita");

    // Errors asked for in YAML still come back as a Status.
    let missing = admin.get_with(&pizza("default", "nope"), &[("accept", "application/yaml")]).await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn versions_convert_through_the_hub() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let alpha = json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": "Pizza",
        "metadata": { "name": "salami-lovers" },
        "spec": { "toppings": ["salami", "tomato", "salami"] },
    });
    let created = admin.post(&alpha_pizzas("default"), &alpha).await.expect_json(201);
    assert_eq!(created["apiVersion"], format!("{GROUP}/v1alpha1"));
    assert_eq!(created["spec"]["toppings"], json!(["salami", "salami", "tomato"]));
    let beta = admin.get(&pizza("default", "salami-lovers")).await.expect_json(200);
    assert_eq!(beta["apiVersion"], format!("{GROUP}/v1beta1"));
    assert_eq!(
        beta["spec"]["toppings"],
        json!([{ "name": "salami", "quantity": 2 }, { "name": "tomato", "quantity": 1 }])
    );
    assert_eq!(beta["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(rv(&beta), rv(&created));
}

#[tokio::test]
async fn delete_answers_a_success_status() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let response = admin.delete(&pizza("default", "margherita")).await;
    let status = response.expect_json(200);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["apiVersion"], "v1");
    assert_eq!(status["status"], "Success");
    assert_eq!(
        status["details"],
        json!({ "name": "margherita", "group": GROUP, "kind": "pizzas", "uid": created["metadata"]["uid"] })
    );
    admin.get(&pizza("default", "margherita")).await.expect_status(404, "NotFound");
    let status = admin.delete(&pizza("default", "margherita")).await.expect_status(404, "NotFound");
    assert_eq!(status["message"], format!("pizzas.{GROUP} \"margherita\" not found"));
}

async fn create_toppings(admin: &piazza_testing::TestClient, names: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    for name in names {
        out.push(admin.post(&toppings(), &topping_obj(name, 1.0)).await.expect_json(201));
    }
    out
}

fn item_names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pagination_returns_every_object_once_from_one_snapshot() {
    let server = start().await;
    let admin = server.admin_client();
    let names = ["a", "b", "c", "d", "e", "f", "g"];
    create_toppings(&admin, &names).await;

    let first = admin.get(&format!("{}?limit=3", toppings())).await.expect_json(200);
    assert_eq!(first["kind"], "ToppingList");
    assert_eq!(first["apiVersion"], format!("{GROUP}/v1alpha1"));
    assert_eq!(item_names(&first), ["a", "b", "c"]);
    assert_eq!(first["metadata"]["remainingItemCount"], 4);
    let snapshot = rv(&first);
    let token = first["metadata"]["continue"].as_str().expect("a continue token").to_owned();

    // A write between pages is not part of the snapshot.
    create_toppings(&admin, &["bb"]).await;

    let second = admin.get(&format!("{}?limit=3&continue={token}", toppings())).await.expect_json(200);
    assert_eq!(item_names(&second), ["d", "e", "f"]);
    assert_eq!(second["metadata"]["remainingItemCount"], 1);
    assert_eq!(rv(&second), snapshot, "every page has the snapshot's resourceVersion");
    let token = second["metadata"]["continue"].as_str().expect("a continue token").to_owned();

    let third = admin.get(&format!("{}?limit=3&continue={token}", toppings())).await.expect_json(200);
    assert_eq!(item_names(&third), ["g"]);
    assert_eq!(rv(&third), snapshot);
    assert!(third["metadata"].get("continue").is_none_or(|c| c == ""), "{third}");
    assert!(third["metadata"].get("remainingItemCount").is_none(), "{third}");

    // A fresh list sees the new object.
    let all = admin.get(&toppings()).await.expect_json(200);
    assert_eq!(item_names(&all), ["a", "b", "bb", "c", "d", "e", "f", "g"]);
    assert!(all["metadata"].get("continue").is_none_or(|c| c == ""));
}

#[tokio::test]
async fn pagination_does_not_leak_across_namespaces() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    for ns in ["ns1", "ns10"] {
        for name in ["p1", "p2", "p3"] {
            create_pizza(&admin, ns, name, &[("tomato", 1)]).await;
        }
    }
    let first = admin.get(&format!("{}?limit=2", pizzas("ns1"))).await.expect_json(200);
    assert_eq!(item_names(&first), ["p1", "p2"]);
    let token = first["metadata"]["continue"].as_str().unwrap().to_owned();
    let second = admin.get(&format!("{}?limit=2&continue={token}", pizzas("ns1"))).await.expect_json(200);
    assert_eq!(item_names(&second), ["p3"], "ns1 must not match ns10");
    // All namespaces.
    let all = admin.get(&format!("/apis/{GROUP}/v1beta1/pizzas")).await.expect_json(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn garbage_continue_token_is_400() {
    let server = start().await;
    let admin = server.admin_client();
    create_toppings(&admin, &["a"]).await;
    for token in ["garbage", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiIuLi8uLi9ldGMifQ"] {
        let status = admin
            .get(&format!("{}?limit=1&continue={token}", toppings()))
            .await
            .expect_status(400, "BadRequest");
        let message = status["message"].as_str().unwrap();
        assert!(message.starts_with("invalid continue token: "), "{message}");
    }
    // A continue token together with a resourceVersion is refused too.
    let first = {
        create_toppings(&admin, &["b"]).await;
        admin.get(&format!("{}?limit=1", toppings())).await.expect_json(200)
    };
    let token = first["metadata"]["continue"].as_str().unwrap();
    let status = admin
        .get(&format!("{}?limit=1&continue={token}&resourceVersion=1", toppings()))
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(status["message"], "specifying resource version is not allowed when using continue");
}

#[tokio::test]
async fn list_resource_version_semantics() {
    let server = start().await;
    let admin = server.admin_client();
    let created = create_toppings(&admin, &["a", "b"]).await;
    let (rv_a, rv_b) = (rv(&created[0]), rv(&created[1]));
    assert!(rv_b > rv_a);

    // "" (consistent): the latest state.
    let latest = admin.get(&toppings()).await.expect_json(200);
    assert_eq!(item_names(&latest), ["a", "b"]);
    assert_eq!(rv(&latest), rv_b);

    // "0" (any): some state, at most as new as the latest.
    let any = admin.get(&format!("{}?resourceVersion=0", toppings())).await.expect_json(200);
    assert!(rv(&any) <= rv_b);

    // Exact at an older resourceVersion: the state then.
    let old = admin
        .get(&format!("{}?resourceVersion={rv_a}&resourceVersionMatch=Exact", toppings()))
        .await
        .expect_json(200);
    assert_eq!(item_names(&old), ["a"]);
    assert_eq!(rv(&old), rv_a);

    // NotOlderThan an older resourceVersion: at least that new.
    let newer = admin
        .get(&format!("{}?resourceVersion={rv_a}&resourceVersionMatch=NotOlderThan", toppings()))
        .await
        .expect_json(200);
    assert!(rv(&newer) >= rv_a);
    assert!(item_names(&newer).contains(&"a".to_owned()));
}

#[tokio::test]
async fn list_at_a_future_resource_version_is_504_too_large() {
    let server = start().await;
    let admin = server.admin_client();
    let created = create_toppings(&admin, &["a", "b"]).await;
    let current = rv(&created[1]);
    let future = current + 1000;
    for query in [
        format!("resourceVersion={future}"),
        format!("resourceVersion={future}&resourceVersionMatch=NotOlderThan"),
    ] {
        let response = admin.get(&format!("{}?{query}", toppings())).await;
        let status = response.expect_status(504, "Timeout");
        // storage.NewTooLargeResourceVersionError → errors.NewTimeoutError ("Timeout: " prefix).
        assert_eq!(
            status["message"],
            format!("Timeout: Too large resource version: {future}, current: {current}"),
            "{query}"
        );
        assert_eq!(
            status["details"]["causes"],
            json!([{ "reason": "ResourceVersionTooLarge", "message": "Too large resource version" }])
        );
        assert_eq!(status["details"]["retryAfterSeconds"], 1);
        assert_eq!(response.header("retry-after"), "1");
    }
}

#[tokio::test]
async fn resource_version_match_without_resource_version_is_422() {
    let server = start().await;
    let admin = server.admin_client();
    // Upstream ValidateListOptions, reported by the list handler as an invalid
    // ListOptions.meta.k8s.io.
    let status = admin
        .get(&format!("{}?resourceVersionMatch=NotOlderThan", toppings()))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );
    assert_eq!(status["details"]["group"], "meta.k8s.io");
    assert_eq!(status["details"]["kind"], "ListOptions");
}

#[tokio::test]
async fn get_at_an_older_resource_version_answers_the_current_object() {
    let server = start().await;
    let admin = server.admin_client();
    let created = create_toppings(&admin, &["a"]).await;
    let rv_a = rv(&created[0]);
    let mut changed = created[0].clone();
    changed["spec"]["cost"] = json!(2.5);
    let changed = admin.put(&topping("a"), &changed).await.expect_json(200);
    // A GET at a resourceVersion means "not older than" and answers the current object.
    // GetOptions has no resourceVersionMatch: upstream ignores the parameter.
    for query in
        [format!("resourceVersion={rv_a}"), format!("resourceVersion={rv_a}&resourceVersionMatch=Exact")]
    {
        let got = admin.get(&format!("{}?{query}", topping("a"))).await.expect_json(200);
        assert_eq!(got["spec"]["cost"], 2.5, "{query}");
        assert_eq!(rv(&got), rv(&changed), "{query}");
    }
    // resourceVersion=0: any state, here the current one.
    let got = admin.get(&format!("{}?resourceVersion=0", topping("a"))).await.expect_json(200);
    assert!(rv(&got) >= rv_a);
}
