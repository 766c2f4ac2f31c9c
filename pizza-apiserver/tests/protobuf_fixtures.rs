//! Committed fixtures per group/version/kind (`testdata/protobuf/<group>/<version>/<Kind>.pb`
//! and the `.json` of the same object) keep decoding to the same object, and today's
//! encoders still produce them byte for byte, so a format change is caught. To write them
//! anew after a deliberate change:
//!
//! ```text
//! PIAZZA_UPDATE_FIXTURES=1 cargo test -p pizza-apiserver --all-features --test integration protobuf_fixtures::
//! ```

use crate::protobuf_support;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use piazza::codec::protobuf::{Protobuf, decode_object as decode_pb, encode_object as encode_pb};
use piazza::codec::{Format, TypeMeta, decode_object as decode_json, encode_object as encode_json};
use pizza_apiserver::apis::menu::MENU_GROUP;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn fixture_path(tm: &TypeMeta, extension: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/protobuf")
        .join(&tm.api_version)
        .join(format!("{}.{extension}", tm.kind))
}

fn pretty_json<T: Serialize>(value: &T, tm: &TypeMeta) -> Vec<u8> {
    let compact = encode_json(value, tm, Format::Json).expect("encode JSON");
    let value: serde_json::Value = serde_json::from_slice(&compact).expect("JSON");
    let mut pretty = serde_json::to_vec_pretty(&value).expect("pretty");
    pretty.push(b'\n');
    pretty
}

fn check<T>(object: T, tm: TypeMeta)
where
    T: Protobuf + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let (pb_path, json_path) = (fixture_path(&tm, "pb"), fixture_path(&tm, "json"));
    if std::env::var_os("PIAZZA_UPDATE_FIXTURES").is_some() {
        std::fs::create_dir_all(pb_path.parent().expect("parent")).expect("create dir");
        std::fs::write(&pb_path, encode_pb(&object, &tm)).expect("write .pb");
        std::fs::write(&json_path, pretty_json(&object, &tm)).expect("write .json");
    }
    let pb = std::fs::read(&pb_path).unwrap_or_else(|e| panic!("{}: {e}", pb_path.display()));
    let json = std::fs::read(&json_path).unwrap_or_else(|e| panic!("{}: {e}", json_path.display()));

    let (from_pb, pb_tm) =
        decode_pb::<T>(&pb).unwrap_or_else(|e| panic!("{}: {}", pb_path.display(), e.message));
    let (from_json, json_tm) = decode_json::<T>(&json, Format::Json)
        .unwrap_or_else(|e| panic!("{}: {}", json_path.display(), e.message));
    assert_eq!(from_pb, from_json, "{} and its .json decode to different objects", pb_path.display());
    assert_eq!(from_pb, object, "{} no longer decodes to the fixture object", pb_path.display());
    assert_eq!((&pb_tm, &json_tm), (&tm, &tm));
    assert!(encode_pb(&object, &tm) == pb, "the protobuf encoding of {} changed", tm.kind);
    // JSON is compared as values: key order depends on serde_json's features.
    let parse = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).expect("JSON");
    assert_eq!(parse(&pretty_json(&object, &tm)), parse(&json), "the JSON encoding of {} changed", tm.kind);
}

#[test]
fn restaurant_v1alpha1_pizza() {
    check(protobuf_support::pizza_v1alpha1(), protobuf_support::restaurant("v1alpha1", "Pizza"));
}

#[test]
fn restaurant_v1beta1_pizza() {
    check(protobuf_support::pizza_v1beta1(), protobuf_support::restaurant("v1beta1", "Pizza"));
}

#[test]
fn restaurant_v1alpha1_topping() {
    check(protobuf_support::topping_v1alpha1(), protobuf_support::restaurant("v1alpha1", "Topping"));
}

#[test]
fn menu_v1_pizza() {
    check(protobuf_support::menu_pizza_v1(), protobuf_support::type_meta(MENU_GROUP, "v1", "Pizza"));
}
