//! Kubernetes' protobuf wire format (`application/vnd.kubernetes.protobuf`), without a code
//! generator.
//!
//! - [`wire`]: varints, keys, length-delimited values, a bounds-checked [`Reader`].
//! - [`message`]: the [`Protobuf`] trait (derive it with `#[derive(Protobuf)]`) and
//!   [`ProtoField`] for scalars, `Option`, `Vec`, `BTreeMap` and messages.
//! - [`meta`]: the apimachinery messages with upstream's field numbers, implemented for the
//!   `k8s-openapi` types directly.
//! - [`list`]: `<Kind>List` as `{metadata = 1, items = 2}`.
//! - [`envelope`]: `k8s\0` + `runtime.Unknown` around every body; hostile bodies are 400/415.
//! - [`watch`]: length-prefixed `WatchEvent` frames.
//! - [`schema`] and [`export`]: message descriptors and `.proto` rendering.
//!
//! Why not the `k8s-pb` crate: its prost-generated types are separate from the
//! `k8s-openapi` types every Piazza API embeds, so each encode and decode would deep-copy
//! `ObjectMeta` field by field; and an author's struct cannot derive `prost::Message` while
//! it holds a `k8s_openapi` `ObjectMeta`, since neither Piazza nor the author may implement
//! prost's trait for k8s-openapi's type. A small encoder over Piazza's own trait implements
//! the meta messages for the k8s-openapi types themselves and lets the derive nest them.

pub mod autoscaling;
pub mod envelope;
pub mod export;
pub mod hooks;
pub mod list;
pub mod message;
pub mod meta;
pub mod peek;
pub mod schema;
pub mod watch;
pub mod wire;

pub use envelope::{MAGIC, decode_envelope, decode_object, decode_object_as, encode_object, encode_raw};
pub use hooks::hooks;
pub use list::ObjectList;
pub use message::{Bytes, ProtoField, Protobuf};
pub use piazza_derive::Protobuf;
pub use schema::{FieldDescriptor, Label, MessageDescriptor, Schema, describe_field};
pub use wire::{DecodeError, Reader, WireType};

/// `application/vnd.kubernetes.protobuf;stream=watch`.
pub const WATCH_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";
