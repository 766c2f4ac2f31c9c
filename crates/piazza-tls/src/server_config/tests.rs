//! End-to-end tests over real sockets on 127.0.0.1, with tokio-rustls on both ends.

use super::*;
use crate::test_support::{Usage, self_signed_ca, signed_leaf};
use crate::{StandalonePki, VerifyError};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ProtocolVersion, RootCertStore, SignatureScheme, SupportedProtocolVersion};
use std::io;
use std::path::Path;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

const TIMEOUT: Duration = Duration::from_secs(10);

/// What the server saw of a connection.
#[derive(Debug)]
struct ServerSide {
    peer: Option<Vec<CertificateDer<'static>>>,
    alpn: Option<Vec<u8>>,
    version: Option<ProtocolVersion>,
}

/// What the client saw of a connection.
#[derive(Debug)]
struct ClientSide {
    server_cert: CertificateDer<'static>,
    alpn: Option<Vec<u8>>,
}

/// Runs one connection: the server accepts with `tls`, reads the peer facts and writes "ok";
/// the client connects with `client` and reads the "ok".
async fn connect(tls: &ServerTls, client: ClientConfig) -> (io::Result<ServerSide>, io::Result<ClientSide>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls.acceptor();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut stream = acceptor.accept(tcp).await?;
        let (_, conn) = stream.get_ref();
        let side = ServerSide {
            peer: conn.peer_certificates().map(<[_]>::to_vec),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            version: conn.protocol_version(),
        };
        stream.write_all(b"ok").await?;
        stream.shutdown().await?;
        Ok(side)
    });
    let client = tokio::time::timeout(TIMEOUT, async move {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let mut stream = TlsConnector::from(Arc::new(client)).connect(name, tcp).await?;
        let mut ok = [0u8; 2];
        stream.read_exact(&mut ok).await?;
        assert_eq!(&ok, b"ok");
        let (_, conn) = stream.get_ref();
        Ok(ClientSide {
            server_cert: conn.peer_certificates().unwrap()[0].clone(),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        })
    })
    .await
    .expect("client finishes");
    let server = tokio::time::timeout(TIMEOUT, server).await.expect("server finishes").unwrap();
    (server, client)
}

fn der_of(pem_text: &str) -> Vec<CertificateDer<'static>> {
    crate::pem::certificates("test", pem_text.as_bytes()).unwrap()
}

fn key_of(pem_text: &str) -> PrivateKeyDer<'static> {
    crate::pem::private_key("test", pem_text.as_bytes()).unwrap()
}

fn client_builder(
    ca_pem: &str,
    versions: &[&'static SupportedProtocolVersion],
) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    let mut roots = RootCertStore::empty();
    for cert in der_of(ca_pem) {
        roots.add(cert).unwrap();
    }
    ClientConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
}

