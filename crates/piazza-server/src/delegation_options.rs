//! Flags of delegated authentication and authorization, named and defaulted as upstream's
//! `DelegatingAuthenticationOptions` and `DelegatingAuthorizationOptions`, plus
//! `--anonymous-auth`.

use std::path::PathBuf;
use std::time::Duration;

use crate::storage_options::parse_duration;

/// The delegation flags. Flattened into [`ServerOptions`](crate::ServerOptions).
#[derive(Clone, Debug, clap::Args)]
pub struct DelegationOptions {
    /// Enables anonymous requests to the secure port. Requests that are not rejected by
    /// another authentication method are treated as anonymous requests (user
    /// `system:anonymous`, group `system:unauthenticated`). With `false`, a request without
    /// credentials is a 401 on every path.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub anonymous_auth: bool,

    /// kubeconfig file pointing at the 'core' kubernetes server with enough rights to create
    /// tokenreviews.authentication.k8s.io. Without it (and outside a cluster), bearer tokens
    /// are only checked against --token-auth-file and no client CA is looked up in the
    /// cluster.
    #[arg(long)]
    pub authentication_kubeconfig: Option<PathBuf>,

    /// The duration to cache responses from the webhook token authenticator.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub authentication_token_webhook_cache_ttl: Duration,

    /// If false, the authentication-kubeconfig will be used to lookup missing authentication
    /// configuration from the cluster.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub authentication_skip_lookup: bool,

    /// If true, failures to look up missing authentication configuration from the cluster
    /// are not considered fatal. Note that this can result in authentication that treats
    /// all requests as anonymous.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub authentication_tolerate_lookup_failure: bool,

    /// How often the kube-system/extension-apiserver-authentication ConfigMap is re-read, so
    /// that a rotated client or front-proxy CA takes effect without a restart.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub authentication_config_refresh_interval: Duration,

    /// kubeconfig file pointing at the 'core' kubernetes server with enough rights to create
    /// subjectaccessreviews.authorization.k8s.io. Without it (and outside a cluster), only
    /// the always-allowed paths and `system:masters` are authorized.
    #[arg(long)]
    pub authorization_kubeconfig: Option<PathBuf>,

    /// The duration to cache 'authorized' responses from the webhook authorizer.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub authorization_webhook_cache_authorized_ttl: Duration,

    /// The duration to cache 'unauthorized' responses from the webhook authorizer.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub authorization_webhook_cache_unauthorized_ttl: Duration,

    /// A list of HTTP paths to skip during authorization, i.e. these are authorized without
    /// contacting the 'core' kubernetes server (exact, or a prefix when ending in `*`).
    #[arg(long, value_delimiter = ',', default_value = "/healthz,/readyz,/livez")]
    pub authorization_always_allow_paths: Vec<String>,
}

/// Upstream's timeout of a TokenReview or SubjectAccessReview call (retries included).
pub const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);
