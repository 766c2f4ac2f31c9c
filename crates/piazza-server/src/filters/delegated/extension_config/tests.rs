use base64::Engine;
use rustls_pki_types::UnixTime;

use super::*;
use crate::filters::authentication::PeerCertificates;
use crate::filters::test_certs::TestCa;

fn pem_of(ca: &TestCa) -> String {
    let der = ca.authority().certificates().remove(0);
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A ConfigMap that tests change between refreshes.
struct Scripted(Mutex<Result<Option<BTreeMap<String, String>>, CallError>>);

#[async_trait]
impl ConfigMapSource for Scripted {
    async fn fetch(&self) -> Result<Option<BTreeMap<String, String>>, CallError> {
        self.0.lock().unwrap().clone()
    }
}

fn request(
    chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    headers: &[(&str, &str)],
) -> http::request::Parts {
    let mut builder = http::Request::builder().uri("/apis");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (mut parts, ()) = builder.body(()).unwrap().into_parts();
    parts.extensions.insert(PeerCertificates(Arc::new(chain)));
    parts
}

#[test]
fn parses_the_keys_kube_apiserver_publishes() {
    let parsed = ExtensionAuthentication::parse(&data(&[
        ("client-ca-file", "CLIENT PEM"),
        ("requestheader-client-ca-file", "PROXY PEM"),
        ("requestheader-allowed-names", "[\"front-proxy-client\"]"),
        ("requestheader-username-headers", "[\"X-Remote-User\"]"),
        ("requestheader-group-headers", "[\"X-Remote-Group\"]"),
        ("requestheader-extra-headers-prefix", "[\"X-Remote-Extra-\"]"),
        ("requestheader-uid-headers", ""),
    ]))
    .unwrap();
    assert_eq!(parsed.client_ca.as_deref(), Some("CLIENT PEM"));
    let rh = &parsed.request_header;
    assert_eq!(rh.client_ca.as_deref(), Some("PROXY PEM"));
    assert_eq!(rh.allowed_names, vec!["front-proxy-client"]);
    assert_eq!(rh.username_headers, vec!["X-Remote-User"]);
    assert_eq!(rh.group_headers, vec!["X-Remote-Group"]);
    assert_eq!(rh.extra_headers_prefix, vec!["X-Remote-Extra-"]);
    assert!(rh.uid_headers.is_empty());
    assert_eq!(ExtensionAuthentication::parse(&BTreeMap::new()).unwrap(), ExtensionAuthentication::default());
}

#[test]
fn lists_that_are_not_json_string_arrays_are_errors() {
    for bad in ["X-Remote-User", "[1]", "{\"a\":1}", "[\"a\""] {
        let err =
            ExtensionAuthentication::parse(&data(&[("requestheader-username-headers", bad)])).unwrap_err();
        assert!(err.starts_with("requestheader-username-headers: "), "{bad}: {err}");
    }
}

#[tokio::test]
async fn client_ca_and_front_proxy_follow_the_configmap() {
    let client_ca = TestCa::new("cluster-ca");
    let proxy_ca = TestCa::new("front-proxy-ca");
    let source = Arc::new(Scripted(Mutex::new(Ok(Some(data(&[
        ("client-ca-file", &pem_of(&client_ca)),
        ("requestheader-client-ca-file", &pem_of(&proxy_ca)),
        ("requestheader-allowed-names", "[\"front-proxy-client\"]"),
        ("requestheader-username-headers", "[\"X-Remote-User\"]"),
        ("requestheader-group-headers", "[\"X-Remote-Group\"]"),
    ]))))));
    let refresher = ExtensionConfigRefresher::new(source.clone(), true, true);
    let x509 = refresher.client_cert_authenticator().unwrap();
    let proxy = refresher.request_header_authenticator().unwrap();
    let alice = request(client_ca.client("alice", &["devs"]), &[]);
    assert!(x509.authenticate(&alice).await.unwrap().is_none(), "nothing before the first read");
    refresher.refresh().await.unwrap();
    assert_eq!(x509.authenticate(&alice).await.unwrap().unwrap().name, "alice");
    let proxied = request(
        proxy_ca.client("front-proxy-client", &[]),
        &[("X-Remote-User", "carol"), ("X-Remote-Group", "g")],
    );
    let carol = proxy.authenticate(&proxied).await.unwrap().unwrap();
    assert_eq!((carol.name.as_str(), carol.groups[0].as_str()), ("carol", "g"));
    let wrong_cn = request(proxy_ca.client("someone-else", &[]), &[("X-Remote-User", "carol")]);
    assert!(proxy.authenticate(&wrong_cn).await.unwrap().is_none());
    assert_eq!(refresher.certificate_authorities().len(), 2);
    assert_eq!(refresher.request_header_names().unwrap().username[0].as_str(), "x-remote-user");

    // Rotation: the new CA takes over, the old one stops verifying.
    let rotated = TestCa::new("cluster-ca-2");
    *source.0.lock().unwrap() = Ok(Some(data(&[("client-ca-file", &pem_of(&rotated))])));
    refresher.refresh().await.unwrap();
    assert!(x509.authenticate(&alice).await.is_err());
    let dave = request(rotated.client("dave", &[]), &[]);
    assert_eq!(x509.authenticate(&dave).await.unwrap().unwrap().name, "dave");
    // The front-proxy CA was removed from the map: no proxy is trusted any more.
    assert!(proxy.authenticate(&proxied).await.unwrap().is_none());
    let _ = UnixTime::now();
}

#[tokio::test]
async fn bad_reads_keep_the_last_good_settings() {
    let client_ca = TestCa::new("cluster-ca");
    let source = Arc::new(Scripted(Mutex::new(Ok(Some(data(&[("client-ca-file", &pem_of(&client_ca))]))))));
    let refresher = ExtensionConfigRefresher::new(source.clone(), true, false);
    assert!(refresher.request_header_authenticator().is_none());
    refresher.refresh().await.unwrap();
    let x509 = refresher.client_cert_authenticator().unwrap();
    let alice = request(client_ca.client("alice", &[]), &[]);
    *source.0.lock().unwrap() = Err(CallError::Permanent("connection refused".into()));
    assert!(refresher.refresh().await.is_err());
    *source.0.lock().unwrap() = Ok(Some(data(&[("requestheader-allowed-names", "not json")])));
    assert!(refresher.refresh().await.is_err());
    *source.0.lock().unwrap() = Ok(Some(data(&[(
        "client-ca-file",
        "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
    )])));
    refresher.refresh().await.unwrap();
    assert_eq!(x509.authenticate(&alice).await.unwrap().unwrap().name, "alice");
}
