//! Encoded reads against a real (embedded) store: the cached bytes are exactly what
//! decoding and encoding would give, per served version, and follow new revisions.

use std::sync::Arc;

use piazza_core::meta::ObjectMeta;
use piazza_core::{Resource, Scope, UserInfo, impl_object};
use piazza_storage::Storage;
use piazza_storage::cache::{CacheOptions, CachedStorage};
use piazza_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::*;

/// The hub, also served and stored as `v1`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Widget {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    color: String,
}

/// `v2`, which calls the color `paint`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
struct WidgetV2 {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    paint: String,
}

impl_object!(Widget, WidgetV2);

/// `Resource` for one version of the Widget kind.
macro_rules! widget_version {
    ($ty:ty, $version:literal) => {
        impl Resource for $ty {
            const GROUP: &'static str = "encoded.piazza.dev";
            const VERSION: &'static str = $version;
            const KIND: &'static str = "Widget";
            const PLURAL: &'static str = "widgets";
            const SINGULAR: &'static str = "widget";
            const SCOPE: Scope = Scope::Namespaced;
        }
    };
}

widget_version!(Widget, "v1");
widget_version!(WidgetV2, "v2");

impl From<Widget> for WidgetV2 {
    fn from(w: Widget) -> Self {
        Self { metadata: w.metadata, paint: w.color }
    }
}

impl From<WidgetV2> for Widget {
    fn from(w: WidgetV2) -> Self {
        Self { metadata: w.metadata, color: w.paint }
    }
}

struct Env {
    store: Arc<Store<Widget>>,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let store =
        Store::<Widget>::builder(storage).storage_version::<Widget>().version::<WidgetV2>().build().unwrap();
    Env { store, _dir: dir }
}

fn widget(name: &str, color: &str) -> Widget {
    Widget { metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() }, color: color.into() }
}

async fn create(env: &Env, name: &str, color: &str) -> Widget {
    env.store.create(Some("ns"), widget(name, color), &UserInfo::default(), false).await.unwrap()
}

/// What the undecorated path gives: decode the stored object, encode it in `version`.
async fn reference(env: &Env, version: &str, name: &str) -> Vec<u8> {
    let object = env.store.get(Some("ns"), name, ReadRevision::Latest).await.unwrap();
    env.store.version(version).unwrap().encode(&object, Format::Json).unwrap()
}

#[tokio::test]
async fn get_json_is_the_encoding_and_is_reused_until_the_object_changes() {
    let env = env();
    let created = create(&env, "a", "red").await;
    for version in ["v1", "v2"] {
        let codec = env.store.version(version).unwrap();
        let first = env.store.get_json(codec, Some("ns"), "a", ReadRevision::Latest).await.unwrap();
        assert_eq!(first, reference(&env, version, "a").await, "{version}");
        let again = env.store.get_json(codec, Some("ns"), "a", ReadRevision::Latest).await.unwrap();
        assert_eq!(first.as_ptr(), again.as_ptr(), "{version}: served from the cache");
    }
    let v2 = env.store.version("v2").unwrap();
    let json = env.store.get_json(v2, Some("ns"), "a", ReadRevision::Latest).await.unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["apiVersion"], "encoded.piazza.dev/v2");
    assert_eq!(value["paint"], "red");
    assert_eq!(value["metadata"]["resourceVersion"], created.metadata.resource_version.unwrap().as_str());

    let mut changed = env.store.get(Some("ns"), "a", ReadRevision::Latest).await.unwrap();
    changed.color = "blue".into();
    let updated = env.store.update(Some("ns"), "a", changed, &UserInfo::default(), false).await.unwrap();
    let json = env.store.get_json(v2, Some("ns"), "a", ReadRevision::Latest).await.unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["paint"], "blue");
    assert_eq!(value["metadata"]["resourceVersion"], updated.metadata.resource_version.unwrap().as_str());
    assert_eq!(json, reference(&env, "v2", "a").await);
}

/// The JSON items of every pizza in "ns" as `write_items` writes them after `head`.
async fn written_items(env: &Env, version: &str, head: &[u8]) -> Vec<u8> {
    let codec = env.store.version(version).unwrap();
    let page = env.store.list_stored(Some("ns"), &ListParams::default()).await.unwrap();
    let mut body = head.to_vec();
    env.store.write_items(codec, Wire::Json, &page.items, &mut body, json_item).unwrap();
    body
}

