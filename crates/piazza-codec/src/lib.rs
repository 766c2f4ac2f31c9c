//! Piazza's codecs.
//!
//! - [`media`]: parsing `Content-Type` and `Accept` headers.
//! - [`negotiate`]: choosing the response [`Format`] and the request body's format.
//! - [`object`]: encoding and decoding objects with their `apiVersion` and `kind`.
//! - [`watch`]: framing watch events.
//! - [`protobuf`]: Kubernetes' protobuf wire format and the `.proto` export.

pub mod duplicates;
pub mod media;
pub mod negotiate;
pub mod object;
pub mod protobuf;
pub mod strict;
pub mod watch;
pub mod yaml_limits;

pub use negotiate::{
    Format, Formats, MetaVersion, Negotiated, Target, negotiate_request_format, negotiate_response,
    negotiate_response_format,
};
pub use object::{TypeMeta, decode_object, encode_object, encode_status, encode_value};
pub use strict::{FieldValidation, decode_validated};

/// `application/json`.
pub const JSON: &str = "application/json";
/// `application/yaml`.
pub const YAML: &str = "application/yaml";
/// `application/vnd.kubernetes.protobuf`.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
