//! `--storage-media-type`: objects are written as JSON, YAML or protobuf, and every object
//! stays readable (and writable) after the media type changes, whichever it was written in.

use std::sync::Arc;

use piazza::UserInfo;
use piazza::codec::protobuf::decode_object;
use piazza::codec::{Format, TypeMeta};
use piazza::registry::{ListParams, StorageLayout, Store};
use piazza::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza::storage::{ReadRevision, Storage};
use pizza_apiserver::apis::topping::{Topping, ToppingSpec};

fn admin() -> UserInfo {
    UserInfo { name: "admin".into(), groups: vec!["system:masters".into()], ..Default::default() }
}

fn topping(name: &str, cost: f64) -> Topping {
    let mut t = Topping { spec: ToppingSpec { cost }, ..Default::default() };
    t.metadata.name = Some(name.into());
    t
}

fn store(storage: &Arc<dyn Storage>, media_type: Format) -> Arc<Store<Topping>> {
    let layout = StorageLayout { media_type, ..StorageLayout::default() };
    Store::<Topping>::builder(Arc::clone(storage))
        .layout(&layout)
        .storage_version::<Topping>()
        .build()
        .unwrap()
}

async fn raw(storage: &Arc<dyn Storage>, name: &str) -> bytes::Bytes {
    let key = format!("/registry/restaurant.programming-kubernetes.info/toppings/{name}");
    storage.get(&key, ReadRevision::Latest).await.unwrap().value
}

#[tokio::test]
async fn objects_stay_readable_across_media_type_changes() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();

    let json = store(&storage, Format::Json);
    json.create(None, topping("salami", 1.0), &admin(), false).await.unwrap();
    let bytes = raw(&storage, "salami").await;
    let value: serde_json::Value = serde_json::from_slice(&bytes).expect("stored as JSON");
    assert_eq!(value["apiVersion"], "restaurant.programming-kubernetes.info/v1alpha1");
    assert_eq!(value["spec"]["cost"], 1.0);

    let yaml = store(&storage, Format::Yaml);
    yaml.create(None, topping("tomato", 0.25), &admin(), false).await.unwrap();
    let bytes = raw(&storage, "tomato").await;
    let text = std::str::from_utf8(&bytes).expect("YAML is text");
    assert!(text.starts_with("apiVersion: restaurant.programming-kubernetes.info/v1alpha1\n"), "{text}");
    assert!(!text.contains("resourceVersion"), "{text}");

    let protobuf = store(&storage, Format::Protobuf);
    protobuf.create(None, topping("mozzarella", 0.5), &admin(), false).await.unwrap();
    let bytes = raw(&storage, "mozzarella").await;
    assert!(bytes.starts_with(b"k8s\0"), "stored as protobuf");
    let (stored, type_meta): (Topping, TypeMeta) = decode_object(&bytes).unwrap();
    assert_eq!(type_meta.kind, "Topping");
    assert_eq!(stored.spec.cost, 0.5);
    assert!(stored.metadata.resource_version.is_none(), "resourceVersion is never stored");

    // Each store reads all three, whatever it writes.
    for reader in [&json, &yaml, &protobuf] {
        let page = reader.list(None, &ListParams::default()).await.unwrap();
        let costs: Vec<_> =
            page.items.iter().map(|t| (t.metadata.name.clone().unwrap(), t.spec.cost)).collect();
        assert_eq!(
            costs,
            [("mozzarella".to_owned(), 0.5), ("salami".to_owned(), 1.0), ("tomato".to_owned(), 0.25)]
        );
        let one = reader.get(None, "tomato", ReadRevision::Latest).await.unwrap();
        assert!(one.metadata.resource_version.is_some());
    }

    // A write re-encodes the object in the writer's media type.
    let mut salami = protobuf.get(None, "salami", ReadRevision::Latest).await.unwrap();
    salami.spec.cost = 2.0;
    protobuf.update(None, "salami", salami, &admin(), false).await.unwrap();
    assert!(raw(&storage, "salami").await.starts_with(b"k8s\0"));
    let mut mozzarella = json.get(None, "mozzarella", ReadRevision::Latest).await.unwrap();
    mozzarella.spec.cost = 0.75;
    json.update(None, "mozzarella", mozzarella, &admin(), false).await.unwrap();
    assert!(raw(&storage, "mozzarella").await.starts_with(b"{"));
    assert_eq!(yaml.get(None, "salami", ReadRevision::Latest).await.unwrap().spec.cost, 2.0);
    assert_eq!(yaml.get(None, "mozzarella", ReadRevision::Latest).await.unwrap().spec.cost, 0.75);
}

#[tokio::test]
async fn corrupt_protobuf_in_storage_is_a_clear_500() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let key = "/registry/restaurant.programming-kubernetes.info/toppings/broken";
    storage.create(key, bytes::Bytes::from_static(b"k8s\0\x0a\xff")).await.unwrap();
    let reader = store(&storage, Format::Protobuf);
    let err = reader.get(None, "broken", ReadRevision::Latest).await.unwrap_err();
    assert_eq!(err.code, 500);
    assert!(err.message.contains("is corrupt"), "{}", err.message);
}

#[test]
fn the_flag_parses_the_three_media_types() {
    use piazza::server::storage_options::parse_storage_media_type;
    assert_eq!(parse_storage_media_type("application/json"), Ok(Format::Json));
    assert_eq!(parse_storage_media_type("application/yaml"), Ok(Format::Yaml));
    assert_eq!(parse_storage_media_type("application/vnd.kubernetes.protobuf"), Ok(Format::Protobuf));
    let err = parse_storage_media_type("text/plain").unwrap_err();
    assert!(err.contains("unsupported storage media type"), "{err}");
}