#[tokio::test]
async fn list_items_are_the_same_whether_none_all_or_some_are_cached() {
    let env = env();
    for (name, color) in [("a", "red"), ("b", "green"), ("c", "blue")] {
        create(&env, name, color).await;
    }
    let expected = |items: Vec<Vec<u8>>| [b"[".to_vec(), items.join(&b","[..])].concat();
    let references = [
        reference(&env, "v2", "a").await,
        reference(&env, "v2", "b").await,
        reference(&env, "v2", "c").await,
    ];
    // Nothing cached: every item encoded; then everything cached: one lookup each.
    assert_eq!(written_items(&env, "v2", b"[").await, expected(references.to_vec()));
    assert_eq!(written_items(&env, "v2", b"[").await, expected(references.to_vec()));
    // The middle object changes: the first item was already written from the cache when the
    // miss is found, and must not be written twice.
    let mut changed = env.store.get(Some("ns"), "b", ReadRevision::Latest).await.unwrap();
    changed.color = "black".into();
    env.store.update(Some("ns"), "b", changed, &UserInfo::default(), false).await.unwrap();
    let body = written_items(&env, "v2", b"[").await;
    let new_b = reference(&env, "v2", "b").await;
    assert_eq!(body, expected(vec![references[0].clone(), new_b, references[2].clone()]));
}

/// A store over a watch cache, whose lists hand out the cached items; and a second store
/// on the same storage that serves only `v2`.
async fn cached_env() -> (Env, Arc<Store<Widget>>) {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Storage> = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let cache = CachedStorage::start(backend, CacheOptions::default()).await.unwrap();
    let storage: Arc<dyn Storage> = cache;
    let store = Store::<Widget>::builder(Arc::clone(&storage))
        .storage_version::<Widget>()
        .version::<WidgetV2>()
        .build()
        .unwrap();
    let other = Store::<Widget>::builder(storage).storage_version::<Widget>().build().unwrap();
    (Env { store, _dir: dir }, other)
}

