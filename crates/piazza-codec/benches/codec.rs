//! Encoding and decoding one Pizza-sized object, in JSON and YAML, as the handlers do:
//! [`encode_object`] (with `apiVersion`/`kind` spliced in) and [`decode_validated`] (with
//! unknown-field detection).

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use piazza_codec::{FieldValidation, Format, TypeMeta, decode_validated, encode_object};
use piazza_core::meta::ObjectMeta;
use serde::{Deserialize, Serialize};

/// A mirror of pizza-apiserver's `v1beta1.Pizza`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Pizza {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: PizzaSpec,
    #[serde(default)]
    status: PizzaStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct PizzaSpec {
    #[serde(default)]
    toppings: Vec<PizzaTopping>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct PizzaTopping {
    #[serde(default)]
    name: String,
    #[serde(default)]
    quantity: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct PizzaStatus {
    #[serde(default)]
    cost: f64,
}

/// A stored Pizza as a server returns it: system fields, labels, an annotation and one
/// managedFields entry.
const PIZZA_JSON: &str = r#"{
  "apiVersion": "restaurant.programming-kubernetes.info/v1beta1",
  "kind": "Pizza",
  "metadata": {
    "name": "quattro-formaggi",
    "namespace": "default",
    "uid": "6f1c2d9e-3b4a-4c5d-8e7f-9a0b1c2d3e4f",
    "resourceVersion": "123456",
    "generation": 3,
    "creationTimestamp": "2026-01-02T03:04:05Z",
    "labels": {"app": "pizza", "tier": "frontend", "environment": "production"},
    "annotations": {"restaurant.programming-kubernetes.info/chef": "mario"},
    "managedFields": [{
      "manager": "kubectl-client-side-apply",
      "operation": "Update",
      "apiVersion": "restaurant.programming-kubernetes.info/v1beta1",
      "time": "2026-01-02T03:04:05Z",
      "fieldsType": "FieldsV1",
      "fieldsV1": {"f:spec": {"f:toppings": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}
    }]
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

fn codec(c: &mut Criterion) {
    let type_meta = TypeMeta {
        api_version: "restaurant.programming-kubernetes.info/v1beta1".to_owned(),
        kind: "Pizza".to_owned(),
    };
    let (pizza, _, warnings): (Pizza, _, _) =
        decode_validated(PIZZA_JSON.as_bytes(), Format::Json, FieldValidation::Strict).unwrap();
    assert!(warnings.is_empty());

    let mut group = c.benchmark_group("codec");
    for (name, format) in [("json", Format::Json), ("yaml", Format::Yaml)] {
        let body = encode_object(&pizza, &type_meta, format).unwrap();
        let (decoded, _, _): (Pizza, _, _) =
            decode_validated(&body, format, FieldValidation::Strict).unwrap();
        assert_eq!(decoded, pizza);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("encode_{name}"), |b| {
            b.iter(|| encode_object(black_box(&pizza), &type_meta, format).unwrap())
        });
        group.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| decode_validated::<Pizza>(black_box(&body), format, FieldValidation::Warn).unwrap())
        });
    }
    group.finish();
}

// `criterion_group!` would generate an undocumented `pub fn`, which `missing_docs` rejects.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    codec(&mut criterion);
    criterion.final_summary();
}
