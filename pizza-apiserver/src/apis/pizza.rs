//! `Pizza` (namespaced), served as `v1alpha1` and `v1beta1` (preferred and stored).
//!
//! - `v1alpha1` lists topping names; a repeated name means more than one portion.
//! - `v1beta1` lists `{name, quantity}`.
//! - The hub ([`Pizza`]) is shaped like `v1beta1`; both versions convert through it.

use piazza::{FieldError, FieldErrors, FieldPath, Strategy, impl_object, meta::ObjectMeta};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The toppings a pizza gets when it names none.
pub const DEFAULT_TOPPINGS: [&str; 3] = ["salami", "mozzarella", "tomato"];

/// The hub (internal) Pizza every version converts through.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pizza {
    /// Object metadata.
    pub metadata: ObjectMeta,
    /// Toppings with quantities.
    pub toppings: Vec<PizzaTopping>,
    /// The observed cost.
    pub cost: f64,
}

/// A topping and how many portions of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PizzaTopping {
    /// The name of a Topping object.
    #[serde(default)]
    pub name: String,
    /// How many portions; 0 is defaulted to 1.
    #[serde(default)]
    pub quantity: i64,
}

impl_object!(Pizza);

/// The observed state of a pizza, shared by both versions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PizzaStatus {
    /// The cost of the whole pizza.
    #[serde(default)]
    pub cost: f64,
}

/// `v1alpha1`: toppings as a list of names.
pub mod v1alpha1 {
    use piazza::{Resource, meta::ObjectMeta};
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    pub use super::PizzaStatus;

    /// A pizza (v1alpha1).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Resource)]
    #[resource(group = super::super::GROUP, version = "v1alpha1", namespaced, short_names = ["pz"],
               categories = ["all"], defaults = Self::default_toppings)]
    pub struct Pizza {
        /// Standard object metadata.
        #[serde(default)]
        pub metadata: ObjectMeta,
        /// What the pizza should have.
        #[serde(default)]
        pub spec: PizzaSpec,
        /// What the pizza has.
        #[serde(default)]
        pub status: PizzaStatus,
    }

    /// The desired pizza (v1alpha1).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    pub struct PizzaSpec {
        /// Names of Topping objects. Repeat a name for more than one portion.
        #[serde(default)]
        pub toppings: Vec<String>,
    }

    impl Pizza {
        /// No toppings means salami, mozzarella and tomato.
        fn default_toppings(&mut self) {
            if self.spec.toppings.is_empty() {
                self.spec.toppings = super::DEFAULT_TOPPINGS.iter().map(|t| (*t).to_owned()).collect();
            }
        }
    }
}

/// `v1beta1`: toppings with quantities.
pub mod v1beta1 {
    use piazza::{Resource, meta::ObjectMeta};
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    pub use super::{PizzaStatus, PizzaTopping};

    /// A pizza (v1beta1).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Resource)]
    #[resource(group = super::super::GROUP, version = "v1beta1", namespaced, short_names = ["pz"],
               categories = ["all"], defaults = Self::default_toppings)]
    pub struct Pizza {
        /// Standard object metadata.
        #[serde(default)]
        pub metadata: ObjectMeta,
        /// What the pizza should have.
        #[serde(default)]
        pub spec: PizzaSpec,
        /// What the pizza has.
        #[serde(default)]
        pub status: PizzaStatus,
    }

    /// The desired pizza (v1beta1).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    pub struct PizzaSpec {
        /// Toppings with the number of portions of each.
        #[serde(default)]
        pub toppings: Vec<PizzaTopping>,
    }

    impl Pizza {
        /// No toppings means salami, mozzarella and tomato; quantity 0 means 1.
        fn default_toppings(&mut self) {
            if self.spec.toppings.is_empty() {
                self.spec.toppings = super::DEFAULT_TOPPINGS
                    .iter()
                    .map(|t| PizzaTopping { name: (*t).to_owned(), quantity: 1 })
                    .collect();
            }
            for topping in &mut self.spec.toppings {
                if topping.quantity == 0 {
                    topping.quantity = 1;
                }
            }
        }
    }
}

