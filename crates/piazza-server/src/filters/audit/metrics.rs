//! The audit backends' shared metric families: `apiserver_audit_event_total` and
//! `apiserver_audit_error_total{plugin}`, written once however many backends are on.

use std::sync::Arc;

use crate::handlers::metrics::MetricsSource;

/// What one audit backend counts.
pub trait BackendCounters: Send + Sync + 'static {
    /// The `plugin` label (`log`, `webhook`).
    fn plugin(&self) -> &'static str;
    /// Events handed to the backend.
    fn events(&self) -> u64;
    /// Events the backend dropped or failed to deliver.
    fn errors(&self) -> u64;
}

/// The shared families over every backend that is on.
#[derive(Clone)]
pub struct AuditMetrics(pub Vec<Arc<dyn BackendCounters>>);

impl MetricsSource for AuditMetrics {
    fn render(&self, out: &mut String) {
        // Every backend sees every event: the count is the same for each.
        let events = self.0.iter().map(|b| b.events()).max().unwrap_or(0);
        out.push_str(
            "# HELP apiserver_audit_event_total Audit events generated and sent to the audit backend.\n",
        );
        out.push_str("# TYPE apiserver_audit_event_total counter\n");
        out.push_str(&format!("apiserver_audit_event_total {events}\n"));
        out.push_str(
            "# HELP apiserver_audit_error_total Audit events the backend dropped or failed to deliver.\n",
        );
        out.push_str("# TYPE apiserver_audit_error_total counter\n");
        for backend in &self.0 {
            out.push_str(&format!(
                "apiserver_audit_error_total{{plugin=\"{}\"}} {}\n",
                backend.plugin(),
                backend.errors()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, u64, u64);

    impl BackendCounters for Fixed {
        fn plugin(&self) -> &'static str {
            self.0
        }
        fn events(&self) -> u64 {
            self.1
        }
        fn errors(&self) -> u64 {
            self.2
        }
    }

    #[test]
    fn each_family_is_written_once_with_a_sample_per_backend() {
        let metrics = AuditMetrics(vec![Arc::new(Fixed("log", 5, 0)), Arc::new(Fixed("webhook", 5, 3))]);
        let mut out = String::new();
        metrics.render(&mut out);
        assert_eq!(out.matches("# TYPE apiserver_audit_error_total counter").count(), 1);
        assert!(out.contains("apiserver_audit_event_total 5\n"), "{out}");
        assert!(out.contains("apiserver_audit_error_total{plugin=\"log\"} 0\n"), "{out}");
        assert!(out.contains("apiserver_audit_error_total{plugin=\"webhook\"} 3\n"), "{out}");
    }
}
