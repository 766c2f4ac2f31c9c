//! Server-side printing: `as=Table` for get, list and watch, and the
//! `PartialObjectMetadata[List]` views.

use crate::http_common::{create_pizza, pizza, pizzas, seed_toppings, start};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

#[tokio::test]
async fn list_and_get_as_table() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "t", "quattro", &[("salami", 2), ("tomato", 1)]).await;
    let list = admin.get_with(&pizzas("t"), &[("accept", TABLE)]).await;
    list.expect(200);
    assert_eq!(list.headers["content-type"], "application/json;as=Table;v=v1;g=meta.k8s.io");
    let table = list.json();
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    let columns: Vec<&str> =
        table["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["Name", "Toppings", "Cost", "Topping List", "Slices", "Phase", "Age"]);
    let priorities: Vec<i64> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["priority"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(priorities, [0, 0, 0, 1, 1, 1, 0], "the list, slices and phase are -o wide columns");
    let row = &table["rows"][0];
    assert_eq!(row["cells"][0], "quattro");
    assert_eq!(row["cells"][1], 2, "two different toppings");
    assert_eq!(row["cells"][2], 2.25, "2 × salami (1.0) + tomato (0.25)");
    assert_eq!(row["cells"][3], "2xsalami,tomato");
    assert_eq!(row["cells"][4], 8);
    assert_eq!(row["cells"][5], "");
    assert!(row["cells"][6].as_str().unwrap().ends_with('s'), "age like 0s: {row}");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["name"], "quattro");
    assert!(table["metadata"]["resourceVersion"].as_str().is_some());

    let one = admin
        .get_with(&format!("{}?includeObject=Object", pizza("t", "quattro")), &[("accept", TABLE)])
        .await;
    let one = one.expect_json(200);
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    assert_eq!(one["rows"][0]["object"]["kind"], "Pizza");
    assert_eq!(one["rows"][0]["object"]["spec"]["toppings"][0]["quantity"], 2);
    admin
        .get_with(&format!("{}?includeObject=Everything", pizza("t", "quattro")), &[("accept", TABLE)])
        .await
        .expect_status(400, "BadRequest");
}

#[tokio::test]
async fn partial_object_metadata_views() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "m", "a", &[("salami", 1)]).await;
    let list = admin
        .get_with(
            &pizzas("m"),
            &[("accept", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")],
        )
        .await
        .expect_json(200);
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(list["items"][0]["metadata"]["name"], "a");
    assert!(list["items"][0].get("spec").is_none());
    let one = admin
        .get_with(
            &pizza("m", "a"),
            &[("accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")],
        )
        .await
        .expect_json(200);
    assert_eq!(one["kind"], "PartialObjectMetadata");
    // The list view of a single object cannot be produced.
    admin
        .get_with(
            &pizza("m", "a"),
            &[("accept", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")],
        )
        .await
        .expect_status(406, "NotAcceptable");
}

#[tokio::test]
async fn watch_as_table_sends_headers_once() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "w", "first", &[("salami", 1)]).await;
    let mut watch = admin
        .watch_with(&format!("{}?watch=true", pizzas("w")), &[("accept", TABLE)])
        .await
        .unwrap_or_else(|r| panic!("watch refused: {}", r.text()));
    let first = watch.next_event().await;
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["kind"], "Table");
    assert!(first["object"]["columnDefinitions"].is_array());
    create_pizza(&admin, "w", "second", &[("tomato", 1)]).await;
    let second = watch.next_event().await;
    assert_eq!(second["object"]["rows"][0]["cells"][0], "second");
    assert!(second["object"].get("columnDefinitions").is_none());
}
