//! Round trips for every served kind and version in JSON, YAML and protobuf, as upstream's
//! roundtrip tests: random objects encode → decode → equal, and encoding the decoded object
//! gives the same bytes (encoding is deterministic).

use std::collections::BTreeMap;

use crate::protobuf_support::{restaurant, type_meta};
use piazza::codec::Format;
use piazza::codec::protobuf::{ObjectList, Protobuf, decode_object, encode_object};
use piazza::codec::{decode_object as decode_text, encode_object as encode_text};
use piazza::k8s_openapi::jiff::Timestamp;
use piazza::meta::{ListMeta, ObjectMeta, Time};
use pizza_apiserver::apis::{menu, pizza, topping};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "[a-z0-9.-]{0,12}"
}

fn some_text() -> impl Strategy<Value = Option<String>> {
    // Some("") is not distinguishable from an absent optional string once it is the
    // server's, but it is on the wire (gogo writes it), so it is generated too.
    option::of(text())
}

fn metadata() -> impl Strategy<Value = ObjectMeta> {
    (
        (some_text(), some_text(), some_text(), some_text(), option::of(any::<i64>())),
        (
            option::of((0i64..4_000_000_000, 0i32..1_000_000_000)),
            option::of(btree_map(text(), text(), 1..4)),
            option::of(btree_map(text(), text(), 1..3)),
            option::of(vec(text(), 1..3)),
            option::of(0i64..100),
        ),
    )
        .prop_map(
            |(
                (name, namespace, uid, resource_version, generation),
                (created, labels, annotations, finalizers, grace),
            )| {
                ObjectMeta {
                    name,
                    namespace,
                    uid,
                    resource_version,
                    generation,
                    creation_timestamp: created.map(|(s, n)| Time(Timestamp::new(s, n).expect("in range"))),
                    labels,
                    annotations,
                    finalizers,
                    deletion_grace_period_seconds: grace,
                    ..Default::default()
                }
            },
        )
}

fn status() -> impl Strategy<Value = pizza::PizzaStatus> {
    (-1e9f64..1e9, some_text(), some_text()).prop_map(|(cost, phase, baked_at)| pizza::PizzaStatus {
        cost,
        phase,
        baked_at,
    })
}

fn pizza_v1alpha1() -> impl Strategy<Value = pizza::v1alpha1::Pizza> {
    (metadata(), vec(text(), 0..6), option::of(any::<i32>()), status()).prop_map(
        |(metadata, toppings, slices, status)| pizza::v1alpha1::Pizza {
            metadata,
            spec: pizza::v1alpha1::PizzaSpec { toppings, slices },
            status,
        },
    )
}

fn pizza_v1beta1() -> impl Strategy<Value = pizza::v1beta1::Pizza> {
    let topping = (text(), any::<i64>()).prop_map(|(name, quantity)| pizza::PizzaTopping { name, quantity });
    (metadata(), vec(topping, 0..6), option::of(any::<i32>()), status()).prop_map(
        |(metadata, toppings, slices, status)| pizza::v1beta1::Pizza {
            metadata,
            spec: pizza::v1beta1::PizzaSpec { toppings, slices },
            status,
        },
    )
}

fn topping_v1alpha1() -> impl Strategy<Value = topping::Topping> {
    (metadata(), -1e6f64..1e6)
        .prop_map(|(metadata, cost)| topping::Topping { metadata, spec: topping::ToppingSpec { cost } })
}

fn menu_pizza_v1() -> impl Strategy<Value = menu::Pizza> {
    let ingredient =
        (text(), any::<i64>()).prop_map(|(topping, portions)| menu::Ingredient { topping, portions });
    (metadata(), vec(ingredient, 0..5), option::of(any::<i32>()), -1e6f64..1e6, some_text()).prop_map(
        |(metadata, ingredients, slices, price, phase)| menu::Pizza {
            metadata,
            spec: menu::MenuPizzaSpec { ingredients, slices },
            status: menu::MenuPizzaStatus { price, phase, baked_at: None },
        },
    )
}

fn list_of<T: std::fmt::Debug + Clone>(
    item: impl Strategy<Value = T>,
) -> impl Strategy<Value = ObjectList<T>> {
    (some_text(), some_text(), vec(item, 0..4)).prop_map(|(resource_version, continue_, items)| ObjectList {
        metadata: ListMeta { resource_version, continue_, ..Default::default() },
        items,
    })
}

