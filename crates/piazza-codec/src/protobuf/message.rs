//! The [`Protobuf`] trait (a message: encode its fields, merge a field, describe its fields)
//! and [`ProtoField`] (a value that can be one field: scalars, `Option`, `Vec`, `BTreeMap`,
//! [`Bytes`] and every message).
//!
//! Encoding follows upstream's gogo-generated marshalers: fields in ascending field number,
//! non-`Option` scalars always written (an empty string too), `Option` only when `Some`,
//! repeated values unpacked, map entries in key order. Decoding merges as protobuf does
//! (a repeated message field merges, a scalar's last value wins) and skips unknown fields.

use std::collections::BTreeMap;

use super::schema::{FieldDescriptor, Label, Schema};
use super::wire::{DecodeError, Reader, WireType, put_bytes, put_key, put_nested, put_varint};

/// A protobuf message. Derive it with `#[derive(Protobuf)]` and a `#[protobuf(tag = N)]` on
/// every field, or implement it by hand (the meta types in [`super::meta`]).
pub trait Protobuf: Default {
    /// The message's name in a `.proto` file (`Pizza`, `ObjectMeta`).
    fn proto_name() -> String;

    /// The protobuf package of the message, when it is fixed (the meta types); `None` for
    /// an author type, whose package is the group and version it is exported under.
    fn proto_package() -> Option<&'static str> {
        None
    }

    /// Appends every field of `self` (no length prefix).
    fn encode_fields(&self, buf: &mut Vec<u8>);

    /// Merges one field whose key has been read; unknown fields are skipped.
    fn merge_field(&mut self, tag: u32, wire: WireType, reader: &mut Reader<'_>) -> Result<(), DecodeError>;

    /// The fields, for the `.proto` export; registers the messages they refer to in `schema`.
    fn describe_fields(schema: &mut Schema) -> Vec<FieldDescriptor>;

    /// Merges a whole encoded message into `self`.
    fn merge(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let mut reader = Reader::new(bytes);
        while !reader.is_empty() {
            let (tag, wire) = reader.key_in(Self::proto_name)?;
            self.merge_field(tag, wire, &mut reader)?;
        }
        Ok(())
    }

    /// Decodes a message.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut value = Self::default();
        value.merge(bytes)?;
        Ok(value)
    }

    /// Encodes the message.
    fn encode_to_vec(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.encode_fields(&mut buf);
        buf
    }
}

/// A value that can be one field of a message.
pub trait ProtoField {
    /// The value a field has before any occurrence is merged (protobuf's default).
    fn empty() -> Self
    where
        Self: Sized;

    /// Appends the value as field `tag`.
    fn encode_field(&self, tag: u32, buf: &mut Vec<u8>);

    /// Merges one occurrence of the field; `field` names it in errors.
    fn merge_value(
        &mut self,
        wire: WireType,
        reader: &mut Reader<'_>,
        field: &str,
    ) -> Result<(), DecodeError>;

    /// The field's label and protobuf type, registering any message it refers to.
    fn describe(schema: &mut Schema) -> (Label, String);
}

fn expect(wire: WireType, expected: WireType, field: &str) -> Result<(), DecodeError> {
    if wire == expected { Ok(()) } else { Err(DecodeError::wrong_wire_type(wire.bits(), field)) }
}

impl<T: Protobuf> ProtoField for T {
    fn empty() -> Self {
        T::default()
    }

    fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
        put_nested(buf, tag, |b| self.encode_fields(b));
    }

    fn merge_value(
        &mut self,
        wire: WireType,
        reader: &mut Reader<'_>,
        field: &str,
    ) -> Result<(), DecodeError> {
        expect(wire, WireType::Len, field)?;
        self.merge(reader.len_delimited()?)
    }

    fn describe(schema: &mut Schema) -> (Label, String) {
        (Label::Optional, schema.message::<T>())
    }
}

impl ProtoField for String {
    fn empty() -> Self {
        String::new()
    }

    fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
        put_bytes(buf, tag, self.as_bytes());
    }

    fn merge_value(
        &mut self,
        wire: WireType,
        reader: &mut Reader<'_>,
        field: &str,
    ) -> Result<(), DecodeError> {
        expect(wire, WireType::Len, field)?;
        let bytes = reader.len_delimited()?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| DecodeError::new(format!("proto: invalid UTF-8 in string field {field}")))?;
        // One allocation of the exact size (push_str on an empty string takes the growth
        // path); a repeated field simply replaces the value, as protobuf's last-one-wins.
        *self = text.to_owned();
        Ok(())
    }

    fn describe(_: &mut Schema) -> (Label, String) {
        (Label::Optional, "string".into())
    }
}

