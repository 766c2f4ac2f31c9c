//! Encoding and decoding objects together with their `apiVersion` and `kind`.
//!
//! Author types carry no type metadata fields; the codec writes `apiVersion` and `kind`
//! first on encode and checks them on decode.

use piazza_core::ApiError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Format;

/// The `apiVersion` and `kind` of an encoded object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct TypeMeta {
    /// `group/version`.
    #[serde(rename = "apiVersion", default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// The kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// Encodes `value` as `format`, with `apiVersion` and `kind` written first.
pub fn encode_object<T: Serialize>(
    value: &T,
    type_meta: &TypeMeta,
    format: Format,
) -> Result<Vec<u8>, ApiError> {
    let json = json_with_type_meta(value, type_meta)?;
    match format {
        Format::Json => Ok(json),
        Format::Yaml => json_to_yaml(&json),
        Format::Protobuf => Err(no_protobuf_message()),
    }
}

/// The error for a protobuf encode or decode of a type with no protobuf message: callers
/// negotiate protobuf only for types that have one, so reaching this is a server bug.
fn no_protobuf_message() -> ApiError {
    ApiError::internal("this type has no protobuf message")
}

/// Encodes a `metav1.Status` in `format`; in protobuf it is the envelope with
/// `apiVersion: v1, kind: Status`, as upstream.
pub fn encode_status(status: &piazza_core::meta::Status, format: Format) -> Result<Vec<u8>, ApiError> {
    match format {
        Format::Protobuf => {
            let type_meta = TypeMeta { api_version: "v1".to_owned(), kind: "Status".to_owned() };
            Ok(crate::protobuf::encode_object(status, &type_meta))
        }
        other => encode_value(status, other),
    }
}

/// Encodes a value that already carries its own type metadata (Status, lists, discovery).
pub fn encode_value<T: Serialize>(value: &T, format: Format) -> Result<Vec<u8>, ApiError> {
    match format {
        Format::Json => serde_json::to_vec(value).map_err(ApiError::internal),
        Format::Yaml => serde_yaml_ng::to_string(value).map(String::into_bytes).map_err(ApiError::internal),
        Format::Protobuf => Err(no_protobuf_message()),
    }
}

/// Re-encodes JSON bytes as YAML.
pub fn json_to_yaml(json: &[u8]) -> Result<Vec<u8>, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(json).map_err(ApiError::internal)?;
    serde_yaml_ng::to_string(&value).map(String::into_bytes).map_err(ApiError::internal)
}

/// `value` as a JSON object with `"apiVersion":…,"kind":…` first. The value is written
/// right after the type metadata in the same buffer, and its opening brace turned into the
/// separator, so the object is never copied.
fn json_with_type_meta<T: Serialize>(value: &T, type_meta: &TypeMeta) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(512);
    serde_json::to_writer(&mut out, type_meta).map_err(ApiError::internal)?;
    out.pop(); // the type metadata's closing brace
    let head = out.len();
    serde_json::to_writer(&mut out, value).map_err(ApiError::internal)?;
    if out.get(head) != Some(&b'{') {
        return Err(ApiError::internal("object did not encode as a JSON object"));
    }
    let value_is_empty = out.len() - head == 2; // `{}`
    match (head > 1, value_is_empty) {
        // `{"apiVersion":…,"kind":…` + `{…}` → `{"apiVersion":…,"kind":…,…}`
        (true, false) => out[head] = b',',
        // `{"apiVersion":…,"kind":…` + `{}` → `{"apiVersion":…,"kind":…}`
        (true, true) => {
            out.truncate(head);
            out.push(b'}');
        }
        // No type metadata: `{` + `{…}` → `{…}`
        (false, _) => {
            out.remove(head);
        }
    }
    Ok(out)
}

/// Decodes a request or stored body in `format` into `T`, returning the type metadata it
/// carried. Malformed input is a 400 with the decoder's message.
pub fn decode_object<T: DeserializeOwned>(body: &[u8], format: Format) -> Result<(T, TypeMeta), ApiError> {
    match format {
        Format::Json => {
            let type_meta: TypeMeta = serde_json::from_slice(body).map_err(decode_error)?;
            let value = serde_json::from_slice(body).map_err(decode_error)?;
            Ok((value, type_meta))
        }
        Format::Yaml => {
            crate::yaml_limits::check_yaml_limits(body)?;
            let type_meta: TypeMeta = serde_yaml_ng::from_slice(body).map_err(decode_error)?;
            let value = serde_yaml_ng::from_slice(body).map_err(decode_error)?;
            Ok((value, type_meta))
        }
        Format::Protobuf => Err(ApiError::unsupported_media_type(&[crate::JSON, crate::YAML])),
    }
}

