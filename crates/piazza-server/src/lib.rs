//! Piazza's HTTPS server.
//!
//! | module | job |
//! |---|---|
//! | [`serve`] | TLS (rustls) + HTTP/1.1 and HTTP/2 (hyper), graceful shutdown |
//! | [`chain`] | the filter chain, written once in execution order |
//! | [`filters`] | panic recovery, request info, timeout, authentication, authorization, body limit |
//! | [`router`] | health, version, discovery, OpenAPI, resources |
//! | [`handlers`] | the endpoint handlers |
//! | [`server`] | assembling a [`Server`] from [`ServerOptions`] and resources |

pub mod api_set;
pub mod body;
pub mod chain;
pub mod delegation_options;
pub mod filters;
pub mod handlers;
pub mod options;
pub mod response;
pub mod router;
pub mod serve;
pub mod server;
pub mod shutdown;
pub mod storage_options;
pub mod write_batching;

pub use options::ServerOptions;
pub use server::{Server, ServerError, shutdown_signal};
pub use storage_options::StorageOptions;
