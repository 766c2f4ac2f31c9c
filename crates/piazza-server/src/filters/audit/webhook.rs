//! The batching audit webhook backend (`--audit-webhook-config-file`, upstream's
//! `plugin/pkg/audit/webhook` behind `plugin/pkg/audit/buffered`).
//!
//! Events go to a bounded queue ([`WebhookBatching::buffer_size`]); when it is full the event
//! is dropped and counted, so a slow or dead webhook never blocks a request. A task takes
//! batches of up to [`WebhookBatching::max_size`] events, waiting at most
//! [`WebhookBatching::max_wait`] after the first one, and POSTs each as an
//! `audit.k8s.io/v1` `EventList` to the server the kubeconfig names. A batch the webhook
//! does not accept (transport error or non-2xx) is counted as failed events and not retried.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::event::Event;
use super::metrics::BackendCounters;
use super::sink::AuditSink;
use crate::handlers::metrics::MetricsSource;

/// How events are batched; upstream's `--audit-webhook-batch-*` flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookBatching {
    /// Events queued before new ones are dropped (`--audit-webhook-batch-buffer-size`).
    pub buffer_size: usize,
    /// The most events in one request (`--audit-webhook-batch-max-size`).
    pub max_size: usize,
    /// The longest an event waits for its batch to fill (`--audit-webhook-batch-max-wait`).
    pub max_wait: Duration,
    /// The longest one webhook request may take.
    pub request_timeout: Duration,
}

impl Default for WebhookBatching {
    fn default() -> Self {
        Self {
            buffer_size: 10_000,
            max_size: 400,
            max_wait: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Why the webhook backend could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot use audit webhook config {path}: {message}")]
pub struct WebhookError {
    /// The kubeconfig file.
    pub path: String,
    /// The cause.
    pub message: String,
}

#[derive(Debug, Default)]
struct Counters {
    events: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
}

/// Sends audit events to a webhook in batches; see the module documentation.
#[derive(Clone)]
pub struct WebhookBackend {
    queue: mpsc::Sender<Vec<u8>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for WebhookBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookBackend").field("counters", &self.counters).finish_non_exhaustive()
    }
}

impl WebhookBackend {
    /// Reads the kubeconfig at `path` (its current context names the webhook server and the
    /// credentials) and starts the sending task.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime.
    pub async fn from_kubeconfig(path: &Path, batching: WebhookBatching) -> Result<Self, WebhookError> {
        let failed = |message: String| WebhookError { path: path.display().to_string(), message };
        let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| failed(e.to_string()))?;
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| failed(e.to_string()))?;
        config.connect_timeout = Some(batching.request_timeout);
        config.read_timeout = Some(batching.request_timeout);
        config.write_timeout = Some(batching.request_timeout);
        let provider = piazza_tls::crypto_provider();
        let _ = tokio_rustls::rustls::crypto::CryptoProvider::install_default((*provider).clone());
        let client = kube::Client::try_from(config).map_err(|e| failed(e.to_string()))?;
        Ok(Self::start(client, batching))
    }

    /// Starts the sending task with `client`.
    fn start(client: kube::Client, batching: WebhookBatching) -> Self {
        let (queue, events) = mpsc::channel(batching.buffer_size.max(1));
        let counters = Arc::new(Counters::default());
        tokio::spawn(send_batches(events, client, batching, Arc::clone(&counters)));
        Self { queue, counters }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

/// Collects the next batch: waits for a first event, then takes more until the batch is
/// full or `max_wait` has passed. `None` when every sender is gone and nothing is left.
async fn next_batch(
    events: &mut mpsc::Receiver<Vec<u8>>,
    batching: &WebhookBatching,
) -> Option<Vec<Vec<u8>>> {
    let first = events.recv().await?;
    let mut batch = vec![first];
    let deadline = tokio::time::Instant::now() + batching.max_wait;
    while batch.len() < batching.max_size.max(1) {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => batch.push(event),
            Ok(None) | Err(_) => break,
        }
    }
    Some(batch)
}

/// The body of one batch: an `EventList` of the already serialized events.
pub fn event_list(events: &[Vec<u8>]) -> Vec<u8> {
    let mut body = br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":["#.to_vec();
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(event);
    }
    body.extend_from_slice(b"]}");
    body
}

