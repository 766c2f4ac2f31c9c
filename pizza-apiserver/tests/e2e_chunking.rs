//! A port, in our own code, of upstream's end-to-end chunking test
//! (`test/e2e/apimachinery/chunking.go`): 400 objects read in pages, every page a snapshot at
//! one resourceVersion with an exact `remainingItemCount`, and the path where the first
//! page's revision has been compacted away (410 with an inconsistent-continue token).

use piazza_testing::TestClient;
use serde_json::Value;

use crate::http_common::*;

const NS: &str = "e2e-chunking";
const TOTAL: usize = 400;

fn name(i: usize) -> String {
    format!("template-{i:04}")
}

async fn seed(server: &piazza_testing::TestServer) -> TestClient {
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    for i in 0..TOTAL {
        create_pizza(&admin, NS, &name(i), &[("tomato", 1)]).await;
    }
    admin
}

fn items(list: &Value) -> &Vec<Value> {
    list["items"].as_array().unwrap_or_else(|| panic!("no items in {list}"))
}

fn continue_token(list: &Value) -> Option<String> {
    list["metadata"]["continue"].as_str().filter(|t| !t.is_empty()).map(str::to_owned)
}

/// Upstream's check: no count on the last page, otherwise exactly what is left.
fn check_remaining(list: &Value, found_before: usize) {
    let remaining = &list["metadata"]["remainingItemCount"];
    match continue_token(list) {
        None => assert!(remaining.is_null(), "the last page has no remainingItemCount: {}", list["metadata"]),
        Some(_) => {
            let remaining =
                remaining.as_u64().unwrap_or_else(|| panic!("remainingItemCount in {}", list["metadata"]));
            assert_eq!(remaining as usize + items(list).len() + found_before, TOTAL, "{}", list["metadata"]);
        }
    }
}

/// Reads the whole collection with page sizes from `limits` (cycled); checks every page.
async fn read_in_pages(client: &TestClient, limits: &[usize]) {
    let (mut found, mut first_rv, mut token) = (0, None, None::<String>);
    for limit in limits.iter().cycle() {
        let mut path = format!("{}?limit={limit}", pizzas(NS));
        if let Some(token) = &token {
            path.push_str(&format!("&continue={token}"));
        }
        let list = client.get(&path).await.expect_json(200);
        assert!(items(&list).len() <= *limit);
        let page_rv = rv(&list);
        assert_eq!(
            *first_rv.get_or_insert(page_rv),
            page_rv,
            "every page is read at the first page's revision"
        );
        check_remaining(&list, found);
        for item in items(&list) {
            assert_eq!(item["metadata"]["name"], name(found));
            found += 1;
        }
        token = continue_token(&list);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(found, TOTAL);
}

#[tokio::test]
async fn lists_come_back_in_consistent_chunks() {
    let server = start().await;
    let client = seed(&server).await;
    read_in_pages(&client, &[17]).await;
    // Upstream uses random page sizes up to a tenth of the total; these are fixed but varied.
    read_in_pages(&client, &[1, 40, 7, 23, 39, 2]).await;
    read_in_pages(&client, &[13, 31]).await;

    // A write between two pages does not show in the later pages.
    let first = client.get(&format!("{}?limit=17", pizzas(NS))).await.expect_json(200);
    client.delete(&pizza(NS, &name(399))).await.expect(200);
    create_pizza(&client, NS, "template-zzzz", &[("tomato", 1)]).await;
    let second = client
        .get(&format!("{}?limit=400&continue={}", pizzas(NS), continue_token(&first).unwrap()))
        .await
        .expect_json(200);
    assert_eq!(rv(&second), rv(&first));
    let names: Vec<&str> = items(&second).iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), TOTAL - 17);
    assert_eq!(names.last(), Some(&"template-0399"), "the snapshot still has the deleted object");

    let all = client.get(&format!("{}?limit={}", pizzas(NS), TOTAL + 1)).await.expect_json(200);
    assert_eq!(items(&all).len(), TOTAL, "one deleted, one created");
    assert!(continue_token(&all).is_none());
}

#[tokio::test]
async fn a_compacted_first_page_continues_inconsistently_from_the_last_key() {
    let server = start().await;
    let client = seed(&server).await;
    let one_tenth = TOTAL / 10;
    let first = client.get(&format!("{}?limit={one_tenth}", pizzas(NS))).await.expect_json(200);
    check_remaining(&first, 0);
    let first_token = continue_token(&first).expect("a continue token");

    // A write elsewhere, then compaction past the first page's revision.
    create_pizza(&client, "e2e-chunking-other", "elsewhere", &[("tomato", 1)]).await;
    let current = server.storage().current_revision().await.unwrap();
    server.storage().compact(current).await.unwrap();

    let expired = client.get(&format!("{}?limit={one_tenth}&continue={first_token}", pizzas(NS))).await;
    let status = expired.expect_status(410, "Expired");
    let inconsistent =
        status["metadata"]["continue"].as_str().expect("a continue token in the Status").to_owned();
    assert!(!inconsistent.is_empty());

    let second = client
        .get(&format!("{}?limit={one_tenth}&continue={inconsistent}", pizzas(NS)))
        .await
        .expect_json(200);
    assert_ne!(rv(&second), rv(&first), "an inconsistent continuation reads at a newer revision");
    assert_eq!(items(&second).len(), one_tenth);
    let mut found = one_tenth;
    check_remaining(&second, found);
    for item in items(&second) {
        assert_eq!(item["metadata"]["name"], name(found));
        found += 1;
    }

    let last_rv = rv(&second);
    let mut token = continue_token(&second);
    while let Some(t) = token {
        let page =
            client.get(&format!("{}?limit={one_tenth}&continue={t}", pizzas(NS))).await.expect_json(200);
        check_remaining(&page, found);
        assert!(items(&page).len() <= one_tenth);
        assert_eq!(rv(&page), last_rv, "later pages stay at the continuation's revision");
        for item in items(&page) {
            assert_eq!(item["metadata"]["name"], name(found));
            found += 1;
        }
        token = continue_token(&page);
    }
    assert_eq!(found, TOTAL);
}
