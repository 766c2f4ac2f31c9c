//! List continue tokens, in the format k8s.io/apiserver uses.
//!
//! A token is URL-safe base64 without padding (Go's `base64.RawURLEncoding`, which is what
//! upstream `storage.EncodeContinue` uses) of the JSON object
//! `{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<key suffix>"}`. `start` is the last returned
//! key with the list prefix taken off; the next page starts strictly after it.
//!
//! Decoding treats the token as hostile client input. Like upstream it refuses anything that does
//! not parse, an unknown `v`, `rv` 0, an empty `start`, and a `start` that would not survive
//! path cleaning unchanged (`..` or `.` segments, `//`, a trailing `/`), so a token can never
//! reach keys outside the prefix it is used with. It is stricter than upstream in one place: a
//! `start` with a leading `/` is refused rather than silently stripped.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::StorageError;
use crate::types::Revision;

/// The only token version there is.
const TOKEN_VERSION: &str = "meta.k8s.io/v1";

/// Tokens longer than this are refused before decoding (a guard against hostile input; real
/// tokens are a few hundred bytes).
const MAX_TOKEN_LEN: usize = 64 * 1024;

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct Token {
    v: String,
    rv: i64,
    start: String,
}

/// The `rv` of a token that continues at the latest revision (an "inconsistent continue",
/// handed out when the original revision was compacted), as upstream.
const LATEST: i64 = -1;

/// Encodes a continue token for a list of `key_prefix` whose last returned key is `last_key`,
/// served at revision `rv`.
///
/// `last_key` must start with `key_prefix` (it came out of that list). If it does not, the token
/// carries the whole key without its leading `/`, and decoding it places it under the prefix.
pub fn encode_continue(key_prefix: &str, last_key: &str, rv: Revision) -> String {
    debug_assert!(last_key.starts_with(key_prefix), "{last_key:?} is not under {key_prefix:?}");
    let start = last_key.strip_prefix(key_prefix).unwrap_or_else(|| last_key.trim_start_matches('/'));
    let rv = i64::try_from(rv).unwrap_or(i64::MAX);
    let token = Token { v: TOKEN_VERSION.to_owned(), rv, start: start.to_owned() };
    // A struct of two strings and an integer always serializes.
    let json = serde_json::to_vec(&token).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a continue token for a list of `key_prefix`.
///
/// Returns the full key to continue after (exclusive) and the revision every page must be read
/// at, or [`StorageError::InvalidContinue`].
pub fn decode_continue(token: &str, key_prefix: &str) -> Result<(String, Option<Revision>), StorageError> {
    let invalid = |reason: String| StorageError::InvalidContinue { reason };
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid(format!("token is longer than {MAX_TOKEN_LEN} bytes")));
    }
    let json = URL_SAFE_NO_PAD.decode(token).map_err(|e| invalid(format!("not base64: {e}")))?;
    let token: Token = serde_json::from_slice(&json).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if token.v != TOKEN_VERSION {
        return Err(invalid(format!("server does not recognize this encoded version {:?}", token.v)));
    }
    if token.rv == 0 || token.rv < LATEST {
        return Err(invalid(format!("incorrect encoded start resourceVersion (version {TOKEN_VERSION})")));
    }
    if token.start.is_empty() {
        return Err(invalid(format!("encoded start key empty (version {TOKEN_VERSION})")));
    }
    if !is_clean_relative_path(&token.start) {
        return Err(invalid(format!("start key {:?} is not a clean relative path", token.start)));
    }
    let rv = if token.rv == LATEST { None } else { Some(token.rv as Revision) };
    Ok((format!("{key_prefix}{}", token.start), rv))
}