async fn send_batches(
    mut events: mpsc::Receiver<Vec<u8>>,
    client: kube::Client,
    batching: WebhookBatching,
    counters: Arc<Counters>,
) {
    while let Some(batch) = next_batch(&mut events, &batching).await {
        let count = batch.len() as u64;
        match post(&client, event_list(&batch), batching.request_timeout).await {
            Ok(()) => {
                counters.batches.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                counters.failed.fetch_add(count, Ordering::Relaxed);
                tracing::warn!(%error, events = count, "audit webhook batch failed; events lost");
            }
        }
    }
}

async fn post(client: &kube::Client, body: Vec<u8>, timeout: Duration) -> Result<(), String> {
    // An authority-only URI: the client sends to the kubeconfig's server URL as it is.
    let request = http::Request::post(http::Uri::from_static("webhook"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(kube::client::Body::from(body))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(timeout, client.send(request))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("webhook answered {}", response.status()))
    }
}

impl AuditSink for WebhookBackend {
    fn process(&self, event: &Event) {
        self.counters.events.fetch_add(1, Ordering::Relaxed);
        let Ok(serialized) = serde_json::to_vec(event) else {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if self.queue.try_send(serialized).is_err()
            && self.counters.dropped.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!("audit webhook queue full; dropping events");
        }
    }
}

impl BackendCounters for WebhookBackend {
    fn plugin(&self) -> &'static str {
        "webhook"
    }

    fn events(&self) -> u64 {
        self.counters.events.load(Ordering::Relaxed)
    }

    fn errors(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed) + self.dropped()
    }
}

/// The webhook's own families; the shared ones are [`AuditMetrics`](super::metrics::AuditMetrics).
impl MetricsSource for WebhookBackend {
    fn render(&self, out: &mut String) {
        out.push_str("# HELP apiserver_audit_webhook_dropped_total Audit events the webhook backend dropped because its buffer was full.\n");
        out.push_str("# TYPE apiserver_audit_webhook_dropped_total counter\n");
        out.push_str(&format!("apiserver_audit_webhook_dropped_total {}\n", self.dropped()));
        out.push_str("# HELP apiserver_audit_webhook_batches_total Batches the audit webhook accepted.\n");
        out.push_str("# TYPE apiserver_audit_webhook_batches_total counter\n");
        let batches = self.counters.batches.load(Ordering::Relaxed);
        out.push_str(&format!("apiserver_audit_webhook_batches_total {batches}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_an_event_list() {
        let body = event_list(&[br#"{"a":1}"#.to_vec(), br#"{"b":2}"#.to_vec()]);
        let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(list["kind"], "EventList");
        assert_eq!(list["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(list["items"], serde_json::json!([{"a":1},{"b":2}]));
        let empty: serde_json::Value = serde_json::from_slice(&event_list(&[])).unwrap();
        assert_eq!(empty["items"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn batches_fill_up_to_max_size_or_wait_at_most_max_wait() {
        let batching =
            WebhookBatching { max_size: 3, max_wait: Duration::from_millis(200), ..Default::default() };
        let (tx, mut rx) = mpsc::channel(10);
        for i in 0..4u8 {
            tx.send(vec![i]).await.unwrap();
        }
        assert_eq!(next_batch(&mut rx, &batching).await.unwrap(), [vec![0], vec![1], vec![2]]);
        let started = tokio::time::Instant::now();
        assert_eq!(next_batch(&mut rx, &batching).await.unwrap(), [vec![3]]);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(5), "{waited:?}");
        drop(tx);
        assert!(next_batch(&mut rx, &batching).await.is_none());
    }
}
