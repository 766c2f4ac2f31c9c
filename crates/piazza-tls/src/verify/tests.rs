use super::*;
use crate::test_support::{
    TestCert, Usage, intermediate_ca, leaf_params, self_signed_ca, signed_leaf, signed_with,
};
use rcgen::ExtendedKeyUsagePurpose;
use time::{Duration as TimeDuration, OffsetDateTime};

/// Recognises the expected error.
type Check = fn(&TlsError) -> bool;

fn ca_of(certs: &[&TestCert]) -> CertificateAuthority {
    let pem: String = certs.iter().map(|c| c.cert_pem.as_str()).collect();
    CertificateAuthority::from_pem("test bundle", pem.as_bytes()).unwrap()
}

fn verify(ca: &CertificateAuthority, chain: &[&TestCert]) -> Result<ClientIdentity, VerifyError> {
    let chain: Vec<_> = chain.iter().map(|c| c.cert_der.clone()).collect();
    ca.verify_client_chain(&chain, UnixTime::now())
}

#[test]
fn client_cert_signed_by_the_ca_yields_cn_and_groups() {
    let root = self_signed_ca("root");
    let admin = signed_with(&root, leaf_params("admin", &["system:masters"], Usage::Client));
    let id = verify(&ca_of(&[&root]), &[&admin]).unwrap();
    assert_eq!(id.common_name, "admin");
    assert_eq!(id.organizations, ["system:masters"]);
}

#[test]
fn cert_from_another_ca_is_rejected() {
    let trusted = self_signed_ca("trusted");
    let other = self_signed_ca("other");
    let leaf = signed_leaf(&other, "mallory", Usage::Client);
    let err = verify(&ca_of(&[&trusted]), &[&leaf]).unwrap_err();
    assert!(matches!(err, VerifyError::UnknownAuthority(_)), "{err}");

    // Same subject name as the trusted CA but a different key: the signature does not verify.
    let impostor = self_signed_ca("trusted");
    let leaf = signed_leaf(&impostor, "mallory", Usage::Client);
    let err = verify(&ca_of(&[&trusted]), &[&leaf]).unwrap_err();
    assert!(matches!(err, VerifyError::UnknownAuthority(_)), "{err}");
}

#[test]
fn expired_and_not_yet_valid_certs_are_rejected() {
    let root = self_signed_ca("root");
    let now = OffsetDateTime::now_utc();
    let mut params = leaf_params("old", &[], Usage::Client);
    params.not_before = now - TimeDuration::days(10);
    params.not_after = now - TimeDuration::days(1);
    let expired = signed_with(&root, params);
    let err = verify(&ca_of(&[&root]), &[&expired]).unwrap_err();
    assert!(matches!(err, VerifyError::Expired(_)), "{err}");

    let mut params = leaf_params("future", &[], Usage::Client);
    params.not_before = now + TimeDuration::days(1);
    params.not_after = now + TimeDuration::days(10);
    let future = signed_with(&root, params);
    let err = verify(&ca_of(&[&root]), &[&future]).unwrap_err();
    assert!(matches!(err, VerifyError::NotYetValid(_)), "{err}");
}

#[test]
fn serving_only_cert_is_not_a_client_cert() {
    let root = self_signed_ca("root");
    let serving = signed_leaf(&root, "localhost", Usage::Server);
    let err = verify(&ca_of(&[&root]), &[&serving]).unwrap_err();
    assert!(matches!(err, VerifyError::NotForClientAuth(_)), "{err}");
}

#[test]
fn cert_without_eku_is_accepted_like_go_does() {
    let root = self_signed_ca("root");
    let mut params = leaf_params("legacy", &[], Usage::Client);
    params.extended_key_usages.clear();
    let legacy = signed_with(&root, params);
    assert_eq!(verify(&ca_of(&[&root]), &[&legacy]).unwrap().common_name, "legacy");

    let mut params = leaf_params("both", &[], Usage::Client);
    params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let both = signed_with(&root, params);
    assert!(verify(&ca_of(&[&root]), &[&both]).is_ok());
}

#[test]
fn intermediates_are_used_when_sent() {
    let root = self_signed_ca("root");
    let intermediate = intermediate_ca(&root, "intermediate");
    let leaf = signed_leaf(&intermediate, "bob", Usage::Client);
    let ca = ca_of(&[&root]);
    assert_eq!(verify(&ca, &[&leaf, &intermediate]).unwrap().common_name, "bob");
    let err = verify(&ca, &[&leaf]).unwrap_err();
    assert!(matches!(err, VerifyError::UnknownAuthority(_)), "{err}");
}

#[test]
fn a_bundle_trusts_each_of_its_cas() {
    let a = self_signed_ca("a");
    let b = self_signed_ca("b");
    let ca = ca_of(&[&a, &b]);
    assert_eq!(ca.certificates().len(), 2);
    assert_eq!(ca.subjects().len(), 2);
    assert!(verify(&ca, &[&signed_leaf(&a, "from-a", Usage::Client)]).is_ok());
    assert!(verify(&ca, &[&signed_leaf(&b, "from-b", Usage::Client)]).is_ok());
}

