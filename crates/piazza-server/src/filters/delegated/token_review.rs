//! Bearer tokens checked with a `TokenReview` (authentication.k8s.io/v1), as upstream's
//! webhook token authenticator behind its cache.
//!
//! - Answers are cached by a hash of the token (never the token itself): successes and
//!   failures alike for `--authentication-token-webhook-cache-ttl` (10 s), as upstream's
//!   delegating authenticator.
//! - A review that does not authenticate, or a cluster that cannot answer (connection
//!   refused, 5xx after the retries, timeout), is a 401: tokens fail closed. Errors reaching
//!   the cluster are not cached, so recovery is immediate.
//! - A reviewed user joins `system:authenticated` unless already in it or in
//!   `system:unauthenticated` (upstream's authenticated-group adder).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus};
use piazza_core::user::{ANONYMOUS_USER, AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP};
use piazza_core::{ApiError, UserInfo};
use sha2::{Digest, Sha256};

use super::client::ReviewCall;
use super::retry::CallError;
use super::ttl_cache::{DEFAULT_MAX_ENTRIES, TtlCache};
use crate::filters::authentication::Authenticator;
use crate::filters::token_file::bearer_token;

/// Asks the cluster about a token.
#[async_trait]
pub trait TokenReviewer: Send + Sync + 'static {
    /// The review's status for `token`.
    async fn review(&self, token: &str) -> Result<TokenReviewStatus, CallError>;
}

/// [`TokenReviewer`] over a `kube::Client`: `POST /apis/authentication.k8s.io/v1/tokenreviews`.
pub struct KubeTokenReviewer(pub ReviewCall<TokenReview>);

#[async_trait]
impl TokenReviewer for KubeTokenReviewer {
    async fn review(&self, token: &str) -> Result<TokenReviewStatus, CallError> {
        let review = TokenReview {
            spec: TokenReviewSpec { token: token.to_owned(), audiences: None },
            ..Default::default()
        };
        self.0.create(&review).await.map(|answer| answer.status.unwrap_or_default())
    }
}

/// The user a review authenticated, or `None` when it did not.
pub fn user_from_status(status: &TokenReviewStatus) -> Option<UserInfo> {
    if status.authenticated != Some(true) {
        return None;
    }
    let reviewed = status.user.clone().unwrap_or_default();
    let mut user = UserInfo {
        name: reviewed.username.unwrap_or_default(),
        uid: reviewed.uid.unwrap_or_default(),
        groups: reviewed.groups.unwrap_or_default(),
        extra: reviewed.extra.unwrap_or_default().into_iter().collect(),
    };
    if user.name != ANONYMOUS_USER
        && !user.groups.iter().any(|g| g == AUTHENTICATED_GROUP || g == UNAUTHENTICATED_GROUP)
    {
        user.groups.push(AUTHENTICATED_GROUP.to_owned());
    }
    Some(user)
}

