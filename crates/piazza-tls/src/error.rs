//! Error types of this crate.
//!
//! [`TlsError`] covers loading, generating and writing certificate material and building TLS
//! configuration; [`VerifyError`] is the reason a client certificate chain was not accepted.
//! Every message names the file (or in-memory source) it is about.

use std::io;
use std::path::PathBuf;

/// Failure to load, generate or write certificates, keys, kubeconfigs or TLS configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A file or directory could not be written or created.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A PEM source is empty (or only whitespace).
    #[error("{origin}: is empty, expected PEM data")]
    Empty {
        /// The file or source name.
        origin: String,
    },

    /// A PEM source holds no PEM block at all.
    #[error("{origin}: contains no PEM block (no \"-----BEGIN ...-----\" line)")]
    NoPemBlock {
        /// The file or source name.
        origin: String,
    },

    /// A PEM source is malformed (bad markers or base64).
    #[error("{origin}: malformed PEM: {source}")]
    Pem {
        /// The file or source name.
        origin: String,
        /// The PEM parser's error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },

    /// A certificate was expected but the PEM source holds only a private key.
    #[error("{origin}: contains a private key where a certificate was expected")]
    KeyInsteadOfCertificate {
        /// The file or source name.
        origin: String,
    },

    /// A private key was expected but the PEM source holds only certificates.
    #[error("{origin}: contains a certificate where a private key was expected")]
    CertificateInsteadOfKey {
        /// The file or source name.
        origin: String,
    },

    /// The PEM source holds no `CERTIFICATE` block.
    #[error("{origin}: contains no CERTIFICATE block")]
    NoCertificate {
        /// The file or source name.
        origin: String,
    },

    /// The PEM source holds no PKCS#8, PKCS#1 or SEC1 private key block.
    #[error("{origin}: contains no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block")]
    NoPrivateKey {
        /// The file or source name.
        origin: String,
    },

    /// A PEM source holds more than one private key.
    #[error("{origin}: contains more than one private key")]
    SeveralPrivateKeys {
        /// The file or source name.
        origin: String,
    },

    /// A `CERTIFICATE` block is not a valid X.509 certificate.
    #[error("{origin}: certificate #{index} is not a valid X.509 certificate: {source}")]
    InvalidCertificate {
        /// The file or source name.
        origin: String,
        /// Position of the certificate in the source, from 0.
        index: usize,
        /// The X.509 parser's error.
        #[source]
        source: x509_parser::error::X509Error,
    },

    /// A certificate cannot serve as a trust anchor.
    #[error("{origin}: certificate #{index} cannot be used as a trusted CA: {source}")]
    InvalidTrustAnchor {
        /// The file or source name.
        origin: String,
        /// Position of the certificate in the source, from 0.
        index: usize,
        /// webpki's error.
        #[source]
        source: webpki::Error,
    },

    /// A private key is malformed or of an unsupported type.
    #[error("{origin}: unusable private key: {source}")]
    InvalidPrivateKey {
        /// The file or source name.
        origin: String,
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },

    /// A private key does not belong to the certificate it is paired with.
    #[error("private key {key} does not match certificate {cert}: {source}")]
    KeyMismatch {
        /// The certificate's file or source name.
        cert: String,
        /// The key's file or source name.
        key: String,
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },

    /// A certificate directory holds some but not all of the standalone PKI files.
    #[error(
        "{}: incomplete certificate directory: found {} but not {}; \
         supply the missing files or remove the directory to generate a new PKI",
        dir.display(),
        present.join(", "),
        missing.join(", ")
    )]
    IncompletePki {
        /// The directory.
        dir: PathBuf,
        /// The files that exist.
        present: Vec<&'static str>,
        /// The files that are missing.
        missing: Vec<&'static str>,
    },

    /// Generating a key or certificate failed.
    #[error("cannot generate {what}: {source}")]
    Generate {
        /// What was being generated.
        what: &'static str,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },

    /// rustls rejected the server configuration.
    #[error("cannot build the TLS server configuration: {source}")]
    Config {
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },

    /// `--tls-min-version` or `--tls-cipher-suites` names something this server cannot do.
    #[error("{message}")]
    Policy {
        /// What is wrong, naming the flag and the values.
        message: String,
    },

    /// A kubeconfig field is missing or invalid.
    #[error("invalid kubeconfig: {field} {problem}")]
    InvalidKubeconfig {
        /// The field of [`KubeconfigSpec`](crate::KubeconfigSpec).
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },

    /// A kubeconfig could not be serialized.
    #[error("cannot serialize kubeconfig: {source}")]
    KubeconfigYaml {
        /// The YAML serializer's error.
        #[source]
        source: serde_yaml_ng::Error,
    },
}

/// Why a client certificate chain was not accepted by
/// [`CertificateAuthority::verify_client_chain`](crate::CertificateAuthority::verify_client_chain).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The chain is empty: the client presented no certificate.
    #[error("no client certificate presented")]
    NoCertificate,

    /// A certificate in the chain is not well-formed X.509.
    #[error("malformed client certificate: {0}")]
    Malformed(#[source] webpki::Error),

    /// The chain does not lead to any CA of the bundle (unknown issuer or bad signature).
    #[error("client certificate is not signed by a trusted CA: {0}")]
    UnknownAuthority(#[source] webpki::Error),

    /// A certificate in the chain has expired.
    #[error("client certificate has expired: {0}")]
    Expired(#[source] webpki::Error),

    /// A certificate in the chain is not valid yet.
    #[error("client certificate is not valid yet: {0}")]
    NotYetValid(#[source] webpki::Error),

    /// The certificate's extended key usage does not allow client authentication.
    #[error("certificate is not valid for client authentication: {0}")]
    NotForClientAuth(#[source] webpki::Error),

    /// The chain was rejected for another reason (constraints, unsupported algorithm, ...).
    #[error("client certificate rejected: {0}")]
    Rejected(#[source] webpki::Error),

    /// The verified leaf's subject could not be decoded.
    #[error("cannot decode the client certificate subject: {0}")]
    Subject(#[source] x509_parser::error::X509Error),
}

impl VerifyError {
    /// Classifies a webpki path-building error.
    pub(crate) fn from_webpki(err: webpki::Error) -> Self {
        use webpki::Error as E;
        match err {
            E::BadDer | E::BadDerTime | E::TrailingData(_) | E::UnsupportedCertVersion => {
                Self::Malformed(err)
            }
            E::UnknownIssuer | E::InvalidSignatureForPublicKey => Self::UnknownAuthority(err),
            E::CertExpired { .. } => Self::Expired(err),
            E::CertNotValidYet { .. } => Self::NotYetValid(err),
            E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => Self::NotForClientAuth(err),
            _ => Self::Rejected(err),
        }
    }
}
