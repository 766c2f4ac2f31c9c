//! Assembling delegation from the flags: which clients, authenticators and authorizer exist.

use std::sync::Arc;

use super::client::{DelegationClientError, ReviewCall, client_from_kubeconfig, in_cluster_client};
use super::extension_config::{ExtensionConfigRefresher, KubeConfigMapSource};
use super::retry::Backoff;
use super::subject_access_review::{KubeAccessReviewer, SubjectAccessReviewAuthorizer};
use super::token_review::{KubeTokenReviewer, TokenReviewAuthenticator};
use crate::delegation_options::{DelegationOptions, REVIEW_TIMEOUT};
use crate::filters::authentication::Authenticator;
use crate::filters::authorization::Authorizer;

/// Why delegation could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DelegationError {
    /// No client for the cluster.
    #[error("{0}")]
    Client(#[from] DelegationClientError),
    /// The authentication ConfigMap could not be read at start-up.
    #[error("unable to load configmap based request-header-client-ca-file: {0}")]
    Lookup(String),
}

/// What delegation adds to the chain.
#[derive(Default)]
pub struct Delegation {
    /// Bearer tokens by `TokenReview`.
    pub token_review: Option<Arc<dyn Authenticator>>,
    /// Authorization by `SubjectAccessReview`.
    pub authorizer: Option<Arc<dyn Authorizer>>,
    /// The ConfigMap-fed client CA and front-proxy settings.
    pub extension_config: Option<Arc<ExtensionConfigRefresher>>,
}

/// Builds what the flags ask for. `client_ca_given` / `requestheader_ca_given`: whether
/// `--client-ca-file` / `--requestheader-client-ca-file` were set (then the ConfigMap is not
/// consulted for them, as upstream).
pub async fn setup(
    options: &DelegationOptions,
    client_ca_given: bool,
    requestheader_ca_given: bool,
) -> Result<Delegation, DelegationError> {
    let mut delegation = Delegation::default();
    let authn_client = match &options.authentication_kubeconfig {
        Some(path) => Some(client_from_kubeconfig("authentication", path, REVIEW_TIMEOUT).await?),
        None => in_cluster_client("authentication", REVIEW_TIMEOUT)?,
    };
    if let Some(client) = authn_client {
        let reviewer =
            Arc::new(KubeTokenReviewer(ReviewCall::new(client.clone(), Backoff::default(), REVIEW_TIMEOUT)));
        delegation.token_review = Some(Arc::new(TokenReviewAuthenticator::new(
            reviewer,
            options.authentication_token_webhook_cache_ttl,
        )));
        let want_client_ca = !client_ca_given && !options.authentication_skip_lookup;
        let want_request_header = !requestheader_ca_given && !options.authentication_skip_lookup;
        if want_client_ca || want_request_header {
            let source = Arc::new(KubeConfigMapSource::new(client));
            let refresher =
                Arc::new(ExtensionConfigRefresher::new(source, want_client_ca, want_request_header));
            if let Err(error) = refresher.refresh().await {
                if options.authentication_tolerate_lookup_failure || !want_request_header {
                    tracing::warn!(%error, "error looking up in-cluster authentication configuration; continuing without it");
                } else {
                    return Err(DelegationError::Lookup(error));
                }
            }
            delegation.extension_config = Some(refresher);
        }
    }
    let authz_client = match &options.authorization_kubeconfig {
        Some(path) => Some(client_from_kubeconfig("authorization", path, REVIEW_TIMEOUT).await?),
        None => in_cluster_client("authorization", REVIEW_TIMEOUT)?,
    };
    if let Some(client) = authz_client {
        let reviewer =
            Arc::new(KubeAccessReviewer(ReviewCall::new(client, Backoff::default(), REVIEW_TIMEOUT)));
        delegation.authorizer = Some(Arc::new(SubjectAccessReviewAuthorizer::new(
            reviewer,
            options.authorization_webhook_cache_authorized_ttl,
            options.authorization_webhook_cache_unauthorized_ttl,
        )));
    }
    Ok(delegation)
}
