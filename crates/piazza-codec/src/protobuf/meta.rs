//! The apimachinery messages (`k8s.io.apimachinery.pkg.apis.meta.v1` and
//! `k8s.io.apimachinery.pkg.runtime`) with upstream's field numbers, implemented for the
//! `k8s-openapi` types Piazza already uses, so nothing is converted on encode or decode.
//!
//! `Time` is `{seconds = 1, nanos = 2}`; `FieldsV1` is `{Raw = 1}` holding the JSON bytes.

use piazza_core::k8s_openapi::jiff::Timestamp;
use piazza_core::meta::{
    DeleteOptions, FieldsV1, ListMeta, ManagedFieldsEntry, ObjectMeta, OwnerReference, Preconditions, Status,
    StatusCause, StatusDetails, Time,
};

use super::message::{Bytes, ProtoField};
use super::schema::{Label, Schema};
use super::wire::{DecodeError, Reader, WireType};

/// The protobuf package of the meta types.
pub const META_PACKAGE: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";
/// The path other `.proto` files import the meta types by.
pub const META_FILE: &str = "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto";
/// The protobuf package of `runtime.Unknown`, `TypeMeta` and `RawExtension`.
pub const RUNTIME_PACKAGE: &str = "k8s.io.apimachinery.pkg.runtime";
/// The path other `.proto` files import the runtime types by.
pub const RUNTIME_FILE: &str = "k8s.io/apimachinery/pkg/runtime/generated.proto";

crate::__proto_message!(ObjectMeta, "ObjectMeta", Some(META_PACKAGE), {
    1 => name: "name",
    2 => generate_name: "generateName",
    3 => namespace: "namespace",
    4 => self_link: "selfLink",
    5 => uid: "uid",
    6 => resource_version: "resourceVersion",
    7 => generation: "generation",
    8 => creation_timestamp: "creationTimestamp",
    9 => deletion_timestamp: "deletionTimestamp",
    10 => deletion_grace_period_seconds: "deletionGracePeriodSeconds",
    11 => labels: "labels",
    12 => annotations: "annotations",
    13 => owner_references: "ownerReferences",
    14 => finalizers: "finalizers",
    17 => managed_fields: "managedFields",
});

crate::__proto_message!(OwnerReference, "OwnerReference", Some(META_PACKAGE), {
    1 => kind: "kind",
    3 => name: "name",
    4 => uid: "uid",
    5 => api_version: "apiVersion",
    6 => controller: "controller",
    7 => block_owner_deletion: "blockOwnerDeletion",
});

crate::__proto_message!(ManagedFieldsEntry, "ManagedFieldsEntry", Some(META_PACKAGE), {
    1 => manager: "manager",
    2 => operation: "operation",
    3 => api_version: "apiVersion",
    4 => time: "time",
    6 => fields_type: "fieldsType",
    7 => fields_v1: "fieldsV1",
    8 => subresource: "subresource",
});

crate::__proto_message!(ListMeta, "ListMeta", Some(META_PACKAGE), {
    1 => self_link: "selfLink",
    2 => resource_version: "resourceVersion",
    3 => continue_: "continue",
    4 => remaining_item_count: "remainingItemCount",
});

crate::__proto_message!(Status, "Status", Some(META_PACKAGE), {
    1 => metadata: "metadata",
    2 => status: "status",
    3 => message: "message",
    4 => reason: "reason",
    5 => details: "details",
    6 => code: "code",
});

crate::__proto_message!(StatusDetails, "StatusDetails", Some(META_PACKAGE), {
    1 => name: "name",
    2 => group: "group",
    3 => kind: "kind",
    4 => causes: "causes",
    5 => retry_after_seconds: "retryAfterSeconds",
    6 => uid: "uid",
});

crate::__proto_message!(StatusCause, "StatusCause", Some(META_PACKAGE), {
    1 => reason: "reason",
    2 => message: "message",
    3 => field: "field",
});

crate::__proto_message!(DeleteOptions, "DeleteOptions", Some(META_PACKAGE), {
    1 => grace_period_seconds: "gracePeriodSeconds",
    2 => preconditions: "preconditions",
    3 => orphan_dependents: "orphanDependents",
    4 => propagation_policy: "propagationPolicy",
    5 => dry_run: "dryRun",
    6 => ignore_store_read_error_with_cluster_breaking_potential: "ignoreStoreReadErrorWithClusterBreakingPotential",
});

crate::__proto_message!(Preconditions, "Preconditions", Some(META_PACKAGE), {
    1 => uid: "uid",
    2 => resource_version: "resourceVersion",
});

