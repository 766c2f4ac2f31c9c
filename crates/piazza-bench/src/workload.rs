//! The plain HTTP workload: one request shape, repeated (the `http` mode, GET and LIST
//! scenarios, the transport baseline).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::Method;

use crate::client::{Client, RequestError, Session, accepting};
use crate::report::Sample;
use crate::runner::Workload;
use crate::template::Template;

/// The body of each request.
#[derive(Clone, Debug)]
pub enum Body {
    /// The same bytes every time.
    Fixed(Bytes),
    /// Rendered per request with its sequence number.
    Template(Template),
    /// Made per request from its sequence number (e.g. an encoded object with a unique name).
    Encoded(Encoder),
}

/// A function from a request's sequence number to its body.
#[derive(Clone)]
pub struct Encoder(pub Arc<dyn Fn(u64) -> Bytes + Send + Sync>);

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Encoder(..)")
    }
}

/// Repeats one request; the response body is read and dropped.
pub struct HttpWorkload {
    /// The client.
    pub client: Client,
    /// Method.
    pub method: Method,
    /// Absolute path and query.
    pub path: String,
    /// Body.
    pub body: Body,
    /// Content-Type for the body, unless a header sets one.
    pub content_type: Option<&'static str>,
    /// Accept header of each request, replacing any default one.
    pub accept: Option<&'static str>,
    /// Label in the report.
    pub label: &'static str,
}

impl HttpWorkload {
    /// A GET of `path`.
    pub fn get(client: Client, path: String, label: &'static str) -> HttpWorkload {
        HttpWorkload {
            client,
            method: Method::GET,
            path,
            body: Body::Fixed(Bytes::new()),
            content_type: None,
            accept: None,
            label,
        }
    }

    /// A POST of `body` (JSON) to `path`.
    pub fn post(client: Client, path: String, body: Bytes, label: &'static str) -> HttpWorkload {
        HttpWorkload {
            method: Method::POST,
            body: Body::Fixed(body),
            content_type: Some("application/json"),
            ..HttpWorkload::get(client, path, label)
        }
    }

    /// The same workload asking for `accept` (e.g. protobuf answers).
    pub fn accepting(mut self, accept: Option<&'static str>) -> HttpWorkload {
        self.accept = accept;
        self
    }
}

impl Workload for HttpWorkload {
    type Worker = Session;

    async fn worker(&self, index: usize) -> Session {
        let mut session = self.client.session(index);
        // Connect before the clock starts; a failure shows up as errors in the run.
        let _ = session.connect().await;
        session
    }

    async fn call(&self, session: &mut Session, seq: u64) -> Result<Sample, RequestError> {
        let body = match &self.body {
            Body::Fixed(bytes) => bytes.clone(),
            Body::Template(template) => template.render(seq),
            Body::Encoded(encoder) => (encoder.0)(seq),
        };
        let request = self.client.request(self.method.clone(), &self.path, body, self.content_type);
        let request = accepting(request, self.accept);
        let (status, bytes) = session.discard(request).await?;
        Ok(Sample::new(self.label, status.as_u16(), bytes))
    }
}