#[test]
fn subjects_are_the_der_names_of_the_roots() {
    let root = self_signed_ca("hinted-root");
    let ca = ca_of(&[&root]);
    let (_, parsed) = x509_parser::parse_x509_certificate(&root.cert_der).unwrap();
    assert_eq!(ca.subjects()[0].as_ref(), parsed.subject().as_raw());
}

#[test]
fn empty_and_malformed_chains() {
    let ca = ca_of(&[&self_signed_ca("root")]);
    assert!(matches!(ca.verify_client_chain(&[], UnixTime::now()), Err(VerifyError::NoCertificate)));
    let junk = CertificateDer::from(b"not der".to_vec());
    assert!(matches!(ca.verify_client_chain(&[junk], UnixTime::now()), Err(VerifyError::Malformed(_))));
}

#[test]
fn hostile_bundles_are_rejected_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = self_signed_ca("root");
    let cases: [(&str, &[u8], Check); 4] = [
        ("empty.crt", b"", |e| matches!(e, TlsError::Empty { .. })),
        ("garbage.crt", b"\x00\x01garbage", |e| matches!(e, TlsError::NoPemBlock { .. })),
        ("key.crt", root.key_pem.as_bytes(), |e| matches!(e, TlsError::KeyInsteadOfCertificate { .. })),
        ("notx509.crt", b"-----BEGIN CERTIFICATE-----\nAAECAwQ=\n-----END CERTIFICATE-----\n", |e| {
            matches!(e, TlsError::InvalidCertificate { .. })
        }),
    ];
    for (name, content, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let err = CertificateAuthority::from_file(&path).unwrap_err();
        assert!(expected(&err), "{name}: unexpected {err:?}");
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
    let err = CertificateAuthority::from_file(dir.path().join("absent.crt")).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err}");
    assert!(err.to_string().contains("absent.crt"));
}

#[test]
fn file_bundle_reloads_on_content_change_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client-ca.crt");
    let old = self_signed_ca("old");
    let new = self_signed_ca("new");
    let old_user = signed_leaf(&old, "old-user", Usage::Client);
    let new_user = signed_leaf(&new, "new-user", Usage::Client);
    std::fs::write(&path, &old.cert_pem).unwrap();

    let ca = CertificateAuthority::from_file(&path).unwrap();
    let authenticator_view = ca.clone();
    assert_eq!(ca.path(), Some(path.as_path()));
    assert_eq!(ca.reload().unwrap(), ReloadOutcome::Unchanged);
    assert_eq!(ca.generation(), 0);

    std::fs::write(&path, &new.cert_pem).unwrap();
    assert_eq!(ca.reload().unwrap(), ReloadOutcome::Reloaded);
    assert_eq!(authenticator_view.generation(), 1);
    assert!(verify(&authenticator_view, &[&new_user]).is_ok());
    assert!(verify(&authenticator_view, &[&old_user]).is_err());

    // A broken rewrite keeps the last good roots.
    std::fs::write(&path, "-----BEGIN CERTIFICATE-----\nnope\n").unwrap();
    assert!(ca.reload().is_err());
    assert_eq!(ca.generation(), 1);
    assert!(verify(&ca, &[&new_user]).is_ok());
}

#[test]
fn memory_bundle_updates_through_update_pem() {
    let a = self_signed_ca("a");
    let b = self_signed_ca("b");
    let ca = CertificateAuthority::from_pem("configmap client-ca-file", a.cert_pem.as_bytes()).unwrap();
    assert_eq!(ca.path(), None);
    assert_eq!(ca.reload().unwrap(), ReloadOutcome::Unchanged);
    assert_eq!(ca.update_pem(a.cert_pem.as_bytes()).unwrap(), ReloadOutcome::Unchanged);
    let err = ca.update_pem(b"").unwrap_err();
    assert!(err.to_string().contains("configmap client-ca-file"), "{err}");
    assert_eq!(ca.update_pem(b.cert_pem.as_bytes()).unwrap(), ReloadOutcome::Reloaded);
    assert!(verify(&ca, &[&signed_leaf(&b, "u", Usage::Client)]).is_ok());
    assert!(verify(&ca, &[&signed_leaf(&a, "u", Usage::Client)]).is_err());
}

#[tokio::test]
async fn spawned_reloader_picks_up_a_new_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.crt");
    let old = self_signed_ca("old");
    let new = self_signed_ca("new");
    std::fs::write(&path, &old.cert_pem).unwrap();
    let ca = CertificateAuthority::from_file(&path).unwrap();
    let task = ca.spawn_reloader(Duration::from_millis(20));
    std::fs::write(&path, &new.cert_pem).unwrap();
    let user = signed_leaf(&new, "u", Usage::Client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while verify(&ca, &[&user]).is_err() {
        assert!(tokio::time::Instant::now() < deadline, "reloader never swapped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(ca);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("reloader stops once the bundle is dropped")
        .unwrap();
}
