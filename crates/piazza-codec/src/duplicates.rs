//! Duplicate fields in a JSON body. Upstream's strict decoding reports every key that appears
//! twice in one object, with its path (`spec.toppings`, `metadata.labels.app`,
//! `spec.toppings[0].name`), and otherwise keeps the last value. Serde's derived decoders
//! refuse a duplicate struct field outright and silently keep the last map entry, so the
//! body is walked once on its own to find them; [`last_wins`] rewrites it so that the
//! typed decode sees each key once.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::object::TypeMeta;

/// What one pass over a JSON document finds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scanned {
    /// The paths of the duplicated keys, in document order (each path once per repetition).
    pub duplicates: Vec<String>,
    /// The top-level `apiVersion` and `kind` (empty when absent), if the document is an
    /// object. Read as a [`TypeMeta`] decode reads them: a value that is not a string is an
    /// error.
    pub type_meta: Option<TypeMeta>,
}

/// Walks a JSON document once for its duplicated keys and its type metadata, so that the
/// decode that follows need not parse it again for either. A syntax error is returned as
/// is: the typed decode would report it too.
pub fn scan(body: &[u8]) -> Result<Scanned, serde_json::Error> {
    let mut scanned = Scanned::default();
    let mut path = String::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    Walk { path: &mut path, found: &mut scanned.duplicates, top: Some(&mut scanned.type_meta) }
        .deserialize(&mut de)?;
    de.end()?;
    Ok(scanned)
}

/// `body` re-encoded with every object's duplicated keys reduced to their last value, as
/// upstream's decoder keeps them.
pub fn last_wins(body: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    // serde_json's `Value` keeps the last of duplicated keys.
    let value: serde_json::Value = serde_json::from_slice(body)?;
    serde_json::to_vec(&value)
}

/// A key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The keys of one object so far: a short list, or a hash set once the object is large (a
/// hostile body may hold hundreds of thousands of keys in one object).
#[derive(Default)]
struct SeenKeys<'de> {
    few: Vec<Cow<'de, str>>,
    many: std::collections::HashSet<Cow<'de, str>>,
}

impl<'de> SeenKeys<'de> {
    const FEW: usize = 16;

    /// False if `key` was seen before.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&key) {
                return false;
            }
            if self.few.len() < Self::FEW {
                self.few.push(key);
                return true;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(key)
    }
}

/// Walks one value at `path`, recording duplicated keys into `found`.
struct Walk<'a> {
    path: &'a mut String,
    found: &'a mut Vec<String>,
    /// At the root only: where the document's type metadata goes if it is an object.
    top: Option<&'a mut Option<TypeMeta>>,
}

/// A top-level key the scan reads the value of.
enum TypeField {
    ApiVersion,
    Kind,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = SeenKeys::default();
        let parent_len = self.path.len();
        let mut type_meta = self.top.map(|top| top.insert(TypeMeta::default()));
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let field = match (&type_meta, &*key) {
                (Some(_), "apiVersion") => Some(TypeField::ApiVersion),
                (Some(_), "kind") => Some(TypeField::Kind),
                _ => None,
            };
            if !self.path.is_empty() {
                self.path.push('.');
            }
            self.path.push_str(&key);
            if !seen.insert(key) {
                self.found.push(self.path.clone());
            }
            match (field, type_meta.as_deref_mut()) {
                (Some(TypeField::ApiVersion), Some(meta)) => meta.api_version = map.next_value()?,
                (Some(TypeField::Kind), Some(meta)) => meta.kind = map.next_value()?,
                _ => map.next_value_seed(Walk { path: self.path, found: self.found, top: None })?,
            }
            self.path.truncate(parent_len);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let parent_len = self.path.len();
        let mut index = 0usize;
        loop {
            let _ = write!(self.path, "[{index}]");
            let more = seq.next_element_seed(Walk { path: self.path, found: self.found, top: None })?;
            self.path.truncate(parent_len);
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate_fields(body: &[u8]) -> Result<Vec<String>, serde_json::Error> {
        scan(body).map(|scanned| scanned.duplicates)
    }

    #[test]
    fn finds_duplicates_with_their_paths_in_document_order() {
        let body = br#"{"spec":{"x":1,"toppings":[{"name":"a","name":"b"}],"toppings":[]},
            "metadata":{"labels":{"app":"1","app":"2","app":"3"}},"spec":{}}"#;
        assert_eq!(
            duplicate_fields(body).unwrap(),
            ["spec.toppings[0].name", "spec.toppings", "metadata.labels.app", "metadata.labels.app", "spec"]
        );
    }

    #[test]
    fn clean_documents_and_scalars_have_none() {
        assert!(duplicate_fields(br#"{"a":{"b":[1,2,{"c":null}]},"d":"e"}"#).unwrap().is_empty());
        assert!(duplicate_fields(b"[1, 2, 3]").unwrap().is_empty());
        assert!(duplicate_fields(b"\"text\"").unwrap().is_empty());
    }

    #[test]
    fn large_objects_are_checked_in_linear_time() {
        let mut body = String::from("{");
        for i in 0..200_000 {
            body.push_str(&format!("\"k{i}\":0,"));
        }
        body.push_str("\"k5\":1,\"k199999\":2}");
        let started = std::time::Instant::now();
        assert_eq!(duplicate_fields(body.as_bytes()).unwrap(), ["k5", "k199999"]);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn escaped_keys_compare_by_their_value() {
        assert_eq!(duplicate_fields(br#"{"a":1,"\u0061":2}"#).unwrap(), ["a"]);
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        assert!(duplicate_fields(b"{\"a\":").is_err());
        assert!(duplicate_fields(b"{} trailing").is_err());
        let deep = "[".repeat(100_000);
        assert!(duplicate_fields(deep.as_bytes()).is_err(), "serde_json's recursion limit holds");
    }

    #[test]
    fn the_scan_reads_the_top_level_type_metadata_as_a_type_meta_decode_does() {
        let body = br#"{"spec":{"kind":"inner","apiVersion":"x"},"kind":"Pizza","apiVersion":"g/v1"}"#;
        let scanned = scan(body).unwrap();
        assert_eq!(scanned.type_meta, serde_json::from_slice::<TypeMeta>(body).ok());
        assert_eq!(scanned.type_meta.unwrap().api_version, "g/v1");
        // Absent fields are empty; a document that is not an object has none.
        assert_eq!(scan(br#"{"spec":{}}"#).unwrap().type_meta, Some(TypeMeta::default()));
        assert_eq!(scan(br#"["g/v1","Pizza"]"#).unwrap().type_meta, None);
        // A value that is not a string is refused with serde's own message.
        for body in [&br#"{"kind":1}"#[..], br#"{"apiVersion":null}"#, br#"{"kind":{"a":1}}"#] {
            let ours = scan(body).unwrap_err().to_string();
            let typed = serde_json::from_slice::<TypeMeta>(body).unwrap_err().to_string();
            assert_eq!(ours, typed);
        }
        // Escaped keys and values read as their value.
        let escaped = scan(br#"{"\u006bind":"Pi\u007aza"}"#).unwrap();
        assert_eq!(escaped.type_meta.unwrap().kind, "Pizza");
    }

    #[test]
    fn the_last_duplicate_wins() {
        let rewritten = last_wins(br#"{"a":1,"b":{"c":1,"c":2},"a":3}"#).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&rewritten).unwrap();
        assert_eq!(value, serde_json::json!({"a": 3, "b": {"c": 2}}));
    }
}
