use std::convert::Infallible;

use http::HeaderValue;
use piazza_core::user::MASTERS_GROUP;
use tower::util::BoxCloneSyncService;

use super::*;
use crate::filters::test_certs::TestCa;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

fn names(user: &[&str], uid: &[&str], group: &[&str], extra: &[&str]) -> RequestHeaderNames {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    RequestHeaderNames::new(&own(user), &own(uid), &own(group), &own(extra)).unwrap()
}

fn parts(pairs: &[(&str, &str)], chain: Option<Vec<CertificateDer<'static>>>) -> http::request::Parts {
    let mut builder = http::Request::builder().uri("/apis");
    for (name, value) in pairs {
        builder = builder.header(*name, *value);
    }
    let (mut parts, ()) = builder.body(()).unwrap().into_parts();
    if let Some(chain) = chain {
        parts.extensions.insert(PeerCertificates(Arc::new(chain)));
    }
    parts
}

/// What the famous bug looked like: a client claiming to be a cluster admin.
const FORGED: &[(&str, &str)] =
    &[("X-Remote-User", "admin"), ("X-Remote-Group", MASTERS_GROUP), ("X-Remote-Extra-Scopes", "all")];

#[test]
fn reads_user_uid_groups_and_extra() {
    let h = headers(&[
        ("x-remote-user", "alice"),
        ("x-remote-uid", "1234"),
        ("x-remote-group", "devs"),
        ("x-remote-group", ""),
        ("x-remote-group", "a,b"),
        ("X-Remote-Extra-Scopes", "read"),
        ("x-remote-extra-scopes", "write"),
        ("X-REMOTE-EXTRA-Acme.com%2FProject", "p1"),
        ("x-remote-extra-empty", ""),
    ]);
    let user = user_from_headers(RequestHeaderNames::standard(), &h).unwrap();
    assert_eq!(user.name, "alice");
    assert_eq!(user.uid, "1234");
    // Empty values are skipped; commas do not split (as upstream).
    assert_eq!(user.groups, vec!["devs", "a,b", AUTHENTICATED_GROUP]);
    assert_eq!(user.extra["scopes"], vec!["read", "write"]);
    assert_eq!(user.extra["acme.com/project"], vec!["p1"]);
    assert_eq!(user.extra["empty"], vec![""]);
    assert_eq!(user.extra.len(), 3);
}

#[test]
fn first_non_empty_username_header_wins() {
    let n = names(&["X-First", "X-Second"], &["X-Uid"], &["X-Group"], &["X-Extra-"]);
    let h = headers(&[("x-first", ""), ("x-second", "bob"), ("x-second", "mallory")]);
    assert_eq!(user_from_headers(&n, &h).unwrap().name, "bob");
    let h = headers(&[("x-first", "carol"), ("x-second", "bob")]);
    assert_eq!(user_from_headers(&n, &h).unwrap().name, "carol");
    // Only the first value of a header counts, as Go's Header.Get.
    let h = headers(&[("x-first", ""), ("x-first", "eve")]);
    assert!(user_from_headers(&n, &h).is_none());
}

#[test]
fn no_username_means_no_identity() {
    let h = headers(&[("x-remote-group", "system:masters"), ("x-remote-uid", "1")]);
    assert!(user_from_headers(RequestHeaderNames::standard(), &h).is_none());
    assert!(user_from_headers(RequestHeaderNames::standard(), &HeaderMap::new()).is_none());
}

#[test]
fn only_the_configured_names_are_read() {
    let n = names(&["X-Custom-User"], &["X-Custom-Uid"], &["X-Custom-Group"], &["X-Custom-Extra-"]);
    let h = headers(&[
        ("x-remote-user", "admin"),
        ("x-remote-group", MASTERS_GROUP),
        ("x-remote-extra-scopes", "all"),
        ("x-custom-user", "dave"),
        ("x-custom-group", "ops"),
    ]);
    let user = user_from_headers(&n, &h).unwrap();
    assert_eq!(user.name, "dave");
    assert_eq!(user.groups, vec!["ops", AUTHENTICATED_GROUP]);
    assert!(user.extra.is_empty());
    // With custom names, the standard ones alone assert nobody.
    assert!(user_from_headers(&n, &headers(FORGED)).is_none());
}

