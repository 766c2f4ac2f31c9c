//! The one boundary where an [`ApiError`] becomes an HTTP response with a `metav1.Status`
//! body, and helpers for successful object responses.

use http::header::{CONTENT_TYPE, RETRY_AFTER, WARNING};
use http::{HeaderValue, StatusCode};
use piazza_codec::{Format, Target, encode_status};
use piazza_core::ApiError;
use piazza_registry::Encoded;

use crate::body::{Response, full};

/// Builds the response for an error, encoding the Status as `format` (JSON if that fails).
pub fn error_response(err: &ApiError, format: Format) -> Response {
    let status = err.to_status();
    let (body, format) = match encode_status(&status, format) {
        Ok(body) => (body, format),
        Err(_) => (encode_status(&status, Format::Json).unwrap_or_default(), Format::Json),
    };
    let mut response = bytes_response(err.code, format.content_type(), body);
    if let Some(seconds) = err.retry_after_seconds {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Builds a response with a body of the given media type.
pub fn bytes_response(status: u16, content_type: &str, body: impl Into<bytes::Bytes>) -> Response {
    typed_response(status, HeaderValue::from_str(content_type).ok(), body)
}

/// An encoded object (or view) as a response: its status, its media type and a `Warning`
/// header per warning.
pub fn encoded_response(encoded: Encoded) -> Response {
    let content_type = match encoded.target {
        // The common case needs no formatting and no copy.
        Target::Object => Some(HeaderValue::from_static(encoded.format.content_type())),
        view => HeaderValue::from_str(&view.content_type(encoded.format)).ok(),
    };
    let mut response = typed_response(encoded.status, content_type, encoded.body);
    for warning in &encoded.warnings {
        if let Ok(value) = HeaderValue::from_str(&warning_header(warning)) {
            response.headers_mut().append(WARNING, value);
        }
    }
    response
}

/// A response with a status (500 if not a valid code), a body and its `Content-Type`.
fn typed_response(status: u16, content_type: Option<HeaderValue>, body: impl Into<bytes::Bytes>) -> Response {
    let mut response = Response::new(full(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}

/// A `Warning` header value in the form Kubernetes uses: `299 - "<text>"`.
pub fn warning_header(text: &str) -> String {
    let escaped: String = text
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("299 - \"{escaped}\"")
}

/// Builds a JSON response from a serializable value.
pub fn json_response<T: serde::Serialize>(status: u16, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => bytes_response(status, "application/json", body),
        Err(e) => error_response(&ApiError::internal(e), Format::Json),
    }
}

/// A plain-text response (health checks).
pub fn text_response(status: u16, text: impl Into<String>) -> Response {
    let mut response = bytes_response(status, "text/plain; charset=utf-8", text.into());
    response.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn error_becomes_status() {
        let err = ApiError::too_many_requests(3);
        let response = error_response(&err, Format::Json);
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[RETRY_AFTER], "3");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["kind"], "Status");
        assert_eq!(json["reason"], "TooManyRequests");
    }

    #[test]
    fn warning_headers_escape_quotes() {
        assert_eq!(warning_header("unknown field \"spec.x\""), "299 - \"unknown field \\\"spec.x\\\"\"");
        assert_eq!(warning_header("a\nb"), "299 - \"ab\"");
    }
}
