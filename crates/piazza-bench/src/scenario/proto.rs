//! Pizza bodies in Kubernetes protobuf (`--format protobuf`): the writes, the
//! read-modify-write of the compare-and-swap, and the watch stream's events. They are encoded
//! and decoded with pizza-apiserver's own `v1beta1` type and Piazza's codec, so the bytes
//! are what a client generated from the exported `.proto` would send and read.

use bytes::Bytes;
use piazza::codec::TypeMeta;
use piazza::codec::protobuf::{decode_object, encode_object, meta::WatchEvent};
use pizza_apiserver::apis::pizza::v1beta1::{Pizza, PizzaSpec, PizzaTopping};

use super::api::{BUMP_ANNOTATION, GROUP, TOPPINGS};

/// The content type of protobuf bodies (and the Accept of protobuf answers).
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn type_meta() -> TypeMeta {
    TypeMeta { api_version: format!("{GROUP}/v1beta1"), kind: "Pizza".to_owned() }
}

/// The protobuf twin of [`super::api::pizza_json`]: a v1beta1 Pizza with one salami, and
/// `annotations` if any. Like the JSON body it leaves `slices` to the server's default.
pub fn pizza_protobuf(namespace: &str, name: &str, annotations: &[(&str, String)]) -> Bytes {
    let mut pizza = Pizza {
        spec: PizzaSpec {
            toppings: vec![PizzaTopping { name: TOPPINGS[0].0.to_owned(), quantity: 1 }],
            slices: None,
        },
        ..Pizza::default()
    };
    pizza.metadata.name = Some(name.to_owned());
    pizza.metadata.namespace = Some(namespace.to_owned());
    if !annotations.is_empty() {
        pizza.metadata.annotations =
            Some(annotations.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect());
    }
    Bytes::from(encode_object(&pizza, &type_meta()))
}

/// The protobuf twin of [`super::workloads::bump`]: the object with annotation
/// `piazza-bench/seq` set to `seq`. Anything but a protobuf v1beta1 Pizza is an error.
pub fn bump_protobuf(object: &[u8], seq: u64) -> Result<Bytes, String> {
    let (mut pizza, found) = decode_object::<Pizza>(object).map_err(|e| e.message)?;
    if found != type_meta() {
        return Err(format!("expected a {}/v1beta1 Pizza, got {}/{}", GROUP, found.api_version, found.kind));
    }
    pizza
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(BUMP_ANNOTATION.to_owned(), seq.to_string());
    Ok(Bytes::from(encode_object(&pizza, &found)))
}

/// The protobuf twin of [`super::watch::parse_event`]: for an `ADDED` event of a pizza
/// named `<name_prefix><i>` with a send-time annotation, `(i, sent at)`.
pub fn parse_protobuf_event(event: &WatchEvent, name_prefix: &str) -> Option<(usize, u128)> {
    if event.type_ != "ADDED" {
        return None;
    }
    let (pizza, _) = decode_object::<Pizza>(&event.object.raw.0).ok()?;
    let index = pizza.metadata.name.as_deref()?.strip_prefix(name_prefix)?.parse().ok()?;
    let sent = pizza.metadata.annotations.as_ref()?.get(super::api::SENT_AT_ANNOTATION)?.parse().ok()?;
    Some((index, sent))
}

#[cfg(test)]
mod tests {
    use piazza::codec::protobuf::watch::{FrameDecoder, event_frame};
    use piazza::codec::watch::WatchEventType;

    use super::*;
    use crate::scenario::api::SENT_AT_ANNOTATION;

    #[test]
    fn pizza_bodies_decode_as_the_server_reads_them() {
        let body = pizza_protobuf("ns", "p-1", &[(SENT_AT_ANNOTATION, "12".into())]);
        assert!(body.starts_with(b"k8s\0"));
        let (pizza, found) = decode_object::<Pizza>(&body).unwrap();
        assert_eq!(found, type_meta());
        assert_eq!(pizza.metadata.name.as_deref(), Some("p-1"));
        assert_eq!(pizza.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(pizza.metadata.annotations.unwrap()[SENT_AT_ANNOTATION], "12");
        assert_eq!(pizza.spec.toppings, vec![PizzaTopping { name: "salami".into(), quantity: 1 }]);
        assert_eq!(pizza.spec.slices, None, "left to the server's default, as in JSON");
        let plain = decode_object::<Pizza>(&pizza_protobuf("ns", "p", &[])).unwrap().0;
        assert!(plain.metadata.annotations.is_none());
    }

    #[test]
    fn bump_sets_the_annotation_and_keeps_the_rest() {
        let mut stored = decode_object::<Pizza>(&pizza_protobuf("ns", "p", &[])).unwrap().0;
        stored.metadata.resource_version = Some("7".into());
        let body = encode_object(&stored, &type_meta());
        let bumped = decode_object::<Pizza>(&bump_protobuf(&body, 3).unwrap()).unwrap().0;
        assert_eq!(bumped.metadata.annotations.as_ref().unwrap()[BUMP_ANNOTATION], "3");
        assert_eq!(bumped.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(bumped.spec, stored.spec);
        let again = bump_protobuf(&encode_object(&bumped, &type_meta()), 4).unwrap();
        assert_eq!(
            decode_object::<Pizza>(&again).unwrap().0.metadata.annotations.unwrap()[BUMP_ANNOTATION],
            "4"
        );
    }

    #[test]
    fn bump_refuses_what_is_not_a_protobuf_pizza() {
        assert!(bump_protobuf(b"{\"kind\":\"Pizza\"}", 1).is_err());
        assert!(bump_protobuf(b"k8s\0\xff\xff", 1).is_err());
        assert!(bump_protobuf(b"", 1).is_err());
        let topping = TypeMeta { api_version: format!("{GROUP}/v1alpha1"), kind: "Topping".into() };
        let wrong_kind = encode_object(&Pizza::default(), &topping);
        assert!(bump_protobuf(&wrong_kind, 1).unwrap_err().contains("Topping"));
    }

    #[test]
    fn parses_added_events_of_this_run_from_frames() {
        let stamped = pizza_protobuf("ns", "w-abc-17", &[(SENT_AT_ANNOTATION, "123456".into())]);
        let mut decoder = FrameDecoder::default();
        let mut stream = event_frame(WatchEventType::Added, &stamped);
        stream.extend(event_frame(WatchEventType::Modified, &stamped));
        stream.extend(event_frame(WatchEventType::Added, &pizza_protobuf("ns", "w-abc-18", &[])));
        stream.extend(event_frame(WatchEventType::Added, b"k8s\0garbage"));
        // Delivered in pieces, as a socket would.
        let mut events = Vec::new();
        for chunk in stream.chunks(7) {
            decoder.push(chunk);
            while let Some(event) = decoder.next_event().unwrap() {
                events.push(event);
            }
        }
        assert_eq!(events.len(), 4);
        assert_eq!(parse_protobuf_event(&events[0], "w-abc-"), Some((17, 123456)));
        assert_eq!(parse_protobuf_event(&events[0], "w-other-"), None);
        assert_eq!(parse_protobuf_event(&events[1], "w-abc-"), None, "MODIFIED");
        assert_eq!(parse_protobuf_event(&events[2], "w-abc-"), None, "no send time");
        assert_eq!(parse_protobuf_event(&events[3], "w-abc-"), None, "undecodable object");
    }
}
