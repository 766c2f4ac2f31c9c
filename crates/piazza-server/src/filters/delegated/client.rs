//! The client for the cluster: `kube::Client` from a kubeconfig file, or from the in-cluster
//! service account when no file is named and the pod environment is present.

use std::path::Path;
use std::time::Duration;

use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::retry::{Backoff, CallError, call_with_retries, classify};

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DelegationClientError {
    /// The kubeconfig could not be read or used.
    #[error("failed to get delegated {purpose} kubeconfig {path}: {message}")]
    Kubeconfig {
        /// `authentication` or `authorization`.
        purpose: &'static str,
        /// The file.
        path: String,
        /// The cause.
        message: String,
    },
    /// The in-cluster configuration could not be used.
    #[error("failed to get delegated {purpose} in-cluster config: {message}")]
    InCluster {
        /// `authentication` or `authorization`.
        purpose: &'static str,
        /// The cause.
        message: String,
    },
}

/// Makes sure rustls has a process-wide crypto provider (the workspace's, ring) before kube
/// builds its TLS configuration.
fn install_crypto_provider() {
    let provider = piazza_tls::crypto_provider();
    let _ = tokio_rustls::rustls::crypto::CryptoProvider::install_default((*provider).clone());
}

fn with_timeouts(mut config: kube::Config, timeout: Duration) -> kube::Config {
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config
}

fn build(config: kube::Config) -> Result<kube::Client, String> {
    install_crypto_provider();
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// A client for the cluster named by the kubeconfig at `path` (its current context), each
/// request bounded by `timeout`. `purpose` names the flag in errors.
pub async fn client_from_kubeconfig(
    purpose: &'static str,
    path: &Path,
    timeout: Duration,
) -> Result<kube::Client, DelegationClientError> {
    let failed = |message: String| DelegationClientError::Kubeconfig {
        purpose,
        path: path.display().to_string(),
        message,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| failed(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| failed(e.to_string()))?;
    build(with_timeouts(config, timeout)).map_err(failed)
}

/// The in-cluster client when the pod environment (`KUBERNETES_SERVICE_HOST`) is present,
/// `Ok(None)` otherwise (as upstream's optional remote kubeconfig).
pub fn in_cluster_client(
    purpose: &'static str,
    timeout: Duration,
) -> Result<Option<kube::Client>, DelegationClientError> {
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
        return Ok(None);
    }
    let failed = |message: String| DelegationClientError::InCluster { purpose, message };
    let config = kube::Config::incluster().map_err(|e| failed(e.to_string()))?;
    build(with_timeouts(config, timeout)).map(Some).map_err(failed)
}

/// The message of a client error: the Status message for API errors, else the error.
pub fn error_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// Creating a review object (`TokenReview`, `SubjectAccessReview`) in the cluster, with
/// retries and a deadline; the answer carries the review's status.
pub struct ReviewCall<K> {
    api: kube::Api<K>,
    backoff: Backoff,
    timeout: Duration,
}

impl<K> ReviewCall<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
    K::DynamicType: Default,
{
    /// Creates through `client`, retrying with `backoff`, each whole call bounded by
    /// `timeout`.
    pub fn new(client: kube::Client, backoff: Backoff, timeout: Duration) -> Self {
        Self { api: kube::Api::all(client), backoff, timeout }
    }

    /// `POST`s `review` and returns the cluster's answer.
    pub async fn create(&self, review: &K) -> Result<K, CallError> {
        call_with_retries(self.backoff, self.timeout, || async {
            self.api.create(&PostParams::default(), review).await.map_err(|e| match classify(&e) {
                CallError::Transient(_) => CallError::Transient(error_message(&e)),
                CallError::Permanent(_) => CallError::Permanent(error_message(&e)),
            })
        })
        .await
    }
}
