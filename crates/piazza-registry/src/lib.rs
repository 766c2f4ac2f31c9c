//! Piazza's generic registry.
//!
//! An API author declares a kind as a hub type plus served versions, and gets a
//! [`Store<H>`] that runs the resource pipeline:
//! decode → default → convert to the hub → admission (mutating) → validate →
//! admission (validating) → compare-and-swap write, with admission inside the retry loop
//! so it is atomic with the write; then convert to the requested version and encode.
//!
//! The server sees every store through the erased [`RestResource`] trait.

pub mod admission;
pub mod descriptor;
pub mod keys;
pub mod object_meta;
pub mod params;
pub mod rest;
pub mod selectable;
pub mod selection;
pub mod stop_when;
pub mod storage_errors;
pub mod store;
pub mod strategy;
pub mod subresource;
pub mod table;
pub mod version;

pub use admission::{Admission, Attributes, Operation};
pub use descriptor::{ResourceDescriptor, VersionDescriptor};
pub use params::{ListParams, OptionsKind, Query, WriteParams};
pub use rest::{Encoded, EncodedWatch, RestContext, RestResource};
pub use store::{BuildError, PatchType, StorageLayout, Store, StoreBuilder};
pub use strategy::Strategy;
pub use version::{TypedVersion, VersionCodec};
