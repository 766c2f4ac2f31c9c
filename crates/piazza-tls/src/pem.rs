//! PEM decoding with errors that say what was found instead of what was expected.

use std::path::Path;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

/// The PEM blocks of one source that this crate understands, in order.
#[derive(Default)]
struct Sections {
    certs: Vec<CertificateDer<'static>>,
    keys: Vec<PrivateKeyDer<'static>>,
}

fn sections(origin: &str, bytes: &[u8]) -> Result<Sections, TlsError> {
    if bytes.trim_ascii().is_empty() {
        return Err(TlsError::Empty { origin: origin.to_owned() });
    }
    let mut reader = bytes;
    let mut out = Sections::default();
    let mut any = false;
    while let Some((kind, der)) = rustls_pki_types::pem::from_buf(&mut reader)
        .map_err(|source| TlsError::Pem { origin: origin.to_owned(), source })?
    {
        any = true;
        match kind {
            SectionKind::Certificate => out.certs.push(CertificateDer::from(der)),
            SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey => {
                if let Some(key) = PrivateKeyDer::from_pem(kind, der) {
                    out.keys.push(key);
                }
            }
            _ => {}
        }
    }
    // Blocks with labels the parser does not know (e.g. "ENCRYPTED PRIVATE KEY") are skipped
    // by it; a source made only of those still "has PEM blocks".
    if !any && !contains_begin_marker(bytes) {
        return Err(TlsError::NoPemBlock { origin: origin.to_owned() });
    }
    Ok(out)
}

fn contains_begin_marker(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Parses every `CERTIFICATE` block of `bytes` and checks each is well-formed X.509.
///
/// Other blocks are ignored, but a source with a private key and no certificate is reported
/// as such.
pub(crate) fn certificates(origin: &str, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let sections = sections(origin, bytes)?;
    if sections.certs.is_empty() {
        return Err(if sections.keys.is_empty() {
            TlsError::NoCertificate { origin: origin.to_owned() }
        } else {
            TlsError::KeyInsteadOfCertificate { origin: origin.to_owned() }
        });
    }
    for (index, cert) in sections.certs.iter().enumerate() {
        x509_parser::parse_x509_certificate(cert).map_err(|err| TlsError::InvalidCertificate {
            origin: origin.to_owned(),
            index,
            source: match err {
                x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
                x509_parser::nom::Err::Incomplete(_) => x509_parser::error::X509Error::InvalidCertificate,
            },
        })?;
    }
    Ok(sections.certs)
}

/// Parses the single private key of `bytes`.
pub(crate) fn private_key(origin: &str, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    let mut sections = sections(origin, bytes)?;
    match sections.keys.len() {
        1 => Ok(sections.keys.remove(0)),
        0 if !sections.certs.is_empty() => {
            Err(TlsError::CertificateInsteadOfKey { origin: origin.to_owned() })
        }
        0 => Err(TlsError::NoPrivateKey { origin: origin.to_owned() }),
        _ => Err(TlsError::SeveralPrivateKeys { origin: origin.to_owned() }),
    }
}

/// Builds a [`CertifiedKey`] from a PEM certificate chain and a PEM private key, checking
/// that the key is usable and belongs to the leaf certificate.
pub(crate) fn certified_key(
    cert_origin: &str,
    cert_pem: &[u8],
    key_origin: &str,
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = certificates(cert_origin, cert_pem)?;
    let key = private_key(key_origin, key_pem)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|source| TlsError::InvalidPrivateKey { origin: key_origin.to_owned(), source })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(source) => {
            Err(TlsError::KeyMismatch { cert: cert_origin.to_owned(), key: key_origin.to_owned(), source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{self_signed_ca, signed_leaf};

    #[test]
    fn empty_and_whitespace_are_reported_as_empty() {
        for input in [&b""[..], b"  \n\t\n"] {
            let err = certificates("x.crt", input).unwrap_err();
            assert!(matches!(err, TlsError::Empty { .. }), "{err}");
            assert!(err.to_string().contains("x.crt"));
        }
    }

    #[test]
    fn garbage_without_markers_has_no_pem_block() {
        let err = certificates("x.crt", b"this is not a certificate").unwrap_err();
        assert!(matches!(err, TlsError::NoPemBlock { .. }), "{err}");
    }

    #[test]
    fn bad_base64_inside_markers_is_malformed_pem() {
        let input = b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
        let err = certificates("x.crt", input).unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err}");
    }

    #[test]
    fn missing_end_marker_is_malformed_pem() {
        let input = b"-----BEGIN CERTIFICATE-----\nAAAA\n";
        let err = certificates("x.crt", input).unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err}");
    }

    #[test]
    fn valid_base64_that_is_not_x509_is_an_invalid_certificate() {
        let input = b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        let err = certificates("x.crt", input).unwrap_err();
        assert!(matches!(err, TlsError::InvalidCertificate { index: 0, .. }), "{err}");
    }

    #[test]
    fn key_where_cert_expected_and_vice_versa() {
        let ca = self_signed_ca("test-ca");
        let err = certificates("x.crt", ca.key_pem.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::KeyInsteadOfCertificate { .. }), "{err}");
        assert!(err.to_string().contains("private key where a certificate"));

        let err = private_key("x.key", ca.cert_pem.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::CertificateInsteadOfKey { .. }), "{err}");
    }

    #[test]
    fn two_keys_are_ambiguous() {
        let a = self_signed_ca("a");
        let b = self_signed_ca("b");
        let both = format!("{}{}", a.key_pem, b.key_pem);
        let err = private_key("x.key", both.as_bytes()).unwrap_err();
        assert!(matches!(err, TlsError::SeveralPrivateKeys { .. }), "{err}");
    }

    #[test]
    fn combined_file_yields_chain_and_key() {
        let ca = self_signed_ca("test-ca");
        let leaf = signed_leaf(&ca, "leaf", crate::test_support::Usage::Server);
        let combined = format!("{}{}{}", leaf.cert_pem, ca.cert_pem, leaf.key_pem);
        assert_eq!(certificates("c", combined.as_bytes()).unwrap().len(), 2);
        private_key("c", combined.as_bytes()).unwrap();
        certified_key("c", combined.as_bytes(), "c", combined.as_bytes(), &crate::crypto_provider()).unwrap();
    }

    #[test]
    fn mismatched_key_is_rejected() {
        let a = self_signed_ca("a");
        let b = self_signed_ca("b");
        let err = certified_key(
            "a.crt",
            a.cert_pem.as_bytes(),
            "b.key",
            b.key_pem.as_bytes(),
            &crate::crypto_provider(),
        )
        .unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        assert!(err.to_string().contains("b.key") && err.to_string().contains("a.crt"));
    }

    #[test]
    fn unsupported_key_bytes_are_an_invalid_private_key() {
        let input = b"-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n";
        let ca = self_signed_ca("a");
        let err = certified_key("a.crt", ca.cert_pem.as_bytes(), "a.key", input, &crate::crypto_provider())
            .unwrap_err();
        assert!(matches!(err, TlsError::InvalidPrivateKey { .. }), "{err}");
    }
}
