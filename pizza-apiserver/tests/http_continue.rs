//! Paginated lists whose continue token outlived compaction: 410 Expired with upstream's
//! message and an "inconsistent continue" token in the Status, which continues the list at
//! the latest revision.

use crate::http_common;
use crate::http_common::{create_pizza, pizzas, seed_toppings, start};

#[tokio::test]
async fn an_expired_continue_token_is_410_with_an_inconsistent_continue_token() {
    let server = start().await;
    let admin = server.admin_client();
    seed_toppings(&admin).await;
    for name in ["a", "b", "c", "d"] {
        create_pizza(&admin, "pages", name, &[("salami", 1)]).await;
    }
    let first = admin.get(&format!("{}?limit=2", pizzas("pages"))).await.expect(200).json();
    let token = first["metadata"]["continue"].as_str().expect("a continue token").to_owned();
    let names: Vec<&str> =
        first["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);

    // Changes after the first page, then compaction of the revision the token points at.
    create_pizza(&admin, "pages", "e", &[("salami", 1)]).await;
    admin.delete(&http_common::pizza("pages", "c")).await.expect(200);
    let current = server.storage().current_revision().await.unwrap();
    server.storage().compact(current).await.unwrap();

    let expired = admin.get(&format!("{}?limit=2&continue={token}", pizzas("pages"))).await;
    let status = expired.expect_status(410, "Expired");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("The provided continue parameter is too old to display a consistent list result."),
        "{status}"
    );
    let inconsistent =
        status["metadata"]["continue"].as_str().expect("an inconsistent continue token").to_owned();
    assert_ne!(inconsistent, token);

    // The inconsistent token continues after "b" at the latest revision: "c" is gone, "e" is there.
    let mut rest = Vec::new();
    let mut next = Some(inconsistent);
    while let Some(token) = next {
        let page =
            admin.get(&format!("{}?limit=2&continue={token}", pizzas("pages"))).await.expect(200).json();
        for item in page["items"].as_array().unwrap() {
            rest.push(item["metadata"]["name"].as_str().unwrap().to_owned());
        }
        next = page["metadata"]["continue"].as_str().map(str::to_owned);
    }
    assert_eq!(rest, ["d", "e"]);
}
