//! Content negotiation: which format a request body is in, and which format to answer in.

use piazza_core::ApiError;

use crate::media::{MediaType, parse_accept};
use crate::{JSON, PROTOBUF, YAML};

/// A serialization format Piazza can produce and consume for objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/yaml`.
    Yaml,
    /// `application/vnd.kubernetes.protobuf`.
    Protobuf,
}

impl Format {
    /// The media type sent in `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => JSON,
            Self::Yaml => YAML,
            Self::Protobuf => PROTOBUF,
        }
    }

    /// The `Content-Type` of a watch stream in this format: JSON streams say
    /// `application/json`, protobuf ones add `;stream=watch`, as upstream.
    pub fn stream_content_type(self) -> &'static str {
        match self {
            Self::Protobuf => crate::protobuf::WATCH_MEDIA_TYPE,
            other => other.content_type(),
        }
    }

    /// The format named by a media type's `type/subtype`.
    pub fn from_essence(essence: &str) -> Option<Self> {
        match essence {
            JSON => Some(Self::Json),
            YAML => Some(Self::Yaml),
            PROTOBUF => Some(Self::Protobuf),
            _ => None,
        }
    }
}

/// Which formats a resource can be served in: JSON and YAML always, protobuf when every
/// served version declares it (`#[resource(..., protobuf)]`), as built-in kinds upstream
/// do and CustomResources do not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Formats {
    /// Protobuf bodies can be read and written.
    pub protobuf: bool,
}

impl Formats {
    /// JSON and YAML only.
    pub const JSON_YAML: Self = Self { protobuf: false };
    /// JSON, YAML and protobuf.
    pub const ALL: Self = Self { protobuf: true };

    /// The media types accepted in request bodies and answered with for objects.
    pub fn media_types(self) -> &'static [&'static str] {
        if self.protobuf { &[JSON, YAML, PROTOBUF] } else { &[JSON, YAML] }
    }

    /// The media types watch events can be streamed in (YAML has no stream framing).
    pub fn stream_media_types(self) -> &'static [&'static str] {
        if self.protobuf { &[JSON, PROTOBUF] } else { &[JSON] }
    }

    fn allows(self, format: Format) -> bool {
        format != Format::Protobuf || self.protobuf
    }
}

