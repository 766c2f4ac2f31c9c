//! Cohabitation and storage versions, through the registry API (no HTTP):
//! - the same stored Pizzas served as restaurant.programming-kubernetes.info and
//!   menu.piazza.dev: writes through either are visible through both, and watches on both
//!   see the same events;
//! - objects written under one storage version stay readable after it changes.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use piazza::UserInfo;
use piazza::codec::protobuf::decode_object;
use piazza::registry::store::HubWatchEvent;
use piazza::registry::{ListParams, RestResource, Store};
use piazza::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use piazza::storage::{ReadRevision, Storage};
use pizza_apiserver::apis::pizza::{Pizza, PizzaTopping, v1alpha1, v1beta1};
use pizza_apiserver::apis::topping::Topping;
use pizza_apiserver::apis::{GROUP, menu};

fn admin() -> UserInfo {
    UserInfo { name: "admin".into(), groups: vec!["system:masters".into()], ..Default::default() }
}

fn pizza(name: &str, toppings: &[(&str, i64)]) -> Pizza {
    let mut p = Pizza {
        toppings: toppings.iter().map(|(n, q)| PizzaTopping { name: (*n).into(), quantity: *q }).collect(),
        ..Default::default()
    };
    p.metadata.name = Some(name.into());
    p
}

async fn with_toppings(storage: Arc<dyn Storage>) -> Vec<Arc<dyn RestResource>> {
    let resources = pizza_apiserver::resources(Arc::clone(&storage)).expect("declaration is valid");
    let toppings = Store::<Topping>::builder(storage).storage_version::<Topping>().build().unwrap();
    for name in ["salami", "tomato", "mozzarella"] {
        let mut t = Topping::default();
        t.metadata.name = Some(name.into());
        toppings.create(None, t, &admin(), false).await.unwrap();
    }
    resources
}

fn group_of(r: &Arc<dyn RestResource>) -> &str {
    r.descriptor().group
}

#[tokio::test]
async fn two_groups_share_the_same_objects_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let resources = with_toppings(Arc::clone(&storage)).await;
    assert_eq!(resources.iter().map(group_of).collect::<Vec<_>>(), vec![GROUP, GROUP, menu::MENU_GROUP]);

    // Typed stores over the same storage, as the sample declares them.
    let toppings =
        Store::<Topping>::builder(Arc::clone(&storage)).storage_version::<Topping>().build().unwrap();
    let restaurant = Store::<Pizza>::builder(Arc::clone(&storage))
        .storage_version::<v1beta1::Pizza>()
        .version::<v1alpha1::Pizza>()
        .admission(pizza_apiserver::admission::PizzaToppings::new(Arc::clone(&toppings)))
        .build()
        .unwrap();
    let menu_store = Store::<Pizza>::builder(Arc::clone(&storage))
        .version::<menu::Pizza>()
        .stored_as::<v1beta1::Pizza>()
        .shares_storage_with(GROUP, "pizzas")
        .build()
        .unwrap();

    let params = ListParams { resource_version: Some("0".into()), ..Default::default() };
    let mut restaurant_watch = restaurant.watch(Some("default"), &params).await.unwrap();
    let mut menu_watch = menu_store.watch(Some("default"), &params).await.unwrap();

    // Write through the restaurant group, read and update through the menu group.
    let created = restaurant
        .create(Some("default"), pizza("diavola", &[("salami", 2)]), &admin(), false)
        .await
        .unwrap();
    let seen = menu_store.get(Some("default"), "diavola", ReadRevision::Latest).await.unwrap();
    assert_eq!(seen.toppings, created.toppings);
    assert_eq!(seen.metadata.uid, created.metadata.uid);
    assert_eq!(seen.metadata.resource_version, created.metadata.resource_version);

    let mut changed = seen.clone();
    changed.toppings.push(PizzaTopping { name: "tomato".into(), quantity: 1 });
    let updated = menu_store.update(Some("default"), "diavola", changed, &admin(), false).await.unwrap();
    let back = restaurant.get(Some("default"), "diavola", ReadRevision::Latest).await.unwrap();
    assert_eq!(back.toppings.len(), 2);
    assert_eq!(back.metadata.resource_version, updated.metadata.resource_version);
    assert_eq!(back.metadata.generation, Some(2));

    menu_store.delete(Some("default"), "diavola", &Default::default(), &admin(), false).await.unwrap();
    assert_eq!(restaurant.get(Some("default"), "diavola", ReadRevision::Latest).await.unwrap_err().code, 404);

    // Both watches see ADDED, MODIFIED, DELETED with the same resourceVersions.
    async fn next3(stream: &mut piazza::registry::store::HubWatchStream<Pizza>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while out.len() < 3 {
            let event = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap();
            let (kind, object) = match event {
                HubWatchEvent::Added(o) => ("ADDED", o),
                HubWatchEvent::Modified(o) => ("MODIFIED", o),
                HubWatchEvent::Deleted(o) => ("DELETED", o),
                other => panic!("unexpected event {other:?}"),
            };
            out.push((kind.to_owned(), object.metadata.resource_version.clone().unwrap()));
        }
        out
    }
    let a = next3(&mut restaurant_watch).await;
    let b = next3(&mut menu_watch).await;
    assert_eq!(a.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(a, b);
}

