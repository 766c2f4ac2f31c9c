//! Impersonation over real TLS: `Impersonate-*` headers, each authorized as verb
//! `impersonate`; the impersonated user (with its groups) is who the final authorization sees.

use crate::http_common::*;
use piazza_testing::{HttpVersion, TestCa, TestServer};

fn message(response: &piazza_testing::TestResponse) -> String {
    response.json()["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn masters_may_impersonate_and_the_impersonated_user_is_authorized() {
    let server = start().await;
    let admin = server.admin_client();
    let list = pizzas("default");

    // Acting as bob, the admin loses system:masters: the final authorization sees bob.
    let response = admin.get_with(&list, &[("Impersonate-User", "bob")]).await;
    response.expect_status(403, "Forbidden");
    assert!(
        message(&response).contains("User \"bob\" cannot list resource \"pizzas\""),
        "{}",
        message(&response)
    );

    // The impersonated groups take effect.
    admin
        .get_with(&list, &[("Impersonate-User", "bob"), ("Impersonate-Group", "system:masters")])
        .await
        .expect(200);
    // Uid and extras are allowed to masters too, and HTTP/2 works the same.
    admin
        .http2()
        .get_with(
            &list,
            &[
                ("Impersonate-User", "bob"),
                ("Impersonate-Group", "system:masters"),
                ("Impersonate-Uid", "1234"),
                ("Impersonate-Extra-Scopes", "view"),
                ("Impersonate-Extra-Acme.com%2FTeam", "pizza"),
            ],
        )
        .await
        .expect(200);
    // Writes go through as the impersonated user.
    seed_toppings(&admin).await;
    let created = admin
        .request(
            piazza_testing::Method::POST,
            &list,
            &[
                ("Content-Type", "application/json"),
                ("Impersonate-User", "system:serviceaccount:default:chef"),
                ("Impersonate-Group", "system:masters"),
            ],
            serde_json::to_vec(&pizza_obj("margherita", &[("tomato", 1), ("mozzarella", 1)])).unwrap(),
        )
        .await;
    created.expect(201);
}

#[tokio::test]
async fn others_may_not_impersonate() {
    let server = start().await;
    let alice = server.client_for("alice", &["devs"]);
    let list = pizzas("default");
    let response = alice.get_with(&list, &[("Impersonate-User", "admin")]).await;
    response.expect_status(403, "Forbidden");
    assert_eq!(
        message(&response),
        "users \"admin\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    let status = response.json();
    assert_eq!(status["details"]["kind"], "users");
    assert_eq!(status["details"]["name"], "admin");

    // Asking for system:masters as a group is checked too (the user check comes first).
    let response = alice
        .get_with(&list, &[("Impersonate-User", "alice"), ("Impersonate-Group", "system:masters")])
        .await;
    response.expect_status(403, "Forbidden");
    assert!(message(&response).starts_with("users \"alice\" is forbidden"), "{}", message(&response));

    // A service account target is checked in its namespace.
    let response =
        alice.get_with(&list, &[("Impersonate-User", "system:serviceaccount:kube-system:admin")]).await;
    assert_eq!(
        message(&response),
        "serviceaccounts \"admin\" is forbidden: User \"alice\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"kube-system\""
    );

    // Anonymous callers are told to authenticate.
    server
        .anonymous_client()
        .get_with(&list, &[("Impersonate-User", "admin")])
        .await
        .expect_status(401, "Unauthorized");
}

#[tokio::test]
async fn groups_uid_or_extras_without_a_user_are_a_bad_request() {
    let server = start().await;
    let admin = server.admin_client();
    let list = pizzas("default");
    for headers in [
        &[("Impersonate-Group", "system:masters")][..],
        &[("Impersonate-Uid", "1")][..],
        &[("Impersonate-Extra-Scopes", "x")][..],
    ] {
        let response = admin.get_with(&list, headers).await;
        response.expect_status(400, "BadRequest");
        assert!(message(&response).ends_with("without impersonating a user"), "{}", message(&response));
    }
}

#[tokio::test]
async fn a_front_proxy_user_may_impersonate_when_allowed() {
    let ca = TestCa::new("front-proxy-ca").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.crt");
    ca.write_cert(&path).unwrap();
    let server =
        TestServer::start_with_args(&["--requestheader-client-ca-file", path.to_str().unwrap()], |storage| {
            pizza_apiserver::resources(storage).expect("pizza resources build")
        })
        .await;
    let proxy = server.client(Some(ca.sign("front-proxy-client", &[]).unwrap()), HttpVersion::Http1);
    let list = pizzas("default");
    let as_admin = [("X-Remote-User", "admin"), ("X-Remote-Group", "system:masters")];
    let response = proxy.get_with(&list, &[as_admin[0], as_admin[1], ("Impersonate-User", "dave")]).await;
    response.expect_status(403, "Forbidden");
    assert!(message(&response).contains("User \"dave\""), "{}", message(&response));
    let as_bob = [("X-Remote-User", "bob"), ("X-Remote-Group", "devs"), ("Impersonate-User", "admin")];
    let response = proxy.get_with(&list, &as_bob).await;
    assert!(
        message(&response).starts_with("users \"admin\" is forbidden: User \"bob\""),
        "{}",
        message(&response)
    );
}
