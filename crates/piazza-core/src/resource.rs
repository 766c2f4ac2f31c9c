//! The traits an API author implements: [`Resource`] for each served version of a kind,
//! and [`Object`] for anything with `ObjectMeta` (including the hub type).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::gvk::{GroupKind, GroupResource, GroupVersion, GroupVersionKind};

/// Whether objects of a kind live in a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Objects live in a namespace (`/namespaces/<ns>/<plural>/<name>`).
    Namespaced,
    /// Objects are cluster-wide (`/<plural>/<name>`).
    Cluster,
}

/// Anything with Kubernetes object metadata.
pub trait Object: Clone + Send + Sync + 'static {
    /// The object's metadata.
    fn metadata(&self) -> &ObjectMeta;
    /// The object's metadata, mutably.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;
}

/// One served version of a kind: a plain Rust struct with `metadata`, usually `spec` and
/// `status`. Its serde shape is the wire shape, minus `apiVersion` and `kind`, which the
/// codec adds.
pub trait Resource: Object + Serialize + DeserializeOwned + JsonSchema {
    /// API group, e.g. `restaurant.programming-kubernetes.info`.
    const GROUP: &'static str;
    /// Version, e.g. `v1beta1`.
    const VERSION: &'static str;
    /// Kind, e.g. `Pizza`.
    const KIND: &'static str;
    /// Plural resource name used in URLs, e.g. `pizzas`.
    const PLURAL: &'static str;
    /// Singular name, e.g. `pizza`.
    const SINGULAR: &'static str;
    /// Namespaced or cluster-scoped.
    const SCOPE: Scope;
    /// Short names for kubectl, e.g. `["pz"]`.
    const SHORT_NAMES: &'static [&'static str] = &[];
    /// Categories, e.g. `["all"]`.
    const CATEGORIES: &'static [&'static str] = &[];

    /// Per-version defaulting, run after decoding a request body in this version.
    fn apply_defaults(&mut self) {}

    /// How this version reads and writes Kubernetes protobuf, if it does
    /// (`#[resource(..., protobuf)]` with `#[derive(Protobuf)]`). Versions without it are
    /// served and stored as JSON or YAML only, like CustomResources upstream.
    fn protobuf() -> Option<crate::ProtobufHooks<Self>> {
        None
    }

    /// This version's group/version.
    fn group_version() -> GroupVersion {
        GroupVersion::new(Self::GROUP, Self::VERSION)
    }

    /// This version's group/version/kind.
    fn gvk() -> GroupVersionKind {
        GroupVersionKind::new(Self::GROUP, Self::VERSION, Self::KIND)
    }

    /// The kind qualified by group, for messages.
    fn group_kind() -> GroupKind {
        GroupKind::new(Self::GROUP, Self::KIND)
    }

    /// The resource qualified by group, for messages.
    fn group_resource() -> GroupResource {
        GroupResource::new(Self::GROUP, Self::PLURAL)
    }
}

/// Implements [`Object`] for a struct with a `metadata: ObjectMeta` field.
///
/// ```
/// # use piazza_core::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
/// #[derive(Clone)]
/// struct Thing { metadata: ObjectMeta }
/// piazza_core::impl_object!(Thing);
/// ```
#[macro_export]
macro_rules! impl_object {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::Object for $ty {
            fn metadata(&self) -> &$crate::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut $crate::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }
    )+};
}