fn decode_error(err: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("error decoding request body: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_encodes_in_every_format() {
        let status = ApiError::not_found(&piazza_core::GroupResource::new("g.io", "pizzas"), "p").to_status();
        let json: serde_json::Value =
            serde_json::from_slice(&encode_status(&status, Format::Json).unwrap()).unwrap();
        assert_eq!(json["reason"], "NotFound");
        let proto = encode_status(&status, Format::Protobuf).unwrap();
        let (decoded, type_meta): (piazza_core::meta::Status, _) =
            crate::protobuf::decode_object(&proto).unwrap();
        assert_eq!((type_meta.api_version.as_str(), type_meta.kind.as_str()), ("v1", "Status"));
        assert_eq!(decoded, status);
        assert_eq!(encode_value(&status, Format::Protobuf).unwrap_err().code, 500);
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        spec: u32,
    }

    fn tm() -> TypeMeta {
        TypeMeta { api_version: "g.io/v1".into(), kind: "Thing".into() }
    }

    #[test]
    fn type_meta_comes_first() {
        let bytes = encode_object(&Thing { spec: 3 }, &tm(), Format::Json).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"apiVersion":"g.io/v1","kind":"Thing","spec":3}"#
        );
    }

    #[test]
    fn empty_struct_still_valid_json() {
        #[derive(Serialize)]
        struct Empty {}
        let bytes = encode_object(&Empty {}, &tm(), Format::Json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["kind"], "Thing");
    }

    #[test]
    fn absent_type_metadata_leaves_the_object_as_it_is() {
        #[derive(Serialize)]
        struct Empty {}
        let none = TypeMeta::default();
        let kind_only = TypeMeta { api_version: String::new(), kind: "Thing".into() };
        let json = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
        assert_eq!(json(encode_object(&Thing { spec: 3 }, &none, Format::Json).unwrap()), r#"{"spec":3}"#);
        assert_eq!(json(encode_object(&Empty {}, &none, Format::Json).unwrap()), "{}");
        assert_eq!(
            json(encode_object(&Empty {}, &tm(), Format::Json).unwrap()),
            r#"{"apiVersion":"g.io/v1","kind":"Thing"}"#
        );
        assert_eq!(
            json(encode_object(&Thing { spec: 3 }, &kind_only, Format::Json).unwrap()),
            r#"{"kind":"Thing","spec":3}"#
        );
        // Not an object: refused, as no type metadata can be added to it.
        assert_eq!(encode_object(&[1, 2], &tm(), Format::Json).unwrap_err().code, 500);
        assert_eq!(encode_object(&"text", &none, Format::Json).unwrap_err().code, 500);
    }

    #[test]
    fn yaml_round_trip() {
        let bytes = encode_object(&Thing { spec: 3 }, &tm(), Format::Yaml).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("apiVersion: g.io/v1"));
        let (thing, meta): (Thing, _) = decode_object(&bytes, Format::Yaml).unwrap();
        assert_eq!(thing, Thing { spec: 3 });
        assert_eq!(meta, tm());
    }

    #[test]
    fn hostile_bodies_are_400() {
        for body in [&b""[..], b"{", b"[]", b"null", b"{\"spec\":\"x\"}", b"\xff\xfe", b"{\"spec\":1e999}"] {
            let err = decode_object::<Thing>(body, Format::Json).unwrap_err();
            assert_eq!(err.code, 400, "{body:?}");
        }
        let err = decode_object::<Thing>(b"spec: [", Format::Yaml).unwrap_err();
        assert_eq!(err.code, 400);
        // deeply nested input must not overflow the stack
        let deep = "[".repeat(100_000);
        assert_eq!(decode_object::<Thing>(deep.as_bytes(), Format::Json).unwrap_err().code, 400);
    }
}
