//! In-process test harness for Piazza servers.
//!
//! The second of the four test tiers (unit · **in-process server** · real etcd · end to
//! end): a real [`piazza_server::Server`] on `127.0.0.1:0` with embedded storage in a
//! temporary directory and a generated standalone PKI, driven over real TLS sockets by a
//! small HTTPS client that can speak HTTP/1.1 or HTTP/2.
//!
//! | Item | What it gives you |
//! |---|---|
//! | [`TestServer`] | start, address, data dir, CA, clients for any identity, graceful shutdown |
//! | [`TestClient`] | requests with any method, headers and body (buffered or streamed); JSON helpers; watches |
//! | [`TestResponse`] | status, headers and the whole body; JSON/YAML parsing; `metav1.Status` checks |
//! | [`WatchStream`] | a watch response as a stream of parsed JSON lines |
//! | [`KubeDouble`] | a stand-in kube-apiserver for delegated authn/authz: scripted TokenReviews, SubjectAccessReviews and the extension-apiserver-authentication ConfigMap, outages, call counters, a kubeconfig |
//! | [`certs`] | signing client certificates with the server's CA, with a CA it does not trust, or with a [`TestCa`] of the test's own (a front-proxy CA) |
//!
//! ```no_run
//! # async fn demo(build: impl FnOnce(std::sync::Arc<dyn piazza_storage::Storage>)
//! #     -> Vec<std::sync::Arc<dyn piazza_registry::RestResource>>) {
//! use piazza_testing::TestServer;
//!
//! let server = TestServer::start(build).await;
//! let admin = server.admin_client();
//! let response = admin.get("/apis").await;
//! assert_eq!(response.status, 200);
//! server.shutdown().await;
//! # }
//! ```

pub mod certs;
mod client;
pub mod kube_double;
mod response;
mod server;
mod watch;

pub use certs::{Identity, TestCa};
pub use client::{BodyWriter, ClientError, HttpVersion, TestClient};
pub use kube_double::{Endpoint, KubeDouble, Outage, ReviewedUser};
pub use response::TestResponse;
pub use server::TestServer;
pub use watch::{WatchError, WatchStream};

// What tests need to build requests, without depending on these crates themselves.
pub use bytes::Bytes;
pub use http::{Method, StatusCode, Version};
pub use serde_json;
