//! The cases of upstream's `requestinfo_test.go`, one by one, then the cases it leaves out
//! (discovery paths, query parsing, hostile input), then property tests.
//!
//! The tables keep upstream's one-row-per-case layout, so rustfmt is told to leave them be.

use proptest::prelude::*;

use super::*;

fn factory() -> RequestInfoFactory {
    RequestInfoFactory::default()
}

fn parse(method: &str, target: &str) -> Result<RequestInfo, RequestInfoError> {
    factory().parse_path_and_query(method, target)
}

/// One resource request, in upstream's column order: method, target, verb, prefix, group,
/// version, namespace, resource, subresource, name, and the parts joined by `|`.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The info a row expects; its path is the target's path part.
fn expected(row: Row) -> RequestInfo {
    let (_, target, verb, prefix, group, version, namespace, resource, subresource, name, parts) = row;
    RequestInfo {
        is_resource_request: true,
        path: target.split_once('?').map_or(target, |(p, _)| p).to_owned(),
        verb: verb.to_owned(),
        api_prefix: prefix.to_owned(),
        api_group: group.to_owned(),
        api_version: version.to_owned(),
        namespace: namespace.to_owned(),
        resource: resource.to_owned(),
        subresource: subresource.to_owned(),
        name: name.to_owned(),
        parts: parts.split('|').map(str::to_owned).collect(),
        ..RequestInfo::default()
    }
}

/// Parses `method target` and compares every field with `expected`.
fn check(method: &str, target: &str, expected: RequestInfo) {
    let actual = parse(method, target).unwrap_or_else(|e| panic!("{method} {target}: unexpected error {e}"));
    assert_eq!(actual, expected, "{method} {target}");
}

fn check_rows(rows: &[Row]) {
    for &row in rows {
        check(row.0, row.1, expected(row));
    }
}

fn non_resource(verb: &str, path: &str) -> RequestInfo {
    RequestInfo { verb: verb.to_owned(), path: path.to_owned(), ..RequestInfo::default() }
}