/// encode → decode → equal; decode → encode → the same bytes.
fn round_trip<T: Protobuf + PartialEq + std::fmt::Debug>(
    value: &T,
    tm: &piazza::codec::TypeMeta,
) -> Result<(), TestCaseError> {
    let bytes = encode_object(value, tm);
    let (decoded, decoded_tm) = decode_object::<T>(&bytes).map_err(|e| TestCaseError::fail(e.message))?;
    prop_assert_eq!(&decoded, value);
    prop_assert_eq!(&decoded_tm, tm);
    prop_assert_eq!(encode_object(&decoded, tm), bytes);
    Ok(())
}

/// The same through JSON and YAML: `metav1.Time` is whole seconds there, as upstream, so
/// the decoded object equals the original with its timestamps truncated.
fn text_round_trips<T>(value: &T, tm: &piazza::codec::TypeMeta) -> Result<(), TestCaseError>
where
    T: piazza::Object + serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let mut expected = value.clone();
    if let Some(time) = expected.metadata_mut().creation_timestamp.as_mut() {
        time.0 = Timestamp::from_second(time.0.as_second()).expect("in range");
    }
    for format in [Format::Json, Format::Yaml] {
        let bytes = encode_text(value, tm, format).map_err(|e| TestCaseError::fail(e.message))?;
        let (decoded, decoded_tm): (T, _) =
            decode_text(&bytes, format).map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert_eq!(&decoded, &expected, "{:?}", format);
        prop_assert_eq!(&decoded_tm, tm);
        prop_assert_eq!(
            encode_text(&decoded, tm, format).map_err(|e| TestCaseError::fail(e.message))?,
            bytes
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn pizza_v1alpha1_round_trips(p in pizza_v1alpha1()) {
        round_trip(&p, &restaurant("v1alpha1", "Pizza"))?;
        text_round_trips(&p, &restaurant("v1alpha1", "Pizza"))?;
    }

    #[test]
    fn pizza_v1beta1_round_trips(p in pizza_v1beta1()) {
        round_trip(&p, &restaurant("v1beta1", "Pizza"))?;
        text_round_trips(&p, &restaurant("v1beta1", "Pizza"))?;
    }

    #[test]
    fn topping_v1alpha1_round_trips(t in topping_v1alpha1()) {
        round_trip(&t, &restaurant("v1alpha1", "Topping"))?;
        text_round_trips(&t, &restaurant("v1alpha1", "Topping"))?;
    }

    #[test]
    fn menu_pizza_v1_round_trips(p in menu_pizza_v1()) {
        round_trip(&p, &type_meta(menu::MENU_GROUP, "v1", "Pizza"))?;
        text_round_trips(&p, &type_meta(menu::MENU_GROUP, "v1", "Pizza"))?;
    }

    #[test]
    fn lists_round_trip(alpha in list_of(pizza_v1alpha1()), beta in list_of(pizza_v1beta1()), toppings in list_of(topping_v1alpha1())) {
        round_trip(&alpha, &restaurant("v1alpha1", "PizzaList"))?;
        round_trip(&beta, &restaurant("v1beta1", "PizzaList"))?;
        round_trip(&toppings, &restaurant("v1alpha1", "ToppingList"))?;
    }

    /// Bytes cut short anywhere are a 400, never a panic or a wrong object.
    #[test]
    fn truncated_bodies_are_rejected(p in pizza_v1beta1(), cut in any::<prop::sample::Index>()) {
        let bytes = encode_object(&p, &restaurant("v1beta1", "Pizza"));
        let cut = cut.index(bytes.len());
        match decode_object::<pizza::v1beta1::Pizza>(&bytes[..cut]) {
            Err(e) => prop_assert_eq!(e.code, 400),
            // A cut between the envelope's own fields leaves a valid body: without `raw` (an
            // empty object) or with all of it. Never a part of the object.
            Ok((decoded, _)) => prop_assert!(
                decoded == p || decoded == pizza::v1beta1::Pizza::default(),
                "cut at {} of {} decoded {:?}", cut, bytes.len(), decoded
            ),
        }
    }
}

#[test]
fn absent_optionals_are_not_written() {
    let bytes = pizza::PizzaStatus { cost: 0.0, phase: None, baked_at: None }.encode_to_vec();
    // cost = 1 (double 0) only.
    assert_eq!(bytes, [0x09, 0, 0, 0, 0, 0, 0, 0, 0]);
    let labels = BTreeMap::from([("a".to_owned(), "b".to_owned())]);
    let meta = ObjectMeta { labels: Some(labels), ..Default::default() };
    assert_eq!(ObjectMeta::decode(&meta.encode_to_vec()).expect("decode"), meta);
}