/// Integer types on the varint wire type; negative `int32`/`int64` take ten bytes, and a
/// decoded value is truncated to the type's width, as in protobuf.
macro_rules! varint_field {
    ($ty:ty, $proto:literal, $to:expr, $from:expr) => {
        impl ProtoField for $ty {
            fn empty() -> Self {
                Default::default()
            }

            fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
                put_key(buf, tag, WireType::Varint);
                put_varint(buf, $to(*self));
            }

            fn merge_value(
                &mut self,
                wire: WireType,
                reader: &mut Reader<'_>,
                field: &str,
            ) -> Result<(), DecodeError> {
                expect(wire, WireType::Varint, field)?;
                *self = $from(reader.varint()?);
                Ok(())
            }

            fn describe(_: &mut Schema) -> (Label, String) {
                (Label::Optional, $proto.into())
            }
        }
    };
}

varint_field!(i64, "int64", |v: i64| v as u64, |v: u64| v as i64);
varint_field!(i32, "int32", |v: i32| i64::from(v) as u64, |v: u64| v as i32);
varint_field!(u64, "uint64", |v: u64| v, |v: u64| v);
varint_field!(u32, "uint32", u64::from, |v: u64| v as u32);
varint_field!(bool, "bool", u64::from, |v: u64| v != 0);

/// Floating-point types on the fixed wire types.
macro_rules! fixed_field {
    ($ty:ty, $proto:literal, $wire:expr, $n:literal) => {
        impl ProtoField for $ty {
            fn empty() -> Self {
                0.0
            }

            fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
                put_key(buf, tag, $wire);
                buf.extend_from_slice(&self.to_le_bytes());
            }

            fn merge_value(
                &mut self,
                wire: WireType,
                reader: &mut Reader<'_>,
                field: &str,
            ) -> Result<(), DecodeError> {
                expect(wire, $wire, field)?;
                *self = <$ty>::from_le_bytes(reader.fixed::<$n>()?);
                Ok(())
            }

            fn describe(_: &mut Schema) -> (Label, String) {
                (Label::Optional, $proto.into())
            }
        }
    };
}

fixed_field!(f64, "double", WireType::Fixed64, 8);
fixed_field!(f32, "float", WireType::Fixed32, 4);

impl<T: ProtoField> ProtoField for Option<T> {
    fn empty() -> Self {
        None
    }

    fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
        if let Some(value) = self {
            value.encode_field(tag, buf);
        }
    }

    fn merge_value(
        &mut self,
        wire: WireType,
        reader: &mut Reader<'_>,
        field: &str,
    ) -> Result<(), DecodeError> {
        self.get_or_insert_with(T::empty).merge_value(wire, reader, field)
    }

    fn describe(schema: &mut Schema) -> (Label, String) {
        T::describe(schema)
    }
}

impl<T: ProtoField> ProtoField for Vec<T> {
    fn empty() -> Self {
        Vec::new()
    }

    fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
        for value in self {
            value.encode_field(tag, buf);
        }
    }

    fn merge_value(
        &mut self,
        wire: WireType,
        reader: &mut Reader<'_>,
        field: &str,
    ) -> Result<(), DecodeError> {
        let mut value = T::empty();
        value.merge_value(wire, reader, field)?;
        self.push(value);
        Ok(())
    }

    fn describe(schema: &mut Schema) -> (Label, String) {
        (Label::Repeated, T::describe(schema).1)
    }
}

/// A map is a repeated entry message `{key = 1, value = 2}`, entries in key order.
impl<K, V> ProtoField for BTreeMap<K, V>
where
    K: ProtoField + Ord,
    V: ProtoField,
{
    fn empty() -> Self {
        BTreeMap::new()
    }

    fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
        for (key, value) in self {
            put_nested(buf, tag, |b| {
                key.encode_field(1, b);
                value.encode_field(2, b);
            });
        }
    }

    fn merge_value(
        &mut self,
        wire: WireType,
        reader: &mut Reader<'_>,
        field: &str,
    ) -> Result<(), DecodeError> {
        expect(wire, WireType::Len, field)?;
        let mut entry = Reader::new(reader.len_delimited()?);
        let (mut key, mut value) = (K::empty(), V::empty());
        while !entry.is_empty() {
            match entry.key(field)? {
                (1, wire) => key.merge_value(wire, &mut entry, field)?,
                (2, wire) => value.merge_value(wire, &mut entry, field)?,
                (_, wire) => entry.skip(wire)?,
            }
        }
        self.insert(key, value);
        Ok(())
    }

    fn describe(schema: &mut Schema) -> (Label, String) {
        let key = K::describe(schema).1;
        let value = V::describe(schema).1;
        (Label::Map, format!("map<{key}, {value}>"))
    }
}

