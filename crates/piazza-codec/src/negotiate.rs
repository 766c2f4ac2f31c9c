//! Content negotiation: which format a request body is in, and which format to answer in.

use piazza_core::ApiError;

use crate::media::{MediaType, parse_accept};
use crate::{JSON, YAML};

/// A serialization format Piazza can produce and consume for objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/yaml`.
    Yaml,
}

impl Format {
    /// The media type sent in `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => JSON,
            Self::Yaml => YAML,
        }
    }
}

/// The media types accepted in request bodies.
pub const SUPPORTED_REQUEST_TYPES: &[&str] = &[JSON, YAML];
/// The media types the server can answer with for objects.
pub const SUPPORTED_RESPONSE_TYPES: &[&str] = &[JSON, YAML];
/// The media types the server can stream watch events in.
pub const SUPPORTED_STREAM_TYPES: &[&str] = &[JSON];

/// Chooses the format of a request body from its `Content-Type`. A missing header means
/// JSON, as upstream; anything unknown is a 415.
pub fn negotiate_request_format(content_type: Option<&str>) -> Result<Format, ApiError> {
    let Some(raw) = content_type.filter(|c| !c.trim().is_empty()) else { return Ok(Format::Json) };
    let media =
        MediaType::parse(raw).map_err(|_| ApiError::unsupported_media_type(SUPPORTED_REQUEST_TYPES))?;
    match media.essence().as_str() {
        JSON => Ok(Format::Json),
        YAML => Ok(Format::Yaml),
        _ => Err(ApiError::unsupported_media_type(SUPPORTED_REQUEST_TYPES)),
    }
}

/// Chooses the response format from an `Accept` header. `streaming` is true for watch,
/// which only JSON supports. Media ranges asking for a transformed shape (`as=Table`, …)
/// are skipped until those shapes are served; an acceptable plain type later in the list
/// still wins. Nothing acceptable is a 406.
pub fn negotiate_response_format(accept: Option<&str>, streaming: bool) -> Result<Format, ApiError> {
    let supported = if streaming { SUPPORTED_STREAM_TYPES } else { SUPPORTED_RESPONSE_TYPES };
    let Some(raw) = accept.filter(|a| !a.trim().is_empty()) else { return Ok(Format::Json) };
    let ranges = parse_accept(raw).map_err(|_| ApiError::not_acceptable(supported))?;
    for range in &ranges {
        if range.param("as").is_some() {
            continue;
        }
        for candidate in supported {
            if range.matches(candidate) {
                return Ok(if *candidate == YAML { Format::Yaml } else { Format::Json });
            }
        }
    }
    Err(ApiError::not_acceptable(supported))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_defaults_to_json_and_rejects_unknown() {
        assert_eq!(negotiate_request_format(None).unwrap(), Format::Json);
        assert_eq!(negotiate_request_format(Some("application/yaml")).unwrap(), Format::Yaml);
        assert_eq!(negotiate_request_format(Some("application/json; charset=utf-8")).unwrap(), Format::Json);
        let err = negotiate_request_format(Some("text/plain")).unwrap_err();
        assert_eq!(err.code, 415);
        assert_eq!(negotiate_request_format(Some("garbage")).unwrap_err().code, 415);
    }

    #[test]
    fn response_negotiation() {
        assert_eq!(negotiate_response_format(None, false).unwrap(), Format::Json);
        assert_eq!(negotiate_response_format(Some("*/*"), false).unwrap(), Format::Json);
        assert_eq!(negotiate_response_format(Some("application/yaml"), false).unwrap(), Format::Yaml);
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate_response_format(Some(table), false).unwrap(), Format::Json);
        assert_eq!(negotiate_response_format(Some("text/html"), false).unwrap_err().code, 406);
        assert_eq!(negotiate_response_format(Some("application/yaml"), true).unwrap_err().code, 406);
        assert_eq!(
            negotiate_response_format(Some("application/json;as=Table;g=meta.k8s.io;v=v1"), false)
                .unwrap_err()
                .code,
            406
        );
    }
}
