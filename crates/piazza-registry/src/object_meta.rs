//! The rules for `metadata` that the generic registry enforces on every kind: name
//! validation, `generateName`, finalizers, and the system fields set on create and kept on
//! update (including the deletion fields, which only the deletion path may change).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ObjectMeta, Time};
use piazza_core::{FieldError, FieldErrors, FieldPath};
use rand::Rng;

use crate::strategy::GarbageCollectionPolicy;

/// The longest DNS-1123 subdomain.
pub const MAX_SUBDOMAIN_LEN: usize = 253;
/// The longest DNS-1123 label.
pub const MAX_LABEL_LEN: usize = 63;
/// Random characters appended by `generateName`.
const GENERATE_SUFFIX_LEN: usize = 5;
/// The alphabet upstream uses for generated names (no vowels, no confusable digits).
const GENERATE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// The longest base `generateName` keeps before the suffix.
const MAX_GENERATE_BASE: usize = MAX_SUBDOMAIN_LEN - GENERATE_SUFFIX_LEN;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL_LEN
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// True for a DNS-1123 subdomain (the default rule for object names).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= MAX_SUBDOMAIN_LEN
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// Validates an object name; returns upstream's messages.
pub fn validate_name(name: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if name.len() > MAX_SUBDOMAIN_LEN {
        errs.push(FieldError::invalid(
            path.clone(),
            name,
            format!("must be no more than {MAX_SUBDOMAIN_LEN} characters"),
        ));
    }
    if !is_dns1123_subdomain(name) {
        errs.push(FieldError::invalid(path.clone(), name, SUBDOMAIN_MSG));
    }
    errs
}

/// Validates a namespace name (a DNS-1123 label).
pub fn validate_namespace(namespace: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if !is_label(namespace) {
        errs.push(FieldError::invalid(path.clone(), namespace, LABEL_MSG));
    }
    errs
}

/// Validates the metadata of a new object: name (or generateName) present and well formed,
/// and the namespace present exactly when the kind is namespaced.
pub fn validate_create_meta(meta: &ObjectMeta, namespaced: bool) -> FieldErrors {
    let root = FieldPath::new("metadata");
    let mut errs = FieldErrors::new();
    match meta.name.as_deref() {
        None | Some("") => {
            errs.push(FieldError::required(root.child("name"), "name or generateName is required"))
        }
        Some(name) => errs.extend(validate_name(name, &root.child("name"))),
    }
    match (namespaced, meta.namespace.as_deref()) {
        (true, None | Some("")) => errs.push(FieldError::required(root.child("namespace"), "")),
        (true, Some(ns)) => errs.extend(validate_namespace(ns, &root.child("namespace"))),
        (false, Some(ns)) if !ns.is_empty() => {
            errs.push(FieldError::forbidden(root.child("namespace"), "not allowed on this type"))
        }
        _ => {}
    }
    errs.extend(validate_labels_and_annotations(meta));
    errs.extend(validate_finalizers(meta.finalizers.as_deref().unwrap_or_default()));
    errs
}

/// The garbage collector's finalizer that orphans an object's dependents.
pub const FINALIZER_ORPHAN_DEPENDENTS: &str = "orphan";
/// The garbage collector's finalizer that deletes an object's dependents first
/// (foreground cascading deletion).
pub const FINALIZER_DELETE_DEPENDENTS: &str = "foregroundDeletion";

/// Validates `metadata.finalizers`: qualified names, and never both garbage-collector
/// finalizers at once (upstream's `ValidateFinalizers`).
pub fn validate_finalizers(finalizers: &[String]) -> FieldErrors {
    let path = FieldPath::new("metadata").child("finalizers");
    let mut errs = FieldErrors::new();
    for finalizer in finalizers {
        if !is_qualified_name(finalizer) {
            errs.push(FieldError::invalid(path.clone(), finalizer.as_str(), QUALIFIED_NAME_MSG));
        }
    }
    let has = |name: &str| finalizers.iter().any(|f| f == name);
    if has(FINALIZER_ORPHAN_DEPENDENTS) && has(FINALIZER_DELETE_DEPENDENTS) {
        // Upstream renders the list with Go's `%#v`.
        errs.push(invalid_raw(
            path,
            &go_string_slice(finalizers),
            &format!(
                "finalizer {FINALIZER_ORPHAN_DEPENDENTS} and {FINALIZER_DELETE_DEPENDENTS} cannot be both set"
            ),
        ));
    }
    errs
}

/// `[]string{"a", "b"}`: a string list as Go's `%#v` prints it, which upstream messages use.
pub fn go_string_slice<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{:?}", s.as_ref())).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// An "Invalid value" error whose value is shown exactly as `rendered` (for values that
/// upstream prints with Go's formatting rather than as JSON).
fn invalid_raw(path: FieldPath, rendered: &str, detail: &str) -> FieldError {
    FieldError {
        error_type: piazza_core::field::FieldErrorType::Invalid,
        field: path,
        value: None,
        detail: format!("{rendered}: {detail}"),
    }
}

