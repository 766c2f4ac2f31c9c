//! The resource handler: routes a parsed resource request to its [`RestResource`] and
//! verb, negotiates formats, reads the (limited) body and encodes the answer.

use std::sync::Arc;

use futures::StreamExt;
use http::header::{ACCEPT, CONTENT_TYPE};
use piazza_codec::{
    Format, Formats, Negotiated, Target, negotiate_request_format, negotiate_response,
    negotiate_response_format,
};
use piazza_core::request_info::RequestInfo;
use piazza_core::{ApiError, StatusReason, UserInfo};
use piazza_registry::{PatchType, Query, RestContext, RestResource};

use crate::api_set::ApiSet;
use crate::body::{Request, Response, streaming};
use crate::filters::body_limit::{BodyLimit, DEFAULT_MAX_BODY_BYTES, read_body};
use crate::response::{bytes_response, error_response};
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

/// Serves one resource request.
pub async fn serve(apis: &ApiSet, shutdown: &Shutdown, request: Request) -> Response {
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(info) = request.extensions().get::<RequestInfo>().cloned() else {
        return error_response(&ApiError::internal("request info missing"), Format::Json);
    };
    let resource = resolve(apis, &info);
    // Errors are reported in the client's preferred format when the resource can produce
    // it (protobuf for kinds that have it), otherwise JSON.
    let formats = resource.as_ref().map_or(Formats::JSON_YAML, |resource| resource.formats());
    let error_format = negotiate_response_format(accept.as_deref(), false, formats).unwrap_or(Format::Json);
    let result = match resource {
        Ok(resource) => dispatch(resource, &info, shutdown, request, accept.as_deref()).await,
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| error_response(&e, error_format))
}

async fn dispatch(
    resource: &Arc<dyn RestResource>,
    info: &RequestInfo,
    shutdown: &Shutdown,
    mut request: Request,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    if !info.subresource.is_empty() {
        return super::subresource::dispatch(resource.as_ref(), info, shutdown, request, accept).await;
    }
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
    let format = negotiated.format;
    let ctx = RestContext {
        version: info.api_version.clone(),
        namespace: (!info.namespace.is_empty()).then(|| info.namespace.clone()),
        name: (!info.name.is_empty()).then(|| info.name.clone()),
        format,
        target: negotiated.target,
        user: request.extensions().get::<UserInfo>().cloned().unwrap_or_else(UserInfo::anonymous),
        query: Query::parse(request.uri().query())?,
    };
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let limit = request.extensions().get::<BodyLimit>().copied().unwrap_or(BodyLimit(DEFAULT_MAX_BODY_BYTES));
    // Only watches may switch to WebSocket; other upgrade requests get their normal answer.
    let websocket = (info.verb == "watch" && super::watch_websocket::is_websocket_request(request.headers()))
        .then(|| (request.headers().clone(), hyper::upgrade::on(&mut request)));
    let body = request.into_body();
    let encoded = match info.verb.as_str() {
        "get" => resource.get(&ctx).await?,
        "list" => resource.list(&ctx).await?,
        "watch" => {
            let frames = resource.watch(&ctx).await?;
            let frames = frames.take_until(shutdown.clone().wait());
            if let Some((headers, on_upgrade)) = websocket {
                return Ok(super::watch_websocket::serve(&headers, on_upgrade, Box::pin(frames)));
            }
            let mut response = Response::new(streaming(frames));
            let content_type = match negotiated.target {
                Target::Object => format.stream_content_type().to_owned(),
                view => view.content_type(format),
            };
            if let Ok(value) = http::HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(CONTENT_TYPE, value);
            }
            return Ok(response);
        }
        "patch" => {
            let patch_type = PatchType::from_content_type(content_type.as_deref())?;
            let bytes = read_body(body, limit).await?;
            resource.patch(&ctx, &bytes, patch_type).await?
        }
        verb @ ("create" | "update" | "delete" | "deletecollection") => {
            let body_format = negotiate_request_format(content_type.as_deref(), formats)?;
            let bytes = read_body(body, limit).await?;
            match verb {
                "create" => resource.create(&ctx, &bytes, body_format).await?,
                "update" => resource.update(&ctx, &bytes, body_format).await?,
                "delete" => resource.delete(&ctx, &bytes, body_format).await?,
                _ => resource.delete_collection(&ctx, &bytes, body_format).await?,
            }
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    let mut response =
        bytes_response(encoded.status, &encoded.target.content_type(encoded.format), encoded.body);
    for warning in &encoded.warnings {
        if let Ok(value) = http::HeaderValue::from_str(&warning_header(warning)) {
            response.headers_mut().append(http::header::WARNING, value);
        }
    }
    Ok(response)
}

/// A `Warning` header value in the form Kubernetes uses: `299 - "<text>"`.
pub fn warning_header(text: &str) -> String {
    let escaped: String = text
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("299 - \"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_headers_escape_quotes() {
        assert_eq!(warning_header("unknown field \"spec.x\""), "299 - \"unknown field \\\"spec.x\\\"\"");
        assert_eq!(warning_header("a\nb"), "299 - \"ab\"");
    }
}
