//! Questions answered from a protobuf body's bytes without decoding the object.
//!
//! The graceful-deletion reaper looks at every stored write to see whether it is an object
//! waiting to be deleted; on protobuf storage, decoding each one just to read
//! `metadata.deletionTimestamp` cost a full decode per write. [`may_have_deletion_timestamp`]
//! walks the envelope and the object's top-level fields instead, allocation-free.

use super::envelope::MAGIC;
use super::wire::{Reader, WireType};

/// `runtime.Unknown.raw`.
const UNKNOWN_RAW: u32 = 2;
/// `runtime.Unknown.contentEncoding`.
const UNKNOWN_CONTENT_ENCODING: u32 = 3;
/// `ObjectMeta.deletionTimestamp`.
const OBJECT_META_DELETION_TIMESTAMP: u32 = 9;

/// Whether the object in the protobuf body `body` may carry `metadata.deletionTimestamp`.
///
/// `false` is certain: no top-level field of the object's message is a message with a
/// `deletionTimestamp` field, so its metadata (whatever field number it has) has none.
/// `true` means "decode and look": some top-level message has a field 9 that is length
/// delimited (the metadata's timestamp, or a look-alike elsewhere in the object), or the body
/// could not be walked (not protobuf, truncated, compressed), in which case the caller's
/// decode reports what is wrong.
pub fn may_have_deletion_timestamp(body: &[u8]) -> bool {
    let Some(envelope) = body.strip_prefix(&MAGIC) else { return true };
    match object_bytes(envelope) {
        Some(raw) => any_field_has_deletion_timestamp(raw).unwrap_or(true),
        None => true,
    }
}

/// `raw` of an uncompressed envelope; `None` when the envelope cannot be walked or says its
/// object is compressed.
fn object_bytes(envelope: &[u8]) -> Option<&[u8]> {
    let mut reader = Reader::new(envelope);
    let mut raw = None;
    while !reader.is_empty() {
        let (tag, wire) = reader.key_in(String::new).ok()?;
        match (tag, wire) {
            (UNKNOWN_RAW, WireType::Len) => raw = Some(reader.len_delimited().ok()?),
            (UNKNOWN_CONTENT_ENCODING, WireType::Len) => {
                if !reader.len_delimited().ok()?.is_empty() {
                    return None;
                }
            }
            _ => reader.skip(wire).ok()?,
        }
    }
    raw
}

/// Whether some length-delimited top-level field of `message` is itself a message with a
/// length-delimited field 9. `None` when `message` cannot be walked.
fn any_field_has_deletion_timestamp(message: &[u8]) -> Option<bool> {
    let mut reader = Reader::new(message);
    while !reader.is_empty() {
        let (_, wire) = reader.key_in(String::new).ok()?;
        if wire != WireType::Len {
            reader.skip(wire).ok()?;
            continue;
        }
        let field = reader.len_delimited().ok()?;
        // A field that is not a well-formed message (a string, bytes, packed numbers) cannot
        // be the metadata, so a failed walk only means "not this one".
        if has_len_field(field, OBJECT_META_DELETION_TIMESTAMP) == Some(true) {
            return Some(true);
        }
    }
    Some(false)
}

/// Whether the message `bytes` has a length-delimited field `wanted` at its top level; `None`
/// when `bytes` is not a well-formed message.
fn has_len_field(bytes: &[u8], wanted: u32) -> Option<bool> {
    let mut reader = Reader::new(bytes);
    let mut found = false;
    while !reader.is_empty() {
        let (tag, wire) = reader.key_in(String::new).ok()?;
        found |= tag == wanted && wire == WireType::Len;
        reader.skip(wire).ok()?;
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use piazza_core::meta::{ObjectMeta, Time};

    use super::*;
    use crate::object::TypeMeta;
    use crate::protobuf::encode_raw;
    use crate::protobuf::message::Protobuf;
    use crate::protobuf::wire::{put_bytes, put_nested};

    fn type_meta() -> TypeMeta {
        TypeMeta { api_version: "example.com/v1".into(), kind: "Thing".into() }
    }

    fn meta(deleted: bool) -> ObjectMeta {
        ObjectMeta {
            name: Some("a".into()),
            namespace: Some("ns".into()),
            finalizers: Some(vec!["keep".into()]),
            deletion_timestamp: deleted.then(|| Time("2026-11-26T08:00:00Z".parse().unwrap())),
            deletion_grace_period_seconds: deleted.then_some(30),
            ..Default::default()
        }
    }

    /// An object message with its metadata at field `tag` and a spec (field `tag + 1`) holding
    /// a string and a number.
    fn object(tag: u32, meta: &ObjectMeta) -> Vec<u8> {
        let mut raw = Vec::new();
        put_nested(&mut raw, tag, |b| meta.encode_fields(b));
        put_nested(&mut raw, tag + 1, |b| {
            put_bytes(b, 1, b"pepperoni");
            b.extend([0x10, 8]);
        });
        encode_raw(&raw, &type_meta())
    }

    #[test]
    fn finds_the_deletion_timestamp_wherever_the_metadata_is() {
        for tag in [1, 2, 7, 100] {
            assert!(may_have_deletion_timestamp(&object(tag, &meta(true))), "metadata at {tag}");
            assert!(!may_have_deletion_timestamp(&object(tag, &meta(false))), "metadata at {tag}");
        }
        // The metadata alone as the object (ObjectMeta's own fields at the top level) has no
        // nested deletion timestamp message to find; its creation timestamp is not one.
        let created = ObjectMeta { creation_timestamp: meta(true).deletion_timestamp, ..meta(false) };
        assert!(!may_have_deletion_timestamp(&object(1, &created)));
    }

    #[test]
    fn a_look_alike_elsewhere_only_costs_a_decode() {
        let mut raw = Vec::new();
        put_nested(&mut raw, 1, |b| meta(false).encode_fields(b));
        put_nested(&mut raw, 2, |b| put_bytes(b, OBJECT_META_DELETION_TIMESTAMP, b"not a time"));
        assert!(may_have_deletion_timestamp(&encode_raw(&raw, &type_meta())));
    }

    #[test]
    fn bodies_that_cannot_be_walked_are_left_to_the_decoder() {
        let good = object(1, &meta(false));
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("magic only", MAGIC.to_vec()),
            ("JSON", br#"{"metadata":{}}"#.to_vec()),
            ("truncated", good[..good.len() - 3].to_vec()),
            ("length past the end", [MAGIC.as_slice(), &[0x12, 0x7f, 0x0a]].concat()),
            ("group wire type", [MAGIC.as_slice(), &[0x13]].concat()),
            ("overlong varint", [MAGIC.as_slice(), &[0x12], &[0xff; 11]].concat()),
        ];
        for (name, body) in cases {
            assert!(may_have_deletion_timestamp(&body), "{name}");
        }
    }

    #[test]
    fn compressed_objects_are_left_to_the_decoder() {
        let mut envelope = MAGIC.to_vec();
        put_bytes(&mut envelope, UNKNOWN_RAW, b"\x1f\x8b compressed");
        put_bytes(&mut envelope, UNKNOWN_CONTENT_ENCODING, b"gzip");
        assert!(may_have_deletion_timestamp(&envelope));
    }
}
