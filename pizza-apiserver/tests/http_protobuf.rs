//! Kubernetes protobuf on the wire (`application/vnd.kubernetes.protobuf`): objects, lists,
//! Status errors, DeleteOptions, PartialObjectMetadata and `;stream=watch` watches, request
//! bodies on create and update, and negotiation with a JSON fallback.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use piazza::codec::TypeMeta;
use piazza::codec::protobuf::meta::{PartialObjectMetadataList, WatchEvent};
use piazza::codec::protobuf::watch::FrameDecoder;
use piazza::codec::protobuf::{ObjectList, Protobuf, decode_object, encode_object};
use piazza::meta::{DeleteOptions, ObjectMeta, Preconditions, Status};
use piazza_testing::{TestClient, TestResponse};
use pizza_apiserver::apis::pizza::v1beta1::{Pizza, PizzaSpec, PizzaTopping};

use crate::http_common::*;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn pizza_type() -> TypeMeta {
    TypeMeta { api_version: format!("{GROUP}/v1beta1"), kind: "Pizza".to_owned() }
}

fn new_pizza(name: &str, toppings: &[(&str, i64)]) -> Pizza {
    Pizza {
        metadata: ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() },
        spec: PizzaSpec {
            toppings: toppings
                .iter()
                .map(|(n, q)| PizzaTopping { name: (*n).to_owned(), quantity: *q })
                .collect(),
            slices: Some(6),
        },
        ..Pizza::default()
    }
}

async fn send_protobuf(client: &TestClient, method: Method, path: &str, body: Vec<u8>) -> TestResponse {
    client.request(method, path, &[("content-type", PROTOBUF), ("accept", PROTOBUF)], body).await
}

/// Decodes a protobuf response body, checking its Content-Type and envelope kind.
fn decode<T: Protobuf>(response: &TestResponse, kind: &str) -> T {
    assert_eq!(response.header("content-type"), PROTOBUF, "{}", response.text());
    let (value, type_meta): (T, TypeMeta) = decode_object(&response.body).expect("a protobuf body");
    assert_eq!(type_meta.kind, kind);
    value
}

fn decode_status(response: &TestResponse, code: u16) -> Status {
    assert_eq!(response.status, code, "{}", response.text());
    let status: Status = decode(response, "Status");
    // Failures carry their code; a deletion's Success has none, as upstream.
    let expected = (code >= 400).then_some(i32::from(code));
    assert_eq!(status.code, expected);
    status
}

#[tokio::test]
async fn slices_left_out_are_defaulted_and_zero_is_refused_in_both_formats() {
    let (_server, admin) = start_with_toppings().await;
    // Not written in protobuf (as a client that never set the field sends it): the default.
    let mut unset = new_pizza("unset", &[("salami", 1)]);
    unset.spec.slices = None;
    let created =
        send_protobuf(&admin, Method::POST, &pizzas("default"), encode_object(&unset, &pizza_type())).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(decode::<Pizza>(&created, "Pizza").spec.slices, Some(8));
    // Missing or null in JSON: the same default.
    for (name, spec) in [("missing", serde_json::json!({})), ("null", serde_json::json!({"slices": null}))] {
        let body = serde_json::json!({"apiVersion": format!("{GROUP}/v1beta1"), "kind": "Pizza",
            "metadata": {"name": name}, "spec": spec});
        let created = admin.post(&pizzas("default"), &body).await.expect_json(201);
        assert_eq!(created["spec"]["slices"], 8, "{name}");
    }
    // An explicit 0 is asked for, and invalid, in either format.
    let mut zero = new_pizza("zero", &[("salami", 1)]);
    zero.spec.slices = Some(0);
    let refused =
        send_protobuf(&admin, Method::POST, &pizzas("default"), encode_object(&zero, &pizza_type())).await;
    let status = decode_status(&refused, 422);
    assert!(status.message.as_deref().unwrap_or_default().contains("spec.slices"), "{status:?}");
    let body = serde_json::json!({"apiVersion": format!("{GROUP}/v1beta1"), "kind": "Pizza",
        "metadata": {"name": "zero"}, "spec": {"slices": 0}});
    admin.post(&pizzas("default"), &body).await.expect(422);
}

