//! The rules for the names a resource declares: Kubernetes versions, API groups, kinds and
//! lowercase resource names, plus the default plural. Plain functions on `&str`, so they are
//! tested without building any tokens.
//!
//! Each check returns `Err(reason)`, a sentence fragment the caller puts after the offending
//! value, e.g. "`V1` is not a valid version: it must start with a lowercase `v`".

/// The longest RFC 1035 label (kind, plural, singular, short name, category) and the longest
/// label inside a group.
const MAX_LABEL: usize = 63;
/// The longest RFC 1123 subdomain (group).
const MAX_SUBDOMAIN: usize = 253;

/// Checks a Kubernetes API version: `v<major>` with an optional `alpha<n>` or `beta<n>`, all
/// numbers positive and without leading zeros (`v1`, `v1beta2`, `v2alpha1`). These are the
/// versions that Kubernetes sorts by maturity in discovery; anything else sorts last.
pub(crate) fn check_version(version: &str) -> Result<(), String> {
    const SHAPE: &str = "a version is `v`, a major number, and optionally `alpha` or `beta` and a \
                         number, e.g. `v1`, `v1beta2`, `v2alpha1`";
    let Some(rest) = version.strip_prefix('v') else {
        return Err(format!("it must start with a lowercase `v`; {SHAPE}"));
    };
    let major_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (major, rest) = rest.split_at(major_len);
    check_number(major).map_err(|why| format!("the major version {why}; {SHAPE}"))?;
    if rest.is_empty() {
        return Ok(());
    }
    let Some(number) = rest.strip_prefix("alpha").or_else(|| rest.strip_prefix("beta")) else {
        return Err(format!("`{rest}` after the major version is not `alpha<n>` or `beta<n>`; {SHAPE}"));
    };
    check_number(number).map_err(|why| format!("the number after alpha/beta {why}; {SHAPE}"))
}

fn check_number(digits: &str) -> Result<(), &'static str> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        Err("is missing")
    } else if digits.starts_with('0') {
        Err("must be a positive number without leading zeros")
    } else {
        Ok(())
    }
}

/// Checks an API group: a lowercase RFC 1123 subdomain with at least one dot, like CRD
/// validation asks (`restaurant.programming-kubernetes.info`). Dotless groups (`apps`,
/// `batch`) belong to Kubernetes itself.
pub(crate) fn check_group(group: &str) -> Result<(), String> {
    const SHAPE: &str = "a group is a lowercase DNS subdomain with at least one dot, \
                         e.g. `restaurant.example.com`";
    if group.is_empty() {
        return Err(format!("it is empty (the empty core group is Kubernetes' own); {SHAPE}"));
    }
    if group.len() > MAX_SUBDOMAIN {
        return Err(format!("it is {} characters long, more than {MAX_SUBDOMAIN}; {SHAPE}", group.len()));
    }
    if let Some(upper) = group.chars().find(char::is_ascii_uppercase) {
        return Err(format!(
            "it contains the uppercase letter `{upper}` (try `{}`); {SHAPE}",
            group.to_ascii_lowercase()
        ));
    }
    if !group.contains('.') {
        return Err(format!("it has no dot; {SHAPE}"));
    }
    if group.split('.').any(str::is_empty) {
        return Err(format!("it has an empty part (a dot at either end, or two in a row); {SHAPE}"));
    }
    for label in group.split('.') {
        check_label_chars(label, LabelStart::LetterOrDigit)
            .map_err(|why| format!("the part `{label}` {why}; {SHAPE}"))?;
    }
    Ok(())
}

/// Checks a kind: ASCII letters and digits starting with an uppercase letter
/// (`Pizza`, `DNSRecord`), at most 63 characters, so that its lowercase form is a valid
/// resource name.
pub(crate) fn check_kind(kind: &str) -> Result<(), String> {
    const SHAPE: &str = "a kind is UpperCamelCase ASCII letters and digits, e.g. `Pizza`";
    match kind.chars().next() {
        None => return Err(format!("it is empty; {SHAPE}")),
        Some(first) if !first.is_ascii_uppercase() => {
            return Err(format!("it must start with an uppercase ASCII letter; {SHAPE}"));
        }
        Some(_) => {}
    }
    if let Some(bad) = kind.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(format!("`{bad}` is not an ASCII letter or digit; {SHAPE}"));
    }
    if kind.len() > MAX_LABEL {
        return Err(format!("it is {} characters long, more than {MAX_LABEL}; {SHAPE}", kind.len()));
    }
    Ok(())
}

/// Checks a lowercase resource name (plural, singular, short name, category): an RFC 1035
/// label, i.e. `a-z`, `0-9` and `-`, starting with a letter and ending with a letter or digit,
/// at most 63 characters.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    const SHAPE: &str = "names are lowercase RFC 1035 labels (a-z, 0-9 and `-`, starting with a \
                         letter), e.g. `pizzas`";
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("it must be lowercase (try `{}`)", name.to_ascii_lowercase()));
    }
    check_label_chars(name, LabelStart::Letter).map_err(|why| format!("it {why}; {SHAPE}"))
}

#[derive(Clone, Copy)]
enum LabelStart {
    /// RFC 1035: names, which must not look like numbers.
    Letter,
    /// RFC 1123: the parts of a DNS subdomain.
    LetterOrDigit,
}

