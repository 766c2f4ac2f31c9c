//! Delegated authentication and authorization: the cluster's kube-apiserver decides.
//!
//! An aggregated server trusts the cluster it extends, as `k8s.io/apiserver`'s
//! `DelegatingAuthenticationOptions` / `DelegatingAuthorizationOptions` do:
//! - bearer tokens are checked with a `TokenReview` ([`token_review`]);
//! - requests are authorized with a `SubjectAccessReview` ([`subject_access_review`]);
//! - the client CA and the front-proxy settings come from the `kube-system/
//!   extension-apiserver-authentication` ConfigMap when not given by flags, and are re-read
//!   periodically so a rotated CA takes effect without a restart ([`extension_config`]).
//!
//! Answers are cached ([`ttl_cache`]); calls have a timeout and bounded retries ([`retry`]);
//! an unreachable cluster fails closed (401 for tokens, 500 for authorization, as upstream).

pub mod client;
pub mod extension_config;
pub mod retry;
pub mod setup;
pub mod subject_access_review;
pub mod swappable;
pub mod token_review;
pub mod ttl_cache;

pub use client::{DelegationClientError, client_from_kubeconfig};
pub use extension_config::{ExtensionAuthentication, ExtensionConfigRefresher};
pub use retry::{Backoff, CallError};
pub use setup::{Delegation, DelegationError, setup};
pub use subject_access_review::{AccessReviewer, SubjectAccessReviewAuthorizer};
pub use swappable::SwappableAuthenticator;
pub use token_review::{TokenReviewAuthenticator, TokenReviewer};
pub use ttl_cache::TtlCache;