/// `TestGetAPIRequestInfo`'s success cases. Upstream's table lists the prefix `api` for the
/// `/apis/extensions/...` rows but never checks it; the real prefix is `apis`.
#[test]
#[rustfmt::skip]
fn upstream_get_api_request_info() {
    let rows: &[Row] = &[
        // resource paths
        ("GET", "/api/v1/namespaces", "list", "api", "", "v1", "", "namespaces", "", "", "namespaces"),
        ("GET", "/api/v1/namespaces/other", "get", "api", "", "v1", "other", "namespaces", "", "other", "namespaces|other"),

        ("GET", "/api/v1/namespaces/other/pods", "list", "api", "", "v1", "other", "pods", "", "", "pods"),
        ("GET", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", "pods|foo"),
        ("HEAD", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", "pods|foo"),
        ("GET", "/api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", "pods"),
        ("HEAD", "/api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", "pods"),
        ("GET", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", "pods|foo"),
        ("GET", "/api/v1/namespaces/other/pods", "list", "api", "", "v1", "other", "pods", "", "", "pods"),

        ("PATCH", "/api/v1/namespaces/new-namespace", "patch", "api", "", "v1", "new-namespace", "namespaces", "", "new-namespace", "namespaces|new-namespace"),

        // special verbs
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo", "proxy", "api", "", "v1", "other", "pods", "", "foo", "pods|foo"),
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", "proxy", "api", "", "v1", "other", "pods", "", "foo", "pods|foo|subpath|not|a|subresource"),
        ("GET", "/api/v1/watch/pods", "watch", "api", "", "v1", "", "pods", "", "", "pods"),
        ("GET", "/api/v1/pods?watch=true", "watch", "api", "", "v1", "", "pods", "", "", "pods"),
        ("GET", "/api/v1/pods?watch=false", "list", "api", "", "v1", "", "pods", "", "", "pods"),
        ("GET", "/api/v1/watch/namespaces/other/pods", "watch", "api", "", "v1", "other", "pods", "", "", "pods"),
        ("GET", "/api/v1/namespaces/other/pods?watch=1", "watch", "api", "", "v1", "other", "pods", "", "", "pods"),
        ("GET", "/api/v1/namespaces/other/pods?watch=0", "list", "api", "", "v1", "other", "pods", "", "", "pods"),

        // subresource identification
        ("GET", "/api/v1/namespaces/other/pods/foo/status", "get", "api", "", "v1", "other", "pods", "status", "foo", "pods|foo|status"),
        ("GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", "get", "api", "", "v1", "other", "pods", "proxy", "foo", "pods|foo|proxy|subpath"),
        ("PUT", "/api/v1/namespaces/other/finalize", "update", "api", "", "v1", "other", "namespaces", "finalize", "other", "namespaces|other|finalize"),
        ("PUT", "/api/v1/namespaces/other/status", "update", "api", "", "v1", "other", "namespaces", "status", "other", "namespaces|other|status"),

        // verb identification
        ("PATCH", "/api/v1/namespaces/other/pods/foo", "patch", "api", "", "v1", "other", "pods", "", "foo", "pods|foo"),
        ("DELETE", "/api/v1/namespaces/other/pods/foo", "delete", "api", "", "v1", "other", "pods", "", "foo", "pods|foo"),
        ("POST", "/api/v1/namespaces/other/pods", "create", "api", "", "v1", "other", "pods", "", "", "pods"),

        // deletecollection verb identification
        ("DELETE", "/api/v1/nodes", "deletecollection", "api", "", "v1", "", "nodes", "", "", "nodes"),
        ("DELETE", "/api/v1/namespaces", "deletecollection", "api", "", "v1", "", "namespaces", "", "", "namespaces"),
        ("DELETE", "/api/v1/namespaces/other/pods", "deletecollection", "api", "", "v1", "other", "pods", "", "", "pods"),
        ("DELETE", "/apis/extensions/v1/namespaces/other/pods", "deletecollection", "apis", "extensions", "v1", "other", "pods", "", "", "pods"),

        // api group identification
        ("POST", "/apis/extensions/v1/namespaces/other/pods", "create", "apis", "extensions", "v1", "other", "pods", "", "", "pods"),

        // api version identification
        ("POST", "/apis/extensions/v1beta3/namespaces/other/pods", "create", "apis", "extensions", "v1beta3", "other", "pods", "", "", "pods"),
    ];
    assert_eq!(rows.len(), 31);
    check_rows(rows);
}

/// `TestGetAPIRequestInfo`'s error cases: each is a non-resource request, not an error.
#[test]
fn upstream_get_api_request_info_non_resource() {
    let cases = [
        ("no resource path", "/"),
        ("just apiversion", "/api/version/"),
        ("just prefix, group, version", "/apis/group/version/"),
        ("apiversion with no resource", "/api/version/"),
        ("bad prefix", "/badprefix/version/resource"),
        ("missing api group", "/apis/version/resource"),
    ];
    for (name, target) in cases {
        let info = parse("GET", target).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info, non_resource("get", target), "{name}");
    }
}

/// `TestGetNonAPIRequestInfo`.
#[test]
fn upstream_get_non_api_request_info() {
    let cases = [
        ("simple groupless", "/api/version/resource", true),
        ("simple group", "/apis/group/version/resource/name/subresource", true),
        ("more steps", "/api/version/resource/name/subresource", true),
        ("group list", "/apis/batch/v1/job", true),
        ("group get", "/apis/batch/v1/job/foo", true),
        ("group subresource", "/apis/batch/v1/job/foo/scale", true),
        ("bad root", "/not-api/version/resource", false),
        ("group without enough steps", "/apis/extensions/v1beta1", false),
        ("group without enough steps 2", "/apis/extensions/v1beta1/", false),
        ("not enough steps", "/api/version", false),
        ("one step", "/api", false),
        ("zero step", "/", false),
        ("empty", "", false),
    ];
    for (name, target, expected) in cases {
        let info = parse("GET", target).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.is_resource_request, expected, "{name}");
    }
}

/// `TestSelectorParsing` (which supersedes the older `TestFieldSelectorParsing`): method,
/// target, name, verb, field selector, label selector. Upstream allows an "invalid
/// selector" error on some rows but never returns one; an unparsable selector only means
/// no name.
#[test]
#[rustfmt::skip]
fn upstream_selector_parsing() {
    let cases = [
        ("no selector", "GET", "/apis/group/version/resource", "", "list", "", ""),
        ("metadata.name selector", "GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1", "name1", "list", "metadata.name=name1", ""),
        ("metadata.name selector with watch", "GET", "/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1", "name1", "watch", "metadata.name=name1", ""),
        ("random selector", "GET", "/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux", "", "list", "foo=bar", "baz=qux"),
        ("invalid selector with metadata.name", "GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo", "", "list", "metadata.name=name1,foo", ""),
        ("invalid selector with metadata.name with watch", "GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true", "", "watch", "metadata.name=name1,foo", ""),
        ("invalid selector with metadata.name with watch false", "GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=false", "", "list", "metadata.name=name1,foo", ""),
        ("selector on deletecollection is honored", "DELETE", "/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux", "", "deletecollection", "foo=bar", "baz=qux"),
        ("selector on repeated param matches parsed param", "GET", "/apis/group/version/resource?fieldSelector=metadata.name=foo&fieldSelector=metadata.name=bar&labelSelector=foo=bar&labelSelector=foo=baz", "foo", "list", "metadata.name=foo", "foo=bar"),
        ("selector on other verb is ignored", "GET", "/apis/group/version/resource/name?fieldSelector=foo=bar&labelSelector=foo=bar", "name", "get", "", ""),
        ("selector on deprecated root type watch is not parsed", "GET", "/apis/group/version/watch/resource?fieldSelector=metadata.name=foo&labelSelector=foo=bar", "", "watch", "", ""),
        ("selector on deprecated root item watch is not parsed", "GET", "/apis/group/version/watch/resource/name?fieldSelector=metadata.name=foo&labelSelector=foo=bar", "name", "watch", "", ""),
    ];
    for (case, method, target, name, verb, field_selector, label_selector) in cases {
        let info = parse(method, target).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(info.name, name, "{case}: name");
        assert_eq!(info.verb, verb, "{case}: verb");
        assert_eq!(info.field_selector, field_selector, "{case}: fieldSelector");
        assert_eq!(info.label_selector, label_selector, "{case}: labelSelector");
    }
}

/// Non-resource paths upstream's tests leave out: health, version, OpenAPI and discovery.
#[test]
fn non_resource_paths() {
    for (method, target, verb) in [
        ("GET", "/healthz", "get"),
        ("GET", "/livez?verbose", "get"),
        ("GET", "/version", "get"),
        ("GET", "/openapi/v2", "get"),
        ("GET", "/openapi/v3/apis/g/v1", "get"),
        ("GET", "/api", "get"),
        ("GET", "/api/v1", "get"),
        ("GET", "/apis", "get"),
        ("GET", "/apis/restaurant.example.com", "get"),
        ("GET", "/apis/restaurant.example.com/v1alpha1", "get"),
        ("GET", "/apis/restaurant.example.com/v1alpha1/", "get"),
        ("POST", "/apis/g/v", "post"),
        ("OPTIONS", "/healthz", "options"),
        ("PROPFIND", "/metrics", "propfind"),
        ("GET", "/healthz?watch=true", "get"),
        ("GET", "/", "get"),
        ("GET", "", "get"),
        ("GET", "//////", "get"),
    ] {
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        check(method, target, non_resource(verb, path));
    }
}

/// Resource paths upstream's tests leave out, in its row format.
#[test]
#[rustfmt::skip]
fn resource_paths_beyond_upstream() {
    check_rows(&[
        // Cross-namespace lists and cluster-scoped collections and items.
        ("GET", "/apis/g/v1/pizzas", "list", "apis", "g", "v1", "", "pizzas", "", "", "pizzas"),
        ("GET", "/apis/g/v1/toppings/x", "get", "apis", "g", "v1", "", "toppings", "", "x", "toppings|x"),
        ("PUT", "/apis/g/v1/toppings/x/status", "update", "apis", "g", "v1", "", "toppings", "status", "x", "toppings|x|status"),
        ("POST", "/apis/g/v1/toppings", "create", "apis", "g", "v1", "", "toppings", "", "", "toppings"),
        ("DELETE", "/apis/g/v1/toppings", "deletecollection", "apis", "g", "v1", "", "toppings", "", "", "toppings"),
        // Namespaced items with a dotted group.
        ("GET", "/apis/restaurant.example.com/v1beta1/namespaces/ns/pizzas/margherita/scale", "get", "apis", "restaurant.example.com", "v1beta1", "ns", "pizzas", "scale", "margherita", "pizzas|margherita|scale"),
        // The namespaces resource itself, in any group, and a namespace's subresources.
        ("GET", "/apis/g/v1/namespaces", "list", "apis", "g", "v1", "", "namespaces", "", "", "namespaces"),
        ("GET", "/api/v1/namespaces/ns/status", "get", "api", "", "v1", "ns", "namespaces", "status", "ns", "namespaces|ns|status"),
        ("DELETE", "/api/v1/namespaces/ns", "delete", "api", "", "v1", "ns", "namespaces", "", "ns", "namespaces|ns"),
        // Parts past the subresource are kept but not interpreted.
        ("GET", "/api/v1/namespaces/ns/pods/p/status/extra/more", "get", "api", "", "v1", "ns", "pods", "status", "p", "pods|p|status|extra|more"),
        ("GET", "/api/v1/namespaces/ns/pods/p/proxy/a/b", "get", "api", "", "v1", "ns", "pods", "proxy", "p", "pods|p|proxy|a|b"),
        ("GET", "/api/v1/proxy/nodes/n1/x", "proxy", "api", "", "v1", "", "nodes", "", "n1", "nodes|n1|x"),
        ("GET", "/api/v1/watch/namespaces/ns/pods/p", "watch", "api", "", "v1", "ns", "pods", "", "p", "pods|p"),
        // `watch` elsewhere in the path is just a name.
        ("GET", "/api/v1/pods/watch", "get", "api", "", "v1", "", "pods", "", "watch", "pods|watch"),
        // `namespaces` with nothing after it, past a verb prefix.
        ("GET", "/api/v1/watch/namespaces", "watch", "api", "", "v1", "", "namespaces", "", "", "namespaces"),
        // Methods match case-sensitively; unknown ones give the empty verb (and no list).
        ("OPTIONS", "/api/v1/pods", "", "api", "", "v1", "", "pods", "", "", "pods"),
        ("get", "/api/v1/pods", "", "api", "", "v1", "", "pods", "", "", "pods"),
        ("HEAD", "/api/v1/pods?watch=1", "watch", "api", "", "v1", "", "pods", "", "", "pods"),
        // Trailing and doubled slashes, as upstream's split sees them.
        ("GET", "/api/v1/pods/", "list", "api", "", "v1", "", "pods", "", "", "pods"),
        ("GET", "///api/v1/pods///", "list", "api", "", "v1", "", "pods", "", "", "pods"),
        ("GET", "/api//v1/pods", "get", "api", "", "", "", "v1", "", "pods", "v1|pods"),
        ("GET", "/api/v1//pods", "get", "api", "", "v1", "", "", "", "pods", "|pods"),
        ("GET", "/api/v1/namespaces//pods", "list", "api", "", "v1", "", "pods", "", "", "pods"),
        // No leading slash: upstream's split trims slashes, so this is still a resource.
        ("GET", "api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", "pods"),
        // Dot segments are not cleaned.
        ("GET", "/api/v1/namespaces/../pods", "list", "api", "", "v1", "..", "pods", "", "", "pods"),
        ("GET", "/api/v1/pods/./..", "get", "api", "", "v1", "", "pods", "..", ".", "pods|.|.."),
    ]);
}

/// The path is percent-decoded before it is split, as Go's `URL.Path` is: each row's
/// decoded path, then the row.
#[test]
#[rustfmt::skip]
fn percent_encoded_paths() {
    let rows: &[(&str, Row)] = &[
        ("/api/v1/namespaces/ns/pods/a/b", ("GET", "/api/v1/namespaces/ns/pods/a%2Fb", "get", "api", "", "v1", "ns", "pods", "b", "a", "pods|a|b")),
        ("/api/v1/pods", ("GET", "/%61pi/v1/pod%73", "list", "api", "", "v1", "", "pods", "", "", "pods")),
        ("/api/v1/pods/\0", ("GET", "/api/v1/pods/%00", "get", "api", "", "v1", "", "pods", "", "\0", "pods|\0")),
        ("/api/v1/pods/é+x", ("GET", "/api/v1/pods/%C3%A9+x", "get", "api", "", "v1", "", "pods", "", "é+x", "pods|é+x")),
        ("/api/v1/pods/café", ("GET", "/api/v1/pods/caf%C3%A9", "get", "api", "", "v1", "", "pods", "", "café", "pods|café")),
        // An encoded `?` is part of the path, not a query.
        ("/api/v1/pods?watch=true", ("GET", "/api/v1/pods%3Fwatch=true", "list", "api", "", "v1", "", "pods?watch=true", "", "", "pods?watch=true")),
    ];
    for &(path, row) in rows {
        check(row.0, row.1, RequestInfo { path: path.to_owned(), ..expected(row) });
    }
}

/// How the query decides between list and watch, and which name a field selector pins:
/// query, verb, name, field selector, label selector, for a GET of `/api/v1/pods`.
#[test]
#[rustfmt::skip]
fn query_parsing() {
    let cases = [
        // Any watch value but 0 or false (in any case) means watch; the first value wins.
        ("watch", "watch", "", "", ""),
        ("watch=", "watch", "", "", ""),
        ("watch=yes", "watch", "", "", ""),
        ("watch=FALSE", "list", "", "", ""),
        ("watch=False&watch=true", "list", "", "", ""),
        ("watch=true&watch=false", "watch", "", "", ""),
        ("watch=00", "watch", "", "", ""),
        ("%77atch=1", "watch", "", "", ""),
        ("watch=fals%65", "list", "", "", ""),
        // Go's case folding knows the long s...
        ("watch=fal%C5%BFe", "list", "", "", ""),
        // ...but once any list option fails to decode, upstream only lowercases.
        ("watch=fal%C5%BFe&limit=x", "watch", "", "", ""),
        ("watch=FALSE&limit=x", "list", "", "", ""),
        // Pieces Go's query parser drops.
        ("watch=true;x", "list", "", "", ""),
        ("watch=%zz", "list", "", "", ""),
        ("&&watch=1&&", "watch", "", "", ""),
        // A fieldSelector pinning metadata.name names the list; the term sorting first wins.
        ("fieldSelector=metadata.name%3Dfoo", "list", "foo", "metadata.name=foo", ""),
        ("fieldSelector=metadata.name==foo", "list", "foo", "metadata.name==foo", ""),
        ("fieldSelector=metadata.name!=foo", "list", "", "metadata.name!=foo", ""),
        ("fieldSelector=metadata.name=b,metadata.name=a", "list", "a", "metadata.name=b,metadata.name=a", ""),
        ("fieldSelector=metadata.namespace=x,metadata.name=y", "list", "y", "metadata.namespace=x,metadata.name=y", ""),
        ("fieldSelector=metadata.name=a%5C,b", "list", "a,b", r"metadata.name=a\,b", ""),
        ("fieldSelector=metadata.name=", "list", "", "metadata.name=", ""),
        ("watch=1&fieldSelector=metadata.name=foo", "watch", "foo", "metadata.name=foo", ""),
        // ...unless the name could not be a path segment...
        ("fieldSelector=metadata.name=..", "list", "", "metadata.name=..", ""),
        ("fieldSelector=metadata.name=a%2Fb", "list", "", "metadata.name=a/b", ""),
        ("fieldSelector=metadata.name=a%2525", "list", "", "metadata.name=a%25", ""),
        // ...or any list option fails to decode.
        ("fieldSelector=metadata.name=foo&limit=abc", "list", "", "metadata.name=foo", ""),
        ("fieldSelector=metadata.name=foo&limit=", "list", "", "metadata.name=foo", ""),
        ("fieldSelector=metadata.name=foo&limit=500", "list", "foo", "metadata.name=foo", ""),
        ("fieldSelector=metadata.name=foo&timeoutSeconds=1.5", "list", "", "metadata.name=foo", ""),
        ("fieldSelector=metadata.name=foo&labelSelector=!!", "list", "", "metadata.name=foo", "!!"),
        ("fieldSelector=metadata.name=foo&labelSelector=a+in+(b,c)", "list", "foo", "metadata.name=foo", "a in (b,c)"),
        ("fieldSelector=metadata.name=foo&resourceVersion=x&continue=y", "list", "foo", "metadata.name=foo", ""),
        // Not UTF-8 once decoded: no name and no selector, the broadest authorization check.
        ("fieldSelector=metadata.name=x%FF", "list", "", "", ""),
        ("labelSelector=%FF", "list", "", "", ""),
    ];
    for (query, verb, name, field_selector, label_selector) in cases {
        let row = ("GET", "/api/v1/pods", verb, "api", "", "v1", "", "pods", "", "", "pods");
        let want = RequestInfo {
            name: name.to_owned(),
            field_selector: field_selector.to_owned(),
            label_selector: label_selector.to_owned(),
            ..expected(row)
        };
        check("GET", &format!("/api/v1/pods?{query}"), want);
    }

    // A name in the path wins over any selector, and selectors are not kept for `get`.
    check_rows(&[("GET", "/api/v1/pods/p?fieldSelector=metadata.name=q&watch=1", "get", "api", "", "v1", "", "pods", "", "p", "pods|p")]);
    // An empty name segment is no name: upstream lists, subresource and all.
    let row = ("GET", "/apis/g/v/things//status?fieldSelector=metadata.name=a", "list", "apis", "g", "v", "", "things", "status", "a", "things||status");
    let want = RequestInfo { field_selector: "metadata.name=a".to_owned(), ..expected(row) };
    check(row.0, row.1, want);
    // Other verbs ignore the query.
    check_rows(&[("POST", "/api/v1/pods?watch=1&fieldSelector=a=b", "create", "api", "", "v1", "", "pods", "", "", "pods")]);
    // deletecollection keeps its selectors but never takes a name from them.
    let row = ("DELETE", "/api/v1/pods?fieldSelector=metadata.name=q&labelSelector=a", "deletecollection", "api", "", "v1", "", "pods", "", "", "pods");
    let want = RequestInfo { field_selector: "metadata.name=q".to_owned(), label_selector: "a".to_owned(), ..expected(row) };
    check(row.0, row.1, want);
}

/// Input upstream's Go HTTP server or parser refuses, and input it takes that must not hurt.
#[test]
fn hostile_input() {
    let err = |method: &str, target: &str| parse(method, target).expect_err(target);
    assert_eq!(err("GET", "/api/v1/pods/%ff"), RequestInfoError::NonUtf8Path);
    assert_eq!(err("GET", "/api/v1/pods/%C3"), RequestInfoError::NonUtf8Path);
    let bad_escape = |escape: &str| RequestInfoError::InvalidPercentEncoding { escape: escape.to_owned() };
    assert_eq!(err("GET", "/api/v1/pods/%zz"), bad_escape("%zz"));
    assert_eq!(err("GET", "/api/v1/pods/%"), bad_escape("%"));
    assert_eq!(err("GET", "/healthz%4"), bad_escape("%4"));
    assert_eq!(err("GET", "/api/v1/pods\n"), RequestInfoError::ControlCharacter);
    assert_eq!(err("GET", "/api/v1/pods\0"), RequestInfoError::ControlCharacter);
    assert_eq!(err("GET", "/api/v1/pods?watch=\u{7f}"), RequestInfoError::ControlCharacter);
    assert!(err("GET", "/api/v1/pods/%ff").is_bad_request());

    // A verb prefix with nothing after it is upstream's only error.
    for target in ["/api/v1/watch", "/api/v1/watch/", "/apis/g/v/proxy", "/apis/g/v/proxy//"] {
        let e = err("GET", target);
        assert!(matches!(e, RequestInfoError::MissingResource { .. }), "{target}: {e:?}");
        assert!(!e.is_bad_request());
        assert!(e.to_string().contains("unable to determine kind and namespace"), "{e}");
    }
    let long = format!("/api/{}/watch", "v".repeat(100_000));
    assert!(err("GET", &long).to_string().len() < 400);

    // Query junk never fails a request.
    for query in ["%", "%%%", "=&=&", ";;;", "watch=%", "fieldSelector=%", "labelSelector=((((", "limit=%FF"]
    {
        assert!(parse("GET", &format!("/api/v1/pods?{query}")).is_ok(), "{query}");
    }

    // Size: many slashes, many parts, one huge part.
    let slashes = "/".repeat(100_000);
    assert!(!parse("GET", &slashes).unwrap().is_resource_request);
    let many = format!("/api/v1/namespaces/ns/pods{}", "/x".repeat(50_000));
    let info = parse("GET", &many).unwrap();
    assert_eq!((info.parts.len(), info.name.as_str(), info.subresource.as_str()), (50_001, "x", "x"));
    let empty_parts = format!("/api/v1/pods{}/x", "/".repeat(50_000));
    assert_eq!(parse("GET", &empty_parts).unwrap().parts.len(), 50_002);
    let huge = format!("/apis/g/v/things/{}", "n".repeat(1 << 20));
    assert_eq!(parse("GET", &huge).unwrap().name.len(), 1 << 20);
    let huge_query = format!("/api/v1/pods?labelSelector={}", "(".repeat(1 << 20));
    assert!(parse("GET", &huge_query).is_ok());
    let encoded = "%2F".repeat(30_000);
    assert!(!parse("GET", &encoded).unwrap().is_resource_request);
    assert!(parse("", "/api/v1/pods").is_ok());
    assert!(parse("\u{0130}\u{3a3}", "/x").is_ok());
}

#[test]
fn helpers() {
    let info = |target: &str| parse("GET", target).unwrap();
    assert!(info("/api/v1/pods?watch=1").is_watch());
    assert!(info("/api/v1/watch/pods").is_watch());
    assert!(!info("/api/v1/pods").is_watch());
    assert!(info("/api/v1/pods").is_list_like());
    assert!(info("/api/v1/pods?watch=1").is_list_like());
    assert!(!info("/api/v1/pods/p").is_list_like());
    assert!(!info("/healthz").is_list_like());
    assert!(info("/healthz").is_read_only());
    assert!(info("/api/v1/pods/p").is_read_only());
    assert!(!parse("POST", "/api/v1/pods").unwrap().is_read_only());
    assert!(!parse("POST", "/healthz").unwrap().is_read_only());
    assert!(!parse("DELETE", "/api/v1/pods").unwrap().is_read_only());

    // A factory with another groupless prefix.
    let custom = RequestInfoFactory {
        api_prefixes: vec!["api".into(), "apis".into(), "oapi".into()],
        grouped_api_prefixes: vec!["apis".into()],
    };
    let info = custom.parse("GET", "/oapi/v1/builds/b", None).unwrap();
    assert_eq!(
        (info.api_prefix.as_str(), info.api_version.as_str(), info.name.as_str()),
        ("oapi", "v1", "b")
    );
    assert_eq!(custom.parse("GET", "/api/v1/pods", Some("watch=1")).unwrap().verb, "watch");
}

// === properties ===

/// Percent-encodes every byte, `/` included.
fn encode_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("api".to_owned()),
        Just("apis".to_owned()),
        Just("v1".to_owned()),
        Just("namespaces".to_owned()),
        Just("watch".to_owned()),
        Just("proxy".to_owned()),
        Just("status".to_owned()),
        Just("finalize".to_owned()),
        Just(String::new()),
        "[a-z.%0-9A-F]{1,6}",
        any::<String>(),
    ]
}

