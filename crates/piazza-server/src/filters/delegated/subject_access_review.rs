//! Authorization by `SubjectAccessReview` (authorization.k8s.io/v1), as upstream's webhook
//! authorizer in its delegating configuration.
//!
//! - The review names the user (name, uid, groups, extra) and either the resource attributes
//!   (namespace, verb, group, version, resource, subresource, name) of a resource request or
//!   the non-resource attributes (path, verb) of any other.
//! - Allowed answers are cached for `--authorization-webhook-cache-authorized-ttl`, others
//!   for `--authorization-webhook-cache-unauthorized-ttl` (10 s each), keyed by the review.
//! - Not allowed: a denial carrying the review's reason (the reviewer is the last authorizer,
//!   so "no opinion" ends in the same 403).
//! - A cluster that cannot answer is an error, which the chain turns into a 500, as upstream's
//!   authorization filter does: the request fails closed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
    SubjectAccessReviewStatus,
};
use piazza_core::UserInfo;
use piazza_core::request_info::RequestInfo;

use super::client::ReviewCall;
use super::retry::CallError;
use super::ttl_cache::{DEFAULT_MAX_ENTRIES, TtlCache};
use crate::filters::authorization::{Authorizer, Decision};

/// Asks the cluster whether a subject may do something.
#[async_trait]
pub trait AccessReviewer: Send + Sync + 'static {
    /// The review's status for `spec`.
    async fn review(&self, spec: &SubjectAccessReviewSpec) -> Result<SubjectAccessReviewStatus, CallError>;
}

/// [`AccessReviewer`] over a `kube::Client`:
/// `POST /apis/authorization.k8s.io/v1/subjectaccessreviews`.
pub struct KubeAccessReviewer(pub ReviewCall<SubjectAccessReview>);

