//! Limits on YAML request bodies, checked with one linear pass before the YAML parser sees
//! them.
//!
//! libyaml (under `serde_yaml_ng`) takes time quadratic in the nesting of flow collections
//! (`[[[[…`: 16,000 levels take over a second, 100,000 most of a minute), and aliases let a
//! small document stand for an exponentially large one ("billion laughs"). Both are bounded
//! here by over-estimates that cannot be fooled by quoting: every `[` and `{` counts as a
//! possible flow collection, and every `*` that could start an alias counts as one. Real
//! Kubernetes objects are far below both budgets; the serde recursion limit (128) still
//! applies to whatever passes.

use piazza_core::ApiError;

/// The most `[` and `{` characters a YAML body may contain (an upper bound on its flow
/// nesting, which libyaml handles in quadratic time).
pub const MAX_YAML_FLOW_OPENERS: usize = 4096;

/// The most aliases (`*name`) a YAML body may contain; each one may repeat a whole subtree.
pub const MAX_YAML_ALIASES: usize = 8;

/// Counts of the constructs the limits bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct YamlCounts {
    /// `[` and `{` characters.
    pub flow_openers: usize,
    /// Places where an alias may start.
    pub aliases: usize,
}

/// Counts, in one pass, the characters that may open a flow collection and the places that
/// may start an alias: a `*` at the start of the text, after whitespace or after one of
/// `[{,:`, followed by a character that may be part of an anchor name.
pub fn count(body: &[u8]) -> YamlCounts {
    let mut counts = YamlCounts::default();
    let mut previous: Option<u8> = None;
    for (i, &byte) in body.iter().enumerate() {
        match byte {
            b'[' | b'{' => counts.flow_openers += 1,
            b'*' => {
                let starts_token = previous
                    .is_none_or(|p| p.is_ascii_whitespace() || matches!(p, b'[' | b'{' | b',' | b':'));
                let names_anchor = body.get(i + 1).is_some_and(|n| {
                    !n.is_ascii_whitespace() && !matches!(n, b'[' | b']' | b'{' | b'}' | b',')
                });
                if starts_token && names_anchor {
                    counts.aliases += 1;
                }
            }
            _ => {}
        }
        previous = Some(byte);
    }
    counts
}

/// Refuses (400, like any undecodable body) a YAML body over either budget.
pub fn check_yaml_limits(body: &[u8]) -> Result<(), ApiError> {
    let counts = count(body);
    if counts.flow_openers > MAX_YAML_FLOW_OPENERS {
        return Err(ApiError::bad_request(format!(
            "error decoding request body: yaml: too many flow collections: {} '[' or '{{' (at most {MAX_YAML_FLOW_OPENERS})",
            counts.flow_openers
        )));
    }
    if counts.aliases > MAX_YAML_ALIASES {
        return Err(ApiError::bad_request(format!(
            "error decoding request body: yaml: document contains excessive aliasing: {} aliases (at most {MAX_YAML_ALIASES})",
            counts.aliases
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_documents_pass() {
        let doc = b"apiVersion: g/v1\nkind: Pizza\nmetadata:\n  name: a\n  labels: {a: b}\nspec:\n  toppings: [{name: salami, quantity: 1}]\n  note: \"2 * 3 is six\"\n  ref: *x\n";
        assert_eq!(count(doc), YamlCounts { flow_openers: 3, aliases: 1 });
        check_yaml_limits(doc).unwrap();
    }

    #[test]
    fn multiplication_and_bullets_are_not_aliases() {
        assert_eq!(count(b"a: 2*3\nb: |\n  * item\n  * item\n").aliases, 0);
        assert_eq!(count(b"*a\n[*b,*c]\n{k:*d}").aliases, 4);
    }

    #[test]
    fn deep_flow_nesting_is_refused_whatever_the_quoting() {
        let quoted = format!("a: 'x\nb: {}", "[\"]\",".repeat(MAX_YAML_FLOW_OPENERS + 1));
        let err = check_yaml_limits(quoted.as_bytes()).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("too many flow collections: 4097"), "{}", err.message);
        let at_limit = "[".repeat(MAX_YAML_FLOW_OPENERS);
        check_yaml_limits(at_limit.as_bytes()).unwrap();
    }

    #[test]
    fn a_billion_laughs_is_refused() {
        let mut doc = String::from("l0: &l0 [lol, lol]\n");
        for level in 1..10 {
            doc.push_str(&format!(
                "l{level}: &l{level} [{}]\n",
                vec![format!("*l{}", level - 1); 10].join(",")
            ));
        }
        let err = check_yaml_limits(doc.as_bytes()).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("excessive aliasing: 90 aliases"), "{}", err.message);
    }
}
