//! The `kube-system/extension-apiserver-authentication` ConfigMap: the cluster's client CA and
//! front-proxy settings, published by kube-apiserver for the servers it aggregates.
//!
//! Read as upstream's `DelegatingAuthenticationOptions` reads it:
//! - `client-ca-file` (PEM) verifies client certificates, unless `--client-ca-file` is given;
//! - `requestheader-client-ca-file` (PEM) and `requestheader-allowed-names`,
//!   `requestheader-username-headers`, `requestheader-uid-headers`,
//!   `requestheader-group-headers`, `requestheader-extra-headers-prefix` (each a JSON array
//!   of strings; missing or empty means none) configure the front proxy, unless
//!   `--requestheader-client-ca-file` is given, in which case the flags say it all.
//!
//! The map is re-read every refresh interval; a changed CA or setting takes effect without a
//! restart. A map that cannot be parsed leaves the previous settings in place; a missing map
//! (404) or key means no such CA, so nothing verifies against it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::ConfigMap;
use piazza_tls::CertificateAuthority;

use super::client::error_message;
use super::retry::CallError;
use super::swappable::SwappableAuthenticator;
use crate::filters::authentication::{Authenticator, X509Authenticator};
use crate::filters::request_header::{RequestHeaderAuthenticator, RequestHeaderNames};

/// The ConfigMap's namespace.
pub const CONFIGMAP_NAMESPACE: &str = "kube-system";
/// The ConfigMap's name.
pub const CONFIGMAP_NAME: &str = "extension-apiserver-authentication";
/// How often the ConfigMap is re-read by default.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The front-proxy part of the ConfigMap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHeaderSettings {
    /// `requestheader-client-ca-file`: PEM, if present and non-empty.
    pub client_ca: Option<String>,
    /// `requestheader-allowed-names`.
    pub allowed_names: Vec<String>,
    /// `requestheader-username-headers`.
    pub username_headers: Vec<String>,
    /// `requestheader-uid-headers`.
    pub uid_headers: Vec<String>,
    /// `requestheader-group-headers`.
    pub group_headers: Vec<String>,
    /// `requestheader-extra-headers-prefix`.
    pub extra_headers_prefix: Vec<String>,
}

impl RequestHeaderSettings {
    /// The header names, validated.
    pub fn names(&self) -> Result<RequestHeaderNames, String> {
        RequestHeaderNames::new(
            &self.username_headers,
            &self.uid_headers,
            &self.group_headers,
            &self.extra_headers_prefix,
        )
        .map_err(|e| e.to_string())
    }
}

/// What the ConfigMap says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtensionAuthentication {
    /// `client-ca-file`: PEM, if present and non-empty.
    pub client_ca: Option<String>,
    /// The front-proxy settings.
    pub request_header: RequestHeaderSettings,
}

fn json_strings(data: &BTreeMap<String, String>, key: &str) -> Result<Vec<String>, String> {
    match data.get(key).map(String::as_str) {
        None | Some("") => Ok(Vec::new()),
        Some(raw) => serde_json::from_str(raw).map_err(|e| format!("{key}: {e}")),
    }
}

fn pem(data: &BTreeMap<String, String>, key: &str) -> Option<String> {
    data.get(key).filter(|v| !v.trim().is_empty()).cloned()
}

impl ExtensionAuthentication {
    /// Parses the ConfigMap's data; a list that is not a JSON array of strings is an error.
    pub fn parse(data: &BTreeMap<String, String>) -> Result<Self, String> {
        Ok(Self {
            client_ca: pem(data, "client-ca-file"),
            request_header: RequestHeaderSettings {
                client_ca: pem(data, "requestheader-client-ca-file"),
                allowed_names: json_strings(data, "requestheader-allowed-names")?,
                username_headers: json_strings(data, "requestheader-username-headers")?,
                uid_headers: json_strings(data, "requestheader-uid-headers")?,
                group_headers: json_strings(data, "requestheader-group-headers")?,
                extra_headers_prefix: json_strings(data, "requestheader-extra-headers-prefix")?,
            },
        })
    }
}

/// Where the ConfigMap comes from.
#[async_trait]
pub trait ConfigMapSource: Send + Sync + 'static {
    /// The ConfigMap's data, `None` when it does not exist.
    async fn fetch(&self) -> Result<Option<BTreeMap<String, String>>, CallError>;
}

/// [`ConfigMapSource`] over a `kube::Client`.
pub struct KubeConfigMapSource {
    api: kube::Api<ConfigMap>,
}

impl KubeConfigMapSource {
    /// Reads through `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { api: kube::Api::namespaced(client, CONFIGMAP_NAMESPACE) }
    }
}

#[async_trait]
impl ConfigMapSource for KubeConfigMapSource {
    async fn fetch(&self) -> Result<Option<BTreeMap<String, String>>, CallError> {
        match self.api.get(CONFIGMAP_NAME).await {
            Ok(map) => Ok(Some(map.data.unwrap_or_default())),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(e) => {
                if let kube::Error::Api(status) = &e
                    && status.code == 403
                {
                    tracing::warn!(
                        "unable to get configmap/{CONFIGMAP_NAME} in {CONFIGMAP_NAMESPACE}: grant the server's identity the extension-apiserver-authentication-reader role"
                    );
                }
                Err(CallError::Permanent(error_message(&e)))
            }
        }
    }
}