#[tokio::test]
async fn old_storage_version_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    // First the kind is stored as v1alpha1.
    let old = Store::<Pizza>::builder(Arc::clone(&storage))
        .storage_version::<v1alpha1::Pizza>()
        .version::<v1beta1::Pizza>()
        .build()
        .unwrap();
    old.create(Some("default"), pizza("quattro", &[("salami", 2), ("tomato", 1)]), &admin(), false)
        .await
        .unwrap();
    let raw = storage
        .get("/registry/restaurant.programming-kubernetes.info/pizzas/default/quattro", ReadRevision::Latest)
        .await
        .unwrap();
    // Stored as protobuf (the default): the envelope names the storage version.
    let (stored, type_meta): (v1alpha1::Pizza, _) = decode_object(&raw.value).unwrap();
    assert_eq!(type_meta.api_version, "restaurant.programming-kubernetes.info/v1alpha1");
    assert_eq!(type_meta.kind, "Pizza");
    assert!(stored.metadata.resource_version.is_none(), "resourceVersion is never stored");

    // Then the storage version changes to v1beta1: the old object still reads, and a
    // write re-encodes it in the new storage version.
    let new = Store::<Pizza>::builder(Arc::clone(&storage))
        .storage_version::<v1beta1::Pizza>()
        .version::<v1alpha1::Pizza>()
        .build()
        .unwrap();
    let read = new.get(Some("default"), "quattro", ReadRevision::Latest).await.unwrap();
    assert_eq!(
        read.toppings,
        vec![
            PizzaTopping { name: "salami".into(), quantity: 2 },
            PizzaTopping { name: "tomato".into(), quantity: 1 }
        ]
    );
    let mut relabelled = read.clone();
    relabelled.metadata.labels = Some([("migrated".to_owned(), "yes".to_owned())].into());
    new.update(Some("default"), "quattro", relabelled, &admin(), false).await.unwrap();
    let raw = storage
        .get("/registry/restaurant.programming-kubernetes.info/pizzas/default/quattro", ReadRevision::Latest)
        .await
        .unwrap();
    let (stored, type_meta): (v1beta1::Pizza, _) = decode_object(&raw.value).unwrap();
    assert_eq!(type_meta.api_version, "restaurant.programming-kubernetes.info/v1beta1");
    assert_eq!(stored.spec.toppings[0].quantity, 2);
}

#[tokio::test]
async fn unknown_stored_version_is_a_clear_500() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let key = "/registry/restaurant.programming-kubernetes.info/pizzas/default/alien";
    storage
        .create(key, bytes::Bytes::from_static(br#"{"apiVersion":"restaurant.programming-kubernetes.info/v9","kind":"Pizza","metadata":{"name":"alien"}}"#))
        .await
        .unwrap();
    let store =
        Store::<Pizza>::builder(Arc::clone(&storage)).storage_version::<v1beta1::Pizza>().build().unwrap();
    let err = store.get(Some("default"), "alien", ReadRevision::Latest).await.unwrap_err();
    assert_eq!(err.code, 500);
    assert!(err.message.contains("v9"), "{}", err.message);
    // Corrupt bytes are a 500 too, never a panic.
    storage
        .create(
            "/registry/restaurant.programming-kubernetes.info/pizzas/default/garbage",
            bytes::Bytes::from_static(b"\xff{"),
        )
        .await
        .unwrap();
    assert_eq!(store.get(Some("default"), "garbage", ReadRevision::Latest).await.unwrap_err().code, 500);
}
