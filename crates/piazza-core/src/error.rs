//! [`ApiError`]: every failure a client can see, carrying the HTTP code, the upstream
//! `StatusReason` and message. It becomes a `metav1.Status` at exactly one boundary
//! (the server's response encoder) through [`ApiError::to_status`].

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

use crate::field::FieldErrors;
use crate::gvk::{GroupKind, GroupResource};

/// The machine-readable reason of a failed request (`metav1.StatusReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusReason {
    /// 401: the request has no valid credentials.
    Unauthorized,
    /// 403: the user may not do this.
    Forbidden,
    /// 404: the resource does not exist.
    NotFound,
    /// 409: the resource already exists.
    AlreadyExists,
    /// 409: a write conflicted with another (optimistic concurrency).
    Conflict,
    /// 410: the requested revision is no longer available.
    Gone,
    /// 410: the requested revision was compacted away.
    Expired,
    /// 422: the object failed validation.
    Invalid,
    /// 504: the request or a storage read timed out.
    Timeout,
    /// 429: too many requests.
    TooManyRequests,
    /// 400: the request itself is malformed.
    BadRequest,
    /// 405: the verb is not supported on this resource.
    MethodNotAllowed,
    /// 406: no acceptable response media type.
    NotAcceptable,
    /// 413: the body is too large.
    RequestEntityTooLarge,
    /// 415: the body's media type is not supported.
    UnsupportedMediaType,
    /// 500: an internal error.
    InternalError,
    /// 503: the server cannot serve now.
    ServiceUnavailable,
}

impl StatusReason {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "NotFound",
            Self::AlreadyExists => "AlreadyExists",
            Self::Conflict => "Conflict",
            Self::Gone => "Gone",
            Self::Expired => "Expired",
            Self::Invalid => "Invalid",
            Self::Timeout => "Timeout",
            Self::TooManyRequests => "TooManyRequests",
            Self::BadRequest => "BadRequest",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::NotAcceptable => "NotAcceptable",
            Self::RequestEntityTooLarge => "RequestEntityTooLarge",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::InternalError => "InternalError",
            Self::ServiceUnavailable => "ServiceUnavailable",
        }
    }
}

/// An error a client sees, with everything needed to build its `metav1.Status`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// The upstream reason.
    pub reason: StatusReason,
    /// The human message.
    pub message: String,
    /// Optional details (name, group, kind, causes).
    pub details: Option<Box<StatusDetails>>,
    /// Seconds a client should wait before retrying, sent as `Retry-After`.
    pub retry_after_seconds: Option<u32>,
    /// A continue token carried in the Status's list metadata (410 for a compacted
    /// continue token: the token that continues at the latest revision).
    pub continue_token: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

fn details(group: &str, kind: &str, name: &str) -> StatusDetails {
    StatusDetails {
        name: (!name.is_empty()).then(|| name.to_owned()),
        group: Some(group.to_owned()),
        kind: Some(kind.to_owned()),
        ..Default::default()
    }
}

