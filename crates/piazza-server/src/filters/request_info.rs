//! Parses the request's URL once into a [`RequestInfo`](piazza_core::request_info::RequestInfo) request extension.

use piazza_codec::Format;
use piazza_core::ApiError;
use piazza_core::request_info::RequestInfoFactory;

use super::{FilterFuture, Next, respond};
use crate::body::Request;
use crate::response::error_response;

/// The filter function: a step (see [`Chain::step`](super::Chain::step)).
pub fn attach_request_info(factory: &RequestInfoFactory, mut request: Request, next: Next) -> FilterFuture {
    let info = factory.parse(request.method().as_str(), request.uri().path(), request.uri().query());
    match info {
        Ok(info) => {
            request.extensions_mut().insert(info);
            next.run(request)
        }
        Err(e) => respond(error_response(&ApiError::bad_request(e.to_string()), Format::Json)),
    }
}
