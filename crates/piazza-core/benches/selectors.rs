//! Label and field selectors: parsing a selector and matching it against a realistic object.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::Criterion;
use piazza_core::selector::{FieldSelector, LabelSelector};

const LABEL_SELECTOR: &str = "app=pizza,tier in (frontend,web),environment!=dev,!canary,release";
const FIELD_SELECTOR: &str = "metadata.namespace=default,metadata.name!=margherita,status.phase=Running";

/// The labels of a typical workload object (Helm- and kustomize-style).
fn labels() -> BTreeMap<String, String> {
    [
        ("app", "pizza"),
        ("app.kubernetes.io/name", "pizza-apiserver"),
        ("app.kubernetes.io/instance", "pizza-prod"),
        ("app.kubernetes.io/version", "0.1.0"),
        ("app.kubernetes.io/component", "server"),
        ("app.kubernetes.io/part-of", "restaurant"),
        ("app.kubernetes.io/managed-by", "helm"),
        ("environment", "production"),
        ("pod-template-hash", "7d9c8b6f5"),
        ("release", "stable"),
        ("tier", "frontend"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The selectable fields of the same object.
fn field_value(field: &str) -> Option<String> {
    match field {
        "metadata.name" => Some("quattro-formaggi".to_owned()),
        "metadata.namespace" => Some("default".to_owned()),
        "status.phase" => Some("Running".to_owned()),
        _ => None,
    }
}

fn selectors(c: &mut Criterion) {
    let labels = labels();
    let label_selector = LabelSelector::parse(LABEL_SELECTOR).unwrap();
    assert!(label_selector.matches(&labels));
    let field_selector = FieldSelector::parse(FIELD_SELECTOR).unwrap();
    assert!(field_selector.matches(field_value));

    let mut group = c.benchmark_group("selectors");
    group.bench_function("label_parse", |b| {
        b.iter(|| LabelSelector::parse(black_box(LABEL_SELECTOR)).unwrap())
    });
    group.bench_function("label_matches", |b| {
        b.iter(|| black_box(&label_selector).matches(black_box(&labels)))
    });
    group.bench_function("field_parse", |b| {
        b.iter(|| FieldSelector::parse(black_box(FIELD_SELECTOR)).unwrap())
    });
    group.bench_function("field_matches", |b| b.iter(|| black_box(&field_selector).matches(field_value)));
    group.finish();
}

// `criterion_group!` would generate an undocumented `pub fn`, which `missing_docs` rejects.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    selectors(&mut criterion);
    criterion.final_summary();
}
