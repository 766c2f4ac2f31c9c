//! Field selectors: `metadata.name=x`, `metadata.namespace!=y`, joined by commas. Which
//! fields may be selected is up to the kind; others are rejected as upstream does
//! (`field label not supported: spec.x`).

use super::{MAX_REQUIREMENTS, MAX_SELECTOR_LEN, SelectorError};

/// One field requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field path, e.g. `metadata.name`.
    pub field: String,
    /// True for `=`/`==`, false for `!=`.
    pub equals: bool,
    /// The value.
    pub value: String,
}

/// A parsed field selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// Splits on unescaped `sep`, keeping escapes for [`unescape`].
fn split_unescaped(input: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in input.chars() {
        let last = parts.last_mut().expect("never empty");
        if escaped {
            last.push(c);
            escaped = false;
        } else if c == '\\' {
            last.push(c);
            escaped = true;
        } else if c == sep {
            parts.push(String::new());
        } else {
            last.push(c);
        }
    }
    parts
}

/// Finds the first unescaped operator in a term: `(field, equals, value)`.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    let bytes = term.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'!' if bytes.get(i + 1) == Some(&b'=') => return Some((&term[..i], false, &term[i + 2..])),
            b'=' if bytes.get(i + 1) == Some(&b'=') => return Some((&term[..i], true, &term[i + 2..])),
            b'=' => return Some((&term[..i], true, &term[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

fn unescape(s: &str) -> Result<String, SelectorError> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('\\' | ',' | '=')) => out.push(n),
                Some(n) => return Err(SelectorError(format!("invalid escape sequence: \\{n}"))),
                None => return Err(SelectorError("invalid trailing escape sequence".to_owned())),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

impl FieldSelector {
    /// Parses a selector string; empty means everything.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        if input.len() > MAX_SELECTOR_LEN {
            return Err(SelectorError("field selector is too long".to_owned()));
        }
        if input.trim().is_empty() {
            return Ok(Self::default());
        }
        let terms = split_unescaped(input, ',');
        if terms.len() > MAX_REQUIREMENTS {
            return Err(SelectorError("too many field selector requirements".to_owned()));
        }
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms {
            let Some((field, equals, value)) = split_term(&term) else {
                return Err(SelectorError(format!("invalid selector: '{input}'; can't understand '{term}'")));
            };
            let field = field.trim();
            if field.is_empty() {
                return Err(SelectorError(format!("invalid selector: '{input}'; can't understand '{term}'")));
            }
            requirements.push(FieldRequirement { field: field.to_owned(), equals, value: unescape(value)? });
        }
        Ok(Self { requirements })
    }

    /// Checks every field is one the kind supports: `field label not supported: <f>`.
    pub fn check_supported(&self, supported: &[&str]) -> Result<(), SelectorError> {
        for r in &self.requirements {
            if !supported.contains(&r.field.as_str()) {
                return Err(SelectorError(format!("field label not supported: {}", r.field)));
            }
        }
        Ok(())
    }

    /// The field paths the requirements name, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.requirements.iter().map(|r| r.field.as_str())
    }

    /// True when the selector matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// True if every requirement holds; `value_of` returns a field's value.
    pub fn matches(&self, value_of: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let actual = value_of(&r.field).unwrap_or_default();
            (actual == r.value) == r.equals
        })
    }

    /// The value required by an equality on `field`, if any (e.g. `metadata.name`).
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.requirements.iter().find(|r| r.equals && r.field == field).map(|r| r.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some("a,b".to_owned()),
            "metadata.namespace" => Some("default".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn parses_and_matches() {
        let s = FieldSelector::parse(r"metadata.name=a\,b,metadata.namespace!=kube-system").unwrap();
        assert_eq!(
            FieldSelector::parse(r"metadata.name=x\=y").unwrap().required_value("metadata.name"),
            Some("x=y")
        );
        assert!(s.matches(get));
        assert_eq!(s.required_value("metadata.name"), Some("a,b"));
        assert!(!FieldSelector::parse("metadata.name==x").unwrap().matches(get));
        assert!(FieldSelector::parse("").unwrap().matches(get));
    }

    #[test]
    fn unsupported_fields_and_garbage() {
        let s = FieldSelector::parse("spec.color=red").unwrap();
        assert_eq!(
            s.check_supported(&["metadata.name"]).unwrap_err().0,
            "field label not supported: spec.color"
        );
        for bad in ["nonsense", "=x", r"a=\q", "a=b\\"] {
            assert!(FieldSelector::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,200}") {
            let _ = FieldSelector::parse(&s);
        }
    }
}