#[async_trait]
impl AccessReviewer for KubeAccessReviewer {
    async fn review(&self, spec: &SubjectAccessReviewSpec) -> Result<SubjectAccessReviewStatus, CallError> {
        let review = SubjectAccessReview { spec: spec.clone(), ..Default::default() };
        self.0.create(&review).await.map(|answer| answer.status.unwrap_or_default())
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// The review asking whether `user` may do what `info` describes.
pub fn review_spec(user: &UserInfo, info: &RequestInfo) -> SubjectAccessReviewSpec {
    let mut spec = SubjectAccessReviewSpec {
        user: non_empty(&user.name),
        uid: non_empty(&user.uid),
        groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
        extra: (!user.extra.is_empty()).then(|| user.extra.clone().into_iter().collect()),
        ..Default::default()
    };
    if info.is_resource_request {
        spec.resource_attributes = Some(ResourceAttributes {
            namespace: non_empty(&info.namespace),
            verb: non_empty(&info.verb),
            group: non_empty(&info.api_group),
            version: non_empty(&info.api_version),
            resource: non_empty(&info.resource),
            subresource: non_empty(&info.subresource),
            name: non_empty(&info.name),
            ..Default::default()
        });
    } else {
        spec.non_resource_attributes =
            Some(NonResourceAttributes { path: non_empty(&info.path), verb: non_empty(&info.verb) });
    }
    spec
}

/// The decision a review's status means.
pub fn decision_from_status(status: &SubjectAccessReviewStatus) -> Decision {
    if status.allowed { Decision::Allow } else { Decision::Deny(status.reason.clone().unwrap_or_default()) }
}

/// Authorizes with cached `SubjectAccessReview`s.
pub struct SubjectAccessReviewAuthorizer {
    reviewer: Arc<dyn AccessReviewer>,
    cache: TtlCache<Decision>,
    allowed_ttl: Duration,
    denied_ttl: Duration,
}

impl SubjectAccessReviewAuthorizer {
    /// Reviews with `reviewer`, caching allowed answers for `allowed_ttl` and others for
    /// `denied_ttl` (zero: not cached).
    pub fn new(reviewer: Arc<dyn AccessReviewer>, allowed_ttl: Duration, denied_ttl: Duration) -> Self {
        Self { reviewer, cache: TtlCache::new(DEFAULT_MAX_ENTRIES), allowed_ttl, denied_ttl }
    }
}

#[async_trait]
impl Authorizer for SubjectAccessReviewAuthorizer {
    async fn authorize(&self, user: &UserInfo, info: &RequestInfo) -> Decision {
        let spec = review_spec(user, info);
        let key = match serde_json::to_string(&spec) {
            Ok(key) => key,
            Err(e) => return Decision::Error(e.to_string()),
        };
        if let Some(decision) = self.cache.get(&key, Instant::now()) {
            return decision;
        }
        match self.reviewer.review(&spec).await {
            Ok(status) => {
                let decision = decision_from_status(&status);
                let ttl = if decision == Decision::Allow { self.allowed_ttl } else { self.denied_ttl };
                self.cache.insert(key, decision.clone(), ttl, Instant::now());
                decision
            }
            Err(error) => {
                tracing::warn!(%error, "subject access review call failed; the request is refused");
                Decision::Error(error.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piazza_core::request_info::RequestInfoFactory;
    use std::sync::Mutex;

    struct Scripted {
        answer: Mutex<Result<SubjectAccessReviewStatus, CallError>>,
        calls: Mutex<Vec<SubjectAccessReviewSpec>>,
    }

    #[async_trait]
    impl AccessReviewer for Scripted {
        async fn review(
            &self,
            spec: &SubjectAccessReviewSpec,
        ) -> Result<SubjectAccessReviewStatus, CallError> {
            self.calls.lock().unwrap().push(spec.clone());
            self.answer.lock().unwrap().clone()
        }
    }

    fn scripted(answer: Result<SubjectAccessReviewStatus, CallError>) -> Arc<Scripted> {
        Arc::new(Scripted { answer: Mutex::new(answer), calls: Mutex::new(Vec::new()) })
    }

    fn allowed(allowed: bool, reason: &str) -> SubjectAccessReviewStatus {
        SubjectAccessReviewStatus { allowed, reason: non_empty(reason), ..Default::default() }
    }

    fn info(method: &str, path: &str) -> RequestInfo {
        RequestInfoFactory::default().parse(method, path, None).unwrap()
    }

    fn bob() -> UserInfo {
        UserInfo {
            name: "bob".into(),
            uid: "42".into(),
            groups: vec!["devs".into(), "system:authenticated".into()],
            extra: [("scopes".to_owned(), vec!["x".to_owned()])].into_iter().collect(),
        }
    }

    #[test]
    fn resource_requests_carry_every_attribute() {
        let spec = review_spec(&bob(), &info("GET", "/apis/g.io/v1/namespaces/ns/pizzas/p/status"));
        assert_eq!(spec.user.as_deref(), Some("bob"));
        assert_eq!(spec.uid.as_deref(), Some("42"));
        assert_eq!(spec.groups, Some(vec!["devs".to_owned(), "system:authenticated".to_owned()]));
        assert_eq!(spec.extra.unwrap()["scopes"], vec!["x"]);
        let attrs = spec.resource_attributes.unwrap();
        assert_eq!(attrs.namespace.as_deref(), Some("ns"));
        assert_eq!(attrs.verb.as_deref(), Some("get"));
        assert_eq!(attrs.group.as_deref(), Some("g.io"));
        assert_eq!(attrs.version.as_deref(), Some("v1"));
        assert_eq!(attrs.resource.as_deref(), Some("pizzas"));
        assert_eq!(attrs.subresource.as_deref(), Some("status"));
        assert_eq!(attrs.name.as_deref(), Some("p"));
        assert!(spec.non_resource_attributes.is_none());
    }

    #[test]
    fn other_requests_carry_path_and_verb() {
        let spec = review_spec(&bob(), &info("GET", "/metrics"));
        assert!(spec.resource_attributes.is_none());
        let attrs = spec.non_resource_attributes.unwrap();
        assert_eq!((attrs.path.as_deref(), attrs.verb.as_deref()), (Some("/metrics"), Some("get")));
        let list = review_spec(&bob(), &info("GET", "/api/v1/pods"));
        let attrs = list.resource_attributes.unwrap();
        assert_eq!((attrs.group, attrs.namespace, attrs.verb.as_deref()), (None, None, Some("list")));
    }

    #[test]
    fn statuses_become_decisions() {
        assert_eq!(decision_from_status(&allowed(true, "")), Decision::Allow);
        assert_eq!(decision_from_status(&allowed(false, "no RBAC")), Decision::Deny("no RBAC".into()));
        assert_eq!(decision_from_status(&allowed(false, "")), Decision::Deny(String::new()));
    }

    #[tokio::test]
    async fn answers_are_cached_per_review_with_their_own_ttl() {
        let reviewer = scripted(Ok(allowed(true, "")));
        let authz =
            SubjectAccessReviewAuthorizer::new(reviewer.clone(), Duration::from_secs(60), Duration::ZERO);
        let get = info("GET", "/apis/g.io/v1/namespaces/ns/pizzas/p");
        assert_eq!(authz.authorize(&bob(), &get).await, Decision::Allow);
        assert_eq!(authz.authorize(&bob(), &get).await, Decision::Allow);
        assert_eq!(reviewer.calls.lock().unwrap().len(), 1);
        // A different verb is a different review.
        *reviewer.answer.lock().unwrap() = Ok(allowed(false, "nope"));
        let delete = info("DELETE", "/apis/g.io/v1/namespaces/ns/pizzas/p");
        assert_eq!(authz.authorize(&bob(), &delete).await, Decision::Deny("nope".into()));
        // Denials are not cached with a zero unauthorized TTL.
        assert_eq!(authz.authorize(&bob(), &delete).await, Decision::Deny("nope".into()));
        assert_eq!(reviewer.calls.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn outages_are_errors_and_not_cached() {
        let reviewer = scripted(Err(CallError::Transient("the server is down".into())));
        let authz = SubjectAccessReviewAuthorizer::new(
            reviewer.clone(),
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        let get = info("GET", "/metrics");
        assert_eq!(authz.authorize(&bob(), &get).await, Decision::Error("the server is down".into()));
        *reviewer.answer.lock().unwrap() = Ok(allowed(true, ""));
        assert_eq!(authz.authorize(&bob(), &get).await, Decision::Allow);
    }
}
