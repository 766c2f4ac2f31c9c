//! A port, in our own code, of upstream's end-to-end Table test
//! (`test/e2e/apimachinery/table_conversion.go`), asking for `meta.k8s.io/v1beta1` Tables as
//! that test does: one object, paged lists, and a cluster-scoped kind.

use serde_json::Value;

use crate::http_common::*;

const TABLE_V1BETA1: &str = "application/json;as=Table;v=v1beta1;g=meta.k8s.io";

fn first_cells(table: &Value) -> Vec<&str> {
    table["rows"].as_array().unwrap().iter().map(|r| r["cells"][0].as_str().unwrap()).collect()
}

fn check_shape(table: &Value) {
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1beta1");
    let columns = table["columnDefinitions"].as_array().unwrap();
    assert_eq!(columns[0]["name"], "Name");
    for row in table["rows"].as_array().unwrap() {
        assert_eq!(row["cells"].as_array().unwrap().len(), columns.len(), "one cell per column: {row}");
    }
}

#[tokio::test]
async fn one_object_as_a_table() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "tables", "pizza-1", &[("salami", 1)]).await;
    let response = admin.get_with(&pizza("tables", "pizza-1"), &[("accept", TABLE_V1BETA1)]).await;
    let table = response.expect_json(200);
    assert_eq!(response.header("content-type"), TABLE_V1BETA1);
    check_shape(&table);
    assert!(table["columnDefinitions"].as_array().unwrap().len() > 2);
    assert_eq!(first_cells(&table), ["pizza-1"]);
}

#[tokio::test]
async fn paged_lists_as_tables() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    for i in 0..20 {
        create_pizza(&admin, "tables", &format!("template-{i:04}"), &[("tomato", 1)]).await;
    }
    let first = admin.get_with(&format!("{}?limit=2", pizzas("tables")), &[("accept", TABLE_V1BETA1)]).await;
    let first = first.expect_json(200);
    check_shape(&first);
    assert_eq!(first_cells(&first), ["template-0000", "template-0001"]);
    assert!(!first["metadata"]["resourceVersion"].as_str().unwrap_or_default().is_empty());
    let token = first["metadata"]["continue"].as_str().unwrap_or_default();
    assert!(!token.is_empty(), "a continue token: {}", first["metadata"]);

    let next = admin
        .get_with(&format!("{}?continue={token}", pizzas("tables")), &[("accept", TABLE_V1BETA1)])
        .await
        .expect_json(200);
    let names = first_cells(&next);
    assert_eq!(names.first(), Some(&"template-0002"));
    assert_eq!(names.len(), 18);
}

#[tokio::test]
async fn a_cluster_scoped_kind_as_a_table() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    let table = admin.get_with(&toppings(), &[("accept", TABLE_V1BETA1)]).await.expect_json(200);
    check_shape(&table);
    assert!(table["columnDefinitions"].as_array().unwrap().len() >= 2);
    assert_eq!(first_cells(&table), ["mozzarella", "salami", "tomato"]);
    assert!(!table["metadata"]["resourceVersion"].as_str().unwrap_or_default().is_empty());
}

#[tokio::test]
async fn a_406_for_an_endpoint_that_has_no_table_form() {
    // Upstream posts a SelfSubjectAccessReview asking for a Table; here the `bake` action
    // subresource plays that part: it answers with an object that has no Table form.
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    create_pizza(&admin, "tables", "to-bake", &[("salami", 1)]).await;
    let response = admin
        .request(
            piazza_testing::Method::POST,
            &format!("{}/bake", pizza("tables", "to-bake")),
            &[
                ("accept", "application/json;as=Table;v=v1;g=meta.k8s.io"),
                ("content-type", "application/json"),
            ],
            "{}",
        )
        .await;
    response.expect_status(406, "NotAcceptable");
    let baked = admin.get(&pizza("tables", "to-bake")).await.expect_json(200);
    assert!(baked["status"]["bakedAt"].is_null(), "nothing happened: {}", baked["status"]);
}