/// `metav1.PartialObjectMetadata`: an object's metadata only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartialObjectMetadata {
    /// The object's metadata.
    pub metadata: ObjectMeta,
}

crate::__proto_message!(PartialObjectMetadata, "PartialObjectMetadata", Some(META_PACKAGE), {
    1 => metadata: "metadata",
});

/// `metav1.PartialObjectMetadataList`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartialObjectMetadataList {
    /// The list's metadata.
    pub metadata: ListMeta,
    /// The items.
    pub items: Vec<PartialObjectMetadata>,
}

crate::__proto_message!(PartialObjectMetadataList, "PartialObjectMetadataList", Some(META_PACKAGE), {
    1 => metadata: "metadata",
    2 => items: "items",
});

/// `metav1.Time` on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
struct ProtoTime {
    seconds: i64,
    nanos: i32,
}

crate::__proto_message!(ProtoTime, "Time", Some(META_PACKAGE), {
    1 => seconds: "seconds",
    2 => nanos: "nanos",
});

impl ProtoTime {
    fn of(time: &Time) -> Self {
        Self { seconds: time.0.as_second(), nanos: time.0.subsec_nanosecond() }
    }
}

impl ProtoField for Time {
    fn empty() -> Self {
        Time(Timestamp::UNIX_EPOCH)
    }

    fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
        ProtoTime::of(self).encode_field(tag, buf);
    }

    fn merge_value(
        &mut self,
        wire: WireType,
        reader: &mut Reader<'_>,
        field: &str,
    ) -> Result<(), DecodeError> {
        let mut time = ProtoTime::of(self);
        time.merge_value(wire, reader, field)?;
        self.0 = Timestamp::new(time.seconds, time.nanos)
            .map_err(|e| DecodeError::new(format!("proto: invalid time in field {field}: {e}")))?;
        Ok(())
    }

    fn describe(schema: &mut Schema) -> (Label, String) {
        ProtoTime::describe(schema)
    }
}

/// `metav1.FieldsV1` on the wire: `{Raw = 1}` with the JSON bytes.
#[derive(Clone, Debug, Default, PartialEq)]
struct ProtoFieldsV1 {
    raw: Bytes,
}

crate::__proto_message!(ProtoFieldsV1, "FieldsV1", Some(META_PACKAGE), {
    1 => raw: "Raw",
});

impl ProtoField for FieldsV1 {
    fn empty() -> Self {
        FieldsV1::default()
    }

    fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
        let raw = serde_json::to_vec(&self.0).unwrap_or_default();
        ProtoFieldsV1 { raw: Bytes(raw) }.encode_field(tag, buf);
    }

    fn merge_value(
        &mut self,
        wire: WireType,
        reader: &mut Reader<'_>,
        field: &str,
    ) -> Result<(), DecodeError> {
        let mut fields = ProtoFieldsV1::default();
        fields.merge_value(wire, reader, field)?;
        self.0 = serde_json::from_slice(&fields.raw.0)
            .map_err(|e| DecodeError::new(format!("proto: field {field} is not JSON: {e}")))?;
        Ok(())
    }

    fn describe(schema: &mut Schema) -> (Label, String) {
        ProtoFieldsV1::describe(schema)
    }
}

/// `runtime.TypeMeta`: `{apiVersion = 1, kind = 2}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeMeta {
    /// `group/version`.
    pub api_version: String,
    /// The kind.
    pub kind: String,
}

crate::__proto_message!(TypeMeta, "TypeMeta", Some(RUNTIME_PACKAGE), {
    1 => api_version: "apiVersion",
    2 => kind: "kind",
});

/// `runtime.Unknown`: the envelope every protobuf body is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unknown {
    /// What `raw` holds.
    pub type_meta: TypeMeta,
    /// The encoded object.
    pub raw: Bytes,
    /// How `raw` is encoded (empty: not at all).
    pub content_encoding: String,
    /// The serialization of `raw` (empty: protobuf).
    pub content_type: String,
}

crate::__proto_message!(Unknown, "Unknown", Some(RUNTIME_PACKAGE), {
    1 => type_meta: "typeMeta",
    2 => raw: "raw",
    3 => content_encoding: "contentEncoding",
    4 => content_type: "contentType",
});

/// `runtime.RawExtension`: an embedded, already-encoded object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawExtension {
    /// The encoded object.
    pub raw: Bytes,
}

crate::__proto_message!(RawExtension, "RawExtension", Some(RUNTIME_PACKAGE), {
    1 => raw: "raw",
});

