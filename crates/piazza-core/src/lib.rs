//! Piazza's core: the vocabulary every other crate shares.
//!
//! This crate has no I/O: no tokio, no hyper, no storage. It holds
//! - the Kubernetes meta types (re-exported from `k8s-openapi` as [`meta`]),
//! - group / version / kind / resource names ([`gvk`]),
//! - the [`Resource`] and [`Object`] traits an API author implements,
//! - field errors for validation ([`field`]),
//! - the API error type that becomes a `metav1.Status` ([`error`]),
//! - request info parsed from a URL ([`request_info`]),
//! - the authenticated user ([`user`]).

pub mod error;
pub mod field;
pub mod gvk;
pub mod protobuf_hooks;
pub mod request_info;
pub mod resource;
pub mod selector;
pub mod user;

pub use error::{ApiError, StatusReason};
pub use field::{FieldError, FieldErrors, FieldPath};
pub use gvk::{GroupKind, GroupResource, GroupVersion, GroupVersionKind};
pub use k8s_openapi;
pub use protobuf_hooks::ProtobufHooks;
pub use resource::{Object, Resource, Scope};
pub use user::UserInfo;

/// The Kubernetes meta types (`metav1`), re-exported from `k8s-openapi`.
pub mod meta {
    pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::*;
}
