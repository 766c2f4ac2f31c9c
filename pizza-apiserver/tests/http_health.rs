//! `/healthz`, `/livez` and `/readyz` over real HTTPS, in upstream's text format
//! (`k8s.io/apiserver/pkg/server/healthz`).

use crate::http_common::*;

#[tokio::test]
async fn health_endpoints_answer_ok() {
    let server = start().await;
    for client in [server.anonymous_client(), server.admin_client(), server.admin_client().http2()] {
        for path in ["/healthz", "/livez", "/readyz"] {
            let response = client.get(path).await;
            response.expect(200);
            assert_eq!(response.text(), "ok", "{path}");
            assert_eq!(response.header("content-type"), "text/plain; charset=utf-8", "{path}");
            assert_eq!(response.header("x-content-type-options"), "nosniff", "{path}");
        }
    }
}

#[tokio::test]
async fn verbose_lists_every_check() {
    let server = start().await;
    let client = server.anonymous_client();
    for name in ["healthz", "livez", "readyz"] {
        let response = client.get(&format!("/{name}?verbose")).await;
        response.expect(200);
        let text = response.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"[+]ping ok"), "{text}");
        assert_eq!(lines.last().copied(), Some(format!("{name} check passed").as_str()), "{text}");
        assert!(text.ends_with('\n'), "{text:?}");
        for line in &lines[..lines.len() - 1] {
            assert!(line.starts_with("[+]") && line.ends_with(" ok"), "{line:?} in {text}");
        }
        // `verbose=true` and `verbose=1` too.
        let response = client.get(&format!("/{name}?verbose=true")).await;
        assert_eq!(response.text(), text);
    }
    // Excluding a check reports it as excluded.
    let response = client.get("/readyz?verbose&exclude=ping").await;
    response.expect(200);
    assert!(response.text().contains("[+]ping excluded: ok\n"), "{}", response.text());
}

#[tokio::test]
async fn single_checks_have_sub_paths() {
    let server = start().await;
    let client = server.anonymous_client();
    for path in ["/readyz/ping", "/livez/ping", "/healthz/ping"] {
        let response = client.get(path).await;
        response.expect(200);
        assert_eq!(response.text(), "ok", "{path}");
    }
    let response = client.get("/readyz/no-such-check").await;
    assert_eq!(response.status, 404);
}
