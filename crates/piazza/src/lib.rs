//! Piazza: build Kubernetes extension (aggregated) API servers in Rust.
//!
//! Declare each served version of a kind as a plain Rust struct implementing
//! [`Resource`], a hub type with `From`/`TryFrom` conversions, a [`Strategy`] for validation
//! and [`Admission`] plugins; build a [`Store`] per kind on a [`Storage`] backend, and hand
//! the stores to a [`Server`].
//!
//! | crate | re-exported as | what |
//! |---|---|---|
//! | `piazza-core` | [`core`] | meta types, names, `Resource`, field errors, `ApiError` |
//! | `piazza-derive` | `#[derive(Resource)]` | declares a served version with `#[resource(group = …, version = …, namespaced)]` |
//! | `piazza-codec` | [`codec`] | JSON/YAML, negotiation, watch framing |
//! | `piazza-storage` | [`storage`] | the `Storage` trait and the embedded backend |
//! | `piazza-registry` | [`registry`] | `Store<H>`, strategies, admission |
//! | `piazza-server` | [`server`] | the HTTPS server and its filter chain |
//! | `piazza-tls` | [`tls`] | certificates and TLS |

pub use piazza_codec as codec;
pub use piazza_core as core;
pub use piazza_registry as registry;
pub use piazza_server as server;
pub use piazza_storage as storage;
pub use piazza_tls as tls;

pub use async_trait::async_trait;
pub use piazza_core::{
    ApiError, FieldError, FieldErrors, FieldPath, Object, ProtobufHooks, Resource, Scope, UserInfo,
    impl_object, k8s_openapi, meta,
};
pub use piazza_derive::Resource;
pub use piazza_registry::{Admission, Attributes, Operation, RestResource, Store, Strategy};
pub use piazza_server::{Server, ServerOptions};
pub use piazza_storage::Storage;
pub use schemars;
pub use serde;
