//! Unit tests of the SMP engine: one group per directive, then hostile patches.

use serde_json::{Map, Value, json};

use super::super::schema_meta::SchemaMeta;
use super::super::strategic_error::{SmpError, SmpErrorKind};
use super::*;

/// A pizza-like schema: merge-by-name maps, a merged primitive list, a replaced list, a
/// `replace` map and a `retainKeys` map.
fn defs() -> Map<String, Value> {
    json!({
        "Obj": {"type": "object", "properties": {
            "metadata": {"$ref": "#/components/schemas/Meta"},
            "spec": {"$ref": "#/components/schemas/Spec"}
        }},
        "Meta": {"type": "object", "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-patch-strategy": "merge"}
        }},
        "Spec": {"type": "object", "properties": {
            "toppings": {"type": "array", "items": {"$ref": "#/components/schemas/Topping"},
                         "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
            "names": {"type": "array", "items": {"type": "string"}, "x-kubernetes-patch-strategy": "merge"},
            "plain": {"type": "array", "items": {"type": "string"}},
            "keyless": {"type": "array", "items": {"type": "object"}, "x-kubernetes-patch-strategy": "merge"},
            "box": {"type": "object", "x-kubernetes-patch-strategy": "replace"},
            "oven": {"type": "object", "x-kubernetes-patch-strategy": "retainKeys"},
            "odd": {"type": "array", "x-kubernetes-patch-strategy": "a,b,c"}
        }},
        "Topping": {"type": "object", "properties": {
            "name": {"type": "string"},
            "quantity": {"type": "integer"},
            "extras": {"type": "array", "items": {"type": "string"}, "x-kubernetes-patch-strategy": "merge"}
        }}
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn smp(original: Value, patch: Value) -> Result<Value, SmpError> {
    let defs = defs();
    let root = json!({"$ref": "#/components/schemas/Obj"});
    apply(original, patch, &SchemaMeta::new(&defs, &root))
}

fn ok(original: Value, patch: Value) -> Value {
    smp(original, patch).expect("patch applies")
}

fn spec(s: Value) -> Value {
    json!({"spec": s})
}

fn err(original: Value, patch: Value) -> SmpError {
    smp(original, patch).expect_err("patch must fail")
}

// === maps ===

#[test]
fn maps_merge_and_null_deletes() {
    let out = ok(
        json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"plain": ["x"]}}),
        json!({"metadata": {"labels": {"a": null, "c": "3"}}}),
    );
    assert_eq!(out, json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"plain": ["x"]}}));
    // Deleting a key that is not there is not an error and adds nothing.
    assert_eq!(ok(json!({"a": 1}), json!({"b": null})), json!({"a": 1}));
}

#[test]
fn patch_replace_directive_on_a_map() {
    let out = ok(
        json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
        json!({"metadata": {"labels": {"$patch": "replace", "z": "9"}}}),
    );
    assert_eq!(out, json!({"metadata": {"labels": {"z": "9"}}}));
}

#[test]
fn patch_delete_directive_on_a_map() {
    let out = ok(
        json!({"metadata": {"labels": {"a": "1"}}, "x": 1}),
        json!({"metadata": {"labels": {"$patch": "delete"}}}),
    );
    assert_eq!(out, json!({"metadata": {"labels": {}}, "x": 1}));
}

#[test]
fn replace_strategy_map_is_taken_whole() {
    let out = ok(spec(json!({"box": {"a": 1, "b": 2}})), spec(json!({"box": {"c": 3}})));
    assert_eq!(out, spec(json!({"box": {"c": 3}})));
}

#[test]
fn retain_keys_clears_unlisted_keys() {
    let out = ok(
        spec(json!({"oven": {"gas": 1, "wood": 2, "temp": 3}})),
        spec(json!({"oven": {"$retainKeys": ["wood", "temp"], "temp": 4}})),
    );
    assert_eq!(out, spec(json!({"oven": {"wood": 2, "temp": 4}})));
    // A key set by the patch must be listed.
    let e = err(spec(json!({"oven": {}})), spec(json!({"oven": {"$retainKeys": ["wood"], "gas": 1}})));
    assert_eq!(
        (e.kind, e.message.as_str()),
        (SmpErrorKind::BadRequest, "invalid patch format of retainKeys")
    );
    let e = err(spec(json!({"oven": {}})), spec(json!({"oven": {"$retainKeys": "wood"}})));
    assert_eq!(e.kind, SmpErrorKind::BadRequest);
}

// === lists ===