/// One CA fed from the ConfigMap, and the authenticator built on it.
struct CaSlot {
    label: &'static str,
    ca: Option<CertificateAuthority>,
}

impl CaSlot {
    /// Brings the CA to `pem`; returns true when a CA was created or removed (so whatever is
    /// built on it must be rebuilt). In-place rotations keep the same handle.
    fn update(&mut self, pem: Option<&str>) -> bool {
        match (pem, &self.ca) {
            (None, None) => false,
            (None, Some(_)) => {
                self.ca = None;
                true
            }
            (Some(pem), Some(ca)) => {
                if let Err(error) = ca.update_pem(pem.as_bytes()) {
                    tracing::error!(ca = self.label, %error, "invalid CA in the ConfigMap; keeping the previous one");
                }
                false
            }
            (Some(pem), None) => match CertificateAuthority::from_pem(self.label, pem.as_bytes()) {
                Ok(ca) => {
                    self.ca = Some(ca);
                    true
                }
                Err(error) => {
                    tracing::error!(ca = self.label, %error, "invalid CA in the ConfigMap");
                    false
                }
            },
        }
    }
}

struct State {
    client_ca: CaSlot,
    request_header_ca: CaSlot,
    request_header: Option<RequestHeaderSettings>,
}

/// Keeps the ConfigMap-fed authenticators up to date.
pub struct ExtensionConfigRefresher {
    source: Arc<dyn ConfigMapSource>,
    client_cert: Option<Arc<SwappableAuthenticator>>,
    request_header: Option<Arc<SwappableAuthenticator>>,
    state: Mutex<State>,
}

impl ExtensionConfigRefresher {
    /// Reads from `source`; feeds an x509 authenticator when `client_ca` and a front-proxy
    /// authenticator when `request_header` (each starts empty until the first refresh).
    pub fn new(source: Arc<dyn ConfigMapSource>, client_ca: bool, request_header: bool) -> Self {
        let swappable = |wanted: bool| wanted.then(|| Arc::new(SwappableAuthenticator::new(None)));
        Self {
            source,
            client_cert: swappable(client_ca),
            request_header: swappable(request_header),
            state: Mutex::new(State {
                client_ca: CaSlot {
                    label: "configmap kube-system/extension-apiserver-authentication client-ca-file",
                    ca: None,
                },
                request_header_ca: CaSlot {
                    label: "configmap kube-system/extension-apiserver-authentication requestheader-client-ca-file",
                    ca: None,
                },
                request_header: None,
            }),
        }
    }

    /// The x509 authenticator on the ConfigMap's `client-ca-file`, if fed.
    pub fn client_cert_authenticator(&self) -> Option<Arc<SwappableAuthenticator>> {
        self.client_cert.clone()
    }

    /// The front-proxy authenticator on the ConfigMap's request-header settings, if fed.
    pub fn request_header_authenticator(&self) -> Option<Arc<SwappableAuthenticator>> {
        self.request_header.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The CAs currently loaded from the ConfigMap (for the TLS handshake's hints).
    pub fn certificate_authorities(&self) -> Vec<CertificateAuthority> {
        let state = self.lock();
        state.client_ca.ca.iter().chain(state.request_header_ca.ca.iter()).cloned().collect()
    }

    /// The front-proxy header names the ConfigMap configured, if loaded and valid.
    pub fn request_header_names(&self) -> Option<RequestHeaderNames> {
        self.lock().request_header.as_ref().and_then(|s| s.names().ok())
    }

    /// Applies parsed settings.
    pub fn apply(&self, config: &ExtensionAuthentication) {
        let mut state = self.lock();
        if let Some(slot) = &self.client_cert
            && state.client_ca.update(config.client_ca.as_deref())
        {
            slot.set(
                state
                    .client_ca
                    .ca
                    .clone()
                    .map(|ca| Arc::new(X509Authenticator::new(ca)) as Arc<dyn Authenticator>),
            );
        }
        if let Some(slot) = &self.request_header {
            let ca_changed = state.request_header_ca.update(config.request_header.client_ca.as_deref());
            let settings = RequestHeaderSettings { client_ca: None, ..config.request_header.clone() };
            if !ca_changed && state.request_header.as_ref() == Some(&settings) {
                return;
            }
            let names = match settings.names() {
                Ok(names) => names,
                Err(error) => {
                    tracing::error!(%error, "invalid request-header settings in the ConfigMap; keeping the previous ones");
                    return;
                }
            };
            let authenticator = state.request_header_ca.ca.clone().map(|ca| {
                Arc::new(RequestHeaderAuthenticator::new(ca, settings.allowed_names.clone(), Arc::new(names)))
                    as Arc<dyn Authenticator>
            });
            slot.set(authenticator);
            state.request_header = Some(settings);
        }
    }

    /// Reads the ConfigMap once and applies it. A missing map applies empty settings.
    pub async fn refresh(&self) -> Result<(), String> {
        let data = self.source.fetch().await.map_err(|e| e.to_string())?;
        let config = ExtensionAuthentication::parse(&data.unwrap_or_default())?;
        self.apply(&config);
        Ok(())
    }

    /// Re-reads every `interval` until the refresher is dropped, logging failures (the last
    /// good settings stay in use).
    pub fn spawn(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(this) = weak.upgrade() else { return };
                if let Err(error) = this.refresh().await {
                    tracing::warn!(%error, "re-reading configmap/{CONFIGMAP_NAME} failed; keeping the previous settings");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