/// A client trusting `ca_pem`, optionally presenting `cert_pem`/`key_pem`, offering `alpn`.
fn client(
    ca_pem: &str,
    identity: Option<(&str, &str)>,
    alpn: &[&[u8]],
    versions: &[&'static SupportedProtocolVersion],
) -> ClientConfig {
    let builder = client_builder(ca_pem, versions);
    let mut config = match identity {
        Some((cert, key)) => builder.with_client_auth_cert(der_of(cert), key_of(key)).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS12_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

struct Fixture {
    dir: tempfile::TempDir,
    pki: StandalonePki,
    client_ca: CertificateAuthority,
    tls: ServerTls,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let pki = StandalonePki::load_or_generate(&dir.path().join("pki")).unwrap();
    let client_ca = pki.client_ca().unwrap();
    let tls = ServerTls::new(pki.serving_cert_source(), ClientAuthRoots::new([client_ca.clone()])).unwrap();
    Fixture { dir, pki, client_ca, tls }
}

#[tokio::test]
async fn admin_client_cert_reaches_the_server_and_verifies_as_admin() {
    let f = fixture();
    let config = client(
        f.pki.ca().cert_pem(),
        Some((f.pki.admin().cert_pem(), f.pki.admin().key_pem())),
        &[b"h2", b"http/1.1"],
        BOTH,
    );
    let (server, client) = connect(&f.tls, config).await;
    let (server, client) = (server.unwrap(), client.unwrap());
    assert_eq!(server.alpn.as_deref(), Some(ALPN_H2));
    assert_eq!(client.alpn.as_deref(), Some(ALPN_H2));
    assert_eq!(server.version, Some(ProtocolVersion::TLSv1_3));
    assert_eq!(client.server_cert, der_of(f.pki.serving().cert_pem())[0]);

    let chain = server.peer.expect("the server sees the client chain");
    let user = f.client_ca.verify_client_chain(&chain, UnixTime::now()).unwrap();
    assert_eq!(user.common_name, "admin");
    assert_eq!(user.organizations, ["system:masters"]);
}

#[tokio::test]
async fn anonymous_client_connects_without_a_certificate() {
    let f = fixture();
    let config = client(f.pki.ca().cert_pem(), None, &[b"http/1.1"], BOTH);
    let (server, client) = connect(&f.tls, config).await;
    let (server, client) = (server.unwrap(), client.unwrap());
    assert!(server.peer.is_none(), "no certificate was presented");
    assert_eq!(server.alpn.as_deref(), Some(ALPN_HTTP11));
    assert_eq!(client.alpn.as_deref(), Some(ALPN_HTTP11));

    // No ALPN at all (curl --no-alpn, probes) is fine too.
    let config = client_no_alpn(&f);
    let (server, _) = connect(&f.tls, config).await;
    assert_eq!(server.unwrap().alpn, None);
}

fn client_no_alpn(f: &Fixture) -> ClientConfig {
    client(f.pki.ca().cert_pem(), None, &[], BOTH)
}

#[tokio::test]
async fn tls12_clients_work_with_and_without_certificates() {
    let f = fixture();
    let config = client(
        f.pki.ca().cert_pem(),
        Some((f.pki.admin().cert_pem(), f.pki.admin().key_pem())),
        &[b"h2"],
        TLS12_ONLY,
    );
    let (server, _) = connect(&f.tls, config).await;
    let server = server.unwrap();
    assert_eq!(server.version, Some(ProtocolVersion::TLSv1_2));
    let user = f.client_ca.verify_client_chain(&server.peer.unwrap(), UnixTime::now()).unwrap();
    assert_eq!(user.common_name, "admin");

    let config = client(f.pki.ca().cert_pem(), None, &[b"h2"], TLS12_ONLY);
    let (server, _) = connect(&f.tls, config).await;
    assert!(server.unwrap().peer.is_none());
}

#[tokio::test]
async fn untrusted_client_cert_passes_the_handshake_but_not_verification() {
    let f = fixture();
    let stranger_ca = self_signed_ca("stranger");
    let stranger = signed_leaf(&stranger_ca, "mallory", Usage::Client);
    let config = client(f.pki.ca().cert_pem(), Some((&stranger.cert_pem, &stranger.key_pem)), &[b"h2"], BOTH);
    let (server, client) = connect(&f.tls, config).await;
    client.unwrap();
    let chain = server.unwrap().peer.unwrap();
    let err = f.client_ca.verify_client_chain(&chain, UnixTime::now()).unwrap_err();
    assert!(matches!(err, VerifyError::UnknownAuthority(_)), "{err}");
}

/// A client certificate resolver that records the CA hints it was given and presents `key`.
#[derive(Debug)]
struct Presenting {
    key: Option<Arc<CertifiedKey>>,
    hints: Mutex<Vec<Vec<u8>>>,
}

impl Presenting {
    fn new(key: Option<CertifiedKey>) -> Arc<Self> {
        Arc::new(Self { key: key.map(Arc::new), hints: Mutex::new(Vec::new()) })
    }

    fn hints(&self) -> Vec<Vec<u8>> {
        self.hints.lock().unwrap().clone()
    }
}

impl ResolvesClientCert for Presenting {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        *self.hints.lock().unwrap() = root_hint_subjects.iter().map(|h| h.to_vec()).collect();
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn client_with_resolver(
    ca_pem: &str,
    resolver: Arc<Presenting>,
    versions: &[&'static SupportedProtocolVersion],
) -> ClientConfig {
    client_builder(ca_pem, versions).with_client_cert_resolver(resolver)
}

fn subject_of(cert_pem: &str) -> Vec<u8> {
    let der = der_of(cert_pem).remove(0);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    cert.subject().as_raw().to_vec()
}

#[tokio::test]
async fn client_without_the_private_key_is_refused() {
    let f = fixture();
    // The admin certificate with somebody else's key: the CertificateVerify signature fails.
    let wrong_key =
        crate::crypto_provider().key_provider.load_private_key(key_of(f.pki.ca().key_pem())).unwrap();
    for versions in [BOTH, TLS12_ONLY] {
        let forged = CertifiedKey::new(der_of(f.pki.admin().cert_pem()), wrong_key.clone());
        let config = client_with_resolver(f.pki.ca().cert_pem(), Presenting::new(Some(forged)), versions);
        let (server, client) = connect(&f.tls, config).await;
        let err = server.expect_err("a forged CertificateVerify must fail the handshake");
        assert!(
            err.to_string().to_lowercase().contains("signature")
                || err.to_string().to_lowercase().contains("decrypt"),
            "{err}"
        );
        assert!(client.is_err());
    }
}

#[tokio::test]
async fn certificate_request_names_the_client_cas_and_follows_rotation() {
    let f = fixture();
    let front_proxy_ca = self_signed_ca("front-proxy-ca");
    let front_proxy_path = f.dir.path().join("front-proxy-ca.crt");
    std::fs::write(&front_proxy_path, &front_proxy_ca.cert_pem).unwrap();
    let front_proxy = CertificateAuthority::from_file(&front_proxy_path).unwrap();
    let tls = ServerTls::new(
        f.pki.serving_cert_source(),
        // The same bundle twice is advertised once.
        ClientAuthRoots::new([f.client_ca.clone(), front_proxy.clone()]).with(f.client_ca.clone()),
    )
    .unwrap();

    let resolver = Presenting::new(None);
    let config = client_with_resolver(f.pki.ca().cert_pem(), resolver.clone(), BOTH);
    let (server, _) = connect(&tls, config).await;
    assert!(server.unwrap().peer.is_none());
    assert_eq!(resolver.hints(), [subject_of(f.pki.ca().cert_pem()), subject_of(&front_proxy_ca.cert_pem)]);

    // Rotate the front-proxy CA file; after a reload new handshakes advertise the new CA.
    let rotated = self_signed_ca("front-proxy-ca-2");
    std::fs::write(&front_proxy_path, &rotated.cert_pem).unwrap();
    let before = tls.config();
    assert_eq!(tls.reload().unwrap(), ReloadOutcome::Reloaded);
    assert!(!Arc::ptr_eq(&before, &tls.config()), "configuration rebuilt");
    assert_eq!(tls.reload().unwrap(), ReloadOutcome::Unchanged);
    assert!(
        front_proxy
            .verify_client_chain(
                &[signed_leaf(&rotated, "front-proxy-client", Usage::Client).cert_der],
                UnixTime::now()
            )
            .is_ok()
    );

    let resolver = Presenting::new(None);
    let config = client_with_resolver(f.pki.ca().cert_pem(), resolver.clone(), TLS12_ONLY);
    connect(&tls, config).await.0.unwrap();
    assert_eq!(resolver.hints(), [subject_of(f.pki.ca().cert_pem()), subject_of(&rotated.cert_pem)]);

    // A bundle changed through another handle (a ConfigMap feed) is picked up as well.
    let memory = CertificateAuthority::from_pem("configmap", f.pki.ca().cert_pem().as_bytes()).unwrap();
    let tls = ServerTls::new(f.pki.serving_cert_source(), ClientAuthRoots::new([memory.clone()])).unwrap();
    memory.update_pem(rotated.cert_pem.as_bytes()).unwrap();
    assert_eq!(tls.reload().unwrap(), ReloadOutcome::Reloaded);
    let resolver = Presenting::new(None);
    let config = client_with_resolver(f.pki.ca().cert_pem(), resolver.clone(), BOTH);
    connect(&tls, config).await.0.unwrap();
    assert_eq!(resolver.hints(), [subject_of(&rotated.cert_pem)]);
}

/// A hand-built ClientHello offering only `version` (TLS 1.0 = 0x0301, 1.1 = 0x0302).
///
/// Without extensions it is what an old client sends. With `modern_extensions` it also carries
/// signature_algorithms, supported_groups and ec_point_formats, so that the version is the
/// only thing the server can object to.
fn legacy_client_hello(version: u16, modern_extensions: bool) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // empty session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x13, 0x00, 0x2f]); // two CBC suites
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    if modern_extensions {
        let extensions: &[u8] = &[
            0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03, // signature_algorithms: ecdsa_p256_sha256
            0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, // supported_groups: secp256r1
            0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
        ];
        body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        body.extend_from_slice(extensions);
    }
    let mut handshake = vec![0x01]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01]; // handshake record, TLS 1.0 framing
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends `hello` raw; returns the server's reply bytes and its handshake error.
async fn raw_hello(tls: &ServerTls, hello: &[u8]) -> (Vec<u8>, io::Error) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls.acceptor();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        acceptor.accept(tcp).await.map(drop)
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(hello).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(TIMEOUT, tcp.read_to_end(&mut reply)).await.unwrap().unwrap();
    let err = server.await.unwrap().unwrap_err();
    (reply, err)
}

#[tokio::test]
async fn tls10_and_tls11_clients_are_refused() {
    const ALERT: u8 = 0x15;
    const FATAL: u8 = 2;
    const PROTOCOL_VERSION: u8 = 70;
    const HANDSHAKE_FAILURE: u8 = 40;
    let f = fixture();
    for version in [0x0301u16, 0x0302] {
        // As a TLS 1.2+ server rustls wants extensions an old client never sends.
        let (reply, err) = raw_hello(&f.tls, &legacy_client_hello(version, false)).await;
        assert_eq!(reply.first(), Some(&ALERT), "{reply:02x?}");
        assert_eq!(&reply[reply.len() - 2..], &[FATAL, HANDSHAKE_FAILURE], "{reply:02x?}");
        assert!(err.to_string().contains("incompatible"), "{err}");

        // Given them, it still refuses: the version is too old.
        let (reply, err) = raw_hello(&f.tls, &legacy_client_hello(version, true)).await;
        assert_eq!(reply.first(), Some(&ALERT), "{reply:02x?}");
        assert_eq!(&reply[reply.len() - 2..], &[FATAL, PROTOCOL_VERSION], "{reply:02x?}");
        assert!(err.to_string().contains("Tls12NotOffered"), "{err}");
    }
}

fn write_serving(dir: &Path, cert_pem: &str, key_pem: &str) {
    // Key first, then cert, as an operator (or cert-manager) might; reloads may see a mismatch
    // in between, which must keep the old pair.
    std::fs::write(dir.join("apiserver.key"), key_pem).unwrap();
    std::fs::write(dir.join("apiserver.crt"), cert_pem).unwrap();
}

/// A new serving certificate signed by the standalone CA.
fn new_serving_cert(pki: &StandalonePki) -> (String, String) {
    let ca_key = rcgen::KeyPair::from_pem(pki.ca().key_pem()).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(pki.ca().cert_pem(), ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = crate::test_support::leaf_params("rotated", &[], Usage::Server);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn rotated_serving_cert_is_served_after_reload() {
    let f = fixture();
    let old = der_of(f.pki.serving().cert_pem()).remove(0);
    let dir = f.pki.dir().to_path_buf();
    let (new_cert, new_key) = new_serving_cert(&f.pki);
    let new = der_of(&new_cert).remove(0);
    let anonymous = || client(f.pki.ca().cert_pem(), None, &[b"h2"], BOTH);

    write_serving(&dir, &new_cert, &new_key);
    let (_, client) = connect(&f.tls, anonymous()).await;
    assert_eq!(client.unwrap().server_cert, old, "nothing changes before a reload");

    assert_eq!(f.tls.reload().unwrap(), ReloadOutcome::Reloaded);
    let (_, client) = connect(&f.tls, anonymous()).await;
    assert_eq!(client.unwrap().server_cert, new);

    // Broken files: the reload fails, the new-but-now-current cert keeps being served.
    std::fs::write(dir.join("apiserver.crt"), "-----BEGIN CERTIFICATE-----\n").unwrap();
    assert!(matches!(f.tls.reload(), Err(TlsError::Pem { .. })));
    let (_, client) = connect(&f.tls, anonymous()).await;
    assert_eq!(client.unwrap().server_cert, new);
}

#[tokio::test]
async fn spawned_reloader_rotates_the_serving_cert() {
    let f = fixture();
    let reloader = f.tls.spawn_reloader(Duration::from_millis(25));
    let (new_cert, new_key) = new_serving_cert(&f.pki);
    let new = der_of(&new_cert).remove(0);
    write_serving(f.pki.dir(), &new_cert, &new_key);

    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let config = client(f.pki.ca().cert_pem(), None, &[b"h2"], BOTH);
        let (_, client) = connect(&f.tls, config).await;
        if client.unwrap().server_cert == new {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never rotated");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(f.tls);
    tokio::time::timeout(TIMEOUT, reloader).await.expect("reloader ends with the last ServerTls").unwrap();
}

#[test]
fn bad_serving_files_fail_construction_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let ca = self_signed_ca("ca");
    std::fs::write(dir.path().join("tls.crt"), &ca.key_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &ca.key_pem).unwrap();
    let err = ServerTls::new(
        ServingCertSource::new(dir.path().join("tls.crt"), dir.path().join("tls.key")),
        ClientAuthRoots::none(),
    )
    .unwrap_err();
    assert!(matches!(err, TlsError::KeyInsteadOfCertificate { .. }), "{err}");
    assert!(err.to_string().contains("tls.crt"));
}

#[test]
fn configuration_offers_h2_then_http11_and_requests_optional_client_certs() {
    let f = fixture();
    let config = f.tls.config();
    assert_eq!(config.alpn_protocols, [ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()]);
    assert!(Arc::ptr_eq(&config, &f.tls.config()), "stable while nothing changes");
}

fn fixture_with_policy(policy: &TlsPolicy) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let pki = StandalonePki::load_or_generate(&dir.path().join("pki")).unwrap();
    let client_ca = pki.client_ca().unwrap();
    let tls =
        ServerTls::with_policy(pki.serving_cert_source(), ClientAuthRoots::new([client_ca.clone()]), policy)
            .unwrap();
    Fixture { dir, pki, client_ca, tls }
}

/// A client offering only `suites` (and only the versions they belong to).
fn client_offering(ca_pem: &str, suites: &[rustls::CipherSuite]) -> ClientConfig {
    let mut provider = (*crate::crypto_provider()).clone();
    provider.cipher_suites.retain(|s| suites.contains(&s.suite()));
    let versions: Vec<&'static SupportedProtocolVersion> = [&rustls::version::TLS13, &rustls::version::TLS12]
        .into_iter()
        .filter(|v| provider.cipher_suites.iter().any(|s| s.version() == *v))
        .collect();
    let mut roots = RootCertStore::empty();
    for cert in der_of(ca_pem) {
        roots.add(cert).unwrap();
    }
    ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[tokio::test]
async fn a_tls13_minimum_refuses_tls12_clients() {
    let policy = TlsPolicy::new("VersionTLS13", &[]).unwrap();
    let f = fixture_with_policy(&policy);
    let (server, client_side) =
        connect(&f.tls, client(f.pki.ca().cert_pem(), None, &[b"h2"], TLS12_ONLY)).await;
    assert!(server.is_err(), "the server refuses the handshake");
    assert!(client_side.is_err(), "the client sees the refusal");

    let (server, _) = connect(&f.tls, client(f.pki.ca().cert_pem(), None, &[b"h2"], BOTH)).await;
    assert_eq!(server.unwrap().version, Some(ProtocolVersion::TLSv1_3));
}

#[tokio::test]
async fn a_cipher_suite_list_is_honoured() {
    use rustls::CipherSuite as S;
    // The standalone serving key is ECDSA.
    let policy = TlsPolicy::new("", &["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".to_owned()]).unwrap();
    let f = fixture_with_policy(&policy);
    let ca = f.pki.ca().cert_pem();

    let other = client_offering(ca, &[S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]);
    let (server, client_side) = connect(&f.tls, other).await;
    assert!(server.is_err() && client_side.is_err(), "no common suite, no handshake");

    let allowed = client_offering(ca, &[S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]);
    let (server, _) = connect(&f.tls, allowed).await;
    assert_eq!(server.unwrap().version, Some(ProtocolVersion::TLSv1_2));

    // TLS 1.3 suites stay available, as in Go, because the list names none of them.
    let tls13 = client_offering(ca, &[S::TLS13_CHACHA20_POLY1305_SHA256]);
    let (server, _) = connect(&f.tls, tls13).await;
    assert_eq!(server.unwrap().version, Some(ProtocolVersion::TLSv1_3));

    // Naming a TLS 1.3 suite narrows TLS 1.3 as well.
    let narrowed = TlsPolicy::new("VersionTLS13", &["TLS_AES_128_GCM_SHA256".to_owned()]).unwrap();
    let f = fixture_with_policy(&narrowed);
    let ca = f.pki.ca().cert_pem();
    let (server, _) = connect(&f.tls, client_offering(ca, &[S::TLS13_AES_256_GCM_SHA384])).await;
    assert!(server.is_err());
    let (server, _) = connect(&f.tls, client_offering(ca, &[S::TLS13_AES_128_GCM_SHA256])).await;
    assert!(server.is_ok());
}
