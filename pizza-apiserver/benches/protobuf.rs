//! JSON vs protobuf: encode and decode one v1beta1 Pizza and a 1,000-item PizzaList.
//!
//! `cargo bench -p pizza-apiserver --all-features --bench protobuf`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use piazza::codec::protobuf::{ObjectList, Protobuf, decode_object as decode_pb, encode_object as encode_pb};
use piazza::codec::{Format, TypeMeta, decode_object as decode_json, encode_object as encode_json};
use piazza::meta::ListMeta;
use pizza_apiserver::apis::pizza::v1beta1::Pizza;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[path = "../tests/protobuf_support/mod.rs"]
mod protobuf_support;

/// The JSON list shape (the server builds lists the same way).
#[derive(Serialize, Deserialize)]
struct PizzaList {
    metadata: ListMeta,
    items: Vec<Pizza>,
}

/// Encodes and decodes the same object as JSON (`json`) and protobuf (`pb`).
fn compare<J, P>(c: &mut Criterion, name: &str, json: &J, pb: &P, tm: &TypeMeta, elements: u64)
where
    J: Serialize + DeserializeOwned,
    P: Protobuf,
{
    let json_bytes = encode_json(json, tm, Format::Json).expect("json");
    let pb_bytes = encode_pb(pb, tm);
    println!("{name}: JSON {} bytes, protobuf {} bytes", json_bytes.len(), pb_bytes.len());
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements));
    if elements > 1 {
        group.sample_size(30);
    }
    group.bench_function(BenchmarkId::new("encode", "json"), |b| {
        b.iter(|| encode_json(black_box(json), tm, Format::Json).expect("json"))
    });
    group.bench_function(BenchmarkId::new("encode", "protobuf"), |b| b.iter(|| encode_pb(black_box(pb), tm)));
    group.bench_function(BenchmarkId::new("decode", "json"), |b| {
        b.iter(|| decode_json::<J>(black_box(&json_bytes), Format::Json).expect("json"))
    });
    group.bench_function(BenchmarkId::new("decode", "protobuf"), |b| {
        b.iter(|| decode_pb::<P>(black_box(&pb_bytes)).expect("pb"))
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let pizza = protobuf_support::pizza_v1beta1();
    compare(c, "pizza", &pizza, &pizza, &protobuf_support::restaurant("v1beta1", "Pizza"), 1);

    let items = protobuf_support::pizza_list(1000);
    let metadata = ListMeta { resource_version: Some("2000".into()), ..Default::default() };
    let pb_list = ObjectList { metadata: metadata.clone(), items: items.clone() };
    let json_list = PizzaList { metadata, items };
    compare(
        c,
        "pizza_list_1000",
        &json_list,
        &pb_list,
        &protobuf_support::restaurant("v1beta1", "PizzaList"),
        1000,
    );
}

// `criterion_group!` would generate an undocumented `pub fn`, which `missing_docs` rejects.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
