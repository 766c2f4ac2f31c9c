//! Request-info parsing: the work every request does before routing, on typical paths.

use std::hint::black_box;

use criterion::Criterion;
use piazza_core::request_info::RequestInfoFactory;

/// `(name, method, path, query)` of the typical requests.
const CASES: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "get_namespaced_item",
        "GET",
        "/apis/restaurant.programming-kubernetes.info/v1beta1/namespaces/default/pizzas/margherita",
        None,
    ),
    (
        "list_with_query",
        "GET",
        "/apis/restaurant.programming-kubernetes.info/v1beta1/namespaces/default/pizzas",
        Some("limit=500&labelSelector=app%3Dpizza%2Ctier%21%3Dbackend&resourceVersion=0"),
    ),
    (
        "watch",
        "GET",
        "/apis/restaurant.programming-kubernetes.info/v1beta1/namespaces/default/pizzas",
        Some("watch=true&resourceVersion=12345&allowWatchBookmarks=true&timeoutSeconds=300"),
    ),
    ("discovery", "GET", "/apis/restaurant.programming-kubernetes.info/v1beta1", None),
    ("non_resource", "GET", "/readyz", Some("verbose")),
];

fn request_info(c: &mut Criterion) {
    let factory = RequestInfoFactory::default();
    let mut group = c.benchmark_group("request_info");
    for &(name, method, path, query) in CASES {
        group.bench_function(name, |b| {
            b.iter(|| factory.parse(black_box(method), black_box(path), black_box(query)).unwrap())
        });
    }
    group.finish();
}

// `criterion_group!` would generate an undocumented `pub fn`, which `missing_docs` rejects.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    request_info(&mut criterion);
    criterion.final_summary();
}
