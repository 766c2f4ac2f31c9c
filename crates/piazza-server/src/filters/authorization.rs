//! Authorization: may this user do this? Authorizers are asked in order; the first
//! decision that is not "no opinion" wins, and no opinion at the end is a denial. An
//! authorizer that could not decide (a `SubjectAccessReview` that never got an answer) is
//! passed over like "no opinion", but if nothing allows or denies afterwards the request is
//! a 500 rather than a 403, as upstream's union authorizer and authorization filter.

use std::sync::Arc;

use async_trait::async_trait;
use piazza_codec::Format;
use piazza_core::request_info::RequestInfo;
use piazza_core::user::{ANONYMOUS_USER, MASTERS_GROUP};
use piazza_core::{ApiError, GroupResource, UserInfo};

use super::Next;
use super::authentication::path_matches;
use crate::body::{Request, Response};
use crate::response::error_response;

/// An authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied, with a reason.
    Deny(String),
    /// Let the next authorizer decide.
    NoOpinion,
    /// No decision could be made (for example the cluster did not answer); the next
    /// authorizer decides, and if none does the request fails with a 500 carrying this.
    Error(String),
}

/// One source of authorization decisions.
#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    /// Decides for `user` doing what `info` describes.
    async fn authorize(&self, user: &UserInfo, info: &RequestInfo) -> Decision;
}

/// Allows listed paths (`/healthz`, `/readyz*`…) to everyone.
pub struct AlwaysAllowPaths(pub Vec<String>);

#[async_trait]
impl Authorizer for AlwaysAllowPaths {
    async fn authorize(&self, _user: &UserInfo, info: &RequestInfo) -> Decision {
        if !info.is_resource_request && path_matches(&self.0, &info.path) {
            Decision::Allow
        } else {
            Decision::NoOpinion
        }
    }
}

/// Allows members of privileged groups (`system:masters`) everything.
pub struct PrivilegedGroups(pub Vec<String>);

impl Default for PrivilegedGroups {
    fn default() -> Self {
        Self(vec![MASTERS_GROUP.to_owned()])
    }
}

#[async_trait]
impl Authorizer for PrivilegedGroups {
    async fn authorize(&self, user: &UserInfo, _info: &RequestInfo) -> Decision {
        if self.0.iter().any(|g| user.in_group(g)) { Decision::Allow } else { Decision::NoOpinion }
    }
}

/// The upstream "forbidden" message.
pub fn forbidden_message(user: &UserInfo, info: &RequestInfo, reason: &str) -> String {
    let mut message = if info.is_resource_request {
        let resource = if info.subresource.is_empty() {
            info.resource.clone()
        } else {
            format!("{}/{}", info.resource, info.subresource)
        };
        let mut m = format!(
            "{} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\"",
            if info.name.is_empty() {
                GroupResource::new(&info.api_group, &info.resource).to_string()
            } else {
                format!("{} \"{}\"", GroupResource::new(&info.api_group, &info.resource), info.name)
            },
            user.name,
            info.verb,
            info.api_group
        );
        if info.namespace.is_empty() {
            m.push_str(" at the cluster scope");
        } else {
            m.push_str(&format!(" in the namespace \"{}\"", info.namespace));
        }
        m
    } else {
        format!("forbidden: User \"{}\" cannot {} path \"{}\"", user.name, info.verb, info.path)
    };
    if !reason.is_empty() {
        message.push_str(": ");
        message.push_str(reason);
    }
    message
}