#[tokio::test]
async fn create_get_update_list_in_protobuf() {
    let (_server, admin) = start_with_toppings().await;
    let body = encode_object(&new_pizza("margherita", &[("mozzarella", 2), ("tomato", 1)]), &pizza_type());
    let created = send_protobuf(&admin, Method::POST, &pizzas("default"), body).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created: Pizza = decode(&created, "Pizza");
    assert_eq!(created.spec.toppings.len(), 2);
    assert_eq!(created.spec.slices, Some(6));
    assert_eq!(created.status.cost, 1.25, "the cost admission ran on a protobuf create");
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());

    // GET in protobuf and in JSON show the same object.
    let got = admin.get_with(&pizza("default", "margherita"), &[("accept", PROTOBUF)]).await;
    let got: Pizza = decode(&got, "Pizza");
    assert_eq!(got, created);
    let json = admin.get(&pizza("default", "margherita")).await.expect_json(200);
    assert_eq!(json["metadata"]["uid"], created.metadata.uid.clone().unwrap().as_str());
    assert_eq!(json["spec"]["slices"], 6);

    // PUT with a protobuf body.
    let mut changed = got.clone();
    changed.spec.slices = Some(12);
    let updated = send_protobuf(
        &admin,
        Method::PUT,
        &pizza("default", "margherita"),
        encode_object(&changed, &pizza_type()),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let updated: Pizza = decode(&updated, "Pizza");
    assert_eq!(updated.spec.slices, Some(12));
    assert_ne!(updated.metadata.resource_version, got.metadata.resource_version);

    // LIST: a PizzaList with ListMeta = 1 and items = 2; pages carry a continue token.
    let second = encode_object(&new_pizza("salami", &[("salami", 1)]), &pizza_type());
    assert_eq!(send_protobuf(&admin, Method::POST, &pizzas("default"), second).await.status, 201);
    let list = admin.get_with(&pizzas("default"), &[("accept", PROTOBUF)]).await;
    let list: ObjectList<Pizza> = decode(&list, "PizzaList");
    let names: Vec<_> = list.items.iter().map(|p| p.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["margherita", "salami"]);
    assert!(list.metadata.resource_version.is_some());
    let page = admin.get_with(&format!("{}?limit=1", pizzas("default")), &[("accept", PROTOBUF)]).await;
    let page: ObjectList<Pizza> = decode(&page, "PizzaList");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.metadata.remaining_item_count, Some(1));
    assert!(page.metadata.continue_.is_some_and(|c| !c.is_empty()));
    // A v1alpha1 list is converted like the JSON one.
    let alpha = admin.get_with(&alpha_pizzas("default"), &[("accept", PROTOBUF)]).await;
    let (_, type_meta): (ObjectList<pizza_apiserver::apis::pizza::v1alpha1::Pizza>, TypeMeta) =
        decode_object(&alpha.body).unwrap();
    assert_eq!(type_meta.api_version, format!("{GROUP}/v1alpha1"));
}

#[tokio::test]
async fn negotiation_falls_back_and_errors_are_protobuf_status() {
    let (_server, admin) = start_with_toppings().await;
    create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let client_go = "application/vnd.kubernetes.protobuf, application/json";
    let response = admin.get_with(&pizza("default", "margherita"), &[("accept", client_go)]).await;
    let _: Pizza = decode(&response, "Pizza");
    // JSON first in the list: JSON.
    let response = admin
        .get_with(
            &pizza("default", "margherita"),
            &[("accept", "application/json, application/vnd.kubernetes.protobuf")],
        )
        .await;
    assert_eq!(response.header("content-type"), "application/json");

    // A 404 for a protobuf client is a protobuf Status.
    let missing = admin.get_with(&pizza("default", "nope"), &[("accept", PROTOBUF)]).await;
    let status = decode_status(&missing, 404);
    assert_eq!(status.reason.as_deref(), Some("NotFound"));
    assert_eq!(
        status.message.as_deref(),
        Some("pizzas.restaurant.programming-kubernetes.info \"nope\" not found")
    );

    // Table has no protobuf message (as upstream): 406 unless JSON is offered too.
    let table = "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io";
    admin.get_with(&pizzas("default"), &[("accept", table)]).await.expect_status(406, "NotAcceptable");
    let table_or_json = format!("{table}, application/json;as=Table;v=v1;g=meta.k8s.io");
    let response = admin.get_with(&pizzas("default"), &[("accept", &table_or_json)]).await;
    assert_eq!(response.expect_json(200)["kind"], "Table");

    // Discovery and OpenAPI stay JSON.
    let discovery = admin.get_with(&format!("/apis/{GROUP}/v1beta1"), &[("accept", client_go)]).await;
    assert_eq!(discovery.expect_json(200)["kind"], "APIResourceList");
}

