use super::*;

fn request(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers
            .append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    headers
}

const GOOD: &[(&str, &str)] = &[
    ("connection", "keep-alive, Upgrade"),
    ("upgrade", "WebSocket"),
    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("sec-websocket-version", "13"),
    ("origin", "https://example.com"),
];

fn without(name: &str) -> Vec<(&'static str, &'static str)> {
    GOOD.iter().copied().filter(|(n, _)| *n != name).collect()
}

#[test]
fn only_websocket_upgrades_are_websocket_requests() {
    assert!(is_websocket_request(&request(GOOD)));
    assert!(!is_websocket_request(&request(&without("upgrade"))));
    assert!(!is_websocket_request(&request(&without("connection"))));
    assert!(!is_websocket_request(&request(&[("connection", "Upgrade"), ("upgrade", "h2c")])));
}

#[test]
fn the_accept_key_is_rfc_6455s() {
    let accepted = handshake(&request(GOOD)).unwrap();
    // The example of RFC 6455 section 1.3.
    assert_eq!(accepted.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(accepted.protocol, None);
    let response = switching_protocols(&accepted);
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(response.headers()[UPGRADE], "websocket");
    assert_eq!(response.headers()[SEC_WEBSOCKET_ACCEPT], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert!(response.headers().get(SEC_WEBSOCKET_PROTOCOL).is_none());
}

#[test]
fn one_subprotocol_is_echoed_and_several_are_refused() {
    let mut one = GOOD.to_vec();
    one.push(("sec-websocket-protocol", " base64.binary.k8s.io "));
    let accepted = handshake(&request(&one)).unwrap();
    assert_eq!(accepted.protocol.as_deref(), Some("base64.binary.k8s.io"));
    assert_eq!(switching_protocols(&accepted).headers()[SEC_WEBSOCKET_PROTOCOL], "base64.binary.k8s.io");

    let mut two = GOOD.to_vec();
    two.push(("sec-websocket-protocol", "base64.binary.k8s.io, v4.channel.k8s.io"));
    assert_eq!(handshake(&request(&two)).unwrap_err().status, StatusCode::BAD_REQUEST);
}

#[test]
fn missing_key_wrong_version_and_no_origin_are_refused() {
    let no_key = handshake(&request(&without("sec-websocket-key"))).unwrap_err();
    assert_eq!((no_key.status, no_key.message), (StatusCode::BAD_REQUEST, "mismatch challenge/response"));

    let mut old = without("sec-websocket-version");
    old.push(("sec-websocket-version", "8"));
    let old = handshake(&request(&old)).unwrap_err();
    assert_eq!((old.status, old.message), (StatusCode::BAD_REQUEST, "bad protocol version"));
    let response = old.into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[SEC_WEBSOCKET_VERSION], "13");

    let no_origin = handshake(&request(&without("origin"))).unwrap_err();
    assert_eq!(no_origin.status, StatusCode::FORBIDDEN);
    let mut bad_origin = without("origin");
    bad_origin.push(("origin", "not a url"));
    assert_eq!(handshake(&request(&bad_origin)).unwrap_err().status, StatusCode::FORBIDDEN);
}

#[test]
fn origins_are_absolute_urls_or_paths() {
    assert!(valid_origin("http://localhost:8080"));
    assert!(valid_origin("/local"));
    assert!(!valid_origin(""));
    assert!(!valid_origin("localhost"));
    assert!(!valid_origin("1http://x"));
}

#[test]
fn frames_become_text_messages_without_the_newline() {
    assert_eq!(message(Bytes::from_static(b"{\"type\":\"ADDED\"}\n")), Message::text("{\"type\":\"ADDED\"}"));
    assert_eq!(message(Bytes::from_static(b"{}")), Message::text("{}"));
    assert_eq!(message(Bytes::from_static(b"\xff\n")), Message::binary(Bytes::from_static(b"\xff")));
}
