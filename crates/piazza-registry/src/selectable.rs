//! Fields an author lets clients select on, beyond `metadata.name` and `metadata.namespace`
//! (upstream's CRD `selectableFields`): each is a path, such as `status.phase`, and a
//! function reading its value from the hub object. Values are strings, as in upstream's
//! field sets; numbers are rendered in decimal and booleans as `true`/`false`.

use std::sync::Arc;

use crate::selection::DEFAULT_SELECTABLE_FIELDS;

/// A selectable field's value as the selector compares it; `None` when the object has
/// no value (compared as the empty string, as upstream).
pub trait FieldValue {
    /// The value as a string.
    fn into_field_value(self) -> Option<String>;
}

impl FieldValue for String {
    fn into_field_value(self) -> Option<String> {
        Some(self)
    }
}

impl FieldValue for bool {
    fn into_field_value(self) -> Option<String> {
        Some(self.to_string())
    }
}

macro_rules! integer_field_value {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn into_field_value(self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )*};
}

integer_field_value!(i32, i64, u32, u64, usize);

impl<T: FieldValue> FieldValue for Option<T> {
    fn into_field_value(self) -> Option<String> {
        self.and_then(FieldValue::into_field_value)
    }
}

type Reader<H> = Arc<dyn Fn(&H) -> Option<String> + Send + Sync>;

/// The author-declared selectable fields of a kind with hub type `H`.
pub struct SelectableFields<H> {
    fields: Vec<(&'static str, Reader<H>)>,
}

impl<H> Default for SelectableFields<H> {
    fn default() -> Self {
        Self { fields: Vec::new() }
    }
}

impl<H> SelectableFields<H> {
    /// Adds a field; `false` (and no change) when the path is already selectable.
    pub fn add<V: FieldValue>(
        &mut self,
        path: &'static str,
        read: impl Fn(&H) -> V + Send + Sync + 'static,
    ) -> bool {
        if self.contains(path) {
            return false;
        }
        self.fields.push((path, Arc::new(move |object: &H| read(object).into_field_value())));
        true
    }

    /// True if `path` is selectable: a default field or a declared one.
    pub fn contains(&self, path: &str) -> bool {
        DEFAULT_SELECTABLE_FIELDS.contains(&path) || self.fields.iter().any(|(p, _)| *p == path)
    }

    /// Every selectable path: the defaults, then the declared ones in order.
    pub fn paths(&self) -> Vec<&'static str> {
        DEFAULT_SELECTABLE_FIELDS.iter().copied().chain(self.fields.iter().map(|(p, _)| *p)).collect()
    }

    /// The value of a declared field of `object`; `None` for other paths.
    pub fn value(&self, path: &str, object: &H) -> Option<String> {
        self.fields.iter().find(|(p, _)| *p == path).and_then(|(_, read)| read(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing {
        phase: Option<String>,
        slices: i32,
        hot: bool,
    }

    #[test]
    fn values_render_as_upstream_field_sets() {
        let mut fields = SelectableFields::<Thing>::default();
        assert!(fields.add("status.phase", |t: &Thing| t.phase.clone()));
        assert!(fields.add("spec.slices", |t: &Thing| t.slices));
        assert!(fields.add("spec.hot", |t: &Thing| t.hot));
        assert!(!fields.add("spec.slices", |_: &Thing| 0), "a path is declared once");
        assert!(!fields.add("metadata.name", |_: &Thing| String::new()), "defaults are built in");
        let thing = Thing { phase: None, slices: -12, hot: true };
        assert_eq!(fields.value("status.phase", &thing), None);
        assert_eq!(fields.value("spec.slices", &thing).as_deref(), Some("-12"));
        assert_eq!(fields.value("spec.hot", &thing).as_deref(), Some("true"));
        assert_eq!(fields.value("spec.other", &thing), None);
        assert_eq!(
            fields.paths(),
            ["metadata.name", "metadata.namespace", "status.phase", "spec.slices", "spec.hot"]
        );
        assert!(fields.contains("metadata.namespace") && !fields.contains("spec.other"));
    }
}