#[tokio::test]
async fn hostile_protobuf_bodies_are_400_or_415() {
    let (_server, admin) = start_with_toppings().await;
    let path = pizzas("default");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "empty data"),
        (b"{\"kind\":\"Pizza\"}".to_vec(), "provided data does not appear to be a protobuf message"),
        (b"k8s\0".to_vec(), "empty body"),
        (b"k8s\0\x0a\xff\xff\xff\xff\x0f".to_vec(), "error decoding request body"),
        (
            [&b"k8s\0"[..], &[0x12, 0x05, 0x0a, 0x80, 0x80, 0x80, 0x80]].concat(),
            "error decoding request body",
        ),
    ];
    for (body, message) in cases {
        let response = send_protobuf(&admin, Method::POST, &path, body.clone()).await;
        let status = decode_status(&response, 400);
        assert!(status.message.as_deref().is_some_and(|m| m.contains(message)), "{body:?}: {status:?}");
    }
    // The envelope names another kind.
    let topping_type = TypeMeta { api_version: format!("{GROUP}/v1beta1"), kind: "Topping".to_owned() };
    let wrong =
        send_protobuf(&admin, Method::POST, &path, encode_object(&new_pizza("x", &[]), &topping_type)).await;
    let status = decode_status(&wrong, 400);
    assert_eq!(
        status.message.as_deref(),
        Some("the kind in the data (Topping) does not match the expected kind (Pizza)")
    );
    // Compressed raw bytes are not supported: 415.
    let mut compressed = encode_object(&new_pizza("x", &[]), &pizza_type());
    compressed.truncate(compressed.len() - 4);
    compressed.extend_from_slice(&[0x1a, 0x04, b'g', b'z', b'i', b'p', 0x22, 0x00]);
    decode_status(&send_protobuf(&admin, Method::POST, &path, compressed).await, 415);
    // Nothing was created.
    let list = admin.get(&path).await.expect_json(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn delete_options_in_protobuf() {
    let (_server, admin) = start_with_toppings().await;
    let created = create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let options_type =
        TypeMeta { api_version: "meta.k8s.io/v1".to_owned(), kind: "DeleteOptions".to_owned() };
    let wrong_uid = DeleteOptions {
        preconditions: Some(Preconditions { uid: Some("not-the-uid".to_owned()), resource_version: None }),
        ..DeleteOptions::default()
    };
    let path = pizza("default", "margherita");
    let conflict =
        send_protobuf(&admin, Method::DELETE, &path, encode_object(&wrong_uid, &options_type)).await;
    let status = decode_status(&conflict, 409);
    assert_eq!(status.reason.as_deref(), Some("Conflict"));
    let right_uid = DeleteOptions {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: created["metadata"]["uid"].as_str().map(str::to_owned),
            resource_version: None,
        }),
        ..DeleteOptions::default()
    };
    let deleted =
        send_protobuf(&admin, Method::DELETE, &path, encode_object(&right_uid, &options_type)).await;
    let status = decode_status(&deleted, 200);
    assert_eq!(status.status.as_deref(), Some("Success"));
    assert_eq!(status.details.and_then(|d| d.name).as_deref(), Some("margherita"));
    admin.get(&path).await.expect_status(404, "NotFound");
}

#[tokio::test]
async fn partial_object_metadata_list_in_protobuf() {
    let (_server, admin) = start_with_toppings().await;
    create_pizza(&admin, "default", "a", &[("tomato", 1)]).await;
    create_pizza(&admin, "default", "b", &[("salami", 1)]).await;
    let accept = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let response = admin.get_with(&pizzas("default"), &[("accept", accept)]).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    );
    let (list, type_meta): (PartialObjectMetadataList, TypeMeta) = decode_object(&response.body).unwrap();
    assert_eq!(
        (type_meta.api_version.as_str(), type_meta.kind.as_str()),
        ("meta.k8s.io/v1", "PartialObjectMetadataList")
    );
    let names: Vec<_> = list.items.iter().map(|i| i.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(list.items.iter().all(|i| i.metadata.uid.is_some()));
}

/// Reads protobuf watch events until `count` arrived (or 10 s passed).
async fn read_events(
    body: &mut hyper::body::Incoming,
    decoder: &mut FrameDecoder,
    count: usize,
) -> Vec<WatchEvent> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < count {
        while let Some(event) = decoder.next_event().expect("well-formed frames") {
            events.push(event);
        }
        if events.len() >= count {
            break;
        }
        let frame = tokio::time::timeout_at(deadline, body.frame()).await.expect("events in time");
        let data = frame.expect("the watch is open").expect("a body frame").into_data().unwrap_or_default();
        decoder.push(&data);
    }
    events
}

fn event_object<T: Protobuf>(event: &WatchEvent) -> T {
    decode_object::<T>(&event.object.raw.0).expect("the event object is a protobuf body").0
}

