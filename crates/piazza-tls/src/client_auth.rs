//! The handshake-time client certificate policy: request, never require, never judge trust.
//!
//! This is Go's `tls.RequestClientCert`. The handshake only checks that the certificates are
//! well-formed X.509 and that the client proves possession of the leaf's key (its
//! `CertificateVerify` signature). Whether the chain is trusted, and by which CA, is decided
//! per request by the authenticators with
//! [`CertificateAuthority::verify_client_chain`](crate::CertificateAuthority::verify_client_chain):
//! the x509 authenticator and the front-proxy authenticator trust different CAs, and a client
//! without a certificate (a bearer token, a health check) must still connect.

use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme,
    client::danger::HandshakeSignatureValid,
};
use rustls_pki_types::{CertificateDer, UnixTime};

/// Requests an optional client certificate, hinting the given CA subjects.
#[derive(Debug)]
pub(crate) struct RequestClientCert {
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl RequestClientCert {
    /// A verifier advertising `hints` as acceptable CA subjects and checking handshake
    /// signatures with `algorithms`.
    pub(crate) fn new(hints: Vec<DistinguishedName>, algorithms: WebPkiSupportedAlgorithms) -> Self {
        Self { hints, algorithms }
    }
}

fn well_formed(cert: &CertificateDer<'_>) -> Result<(), Error> {
    webpki::EndEntityCert::try_from(cert)
        .map(drop)
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        well_formed(end_entity)?;
        intermediates.iter().try_for_each(well_formed)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{Usage, self_signed_ca, signed_leaf};

    fn verifier() -> RequestClientCert {
        RequestClientCert::new(Vec::new(), crate::crypto_provider().signature_verification_algorithms)
    }

    #[test]
    fn optional_and_offered() {
        let v = verifier();
        assert!(v.offer_client_auth());
        assert!(!v.client_auth_mandatory());
        assert!(!v.supported_verify_schemes().is_empty());
    }

    #[test]
    fn accepts_any_well_formed_chain_but_not_garbage() {
        let v = verifier();
        let untrusted = self_signed_ca("nobody-trusts-me");
        let leaf = signed_leaf(&untrusted, "x", Usage::Server);
        v.verify_client_cert(&leaf.cert_der, std::slice::from_ref(&untrusted.cert_der), UnixTime::now())
            .unwrap();
        let junk = CertificateDer::from(vec![1, 2, 3]);
        assert!(matches!(
            v.verify_client_cert(&junk, &[], UnixTime::now()),
            Err(Error::InvalidCertificate(CertificateError::BadEncoding))
        ));
        assert!(v.verify_client_cert(&leaf.cert_der, &[junk], UnixTime::now()).is_err());
    }
}
