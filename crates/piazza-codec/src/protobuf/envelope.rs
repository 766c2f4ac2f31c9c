//! The envelope every protobuf body is: the magic `k8s\0`, then a `runtime.Unknown` whose
//! `typeMeta` names the object's `apiVersion` and `kind` and whose `raw` holds the object's
//! own message. `contentEncoding` and `contentType` are written empty, as upstream does.

use piazza_core::ApiError;

use super::message::Protobuf;
use super::meta::Unknown;
use super::wire::{DecodeError, put_bytes, put_nested};
use crate::object::TypeMeta;

/// The four bytes every protobuf body starts with.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// Encodes `value` with its type metadata as a complete protobuf body.
pub fn encode_object<T: Protobuf>(value: &T, type_meta: &TypeMeta) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(&MAGIC);
    put_type_meta(&mut buf, type_meta);
    put_nested(&mut buf, 2, |b| value.encode_fields(b));
    put_empty_content_fields(&mut buf);
    buf
}

/// Wraps an already-encoded message as a complete protobuf body.
pub fn encode_raw(raw: &[u8], type_meta: &TypeMeta) -> Vec<u8> {
    let mut buf = Vec::with_capacity(raw.len() + type_meta.api_version.len() + type_meta.kind.len() + 24);
    buf.extend_from_slice(&MAGIC);
    put_type_meta(&mut buf, type_meta);
    put_bytes(&mut buf, 2, raw);
    put_empty_content_fields(&mut buf);
    buf
}

fn put_type_meta(buf: &mut Vec<u8>, type_meta: &TypeMeta) {
    put_nested(buf, 1, |b| {
        put_bytes(b, 1, type_meta.api_version.as_bytes());
        put_bytes(b, 2, type_meta.kind.as_bytes());
    });
}

fn put_empty_content_fields(buf: &mut Vec<u8>) {
    put_bytes(buf, 3, b"");
    put_bytes(buf, 4, b"");
}

/// Whether `body` starts with the protobuf magic.
pub fn is_protobuf(body: &[u8]) -> bool {
    body.starts_with(&MAGIC)
}

/// Reads the envelope of a protobuf body. Every malformed body is a 400 with upstream's
/// message (`empty data`, `provided data does not appear to be a protobuf message, expected
/// prefix [107 56 115 0]`, `empty body`, or the message decoder's); a body whose `raw` is
/// compressed or not protobuf is a 415.
pub fn decode_envelope(body: &[u8]) -> Result<Unknown, ApiError> {
    let unknown = read_unknown(body).map_err(decode_error)?;
    if !unknown.content_encoding.is_empty() {
        return Err(unsupported(&format!("content encoding {:?}", unknown.content_encoding)));
    }
    if !unknown.content_type.is_empty() && unknown.content_type != crate::PROTOBUF {
        return Err(unsupported(&format!("content type {:?}", unknown.content_type)));
    }
    Ok(unknown)
}

fn read_unknown(body: &[u8]) -> Result<Unknown, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::new("empty data"));
    }
    if !is_protobuf(body) {
        return Err(DecodeError::new(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]",
        ));
    }
    if body.len() == MAGIC.len() {
        return Err(DecodeError::new("empty body"));
    }
    Unknown::decode(&body[MAGIC.len()..])
}

/// Decodes a protobuf body into `T`, returning the type metadata it carried (which the
/// caller checks, as for JSON).
pub fn decode_object<T: Protobuf>(body: &[u8]) -> Result<(T, TypeMeta), ApiError> {
    let unknown = decode_envelope(body)?;
    let value = T::decode(&unknown.raw.0).map_err(decode_error)?;
    let type_meta = TypeMeta { api_version: unknown.type_meta.api_version, kind: unknown.type_meta.kind };
    Ok((value, type_meta))
}

/// Decodes a protobuf body into `T` and checks that it names `expected`: a different
/// `apiVersion` or `kind` is a 400. An empty `apiVersion` or `kind` takes the expected one,
/// as upstream's decoder defaults them.
pub fn decode_object_as<T: Protobuf>(body: &[u8], expected: &TypeMeta) -> Result<T, ApiError> {
    let (value, actual) = decode_object::<T>(body)?;
    if !actual.api_version.is_empty() && actual.api_version != expected.api_version {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            actual.api_version, expected.api_version
        )));
    }
    if !actual.kind.is_empty() && actual.kind != expected.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({}) does not match the expected kind ({})",
            actual.kind, expected.kind
        )));
    }
    Ok(value)
}

fn decode_error(err: DecodeError) -> ApiError {
    ApiError::bad_request(format!("error decoding request body: {err}"))
}

