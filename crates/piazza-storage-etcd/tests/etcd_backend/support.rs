//! Helpers shared by the etcd-specific tests.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use piazza_storage::{Event, WatchStream};
use piazza_storage_etcd::testing::EtcdServer;
use piazza_storage_etcd::{EtcdOptions, EtcdStore};

/// How long to wait for something that must happen.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Bytes from a string.
pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// A store on `server` with its test options.
pub async fn connect(server: &EtcdServer) -> Arc<EtcdStore> {
    connect_with(server.options()).await
}

/// A store with `options`, which must connect.
pub async fn connect_with(options: EtcdOptions) -> Arc<EtcdStore> {
    EtcdStore::connect(options).await.unwrap_or_else(|e| panic!("connecting to etcd: {}", chain(&e)))
}

/// The next event of a watch (skipping progress markers), which must come.
pub async fn next_event(w: &mut WatchStream) -> Event {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(Ok(event))) if event.is_progress() => continue,
            Ok(Some(Ok(event))) => return event,
            Ok(other) => panic!("expected an event, got {other:?}"),
            Err(_) => panic!("no watch event within {PATIENCE:?}"),
        }
    }
}

/// An error and its sources, on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