#[test]
fn authenticated_group_is_added_as_upstream() {
    let n = RequestHeaderNames::standard();
    let user = user_from_headers(n, &headers(&[("x-remote-user", "u")])).unwrap();
    assert_eq!(user.groups, vec![AUTHENTICATED_GROUP]);
    let user = user_from_headers(
        n,
        &headers(&[("x-remote-user", "u"), ("x-remote-group", AUTHENTICATED_GROUP), ("x-remote-group", "g")]),
    )
    .unwrap();
    assert_eq!(user.groups, vec![AUTHENTICATED_GROUP, "g"]);
    let user =
        user_from_headers(n, &headers(&[("x-remote-user", "u"), ("x-remote-group", UNAUTHENTICATED_GROUP)]))
            .unwrap();
    assert_eq!(user.groups, vec![UNAUTHENTICATED_GROUP]);
    let user = user_from_headers(n, &headers(&[("x-remote-user", ANONYMOUS_USER)])).unwrap();
    assert!(user.groups.is_empty());
}

#[test]
fn extra_keys_are_lowercased_then_unescaped_as_upstream() {
    // The cases of upstream's impersonation and request-header tests.
    assert_eq!(unescape_extra_key("example.com%2fescaped%e1%9b%84scopes"), "example.com/escapedᛄscopes");
    assert_eq!(unescape_extra_key("almost%zzpercent%xxencoded"), "almost%zzpercent%xxencoded");
    assert_eq!(unescape_extra_key("Scopes"), "scopes");
    // Lowercasing happens first, so an escaped capital stays a capital.
    assert_eq!(unescape_extra_key("%41bc"), "Abc");
    // `+` is not a space in a path.
    assert_eq!(unescape_extra_key("a+b"), "a+b");
}

#[test]
fn hostile_extra_keys_never_panic_and_stay_recorded() {
    for (input, expected) in [
        ("%", "%"),
        ("%4", "%4"),
        ("abc%", "abc%"),
        ("%%41", "%%41"),
        ("%g1", "%g1"),
        ("%ff", "%ff"),       // not UTF-8 once decoded: kept escaped
        ("%c3%28", "%c3%28"), // invalid UTF-8 sequence
        ("%00", "\0"),        // decodes; a NUL is a valid (if odd) key
        ("", ""),
        ("%e1%9b", "%e1%9b"), // truncated UTF-8
    ] {
        assert_eq!(unescape_extra_key(input), expected, "{input:?}");
    }
    let long = "%41".repeat(10_000);
    assert_eq!(unescape_extra_key(&long), "A".repeat(10_000));
}

#[test]
fn every_short_key_unescapes_without_panicking() {
    // All strings of up to five characters over an alphabet of escape parts and non-ASCII.
    let alphabet = ['%', 'a', 'F', '0', 'g', 'é', '+'];
    let mut keys = vec![String::new()];
    for _ in 0..5 {
        let longer: Vec<String> =
            keys.iter().flat_map(|k| alphabet.iter().map(move |c| format!("{k}{c}"))).collect();
        for key in &longer {
            let out = unescape_extra_key(key);
            if !key.contains('%') {
                assert_eq!(out, key.to_ascii_lowercase());
            }
        }
        keys = longer;
    }
}