fn structured_path() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 0..10).prop_map(|s| format!("/{}", s.join("/")))
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("watch"),
        Just("fieldSelector"),
        Just("labelSelector"),
        Just("limit"),
        Just("timeoutSeconds")
    ];
    let value = prop_oneof![
        "(true|false|0|1|FALSE|)",
        "metadata\\.name(=|==|!=)[a-z.%/\\\\,=]{0,6}",
        "[a-z]{1,3}( in | notin |=|!=|>|<)\\(?[a-z0-9,]{0,5}\\)?",
        "[0-9a-z%+]{0,5}",
        any::<String>(),
    ];
    prop::collection::vec((key, value), 0..5)
        .prop_map(|kv| kv.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_owned()),
        Just("HEAD".to_owned()),
        Just("POST".to_owned()),
        Just("PUT".to_owned()),
        Just("PATCH".to_owned()),
        Just("DELETE".to_owned()),
        any::<String>(),
    ]
}

/// Invariants that hold for every request that parses.
fn check_invariants(info: &RequestInfo) {
    if info.is_resource_request {
        assert!(!info.parts.is_empty());
        assert_eq!(info.resource, info.parts[0]);
        assert!(info.api_prefix == "api" || info.api_prefix == "apis");
        if info.parts.len() >= 2 && !info.parts[1].is_empty() {
            assert_eq!(info.name, info.parts[1]);
        } else if !info.name.is_empty() {
            // Only a list's field selector names what the path does not.
            assert!(matches!(info.verb.as_str(), "list" | "watch"));
        }
        if info.field_selector.is_empty() && info.label_selector.is_empty() {
            return;
        }
        assert!(matches!(info.verb.as_str(), "list" | "watch" | "deletecollection"));
    } else {
        assert!(info.parts.is_empty() && info.resource.is_empty() && info.api_prefix.is_empty());
    }
}