/// The encodings in `version` and `wire` kept with the cached items of "ns", in key order.
async fn memos(env: &Env, version: &str, wire: Wire) -> Vec<Option<Bytes>> {
    let tag = env.store.memo_tags.tag(version, wire).unwrap();
    let page = env.store.list_stored(Some("ns"), &ListParams::default()).await.unwrap();
    page.items.iter().map(|item| item.memo(tag).cloned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_items_are_kept_with_the_cached_items_and_follow_new_revisions() {
    let (env, other) = cached_env().await;
    for (name, color) in [("a", "red"), ("b", "green")] {
        create(&env, name, color).await;
    }
    let expected = |items: &[Vec<u8>]| [b"[".to_vec(), items.join(&b","[..])].concat();
    let v2 = [reference(&env, "v2", "a").await, reference(&env, "v2", "b").await];
    assert_eq!(memos(&env, "v2", Wire::Json).await, [None, None]);
    assert_eq!(written_items(&env, "v2", b"[").await, expected(&v2));
    let kept = memos(&env, "v2", Wire::Json).await;
    assert_eq!(
        kept,
        v2.iter().map(|b| Some(Bytes::from(b.clone()))).collect::<Vec<_>>(),
        "kept with the items"
    );
    assert_eq!(written_items(&env, "v2", b"[").await, expected(&v2), "written from the memos");

    // Another version of the same items is not taken for the kept one and is kept beside
    // it; another store's encodings are never taken for this store's.
    let v1 = [reference(&env, "v1", "a").await, reference(&env, "v1", "b").await];
    assert_eq!(written_items(&env, "v1", b"[").await, expected(&v1));
    let kept_v1 = memos(&env, "v1", Wire::Json).await;
    assert_eq!(kept_v1, v1.iter().map(|b| Some(Bytes::from(b.clone()))).collect::<Vec<_>>());
    let codec = other.version("v1").unwrap();
    let page = other.list_stored(Some("ns"), &ListParams::default()).await.unwrap();
    let mut body = b"[".to_vec();
    other.write_items(codec, Wire::Json, &page.items, &mut body, json_item).unwrap();
    assert_eq!(body, expected(&v1));
    assert_eq!(memos(&env, "v2", Wire::Json).await, kept, "the first memo of a tag stays");

    // A new revision of "b" is a new item: its memo is made from the new object.
    let mut changed = env.store.get(Some("ns"), "b", ReadRevision::Latest).await.unwrap();
    changed.color = "black".into();
    env.store.update(Some("ns"), "b", changed, &UserInfo::default(), false).await.unwrap();
    let new_v2 = [v2[0].clone(), reference(&env, "v2", "b").await];
    assert_ne!(new_v2[1], v2[1]);
    assert_eq!(written_items(&env, "v2", b"[").await, expected(&new_v2));
    assert_eq!(memos(&env, "v2", Wire::Json).await[1].as_deref(), Some(&new_v2[1][..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_kept_with_their_encoding_are_not_encoded_again_when_another_is_new() {
    let (env, _) = cached_env().await;
    for (name, color) in [("a", "red"), ("b", "green")] {
        create(&env, name, color).await;
    }
    written_items(&env, "v2", b"[").await;
    // Their encodings leave the encoded-object cache (a budget smaller than the collection)
    // but stay with the items; then a new object joins the list.
    env.store.encoded.clear();
    create(&env, "c", "blue").await;
    let expected = [
        reference(&env, "v2", "a").await,
        reference(&env, "v2", "b").await,
        reference(&env, "v2", "c").await,
    ];
    assert_eq!(env.store.encoded.len(), 0);
    assert_eq!(written_items(&env, "v2", b"[").await, [b"[".to_vec(), expected.join(&b","[..])].concat());
    assert_eq!(env.store.encoded.len(), 1, "only c was encoded");
    assert!(memos(&env, "v2", Wire::Json).await.iter().all(Option::is_some));
}

#[tokio::test]
async fn a_get_answers_with_the_cached_encoding_itself() {
    let env = env();
    create(&env, "a", "red").await;
    let codec = env.store.version("v2").unwrap();
    let ctx = |format| RestContext {
        version: "v2".into(),
        namespace: Some("ns".into()),
        name: Some("a".into()),
        format,
        target: Target::Object,
        user: UserInfo::default(),
        query: crate::Query::parse(None).unwrap(),
    };
    let cached = env.store.get_json(codec, Some("ns"), "a", ReadRevision::Latest).await.unwrap();
    let json = env.store.get_encoded(codec, &ctx(Format::Json), "a", ReadRevision::Latest).await.unwrap();
    assert_eq!((json.body.as_ptr(), json.body.len()), (cached.as_ptr(), cached.len()), "JSON is not copied");
    let yaml = env.store.get_encoded(codec, &ctx(Format::Yaml), "a", ReadRevision::Latest).await.unwrap();
    let yaml = std::str::from_utf8(&yaml.body).unwrap();
    assert!(
        yaml.starts_with("apiVersion: encoded.piazza.dev/v2\n") && yaml.contains("\npaint: red\n"),
        "{yaml}"
    );
}

#[tokio::test]
async fn get_json_of_a_missing_object_is_404() {
    let env = env();
    let codec = env.store.version("v1").unwrap();
    let err = env.store.get_json(codec, Some("ns"), "nope", ReadRevision::Latest).await.unwrap_err();
    assert_eq!(err.code, 404);
}

#[tokio::test]
async fn list_json_items_are_the_encodings_with_page_metadata() {
    let env = env();
    for (name, color) in [("a", "red"), ("b", "green"), ("c", "blue")] {
        create(&env, name, color).await;
    }
    let codec = env.store.version("v2").unwrap();
    let params = ListParams { limit: Some(2), ..ListParams::default() };
    let page = env.store.list_json(codec, Some("ns"), &params).await.unwrap();
    assert_eq!(page.items, vec![reference(&env, "v2", "a").await, reference(&env, "v2", "b").await]);
    assert!(page.continue_token.is_some());
    assert_eq!(page.remaining_item_count, Some(1));
    // The second listing reuses the first one's bytes, and a GET shares them too.
    let again = env.store.list_json(codec, Some("ns"), &params).await.unwrap();
    assert_eq!(again.items[0].as_ptr(), page.items[0].as_ptr());
    let got = env.store.get_json(codec, Some("ns"), "b", ReadRevision::Latest).await.unwrap();
    assert_eq!(got.as_ptr(), page.items[1].as_ptr());
    let metadata = list_metadata(&page);
    assert_eq!(metadata["remainingItemCount"], 1);
    assert_eq!(metadata["resourceVersion"], page.resource_version.to_string().as_str());
    assert_eq!(metadata["continue"], page.continue_token.as_deref().unwrap());
}

#[test]
fn stored_objects_are_recognised_by_their_leading_type_metadata() {
    let prefix = br#"{"apiVersion":"g.io/v1","kind":"Thing""#;
    assert!(super::super::written_in(prefix, br#"{"apiVersion":"g.io/v1","kind":"Thing","spec":1}"#));
    assert!(super::super::written_in(prefix, br#"{"apiVersion":"g.io/v1","kind":"Thing"}"#));
    assert!(!super::super::written_in(prefix, br#"{"apiVersion":"g.io/v1","kind":"Things"}"#));
    assert!(!super::super::written_in(prefix, br#"{"kind":"Thing","apiVersion":"g.io/v1"}"#));
    assert!(!super::super::written_in(b"", b"{}"));
}
