//! Errors of the strategic merge patch engine, with upstream's messages, and Go's `%v`
//! rendering of JSON values that those messages embed (`map[a:1 b:[x y]]`).

use std::fmt;

use serde_json::Value;

/// How an SMP error is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpErrorKind {
    /// A malformed patch document or directive list (upstream: 400 BadRequest).
    BadRequest,
    /// Content the engine refuses, such as lists of lists (upstream: 422 with a generic message).
    Unprocessable,
    /// Any other patch error (upstream answers these with a bare error; see [`super`]).
    Other,
}

/// An error applying a strategic merge patch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmpError {
    /// How the error is answered.
    pub kind: SmpErrorKind,
    /// Upstream's message.
    pub message: String,
}

impl fmt::Display for SmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SmpError {}

impl SmpError {
    fn new(kind: SmpErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A free-form error of kind [`SmpErrorKind::Other`].
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(SmpErrorKind::Other, message)
    }

    /// `invalid JSON document`.
    pub fn bad_json_doc() -> Self {
        Self::new(SmpErrorKind::BadRequest, "invalid JSON document")
    }

    /// `lists of lists are not supported`.
    pub fn no_list_of_lists() -> Self {
        Self::new(SmpErrorKind::Unprocessable, "lists of lists are not supported")
    }

    /// `invalid patch format of primitive list`.
    pub fn bad_primitive_list_format() -> Self {
        Self::new(SmpErrorKind::BadRequest, "invalid patch format of primitive list")
    }

    /// `invalid patch format of retainKeys`.
    pub fn bad_retain_keys_format() -> Self {
        Self::new(SmpErrorKind::BadRequest, "invalid patch format of retainKeys")
    }

    /// `invalid patch format of setElementOrder list`.
    pub fn bad_set_element_order_format() -> Self {
        Self::new(SmpErrorKind::BadRequest, "invalid patch format of setElementOrder list")
    }

    /// `map: map[..] does not contain declared merge key: name`.
    pub fn no_merge_key(map: &serde_json::Map<String, Value>, key: &str) -> Self {
        Self::other(format!("map: {} does not contain declared merge key: {key}", go_map(map)))
    }

    /// `expected a <expected>, but received a <Go type of actual>`.
    pub fn bad_arg_type(expected: &str, actual: &Value) -> Self {
        Self::other(format!("expected a {expected}, but received a {}", go_type(actual)))
    }

    /// `unknown patch type: <t> in map: map[..]`.
    pub fn bad_patch_type(directive: &Value, map: &serde_json::Map<String, Value>) -> Self {
        Self::other(format!("unknown patch type: {} in map: {}", go_s(directive), go_map(map)))
    }
}

/// The Go type name `reflect.TypeOf` prints for a decoded JSON value.
pub fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%s` of a decoded JSON value: strings bare, anything else flagged as Go does.
pub fn go_s(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".to_owned(),
        Value::Array(_) | Value::Object(_) => go_v(value),
        other => format!("%!s({}={})", go_type(other), go_v(other)),
    }
}

/// Go's `%v` of a decoded JSON value.
pub fn go_v(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => go_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => go_map(map),
    }
}

fn go_map(map: &serde_json::Map<String, Value>) -> String {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let body: Vec<String> = entries.into_iter().map(|(k, v)| format!("{k}:{}", go_v(v))).collect();
    format!("map[{}]", body.join(" "))
}

/// `%v` of a float64: the shortest digits, in exponent form when the exponent is < -4 or >= 6.
fn go_float(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        return format!("{f}");
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_like_go_percent_v() {
        assert_eq!(
            go_v(&json!({"b": [1, "x"], "a": null, "c": {"d": true}})),
            "map[a:<nil> b:[1 x] c:map[d:true]]"
        );
        assert_eq!(go_v(&json!(1.5)), "1.5");
        assert_eq!(go_v(&json!(2.0)), "2");
        assert_eq!(go_v(&json!(1e22)), "1e+22");
        assert_eq!(go_v(&json!(1_000_000.0)), "1e+06");
        assert_eq!(go_v(&json!(123_456.0)), "123456");
        assert_eq!(go_s(&json!(3)), "%!s(int64=3)");
        assert_eq!(go_s(&json!("merge")), "merge");
    }

    #[test]
    fn messages_match_upstream() {
        let m = json!({"quantity": 1});
        assert_eq!(
            SmpError::no_merge_key(m.as_object().unwrap(), "name").message,
            "map: map[quantity:1] does not contain declared merge key: name"
        );
        assert_eq!(
            SmpError::bad_arg_type("[]interface {}", &json!("x")).message,
            "expected a []interface {}, but received a string"
        );
        assert_eq!(
            SmpError::bad_patch_type(&json!("explode"), json!({"$patch": "explode"}).as_object().unwrap())
                .message,
            "unknown patch type: explode in map: map[$patch:explode]"
        );
    }
}