proptest! {
    // No regression files: this module owns no directory for them.
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics(method in any::<String>(), path in any::<String>(), query in any::<Option<String>>()) {
        if let Ok(info) = factory().parse(&method, &path, query.as_deref()) {
            check_invariants(&info);
        }
    }

    #[test]
    fn structured_input_never_panics(method in method(), path in structured_path(), query in query()) {
        if let Ok(info) = factory().parse(&method, &path, Some(&query)) {
            check_invariants(&info);
        }
    }

    #[test]
    fn namespaced_item_paths_round_trip(
        group in "[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?",
        version in "v[0-9]{1,2}((alpha|beta)[0-9])?",
        namespace in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        resource in "[a-z]{1,15}".prop_filter("namespace subresource", |r| r != "status" && r != "finalize"),
        name in "[^/]{1,20}",
        encode_name in any::<bool>(),
    ) {
        let raw_name = if encode_name { encode_all(&name) } else { name.clone() };
        let has_ctl = name.bytes().any(|b| b < 0x20 || b == 0x7f);
        let path = format!("/apis/{group}/{version}/namespaces/{namespace}/{resource}/{raw_name}");
        let result = factory().parse("GET", &path, None);
        if !encode_name && (name.contains('%') || has_ctl) {
            // Raw '%' may not be a valid escape and raw control bytes are refused: both
            // are covered by the encoded variant.
            return Ok(());
        }
        let info = result.unwrap();
        prop_assert_eq!(info, RequestInfo {
            is_resource_request: true,
            path: format!("/apis/{group}/{version}/namespaces/{namespace}/{resource}/{name}"),
            verb: "get".to_owned(),
            api_prefix: "apis".to_owned(),
            api_group: group,
            api_version: version,
            namespace,
            resource: resource.clone(),
            subresource: String::new(),
            name: name.clone(),
            parts: vec![resource, name],
            field_selector: String::new(),
            label_selector: String::new(),
        });
    }

    #[test]
    fn encoding_every_byte_changes_nothing(method in method(), path in structured_path(), query in query()) {
        let path: String = path.chars().filter(|&c| c != '%' && !c.is_ascii_control()).collect();
        let plain = factory().parse(&method, &path, Some(&query));
        let encoded = factory().parse(&method, &encode_all(&path), Some(&query));
        prop_assert_eq!(plain, encoded);
    }
}
