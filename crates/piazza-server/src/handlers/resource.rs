//! The resource handler: routes a parsed resource request to its [`RestResource`] and
//! verb, negotiates formats, reads the (limited) body and encodes the answer.

use std::sync::Arc;

use http::HeaderValue;
use http::header::{ACCEPT, CONTENT_TYPE};
use piazza_codec::{
    Format, Formats, Negotiated, Target, negotiate_request_format, negotiate_response,
    negotiate_response_format,
};
use piazza_core::request_info::RequestInfo;
use piazza_core::{ApiError, StatusReason, UserInfo};
use piazza_registry::{Encoded, PatchType, Query, RestContext, RestResource};

use crate::api_set::ApiSet;
use crate::body::{Request, Response, streaming};
use crate::filters::body_limit::{BodyLimit, DEFAULT_MAX_BODY_BYTES, read_body};
use crate::filters::{FilterFuture, respond};
use crate::response::{encoded_response, error_response};
use crate::shutdown::Shutdown;

/// The 404 for paths that name no served resource.
pub fn not_found() -> ApiError {
    ApiError::new(404, StatusReason::NotFound, "the server could not find the requested resource")
}

/// Finds the resource a request names, checking scope and subresource.
pub fn resolve<'a>(apis: &'a ApiSet, info: &RequestInfo) -> Result<&'a Arc<dyn RestResource>, ApiError> {
    if info.api_prefix != "apis" || info.api_group.is_empty() {
        return Err(not_found());
    }
    let resource = apis.find(&info.api_group, &info.api_version, &info.resource).ok_or_else(not_found)?;
    let d = resource.descriptor();
    if !info.subresource.is_empty()
        && piazza_registry::subresource::find(resource.as_ref(), &info.subresource).is_none()
    {
        return Err(not_found());
    }
    let has_namespace = !info.namespace.is_empty();
    if !d.namespaced() && has_namespace {
        return Err(not_found());
    }
    let collection_read = matches!(info.verb.as_str(), "list" | "watch");
    if d.namespaced() && !has_namespace && !collection_read {
        return Err(not_found());
    }
    Ok(resource)
}

/// Serves one resource request. Every check and negotiation that needs no I/O runs now; the
/// returned future holds only what its verb still needs (for a GET: the resource and the
/// context). The handler is the request's last reader, so it takes the request info and the
/// user out of the request instead of copying them.
pub fn serve(apis: &ApiSet, shutdown: &Shutdown, mut request: Request) -> FilterFuture {
    // A header value clone shares its bytes.
    let accept = request.headers().get(ACCEPT).cloned();
    let Some(info) = request.extensions_mut().remove::<RequestInfo>() else {
        return respond(error_response(&ApiError::internal("request info missing"), Format::Json));
    };
    let resource = resolve(apis, &info);
    // Errors are reported in the client's preferred format when the resource can produce
    // it (protobuf for kinds that have it), otherwise JSON.
    let formats = resource.as_ref().map_or(Formats::JSON_YAML, |resource| resource.formats());
    let accepted = accept.as_ref().and_then(|v| v.to_str().ok());
    let error_format = negotiate_response_format(accepted, false, formats).unwrap_or(Format::Json);
    let answer = match resource {
        Ok(resource) => dispatch(resource, info, shutdown, request, accept, error_format),
        Err(e) => Err(e),
    };
    answer.unwrap_or_else(|e| respond(error_response(&e, error_format)))
}

/// The answer to a verb's result: the encoded object, or the error as a Status.
fn answer(result: Result<Encoded, ApiError>, error_format: Format) -> Response {
    match result {
        Ok(encoded) => encoded_response(encoded),
        Err(e) => error_response(&e, error_format),
    }
}

