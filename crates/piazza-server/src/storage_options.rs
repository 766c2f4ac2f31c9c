//! Storage flags: the embedded store by default, etcd with `--etcd-servers`, and the watch
//! cache in front of either (`--watch-cache`, on by default as upstream).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use piazza_storage::Storage;
use piazza_storage::cache::{CacheOptions, CachedStorage};
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};

use crate::handlers::metrics::MetricsSource;

/// Parses a Go-style duration (`300ms`, `90s`, `5m`, `1h30m`, `0`).
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".to_owned());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration {input:?}"));
        }
        let value: f64 = rest[..digits].parse().map_err(|_| format!("invalid duration {input:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => return Err(format!("invalid unit {unit:?} in duration {input:?}")),
        };
        rest = &rest[unit_len..];
        let part = value * seconds;
        if !part.is_finite() || part > 1e9 {
            return Err(format!("duration {input:?} is too large"));
        }
        total += Duration::from_secs_f64(part);
    }
    Ok(total)
}

/// An opened storage stack and the metrics it exposes.
pub struct OpenedStorage {
    /// The storage to build stores on.
    pub storage: Arc<dyn Storage>,
    /// Sources for `/metrics` (the watch cache's counters).
    pub metrics: Vec<Arc<dyn MetricsSource>>,
}

/// Parses `--storage-media-type`: one of the three media types objects can be stored in.
pub fn parse_storage_media_type(input: &str) -> Result<piazza_codec::Format, String> {
    piazza_codec::Format::from_essence(input.trim()).ok_or_else(|| {
        format!(
            "unsupported storage media type {input:?}; use {}, {} or {}",
            piazza_codec::JSON,
            piazza_codec::YAML,
            piazza_codec::PROTOBUF
        )
    })
}

/// Where objects are stored.
#[derive(Clone, Debug, clap::Args)]
pub struct StorageOptions {
    /// List of etcd servers to connect with (scheme://ip:port), comma separated. Without it
    /// the embedded store under --data-dir is used.
    #[arg(long, value_delimiter = ',')]
    pub etcd_servers: Vec<String>,

    /// The prefix to prepend to all resource paths in etcd.
    #[arg(long, default_value = "/registry")]
    pub etcd_prefix: String,

    /// SSL Certificate Authority file used to secure etcd communication.
    #[arg(long)]
    pub etcd_cafile: Option<std::path::PathBuf>,

    /// SSL certification file used to secure etcd communication.
    #[arg(long)]
    pub etcd_certfile: Option<std::path::PathBuf>,

    /// SSL key file used to secure etcd communication.
    #[arg(long)]
    pub etcd_keyfile: Option<std::path::PathBuf>,

    /// The interval of compaction requests. If 0, the compaction request from apiserver is
    /// disabled.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub etcd_compaction_interval: Duration,

    /// Enable the watch cache in front of the storage backend.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub watch_cache: bool,

    /// The media type to use to store objects in storage: application/json,
    /// application/yaml or application/vnd.kubernetes.protobuf. Kinds without a protobuf
    /// message are stored as JSON when protobuf is asked for. Objects stored in any of them
    /// stay readable after this changes.
    #[arg(long, default_value = piazza_codec::PROTOBUF, value_parser = parse_storage_media_type)]
    pub storage_media_type: piazza_codec::Format,

    /// How long the embedded store keeps revision history for watches and consistent
    /// pagination.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub history_window: Duration,

    /// Memory, in MiB, for the embedded store's page cache (its database file is read through
    /// it; pages beyond it come from the operating system's file cache).
    #[arg(long, default_value_t = DEFAULT_EMBEDDED_CACHE_MIB, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub embedded_cache_mib: u32,
}

/// The default `--embedded-cache-mib`.
pub const DEFAULT_EMBEDDED_CACHE_MIB: u32 = 32;

impl StorageOptions {
    /// The key prefix the registry builds storage keys under.
    pub fn key_prefix(&self) -> &str {
        if self.etcd_servers.is_empty() { "/registry" } else { &self.etcd_prefix }
    }

    /// The key prefix and media type the registry stores objects with.
    pub fn layout(&self) -> piazza_registry::StorageLayout {
        piazza_registry::StorageLayout {
            key_prefix: self.key_prefix().to_owned(),
            media_type: self.storage_media_type,
        }
    }

    /// True when etcd is the backend.
    pub fn uses_etcd(&self) -> bool {
        !self.etcd_servers.is_empty()
    }

    /// Opens the configured backend, with the watch cache in front when enabled.
    pub async fn open(&self, data_dir: &Path) -> Result<OpenedStorage, piazza_storage::StorageError> {
        let backend: Arc<dyn Storage> = if self.uses_etcd() {
            self.open_etcd().await?
        } else {
            EmbeddedStore::open(
                &data_dir.join("db"),
                EmbeddedOptions {
                    history_window: self.history_window,
                    cache_bytes: self.embedded_cache_mib as usize * 1024 * 1024,
                    ..EmbeddedOptions::default()
                },
            )?
        };
        self.with_cache(backend).await
    }

    #[cfg(feature = "etcd")]
    async fn open_etcd(&self) -> Result<Arc<dyn Storage>, piazza_storage::StorageError> {
        use piazza_storage_etcd::{EtcdOptions, EtcdStore};
        let store: Arc<dyn Storage> = EtcdStore::connect(EtcdOptions {
            endpoints: self.etcd_servers.clone(),
            ca_file: self.etcd_cafile.clone(),
            cert_file: self.etcd_certfile.clone(),
            key_file: self.etcd_keyfile.clone(),
            prefix: self.etcd_prefix.clone(),
            compaction_interval: self.etcd_compaction_interval,
            ..EtcdOptions::default()
        })
        .await?;
        Ok(store)
    }

    #[cfg(not(feature = "etcd"))]
    async fn open_etcd(&self) -> Result<Arc<dyn Storage>, piazza_storage::StorageError> {
        Err(piazza_storage::StorageError::internal(
            "opening etcd",
            "this binary was built without etcd support; rebuild with `--features etcd` (needs protoc)",
        ))
    }

    async fn with_cache(
        &self,
        backend: Arc<dyn Storage>,
    ) -> Result<OpenedStorage, piazza_storage::StorageError> {
        if !self.watch_cache {
            return Ok(OpenedStorage { storage: backend, metrics: Vec::new() });
        }
        let prefix = format!("{}/", self.key_prefix().trim_end_matches('/'));
        let cache = CachedStorage::start(backend, CacheOptions { prefix, ..CacheOptions::default() }).await?;
        let weak = Arc::downgrade(&cache);
        let metrics: Arc<dyn MetricsSource> = Arc::new(move |out: &mut String| {
            if let Some(cache) = weak.upgrade() {
                out.push_str(&cache.metrics().prometheus_text("piazza_watch_cache"));
            }
        });
        Ok(OpenedStorage { storage: cache, metrics: vec![metrics] })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        storage: StorageOptions,
    }

    #[test]
    fn the_embedded_cache_size_is_bounded() {
        let parse = |args: &[&str]| Flags::try_parse_from([&["x"], args].concat()).map(|f| f.storage);
        assert_eq!(parse(&[]).unwrap().embedded_cache_mib, DEFAULT_EMBEDDED_CACHE_MIB);
        assert_eq!(parse(&["--embedded-cache-mib", "8"]).unwrap().embedded_cache_mib, 8);
        for bad in ["0", "65537", "-1", "lots", "", "1.5"] {
            assert!(parse(&["--embedded-cache-mib", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "5", "m", "5x", "-1s", "1e99h", "5m3"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