/// The cache key of a token: its SHA-256, hex.
fn token_key(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Authenticates `Authorization: Bearer <token>` with cached `TokenReview`s.
pub struct TokenReviewAuthenticator {
    reviewer: Arc<dyn TokenReviewer>,
    cache: TtlCache<Option<UserInfo>>,
    ttl: Duration,
}

impl TokenReviewAuthenticator {
    /// Reviews with `reviewer`, caching answers for `ttl` (zero: no caching).
    pub fn new(reviewer: Arc<dyn TokenReviewer>, ttl: Duration) -> Self {
        Self { reviewer, cache: TtlCache::new(DEFAULT_MAX_ENTRIES), ttl }
    }

    /// The user for `token`: from the cache, else from a review.
    pub async fn authenticate_token(&self, token: &str) -> Result<UserInfo, ApiError> {
        let key = token_key(token);
        let answer = match self.cache.get(&key, Instant::now()) {
            Some(answer) => answer,
            None => match self.reviewer.review(token).await {
                Ok(status) => {
                    if let Some(error) = status.error.as_deref().filter(|e| !e.is_empty()) {
                        tracing::debug!(%error, "token review failed");
                    }
                    let answer = user_from_status(&status);
                    self.cache.insert(key, answer.clone(), self.ttl, Instant::now());
                    answer
                }
                Err(error) => {
                    tracing::warn!(%error, "token review call failed; the token is refused");
                    None
                }
            },
        };
        answer.ok_or_else(ApiError::unauthorized)
    }
}

#[async_trait]
impl Authenticator for TokenReviewAuthenticator {
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>, ApiError> {
        let Some(token) = bearer_token(request) else { return Ok(None) };
        self.authenticate_token(token).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::authentication::v1::UserInfo as ReviewedUser;
    use std::sync::Mutex;

    /// Answers from a script and counts calls.
    struct Scripted {
        answer: Mutex<Result<TokenReviewStatus, CallError>>,
        calls: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl TokenReviewer for Scripted {
        async fn review(&self, token: &str) -> Result<TokenReviewStatus, CallError> {
            self.calls.lock().unwrap().push(token.to_owned());
            self.answer.lock().unwrap().clone()
        }
    }

    fn authenticated(name: &str, groups: &[&str]) -> TokenReviewStatus {
        TokenReviewStatus {
            authenticated: Some(true),
            user: Some(ReviewedUser {
                username: Some(name.to_owned()),
                uid: Some("u-1".to_owned()),
                groups: Some(groups.iter().map(|g| (*g).to_owned()).collect()),
                extra: Some([("scopes".to_owned(), vec!["a".to_owned()])].into_iter().collect()),
            }),
            ..Default::default()
        }
    }

    fn scripted(answer: Result<TokenReviewStatus, CallError>) -> Arc<Scripted> {
        Arc::new(Scripted { answer: Mutex::new(answer), calls: Mutex::new(Vec::new()) })
    }

    #[test]
    fn reviewed_users_join_system_authenticated_once() {
        let user = user_from_status(&authenticated("alice", &["devs"])).unwrap();
        assert_eq!(user.name, "alice");
        assert_eq!(user.uid, "u-1");
        assert_eq!(user.groups, vec!["devs", AUTHENTICATED_GROUP]);
        assert_eq!(user.extra["scopes"], vec!["a"]);
        let user = user_from_status(&authenticated("bob", &[AUTHENTICATED_GROUP])).unwrap();
        assert_eq!(user.groups, vec![AUTHENTICATED_GROUP]);
        assert!(user_from_status(&TokenReviewStatus::default()).is_none());
        let refused = TokenReviewStatus { authenticated: Some(false), ..authenticated("x", &[]) };
        assert!(user_from_status(&refused).is_none());
    }

    #[tokio::test]
    async fn successes_and_failures_are_cached_by_token() {
        let reviewer = scripted(Ok(authenticated("alice", &[])));
        let auth = TokenReviewAuthenticator::new(reviewer.clone(), Duration::from_secs(60));
        assert_eq!(auth.authenticate_token("t1").await.unwrap().name, "alice");
        assert_eq!(auth.authenticate_token("t1").await.unwrap().name, "alice");
        assert_eq!(reviewer.calls.lock().unwrap().len(), 1);
        *reviewer.answer.lock().unwrap() = Ok(TokenReviewStatus::default());
        assert_eq!(auth.authenticate_token("t2").await.unwrap_err().code, 401);
        assert_eq!(auth.authenticate_token("t2").await.unwrap_err().code, 401);
        assert_eq!(*reviewer.calls.lock().unwrap(), vec!["t1", "t2"]);
        // The cached success outlives the change of answer.
        assert_eq!(auth.authenticate_token("t1").await.unwrap().name, "alice");
    }

    #[tokio::test]
    async fn outages_fail_closed_and_are_not_cached() {
        let reviewer = scripted(Err(CallError::Permanent("connection refused".into())));
        let auth = TokenReviewAuthenticator::new(reviewer.clone(), Duration::from_secs(60));
        assert_eq!(auth.authenticate_token("t").await.unwrap_err().code, 401);
        *reviewer.answer.lock().unwrap() = Ok(authenticated("alice", &[]));
        assert_eq!(auth.authenticate_token("t").await.unwrap().name, "alice");
        assert_eq!(reviewer.calls.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn requests_without_a_bearer_token_are_not_its_business() {
        let reviewer = scripted(Ok(authenticated("alice", &[])));
        let auth = TokenReviewAuthenticator::new(reviewer.clone(), Duration::from_secs(60));
        let parts =
            |v: &str| http::Request::builder().header("authorization", v).body(()).unwrap().into_parts().0;
        assert!(auth.authenticate(&parts("Basic Zm9v")).await.unwrap().is_none());
        assert_eq!(auth.authenticate(&parts("Bearer abc")).await.unwrap().unwrap().name, "alice");
        assert_eq!(*reviewer.calls.lock().unwrap(), vec!["abc"]);
    }
}
