//! Message descriptors for the `.proto` export: each message's fields with their numbers,
//! labels and types, collected from the [`Protobuf`] impls themselves, so the export can
//! never disagree with the encoder.

use std::collections::{BTreeMap, BTreeSet};

use super::message::{ProtoField, Protobuf};

/// How a field repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// `optional` (proto2): present at most once.
    Optional,
    /// `repeated`.
    Repeated,
    /// A `map<K, V>` (no label in the `.proto` text).
    Map,
}

/// One field of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDescriptor {
    /// The field's name (the JSON name, as upstream's generated `.proto` files use).
    pub name: String,
    /// The field number.
    pub tag: u32,
    /// `optional`, `repeated` or a map.
    pub label: Label,
    /// The protobuf type: a scalar (`string`), a map, or a message name, qualified with
    /// its package when it lives in another package.
    pub type_name: String,
}

/// One message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageDescriptor {
    /// The message's name.
    pub name: String,
    /// Its fields, in ascending field number.
    pub fields: Vec<FieldDescriptor>,
}

/// The messages of one protobuf package, and the messages of other packages they use.
#[derive(Debug)]
pub struct Schema {
    package: String,
    messages: Vec<MessageDescriptor>,
    foreign: BTreeMap<String, Vec<String>>,
}

impl Schema {
    /// An empty schema for `package`.
    pub fn new(package: impl Into<String>) -> Self {
        Self { package: package.into(), messages: Vec::new(), foreign: BTreeMap::new() }
    }

    /// The package.
    pub fn package(&self) -> &str {
        &self.package
    }

    /// Registers `T` (and, for a message of this package, everything its fields refer to)
    /// and returns how a field of this package names it.
    pub fn message<T: Protobuf>(&mut self) -> String {
        let name = T::proto_name();
        match T::proto_package() {
            Some(package) if package != self.package => {
                let names = self.foreign.entry(package.to_owned()).or_default();
                if !names.contains(&name) {
                    names.push(name.clone());
                }
                format!("{package}.{name}")
            }
            _ => {
                if !self.messages.iter().any(|m| m.name == name) {
                    let index = self.messages.len();
                    // Registered before its fields are described, so recursion stops here.
                    self.messages.push(MessageDescriptor { name: name.clone(), fields: Vec::new() });
                    let fields = T::describe_fields(self);
                    self.messages[index].fields = fields;
                }
                name
            }
        }
    }

    /// This package's messages, in the order they were registered.
    pub fn messages(&self) -> &[MessageDescriptor] {
        &self.messages
    }

    /// The packages this one imports.
    pub fn imports(&self) -> BTreeSet<&str> {
        self.foreign.keys().map(String::as_str).collect()
    }
}

/// Describes field `name` = `tag` of a message `M`; `get` only names the field's type.
pub fn describe_field<M, T: ProtoField>(
    schema: &mut Schema,
    name: &str,
    tag: u32,
    get: fn(&M) -> &T,
) -> FieldDescriptor {
    let _ = get;
    let (label, type_name) = T::describe(schema);
    FieldDescriptor { name: name.to_owned(), tag, label, type_name }
}