// === conversions ===

impl From<v1alpha1::Pizza> for Pizza {
    /// Repeated names become one entry with a quantity, in order of first appearance.
    fn from(p: v1alpha1::Pizza) -> Self {
        let mut toppings: Vec<PizzaTopping> = Vec::new();
        for name in p.spec.toppings {
            match toppings.iter_mut().find(|t| t.name == name) {
                Some(t) => t.quantity += 1,
                None => toppings.push(PizzaTopping { name, quantity: 1 }),
            }
        }
        Pizza { metadata: p.metadata, toppings, cost: p.status.cost }
    }
}

impl From<Pizza> for v1alpha1::Pizza {
    /// A quantity becomes that many repetitions of the name (none for quantity ≤ 0).
    fn from(p: Pizza) -> Self {
        let toppings = p
            .toppings
            .into_iter()
            .flat_map(|t| std::iter::repeat_n(t.name, usize::try_from(t.quantity).unwrap_or(0)))
            .collect();
        v1alpha1::Pizza {
            metadata: p.metadata,
            spec: v1alpha1::PizzaSpec { toppings },
            status: PizzaStatus { cost: p.cost },
        }
    }
}

impl From<v1beta1::Pizza> for Pizza {
    fn from(p: v1beta1::Pizza) -> Self {
        Pizza { metadata: p.metadata, toppings: p.spec.toppings, cost: p.status.cost }
    }
}

impl From<Pizza> for v1beta1::Pizza {
    fn from(p: Pizza) -> Self {
        v1beta1::Pizza {
            metadata: p.metadata,
            spec: v1beta1::PizzaSpec { toppings: p.toppings },
            status: PizzaStatus { cost: p.cost },
        }
    }
}

// === printing ===

/// `kubectl get pizzas` columns: the toppings and the cost.
pub struct PizzaColumns;

impl piazza::registry::table::TableColumns<Pizza> for PizzaColumns {
    fn columns(&self) -> Vec<piazza::registry::table::ColumnDefinition> {
        use piazza::registry::table::ColumnDefinition;
        vec![
            ColumnDefinition::new(
                "Toppings",
                "string",
                "The toppings, with the quantity when more than one.",
            ),
            ColumnDefinition::new("Cost", "number", "The cost of the whole pizza.").wide(),
        ]
    }

    fn cells(&self, pizza: &Pizza) -> Vec<serde_json::Value> {
        let toppings: Vec<String> = pizza
            .toppings
            .iter()
            .map(|t| if t.quantity == 1 { t.name.clone() } else { format!("{}x{}", t.quantity, t.name) })
            .collect();
        vec![serde_json::json!(toppings.join(",")), serde_json::json!(pizza.cost)]
    }
}

// === validation and deletion ===

/// Validation on create and update: quantities positive, names non-empty and unique.
///
/// Pizzas delete gracefully with a default grace period of 0: a plain `kubectl delete`
/// removes one at once, as before, while `kubectl delete --grace-period=N` (N > 0) leaves
/// it visible with `deletionTimestamp` set for N seconds, after which the server removes it.
pub struct PizzaStrategy;

impl Strategy<Pizza> for PizzaStrategy {
    fn default_grace_period_seconds(&self) -> Option<i64> {
        Some(0)
    }

