//! A standalone PKI: what a server needs to run with no flags.
//!
//! [`StandalonePki::load_or_generate`] keeps six files in one directory:
//!
//! | File | What |
//! |---|---|
//! | `ca.crt`, `ca.key` | self-signed CA, CN `piazza-ca@<unix time>`, valid 10 years |
//! | `apiserver.crt`, `apiserver.key` | serving cert signed by the CA: SANs `localhost`, `127.0.0.1`, `::1`; serverAuth; 1 year |
//! | `admin.crt`, `admin.key` | client cert signed by the CA: CN `admin`, O `system:masters`; clientAuth; 1 year |
//!
//! The first call generates them (ECDSA P-256 keys, key files mode 0600); later calls reuse
//! them unchanged. A directory with only some of them, or with a file that does not parse, is
//! an error naming the file: user data is never overwritten.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::OffsetDateTime;

use crate::files::{PRIVATE_MODE, PUBLIC_MODE, create_private_dir, write_atomic};
use crate::{CertificateAuthority, KubeconfigSpec, ServingCertSource, TlsError, crypto_provider, pem};

const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVING_CERT: &str = "apiserver.crt";
const SERVING_KEY: &str = "apiserver.key";
const ADMIN_CERT: &str = "admin.crt";
const ADMIN_KEY: &str = "admin.key";
const FILES: [&str; 6] = [CA_CERT, CA_KEY, SERVING_CERT, SERVING_KEY, ADMIN_CERT, ADMIN_KEY];

/// How long the generated CA is valid.
pub const CA_VALIDITY: time::Duration = time::Duration::days(3650);
/// How long the generated serving and admin certificates are valid.
pub const LEAF_VALIDITY: time::Duration = time::Duration::days(365);
/// How far before "now" generated certificates start being valid, to tolerate clock skew.
const BACKDATE: time::Duration = time::Duration::hours(1);

/// The user name and group of the generated client certificate.
pub const ADMIN_USER: &str = "admin";
/// The group of the generated client certificate (Kubernetes' superuser group).
pub const ADMIN_GROUP: &str = "system:masters";

/// A certificate and its private key, as files and as PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CertKeyPair {
    cert_path: PathBuf,
    key_path: PathBuf,
    cert_pem: String,
    key_pem: String,
}

impl CertKeyPair {
    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The private key file.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The certificate, PEM-encoded, exactly as in the file.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PEM-encoded, exactly as in the file.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

impl fmt::Debug for CertKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertKeyPair")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

/// The CA, serving and admin certificates of a server started without certificate flags.
#[derive(Debug, Clone)]
pub struct StandalonePki {
    dir: PathBuf,
    ca: CertKeyPair,
    serving: CertKeyPair,
    admin: CertKeyPair,
    generated: bool,
}

impl StandalonePki {
    /// Loads the PKI from `cert_dir`, or generates it there if none of its files exist
    /// (creating the directory, mode 0700, if needed).
    ///
    /// Fails, naming the file, if only some files exist, if one cannot be read or parsed, or if
    /// a key does not match its certificate.
    pub fn load_or_generate(cert_dir: &Path) -> Result<Self, TlsError> {
        let mut present = Vec::new();
        let mut missing = Vec::new();
        for name in FILES {
            let path = cert_dir.join(name);
            match std::fs::symlink_metadata(&path) {
                Ok(_) => present.push(name),
                Err(err) if err.kind() == io::ErrorKind::NotFound => missing.push(name),
                Err(source) => return Err(TlsError::Read { path, source }),
            }
        }
        if missing.is_empty() {
            Self::load(cert_dir)
        } else if present.is_empty() {
            Self::generate(cert_dir)
        } else {
            Err(TlsError::IncompletePki { dir: cert_dir.to_path_buf(), present, missing })
        }
    }

    fn load(dir: &Path) -> Result<Self, TlsError> {
        let pair = |cert: &str, key: &str| load_pair(&dir.join(cert), &dir.join(key));
        Ok(Self {
            dir: dir.to_path_buf(),
            ca: pair(CA_CERT, CA_KEY)?,
            serving: pair(SERVING_CERT, SERVING_KEY)?,
            admin: pair(ADMIN_CERT, ADMIN_KEY)?,
            generated: false,
        })
    }

    fn generate(dir: &Path) -> Result<Self, TlsError> {
        create_private_dir(dir)?;
        let now = OffsetDateTime::now_utc();
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());

        let ca_key = new_key("the CA key")?;
        let ca_params = ca_params(&format!("piazza-ca@{unix}"), now);
        let ca_cert = ca_params.self_signed(&ca_key).map_err(generate_error("the CA certificate"))?;
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let serving_key = new_key("the serving key")?;
        let serving_cert = serving_params(now)?
            .signed_by(&serving_key, &issuer)
            .map_err(generate_error("the serving certificate"))?;

        let admin_key = new_key("the admin key")?;
        let admin_cert = admin_params(now)
            .signed_by(&admin_key, &issuer)
            .map_err(generate_error("the admin certificate"))?;

