//! Version conversion of the sample Pizza: v1alpha1 → hub → v1beta1 and back, and a full
//! decode + encode of a request body through the served versions' [`VersionCodec`]s.

use std::hint::black_box;

use criterion::Criterion;
use piazza::codec::{FieldValidation, Format};
use piazza::registry::{TypedVersion, VersionCodec};
use pizza_apiserver::apis::pizza::{Pizza, v1alpha1, v1beta1};

/// A v1beta1 Pizza body as a client sends it.
const PIZZA_V1BETA1: &str = r#"{
  "apiVersion": "restaurant.programming-kubernetes.info/v1beta1",
  "kind": "Pizza",
  "metadata": {
    "name": "quattro-formaggi",
    "namespace": "default",
    "labels": {"app": "pizza", "tier": "frontend"},
    "annotations": {"restaurant.programming-kubernetes.info/chef": "mario"}
  },
  "spec": {
    "toppings": [
      {"name": "mozzarella", "quantity": 2},
      {"name": "gorgonzola", "quantity": 1},
      {"name": "parmesan", "quantity": 1},
      {"name": "fontina", "quantity": 1},
      {"name": "tomato", "quantity": 1}
    ]
  },
  "status": {"cost": 12.5}
}"#;

fn conversion(c: &mut Criterion) {
    let beta: Box<dyn VersionCodec<Pizza>> = Box::new(TypedVersion::<v1beta1::Pizza>::new());
    let alpha: Box<dyn VersionCodec<Pizza>> = Box::new(TypedVersion::<v1alpha1::Pizza>::new());
    let (hub, warnings) =
        beta.decode(PIZZA_V1BETA1.as_bytes(), Format::Json, FieldValidation::Strict).unwrap();
    assert!(warnings.is_empty());
    let v1beta1 = v1beta1::Pizza::from(hub.clone());
    let v1alpha1 = v1alpha1::Pizza::from(hub.clone());
    assert_eq!(Pizza::from(v1alpha1.clone()), hub);

    let mut group = c.benchmark_group("conversion");
    group.bench_function("v1alpha1_to_hub_to_v1beta1", |b| {
        b.iter(|| v1beta1::Pizza::from(Pizza::from(black_box(&v1alpha1).clone())))
    });
    group.bench_function("v1beta1_to_hub_to_v1alpha1", |b| {
        b.iter(|| v1alpha1::Pizza::from(Pizza::from(black_box(&v1beta1).clone())))
    });
    group.bench_function("clone_v1beta1_baseline", |b| b.iter(|| black_box(&v1beta1).clone()));
    group.bench_function("typed_version_decode_encode_v1beta1_json", |b| {
        b.iter(|| {
            let (hub, _) = beta
                .decode(black_box(PIZZA_V1BETA1.as_bytes()), Format::Json, FieldValidation::Warn)
                .unwrap();
            beta.encode(&hub, Format::Json).unwrap()
        })
    });
    group.bench_function("typed_version_decode_v1beta1_encode_v1alpha1_json", |b| {
        b.iter(|| {
            let (hub, _) = beta
                .decode(black_box(PIZZA_V1BETA1.as_bytes()), Format::Json, FieldValidation::Warn)
                .unwrap();
            alpha.encode(&hub, Format::Json).unwrap()
        })
    });
    group.finish();
}

// `criterion_group!` would generate an undocumented `pub fn`, which `missing_docs` rejects.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    conversion(&mut criterion);
    criterion.final_summary();
}