fn unsupported(what: &str) -> ApiError {
    let mut err = ApiError::unsupported_media_type(&[crate::PROTOBUF]);
    err.message = format!("{} ({what} is not supported)", err.message);
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protobuf::Bytes;
    use piazza_core::meta::ObjectMeta;

    fn tm() -> TypeMeta {
        TypeMeta { api_version: "v1".into(), kind: "ObjectMeta".into() }
    }

    fn body(unknown: &Unknown) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend(unknown.encode_to_vec());
        b
    }

    #[test]
    fn layout_matches_upstream() {
        let meta = ObjectMeta { name: Some("a".into()), ..Default::default() };
        let bytes = encode_object(&meta, &tm());
        let mut expected = b"k8s\0".to_vec();
        expected.extend([0x0a, 16, 0x0a, 2, b'v', b'1', 0x12, 10]);
        expected.extend(b"ObjectMeta");
        expected.extend([0x12, 3, 0x0a, 1, b'a', 0x1a, 0, 0x22, 0]);
        assert_eq!(bytes, expected);
        assert_eq!(encode_raw(&meta.encode_to_vec(), &tm()), expected);
        assert_eq!(body(&decode_envelope(&bytes).unwrap()), expected);
        let (decoded, type_meta) = decode_object::<ObjectMeta>(&bytes).unwrap();
        assert_eq!((decoded, type_meta), (meta, tm()));
    }

    #[test]
    fn hostile_bodies_are_400_with_clear_messages() {
        let cases: Vec<(&[u8], &str)> = vec![
            (b"", "empty data"),
            (
                b"k8s",
                "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]",
            ),
            (b"{\"kind\":\"Pizza\"}", "provided data does not appear to be a protobuf message"),
            (b"k8s\0", "empty body"),
            // typeMeta with a length past the end.
            (b"k8s\0\x0a\x05\x0a", "unexpected EOF"),
            // a truncated varint key.
            (b"k8s\0\x80", "unexpected EOF"),
            // raw with huge length prefixes.
            (b"k8s\0\x12\xff\xff\xff\xff\xff\xff\xff\xff\x7f", "unexpected EOF"),
            (b"k8s\0\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "negative length"),
            (b"k8s\0\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "proto: integer overflow"),
            // typeMeta sent as a varint.
            (b"k8s\0\x08\x01", "proto: wrong wireType = 0 for field typeMeta"),
            // field number 0.
            (b"k8s\0\x00", "proto: Unknown: illegal tag 0"),
        ];
        for (body, message) in cases {
            let err = decode_envelope(body).unwrap_err();
            assert_eq!(err.code, 400, "{body:?}");
            assert!(err.message.contains(message), "{body:?}: {}", err.message);
            assert!(err.message.starts_with("error decoding request body: "), "{}", err.message);
        }
    }

    #[test]
    fn garbage_in_raw_is_400() {
        let unknown = Unknown { raw: Bytes(vec![0x0a, 0x7f]), ..Default::default() };
        let err = decode_object::<ObjectMeta>(&body(&unknown)).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (400, "error decoding request body: unexpected EOF"));
        let invalid_utf8 = Unknown { raw: Bytes(vec![0x0a, 1, 0xff]), ..Default::default() };
        let err = decode_object::<ObjectMeta>(&body(&invalid_utf8)).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("invalid UTF-8 in string field name"), "{}", err.message);
    }

    #[test]
    fn compressed_or_foreign_raw_is_415() {
        for (encoding, content_type) in [("gzip", ""), ("", "application/json")] {
            let unknown = Unknown {
                content_encoding: encoding.into(),
                content_type: content_type.into(),
                ..Default::default()
            };
            let err = decode_envelope(&body(&unknown)).unwrap_err();
            assert_eq!(err.code, 415, "{encoding:?} {content_type:?}");
            assert!(err.message.contains("is not supported"), "{}", err.message);
        }
        let explicit = Unknown { content_type: crate::PROTOBUF.into(), ..Default::default() };
        assert!(decode_envelope(&body(&explicit)).is_ok());
    }

    #[test]
    fn wrong_type_meta_is_400() {
        let other_version = TypeMeta { api_version: "v2".into(), kind: "ObjectMeta".into() };
        let err =
            decode_object_as::<ObjectMeta>(&encode_object(&ObjectMeta::default(), &other_version), &tm())
                .unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "the API version in the data (v2) does not match the expected API version (v1)"
        );
        let other_kind = TypeMeta { api_version: "v1".into(), kind: "Other".into() };
        let err = decode_object_as::<ObjectMeta>(&encode_object(&ObjectMeta::default(), &other_kind), &tm())
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (400, "the kind in the data (Other) does not match the expected kind (ObjectMeta)")
        );
        let unnamed = Unknown::default();
        assert_eq!(decode_object_as::<ObjectMeta>(&body(&unnamed), &tm()).unwrap(), ObjectMeta::default());
    }
}