/// Asks each authorizer in turn.
pub async fn authorize(
    authorizers: &[Arc<dyn Authorizer>],
    user: &UserInfo,
    info: &RequestInfo,
) -> Result<(), ApiError> {
    let mut reason = String::new();
    let mut errors: Vec<String> = Vec::new();
    for authorizer in authorizers {
        match authorizer.authorize(user, info).await {
            Decision::Allow => return Ok(()),
            Decision::Deny(why) => {
                reason = why;
                errors.clear();
                break;
            }
            Decision::NoOpinion => {}
            Decision::Error(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::internal(errors.join(", ")));
    }
    if user.name == ANONYMOUS_USER {
        // Anonymous callers are told to authenticate rather than that they are forbidden.
        return Err(ApiError::unauthorized());
    }
    let mut err =
        ApiError::new(403, piazza_core::StatusReason::Forbidden, forbidden_message(user, info, &reason));
    if info.is_resource_request {
        err.details = Some(Box::new(piazza_core::meta::StatusDetails {
            name: (!info.name.is_empty()).then(|| info.name.clone()),
            group: Some(info.api_group.clone()),
            kind: Some(info.resource.clone()),
            ..Default::default()
        }));
    }
    Err(err)
}

/// The filter function.
pub async fn authorize_request(
    authorizers: Arc<Vec<Arc<dyn Authorizer>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(info) = request.extensions().get::<RequestInfo>() else {
        return error_response(&ApiError::internal("request info missing"), Format::Json);
    };
    let anonymous;
    let user = match request.extensions().get::<UserInfo>() {
        Some(user) => user,
        None => {
            anonymous = UserInfo::anonymous();
            &anonymous
        }
    };
    match authorize(&authorizers, user, info).await {
        Ok(()) => next.run(request).await,
        Err(e) => error_response(&e, Format::Json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piazza_core::request_info::RequestInfoFactory;

    fn info(method: &str, path: &str) -> RequestInfo {
        RequestInfoFactory::default().parse(method, path, None).unwrap()
    }

    fn standalone() -> Vec<Arc<dyn Authorizer>> {
        vec![
            Arc::new(AlwaysAllowPaths(vec!["/healthz*".into(), "/livez*".into(), "/readyz*".into()])),
            Arc::new(PrivilegedGroups::default()),
        ]
    }

    #[tokio::test]
    async fn masters_may_do_anything() {
        let admin =
            UserInfo { name: "admin".into(), groups: vec![MASTERS_GROUP.into()], ..Default::default() };
        assert!(
            authorize(&standalone(), &admin, &info("DELETE", "/apis/g/v1/namespaces/a/pizzas/x"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn others_are_forbidden_with_upstream_message() {
        let bob = UserInfo {
            name: "bob".into(),
            groups: vec!["system:authenticated".into()],
            ..Default::default()
        };
        let err = authorize(&standalone(), &bob, &info("GET", "/apis/g.io/v1/namespaces/default/pizzas"))
            .await
            .unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            "pizzas.g.io is forbidden: User \"bob\" cannot list resource \"pizzas\" in API group \"g.io\" in the namespace \"default\""
        );
        let err = authorize(&standalone(), &bob, &info("GET", "/metrics")).await.unwrap_err();
        assert_eq!(err.message, "forbidden: User \"bob\" cannot get path \"/metrics\"");
    }

    struct Failing;

    #[async_trait]
    impl Authorizer for Failing {
        async fn authorize(&self, _user: &UserInfo, _info: &RequestInfo) -> Decision {
            Decision::Error("connection refused".into())
        }
    }

    #[tokio::test]
    async fn an_authorizer_that_cannot_decide_fails_closed_with_500() {
        let mut authorizers = standalone();
        authorizers.push(Arc::new(Failing));
        let bob = UserInfo { name: "bob".into(), ..Default::default() };
        let err = authorize(&authorizers, &bob, &info("GET", "/apis/g.io/v1/pizzas")).await.unwrap_err();
        assert_eq!(err.code, 500);
        assert_eq!(err.message, "Internal error occurred: connection refused");
        // What decides before it still decides.
        assert!(authorize(&authorizers, &bob, &info("GET", "/healthz")).await.is_ok());
    }

    #[tokio::test]
    async fn anonymous_gets_401_except_health() {
        let anon = UserInfo::anonymous();
        assert_eq!(authorize(&standalone(), &anon, &info("GET", "/apis")).await.unwrap_err().code, 401);
        assert!(authorize(&standalone(), &anon, &info("GET", "/readyz/ping")).await.is_ok());
    }
}
