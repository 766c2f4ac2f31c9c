//! Writing a kubeconfig that `kubectl` can use at once.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::TlsError;
use crate::files::{PRIVATE_MODE, create_private_dir, write_atomic};

/// What goes into a kubeconfig: one cluster, one user with a client certificate, one context
/// joining them (made current). PEMs are embedded base64-encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct KubeconfigSpec {
    /// The server URL, e.g. `https://127.0.0.1:8443`.
    pub server_url: String,
    /// Name of the cluster entry.
    pub cluster_name: String,
    /// Name of the context entry, which becomes `current-context`.
    pub context_name: String,
    /// Name of the user entry.
    pub user_name: String,
    /// PEM of the CA that signed the serving certificate (`certificate-authority-data`).
    pub ca_pem: String,
    /// PEM of the client certificate (`client-certificate-data`).
    pub client_cert_pem: String,
    /// PEM of the client key (`client-key-data`).
    pub client_key_pem: String,
}

impl fmt::Debug for KubeconfigSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeconfigSpec")
            .field("server_url", &self.server_url)
            .field("cluster_name", &self.cluster_name)
            .field("context_name", &self.context_name)
            .field("user_name", &self.user_name)
            .field("client_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl KubeconfigSpec {
    fn validate(&self) -> Result<(), TlsError> {
        let required = [
            ("server_url", &self.server_url),
            ("cluster_name", &self.cluster_name),
            ("context_name", &self.context_name),
            ("user_name", &self.user_name),
            ("ca_pem", &self.ca_pem),
            ("client_cert_pem", &self.client_cert_pem),
            ("client_key_pem", &self.client_key_pem),
        ];
        for (field, value) in required {
            if value.trim().is_empty() {
                return Err(TlsError::InvalidKubeconfig { field, problem: "is empty" });
            }
        }
        if !self.server_url.starts_with("https://") {
            return Err(TlsError::InvalidKubeconfig {
                field: "server_url",
                problem: "must start with https://",
            });
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Kubeconfig<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    clusters: [NamedCluster<'a>; 1],
    users: [NamedUser<'a>; 1],
    contexts: [NamedContext<'a>; 1],
    #[serde(rename = "current-context")]
    current_context: &'a str,
    preferences: Preferences,
}

#[derive(Serialize)]
struct Preferences {}

#[derive(Serialize)]
struct NamedCluster<'a> {
    name: &'a str,
    cluster: Cluster<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster<'a> {
    server: &'a str,
    certificate_authority_data: String,
}

#[derive(Serialize)]
struct NamedUser<'a> {
    name: &'a str,
    user: User,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: String,
    client_key_data: String,
}

#[derive(Serialize)]
struct NamedContext<'a> {
    name: &'a str,
    context: Context<'a>,
}

#[derive(Serialize)]
struct Context<'a> {
    cluster: &'a str,
    user: &'a str,
}

/// Renders the kubeconfig YAML for `spec`.
pub fn render_kubeconfig(spec: &KubeconfigSpec) -> Result<String, TlsError> {
    spec.validate()?;
    let doc = Kubeconfig {
        api_version: "v1",
        kind: "Config",
        clusters: [NamedCluster {
            name: &spec.cluster_name,
            cluster: Cluster {
                server: &spec.server_url,
                certificate_authority_data: STANDARD.encode(&spec.ca_pem),
            },
        }],
        users: [NamedUser {
            name: &spec.user_name,
            user: User {
                client_certificate_data: STANDARD.encode(&spec.client_cert_pem),
                client_key_data: STANDARD.encode(&spec.client_key_pem),
            },
        }],
        contexts: [NamedContext {
            name: &spec.context_name,
            context: Context { cluster: &spec.cluster_name, user: &spec.user_name },
        }],
        current_context: &spec.context_name,
        preferences: Preferences {},
    };
    serde_yaml_ng::to_string(&doc).map_err(|source| TlsError::KubeconfigYaml { source })
}

/// Writes the kubeconfig for `spec` to `path` with mode 0600, atomically (a temporary file in
/// the same directory renamed over `path`), creating missing parent directories (mode 0700).
pub fn write_kubeconfig(path: &Path, spec: &KubeconfigSpec) -> Result<(), TlsError> {
    let yaml = render_kubeconfig(spec)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    write_atomic(path, yaml.as_bytes(), PRIVATE_MODE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_yaml_ng::Value;

    fn spec() -> KubeconfigSpec {
        KubeconfigSpec {
            server_url: "https://127.0.0.1:8443".into(),
            cluster_name: "pizza".into(),
            context_name: "pizza-admin".into(),
            user_name: "admin".into(),
            ca_pem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".into(),
            client_cert_pem: "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n".into(),
            client_key_pem: "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n".into(),
        }
    }

    fn decoded(value: &Value) -> String {
        String::from_utf8(STANDARD.decode(value.as_str().unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn written_file_parses_back_with_the_right_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/kubeconfig");
        let spec = spec();
        write_kubeconfig(&path, &spec).unwrap();

        let doc: Value = serde_yaml_ng::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["apiVersion"], "v1");
        assert_eq!(doc["kind"], "Config");
        assert_eq!(doc["current-context"], "pizza-admin");

        let cluster = &doc["clusters"][0];
        assert_eq!(cluster["name"], "pizza");
        assert_eq!(cluster["cluster"]["server"], "https://127.0.0.1:8443");
        assert_eq!(decoded(&cluster["cluster"]["certificate-authority-data"]), spec.ca_pem);

        let user = &doc["users"][0];
        assert_eq!(user["name"], "admin");
        assert_eq!(decoded(&user["user"]["client-certificate-data"]), spec.client_cert_pem);
        assert_eq!(decoded(&user["user"]["client-key-data"]), spec.client_key_pem);

        let context = &doc["contexts"][0];
        assert_eq!(context["name"], "pizza-admin");
        assert_eq!(context["context"]["cluster"], "pizza");
        assert_eq!(context["context"]["user"], "admin");
        assert_eq!(doc["clusters"].as_sequence().unwrap().len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private_and_rewrite_replaces_it() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, "old, world readable").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

        let mut spec = spec();
        spec.server_url = "https://[::1]:6443".into();
        write_kubeconfig(&path, &spec).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let doc: Value = serde_yaml_ng::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["clusters"][0]["cluster"]["server"], "https://[::1]:6443");
    }

    #[test]
    fn invalid_specs_are_rejected_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        let mut bad = spec();
        bad.user_name.clear();
        let err = write_kubeconfig(&path, &bad).unwrap_err();
        assert!(err.to_string().contains("user_name"), "{err}");
        let mut bad = spec();
        bad.server_url = "http://127.0.0.1:8080".into();
        assert!(matches!(
            write_kubeconfig(&path, &bad),
            Err(TlsError::InvalidKubeconfig { field: "server_url", .. })
        ));
        assert!(!path.exists());
    }

    #[test]
    fn debug_redacts_the_key() {
        let rendered = format!("{:?}", spec());
        assert!(!rendered.contains("KEY\n"), "{rendered}");
        assert!(rendered.contains("redacted"));
    }
}
