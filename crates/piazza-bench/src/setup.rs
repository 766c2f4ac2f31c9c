//! From command-line arguments to a [`Client`]: the kubeconfig first, flags over it.

use std::path::Path;

use http::HeaderMap;

use crate::cli::{AuthArgs, ProtocolArgs};
use crate::client::tls::TlsOptions;
use crate::client::{Client, ClientOptions, HttpVersion, Target};
use crate::error::BenchError;
use crate::kubeconfig::{Credentials, read_kubeconfig};

/// The credentials from `--kubeconfig` (if any) overridden by the explicit flags.
pub fn credentials(auth: &AuthArgs) -> Result<Credentials, BenchError> {
    let mut creds = match &auth.kubeconfig {
        Some(path) => read_kubeconfig(path)?,
        None => Credentials::default(),
    };
    let read = |p: &Path| std::fs::read(p).map_err(|e| BenchError::io(format!("reading {}", p.display()), e));
    if let Some(ca) = &auth.cacert {
        creds.ca_pem = Some(read(ca)?);
    }
    if let (Some(cert), Some(key)) = (&auth.cert, &auth.key) {
        creds.client_cert_pem = Some(read(cert)?);
        creds.client_key_pem = Some(read(key)?);
    }
    if let Some(token) = &auth.token {
        creds.token = Some(token.clone());
    }
    creds.insecure |= auth.insecure;
    Ok(creds)
}

/// The HTTP version the flags ask for.
pub fn version(protocol: &ProtocolArgs) -> HttpVersion {
    if protocol.h1 { HttpVersion::H1 } else { HttpVersion::H2 }
}

/// A client for `url` with `creds`.
pub fn client(
    url: &str,
    creds: &Credentials,
    protocol: &ProtocolArgs,
    headers: HeaderMap,
) -> Result<Client, BenchError> {
    let target = Target::parse(url)?;
    let options = ClientOptions {
        version: version(protocol),
        connections: protocol.connections.max(1),
        tls: TlsOptions {
            ca_pem: creds.ca_pem.clone(),
            client_cert_pem: creds.client_cert_pem.clone(),
            client_key_pem: creds.client_key_pem.clone(),
            insecure: creds.insecure,
        },
        token: creds.token.clone(),
        headers,
        timeout: Some(protocol.timeout),
    };
    Client::new(target, options)
}

/// The server URL: `--server`, else the kubeconfig's.
pub fn server_url(server: Option<&str>, creds: &Credentials) -> Result<String, BenchError> {
    match server {
        Some(url) => Ok(url.to_owned()),
        None if !creds.server.is_empty() => Ok(creds.server.clone()),
        None => Err(BenchError::Usage("no server: pass --server or a --kubeconfig".into())),
    }
}
