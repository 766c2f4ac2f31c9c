//! The request timeout: non-long-running requests that take longer than the limit get a
//! 504 Status. Watches are long-running and carry their own timeout.

use std::time::Duration;

use piazza_codec::Format;
use piazza_core::ApiError;
use piazza_core::request_info::RequestInfo;

use super::{FilterFuture, Next, respond};
use crate::body::Request;
use crate::response::error_response;

/// The default request timeout, as upstream (`--request-timeout`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// True for requests that stream for a long time and are exempt from the timeout (the same
/// rule max-in-flight uses).
pub fn is_long_running(info: Option<&RequestInfo>) -> bool {
    info.is_some_and(super::max_in_flight::is_long_running)
}

/// The message prefix of a malformed `?timeout=`, as upstream.
pub const INVALID_TIMEOUT_IN_URL: &str = "invalid timeout specified in the request URL";

/// The timeout a request asks for with `?timeout=`, as upstream's request-deadline filter
/// reads it: absent, zero, negative or above `limit` means `limit`; a malformed value is a
/// 400.
pub fn requested_timeout(query: Option<&str>, limit: Duration) -> Result<Duration, ApiError> {
    let value = query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(key, _)| key == "timeout")
        .map(|(_, value)| value.into_owned())
        .filter(|v| !v.is_empty());
    let Some(value) = value else { return Ok(limit) };
    // Go's parser accepts a sign; a negative timeout means "the server's".
    let parsed = match value.strip_prefix('-') {
        Some(magnitude) => parse_go_duration(magnitude).map(|_| Duration::ZERO),
        None => parse_go_duration(&value),
    };
    match parsed {
        Ok(requested) if !requested.is_zero() && requested < limit => Ok(requested),
        Ok(_) => Ok(limit),
        Err(_) => {
            let reason = parse_go_duration(&value).err().unwrap_or_default();
            Err(ApiError::bad_request(format!("{INVALID_TIMEOUT_IN_URL} - {reason}")))
        }
    }
}

/// The filter function, a step; `limit` is the timeout.
pub fn enforce_timeout(limit: Duration, request: Request, next: Next) -> FilterFuture {
    if is_long_running(request.extensions().get::<RequestInfo>()) {
        return next.run(request);
    }
    let limit = match requested_timeout(request.uri().query(), limit) {
        Ok(limit) => limit,
        Err(err) => return respond(error_response(&err, Format::Json)),
    };
    let rest = next.run(request);
    Box::pin(async move {
        match tokio::time::timeout(limit, rest).await {
            Ok(response) => response,
            Err(_) => error_response(
                &ApiError::timeout(
                    "request did not complete within requested timeout - context deadline exceeded",
                ),
                Format::Json,
            ),
        }
    })
}

/// Parses a duration as Go's `time.ParseDuration` writes and reads them (`60s`, `1m0s`,
/// `1.5h`, `300ms`, `0`): one or more decimal numbers each followed by a unit (`ns`, `us`,
/// `µs`, `ms`, `s`, `m`, `h`). Negative durations are refused.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let rest = text.strip_prefix('+').unwrap_or(text);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() || rest.starts_with('-') {
        return Err(invalid());
    }
    let mut total = 0f64;
    let mut rest = rest;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            unit => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        rest = &rest[unit_len..];
        total += value * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_go_duration("1m0s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_go_duration("1h2m3s").unwrap(), Duration::from_secs(3723));
        assert_eq!(parse_go_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_go_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_go_duration("10us").unwrap(), Duration::from_micros(10));
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn the_timeout_parameter_is_read_as_upstream() {
        let limit = Duration::from_secs(60);
        assert_eq!(requested_timeout(None, limit).unwrap(), limit);
        assert_eq!(requested_timeout(Some("watch=false"), limit).unwrap(), limit);
        assert_eq!(requested_timeout(Some("timeout=5s"), limit).unwrap(), Duration::from_secs(5));
        assert_eq!(requested_timeout(Some("a=b&timeout=1m30s"), limit).unwrap(), limit, "above the maximum");
        assert_eq!(requested_timeout(Some("timeout=3m"), limit).unwrap(), limit);
        assert_eq!(requested_timeout(Some("timeout=0s"), limit).unwrap(), limit);
        assert_eq!(requested_timeout(Some("timeout=-5s"), limit).unwrap(), limit);
        assert_eq!(requested_timeout(Some("timeout="), limit).unwrap(), limit);
        let err = requested_timeout(Some("timeout=invalid"), limit).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "invalid timeout specified in the request URL - time: invalid duration \"invalid\""
        );
        let err = requested_timeout(Some("timeout=10"), limit).unwrap_err();
        assert_eq!(
            err.message,
            "invalid timeout specified in the request URL - time: missing unit in duration \"10\""
        );
        assert_eq!(requested_timeout(Some("timeout=-x"), limit).unwrap_err().code, 400);
    }

    #[test]
    fn malformed_durations_are_refused_with_go_messages() {
        assert_eq!(parse_go_duration("60").unwrap_err(), "time: missing unit in duration \"60\"");
        assert_eq!(parse_go_duration("5d").unwrap_err(), "time: unknown unit \"d\" in duration \"5d\"");
        assert_eq!(parse_go_duration("").unwrap_err(), "time: invalid duration \"\"");
        assert_eq!(parse_go_duration("-1s").unwrap_err(), "time: invalid duration \"-1s\"");
        assert_eq!(parse_go_duration("s").unwrap_err(), "time: invalid duration \"s\"");
    }
}
