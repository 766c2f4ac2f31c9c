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

/// The version of the `meta.k8s.io` view types (`Table`, `PartialObjectMetadata[List]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetaVersion {
    /// `meta.k8s.io/v1`.
    #[default]
    V1,
    /// `meta.k8s.io/v1beta1`.
    V1Beta1,
}

impl MetaVersion {
    /// From the `v=` parameter of a media range.
    pub fn parse(version: &str) -> Option<Self> {
        match version {
            "v1" => Some(Self::V1),
            "v1beta1" => Some(Self::V1Beta1),
            _ => None,
        }
    }

    /// `v1` or `v1beta1`.
    pub fn name(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V1Beta1 => "v1beta1",
        }
    }

    /// `meta.k8s.io/<version>`.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::V1 => "meta.k8s.io/v1",
            Self::V1Beta1 => "meta.k8s.io/v1beta1",
        }
    }
}

/// The shape of a response: the object itself, or one of the `meta.k8s.io` views of it
/// asked for with `as=` in the `Accept` header, in the `meta.k8s.io` version asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The object (or list) itself.
    Object,
    /// `as=Table;g=meta.k8s.io;v=v1` (or `v1beta1`): rows of printable columns.
    Table(MetaVersion),
    /// `as=PartialObjectMetadata;g=meta.k8s.io;v=v1`: only the metadata.
    PartialObjectMetadata(MetaVersion),
    /// `as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`: a list of metadata.
    PartialObjectMetadataList(MetaVersion),
}

impl Target {
    /// The `Content-Type` for this target in `format`.
    pub fn content_type(self, format: Format) -> String {
        let (kind, version) = match self {
            Self::Object => return format.content_type().to_owned(),
            Self::Table(v) => ("Table", v),
            Self::PartialObjectMetadata(v) => ("PartialObjectMetadata", v),
            Self::PartialObjectMetadataList(v) => ("PartialObjectMetadataList", v),
        };
        format!("{};as={kind};v={};g=meta.k8s.io", format.content_type(), version.name())
    }

    /// The `meta.k8s.io` version of a view; `None` for the object itself.
    pub fn meta_version(self) -> Option<MetaVersion> {
        match self {
            Self::Object => None,
            Self::Table(v) | Self::PartialObjectMetadata(v) | Self::PartialObjectMetadataList(v) => Some(v),
        }
    }
}

/// A negotiated response: its format and shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The serialization.
    pub format: Format,
    /// The shape.
    pub target: Target,
}

fn target_of(range: &crate::media::MediaType) -> Option<Target> {
    let Some(kind) = range.param("as") else { return Some(Target::Object) };
    if range.param("g") != Some("meta.k8s.io") {
        return None;
    }
    let version = MetaVersion::parse(range.param("v")?)?;
    match kind {
        "Table" => Some(Target::Table(version)),
        "PartialObjectMetadata" => Some(Target::PartialObjectMetadata(version)),
        "PartialObjectMetadataList" => Some(Target::PartialObjectMetadataList(version)),
        _ => None,
    }
}

/// Chooses the response format and shape for a read (get, list, watch) from `Accept`.
/// `as=Table` and `as=PartialObjectMetadata[List]` (group `meta.k8s.io`) are served;
/// other `as=` ranges are skipped. Nothing acceptable is a 406.
pub fn negotiate_response(accept: Option<&str>, streaming: bool) -> Result<Negotiated, ApiError> {
    let supported = if streaming { SUPPORTED_STREAM_TYPES } else { SUPPORTED_RESPONSE_TYPES };
    let Some(raw) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Negotiated { format: Format::Json, target: Target::Object });
    };
    let ranges = parse_accept(raw).map_err(|_| ApiError::not_acceptable(supported))?;
    for range in &ranges {
        let Some(target) = target_of(range) else { continue };
        for candidate in supported {
            if range.matches(candidate) {
                let format = if *candidate == YAML { Format::Yaml } else { Format::Json };
                return Ok(Negotiated { format, target });
            }
        }
    }
    Err(ApiError::not_acceptable(supported))
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
    fn table_and_metadata_views() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate_response(Some(kubectl), false).unwrap().target, Target::Table(MetaVersion::V1));
        assert_eq!(negotiate_response(Some(kubectl), true).unwrap().target, Target::Table(MetaVersion::V1));
        let meta = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        assert_eq!(
            negotiate_response(Some(meta), false).unwrap().target,
            Target::PartialObjectMetadataList(MetaVersion::V1)
        );
        // Unknown views are skipped in favour of a plain type; alone they are a 406.
        let unknown = "application/json;as=Nope;g=meta.k8s.io;v=v1,application/yaml";
        assert_eq!(
            negotiate_response(Some(unknown), false).unwrap(),
            Negotiated { format: Format::Yaml, target: Target::Object }
        );
        assert_eq!(
            negotiate_response(Some("application/json;as=Table;g=other.io;v=v1"), false).unwrap_err().code,
            406
        );
        assert_eq!(
            Target::Table(MetaVersion::V1).content_type(Format::Json),
            "application/json;as=Table;v=v1;g=meta.k8s.io"
        );
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