/// Chooses the format of a request body from its `Content-Type`. A missing header means
/// JSON, as upstream; anything the resource cannot read is a 415 listing what it can.
pub fn negotiate_request_format(content_type: Option<&str>, formats: Formats) -> Result<Format, ApiError> {
    let Some(raw) = content_type.filter(|c| !c.trim().is_empty()) else { return Ok(Format::Json) };
    let unsupported = || ApiError::unsupported_media_type(formats.media_types());
    let media = MediaType::parse(raw).map_err(|_| unsupported())?;
    Format::from_essence(&media.essence()).filter(|f| formats.allows(*f)).ok_or_else(unsupported)
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
    /// Whether this shape can be written in `format`: upstream's `Table` has no protobuf
    /// message; objects and `PartialObjectMetadata[List]` do.
    pub fn supports(self, format: Format) -> bool {
        format != Format::Protobuf || !matches!(self, Self::Table(_))
    }

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

/// Chooses the response format and shape for a read (get, list, watch) from `Accept`: the
/// first range, by quality then order, that names a shape and format the resource can
/// produce (`application/vnd.kubernetes.protobuf, application/json` gets JSON from a
/// resource without protobuf). `as=Table` and `as=PartialObjectMetadata[List]` (group
/// `meta.k8s.io`) are served; other `as=` ranges are skipped. Nothing acceptable is a 406.
pub fn negotiate_response(
    accept: Option<&str>,
    streaming: bool,
    formats: Formats,
) -> Result<Negotiated, ApiError> {
    negotiate(accept, streaming, formats, true)
}

/// Chooses the response format from an `Accept` header, for answers that are always the
/// object itself (writes, errors). Ranges asking for a transformed shape (`as=Table`, …)
/// are skipped; an acceptable plain type later in the list still wins. Nothing acceptable
/// is a 406.
pub fn negotiate_response_format(
    accept: Option<&str>,
    streaming: bool,
    formats: Formats,
) -> Result<Format, ApiError> {
    negotiate(accept, streaming, formats, false).map(|n| n.format)
}

/// The first acceptable range's shape and format; `views` allows `as=` shapes.
fn negotiate(
    accept: Option<&str>,
    streaming: bool,
    formats: Formats,
    views: bool,
) -> Result<Negotiated, ApiError> {
    let supported = if streaming { formats.stream_media_types() } else { formats.media_types() };
    let Some(raw) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Negotiated { format: Format::Json, target: Target::Object });
    };
    let ranges = parse_accept(raw).map_err(|_| ApiError::not_acceptable(supported))?;
    for range in &ranges {
        let target =
            if views { target_of(range) } else { range.param("as").is_none().then_some(Target::Object) };
        let Some(target) = target else { continue };
        let chosen = supported
            .iter()
            .filter(|candidate| range.matches(candidate))
            .filter_map(|candidate| Format::from_essence(candidate))
            .find(|format| target.supports(*format));
        if let Some(format) = chosen {
            return Ok(Negotiated { format, target });
        }
    }
    Err(ApiError::not_acceptable(supported))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_defaults_to_json_and_rejects_unknown() {
        let plain = Formats::JSON_YAML;
        assert_eq!(negotiate_request_format(None, plain).unwrap(), Format::Json);
        assert_eq!(negotiate_request_format(Some("application/yaml"), plain).unwrap(), Format::Yaml);
        assert_eq!(
            negotiate_request_format(Some("application/json; charset=utf-8"), plain).unwrap(),
            Format::Json
        );
        let err = negotiate_request_format(Some("text/plain"), plain).unwrap_err();
        assert_eq!(err.code, 415);
        assert_eq!(negotiate_request_format(Some("garbage"), plain).unwrap_err().code, 415);
        // protobuf only where the resource reads it; the 415 lists what it does read
        let err = negotiate_request_format(Some(PROTOBUF), plain).unwrap_err();
        assert_eq!(err.code, 415);
        assert!(err.message.ends_with("application/json, application/yaml"), "{}", err.message);
        assert_eq!(negotiate_request_format(Some(PROTOBUF), Formats::ALL).unwrap(), Format::Protobuf);
    }

    #[test]
    fn table_and_metadata_views() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            negotiate_response(Some(kubectl), false, Formats::ALL).unwrap().target,
            Target::Table(MetaVersion::V1)
        );
        assert_eq!(
            negotiate_response(Some(kubectl), true, Formats::ALL).unwrap().target,
            Target::Table(MetaVersion::V1)
        );
        let meta = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        assert_eq!(
            negotiate_response(Some(meta), false, Formats::ALL).unwrap().target,
            Target::PartialObjectMetadataList(MetaVersion::V1)
        );
        // Unknown views are skipped in favour of a plain type; alone they are a 406.
        let unknown = "application/json;as=Nope;g=meta.k8s.io;v=v1,application/yaml";
        assert_eq!(
            negotiate_response(Some(unknown), false, Formats::ALL).unwrap(),
            Negotiated { format: Format::Yaml, target: Target::Object }
        );
        assert_eq!(
            negotiate_response(Some("application/json;as=Table;g=other.io;v=v1"), false, Formats::ALL)
                .unwrap_err()
                .code,
            406
        );
        assert_eq!(
            Target::Table(MetaVersion::V1).content_type(Format::Json),
            "application/json;as=Table;v=v1;g=meta.k8s.io"
        );
    }

    #[test]
    fn protobuf_negotiation() {
        let client_go = "application/vnd.kubernetes.protobuf, application/json";
        let all = Formats::ALL;
        let plain = Formats::JSON_YAML;
        // a resource with protobuf answers in it; one without falls back to JSON
        assert_eq!(negotiate_response(Some(client_go), false, all).unwrap().format, Format::Protobuf);
        assert_eq!(negotiate_response(Some(client_go), false, plain).unwrap().format, Format::Json);
        assert_eq!(negotiate_response(Some(client_go), true, all).unwrap().format, Format::Protobuf);
        assert_eq!(negotiate_response_format(Some(client_go), false, all).unwrap(), Format::Protobuf);
        assert_eq!(negotiate_response_format(Some(client_go), false, plain).unwrap(), Format::Json);
        // protobuf alone from a resource without it: 406 listing what it has
        let err = negotiate_response(Some(PROTOBUF), false, plain).unwrap_err();
        assert_eq!(err.code, 406);
        assert!(err.message.ends_with("application/json, application/yaml"), "{}", err.message);
        // Table has no protobuf message; PartialObjectMetadata has
        let table = "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io";
        assert_eq!(negotiate_response(Some(table), false, all).unwrap_err().code, 406);
        let table_or_json = format!("{table}, application/json;as=Table;v=v1;g=meta.k8s.io");
        assert_eq!(
            negotiate_response(Some(&table_or_json), false, all).unwrap(),
            Negotiated { format: Format::Json, target: Target::Table(MetaVersion::V1) }
        );
        let meta = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io";
        assert_eq!(negotiate_response(Some(meta), false, all).unwrap().format, Format::Protobuf);
        // wildcards prefer JSON; YAML cannot stream
        assert_eq!(negotiate_response(Some("*/*"), false, all).unwrap().format, Format::Json);
        assert_eq!(negotiate_response(Some("application/yaml"), true, all).unwrap_err().code, 406);
        assert_eq!(
            Format::Protobuf.stream_content_type(),
            "application/vnd.kubernetes.protobuf;stream=watch"
        );
        assert_eq!(Format::Json.stream_content_type(), "application/json");
    }

    #[test]
    fn response_negotiation() {
        assert_eq!(negotiate_response_format(None, false, Formats::JSON_YAML).unwrap(), Format::Json);
        assert_eq!(negotiate_response_format(Some("*/*"), false, Formats::JSON_YAML).unwrap(), Format::Json);
        assert_eq!(
            negotiate_response_format(Some("application/yaml"), false, Formats::JSON_YAML).unwrap(),
            Format::Yaml
        );
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate_response_format(Some(table), false, Formats::JSON_YAML).unwrap(), Format::Json);
        assert_eq!(
            negotiate_response_format(Some("text/html"), false, Formats::JSON_YAML).unwrap_err().code,
            406
        );
        assert_eq!(
            negotiate_response_format(Some("application/yaml"), true, Formats::JSON_YAML).unwrap_err().code,
            406
        );
        assert_eq!(
            negotiate_response_format(
                Some("application/json;as=Table;g=meta.k8s.io;v=v1"),
                false,
                Formats::JSON_YAML
            )
            .unwrap_err()
            .code,
            406
        );
    }
}