impl ApiError {
    /// An error with no details.
    pub fn new(code: u16, reason: StatusReason, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after_seconds: None,
            continue_token: None,
        }
    }

    /// 404: `pizzas.g "x" not found`.
    pub fn not_found(resource: &GroupResource, name: &str) -> Self {
        Self {
            details: Some(Box::new(details(&resource.group, &resource.resource, name))),
            ..Self::new(404, StatusReason::NotFound, format!("{resource} \"{name}\" not found"))
        }
    }

    /// 409: `pizzas.g "x" already exists`.
    pub fn already_exists(resource: &GroupResource, name: &str) -> Self {
        Self {
            details: Some(Box::new(details(&resource.group, &resource.resource, name))),
            ..Self::new(409, StatusReason::AlreadyExists, format!("{resource} \"{name}\" already exists"))
        }
    }

    /// 409 with the upstream optimistic-lock message.
    pub fn optimistic_lock_conflict(resource: &GroupResource, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409: `Operation cannot be fulfilled on pizzas.g "x": <reason>`.
    pub fn conflict(resource: &GroupResource, name: &str, reason: &str) -> Self {
        Self {
            details: Some(Box::new(details(&resource.group, &resource.resource, name))),
            ..Self::new(
                409,
                StatusReason::Conflict,
                format!("Operation cannot be fulfilled on {resource} \"{name}\": {reason}"),
            )
        }
    }

    /// 422: `Pizza.g "x" is invalid: <field errors>`, with one cause per field error.
    pub fn invalid(kind: &GroupKind, name: &str, errors: &FieldErrors) -> Self {
        let causes = errors
            .iter()
            .map(|e| StatusCause {
                reason: Some(e.error_type.cause_type().to_owned()),
                message: Some(e.body()),
                field: Some(e.field.to_string()),
            })
            .collect();
        let mut d = details(&kind.group, &kind.kind, name);
        d.causes = Some(causes);
        Self {
            details: Some(Box::new(d)),
            ..Self::new(422, StatusReason::Invalid, format!("{kind} \"{name}\" is invalid: {errors}"))
        }
    }

    /// 403 for an object: `pizzas.g "x" is forbidden: <reason>` (admission rejections).
    pub fn forbidden(resource: &GroupResource, name: &str, reason: impl fmt::Display) -> Self {
        let message = if name.is_empty() {
            format!("{resource} is forbidden: {reason}")
        } else {
            format!("{resource} \"{name}\" is forbidden: {reason}")
        };
        Self {
            details: Some(Box::new(details(&resource.group, &resource.resource, name))),
            ..Self::new(403, StatusReason::Forbidden, message)
        }
    }

    /// 400 with a free message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, StatusReason::BadRequest, message)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(401, StatusReason::Unauthorized, "Unauthorized")
    }

    /// 405, with the upstream message for a method a route does not serve.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            StatusReason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        )
    }

    /// 406: no producible media type among those the client accepts.
    pub fn not_acceptable(supported: &[&str]) -> Self {
        Self::new(
            406,
            StatusReason::NotAcceptable,
            format!("only the following media types are accepted: {}", supported.join(", ")),
        )
    }

    /// 415: the request body's media type is unknown.
    pub fn unsupported_media_type(supported: &[&str]) -> Self {
        Self::new(
            415,
            StatusReason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                supported.join(", ")
            ),
        )
    }

    /// 413: the body exceeds the limit.
    pub fn request_entity_too_large(limit: usize) -> Self {
        Self::new(
            413,
            StatusReason::RequestEntityTooLarge,
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 413 with a specific message.
    pub fn request_entity_too_large_message(message: impl Into<String>) -> Self {
        Self::new(413, StatusReason::RequestEntityTooLarge, message)
    }

    /// 410 (Expired): the requested revision was compacted.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, StatusReason::Expired, message)
    }

    /// 504 (Timeout) with the `ResourceVersionTooLarge` cause, for reads at a future revision.
    pub fn resource_version_too_large(requested: u64, current: u64) -> Self {
        let d = StatusDetails {
            causes: Some(vec![StatusCause {
                reason: Some("ResourceVersionTooLarge".to_owned()),
                message: Some("Too large resource version".to_owned()),
                field: None,
            }]),
            retry_after_seconds: Some(1),
            ..Default::default()
        };
        Self {
            details: Some(Box::new(d)),
            retry_after_seconds: Some(1),
            ..Self::new(
                504,
                StatusReason::Timeout,
                format!("Timeout: Too large resource version: {requested}, current: {current}"),
            )
        }
    }

    /// 504: the request did not finish in time.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, StatusReason::Timeout, message)
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after_seconds: u32) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds),
            details: Some(Box::new(StatusDetails {
                retry_after_seconds: Some(retry_after_seconds as i32),
                ..Default::default()
            })),
            ..Self::new(429, StatusReason::TooManyRequests, "Too many requests, please try again later.")
        }
    }

    /// 503.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, StatusReason::ServiceUnavailable, message)
    }

    /// 500: `Internal error occurred: <message>`.
    pub fn internal(message: impl fmt::Display) -> Self {
        Self {
            details: Some(Box::new(StatusDetails {
                causes: Some(vec![StatusCause { message: Some(message.to_string()), ..Default::default() }]),
                ..Default::default()
            })),
            ..Self::new(500, StatusReason::InternalError, format!("Internal error occurred: {message}"))
        }
    }

    /// The `metav1.Status` body for this error.
    pub fn to_status(&self) -> Status {
        Status {
            code: Some(i32::from(self.code)),
            details: self.details.as_deref().cloned(),
            message: Some(self.message.clone()),
            reason: Some(self.reason.as_str().to_owned()),
            status: Some("Failure".to_owned()),
            metadata: list_meta(self.continue_token.clone()),
        }
    }
}

fn list_meta(continue_token: Option<String>) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta {
        continue_: continue_token,
        ..Default::default()
    }
}

/// The `metav1.Status` of a successful delete and similar answers.
pub fn success_status(details: Option<StatusDetails>) -> Status {
    Status { status: Some("Success".to_owned()), details, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldError, FieldPath};

    fn pizzas() -> GroupResource {
        GroupResource::new("restaurant.programming-kubernetes.info", "pizzas")
    }

    #[test]
    fn not_found_matches_upstream() {
        let e = ApiError::not_found(&pizzas(), "margherita");
        assert_eq!(e.code, 404);
        assert_eq!(e.message, "pizzas.restaurant.programming-kubernetes.info \"margherita\" not found");
        let json = serde_json::to_value(e.to_status()).unwrap();
        assert_eq!(json["kind"], "Status");
        assert_eq!(json["apiVersion"], "v1");
        assert_eq!(json["status"], "Failure");
        assert_eq!(json["reason"], "NotFound");
        assert_eq!(json["code"], 404);
        assert_eq!(json["details"]["kind"], "pizzas");
        assert_eq!(json["details"]["name"], "margherita");
    }

    #[test]
    fn conflict_uses_the_optimistic_lock_message() {
        let e = ApiError::optimistic_lock_conflict(&pizzas(), "m");
        assert_eq!(
            e.message,
            "Operation cannot be fulfilled on pizzas.restaurant.programming-kubernetes.info \"m\": the object has been modified; please apply your changes to the latest version and try again"
        );
        assert_eq!(e.reason, StatusReason::Conflict);
    }

    #[test]
    fn invalid_carries_causes() {
        let errs: FieldErrors =
            [FieldError::invalid(FieldPath::new("spec").child("cost"), -1, "must be positive")]
                .into_iter()
                .collect();
        let e = ApiError::invalid(&GroupKind::new("g.io", "Topping"), "x", &errs);
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "Topping.g.io \"x\" is invalid: spec.cost: Invalid value: -1: must be positive"
        );
        let causes = e.details.unwrap().causes.unwrap();
        assert_eq!(causes[0].field.as_deref(), Some("spec.cost"));
        assert_eq!(causes[0].reason.as_deref(), Some("FieldValueInvalid"));
        assert_eq!(causes[0].message.as_deref(), Some("Invalid value: -1: must be positive"));
    }

    #[test]
    fn too_large_rv_is_a_504_with_cause() {
        let e = ApiError::resource_version_too_large(10, 5);
        assert_eq!(e.code, 504);
        assert_eq!(e.reason, StatusReason::Timeout);
        let causes = e.details.unwrap().causes.unwrap();
        assert_eq!(causes[0].reason.as_deref(), Some("ResourceVersionTooLarge"));
    }
}
