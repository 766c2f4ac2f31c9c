//! `/metrics`: the watch cache's counters in the Prometheus text format, for authorized
//! users only.

use crate::http_common;

#[tokio::test]
async fn metrics_expose_the_watch_cache_counters() {
    let server = http_common::start().await;
    let response = server.admin_client().get("/metrics").await;
    response.expect(200);
    assert!(response.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text();
    assert!(text.contains("piazza_build_info{version="), "{text}");
    for counter in [
        "piazza_watch_cache_consistency_mismatches_total 0",
        "piazza_watch_cache_terminated_slow_watchers_total 0",
        "piazza_watch_cache_relists_total 0",
    ] {
        assert!(text.lines().any(|l| l == counter), "missing {counter:?} in\n{text}");
    }
    server.client_for("bob", &[]).get("/metrics").await.expect_status(403, "Forbidden");
    server.anonymous_client().get("/metrics").await.expect_status(401, "Unauthorized");
}