    fn validate(&self, pizza: &Pizza) -> FieldErrors {
        let path = FieldPath::new("spec").child("toppings");
        let mut errs = FieldErrors::new();
        let mut seen = std::collections::HashSet::new();
        for (i, topping) in pizza.toppings.iter().enumerate() {
            if topping.quantity <= 0 {
                errs.push(FieldError::invalid(
                    path.index(i).child("quantity"),
                    topping.quantity,
                    "must be greater than 0",
                ));
            }
            if topping.name.is_empty() {
                errs.push(FieldError::required(path.index(i).child("name"), "a topping needs a name"));
            } else if !seen.insert(topping.name.as_str()) {
                errs.push(FieldError::duplicate(path.index(i).child("name"), topping.name.as_str()));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piazza::Resource;
    use proptest::prelude::{prop_assert_eq, proptest};

    fn alpha(toppings: &[&str]) -> v1alpha1::Pizza {
        v1alpha1::Pizza {
            spec: v1alpha1::PizzaSpec { toppings: toppings.iter().map(|t| (*t).to_owned()).collect() },
            ..Default::default()
        }
    }

    #[test]
    fn repeated_names_become_quantities_and_back() {
        let hub = Pizza::from(alpha(&["salami", "tomato", "salami"]));
        assert_eq!(
            hub.toppings,
            vec![
                PizzaTopping { name: "salami".into(), quantity: 2 },
                PizzaTopping { name: "tomato".into(), quantity: 1 }
            ]
        );
        let back = v1alpha1::Pizza::from(hub);
        assert_eq!(back.spec.toppings, vec!["salami", "salami", "tomato"]);
    }

    #[test]
    fn defaults_per_version() {
        let mut a = alpha(&[]);
        a.apply_defaults();
        assert_eq!(a.spec.toppings, DEFAULT_TOPPINGS);
        let mut b = v1beta1::Pizza::default();
        b.spec.toppings.push(v1beta1::PizzaTopping { name: "x".into(), quantity: 0 });
        b.apply_defaults();
        assert_eq!(b.spec.toppings[0].quantity, 1);
        let mut empty = v1beta1::Pizza::default();
        empty.apply_defaults();
        assert_eq!(empty.spec.toppings.len(), 3);
    }

    #[test]
    fn validation_names_field_paths() {
        let pizza = Pizza {
            toppings: vec![
                PizzaTopping { name: "salami".into(), quantity: -1 },
                PizzaTopping { name: "".into(), quantity: 1 },
                PizzaTopping { name: "salami".into(), quantity: 1 },
            ],
            ..Default::default()
        };
        let errs = PizzaStrategy.validate(&pizza);
        assert_eq!(
            errs.to_string(),
            "[spec.toppings[0].quantity: Invalid value: -1: must be greater than 0, spec.toppings[1].name: Required value: a topping needs a name, spec.toppings[2].name: Duplicate value: \"salami\"]"
        );
    }

    fn topping_name() -> impl proptest::strategy::Strategy<Value = String> {
        "[a-z]{1,8}"
    }

    proptest! {
        /// v1alpha1 → hub → v1alpha1 keeps the multiset of names, grouped by first appearance.
        #[test]
        fn alpha_round_trip(names in proptest::collection::vec(topping_name(), 0..12)) {
            let pizza = v1alpha1::Pizza { spec: v1alpha1::PizzaSpec { toppings: names.clone() }, ..Default::default() };
            let back = v1alpha1::Pizza::from(Pizza::from(pizza));
            let mut expected: Vec<String> = Vec::new();
            let mut order: Vec<&String> = Vec::new();
            for n in &names { if !order.contains(&n) { order.push(n); } }
            for n in order { for m in &names { if m == n { expected.push(m.clone()); } } }
            prop_assert_eq!(back.spec.toppings, expected);
        }

        /// v1beta1 → hub → v1beta1 is the identity.
        #[test]
        fn beta_round_trip(entries in proptest::collection::vec((topping_name(), -3i64..50), 0..12), cost in 0.0f64..100.0) {
            let pizza = v1beta1::Pizza {
                spec: v1beta1::PizzaSpec { toppings: entries.into_iter().map(|(name, quantity)| v1beta1::PizzaTopping { name, quantity }).collect() },
                status: PizzaStatus { cost },
                ..Default::default()
            };
            prop_assert_eq!(v1beta1::Pizza::from(Pizza::from(pizza.clone())), pizza);
        }

        /// hub → v1alpha1 → hub is the identity for valid hubs (unique names, positive quantities).
        #[test]
        fn hub_round_trip_through_alpha(map in proptest::collection::btree_map(topping_name(), 1i64..20, 0..8)) {
            let hub = Pizza { toppings: map.into_iter().map(|(name, quantity)| PizzaTopping { name, quantity }).collect(), ..Default::default() };
            prop_assert_eq!(Pizza::from(v1alpha1::Pizza::from(hub.clone())), hub);
        }
    }
}
