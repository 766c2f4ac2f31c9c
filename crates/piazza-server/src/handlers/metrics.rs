//! `/metrics`: Prometheus text exposition of what the server's parts count (the watch
//! cache's self-check mismatches, slow watchers, re-lists, …).

use std::sync::Arc;

use crate::body::Response;
use crate::response::bytes_response;

/// Something that contributes metrics.
pub trait MetricsSource: Send + Sync + 'static {
    /// Appends its metrics, in the Prometheus text format, to `out`.
    fn render(&self, out: &mut String);
}

impl<F: Fn(&mut String) + Send + Sync + 'static> MetricsSource for F {
    fn render(&self, out: &mut String) {
        self(out)
    }
}

/// Serves `/metrics` from `sources`.
pub fn serve(sources: &[Arc<dyn MetricsSource>]) -> Response {
    let mut out = String::new();
    out.push_str("# HELP piazza_build_info The Piazza version this server was built from.\n");
    out.push_str("# TYPE piazza_build_info gauge\n");
    out.push_str(&format!("piazza_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION")));
    for source in sources {
        source.render(&mut out);
    }
    bytes_response(200, "text/plain; version=0.0.4; charset=utf-8", out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn renders_sources_after_build_info() {
        let source: Arc<dyn MetricsSource> = Arc::new(|out: &mut String| out.push_str("x_total 3\n"));
        let response = serve(&[source]);
        assert_eq!(response.status(), 200);
        let text =
            String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        assert!(text.starts_with("# HELP piazza_build_info"));
        assert!(text.ends_with("x_total 3\n"));
    }
}