/// A `bytes` field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl ProtoField for Bytes {
    fn empty() -> Self {
        Self::default()
    }

    fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
        put_bytes(buf, tag, &self.0);
    }

    fn merge_value(
        &mut self,
        wire: WireType,
        reader: &mut Reader<'_>,
        field: &str,
    ) -> Result<(), DecodeError> {
        expect(wire, WireType::Len, field)?;
        self.0 = reader.len_delimited()?.to_vec();
        Ok(())
    }

    fn describe(_: &mut Schema) -> (Label, String) {
        (Label::Optional, "bytes".into())
    }
}

/// Implements [`Protobuf`] for a struct from `tag => field: "protoName"` entries in
/// ascending tag order. The meta types use it; author types use `#[derive(Protobuf)]`,
/// which generates the same code.
#[macro_export]
#[doc(hidden)]
macro_rules! __proto_message {
    ($ty:ty, $name:literal, $package:expr, { $($tag:literal => $field:ident : $proto:literal),* $(,)? }) => {
        impl $crate::protobuf::Protobuf for $ty {
            fn proto_name() -> String {
                $name.to_owned()
            }

            fn proto_package() -> Option<&'static str> {
                $package
            }

            fn encode_fields(&self, buf: &mut Vec<u8>) {
                $( $crate::protobuf::ProtoField::encode_field(&self.$field, $tag, buf); )*
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire: $crate::protobuf::WireType,
                reader: &mut $crate::protobuf::Reader<'_>,
            ) -> Result<(), $crate::protobuf::DecodeError> {
                match tag {
                    $( $tag => $crate::protobuf::ProtoField::merge_value(&mut self.$field, wire, reader, $proto), )*
                    _ => reader.skip(wire),
                }
            }

            fn describe_fields(schema: &mut $crate::protobuf::Schema) -> Vec<$crate::protobuf::FieldDescriptor> {
                vec![$( $crate::protobuf::describe_field(schema, $proto, $tag, |m: &$ty| &m.$field) ),*]
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode<T: ProtoField>(value: &T) -> Vec<u8> {
        let mut buf = Vec::new();
        value.encode_field(1, &mut buf);
        buf
    }

    fn decode<T: ProtoField>(bytes: &[u8]) -> Result<T, DecodeError> {
        let mut value = T::empty();
        let mut r = Reader::new(bytes);
        while !r.is_empty() {
            let (_, wire) = r.key("T")?;
            value.merge_value(wire, &mut r, "f")?;
        }
        Ok(value)
    }

    #[test]
    fn scalars_use_protobuf_encodings() {
        assert_eq!(encode(&-1i64), [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(encode(&-1i32).len(), 11, "negative int32 is sign-extended to ten bytes");
        assert_eq!(decode::<i32>(&encode(&-5i32)), Ok(-5));
        assert_eq!(encode(&true), [0x08, 1]);
        assert_eq!(encode(&1.5f64), [0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]);
        assert_eq!(encode(&String::new()), [0x0a, 0], "empty strings are written, as gogo does");
        assert_eq!(encode(&None::<String>), Vec::<u8>::new());
    }

    #[test]
    fn repeated_fields_and_maps() {
        let v = vec!["a".to_owned(), String::new()];
        assert_eq!(decode::<Vec<String>>(&encode(&v)), Ok(v));
        let m = BTreeMap::from([("z".to_owned(), "1".to_owned()), ("a".to_owned(), "2".to_owned())]);
        let bytes = encode(&m);
        assert_eq!(&bytes[..8], [0x0a, 6, 0x0a, 1, b'a', 0x12, 1, b'2'], "entries in key order");
        assert_eq!(decode::<BTreeMap<String, String>>(&bytes), Ok(m));
    }

    #[test]
    fn wrong_wire_types_are_errors() {
        assert_eq!(
            decode::<String>(&[0x08, 1]).unwrap_err().message(),
            "proto: wrong wireType = 0 for field f"
        );
        assert_eq!(decode::<i64>(&[0x0a, 0]).unwrap_err().message(), "proto: wrong wireType = 2 for field f");
        assert_eq!(decode::<f64>(&[0x09, 0, 0]), Err(DecodeError::eof()));
    }
}
