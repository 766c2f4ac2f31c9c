//! Requests for `<resource>/<name>/<subresource>`: picks the registered
//! [`Subresource`], checks its verbs (405 otherwise, as upstream) and maps the HTTP verb to it.
//! Unregistered subresources never get here: [`super::resource::resolve`] answers 404.

use http::HeaderValue;
use http::header::CONTENT_TYPE;
use piazza_codec::{
    Format, Negotiated, Target, negotiate_request_format, negotiate_response, negotiate_response_format,
};
use piazza_core::request_info::RequestInfo;
use piazza_core::{ApiError, UserInfo};
use piazza_registry::subresource::{Subresource, SubresourceReply, find};
use piazza_registry::{PatchType, Query, RestContext, RestResource};

use crate::body::{Request, Response, streaming};
use crate::filters::body_limit::{BodyLimit, DEFAULT_MAX_BODY_BYTES, read_body};
use crate::handlers::resource::not_found;
use crate::response::encoded_response;
use crate::shutdown::Shutdown;

/// The subresource verbs a request may use: an object's GET, PUT, PATCH and POST.
fn served_verb(verb: &str) -> bool {
    matches!(verb, "get" | "update" | "patch" | "create")
}

/// Checks the request's verb against the subresource's (405 as upstream when not served).
pub fn check_verb(sub: &dyn Subresource, verb: &str) -> Result<(), ApiError> {
    if served_verb(verb) && sub.verbs().contains(&verb) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed())
    }
}

/// Serves one subresource request of `resource`.
pub async fn dispatch(
    resource: &dyn RestResource,
    info: &RequestInfo,
    shutdown: &Shutdown,
    mut request: Request,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    let sub = find(resource, &info.subresource).ok_or_else(not_found)?;
    check_verb(sub.as_ref(), &info.verb)?;
    if info.name.is_empty() {
        return Err(not_found());
    }
    // Connect-style subresources stream whatever they produce (e.g. text/plain) and ignore
    // `Accept`; an object answer still needs an acceptable format.
    // Subresources answer with objects only: a `meta.k8s.io` view (`as=Table`, …) is not
    // acceptable unless a plain type is also offered, as upstream for storage without a
    // table convertor.
    // Each subresource says which formats its bodies may use (status and scale: protobuf
    // too when the kind has it; actions and streams: JSON and YAML).
    let formats = sub.formats();
    let negotiated = negotiate_response(accept, false, formats).and_then(|n| match n.target {
        Target::Object => Ok(n),
        _ => negotiate_response_format(accept, false, formats)
            .map(|format| Negotiated { format, target: Target::Object }),
    });
    let (format, target) = match &negotiated {
        Ok(Negotiated { format, .. }) => (*format, Target::Object),
        Err(_) => (Format::Json, Target::Object),
    };
    let ctx = RestContext {
        version: info.api_version.clone(),
        namespace: (!info.namespace.is_empty()).then(|| info.namespace.clone()),
        name: Some(info.name.clone()),
        format,
        target,
        user: request.extensions_mut().remove::<UserInfo>().unwrap_or_else(UserInfo::anonymous),
        query: Query::parse(request.uri().query())?,
    };
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let limit = request.extensions().get::<BodyLimit>().copied().unwrap_or(BodyLimit(DEFAULT_MAX_BODY_BYTES));
    let body = request.into_body();
    let encoded = match info.verb.as_str() {
        "get" => match sub.get(&ctx).await? {
            SubresourceReply::Object(encoded) => {
                negotiated?;
                encoded
            }
            SubresourceReply::Stream { content_type, body } => {
                let mut response = Response::new(streaming(shutdown.until(body)));
                if let Ok(value) = HeaderValue::from_str(&content_type) {
                    response.headers_mut().insert(CONTENT_TYPE, value);
                }
                return Ok(response);
            }
        },
        "patch" => {
            negotiated?;
            let patch_type = PatchType::from_content_type(content_type.as_deref())?;
            let bytes = read_body(body, limit).await?;
            sub.patch(&ctx, &bytes, patch_type).await?
        }
        verb => {
            negotiated?;
            let body_format = negotiate_request_format(content_type.as_deref(), formats)?;
            let bytes = read_body(body, limit).await?;
            match verb {
                "update" => sub.update(&ctx, &bytes, body_format).await?,
                _ => sub.create(&ctx, &bytes, body_format).await?,
            }
        }
    };
    Ok(encoded_response(encoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Actions;

    #[async_trait::async_trait]
    impl Subresource for Actions {
        fn name(&self) -> &'static str {
            "bake"
        }
        fn verbs(&self) -> &'static [&'static str] {
            &["create"]
        }
    }

    #[test]
    fn only_listed_verbs_are_served() {
        assert!(check_verb(&Actions, "create").is_ok());
        assert_eq!(check_verb(&Actions, "get").unwrap_err().code, 405);
        assert_eq!(check_verb(&Actions, "delete").unwrap_err().code, 405);
        assert_eq!(check_verb(&Actions, "list").unwrap_err().code, 405);
    }
}
