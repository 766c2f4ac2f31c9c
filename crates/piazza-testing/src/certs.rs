//! Client certificates for tests: signed by the server's generated CA (so the x509
//! authenticator accepts them), or by a throw-away CA the server has never seen.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A client certificate and its private key, both PEM-encoded.
#[derive(Clone)]
pub struct Identity {
    /// The certificate (leaf first, then any chain), PEM.
    pub cert_pem: String,
    /// The private key, PEM (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// rcgen refused the parameters, the key or the CA.
    #[error("certificate generation failed: {0}")]
    Generate(#[source] rcgen::Error),
}

/// Client-certificate parameters: CN `user` (the Kubernetes user name), one O per group
/// (the groups), clientAuth, valid from an hour ago for a day.
fn client_params(user: &str, groups: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, user);
    for group in groups {
        params.distinguished_name.push(DnType::OrganizationName, *group);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(3600)).into();
    params.not_after = (now + std::time::Duration::from_secs(86_400)).into();
    params
}

/// Signs a client certificate for `user` in `groups` with the CA given as PEM certificate
/// and PEM key (for instance the `ca.crt` and `ca.key` of a standalone PKI).
pub fn sign_client_cert(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    user: &str,
    groups: &[&str],
) -> Result<Identity, CertError> {
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(CertError::Generate)?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key).map_err(CertError::Generate)?;
    let key = KeyPair::generate().map_err(CertError::Generate)?;
    let cert = client_params(user, groups).signed_by(&key, &issuer).map_err(CertError::Generate)?;
    Ok(Identity { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// A new self-signed CA, as (certificate PEM, key PEM).
pub fn new_ca(common_name: &str) -> Result<(String, String), CertError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().map_err(CertError::Generate)?;
    let cert = params.self_signed(&key).map_err(CertError::Generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A CA of the test's own, e.g. the front-proxy CA a kube-aggregator would use: it signs
/// client certificates, and its certificate can be written where a server flag points
/// (`--requestheader-client-ca-file`).
#[derive(Clone)]
pub struct TestCa {
    /// The CA certificate, PEM.
    pub cert_pem: String,
    /// The CA key, PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new self-signed CA named `common_name`.
    pub fn new(common_name: &str) -> Result<Self, CertError> {
        let (cert_pem, key_pem) = new_ca(common_name)?;
        Ok(Self { cert_pem, key_pem })
    }

    /// A client certificate for `user` (CN) in `groups` (O) signed by this CA.
    pub fn sign(&self, user: &str, groups: &[&str]) -> Result<Identity, CertError> {
        sign_client_cert(&self.cert_pem, &self.key_pem, user, groups)
    }

    /// Writes the CA certificate to `path`.
    pub fn write_cert(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, &self.cert_pem)
    }
}

/// A client certificate for `user` in `groups` signed by a freshly generated CA that no
/// server trusts: well-formed, with a valid proof of key possession, but not authenticated.
pub fn foreign_client_cert(user: &str, groups: &[&str]) -> Result<Identity, CertError> {
    let (ca_cert, ca_key) = new_ca("piazza-testing-foreign-ca")?;
    sign_client_cert(&ca_cert, &ca_key, user, groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_a_generated_ca() {
        let (ca, key) = new_ca("test-ca").unwrap();
        let id = sign_client_cert(&ca, &key, "bob", &["devs", "qa"]).unwrap();
        assert!(id.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(id.key_pem.contains("PRIVATE KEY"));
        assert!(sign_client_cert(&ca, "not a key", "bob", &[]).is_err());
    }

    #[test]
    fn test_ca_signs_and_writes() {
        let ca = TestCa::new("front-proxy-ca").unwrap();
        assert!(ca.sign("front-proxy-client", &[]).unwrap().cert_pem.contains("BEGIN CERTIFICATE"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.crt");
        ca.write_cert(&path).unwrap();
        assert_eq!(std::fs::read_to_string(path).unwrap(), ca.cert_pem);
    }
}
