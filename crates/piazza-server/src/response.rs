//! The one boundary where an [`ApiError`] becomes an HTTP response with a `metav1.Status`
//! body, and helpers for successful object responses.

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use piazza_codec::{Format, encode_status};
use piazza_core::ApiError;

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
    let mut response = Response::new(full(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
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
}
