use std::convert::Infallible;

use async_trait::async_trait;
use http::HeaderValue;
use http_body_util::BodyExt;
use piazza_core::request_info::RequestInfoFactory;
use piazza_core::user::MASTERS_GROUP;
use tower::util::BoxCloneSyncService;

use super::*;
use crate::filters::authorization::{Decision, PrivilegedGroups};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

fn user(name: &str, groups: &[&str]) -> UserInfo {
    UserInfo {
        name: name.into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..Default::default()
    }
}

/// Upstream's test authorizer, reduced to the cases ported here: group-based permissions on
/// the impersonate verb.
struct ImpersonateAuthorizer;

#[async_trait]
impl Authorizer for ImpersonateAuthorizer {
    async fn authorize(&self, user: &UserInfo, info: &RequestInfo) -> Decision {
        let first = user.groups.first().map(String::as_str).unwrap_or_default();
        let second = user.groups.get(1).map(String::as_str).unwrap_or_default();
        let (verb, resource, sub, group, name) = (
            info.verb.as_str(),
            info.resource.as_str(),
            info.subresource.as_str(),
            info.api_group.as_str(),
            info.name.as_str(),
        );
        let allowed = verb == "impersonate"
            && match (first, second) {
                ("wheel", _) if resource == "users" => true,
                ("sa-impersonater", _) if resource == "serviceaccounts" => true,
                ("regular-impersonater", _) if resource == "users" => true,
                (_, "group-impersonater") if resource == "groups" || resource == "users" => true,
                (_, "extra-setter-scopes")
                    if (resource == "userextras" && sub == "scopes") || resource == "users" =>
                {
                    true
                }
                (_, "escaped-scopes") => true,
                ("everything-impersonater", _) => match resource {
                    "users" | "groups" => group.is_empty(),
                    "uids" => name == "some-uid" && group == "authentication.k8s.io",
                    "userextras" => sub == "scopes" && group == "authentication.k8s.io",
                    _ => false,
                },
                _ => false,
            };
        if allowed { Decision::Allow } else { Decision::NoOpinion }
    }
}

fn authorizers() -> Vec<Arc<dyn Authorizer>> {
    vec![Arc::new(PrivilegedGroups::default()), Arc::new(ImpersonateAuthorizer)]
}

async fn run(requester: UserInfo, pairs: &[(&str, &str)]) -> Result<UserInfo, ApiError> {
    let h = headers(pairs);
    let targets = requested_targets(&h)?;
    impersonate(&authorizers(), &requester, &targets, h.contains_key(IMPERSONATE_GROUP_HEADER)).await
}

