//! Property test: the SMP engine against a small, independent model of what a strategic
//! merge patch means for a pizza-shaped object — labels (a map), finalizers (a merged
//! primitive list), toppings (a list merged on `name`), and a scalar — including
//! `$patch: delete`, `$deleteFromPrimitiveList` and `$setElementOrder`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::schema_meta::PatchSchema;
use super::strategic::apply;

/// The shape under test, declared as authors declare it.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct Pie {
    metadata: ObjectMeta,
    spec: PieSpec,
}

#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct PieSpec {
    #[schemars(extend("x-kubernetes-patch-merge-key" = "name", "x-kubernetes-patch-strategy" = "merge"))]
    toppings: Vec<PieTopping>,
    cost: Option<i64>,
}

#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct PieTopping {
    name: String,
    quantity: i64,
}

const NAMES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

#[derive(Clone, Debug)]
struct Live {
    labels: BTreeMap<String, String>,
    finalizers: Vec<String>,
    toppings: Vec<(String, i64)>,
    cost: Option<i64>,
}

#[derive(Clone, Debug)]
enum ToppingOp {
    /// Set (or add with) a quantity; `None` names the topping without changing it.
    Upsert(String, Option<i64>),
    Delete(String),
}

#[derive(Clone, Debug)]
struct Patch {
    labels: BTreeMap<String, Option<String>>,
    add_finalizers: Vec<String>,
    delete_finalizers: Vec<String>,
    toppings: Vec<ToppingOp>,
    cost: Option<Option<i64>>,
    set_order: bool,
}

fn live() -> impl Strategy<Value = Live> {
    (
        proptest::collection::btree_map("[xyz]", "[0-9]", 0..3),
        proptest::sample::subsequence(NAMES.to_vec(), 0..4),
        proptest::sample::subsequence(NAMES.to_vec(), 0..6).prop_shuffle(),
        proptest::collection::vec(1i64..5, 6),
        proptest::option::of(0i64..100),
    )
        .prop_map(|(labels, finalizers, names, qs, cost)| Live {
            labels,
            finalizers: finalizers.into_iter().map(str::to_owned).collect(),
            toppings: names.into_iter().zip(qs).map(|(n, q)| (n.to_owned(), q)).collect(),
            cost,
        })
}

fn patch() -> impl Strategy<Value = Patch> {
    let op = |name: &'static str| {
        prop_oneof![
            Just(None),
            Just(Some(ToppingOp::Delete(name.to_owned()))),
            proptest::option::of(1i64..9).prop_map(move |q| Some(ToppingOp::Upsert(name.to_owned(), q))),
        ]
    };
    (
        proptest::collection::btree_map("[xyz]", proptest::option::of("[0-9]"), 0..3),
        proptest::sample::subsequence(NAMES.to_vec(), 0..3),
        proptest::sample::subsequence(NAMES.to_vec(), 0..3),
        NAMES.map(op).to_vec(),
        proptest::option::of(proptest::option::of(0i64..100)),
        any::<bool>(),
        Just((0..NAMES.len()).collect::<Vec<usize>>()).prop_shuffle(),
    )
        .prop_map(|(labels, add, del, ops, cost, set_order, order)| {
            let del: Vec<String> = del.into_iter().filter(|d| !add.contains(d)).map(str::to_owned).collect();
            let toppings = order.into_iter().filter_map(|i| ops[i].clone()).collect();
            Patch {
                labels,
                add_finalizers: add.into_iter().map(str::to_owned).collect(),
                delete_finalizers: del,
                toppings,
                cost,
                set_order,
            }
        })
}

// === the model ===

struct Expected {
    labels: BTreeMap<String, String>,
    finalizers: BTreeSet<String>,
    toppings: BTreeMap<String, i64>,
    cost: Option<i64>,
}

fn model(live: &Live, patch: &Patch) -> Expected {
    let mut labels = live.labels.clone();
    for (k, v) in &patch.labels {
        match v {
            Some(v) => labels.insert(k.clone(), v.clone()),
            None => labels.remove(k),
        };
    }
    let mut finalizers: BTreeSet<String> = live.finalizers.iter().cloned().collect();
    finalizers.retain(|f| !patch.delete_finalizers.contains(f));
    finalizers.extend(patch.add_finalizers.iter().cloned());
    let mut toppings: BTreeMap<String, i64> = live.toppings.iter().cloned().collect();
    for op in &patch.toppings {
        match op {
            ToppingOp::Delete(n) => {
                toppings.remove(n);
            }
            ToppingOp::Upsert(n, Some(q)) => {
                toppings.insert(n.clone(), *q);
            }
            // An element with only its key adds a topping without a quantity (see `to_json`).
            ToppingOp::Upsert(n, None) => {
                toppings.entry(n.clone()).or_insert(0);
            }
        }
    }
    let cost = match patch.cost {
        Some(c) => c,
        None => live.cost,
    };
    Expected { labels, finalizers, toppings, cost }
}