/// `metav1.WatchEvent`: `{type = 1, object = 2}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchEvent {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
    pub type_: String,
    /// The object, itself a full protobuf body (magic + `Unknown`).
    pub object: RawExtension,
}

crate::__proto_message!(WatchEvent, "WatchEvent", Some(META_PACKAGE), {
    1 => type_: "type",
    2 => object: "object",
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protobuf::Protobuf;
    use std::collections::BTreeMap;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: Some("margherita".into()),
            namespace: Some("default".into()),
            uid: Some("0b3c6a2e".into()),
            resource_version: Some("42".into()),
            generation: Some(3),
            creation_timestamp: Some(Time(Timestamp::new(1_700_000_000, 0).unwrap())),
            labels: Some(BTreeMap::from([("b".into(), "2".into()), ("a".into(), "1".into())])),
            finalizers: Some(vec!["x/y".into()]),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: "c".into(),
                uid: "u".into(),
                controller: Some(true),
                block_owner_deletion: None,
            }]),
            managed_fields: Some(vec![ManagedFieldsEntry {
                manager: Some("kubectl".into()),
                fields_type: Some("FieldsV1".into()),
                fields_v1: Some(FieldsV1(serde_json::json!({"f:spec": {}}))),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn object_meta_uses_upstream_field_numbers() {
        let bytes =
            ObjectMeta { name: Some("a".into()), generation: Some(1), ..Default::default() }.encode_to_vec();
        // name = 1 (string), generation = 7 (varint).
        assert_eq!(bytes, [0x0a, 1, b'a', 0x38, 1]);
        let labels =
            ObjectMeta { labels: Some(BTreeMap::from([("k".into(), "v".into())])), ..Default::default() };
        // labels = 11: an entry message {key = 1, value = 2}.
        assert_eq!(labels.encode_to_vec(), [0x5a, 6, 0x0a, 1, b'k', 0x12, 1, b'v']);
    }

    #[test]
    fn object_meta_round_trips() {
        let meta = meta();
        assert_eq!(ObjectMeta::decode(&meta.encode_to_vec()).unwrap(), meta);
    }

    #[test]
    fn status_round_trips_with_code_6() {
        let status = piazza_core::ApiError::bad_request("nope").to_status();
        let bytes = status.encode_to_vec();
        assert_eq!(Status::decode(&bytes).unwrap(), status);
        // code = 6, varint 400.
        assert!(bytes.windows(3).any(|w| w == [0x30, 0x90, 0x03]));
    }

    #[test]
    fn time_keeps_nanoseconds_and_rejects_out_of_range() {
        let t = Time(Timestamp::new(1_700_000_000, 123_456_789).unwrap());
        let mut buf = Vec::new();
        t.encode_field(8, &mut buf);
        assert_eq!(&buf[..2], [0x42, 11]);
        let mut decoded = Time::empty();
        let mut r = Reader::new(&buf);
        let (_, wire) = r.key("T").unwrap();
        decoded.merge_value(wire, &mut r, "creationTimestamp").unwrap();
        assert_eq!(decoded, t);
        let mut buf = Vec::new();
        ProtoTime { seconds: i64::MAX, nanos: 0 }.encode_field(8, &mut buf);
        let mut r = Reader::new(&buf);
        let (_, wire) = r.key("T").unwrap();
        let err = Time::empty().merge_value(wire, &mut r, "creationTimestamp").unwrap_err();
        assert!(err.message().starts_with("proto: invalid time in field creationTimestamp"), "{err}");
    }

    #[test]
    fn wrong_wire_types_name_the_field() {
        // name = 1 sent as a varint.
        let err = ObjectMeta::decode(&[0x08, 1]).unwrap_err();
        assert_eq!(err.message(), "proto: wrong wireType = 0 for field name");
    }

    #[test]
    fn unknown_fields_are_skipped() {
        // field 99 (varint) then name = "a".
        let mut bytes = vec![0x98, 0x06, 5];
        bytes.extend([0x0a, 1, b'a']);
        assert_eq!(ObjectMeta::decode(&bytes).unwrap().name.as_deref(), Some("a"));
    }

    #[test]
    fn delete_options_round_trip() {
        let options = DeleteOptions {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions { uid: Some("u".into()), resource_version: None }),
            propagation_policy: Some("Foreground".into()),
            dry_run: Some(vec!["All".into()]),
            ..Default::default()
        };
        assert_eq!(DeleteOptions::decode(&options.encode_to_vec()).unwrap(), options);
    }
}
