use super::*;
use crate::VerifyError;
use rustls_pki_types::{CertificateDer, UnixTime};
use std::os::unix::fs::PermissionsExt as _;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::X509Certificate;

/// Recognises the expected error.
type Check = fn(&TlsError) -> bool;

fn der(pem_text: &str) -> CertificateDer<'static> {
    crate::pem::certificates("test", pem_text.as_bytes()).unwrap().remove(0)
}

fn with_parsed<R>(pem_text: &str, f: impl FnOnce(&X509Certificate<'_>) -> R) -> R {
    let der = der(pem_text);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    f(&cert)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn lifetime_days(cert: &X509Certificate<'_>) -> i64 {
    (cert.validity().not_after.timestamp() - OffsetDateTime::now_utc().unix_timestamp()) / 86_400
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    FILES.iter().filter_map(|f| std::fs::read(dir.join(f)).ok().map(|b| (f.to_string(), b))).collect()
}

#[test]
fn generates_once_then_reuses_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs/standalone");
    let first = StandalonePki::load_or_generate(&dir).unwrap();
    assert!(first.was_generated());
    assert_eq!(mode(&dir), 0o700);
    for name in [CA_KEY, SERVING_KEY, ADMIN_KEY] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    for name in [CA_CERT, SERVING_CERT, ADMIN_CERT] {
        assert_eq!(mode(&dir.join(name)), 0o644, "{name}");
    }
    assert_eq!(std::fs::read_to_string(first.admin().key_path()).unwrap(), first.admin().key_pem());
    let files_before = snapshot(&dir);

    let second = StandalonePki::load_or_generate(&dir).unwrap();
    assert!(!second.was_generated());
    for (a, b) in
        [(first.ca(), second.ca()), (first.serving(), second.serving()), (first.admin(), second.admin())]
    {
        assert_eq!(a.cert_pem(), b.cert_pem());
        assert_eq!(a.key_pem(), b.key_pem());
        assert_eq!(a.cert_path(), b.cert_path());
    }
    assert_eq!(snapshot(&dir), files_before, "loading rewrites nothing");
}

#[test]
fn generated_certificates_have_the_documented_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = StandalonePki::load_or_generate(tmp.path()).unwrap();

    with_parsed(pki.ca().cert_pem(), |ca| {
        let cn = ca.subject().iter_common_name().next().unwrap().as_str().unwrap();
        let stamp: u64 = cn.strip_prefix("piazza-ca@").unwrap().parse().unwrap();
        assert!(stamp > 1_600_000_000);
        assert!(ca.is_ca());
        assert_eq!(ca.subject(), ca.issuer());
        assert!((3649..=3650).contains(&lifetime_days(ca)));
    });

    with_parsed(pki.serving().cert_pem(), |cert| {
        let san = cert.subject_alternative_name().unwrap().unwrap().value;
        let names: Vec<String> = san
            .general_names
            .iter()
            .map(|name| match name {
                GeneralName::DNSName(d) => format!("dns:{d}"),
                GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "dns:localhost".to_owned(),
                format!("ip:{:?}", [127u8, 0, 0, 1]),
                format!("ip:{:?}", std::net::Ipv6Addr::LOCALHOST.octets()),
            ]
        );
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        assert!(!cert.is_ca());
        assert!((364..=365).contains(&lifetime_days(cert)));
    });

    with_parsed(pki.admin().cert_pem(), |cert| {
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        assert!((364..=365).contains(&lifetime_days(cert)));
    });
}

