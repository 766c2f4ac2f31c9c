//! [`ObjectList`]: the list of a kind (`PizzaList`), `{metadata = 1, items = 2}` as every
//! upstream list is.

use piazza_core::meta::ListMeta;

use super::message::{ProtoField, Protobuf};
use super::schema::{FieldDescriptor, Schema, describe_field};
use super::wire::{DecodeError, Reader, WireType};

/// A list of `T`: its message is named `<T>List`, in `T`'s package.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectList<T> {
    /// The list's metadata (resourceVersion, continue).
    pub metadata: ListMeta,
    /// The items.
    pub items: Vec<T>,
}

impl<T: Protobuf> Protobuf for ObjectList<T> {
    fn proto_name() -> String {
        format!("{}List", T::proto_name())
    }

    fn proto_package() -> Option<&'static str> {
        T::proto_package()
    }

    fn encode_fields(&self, buf: &mut Vec<u8>) {
        self.metadata.encode_field(1, buf);
        self.items.encode_field(2, buf);
    }

    fn merge_field(&mut self, tag: u32, wire: WireType, reader: &mut Reader<'_>) -> Result<(), DecodeError> {
        match tag {
            1 => self.metadata.merge_value(wire, reader, "metadata"),
            2 => self.items.merge_value(wire, reader, "items"),
            _ => reader.skip(wire),
        }
    }

    fn describe_fields(schema: &mut Schema) -> Vec<FieldDescriptor> {
        vec![
            describe_field(schema, "metadata", 1, |l: &Self| &l.metadata),
            describe_field(schema, "items", 2, |l: &Self| &l.items),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piazza_core::meta::ObjectMeta;

    #[test]
    fn lists_are_metadata_then_items() {
        let list = ObjectList {
            metadata: ListMeta { resource_version: Some("7".into()), ..Default::default() },
            items: vec![ObjectMeta { name: Some("a".into()), ..Default::default() }; 2],
        };
        let bytes = list.encode_to_vec();
        assert_eq!(&bytes[..5], [0x0a, 3, 0x12, 1, b'7']);
        assert_eq!(&bytes[5..10], [0x12, 3, 0x0a, 1, b'a']);
        assert_eq!(ObjectList::<ObjectMeta>::decode(&bytes).unwrap(), list);
        assert_eq!(ObjectList::<ObjectMeta>::proto_name(), "ObjectMetaList");
    }
}