/// A timestamp as Go's `time.Time.String()` prints a UTC `metav1.Time`
/// (`2006-01-02 15:04:05 +0000 UTC`), for upstream's "field is immutable" messages.
fn go_time(time: &Time) -> String {
    let ts = time.0;
    let mut out = ts.strftime("%Y-%m-%d %H:%M:%S").to_string();
    if ts.subsec_nanosecond() != 0 {
        out.push_str(format!(".{:09}", ts.subsec_nanosecond()).trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

fn validate_labels_and_annotations(meta: &ObjectMeta) -> FieldErrors {
    let root = FieldPath::new("metadata");
    let mut errs = FieldErrors::new();
    for (key, value) in meta.labels.iter().flatten() {
        if !is_qualified_name(key) {
            errs.push(FieldError::invalid(root.child("labels"), key.as_str(), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
        }
        if value.len() > MAX_LABEL_LEN || !is_label_value(value) {
            errs.push(FieldError::invalid(root.child("labels"), value.as_str(), "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
        }
    }
    let total: usize = meta.annotations.iter().flatten().map(|(k, v)| k.len() + v.len()).sum();
    if total > 256 * 1024 {
        errs.push(FieldError::new_too_long(root.child("annotations"), 256 * 1024));
    }
    for key in meta.annotations.iter().flatten().map(|(k, _)| k) {
        if !is_qualified_name(key) {
            errs.push(FieldError::invalid(root.child("annotations"), key.as_str(), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
        }
    }
    errs
}

fn is_label_value(v: &str) -> bool {
    v.is_empty() || is_name_part(v)
}

fn is_name_part(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL_LEN
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain.
fn is_qualified_name(key: &str) -> bool {
    match key.rsplit_once('/') {
        Some((prefix, name)) => !prefix.is_empty() && is_dns1123_subdomain(prefix) && is_name_part(name),
        None => is_name_part(key),
    }
}

trait TooLong {
    fn new_too_long(path: FieldPath, limit: usize) -> FieldError;
}

impl TooLong for FieldError {
    fn new_too_long(path: FieldPath, limit: usize) -> FieldError {
        FieldError {
            error_type: piazza_core::field::FieldErrorType::TooLong,
            field: path,
            value: None,
            detail: format!("must have at most {limit} bytes"),
        }
    }
}

/// Fills `metadata.name` from `generateName` when the name is empty.
pub fn generate_name(meta: &mut ObjectMeta) {
    if meta.name.as_deref().is_some_and(|n| !n.is_empty()) {
        return;
    }
    let Some(base) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) else { return };
    let base: String = base.chars().take(MAX_GENERATE_BASE).collect();
    meta.name = Some(format!("{base}{}", random_suffix()));
}

/// True when a create must pick the name itself: no name, and a `generateName`.
pub fn needs_name_generation(meta: &ObjectMeta) -> bool {
    meta.name.as_deref().is_none_or(str::is_empty)
        && meta.generate_name.as_deref().is_some_and(|g| !g.is_empty())
}

fn random_suffix() -> String {
    #[cfg(test)]
    if let Some(suffix) = test_suffixes::next() {
        return suffix;
    }
    let mut rng = rand::rng();
    (0..GENERATE_SUFFIX_LEN)
        .map(|_| GENERATE_ALPHABET[rng.random_range(0..GENERATE_ALPHABET.len())] as char)
        .collect()
}

/// Tests script the "random" suffixes of this thread, to provoke name collisions.
#[cfg(test)]
pub(crate) mod test_suffixes {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    thread_local! {
        static QUEUE: RefCell<VecDeque<String>> = const { RefCell::new(VecDeque::new()) };
    }

    /// The next suffixes [`super::generate_name`] uses on this thread, in order.
    pub(crate) fn script(suffixes: &[&str]) {
        QUEUE.with(|q| q.borrow_mut().extend(suffixes.iter().map(|s| (*s).to_owned())));
    }

    pub(super) fn next() -> Option<String> {
        QUEUE.with(|q| q.borrow_mut().pop_front())
    }
}

/// Sets the system fields of a new object: uid, creationTimestamp, generation 1; clears
/// fields clients may not set.
pub fn prepare_create_meta(meta: &mut ObjectMeta) {
    meta.uid = Some(uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string());
    meta.creation_timestamp = Some(now());
    meta.generation = Some(1);
    meta.resource_version = None;
    meta.self_link = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
}

/// Carries the immutable system fields of `old` over to an update, and checks the ones a
/// client sent. `spec_changed` bumps the generation.
pub fn prepare_update_meta(new: &mut ObjectMeta, old: &ObjectMeta, spec_changed: bool) -> FieldErrors {
    let root = FieldPath::new("metadata");
    let mut errs = FieldErrors::new();
    match new.uid.as_deref() {
        None | Some("") => new.uid = old.uid.clone(),
        Some(uid) if Some(uid) != old.uid.as_deref() => {
            errs.push(FieldError::invalid(root.child("uid"), uid, "field is immutable"));
        }
        _ => {}
    }
    new.creation_timestamp = old.creation_timestamp.clone();
    errs.extend(carry_deletion_fields(new, old));
    new.self_link = None;
    let generation = old.generation.unwrap_or(1);
    new.generation = Some(if spec_changed { generation + 1 } else { generation });
    errs.extend(validate_labels_and_annotations(new));
    errs.extend(validate_finalizers(new.finalizers.as_deref().unwrap_or_default()));
    errs
}

/// The deletion fields on update, as upstream's `BeforeUpdate` and
/// `ValidateObjectMetaUpdate`: an update never removes or changes `deletionTimestamp` (the
/// old one is kept), keeps the old `deletionGracePeriodSeconds` when the client sent none,
/// and otherwise both are immutable; once the object is being deleted, no finalizer may be
/// added.
fn carry_deletion_fields(new: &mut ObjectMeta, old: &ObjectMeta) -> FieldErrors {
    let root = FieldPath::new("metadata");
    let mut errs = FieldErrors::new();
    match (&old.deletion_timestamp, &new.deletion_timestamp) {
        (Some(ts), _) => new.deletion_timestamp = Some(ts.clone()),
        (None, Some(sent)) => {
            errs.push(invalid_raw(root.child("deletionTimestamp"), &go_time(sent), "field is immutable"))
        }
        (None, None) => {}
    }
    if old.deletion_grace_period_seconds.is_some() && new.deletion_grace_period_seconds.is_none() {
        new.deletion_grace_period_seconds = old.deletion_grace_period_seconds;
    }
    if new.deletion_grace_period_seconds != old.deletion_grace_period_seconds {
        let value = new.deletion_grace_period_seconds.map_or(serde_json::Value::Null, Into::into);
        errs.push(FieldError::invalid(root.child("deletionGracePeriodSeconds"), value, "field is immutable"));
    }
    if old.deletion_timestamp.is_some() {
        let before = old.finalizers.as_deref().unwrap_or_default();
        let mut added: Vec<&str> = new
            .finalizers
            .iter()
            .flatten()
            .map(String::as_str)
            .filter(|f| !before.iter().any(|b| b == f))
            .collect();
        added.sort_unstable();
        added.dedup();
        if !added.is_empty() {
            errs.push(FieldError::forbidden(
                root.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_string_slice(&added)
                ),
            ));
        }
    }
    errs
}

// === deletion ===

/// Marks an object as being deleted with no grace period, for an object that has (or gets)
/// finalizers (upstream's `markAsDeleting`): bumps the generation the first time,
/// sets `deletionTimestamp` to `now` unless an earlier one is already set, and sets
/// `deletionGracePeriodSeconds` to 0.
pub fn mark_as_deleting(meta: &mut ObjectMeta, now: &Time) {
    if meta.deletion_timestamp.is_none()
        && let Some(generation) = meta.generation.filter(|g| *g > 0)
    {
        meta.generation = Some(generation + 1);
    }
    if meta.deletion_timestamp.as_ref().is_none_or(|ts| ts.0 > now.0) {
        meta.deletion_timestamp = Some(now.clone());
    }
    meta.deletion_grace_period_seconds = Some(0);
}

/// The finalizers a DELETE leaves on an object when the garbage-collector finalizers are
/// managed as `policy` says (upstream's `deletionFinalizersForGarbageCollection`): `orphan`
/// and `foregroundDeletion` are first removed, then added back as the options, the
/// existing finalizers and the kind's default decide, in that order of precedence.
/// `None` when the set does not change.
pub fn deletion_finalizers(
    meta: &ObjectMeta,
    options: &DeleteOptions,
    policy: GarbageCollectionPolicy,
) -> Option<Vec<String>> {
    let existing = meta.finalizers.as_deref().unwrap_or_default();
    let orphan = should_orphan_dependents(existing, options, policy);
    let foreground = should_delete_dependents(existing, options, policy);
    let mut finalizers: Vec<String> = existing
        .iter()
        .filter(|f| *f != FINALIZER_ORPHAN_DEPENDENTS && *f != FINALIZER_DELETE_DEPENDENTS)
        .cloned()
        .collect();
    if orphan {
        finalizers.push(FINALIZER_ORPHAN_DEPENDENTS.to_owned());
    }
    if foreground {
        finalizers.push(FINALIZER_DELETE_DEPENDENTS.to_owned());
    }
    let old: std::collections::BTreeSet<&str> = existing.iter().map(String::as_str).collect();
    let new: std::collections::BTreeSet<&str> = finalizers.iter().map(String::as_str).collect();
    (old != new).then_some(finalizers)
}

fn should_orphan_dependents(
    existing: &[String],
    options: &DeleteOptions,
    policy: GarbageCollectionPolicy,
) -> bool {
    if policy == GarbageCollectionPolicy::Unsupported {
        return false;
    }
    if let Some(orphan) = options.orphan_dependents {
        return orphan;
    }
    match options.propagation_policy.as_deref() {
        Some(PROPAGATION_ORPHAN) => return true,
        Some(PROPAGATION_BACKGROUND | PROPAGATION_FOREGROUND) => return false,
        _ => {}
    }
    for finalizer in existing {
        match finalizer.as_str() {
            FINALIZER_ORPHAN_DEPENDENTS => return true,
            FINALIZER_DELETE_DEPENDENTS => return false,
            _ => {}
        }
    }
    policy == GarbageCollectionPolicy::OrphanDependents
}

fn should_delete_dependents(
    existing: &[String],
    options: &DeleteOptions,
    policy: GarbageCollectionPolicy,
) -> bool {
    if policy == GarbageCollectionPolicy::Unsupported || options.orphan_dependents.is_some() {
        return false;
    }
    match options.propagation_policy.as_deref() {
        Some(PROPAGATION_FOREGROUND) => return true,
        Some(PROPAGATION_BACKGROUND | PROPAGATION_ORPHAN) => return false,
        _ => {}
    }
    for finalizer in existing {
        match finalizer.as_str() {
            FINALIZER_DELETE_DEPENDENTS => return true,
            FINALIZER_ORPHAN_DEPENDENTS => return false,
            _ => {}
        }
    }
    false
}

/// `propagationPolicy: Orphan`.
pub const PROPAGATION_ORPHAN: &str = "Orphan";
/// `propagationPolicy: Background`.
pub const PROPAGATION_BACKGROUND: &str = "Background";
/// `propagationPolicy: Foreground`.
pub const PROPAGATION_FOREGROUND: &str = "Foreground";

/// The current time, truncated to seconds as `metav1.Time` is.
pub fn now() -> Time {
    let ts = jiff::Timestamp::now();
    Time(jiff::Timestamp::from_second(ts.as_second()).unwrap_or(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_dns1123_subdomain("margherita"));
        assert!(is_dns1123_subdomain("a.b-c.d1"));
        for bad in ["", "Foo", "-a", "a-", "a..b", "a_b", ".a", "a.", &"a".repeat(254)] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
        let errs = validate_name("Foo", &FieldPath::new("metadata").child("name"));
        assert!(
            errs.to_string()
                .starts_with("metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain")
        );
    }

    #[test]
    fn create_meta_requires_name_and_namespace() {
        let errs = validate_create_meta(&ObjectMeta::default(), true);
        assert_eq!(
            errs.to_string(),
            "[metadata.name: Required value: name or generateName is required, metadata.namespace: Required value]"
        );
        let cluster =
            ObjectMeta { name: Some("x".into()), namespace: Some("ns".into()), ..Default::default() };
        assert!(!validate_create_meta(&cluster, false).is_empty());
    }

    #[test]
    fn generate_name_appends_suffix() {
        let mut meta = ObjectMeta { generate_name: Some("pizza-".into()), ..Default::default() };
        generate_name(&mut meta);
        let name = meta.name.unwrap();
        assert!(name.starts_with("pizza-") && name.len() == 11, "{name}");
        let mut long = ObjectMeta { generate_name: Some("a".repeat(400)), ..Default::default() };
        generate_name(&mut long);
        assert_eq!(long.name.unwrap().len(), MAX_SUBDOMAIN_LEN);
    }

    #[test]
    fn update_keeps_system_fields_and_bumps_generation() {
        let mut old = ObjectMeta::default();
        prepare_create_meta(&mut old);
        let mut new = ObjectMeta { name: Some("x".into()), ..Default::default() };
        assert!(prepare_update_meta(&mut new, &old, true).is_empty());
        assert_eq!(new.uid, old.uid);
        assert_eq!(new.generation, Some(2));
        let mut other = ObjectMeta { uid: Some("different".into()), ..Default::default() };
        assert!(prepare_update_meta(&mut other, &old, false).to_string().contains("field is immutable"));
    }

    #[test]
    fn labels_are_checked() {
        let mut meta = ObjectMeta { name: Some("x".into()), ..Default::default() };
        meta.labels = Some([("app".to_owned(), "ok".to_owned())].into());
        assert!(validate_create_meta(&meta, false).is_empty());
        meta.labels = Some([("bad key!".to_owned(), "-x".to_owned())].into());
        assert_eq!(validate_create_meta(&meta, false).0.len(), 2);
    }
}