#[test]
fn non_utf8_values_are_skipped() {
    let mut h = HeaderMap::new();
    h.append("x-remote-user", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
    assert!(user_from_headers(RequestHeaderNames::standard(), &h).is_none());
    h.append("x-remote-user", HeaderValue::from_static("ignored-second-value"));
    assert!(user_from_headers(RequestHeaderNames::standard(), &h).is_none());
    let mut h = headers(&[("x-remote-user", "zoë")]);
    // UTF-8 beyond ASCII is fine (proxies forward such names).
    h.insert("x-remote-user", HeaderValue::from_bytes("zoë".as_bytes()).unwrap());
    h.append("x-remote-group", HeaderValue::from_bytes(b"\x80bad").unwrap());
    h.append("x-remote-group", HeaderValue::from_static("good"));
    h.append("x-remote-extra-k", HeaderValue::from_bytes(b"\xc3").unwrap());
    let user = user_from_headers(RequestHeaderNames::standard(), &h).unwrap();
    assert_eq!(user.name, "zoë");
    assert_eq!(user.groups, vec!["good", AUTHENTICATED_GROUP]);
    assert_eq!(user.extra["k"], Vec::<String>::new());
}

#[test]
fn configured_names_are_validated() {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let ok = own(&["X-Ok"]);
    assert!(RequestHeaderNames::new(&own(&[" "]), &ok, &ok, &ok).is_err());
    assert!(RequestHeaderNames::new(&ok, &own(&[""]), &ok, &ok).is_err());
    assert!(RequestHeaderNames::new(&ok, &ok, &own(&["bad header"]), &ok).is_err());
    assert!(RequestHeaderNames::new(&ok, &ok, &ok, &own(&["x:y"])).is_err());
    assert!(RequestHeaderNames::new(&ok, &ok, &ok, &own(&["ünï"])).is_err());
    let n = RequestHeaderNames::new(&own(&[" X-User "]), &ok, &ok, &own(&["X-Extra-"])).unwrap();
    assert_eq!(n.username[0].as_str(), "x-user");
    assert_eq!(n.extra_prefixes, vec!["x-extra-"]);
}

#[test]
fn clearing_removes_exactly_the_identity_headers() {
    let mut h = headers(&[
        ("x-remote-user", "a"),
        ("x-remote-uid", "1"),
        ("x-remote-group", "g"),
        ("x-remote-group", "h"),
        ("x-remote-extra-a", "1"),
        ("X-Remote-Extra-B%2Fc", "2"),
        ("x-remote-users", "kept? no: not a configured name"),
        ("accept", "application/json"),
    ]);
    clear_headers(RequestHeaderNames::standard(), &mut h);
    let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
    left.sort_unstable();
    assert_eq!(left, vec!["accept", "x-remote-users"]);
}

#[test]
fn only_a_verified_allowed_proxy_certificate_is_trusted() {
    let front_proxy_ca = TestCa::new("front-proxy-ca");
    let client_ca = TestCa::new("client-ca");
    let authority = front_proxy_ca.authority();
    let allowed = vec!["front-proxy-client".to_owned()];
    let now = UnixTime::now();
    assert!(matches!(verify_front_proxy(&authority, &allowed, &[], now), Err(ProxyRejection::NoCertificate)));
    let wrong_ca = client_ca.client("front-proxy-client", &[]);
    assert!(matches!(
        verify_front_proxy(&authority, &allowed, &wrong_ca, now),
        Err(ProxyRejection::Untrusted(_))
    ));
    let wrong_name = front_proxy_ca.client("someone-else", &[]);
    assert!(matches!(
        verify_front_proxy(&authority, &allowed, &wrong_name, now),
        Err(ProxyRejection::NameNotAllowed(n)) if n == "someone-else"
    ));
    let proxy = front_proxy_ca.client("front-proxy-client", &[]);
    assert_eq!(verify_front_proxy(&authority, &allowed, &proxy, now).unwrap(), "front-proxy-client");
    // An empty list allows any certificate of the CA.
    assert_eq!(verify_front_proxy(&authority, &[], &wrong_name, now).unwrap(), "someone-else");
    // Garbage is not a certificate.
    let junk = vec![CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])];
    assert!(verify_front_proxy(&authority, &[], &junk, now).is_err());
}

