//! The TLS client options reach etcd-client: a real TLS etcd with client-certificate auth, and
//! clear errors for the mistakes an operator makes.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use piazza_storage::{ReadRevision, Storage};
use piazza_storage_etcd::testing::{EtcdServer, ServerTls};
use piazza_storage_etcd::{EtcdOptions, EtcdStore};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::support::{b, chain, connect_with};

/// A CA, a server certificate for 127.0.0.1 and a client certificate, written as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn generate() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let (ca_pem, ca_key) = ca("piazza-test-etcd-ca");
        std::fs::write(dir.path().join("ca.crt"), &ca_pem).unwrap();
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, KeyPair::from_pem(&ca_key).unwrap()).unwrap();

        let mut server = CertificateParams::default();
        server.distinguished_name.push(DnType::CommonName, "etcd");
        server.subject_alt_names = vec![
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::DnsName("localhost".try_into().unwrap()),
        ];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        write_leaf(dir.path(), "server", &server, &issuer);

        let mut client = CertificateParams::default();
        client.distinguished_name.push(DnType::CommonName, "piazza");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        write_leaf(dir.path(), "client", &client, &issuer);

        let (other_ca, _) = ca("some-other-ca");
        std::fs::write(dir.path().join("other-ca.crt"), other_ca).unwrap();
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server_tls(&self) -> ServerTls {
        ServerTls {
            cert_file: self.path("server.crt"),
            key_file: self.path("server.key"),
            client_ca_file: Some(self.path("ca.crt")),
        }
    }

    fn client_options(&self, server: &EtcdServer) -> EtcdOptions {
        EtcdOptions {
            ca_file: Some(self.path("ca.crt")),
            cert_file: Some(self.path("client.crt")),
            key_file: Some(self.path("client.key")),
            ..server.options()
        }
    }
}

fn ca(name: &str) -> (String, String) {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn write_leaf(dir: &Path, name: &str, params: &CertificateParams, issuer: &Issuer<'_, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

async fn connect_error(options: EtcdOptions) -> String {
    match EtcdStore::connect(options).await {
        Ok(_) => panic!("connecting should have failed"),
        Err(e) => chain(&e),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_over_tls_with_a_client_certificate() {
    let pki = Pki::generate();
    let server = EtcdServer::start_tls(pki.server_tls());
    assert!(server.endpoint().starts_with("https://"));
    let store = connect_with(pki.client_options(&server)).await;
    let created = store.create("/registry/pizzas/ns/tls", b("v")).await.unwrap();
    assert_eq!(store.get(&created.key, ReadRevision::Latest).await.unwrap(), created);
    store.check_health().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_mistakes_are_refused_with_clear_errors() {
    let pki = Pki::generate();
    let server = EtcdServer::start_tls(pki.server_tls());
    let short = |mut o: EtcdOptions| {
        o.request_timeout = std::time::Duration::from_secs(3);
        o
    };

    let missing_ca =
        EtcdOptions { ca_file: Some("/nonexistent/etcd-ca.crt".into()), ..pki.client_options(&server) };
    let e = connect_error(short(missing_ca)).await;
    assert!(e.contains("reading the etcd CA file /nonexistent/etcd-ca.crt"), "{e}");

    let missing_key = EtcdOptions { key_file: Some(pki.path("nope.key")), ..pki.client_options(&server) };
    let e = connect_error(short(missing_key)).await;
    assert!(e.contains("client key file") && e.contains("nope.key"), "{e}");

    // A CA that did not sign the server's certificate: the handshake fails.
    let wrong_ca = EtcdOptions { ca_file: Some(pki.path("other-ca.crt")), ..pki.client_options(&server) };
    let e = connect_error(short(wrong_ca)).await;
    assert!(e.contains("connecting to etcd at") && e.contains("certificate"), "{e}");

    // No client certificate, but etcd demands one.
    let anonymous = EtcdOptions { cert_file: None, key_file: None, ..pki.client_options(&server) };
    let e = connect_error(short(anonymous)).await;
    assert!(e.contains("connecting to etcd at"), "{e}");

    // Plain text against a TLS port.
    let plain = EtcdOptions::with_endpoints([server.endpoint().replace("https://", "http://")]);
    let e = connect_error(short(plain)).await;
    assert!(e.contains("connecting to etcd at"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_etcd_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut options = EtcdOptions::with_endpoints([format!("http://127.0.0.1:{port}")]);
    options.request_timeout = std::time::Duration::from_secs(2);
    let began = std::time::Instant::now();
    let e = connect_error(options).await;
    assert!(e.contains(&format!("connecting to etcd at [\"http://127.0.0.1:{port}\"]")), "{e}");
    assert!(began.elapsed() < std::time::Duration::from_secs(10), "took {:?}", began.elapsed());
}
