//! Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a` (exists),
//! `!a` (does not exist), `a>1`, `a<1`; requirements joined by commas, all must hold.

use std::collections::BTreeMap;

use super::{MAX_REQUIREMENTS, MAX_SELECTOR_LEN, SelectorError};

/// One requirement on one label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// The label is present.
    Exists(String),
    /// The label is absent.
    DoesNotExist(String),
    /// The label equals one of the values (`=`, `==`, `in`).
    In(String, Vec<String>),
    /// The label is absent or equals none of the values (`!=`, `notin`).
    NotIn(String, Vec<String>),
    /// The label is an integer greater than the value.
    GreaterThan(String, i64),
    /// The label is an integer less than the value.
    LessThan(String, i64),
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Exists(k) => labels.contains_key(k),
            Self::DoesNotExist(k) => !labels.contains_key(k),
            Self::In(k, values) => labels.get(k).is_some_and(|v| values.contains(v)),
            Self::NotIn(k, values) => labels.get(k).is_none_or(|v| !values.contains(v)),
            Self::GreaterThan(k, n) => {
                labels.get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n)
            }
            Self::LessThan(k, n) => labels.get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
        }
    }
}

/// A parsed label selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

fn err(message: impl Into<String>) -> SelectorError {
    SelectorError(format!("unable to parse requirement: {}", message.into()))
}

fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn check_key(key: &str) -> Result<(), SelectorError> {
    let ok = match key.rsplit_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.split('.').all(|p| {
                    !p.is_empty()
                        && p.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                        && !p.starts_with('-')
                        && !p.ends_with('-')
                })
                && is_name_part(name)
        }
        None => is_name_part(key),
    };
    if ok { Ok(()) } else { Err(err(format!("invalid label key {key:?}"))) }
}

fn check_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() || is_name_part(value) {
        Ok(())
    } else {
        Err(err(format!("invalid label value {value:?}")))
    }
}

/// Splits on commas that are not inside parentheses.
fn split_requirements(input: &str) -> Result<Vec<&str>, SelectorError> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or_else(|| err("unbalanced parenthesis"))?,
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(err("unbalanced parenthesis"));
    }
    parts.push(&input[start..]);
    Ok(parts)
}

fn parse_set(rest: &str) -> Result<Vec<String>, SelectorError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| err("expected a parenthesised set of values"))?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_owned()).collect();
    for v in &values {
        check_value(v)?;
    }
    Ok(values)
}

fn parse_requirement(raw: &str) -> Result<Requirement, SelectorError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(err("empty requirement"));
    }
    if let Some(key) = s.strip_prefix('!') {
        let key = key.trim();
        check_key(key)?;
        return Ok(Requirement::DoesNotExist(key.to_owned()));
    }
    for (op, len) in [("==", 2), ("!=", 2), ("=", 1), (">", 1), ("<", 1)] {
        if let Some(pos) = s.find(op) {
            // `!=` must not be read as `=` preceded by `!`; the loop order takes care of it.
            let key = s[..pos].trim();
            let value = s[pos + len..].trim();
            check_key(key)?;
            return match op {
                "==" | "=" => {
                    check_value(value)?;
                    Ok(Requirement::In(key.to_owned(), vec![value.to_owned()]))
                }
                "!=" => {
                    check_value(value)?;
                    Ok(Requirement::NotIn(key.to_owned(), vec![value.to_owned()]))
                }
                ">" | "<" => {
                    let n = value.parse::<i64>().map_err(|_| {
                        err(format!("for 'Gt', 'Lt' operators, the value must be an integer, got {value:?}"))
                    })?;
                    Ok(if op == ">" {
                        Requirement::GreaterThan(key.to_owned(), n)
                    } else {
                        Requirement::LessThan(key.to_owned(), n)
                    })
                }
                _ => unreachable!("operators are listed above"),
            };
        }
    }
    let mut words = s.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or("").trim();
    let rest = words.next().unwrap_or("").trim();
    check_key(key)?;
    if rest.is_empty() {
        return Ok(Requirement::Exists(key.to_owned()));
    }
    if let Some(set) = rest.strip_prefix("notin") {
        return Ok(Requirement::NotIn(key.to_owned(), parse_set(set)?));
    }
    if let Some(set) = rest.strip_prefix("in") {
        return Ok(Requirement::In(key.to_owned(), parse_set(set)?));
    }
    Err(err(format!("found {rest:?}, expected: in, notin, =, ==, !=, gt, lt")))
}

impl LabelSelector {
    /// Parses a selector string; empty means everything.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        if input.len() > MAX_SELECTOR_LEN {
            return Err(err("selector is too long"));
        }
        if input.trim().is_empty() {
            return Ok(Self::default());
        }
        let parts = split_requirements(input)?;
        if parts.len() > MAX_REQUIREMENTS {
            return Err(err("too many requirements"));
        }
        let requirements = parts.into_iter().map(parse_requirement).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { requirements })
    }

    /// True when the selector matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// True if `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The requirements.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn operators() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        for (sel, expected) in [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (web, db)", true),
            ("app notin (web,db)", false),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier=back", false),
            ("app=web, tier=front", true),
            ("n>3", true),
            ("n<3", false),
            ("example.com/owner", false),
        ] {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&l), expected, "{sel}");
        }
    }

    #[test]
    fn hostile_selectors_are_errors() {
        for bad in [
            "!!!",
            "a in (b",
            "a in b",
            "a=b)",
            "=b",
            "a=-b-",
            "a b c",
            "a>x",
            ",",
            "a,,b",
            "Ab Cd",
            &"a".repeat(MAX_SELECTOR_LEN + 1),
        ] {
            let e = LabelSelector::parse(bad).unwrap_err();
            assert!(e.0.starts_with("unable to parse requirement"), "{bad}: {e}");
        }
        let many = vec!["a"; MAX_REQUIREMENTS + 1].join(",");
        assert!(LabelSelector::parse(&many).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,200}") {
            let _ = LabelSelector::parse(&s);
        }
    }
}
