//! `menu.piazza.dev/v1` `Pizza`: the same stored Pizzas served under a second group, with
//! its own field names — the cohabitation (migration) pattern. Objects stay stored as
//! `restaurant.programming-kubernetes.info/v1beta1` under the restaurant keys, so writes
//! through either group are visible through both, and watches on both see the same events.

use piazza::codec::protobuf::Protobuf;
use piazza::{Resource, meta::ObjectMeta};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pizza::{Pizza as Hub, PizzaTopping};

/// The second group.
pub const MENU_GROUP: &str = "menu.piazza.dev";

/// A pizza on the menu (menu.piazza.dev/v1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Resource, Protobuf)]
#[resource(group = MENU_GROUP, version = "v1", namespaced, protobuf, defaults = Self::apply_menu_defaults)]
pub struct Pizza {
    /// Standard object metadata.
    #[serde(default)]
    #[protobuf(tag = 1)]
    pub metadata: ObjectMeta,
    /// What goes on the pizza.
    #[serde(default)]
    #[protobuf(tag = 2)]
    pub spec: MenuPizzaSpec,
    /// What the pizza costs.
    #[serde(default)]
    #[protobuf(tag = 3)]
    pub status: MenuPizzaStatus,
}

/// The desired pizza (menu.piazza.dev/v1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Protobuf)]
#[serde(rename_all = "camelCase")]
pub struct MenuPizzaSpec {
    /// The ingredients, each a Topping and a number of portions.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-patch-merge-key" = "topping", "x-kubernetes-patch-strategy" = "merge"))]
    #[protobuf(tag = 1)]
    pub ingredients: Vec<Ingredient>,
    /// How many slices; 8 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 8))]
    #[protobuf(tag = 2)]
    pub slices: Option<i32>,
}

/// One ingredient.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Protobuf)]
pub struct Ingredient {
    /// The name of a Topping object.
    #[serde(default)]
    #[protobuf(tag = 1)]
    pub topping: String,
    /// How many portions; 0 is defaulted to 1.
    #[serde(default)]
    #[protobuf(tag = 2)]
    pub portions: i64,
}

/// The observed state (menu.piazza.dev/v1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Protobuf)]
#[serde(rename_all = "camelCase")]
pub struct MenuPizzaStatus {
    /// The price of the whole pizza.
    #[serde(default)]
    #[protobuf(tag = 1)]
    pub price: f64,
    /// `Baked` once the pizza has been baked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[protobuf(tag = 2)]
    pub phase: Option<String>,
    /// When the pizza was baked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[protobuf(tag = 3)]
    pub baked_at: Option<String>,
}

impl Pizza {
    /// Defaults: no ingredients means salami, mozzarella and tomato; 0 portions means 1.
    fn apply_menu_defaults(&mut self) {
        if self.spec.ingredients.is_empty() {
            self.spec.ingredients = super::pizza::DEFAULT_TOPPINGS
                .iter()
                .map(|t| Ingredient { topping: (*t).to_owned(), portions: 1 })
                .collect();
        }
        for ingredient in &mut self.spec.ingredients {
            if ingredient.portions == 0 {
                ingredient.portions = 1;
            }
        }
    }
}

impl From<Pizza> for Hub {
    fn from(p: Pizza) -> Self {
        Hub {
            metadata: p.metadata,
            toppings: p
                .spec
                .ingredients
                .into_iter()
                .map(|i| PizzaTopping { name: i.topping, quantity: i.portions })
                .collect(),
            slices: super::pizza::slices_or_default(p.spec.slices),
            cost: p.status.price,
            phase: p.status.phase,
            baked_at: p.status.baked_at,
        }
    }
}

impl From<Hub> for Pizza {
    fn from(p: Hub) -> Self {
        Pizza {
            metadata: p.metadata,
            spec: MenuPizzaSpec {
                ingredients: p
                    .toppings
                    .into_iter()
                    .map(|t| Ingredient { topping: t.name, portions: t.quantity })
                    .collect(),
                slices: Some(p.slices),
            },
            status: MenuPizzaStatus { price: p.cost, phase: p.phase, baked_at: p.baked_at },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_round_trips_through_the_hub() {
        let menu = Pizza {
            spec: MenuPizzaSpec {
                ingredients: vec![Ingredient { topping: "salami".into(), portions: 2 }],
                slices: Some(6),
            },
            status: MenuPizzaStatus { price: 3.5, phase: Some("Baked".into()), baked_at: None },
            ..Default::default()
        };
        let hub = Hub::from(menu.clone());
        assert_eq!(hub.toppings, vec![PizzaTopping { name: "salami".into(), quantity: 2 }]);
        assert_eq!(Pizza::from(hub), menu);
    }
}
