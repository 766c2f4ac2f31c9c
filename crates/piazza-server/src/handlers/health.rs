//! `/healthz`, `/livez` and `/readyz`, each with per-check sub-paths and `?verbose`.
//! A failing check gives 500 and names the failure, as upstream.

use std::sync::Arc;

use async_trait::async_trait;
use piazza_storage::Storage;

use crate::body::Response;
use crate::response::text_response;

/// One named health check.
#[async_trait]
pub trait HealthCheck: Send + Sync + 'static {
    /// The check's name, used as the sub-path.
    fn name(&self) -> &str;
    /// `Ok` when healthy; `Err(reason)` otherwise.
    async fn check(&self) -> Result<(), String>;
}

/// Always healthy: `ping`.
pub struct Ping;

#[async_trait]
impl HealthCheck for Ping {
    fn name(&self) -> &str {
        "ping"
    }
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Storage reachable and healthy.
pub struct StorageCheck(pub Arc<dyn Storage>);

#[async_trait]
impl HealthCheck for StorageCheck {
    fn name(&self) -> &str {
        "storage"
    }
    async fn check(&self) -> Result<(), String> {
        self.0.check_health().await.map_err(|e| e.to_string())
    }
}

/// Fails once shutdown has begun, so load balancers stop sending traffic first.
pub struct ShutdownCheck(pub tokio::sync::watch::Receiver<bool>);

#[async_trait]
impl HealthCheck for ShutdownCheck {
    fn name(&self) -> &str {
        "shutdown"
    }
    async fn check(&self) -> Result<(), String> {
        if *self.0.borrow() { Err("process is shutting down".to_owned()) } else { Ok(()) }
    }
}

/// One of the health endpoints with its checks.
#[derive(Clone)]
pub struct HealthEndpoint {
    /// `healthz`, `livez` or `readyz`.
    pub name: &'static str,
    /// Its checks.
    pub checks: Vec<Arc<dyn HealthCheck>>,
}

impl HealthEndpoint {
    /// Serves `/<name>`, `/<name>/<check>`; `query` may hold `verbose` and `exclude=<check>`.
    pub async fn serve(&self, sub_path: &str, query: Option<&str>) -> Response {
        let sub = sub_path.trim_matches('/');
        if !sub.is_empty() {
            return match self.checks.iter().find(|c| c.name() == sub) {
                Some(check) => match check.check().await {
                    Ok(()) => text_response(200, "ok"),
                    Err(reason) => text_response(500, format!("internal server error: {reason}")),
                },
                None => text_response(404, "404 page not found"),
            };
        }
        let pairs: Vec<(String, String)> = query
            .map(|q| {
                q.split('&')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (k.to_owned(), v.to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let verbose = pairs.iter().any(|(k, v)| k == "verbose" && v != "false" && v != "0");
        let excluded: Vec<&str> =
            pairs.iter().filter(|(k, _)| k == "exclude").map(|(_, v)| v.as_str()).collect();
        let mut report = String::new();
        let mut failed = false;
        for check in &self.checks {
            if excluded.contains(&check.name()) {
                report.push_str(&format!("[+]{} excluded: ok\n", check.name()));
                continue;
            }
            match check.check().await {
                Ok(()) => report.push_str(&format!("[+]{} ok\n", check.name())),
                Err(reason) => {
                    failed = true;
                    tracing::warn!(endpoint = self.name, check = check.name(), %reason, "health check failed");
                    report.push_str(&format!("[-]{} failed: reason withheld\n", check.name()));
                }
            }
        }
        if failed {
            report.push_str(&format!("{} check failed\n", self.name));
            return text_response(500, report);
        }
        if verbose {
            report.push_str(&format!("{} check passed\n", self.name));
            text_response(200, report)
        } else {
            text_response(200, "ok")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    struct Broken;
    #[async_trait]
    impl HealthCheck for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        async fn check(&self) -> Result<(), String> {
            Err("disk on fire".into())
        }
    }

    async fn text(r: Response) -> (u16, String) {
        let status = r.status().as_u16();
        (status, String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap())
    }

    #[tokio::test]
    async fn verbose_lists_checks() {
        let e = HealthEndpoint { name: "readyz", checks: vec![Arc::new(Ping)] };
        assert_eq!(text(e.serve("", None).await).await, (200, "ok".into()));
        assert_eq!(
            text(e.serve("", Some("verbose")).await).await,
            (200, "[+]ping ok\nreadyz check passed\n".into())
        );
        assert_eq!(text(e.serve("/ping", None).await).await, (200, "ok".into()));
        assert_eq!(text(e.serve("/nope", None).await).await.0, 404);
    }

    #[tokio::test]
    async fn failure_is_500_and_excludable() {
        let e = HealthEndpoint { name: "readyz", checks: vec![Arc::new(Ping), Arc::new(Broken)] };
        let (code, body) = text(e.serve("", None).await).await;
        assert_eq!(code, 500);
        assert!(body.contains("[-]broken failed: reason withheld"));
        assert!(body.ends_with("readyz check failed\n"));
        assert_eq!(text(e.serve("", Some("exclude=broken")).await).await.0, 200);
        assert_eq!(text(e.serve("/broken", None).await).await.0, 500);
    }
}