#[tokio::test]
async fn forged_headers_are_never_trusted() {
    let front_proxy_ca = TestCa::new("front-proxy-ca");
    let client_ca = TestCa::new("client-ca");
    let auth = RequestHeaderAuthenticator::new(
        front_proxy_ca.authority(),
        vec!["front-proxy-client".to_owned(), String::new()],
        Arc::new(RequestHeaderNames::standard().clone()),
    );
    // (a) no client certificate
    assert_eq!(auth.authenticate(&parts(FORGED, None)).await.unwrap(), None);
    assert_eq!(auth.authenticate(&parts(FORGED, Some(Vec::new()))).await.unwrap(), None);
    // (b) a certificate from the client CA, not the requestheader CA
    let wrong_ca = client_ca.client("front-proxy-client", &[MASTERS_GROUP]);
    assert_eq!(auth.authenticate(&parts(FORGED, Some(wrong_ca))).await.unwrap(), None);
    // (c) the requestheader CA, but a CN that is not allowed
    let wrong_name = front_proxy_ca.client("not-the-proxy", &[MASTERS_GROUP]);
    assert_eq!(auth.authenticate(&parts(FORGED, Some(wrong_name))).await.unwrap(), None);
    // (d) the real front proxy
    let proxy = front_proxy_ca.client("front-proxy-client", &[]);
    let user = auth.authenticate(&parts(FORGED, Some(proxy.clone()))).await.unwrap().unwrap();
    assert_eq!(user.name, "admin");
    assert_eq!(user.groups, vec![MASTERS_GROUP, AUTHENTICATED_GROUP]);
    assert_eq!(user.extra["scopes"], vec!["all"]);
    // A list of blanks is not an empty list: it allows nobody.
    let blanks = RequestHeaderAuthenticator::new(
        front_proxy_ca.authority(),
        vec![" ".to_owned()],
        Arc::new(RequestHeaderNames::standard().clone()),
    );
    assert_eq!(blanks.authenticate(&parts(FORGED, Some(proxy.clone()))).await.unwrap(), None);
    let empty = RequestHeaderAuthenticator::new(
        front_proxy_ca.authority(),
        vec![String::new()],
        Arc::new(RequestHeaderNames::standard().clone()),
    );
    assert!(empty.authenticate(&parts(FORGED, Some(proxy.clone()))).await.unwrap().is_some());
    // The real proxy asserting nobody lets the next authenticator decide.
    assert_eq!(auth.authenticate(&parts(&[("x-remote-group", "g")], Some(proxy))).await.unwrap(), None);
}

#[tokio::test]
async fn credentials_are_stripped_before_the_rest_of_the_chain() {
    let seen = Arc::new(std::sync::Mutex::new(None::<HeaderMap>));
    let record = Arc::clone(&seen);
    let inner = tower::service_fn(move |request: Request| {
        let record = Arc::clone(&record);
        async move {
            *record.lock().unwrap() = Some(request.headers().clone());
            Ok::<_, Infallible>(crate::body::Response::new(crate::body::empty()))
        }
    });
    let custom =
        Arc::new(names(&["X-Custom-User"], &["X-Custom-Uid"], &["X-Custom-Group"], &["X-Custom-Extra-"]));
    let mut request = http::Request::builder()
        .uri("/apis")
        .header("authorization", "Bearer secret")
        .header("x-remote-user", "admin")
        .header("x-remote-group", MASTERS_GROUP)
        .header("x-remote-extra-a", "1")
        .header("x-custom-user", "c")
        .header("x-custom-extra-b", "2")
        .header("impersonate-user", "left for the impersonation filter")
        .body(crate::body::request_body(""))
        .unwrap();
    request.headers_mut().append("x-custom-group", HeaderValue::from_static("g"));
    let response = strip_credentials(&custom, request, Next::new(BoxCloneSyncService::new(inner))).await;
    assert_eq!(response.status(), 200);
    let left = seen.lock().unwrap().take().unwrap();
    let left: Vec<&str> = left.keys().map(HeaderName::as_str).collect();
    assert_eq!(left, vec!["impersonate-user"]);
}
