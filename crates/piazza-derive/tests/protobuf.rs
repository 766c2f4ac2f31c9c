//! `#[derive(Protobuf)]` on real structs: field numbers on the wire, round trips, nesting,
//! and the `.proto` descriptors.

use std::collections::BTreeMap;

use piazza_codec::protobuf::{Label, ProtoField, Protobuf, Schema};
use piazza_core::meta::ObjectMeta;

#[derive(Clone, Debug, Default, PartialEq, Protobuf)]
#[protobuf(crate = "piazza_codec::protobuf")]
struct Dish {
    #[protobuf(tag = 1)]
    metadata: ObjectMeta,
    #[protobuf(tag = 3)]
    spec: DishSpec,
    #[protobuf(tag = 2, name = "priceCents")]
    price: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Protobuf)]
#[protobuf(crate = "piazza_codec::protobuf", name = "Spec")]
struct DishSpec {
    #[protobuf(tag = 1)]
    ingredient_names: Vec<String>,
    #[protobuf(tag = 2)]
    vegetarian: bool,
    #[protobuf(tag = 3)]
    weight: f64,
    #[protobuf(tag = 4)]
    note: Option<String>,
    #[protobuf(tag = 5)]
    extras: BTreeMap<String, String>,
    #[protobuf(tag = 6)]
    portions: Option<i32>,
}

fn dish() -> Dish {
    Dish {
        metadata: ObjectMeta { name: Some("soup".into()), ..Default::default() },
        spec: DishSpec {
            ingredient_names: vec!["leek".into(), "potato".into()],
            vegetarian: true,
            weight: 0.5,
            note: None,
            extras: BTreeMap::from([("bread".into(), "yes".into())]),
            portions: Some(-2),
        },
        price: 450,
    }
}

#[test]
fn fields_are_written_in_tag_order_with_their_numbers() {
    let bytes = dish().encode_to_vec();
    // metadata = 1 {name = 1 "soup"}, then priceCents = 2 (varint 450), then spec = 3.
    assert_eq!(&bytes[..8], [0x0a, 6, 0x0a, 4, b's', b'o', b'u', b'p']);
    assert_eq!(&bytes[8..11], [0x10, 0xc2, 0x03]);
    assert_eq!(bytes[11], 0x1a);
}

#[test]
fn round_trips_and_encodes_deterministically() {
    let dish = dish();
    let bytes = dish.encode_to_vec();
    assert_eq!(Dish::decode(&bytes).unwrap(), dish);
    assert_eq!(dish.clone().encode_to_vec(), bytes);
}

#[test]
fn defaults_still_write_plain_scalars() {
    // gogo writes non-pointer scalars even when empty; Option fields only when set.
    let bytes = DishSpec::default().encode_to_vec();
    assert_eq!(bytes, [0x10, 0, 0x19, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn errors_name_the_proto_field() {
    // vegetarian = 2 sent as a string.
    let err = DishSpec::decode(&[0x12, 0]).unwrap_err();
    assert_eq!(err.message(), "proto: wrong wireType = 2 for field vegetarian");
}

#[test]
fn descriptors_follow_the_attributes() {
    let mut schema = Schema::new("kitchen.example.com.v1");
    assert_eq!(schema.message::<Dish>(), "Dish");
    let messages = schema.messages();
    assert_eq!(messages.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["Dish", "Spec"]);
    let dish: Vec<_> =
        messages[0].fields.iter().map(|f| (f.name.as_str(), f.tag, f.type_name.as_str())).collect();
    assert_eq!(
        dish,
        [
            ("metadata", 1, "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
            ("priceCents", 2, "int64"),
            ("spec", 3, "Spec")
        ]
    );
    let spec = &messages[1].fields;
    assert_eq!((spec[0].name.as_str(), spec[0].label), ("ingredientNames", Label::Repeated));
    assert_eq!((spec[4].type_name.as_str(), spec[4].label), ("map<string, string>", Label::Map));
    assert_eq!((spec[5].type_name.as_str(), spec[5].label), ("int32", Label::Optional));
    assert_eq!(schema.imports().into_iter().collect::<Vec<_>>(), ["k8s.io.apimachinery.pkg.apis.meta.v1"]);
    assert_eq!(<Option<DishSpec> as ProtoField>::describe(&mut schema).1, "Spec");
}