        let pki = Self {
            dir: dir.to_path_buf(),
            ca: pair_in(dir, CA_CERT, CA_KEY, ca_cert.pem(), ca_key.serialize_pem()),
            serving: pair_in(dir, SERVING_CERT, SERVING_KEY, serving_cert.pem(), serving_key.serialize_pem()),
            admin: pair_in(dir, ADMIN_CERT, ADMIN_KEY, admin_cert.pem(), admin_key.serialize_pem()),
            generated: true,
        };
        // Keys first: a crash part-way leaves an incomplete directory, reported on next start.
        for pair in [&pki.ca, &pki.serving, &pki.admin] {
            write_atomic(&pair.key_path, pair.key_pem.as_bytes(), PRIVATE_MODE)?;
            write_atomic(&pair.cert_path, pair.cert_pem.as_bytes(), PUBLIC_MODE)?;
        }
        tracing::info!(dir = %dir.display(), "generated a standalone CA, serving and admin certificates");
        Ok(pki)
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this call generated the files (rather than loading existing ones).
    pub fn was_generated(&self) -> bool {
        self.generated
    }

    /// The CA (`ca.crt`, `ca.key`).
    pub fn ca(&self) -> &CertKeyPair {
        &self.ca
    }

    /// The serving certificate (`apiserver.crt`, `apiserver.key`).
    pub fn serving(&self) -> &CertKeyPair {
        &self.serving
    }

    /// The admin client certificate (`admin.crt`, `admin.key`).
    pub fn admin(&self) -> &CertKeyPair {
        &self.admin
    }

    /// The serving certificate files, for [`ServerTls::new`](crate::ServerTls::new).
    pub fn serving_cert_source(&self) -> ServingCertSource {
        ServingCertSource::new(&self.serving.cert_path, &self.serving.key_path)
    }

    /// The CA as a client CA bundle read from `ca.crt`: it verifies the admin certificate.
    pub fn client_ca(&self) -> Result<CertificateAuthority, TlsError> {
        CertificateAuthority::from_file(&self.ca.cert_path)
    }

    /// A kubeconfig for the admin user against `server_url`: cluster `piazza`, context
    /// `piazza-admin` (current), user `admin`.
    pub fn kubeconfig_spec(&self, server_url: impl Into<String>) -> KubeconfigSpec {
        KubeconfigSpec {
            server_url: server_url.into(),
            cluster_name: "piazza".to_owned(),
            context_name: "piazza-admin".to_owned(),
            user_name: ADMIN_USER.to_owned(),
            ca_pem: self.ca.cert_pem.clone(),
            client_cert_pem: self.admin.cert_pem.clone(),
            client_key_pem: self.admin.key_pem.clone(),
        }
    }
}

// === generation ===

fn generate_error(what: &'static str) -> impl FnOnce(rcgen::Error) -> TlsError {
    move |source| TlsError::Generate { what, source }
}

fn new_key(what: &'static str) -> Result<KeyPair, TlsError> {
    KeyPair::generate().map_err(generate_error(what))
}

fn named(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
}

fn ca_params(cn: &str, now: OffsetDateTime) -> CertificateParams {
    let mut params = named(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    params
}

fn leaf(mut params: CertificateParams, now: OffsetDateTime) -> CertificateParams {
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - BACKDATE;
    params.not_after = now + LEAF_VALIDITY;
    params
}

fn serving_params(now: OffsetDateTime) -> Result<CertificateParams, TlsError> {
    let mut params = leaf(named("localhost"), now);
    params.subject_alt_names = CertificateParams::new(["localhost", "127.0.0.1", "::1"].map(String::from))
        .map_err(generate_error("the serving certificate names"))?
        .subject_alt_names;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

fn admin_params(now: OffsetDateTime) -> CertificateParams {
    let mut params = leaf(named(ADMIN_USER), now);
    params.distinguished_name.push(DnType::OrganizationName, ADMIN_GROUP);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

fn pair_in(dir: &Path, cert: &str, key: &str, cert_pem: String, key_pem: String) -> CertKeyPair {
    CertKeyPair { cert_path: dir.join(cert), key_path: dir.join(key), cert_pem, key_pem }
}

// === loading ===

fn load_pair(cert_path: &Path, key_path: &Path) -> Result<CertKeyPair, TlsError> {
    let cert_bytes = pem::read_file(cert_path)?;
    let key_bytes = pem::read_file(key_path)?;
    let cert_origin = cert_path.display().to_string();
    let certified = pem::certified_key(
        &cert_origin,
        &cert_bytes,
        &key_path.display().to_string(),
        &key_bytes,
        &crypto_provider(),
    )?;
    warn_if_expired(&cert_origin, &certified.cert[0]);
    Ok(CertKeyPair {
        cert_path: cert_path.to_path_buf(),
        key_path: key_path.to_path_buf(),
        cert_pem: String::from_utf8_lossy(&cert_bytes).into_owned(),
        key_pem: String::from_utf8_lossy(&key_bytes).into_owned(),
    })
}

/// Certificates are reused as they are; an expired one is worth a loud hint.
fn warn_if_expired(origin: &str, der: &[u8]) {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return;
    };
    let not_after = cert.validity().not_after.timestamp();
    if not_after < OffsetDateTime::now_utc().unix_timestamp() {
        tracing::warn!(
            cert = origin,
            not_after,
            "certificate has expired; remove the certificate directory to generate new ones"
        );
    }
}

#[cfg(all(test, unix))]
mod tests;