#[test]
fn admin_cert_verifies_against_the_ca_and_the_serving_cert_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = StandalonePki::load_or_generate(tmp.path()).unwrap();
    let ca = pki.client_ca().unwrap();

    let admin = ca.verify_client_chain(&[der(pki.admin().cert_pem())], UnixTime::now()).unwrap();
    assert_eq!(admin.common_name, ADMIN_USER);
    assert_eq!(admin.organizations, [ADMIN_GROUP]);

    let err = ca.verify_client_chain(&[der(pki.serving().cert_pem())], UnixTime::now()).unwrap_err();
    assert!(matches!(err, VerifyError::NotForClientAuth(_)), "{err}");

    // Another standalone PKI's admin is a stranger.
    let other_tmp = tempfile::tempdir().unwrap();
    let other = StandalonePki::load_or_generate(other_tmp.path()).unwrap();
    let err = ca.verify_client_chain(&[der(other.admin().cert_pem())], UnixTime::now()).unwrap_err();
    assert!(matches!(err, VerifyError::UnknownAuthority(_)), "{err}");
}

#[test]
fn partial_directory_is_an_error_and_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    StandalonePki::load_or_generate(tmp.path()).unwrap();
    std::fs::remove_file(tmp.path().join(ADMIN_KEY)).unwrap();
    let before = snapshot(tmp.path());

    let err = StandalonePki::load_or_generate(tmp.path()).unwrap_err();
    match &err {
        TlsError::IncompletePki { present, missing, .. } => {
            assert_eq!(missing, &[ADMIN_KEY]);
            assert_eq!(present.len(), 5);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("admin.key"), "{err}");
    assert_eq!(snapshot(tmp.path()), before);

    // A lone user-supplied file is not silently joined by generated ones either.
    let lone = tempfile::tempdir().unwrap();
    std::fs::write(lone.path().join(CA_CERT), "mine").unwrap();
    assert!(matches!(StandalonePki::load_or_generate(lone.path()), Err(TlsError::IncompletePki { .. })));
    assert_eq!(std::fs::read_dir(lone.path()).unwrap().count(), 1);
}

#[test]
fn unparsable_files_are_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = StandalonePki::load_or_generate(tmp.path()).unwrap();
    let admin_crt = tmp.path().join(ADMIN_CERT);
    let serving_key = tmp.path().join(SERVING_KEY);
    let ca_key_pem = pki.ca().key_pem().to_owned();

    let cases: Vec<(&Path, Vec<u8>, Check)> = vec![
        (&admin_crt, b"garbage".to_vec(), |e| matches!(e, TlsError::NoPemBlock { .. })),
        (&admin_crt, Vec::new(), |e| matches!(e, TlsError::Empty { .. })),
        (&admin_crt, ca_key_pem.clone().into_bytes(), |e| {
            matches!(e, TlsError::KeyInsteadOfCertificate { .. })
        }),
        (&serving_key, ca_key_pem.into_bytes(), |e| matches!(e, TlsError::KeyMismatch { .. })),
        (&serving_key, pki.serving().cert_pem().as_bytes().to_vec(), |e| {
            matches!(e, TlsError::CertificateInsteadOfKey { .. })
        }),
    ];
    for (path, content, expected) in cases {
        let original = std::fs::read(path).unwrap();
        std::fs::write(path, &content).unwrap();
        let err = StandalonePki::load_or_generate(tmp.path()).unwrap_err();
        assert!(expected(&err), "{}: unexpected {err:?}", path.display());
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(std::fs::read(path).unwrap(), content, "never overwritten");
        std::fs::write(path, original).unwrap();
    }
    StandalonePki::load_or_generate(tmp.path()).unwrap();
}

#[test]
fn a_file_in_place_of_the_directory_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = StandalonePki::load_or_generate(&file).unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn kubeconfig_spec_embeds_the_admin_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = StandalonePki::load_or_generate(tmp.path()).unwrap();
    let spec = pki.kubeconfig_spec("https://127.0.0.1:8443");
    assert_eq!(spec.server_url, "https://127.0.0.1:8443");
    assert_eq!(spec.user_name, "admin");
    assert_eq!(spec.ca_pem, pki.ca().cert_pem());
    assert_eq!(spec.client_cert_pem, pki.admin().cert_pem());
    assert_eq!(spec.client_key_pem, pki.admin().key_pem());
    crate::write_kubeconfig(&tmp.path().join("kubeconfig"), &spec).unwrap();
    assert!(!format!("{:?}", pki.admin()).contains("PRIVATE KEY"));
}