fn dispatch(
    resource: &Arc<dyn RestResource>,
    info: RequestInfo,
    shutdown: &Shutdown,
    mut request: Request,
    accept: Option<HeaderValue>,
    error_format: Format,
) -> Result<FilterFuture, ApiError> {
    let resource = Arc::clone(resource);
    if !info.subresource.is_empty() {
        let shutdown = shutdown.clone();
        return Ok(Box::pin(async move {
            let accept = accept.as_ref().and_then(|v| v.to_str().ok());
            let result =
                super::subresource::dispatch(resource.as_ref(), &info, &shutdown, request, accept).await;
            result.unwrap_or_else(|e| error_response(&e, error_format))
        }));
    }
    let accept = accept.as_ref().and_then(|v| v.to_str().ok());
    let d = resource.descriptor();
    if !d.allows(&info.verb) {
        return Err(ApiError::method_not_allowed());
    }
    // Verbs that address one object need a name in the URL, and create must not have one;
    // upstream has no such routes and answers 405.
    let needs_name = matches!(info.verb.as_str(), "update" | "patch" | "delete");
    if (needs_name && info.name.is_empty()) || (info.verb == "create" && !info.name.is_empty()) {
        return Err(ApiError::method_not_allowed());
    }
    let streaming_response = info.verb == "watch";
    let formats = resource.formats();
    let negotiated = if matches!(info.verb.as_str(), "get" | "list" | "watch") {
        negotiate_response(accept, streaming_response, formats)?
    } else {
        Negotiated { format: negotiate_response_format(accept, false, formats)?, target: Target::Object }
    };
    let ctx = RestContext {
        version: info.api_version,
        namespace: (!info.namespace.is_empty()).then_some(info.namespace),
        name: (!info.name.is_empty()).then_some(info.name),
        format: negotiated.format,
        target: negotiated.target,
        user: request.extensions_mut().remove::<UserInfo>().unwrap_or_else(UserInfo::anonymous),
        query: Query::parse(request.uri().query())?,
    };
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let limit = request.extensions().get::<BodyLimit>().copied().unwrap_or(BodyLimit(DEFAULT_MAX_BODY_BYTES));
    Ok(match info.verb.as_str() {
        "get" => Box::pin(async move { answer(resource.get(&ctx).await, error_format) }),
        "list" => Box::pin(async move { answer(resource.list(&ctx).await, error_format) }),
        "watch" => {
            // Only watches may switch to WebSocket; other upgrade requests get their normal
            // answer.
            let websocket = super::watch_websocket::is_websocket_request(request.headers())
                .then(|| (request.headers().clone(), hyper::upgrade::on(&mut request)));
            let shutdown = shutdown.clone();
            Box::pin(async move {
                let frames = match resource.watch(&ctx).await {
                    Ok(frames) => shutdown.until(frames),
                    Err(e) => return error_response(&e, error_format),
                };
                if let Some((headers, on_upgrade)) = websocket {
                    return super::watch_websocket::serve(&headers, on_upgrade, Box::pin(frames));
                }
                let mut response = Response::new(streaming(frames));
                let content_type = match negotiated.target {
                    Target::Object => negotiated.format.stream_content_type().to_owned(),
                    view => view.content_type(negotiated.format),
                };
                if let Ok(value) = HeaderValue::from_str(&content_type) {
                    response.headers_mut().insert(CONTENT_TYPE, value);
                }
                response
            })
        }
        "patch" => {
            let patch_type = PatchType::from_content_type(content_type)?;
            let body = request.into_body();
            Box::pin(async move {
                let result = match read_body(body, limit).await {
                    Ok(bytes) => resource.patch(&ctx, &bytes, patch_type).await,
                    Err(e) => Err(e),
                };
                answer(result, error_format)
            })
        }
        "create" | "update" | "delete" | "deletecollection" => {
            let body_format = negotiate_request_format(content_type, formats)?;
            let body = request.into_body();
            let verb = info.verb;
            Box::pin(async move {
                let bytes = match read_body(body, limit).await {
                    Ok(bytes) => bytes,
                    Err(e) => return error_response(&e, error_format),
                };
                let result = match verb.as_str() {
                    "create" => resource.create(&ctx, &bytes, body_format).await,
                    "update" => resource.update(&ctx, &bytes, body_format).await,
                    "delete" => resource.delete(&ctx, &bytes, body_format).await,
                    _ => resource.delete_collection(&ctx, &bytes, body_format).await,
                };
                answer(result, error_format)
            })
        }
        _ => return Err(ApiError::method_not_allowed()),
    })
}
