//! Who a verified client certificate names.

use rustls_pki_types::CertificateDer;
use sha2::{Digest as _, Sha256};
use x509_parser::error::X509Error;

use crate::VerifyError;

/// The identity a verified client certificate carries, read the way Kubernetes reads it:
/// the subject's common name is the user name and its organizations are the groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The subject's CN (the last one if there are several, as Go reads it); may be empty,
    /// which Kubernetes treats as "not authenticated by this certificate".
    pub common_name: String,
    /// The subject's O attributes, in order.
    pub organizations: Vec<String>,
    /// The serial number as colon-separated hex bytes, for audit logs.
    pub serial: String,
    /// SHA-256 of the leaf's DER encoding.
    pub sha256_fingerprint: [u8; 32],
}

impl ClientIdentity {
    /// Reads the identity from a leaf certificate's DER.
    pub(crate) fn from_leaf(leaf: &CertificateDer<'_>) -> Result<Self, VerifyError> {
        let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|err| {
            VerifyError::Subject(match err {
                x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
                x509_parser::nom::Err::Incomplete(_) => X509Error::InvalidCertificate,
            })
        })?;
        let subject = cert.subject();
        let text = |attr: &x509_parser::x509::AttributeTypeAndValue<'_>| {
            attr.as_str().map(str::to_owned).map_err(VerifyError::Subject)
        };
        let common_name = match subject.iter_common_name().last() {
            Some(attr) => text(attr)?,
            None => String::new(),
        };
        let organizations = subject.iter_organization().map(text).collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            common_name,
            organizations,
            serial: cert.tbs_certificate.raw_serial_as_string(),
            sha256_fingerprint: Sha256::digest(leaf.as_ref()).into(),
        })
    }

    /// The fingerprint as lowercase hex.
    pub fn fingerprint_hex(&self) -> String {
        use std::fmt::Write as _;
        self.sha256_fingerprint.iter().fold(String::with_capacity(64), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{Usage, leaf_params, self_signed_ca, signed_with};
    use rcgen::DnType;

    #[test]
    fn reads_cn_and_all_organizations() {
        let ca = self_signed_ca("ca");
        let mut params = leaf_params("jane", &["system:masters"], Usage::Client);
        // rcgen keeps one value per attribute type; a custom type with O's OID adds a second O.
        params.distinguished_name.push(DnType::CustomDnType(vec![2, 5, 4, 10]), "devs");
        let leaf = signed_with(&ca, params);
        let id = ClientIdentity::from_leaf(&leaf.cert_der).unwrap();
        assert_eq!(id.common_name, "jane");
        assert_eq!(id.organizations, ["system:masters", "devs"]);
        assert!(!id.serial.is_empty());
        assert_eq!(id.fingerprint_hex().len(), 64);
        assert_eq!(id.sha256_fingerprint, <[u8; 32]>::from(Sha256::digest(leaf.cert_der.as_ref())));
    }

    #[test]
    fn missing_cn_is_empty() {
        let ca = self_signed_ca("ca");
        let mut params = leaf_params("x", &[], Usage::Client);
        params.distinguished_name.remove(DnType::CommonName);
        params.distinguished_name.push(DnType::OrganizationName, "only-org");
        let id = ClientIdentity::from_leaf(&signed_with(&ca, params).cert_der).unwrap();
        assert_eq!(id.common_name, "");
        assert_eq!(id.organizations, ["only-org"]);
    }

    #[test]
    fn garbage_is_a_subject_error() {
        let err = ClientIdentity::from_leaf(&CertificateDer::from(vec![0x30, 0x03, 1, 2, 3])).unwrap_err();
        assert!(matches!(err, VerifyError::Subject(_)), "{err}");
    }
}