#[test]
fn lists_without_strategy_replace() {
    assert_eq!(
        ok(spec(json!({"plain": ["a", "b"]})), spec(json!({"plain": ["c"]}))),
        spec(json!({"plain": ["c"]}))
    );
}

#[test]
fn merge_key_lists_merge_by_key_and_append() {
    let out = ok(
        spec(json!({"toppings": [{"name": "a", "quantity": 1}, {"name": "b", "quantity": 1}]})),
        spec(json!({"toppings": [{"name": "b", "quantity": 5}, {"name": "c", "quantity": 2}]})),
    );
    assert_eq!(
        out,
        spec(
            json!({"toppings": [{"name": "a", "quantity": 1}, {"name": "b", "quantity": 5}, {"name": "c", "quantity": 2}]})
        )
    );
}

#[test]
fn nested_merge_inside_a_merged_element() {
    let out = ok(
        spec(json!({"toppings": [{"name": "a", "extras": ["x"]}]})),
        spec(json!({"toppings": [{"name": "a", "extras": ["y"], "quantity": null}]})),
    );
    assert_eq!(out, spec(json!({"toppings": [{"name": "a", "extras": ["y", "x"]}]})));
}

#[test]
fn patch_delete_directive_in_a_merge_list() {
    let out = ok(
        spec(json!({"toppings": [{"name": "a"}, {"name": "b"}, {"name": "a"}]})),
        spec(json!({"toppings": [{"name": "a", "$patch": "delete"}]})),
    );
    assert_eq!(out, spec(json!({"toppings": [{"name": "b"}]})), "every element with the key goes");
}

#[test]
fn patch_replace_directive_in_a_merge_list() {
    let out = ok(
        spec(json!({"toppings": [{"name": "a"}, {"name": "b"}]})),
        spec(json!({"toppings": [{"$patch": "replace"}, {"name": "z", "quantity": 1}]})),
    );
    assert_eq!(out, spec(json!({"toppings": [{"name": "z", "quantity": 1}]})));
}

#[test]
fn patch_merge_directive_in_a_list_is_refused() {
    let e = err(spec(json!({"toppings": [{"name": "a"}]})), spec(json!({"toppings": [{"$patch": "merge"}]})));
    assert_eq!(e.message, "merging lists cannot yet be specified in the patch");
}

#[test]
fn primitive_merge_lists_take_the_union() {
    let out =
        ok(json!({"metadata": {"finalizers": ["a", "b"]}}), json!({"metadata": {"finalizers": ["c", "a"]}}));
    // Elements new to the server come first; the others keep the server's order.
    assert_eq!(out, json!({"metadata": {"finalizers": ["c", "a", "b"]}}));
}

#[test]
fn delete_from_primitive_list() {
    let out = ok(
        json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "z"]}}),
    );
    assert_eq!(out, json!({"metadata": {"finalizers": ["a", "c"]}}));
    let e = err(
        json!({"metadata": {"finalizers": ["a"]}}),
        json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
    );
    assert_eq!(
        (e.kind, e.message.as_str()),
        (SmpErrorKind::BadRequest, "invalid patch format of primitive list")
    );
}

#[test]
fn set_element_order_orders_maps() {
    let out = ok(
        spec(json!({"toppings": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})),
        spec(
            json!({"$setElementOrder/toppings": [{"name": "c"}, {"name": "a"}, {"name": "b"}], "toppings": [{"name": "a", "quantity": 2}]}),
        ),
    );
    assert_eq!(out, spec(json!({"toppings": [{"name": "c"}, {"name": "a", "quantity": 2}, {"name": "b"}]})));
}

#[test]
fn set_element_order_keeps_server_only_elements_in_place() {
    let out = ok(
        spec(json!({"toppings": [{"name": "a"}, {"name": "server"}, {"name": "b"}]})),
        spec(json!({"$setElementOrder/toppings": [{"name": "b"}, {"name": "a"}]})),
    );
    // "server" was before "b" on the server, so it stays before it.
    assert_eq!(out, spec(json!({"toppings": [{"name": "server"}, {"name": "b"}, {"name": "a"}]})));
}

#[test]
fn set_element_order_orders_primitives() {
    let out = ok(
        json!({"metadata": {"finalizers": ["a", "b"]}}),
        json!({"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"], "finalizers": ["c"]}}),
    );
    assert_eq!(out, json!({"metadata": {"finalizers": ["b", "c", "a"]}}));
}

