//! Derive macros for Piazza. Use them through the `piazza` facade:
//! `use piazza::Resource;` brings both the trait and the derive;
//! `use piazza::codec::protobuf::Protobuf;` brings [`macro@Protobuf`] and its trait.
//!
//! # `#[derive(Resource)]`
//!
//! Declares one served version of a kind: implements `Object` (from the `metadata` field) and
//! `Resource` (from the `#[resource(...)]` attribute).
//!
//! ```
//! # extern crate piazza_core as piazza;
//! use piazza::{Resource, meta::ObjectMeta};
//! # use piazza_derive::Resource;
//! # use serde::{Deserialize, Serialize};
//! # use schemars::JsonSchema;
//! # #[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
//! # pub struct PizzaSpec { pub toppings: Vec<String> }
//!
//! #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, Resource)]
//! #[resource(group = "restaurant.programming-kubernetes.info", version = "v1beta1", namespaced,
//!            short_names = ["pz"], categories = ["all"], defaults = Self::default_toppings)]
//! pub struct Pizza {
//!     pub metadata: ObjectMeta,
//!     pub spec: PizzaSpec,
//! }
//!
//! impl Pizza {
//!     fn default_toppings(&mut self) {
//!         if self.spec.toppings.is_empty() {
//!             self.spec.toppings = vec!["mozzarella".into(), "tomato".into()];
//!         }
//!     }
//! }
//!
//! assert_eq!(Pizza::KIND, "Pizza");
//! assert_eq!(Pizza::PLURAL, "pizzas");
//! assert_eq!(Pizza::SINGULAR, "pizza");
//! ```
//!
//! ## Keys
//!
//! | key | value | default |
//! |---|---|---|
//! | `group` | `"a.b.c"`: a lowercase DNS subdomain with at least one dot; or a path to a `&str` const, used unchecked | required |
//! | `version` | `"v1"`, `"v1beta2"`, `"v2alpha1"`: `v<n>` with an optional `alpha<n>`/`beta<n>`, numbers from 1 | required |
//! | `namespaced` or `cluster` | a flag: the scope (exactly one) | required |
//! | `kind` | `"Pizza"`: UpperCamelCase ASCII letters and digits | the struct's name |
//! | `singular` | `"pizza"`: a lowercase RFC 1035 label | the kind, lowercased |
//! | `plural` | `"pizzas"`: a lowercase RFC 1035 label | the singular, pluralized (below) |
//! | `short_names` | `["pz"]`: lowercase RFC 1035 labels, no repeats | `[]` |
//! | `categories` | `["all"]`: lowercase RFC 1035 labels, no repeats | `[]` |
//! | `defaults` | a path to a `fn(&mut Self)`, e.g. `Self::apply_defaults_v1` | no defaulting |
//! | `crate` | `"piazza_core"` or `piazza_core`: where `Object`, `Resource`, `Scope` and `meta` live | `::piazza` |
//!
//! Keys may be split over several `#[resource(...)]` attributes; each may appear once.
//!
//! The scope has no default: Kubernetes' own CRD API requires `scope`, and kubebuilder
//! (namespaced) and kube-rs (cluster) disagree on what to assume, so a reader from either would
//! guess wrong about the other. One word settles it.
//!
//! The default plural follows simple English rules: a consonant + `y` becomes `ies`
//! (`NetworkPolicy` → `networkpolicies`, but `Gateway` → `gateways`); `s`, `x`, `z`, `ch` and
//! `sh` take `es` (`Ingress` → `ingresses`); anything else takes `s`. Write `plural = "..."`
//! for anything irregular.
//!
//! The struct needs a field named `metadata` of type `ObjectMeta`; a field of another type
//! is reported at its type. Every value is checked at compile time, and every problem in one
//! struct is reported in one build:
//!
//! ```compile_fail
//! # extern crate piazza_core as piazza;
//! # use piazza::meta::ObjectMeta;
//! #[derive(Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema, piazza_derive::Resource)]
//! #[resource(group = "restaurant.example.com", version = "v1", namespaced, cluster)] // two scopes
//! pub struct Pizza { pub metadata: ObjectMeta }
//! ```
//!
//! ```compile_fail
//! # extern crate piazza_core as piazza;
//! # use piazza::meta::ObjectMeta;
//! #[derive(Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema, piazza_derive::Resource)]
//! #[resource(group = "restaurant.example.com", version = "1.0", namespaced)] // not a Kubernetes version
//! pub struct Pizza { pub metadata: ObjectMeta }
//! ```

mod attr;
mod names;
mod protobuf;
mod resource;

use proc_macro::TokenStream;

/// Implements `Object` and `Resource` for a struct with a `metadata: ObjectMeta` field, from
/// its `#[resource(group = "...", version = "...", namespaced | cluster, ...)]` attribute.
/// See the [crate docs](crate) for every key.
#[proc_macro_derive(Resource, attributes(resource))]
pub fn derive_resource(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    resource::derive(input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Implements the codec's `Protobuf` trait (`piazza::codec::protobuf::Protobuf`) for a struct
/// whose every field carries `#[protobuf(tag = N)]`. The field numbers are the wire contract:
/// the encoder and the `.proto` export both read them from here.
///
/// Field types: `String`, integers, `bool`, `f32`/`f64`, `Option<T>`, `Vec<T>`,
/// `BTreeMap<K, V>`, other `#[derive(Protobuf)]` structs and the meta types (`ObjectMeta`).
/// A field's `.proto` name is its Rust name in lowerCamelCase unless
/// `#[protobuf(tag = N, name = "...")]` says otherwise. On the struct,
/// `#[protobuf(crate = "path")]` says where the trait lives (default
/// `::piazza::codec::protobuf`) and `#[protobuf(name = "...")]` names the message.
///
/// ```compile_fail
/// #[derive(Default, piazza_derive::Protobuf)]
/// struct Topping {
///     #[protobuf(tag = 1)]
///     name: String,
///     #[protobuf(tag = 1)] // already used
///     cost: f64,
/// }
/// ```
#[proc_macro_derive(Protobuf, attributes(protobuf))]
pub fn derive_protobuf(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    protobuf::derive(input).unwrap_or_else(syn::Error::into_compile_error).into()
}
