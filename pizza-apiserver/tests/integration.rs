//! Every integration test of `pizza-apiserver`, in one test binary.
//!
//! Each file under `tests/` is a module of this crate, and the shared helpers are modules
//! beside them. One binary instead of one per file: each test binary links every
//! dependency, and ~45 of them took ~3 GB of disk and most of the link time of a clean
//! `cargo test`. Run one file's tests with a name filter, e.g.
//! `cargo test -p pizza-apiserver --all-features --test integration http_api::`.

mod aggregator_support;
mod http_common;
mod protobuf_support;
mod support;
#[cfg(feature = "etcd")]
mod watch_semantics_cases;

mod aggregator_proxy;
mod cohabitation;
mod crash;
mod e2e_chunking;
mod e2e_field_validation;
mod e2e_request_timeout;
mod e2e_table_conversion;
mod e2e_watch;
mod http_api;
mod http_audit_backends;
mod http_authn_audit;
mod http_authn_delegated;
mod http_authn_impersonation;
mod http_authn_request_header;
mod http_connection_limits;
mod http_continue;
mod http_delete_finalizers;
mod http_delete_graceful;
mod http_discovery;
mod http_errors;
mod http_field_selectors;
mod http_health;
mod http_hostile_bodies;
mod http_limits;
mod http_metrics;
mod http_patch;
mod http_protobuf;
mod http_protocols;
mod http_shutdown;
mod http_subresources;
mod http_tables;
mod http_tls;
mod http_watch;
mod http_watch_websocket;
mod kubectl_delete;
mod kubectl_e2e;
mod kubectl_patch;
mod kubectl_printing;
mod kubectl_subresources;
mod protobuf_export;
mod protobuf_fixtures;
mod protobuf_interop;
mod protobuf_roundtrip;
#[cfg(feature = "etcd")]
mod replicas;
mod storage_media_type;
#[cfg(feature = "etcd")]
mod watch_semantics;
