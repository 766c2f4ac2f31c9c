//! Media types as they appear in `Content-Type` and `Accept` headers.
//!
//! Parsing is bounded: an `Accept` header with more than [`MAX_ACCEPT_ENTRIES`] entries or
//! an entry with more than [`MAX_PARAMS`] parameters is rejected rather than processed.

use std::fmt;

/// The most media ranges read from one `Accept` header.
pub const MAX_ACCEPT_ENTRIES: usize = 64;
/// The most parameters read from one media range.
pub const MAX_PARAMS: usize = 16;

/// One media type or media range, e.g. `application/json;as=Table;g=meta.k8s.io;v=v1`.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaType {
    /// The type, lowercased (`application`, or `*`).
    pub type_: String,
    /// The subtype, lowercased (`json`, or `*`).
    pub subtype: String,
    /// Parameters other than `q`, keys lowercased, in order.
    pub params: Vec<(String, String)>,
    /// The quality value (1.0 when absent).
    pub quality: f32,
}

/// Why a media type could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaTypeError(pub String);

impl fmt::Display for MediaTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MediaTypeError {}

impl MediaType {
    /// Parses one media type (no commas).
    pub fn parse(input: &str) -> Result<Self, MediaTypeError> {
        let mut pieces = input.split(';');
        let essence = pieces.next().unwrap_or("").trim();
        let (type_, subtype) = essence
            .split_once('/')
            .ok_or_else(|| MediaTypeError(format!("invalid media type {essence:?}")))?;
        let (type_, subtype) = (type_.trim(), subtype.trim());
        if !is_token(type_) || !is_token(subtype) {
            return Err(MediaTypeError(format!("invalid media type {essence:?}")));
        }
        let mut params = Vec::new();
        let mut quality = 1.0;
        for raw in pieces {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            if params.len() >= MAX_PARAMS {
                return Err(MediaTypeError("too many media type parameters".to_owned()));
            }
            let (key, value) = raw
                .split_once('=')
                .ok_or_else(|| MediaTypeError(format!("invalid media type parameter {raw:?}")))?;
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim().trim_matches('"').to_owned();
            if !is_token(&key) {
                return Err(MediaTypeError(format!("invalid media type parameter {raw:?}")));
            }
            if key == "q" {
                quality = value
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q))
                    .ok_or_else(|| MediaTypeError(format!("invalid quality value {value:?}")))?;
            } else {
                params.push((key, value));
            }
        }
        Ok(Self { type_: type_.to_ascii_lowercase(), subtype: subtype.to_ascii_lowercase(), params, quality })
    }

    /// `type/subtype` without parameters.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.type_, self.subtype)
    }

    /// The value of a parameter, if present.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// True if this range (possibly with wildcards) matches the concrete `type/subtype`.
    pub fn matches(&self, essence: &str) -> bool {
        let Some((t, s)) = essence.split_once('/') else { return false };
        (self.type_ == "*" || self.type_ == t) && (self.subtype == "*" || self.subtype == s)
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses an `Accept` header into media ranges, ordered by quality (highest first, stable).
/// Unparsable entries are skipped, as upstream's negotiation does. An empty header yields
/// an empty list, which callers treat as `*/*`.
pub fn parse_accept(header: &str) -> Result<Vec<MediaType>, MediaTypeError> {
    let mut out = Vec::new();
    for (i, entry) in header.split(',').enumerate() {
        if i >= MAX_ACCEPT_ENTRIES {
            return Err(MediaTypeError("too many entries in Accept header".to_owned()));
        }
        if entry.trim().is_empty() {
            continue;
        }
        if let Ok(media) = MediaType::parse(entry)
            && media.quality > 0.0
        {
            out.push(media);
        }
    }
    out.sort_by(|a, b| b.quality.partial_cmp(&a.quality).unwrap_or(std::cmp::Ordering::Equal));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubectl_table_accept() {
        let list =
            parse_accept("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
                .unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].param("as"), Some("Table"));
        assert_eq!(list[0].param("g"), Some("meta.k8s.io"));
        assert_eq!(list[2].params, vec![]);
    }

    #[test]
    fn orders_by_quality() {
        let list = parse_accept("application/yaml;q=0.5, application/json").unwrap();
        assert_eq!(list[0].essence(), "application/json");
        assert_eq!(list[1].essence(), "application/yaml");
    }

    #[test]
    fn wildcards_match() {
        let any = MediaType::parse("*/*").unwrap();
        assert!(any.matches("application/json"));
        let app = MediaType::parse("application/*").unwrap();
        assert!(app.matches("application/yaml"));
        assert!(!app.matches("text/plain"));
    }

    #[test]
    fn hostile_input_is_rejected_or_skipped() {
        assert!(MediaType::parse("").is_err());
        assert!(MediaType::parse("json").is_err());
        assert!(MediaType::parse("application/json;q=7").is_err());
        assert!(MediaType::parse("application/json;noequals").is_err());
        assert!(MediaType::parse("a p/json").is_err());
        let many = vec!["application/json"; MAX_ACCEPT_ENTRIES + 1].join(",");
        assert!(parse_accept(&many).is_err());
        let params = format!("application/json{}", ";a=b".repeat(MAX_PARAMS + 1));
        assert!(MediaType::parse(&params).is_err());
        // garbage entries are skipped, not fatal
        let list = parse_accept("%%%, application/json").unwrap();
        assert_eq!(list.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,300}") {
            let _ = parse_accept(&s);
            let _ = MediaType::parse(&s);
        }
    }
}
