//! [`TestResponse`]: a fully read response, with parsing helpers and a check of the
//! `metav1.Status` shape every Kubernetes error response has.

use bytes::Bytes;
use http::{HeaderMap, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

use crate::client::ClientError;

/// A response read to the end.
#[derive(Clone, Debug)]
pub struct TestResponse {
    /// The HTTP status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// The HTTP version the response came over.
    pub version: Version,
}

impl TestResponse {
    /// Reads `response` to the end.
    pub async fn read(response: http::Response<Incoming>) -> Result<Self, ClientError> {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| ClientError::Body(Box::new(e)))?.to_bytes();
        Ok(Self { status: parts.status, headers: parts.headers, body, version: parts.version })
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics, showing the body, if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response ({}) is not JSON: {e}; body: {}", self.status, self.text()))
    }

    /// The body parsed as YAML, as a JSON value; panics if it is not YAML.
    pub fn yaml(&self) -> Value {
        serde_yaml_ng::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response ({}) is not YAML: {e}; body: {}", self.status, self.text()))
    }

    /// A header's value as a string ("" when absent or not visible ASCII).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts the status code, showing the body when it differs; returns `self`.
    #[track_caller]
    pub fn expect(&self, code: u16) -> &Self {
        assert_eq!(self.status.as_u16(), code, "unexpected status; body: {}", self.text());
        self
    }

    /// Asserts the status code and returns the JSON body.
    #[track_caller]
    pub fn expect_json(&self, code: u16) -> Value {
        self.expect(code);
        self.json()
    }

    /// Asserts that this is a failure `metav1.Status` with HTTP status `code` and `reason`,
    /// in the exact shape upstream writes: `Content-Type: application/json`, `kind: Status`,
    /// `apiVersion: v1`, `metadata: {}` (or only `continue` on a 410), `status: Failure`, a non-empty `message`, and
    /// `code` equal to the HTTP status. Returns the Status for further checks.
    #[track_caller]
    pub fn expect_status(&self, code: u16, reason: &str) -> Value {
        assert_eq!(self.status.as_u16(), code, "unexpected status; body: {}", self.text());
        assert!(
            self.header("content-type").starts_with("application/json"),
            "a Status is JSON, got content-type {:?}; body: {}",
            self.header("content-type"),
            self.text()
        );
        let status = self.json();
        assert_eq!(status["kind"], "Status", "{status}");
        assert_eq!(status["apiVersion"], "v1", "{status}");
        // Only a 410 for a compacted continue token carries list metadata: the token that
        // continues at the latest revision.
        match status["metadata"].as_object() {
            Some(meta) if meta.is_empty() => {}
            Some(meta) if code == 410 && meta.keys().all(|k| k == "continue") => {}
            _ => panic!("a Status has empty metadata: {status}"),
        }
        assert_eq!(status["status"], "Failure", "{status}");
        assert_eq!(status["code"], code, "{status}");
        assert_eq!(status["reason"], reason, "{status}");
        assert!(status["message"].as_str().is_some_and(|m| !m.is_empty()), "{status}");
        status
    }
}
