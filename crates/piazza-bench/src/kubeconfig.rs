//! Reading the server URL and credentials of the current context of a kubeconfig.
//!
//! Supports what a load tool needs: `certificate-authority(-data)`, `insecure-skip-tls-verify`,
//! `client-certificate(-data)`, `client-key(-data)`, `token` and `tokenFile`. Relative paths are
//! resolved against the kubeconfig's directory, as kubectl does.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::error::BenchError;

/// The server and credentials of one kubeconfig context.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The server URL (`clusters[].cluster.server`).
    pub server: String,
    /// PEM of the CA that signs the serving certificate.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM of the client certificate chain.
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM of the client private key.
    pub client_key_pem: Option<Vec<u8>>,
    /// A bearer token.
    pub token: Option<String>,
    /// Skip verification of the serving certificate.
    pub insecure: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("ca_pem", &self.ca_pem.is_some())
            .field("client_cert_pem", &self.client_cert_pem.is_some())
            .field("client_key_pem", &self.client_key_pem.as_ref().map(|_| "<redacted>"))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("insecure", &self.insecure)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig {
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    #[serde(default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: T,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: Option<PathBuf>,
    certificate_authority_data: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate: Option<PathBuf>,
    client_certificate_data: Option<String>,
    client_key: Option<PathBuf>,
    client_key_data: Option<String>,
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    user: String,
}

/// Reads the current context of the kubeconfig at `path`.
pub fn read_kubeconfig(path: &Path) -> Result<Credentials, BenchError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BenchError::io(format!("reading {}", path.display()), e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_kubeconfig(&text, base)
}

/// Parses kubeconfig YAML; relative file paths in it are resolved against `base`.
pub fn parse_kubeconfig(yaml: &str, base: &Path) -> Result<Credentials, BenchError> {
    let config: Kubeconfig =
        serde_yaml_ng::from_str(yaml).map_err(|e| BenchError::Kubeconfig(e.to_string()))?;
    let context_name = match &config.current_context {
        Some(name) if !name.is_empty() => name.clone(),
        _ if config.contexts.len() == 1 => config.contexts[0].name.clone(),
        _ => return Err(BenchError::Kubeconfig("no current-context".into())),
    };
    let context = find(&config.contexts, &context_name, "context")?;
    let cluster = find(&config.clusters, &context.cluster, "cluster")?;
    let user = find(&config.users, &context.user, "user")?;
    let token = match (&user.token, &user.token_file) {
        (Some(token), _) => Some(token.clone()),
        (None, Some(file)) => Some(String::from_utf8_lossy(&read(base, file)?).trim().to_owned()),
        (None, None) => None,
    };
    Ok(Credentials {
        server: cluster.server.clone(),
        ca_pem: data_or_file(&cluster.certificate_authority_data, &cluster.certificate_authority, base)?,
        client_cert_pem: data_or_file(&user.client_certificate_data, &user.client_certificate, base)?,
        client_key_pem: data_or_file(&user.client_key_data, &user.client_key, base)?,
        token,
        insecure: cluster.insecure_skip_tls_verify,
    })
}

fn find<'a, T>(entries: &'a [Named<T>], name: &str, kind: &str) -> Result<&'a T, BenchError> {
    entries
        .iter()
        .find(|e| e.name == name)
        .map(|e| &e.value)
        .ok_or_else(|| BenchError::Kubeconfig(format!("no {kind} named {name:?}")))
}

/// Base64 data wins over a file path, as in kubectl.
fn data_or_file(
    data: &Option<String>,
    file: &Option<PathBuf>,
    base: &Path,
) -> Result<Option<Vec<u8>>, BenchError> {
    match (data, file) {
        (Some(data), _) => STANDARD
            .decode(data.trim())
            .map(Some)
            .map_err(|e| BenchError::Kubeconfig(format!("invalid base64 data: {e}"))),
        (None, Some(file)) => read(base, file).map(Some),
        (None, None) => Ok(None),
    }
}

fn read(base: &Path, file: &Path) -> Result<Vec<u8>, BenchError> {
    let path = if file.is_absolute() { file.to_path_buf() } else { base.join(file) };
    std::fs::read(&path).map_err(|e| BenchError::io(format!("reading {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMBEDDED: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:8443
    certificate-authority-data: Q0EtUEVN
users:
- name: u
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
"#;

    #[test]
    fn embedded_data_is_decoded() {
        let creds = parse_kubeconfig(EMBEDDED, Path::new("/nonexistent")).unwrap();
        assert_eq!(creds.server, "https://127.0.0.1:8443");
        assert_eq!(creds.ca_pem.as_deref(), Some(&b"CA-PEM"[..]));
        assert_eq!(creds.client_cert_pem.as_deref(), Some(&b"CERT"[..]));
        assert_eq!(creds.client_key_pem.as_deref(), Some(&b"KEY"[..]));
        assert_eq!(creds.token, None);
        assert!(!creds.insecure);
    }

    #[test]
    fn file_paths_are_resolved_against_the_kubeconfig_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "CA").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/token"), "secret-token\n").unwrap();
        let abs_cert = dir.path().join("cert.pem");
        std::fs::write(&abs_cert, "CERT").unwrap();
        let yaml = format!(
            r#"
clusters:
- name: c
  cluster: {{server: "https://127.0.0.1:1", certificate-authority: ca.pem, insecure-skip-tls-verify: true}}
users:
- name: u
  user: {{tokenFile: sub/token, client-certificate: {}}}
- name: other
  user: {{token: nope}}
contexts:
- name: a
  context: {{cluster: c, user: other}}
- name: b
  context: {{cluster: c, user: u}}
current-context: b
"#,
            abs_cert.display()
        );
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, yaml).unwrap();
        let creds = read_kubeconfig(&path).unwrap();
        assert_eq!(creds.ca_pem.as_deref(), Some(&b"CA"[..]));
        assert_eq!(creds.client_cert_pem.as_deref(), Some(&b"CERT"[..]));
        assert_eq!(creds.client_key_pem, None);
        assert_eq!(creds.token.as_deref(), Some("secret-token"));
        assert!(creds.insecure);
    }

    #[test]
    fn missing_entries_are_errors() {
        let yaml = "contexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a\n";
        let err = parse_kubeconfig(yaml, Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("no cluster named \"c\""), "{err}");
        let err = parse_kubeconfig("clusters: []\n", Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("no current-context"), "{err}");
    }

    #[test]
    fn debug_redacts_secrets() {
        let creds = Credentials {
            token: Some("t0k3n".into()),
            client_key_pem: Some(b"KEY".to_vec()),
            ..Credentials::default()
        };
        let shown = format!("{creds:?}");
        assert!(!shown.contains("t0k3n") && !shown.contains("KEY\""), "{shown}");
    }
}