#[tokio::test]
async fn upstream_cases() {
    // allowed-group
    let got = run(
        user("dev", &["wheel", "group-impersonater"]),
        &[("impersonate-user", "system:admin"), ("impersonate-group", "some-group")],
    )
    .await
    .unwrap();
    assert_eq!(got, user("system:admin", &["some-group", AUTHENTICATED_GROUP]));

    // disallowed-group
    let err = run(
        user("dev", &["wheel"]),
        &[("impersonate-user", "system:admin"), ("impersonate-group", "some-group")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 403);

    // allowed-userextras
    let got = run(
        user("dev", &["wheel", "extra-setter-scopes"]),
        &[
            ("impersonate-user", "system:admin"),
            ("impersonate-extra-scopes", "scope-a"),
            ("impersonate-extra-scopes", "scope-b"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(got.name, "system:admin");
    assert_eq!(got.groups, vec![AUTHENTICATED_GROUP]);
    assert_eq!(got.extra["scopes"], vec!["scope-a", "scope-b"]);

    // disallowed-userextra: another key than the one allowed
    let err = run(
        user("dev", &["wheel", "extra-setter-scopes"]),
        &[("impersonate-user", "system:admin"), ("impersonate-extra-project", "p")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 403);

    // percent-escaped-userextras and almost-percent-escaped-userextras
    let got = run(
        user("dev", &["wheel", "escaped-scopes"]),
        &[
            ("impersonate-user", "system:admin"),
            ("impersonate-extra-example.com%2fescaped%e1%9b%84scopes", "scope-a"),
            ("impersonate-extra-almost%zzpercent%xxencoded", "scope-b"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(got.extra["example.com/escapedᛄscopes"], vec!["scope-a"]);
    assert_eq!(got.extra["almost%zzpercent%xxencoded"], vec!["scope-b"]);

    // allowed-users-impersonation / disallowed-impersonating
    let got = run(user("dev", &["regular-impersonater"]), &[("impersonate-user", "tester")]).await.unwrap();
    assert_eq!(got, user("tester", &[AUTHENTICATED_GROUP]));
    assert_eq!(
        run(user("dev", &["sa-impersonater"]), &[("impersonate-user", "tester")]).await.unwrap_err().code,
        403
    );

    // allowed-sa-impersonating: the service account's groups come with it
    let got =
        run(user("dev", &["sa-impersonater"]), &[("impersonate-user", "system:serviceaccount:foo:default")])
            .await
            .unwrap();
    assert_eq!(
        got,
        user(
            "system:serviceaccount:foo:default",
            &["system:serviceaccounts", "system:serviceaccounts:foo", AUTHENTICATED_GROUP]
        )
    );

    // anonymous-username-prevents-adding-authenticated-group
    let admin = user("system:admin", &[MASTERS_GROUP]);
    let got = run(admin.clone(), &[("impersonate-user", "system:anonymous")]).await.unwrap();
    assert_eq!(got, user(ANONYMOUS_USER, &[UNAUTHENTICATED_GROUP]));
    // anonymous-user-prevents-double-adding-unauthenticated-group
    let got = run(
        admin.clone(),
        &[("impersonate-user", "system:anonymous"), ("impersonate-group", UNAUTHENTICATED_GROUP)],
    )
    .await
    .unwrap();
    assert_eq!(got.groups, vec![UNAUTHENTICATED_GROUP]);
    // unauthenticated-group-prevents-adding-authenticated-group
    let got =
        run(admin.clone(), &[("impersonate-user", "unknown"), ("impersonate-group", UNAUTHENTICATED_GROUP)])
            .await
            .unwrap();
    assert_eq!(got.groups, vec![UNAUTHENTICATED_GROUP]);
    // specified-authenticated-group-prevents-double-adding-authenticated-group
    let got = run(
        admin.clone(),
        &[
            ("impersonate-user", "unknown"),
            ("impersonate-group", "some-group"),
            ("impersonate-group", AUTHENTICATED_GROUP),
        ],
    )
    .await
    .unwrap();
    assert_eq!(got.groups, vec!["some-group", AUTHENTICATED_GROUP]);

    // allowed-user-impersonation-with-uid / disallowed-user-impersonation-with-uid
    let everything = user("dev", &["everything-impersonater"]);
    let got = run(everything.clone(), &[("impersonate-user", "tester"), ("impersonate-uid", "some-uid")])
        .await
        .unwrap();
    assert_eq!(got.uid, "some-uid");
    assert_eq!(got.groups, vec![AUTHENTICATED_GROUP]);
    let err =
        run(everything.clone(), &[("impersonate-user", "tester"), ("impersonate-uid", "disallowed-uid")])
            .await
            .unwrap_err();
    assert_eq!(err.code, 403);

    // allowed-impersonation-with-all-headers
    let got = run(
        everything,
        &[
            ("impersonate-user", "tester"),
            ("impersonate-uid", "some-uid"),
            ("impersonate-group", AUTHENTICATED_GROUP),
            ("impersonate-extra-scopes", "scope-a"),
            ("impersonate-extra-scopes", "scope-b"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(got.name, "tester");
    assert_eq!(got.uid, "some-uid");
    assert_eq!(got.groups, vec![AUTHENTICATED_GROUP]);
    assert_eq!(got.extra["scopes"], vec!["scope-a", "scope-b"]);
}

#[tokio::test]
async fn without_a_user_is_a_bad_request() {
    for pairs in [
        &[("impersonate-group", "some-group")][..],
        &[("impersonate-extra-scopes", "scope-a")][..],
        &[("impersonate-uid", "some-uid")][..],
        &[("impersonate-user", ""), ("impersonate-group", "g")][..],
    ] {
        let err = requested_targets(&headers(pairs)).unwrap_err();
        assert_eq!(err.code, 400, "{pairs:?}");
        assert!(err.message.starts_with("requested ["), "{}", err.message);
        assert!(err.message.ends_with("] without impersonating a user"), "{}", err.message);
    }
    let err =
        requested_targets(&headers(&[("impersonate-group", "g"), ("impersonate-uid", "u")])).unwrap_err();
    assert_eq!(err.message, "requested [Group \"g\", UID \"u\"] without impersonating a user");
    assert!(requested_targets(&headers(&[("accept", "x")])).unwrap().is_empty());
}

#[test]
fn targets_become_the_attributes_upstream_authorizes() {
    let h = headers(&[
        ("Impersonate-User", "bob"),
        ("Impersonate-Group", "devs"),
        ("Impersonate-Group", "ops"),
        ("Impersonate-Extra-Scopes", "read"),
        ("Impersonate-Uid", "42"),
    ]);
    let infos: Vec<RequestInfo> = requested_targets(&h).unwrap().iter().map(Target::request_info).collect();
    let shape: Vec<(&str, &str, &str, &str, &str)> = infos
        .iter()
        .map(|i| {
            (
                i.verb.as_str(),
                i.api_group.as_str(),
                i.resource.as_str(),
                i.subresource.as_str(),
                i.name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            ("impersonate", "", "users", "", "bob"),
            ("impersonate", "", "groups", "", "devs"),
            ("impersonate", "", "groups", "", "ops"),
            ("impersonate", "authentication.k8s.io", "userextras", "scopes", "read"),
            ("impersonate", "authentication.k8s.io", "uids", "", "42"),
        ]
    );
    assert!(infos.iter().all(|i| i.is_resource_request && i.api_version == "v1"));
    let sa = Target::ServiceAccount { namespace: "ns".into(), name: "robot".into() }.request_info();
    assert_eq!(
        (sa.namespace.as_str(), sa.resource.as_str(), sa.name.as_str()),
        ("ns", "serviceaccounts", "robot")
    );
}

#[tokio::test]
async fn denial_uses_upstreams_message() {
    let bob = user("bob", &[AUTHENTICATED_GROUP]);
    let err = run(bob.clone(), &[("impersonate-user", "alice")]).await.unwrap_err();
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "users \"alice\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    let err = run(bob.clone(), &[("impersonate-user", "system:serviceaccount:ns:robot")]).await.unwrap_err();
    assert_eq!(
        err.message,
        "serviceaccounts \"robot\" is forbidden: User \"bob\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"ns\""
    );
    let regular = user("dev", &["regular-impersonater"]);
    let err =
        run(regular, &[("impersonate-user", "x"), ("impersonate-extra-scopes", "s")]).await.unwrap_err();
    assert_eq!(
        err.message,
        "userextras.authentication.k8s.io \"s\" is forbidden: User \"dev\" cannot impersonate resource \"userextras/scopes\" in API group \"authentication.k8s.io\" at the cluster scope"
    );
}

#[test]
fn service_account_names_are_split_as_upstream() {
    assert_eq!(split_service_account("system:serviceaccount:ns:sa"), Some(("ns", "sa")));
    assert_eq!(split_service_account("system:serviceaccount:ns:a.b"), Some(("ns", "a.b")));
    for not_sa in [
        "system:serviceaccount:ns",
        "system:serviceaccount::sa",
        "system:serviceaccount:ns:",
        "system:serviceaccount:ns:sa:extra",
        "system:serviceaccount:Ns:sa",
        "system:serviceaccount:n.s:sa",
        "system:serviceaccount:ns:-sa",
        "system:serviceaccounts:ns:sa",
        "alice",
    ] {
        assert_eq!(split_service_account(not_sa), None, "{not_sa}");
    }
    let long_ns = format!("system:serviceaccount:{}:sa", "a".repeat(64));
    assert_eq!(split_service_account(&long_ns), None);
}

#[test]
fn hostile_headers_are_refused_or_bounded() {
    let mut h = HeaderMap::new();
    h.insert("impersonate-user", HeaderValue::from_bytes(b"\xffadmin").unwrap());
    assert_eq!(requested_targets(&h).unwrap_err().code, 400);
    let mut h = headers(&[("impersonate-user", "u")]);
    h.append("impersonate-group", HeaderValue::from_bytes(b"\x80").unwrap());
    assert_eq!(requested_targets(&h).unwrap_err().code, 400);
    let mut h = headers(&[("impersonate-user", "u")]);
    h.append("impersonate-extra-k", HeaderValue::from_bytes(b"\xfe").unwrap());
    assert_eq!(requested_targets(&h).unwrap_err().code, 400);
    // Odd but valid: an empty extra key, malformed escapes, a header named exactly the prefix.
    let h = headers(&[("impersonate-user", "u"), ("impersonate-extra-", "v"), ("impersonate-extra-%", "w")]);
    let targets = requested_targets(&h).unwrap();
    assert!(targets.contains(&Target::Extra { key: String::new(), value: "v".into() }));
    assert!(targets.contains(&Target::Extra { key: "%".into(), value: "w".into() }));
    // Only the first Impersonate-User value counts, as Go's Header.Get.
    let h = headers(&[("impersonate-user", "first"), ("impersonate-user", "second")]);
    assert_eq!(requested_targets(&h).unwrap(), vec![Target::User("first".into())]);
}

fn request(pairs: &[(&str, &str)], as_user: UserInfo) -> Request {
    let mut builder = http::Request::builder().uri("/apis/g.io/v1/namespaces/ns/pizzas");
    for (name, value) in pairs {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(crate::body::request_body("")).unwrap();
    request.extensions_mut().insert(
        RequestInfoFactory::default().parse("GET", "/apis/g.io/v1/namespaces/ns/pizzas", None).unwrap(),
    );
    request.extensions_mut().insert(as_user);
    request
}

/// What the rest of the chain saw: the user, the original user and the headers.
type Seen = Arc<std::sync::Mutex<Option<(UserInfo, Option<OriginalUser>, HeaderMap)>>>;

/// The rest of the chain: records the user and headers it sees.
fn recording_next() -> (Next, Seen) {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let record = Arc::clone(&seen);
    let inner = tower::service_fn(move |request: Request| {
        let record = Arc::clone(&record);
        async move {
            let user = request.extensions().get::<UserInfo>().cloned().unwrap();
            let original = request.extensions().get::<OriginalUser>().cloned();
            *record.lock().unwrap() = Some((user, original, request.headers().clone()));
            Ok::<_, Infallible>(Response::new(crate::body::empty()))
        }
    });
    (Next::new(BoxCloneSyncService::new(inner)), seen)
}

#[tokio::test]
async fn the_filter_switches_user_and_clears_headers() {
    let authorizers = Arc::new(authorizers());
    let admin = user("admin", &[MASTERS_GROUP, AUTHENTICATED_GROUP]);
    let (next, seen) = recording_next();
    let pairs = [
        ("impersonate-user", "bob"),
        ("impersonate-group", "devs"),
        ("impersonate-uid", "7"),
        ("impersonate-extra-team", "a"),
        ("accept", "application/json"),
    ];
    let response = impersonate_request(&authorizers, request(&pairs, admin.clone()), next).await;
    assert_eq!(response.status(), 200);
    let (user_seen, original, headers_seen) = seen.lock().unwrap().take().unwrap();
    assert_eq!(user_seen.name, "bob");
    assert_eq!(user_seen.groups, vec!["devs", AUTHENTICATED_GROUP]);
    assert_eq!(user_seen.uid, "7");
    assert_eq!(original, Some(OriginalUser(admin.clone())));
    assert_eq!(headers_seen.keys().map(HeaderName::as_str).collect::<Vec<_>>(), vec!["accept"]);

    // No impersonation: the request passes untouched.
    let (next, seen) = recording_next();
    let response = impersonate_request(&authorizers, request(&[], admin.clone()), next).await;
    assert_eq!(response.status(), 200);
    let (user_seen, original, _) = seen.lock().unwrap().take().unwrap();
    assert_eq!(user_seen, admin);
    assert_eq!(original, None);

    // Denied: 403 Status, the rest of the chain never runs.
    let (next, seen) = recording_next();
    let bob = user("bob", &[AUTHENTICATED_GROUP]);
    let response =
        impersonate_request(&authorizers, request(&[("impersonate-user", "admin")], bob), next).await;
    assert_eq!(response.status(), 403);
    assert!(seen.lock().unwrap().is_none());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(status["details"]["kind"], "users");
    assert_eq!(status["details"]["name"], "admin");

    // Groups without a user: 400, the rest of the chain never runs.
    let (next, seen) = recording_next();
    let response =
        impersonate_request(&authorizers, request(&[("impersonate-group", MASTERS_GROUP)], admin), next)
            .await;
    assert_eq!(response.status(), 400);
    assert!(seen.lock().unwrap().is_none());
}
