//! Finalizers and DeleteOptions over real HTTPS: a DELETE marks an object with finalizers
//! as deleting and keeps it; adding a finalizer then is a 422; the update (PUT or PATCH)
//! that removes the last one removes the object and answers its final state; watchers see
//! MODIFIED, then DELETED. Also: `propagationPolicy` / `orphanDependents` validation,
//! preconditions, and `dryRun=All`, with upstream's codes and messages.

use std::time::Duration;

use piazza_testing::{Method, TestClient, TestResponse};
use serde_json::{Value, json};

use crate::http_common::*;

async fn delete_with(client: &TestClient, path: &str, options: &Value) -> TestResponse {
    let body = serde_json::to_vec(options).unwrap();
    client.request(Method::DELETE, path, &[("content-type", "application/json")], body).await
}

/// Creates pizza `name` in `default` with `finalizers`.
async fn create_with_finalizers(client: &TestClient, name: &str, finalizers: &[&str]) -> Value {
    let mut body = pizza_obj(name, &[("tomato", 1)]);
    body["metadata"]["finalizers"] = json!(finalizers);
    client.post(&pizzas("default"), &body).await.expect_json(201)
}

#[tokio::test]
async fn a_finalizer_blocks_removal_until_a_patch_clears_it() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_with_finalizers(&admin, "f", &["example.com/bake"]).await;
    let path = pizza("default", "f");
    let mut watch = admin
        .watch(&format!("{}?watch=true&resourceVersion={}", pizzas("default"), rv(&created)))
        .await
        .expect("watch starts");

    let marked = admin.delete(&path).await.expect_json(200);
    assert_eq!(marked["kind"], "Pizza");
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(marked["metadata"]["finalizers"], json!(["example.com/bake"]));
    let modified = watch.next_event().await;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"], marked);

    // It stays, and a second DELETE changes nothing.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(admin.get(&path).await.expect_json(200), marked);
    assert_eq!(admin.delete(&path).await.expect_json(200), marked);

    // While deleting, no finalizer may be added.
    let mut more = marked.clone();
    more["metadata"]["finalizers"] = json!(["example.com/bake", "example.com/box"]);
    let status = admin.put(&path, &more).await.expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        format!(
            "Pizza.{GROUP} \"f\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"example.com/box\"}}"
        )
    );
    let patch = json!({ "metadata": { "finalizers": ["example.com/bake", "example.com/other"] } });
    admin.patch(&path, &patch).await.expect_status(422, "Invalid");

    // Nor may the deletion fields change.
    let status = admin
        .patch(&path, &json!({ "metadata": { "deletionGracePeriodSeconds": 30 } }))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        format!(
            "Pizza.{GROUP} \"f\" is invalid: metadata.deletionGracePeriodSeconds: Invalid value: 30: field is immutable"
        )
    );

    // Clearing the last finalizer removes it; the answer is the final state.
    let last = admin.patch(&path, &json!({ "metadata": { "finalizers": null } })).await.expect_json(200);
    assert!(last["metadata"]["finalizers"].is_null(), "{last}");
    assert_eq!(last["metadata"]["deletionTimestamp"], marked["metadata"]["deletionTimestamp"]);
    admin.get(&path).await.expect_status(404, "NotFound");
    let deleted = watch.next_event().await;
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(rv(&deleted["object"]), rv(&last), "the answer carries the deletion's resourceVersion");
    watch.expect_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_put_that_clears_the_finalizers_removes_the_object() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_with_finalizers(&admin, "p", &["example.com/a", "example.com/b"]).await;
    let path = pizza("default", "p");
    let marked = admin.delete(&path).await.expect_json(200);

    let mut one = marked.clone();
    one["metadata"]["finalizers"] = json!(["example.com/b"]);
    let kept = admin.put(&path, &one).await.expect_json(200);
    assert_eq!(kept["metadata"]["finalizers"], json!(["example.com/b"]));
    admin.get(&path).await.expect(200);

    let mut none = kept.clone();
    none["metadata"]["finalizers"] = json!([]);
    admin.put(&path, &none).await.expect(200);
    admin.get(&path).await.expect(404);
    // The name is free again.
    create_pizza(&admin, "default", "p", &[("tomato", 1)]).await;
}

#[tokio::test]
async fn creating_over_a_pizza_being_deleted_says_so() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_with_finalizers(&admin, "c", &["example.com/a"]).await;
    admin.delete(&pizza("default", "c")).await.expect(200);
    let status = admin
        .post(&pizzas("default"), &pizza_obj("c", &[("tomato", 1)]))
        .await
        .expect_status(409, "AlreadyExists");
    assert_eq!(status["message"], format!("object is being deleted: pizzas.{GROUP} \"c\" already exists"));
}

// === propagation policy ===

#[tokio::test]
async fn propagation_policy_is_validated_as_upstream() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_pizza(&admin, "default", "v", &[("tomato", 1)]).await;
    let path = pizza("default", "v");

    let status = delete_with(&admin, &path, &json!({ "propagationPolicy": "Sideways" }))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
    );
    assert_eq!(status["details"]["kind"], "DeleteOptions");
    assert_eq!(status["details"]["group"], "meta.k8s.io");
    assert_eq!(status["details"]["causes"][0]["field"], "propagationPolicy");

    let status =
        delete_with(&admin, &path, &json!({ "propagationPolicy": "Orphan", "orphanDependents": true }))
            .await
            .expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Orphan\": orphanDependents and deletionPropagation cannot be both set"
    );
    // From the query too.
    admin.delete(&format!("{path}?propagationPolicy=Never")).await.expect_status(422, "Invalid");
    let status =
        delete_with(&admin, &path, &json!({ "dryRun": ["Nope"] })).await.expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Nope\"}: supported values: \"All\""
    );
    assert_eq!(admin.get(&path).await.expect_json(200), created, "invalid options changed the pizza");

    // Background is what kubectl sends by default: deleted at once.
    delete_with(&admin, &path, &json!({ "propagationPolicy": "Background" })).await.expect(200);
    admin.get(&path).await.expect(404);
}