#[test]
fn set_element_order_must_agree_with_the_patch_list() {
    let e = err(
        spec(json!({"toppings": [{"name": "a"}]})),
        spec(json!({"$setElementOrder/toppings": [{"name": "a"}], "toppings": [{"name": "b"}]})),
    );
    assert!(
        e.message
            .starts_with("The order in patch list:\n[map[name:b]]\n doesn't match $setElementOrder list:"),
        "{e}"
    );
    let e = err(spec(json!({})), spec(json!({"$setElementOrder/toppings": "a"})));
    assert_eq!(e.message, "expected a []interface {}, but received a string");
    let e = err(spec(json!({})), spec(json!({"$setElementOrdertoppings": []})));
    assert_eq!(
        (e.kind, e.message.as_str()),
        (SmpErrorKind::BadRequest, "invalid patch format of setElementOrder list")
    );
}

#[test]
fn set_element_order_of_an_empty_list_is_empty() {
    let out = ok(spec(json!({"toppings": []})), spec(json!({"$setElementOrder/toppings": []})));
    assert_eq!(out, spec(json!({"toppings": []})));
}

// === hostile patches ===

#[test]
fn non_object_patch_or_original_is_a_bad_document() {
    for patch in [json!([1]), json!("x"), json!(3), json!(true)] {
        let e = err(json!({}), patch);
        assert_eq!((e.kind, e.message.as_str()), (SmpErrorKind::BadRequest, "invalid JSON document"));
    }
    assert_eq!(ok(json!({"a": 1}), Value::Null), json!({"a": 1}), "a null patch changes nothing");
    assert_eq!(err(json!([]), json!({})).kind, SmpErrorKind::BadRequest);
}

#[test]
fn unknown_patch_directive() {
    let e = err(json!({"metadata": {}}), json!({"metadata": {"$patch": "explode"}}));
    assert_eq!(e.message, "unknown patch type: explode in map: map[$patch:explode]");
    let e = err(
        spec(json!({"toppings": [{"name": "a"}]})),
        spec(json!({"toppings": [{"name": "a", "$patch": 7}]})),
    );
    assert_eq!(e.message, "unknown patch type: %!s(int64=7) in map: map[$patch:7 name:a]");
}

#[test]
fn merge_key_missing_in_a_patch_element() {
    let e = err(spec(json!({"toppings": [{"name": "a"}]})), spec(json!({"toppings": [{"quantity": 1}]})));
    assert_eq!(e.message, "map: map[quantity:1] does not contain declared merge key: name");
    let e =
        err(spec(json!({"toppings": [{"name": "a"}]})), spec(json!({"toppings": [{"$patch": "delete"}]})));
    assert_eq!(e.message, "map: map[$patch:delete] does not contain declared merge key: name");
}

#[test]
fn wrong_types_in_lists() {
    let e = err(spec(json!({"toppings": [{"name": "a"}]})), spec(json!({"toppings": ["a"]})));
    assert!(e.message.starts_with("list element types are not identical: "), "{e}");
    let e = err(spec(json!({"names": ["a"]})), spec(json!({"names": [["b"]]})));
    assert!(e.message.starts_with("list element types are not identical"), "{e}");
    let e = err(spec(json!({"names": [["a"]]})), spec(json!({"names": ["b"]})));
    assert_eq!(
        (e.kind, e.message.as_str()),
        (SmpErrorKind::Unprocessable, "lists of lists are not supported")
    );
    let e = err(spec(json!({"keyless": [{"a": 1}]})), spec(json!({"keyless": [{"a": 2}]})));
    assert_eq!(e.message, "cannot merge lists without merge key for type struct");
    let e = err(spec(json!({"odd": [1]})), spec(json!({"odd": [2]})));
    assert_eq!(e.message, "unexpected patch strategy: [a b c]");
}

#[test]
fn a_value_of_another_type_replaces() {
    // Type mismatches replace; the decoder of the patched object rejects what does not fit.
    assert_eq!(
        ok(spec(json!({"toppings": [{"name": "a"}]})), spec(json!({"toppings": "x"}))),
        spec(json!({"toppings": "x"}))
    );
    assert_eq!(
        ok(spec(json!({"names": ["a"]})), spec(json!({"names": {"a": 1}}))),
        spec(json!({"names": {"a": 1}}))
    );
}

#[test]
fn no_patch_meta_merges_maps_and_replaces_lists() {
    let out =
        apply(json!({"a": {"b": 1, "l": [1, 2]}}), json!({"a": {"c": 2, "l": [3]}}), &NoPatchMeta).unwrap();
    assert_eq!(out, json!({"a": {"b": 1, "c": 2, "l": [3]}}));
}