fn check_label_chars(label: &str, start: LabelStart) -> Result<(), String> {
    let Some(first) = label.chars().next() else {
        return Err("is empty".to_owned());
    };
    if label.len() > MAX_LABEL {
        return Err(format!("is {} characters long, more than {MAX_LABEL}", label.len()));
    }
    if let Some(bad) = label.chars().find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')) {
        return Err(format!("contains `{bad}`"));
    }
    match start {
        LabelStart::Letter if !first.is_ascii_lowercase() => {
            return Err("must start with a letter".to_owned());
        }
        LabelStart::LetterOrDigit if first == '-' => {
            return Err("must start with a letter or digit".to_owned());
        }
        _ => {}
    }
    if label.ends_with('-') {
        return Err("must end with a letter or digit".to_owned());
    }
    Ok(())
}

/// The plural of a lowercase kind by simple English rules: a consonant + `y` becomes `ies`
/// (`policy` → `policies`, but `gateway` → `gateways`); `s`, `x`, `z`, `ch` and `sh` take
/// `es` (`ingress` → `ingresses`); everything else takes `s`. Irregular plurals are declared
/// with `plural = "..."`.
pub(crate) fn default_plural(singular: &str) -> String {
    if let Some(stem) = singular.strip_suffix('y')
        && stem.chars().last().is_some_and(|c| c.is_ascii_alphabetic() && !"aeiou".contains(c))
    {
        return format!("{stem}ies");
    }
    if ["s", "x", "z", "ch", "sh"].iter().any(|end| singular.ends_with(end)) {
        return format!("{singular}es");
    }
    format!("{singular}s")
}

/// The closest of `candidates` to `word`, if it is a plausible typo (edit distance at most 2,
/// ignoring `_`/`-` and case, so `shortNames` finds `short_names`).
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| s.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
    let word: Vec<char> = norm(word);
    candidates
        .iter()
        .map(|c| (edit_distance(&word, &norm(c)), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in ["v1", "v2", "v10", "v1beta1", "v1beta2", "v2alpha1", "v1alpha10"] {
            assert_eq!(check_version(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "must start with a lowercase `v`"),
            ("1", "must start with a lowercase `v`"),
            ("V1", "must start with a lowercase `v`"),
            ("v", "major version is missing"),
            ("v0", "major version must be a positive number"),
            ("v01", "major version must be a positive number"),
            ("vbeta1", "major version is missing"),
            ("v1beta", "number after alpha/beta is missing"),
            ("v1beta0", "number after alpha/beta must be a positive number"),
            ("v1gamma1", "`gamma1` after the major version"),
            ("v1-beta1", "`-beta1` after the major version"),
            ("v1beta1x", "number after alpha/beta is missing"),
            ("v1.2", "`.2` after the major version"),
        ] {
            let err = check_version(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn groups() {
        for ok in ["restaurant.programming-kubernetes.info", "menu.piazza.dev", "a.b", "0.example.com"] {
            assert_eq!(check_group(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "it is empty"),
            ("apps", "it has no dot"),
            ("Restaurant.example.com", "uppercase letter `R` (try `restaurant.example.com`)"),
            ("example..com", "it has an empty part"),
            (".example.com", "it has an empty part"),
            ("example.com.", "it has an empty part"),
            ("my_group.example.com", "the part `my_group` contains `_`"),
            ("-x.example.com", "the part `-x` must start with a letter or digit"),
            ("x-.example.com", "the part `x-` must end with a letter or digit"),
        ] {
            let err = check_group(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(check_group(&long_label).unwrap_err().contains("more than 63"));
        let long = ["abc"; 64].join(".");
        assert!(check_group(&long).unwrap_err().contains("more than 253"));
    }

    #[test]
    fn kinds() {
        for ok in ["Pizza", "DNSRecord", "V1Thing"] {
            assert_eq!(check_kind(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "it is empty"),
            ("pizza", "must start with an uppercase"),
            ("Pizza_Topping", "`_` is not an ASCII letter"),
            ("Pizzä", "`ä` is not an ASCII letter"),
        ] {
            let err = check_kind(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(check_kind(&format!("A{}", "a".repeat(63))).unwrap_err().contains("more than 63"));
    }

    #[test]
    fn names() {
        for ok in ["pizzas", "pz", "all", "dns-records", "v1things"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("Pizzas", "must be lowercase (try `pizzas`)"),
            ("", "it is empty"),
            ("1pizza", "must start with a letter"),
            ("-pizza", "must start with a letter"),
            ("pizza-", "must end with a letter or digit"),
            ("pizza_topping", "contains `_`"),
            ("pizza.topping", "contains `.`"),
        ] {
            let err = check_name(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn plurals() {
        for (singular, plural) in [
            ("pizza", "pizzas"),
            ("topping", "toppings"),
            ("policy", "policies"),
            ("gateway", "gateways"),
            ("key", "keys"),
            ("ingress", "ingresses"),
            ("box", "boxes"),
            ("quiz", "quizes"),
            ("batch", "batches"),
            ("mesh", "meshes"),
            ("dnsrecord", "dnsrecords"),
            ("y", "ys"),
        ] {
            assert_eq!(default_plural(singular), plural);
        }
    }

    #[test]
    fn suggestions() {
        let keys = ["group", "version", "short_names", "namespaced", "cluster"];
        assert_eq!(did_you_mean("shortNames", &keys), Some("short_names"));
        assert_eq!(did_you_mean("short_name", &keys), Some("short_names"));
        assert_eq!(did_you_mean("namespace", &keys), Some("namespaced"));
        assert_eq!(did_you_mean("gruop", &keys), Some("group"));
        assert_eq!(did_you_mean("scope", &keys), None);
    }
}
