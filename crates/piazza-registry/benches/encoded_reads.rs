//! GET and LIST through the erased [`RestResource`] (served from the store's cache of
//! encoded objects) against the same reads decoded and re-encoded on every request (what
//! every read did before the cache), on an embedded store behind the watch cache (reads
//! served from memory, as in the server).

use std::hint::black_box;
use std::sync::Arc;

use criterion::Criterion;
use piazza_codec::{Format, Target};
use piazza_core::meta::ObjectMeta;
use piazza_core::{Resource, Scope, UserInfo, impl_object};
use piazza_registry::{ListParams, Query, RestContext, RestResource, Store};
use piazza_storage::cache::{CacheOptions, CachedStorage};
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza_storage::{ReadRevision, Storage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Pizza-sized object: labels, annotations and a list of toppings.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
struct Dish {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    toppings: Vec<Topping>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
struct Topping {
    name: String,
    quantity: u32,
}

impl_object!(Dish);

impl Resource for Dish {
    const GROUP: &'static str = "bench.piazza.dev";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Dish";
    const PLURAL: &'static str = "dishes";
    const SINGULAR: &'static str = "dish";
    const SCOPE: Scope = Scope::Namespaced;
}

const OBJECTS: usize = 1000;

fn dish(i: usize) -> Dish {
    let labels = [("app", "pizza"), ("tier", "frontend")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    Dish {
        metadata: ObjectMeta {
            name: Some(format!("dish-{i:05}")),
            labels: Some(labels.into_iter().collect()),
            annotations: Some([("chef".to_owned(), "mario".to_owned())].into_iter().collect()),
            ..ObjectMeta::default()
        },
        toppings: ["mozzarella", "gorgonzola", "parmesan", "fontina", "tomato"]
            .map(|name| Topping { name: name.to_owned(), quantity: 1 })
            .to_vec(),
    }
}

fn context(name: Option<&str>) -> RestContext {
    RestContext {
        version: "v1".into(),
        namespace: Some("ns".into()),
        name: name.map(str::to_owned),
        format: Format::Json,
        target: Target::Object,
        user: UserInfo::default(),
        query: Query::parse(None).unwrap(),
    }
}

fn encoded_reads(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime.block_on(async {
        let backend: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let storage: Arc<dyn Storage> = CachedStorage::start(backend, CacheOptions::default()).await.unwrap();
        let store = Store::<Dish>::builder(storage).storage_version::<Dish>().build().unwrap();
        for i in 0..OBJECTS {
            store.create(Some("ns"), dish(i), &UserInfo::default(), false).await.unwrap();
        }
        store
    });
    let codec = Arc::clone(store.version("v1").unwrap());
    let rest: Arc<dyn RestResource> = store.clone();
    let get_ctx = context(Some("dish-00042"));
    let list_ctx = context(None);

    let mut group = c.benchmark_group("encoded_reads");
    group.bench_function("get_cached", |b| {
        b.iter(|| runtime.block_on(rest.get(black_box(&get_ctx))).unwrap().body.len())
    });
    group.bench_function("get_decode_encode", |b| {
        b.iter(|| {
            let object = runtime
                .block_on(store.get(Some("ns"), black_box("dish-00042"), ReadRevision::Latest))
                .unwrap();
            codec.encode(&object, Format::Json).unwrap().len()
        })
    });
    group.sample_size(20);
    group.bench_function("list_1000_cached", |b| {
        b.iter(|| runtime.block_on(rest.list(black_box(&list_ctx))).unwrap().body.len())
    });
    group.bench_function("list_1000_decode_encode", |b| {
        b.iter(|| {
            let page = runtime.block_on(store.list(Some("ns"), &ListParams::default())).unwrap();
            page.items.iter().map(|o| codec.encode(o, Format::Json).unwrap().len()).sum::<usize>()
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    encoded_reads(&mut criterion);
    criterion.final_summary();
}
