//! Certificate factories for this crate's tests.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

/// A generated certificate with its key, in PEM and DER.
pub(crate) struct TestCert {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) cert_der: CertificateDer<'static>,
    params: CertificateParams,
    key: KeyPair,
}

/// The extended key usage of a leaf.
#[derive(Clone, Copy)]
pub(crate) enum Usage {
    /// serverAuth only.
    Server,
    /// clientAuth only.
    Client,
}

fn finish(params: CertificateParams, key: KeyPair, issuer: Option<&TestCert>) -> TestCert {
    let cert = match issuer {
        Some(parent) => params.signed_by(&key, &Issuer::from_params(&parent.params, &parent.key)).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    TestCert { cert_pem: cert.pem(), key_pem: key.serialize_pem(), cert_der: cert.der().clone(), params, key }
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.remove(DnType::CommonName);
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(30);
    params
}

/// A self-signed CA valid from an hour ago for 30 days.
pub(crate) fn self_signed_ca(cn: &str) -> TestCert {
    finish(ca_params(cn), KeyPair::generate().unwrap(), None)
}

/// An intermediate CA signed by `parent`.
pub(crate) fn intermediate_ca(parent: &TestCert, cn: &str) -> TestCert {
    finish(ca_params(cn), KeyPair::generate().unwrap(), Some(parent))
}

/// Leaf parameters: CN `cn`, the given organizations and usage, SAN localhost + 127.0.0.1,
/// valid from an hour ago for 30 days.
pub(crate) fn leaf_params(cn: &str, orgs: &[&str], usage: Usage) -> CertificateParams {
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.remove(DnType::CommonName);
    params.distinguished_name.push(DnType::CommonName, cn);
    for org in orgs {
        params.distinguished_name.push(DnType::OrganizationName, *org);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match usage {
        Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(30);
    params
}

/// A leaf signed by `ca` from explicit parameters.
pub(crate) fn signed_with(ca: &TestCert, params: CertificateParams) -> TestCert {
    finish(params, KeyPair::generate().unwrap(), Some(ca))
}

/// A leaf with CN `cn`, no organization, signed by `ca`.
pub(crate) fn signed_leaf(ca: &TestCert, cn: &str, usage: Usage) -> TestCert {
    signed_with(ca, leaf_params(cn, &[], usage))
}
