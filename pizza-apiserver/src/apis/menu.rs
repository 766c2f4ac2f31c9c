//! `menu.piazza.dev/v1` `Pizza`: the same stored Pizzas served under a second group, with
//! its own field names — the cohabitation (migration) pattern. Objects stay stored as
//! `restaurant.programming-kubernetes.info/v1beta1` under the restaurant keys, so writes
//! through either group are visible through both, and watches on both see the same events.

use piazza::{Resource, meta::ObjectMeta};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pizza::{Pizza as Hub, PizzaTopping};

/// The second group.
pub const MENU_GROUP: &str = "menu.piazza.dev";

/// A pizza on the menu (menu.piazza.dev/v1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Resource)]
#[resource(group = MENU_GROUP, version = "v1", namespaced, defaults = Self::apply_menu_defaults)]
pub struct Pizza {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What goes on the pizza.
    #[serde(default)]
    pub spec: MenuPizzaSpec,
    /// What the pizza costs.
    #[serde(default)]
    pub status: MenuPizzaStatus,
}

/// The desired pizza (menu.piazza.dev/v1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MenuPizzaSpec {
    /// The ingredients, each a Topping and a number of portions.
    #[serde(default)]
    pub ingredients: Vec<Ingredient>,
}

/// One ingredient.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ingredient {
    /// The name of a Topping object.
    #[serde(default)]
    pub topping: String,
    /// How many portions; 0 is defaulted to 1.
    #[serde(default)]
    pub portions: i64,
}

/// The observed state (menu.piazza.dev/v1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MenuPizzaStatus {
    /// The price of the whole pizza.
    #[serde(default)]
    pub price: f64,
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
            cost: p.status.price,
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
            },
            status: MenuPizzaStatus { price: p.cost },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_round_trips_through_the_hub() {
        let menu = Pizza {
            spec: MenuPizzaSpec { ingredients: vec![Ingredient { topping: "salami".into(), portions: 2 }] },
            status: MenuPizzaStatus { price: 3.5 },
            ..Default::default()
        };
        let hub = Hub::from(menu.clone());
        assert_eq!(hub.toppings, vec![PizzaTopping { name: "salami".into(), quantity: 2 }]);
        assert_eq!(Pizza::from(hub), menu);
    }
}
