//! Request body templates: `{n}` becomes a per-request counter and `{run}` an id unique to the
//! invocation, so that CREATE bodies get unique names (`"name":"p-{run}-{n}"`).

use bytes::Bytes;

/// A body split once into literal parts and placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    run: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Counter,
    Run,
}

impl Template {
    /// Parses `text`; `run` replaces `{run}`. Braces that form no placeholder stay as they are
    /// (JSON bodies are full of them).
    pub fn new(text: &str, run: &str) -> Template {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('{') {
            literal.push_str(&rest[..at]);
            rest = &rest[at..];
            let placeholder =
                [("{n}", Part::Counter), ("{run}", Part::Run)].into_iter().find(|(p, _)| rest.starts_with(p));
            match placeholder {
                Some((p, part)) => {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(part);
                    rest = &rest[p.len()..];
                }
                None => {
                    literal.push('{');
                    rest = &rest[1..];
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Template { parts, run: run.to_owned() }
    }

    /// Whether the template has any placeholder.
    pub fn is_dynamic(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Literal(_)))
    }

    /// The body for request number `n`.
    pub fn render(&self, n: u64) -> Bytes {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Counter => out.push_str(&n.to_string()),
                Part::Run => out.push_str(&self.run),
            }
        }
        Bytes::from(out)
    }
}

/// A short id for this invocation (base 36 of the start time in milliseconds and the PID), used
/// for `{run}`.
pub fn run_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    format!("{}{}", base36(millis % 36u64.pow(6)), base36(u64::from(std::process::id()) % 1296))
}

fn base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_counter_and_run() {
        let t = Template::new(r#"{"metadata":{"name":"p-{run}-{n}"},"n":{n}}"#, "abc");
        assert!(t.is_dynamic());
        assert_eq!(t.render(7), r#"{"metadata":{"name":"p-abc-7"},"n":7}"#);
        assert_eq!(t.render(12345), r#"{"metadata":{"name":"p-abc-12345"},"n":12345}"#);
    }

    #[test]
    fn plain_json_is_left_alone() {
        let body = r#"{"a":{"b":"{x}"},"c":"{"}"#;
        let t = Template::new(body, "r");
        assert!(!t.is_dynamic());
        assert_eq!(t.render(1), body);
        assert_eq!(Template::new("", "r").render(0), "");
        assert_eq!(Template::new("{n}{n}", "r").render(3), "33");
    }

    #[test]
    fn run_ids_are_dns_label_safe() {
        let id = run_id();
        assert!(!id.is_empty() && id.len() <= 8, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()), "{id}");
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
