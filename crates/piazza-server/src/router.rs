//! Routing after the filter chain: health, version, discovery, OpenAPI, then resources.

use std::sync::Arc;

use http::header::{ACCEPT, CONTENT_TYPE, VARY};
use http::{HeaderValue, Method};
use piazza_codec::Format;
use piazza_core::ApiError;
use piazza_core::request_info::RequestInfo;

use crate::api_set::ApiSet;
use crate::body::{Request, Response};
use crate::filters::FilterFuture;
use crate::handlers::health::HealthEndpoint;
use crate::handlers::openapi::OpenApiDocs;
use crate::handlers::version::VersionInfo;
use crate::handlers::{aggregated_discovery, discovery, resource};
use crate::response::{bytes_response, error_response, json_response};
use crate::shutdown::Shutdown;

/// Everything the router serves.
pub struct RouterState {
    /// Served resources.
    pub apis: ApiSet,
    /// Precomputed OpenAPI documents.
    pub openapi: OpenApiDocs,
    /// `/healthz`, `/livez`, `/readyz`.
    pub health: Vec<HealthEndpoint>,
    /// Shutdown signal, for ending watches.
    pub shutdown: Shutdown,
    /// What `/metrics` reports.
    pub metrics: Vec<std::sync::Arc<dyn crate::handlers::metrics::MetricsSource>>,
}

fn method_not_allowed() -> Response {
    error_response(&ApiError::method_not_allowed(), Format::Json)
}

/// Routes one request. Resource requests, the hot path, get the resource handler's future
/// as it is; the others are served by `serve_non_resource`.
pub fn route(state: &Arc<RouterState>, request: Request) -> FilterFuture {
    let is_resource = request.extensions().get::<RequestInfo>().is_some_and(|i| i.is_resource_request);
    if is_resource {
        return resource::serve(&state.apis, &state.shutdown, request);
    }
    Box::pin(serve_non_resource(Arc::clone(state), request))
}

/// Health checks, version, metrics, discovery and OpenAPI.
async fn serve_non_resource(state: Arc<RouterState>, request: Request) -> Response {
    let path = request.uri().path();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if let Some(endpoint) = state.health.iter().find(|e| e.name == first) {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return method_not_allowed();
        }
        let sub = &path[1 + first.len()..];
        return endpoint.serve(sub, request.uri().query()).await;
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return match discovery_like(path) {
            true => method_not_allowed(),
            false => error_response(&resource::not_found(), Format::Json),
        };
    }
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => json_response(200, &VersionInfo::current()),
        ["metrics"] => crate::handlers::metrics::serve(&state.metrics),
        ["api"] => match aggregated_discovery::wanted_version(accept) {
            Some(v) => aggregated(&state.apis, v, true),
            None => json_response(200, &discovery::core_versions()),
        },
        ["apis"] => match aggregated_discovery::wanted_version(accept) {
            Some(v) => aggregated(&state.apis, v, false),
            None => json_response(200, &discovery::api_group_list(&state.apis)),
        },
        ["apis", group] => match state.apis.group(group) {
            Some(g) => json_response(200, &discovery::api_group(g)),
            None => error_response(&resource::not_found(), Format::Json),
        },
        ["apis", group, version] => {
            match state.apis.group(group).filter(|g| g.versions.iter().any(|v| v == version)) {
                Some(_) => json_response(200, &discovery::api_resource_list(&state.apis, group, version)),
                None => error_response(&resource::not_found(), Format::Json),
            }
        }
        ["openapi", "v2"] => bytes_response(200, "application/json", state.openapi.v2.clone()),
        ["openapi", "v3"] => bytes_response(200, "application/json", state.openapi.v3_index.clone()),
        ["openapi", "v3", rest @ ..] => match state.openapi.v3.get(&rest.join("/")) {
            Some(doc) => {
                let mut r = bytes_response(200, "application/json", doc.clone());
                r.headers_mut().insert("cache-control", HeaderValue::from_static("public, immutable"));
                r
            }
            None => error_response(&resource::not_found(), Format::Json),
        },
        _ => error_response(&resource::not_found(), Format::Json),
    }
}

fn discovery_like(path: &str) -> bool {
    let p = path.trim_matches('/');
    p == "api"
        || p == "apis"
        || p.starts_with("apis/")
        || p.starts_with("openapi")
        || p == "version"
        || p == "metrics"
}

fn aggregated(apis: &ApiSet, version: &str, core_only: bool) -> Response {
    let doc = aggregated_discovery::group_discovery_list(apis, version, core_only);
    let mut response = json_response(200, &doc);
    if let Ok(ct) = HeaderValue::from_str(&aggregated_discovery::content_type(version)) {
        response.headers_mut().insert(CONTENT_TYPE, ct);
    }
    response.headers_mut().insert(VARY, HeaderValue::from_static("Accept"));
    response
}