#[tokio::test]
async fn orphan_and_foreground_add_the_garbage_collector_finalizers() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "default", "o", &[("tomato", 1)]).await;
    let orphaned = delete_with(&admin, &pizza("default", "o"), &json!({ "propagationPolicy": "Orphan" }))
        .await
        .expect_json(200);
    assert_eq!(orphaned["metadata"]["finalizers"], json!(["orphan"]));
    assert!(orphaned["metadata"]["deletionTimestamp"].is_string());

    create_pizza(&admin, "default", "fg", &[("tomato", 1)]).await;
    let foreground = admin
        .delete(&format!("{}?propagationPolicy=Foreground", pizza("default", "fg")))
        .await
        .expect_json(200);
    assert_eq!(foreground["metadata"]["finalizers"], json!(["foregroundDeletion"]));

    // Without a garbage collector someone must clear them; then the pizza goes.
    admin.patch(&pizza("default", "fg"), &json!({ "metadata": { "finalizers": null } })).await.expect(200);
    admin.get(&pizza("default", "fg")).await.expect(404);

    // Both at once are invalid on any object.
    let mut both = pizza_obj("both", &[("tomato", 1)]);
    both["metadata"]["finalizers"] = json!(["orphan", "foregroundDeletion"]);
    let status = admin.post(&pizzas("default"), &both).await.expect_status(422, "Invalid");
    assert_eq!(
        status["message"],
        format!(
            "Pizza.{GROUP} \"both\" is invalid: metadata.finalizers: Invalid value: []string{{\"orphan\", \"foregroundDeletion\"}}: finalizer orphan and foregroundDeletion cannot be both set"
        )
    );
}

// === preconditions ===

#[tokio::test]
async fn preconditions_are_checked_for_finalizer_and_graceful_deletes() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_with_finalizers(&admin, "pre", &["example.com/a"]).await;
    let path = pizza("default", "pre");
    let uid = created["metadata"]["uid"].as_str().unwrap().to_owned();

    let status = delete_with(&admin, &path, &json!({ "preconditions": { "uid": "not-it" } }))
        .await
        .expect_status(409, "Conflict");
    assert_eq!(
        status["message"],
        format!(
            "Operation cannot be fulfilled on Pizza.{GROUP} \"pre\": the UID in the precondition (not-it) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
        )
    );
    let status = delete_with(&admin, &path, &json!({ "preconditions": { "resourceVersion": "1" } }))
        .await
        .expect_status(409, "Conflict");
    assert_eq!(
        status["message"],
        format!(
            "Operation cannot be fulfilled on Pizza.{GROUP} \"pre\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({}). The object might have been modified",
            rv(&created)
        )
    );
    assert_eq!(admin.get(&path).await.expect_json(200), created);
    let ok = json!({ "preconditions": { "uid": uid, "resourceVersion": rv(&created).to_string() }, "gracePeriodSeconds": 30 });
    let marked = delete_with(&admin, &path, &ok).await.expect_json(200);
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
}

// === dry run ===

#[tokio::test]
async fn dry_run_deletes_of_a_finalizer_pizza_change_nothing() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let created = create_with_finalizers(&admin, "dry", &["example.com/a"]).await;
    let path = pizza("default", "dry");
    let mut watch = admin
        .watch(&format!("{}?watch=true&resourceVersion={}", pizzas("default"), rv(&created)))
        .await
        .expect("watch starts");

    let answer = admin.delete(&format!("{path}?dryRun=All")).await.expect_json(200);
    assert!(answer["metadata"]["deletionTimestamp"].is_string(), "the answer shows what would happen");
    let answer = delete_with(&admin, &path, &json!({ "dryRun": ["All"], "gracePeriodSeconds": 30 }))
        .await
        .expect_json(200);
    assert_eq!(answer["metadata"]["deletionGracePeriodSeconds"], 30);
    delete_with(&admin, &path, &json!({ "dryRun": ["All"], "propagationPolicy": "Orphan" }))
        .await
        .expect(200);
    assert_eq!(admin.get(&path).await.expect_json(200), created);
    watch.expect_quiet(Duration::from_millis(300)).await;

    // Mark it for real; a dry-run update that clears the finalizer keeps it.
    let marked = admin.delete(&path).await.expect_json(200);
    assert_eq!(watch.next_event().await["type"], "MODIFIED");
    let answer = admin
        .request(
            Method::PATCH,
            &format!("{path}?dryRun=All"),
            &[("content-type", "application/merge-patch+json")],
            serde_json::to_vec(&json!({ "metadata": { "finalizers": null } })).unwrap(),
        )
        .await
        .expect_json(200);
    assert!(answer["metadata"]["finalizers"].is_null());
    assert_eq!(admin.get(&path).await.expect_json(200), marked);
    watch.expect_quiet(Duration::from_millis(300)).await;
}