#[tokio::test]
async fn watch_streams_length_prefixed_protobuf_events() {
    let (_server, admin) = start_with_toppings().await;
    create_pizza(&admin, "default", "first", &[("tomato", 1)]).await;
    let path = format!(
        "{}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        pizzas("default")
    );
    let request = http::Request::get(path)
        .header("accept", PROTOBUF)
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = admin.send(request).await.expect("watch starts");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/vnd.kubernetes.protobuf;stream=watch");
    let mut body = response.into_body();
    let mut decoder = FrameDecoder::default();

    // The initial state, then a bookmark marking its end.
    let initial = read_events(&mut body, &mut decoder, 2).await;
    assert_eq!(initial[0].type_, "ADDED");
    assert_eq!(event_object::<Pizza>(&initial[0]).metadata.name.as_deref(), Some("first"));
    assert_eq!(initial[1].type_, "BOOKMARK");
    let bookmark: Pizza = event_object(&initial[1]);
    let annotations = bookmark.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations.get("k8s.io/initial-events-end").map(String::as_str), Some("true"));
    assert!(bookmark.metadata.resource_version.is_some());

    create_pizza(&admin, "default", "second", &[("salami", 1)]).await;
    admin.patch(&pizza("default", "second"), &serde_json::json!({"spec": {"slices": 4}})).await.expect(200);
    admin.delete(&format!("{}?gracePeriodSeconds=0", pizza("default", "second"))).await.expect(200);
    let events = read_events(&mut body, &mut decoder, 3).await;
    let types: Vec<_> = events.iter().map(|e| e.type_.as_str()).collect();
    assert_eq!(types, ["ADDED", "MODIFIED", "DELETED"]);
    let modified: Pizza = event_object(&events[1]);
    assert_eq!(modified.spec.slices, Some(4));
    let (_, type_meta): (Pizza, TypeMeta) = decode_object(&events[2].object.raw.0).unwrap();
    assert_eq!(type_meta, pizza_type());
}

#[tokio::test]
async fn protobuf_watch_error_is_a_status_frame() {
    let (_server, admin) = start_with_toppings().await;
    // A resourceVersion from the future is refused before streaming: a protobuf Status.
    let path = format!("{}?watch=true&resourceVersion=abc", pizzas("default"));
    let response = admin.get_with(&path, &[("accept", PROTOBUF)]).await;
    let status = decode_status(&response, 400);
    assert!(status.message.is_some_and(|m| m.contains("abc")));
}

#[tokio::test]
async fn status_and_scale_subresources_in_protobuf() {
    use piazza::k8s_openapi::api::autoscaling::v1::Scale;
    let (_server, admin) = start_with_toppings().await;
    create_pizza(&admin, "default", "margherita", &[("tomato", 1)]).await;
    let status_path = format!("{}/status", pizza("default", "margherita"));
    let got = admin.get_with(&status_path, &[("accept", PROTOBUF)]).await;
    let mut object: Pizza = decode(&got, "Pizza");
    object.status.phase = Some("Baked".to_owned());
    object.spec.slices = Some(99); // ignored by the status strategy
    let updated =
        send_protobuf(&admin, Method::PUT, &status_path, encode_object(&object, &pizza_type())).await;
    let updated: Pizza = decode(&updated, "Pizza");
    assert_eq!(updated.status.phase.as_deref(), Some("Baked"));
    assert_eq!(updated.spec.slices, Some(8));

    let scale_path = format!("{}/scale", pizza("default", "margherita"));
    let got = admin.get_with(&scale_path, &[("accept", PROTOBUF)]).await;
    let (mut scale, type_meta): (Scale, TypeMeta) = decode_object(&got.body).unwrap();
    assert_eq!((type_meta.api_version.as_str(), type_meta.kind.as_str()), ("autoscaling/v1", "Scale"));
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(8));
    scale.spec.as_mut().unwrap().replicas = Some(12);
    let scale_type = TypeMeta { api_version: "autoscaling/v1".to_owned(), kind: "Scale".to_owned() };
    let scaled = send_protobuf(&admin, Method::PUT, &scale_path, encode_object(&scale, &scale_type)).await;
    let scaled: Scale = decode(&scaled, "Scale");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(12));
    let json = admin.get(&pizza("default", "margherita")).await.expect_json(200);
    assert_eq!(json["spec"]["slices"], 12);

    // The bake action answers JSON or YAML only: protobuf alone is a 406.
    let bake = format!("{}/bake", pizza("default", "margherita"));
    let response = admin
        .request(Method::POST, &bake, &[("content-type", "application/json"), ("accept", PROTOBUF)], "{}")
        .await;
    assert_eq!(response.status, 406, "{}", response.text());
}
