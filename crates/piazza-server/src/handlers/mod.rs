//! Endpoint handlers: discovery, OpenAPI, health, version and resources.

pub mod aggregated_discovery;
pub mod discovery;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod resource;
pub mod subresource;
pub mod version;
pub mod watch_websocket;
