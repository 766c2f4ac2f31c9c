//! Objects shared by the protobuf tests and the bench: one representative object per kind
//! and version, with every field set.

#![allow(dead_code)]

use std::collections::BTreeMap;

use piazza::codec::TypeMeta;
use piazza::k8s_openapi::jiff::Timestamp;
use piazza::meta::{ObjectMeta, Time};
use pizza_apiserver::apis::{GROUP, menu, pizza, topping};

/// Metadata as the server would have filled it in.
pub fn metadata(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        uid: Some("6f1c2a9e-0d1b-4c55-9a53-3f0e4d2b7c11".into()),
        resource_version: Some("1042".into()),
        generation: Some(2),
        creation_timestamp: Some(Time(Timestamp::new(1_764_115_200, 0).expect("valid time"))),
        labels: Some(BTreeMap::from([("crust".into(), "thin".into()), ("oven".into(), "wood".into())])),
        annotations: Some(BTreeMap::from([("note".into(), "extra crispy".into())])),
        finalizers: Some(vec!["restaurant.programming-kubernetes.info/kitchen".into()]),
        ..Default::default()
    }
}

/// A baked status.
pub fn status() -> pizza::PizzaStatus {
    pizza::PizzaStatus {
        cost: 12.5,
        phase: Some("Baked".into()),
        baked_at: Some("2025-11-26T00:00:00Z".into()),
    }
}

/// `restaurant.programming-kubernetes.info/v1alpha1` Pizza.
pub fn pizza_v1alpha1() -> pizza::v1alpha1::Pizza {
    pizza::v1alpha1::Pizza {
        metadata: metadata("margherita", Some("default")),
        spec: pizza::v1alpha1::PizzaSpec {
            toppings: vec!["mozzarella".into(), "tomato".into(), "tomato".into()],
            slices: Some(8),
        },
        status: status(),
    }
}

/// `restaurant.programming-kubernetes.info/v1beta1` Pizza.
pub fn pizza_v1beta1() -> pizza::v1beta1::Pizza {
    pizza::v1beta1::Pizza {
        metadata: metadata("margherita", Some("default")),
        spec: pizza::v1beta1::PizzaSpec {
            toppings: vec![
                pizza::PizzaTopping { name: "mozzarella".into(), quantity: 1 },
                pizza::PizzaTopping { name: "tomato".into(), quantity: 2 },
            ],
            slices: Some(8),
        },
        status: status(),
    }
}

/// `restaurant.programming-kubernetes.info/v1alpha1` Topping.
pub fn topping_v1alpha1() -> topping::Topping {
    topping::Topping { metadata: metadata("mozzarella", None), spec: topping::ToppingSpec { cost: 0.75 } }
}

/// `menu.piazza.dev/v1` Pizza.
pub fn menu_pizza_v1() -> menu::Pizza {
    menu::Pizza {
        metadata: metadata("margherita", Some("default")),
        spec: menu::MenuPizzaSpec {
            ingredients: vec![menu::Ingredient { topping: "tomato".into(), portions: 2 }],
            slices: Some(6),
        },
        status: menu::MenuPizzaStatus {
            price: 9.0,
            phase: Some("Baked".into()),
            baked_at: Some("2025-11-26T00:00:00Z".into()),
        },
    }
}

/// `apiVersion`/`kind` of a kind in a group version.
pub fn type_meta(group: &str, version: &str, kind: &str) -> TypeMeta {
    TypeMeta { api_version: format!("{group}/{version}"), kind: kind.into() }
}

/// The restaurant group's type metadata.
pub fn restaurant(version: &str, kind: &str) -> TypeMeta {
    type_meta(GROUP, version, kind)
}

/// `n` v1beta1 Pizzas, each a little different.
pub fn pizza_list(n: usize) -> Vec<pizza::v1beta1::Pizza> {
    (0..n)
        .map(|i| {
            let mut p = pizza_v1beta1();
            p.metadata.name = Some(format!("pizza-{i:05}"));
            p.metadata.resource_version = Some((1000 + i).to_string());
            p.spec.slices = Some((i % 12) as i32 + 1);
            p
        })
        .collect()
}