/// The order kubectl would send in `$setElementOrder/toppings`: the final toppings, server
/// ones in server order, then new ones in patch order.
fn final_order(live: &Live, patch: &Patch, expected: &Expected) -> Vec<String> {
    let mut order: Vec<String> =
        live.toppings.iter().map(|(n, _)| n.clone()).filter(|n| expected.toppings.contains_key(n)).collect();
    for op in &patch.toppings {
        if let ToppingOp::Upsert(n, _) = op
            && !order.contains(n)
        {
            order.push(n.clone());
        }
    }
    order
}

// === JSON ===

fn live_json(live: &Live) -> Value {
    let mut spec = json!({
        "toppings": live.toppings.iter().map(|(n, q)| json!({"name": n, "quantity": q})).collect::<Vec<_>>(),
    });
    if let Some(c) = live.cost {
        spec["cost"] = json!(c);
    }
    json!({"metadata": {"labels": live.labels, "finalizers": live.finalizers}, "spec": spec})
}

fn patch_json(patch: &Patch, order: Option<&[String]>) -> Value {
    let mut metadata = Map::new();
    if !patch.labels.is_empty() {
        metadata.insert("labels".into(), json!(patch.labels));
    }
    if !patch.add_finalizers.is_empty() {
        metadata.insert("finalizers".into(), json!(patch.add_finalizers));
    }
    if !patch.delete_finalizers.is_empty() {
        metadata.insert("$deleteFromPrimitiveList/finalizers".into(), json!(patch.delete_finalizers));
    }
    let mut elements: Vec<(Option<usize>, Value)> = patch
        .toppings
        .iter()
        .map(|op| match op {
            ToppingOp::Delete(n) => (None, json!({"name": n, "$patch": "delete"})),
            ToppingOp::Upsert(n, q) => {
                let position = order.and_then(|o| o.iter().position(|x| x == n));
                let mut e = json!({"name": n});
                if let Some(q) = q {
                    e["quantity"] = json!(q);
                }
                (Some(position.unwrap_or(0)), e)
            }
        })
        .collect();
    if order.is_some() {
        // Like kubectl: changed elements in the final order, deletions last.
        elements.sort_by_key(|(p, _)| p.unwrap_or(usize::MAX));
    }
    let mut spec = Map::new();
    if !elements.is_empty() {
        spec.insert("toppings".into(), Value::Array(elements.into_iter().map(|(_, e)| e).collect()));
    }
    if let Some(order) = order {
        spec.insert(
            "$setElementOrder/toppings".into(),
            json!(order.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()),
        );
    }
    if let Some(c) = patch.cost {
        spec.insert("cost".into(), json!(c));
    }
    json!({"metadata": metadata, "spec": spec})
}

fn result_toppings(out: &Value) -> Vec<(String, i64)> {
    out["spec"]["toppings"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|t| (t["name"].as_str().unwrap_or("?").to_owned(), t["quantity"].as_i64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `sub` appears in `list` in the same relative order.
fn in_relative_order(list: &[String], sub: &[String]) -> bool {
    let positions: Vec<usize> = sub.iter().filter_map(|s| list.iter().position(|x| x == s)).collect();
    positions.len() == sub.len() && positions.windows(2).all(|w| w[0] < w[1])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn smp_agrees_with_the_model(live in live(), patch in patch()) {
        let schema = PatchSchema::generate(|g| g.subschema_for::<Pie>());
        let expected = model(&live, &patch);
        let order = patch.set_order.then(|| final_order(&live, &patch, &expected));
        let out = apply(live_json(&live), patch_json(&patch, order.as_deref()), &schema.meta())
            .map_err(|e| TestCaseError::fail(e.message))?;

        let labels: BTreeMap<String, String> = serde_json::from_value(out["metadata"]["labels"].clone()).unwrap_or_default();
        prop_assert_eq!(labels, expected.labels);
        let finalizers: Vec<String> = serde_json::from_value(out["metadata"]["finalizers"].clone()).unwrap_or_default();
        prop_assert_eq!(finalizers.len(), expected.finalizers.len(), "no duplicates: {:?}", finalizers);
        prop_assert_eq!(finalizers.iter().cloned().collect::<BTreeSet<_>>(), expected.finalizers);
        prop_assert_eq!(out["spec"]["cost"].as_i64(), expected.cost);

        let toppings = result_toppings(&out);
        prop_assert_eq!(toppings.len(), expected.toppings.len(), "no duplicates: {:?}", toppings);
        prop_assert_eq!(&toppings.iter().cloned().collect::<BTreeMap<_, _>>(), &expected.toppings);
        let names: Vec<String> = toppings.iter().map(|(n, _)| n.clone()).collect();
        match &order {
            Some(order) => prop_assert_eq!(&names, order),
            None => {
                let touched: Vec<String> = patch.toppings.iter().filter_map(|op| match op {
                    ToppingOp::Upsert(n, _) => Some(n.clone()),
                    ToppingOp::Delete(_) => None,
                }).collect();
                let server_only: Vec<String> = live.toppings.iter().map(|(n, _)| n.clone())
                    .filter(|n| !touched.contains(n) && expected.toppings.contains_key(n)).collect();
                prop_assert!(in_relative_order(&names, &server_only), "server order kept: {:?} vs {:?}", names, server_only);
                prop_assert!(in_relative_order(&names, &touched), "patch order kept: {:?} vs {:?}", names, touched);
            }
        }
    }
}
