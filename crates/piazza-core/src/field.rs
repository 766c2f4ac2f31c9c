//! Field paths and field errors, the building blocks of `Invalid` (422) responses.
//!
//! A [`FieldError`] renders exactly as upstream's `field.Error` does:
//! `spec.toppings[0].quantity: Invalid value: -1: must be greater than 0`.

use std::fmt::{self, Write as _};

/// A path to a field inside an object, such as `spec.toppings[0].quantity`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// The path of a top-level field.
    pub fn new(root: &str) -> Self {
        Self(root.to_owned())
    }

    /// The path of a child field.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() { Self(name.to_owned()) } else { self.joined(".", name, "") }
    }

    /// The path of a list element.
    pub fn index(&self, index: usize) -> Self {
        let mut path = String::with_capacity(self.0.len() + 6);
        path.push_str(&self.0);
        // Writing to a String cannot fail.
        let _ = write!(path, "[{index}]");
        Self(path)
    }

    /// The path of a map entry.
    pub fn key(&self, key: &str) -> Self {
        self.joined("[", key, "]")
    }

    /// This path followed by `open`, `part` and `close`, in one allocation (validation builds
    /// paths for every field it checks, errors or not).
    fn joined(&self, open: &str, part: &str, close: &str) -> Self {
        let mut path = String::with_capacity(self.0.len() + open.len() + part.len() + close.len());
        path.push_str(&self.0);
        path.push_str(open);
        path.push_str(part);
        path.push_str(close);
        Self(path)
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is wrong with a field. Each maps to the upstream `CauseType` string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldErrorType {
    /// A required field is missing.
    Required,
    /// The value is not valid.
    Invalid,
    /// The value repeats one that must be unique.
    Duplicate,
    /// The value is not one of the supported values.
    NotSupported,
    /// The field may not be set.
    Forbidden,
    /// The value is too long.
    TooLong,
    /// The field is not known (strict decoding).
    NotFound,
}

impl FieldErrorType {
    /// The `StatusCause.reason` string.
    pub fn cause_type(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::Duplicate => "FieldValueDuplicate",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::NotFound => "FieldValueNotFound",
        }
    }

    /// The human phrase used in messages.
    pub fn phrase(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid => "Invalid value",
            Self::Duplicate => "Duplicate value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::NotFound => "Not found",
        }
    }

    /// Whether messages of this type print the offending value.
    fn shows_value(self) -> bool {
        matches!(self, Self::Invalid | Self::Duplicate | Self::NotSupported | Self::NotFound)
    }
}

/// One problem with one field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// What kind of problem.
    pub error_type: FieldErrorType,
    /// Where it is.
    pub field: FieldPath,
    /// The offending value, rendered as upstream does (strings quoted, numbers bare).
    pub value: Option<serde_json::Value>,
    /// A human explanation.
    pub detail: String,
}

impl FieldError {
    /// A field whose value is invalid.
    pub fn invalid(field: FieldPath, value: impl Into<serde_json::Value>, detail: impl Into<String>) -> Self {
        Self { error_type: FieldErrorType::Invalid, field, value: Some(value.into()), detail: detail.into() }
    }

    /// A required field that is missing.
    pub fn required(field: FieldPath, detail: impl Into<String>) -> Self {
        Self { error_type: FieldErrorType::Required, field, value: None, detail: detail.into() }
    }

    /// A value that repeats one that must be unique.
    pub fn duplicate(field: FieldPath, value: impl Into<serde_json::Value>) -> Self {
        Self {
            error_type: FieldErrorType::Duplicate,
            field,
            value: Some(value.into()),
            detail: String::new(),
        }
    }

    /// A field that may not be set or changed.
    pub fn forbidden(field: FieldPath, detail: impl Into<String>) -> Self {
        Self { error_type: FieldErrorType::Forbidden, field, value: None, detail: detail.into() }
    }

    /// A value that is not one of the supported ones.
    pub fn not_supported(field: FieldPath, value: impl Into<serde_json::Value>, supported: &[&str]) -> Self {
        let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self {
            error_type: FieldErrorType::NotSupported,
            field,
            value: Some(value.into()),
            detail: format!("supported values: {}", quoted.join(", ")),
        }
    }

    /// The message without the field path, used as the `StatusCause.message`.
    pub fn body(&self) -> String {
        let mut out = self.error_type.phrase().to_owned();
        if self.error_type.shows_value()
            && let Some(value) = &self.value
        {
            out.push_str(": ");
            out.push_str(&render_value(value));
        }
        if !self.detail.is_empty() {
            out.push_str(": ");
            out.push_str(&self.detail);
        }
        out
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

fn render_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => format!("{s:?}"),
        // Go's %#v of a []string, as upstream prints a rejected list of query values.
        serde_json::Value::Array(items) if !items.is_empty() && items.iter().all(|i| i.is_string()) => {
            let quoted: Vec<String> =
                items.iter().map(|i| format!("{:?}", i.as_str().unwrap_or_default())).collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
        serde_json::Value::Null => "null".to_owned(),
        // Go's %v prints whole floats without a fraction (-1, not -1.0).
        serde_json::Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// A list of field errors; empty means valid.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// No errors.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Adds one error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Adds all errors of another list.
    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    /// True when there are no errors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors.
    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }
}

impl fmt::Display for FieldErrors {
    /// One error prints bare; several print as `[a, b]`, as upstream's aggregate does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => Ok(()),
            [one] => write!(f, "{one}"),
            many => {
                let parts: Vec<String> = many.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

impl FromIterator<FieldError> for FieldErrors {
    fn from_iter<I: IntoIterator<Item = FieldError>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_upstream() {
        let path = FieldPath::new("spec").child("toppings").index(0).child("quantity");
        let err = FieldError::invalid(path, -1, "must be greater than 0");
        assert_eq!(err.to_string(), "spec.toppings[0].quantity: Invalid value: -1: must be greater than 0");
        let dup =
            FieldError::duplicate(FieldPath::new("spec").child("toppings").index(2).child("name"), "salami");
        assert_eq!(dup.to_string(), "spec.toppings[2].name: Duplicate value: \"salami\"");
        let float = FieldError::invalid(FieldPath::new("spec").child("cost"), -1.0, "must be positive");
        assert_eq!(float.to_string(), "spec.cost: Invalid value: -1: must be positive");
        let frac = FieldError::invalid(FieldPath::new("spec").child("cost"), 1.5, "x");
        assert_eq!(frac.to_string(), "spec.cost: Invalid value: 1.5: x");
        let req = FieldError::required(
            FieldPath::new("metadata").child("name"),
            "name or generateName is required",
        );
        assert_eq!(req.to_string(), "metadata.name: Required value: name or generateName is required");
    }

    #[test]
    fn aggregate_brackets_several() {
        let a = FieldError::required(FieldPath::new("a"), "");
        let b = FieldError::forbidden(FieldPath::new("b"), "no");
        let one: FieldErrors = [a.clone()].into_iter().collect();
        assert_eq!(one.to_string(), "a: Required value");
        let two: FieldErrors = [a, b].into_iter().collect();
        assert_eq!(two.to_string(), "[a: Required value, b: Forbidden: no]");
    }

    #[test]
    fn map_keys_and_nested_paths() {
        let p = FieldPath::new("metadata").child("labels").key("app");
        assert_eq!(p.as_str(), "metadata.labels[app]");
    }
}
