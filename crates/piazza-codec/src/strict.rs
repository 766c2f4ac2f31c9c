//! Field validation while decoding (`fieldValidation=Strict|Warn|Ignore`): unknown fields
//! are collected with their paths in upstream's notation (`spec.toppings[0].x`).

use piazza_core::ApiError;
use serde::de::DeserializeOwned;

use crate::Format;
use crate::duplicates::{last_wins, scan};
use crate::object::TypeMeta;

/// How unknown fields in a request body are treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (the default).
    #[default]
    Warn,
    /// Reject the request.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter; an unknown value is a 400.
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Warn") => Ok(Self::Warn),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

fn render(path: &serde_ignored::Path<'_>, out: &mut String) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            render(parent, out);
            out.push_str(&format!("[{index}]"));
        }
        Path::Map { parent, key } => {
            render(parent, out);
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            render(parent, out)
        }
    }
}

/// Decodes a JSON body and its type metadata, reporting unknown fields to `record`.
fn decode_json<T: DeserializeOwned>(
    body: &[u8],
    record: &mut impl FnMut(serde_ignored::Path<'_>),
) -> Result<(T, TypeMeta), serde_json::Error> {
    Ok((decode_typed(body, record)?, serde_json::from_slice(body)?))
}

/// Decodes a JSON body, reporting unknown fields to `record`.
fn decode_typed<T: DeserializeOwned>(
    body: &[u8],
    record: &mut impl FnMut(serde_ignored::Path<'_>),
) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_ignored::deserialize(&mut de, record)?;
    de.end()?;
    Ok(value)
}

/// Serde's derived decoders refuse a duplicated struct field; upstream keeps the last value.
fn is_duplicate_error(err: &serde_json::Error) -> bool {
    err.to_string().starts_with("duplicate field")
}

/// Decodes `body` into `T`, collecting unknown fields (other than `apiVersion` and `kind`
/// at the top). Returns the value, its type metadata and the warnings to send; in Strict
/// mode unknown fields are a 400 `strict decoding error`.
pub fn decode_validated<T: DeserializeOwned>(
    body: &[u8],
    format: Format,
    validation: FieldValidation,
) -> Result<(T, TypeMeta, Vec<String>), ApiError> {
    let mut unknown = Vec::new();
    let mut record = |path: serde_ignored::Path<'_>| {
        let mut rendered = String::new();
        render(&path, &mut rendered);
        if rendered != "apiVersion" && rendered != "kind" {
            unknown.push(rendered);
        }
    };
    let decode_error = |e: &dyn std::fmt::Display| {
        let message = if validation == FieldValidation::Strict {
            format!("strict decoding error: {e}")
        } else {
            format!("error decoding request body: {e}")
        };
        ApiError::bad_request(message)
    };
    // Duplicated keys are reported (Strict, Warn) and reduced to their last value, as
    // upstream's decoder keeps it. Ignore only looks for them when the decode trips on one.
    let mut duplicates = Vec::new();
    let (value, type_meta): (T, TypeMeta) = match format {
        Format::Json => {
            // The scan also reads apiVersion and kind, so a clean object is parsed twice in
            // all (scan, typed decode), not three times.
            let mut scanned_type_meta = None;
            if validation != FieldValidation::Ignore {
                let scanned = scan(body).map_err(|e| decode_error(&e))?;
                duplicates = scanned.duplicates;
                scanned_type_meta = scanned.type_meta;
            }
            let first = duplicates.is_empty().then(|| match scanned_type_meta {
                Some(type_meta) => decode_typed(body, &mut record).map(|value| (value, type_meta)),
                None => decode_json(body, &mut record),
            });
            match first {
                Some(Ok(decoded)) => decoded,
                Some(Err(e)) if !(validation == FieldValidation::Ignore && is_duplicate_error(&e)) => {
                    return Err(decode_error(&e));
                }
                _ => {
                    let deduplicated = last_wins(body).map_err(|e| decode_error(&e))?;
                    decode_json(&deduplicated, &mut record).map_err(|e| decode_error(&e))?
                }
            }
        }
        Format::Yaml => {
            crate::yaml_limits::check_yaml_limits(body)?;
            let de = serde_yaml_ng::Deserializer::from_slice(body);
            let value = serde_ignored::deserialize(de, &mut record).map_err(|e| decode_error(&e))?;
            (value, serde_yaml_ng::from_slice(body).map_err(|e| decode_error(&e))?)
        }
        // Protobuf bodies are read through the type's protobuf hooks, never here.
        Format::Protobuf => return Err(ApiError::unsupported_media_type(&[crate::JSON, crate::YAML])),
    };
    let messages: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{p}\""))
        .chain(duplicates.iter().map(|p| format!("duplicate field \"{p}\"")))
        .collect();
    match validation {
        FieldValidation::Strict if !messages.is_empty() => {
            Err(ApiError::bad_request(format!("strict decoding error: {}", messages.join(", "))))
        }
        FieldValidation::Warn => Ok((value, type_meta, messages)),
        _ => Ok((value, type_meta, Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Item {
        name: String,
    }

    #[derive(Debug, Deserialize)]
    struct Obj {
        #[serde(default)]
        spec: Spec,
    }

    #[derive(Debug, Default, Deserialize)]
    struct Spec {
        #[serde(default)]
        items: Vec<Item>,
    }

    const BODY: &[u8] = br#"{"apiVersion":"g/v1","kind":"Obj","spec":{"items":[{"name":"a","extra":1}],"bogus":true},"top":2}"#;

    #[test]
    fn warn_lists_unknown_fields_with_paths() {
        let (_, tm, warnings): (Obj, _, _) =
            decode_validated(BODY, Format::Json, FieldValidation::Warn).unwrap();
        assert_eq!(tm.kind, "Obj");
        assert_eq!(
            warnings,
            vec![
                "unknown field \"spec.items[0].extra\"",
                "unknown field \"spec.bogus\"",
                "unknown field \"top\""
            ]
        );
    }

    #[test]
    fn strict_rejects_and_ignore_is_silent() {
        let err = decode_validated::<Obj>(BODY, Format::Json, FieldValidation::Strict).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(
            err.message.starts_with("strict decoding error: unknown field \"spec.items[0].extra\""),
            "{}",
            err.message
        );
        let (_, _, w): (Obj, _, _) = decode_validated(BODY, Format::Json, FieldValidation::Ignore).unwrap();
        assert!(w.is_empty());
    }

    const DUPLICATED: &[u8] =
        br#"{"kind":"Obj","spec":{"x":1,"items":[{"name":"a"}],"items":[{"name":"b"}]}}"#;

    #[test]
    fn duplicates_are_reported_after_unknown_fields_and_the_last_one_wins() {
        let err = decode_validated::<Obj>(DUPLICATED, Format::Json, FieldValidation::Strict).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            r#"strict decoding error: unknown field "spec.x", duplicate field "spec.items""#
        );
        let (obj, _, warnings): (Obj, _, _) =
            decode_validated(DUPLICATED, Format::Json, FieldValidation::Warn).unwrap();
        assert_eq!(warnings, [r#"unknown field "spec.x""#, r#"duplicate field "spec.items""#]);
        assert_eq!(obj.spec.items[0].name, "b");
        let (obj, _, warnings): (Obj, _, _) =
            decode_validated(DUPLICATED, Format::Json, FieldValidation::Ignore).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(obj.spec.items[0].name, "b");
    }

    #[test]
    fn yaml_too() {
        let yaml = b"apiVersion: g/v1\nkind: Obj\nspec:\n  nope: 1\n";
        let (_, _, w): (Obj, _, _) = decode_validated(yaml, Format::Yaml, FieldValidation::Warn).unwrap();
        assert_eq!(w, vec!["unknown field \"spec.nope\""]);
    }

    #[test]
    fn bad_parameter_and_trailing_garbage() {
        assert_eq!(FieldValidation::parse(Some("Loose")).unwrap_err().code, 400);
        assert_eq!(FieldValidation::parse(None).unwrap(), FieldValidation::Warn);
        let err = decode_validated::<Obj>(b"{} {}", Format::Json, FieldValidation::Warn).unwrap_err();
        assert_eq!(err.code, 400);
    }
}