/// Whether `/` + `start` is unchanged by Go's `path.Clean`, and `start` is not rooted: every
/// `/`-separated segment is non-empty and neither `.` nor `..`.
/// A token that continues after `last_key` at the latest revision (`rv: -1`): what a client
/// gets when its token's revision was compacted, so it can finish an inconsistent list.
pub fn encode_continue_at_latest(key_prefix: &str, last_key: &str) -> String {
    let start = last_key.strip_prefix(key_prefix).unwrap_or_else(|| last_key.trim_start_matches('/'));
    let token = Token { v: TOKEN_VERSION.to_owned(), rv: LATEST, start: start.to_owned() };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn is_clean_relative_path(start: &str) -> bool {
    start.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_token(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    fn reason(token: &str) -> String {
        match decode_continue(token, "/test/") {
            Err(StorageError::InvalidContinue { reason }) => reason,
            other => panic!("expected InvalidContinue, got {other:?}"),
        }
    }

    #[test]
    fn round_trips() {
        let token = encode_continue("/registry/pods/", "/registry/pods/ns1/foo", 42);
        let (start_after, rv) = decode_continue(&token, "/registry/pods/").unwrap();
        assert_eq!(start_after, "/registry/pods/ns1/foo");
        assert_eq!(rv, Some(42));
    }

    #[test]
    fn encoding_is_upstream_compatible() {
        let token = encode_continue("/test/", "/test/key", 1);
        let json = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert_eq!(json, br#"{"v":"meta.k8s.io/v1","rv":1,"start":"key"}"#);
        assert!(!token.contains('='), "no padding: {token}");
        assert!(!token.contains('+') && !token.contains('/'), "URL-safe alphabet: {token}");
    }

    #[test]
    fn at_latest_tokens_continue_without_a_revision() {
        let token = encode_continue_at_latest("/reg/", "/reg/ns/b");
        assert_eq!(decode_continue(&token, "/reg/").unwrap(), ("/reg/ns/b".to_owned(), None));
        let json = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert_eq!(json, br#"{"v":"meta.k8s.io/v1","rv":-1,"start":"ns/b"}"#);
    }

    #[test]
    fn decodes_a_token_written_by_hand_like_upstream_tests() {
        let token = raw_token(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"key"}"#);
        assert_eq!(decode_continue(&token, "/test/").unwrap(), ("/test/key".to_owned(), Some(1)));
        let token = raw_token(r#"{"v":"meta.k8s.io/v1","rv":9,"start":"ns/name","extra":true}"#);
        assert_eq!(decode_continue(&token, "/test/").unwrap(), ("/test/ns/name".to_owned(), Some(9)));
    }

    #[test]
    fn rejects_malformed_base64() {
        assert!(reason("!!!not base64!!!").starts_with("not base64"));
        // Standard-alphabet padding is not accepted: upstream decodes without padding.
        let padded = base64::engine::general_purpose::STANDARD.encode(r#"{"v":"meta.k8s.io/v1","rv":1}"#);
        assert!(padded.ends_with('='));
        assert!(reason(&padded).starts_with("not base64"));
    }

    #[test]
    fn rejects_malformed_json() {
        assert!(reason(&raw_token("{")).starts_with("not JSON"));
        assert!(reason(&raw_token("[1,2]")).starts_with("not JSON"));
        assert!(
            reason(&raw_token(r#"{"v":"meta.k8s.io/v1","rv":-2,"start":"a"}"#)).contains("resourceVersion")
        );
        assert!(reason(&raw_token(r#"{"v":"meta.k8s.io/v1","rv":1.5,"start":"a"}"#)).starts_with("not JSON"));
        assert!(reason(&raw_token(r#"{"v":"meta.k8s.io/v1","rv":"1","start":"a"}"#)).starts_with("not JSON"));
        assert!(reason("").starts_with("not JSON"));
    }

    #[test]
    fn rejects_wrong_or_missing_version() {
        assert!(reason(&raw_token(r#"{"v":"v1","rv":1,"start":"key"}"#)).contains("version \"v1\""));
        assert!(reason(&raw_token(r#"{"v":"","rv":1,"start":"key"}"#)).contains("encoded version"));
        assert!(reason(&raw_token(r#"{"rv":1,"start":"key"}"#)).contains("encoded version"));
    }

    #[test]
    fn rejects_revision_zero_and_empty_start() {
        assert!(
            reason(&raw_token(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"key"}"#)).contains("resourceVersion")
        );
        assert!(reason(&raw_token(r#"{"v":"meta.k8s.io/v1","start":"key"}"#)).contains("resourceVersion"));
        assert!(reason(&raw_token(r#"{"v":"meta.k8s.io/v1","rv":1,"start":""}"#)).contains("empty"));
    }

    #[test]
    fn rejects_path_traversal() {
        for start in
            ["../key", "./key", "./../key", "key/../..", "key/..", "a/./b", "/key", "/", "a//b", "key/", ".."]
        {
            let json = serde_json::json!({"v": "meta.k8s.io/v1", "rv": 1, "start": start}).to_string();
            let r = reason(&raw_token(&json));
            assert!(r.contains("clean relative path"), "{start:?} gave {r:?}");
        }
    }

    #[test]
    fn accepts_dots_inside_names() {
        for start in ["...", "a..b", ".hidden", "ns/my.pod"] {
            let json = serde_json::json!({"v": "meta.k8s.io/v1", "rv": 3, "start": start}).to_string();
            assert_eq!(decode_continue(&raw_token(&json), "/p/").unwrap(), (format!("/p/{start}"), Some(3)));
        }
    }

    #[test]
    fn rejects_oversized_tokens() {
        let token = "A".repeat(MAX_TOKEN_LEN + 1);
        assert!(reason(&token).contains("longer than"));
    }

    mod hostile {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_strings_never_panic(token in ".{0,200}") {
                let _ = decode_continue(&token, "/p/");
            }

            #[test]
            fn arbitrary_json_never_escapes_the_prefix(start in "[a-z./]{0,12}", rv in 0u64..5) {
                let json = serde_json::json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).to_string();
                if let Ok((key, _)) = decode_continue(&URL_SAFE_NO_PAD.encode(json), "/p/") {
                    prop_assert!(key.starts_with("/p/"));
                    prop_assert!(!key.split('/').any(|s| s == ".." || s == "."));
                    prop_assert!(!key["/p/".len()..].starts_with('/'));
                }
            }

            #[test]
            fn round_trips_clean_keys(suffix in "[a-z0-9-]{1,8}(/[a-z0-9.-]{1,8}){0,2}", rv in 1u64..(i64::MAX as u64)) {
                prop_assume!(is_clean_relative_path(&suffix));
                let key = format!("/reg/{suffix}");
                let token = encode_continue("/reg/", &key, rv);
                prop_assert_eq!(decode_continue(&token, "/reg/").unwrap(), (key, Some(rv)));
            }
        }
    }
}
