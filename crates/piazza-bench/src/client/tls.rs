//! The rustls client configuration: ring, the server's CA (or no verification), an optional
//! client certificate, and ALPN for the chosen HTTP version.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::BenchError;

/// The crypto provider used everywhere in the tool (and by the Piazza server): ring.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What the client presents and trusts.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// PEM of the CA to trust. Required unless `insecure`.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM of the client certificate chain.
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM of the client key.
    pub client_key_pem: Option<Vec<u8>>,
    /// Do not verify the server certificate.
    pub insecure: bool,
}

/// Builds the client config offering exactly `alpn`.
pub fn client_config(options: &TlsOptions, alpn: &[u8]) -> Result<ClientConfig, BenchError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| BenchError::Tls(e.to_string()))?;
    let builder = if options.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
    } else {
        let ca = options.ca_pem.as_deref().ok_or_else(|| {
            BenchError::Usage("no CA to trust: pass --cacert, a kubeconfig with one, or --insecure".into())
        })?;
        let mut roots = RootCertStore::empty();
        for cert in parse_certs(ca)? {
            roots.add(cert).map_err(|e| BenchError::Tls(format!("CA certificate: {e}")))?;
        }
        builder.with_root_certificates(roots)
    };
    let mut config = match (&options.client_cert_pem, &options.client_key_pem) {
        (Some(cert), Some(key)) => {
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| BenchError::Tls(format!("client key: {e}")))?;
            builder
                .with_client_auth_cert(parse_certs(cert)?, key)
                .map_err(|e| BenchError::Tls(format!("client certificate: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(BenchError::Usage("a client certificate needs its key and vice versa".into())),
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The server name to verify: an IP address or a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, BenchError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| BenchError::Usage(format!("host {host:?}: {e}")))
}

fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, BenchError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BenchError::Tls(format!("certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(BenchError::Tls("no certificate in PEM".into()));
    }
    Ok(certs)
}

/// `--insecure`: accepts any server certificate, but still checks handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
